/*
 * extract_emit.c - the one place where extract-lob writes records:
 * _meta.src, --shard, the output buffer and the dead-letter file.
 */
#include "extract.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "stats.h"

static int
write_rec(struct extract *x)
{
	if (x->kp != NULL && x->shard_n > 1) {
		struct json_err je;
		uint32_t k;
		const struct tape_node *nd;

		if (tape_parse(&x->t, x->rec.p, x->rec.len, &je) < 0)
			abort();	/* we wrote it: cannot happen */
		k = keypath_eval(x->kp, &x->t);
		nd = &x->t.nodes[k];
		if (k == 0 || (nd->type != TAPE_STRING &&
		    nd->type != TAPE_NUMBER)) {
			x->rec.len = 0;
			x->failed++;
			return extract_fail(x, x->in, NULL, 0, 0, "missing_key",
			    "no key: %s is null, missing or not a string or "
			    "number", x->key_expr);
		}
		if (canon_shard(nd->p, nd->n, x->shard_n) != x->shard_i) {
			x->other_shard++;
			x->rec.len = 0;
			return 0;
		}
	}
	buf_add(&x->w->b, x->rec.p, x->rec.len);
	x->rec.len = 0;
	x->out++;
	stats_tick();
	if (ndjson_writer_commit(x->w) < 0) {
		log_error("write error on standard output: %s",
		    strerror(x->w->err));
		return -1;
	}
	return 0;
}

static void
add_src(struct extract *x, struct buf *b, const char *poskind,
    unsigned long long pos, const char *wm, size_t wmlen)
{
	buf_adds(b, "{\"source\":");
	json_write_string(b, x->source, strlen(x->source), JSON_ASCII);
	if (x->file != NULL) {
		buf_adds(b, ",\"file\":");
		json_write_string(b, x->file, strlen(x->file), JSON_ASCII);
	}
	buf_adds(b, ",\"run\":");
	json_write_string(b, x->run, strlen(x->run), JSON_ASCII);
	if (x->page > 0)
		buf_printf(b, ",\"page\":%llu", x->page);
	buf_printf(b, ",\"%s\":%llu", poskind, pos);
	if (wm == NULL && x->file_wm != NULL) {
		wm = x->file_wm;
		wmlen = x->file_wmlen;
	}
	if (wm != NULL) {
		buf_adds(b, ",\"wm\":");
		buf_add(b, wm, wmlen);
	}
	if (x->src_extra != NULL)
		buf_adds(b, x->src_extra);
	buf_addc(b, '}');
}

int
extract_emit(struct extract *x, const char *poskind, unsigned long long pos,
    const char *wm, size_t wmlen)
{
	if (x->rec.len > 1)
		buf_addc(&x->rec, ',');
	buf_adds(&x->rec, "\"_meta\":{\"src\":");
	add_src(x, &x->rec, poskind, pos, wm, wmlen);
	buf_adds(&x->rec, "}}");
	return write_rec(x);
}

int
extract_emit_tape(struct extract *x, const struct tape *t, uint32_t node,
    const char *poskind, unsigned long long pos)
{
	jv rec, meta;
	struct json_err je;

	x->rec.len = 0;
	if (tape_lookup(t, node, "_meta", 5) == 0 &&
	    !(t->nodes[node].flags & TAPE_DUPS)) {
		canon_write(&x->canon, &x->rec, t, node, 0);
		x->rec.len--;	/* the closing brace */
		return extract_emit(x, poskind, pos, NULL, 0);
	}
	/* slow path: the element has its own _meta (or duplicate keys) */
	rec = json_from_tape(t, node, &x->lits);
	x->tmp.len = 0;
	add_src(x, &x->tmp, poskind, pos, NULL, 0);
	if (json_parse(x->tmp.p, x->tmp.len, &meta, NULL, &je) < 0)
		abort();	/* we wrote it */
	meta = jv_object_set(jv_object(), jv_string("src"), meta);
	rec = json_meta_carry(rec, meta);
	jv_free(meta);
	json_write(&x->rec, rec, 0, &x->lits);
	jv_free(rec);
	return write_rec(x);
}

int
extract_fail(struct extract *x, unsigned long long pos, const char *raw,
    size_t rawlen, int is_json, const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_at(LV_ERROR, x->source, pos, "%s", msg);
	if (dlq_write(x->dlq, x->source, pos, raw != NULL ? raw : "",
	    rawlen, is_json, code, msg, jv_invalid()) < 0) {
		log_error("write error on the dead-letter file");
		return -1;
	}
	return 0;
}

