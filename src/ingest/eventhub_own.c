/*
 * eventhub_own.c - partition ownership shared through the checkpoint
 * store, balanced as the SDKs' processors balance it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "eventhub_own.h"
#include "log.h"

struct eh_lb {
	struct eh_ckpt_dir *d;
	int32_t *ids;
	size_t n;
	double expiry;
	char id[40];
	struct eh_own *o;	/* last seen, per partition */
	unsigned char *mine;
	const char **owner;	/* scratch for eh_lb_pick */
	uint64_t rng;
};

static uint64_t
next_rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

int
eh_lb_pick(const char *const *owner, size_t n, const char *me,
    uint64_t rnd)
{
	const char **name;
	size_t *cnt, k = 0, i, j, mine = 0, share, extra, at_max = 0;
	size_t unowned = 0, big = 0, nbig = 0, want;
	int pick = -1;

	if (n == 0)
		return -1;
	name = xcalloc(n + 1, sizeof(*name));
	cnt = xcalloc(n + 1, sizeof(*cnt));
	name[k++] = me;		/* slot 0: this instance */
	for (i = 0; i < n; i++) {
		if (owner[i] == NULL || owner[i][0] == '\0') {
			unowned++;
			continue;
		}
		for (j = 0; j < k && strcmp(name[j], owner[i]) != 0; j++)
			;
		if (j == k)
			name[k++] = owner[i];
		cnt[j]++;
	}
	mine = cnt[0];
	share = n / k;
	extra = n % k;
	for (j = 1; j < k; j++) {
		if (cnt[j] > share)
			at_max++;
		if (cnt[j] > big) {
			big = cnt[j];
			nbig = 0;
		}
		if (cnt[j] == big)
			nbig++;
	}
	if (mine >= share + (extra > 0) ||
	    (mine >= share && at_max >= extra))
		goto out;	/* this instance holds its share */
	if (unowned > 0) {
		want = (size_t)(rnd % unowned);
		for (i = 0; i < n; i++)
			if ((owner[i] == NULL || owner[i][0] == '\0') &&
			    want-- == 0) {
				pick = (int)i;
				break;
			}
		goto out;
	}
	if (big < mine + 2)
		goto out;	/* stealing would not even things out */
	/* one of the owners holding the most, then one of its partitions */
	want = (size_t)(rnd % nbig);
	for (j = 1; j < k; j++)
		if (cnt[j] == big && want-- == 0)
			break;
	want = (size_t)((rnd >> 16) % big);
	for (i = 0; i < n; i++)
		if (owner[i] != NULL && strcmp(owner[i], name[j]) == 0 &&
		    want-- == 0) {
			pick = (int)i;
			break;
		}
out:
	free(name);
	free(cnt);
	return pick;
}

struct eh_lb *
eh_lb_new(struct eh_ckpt_dir *d, const int32_t *ids, size_t n,
    double expiry)
{
	struct eh_lb *lb = xcalloc(1, sizeof(*lb));
	unsigned char r[16];
	struct timespec ts;
	size_t i;
	int fd;

	lb->d = d;
	lb->n = n;
	lb->expiry = expiry;
	lb->ids = xcalloc(n + 1, sizeof(*lb->ids));
	memcpy(lb->ids, ids, n * sizeof(*ids));
	lb->o = xcalloc(n + 1, sizeof(*lb->o));
	lb->mine = xcalloc(n + 1, 1);
	lb->owner = xcalloc(n + 1, sizeof(*lb->owner));
	for (i = 0; i < n; i++) {
		lb->o[i].partition = ids[i];
		lb->o[i].mtime = -1;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	memset(r, 0, sizeof(r));
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, r, sizeof(r)) != (ssize_t)sizeof(r)) {
		uint64_t s = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32)
		    ^ (uint64_t)ts.tv_sec;

		for (i = 0; i < sizeof(r); i++)
			r[i] = (unsigned char)next_rnd(&s);
	}
	if (fd >= 0)
		close(fd);
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);	/* a v4 UUID */
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	snprintf(lb->id, sizeof(lb->id), "%02x%02x%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4],
	    r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14],
	    r[15]);
	memcpy(&lb->rng, r, sizeof(lb->rng));
	if (lb->rng == 0)
		lb->rng = 88172645463325252ULL;
	return lb;
}

void
eh_lb_free(struct eh_lb *lb)
{
	if (lb == NULL)
		return;
	free(lb->ids);
	free(lb->o);
	free(lb->mine);
	free(lb->owner);
	free(lb);
}

const char *
eh_lb_id(const struct eh_lb *lb)
{
	return lb->id;
}

double
eh_lb_interval(const struct eh_lb *lb)
{
	double t = lb->expiry / 6;

	return t < 0.2 ? 0.2 : t > 10 ? 10 : t;
}

size_t
eh_lb_held(const struct eh_lb *lb)
{
	size_t i, k = 0;

	for (i = 0; i < lb->n; i++)
		k += lb->mine[i];
	return k;
}

void
eh_lb_lost(struct eh_lb *lb, int32_t p)
{
	size_t i;

	for (i = 0; i < lb->n; i++)
		if (lb->ids[i] == p)
			lb->mine[i] = 0;
}

int
eh_lb_cycle(struct eh_lb *lb, time_t now,
    int (*add)(void *, int32_t, int64_t), void (*drop)(void *, int32_t),
    void *ctx, struct buf *err)
{
	struct buf e = BUF_INIT;
	size_t i, round;
	int k;

	for (i = 0; i < lb->n; i++)
		if (eh_own_get(lb->d, &lb->o[i], err) < 0)
			return -1;
	for (i = 0; i < lb->n; i++) {
		struct eh_own *o = &lb->o[i];
		int alive = o->owner[0] != '\0' && (o->mtime < 0 ||
		    difftime(now, o->mtime) < lb->expiry);

		lb->owner[i] = alive ? o->owner : "";
		if (!lb->mine[i])
			continue;
		if (strcmp(o->owner, lb->id) != 0 || o->etag[0] == '\0') {
			log_info("ownership of partition %d taken by %s",
			    (int)o->partition, o->owner[0] ? o->owner :
			    "nobody");
			lb->mine[i] = 0;
			drop(ctx, o->partition);
			continue;
		}
		e.len = 0;
		k = eh_own_set(lb->d, o, lb->id, &e);
		if (k == 0) {
			log_info("ownership of partition %d lost while "
			    "renewing it", (int)o->partition);
			lb->mine[i] = 0;
			lb->owner[i] = "?";
			drop(ctx, o->partition);
		} else if (k < 0) {
			log_warn("%s (retried next cycle)", buf_cstr(&e));
		}
		if (lb->mine[i])
			lb->owner[i] = lb->id;
	}
	for (round = 0; round < lb->n; round++) {
		int j = eh_lb_pick(lb->owner, lb->n, lb->id,
		    next_rnd(&lb->rng));
		struct eh_own *o;
		char prev[64];
		int stolen;

		if (j < 0)
			break;
		o = &lb->o[j];
		stolen = lb->owner[j][0] != '\0';
		snprintf(prev, sizeof(prev), "%s", lb->owner[j]);
		e.len = 0;
		k = eh_own_set(lb->d, o, lb->id, &e);
		if (k < 0) {
			log_warn("%s (retried next cycle)", buf_cstr(&e));
			break;
		}
		if (k == 0) {
			lb->owner[j] = "?";	/* another was faster */
			continue;
		}
		log_info("claimed partition %d%s%s", (int)o->partition,
		    stolen ? " from " : "", stolen ? prev : "");
		lb->mine[j] = 1;
		lb->owner[j] = lb->id;
		if (add(ctx, o->partition, clock_wall_ms()) < 0) {
			lb->mine[j] = 0;
			e.len = 0;
			(void)eh_own_set(lb->d, o, "", &e);
			break;
		}
	}
	buf_release(&e);
	return 0;
}

void
eh_lb_release(struct eh_lb *lb)
{
	struct buf e = BUF_INIT;
	size_t i;

	for (i = 0; i < lb->n; i++) {
		if (!lb->mine[i])
			continue;
		e.len = 0;
		if (eh_own_set(lb->d, &lb->o[i], "", &e) < 0)
			log_warn("%s", buf_cstr(&e));
		lb->mine[i] = 0;
	}
	buf_release(&e);
}
