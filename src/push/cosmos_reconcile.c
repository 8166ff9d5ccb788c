/*
 * cosmos_reconcile.c - push-cosmos --reconcile: at a complete snapshot's
 * control record, the container is listed and every document the
 * snapshot did not have, and that did not change since it started, is
 * deleted (or tombstoned) as an ordinary versioned delete record.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "cli.h"
#include "codec.h"
#include "cosmos_doc.h"
#include "cosmos_impl.h"
#include "cosmos_sig.h"
#include "exitcode.h"
#include "fnv.h"
#include "http.h"
#include "json.h"
#include "keyq.h"
#include "log.h"
#include "metrics.h"
#include "ndjson.h"
#include "ratectl.h"
#include "result.h"
#include "stage.h"
#include "stats.h"
#include "url.h"

/*
 * The ids (as records have them) of the data records read: the snapshot.
 * An open-addressing set of strings, doubled at half full.
 */
static struct {
	char **slot;
	size_t cap, n;
} seen;

static size_t
seen_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)h;
}

static int
seen_has(const char *id)
{
	size_t i;

	if (seen.cap == 0)
		return 0;
	for (i = seen_hash(id) & (seen.cap - 1); seen.slot[i] != NULL;
	    i = (i + 1) & (seen.cap - 1))
		if (strcmp(seen.slot[i], id) == 0)
			return 1;
	return 0;
}

void
seen_add(const char *id)
{
	size_t i, j;

	if (id == NULL || seen_has(id))
		return;
	if (2 * (seen.n + 1) > seen.cap) {
		size_t cap = seen.cap ? 2 * seen.cap : 1024;
		char **slot = xcalloc(cap, sizeof(*slot));

		for (j = 0; j < seen.cap; j++) {
			if (seen.slot[j] == NULL)
				continue;
			for (i = seen_hash(seen.slot[j]) & (cap - 1);
			    slot[i] != NULL; i = (i + 1) & (cap - 1))
				;
			slot[i] = seen.slot[j];
		}
		free(seen.slot);
		seen.slot = slot;
		seen.cap = cap;
	}
	for (i = seen_hash(id) & (seen.cap - 1); seen.slot[i] != NULL;
	    i = (i + 1) & (seen.cap - 1))
		;
	seen.slot[i] = xstrdup(id);
	seen.n++;
}

void
seen_free(void)
{
	size_t i;

	for (i = 0; i < seen.cap; i++)
		free(seen.slot[i]);
	free(seen.slot);
	memset(&seen, 0, sizeof(seen));
}

struct listing {
	struct sigctx sc;
	int done, ok;
	char *why;
	struct buf body, cont;
};

static void
list_done(struct http_req *req, enum http_verdict v,
    const struct http_resp *resp, void *user)
{
	struct listing *ls = user;
	const char *c;

	(void)req;
	ls->done = 1;
	ls->ok = v == HTTP_OK;
	ls->body.len = ls->cont.len = 0;
	buf_add(&ls->body, resp->body, resp->body_len);
	if ((c = http_resp_header(resp, "x-ms-continuation")) != NULL)
		buf_adds(&ls->cont, c);
	if (!ls->ok) {
		struct buf code = BUF_INIT, msg = BUF_INIT;

		cosmos_error(resp, &code, &msg);
		free(ls->why);
		ls->why = xstrdup(buf_cstr(&msg));
		buf_release(&code);
		buf_release(&msg);
	}
}

/* Submit a delete of document doc (borrowed) as if it were read. */
static void
reconcile_delete(jv doc, const char *started, const char *run)
{
	const char *id = json_get_str(doc, "id");
	struct buf raw = BUF_INIT;
	struct ndjson_line l;
	jv rec, x;
	char *text;

	if (op.encode_ids) {
		if (pct_decode(&raw, id, strlen(id)) < 0) {
			buf_release(&raw);
			return;
		}
	} else {
		buf_adds(&raw, id);
	}
	if (seen_has(buf_cstr(&raw))) {
		buf_release(&raw);
		return;
	}
	rec = JV_OBJECT(jv_string("$op"), jv_string("delete"),
	    jv_string("id"), jv_string(buf_cstr(&raw)));
	x = json_get(doc, pk_key());
	if (jv_is_valid(x))
		rec = jv_object_set(rec, jv_string(pk_key()), x);
	x = json_get(doc, COSMOS_VERSION_KEY);
	if (jv_get_kind(x) == JV_KIND_NUMBER)
		rec = jv_object_set(rec, jv_string("$version"), x);
	else
		jv_free(x);
	rec = jv_object_set(rec, jv_string("$time"), jv_string(started));
	rec = jv_object_set(rec, jv_string("_meta"), JV_OBJECT(
	    jv_string("reconcile"), JV_OBJECT(jv_string("run"),
	    jv_string(run != NULL ? run : ""), jv_string("started"),
	    jv_string(started))));
	text = json_dump(rec, 0);
	jv_free(rec);
	l.p = text;
	l.len = strlen(text);
	l.lineno = 0;
	l.too_long = l.unterminated = 0;
	(*stats_counter("reconciled"))++;
	log_info("reconcile: document '%s' is not in the snapshot: delete",
	    buf_cstr(&raw));
	handle_line(&l);
	free(text);
	buf_release(&raw);
	while (!stage_stop && push_busy(&g.p))
		pump(-1, -1, NULL);
}

/*
 * A control record ctl (consumed) came: if it is a snapshot-complete of a
 * whole source with its start time, and every record before it arrived
 * and succeeded, list the container and delete what the snapshot lacks,
 * except documents tombstoned already, written since the start (_ts) or,
 * when the snapshot has "modules":false, module twins.
 */
void
reconcile(jv ctl)
{
	jv meta = json_get(ctl, "_meta"), page = jv_invalid(), docs, x;
	const char *kind = json_get_str(meta, "control");
	const char *started = json_get_str(meta, "started");
	const char *run = json_get_str(meta, "run");
	struct listing ls = { { NULL, "docs", NULL }, 0, 0, NULL, BUF_INIT,
	    BUF_INIT };
	struct json_err je;
	int64_t t0 = 0;
	double records = -1;
	int modules = 1, pages = 0;

	if (kind == NULL || strcmp(kind, "snapshot-complete") != 0)
		goto out;
	x = json_get(meta, "records");
	if (jv_get_kind(x) == JV_KIND_NUMBER)
		records = jv_number_value(x);
	jv_free(x);
	x = json_get(meta, "modules");
	modules = jv_get_kind(x) != JV_KIND_FALSE;
	jv_free(x);
	if (started == NULL || cosmos_time_parse(started, &t0) < 0) {
		log_warn("reconcile: the snapshot-complete record has no "
		    "\"started\" time: nothing deleted");
		goto out;
	}
	{
		jv sh = json_get(meta, "shard"), wh = json_get(meta, "where");
		int part = jv_is_valid(sh) || jv_is_valid(wh);

		jv_free(sh);
		jv_free(wh);
		if (part) {
			log_warn("reconcile: the snapshot is of a part of the "
			    "source (shard or where): nothing deleted");
			goto out;
		}
	}
	if (pk_key() == NULL) {
		log_warn("reconcile: needs a top-level partition key path: "
		    "nothing deleted");
		goto out;
	}
	push_finish(&g.p);	/* every record before the snapshot's end */
	if (stage_stop || g.p.fatal)
		goto out;
	if (*g.p.c_failed > 0 || (records >= 0 && (double)n_data != records)) {
		log_warn("reconcile: %llu records read of %.0f in the snapshot, "
		    "%llu failed: nothing deleted", (unsigned long long)n_data,
		    records, (unsigned long long)*g.p.c_failed);
		goto out;
	}
	reconciling = 1;
	ls.sc.link = g.coll_link;
	do {
		struct buf path = BUF_INIT;
		struct http_req *req;
		size_t i, n;

		buf_printf(&path, "%s/docs", g.coll_path);
		req = req_new(&ls.sc, "GET", buf_cstr(&path));
		buf_release(&path);
		http_req_header(req, "x-ms-max-item-count", "100");
		http_req_header(req, "x-ms-documentdb-query-enablecrosspartition",
		    "true");
		if (ls.cont.len > 0)
			http_req_header(req, "x-ms-continuation",
			    buf_cstr(&ls.cont));
		ls.done = 0;
		http_req_callbacks(req, prepare, classify, list_done, &ls);
		http_submit(g.p.e, req);
		while (!ls.done) {
			if (stage_stop)	/* cancels the listing: done runs */
				http_drain(g.p.e, 10000);
			pump(200, -1, NULL);
		}
		pages++;
		if (!ls.ok) {
			log_error("reconcile: listing the container: %s",
			    ls.why != NULL ? ls.why : "failed");
			g.p.fatal = 1;
			break;
		}
		jv_free(page);
		if (json_parse(ls.body.p, ls.body.len, &page, NULL, &je) < 0 ||
		    jv_get_kind(docs = json_get(page, "Documents")) !=
		    JV_KIND_ARRAY) {
			if (jv_is_valid(page))
				jv_free(docs);
			page = jv_invalid();
			log_error("reconcile: a listing page is not "
			    "{\"Documents\":[...]}");
			g.p.fatal = 1;
			break;
		}
		n = (size_t)jv_array_length(jv_copy(docs));
		for (i = 0; i < n && !stage_stop; i++) {
			jv d = jv_array_get(jv_copy(docs), (int)i), ts, del;
			const char *id = json_get_str(d, "id");
			int skip = id == NULL;

			del = json_get(d, COSMOS_DELETED_KEY);
			skip |= jv_get_kind(del) == JV_KIND_TRUE;
			jv_free(del);
			ts = json_get(d, "_ts");
			/* written since the snapshot started: keep */
			skip |= jv_get_kind(ts) == JV_KIND_NUMBER &&
			    jv_number_value(ts) >= (double)(t0 / 1000000000);
			jv_free(ts);
			if (!modules) {
				jv m = json_get(d, "moduleId");

				skip |= jv_is_valid(m) &&
				    jv_get_kind(m) != JV_KIND_NULL;
				jv_free(m);
			}
			if (!skip)
				reconcile_delete(d, started, run);
			jv_free(d);
		}
		jv_free(docs);
	} while (ls.cont.len > 0 && !stage_stop);
	log_info("reconcile: %d listing pages, %llu deletes",
	    pages, (unsigned long long)*stats_counter("reconciled"));
	reconciling = 0;
out:
	if (kind != NULL && strcmp(kind, "snapshot-complete") == 0) {
		seen_free();	/* the next snapshot starts afresh */
		n_data = 0;
	}
	jv_free(page);
	jv_free(meta);
	jv_free(ctl);
	free(ls.why);
	buf_release(&ls.body);
	buf_release(&ls.cont);
}
