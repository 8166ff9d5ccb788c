/*
 * canon.c - canonical JSON over a tape, SHA-256, shards, JSON Patch diff.
 */
#include "canon.h"
#include "fnv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "json.h"

static const char *const reserved[] = { "_meta", "$op", "$version" };
static const char *const identity[] = { "$dtId", "$relationshipId",
    "$targetId", "$relationshipName", "id" };

static int
name_in(const char *p, size_t n, const char *const *set, size_t nset)
{
	size_t i;

	for (i = 0; i < nset; i++)
		if (strlen(set[i]) == n && memcmp(set[i], p, n) == 0)
			return 1;
	return 0;
}

int
canon_exclude(struct canon *c, const char *field, char *err, size_t errlen)
{
	struct canon_path *cp;
	struct buf seg = BUF_INIT;
	const char *s;

	if (c->nex == CANON_MAX_EXCLUDE) {
		snprintf(err, errlen, "too many excluded fields (at most %d)",
		    CANON_MAX_EXCLUDE);
		return -1;
	}
	if (*field == '\0') {
		snprintf(err, errlen, "empty field name");
		return -1;
	}
	cp = &c->ex[c->nex];
	cp->seg = NULL;
	cp->nseg = 0;
	if (*field != '/') {
		cp->seg = xmalloc(sizeof(*cp->seg));
		cp->seg[cp->nseg++] = xstrdup(field);
		c->nex++;
		return 0;
	}
	for (s = field + 1;; s++) {
		if (*s == '/' || *s == '\0') {
			cp->seg = xrealloc(cp->seg, (cp->nseg + 1) *
			    sizeof(*cp->seg));
			cp->seg[cp->nseg++] = xstrdup(buf_cstr(&seg));
			seg.len = 0;
			if (*s == '\0')
				break;
		} else if (*s == '~') {
			if (s[1] == '0')
				buf_addc(&seg, '~');
			else if (s[1] == '1')
				buf_addc(&seg, '/');
			else {
				size_t k;

				snprintf(err, errlen, "bad JSON Pointer '%s': "
				    "'~' must be followed by 0 or 1", field);
				for (k = 0; k < cp->nseg; k++)
					free(cp->seg[k]);
				free(cp->seg);
				cp->seg = NULL;
				cp->nseg = 0;
				buf_release(&seg);
				return -1;
			}
			s++;
		} else {
			buf_addc(&seg, *s);
		}
	}
	buf_release(&seg);
	c->nex++;
	return 0;
}

void
canon_release(struct canon *c)
{
	size_t i, k;

	if (c == NULL)
		return;
	for (i = 0; i < c->nex; i++) {
		for (k = 0; k < c->ex[i].nseg; k++)
			free(c->ex[i].seg[k]);
		free(c->ex[i].seg);
	}
	c->nex = 0;
	free(c->scratch);
	c->scratch = NULL;
	c->slen = c->scap = 0;
	if (c->md != NULL)
		EVP_MD_CTX_free(c->md);
	c->md = NULL;
	buf_release(&c->tmp_a);
	buf_release(&c->tmp_b);
}

/* The exclusions still matching below member k of an object at depth d;
 * *skip is set when one of them names exactly this member. */
static uint64_t
child_live(const struct canon *c, uint64_t live, size_t d,
    const struct tape_node *k, int *skip)
{
	uint64_t out = 0;
	size_t e;

	*skip = 0;
	for (e = 0; live != 0 && e < c->nex; e++) {
		const struct canon_path *p = &c->ex[e];

		if (!(live & (UINT64_C(1) << e)) || p->nseg <= d)
			continue;
		if (strlen(p->seg[d]) != k->n ||
		    memcmp(p->seg[d], k->p, k->n) != 0)
			continue;
		if (p->nseg == d + 1)
			*skip = 1;
		else
			out |= UINT64_C(1) << e;
	}
	return out;
}

static int
key_cmp(const struct tape *t, uint32_t a, uint32_t b)
{
	const struct tape_node *x = &t->nodes[a], *y = &t->nodes[b];
	size_t n = x->n < y->n ? x->n : y->n;
	int r = n ? memcmp(x->p, y->p, n) : 0;

	if (r != 0)
		return r;
	if (x->n != y->n)
		return x->n < y->n ? -1 : 1;
	return a < b ? -1 : a > b;
}

static int
qcmp(const void *a, const void *b, void *ctx)
{
	return key_cmp(ctx, *(const uint32_t *)a, *(const uint32_t *)b);
}

static void
spush(struct canon *c, uint32_t v)
{
	if (c->slen == c->scap) {
		c->scap = c->scap ? c->scap * 2 : 256;
		c->scratch = xrealloc(c->scratch, c->scap * sizeof(uint32_t));
	}
	c->scratch[c->slen++] = v;
}

/*
 * Push the key nodes of the members of object obj that belong to its
 * output (sorted and without duplicates when sorted is set). Returns how
 * many were pushed; they start at the returned *base.
 */
static size_t
members(struct canon *c, const struct tape *t, uint32_t obj, int sorted,
    uint64_t live, size_t depth, int top, size_t *base)
{
	const struct tape_node *o = &t->nodes[obj];
	uint32_t k = obj + 1, m;
	size_t n, i, j;

	*base = c->slen;
	for (m = 0; m < o->n; m++) {
		const struct tape_node *kn = &t->nodes[k];
		int skip = 0;

		if (top && name_in(kn->p, kn->n, reserved, 3))
			skip = 1;
		else if (live)
			(void)child_live(c, live, depth, kn, &skip);
		if (!skip)
			spush(c, k);
		k = t->nodes[k + 1].next;
	}
	n = c->slen - *base;
	if (!sorted || n < 2)
		return n;
	if (n <= 24) {
		uint32_t *a = c->scratch + *base;

		for (i = 1; i < n; i++) {
			uint32_t v = a[i];

			for (j = i; j > 0 && key_cmp(t, a[j - 1], v) > 0; j--)
				a[j] = a[j - 1];
			a[j] = v;
		}
	} else {
		qsort_r(c->scratch + *base, n, sizeof(uint32_t), qcmp,
		    (void *)t);
	}
	if (o->flags & TAPE_DUPS) {	/* keep the last of equal keys */
		uint32_t *a = c->scratch + *base;
		size_t w = 0;

		for (i = 0; i < n; i++) {
			const struct tape_node *x = &t->nodes[a[i]];

			if (i + 1 < n && t->nodes[a[i + 1]].n == x->n &&
			    (x->n == 0 || memcmp(t->nodes[a[i + 1]].p, x->p,
			    x->n) == 0))
				continue;
			a[w++] = a[i];
		}
		c->slen = *base + w;
		n = w;
	}
	return n;
}

static void
write_str(struct buf *b, const struct tape_node *nd)
{
	if (nd->flags & TAPE_RAW_OK) {
		if (b->cap - b->len < nd->n + 2)
			buf_grow(b, nd->n + 2);
		b->p[b->len++] = '"';
		buf_add(b, nd->p, nd->n);
		b->p[b->len++] = '"';
	} else {
		json_write_string(b, nd->p, nd->n, 0);
	}
}

static void
wr(struct canon *c, struct buf *b, const struct tape *t, uint32_t i,
    int sorted, uint64_t live, size_t depth, int top)
{
	const struct tape_node *nd = &t->nodes[i];

	switch (nd->type) {
	case TAPE_NULL:
		buf_add(b, "null", 4);
		return;
	case TAPE_FALSE:
		buf_add(b, "false", 5);
		return;
	case TAPE_TRUE:
		buf_add(b, "true", 4);
		return;
	case TAPE_NUMBER:
		buf_add(b, nd->p, nd->n);
		return;
	case TAPE_STRING:
		write_str(b, nd);
		return;
	case TAPE_ARRAY: {
		uint32_t k = i + 1, m;

		buf_addc(b, '[');
		for (m = 0; m < nd->n; m++) {
			if (m)
				buf_addc(b, ',');
			wr(c, b, t, k, sorted, 0, depth + 1, 0);
			k = t->nodes[k].next;
		}
		buf_addc(b, ']');
		return;
	}
	default: {
		size_t base, n = members(c, t, i, sorted, live, depth, top,
		    &base), m;

		buf_addc(b, '{');
		for (m = 0; m < n; m++) {
			uint32_t k = c->scratch[base + m];
			uint64_t cl = 0;
			int skip;

			if (live)
				cl = child_live(c, live, depth, &t->nodes[k],
				    &skip);
			if (m)
				buf_addc(b, ',');
			write_str(b, &t->nodes[k]);
			buf_addc(b, ':');
			wr(c, b, t, k + 1, sorted, cl, depth + 1, 0);
		}
		c->slen = base;
		buf_addc(b, '}');
		return;
	}
	}
}

static uint64_t
all_live(const struct canon *c)
{
	return c->nex == 64 ? UINT64_MAX : (UINT64_C(1) << c->nex) - 1;
}

void
canon_write(struct canon *c, struct buf *b, const struct tape *t,
    uint32_t i, int flags)
{
	int top = (flags & CANON_TOP) && t->nodes[i].type == TAPE_OBJECT;

	wr(c, b, t, i, flags & CANON_SORTED, top ? all_live(c) : 0, 0, top);
}

void
canon_hash(struct canon *c, const void *p, size_t n,
    unsigned char out[CANON_HASH_LEN])
{
	unsigned int len = 0;

	if (c->md == NULL)
		c->md = xalloc_check(EVP_MD_CTX_new());
	if (EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c->md, p, n) != 1 ||
	    EVP_DigestFinal_ex(c->md, out, &len) != 1 ||
	    len != CANON_HASH_LEN) {
		fprintf(stderr, "fatal: OpenSSL cannot compute SHA-256\n");
		abort();
	}
}

unsigned
canon_shard(const char *key, size_t n, unsigned nshards)
{
	return (unsigned)(fnv1a64(key, n) % nshards);
}

void
canon_pointer_escape(struct buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '~')
			buf_add(b, "~0", 2);
		else if (s[i] == '/')
			buf_add(b, "~1", 2);
		else
			buf_addc(b, s[i]);
	}
}

/* ---- JSON Patch ---- */

struct diff {
	struct canon *c;
	struct buf *out;
	struct buf path;
	size_t nops;
};

static void
op_begin(struct diff *d, const char *op)
{
	buf_add(d->out, d->nops ? "," : "", d->nops ? 1 : 0);
	buf_adds(d->out, "{\"op\":\"");
	buf_adds(d->out, op);
	buf_adds(d->out, "\",\"path\":");
	json_write_string(d->out, d->path.p, d->path.len, 0);
	d->nops++;
}

/* Are the values equal in canonical form? */
static int
same(struct canon *c, const struct tape *a, uint32_t ai, uint64_t al,
    const struct tape *b, uint32_t bi, uint64_t bl, size_t depth)
{
	c->tmp_a.len = 0;
	c->tmp_b.len = 0;
	wr(c, &c->tmp_a, a, ai, 1, al, depth, 0);
	wr(c, &c->tmp_b, b, bi, 1, bl, depth, 0);
	return c->tmp_a.len == c->tmp_b.len &&
	    memcmp(c->tmp_a.p, c->tmp_b.p, c->tmp_a.len) == 0;
}

static int
diff_obj(struct diff *d, const struct tape *a, uint32_t ai,
    const struct tape *b, uint32_t bi, uint64_t live, size_t depth)
{
	struct canon *c = d->c;
	size_t abase, an, bbase, bn, x = 0, y = 0, mark = d->path.len;
	uint32_t *ak, *bk;
	int top = depth == 0, rc = 0;

	/* both member lists are copied off the scratch stack: the
	 * recursion below reuses it */
	an = members(c, a, ai, 1, live, depth, top, &abase);
	ak = xmalloc((an + 1) * sizeof(*ak));
	memcpy(ak, c->scratch + abase, an * sizeof(*ak));
	c->slen = abase;
	bn = members(c, b, bi, 1, live, depth, top, &bbase);
	bk = xmalloc((bn + 1) * sizeof(*bk));
	memcpy(bk, c->scratch + bbase, bn * sizeof(*bk));
	c->slen = bbase;

	while (x < an || y < bn) {
		const struct tape_node *ka = x < an ? &a->nodes[ak[x]] : NULL;
		const struct tape_node *kb = y < bn ? &b->nodes[bk[y]] : NULL;
		const struct tape_node *k;
		int cmp, skip;
		uint64_t cl;

		if (ka == NULL)
			cmp = 1;
		else if (kb == NULL)
			cmp = -1;
		else {
			size_t n = ka->n < kb->n ? ka->n : kb->n;

			cmp = n ? memcmp(ka->p, kb->p, n) : 0;
			if (cmp == 0 && ka->n != kb->n)
				cmp = ka->n < kb->n ? -1 : 1;
		}
		k = cmp <= 0 ? ka : kb;
		cl = live ? child_live(c, live, depth, k, &skip) : 0;
		if (top && name_in(k->p, k->n, identity, 5)) {
			if (cmp != 0 || !same(c, a, ak[x] + 1, cl, b,
			    bk[y] + 1, cl, depth + 1)) {
				rc = -1;
				goto out;
			}
			x++;
			y++;
			continue;
		}
		d->path.len = mark;
		buf_addc(&d->path, '/');
		canon_pointer_escape(&d->path, k->p, k->n);
		if (cmp < 0) {
			op_begin(d, "remove");
			buf_addc(d->out, '}');
			x++;
		} else if (cmp > 0) {
			op_begin(d, "add");
			buf_adds(d->out, ",\"value\":");
			wr(c, d->out, b, bk[y] + 1, 1, cl, depth + 1, 0);
			buf_addc(d->out, '}');
			y++;
		} else {
			uint32_t va = ak[x] + 1, vb = bk[y] + 1;

			if (a->nodes[va].type == TAPE_OBJECT &&
			    b->nodes[vb].type == TAPE_OBJECT) {
				if (diff_obj(d, a, va, b, vb, cl,
				    depth + 1) < 0) {
					rc = -1;
					goto out;
				}
			} else if (!same(c, a, va, cl, b, vb, cl, depth + 1)) {
				op_begin(d, "replace");
				buf_adds(d->out, ",\"value\":");
				wr(c, d->out, b, vb, 1, cl, depth + 1, 0);
				buf_addc(d->out, '}');
			}
			x++;
			y++;
		}
	}
out:
	d->path.len = mark;
	free(ak);
	free(bk);
	return rc;
}

int
canon_diff(struct canon *c, struct buf *out, const struct tape *old,
    const struct tape *cur, size_t *nops)
{
	struct diff d = { c, out, BUF_INIT, 0 };
	size_t mark = out->len;
	int rc;

	*nops = 0;
	if (old->nodes[0].type != TAPE_OBJECT ||
	    cur->nodes[0].type != TAPE_OBJECT)
		return -1;
	buf_addc(out, '[');
	rc = diff_obj(&d, old, 0, cur, 0, all_live(c), 0);
	buf_release(&d.path);
	if (rc < 0) {
		out->len = mark;
		return -1;
	}
	buf_addc(out, ']');
	*nops = d.nops;
	return 0;
}

int
canon_shard_parse(const char *s, unsigned *i, unsigned *n)
{
	char *e;
	unsigned long a, b;

	errno = 0;
	a = strtoul(s, &e, 10);
	if (e == s || *e != '/' || errno)
		return -1;
	s = e + 1;
	b = strtoul(s, &e, 10);
	if (e == s || *e != '\0' || errno || b == 0 || b > 65536 || a >= b)
		return -1;
	*i = (unsigned)a;
	*n = (unsigned)b;
	return 0;
}
