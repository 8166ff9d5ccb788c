/*
 * push-cosmos - write document operations to Azure Cosmos DB (NoSQL API).
 *
 * Records come from standard input (DESIGN.md record contract):
 * {"$op":"upsert"|"merge"|"patch"|"delete","id":..,"$version":N,...}. Each
 * becomes a small state machine of REST requests run by the shared HTTP
 * engine (http.h); operations on one document run one at a time in input
 * order (keyq.h), different documents concurrently.
 *
 * Versions live in the document as "_v", and the version of every path a
 * merge set or removed in "_lv" (cosmos_doc.h). A versioned upsert or
 * merge reads the document, applies the paths no newer write has touched
 * (none: stale) and writes the new state with PUT If-Match (412: read
 * again), or creates it with POST (409: read again), so every write is
 * atomic per event and a merge never loses a concurrent writer's change.
 * A patch is one Cosmos PATCH with the condition "from c where _v < N". A
 * delete removes the document (If-Match) or, with --tombstones, leaves
 * {"id","_v","_deleted"} so that a late, older event cannot bring the
 * document back. "$time" separates the generations of a device deleted and
 * created again ("_deleted_at" on tombstones, "_gen" on documents).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "cli.h"
#include "cosmos_doc.h"
#include "cosmos_impl.h"
#include "exitcode.h"
#include "http.h"
#include "json.h"
#include "keyq.h"
#include "log.h"
#include "metrics.h"
#include "ndjson.h"
#include "push.h"
#include "ratectl.h"
#include "stage.h"
#include "stats.h"
#include "url.h"

struct cosmos_opts op = {
	.push = PUSH_OPTS_DEFAULTS,
	.pk_path = "/id",
};

static const struct cli_opt options[] = {
	CLI_OPT_CACERT(&op.push.cacert),
	{ "concurrency", 'c', CLI_LONG, &op.push.concurrency, "N",
	    "COSMOS_CONCURRENCY", "requests in flight at most (default 32)",
	    0, NULL },
	{ "connection-string-file", 0, CLI_STR, &op.conn_file, "FILE", NULL,
	    "read the connection string AccountEndpoint=..;AccountKey=..; "
	    "from FILE (else COSMOS_CONNECTION_STRING)", 0, NULL },
	{ "container", 0, CLI_STR, &op.container, "NAME", "COSMOS_CONTAINER",
	    "the container (collection)", 0, NULL },
	{ "create-container", 0, CLI_FLAG, &op.create_container, NULL, NULL,
	    "create the database and the container (with the partition key "
	    "path) if they do not exist", 0, NULL },
	{ "credential", 0, CLI_STR, &op.push.credential, "LIST",
	    "TWINPIPE_CREDENTIAL", "Entra ID credential providers to try "
	    "when no key is given (default environment,workload-identity,"
	    "managed-identity,azure-cli)", 0, NULL },
	{ "database", 'd', CLI_STR, &op.database, "NAME", "COSMOS_DATABASE",
	    "the database", 0, NULL },
	PUSH_OPT_DEAD_LETTER(&op.push),
	{ "encode-ids", 0, CLI_FLAG, &op.encode_ids, NULL, NULL,
	    "store ids with '/', '\\', '?', '#' and '%' percent-encoded "
	    "instead of failing those records", 0, NULL },
	{ "endpoint", 'e', CLI_STR, &op.push.endpoint, "URL", "COSMOS_ENDPOINT",
	    "the account, e.g. https://ACCOUNT.documents.azure.com", 0,
	    NULL },
	PUSH_OPT_HTTP1(&op.push),
	PUSH_OPT_INSECURE(&op.push),
	{ "key-file", 0, CLI_STR, &op.key_file, "FILE", NULL,
	    "read the account key from FILE (else COSMOS_KEY)", 0, NULL },
	{ "max-attempts", 0, CLI_LONG, &op.push.max_attempts, "N", NULL,
	    "HTTP attempts per request at most, not counting 429s "
	    "that give a retry time (default 10)", 0, NULL },
	PUSH_OPT_MAX_LINE(&op.push),
	{ "max-ru", 0, CLI_LONG, &op.max_ru, "N", "COSMOS_MAX_RU",
	    "spend at most N request units a second (from "
	    "x-ms-request-charge; default 0: no limit)", 0, NULL },
	{ "max-time", 0, CLI_DURATION, &op.push.max_time, "DURATION", NULL,
	    "give a request up after DURATION of retries (default 5m)", 0,
	    NULL },
	PUSH_OPT_METRICS_LISTEN,
	{ "partition-key-path", 'p', CLI_STR, &op.pk_path, "PATH",
	    "COSMOS_PARTITION_KEY_PATH", "the container's partition key "
	    "path, e.g. /deviceId (default /id)", 0, NULL },
	CLI_OPT_REDACT_PARAM,
	{ "reconcile", 0, CLI_FLAG, &op.reconcile, NULL, NULL,
	    "at a snapshot-complete record with a \"started\" time, delete "
	    "(or tombstone) the documents the snapshot did not have and that "
	    "did not change since it started", 0, NULL },
	{ "token-file", 0, CLI_STR, &op.push.token_file, "FILE",
	    "COSMOS_TOKEN_FILE", "send the Entra ID token in FILE instead "
	    "of using a key or the credential chain", 0, NULL },
	{ "tombstones", 0, CLI_FLAG, &op.tombstones, NULL, NULL,
	    "a versioned delete keeps {id,_v,_deleted:true[,_deleted_at]} "
	    "so that older events cannot bring the document back (default: "
	    "remove it)",
	    0, NULL },
};

static const struct cli_prog prog = {
	"push-cosmos",
	"[OPTION]... --database NAME --container NAME [FILE]",
	"Apply the document operations of the NDJSON records of FILE (or\n"
	"standard input) to a Cosmos DB container and write one result line\n"
	"per record to standard output. A record is {\"$op\":OP,\"id\":ID,...}\n"
	"with OP upsert (default: the whole document), merge (an RFC 7396\n"
	"merge patch: null removes), patch (\"$patch\": Cosmos patch\n"
	"operations) or delete, and an optional \"$version\" (a growing\n"
	"number): a late merge applies only the leaves no newer write\n"
	"changed (the document keeps their versions in _lv), a write left\n"
	"with nothing to change is acknowledged as stale. \"$time\" (RFC\n"
	"3339) tells a device deleted and created again from the old one.\n"
	"Failed records go to the dead-letter file with their error.",
	options, sizeof(options) / sizeof(options[0]),
	"Credentials: COSMOS_CONNECTION_STRING or --connection-string-file,\n"
	"COSMOS_KEY or --key-file (master key), --token-file, else the Entra\n"
	"ID chain (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, ...).\n",
	NULL
};

const char *const op_names[] = { "upsert", "merge", "patch",
    "delete" };

struct cosmos_run g;

/* ---- the loop ---- */

static void
run_ready(void)
{
	struct rec *r;

	while ((r = g.ready) != NULL) {
		g.ready = r->next;
		if (g.ready == NULL)
			g.ready_tail = &g.ready;
		if (r->step == S_READ && r->restarts > 0)
			rec_send(r);
		else
			rec_begin(r);
	}
}

void
pump(long timeout_ms, int fd, int *fd_ready)
{
	run_ready();
	if (g.ready != NULL)
		timeout_ms = 0;
	http_poll(g.p.e, timeout_ms, fd, fd_ready);
	run_ready();
}

/* Records begun again after a wait, not in the engine (push.h). */
static int
waiting(void)
{
	return g.ready != NULL;
}

/* A control record: --reconcile's snapshot-complete (push.h). */
static void
control(jv v)
{
	if (op.reconcile)
		reconcile(v);
	else
		jv_free(v);
}

/* The program's side of the push run (push.h). */
static const struct push_ops hooks = {
	.line = handle_line,
	.pump = pump,
	.start = run_ready,
	.waiting = waiting,
	.control = control,
};

/* ---- setup: --create-container ---- */

struct setup {
	struct sigctx sc;
	long status;
	char *why;
};

static void
setup_done(struct http_req *req, enum http_verdict v,
    const struct http_resp *resp, void *user)
{
	struct setup *s = user;
	struct buf code = BUF_INIT, msg = BUF_INIT;

	(void)req;
	s->status = resp->status;
	if (v != HTTP_OK && resp->status != 409) {
		cosmos_error(resp, &code, &msg);
		s->why = xstrdup(buf_cstr(&msg));
	}
	buf_release(&code);
	buf_release(&msg);
}

/* POST body to path (a feed of type under link); 0 if created or there. */
static int
setup_post(const char *path, const char *type, const char *link,
    const char *body, const char *what)
{
	struct setup s = { { NULL, "", NULL }, 0, NULL };
	struct http_req *req;
	int rc = 0;

	snprintf(s.sc.type, sizeof(s.sc.type), "%s", type);
	s.sc.link = xstrdup(link);
	req = req_new(&s.sc, "POST", path);
	http_req_header(req, "Content-Type", "application/json");
	http_req_body(req, body, strlen(body));
	http_req_callbacks(req, prepare, classify, setup_done, &s);
	http_submit(g.p.e, req);
	http_run(g.p.e);
	if (s.why != NULL) {
		log_error("cannot create the %s: %s", what, s.why);
		rc = -1;
	} else {
		log_info("%s %s", what, s.status == 409 ? "exists" :
		    "created");
	}
	free(s.why);
	free(s.sc.link);
	return rc;
}

static int
create_container(void)
{
	struct buf b = BUF_INIT, p = BUF_INIT, l = BUF_INIT;
	const char *why;
	jv o;
	int rc;

	o = jv_object_set(jv_object(), jv_string("id"),
	    jv_string(op.database));
	json_write(&b, o, 0, NULL);
	jv_free(o);
	rc = setup_post("/dbs", "dbs", "", buf_cstr(&b), "database");
	b.len = 0;
	if (rc == 0) {
		o = jv_object_set(jv_object(), jv_string("id"),
		    jv_string(op.container));
		o = jv_object_set(o, jv_string("partitionKey"),
		    jv_object_set(jv_object_set(jv_object_set(jv_object(),
		    jv_string("paths"), jv_array_append(jv_array(),
		    jv_string(op.pk_path))), jv_string("kind"),
		    jv_string("Hash")), jv_string("version"), jv_number(2)));
		json_write(&b, o, 0, NULL);
		jv_free(o);
		buf_adds(&p, "/dbs");
		(void)url_segment(&p, op.database, strlen(op.database), &why);
		buf_adds(&p, "/colls");
		buf_adds(&l, "dbs/");
		buf_adds(&l, op.database);
		rc = setup_post(buf_cstr(&p), "colls", buf_cstr(&l),
		    buf_cstr(&b), "container");
	}
	buf_release(&b);
	buf_release(&p);
	buf_release(&l);
	return rc;
}

/* ---- main ---- */

/* Endpoint, key and scope from the options and the environment. */
static int
configure(void)
{
	char *cs = NULL, *cs_ep = NULL, *cs_key = NULL;
	int failed = 0, rc = -1;
	struct buf b = BUF_INIT;
	const char *ep, *h;
	size_t n;

	cs = cli_secret("COSMOS_CONNECTION_STRING", op.conn_file, &failed);
	if (failed)
		goto out;
	if (cs != NULL && cosmos_conn_parse(cs, &cs_ep, &cs_key) < 0) {
		log_error("the connection string is not "
		    "AccountEndpoint=...;AccountKey=...;");
		goto out;
	}
	if (cs_key != NULL)
		log_secret(cs_key);
	h = getenv("COSMOS_KEY");
	if (op.key_file != NULL || (h != NULL && *h != '\0')) {
		g.key = cli_secret("COSMOS_KEY", op.key_file, &failed);
		if (failed)
			goto out;
	}
	if (g.key == NULL && cs_key != NULL) {
		g.key = cs_key;
		cs_key = NULL;
	}
	ep = op.push.endpoint != NULL ? op.push.endpoint : cs_ep;
	if (ep == NULL) {
		cli_usage_error(&prog, "no --endpoint (COSMOS_ENDPOINT) or "
		    "connection string given");
		goto out;
	}
	if (strncmp(ep, "https://", 8) != 0 && strncmp(ep, "http://", 7) != 0)
		buf_adds(&b, "https://");
	buf_adds(&b, ep);
	n = b.len;
	while (n > 0 && b.p[n - 1] == '/')
		n--;
	b.len = n;
	g.endpoint = buf_cstr(&b);
	b = (struct buf)BUF_INIT;
	/* scope: https://HOST/.default (no port) */
	h = strstr(g.endpoint, "://") + 3;
	buf_add(&b, g.endpoint, (size_t)(h - g.endpoint));
	buf_add(&b, h, strcspn(h, ":/"));
	buf_adds(&b, "/.default");
	g.scope = buf_cstr(&b);
	b = (struct buf)BUF_INIT;
	if (g.key != NULL && g.key[0] == '\0') {
		log_error("the account key is empty");
		goto out;
	}
	rc = 0;
out:
	free(cs);
	free(cs_ep);
	free(cs_key);
	buf_release(&b);
	return rc;
}

/* The options that need more than the table: 0, or -1 (reported). */
static int
check_options(int argc, int first)
{
	if (argc - first > 1)
		return cli_usage_error(&prog, "at most one input FILE"), -1;
	if (op.database == NULL || op.container == NULL ||
	    !*op.database || !*op.container)
		return cli_usage_error(&prog, "--database and --container are "
		    "required"), -1;
	if (op.pk_path[0] != '/' || op.pk_path[1] == '\0')
		return cli_usage_error(&prog, "--partition-key-path must be a "
		    "path like /deviceId"), -1;
	return push_check_opts(&prog, &op.push, op.max_ru < 0, "--max-ru");
}

/* The container's path (every name percent-encoded) and its resource link
 * (for signatures). Returns 0, or -1 (reported). */
static int
container_paths(void)
{
	struct buf b = BUF_INIT;
	const char *why;
	int rc = 0;

	buf_adds(&b, "/dbs");
	if (url_segment(&b, op.database, strlen(op.database), &why) < 0 ||
	    (buf_adds(&b, "/colls"), url_segment(&b, op.container,
	    strlen(op.container), &why)) < 0) {
		cli_usage_error(&prog, "--database/--container: %s", why);
		rc = -1;
	} else {
		g.coll_path = xstrdup(buf_cstr(&b));
		b.len = 0;
		buf_printf(&b, "dbs/%s/colls/%s", op.database, op.container);
		g.coll_link = xstrdup(buf_cstr(&b));
	}
	buf_release(&b);
	return rc;
}

/* The credential (without an account key) and the HTTP engine. Returns 0
 * or the exit code. */
static int
connect_setup(void)
{
	const struct auth_cli ac = push_auth_cli(&op.push);
	struct http_opts ho;

	if (g.key == NULL && (g.auth = auth_from_options(&ac, g.scope,
	    "no account key (COSMOS_KEY, --key-file, connection string) "
	    "and ")) == NULL)
		return EXIT_USAGE;
	http_opts_init(&ho);
	push_http_opts(&ho, &op.push);
	ho.service = "cosmos";
	ho.aimd_increase = 0;	/* 429s are per partition (see "Throttling") */
	return (g.p.e = http_engine_new(&ho)) == NULL ? EXIT_FATAL : 0;
}

/*
 * Read the input, one record at a time, while the engine runs (the
 * stage's loop); then every record read gets its result, and the control
 * records their place.
 */
static void
run(struct stage *st)
{
	push_read(&g.p, st);
	push_end(&g.p, st);
	*stats_counter("ru") = (uint64_t)llround(g.ru);
}

int
main(int argc, char **argv)
{
	struct cli_common common;
	struct stage st;
	int first, status = EXIT_USAGE;

	g.ready_tail = &g.ready;
	log_init("push-cosmos");
	first = cli_parse(&prog, argc, argv, &common);
	if (first < 0 || check_options(argc, first) < 0 || configure() < 0 ||
	    container_paths() < 0)
		goto out;
	/* the input first, the dead letters once the credential works */
	if ((status = push_begin(&g.p, &hooks, &st, argc, argv, first,
	    "push-cosmos", &op.push)) != 0)
		goto out;
	g.c_stale = stats_counter("stale");
	g.c_restarts = stats_counter("conflicts");
	g.p.c_control = stats_counter("control");
	if (op.reconcile)
		(void)stats_counter("reconciled");
	if ((status = connect_setup()) == 0)
		status = push_open_dlq(&g.p, &st, &op.push, "push-cosmos");
	g.q = keyq_new();
	ratectl_init(&g.rc, 0);
	ratectl_tolerate(&g.rc, CUT_SHARE);
	if (status == 0 && op.create_container && create_container() < 0)
		status = EXIT_FATAL;
	if ((status = push_ready(&st, status)) != 0)
		goto out;
	run(&st);
	status = push_stage_end(&g.p, &st, common.stats);
out:
	push_free(&g.p);
	keyq_free(g.q, rec_free_item);
	auth_free(g.auth);
	free(g.endpoint);
	free(g.key);
	free(g.scope);
	free(g.coll_path);
	free(g.coll_link);
	seen_free();
	return status;
}
