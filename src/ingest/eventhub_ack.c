/*
 * eventhub_ack.c - acknowledgement tracking (see eventhub_ack.h).
 */
#include "eventhub_ack.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"

void
eh_ack_release(struct eh_ack *a)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < a->n; i++) {
		free(a->p[i].off);
		free(a->p[i].acked);
	}
	free(a->p);
	memset(a, 0, sizeof(*a));
}

struct eh_ack_part *
eh_ack_part(struct eh_ack *a, int32_t partition, int create)
{
	struct eh_ack_part *p;
	size_t i;

	for (i = 0; i < a->n; i++)
		if (a->p[i].partition == partition)
			return &a->p[i];
	if (!create)
		return NULL;
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 16;
		a->p = xrealloc(a->p, a->cap * sizeof(*a->p));
	}
	p = &a->p[a->n++];
	memset(p, 0, sizeof(*p));
	p->partition = partition;
	p->commit = -1;
	p->committed = -1;
	p->gen = ++a->gens;
	return p;
}

#define AT(p, k) (((p)->head + (k)) % (p)->cap)

/* Move the commit position past the acknowledged head of p. */
static void
pop_acked(struct eh_ack *a, struct eh_ack_part *p)
{
	while (p->n > 0 && p->acked[p->head]) {
		p->commit = p->off[p->head] + 1;
		p->head = (p->head + 1) % p->cap;
		p->n--;
		a->in_flight--;
	}
}

void
eh_ack_sent(struct eh_ack *a, int32_t partition, int64_t offset)
{
	struct eh_ack_part *p = eh_ack_part(a, partition, 1);

	if (p->n > 0 && p->off[AT(p, p->n - 1)] >= offset) {
		a->in_flight -= p->n;
		p->n = 0;
		p->head = 0;
		p->gen = ++a->gens;
	}
	if (p->n == p->cap) {
		size_t nc = p->cap ? p->cap * 2 : 64, k;
		int64_t *o = xmalloc(nc * sizeof(*o));
		unsigned char *d = xmalloc(nc);

		for (k = 0; k < p->n; k++) {
			o[k] = p->off[AT(p, k)];
			d[k] = p->acked[AT(p, k)];
		}
		free(p->off);
		free(p->acked);
		p->off = o;
		p->acked = d;
		p->cap = nc;
		p->head = 0;
	}
	p->off[AT(p, p->n)] = offset;
	p->acked[AT(p, p->n)] = 0;
	p->n++;
	a->in_flight++;
}

int
eh_ack_done(struct eh_ack *a, int32_t partition, int64_t offset)
{
	struct eh_ack_part *p = eh_ack_part(a, partition, 0);
	size_t lo = 0, hi, mid;

	if (p == NULL || p->n == 0)
		return 0;
	hi = p->n;
	while (lo < hi) {	/* first k with off[k] >= offset */
		mid = lo + (hi - lo) / 2;
		if (p->off[AT(p, mid)] < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == p->n || p->off[AT(p, lo)] != offset ||
	    p->acked[AT(p, lo)])
		return 0;
	p->acked[AT(p, lo)] = 1;
	pop_acked(a, p);
	return 1;
}

int
eh_ack_last(const struct eh_ack *a, int32_t partition, int64_t *offset,
    uint64_t *gen)
{
	size_t i;

	for (i = 0; i < a->n; i++) {
		const struct eh_ack_part *p = &a->p[i];

		if (p->partition != partition)
			continue;
		if (p->n == 0)
			return -1;
		*offset = p->off[AT(p, p->n - 1)];
		*gen = p->gen;
		return 0;
	}
	return -1;
}

size_t
eh_ack_upto(struct eh_ack *a, int32_t partition, uint64_t gen,
    int64_t offset)
{
	struct eh_ack_part *p = eh_ack_part(a, partition, 0);
	size_t k, done = 0;

	if (p == NULL || p->gen != gen)
		return 0;
	for (k = 0; k < p->n && p->off[AT(p, k)] <= offset; k++) {
		if (!p->acked[AT(p, k)]) {
			p->acked[AT(p, k)] = 1;
			done++;
		}
	}
	pop_acked(a, p);
	return done;
}

void
eh_ack_drop(struct eh_ack *a, int32_t partition)
{
	size_t i;

	for (i = 0; i < a->n; i++) {
		if (a->p[i].partition != partition)
			continue;
		a->in_flight -= a->p[i].n;
		free(a->p[i].off);
		free(a->p[i].acked);
		a->p[i] = a->p[--a->n];
		return;
	}
}

void
eh_budget_split(size_t budget, struct eh_budget *b)
{
	size_t prefetch = budget - budget / 4;

	b->out_bytes = budget / 4 > 4096 ? budget / 4 : 4096;
	b->kafka_kbytes = prefetch / 8 / 1024;
	if (b->kafka_kbytes < 64)
		b->kafka_kbytes = 64;
	b->kafka_messages = prefetch / 600;
	if (b->kafka_messages < 100)
		b->kafka_messages = 100;
}

uint32_t
eh_budget_credit(size_t budget, int partitions, uint32_t max_credit)
{
	size_t per = (budget - budget / 4) / 1024 /
	    (size_t)(partitions > 0 ? partitions : 1);

	if (per < 1)
		per = 1;
	return per < max_credit ? (uint32_t)per : max_credit;
}
