/*
 * fastpath.c - native evaluation of a jq subset on a record's tape: the
 * output writer and fp_run(), the entry point. The compiler, evaluator and
 * mapping support live in the fastpath_*.c files (see fastpath_impl.h).
 *
 * Compile: a small recursive-descent parser that follows jq 1.6's grammar
 * and precedence (parser.y) for the subset and gives up (NULL) on anything
 * else. Run: evaluate to one value, write it; any case not handled exactly
 * makes fp_run() return 0 and the record goes through libjq.
 */
#include "fastpath_impl.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "json.h"

/* ---- output ---- */

static void
build_lits(struct ctx *c)
{
	if (c->lits_built)
		return;
	c->lits_built = 1;
	/* the same table json_parse() builds for this record */
	json_numlits_from_tape(c->t, &c->lits);
}

static void
write_num(struct ctx *c, struct buf *o, double d)
{
	build_lits(c);
	{
		/* json_write with a number jv applies the literal table */
		jv v = jv_number(d);

		json_write(o, v, 0, &c->lits);
		jv_free(v);
	}
}

static int
write_node(struct ctx *c, struct buf *o, uint32_t i, int meta_at_root);

static int
write_tape_number(struct ctx *c, struct buf *o, const struct tape_node *nd)
{
	char tmp[40];
	struct buf b = { tmp, 0, sizeof(tmp) };
	double d;

	if (nd->flags & TAPE_SMALL_INT) {
		buf_add(o, nd->p, nd->n);
		return 0;
	}
	d = tape_number(nd);
	json_write_number(&b, d);
	if (b.p == tmp && b.len == nd->n && memcmp(tmp, nd->p, nd->n) == 0) {
		buf_add(o, nd->p, nd->n);
		return 0;
	}
	write_num(c, o, d);
	return 0;
}

static int
write_node(struct ctx *c, struct buf *o, uint32_t i, int unused)
{
	const struct tape_node *nd = &c->t->nodes[i];
	uint32_t j, end;
	int first = 1;

	(void)unused;
	switch (nd->type) {
	case TAPE_NULL:
		buf_add(o, "null", 4);
		return 0;
	case TAPE_TRUE:
		buf_add(o, "true", 4);
		return 0;
	case TAPE_FALSE:
		buf_add(o, "false", 5);
		return 0;
	case TAPE_NUMBER:
		return write_tape_number(c, o, nd);
	case TAPE_STRING:
		if (nd->flags & TAPE_RAW_OK) {
			buf_addc(o, '"');
			buf_add(o, nd->p, nd->n);
			buf_addc(o, '"');
		} else {
			json_write_string(o, nd->p, nd->n, 0);
		}
		return 0;
	case TAPE_ARRAY:
		buf_addc(o, '[');
		for (j = i + 1, end = nd->next; j < end;
		    j = c->t->nodes[j].next) {
			if (!first)
				buf_addc(o, ',');
			first = 0;
			if (write_node(c, o, j, 0) < 0)
				return -1;
		}
		buf_addc(o, ']');
		return 0;
	default:
		if (nd->flags & TAPE_DUPS)
			return -1;
		buf_addc(o, '{');
		for (j = i + 1, end = nd->next; j < end;
		    j = c->t->nodes[j + 1].next) {
			if (!first)
				buf_addc(o, ',');
			first = 0;
			if (write_node(c, o, j, 0) < 0)
				return -1;
			buf_addc(o, ':');
			if (write_node(c, o, j + 1, 0) < 0)
				return -1;
		}
		buf_addc(o, '}');
		return 0;
	}
}

static int
write_val(struct ctx *c, struct buf *o, const struct val *v)
{
	uint32_t i;

	switch (v->k) {
	case V_NULL:
		buf_add(o, "null", 4);
		return 0;
	case V_TRUE:
		buf_add(o, "true", 4);
		return 0;
	case V_FALSE:
		buf_add(o, "false", 5);
		return 0;
	case V_NUM:
		write_num(c, o, v->u.d);
		return 0;
	case V_STR:
		if (v->raw_ok) {
			buf_addc(o, '"');
			buf_add(o, v->u.s, v->n);
			buf_addc(o, '"');
		} else {
			json_write_string(o, v->u.s, v->n, 0);
		}
		return 0;
	case V_NODE:
		return write_node(c, o, v->n, 0);
	case V_ARR:
		buf_addc(o, '[');
		for (i = 0; i < v->n; i++) {
			if (i > 0)
				buf_addc(o, ',');
			if (write_val(c, o, &v->u.elems[i]) < 0)
				return -1;
		}
		buf_addc(o, ']');
		return 0;
	default:
		buf_addc(o, '{');
		for (i = 0; i < v->n; i++) {
			struct val k = mkstr(v->u.pairs[i].key,
			    v->u.pairs[i].klen);

			if (i > 0)
				buf_addc(o, ',');
			write_val(c, o, &k);
			buf_addc(o, ':');
			if (write_val(c, o, &v->u.pairs[i].v) < 0)
				return -1;
		}
		buf_addc(o, '}');
		return 0;
	}
}

static __thread struct ctx tctx;

int
fp_run(struct fp *f, const struct tape *t, struct buf *out)
{
	struct ctx *c = &tctx;
	struct val in, res;
	size_t mark = out->len;
	uint32_t meta = 0;
	int rc = 0;

	if (t->nodes[0].type != TAPE_OBJECT || (t->nodes[0].flags & TAPE_DUPS))
		return 0;
	c->t = t;
	c->lits_built = 0;
	in.k = V_NODE;
	in.n = 0;
	if (f->root != NULL ? ev(c, f->root, &in, &res) < 0 :
	    mapping_run(c, f, &res) < 0)
		goto out;
	meta = tape_lookup(t, 0, "_meta", 5);
	if (meta != 0 && t->nodes[meta].type != TAPE_OBJECT)
		meta = 0;
	if (meta != 0 && res.k == V_NODE && res.n != 0 &&
	    t->nodes[res.n].type == TAPE_OBJECT) {
		/* an input sub-object: append _meta unless it has one */
		const struct tape_node *nd = &t->nodes[res.n];

		if ((nd->flags & TAPE_DUPS) ||
		    tape_lookup(t, res.n, "_meta", 5) != 0)
			goto out;
		if (write_node(c, out, res.n, 0) < 0)
			goto out;
		out->len--;	/* the '}' */
		if (nd->n > 0)
			buf_addc(out, ',');
		buf_adds(out, "\"_meta\":");
		if (write_node(c, out, meta, 0) < 0)
			goto out;
		buf_addc(out, '}');
	} else if (meta != 0 && res.k == V_OBJ) {
		uint32_t i;

		for (i = 0; i < res.n; i++)
			if (res.u.pairs[i].klen == 5 &&
			    memcmp(res.u.pairs[i].key, "_meta", 5) == 0)
				goto out;
		if (write_val(c, out, &res) < 0)
			goto out;
		out->len--;
		if (res.n > 0)
			buf_addc(out, ',');
		buf_adds(out, "\"_meta\":");
		if (write_node(c, out, meta, 0) < 0)
			goto out;
		buf_addc(out, '}');
	} else if (write_val(c, out, &res) < 0) {
		goto out;
	}
	buf_addc(out, '\n');
	rc = 1;
out:
	if (!rc)
		out->len = mark;
	arena_reset(c);
	return rc;
}
