/*
 * push.h - what the programs that turn records into requests of the HTTP
 * engine (push-adt, push-cosmos) share, around their own state machines:
 *
 * - the options both have (struct push_opts, the table entries whose text
 *   is the same, their checks, the engine's and the credential's options
 *   made of them);
 * - the run's common state (struct push: the engine, the output, the dead
 *   letters, the records in flight, the counters in/ok/failed/control)
 *   and its start (stage, counters, dead letters, /readyz) and end;
 * - a line of input into a record: bad JSON or a bad record answered
 *   (result line, log, dead letter), a control record kept in order;
 * - control records passed through untouched after the results of the
 *   records read before them: they wait until no record is in flight;
 * - a record's failure: its message, the service's error, its dead letter
 *   (with status and attempts);
 * - the loop glue of stage_run_engine(): reading waits while the engine is
 *   full, the engine works before the reader blocks, and at the end every
 *   record read gets its result (a stop drains what is in flight 10 s).
 *
 * What each program keeps: its records, their requests and result lines,
 * its own waits (push-adt's timers and deferred relationships, push-cosmos'
 * versions and --reconcile), through the hooks of struct push_ops.
 *
 *	static const struct push_ops hooks = { .line = handle_line, ... };
 *
 *	push_begin(&g.p, &hooks, &st, argc, argv, first, "push-x", &op.push);
 *	... the engine (push_http_opts), g.p.e ...
 *	status = push_open_dlq(&g.p, &st, &op.push, "push-x");
 *	if ((status = push_ready(&st, status)) != 0)
 *		goto out;
 *	push_read(&g.p, &st);
 *	push_end(&g.p, &st);
 *	status = push_stage_end(&g.p, &st, common.stats);
 *   out:
 *	push_free(&g.p);
 */
#ifndef TP_PUSH_H
#define TP_PUSH_H

#include <stddef.h>
#include <stdint.h>

#include <jv.h>

#include "auth.h"
#include "buf.h"
#include "cli.h"
#include "http.h"
#include "json.h"
#include "metrics.h"
#include "ndjson.h"
#include "result.h"
#include "stage.h"

/* The options both programs have (their table entries are their own:
 * help text and environment variables differ). */
struct push_opts {
	const char *endpoint;
	const char *cacert;
	const char *credential;
	const char *dead_letter;
	const char *token_file;
	long concurrency;
	long max_attempts;
	double max_time;
	size_t max_line;
	int insecure;
	int http1;
};
#define PUSH_OPTS_DEFAULTS { .concurrency = 32, .max_attempts = 10, \
	.max_time = 300, .max_line = NDJSON_DEFAULT_MAX_LINE }

/* The table entries of the options whose text is the same in both. */
#define PUSH_OPT_DEAD_LETTER(o) \
	{ "dead-letter", 0, CLI_STR, &(o)->dead_letter, "FILE", \
	    "TWINPIPE_DEAD_LETTER", \
	    "append failed records with their error to FILE (NDJSON)", 0, \
	    NULL }
#define PUSH_OPT_HTTP1(o) \
	{ "http1", 0, CLI_FLAG, &(o)->http1, NULL, NULL, \
	    "use HTTP/1.1 only (no HTTP/2)", 0, NULL }
#define PUSH_OPT_INSECURE(o) \
	{ "insecure", 'k', CLI_FLAG, &(o)->insecure, NULL, NULL, \
	    "do not verify TLS certificates (tests only)", 0, NULL }
#define PUSH_OPT_MAX_LINE(o) \
	{ "max-line", 0, CLI_SIZE, &(o)->max_line, "SIZE", \
	    "TWINPIPE_MAX_LINE", "longest input line accepted " \
	    "(default 16M)", 0, NULL }
#define PUSH_OPT_METRICS_LISTEN \
	{ "metrics-listen", 0, CLI_STR, &metrics_opt.listen, "ADDR:PORT", \
	    NULL, "serve /metrics, /healthz and /readyz over HTTP on " \
	    "ADDR:PORT (port 0: any), e.g. when reading a stream", 0, NULL }

/*
 * The checks of the options (after the program's own): --concurrency
 * 1..1024, --max-attempts 1..1000, --max-time and the program's others
 * (others_bad: one of them is negative) not negative, --max-line 16..1G.
 * Returns 0, or -1 (reported).
 */
int push_check_opts(const struct cli_prog *prog, const struct push_opts *o,
    int others_bad, const char *others);

/* The credential's options (auth_from_options()). */
struct auth_cli push_auth_cli(const struct push_opts *o);

/* The engine's options from o (after http_opts_init()): requests in
 * flight, attempts, time per request, TLS, HTTP/1.1. */
void push_http_opts(struct http_opts *ho, const struct push_opts *o);

/* The program's side of a push run. */
struct push_ops {
	void (*line)(const struct ndjson_line *l);	/* one input line */
	/* one round of work: poll the engine at most timeout_ms (-1: until
	 * something happens); fd as http_poll() */
	void (*pump)(long timeout_ms, int fd, int *fd_ready);
	void (*start)(void);	/* start what is ready (after a drain) */
	int (*waiting)(void);	/* 1 while records wait outside the engine */
	/* before the reader blocks, instead of pump(-1, 0, ready): returns
	 * 1 to tick the metrics. May be NULL. */
	int (*idle)(int *ready);
	/* at the end, before each round (idle: nothing in flight or
	 * waiting): 1 if it did something. May be NULL. */
	int (*settle)(int idle);
	/* a control record read (consumed), before it is queued. May be
	 * NULL. */
	void (*control)(jv v);
	/* bad input answered (push_input_error()). May be NULL. */
	void (*invalid)(const char *code);
};

struct push {
	struct http_engine *e;	/* NULL: no requests (a dry run) */
	struct ndjson_writer *w;	/* the stage's standard output */
	struct dlq *dlq;	/* NULL without --dead-letter */
	struct json_numlits lits;
	size_t live;		/* records read and without a result yet */
	size_t parked;		/* of those, put aside: not counted as live
				 * when deciding whether reading waits */
	size_t max_live;	/* reading waits at this many live records */
	struct buf controls;	/* control records waiting for the records
				 * read before them to finish */
	uint64_t *c_in, *c_ok, *c_failed, *c_control;
	int no_results;		/* bad input gets no result line (dry run) */
	int fatal;
	const struct push_ops *ops;	/* the program's side */
};

/*
 * stage_begin() (the dead letters are opened later, push_open_dlq(), once
 * the credential works), then the output and the counters in, ok and
 * failed; reading waits at 1024 + 64 * --concurrency live records, lines
 * up to --max-line. Returns 0, or the exit code (stage_begin()).
 */
int push_begin(struct push *p, const struct push_ops *ops, struct stage *st,
    int argc, char **argv, int first, const char *prog,
    const struct push_opts *o);

/* The dead-letter file (o->dead_letter, may be NULL). Returns 0, or
 * EXIT_USAGE (reported). */
int push_open_dlq(struct push *p, struct stage *st,
    const struct push_opts *o, const char *prog);

/*
 * The setup is over with status: on 0, --metrics-listen started and the
 * program ready (/readyz); else, or when the listener cannot start
 * (EXIT_USAGE), the stage released. Returns 0, or the exit code.
 */
int push_ready(struct stage *st, int status);

/* stage_end() for a push run: every record read has a result. */
int push_stage_end(struct push *p, struct stage *st, enum stats_mode mode);

/* Releases the engine and the number literals. */
void push_free(struct push *p);

/*
 * The start of a line's handling: the record parsed, counted "in". Returns
 * 1 with the record in *v (the program's to free), or 0 when there is
 * nothing more to do: a blank line, bad input (answered), a control
 * record (queued).
 */
int push_record(struct push *p, const struct ndjson_line *l, jv *v);

/*
 * Bad input: its result line (unless p->no_results), the message logged,
 * the line to the dead letters (is_json: as JSON), "failed" counted. op,
 * id and meta may be NULL.
 */
void push_input_error(struct push *p, const struct ndjson_line *l,
    int is_json, const char *code, const char *msg, const char *meta,
    const char *id, const char *op);

/* Write one result line (a write error is fatal). */
void push_result(struct push *p, const struct result *res);

/* A failed record's line to the dead letters, with its status and HTTP
 * attempts. */
void push_dead_letter(struct push *p, unsigned long long lineno,
    const char *line, size_t len, const char *code, const char *msg,
    long status, unsigned attempts);

/* The control records waiting, out once no record is live. */
void push_flush_controls(struct push *p);

/* Format a failure's message and hand it to fail(rec, code, msg). */
void push_fail(void (*fail)(void *rec, const char *code, const char *msg),
    void *rec, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* fail(rec, code, msg) with the error resp tells: decode, the service's
 * own, makes code and msg of it. */
void push_fail_resp(void (*fail)(void *rec, const char *code,
    const char *msg), void *rec, void (*decode)(const struct http_resp *resp,
    struct buf *code, struct buf *msg), const struct http_resp *resp);

/* 1 while reading must wait for the engine. */
int push_busy(struct push *p);

/* The engine's work: until some progress (block), or what is due now. */
void push_work(struct push *p, int block);

/* Read every input (stage_run_engine()) while the engine works. */
void push_read(struct push *p, struct stage *st);

/* Until every record read has its result (on a stop, what is in flight
 * gets 10 s, then is cancelled). */
void push_finish(struct push *p);

/*
 * The end: every record read gets its result (on a stop, what is in
 * flight gets 10 s), the control records their place; st->fatal and
 * st->stopped set for stage_end().
 */
void push_end(struct push *p, struct stage *st);

#endif
