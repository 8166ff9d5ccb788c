#include "stats.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "metrics.h"

#define MAX_COUNTERS 64

static struct {
	const char *name;
	uint64_t v;
} counters[MAX_COUNTERS];
static int ncounters;
static unsigned ticks;
static int progress_shown;
static int tty = -1;
static time_t last;
static void (*refresh)(void *);
static void *refresh_ctx;

void
stats_set_refresh(void (*fn)(void *), void *ctx)
{
	refresh = fn;
	refresh_ctx = ctx;
}

uint64_t *
stats_counter(const char *name)
{
	int i;

	for (i = 0; i < ncounters; i++)
		if (strcmp(counters[i].name, name) == 0)
			return &counters[i].v;
	if (ncounters == MAX_COUNTERS)
		xalloc_check(NULL);
	counters[ncounters].name = xstrdup(name);	/* kept to exit */
	counters[ncounters].v = 0;
	return &counters[ncounters++].v;
}

void
stats_add(const char *name, uint64_t v)
{
	*stats_counter(name) += v;
}

uint64_t
stats_get(const char *name)
{
	return *stats_counter(name);
}

int
stats_nth(int i, const char **name, uint64_t *v)
{
	if (i < 0 || i >= ncounters)
		return -1;
	*name = counters[i].name;
	*v = counters[i].v;
	return 0;
}

void
stats_finish(enum stats_mode mode, int status)
{
	stats_summary(mode);
	(void)metrics_finish(status);
}

static void
format_counters(struct buf *b, int json)
{
	int i;

	for (i = 0; i < ncounters; i++) {
		if (json)
			buf_printf(b, "%s\"%s\":%llu", i ? "," : "",
			    counters[i].name,
			    (unsigned long long)counters[i].v);
		else
			buf_printf(b, "%s%s=%llu", i ? " " : "",
			    counters[i].name,
			    (unsigned long long)counters[i].v);
	}
}

void
stats_progress_clear(void)
{
	if (progress_shown) {
		(void)!write(2, "\r\033[K", 4);
		progress_shown = 0;
	}
}

void
stats_summary(enum stats_mode mode)
{
	struct buf b = BUF_INIT;

	stats_progress_clear();
	if (mode == STATS_NONE)
		return;
	if (mode == STATS_JSON) {
		buf_printf(&b, "{\"prog\":\"%s\",\"summary\":{", log_prog());
		format_counters(&b, 1);
		buf_adds(&b, "}}\n");
	} else {
		buf_printf(&b, "%s: summary: ", log_prog());
		format_counters(&b, 0);
		buf_addc(&b, '\n');
	}
	(void)!write(2, b.p, b.len);
	buf_release(&b);
}

void
stats_tick(void)
{
	if ((++ticks & 0xffff) != 0 && !metrics_active())
		return;
	stats_progress();
}

void
stats_progress(void)
{
	struct buf b = BUF_INIT;
	time_t now;

	if (tty < 0) {
		tty = isatty(2) && !log_is_json();
		if (tty)
			log_set_progress_clear(stats_progress_clear);
	}
	if (!tty && !metrics_active())
		return;
	now = time(NULL);
	if (now == last)
		return;
	last = now;
	if (refresh != NULL)
		refresh(refresh_ctx);
	metrics_tick();
	if (!tty)
		return;
	buf_printf(&b, "\r%s: ", log_prog());
	format_counters(&b, 0);
	buf_adds(&b, "\033[K");
	(void)!write(2, b.p, b.len);
	progress_shown = 1;
	buf_release(&b);
}
