/*
 * metrics.h - the program's counters in the Prometheus text exposition
 * format (version 0.0.4), for node_exporter's textfile collector, a
 * Pushgateway, or a scrape of --metrics-listen.
 *
 * Three sources make one page:
 *  - the stats.h counters of the summary line, mapped to metric names by
 *    one table in metrics.c ("in" -> twinpipe_records_in_total, "ok" ->
 *    twinpipe_records_total{outcome="ok"}, "twin.upsert.200" ->
 *    twinpipe_adt_operations_total{kind="twin",op="upsert",status="200"},
 *    unknown NAME -> twinpipe_NAME_total); their values are copied by the
 *    main thread in metrics_tick(), so other threads never read them;
 *  - series that modules register here (counters, gauges, histograms with
 *    labels), under a mutex, from any thread;
 *  - the process: twinpipe_up, twinpipe_start_time_seconds,
 *    twinpipe_run_seconds, twinpipe_build_info and, in the last write of a
 *    run, twinpipe_exit_code and twinpipe_last_success_timestamp_seconds
 *    (the time of the last run that exited 0: a failed run keeps the value
 *    its file had).
 * Every series has the label program="PROG".
 *
 * The common options --metrics-file FILE and --metrics-interval DURATION
 * (cli.c) fill metrics_opt; a program that serves HTTP adds
 * --metrics-listen ADDR:PORT to its own table (dest &metrics_opt.listen)
 * and calls metrics_listen_start() once its options are checked.
 */
#ifndef TP_METRICS_H
#define TP_METRICS_H

#include "buf.h"

struct metrics_opts {
	const char *file;	/* --metrics-file, or NULL */
	double interval;	/* --metrics-interval, seconds; 0: at exit */
	const char *listen;	/* --metrics-listen ADDR:PORT, or NULL */
};
extern struct metrics_opts metrics_opt;

enum metrics_type { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM };

/*
 * Labels are given preformatted: `service="adt",status="200"` (or NULL for
 * none); values from outside go through metrics_label() first. Families
 * that metrics.c does not know need a metrics_describe() first (else they
 * are typed untyped-as-gauge with a generic help). These functions can't
 * fail and are safe from any thread.
 */
void metrics_describe(const char *family, enum metrics_type type,
    const char *help);
void metrics_add(const char *family, const char *labels, double v);
void metrics_set(const char *family, const char *labels, double v);
/* Drop every series of family. */
void metrics_clear(const char *family);
/*
 * Drop the series of family that were not metrics_set() since the last
 * sweep (a partition was revoked): set the current ones, then sweep, and
 * a scrape in between never sees the family missing.
 */
void metrics_sweep(const char *family);
/* Count v into a histogram with the fixed buckets of metrics.c (latency
 * in seconds: 5ms .. 60s). */
void metrics_observe(const char *family, const char *labels, double v);

/* Append v escaped for a label value (backslash, quote, newline). */
void metrics_label(struct buf *b, const char *v);

/* Append the whole page to b. Safe from any thread; can't fail. */
void metrics_render(struct buf *b);

/*
 * Called by stats_progress() at most once a second from the main thread:
 * copies the stats counters, marks the loop alive for /healthz and writes
 * --metrics-file when --metrics-interval is due. Can't fail.
 */
void metrics_tick(void);
/* 1 if --metrics-file or --metrics-listen is set. */
int metrics_active(void);

/*
 * The end of a run (stats_finish() calls it): the last copy of the
 * counters, the exit status, and the final --metrics-file write. Stops the
 * listener. Returns 0, or -1 if the file could not be written (logged).
 */
int metrics_finish(int status);

/*
 * Write the page to path atomically: a temporary file in the same
 * directory, fsync'd, then rename(2). Returns 0, or -1 with a message
 * logged (the run goes on: metrics never fail a pipeline).
 */
int metrics_write_file(const char *path);

/*
 * Serve /metrics, /healthz and /readyz on addr ("HOST:PORT", port 0:
 * any; the bound address is logged at info level and returned in bound,
 * may be NULL) with a thread of libmicrohttpd. /healthz answers 200 while
 * the main loop calls metrics_tick() (stats_progress()) at least every
 * 30 s (or 3 intervals) if metrics_expect_heartbeat() was called, else
 * as long as the process answers; /readyz answers 200 after
 * metrics_set_ready(1). Returns 0, or -1 after logging why.
 */
int metrics_listen_start(const char *addr, struct buf *bound);
/*
 * Say that the main loop calls stats_progress() on every turn, idle or
 * not (ingest-eventhub, twin-emulator): only then does /healthz answer
 * 503 when it was not seen for 30 s. Without it /healthz is 200 while the
 * process answers (a push program waits on its input for as long as it
 * likes). Can't fail.
 */
void metrics_expect_heartbeat(void);
void metrics_listen_stop(void);
/* Readiness for /readyz; safe from any thread. */
void metrics_set_ready(int ready);

/* Forget everything (for unit tests). */
void metrics_reset(void);

#endif
