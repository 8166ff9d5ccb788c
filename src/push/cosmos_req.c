/*
 * cosmos_req.c - push-cosmos's requests and their results: every attempt
 * signed (x-ms-date and the key's signature, or an Entra token), the
 * partitions held after a 429 and the request units accounted, answers
 * classified, a record's state machine (read, then create, upsert,
 * replace, patch or delete, restarted on 409/412 races) and its result
 * line or dead letter.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "blob.h"
#include "clock.h"
#include "codec.h"
#include "cosmos_doc.h"
#include "cosmos_impl.h"
#include "cosmos_sig.h"
#include "fnv.h"
#include "http.h"
#include "json.h"
#include "keyq.h"
#include "log.h"
#include "ndjson.h"
#include "push.h"
#include "ratectl.h"
#include "result.h"
#include "stage.h"
#include "url.h"

/* ---- requests ---- */

/* Before every attempt: a fresh x-ms-date and the signature over it. */
int
prepare(struct http_req *req, void *user)
{
	const struct sigctx *sc = user;
	struct buf b = BUF_INIT, err = BUF_INIT, date = BUF_INIT;
	int rc = 0;

	/* RFC 7231, in the C locale whatever the environment says */
	blob_http_date(&date, time(NULL));
	http_req_attempt_header(req, "x-ms-date", buf_cstr(&date));
	if (g.key != NULL) {
		if (cosmos_sig_header(&b, sc->verb, sc->type, sc->link,
		    buf_cstr(&date), g.key) < 0) {
			http_req_error(req, "the account key is not base64");
			rc = -1;
			goto out;
		}
	} else {
		struct buf tok = BUF_INIT;

		if (auth_header(g.auth, g.scope, "type=aad&ver=1.0&sig=",
		    &tok, &err) < 0) {
			http_req_error(req, "%s", buf_cstr(&err));
			buf_release(&tok);
			rc = 1;
			goto out;
		}
		pct_encode(&b, tok.p, tok.len);
		buf_release(&tok);
	}
	http_req_attempt_header(req, "Authorization", buf_cstr(&b));
out:
	buf_release(&b);
	buf_release(&err);
	buf_release(&date);
	return rc;
}

/*
 * Throttling. Cosmos DB gives each physical partition its share of the
 * provisioned RU/s; a 429 says that one partition key is out of budget
 * until x-ms-retry-after-ms. So a 429 is first local: the engine retries
 * that request after the wait, and every request of the same partition
 * key value sent before then is submitted with the rest of the wait as a
 * delay (http_req_delay()) instead of being sent only to meet its own
 * 429. The hold table is a fixed array indexed by a hash of the partition
 * key header; two keys in one slot only lose one's hold (its next request
 * then meets the 429 itself), so memory stays bounded whatever the key
 * count. The in-flight window is not halved on 429s (aimd_increase 0):
 * one hot partition would shrink it for all the others.
 *
 * The request rate then only reacts to throttling of a budget the requests
 * share (ratectl.h, ratectl_tolerate()): when requests that waited as told
 * meet 429s again and at least CUT_SHARE of the answers of the last second
 * are 429s, it is cut to 90% of what got through while they went on, and
 * grows back quickly after. A 429 with a retry time does not use up
 * --max-attempts (http.h): --max-time bounds the wait. A cut for every 429, as push-adt does against one
 * instance-wide limit, starved the partitions that still had budget: with
 * 20 hot partitions of 200 RU/s the run used 54% of the budget, or less
 * when a cut came while most partitions waited out their second.
 *
 * With --max-ru the rate's ceiling is the budget over the RU per request
 * (a moving average of x-ms-request-charge), times a gain that every
 * second moves (within 0.5..2) by what was actually spent against the
 * budget, so that latency and timer slack do not leave part of the budget
 * unused.
 */
static uint64_t
hold_hash(const char *s)
{
	return fnv1a64(s, strlen(s)) | 1;	/* 0 marks a free slot */
}

/* A 429 for partition key header pkh: hold the key for its Retry-After. */
static void
hold_note(const char *pkh, const struct http_resp *resp, int64_t now)
{
	uint64_t h = hold_hash(pkh);
	struct hold *s = &g.holds[h % HOLD_SLOTS];
	long ra = http_retry_after_ms(resp, time(NULL));

	if (ra <= 0)
		return;
	if (ra > HOLD_MAX_MS)
		ra = HOLD_MAX_MS;
	if (s->h != h || s->until < now + ra) {
		s->h = h;
		s->until = now + ra;
	}
}

/* How long requests for pkh must still wait, ms (0: none). */
static long
hold_left(const char *pkh, int64_t now)
{
	uint64_t h = hold_hash(pkh);
	const struct hold *s = &g.holds[h % HOLD_SLOTS];

	return s->h == h && s->until > now ? (long)(s->until - now) : 0;
}

static void
ru_account(const struct http_resp *resp)
{
	const char *c = http_resp_header(resp, "x-ms-request-charge");
	int64_t now = clock_ms();
	double ch;

	if (c != NULL && (ch = strtod(c, NULL)) >= 0 && ch < 1e6) {
		g.ru += ch;
		g.ru_win += ch;
		if (op.max_ru > 0 && ch > 0)
			g.ru_avg = g.ru_avg == 0 ? ch :
			    g.ru_avg * 0.95 + ch * 0.05;
	}
	if (op.max_ru > 0 && g.ru_avg > 0) {
		if (g.win_start == 0) {
			g.win_start = now;
			g.gain = 1;
		} else if (now - g.win_start >= 1000) {
			double spent = g.ru_win * 1000 / (double)(now -
			    g.win_start), f = spent > 0 ?
			    (double)op.max_ru / spent : 1.25;

			f = f < 0.8 ? 0.8 : f > 1.25 ? 1.25 : f;
			g.gain *= f;
			g.gain = g.gain < 0.5 ? 0.5 : g.gain > 2 ? 2 : g.gain;
			g.win_start = now;
			g.ru_win = 0;
		}
		{
			double r = (double)op.max_ru * g.gain / g.ru_avg;

			if (fabs(r - g.rc.ceiling) > g.rc.ceiling * 0.02 &&
			    ratectl_set_ceiling(&g.rc, r))
				http_set_rate(g.p.e, ratectl_rate(&g.rc),
				    ratectl_rate(&g.rc) / 20 + 1);
		}
	}
	if (ratectl_note_req(&g.rc, resp->status, resp->throttled, now)) {
		http_set_rate(g.p.e, ratectl_rate(&g.rc),
		    ratectl_rate(&g.rc) / 20 + 1);
		log_debug("request rate now %.0f/s", ratectl_rate(&g.rc));
	}
}

enum http_verdict
classify(const struct http_resp *resp, void *user)
{
	(void)user;
	ru_account(resp);
	if (resp->status == 401 && g.auth != NULL && resp->attempts < 3) {
		auth_invalidate(g.auth, g.scope);
		return HTTP_RETRY;
	}
	if (resp->status == 449)
		return HTTP_RETRY;
	return http_classify_default(resp, NULL);
}

/* A record's request: a 429 holds its partition key too. */
static enum http_verdict
classify_rec(const struct http_resp *resp, void *user)
{
	const struct rec *r = user;

	if (resp->status == 429)
		hold_note(r->pkh, resp, clock_ms());
	return classify(resp, user);
}

/* Build a request on path (encoded) for the resource link sc. */
struct http_req *
req_new(struct sigctx *sc, const char *method, const char *path)
{
	struct buf url = BUF_INIT;
	struct http_req *req;

	buf_adds(&url, g.endpoint);
	buf_adds(&url, path);
	req = http_req_new(method, buf_cstr(&url));
	buf_release(&url);
	sc->verb = method;
	http_req_header(req, "x-ms-version", COSMOS_API_VERSION);
	http_req_header(req, "Accept", "application/json");
	return req;
}

/* ---- results ---- */

void
rec_free(struct rec *r)
{
	if (r == NULL)
		return;
	free(r->sc.link);
	free(r->id);
	free(r->raw_id);
	free(r->key);
	free(r->pkh);
	free(r->meta);
	free(r->line);
	free(r->etag);
	free(r->send);
	free(r->time);
	jv_free(r->body);
	json_numlits_release(&r->lits);
	free(r);
}

void
rec_free_item(void *item)
{
	rec_free(item);
}

static void
ready_push(struct rec *r)
{
	r->next = NULL;
	*g.ready_tail = r;
	g.ready_tail = &r->next;
}

static void
rec_finish(struct rec *r, int ok, const char *code, const char *msg)
{
	struct result res = { 0 };
	struct rec *next;

	res.ok = ok;
	res.op = op_names[r->op];
	res.id = r->raw_id;
	res.status = r->status;
	res.attempts = r->attempts;
	res.err_code = ok ? NULL : code;
	res.err_msg = ok ? NULL : msg;
	res.meta = r->meta;
	res.stale = ok && r->stale;
	push_result(&g.p, &res);
	if (ok) {
		(*g.p.c_ok)++;
		if (r->stale)
			(*g.c_stale)++;
	} else {
		(*g.p.c_failed)++;
		log_at(LV_ERROR, "<stdin>", r->lineno, "document '%s': %s",
		    r->raw_id, msg);
		push_dead_letter(&g.p, r->lineno, r->line, r->len, code, msg,
		    r->status, r->attempts);
	}
	next = keyq_done(g.q, r->key);
	if (next != NULL)
		ready_push(next);
	g.p.live--;
	rec_free(r);
	push_flush_controls(&g.p);
}

static void
fail(void *r, const char *code, const char *msg)
{
	rec_finish(r, 0, code, msg);
}

/* rec_finish() for a failure, its message formatted (push_fail()) */
#define rec_fail(r, code, ...)	push_fail(fail, (r), (code), __VA_ARGS__)

static void on_done(struct http_req *req, enum http_verdict v,
    const struct http_resp *resp, void *user);

/* Send r's current step. */
void
rec_send(struct rec *r)
{
	static const char *const methods[] = { "GET", "POST", "POST", "PUT",
	    "PATCH", "DELETE" };
	struct buf path = BUF_INIT, link = BUF_INIT;
	struct http_req *req;
	int feed = r->step == S_CREATE || r->step == S_UPSERT;
	long held;

	/* interrupted: start nothing new, but let an operation that has
	   read its document write it */
	if (stage_stop && (r->step == S_READ || r->step == S_UPSERT ||
	    r->step == S_PATCH || (r->step == S_DELETE && r->etag == NULL))) {
		rec_fail(r, "interrupted", "interrupted before it was "
		    "applied (SIGINT/SIGTERM): re-drive it");
		return;
	}
	buf_adds(&path, g.coll_path);
	buf_adds(&path, "/docs");
	buf_adds(&link, g.coll_link);
	if (!feed) {
		const char *why;

		/* r->id passed cosmos_id_check(): this cannot fail */
		if (url_segment(&path, r->id, strlen(r->id), &why) < 0) {
			buf_release(&path);
			buf_release(&link);
			rec_fail(r, "bad_id", "%s", why);
			return;
		}
		buf_adds(&link, "/docs/");
		buf_adds(&link, r->id);
	}
	free(r->sc.link);
	r->sc.link = buf_cstr(&link);
	strcpy(r->sc.type, "docs");
	req = req_new(&r->sc, methods[r->step], buf_cstr(&path));
	buf_release(&path);
	http_req_header(req, "x-ms-documentdb-partitionkey", r->pkh);
	if ((held = hold_left(r->pkh, clock_ms())) > 0)
		http_req_delay(req, held);
	if (r->step == S_UPSERT)
		http_req_header(req, "x-ms-documentdb-is-upsert", "true");
	if ((r->step == S_REPLACE || r->step == S_DELETE) && r->etag != NULL)
		http_req_header(req, "If-Match", r->etag);
	if (r->send != NULL && r->step != S_READ && r->step != S_DELETE) {
		http_req_header(req, "Content-Type", r->step == S_PATCH ?
		    "application/json_patch+json" : "application/json");
		http_req_body(req, r->send, strlen(r->send));
	}
	http_req_callbacks(req, prepare, classify_rec, on_done, r);
	http_submit(g.p.e, req);
}

static void
set_send(struct rec *r, jv doc)
{
	struct buf b = BUF_INIT;

	json_write(&b, doc, 0, &r->lits);
	free(r->send);
	r->send = buf_cstr(&b);
	jv_free(doc);
}

/* The document to store: d (consumed) with id, version, no reserved keys. */
static jv
doc_final(const struct rec *r, jv d)
{
	d = cosmos_doc_clean(d, 1);
	d = jv_object_set(d, jv_string("id"), jv_string(r->id));
	if (r->has_version)
		d = jv_object_set(d, jv_string(COSMOS_VERSION_KEY),
		    jv_number(r->version));
	return d;
}

/* The partition key's key when it is a top-level one other than id. */
const char *
pk_key(void)
{
	const char *k = op.pk_path + 1;

	if (strcmp(k, "id") == 0 || strchr(k, '/') != NULL ||
	    strchr(k, '~') != NULL)
		return NULL;
	return k;
}

/* d (consumed) with r's id and, when it is a top-level key, partition
 * key (nested paths are rare for twins). */
static jv
doc_ident(const struct rec *r, jv d)
{
	jv pk = cosmos_pk_get(r->body, op.pk_path);

	d = jv_object_set(d, jv_string("id"), jv_string(r->id));
	if (jv_is_valid(pk) && pk_key() != NULL)
		d = jv_object_set(d, jv_string(pk_key()), pk);
	else
		jv_free(pk);
	return d;
}

/*
 * The document of a versioned write of r, applied leaf by leaf to the
 * stored one, doc (consumed; jv_null() if none), with the start of its
 * generation gen (borrowed; a string or invalid): the one stored, else
 * an upsert's $time.
 */
static jv
doc_leafwise(const struct rec *r, jv doc, jv gen, int *stale)
{
	jv x = jv_object_delete(jv_copy(r->body), jv_string("id"));

	/* the identity is not versioned: every write has it */
	if (pk_key() != NULL)
		x = jv_object_delete(x, jv_string(pk_key()));
	doc = cosmos_doc_apply(doc, x, r->op == OP_UPSERT, r->version, stale);
	if (jv_get_kind(gen) == JV_KIND_STRING)
		doc = jv_object_set(doc, jv_string(COSMOS_GEN_KEY),
		    jv_copy(gen));
	else if (r->time != NULL && r->op == OP_UPSERT)
		doc = jv_object_set(doc, jv_string(COSMOS_GEN_KEY),
		    jv_string(r->time));
	return doc_ident(r, doc);
}

static jv
tombstone(const struct rec *r)
{
	jv d = doc_ident(r, jv_object());

	d = jv_object_set(d, jv_string(COSMOS_VERSION_KEY),
	    jv_number(r->version));
	d = jv_object_set(d, jv_string(COSMOS_DELETED_KEY), jv_true());
	if (r->time != NULL)
		d = jv_object_set(d, jv_string(COSMOS_DELETED_AT_KEY),
		    jv_string(r->time));
	return d;
}

/* The patch request body: operations, the version set, the condition. */
static void
patch_body(struct rec *r)
{
	struct buf b = BUF_INIT;
	int i, n = jv_array_length(jv_copy(r->body));

	buf_adds(&b, "{\"operations\":[");
	for (i = 0; i < n; i++) {
		jv o = jv_array_get(jv_copy(r->body), i);

		if (i > 0)
			buf_addc(&b, ',');
		json_write(&b, o, 0, &r->lits);
		jv_free(o);
	}
	if (r->has_version) {
		if (n > 0)
			buf_addc(&b, ',');
		buf_adds(&b, "{\"op\":\"set\",\"path\":\"/" COSMOS_VERSION_KEY
		    "\",\"value\":");
		cosmos_number(&b, r->version);
		buf_adds(&b, "}],\"condition\":\"from c where (NOT IS_DEFINED("
		    "c." COSMOS_VERSION_KEY ") OR c." COSMOS_VERSION_KEY " < ");
		cosmos_number(&b, r->version);
		buf_adds(&b, ") AND NOT IS_DEFINED(c." COSMOS_DELETED_KEY
		    ")\"}");
	} else {
		buf_adds(&b, "]}");
	}
	free(r->send);
	r->send = buf_cstr(&b);
}

/* r is the active operation of its document: its first step. */
void
rec_begin(struct rec *r)
{
	switch (r->op) {
	case OP_UPSERT:
		if (r->has_version) {
			r->step = S_READ;
		} else {
			r->step = S_UPSERT;
			set_send(r, doc_final(r, jv_copy(r->body)));
		}
		break;
	case OP_MERGE:
		r->step = S_READ;
		break;
	case OP_PATCH:
		r->step = S_PATCH;
		patch_body(r);
		break;
	case OP_DELETE:
		r->step = r->has_version ? S_READ : S_DELETE;
		break;
	}
	rec_send(r);
}

/* Cosmos DB's error message from an answer, into msg. */
void
cosmos_error(const struct http_resp *resp, struct buf *code, struct buf *msg)
{
	http_error_text(resp, NULL, code, msg);
}

/* Lost a race (409, 412, 404 after a read): read again. */
static void
restart(struct rec *r)
{
	(*g.c_restarts)++;
	if (++r->restarts > RESTARTS_MAX) {
		rec_fail(r, "conflict", "gave up after %d concurrent changes "
		    "of the document", RESTARTS_MAX);
		return;
	}
	free(r->etag);
	r->etag = NULL;
	r->step = S_READ;
	ready_push(r);
}

/* The read answered: decide and write. */
static void
after_read(struct rec *r, const struct http_resp *resp)
{
	struct json_numlits lits = JSON_NUMLITS_INIT;
	jv doc = jv_invalid(), base, gen = jv_invalid();
	struct json_err je;
	int found = resp->status == 200, tomb = 0, newgen = 0, stale = 0;

	if (found) {
		const char *et = http_resp_header(resp, "etag");
		jv sv;

		if (json_parse(resp->body, resp->body_len, &doc, &lits,
		    &je) < 0 || jv_get_kind(doc) != JV_KIND_OBJECT) {
			json_numlits_release(&lits);
			jv_free(doc);
			rec_fail(r, "bad_response", "the document read is "
			    "not a JSON object");
			return;
		}
		cosmos_lits_add(&r->lits, &lits);
		json_numlits_release(&lits);
		free(r->etag);
		r->etag = et != NULL ? xstrdup(et) : NULL;
		sv = json_get(doc, COSMOS_DELETED_KEY);
		tomb = jv_get_kind(sv) == JV_KIND_TRUE;
		jv_free(sv);
		if (r->time != NULL) {
			int64_t start = 0;
			struct buf t = BUF_INIT;

			switch (cosmos_doc_gen(doc, r->time_ns, &start)) {
			case COSMOS_GEN_STALE:
				stale = 1;
				break;
			case COSMOS_GEN_NEW:
				/* the device was created again: versions
				   start anew; an upsert (the create) starts
				   the generation, else it began after the
				   delete */
				newgen = 1;
				if (r->op != OP_UPSERT) {
					cosmos_time_format(&t, start);
					gen = jv_string(buf_cstr(&t));
					buf_release(&t);
				}
				break;
			default:
				break;
			}
		}
		if (!newgen && !tomb)
			gen = json_get(doc, COSMOS_GEN_KEY);
		/* a delete comes after the twin version it carries (IoT Hub
		   sends the twin as it was): stale when a newer one is
		   stored, or a tombstone of it */
		sv = json_get(doc, COSMOS_VERSION_KEY);
		if (r->has_version && r->op == OP_DELETE && !newgen &&
		    jv_get_kind(sv) == JV_KIND_NUMBER &&
		    (jv_number_value(sv) > r->version ||
		    (tomb && jv_number_value(sv) == r->version)))
			stale = 1;
		jv_free(sv);
		if (stale)
			goto stale;
		if (newgen) {
			jv_free(doc);
			doc = jv_null();
			tomb = 0;
		}
	}
	switch (r->op) {
	case OP_UPSERT:
	case OP_MERGE:
		if (r->has_version) {
			jv d = doc_leafwise(r, found ? doc : jv_null(), gen,
			    &stale);

			doc = jv_invalid();
			if (stale) {
				jv_free(d);
				goto stale;
			}
			set_send(r, d);
			break;
		}
		if (r->op == OP_UPSERT) {
			set_send(r, doc_final(r, jv_copy(r->body)));
			break;
		}
		base = found && !tomb && !newgen ? jv_copy(doc) : jv_object();
		if (newgen && jv_get_kind(gen) == JV_KIND_STRING)
			base = jv_object_set(base, jv_string(COSMOS_GEN_KEY),
			    jv_copy(gen));
		set_send(r, doc_final(r, cosmos_merge_patch(base,
		    cosmos_doc_clean(jv_copy(r->body), 0))));
		break;
	case OP_DELETE:
		if (!found || (tomb && !op.tombstones)) {
			/* nothing to delete; with --tombstones, leave one */
			if (!op.tombstones) {
				jv_free(doc);
				jv_free(gen);
				rec_finish(r, 1, NULL, NULL);
				return;
			}
		}
		if (op.tombstones)
			set_send(r, tombstone(r));
		break;
	default:
		break;
	}
	jv_free(doc);
	jv_free(gen);
	if (!found)
		r->step = S_CREATE;
	else if (r->op == OP_DELETE && !op.tombstones)
		r->step = S_DELETE;
	else
		r->step = S_REPLACE;
	rec_send(r);
	return;
stale:
	jv_free(doc);
	jv_free(gen);
	r->stale = 1;
	rec_finish(r, 1, NULL, NULL);
}

static void
on_done(struct http_req *req, enum http_verdict v,
    const struct http_resp *resp, void *user)
{
	struct rec *r = user;
	long st = resp->status;

	(void)req;
	r->attempts += resp->attempts;
	r->status = st;
	if (v == HTTP_OK) {
		switch (r->step) {
		case S_READ:
			after_read(r, resp);
			break;
		default:
			rec_finish(r, 1, NULL, NULL);
			break;
		}
		return;
	}
	switch (r->step) {
	case S_READ:
		if (st == 404) {
			after_read(r, resp);
			return;
		}
		break;
	case S_CREATE:
		if (st == 409) {
			restart(r);
			return;
		}
		break;
	case S_REPLACE:
		if (st == 412 || st == 404) {
			restart(r);
			return;
		}
		break;
	case S_DELETE:
		if (st == 412 || (st == 404 && r->etag != NULL)) {
			restart(r);
			return;
		}
		if (st == 404) {
			rec_finish(r, 1, NULL, NULL);
			return;
		}
		break;
	case S_PATCH:
		if (st == 412 && r->has_version) {
			r->stale = 1;
			rec_finish(r, 1, NULL, NULL);
			return;
		}
		break;
	default:
		break;
	}
	push_fail_resp(fail, r, cosmos_error, resp);
}
