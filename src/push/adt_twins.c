/*
 * adt_twins.c - a chained hash table of twin ids (FNV-1a).
 */
#include "adt_twins.h"
#include "fnv.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"

struct adt_twins {
	struct adt_twin **slot;
	size_t nslot, n;
};

static uint64_t
adt_twins_hash(const char *s)
{
	return fnv1a64(s, strlen(s));
}

struct adt_twins *
adt_twins_new(void)
{
	struct adt_twins *t = xcalloc(1, sizeof(*t));

	t->nslot = 1024;
	t->slot = xcalloc(t->nslot, sizeof(*t->slot));
	return t;
}

void
adt_twins_free(struct adt_twins *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nslot; i++) {
		struct adt_twin *e = t->slot[i], *nx;

		for (; e != NULL; e = nx) {
			nx = e->next_;
			free(e->id);
			free(e);
		}
	}
	free(t->slot);
	free(t);
}

struct adt_twin *
adt_twins_find(const struct adt_twins *t, const char *id)
{
	struct adt_twin *e = t->slot[adt_twins_hash(id) & (t->nslot - 1)];

	for (; e != NULL; e = e->next_)
		if (strcmp(e->id, id) == 0)
			return e;
	return NULL;
}

static void
adt_twins_grow(struct adt_twins *t)
{
	size_t n = t->nslot * 2, i;
	struct adt_twin **s = xcalloc(n, sizeof(*s));

	for (i = 0; i < t->nslot; i++) {
		struct adt_twin *e = t->slot[i], *nx;

		for (; e != NULL; e = nx) {
			size_t h = adt_twins_hash(e->id) & (n - 1);

			nx = e->next_;
			e->next_ = s[h];
			s[h] = e;
		}
	}
	free(t->slot);
	t->slot = s;
	t->nslot = n;
}

struct adt_twin *
adt_twins_get(struct adt_twins *t, const char *id)
{
	struct adt_twin *e = adt_twins_find(t, id);
	size_t h;

	if (e != NULL)
		return e;
	if (t->n >= t->nslot)
		adt_twins_grow(t);
	e = xcalloc(1, sizeof(*e));
	e->id = xstrdup(id);
	h = adt_twins_hash(id) & (t->nslot - 1);
	e->next_ = t->slot[h];
	t->slot[h] = e;
	t->n++;
	return e;
}

size_t
adt_twins_count(const struct adt_twins *t)
{
	return t->n;
}

void
adt_twins_sweep(struct adt_twins *t, int64_t now_ms)
{
	size_t i;

	for (i = 0; i < t->nslot; i++) {
		struct adt_twin **pp = &t->slot[i], *e;

		while ((e = *pp) != NULL) {
			if (e->parked == NULL && e->incoming == NULL &&
			    e->done_create ==
			    e->last_create && e->next_ms <= now_ms) {
				*pp = e->next_;
				free(e->id);
				free(e);
				t->n--;
			} else {
				pp = &e->next_;
			}
		}
	}
}
