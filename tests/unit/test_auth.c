/*
 * test_auth.c - the credential chain (auth.h): the in-process server plays
 * the Entra token endpoint, IMDS and the App Service endpoint; a fake `az`
 * script plays the Azure CLI.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "codec.h"
#include "log.h"
#include "tap.h"
#include "testsrv.h"

#define SCOPE "https://digitaltwins.azure.net/.default"

struct ctx {
	int token_reqs, imds_reqs, appsvc_reqs;
	int expires_in;		/* token endpoint answers */
	int imds_fail;		/* IMDS: answer this many 503s first */
	int imds_status;	/* IMDS: answer this status (0: normal) */
	int fail_all;		/* token endpoint: 500 */
	char grant[300];	/* last grant: secret or assertion value */
	char scope[128];
	char resource[128];
};

static struct ctx cx;
static struct ts_server srv;
static char dir[64], fedfile[128], azdir[128], emptydir[128];

/* Value of form field k in body, decoded, into out. */
static void
form_get(const char *body, const char *k, char *out, size_t n)
{
	struct buf b = BUF_INIT;
	size_t kl = strlen(k);
	const char *p = body, *e;

	out[0] = '\0';
	while (*p != '\0') {
		e = p + strcspn(p, "&");
		if ((size_t)(e - p) > kl && strncmp(p, k, kl) == 0 &&
		    p[kl] == '=') {
			pct_decode(&b, p + kl + 1, (size_t)(e - p) - kl - 1);
			snprintf(out, n, "%s", buf_cstr(&b));
			break;
		}
		p = *e == '&' ? e + 1 : e;
	}
	buf_release(&b);
}

static void
handler(const struct ts_req *q, struct ts_resp *a, void *arg)
{
	struct ctx *c = arg;
	char v[256];
	const char *h;

	if (strcmp(q->url, "/tenant-1/oauth2/v2.0/token") == 0) {
		c->token_reqs++;
		form_get(q->body, "scope", c->scope, sizeof(c->scope));
		form_get(q->body, "client_secret", v, sizeof(v));
		if (v[0] != '\0')
			snprintf(c->grant, sizeof(c->grant), "secret");
		else {
			form_get(q->body, "client_assertion", v, sizeof(v));
			snprintf(c->grant, sizeof(c->grant), "assertion:%s",
			    v);
		}
		if (strcmp(v, "bad-secret-XYZ") == 0) {
			a->status = 401;
			ts_body(a, "{\"error\":\"invalid_client\","
			    "\"error_description\":\"AADSTS7000215: Invalid "
			    "client secret provided.\\r\\nTrace ID: 1\"}");
			return;
		}
		if (c->fail_all) {
			a->status = 500;
			ts_body(a, "{\"error\":\"temporarily_unavailable\"}");
			return;
		}
		buf_printf(&a->body, "{\"token_type\":\"Bearer\","
		    "\"expires_in\":%d,\"access_token\":\"aad-%d\"}",
		    c->expires_in, c->token_reqs);
	} else if (strcmp(q->url, "/metadata/identity/oauth2/token") == 0) {
		c->imds_reqs++;
		h = ts_get(q, "Metadata");
		snprintf(c->resource, sizeof(c->resource), "%s",
		    ts_arg(q, "resource") ? ts_arg(q, "resource") : "");
		if (h == NULL || strcmp(h, "true") != 0 ||
		    strcmp(ts_arg(q, "api-version"), "2018-02-01") != 0) {
			a->status = 400;
			ts_body(a, "{\"error\":\"invalid_request\"}");
		} else if (c->imds_fail > 0) {
			c->imds_fail--;
			a->status = 503;
		} else if (c->imds_status != 0) {
			a->status = c->imds_status;
			ts_body(a, "{\"error\":\"invalid_request\","
			    "\"error_description\":\"Identity not found\"}");
		} else
			buf_printf(&a->body, "{\"access_token\":\"imds-%d\","
			    "\"expires_in\":\"3599\",\"expires_on\":\"%lld\","
			    "\"resource\":\"%s\",\"token_type\":\"Bearer\"}",
			    c->imds_reqs, (long long)time(NULL) + 3599,
			    c->resource);
	} else if (strcmp(q->url, "/msi/token") == 0) {
		c->appsvc_reqs++;
		h = ts_get(q, "X-IDENTITY-HEADER");
		if (h == NULL || strcmp(h, "idhdr-secret") != 0 ||
		    strcmp(ts_arg(q, "api-version"), "2019-08-01") != 0) {
			a->status = 401;
			return;
		}
		snprintf(c->resource, sizeof(c->resource), "%s",
		    ts_arg(q, "resource"));
		buf_printf(&a->body, "{\"access_token\":\"appsvc-%d\","
		    "\"expires_on\":\"%lld\",\"resource\":\"%s\"}",
		    c->appsvc_reqs, (long long)time(NULL) + 3600,
		    c->resource);
	} else
		a->status = 404;
}

static void
write_file(const char *path, const char *text, int mode)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		abort();
	fputs(text, f);
	fclose(f);
	chmod(path, (mode_t)mode);
}

static char *
read_small(const char *path)
{
	static char text[1024];
	FILE *f = fopen(path, "r");
	size_t n;

	text[0] = '\0';
	if (f == NULL)
		return NULL;
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

/* The fake az: prints az.out, az.err, exits with az.rc; logs its args. */
static void
fake_az(const char *out, const char *err, int rc)
{
	char p[256], sh[512];

	snprintf(sh, sizeof(sh), "#!/bin/sh\nd=$(dirname \"$0\")\n"
	    "echo \"$@\" > \"$d/az.args\"\ncat \"$d/az.out\"\n"
	    "cat \"$d/az.err\" >&2\nexit %d\n", rc);
	snprintf(p, sizeof(p), "%s/az", azdir);
	write_file(p, sh, 0755);
	snprintf(p, sizeof(p), "%s/az.out", azdir);
	write_file(p, out, 0644);
	snprintf(p, sizeof(p), "%s/az.err", azdir);
	write_file(p, err, 0644);
	snprintf(p, sizeof(p), "%s/az.args", azdir);
	unlink(p);
}

static void
env_reset(void)
{
	static const char *const vars[] = {
		"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET",
		"AZURE_FEDERATED_TOKEN_FILE", "IDENTITY_ENDPOINT",
		"IDENTITY_HEADER", "AZURE_AUTHORITY_HOST",
		"AZURE_POD_IDENTITY_AUTHORITY_HOST", "TWINPIPE_IMDS_ENDPOINT",
	};
	size_t i;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	memset(&cx, 0, sizeof(cx));
	cx.expires_in = 3600;
}

/* Every provider configured, pointing at the test server. */
static void
env_all(void)
{
	char v[256];

	env_reset();
	setenv("AZURE_AUTHORITY_HOST", srv.base, 1);
	setenv("AZURE_TENANT_ID", "tenant-1", 1);
	setenv("AZURE_CLIENT_ID", "client-1", 1);
	setenv("AZURE_CLIENT_SECRET", "s3cret-value", 1);
	setenv("AZURE_FEDERATED_TOKEN_FILE", fedfile, 1);
	snprintf(v, sizeof(v), "%s/msi/token", srv.base);
	setenv("IDENTITY_ENDPOINT", v, 1);
	setenv("IDENTITY_HEADER", "idhdr-secret", 1);
	setenv("TWINPIPE_IMDS_ENDPOINT", srv.base, 1);
	snprintf(v, sizeof(v), "%s:/usr/bin:/bin", azdir);
	setenv("PATH", v, 1);
}

static struct auth *
chain(void)
{
	struct auth_opts o;
	struct buf err = BUF_INIT;
	struct auth *a;

	auth_opts_init(&o);
	o.imds_backoff_ms = 1;
	o.imds_probe_ms = 500;
	a = auth_new(&o, &err);
	if (a == NULL)
		printf("# auth_new: %s\n", buf_cstr(&err));
	buf_release(&err);
	return a;
}

/* auth_get once; the token (or "ERR: msg") into out. */
static void
get(struct auth *a, const char *scope, char *out, size_t n)
{
	struct buf err = BUF_INIT;
	const char *t = auth_get(a, scope, NULL, &err);

	if (t != NULL)
		snprintf(out, n, "%s", t);
	else
		snprintf(out, n, "ERR: %s", buf_cstr(&err));
	buf_release(&err);
}

static void
test_pure(void)
{
	struct buf b = BUF_INIT;
	struct tm tm;
	time_t t;

	auth_scope_to_resource(&b, SCOPE);
	is_str(buf_cstr(&b), "https://digitaltwins.azure.net",
	    "scope -> resource");
	b.len = 0;
	auth_scope_to_resource(&b, "https://x.net");
	is_str(buf_cstr(&b), "https://x.net", "resource stays");
	b.len = 0;
	auth_resource_to_scope(&b, "https://storage.azure.com/");
	is_str(buf_cstr(&b), "https://storage.azure.com/.default",
	    "resource -> scope");
	b.len = 0;
	auth_resource_to_scope(&b, SCOPE);
	is_str(buf_cstr(&b), SCOPE, "scope stays");
	buf_release(&b);

	is_int(auth_cli_expiry("1700000000", "2000-01-01 00:00:00.0"),
	    1700000000, "az expires_on wins");
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = 126;
	tm.tm_mon = 10;
	tm.tm_mday = 23;
	tm.tm_hour = 19;
	tm.tm_min = 20;
	tm.tm_sec = 57;
	tm.tm_isdst = -1;
	t = mktime(&tm);
	is_int(auth_cli_expiry(NULL, "2026-11-23 19:20:57.000000"), t,
	    "az expiresOn is local time");
	is_int(auth_cli_expiry("", "soon"), -1, "bad expiry");
}

static void
test_order(void)
{
	struct auth *a;
	struct buf err = BUF_INIT;
	struct auth_opts o;
	char tok[512], closed[64];

	auth_opts_init(&o);
	o.chain = "environment,bogus";
	ok(auth_new(&o, &err) == NULL && strstr(buf_cstr(&err), "'bogus'"),
	    "unknown provider rejected: %s", buf_cstr(&err));
	buf_release(&err);

	fake_az("{\"accessToken\":\"cli-tok\",\"expiresOn\":"
	    "\"2099-01-01 00:00:00.000000\",\"tokenType\":\"Bearer\"}", "", 0);
	write_file(fedfile, "fed-1\n", 0600);

	env_all();
	a = chain();
	get(a, SCOPE, tok, sizeof(tok));
	is_str(tok, "aad-1", "environment first");
	is_str(auth_provider_name(a), "environment", "provider named");
	is_str(cx.grant, "secret", "client secret grant");
	is_str(cx.scope, SCOPE, "scope sent");
	ok(cx.imds_reqs + cx.appsvc_reqs == 0, "nothing else asked");
	auth_free(a);

	env_all();
	unsetenv("AZURE_CLIENT_SECRET");
	a = chain();
	get(a, SCOPE, tok, sizeof(tok));
	is_str(tok, "aad-1", "workload identity second");
	is_str(cx.grant, "assertion:fed-1", "federated token sent");
	write_file(fedfile, "fed-2\n", 0600);
	auth_invalidate(a, SCOPE);
	get(a, SCOPE, tok, sizeof(tok));
	is_str(cx.grant, "assertion:fed-2", "federated token file re-read");
	auth_free(a);

	env_all();
	unsetenv("AZURE_CLIENT_SECRET");
	unsetenv("AZURE_FEDERATED_TOKEN_FILE");
	a = chain();
	get(a, SCOPE, tok, sizeof(tok));
	is_str(tok, "appsvc-1", "App Service managed identity third");
	is_str(cx.resource, "https://digitaltwins.azure.net",
	    "resource, not scope, for managed identity");
	auth_free(a);

	env_all();
	unsetenv("AZURE_CLIENT_SECRET");
	unsetenv("AZURE_FEDERATED_TOKEN_FILE");
	unsetenv("IDENTITY_ENDPOINT");
	cx.imds_fail = 2;
	a = chain();
	get(a, SCOPE, tok, sizeof(tok));
	is_str(tok, "imds-3", "IMDS after two 503s");
	is_int(cx.imds_reqs, 3, "IMDS retried");
	auth_free(a);

	env_all();
	unsetenv("AZURE_CLIENT_SECRET");
	unsetenv("AZURE_FEDERATED_TOKEN_FILE");
	unsetenv("IDENTITY_ENDPOINT");
	cx.imds_status = 400;
	a = chain();
	get(a, SCOPE, tok, sizeof(tok));
	is_str(tok, "cli-tok", "IMDS without an identity: on to az");
	is_str(read_small(strcat(strcpy(closed, azdir), "/az.args")),
	    "account get-access-token --output json --resource "
	    "https://digitaltwins.azure.net\n", "az arguments");
	is_str(auth_provider_name(a), "azure-cli", "azure-cli last");
	auth_free(a);

	env_reset();
	snprintf(closed, sizeof(closed), "http://127.0.0.1:%u",
	    ts_closed_port());
	setenv("TWINPIPE_IMDS_ENDPOINT", closed, 1);
	fake_az("{\"accessToken\":\"cli-2\",\"expires_on\":4102444800}", "",
	    0);
	a = chain();
	get(a, SCOPE, tok, sizeof(tok));
	is_str(tok, "cli-2", "unreachable IMDS: on to az");
	auth_free(a);
}

static void
test_errors(void)
{
	struct auth *a;
	char tok[1024], closed[64], path[256];

	env_reset();
	snprintf(closed, sizeof(closed), "http://127.0.0.1:%u",
	    ts_closed_port());
	setenv("TWINPIPE_IMDS_ENDPOINT", closed, 1);
	setenv("PATH", emptydir, 1);
	a = chain();
	get(a, SCOPE, tok, sizeof(tok));
	printf("# %s\n", tok);
	ok(strncmp(tok, "ERR: no credential for " SCOPE ": ", 27) == 0,
	    "error names the scope");
	ok(strstr(tok, "environment: AZURE_TENANT_ID not set") &&
	    strstr(tok, "workload-identity: AZURE_FEDERATED_TOKEN_FILE not "
	    "set") && strstr(tok, "managed-identity: IMDS not reachable") &&
	    strstr(tok, "azure-cli: az not found on PATH"),
	    "error names every provider and why");
	auth_free(a);

	env_all();
	setenv("AZURE_CLIENT_SECRET", "bad-secret-XYZ", 1);
	snprintf(path, sizeof(path), "%s/az.args", azdir);
	unlink(path);
	a = chain();
	get(a, SCOPE, tok, sizeof(tok));
	printf("# %s\n", tok);
	ok(strstr(tok, "environment: HTTP 401: invalid_client: AADSTS7000215:"
	    " Invalid client secret provided.") != NULL,
	    "a rejected secret is reported");
	ok(strstr(tok, "bad-secret-XYZ") == NULL, "without the secret");
	ok(strstr(tok, "Trace ID") == NULL, "one line of description");
	ok(cx.imds_reqs == 0 && cx.appsvc_reqs == 0 &&
	    access(path, F_OK) != 0, "a configured failure stops the chain");
	auth_free(a);

	env_all();
	setenv("AZURE_AUTHORITY_HOST", closed, 1);
	a = chain();
	get(a, SCOPE, tok, sizeof(tok));
	ok(strstr(tok, "environment: token endpoint http://127.0.0.1:") &&
	    strstr(tok, "not reachable") && !strstr(tok, "workload"),
	    "unreachable token endpoint reported, chain stopped");
	auth_free(a);

	env_all();
	unsetenv("AZURE_CLIENT_SECRET");
	unsetenv("AZURE_FEDERATED_TOKEN_FILE");
	unsetenv("IDENTITY_ENDPOINT");
	cx.imds_fail = 100;
	a = chain();
	get(a, SCOPE, tok, sizeof(tok));
	ok(strstr(tok, "managed-identity: IMDS: HTTP 503 (after 4 attempts)")
	    != NULL && cx.imds_reqs == 4, "IMDS retries are bounded: %s",
	    strstr(tok, "managed") ? strstr(tok, "managed") : tok);
	auth_free(a);

	env_reset();
	setenv("TWINPIPE_IMDS_ENDPOINT", closed, 1);
	snprintf(path, sizeof(path), "%s:/usr/bin:/bin", azdir);
	setenv("PATH", path, 1);
	fake_az("", "ERROR: Please run 'az login' to setup account.\n", 1);
	a = chain();
	get(a, SCOPE, tok, sizeof(tok));
	ok(strstr(tok, "azure-cli: not logged in (run 'az login')") != NULL,
	    "az not logged in: %s", tok);
	auth_free(a);

	fake_az("", "ERROR: AADSTS50076: MFA required\n", 2);
	a = chain();
	get(a, SCOPE, tok, sizeof(tok));
	ok(strstr(tok, "azure-cli: az exited with 2: ERROR: AADSTS50076") !=
	    NULL, "az failure reported: %s", tok);
	auth_free(a);
}

static void
test_cache(void)
{
	struct auth *a;
	struct auth_opts o;
	struct buf err = BUF_INIT;
	char tok[512];
	int64_t exp;
	int i, same = 0;
	struct timespec ts = { 0, 600000000L };

	env_all();
	a = chain();
	for (i = 0; i < 50; i++) {
		get(a, SCOPE, tok, sizeof(tok));
		same += strcmp(tok, "aad-1") == 0;
	}
	is_int(same, 50, "50 gets, one token");
	is_int(cx.token_reqs, 1, "one token request for 50 gets");
	get(a, "https://storage.azure.com/.default", tok, sizeof(tok));
	is_str(tok, "aad-2", "another scope, another token");
	get(a, SCOPE, tok, sizeof(tok));
	is_str(tok, "aad-1", "first scope still cached");
	is_int(auth_requests(a), 2, "auth_requests");
	auth_free(a);

	env_all();
	cx.expires_in = 1;
	a = chain();
	get(a, SCOPE, tok, sizeof(tok));
	is_str(tok, "aad-1", "short-lived token");
	get(a, SCOPE, tok, sizeof(tok));
	is_str(tok, "aad-1", "cached before its refresh time");
	nanosleep(&ts, NULL);
	get(a, SCOPE, tok, sizeof(tok));
	is_str(tok, "aad-2", "refreshed near expiry");

	cx.expires_in = 3;
	auth_invalidate(a, SCOPE);
	get(a, SCOPE, tok, sizeof(tok));
	is_str(tok, "aad-3", "fresh 3s token");
	cx.fail_all = 1;
	ts.tv_sec = 1;
	ts.tv_nsec = 600000000L;	/* past its refresh time (1.5s) */
	nanosleep(&ts, NULL);
	log_level = LV_ERROR;
	get(a, SCOPE, tok, sizeof(tok));
	log_level = LV_WARN;
	is_str(tok, "aad-3", "failed refresh keeps a still valid token");
	is_int(cx.token_reqs, 4, "refresh was tried");
	auth_free(a);

	env_reset();
	auth_opts_init(&o);
	o.chain = "static";
	o.static_token = "fixed";
	a = auth_new(&o, &err);
	ok(a != NULL && strcmp(auth_get(a, SCOPE, &exp, &err), "fixed") == 0 &&
	    exp > time(NULL), "static provider");
	{
		struct buf h = BUF_INIT;

		ok(auth_header(a, SCOPE, "Bearer ", &h, &err) == 0,
		    "auth_header");
		is_str(buf_cstr(&h), "Bearer fixed", "Authorization value");
		buf_release(&h);
	}
	auth_free(a);
	auth_free(NULL);
	buf_release(&err);
}

/* A tenant id that is no GUID or domain name never reaches a URL. */
static void
test_tenant(void)
{
	static const char *const bad[] = { "..", ".", "../../evil", "a/b",
	    "t?x=1", "t#f", "" };
	struct auth_opts o;
	struct buf err = BUF_INIT;
	struct auth *a;
	char tok[1024];
	size_t i;
	int reqs;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		env_all();
		setenv("AZURE_TENANT_ID", bad[i], 1);
		auth_opts_init(&o);
		o.chain = "environment";
		a = auth_new(&o, &err);
		reqs = cx.token_reqs;
		get(a, SCOPE, tok, sizeof(tok));
		ok(bad[i][0] == '\0' ? strstr(tok, "AZURE_TENANT_ID") != NULL :
		    strstr(tok, "AZURE_TENANT_ID") != NULL &&
		    strstr(tok, "neither a GUID nor a domain name") != NULL,
		    "tenant '%s' refused: %s", bad[i], tok);
		is_int(cx.token_reqs, reqs, "tenant '%s': no request", bad[i]);
		auth_free(a);
	}
	env_all();
	setenv("AZURE_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47", 1);
	auth_opts_init(&o);
	o.chain = "environment";
	a = auth_new(&o, &err);
	get(a, SCOPE, tok, sizeof(tok));
	/* the fake endpoint serves tenant-1 only: a 404 says it was asked */
	ok(strstr(tok, "neither") == NULL && strstr(tok, "HTTP 404") != NULL,
	    "a GUID tenant is sent: %s", tok);
	auth_free(a);
	buf_release(&err);
}

int
main(void)
{
	char *path0 = getenv("PATH") ? strdup(getenv("PATH")) : NULL;

	log_init("test_auth");
	snprintf(dir, sizeof(dir), "/tmp/tp-auth-XXXXXX");
	if (mkdtemp(dir) == NULL || ts_start(&srv, handler, &cx) != 0) {
		ok(0, "setup");
		return tap_done();
	}
	snprintf(fedfile, sizeof(fedfile), "%s/fed", dir);
	snprintf(azdir, sizeof(azdir), "%s/bin", dir);
	snprintf(emptydir, sizeof(emptydir), "%s/empty", dir);
	mkdir(azdir, 0755);
	mkdir(emptydir, 0755);
	test_pure();
	test_order();
	test_errors();
	test_cache();
	test_tenant();
	ts_stop(&srv);
	if (path0 != NULL)
		setenv("PATH", path0, 1);
	free(path0);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			printf("# cleanup failed\n");
	}
	return tap_done();
}
