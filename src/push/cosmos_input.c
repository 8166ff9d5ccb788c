/*
 * cosmos_input.c - push-cosmos's input: a record line parsed and checked
 * into a struct rec ($op, id, partition key, $version, $time, the body),
 * or answered with a result (bad input, dead-lettered); a control record
 * passed on in order; a good record queued behind the earlier operations
 * on its document (keyq) and begun.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cosmos_doc.h"
#include "cosmos_impl.h"
#include "json.h"
#include "keyq.h"
#include "log.h"
#include "ndjson.h"
#include "push.h"

/*
 * Check the record v (consumed) and fill r. Returns 0, or -1 with code and
 * msg set.
 */
static int
rec_parse(struct rec *r, jv v, const char **code, struct buf *msg)
{
	jv x = jv_invalid(), pk = jv_invalid();
	const char *why;
	struct buf b = BUF_INIT;
	size_t raw_n = 0;
	int rc = -1, i;

	x = json_get(v, "_meta");
	if (jv_get_kind(x) == JV_KIND_OBJECT)
		r->meta = json_dump(x, 0);
	jv_free(x);
	x = json_get(v, "id");
	if (jv_get_kind(x) == JV_KIND_STRING) {
		/* the id's bytes: a \u0000 in it must not cut it short */
		raw_n = (size_t)jv_string_length_bytes(jv_copy(x));
		r->raw_id = xmalloc(raw_n + 1);
		memcpy(r->raw_id, jv_string_value(x), raw_n);
		r->raw_id[raw_n] = '\0';
	}
	jv_free(x);
	x = json_get(v, "$op");
	r->op = OP_UPSERT;
	if (jv_is_valid(x)) {
		if (jv_get_kind(x) != JV_KIND_STRING)
			goto bad_op;
		for (i = 0; i < 4; i++)
			if (strcmp(jv_string_value(x), op_names[i]) == 0)
				break;
		if (i == 4)
			goto bad_op;
		r->op = (enum opk)i;
	}
	jv_free(x);
	x = json_get(v, "$version");
	if (jv_is_valid(x)) {
		if (jv_get_kind(x) != JV_KIND_NUMBER ||
		    !isfinite(jv_number_value(x))) {
			*code = "bad_version";
			buf_adds(msg, "\"$version\" is not a number");
			goto out;
		}
		r->has_version = 1;
		r->version = jv_number_value(x);
	}
	jv_free(x);
	x = json_get(v, "$time");
	if (jv_is_valid(x)) {
		if (jv_get_kind(x) != JV_KIND_STRING ||
		    cosmos_time_parse(jv_string_value(x), &r->time_ns) < 0) {
			*code = "bad_time";
			buf_adds(msg, "\"$time\" is not an RFC 3339 time "
			    "(YYYY-MM-DDTHH:MM:SS[.F]Z)");
			goto out;
		}
		r->time = xstrdup(jv_string_value(x));
	}
	jv_free(x);
	x = jv_invalid();
	if (r->raw_id == NULL) {
		*code = "no_id";
		buf_adds(msg, "record has no string \"id\"");
		goto out;
	}
	if (cosmos_id_check(r->raw_id, raw_n, op.encode_ids, &b,
	    &why) < 0) {
		*code = "bad_id";
		buf_adds(msg, why);
		goto out;
	}
	r->id = buf_cstr(&b);
	b = (struct buf)BUF_INIT;
	pk = cosmos_pk_get(v, op.pk_path);
	if (!jv_is_valid(pk)) {
		*code = "no_partition_key";
		buf_printf(msg, "record has no partition key at '%s'",
		    op.pk_path);
		goto out;
	}
	if (strcmp(op.pk_path, "/id") == 0) {
		jv_free(pk);
		pk = jv_string(r->id);
	}
	cosmos_pk_header(&b, pk);
	r->pkh = buf_cstr(&b);
	b = (struct buf)BUF_INIT;
	buf_adds(&b, r->pkh);
	buf_addc(&b, '\n');
	buf_adds(&b, r->id);
	r->key = buf_cstr(&b);
	b = (struct buf)BUF_INIT;
	if (r->op == OP_PATCH) {
		int n;

		x = json_get(v, "$patch");
		if (jv_get_kind(x) != JV_KIND_ARRAY) {
			*code = "bad_patch";
			buf_adds(msg, "a patch needs \"$patch\": an array of "
			    "Cosmos DB patch operations");
			goto out;
		}
		n = jv_array_length(jv_copy(x));
		if (n == 0 || n + r->has_version > PATCH_OPS_MAX) {
			*code = "bad_patch";
			buf_printf(msg, "\"$patch\" has %d operations; Cosmos "
			    "DB takes 1 to %d%s", n, PATCH_OPS_MAX -
			    r->has_version, r->has_version ? " with "
			    "\"$version\"" : "");
			goto out;
		}
		for (i = 0; i < n; i++) {
			jv o = jv_array_get(jv_copy(x), i);
			int okk = jv_get_kind(o) == JV_KIND_OBJECT &&
			    json_get_str(o, "op") != NULL &&
			    json_get_str(o, "path") != NULL;

			jv_free(o);
			if (!okk) {
				*code = "bad_patch";
				buf_printf(msg, "patch operation %d needs "
				    "\"op\" and \"path\"", i);
				goto out;
			}
		}
		jv_free(r->body);
		r->body = x;
		x = jv_invalid();
		jv_free(v);
		v = jv_invalid();
	} else {
		jv_free(r->body);
		r->body = v;
		v = jv_invalid();
	}
	rc = 0;
	goto out;
bad_op:
	*code = "bad_op";
	buf_adds(msg, "\"$op\" must be upsert, merge, patch or delete");
out:
	jv_free(x);
	jv_free(pk);
	jv_free(v);
	buf_release(&b);
	return rc;
}

int reconciling;
uint64_t n_data;	/* data records read (not reconcile deletes) */

void
handle_line(const struct ndjson_line *l)
{
	struct buf msg = BUF_INIT;
	const char *code = NULL;
	struct rec *r;
	jv v;

	if (!push_record(&g.p, l, &v))
		return;
	r = xcalloc(1, sizeof(*r));
	r->body = jv_invalid();
	cosmos_lits_add(&r->lits, &g.p.lits);
	if (rec_parse(r, v, &code, &msg) < 0) {
		const char *o = r->op <= OP_DELETE ? op_names[r->op] : NULL;

		push_input_error(&g.p, l, 1, code, buf_cstr(&msg), r->meta,
		    r->raw_id, strcmp(code, "bad_op") == 0 ? NULL : o);
		rec_free(r);
		goto out;
	}
	if (op.reconcile && !reconciling) {
		seen_add(r->raw_id);
		n_data++;
	}
	r->lineno = l->lineno;
	r->line = xmalloc(l->len + 1);
	memcpy(r->line, l->p, l->len + 1);
	r->len = l->len;
	g.p.live++;
	if (keyq_push(g.q, r->key, r))
		rec_begin(r);
out:
	buf_release(&msg);
}

