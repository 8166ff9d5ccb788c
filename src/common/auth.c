/*
 * auth.c - the Entra ID credential chain and its token cache (see auth.h).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "auth.h"
#include "buf.h"
#include "clock.h"
#include "codec.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "url.h"

extern char **environ;

#define DEFAULT_AUTHORITY "https://login.microsoftonline.com"
#define DEFAULT_IMDS "http://169.254.169.254"

struct auth_cached {
	char *scope;
	char *token;
	int64_t expires_on;		/* s */
	int64_t expires_ms;		/* ms, wall clock */
	int64_t refresh_at;		/* ms, wall clock */
};

struct auth {
	struct auth_opts o;
	char *tenant, *client_id, *client_secret, *fed_file;
	char *authority, *imds, *id_endpoint, *id_header, *az, *static_token;
	const struct auth_provider *chain[8];
	size_t nchain;
	const struct auth_provider *chosen;
	struct auth_cached *cache;
	size_t ncache;
	unsigned long nreq;
};

static char *
env_dup(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? xstrdup(v) : NULL;
}

/* "host" or "https://host/" -> "https://host" (malloc'd). */
static char *
base_url(const char *s, const char *scheme)
{
	struct buf b = BUF_INIT;

	if (strstr(s, "://") == NULL)
		buf_adds(&b, scheme);
	buf_adds(&b, s);
	while (b.len > 0 && b.p[b.len - 1] == '/')
		b.len--;
	return buf_cstr(&b);
}

void
auth_scope_to_resource(struct buf *b, const char *scope)
{
	size_t n = strlen(scope), sl = strlen("/.default");

	if (n >= sl && strcmp(scope + n - sl, "/.default") == 0)
		buf_add(b, scope, n - sl);
	else
		buf_adds(b, scope);
}

void
auth_resource_to_scope(struct buf *b, const char *resource)
{
	size_t n = strlen(resource), sl = strlen("/.default");

	if (n >= sl && strcmp(resource + n - sl, "/.default") == 0) {
		buf_adds(b, resource);
		return;
	}
	while (n > 0 && resource[n - 1] == '/')
		n--;
	buf_add(b, resource, n);
	buf_adds(b, "/.default");
}

int64_t
auth_cli_expiry(const char *expires_on, const char *expiresOn)
{
	struct tm tm;
	char *end;
	long long v;
	time_t t;

	if (expires_on != NULL && *expires_on != '\0') {
		errno = 0;
		v = strtoll(expires_on, &end, 10);
		if (errno == 0 && *end == '\0' && v > 0)
			return v;
	}
	if (expiresOn == NULL)
		return -1;
	memset(&tm, 0, sizeof(tm));
	if (sscanf(expiresOn, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	tm.tm_isdst = -1;
	if ((t = mktime(&tm)) == (time_t)-1)
		return -1;
	return (int64_t)t;
}

/* ---- synchronous HTTP ---- */

static size_t
sink(char *p, size_t size, size_t n, void *ud)
{
	buf_add(ud, p, size * n);
	return size * n;
}

/*
 * One exchange. Returns 0 with *status and resp filled, or -1 on a
 * transport error (text in why); *connect is set when nothing answered.
 */
static int
fetch(struct auth *a, const char *url, const char *form,
    struct curl_slist *hdrs, long connect_ms, int direct, long *status,
    struct buf *resp, struct buf *why, int *noanswer)
{
	char eb[CURL_ERROR_SIZE] = "";
	CURLcode rc;
	CURL *c;

	*status = 0;
	*noanswer = 0;
	resp->len = 0;
	if ((c = curl_easy_init()) == NULL) {
		buf_adds(why, "cannot create a curl handle");
		return -1;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, eb);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, a->o.timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	if (hdrs != NULL)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if (direct)
		curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	if (a->o.cacert != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, a->o.cacert);
	if (a->o.insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (form != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(form));
	}
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		buf_adds(why, eb[0] != '\0' ? eb : curl_easy_strerror(rc));
		*noanswer = rc == CURLE_COULDNT_CONNECT ||
		    rc == CURLE_COULDNT_RESOLVE_HOST ||
		    rc == CURLE_OPERATION_TIMEDOUT ||
		    rc == CURLE_GOT_NOTHING;
		curl_easy_cleanup(c);
		return -1;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(c);
	return 0;
}

/* A number or a numeric string member of o (borrowed); -1 if none. */
static int64_t
jnum(jv o, const char *k)
{
	jv v = json_get(o, k);
	int64_t n = -1;
	char *end;

	if (jv_get_kind(v) == JV_KIND_NUMBER)
		n = (int64_t)jv_number_value(v);
	else if (jv_get_kind(v) == JV_KIND_STRING) {
		n = strtoll(jv_string_value(v), &end, 10);
		if (end == jv_string_value(v) || *end != '\0')
			n = -1;
	}
	jv_free(v);
	return n;
}

/* Append a short, one-line excerpt of s (at most 200 bytes). */
static void
excerpt(struct buf *b, const char *s)
{
	size_t n = strcspn(s, "\r\n");

	if (n > 200)
		n = 200;
	buf_add(b, s, n);
}

/*
 * Read a token answer: access_token plus expires_on or expires_in (the
 * Entra, IMDS and App Service shapes). Returns AUTH_OK or AUTH_FAILED.
 */
static enum auth_status
token_answer(long status, const struct buf *resp, const char *tokkey,
    struct auth_token *out, struct buf *why)
{
	struct json_err je;
	const char *tok, *e;
	int64_t on, in;
	jv o = jv_invalid();
	enum auth_status st = AUTH_FAILED;

	if (json_parse(resp->p != NULL ? resp->p : "", resp->len, &o, NULL,
	    &je) != 0 || jv_get_kind(o) != JV_KIND_OBJECT) {
		buf_printf(why, status == 200 ? "HTTP %ld: answer is not a "
		    "JSON object" : "HTTP %ld", status);
		goto out;
	}
	if (status != 200) {
		buf_printf(why, "HTTP %ld", status);
		if ((e = json_get_str(o, "error")) != NULL) {
			buf_adds(why, ": ");
			excerpt(why, e);
		} else if ((e = json_get_str(o, "message")) != NULL) {
			buf_adds(why, ": ");
			excerpt(why, e);
		}
		if ((e = json_get_str(o, "error_description")) != NULL) {
			buf_adds(why, ": ");
			excerpt(why, e);
		}
		goto out;
	}
	if ((tok = json_get_str(o, tokkey)) == NULL || *tok == '\0') {
		buf_printf(why, "answer has no %s", tokkey);
		goto out;
	}
	on = jnum(o, "expires_on");
	in = jnum(o, "expires_in");
	if (on <= 0 && in < 0) {
		buf_adds(why, "answer has no expires_on or expires_in");
		goto out;
	}
	out->token = xstrdup(tok);
	if (on > 0)
		out->expires_on = on;
	else {
		out->expires_ms = clock_wall_ms() + in * 1000;
		out->expires_on = out->expires_ms / 1000;
	}
	log_secret(out->token);
	st = AUTH_OK;
out:
	jv_free(o);
	return st;
}

static void
form_add(struct buf *b, const char *k, const char *v)
{
	if (b->len > 0)
		buf_addc(b, '&');
	buf_adds(b, k);
	buf_addc(b, '=');
	pct_encode(b, v, strlen(v));
}

/* The Entra v2 token endpoint, for the environment and workload flows. */
static enum auth_status
entra_token(struct auth *a, const char *scope, const char *secret_key,
    const char *secret, struct auth_token *out, struct buf *why)
{
	struct buf url = BUF_INIT, form = BUF_INIT, resp = BUF_INIT;
	struct buf terr = BUF_INIT;
	struct curl_slist *h = NULL;
	enum auth_status st = AUTH_FAILED;
	long status;
	int noanswer;
	const char *tw;

	if (url_tenant_check(a->tenant, &tw) < 0) {
		buf_printf(why, "AZURE_TENANT_ID '%.64s': %s", a->tenant, tw);
		return AUTH_FAILED;
	}
	buf_adds(&url, a->authority);
	if (url_segment(&url, a->tenant, strlen(a->tenant), &tw) < 0) {
		buf_printf(why, "AZURE_TENANT_ID: %s", tw);
		return AUTH_FAILED;
	}
	buf_adds(&url, "/oauth2/v2.0/token");
	form_add(&form, "grant_type", "client_credentials");
	form_add(&form, "client_id", a->client_id);
	form_add(&form, "scope", scope);
	if (strcmp(secret_key, "client_assertion") == 0)
		form_add(&form, "client_assertion_type",
		    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
	form_add(&form, secret_key, secret);
	h = curl_slist_append(h,
	    "Content-Type: application/x-www-form-urlencoded");
	h = curl_slist_append(h, "Accept: application/json");
	if (fetch(a, buf_cstr(&url), buf_cstr(&form), h,
	    a->o.timeout_ms, 0, &status, &resp, &terr, &noanswer) == 0) {
		a->nreq++;
		st = token_answer(status, &resp, "access_token", out, why);
	} else
		buf_printf(why, "token endpoint %s not reachable: %s",
		    a->authority, buf_cstr(&terr));
	curl_slist_free_all(h);
	buf_release(&url);
	buf_release(&form);
	buf_release(&resp);
	buf_release(&terr);
	return st;
}

/* ---- providers ---- */

static enum auth_status
env_get(struct auth *a, const char *scope, struct auth_token *out,
    struct buf *why)
{
	if (a->tenant == NULL || a->client_id == NULL ||
	    a->client_secret == NULL) {
		buf_printf(why, "%s not set", a->tenant == NULL ?
		    "AZURE_TENANT_ID" : a->client_id == NULL ?
		    "AZURE_CLIENT_ID" : "AZURE_CLIENT_SECRET");
		return AUTH_UNAVAILABLE;
	}
	return entra_token(a, scope, "client_secret", a->client_secret, out,
	    why);
}

static enum auth_status
wi_get(struct auth *a, const char *scope, struct auth_token *out,
    struct buf *why)
{
	struct buf tok = BUF_INIT;
	char chunk[4096];
	enum auth_status st;
	size_t n;
	FILE *f;

	if (a->fed_file == NULL || a->tenant == NULL || a->client_id == NULL) {
		buf_printf(why, "%s not set", a->fed_file == NULL ?
		    "AZURE_FEDERATED_TOKEN_FILE" : a->tenant == NULL ?
		    "AZURE_TENANT_ID" : "AZURE_CLIENT_ID");
		return AUTH_UNAVAILABLE;
	}
	/* re-read every time: the kubelet rotates the file */
	if ((f = fopen(a->fed_file, "r")) == NULL) {
		buf_printf(why, "cannot read %s: %s", a->fed_file,
		    strerror(errno));
		return AUTH_FAILED;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && tok.len < 65536)
		buf_add(&tok, chunk, n);
	fclose(f);
	while (tok.len > 0 && isspace((unsigned char)tok.p[tok.len - 1]))
		tok.len--;
	if (tok.len == 0) {
		buf_printf(why, "%s is empty", a->fed_file);
		buf_release(&tok);
		return AUTH_FAILED;
	}
	log_secret(buf_cstr(&tok));
	st = entra_token(a, scope, "client_assertion", buf_cstr(&tok), out,
	    why);
	buf_release(&tok);
	return st;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static enum auth_status
mi_get(struct auth *a, const char *scope, struct auth_token *out,
    struct buf *why)
{
	struct buf url = BUF_INIT, resp = BUF_INIT, hdr = BUF_INIT;
	struct buf res = BUF_INIT, terr = BUF_INIT;
	struct curl_slist *h = NULL;
	enum auth_status st = AUTH_FAILED;
	const char *where;
	unsigned i, tries;
	long status, delay = a->o.imds_backoff_ms;
	int appsvc = a->id_endpoint != NULL && a->id_header != NULL;
	int noanswer;

	auth_scope_to_resource(&res, scope);
	if (appsvc) {
		where = "App Service endpoint";
		buf_printf(&url, "%s%capi-version=2019-08-01&resource=",
		    a->id_endpoint, strchr(a->id_endpoint, '?') ? '&' : '?');
		buf_printf(&hdr, "X-IDENTITY-HEADER: %s", a->id_header);
		tries = 1;
	} else {
		where = "IMDS";
		buf_printf(&url, "%s/metadata/identity/oauth2/token"
		    "?api-version=2018-02-01&resource=", a->imds);
		buf_adds(&hdr, "Metadata: true");
		tries = a->o.imds_attempts ? a->o.imds_attempts : 1;
	}
	pct_encode(&url, res.p, res.len);
	if (a->client_id != NULL) {
		buf_adds(&url, "&client_id=");
		pct_encode(&url, a->client_id, strlen(a->client_id));
	}
	h = curl_slist_append(h, buf_cstr(&hdr));
	for (i = 0; i < tries; i++) {
		if (i > 0) {
			sleep_ms(delay);
			delay *= 2;
		}
		terr.len = 0;
		if (fetch(a, buf_cstr(&url), NULL, h, appsvc ?
		    a->o.timeout_ms : a->o.imds_probe_ms, 1, &status, &resp,
		    &terr, &noanswer) != 0) {
			buf_printf(why, "%s not reachable at %s: %s", where,
			    appsvc ? a->id_endpoint : a->imds,
			    buf_cstr(&terr));
			st = noanswer ? AUTH_UNAVAILABLE : AUTH_FAILED;
			goto out;
		}
		a->nreq++;
		if (status == 404 || status == 410 || status == 429 ||
		    status >= 500)
			continue;
		break;
	}
	if (!appsvc && status == 400) {
		buf_adds(why, "no managed identity (IMDS: HTTP 400)");
		st = AUTH_UNAVAILABLE;
		goto out;
	}
	if ((st = token_answer(status, &resp, "access_token", out, &terr)) !=
	    AUTH_OK) {
		buf_printf(why, "%s: %s", where, buf_cstr(&terr));
		if (i == tries)
			buf_printf(why, " (after %u attempts)", tries);
	}
out:
	curl_slist_free_all(h);
	buf_release(&url);
	buf_release(&resp);
	buf_release(&hdr);
	buf_release(&res);
	buf_release(&terr);
	return st;
}

/* Find an executable named name on PATH (or name itself if it has a '/'). */
static int
find_on_path(const char *name, struct buf *out)
{
	const char *path = getenv("PATH"), *p, *end;
	struct stat st;

	if (strchr(name, '/') != NULL) {
		buf_adds(out, name);
		return access(name, X_OK) == 0 ? 0 : -1;
	}
	for (p = path != NULL ? path : "/usr/bin:/bin"; ; p = end + 1) {
		end = p + strcspn(p, ":");
		out->len = 0;
		if (end == p)
			buf_adds(out, ".");
		else
			buf_add(out, p, (size_t)(end - p));
		buf_printf(out, "/%s", name);
		if (access(buf_cstr(out), X_OK) == 0 &&
		    stat(out->p, &st) == 0 && S_ISREG(st.st_mode))
			return 0;
		if (*end == '\0')
			return -1;
	}
}

/*
 * Run argv (argv[0] a path) with stdout and stderr captured, for at most
 * ms. Returns the exit status (0..255), 256 for a signal, -1 with errno if
 * it cannot start, -2 on timeout (the child is killed).
 */
static int
run_captured(char *const argv[], long ms, struct buf *out, struct buf *err)
{
	posix_spawn_file_actions_t fa;
	struct pollfd pf[2];
	int po[2], pe[2], rc, wst, open_fds = 2, e;
	int64_t deadline = clock_wall_ms() + ms;
	char chunk[4096];
	ssize_t n;
	pid_t pid;
	size_t i;

	if (pipe2(po, O_CLOEXEC) != 0)
		return -1;
	if (pipe2(pe, O_CLOEXEC) != 0) {
		close(po[0]);
		close(po[1]);
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(po[1]);
	close(pe[1]);
	if (rc != 0) {
		close(po[0]);
		close(pe[0]);
		errno = rc;
		return -1;
	}
	pf[0].fd = po[0];
	pf[1].fd = pe[0];
	pf[0].events = pf[1].events = POLLIN;
	while (open_fds > 0) {
		int64_t left = deadline - clock_wall_ms();

		if (left <= 0)
			break;
		if (poll(pf, 2, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < 2; i++) {
			if (pf[i].fd < 0 || pf[i].revents == 0)
				continue;
			n = read(pf[i].fd, chunk, sizeof(chunk));
			if (n > 0) {
				buf_add(i == 0 ? out : err, chunk, (size_t)n);
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			close(pf[i].fd);
			pf[i].fd = -1;
			open_fds--;
		}
	}
	for (i = 0; i < 2; i++)
		if (pf[i].fd >= 0)
			close(pf[i].fd);
	e = open_fds > 0;
	if (e)
		kill(pid, SIGKILL);
	while (waitpid(pid, &wst, 0) < 0 && errno == EINTR)
		;
	if (e)
		return -2;
	if (WIFEXITED(wst))
		return WEXITSTATUS(wst);
	return 256;
}

static enum auth_status
cli_get(struct auth *a, const char *scope, struct auth_token *out,
    struct buf *why)
{
	struct buf res = BUF_INIT, so = BUF_INIT, se = BUF_INIT, cmd = BUF_INIT;
	struct json_err je;
	char *argv[9], num[32];
	const char *tok;
	enum auth_status st = AUTH_FAILED;
	jv o = jv_invalid(), v;
	int rc;

	auth_scope_to_resource(&res, scope);
	if (find_on_path(a->az, &cmd) != 0) {
		buf_printf(why, "%s not found on PATH", a->az);
		st = AUTH_UNAVAILABLE;
		goto out;
	}
	argv[0] = buf_cstr(&cmd);
	argv[1] = "account";
	argv[2] = "get-access-token";
	argv[3] = "--output";
	argv[4] = "json";
	argv[5] = "--resource";
	argv[6] = buf_cstr(&res);
	argv[7] = NULL;
	rc = run_captured(argv, a->o.cli_timeout_ms, &so, &se);
	a->nreq++;
	if (rc == -1 || rc == 127) {
		buf_printf(why, "%s not found on PATH", a->az);
		st = AUTH_UNAVAILABLE;
		goto out;
	}
	if (rc == -2) {
		buf_printf(why, "%s timed out after %ldms", a->az,
		    a->o.cli_timeout_ms);
		goto out;
	}
	if (rc != 0) {
		const char *e = buf_cstr(&se);

		if (strstr(e, "az login") != NULL ||
		    strstr(e, "az account set") != NULL) {
			buf_adds(why, "not logged in (run 'az login')");
			st = AUTH_UNAVAILABLE;
			goto out;
		}
		buf_printf(why, "%s exited with %d", a->az, rc);
		while (*e == ' ' || *e == '\n')
			e++;
		if (*e != '\0') {
			buf_adds(why, ": ");
			excerpt(why, e);
		}
		goto out;
	}
	if (json_parse(so.p != NULL ? so.p : "", so.len, &o, NULL, &je) != 0 ||
	    jv_get_kind(o) != JV_KIND_OBJECT ||
	    (tok = json_get_str(o, "accessToken")) == NULL) {
		buf_printf(why, "%s printed no accessToken", a->az);
		goto out;
	}
	v = json_get(o, "expires_on");
	num[0] = '\0';
	if (jv_get_kind(v) == JV_KIND_NUMBER)
		snprintf(num, sizeof(num), "%.0f", jv_number_value(v));
	else if (jv_get_kind(v) == JV_KIND_STRING)
		snprintf(num, sizeof(num), "%s", jv_string_value(v));
	jv_free(v);
	out->expires_on = auth_cli_expiry(num, json_get_str(o, "expiresOn"));
	if (out->expires_on < 0) {
		buf_printf(why, "%s printed no expiry", a->az);
		goto out;
	}
	out->token = xstrdup(tok);
	log_secret(out->token);
	st = AUTH_OK;
out:
	jv_free(o);
	buf_release(&res);
	buf_release(&so);
	buf_release(&se);
	buf_release(&cmd);
	return st;
}

static enum auth_status
static_get(struct auth *a, const char *scope, struct auth_token *out,
    struct buf *why)
{
	if (a->static_token == NULL) {
		buf_adds(why, "no token given");
		return AUTH_UNAVAILABLE;
	}
	out->token = xstrdup(a->static_token);
	out->expires_on = (int64_t)time(NULL) + 3600;
	return AUTH_OK;
}

static const struct auth_provider providers[] = {
	{ "environment", env_get },
	{ "workload-identity", wi_get },
	{ "managed-identity", mi_get },
	{ "azure-cli", cli_get },
	{ "static", static_get },
};

/* ---- the chain ---- */

void
auth_opts_init(struct auth_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->timeout_ms = 10000;
	o->imds_probe_ms = 1000;
	o->imds_attempts = 4;
	o->imds_backoff_ms = 500;
	o->cli_timeout_ms = 20000;
	o->refresh_margin_s = 300;
}

static int
chain_parse(struct auth *a, const char *spec, struct buf *err)
{
	const char *p = spec, *end;
	size_t i, n;

	while (*p != '\0') {
		end = p + strcspn(p, ",");
		n = (size_t)(end - p);
		for (i = 0; i < sizeof(providers) / sizeof(providers[0]); i++)
			if (strlen(providers[i].name) == n &&
			    strncmp(providers[i].name, p, n) == 0)
				break;
		if (i == sizeof(providers) / sizeof(providers[0])) {
			buf_printf(err, "unknown credential provider '%.*s' "
			    "(environment, workload-identity, "
			    "managed-identity, azure-cli, static)", (int)n, p);
			return -1;
		}
		if (a->nchain < sizeof(a->chain) / sizeof(a->chain[0]))
			a->chain[a->nchain++] = &providers[i];
		p = *end == ',' ? end + 1 : end;
	}
	if (a->nchain == 0) {
		buf_adds(err, "empty credential chain");
		return -1;
	}
	return 0;
}

struct auth *
auth_new(const struct auth_opts *o, struct buf *err)
{
	struct auth *a = xcalloc(1, sizeof(*a));
	const char *v;

	a->o = *o;
	a->o.chain = NULL;
	a->o.static_token = NULL;
	a->o.authority = a->o.imds = a->o.az = NULL;
	a->o.cacert = o->cacert != NULL ? xstrdup(o->cacert) : NULL;
	if (chain_parse(a, o->chain != NULL ? o->chain :
	    "environment,workload-identity,managed-identity,azure-cli",
	    err) != 0) {
		auth_free(a);
		return NULL;
	}
	a->tenant = env_dup("AZURE_TENANT_ID");
	a->client_id = env_dup("AZURE_CLIENT_ID");
	a->client_secret = env_dup("AZURE_CLIENT_SECRET");
	a->fed_file = env_dup("AZURE_FEDERATED_TOKEN_FILE");
	a->id_endpoint = env_dup("IDENTITY_ENDPOINT");
	a->id_header = env_dup("IDENTITY_HEADER");
	if (a->client_secret != NULL)
		log_secret(a->client_secret);
	if (a->id_header != NULL)
		log_secret(a->id_header);
	if ((v = o->authority) == NULL && (v = getenv("AZURE_AUTHORITY_HOST"))
	    != NULL && *v == '\0')
		v = NULL;
	a->authority = base_url(v != NULL ? v : DEFAULT_AUTHORITY, "https://");
	if ((v = o->imds) == NULL &&
	    ((v = getenv("TWINPIPE_IMDS_ENDPOINT")) == NULL || *v == '\0') &&
	    ((v = getenv("AZURE_POD_IDENTITY_AUTHORITY_HOST")) == NULL ||
	    *v == '\0'))
		v = DEFAULT_IMDS;
	a->imds = base_url(v, "http://");
	a->az = xstrdup(o->az != NULL ? o->az : "az");
	if (o->static_token != NULL) {
		a->static_token = xstrdup(o->static_token);
		log_secret(a->static_token);
	}
	return a;
}

void
auth_free(struct auth *a)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < a->ncache; i++) {
		free(a->cache[i].scope);
		free(a->cache[i].token);
	}
	free(a->cache);
	free(a->tenant);
	free(a->client_id);
	free(a->client_secret);
	free(a->fed_file);
	free(a->authority);
	free(a->imds);
	free(a->id_endpoint);
	free(a->id_header);
	free(a->az);
	free(a->static_token);
	free((char *)a->o.cacert);
	free(a);
}

static struct auth_cached *
cache_find(struct auth *a, const char *scope, int add)
{
	size_t i;

	for (i = 0; i < a->ncache; i++)
		if (strcmp(a->cache[i].scope, scope) == 0)
			return &a->cache[i];
	if (!add)
		return NULL;
	a->cache = xrealloc(a->cache, (a->ncache + 1) * sizeof(*a->cache));
	memset(&a->cache[a->ncache], 0, sizeof(*a->cache));
	a->cache[a->ncache].scope = xstrdup(scope);
	return &a->cache[a->ncache++];
}

/* Ask the chosen provider, or walk the chain; why collects the reasons. */
static enum auth_status
chain_get(struct auth *a, const char *scope, struct auth_token *tok,
    struct buf *why)
{
	struct buf one = BUF_INIT;
	enum auth_status st = AUTH_UNAVAILABLE;
	size_t i;

	if (a->chosen != NULL) {
		st = a->chosen->get(a, scope, tok, &one);
		if (st != AUTH_OK)
			buf_printf(why, "%s: %s", a->chosen->name,
			    buf_cstr(&one));
		buf_release(&one);
		return st;
	}
	for (i = 0; i < a->nchain; i++) {
		one.len = 0;
		st = a->chain[i]->get(a, scope, tok, &one);
		if (st == AUTH_OK) {
			a->chosen = a->chain[i];
			break;
		}
		buf_printf(why, "%s%s: %s", why->len > 0 ? "; " : "",
		    a->chain[i]->name, buf_cstr(&one));
		if (st == AUTH_FAILED)
			break;
	}
	buf_release(&one);
	return st;
}

/* One token request (a refresh included) into the metrics. */
static void
count_token(const struct auth *a, const char *outcome)
{
	char labels[96];

	snprintf(labels, sizeof(labels), "source=\"%s\",outcome=\"%s\"",
	    a->chosen != NULL ? a->chosen->name : "none", outcome);
	metrics_add("twinpipe_token_requests_total", labels, 1);
}

const char *
auth_get(struct auth *a, const char *scope, int64_t *expires_on,
    struct buf *err)
{
	struct auth_token tok = { NULL, 0, 0 };
	struct auth_cached *c;
	struct buf why = BUF_INIT;
	int64_t now = clock_wall_ms(), life, margin;

	if (scope == NULL || *scope == '\0') {
		buf_adds(err, "no token scope given");
		return NULL;
	}
	c = cache_find(a, scope, 1);
	if (c->token != NULL && now < c->refresh_at)
		goto hit;
	if (chain_get(a, scope, &tok, &why) != AUTH_OK) {
		count_token(a, "failed");
		free(tok.token);
		if (c->token != NULL && now < c->expires_ms - 1000) {
			log_warn("token refresh for %s failed, using the "
			    "current token until it expires: %s", scope,
			    buf_cstr(&why));
			buf_release(&why);
			goto hit;
		}
		buf_printf(err, "no credential for %s: %s", scope,
		    buf_cstr(&why));
		buf_release(&why);
		return NULL;
	}
	buf_release(&why);
	count_token(a, "ok");
	free(c->token);
	c->token = tok.token;
	c->expires_on = tok.expires_on;
	c->expires_ms = tok.expires_ms ? tok.expires_ms : tok.expires_on * 1000;
	life = c->expires_ms - now;
	margin = a->o.refresh_margin_s * 1000;
	if (margin > life / 2)
		margin = life / 2;
	c->refresh_at = now + life - margin;
	log_debug("auth: token for %s from %s, expires in %llds", scope,
	    a->chosen->name, (long long)(life / 1000));
hit:
	if (expires_on != NULL)
		*expires_on = c->expires_on;
	return c->token;
}

int
auth_header(struct auth *a, const char *scope, const char *prefix,
    struct buf *out, struct buf *err)
{
	const char *t = auth_get(a, scope, NULL, err);

	if (t == NULL)
		return -1;
	buf_adds(out, prefix);
	buf_adds(out, t);
	return 0;
}

void
auth_invalidate(struct auth *a, const char *scope)
{
	struct auth_cached *c = cache_find(a, scope, 0);

	if (c != NULL) {
		free(c->token);
		c->token = NULL;
		c->refresh_at = 0;
	}
}

const char *
auth_provider_name(const struct auth *a)
{
	return a->chosen != NULL ? a->chosen->name : NULL;
}

unsigned long
auth_requests(const struct auth *a)
{
	return a->nreq;
}
