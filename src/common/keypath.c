/*
 * keypath.c - simple jq key paths on a tape.
 */
#include "keypath.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"

struct kp_step {
	char *name;
	size_t len;
};

struct kp_alt {
	struct kp_step *step;
	size_t nstep;
};

struct keypath {
	struct kp_alt *alt;
	size_t nalt;
};

void
keypath_free(struct keypath *kp)
{
	size_t i, j;

	if (kp == NULL)
		return;
	for (i = 0; i < kp->nalt; i++) {
		for (j = 0; j < kp->alt[i].nstep; j++)
			free(kp->alt[i].step[j].name);
		free(kp->alt[i].step);
	}
	free(kp->alt);
	free(kp);
}

static const char *
skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	return s;
}

/* A JSON string literal at s: its decoded text into *name. Returns the
 * position after it, or NULL. */
static const char *
str_lit(const char *s, char **name, size_t *len)
{
	const char *e = s + 1;
	struct json_err je;
	jv v;

	if (*s != '"')
		return NULL;
	while (*e != '"') {
		if (*e == '\0')
			return NULL;
		if (*e == '\\') {
			if (e[1] == '(' || e[1] == '\0')
				return NULL;	/* interpolation */
			e++;
		}
		e++;
	}
	e++;
	if (json_parse(s, (size_t)(e - s), &v, NULL, &je) < 0)
		return NULL;
	*len = (size_t)jv_string_length_bytes(jv_copy(v));
	*name = xmalloc(*len + 1);
	memcpy(*name, jv_string_value(v), *len);
	(*name)[*len] = '\0';
	jv_free(v);
	return e;
}

static void
add_step(struct kp_alt *a, char *name, size_t len)
{
	a->step = xrealloc(a->step, (a->nstep + 1) * sizeof(*a->step));
	a->step[a->nstep].name = name;
	a->step[a->nstep].len = len;
	a->nstep++;
}

struct keypath *
keypath_parse(const char *expr)
{
	struct keypath *kp = xcalloc(1, sizeof(*kp));
	const char *s = skip_ws(expr);

	for (;;) {
		struct kp_alt *a;
		int nsteps = 0, dot_only = 0;

		kp->alt = xrealloc(kp->alt, (kp->nalt + 1) * sizeof(*kp->alt));
		a = &kp->alt[kp->nalt++];
		a->step = NULL;
		a->nstep = 0;
		for (;;) {
			char *name;
			size_t len;

			s = skip_ws(s);
			if (*s == '.') {
				s++;
				if (*s == '_' || (*s >= 'A' && *s <= 'Z') ||
				    (*s >= 'a' && *s <= 'z')) {
					const char *b = s;

					while (*s == '_' || (*s >= 'A' &&
					    *s <= 'Z') || (*s >= 'a' &&
					    *s <= 'z') || (*s >= '0' &&
					    *s <= '9'))
						s++;
					len = (size_t)(s - b);
					name = xmalloc(len + 1);
					memcpy(name, b, len);
					name[len] = '\0';
				} else if (*s == '"') {
					if ((s = str_lit(s, &name, &len)) ==
					    NULL)
						goto fail;
				} else if (*s == '[') {
					continue;	/* .[ "x" ] */
				} else {
					dot_only = 1;
					break;
				}
			} else if (*s == '[') {
				s = skip_ws(s + 1);
				if ((s = str_lit(s, &name, &len)) == NULL)
					goto fail;
				s = skip_ws(s);
				if (*s != ']') {
					free(name);
					goto fail;
				}
				s++;
			} else {
				break;
			}
			add_step(a, name, len);
			nsteps++;
		}
		if (nsteps == 0 || dot_only)
			goto fail;	/* "." alone, "..": leave them to jq */
		s = skip_ws(s);
		if (s[0] == '/' && s[1] == '/') {
			s += 2;
			continue;
		}
		if (*s != '\0')
			goto fail;
		return kp;
	}
fail:
	keypath_free(kp);
	return NULL;
}

/* Member k of object obj (last one with duplicates), or 0. */
static uint32_t
member(const struct tape *t, uint32_t obj, const char *k, size_t kn)
{
	uint32_t i, m, found = 0;

	if (!(t->nodes[obj].flags & TAPE_DUPS))
		return tape_lookup(t, obj, k, kn);
	i = obj + 1;
	for (m = 0; m < t->nodes[obj].n; m++) {
		if (t->nodes[i].n == kn && (kn == 0 ||
		    memcmp(t->nodes[i].p, k, kn) == 0))
			found = i + 1;
		i = t->nodes[i + 1].next;
	}
	return found;
}

static uint32_t
eval_alt(const struct kp_alt *a, const struct tape *t, int *is_null)
{
	uint32_t i = 0;
	size_t s;

	for (s = 0; s < a->nstep; s++) {
		if (t->nodes[i].type != TAPE_OBJECT ||
		    (i = member(t, i, a->step[s].name, a->step[s].len)) == 0) {
			*is_null = 1;
			return 0;
		}
	}
	*is_null = t->nodes[i].type == TAPE_NULL;
	return i;
}

uint32_t
keypath_eval(const struct keypath *kp, const struct tape *t)
{
	uint32_t r = 0;
	size_t i;

	for (i = 0; i < kp->nalt; i++) {
		int is_null;

		r = eval_alt(&kp->alt[i], t, &is_null);
		if (is_null) {
			r = 0;
			continue;
		}
		if (t->nodes[r].type != TAPE_FALSE)
			return r;
	}
	/* the last alternative's value (jq: `a // b` is b) */
	return r;
}
