/*
 * fastpath_map.c - mapping files (the program of mapping.c) compiled into
 * the fast path and run natively: each entry's source, its type check and
 * conversion (the date, time and duration forms), and the twin or patch
 * built from them.
 */
#include "fastpath_impl.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "json.h"

/* ---- mapping files (the program of mapping.c, natively) ---- */

static char *
jv_strdup_sized(jv s, uint32_t *len)
{
	int n = jv_string_length_bytes(jv_copy(s));
	char *c = xmalloc((size_t)n + 1);

	memcpy(c, jv_string_value(s), (size_t)n);
	c[n] = '\0';
	*len = (uint32_t)n;
	return c;
}

struct fp *
fp_compile_mapping(jv mapping, const char *now)
{
	static const struct {
		const char *name;
		enum mtype t;
	} types[] = {
		{ "string", M_STRING }, { "boolean", M_BOOLEAN },
		{ "double", M_DOUBLE }, { "float", M_DOUBLE },
		{ "integer", M_INTEGER }, { "long", M_INTEGER },
		{ "datetime", M_DATETIME }, { "date", M_DATE },
		{ "duration", M_DURATION },
	};
	struct fp *f = xcalloc(1, sizeof(*f));
	jv list = json_get(mapping, "mapping");
	jv model = json_get(mapping, "model");
	int i, n;

	if (jv_get_kind(list) != JV_KIND_ARRAY)
		goto fail;
	n = jv_array_length(jv_copy(list));
	f->maps = xcalloc((size_t)n + 1, sizeof(*f->maps));
	for (i = 0; i < n; i++) {
		jv m = jv_array_get(jv_copy(list), i);
		jv src = json_get(m, "Source"), path = json_get(m, "_path");
		jv ptr = json_get(m, "_ptr");
		const char *typ = json_get_str(m, "TargetType");
		struct fmap *fm = &f->maps[f->nmaps];
		size_t k;
		int pl, j;

		fm->type = 255;
		for (k = 0; typ != NULL && k < sizeof(types) / sizeof(types[0]);
		    k++)
			if (strcmp(typ, types[k].name) == 0)
				fm->type = (uint8_t)types[k].t;
		if (jv_get_kind(src) != JV_KIND_STRING ||
		    jv_get_kind(path) != JV_KIND_ARRAY ||
		    jv_get_kind(ptr) != JV_KIND_STRING || fm->type == 255) {
			jv_free(ptr);
			jv_free(src);
			jv_free(path);
			jv_free(m);
			goto fail;
		}
		fm->src = jv_strdup_sized(src, &fm->srclen);
		fm->ptr = jv_strdup_sized(ptr, &fm->ptrlen);
		fm->special = strcmp(fm->src, "$FILENAME") == 0 ? S_FILENAME :
		    strcmp(fm->src, "$LINE") == 0 ? S_LINE :
		    strcmp(fm->src, "$NOW") == 0 ? S_NOW : S_FIELD;
		pl = jv_array_length(jv_copy(path));
		fm->path = xcalloc((size_t)pl + 1, sizeof(*fm->path));
		fm->plens = xcalloc((size_t)pl + 1, sizeof(*fm->plens));
		for (j = 0; j < pl; j++) {
			jv seg = jv_array_get(jv_copy(path), j);

			if (jv_get_kind(seg) != JV_KIND_STRING) {
				jv_free(seg);
				jv_free(ptr);
				jv_free(src);
				jv_free(path);
				jv_free(m);
				f->nmaps++;
				goto fail;
			}
			fm->path[j] = jv_strdup_sized(seg, &fm->plens[j]);
			fm->plen++;
			jv_free(seg);
		}
		fm->is_id = fm->plen == 1 && strcmp(fm->path[0], "$dtId") == 0;
		f->nmaps++;
		jv_free(ptr);
		jv_free(src);
		jv_free(path);
		jv_free(m);
	}
	if (jv_get_kind(model) == JV_KIND_STRING) {
		uint32_t ml;

		f->model = jv_strdup_sized(model, &ml);
	}
	{
		const char *op = json_get_str(mapping, "op");
		const char *id = json_get_str(mapping, "id");

		if (op == NULL || id == NULL)
			goto fail;
		f->patch = strcmp(op, "patch") == 0;
		f->id_file = strcmp(id, "$FILENAME") == 0;
	}
	f->now = xstrdup(now);
	jv_free(list);
	jv_free(model);
	return f;
fail:
	jv_free(list);
	jv_free(model);
	fp_free(f);
	return NULL;
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* n digits at s[*i], advancing */
static int
digits(const char *s, uint32_t len, uint32_t *i, int n)
{
	int k;

	for (k = 0; k < n; k++)
		if (*i + (uint32_t)k >= len || !is_digit(s[*i + k]))
			return 0;
	*i += (uint32_t)n;
	return 1;
}

/* YYYY-MM-DD with the month and day ranges of mapping.c's regex */
static int
match_date(const char *s, uint32_t len, uint32_t *i)
{
	uint32_t p = *i;

	if (!digits(s, len, &p, 4) || p >= len || s[p++] != '-' ||
	    !digits(s, len, &p, 2))
		return 0;
	if (!((s[p - 2] == '0' && s[p - 1] >= '1') ||
	    (s[p - 2] == '1' && s[p - 1] <= '2')))
		return 0;
	if (p >= len || s[p++] != '-' || !digits(s, len, &p, 2))
		return 0;
	if (!((s[p - 2] == '0' && s[p - 1] >= '1') ||
	    s[p - 2] == '1' || s[p - 2] == '2' ||
	    (s[p - 2] == '3' && s[p - 1] <= '1')))
		return 0;
	*i = p;
	return 1;
}

/* [01][0-9]|2[0-3] */
static int
match_hour(const char *s, uint32_t len, uint32_t *i)
{
	uint32_t p = *i;

	if (!digits(s, len, &p, 2))
		return 0;
	if (!(s[p - 2] <= '1' || (s[p - 2] == '2' && s[p - 1] <= '3')))
		return 0;
	*i = p;
	return 1;
}

/* [0-5][0-9] */
static int
match_min(const char *s, uint32_t len, uint32_t *i)
{
	uint32_t p = *i;

	if (!digits(s, len, &p, 2) || s[p - 2] > '5')
		return 0;
	*i = p;
	return 1;
}

/*
 * The dateTime regex of mapping.c; *zone says whether the zone group
 * matched. Returns 1 on a match of the whole string.
 */
static int
match_datetime(const char *s, uint32_t len, int *zone)
{
	uint32_t i = 0;

	*zone = 0;
	if (!match_date(s, len, &i) || i >= len ||
	    (s[i] != 'T' && s[i] != ' '))
		return 0;
	i++;
	if (!match_hour(s, len, &i) || i >= len || s[i++] != ':' ||
	    !match_min(s, len, &i))
		return 0;
	if (i < len && s[i] == ':') {
		uint32_t j = i + 1;

		if (match_min(s, len, &j)) {
			i = j;
			if (i < len && s[i] == '.' && i + 1 < len &&
			    is_digit(s[i + 1])) {
				for (i++; i < len && is_digit(s[i]); i++)
					;
			}
		}
	}
	if (i == len)
		return 1;
	if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == len) {
		*zone = 1;
		return 1;
	}
	if (s[i] == '+' || s[i] == '-') {
		i++;
		if (!match_hour(s, len, &i))
			return 0;
		if (i < len && s[i] == ':')
			i++;
		if (!match_min(s, len, &i) || i != len)
			return 0;
		*zone = 1;
		return 1;
	}
	return 0;
}

/* the duration regex of mapping.c */
static int
match_duration(const char *s, uint32_t len)
{
	static const char date_units[] = "YMWD";
	static const char time_units[] = "HMS";
	uint32_t i = 0;
	int u;

	if (i < len && s[i] == '-')
		i++;
	if (i >= len || s[i++] != 'P' || i == len)
		return 0;
	for (u = 0; u < 4; u++) {
		uint32_t j = i;

		while (j < len && is_digit(s[j]))
			j++;
		if (j > i && j < len && s[j] == date_units[u])
			i = j + 1;
	}
	if (i < len && s[i] == 'T' && i + 1 < len && is_digit(s[i + 1])) {
		uint32_t t = i + 1;

		for (u = 0; u < 3; u++) {
			uint32_t j = t;

			while (j < len && is_digit(s[j]))
				j++;
			if (u == 2 && j > t && j + 1 < len && s[j] == '.' &&
			    is_digit(s[j + 1]))
				for (j++; j < len && is_digit(s[j]); j++)
					;
			if (j > t && j < len && s[j] == time_units[u])
				t = j + 1;
		}
		if (t == len)
			return 1;
		/* the optional T group can also be skipped: then $ fails */
		return 0;
	}
	return i == len;
}

/* plain ASCII without control characters (regex anchors are unambiguous) */
static int
plain_ascii(const char *s, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

/* the decimal regex of _tp_num, on a trimmed copy; then tonumber */
static int
mapping_number(struct ctx *c, const struct val *v, double *d)
{
	const char *s = v->u.s, *e = s + v->n, *p;
	char tmp[64];
	size_t n;

	if (!plain_ascii(s, v->n))
		return -1;
	while (s < e && (*s == ' ' || *s == '\t' || *s == '\v' || *s == '\f'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\v' ||
	    e[-1] == '\f'))
		e--;
	p = s;
	if (p < e && *p == '-')
		p++;
	if (p >= e || !is_digit(*p))
		return -1;
	while (p < e && is_digit(*p))
		p++;
	if (p < e && *p == '.') {
		p++;
		if (p >= e || !is_digit(*p))
			return -1;
		while (p < e && is_digit(*p))
			p++;
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < e && (*p == '+' || *p == '-'))
			p++;
		if (p >= e || !is_digit(*p))
			return -1;
		while (p < e && is_digit(*p))
			p++;
	}
	if (p != e || (n = (size_t)(e - s)) >= sizeof(tmp))
		return -1;
	(void)c;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	*d = strtod(tmp, NULL);
	return 0;
}

/* _tp_conv: 1 with *out set, 0 to leave the target out, -1: libjq */
static int
mapping_conv(struct ctx *c, const struct fmap *m, struct val *v,
    struct val *out)
{
	double d;
	int zone;

	deref(c, v);
	if (v->k == V_NULL)
		return 0;
	if (m->type == M_STRING) {
		if (v->k == V_STR) {
			*out = *v;
			return 1;
		}
		if (to_string(c, v) < 0)
			return -1;
		*out = *v;
		return 1;
	}
	if (v->k == V_STR && v->n == 0)
		return 0;
	switch (m->type) {
	case M_BOOLEAN:
		if (v->k == V_TRUE || v->k == V_FALSE) {
			*out = *v;
			return 1;
		}
		if (v->k == V_NUM && (v->u.d == 0 || v->u.d == 1)) {
			out->k = v->u.d == 1 ? V_TRUE : V_FALSE;
			return 1;
		}
		if (v->k == V_STR && v->n <= 5) {
			char low[6];
			uint32_t i;

			for (i = 0; i < v->n; i++)
				low[i] = (char)(v->u.s[i] >= 'A' &&
				    v->u.s[i] <= 'Z' ? v->u.s[i] + 32 :
				    v->u.s[i]);
			low[v->n] = '\0';
			if (!strcmp(low, "true") || !strcmp(low, "yes") ||
			    !strcmp(low, "y") || !strcmp(low, "1")) {
				out->k = V_TRUE;
				return 1;
			}
			if (!strcmp(low, "false") || !strcmp(low, "no") ||
			    !strcmp(low, "n") || !strcmp(low, "0")) {
				out->k = V_FALSE;
				return 1;
			}
		}
		return -1;
	case M_DOUBLE:
	case M_INTEGER:
		if (v->k == V_NUM)
			d = v->u.d;
		else if (v->k != V_STR || mapping_number(c, v, &d) < 0)
			return -1;
		if (m->type == M_INTEGER && d != floor(d))
			return -1;
		out->k = V_NUM;
		out->u.d = d;
		return 1;
	case M_DATETIME: {
		char *s;

		if (v->k != V_STR || !plain_ascii(v->u.s, v->n) ||
		    !match_datetime(v->u.s, v->n, &zone))
			return -1;
		s = arena_alloc(c, (size_t)v->n + 1);
		memcpy(s, v->u.s, v->n);
		if (s[10] == ' ')
			s[10] = 'T';
		if (!zone) {
			s[v->n] = 'Z';
			*out = mkstr(s, (size_t)v->n + 1);
		} else {
			if (s[v->n - 1] == 'z')
				s[v->n - 1] = 'Z';
			*out = mkstr(s, v->n);
		}
		return 1;
	}
	case M_DATE:
		{
			uint32_t i = 0;

			if (v->k != V_STR || !plain_ascii(v->u.s, v->n) ||
			    !match_date(v->u.s, v->n, &i) || i != v->n)
				return -1;
		}
		*out = *v;
		return 1;
	case M_DURATION:
		if (v->k != V_STR || !plain_ascii(v->u.s, v->n) ||
		    !match_duration(v->u.s, v->n))
			return -1;
		*out = *v;
		return 1;
	}
	return -1;
}

/* the source value of a mapping: 0 ok, -1: libjq */
static int
mapping_src(struct ctx *c, const struct fp *f, const struct fmap *m,
    struct val *v)
{
	const struct tape *t = c->t;
	uint32_t meta, src, x;

	v->k = V_NULL;
	if (m->special == S_FIELD) {
		x = tape_lookup(t, 0, m->src, m->srclen);
		if (x != 0) {
			v->k = V_NODE;
			v->n = x;
		}
		return 0;
	}
	if (m->special == S_NOW) {
		*v = mkstr(f->now, strlen(f->now));
		return 0;
	}
	/* ._meta.src.<...>: each step null, or an object without dups */
	src = 0;
	meta = tape_lookup(t, 0, "_meta", 5);
	if (meta != 0 && t->nodes[meta].type != TAPE_NULL) {
		if (t->nodes[meta].type != TAPE_OBJECT ||
		    (t->nodes[meta].flags & TAPE_DUPS))
			return -1;
		src = tape_lookup(t, meta, "src", 3);
		if (src != 0 && t->nodes[src].type == TAPE_NULL)
			src = 0;
		if (src != 0 && (t->nodes[src].type != TAPE_OBJECT ||
		    (t->nodes[src].flags & TAPE_DUPS)))
			return -1;
	}
	if (m->special == S_LINE) {
		const char *names[2] = { "row", "line" };
		int k;

		for (k = 0; k < 2 && src != 0; k++) {
			x = tape_lookup(t, src, names[k], 3 + (k == 1));
			/* row // line: line is taken whatever it is */
			if (x != 0 && (k == 1 ||
			    (t->nodes[x].type != TAPE_NULL &&
			    t->nodes[x].type != TAPE_FALSE))) {
				v->k = V_NODE;
				v->n = x;
				return 0;
			}
		}
		return 0;
	}
	/* $FILENAME */
	{
		const char *fname = NULL, *slash, *dot;
		size_t fl = 0;

		x = src != 0 ? tape_lookup(t, src, "file", 4) : 0;
		if (x != 0 && t->nodes[x].type != TAPE_NULL &&
		    t->nodes[x].type != TAPE_FALSE) {
			if (t->nodes[x].type != TAPE_STRING)
				return -1;
			fname = t->nodes[x].p;
			fl = t->nodes[x].n;
		} else if ((fname = getenv("TWINPIPE_INPUT_FILE")) != NULL) {
			fl = strlen(fname);
		}
		if (fname == NULL || fl == 0)
			return 0;
		if (!plain_ascii(fname, (uint32_t)fl))
			return -1;
		slash = memrchr(fname, '/', fl);
		if (slash != NULL) {
			fl -= (size_t)(slash + 1 - fname);
			fname = slash + 1;
		}
		dot = memrchr(fname, '.', fl);
		if (dot != NULL)
			fl = (size_t)(dot - fname);
		*v = mkstr(fname, fl);
		return 0;
	}
}

/* setpath into a constructed object (capacity cap per object) */
static int
obj_set(struct ctx *c, struct val *o, const char *k, uint32_t kl,
    struct val v, uint32_t cap)
{
	uint32_t i;

	for (i = 0; i < o->n; i++)
		if (o->u.pairs[i].klen == kl &&
		    memcmp(o->u.pairs[i].key, k, kl) == 0) {
			o->u.pairs[i].v = v;
			return 0;
		}
	if (o->n >= cap)
		return -1;
	(void)c;
	o->u.pairs[o->n].key = k;
	o->u.pairs[o->n].klen = kl;
	o->u.pairs[o->n].v = v;
	o->n++;
	return 0;
}

static struct val
new_obj(struct ctx *c, uint32_t cap)
{
	struct val o;

	o.k = V_OBJ;
	o.n = 0;
	o.u.pairs = arena_alloc(c, (size_t)cap * sizeof(struct pair));
	return o;
}

/* a mapping's target value, its source converted: 1 with *out set, 0 to
 * leave the target out, -1: libjq */
static int
mapping_value(struct ctx *c, const struct fp *f, const struct fmap *m,
    struct val *out)
{
	struct val v;

	if (mapping_src(c, f, m, &v) < 0)
		return -1;
	return mapping_conv(c, m, &v, out);
}

/* the twin id of a record with no $dtId entry: 1 set, -1 libjq */
static int
mapping_file_id(struct ctx *c, const struct fp *f, struct val *id)
{
	struct fmap fm;

	memset(&fm, 0, sizeof(fm));
	fm.special = S_FILENAME;
	if (mapping_src(c, f, &fm, id) < 0)
		return -1;
	deref(c, id);
	if (id->k == V_NULL || (id->k == V_STR && id->n == 0))
		return -1;	/* _tp_noid */
	return 1;
}

static int
id_empty(const struct val *v)
{
	return v->k == V_NULL || (v->k == V_STR && v->n == 0);
}

/* {"$dtId","$op":"patch","$patch":[{"op":"add","path","value"}...]} */
static int
mapping_run_patch(struct ctx *c, const struct fp *f, struct val *res)
{
	struct val id, ops;
	uint32_t i;
	int have_id = 0;

	id.k = V_NULL;
	ops.k = V_ARR;
	ops.n = 0;
	ops.u.elems = arena_alloc(c, ((size_t)f->nmaps + 1) *
	    sizeof(struct val));
	for (i = 0; i < f->nmaps; i++) {
		const struct fmap *m = &f->maps[i];
		struct val cv, op;
		int r;

		if ((r = mapping_value(c, f, m, &cv)) < 0)
			return -1;
		if (r == 0)
			continue;
		if (m->is_id) {
			id = cv;
			have_id = 1;
			continue;
		}
		op = new_obj(c, 3);
		obj_set(c, &op, "op", 2, mkstr("add", 3), 3);
		obj_set(c, &op, "path", 4, mkstr(m->ptr, m->ptrlen), 3);
		obj_set(c, &op, "value", 5, cv, 3);
		ops.u.elems[ops.n++] = op;
	}
	if (f->id_file) {
		if (mapping_file_id(c, f, &id) < 0)
			return -1;
	} else if (!have_id || id_empty(&id)) {
		return -1;
	}
	*res = new_obj(c, 3);
	obj_set(c, res, "$dtId", 5, id, 3);
	obj_set(c, res, "$op", 3, mkstr("patch", 5), 3);
	obj_set(c, res, "$patch", 6, ops, 3);
	return 0;
}

int
mapping_run(struct ctx *c, const struct fp *f, struct val *res)
{
	uint32_t cap = f->nmaps + 3, i, j;

	if (f->patch)
		return mapping_run_patch(c, f, res);
	*res = new_obj(c, cap);
	if (f->id_file) {
		struct val id;

		if (mapping_file_id(c, f, &id) < 0)
			return -1;
		obj_set(c, res, "$dtId", 5, id, cap);
	}
	for (i = 0; i < f->nmaps; i++) {
		const struct fmap *m = &f->maps[i];
		struct val cv, *o;
		int r;

		if ((r = mapping_value(c, f, m, &cv)) < 0)
			return -1;
		if (r == 0)
			continue;
		/* setpath: objects along the way, created as needed */
		o = res;
		for (j = 0; j + 1 < m->plen; j++) {
			uint32_t k;

			for (k = 0; k < o->n; k++)
				if (o->u.pairs[k].klen == m->plens[j] &&
				    memcmp(o->u.pairs[k].key, m->path[j],
				    m->plens[j]) == 0)
					break;
			if (k == o->n) {
				if (obj_set(c, o, m->path[j], m->plens[j],
				    new_obj(c, cap), cap) < 0)
					return -1;
			} else if (o->u.pairs[k].v.k != V_OBJ) {
				return -1;	/* jq: cannot index */
			}
			o = &o->u.pairs[k].v;
		}
		if (obj_set(c, o, m->path[j], m->plens[j], cv, cap) < 0)
			return -1;
	}
	if (f->model != NULL) {
		struct val *md = NULL, mv;

		for (i = 0; i < res->n; i++)
			if (res->u.pairs[i].klen == 9 &&
			    memcmp(res->u.pairs[i].key, "$metadata", 9) == 0)
				md = &res->u.pairs[i].v;
		mv = mkstr(f->model, strlen(f->model));
		if (md == NULL) {
			struct val o = new_obj(c, cap);

			obj_set(c, &o, "$model", 6, mv, cap);
			if (obj_set(c, res, "$metadata", 9, o, cap) < 0)
				return -1;
		} else if (md->k == V_OBJ) {
			for (i = 0; i < md->n; i++)
				if (md->u.pairs[i].klen == 6 &&
				    memcmp(md->u.pairs[i].key, "$model", 6) ==
				    0 && md->u.pairs[i].v.k != V_NULL)
					break;
			if (i == md->n && obj_set(c, md, "$model", 6, mv,
			    cap) < 0)
				return -1;
		} else {
			return -1;
		}
	}
	if (!f->id_file) {
		for (i = 0; i < res->n; i++)
			if (res->u.pairs[i].klen == 5 &&
			    memcmp(res->u.pairs[i].key, "$dtId", 5) == 0)
				break;
		if (i == res->n || id_empty(&res->u.pairs[i].v))
			return -1;	/* no twin id: libjq says so */
	}
	return 0;
}
