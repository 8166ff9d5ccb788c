/*
 * stage.h - the skeleton every NDJSON filter of twinpipe shares, so that a
 * program's main is only: parse, validate, build the context, run, report.
 *
 * What a stage owns, the same way in every program:
 * - the inputs: the files named as operands ("-" is standard input), or
 *   standard input when there are none, all opened before any side effect;
 * - the dead-letter file (--dead-letter);
 * - SIGINT and SIGTERM, turned into a stop: the reader stops before its
 *   next read, every record read is processed, the outputs are flushed
 *   (the handlers go in before anything can block, so a signal at any
 *   point after the options is a stop, never a kill);
 * - standard output as an NDJSON writer;
 * - the read loop: each line handed to the program in input order, so
 *   control records stay after the results before them; pending output
 *   flushed before the reader blocks;
 * - the end: output and dead letters flushed and closed (a write error
 *   is fatal), the "interrupted" message, the summary line, the exit code.
 *
 *	struct stage st;
 *
 *	first = cli_parse(&prog, argc, argv, &common);
 *	... validate, build ctx ...
 *	if ((rc = stage_begin(&st, argc, argv, first, op.dead_letter)) != 0)
 *		return rc;
 *	stage_run(&st, &ops, ctx);
 *	return stage_end(&st, status, common.stats, failed);
 */
#ifndef TP_STAGE_H
#define TP_STAGE_H

#include <signal.h>
#include <stdint.h>

#include "ndjson.h"
#include "stats.h"

/* Set by SIGINT/SIGTERM once stage_begin() ran. */
extern volatile sig_atomic_t stage_stop;
/* Set with stage_stop, or by stage_halt(): the stage's readers stop on
 * it (a program's own reader passes &stage_halted). */
extern volatile sig_atomic_t stage_halted;

/* Stop reading for a reason of the program's own (a fatal error): the
 * reader stops before its next read, no "interrupted" message. */
void stage_halt(void);

struct stage_input {
	int fd;
	const char *name;	/* as given, or "<stdin>" */
};

struct stage_ops {
	/* A new input begins. May be NULL. */
	void (*file)(void *ctx, const char *name);
	/*
	 * One line of input (blank lines too: the program counts them).
	 * Returns 0 to go on, 1 to stop reading (the program said why:
	 * stage.stopped is set), -1 on a fatal error (reported).
	 */
	int (*line)(void *ctx, const char *src, const struct ndjson_line *l);
	/*
	 * Before the reader blocks, after the output and the dead letters
	 * are flushed: the program's own pending work (a commit). May be
	 * NULL.
	 */
	void (*drain)(void *ctx);
};

struct stage {
	struct stage_input *in;
	int nin;
	struct dlq *dlq;	/* NULL without --dead-letter */
	const char *dlq_path;
	struct ndjson_writer out;
	size_t max_line;	/* the reader's line bound (0: default) */
	int out_up;
	int stopped;		/* the input was cut: a signal or the program */
	int fatal;		/* a read error or a fatal error of the program */
	int cur_fd;		/* the input being read */
	/* set by stage_run while it runs */
	const struct stage_ops *ops;
	void *ctx;
};

/*
 * Installs the signal handlers, opens every input (argv[first..argc-1],
 * or standard input) and the dead-letter file (dead_letter may be NULL)
 * and sets up the output writer. Returns 0, or the exit code to return
 * at once (EXIT_USAGE for an input or dead-letter file that cannot be
 * opened, EXIT_FATAL when a signal came while an input was being
 * opened), with the reason logged and everything released.
 */
int stage_begin(struct stage *st, int argc, char **argv, int first,
    const char *dead_letter, const char *prog);

/*
 * Opens the dead-letter file (for a program that must check something
 * else first; stage_begin() does it otherwise). Returns 0 (also for a
 * NULL path), or -1 with the reason logged.
 */
int stage_open_dlq(struct stage *st, const char *dead_letter,
    const char *prog);

/*
 * Reads every input in order, handing each line to ops->line. Stops at
 * the end of the inputs, on a signal (st->stopped), when ops->line says
 * so, on a fatal error or on a write error (st->fatal). Returns 0, or -1
 * when st->fatal was set.
 */
int stage_run(struct stage *st, const struct stage_ops *ops, void *ctx);

/*
 * A program whose records become the requests of an engine (push-adt,
 * push-cosmos): the read loop interleaved with the engine's work.
 */
struct stage_engine_ops {
	/* 1 while the engine cannot take another record: reading waits */
	int (*busy)(void *ctx);
	/* the engine's work: until some progress (block), or what is due */
	void (*work)(void *ctx, int block);
	/* one line of input */
	void (*line)(const struct ndjson_line *l);
	/* before the reader blocks: flush, and work while only that waits */
	void (*before_block)(void *ctx);
	/* set once a fatal error happened: reading stops */
	const int *fatal;
};

/*
 * Reads every input in order, one line at a time, while the engine works:
 * reading waits while ops->busy, and stops on a signal, ops->failed or a
 * read error (st->fatal). The program then finishes what is in flight.
 * Returns 0, or -1 when st->fatal was set.
 */
int stage_run_engine(struct stage *st, const struct stage_engine_ops *ops,
    void *ctx);

/* Flush the output and the dead letters now (for a program's own loop). */
void stage_flush(struct stage *st);

/*
 * The end: flushes and closes the output and the dead letters, logs why
 * the input was cut ("interrupted: stopped reading; " and what_done, what
 * was done with every record read, e.g. "every record read was
 * processed"), prints the summary and returns the exit
 * code: status made worse by a fatal error or a stop (EXIT_FATAL) and by
 * failed records (EXIT_SOME_FAILED). Releases everything stage_begin()
 * took.
 */
int stage_end(struct stage *st, int status, enum stats_mode mode,
    uint64_t failed, const char *what_done);

/* Releases what stage_begin() took without the summary (an early exit).
 * Safe to call more than once, and on a stage that never began. */
void stage_free(struct stage *st);

#endif
