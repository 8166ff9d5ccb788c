/*
 * keyq.c - per-key FIFOs (see keyq.h): a chained hash table of active
 * keys, each with a singly linked list of waiting items.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fnv.h"
#include "keyq.h"

struct keyq_node {
	void *item;
	struct keyq_node *next;
};

struct keyq_key {
	struct keyq_key *next;		/* in its bucket */
	uint64_t hash;
	struct keyq_node *head, *tail;	/* waiting items */
	char name[];
};

struct keyq {
	struct keyq_key **b;
	size_t nb;			/* a power of two */
	size_t nkeys;
	size_t nwaiting;
};

static uint64_t
keyq_hash(const char *s)
{
	return fnv1a64(s, strlen(s));
}

struct keyq *
keyq_new(void)
{
	struct keyq *q = xcalloc(1, sizeof(*q));

	q->nb = 64;
	q->b = xcalloc(q->nb, sizeof(*q->b));
	return q;
}

void
keyq_free(struct keyq *q, void (*free_item)(void *item))
{
	struct keyq_key *k, *kn;
	struct keyq_node *n, *nn;
	size_t i;

	if (q == NULL)
		return;
	for (i = 0; i < q->nb; i++)
		for (k = q->b[i]; k != NULL; k = kn) {
			kn = k->next;
			for (n = k->head; n != NULL; n = nn) {
				nn = n->next;
				if (free_item != NULL)
					free_item(n->item);
				free(n);
			}
			free(k);
		}
	free(q->b);
	free(q);
}

/* The slot that points at key's entry, or at the NULL ending its chain. */
static struct keyq_key **
keyq_slot(const struct keyq *q, const char *key, uint64_t h)
{
	struct keyq_key **p = &q->b[h & (q->nb - 1)];

	while (*p != NULL && ((*p)->hash != h || strcmp((*p)->name, key) != 0))
		p = &(*p)->next;
	return p;
}

static void
keyq_rehash(struct keyq *q)
{
	struct keyq_key **nb, *k, *kn;
	size_t i, n = q->nb * 2;

	nb = xcalloc(n, sizeof(*nb));
	for (i = 0; i < q->nb; i++)
		for (k = q->b[i]; k != NULL; k = kn) {
			kn = k->next;
			k->next = nb[k->hash & (n - 1)];
			nb[k->hash & (n - 1)] = k;
		}
	free(q->b);
	q->b = nb;
	q->nb = n;
}

int
keyq_push(struct keyq *q, const char *key, void *item)
{
	uint64_t h = keyq_hash(key);
	struct keyq_key **p = keyq_slot(q, key, h), *k;
	struct keyq_node *n;
	size_t len;

	if ((k = *p) != NULL) {
		n = xmalloc(sizeof(*n));
		n->item = item;
		n->next = NULL;
		if (k->tail != NULL)
			k->tail->next = n;
		else
			k->head = n;
		k->tail = n;
		q->nwaiting++;
		return 0;
	}
	len = strlen(key);
	k = xmalloc(sizeof(*k) + len + 1);
	memcpy(k->name, key, len + 1);
	k->hash = h;
	k->head = k->tail = NULL;
	k->next = NULL;
	*p = k;
	if (++q->nkeys > q->nb)
		keyq_rehash(q);
	return 1;
}

void *
keyq_done(struct keyq *q, const char *key)
{
	struct keyq_key **p = keyq_slot(q, key, keyq_hash(key)), *k;
	struct keyq_node *n;
	void *item;

	if ((k = *p) == NULL)
		return NULL;
	if ((n = k->head) == NULL) {
		*p = k->next;
		free(k);
		q->nkeys--;
		return NULL;
	}
	k->head = n->next;
	if (k->head == NULL)
		k->tail = NULL;
	item = n->item;
	free(n);
	q->nwaiting--;
	return item;
}

void *
keyq_last_waiting(const struct keyq *q, const char *key)
{
	const struct keyq_key *k = *keyq_slot(q, key, keyq_hash(key));

	return k != NULL && k->tail != NULL ? k->tail->item : NULL;
}

int
keyq_busy(const struct keyq *q, const char *key)
{
	return *keyq_slot(q, key, keyq_hash(key)) != NULL;
}

size_t
keyq_active(const struct keyq *q)
{
	return q->nkeys;
}

size_t
keyq_waiting(const struct keyq *q)
{
	return q->nwaiting;
}
