/*
 * push-adt - write twin and relationship operations to Azure Digital Twins.
 *
 * Records come from standard input (DESIGN.md record contract). Each one
 * becomes a small state machine of REST requests run by the shared HTTP
 * engine (http.h): operations on one twin (its own and its outgoing
 * relationships) run one at a time in input order (keyq.h), spaced so that
 * no twin gets more than --twin-rate writes a second; different twins run
 * concurrently. A relationship waits for the creates of its target twin
 * read before it; a relationship whose twin is missing (404) is tried once
 * more after everything else. Every record ends in exactly one result line
 * on standard output; failed records also go to the dead-letter file.
 */
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "adt_job.h"
#include "adt_op.h"
#include "adt_twins.h"
#include "auth.h"
#include "cli.h"
#include "clock.h"
#include "exitcode.h"
#include "http.h"
#include "keyq.h"
#include "log.h"
#include "metrics.h"
#include "push.h"
#include "ratectl.h"
#include "ndjson.h"
#include "result.h"
#include "stage.h"
#include "stats.h"

#define ADT_SCOPE "https://digitaltwins.azure.net/.default"
#define LIST_ROUNDS_MAX 1000	/* pages of relationships per delete */


static struct {
	struct push_opts push;	/* --endpoint, --concurrency, ... */
	const char *api_version;
	long rate;
	long create_rate;
	long twin_rate;
	int dry_run;
	const char *bulk;
	const char *bulk_auth;
	const char *bulk_conn_file;
	const char *bulk_container;
	const char *bulk_key_file;
	const char *bulk_sas_file;
	const char *bulk_state;
	long bulk_threshold;
	double bulk_wait;
	int bulk_keep;
} op = {
	.push = PUSH_OPTS_DEFAULTS,
	.api_version = "2023-10-31",
	.rate = 500,
	.create_rate = 500,
	.twin_rate = 10,
	.bulk_threshold = 20000,
	.bulk_wait = 3600,
};

static const struct cli_opt options[] = {
	{ "api-version", 0, CLI_STR, &op.api_version, "VERSION",
	    "ADT_API_VERSION", "ADT data-plane API version (default "
	    "2023-10-31)", 0, NULL },
	{ "bulk", 0, CLI_STR, &op.bulk, "WHEN", "ADT_BULK",
	    "load new twins and relationships with an ADT import job: auto "
	    "(default: at --bulk-threshold and above), always or never", 0,
	    NULL },
	{ "bulk-auth", 0, CLI_STR, &op.bulk_auth, "MODE", NULL,
	    "blob credentials for the import file: auto (default: SAS, else "
	    "key, else Entra ID), key, sas or entra", 0, NULL },
	{ "bulk-connection-string-file", 0, CLI_STR, &op.bulk_conn_file,
	    "FILE", NULL, "read the Storage connection string from FILE "
	    "(else AZURE_STORAGE_CONNECTION_STRING)", 0, NULL },
	{ "bulk-container", 0, CLI_STR, &op.bulk_container, "URL",
	    "ADT_BULK_CONTAINER", "the blob container[/prefix] the import "
	    "file and the job's log go to (no SAS in it)", 0, NULL },
	{ "bulk-keep", 0, CLI_FLAG, &op.bulk_keep, NULL, NULL,
	    "keep the import file and the job's log blobs at the end", 0,
	    NULL },
	{ "bulk-key-file", 0, CLI_STR, &op.bulk_key_file, "FILE", NULL,
	    "read the Storage account key from FILE (else "
	    "AZURE_STORAGE_KEY)", 0, NULL },
	{ "bulk-sas-file", 0, CLI_STR, &op.bulk_sas_file, "FILE", NULL,
	    "read the Storage SAS token from FILE (else "
	    "AZURE_STORAGE_SAS_TOKEN)", 0, NULL },
	{ "bulk-state", 0, CLI_STR, &op.bulk_state, "FILE",
	    "ADT_BULK_STATE", "keep the import job's id in FILE until every "
	    "result is written (crash recovery; required with a job)", 0,
	    NULL },
	{ "bulk-threshold", 0, CLI_LONG, &op.bulk_threshold, "N", NULL,
	    "--bulk auto uses a job for N or more new twins and "
	    "relationships (default 20000)", 0, NULL },
	{ "bulk-wait", 0, CLI_DURATION, &op.bulk_wait, "DURATION", NULL,
	    "wait for an import job (and for another one to end) at most "
	    "DURATION (default 1h)", 0, NULL },
	CLI_OPT_CACERT(&op.push.cacert),
	{ "concurrency", 'c', CLI_LONG, &op.push.concurrency, "N",
	    "ADT_CONCURRENCY", "requests in flight at most (default 32)", 0,
	    NULL },
	{ "create-rate", 0, CLI_LONG, &op.create_rate, "N",
	    "ADT_CREATE_RATE", "creates and deletes of twins and "
	    "relationships per second at most (ADT's limit: default 500; "
	    "0: none)", 0, NULL },
	{ "credential", 0, CLI_STR, &op.push.credential, "LIST",
	    "TWINPIPE_CREDENTIAL", "credential providers to try, in order "
	    "(default environment,workload-identity,managed-identity,"
	    "azure-cli)", 0, NULL },
	PUSH_OPT_DEAD_LETTER(&op.push),
	{ "dry-run", 'n', CLI_FLAG, &op.dry_run, NULL, NULL,
	    "print the requests that would be sent (as NDJSON), send none",
	    0, NULL },
	{ "endpoint", 'e', CLI_STR, &op.push.endpoint, "URL", "ADT_ENDPOINT",
	    "the ADT instance, e.g. https://NAME.api.REGION."
	    "digitaltwins.azure.net", 0, NULL },
	PUSH_OPT_HTTP1(&op.push),
	PUSH_OPT_INSECURE(&op.push),
	{ "max-attempts", 0, CLI_LONG, &op.push.max_attempts, "N", NULL,
	    "HTTP attempts per record at most, not counting 429s "
	    "that give a retry time (default 10)", 0, NULL },
	PUSH_OPT_MAX_LINE(&op.push),
	{ "max-time", 0, CLI_DURATION, &op.push.max_time, "DURATION", NULL,
	    "give a record up after DURATION of retries (default 5m)", 0,
	    NULL },
	PUSH_OPT_METRICS_LISTEN,
	{ "rate", 0, CLI_LONG, &op.rate, "N", "ADT_RATE",
	    "start at most N requests a second (default 500, ADT's "
	    "create/delete limit; 0: no limit)", 0, NULL },
	CLI_OPT_REDACT_PARAM,
	{ "token-file", 0, CLI_STR, &op.push.token_file, "FILE", "ADT_TOKEN_FILE",
	    "send the bearer token in FILE instead of using the credential "
	    "chain", 0, NULL },
	{ "twin-rate", 0, CLI_LONG, &op.twin_rate, "N", NULL,
	    "writes to one twin and its relationships per second at most "
	    "(default 10, ADT's limit; 0: no limit)", 0, NULL },
};

static const struct cli_prog prog = {
	"push-adt",
	"[OPTION]... --endpoint URL [FILE]",
	"Apply the twin and relationship operations of the NDJSON records of\n"
	"FILE (or standard input) to Azure Digital Twins and write one result\n"
	"line per record to standard output. Records have the shape of ADT's\n"
	"import file ({\"$dtId\",\"$metadata\":{\"$model\"},...} for twins,\n"
	"{\"$dtId\",\"$relationshipId\",\"$targetId\",\"$relationshipName\",...}\n"
	"for relationships) and an optional \"$op\": upsert (default), replace,\n"
	"patch (with \"$patch\") or delete. Failed records go to the dead-letter\n"
	"file with their error.",
	options, sizeof(options) / sizeof(options[0]),
	"Credentials: --token-file, else the Entra ID chain (AZURE_TENANT_ID,\n"
	"AZURE_CLIENT_ID, AZURE_CLIENT_SECRET or AZURE_FEDERATED_TOKEN_FILE,\n"
	"AZURE_AUTHORITY_HOST, IDENTITY_ENDPOINT/IDENTITY_HEADER, IMDS, az).\n",
	NULL
};

/* States of a record's state machine. */
enum step {
	S_PUT_NEW,	/* twin upsert: PUT If-None-Match: * */
	S_PUT,		/* PUT (replace, relationship create) */
	S_PATCH,	/* PATCH */
	S_LIST_OUT,	/* twin delete: GET outgoing relationships */
	S_DEL_OUT,	/* DELETE one of them */
	S_LIST_IN,	/* GET incoming relationships */
	S_DEL_IN,	/* DELETE one of them */
	S_DELETE,	/* DELETE the twin or relationship */
	S_HEAL		/* GET the entity a rejected patch was for */
};

struct rec {
	struct adt_op op;
	uint64_t seq;
	unsigned long long lineno;
	char *line;
	size_t len;
	enum step step;
	unsigned attempts;
	unsigned throttled;	/* of those, 429s not counted (http.h) */
	long status;
	int64_t t0;		/* first request start, ms (0: none yet) */
	int holds_key;		/* is the active item of its keyq key */
	int healed;		/* the patch was made idempotent once */
	long heal_status;	/* the status that made it try */
	int creates;		/* a PUT that may create its twin */
	int deferred;		/* was put aside once after a 404 */
	int recreate;		/* upsert: PATCH got 404, PUT again */
	int rounds;		/* delete: list rounds */
	uint64_t need_create;	/* relationship: wait for this create */
	int64_t due;		/* heap: start time, ms */
	struct rec *next;	/* ready, parked or deferred list */
	struct rec *in_next, **in_prev; /* incoming list of the target */
	struct rec *followers;	/* patches merged into this one */
	struct rec *next_follower;
	char *own_patch;	/* the patch before merges (NULL: none) */
	struct rec *split;	/* merged patches to run one by one after
				   this one, after the merged one failed */
	char **dl_src, **dl_rid; /* delete: relationships to delete */
	size_t dl_n, dl_i;
};

/* The run's state; one per process. */
static struct {
	struct push p;		/* the engine, output, dead letters, counts;
				 * p.parked: the deferred relationships */
	struct keyq *q;
	struct adt_twins *twins;
	struct auth *auth;
	char *endpoint;
	uint64_t seq;
	struct rec *ready, **ready_tail;
	struct rec *deferred, **deferred_tail;
	struct rec **heap;
	size_t nheap, capheap;
	double cd_next;		/* ms: next free create/delete slot */
	struct adt_job *job;	/* --bulk: the import job's run, or NULL */
	size_t bulk_ix;		/* pass 2: the spool record being handled */
	int in_bulk;		/* pass 2 runs */
	uint64_t *c_merged;
	int eof;
} g;

/* ---- lists and the timer heap ---- */

static void
ready_push(struct rec *r)
{
	r->next = NULL;
	*g.ready_tail = r;
	g.ready_tail = &r->next;
}

static void
heap_push(struct rec *r)
{
	size_t i;

	if (g.nheap == g.capheap) {
		g.capheap = g.capheap ? g.capheap * 2 : 256;
		g.heap = xrealloc(g.heap, g.capheap * sizeof(*g.heap));
	}
	i = g.nheap++;
	while (i > 0 && g.heap[(i - 1) / 2]->due > r->due) {
		g.heap[i] = g.heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	g.heap[i] = r;
}

static struct rec *
heap_pop(void)
{
	struct rec *top = g.heap[0], *last = g.heap[--g.nheap];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= g.nheap)
			break;
		if (c + 1 < g.nheap && g.heap[c + 1]->due < g.heap[c]->due)
			c++;
		if (last->due <= g.heap[c]->due)
			break;
		g.heap[i] = g.heap[c];
		i = c;
	}
	if (g.nheap > 0)
		g.heap[i] = last;
	return top;
}

/* ---- results ---- */

static void
rec_free(struct rec *r)
{
	size_t i;

	for (i = 0; i < r->dl_n; i++) {
		free(r->dl_src[i]);
		free(r->dl_rid[i]);
	}
	free(r->dl_src);
	free(r->dl_rid);
	adt_op_release(&r->op);
	free(r->own_patch);
	free(r->line);
	free(r);
}

/*
 * Count a finished record under "KIND.OP.STATUS" (status < 0: "KIND.OP"). stats_counter() keeps
 * the name pointer, so names are interned here for the life of the
 * process (reachable from a static: not a leak).
 */
static void
count_op(const char *kind, const char *opn, long status)
{
	static char **names;
	static size_t nnames;
	char name[64];
	size_t i;

	if (status < 0)
		snprintf(name, sizeof(name), "%s.%s", kind, opn);
	else
		snprintf(name, sizeof(name), "%s.%s.%ld", kind, opn, status);
	for (i = 0; i < nnames; i++)
		if (strcmp(names[i], name) == 0)
			break;
	if (i == nnames) {
		names = xrealloc(names, (nnames + 1) * sizeof(*names));
		names[nnames++] = xstrdup(name);
	}
	stats_add(names[i], 1);
}

/* Write the result of one record (and its dead letter when it failed). */
static void
emit(const struct rec *r, int ok, long status, unsigned attempts,
    const char *code, const char *msg)
{
	struct result res = { 0 };

	res.ok = ok;
	res.op = adt_op_name(r->op.op);
	res.id = r->op.kind == ADT_REL ? r->op.rel_id : r->op.id;
	res.source = r->op.kind == ADT_REL ? r->op.id : NULL;
	res.status = status;
	res.attempts = attempts;
	res.err_code = ok ? NULL : code;
	res.err_msg = ok ? NULL : msg;
	res.meta = r->op.meta;
	push_result(&g.p, &res);
	count_op(r->op.kind == ADT_REL ? "relationship" : "twin",
	    adt_op_name(r->op.op), status);
	if (ok) {
		(*g.p.c_ok)++;
		return;
	}
	(*g.p.c_failed)++;
	if (r->op.kind == ADT_REL)
		log_at(LV_ERROR, "<stdin>", r->lineno, "relationship '%s' of "
		    "twin '%s': %s", r->op.rel_id, r->op.id, msg);
	else
		log_at(LV_ERROR, "<stdin>", r->lineno, "twin '%s': %s",
		    r->op.id, msg);
	push_dead_letter(&g.p, r->lineno, r->line, r->len, code, msg,
	    status, attempts);
}

static void release_key(struct rec *r);

/* Make everything parked on twin id ready (it re-checks what it waits
 * for). */
static void
twin_wake(const char *id)
{
	struct adt_twin *t = adt_twins_find(g.twins, id);
	struct rec *p;

	if (t == NULL)
		return;
	while ((p = t->parked) != NULL) {
		t->parked = p->next;
		ready_push(p);
	}
}

/* Take a relationship operation off its target's incoming list. */
static void
incoming_unlink(struct rec *r)
{
	if (r->in_prev == NULL)
		return;
	*r->in_prev = r->in_next;
	if (r->in_next != NULL)
		r->in_next->in_prev = r->in_prev;
	r->in_prev = NULL;
	r->in_next = NULL;
	twin_wake(r->op.target);
}

/*
 * The record is done: results for it and its merged followers, creates
 * accounted, the next operation on its key made ready, memory freed.
 */
static void
rec_finish(struct rec *r, int ok, const char *code, const char *msg)
{
	struct rec *f, *nf;

	emit(r, ok, r->status, r->attempts, code, msg);
	for (f = r->followers; f != NULL; f = nf) {
		nf = f->next_follower;
		emit(f, ok, r->status, r->attempts, code, msg);
		rec_free(f);
	}
	if (r->creates) {
		struct adt_twin *t = adt_twins_find(g.twins, r->op.id);

		if (t != NULL && t->done_create < r->seq)
			t->done_create = r->seq;
		twin_wake(r->op.id);
	}
	incoming_unlink(r);
	if (r->split != NULL) {
		/* the next of the patches split apart takes over the key */
		struct rec *n = r->split;

		n->split = n->next_follower;
		n->next_follower = NULL;
		n->holds_key = r->holds_key;
		r->holds_key = 0;
		r->split = NULL;
		g.p.live++;
		ready_push(n);
	}
	release_key(r);
	g.p.live--;
	rec_free(r);
	push_flush_controls(&g.p);
}

static void
release_key(struct rec *r)
{
	struct rec *next;

	if (!r->holds_key)
		return;
	r->holds_key = 0;
	next = keyq_done(g.q, r->op.id);
	if (next != NULL) {
		next->holds_key = 1;
		ready_push(next);
	}
}

static void
fail(void *r, const char *code, const char *msg)
{
	rec_finish(r, 0, code, msg);
}

/* rec_finish() for a failure, its message formatted (push_fail()) */
#define rec_fail(r, code, ...)	push_fail(fail, (r), (code), __VA_ARGS__)

/* ---- requests ---- */

static int
prepare(struct http_req *req, void *user)
{
	struct buf b = BUF_INIT, err = BUF_INIT;

	(void)user;
	if (g.auth == NULL)
		return 0;
	if (auth_header(g.auth, ADT_SCOPE, "Bearer ", &b, &err) < 0) {
		http_req_error(req, "%s", buf_cstr(&err));
		buf_release(&b);
		buf_release(&err);
		return 1;
	}
	http_req_attempt_header(req, "Authorization", buf_cstr(&b));
	buf_release(&b);
	buf_release(&err);
	return 0;
}

/*
 * The request-rate budget adapts to 429s (ratectl.h: AIMD on the rate, on
 * top of the engine's AIMD on the window); --rate is the ceiling.
 */
static struct ratectl ra;

static void
rate_adapt(long status)
{
	if (ratectl_note(&ra, status, clock_ms())) {
		http_set_rate(g.p.e, ratectl_rate(&ra), ratectl_rate(&ra) / 20 + 1);
		log_debug("request rate now %.0f/s", ratectl_rate(&ra));
	}
}

static enum http_verdict
classify(const struct http_resp *resp, void *user)
{
	(void)user;
	rate_adapt(resp->status);
	if (resp->status == 401 && g.auth != NULL && resp->attempts < 3) {
		/* an expired or revoked token: fetch a new one */
		auth_invalidate(g.auth, ADT_SCOPE);
		return HTTP_RETRY;
	}
	return http_classify_default(resp, NULL);
}

static void on_done(struct http_req *req, enum http_verdict v,
    const struct http_resp *resp, void *user);

/* The twin a request of r writes (for the per-twin spacing), or NULL. */
static const char *
write_target(const struct rec *r)
{
	switch (r->step) {
	case S_LIST_OUT:
	case S_LIST_IN:
	case S_HEAL:
		return NULL;	/* reads */
	case S_DEL_IN:
		return r->dl_src[r->dl_i];
	default:
		return r->op.id;
	}
}

static void
rec_send(struct rec *r)
{
	struct buf url = BUF_INIT;
	struct http_req *req;
	const char *method = "GET", *body = NULL, *why = NULL;
	int64_t now = clock_ms();
	int rc;
	long left_ms = 0;
	unsigned left_att = 0;

	if (stage_stop) {
		rec_fail(r, "interrupted", "interrupted before it was "
		    "applied (SIGINT/SIGTERM): re-drive it");
		return;
	}
	if (r->t0 == 0)
		r->t0 = now;
	if (op.push.max_attempts > 0) {
		if (r->attempts - r->throttled >= (unsigned)op.push.max_attempts) {
			rec_fail(r, "gave_up", "gave up after %u attempts "
			    "(--max-attempts)", r->attempts);
			return;
		}
		left_att = (unsigned)op.push.max_attempts - (r->attempts -
		    r->throttled);
	}
	if (op.push.max_time > 0) {
		left_ms = (long)(op.push.max_time * 1000) - (long)(now - r->t0);
		if (left_ms <= 0) {
			rec_fail(r, "gave_up", "gave up after %.1f s "
			    "(--max-time)", op.push.max_time);
			return;
		}
	}
	switch (r->step) {
	case S_PUT_NEW:
	case S_PUT:
		method = "PUT";
		body = r->op.put_body;
		break;
	case S_PATCH:
		method = "PATCH";
		body = r->op.patch_body;
		break;
	case S_DEL_OUT:
	case S_DEL_IN:
	case S_DELETE:
		method = "DELETE";
		break;
	default:
		break;
	}
	if (r->step == S_LIST_OUT)
		rc = adt_url(&url, g.endpoint, r->op.id, "relationships", NULL,
		    op.api_version, &why);
	else if (r->step == S_LIST_IN)
		rc = adt_url(&url, g.endpoint, r->op.id,
		    "incomingrelationships", NULL, op.api_version, &why);
	else if (r->step == S_DEL_OUT || r->step == S_DEL_IN)
		rc = adt_url(&url, g.endpoint, r->dl_src[r->dl_i],
		    "relationships", r->dl_rid[r->dl_i], op.api_version, &why);
	else if (r->op.kind == ADT_REL)
		rc = adt_url(&url, g.endpoint, r->op.id, "relationships",
		    r->op.rel_id, op.api_version, &why);
	else
		rc = adt_url(&url, g.endpoint, r->op.id, NULL, NULL,
		    op.api_version, &why);
	if (rc < 0) {
		/* the record's ids were checked; a listed relationship of
		   the service may still have an id no URL can carry */
		buf_release(&url);
		rec_fail(r, "bad_id", "cannot build the request URL: %s", why);
		return;
	}
	req = http_req_new(method, buf_cstr(&url));
	buf_release(&url);
	if (r->step == S_PUT_NEW)
		http_req_header(req, "If-None-Match", "*");
	if (body != NULL) {
		http_req_header(req, "Content-Type", r->step == S_PATCH ?
		    "application/json-patch+json" : "application/json");
		http_req_body(req, body, strlen(body));
	}
	http_req_callbacks(req, prepare, classify, on_done, r);
	http_req_limits(req, left_att, left_ms);
	http_submit(g.p.e, req);
}

/* Is this step a create or a delete (ADT's 500/s instance budget)? */
static int
creates_or_deletes(const struct rec *r)
{
	return r->step == S_PUT_NEW || r->step == S_PUT ||
	    r->step == S_DEL_OUT || r->step == S_DEL_IN ||
	    r->step == S_DELETE;
}

/*
 * Run r's current step now, or later: when its twin had a write too
 * recently (--twin-rate), or creates and deletes of the instance are at
 * their budget (--create-rate). Both slots are reserved at once.
 */
static void
rec_step(struct rec *r)
{
	const char *t;
	int64_t now, due;

	if (stage_stop) {
		rec_fail(r, "interrupted", "interrupted before it was "
		    "applied (SIGINT/SIGTERM): re-drive it");
		return;
	}
	now = due = clock_ms();
	if (op.twin_rate > 0 && (t = write_target(r)) != NULL) {
		struct adt_twin *tw = adt_twins_get(g.twins, t);

		due = tw->next_ms > now ? tw->next_ms : now;
		tw->next_ms = due + (1000 + op.twin_rate - 1) / op.twin_rate;
	}
	if (op.create_rate > 0 && creates_or_deletes(r)) {
		double slot = g.cd_next > (double)due ? g.cd_next : (double)due;

		g.cd_next = slot + 1000.0 / (double)op.create_rate;
		if (slot > (double)due)
			due = (int64_t)ceil(slot);
	}
	if (due > now) {
		r->due = due;
		heap_push(r);
		return;
	}
	rec_send(r);
}

/*
 * r just became the active operation of its twin (or was woken). A
 * relationship waits for the creates of its target read before it; a twin
 * delete waits for the relationship operations targeting the twin that
 * were read before it. Every wait is for records read earlier, so waits
 * cannot form a cycle.
 */
static void
rec_begin(struct rec *r)
{
	struct adt_twin *t;

	if (stage_stop) {
		rec_step(r);
		return;
	}
	if (r->need_create != 0) {
		t = adt_twins_find(g.twins, r->op.target);
		if (t != NULL && t->done_create < r->need_create) {
			r->next = t->parked;
			t->parked = r;
			return;
		}
		r->need_create = 0;
	}
	if (r->op.kind == ADT_TWIN && r->op.op == ADT_DELETE &&
	    (t = adt_twins_find(g.twins, r->op.id)) != NULL) {
		struct rec *in;

		for (in = t->incoming; in != NULL; in = in->in_next) {
			if (in->seq < r->seq) {
				r->next = t->parked;
				t->parked = r;
				return;
			}
		}
	}
	rec_step(r);
}

/* ADT's error code and message from an answer, into code and msg. */
static void
adt_error(const struct http_resp *resp, struct buf *code, struct buf *msg)
{
	http_error_text(resp, "error", code, msg);
}

/* Take the relationships of a list answer into r's delete list. */
static int
take_list(struct rec *r, const struct http_resp *resp, int incoming)
{
	jv v = jv_invalid(), list;
	struct json_err je;
	int i, n;

	if (json_parse(resp->body, resp->body_len, &v, NULL, &je) < 0)
		return -1;
	list = json_get(v, "value");
	jv_free(v);
	if (jv_get_kind(list) != JV_KIND_ARRAY) {
		jv_free(list);
		return -1;
	}
	n = jv_array_length(jv_copy(list));
	r->dl_src = xrealloc(r->dl_src, ((size_t)n + 1) * sizeof(char *));
	r->dl_rid = xrealloc(r->dl_rid, ((size_t)n + 1) * sizeof(char *));
	for (i = 0; i < n; i++) {
		jv it = jv_array_get(jv_copy(list), i);
		const char *rid = json_get_str(it, "$relationshipId");
		const char *src = incoming ? json_get_str(it, "$sourceId") :
		    r->op.id;

		if (rid != NULL && src != NULL) {
			r->dl_src[r->dl_n] = xstrdup(src);
			r->dl_rid[r->dl_n] = xstrdup(rid);
			r->dl_n++;
		}
		jv_free(it);
	}
	jv_free(list);
	return 0;
}

static void
dl_clear(struct rec *r)
{
	size_t i;

	for (i = 0; i < r->dl_n; i++) {
		free(r->dl_src[i]);
		free(r->dl_rid[i]);
	}
	r->dl_n = r->dl_i = 0;
}

/* What on_done() does once a step's answer is read. */
enum after {
	A_STEP,		/* go on with the record's next step */
	A_DONE,		/* the record has its result */
	A_FAIL		/* it fails with the service's error */
};

static enum after
after_put_new(struct rec *r, enum http_verdict v, long st)
{
	if (v == HTTP_OK) {
		rec_finish(r, 1, NULL, NULL);
		return A_DONE;
	}
	if (st != 412)
		return A_FAIL;
	if (strcmp(r->op.patch_body, "[]") == 0) {
		rec_finish(r, 1, NULL, NULL);	/* exists, nothing to change */
		return A_DONE;
	}
	r->step = S_PATCH;
	return A_STEP;
}

static enum after
after_put(struct rec *r, enum http_verdict v, long st)
{
	if (v == HTTP_OK) {
		rec_finish(r, 1, NULL, NULL);
		return A_DONE;
	}
	if (st == 404 && r->op.kind == ADT_REL && !r->deferred) {
		/* a twin of the relationship may come later in the run: try
		   once more at the end */
		r->deferred = 1;
		incoming_unlink(r);
		release_key(r);
		r->next = NULL;
		*g.deferred_tail = r;
		g.deferred_tail = &r->next;
		g.p.parked++;
		return A_DONE;
	}
	return A_FAIL;
}

static enum after
after_patch(struct rec *r, enum http_verdict v,
    const struct http_resp *resp, long st)
{
	if (v == HTTP_OK) {
		rec_finish(r, 1, NULL, NULL);
		return A_DONE;
	}
	if (st == 400 && r->followers != NULL && r->own_patch != NULL) {
		/* one of the merged patches is bad: apply them one by one,
		   in order, so that only it fails */
		free(r->op.patch_body);
		r->op.patch_body = r->own_patch;
		r->own_patch = NULL;
		r->split = r->followers;
		r->followers = NULL;
		return A_STEP;
	}
	if (st == 400 && !r->healed && r->followers == NULL &&
	    (strstr(r->op.patch_body, "\"remove\"") != NULL ||
	    strstr(r->op.patch_body, "\"replace\"") != NULL)) {
		/* maybe a replay of a patch that was applied (its answer
		   lost): look at the entity as it is now */
		r->healed = 1;
		r->heal_status = st;
		r->step = S_HEAL;
		return A_STEP;
	}
	if (st == 404 && r->op.kind == ADT_TWIN && r->op.op == ADT_UPSERT) {
		if (!r->op.has_model) {
			struct buf code = BUF_INIT, msg = BUF_INIT;

			adt_error(resp, &code, &msg);
			buf_adds(&msg, " (the twin does not exist and the "
			    "record has no $metadata.$model to create it)");
			rec_finish(r, 0, buf_cstr(&code), buf_cstr(&msg));
			buf_release(&code);
			buf_release(&msg);
			return A_DONE;
		}
		if (!r->recreate++) {
			r->step = S_PUT_NEW;	/* deleted meanwhile */
			return A_STEP;
		}
	}
	return A_FAIL;
}

/* The entity as it is now, to make a replayed patch idempotent. */
static enum after
after_heal(struct rec *r, enum http_verdict v, const struct http_resp *resp)
{
	jv doc = jv_invalid();
	struct json_err je;
	char *healed;

	if (v != HTTP_OK || json_parse(resp->body, resp->body_len, &doc, NULL,
	    &je) < 0) {
		jv_free(doc);
		return A_FAIL;
	}
	healed = adt_patch_heal(r->op.patch_body, doc);
	jv_free(doc);
	if (healed == NULL) {
		/* the patch is wrong as it stands: report ADT's answer to it,
		   not to the GET */
		r->status = r->heal_status;
		rec_fail(r, "JsonPatchInvalid", "the patch was rejected (HTTP "
		    "%ld) and does not become valid against the entity as it "
		    "is now", r->heal_status);
		return A_DONE;
	}
	log_info("twin '%s': patch made idempotent for a replay: %s",
	    r->op.id, healed);
	free(r->op.patch_body);
	r->op.patch_body = healed;
	if (strcmp(healed, "[]") == 0) {
		rec_finish(r, 1, NULL, NULL);	/* already applied */
		return A_DONE;
	}
	r->step = S_PATCH;
	return A_STEP;
}

/* A page of the relationships of a twin to delete. */
static enum after
after_list(struct rec *r, enum http_verdict v, const struct http_resp *resp,
    long st)
{
	if (st == 404) {	/* no such twin: nothing to delete */
		rec_finish(r, 1, NULL, NULL);
		return A_DONE;
	}
	if (v != HTTP_OK)
		return A_FAIL;
	dl_clear(r);
	if (take_list(r, resp, r->step == S_LIST_IN) < 0) {
		rec_fail(r, "bad_response", "unexpected answer to the "
		    "relationship list");
		return A_DONE;
	}
	if (++r->rounds > LIST_ROUNDS_MAX) {
		rec_fail(r, "too_many_relationships", "relationships keep "
		    "coming back after %d rounds of deletes", LIST_ROUNDS_MAX);
		return A_DONE;
	}
	if (r->dl_n > 0)
		r->step = r->step == S_LIST_OUT ? S_DEL_OUT : S_DEL_IN;
	else
		r->step = r->step == S_LIST_OUT ? S_LIST_IN : S_DELETE;
	return A_STEP;
}

static enum after
after_delete(struct rec *r, enum http_verdict v, long st)
{
	if (v == HTTP_OK || st == 404) {	/* gone either way */
		rec_finish(r, 1, NULL, NULL);
		return A_DONE;
	}
	if (st == 400 && r->op.kind == ADT_TWIN &&
	    r->rounds < LIST_ROUNDS_MAX) {
		r->step = S_LIST_OUT;	/* a relationship was added meanwhile */
		return A_STEP;
	}
	return A_FAIL;
}

/* The answer to a record's request: its next step, or its result. */
static void
on_done(struct http_req *req, enum http_verdict v,
    const struct http_resp *resp, void *user)
{
	struct rec *r = user;
	long st = resp->status;
	enum after next = A_FAIL;

	(void)req;
	r->attempts += resp->attempts;
	r->throttled += resp->throttled;
	r->status = st;
	if (v != HTTP_OK && st != 404 && st != 412 && !(st == 400 &&
	    r->step == S_DELETE && r->op.kind == ADT_TWIN) && !(st == 400 &&
	    r->step == S_PATCH && (r->followers != NULL || !r->healed)))
		next = A_FAIL;
	else switch (r->step) {
	case S_PUT_NEW:
		next = after_put_new(r, v, st);
		break;
	case S_PUT:
		next = after_put(r, v, st);
		break;
	case S_PATCH:
		next = after_patch(r, v, resp, st);
		break;
	case S_HEAL:
		next = after_heal(r, v, resp);
		break;
	case S_LIST_OUT:
	case S_LIST_IN:
		next = after_list(r, v, resp, st);
		break;
	case S_DEL_OUT:
	case S_DEL_IN:
		if (v != HTTP_OK && st != 404)
			break;
		if (++r->dl_i == r->dl_n) {
			dl_clear(r);
			r->step = r->step == S_DEL_OUT ? S_LIST_OUT : S_LIST_IN;
		}
		next = A_STEP;
		break;
	case S_DELETE:
		next = after_delete(r, v, st);
		break;
	}
	if (next == A_STEP) {
		rec_step(r);
	} else if (next == A_FAIL) {
		push_fail_resp(fail, r, adt_error, resp);
	}
}

/* ---- dry run ---- */

static void
dry_req(const char *method, const char *url, const char *hdr,
    const char *body, const char *when)
{
	struct buf *b = &g.p.w->b;

	buf_adds(b, "{\"method\":");
	json_write_string(b, method, strlen(method), 0);
	buf_adds(b, ",\"url\":");
	json_write_string(b, url, strlen(url), 0);
	if (hdr != NULL) {
		buf_adds(b, ",\"headers\":");
		buf_adds(b, hdr);
	}
	if (body != NULL) {
		buf_adds(b, ",\"body\":");
		buf_adds(b, body);
	}
	if (when != NULL) {
		buf_adds(b, ",\"when\":");
		json_write_string(b, when, strlen(when), 0);
	}
	buf_addc(b, '}');
	if (ndjson_writer_commit(g.p.w) < 0)
		g.p.fatal = 1;
}

static void
dry_run(const struct rec *r)
{
	struct buf u = BUF_INIT, u2 = BUF_INIT;
	const char *jh = "{\"Content-Type\":\"application/json\"}";
	const char *ph = "{\"Content-Type\":\"application/json-patch+json\"}";
	const char *why = NULL;

	/* the ids passed adt_id_check(): these URLs can be built */
	if (r->op.kind == ADT_REL)
		(void)adt_url(&u, g.endpoint, r->op.id, "relationships",
		    r->op.rel_id, op.api_version, &why);
	else
		(void)adt_url(&u, g.endpoint, r->op.id, NULL, NULL,
		    op.api_version, &why);
	switch (r->op.op) {
	case ADT_UPSERT:
		if (r->op.kind == ADT_REL) {
			dry_req("PUT", buf_cstr(&u), jh, r->op.put_body, NULL);
			break;
		}
		if (r->op.has_model)
			dry_req("PUT", buf_cstr(&u), "{\"Content-Type\":"
			    "\"application/json\",\"If-None-Match\":\"*\"}",
			    r->op.put_body, NULL);
		dry_req("PATCH", buf_cstr(&u), ph, r->op.patch_body,
		    r->op.has_model ? "the twin exists (412)" : NULL);
		break;
	case ADT_REPLACE:
		dry_req("PUT", buf_cstr(&u), jh, r->op.put_body, NULL);
		break;
	case ADT_PATCH:
		dry_req("PATCH", buf_cstr(&u), ph, r->op.patch_body, NULL);
		break;
	case ADT_DELETE:
		if (r->op.kind == ADT_TWIN) {
			(void)adt_url(&u2, g.endpoint, r->op.id,
			    "relationships", NULL, op.api_version, &why);
			dry_req("GET", buf_cstr(&u2), NULL, NULL, NULL);
			dry_req("DELETE", "(each relationship listed)", NULL,
			    NULL, NULL);
			u2.len = 0;
			(void)adt_url(&u2, g.endpoint, r->op.id,
			    "incomingrelationships", NULL, op.api_version,
			    &why);
			dry_req("GET", buf_cstr(&u2), NULL, NULL, NULL);
			dry_req("DELETE", "(each incoming relationship listed)",
			    NULL, NULL, NULL);
		}
		dry_req("DELETE", buf_cstr(&u), NULL, NULL, NULL);
		break;
	}
	buf_release(&u);
	buf_release(&u2);
}

/* ---- input ---- */

/* Bad input counted under "invalid.CODE" (push.h). */
static void
invalid(const char *code)
{
	count_op("invalid", code, -1);
}

/*
 * Pass 2 of a bulk load: a record the import job settled gets its result
 * now (1); the others take the request path (0).
 */
static int
bulk_settled(struct rec *r)
{
	const char *code, *msg;
	enum adt_job_out o = adt_job_outcome(g.job, g.bulk_ix, &code, &msg);

	if (o == ADT_JOB_REQUEST)
		return 0;
	if (o == ADT_JOB_OK) {
		if (r->op.kind == ADT_TWIN) {
			/* created: relationships to it need not wait */
			struct adt_twin *t = adt_twins_get(g.twins, r->op.id);

			t->last_create = r->seq;
			if (t->done_create < r->seq)
				t->done_create = r->seq;
		}
		r->status = 201;
		emit(r, 1, 201, 0, NULL, NULL);
	} else {
		emit(r, 0, 0, 0, code, msg);
	}
	rec_free(r);
	return 1;
}

static void
handle_line(const struct ndjson_line *l)
{
	struct buf msg = BUF_INIT;
	const char *code = NULL;
	struct rec *r, *last;
	char *id = NULL, *opn = NULL;
	jv v;

	if (!push_record(&g.p, l, &v))
		return;
	r = xcalloc(1, sizeof(*r));
	{
		const char *s = json_get_str(v, "$dtId");
		const char *o = json_get_str(v, "$op");

		id = s != NULL ? xstrdup(s) : NULL;
		opn = xstrdup(o != NULL ? o : "upsert");
	}
	if (adt_op_parse(v, &g.p.lits, &r->op, &code, &msg) < 0) {
		push_input_error(&g.p, l, 1, code, buf_cstr(&msg), r->op.meta,
		    id, opn);
		rec_free(r);
		goto out;
	}
	r->seq = ++g.seq;
	r->lineno = l->lineno;
	r->line = xmalloc(l->len + 1);
	memcpy(r->line, l->p, l->len + 1);
	r->len = l->len;
	if (op.dry_run) {
		dry_run(r);
		(*g.p.c_ok)++;
		rec_free(r);
		goto out;
	}
	if (g.in_bulk && bulk_settled(r))
		goto out;
	switch (r->op.op) {
	case ADT_UPSERT:
		r->step = r->op.kind == ADT_REL ? S_PUT :
		    r->op.has_model ? S_PUT_NEW : S_PATCH;
		break;
	case ADT_REPLACE:
		r->step = S_PUT;
		break;
	case ADT_PATCH:
		r->step = S_PATCH;
		break;
	case ADT_DELETE:
		r->step = r->op.kind == ADT_TWIN ? S_LIST_OUT : S_DELETE;
		break;
	}
	/* fold a patch into the patch waiting on the same twin */
	if (r->op.kind == ADT_TWIN && r->op.op == ADT_PATCH &&
	    (last = keyq_last_waiting(g.q, r->op.id)) != NULL &&
	    last->op.op == ADT_PATCH && last->op.kind == ADT_TWIN &&
	    (last->own_patch != NULL || (last->own_patch =
	    xstrdup(last->op.patch_body)) != NULL) &&
	    adt_op_merge(&last->op, &r->op)) {
		struct rec **pp = &last->followers;

		while (*pp != NULL)
			pp = &(*pp)->next_follower;
		*pp = r;
		(*g.c_merged)++;
		goto out;
	}
	r->creates = r->op.kind == ADT_TWIN && r->step == S_PUT_NEW ? 1 :
	    r->op.kind == ADT_TWIN && r->op.op == ADT_REPLACE;
	if (r->creates)
		adt_twins_get(g.twins, r->op.id)->last_create = r->seq;
	if (r->op.kind == ADT_REL && r->op.target != NULL &&
	    strcmp(r->op.target, r->op.id) != 0) {
		struct adt_twin *t = adt_twins_find(g.twins, r->op.target);

		if (t != NULL && t->last_create > t->done_create)
			r->need_create = t->last_create;
		t = adt_twins_get(g.twins, r->op.target);
		r->in_next = t->incoming;
		if (r->in_next != NULL)
			r->in_next->in_prev = &r->in_next;
		r->in_prev = (struct rec **)&t->incoming;
		t->incoming = r;
	}
	g.p.live++;
	if (keyq_push(g.q, r->op.id, r)) {
		r->holds_key = 1;
		rec_begin(r);
	}
	if ((g.seq & 4095) == 0 && adt_twins_count(g.twins) > 65536)
		adt_twins_sweep(g.twins, clock_ms());
out:
	free(id);
	free(opn);
	buf_release(&msg);
}

/* ---- the loop ---- */

/* Start what is ready and due; returns the ms until the next timer or -1. */
static long
run_due(void)
{
	struct rec *r;
	int64_t now;

	for (;;) {
		while ((r = g.ready) != NULL) {
			g.ready = r->next;
			if (g.ready == NULL)
				g.ready_tail = &g.ready;
			rec_begin(r);
		}
		if (g.nheap == 0)
			return -1;
		now = clock_ms();
		if (g.heap[0]->due > now)
			return (long)(g.heap[0]->due - now);
		while (g.nheap > 0 && g.heap[0]->due <= now)
			rec_send(heap_pop());
		if (g.ready == NULL)
			return g.nheap ? 0 : -1;
	}
}

/* One round of work: poll the engine at most timeout_ms (-1: until
 * something happens), start what became due. fd as http_poll(). */
static void
pump(long timeout_ms, int fd, int *fd_ready)
{
	long t = run_due();

	if (t >= 0 && (timeout_ms < 0 || t < timeout_ms))
		timeout_ms = t;
	if (fd < 0 && http_pending(g.p.e) == 0 && timeout_ms < 0)
		return;
	http_poll(g.p.e, timeout_ms, fd, fd_ready);
	run_due();
}

/* Nothing left to do but the relationships put aside after a 404? */
static int
only_deferred(void)
{
	return g.p.parked > 0 && g.p.live == g.p.parked &&
	    http_pending(g.p.e) == 0 && g.nheap == 0 && g.ready == NULL;
}

/* Try the relationships put aside after a 404 once more, in input order. */
static void
retry_deferred(void)
{
	struct rec *r = g.deferred;

	g.deferred = NULL;
	g.deferred_tail = &g.deferred;
	g.p.parked = 0;
	while (r != NULL) {
		struct rec *nx = r->next;

		rec_step(r);
		r = nx;
	}
}

/* Records waiting outside the engine: ready, or on a timer (push.h). */
static int
waiting(void)
{
	return g.nheap != 0 || g.ready != NULL;
}

/*
 * Before the reader blocks, one round of keeping the requests moving
 * (push.h). A stream that pauses for DEFER_IDLE_MS with nothing else to
 * do gets its put-aside relationships retried then, rather than at its
 * end, which may never come.
 */
#define DEFER_IDLE_MS 3000
static int
idle(int *ready)
{
	if (only_deferred()) {
		int64_t t0 = clock_ms();

		http_poll(g.p.e, DEFER_IDLE_MS, 0, ready);
		if (!*ready && !stage_stop &&
		    clock_ms() - t0 >= DEFER_IDLE_MS - 10) {
			retry_deferred();
			run_due();
			ndjson_writer_flush(g.p.w);
		}
		return 0;
	}
	pump(-1, 0, ready);
	if (only_deferred())
		ndjson_writer_flush(g.p.w);
	return 1;
}

/* At the end (push.h): the relationships put aside fail on a stop, or
 * are tried once more when everything else is written. */
static int
settle(int idle_now)
{
	struct rec *r;

	if (stage_stop && g.p.parked > 0) {
		while ((r = g.deferred) != NULL) {
			g.deferred = r->next;
			g.p.parked--;
			rec_fail(r, "interrupted", "interrupted before "
			    "it was applied (SIGINT/SIGTERM): re-drive it");
		}
		g.deferred_tail = &g.deferred;
		return 1;
	}
	if (idle_now && only_deferred()) {
		/* everything else is written: try the relationships whose
		   twins were missing once more */
		retry_deferred();
		return 1;
	}
	return 0;
}

static void
start_ready(void)
{
	(void)run_due();
}

/* The program's side of the push run (push.h). */
static const struct push_ops hooks = {
	.line = handle_line,
	.pump = pump,
	.start = start_ready,
	.waiting = waiting,
	.idle = idle,
	.settle = settle,
	.invalid = invalid,
};

static enum adt_job_mode bulk_mode;

/* --bulk and its options: 0, or -1 (reported). */
static int
check_bulk(void)
{
	if (op.bulk == NULL || strcmp(op.bulk, "auto") == 0)
		bulk_mode = ADT_JOB_AUTO;
	else if (strcmp(op.bulk, "always") == 0)
		bulk_mode = ADT_JOB_ALWAYS;
	else if (strcmp(op.bulk, "never") == 0)
		bulk_mode = ADT_JOB_NEVER;
	else
		return cli_usage_error(&prog, "--bulk must be auto, always or "
		    "never"), -1;
	if (op.bulk_threshold < 1 || op.bulk_wait <= 0)
		return cli_usage_error(&prog, "--bulk-threshold must be at "
		    "least 1, --bulk-wait more than 0"), -1;
	if (bulk_mode == ADT_JOB_ALWAYS && op.bulk_container == NULL)
		return cli_usage_error(&prog, "--bulk always needs "
		    "--bulk-container"), -1;
	if (bulk_mode != ADT_JOB_NEVER && op.bulk_container != NULL &&
	    op.bulk_state == NULL)
		return cli_usage_error(&prog, "an import job may be used "
		    "(--bulk-container): --bulk-state FILE is required"), -1;
	return 0;
}

/* The import job's run (when one may be used). Returns 0 or the exit
 * code. */
static int
bulk_setup(void)
{
	struct adt_job_cfg c;
	struct buf err = BUF_INIT;

	if (bulk_mode == ADT_JOB_NEVER || op.bulk_container == NULL)
		return 0;
	memset(&c, 0, sizeof(c));
	c.e = g.p.e;
	c.prepare = prepare;
	c.classify = classify;
	c.endpoint = g.endpoint;
	c.api_version = op.api_version;
	c.mode = bulk_mode;
	c.threshold = op.bulk_threshold;
	c.state_path = op.bulk_state;
	c.wait_s = op.bulk_wait;
	c.keep = op.bulk_keep;
	c.dry_run = op.dry_run;
	c.w = g.p.w;
	c.bc.url = op.bulk_container;
	c.bc.what = "--bulk-container";
	c.bc.conn_file = op.bulk_conn_file;
	c.bc.key_file = op.bulk_key_file;
	c.bc.sas_file = op.bulk_sas_file;
	c.bc.auth = op.bulk_auth;
	c.bc.auth_opt = "--bulk-auth";
	c.bc.key_opt = "--bulk-key-file";
	c.bc.sas_opt = "--bulk-sas-file";
	c.insecure = op.push.insecure;
	c.cacert = op.push.cacert;
	if ((g.job = adt_job_new(&c, &err)) == NULL) {
		log_error("%s", buf_cstr(&err));
		buf_release(&err);
		return EXIT_USAGE;
	}
	buf_release(&err);
	return 0;
}

/* The options that need more than the table: 0, or -1 (reported). */
static int
check_options(int argc, int first)
{
	if (argc - first > 1)
		return cli_usage_error(&prog, "at most one input FILE"), -1;
	if (op.push.endpoint == NULL && !op.dry_run)
		return cli_usage_error(&prog, "no --endpoint (or ADT_ENDPOINT) "
		    "given"), -1;
	if (push_check_opts(&prog, &op.push, op.rate < 0 || op.twin_rate < 0 ||
	    op.create_rate < 0, "--rate, --create-rate, --twin-rate") < 0)
		return -1;
	return check_bulk();
}

/* The endpoint as a base URL: https:// when no scheme is given, no
 * trailing slash. */
static char *
endpoint_url(const char *ep)
{
	struct buf b = BUF_INIT;

	if (strncmp(ep, "https://", 8) != 0 && strncmp(ep, "http://", 7) != 0)
		buf_adds(&b, "https://");
	buf_adds(&b, ep);
	while (b.len > 0 && b.p[b.len - 1] == '/')
		b.len--;
	return buf_cstr(&b);
}

/* The credential and the HTTP engine (not for --dry-run). Returns 0 or
 * the exit code. */
static int
connect_setup(void)
{
	const struct auth_cli ac = push_auth_cli(&op.push);
	struct http_opts ho;

	if ((g.auth = auth_from_options(&ac, ADT_SCOPE, NULL)) == NULL)
		return EXIT_USAGE;
	http_opts_init(&ho);
	push_http_opts(&ho, &op.push);
	ho.rate = (double)op.rate;
	ho.burst = op.rate > 0 ? (double)op.rate / 20 + 1 : 1;
	ho.service = "adt";
	return (g.p.e = http_engine_new(&ho)) == NULL ? EXIT_FATAL : 0;
}

/* Pass 1 of a bulk load: the whole input into the spool. */
static int
pass1_line(void *ctx, const char *src, const struct ndjson_line *l)
{
	(void)ctx;
	(void)src;
	return adt_job_line(g.job, l) < 0 ? -1 : 0;
}

/*
 * --bulk: the earlier run's job, pass 1 (the whole input), the import
 * job, then pass 2: the spool through handle_line(), the job's records
 * settled from its log, the others on the request path. Returns 0, or 1
 * when nothing is to be read (a stop while waiting for an earlier job).
 */
static int
run_bulk(struct stage *st)
{
	const struct stage_ops p1 = { NULL, pass1_line, NULL };
	struct ndjson_line l;
	size_t ix;
	int rc;

	if ((rc = adt_job_recover(g.job)) != 0) {
		if (rc < 0)
			g.p.fatal = 1;
		return 1;
	}
	if (stage_run(st, &p1, NULL) < 0 || adt_job_run(g.job) < 0) {
		g.p.fatal = 1;
		return 1;
	}
	g.in_bulk = 1;
	while (!g.p.fatal && adt_job_next(g.job, &l, &ix)) {
		while (!g.p.fatal && push_busy(&g.p))
			push_work(&g.p, 1);
		if (g.p.fatal)
			break;
		g.bulk_ix = ix;
		handle_line(&l);
		push_work(&g.p, 0);
		stats_tick();
	}
	g.in_bulk = 0;
	return 0;
}

/*
 * Read the input, one record at a time, while the engine runs (the
 * stage's loop); then every record read gets its result, and the control
 * records their place.
 */
static void
run(struct stage *st)
{
	if (g.job == NULL || run_bulk(st) == 0)
		push_read(&g.p, st);
	g.eof = 1;
	push_end(&g.p, st);
	if (g.job != NULL && !g.p.fatal && ndjson_writer_flush(g.p.w) == 0 &&
	    !g.p.w->err && dlq_flush(g.p.dlq) == 0)
		adt_job_end(g.job);
	if (g.auth != NULL)
		log_info("token requests: %lu (credential %s)",
		    auth_requests(g.auth), auth_provider_name(g.auth));
}

int
main(int argc, char **argv)
{
	struct cli_common common;
	struct stage st;
	int first, status;

	g.ready_tail = &g.ready;
	g.deferred_tail = &g.deferred;
	log_init("push-adt");
	first = cli_parse(&prog, argc, argv, &common);
	if (first < 0 || check_options(argc, first) < 0)
		return EXIT_USAGE;
	g.endpoint = endpoint_url(op.push.endpoint ? op.push.endpoint :
	    "https://ADT_ENDPOINT");
	/* the input first, the dead letters once the credential works */
	if ((status = push_begin(&g.p, &hooks, &st, argc, argv, first,
	    "push-adt", &op.push)) != 0)
		goto out;
	g.c_merged = stats_counter("merged");
	g.p.c_control = stats_counter("control");
	g.p.no_results = op.dry_run;
	if (!op.dry_run)
		status = connect_setup();
	if (status == 0)
		status = bulk_setup();
	if (status == 0)
		status = push_open_dlq(&g.p, &st, &op.push, "push-adt");
	if ((status = push_ready(&st, status)) != 0)
		goto out;
	g.q = keyq_new();
	g.twins = adt_twins_new();
	ratectl_init(&ra, (double)op.rate);
	run(&st);
	status = push_stage_end(&g.p, &st, common.stats);
out:
	adt_job_free(g.job);
	push_free(&g.p);
	keyq_free(g.q, NULL);
	adt_twins_free(g.twins);
	auth_free(g.auth);
	free(g.heap);
	free(g.endpoint);
	return status;
}
