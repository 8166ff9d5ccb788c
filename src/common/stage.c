/*
 * stage.c - the shared skeleton of twinpipe's filters: inputs, dead
 * letters, signals, the read loop and the end of a run (see stage.h).
 */
#include "stage.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "exitcode.h"
#include "log.h"
#include "metrics.h"

volatile sig_atomic_t stage_stop;
volatile sig_atomic_t stage_halted;

static void
on_signal(int sig)
{
	(void)sig;
	stage_stop = 1;
	stage_halted = 1;
}

void
stage_halt(void)
{
	stage_halted = 1;
}

static void
signals_install(void)
{
	struct sigaction sa;

	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: a read returns */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* open(2) that goes on after EINTR unless a stop was asked */
static int
open_input(const char *path)
{
	int fd;

	while ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 &&
	    errno == EINTR && !stage_stop)
		;
	return fd;
}

int
stage_begin(struct stage *st, int argc, char **argv, int first,
    const char *dead_letter, const char *prog)
{
	int i;

	memset(st, 0, sizeof(*st));
	signals_install();
	st->in = xcalloc((size_t)(argc > first ? argc - first : 0) + 1,
	    sizeof(*st->in));
	if (first >= argc) {
		st->in[st->nin].name = "<stdin>";
		st->in[st->nin++].fd = 0;
	}
	for (i = first; i < argc; i++) {
		struct stage_input *in = &st->in[st->nin];

		if (strcmp(argv[i], "-") == 0) {
			in->name = "<stdin>";
			in->fd = 0;
			st->nin++;
			continue;
		}
		in->name = argv[i];
		if ((in->fd = open_input(argv[i])) < 0) {
			int stopped = stage_stop != 0;

			if (stopped)
				log_error("interrupted: stopped before reading "
				    "'%s'; nothing was read", argv[i]);
			else
				log_error("cannot open '%s': %s", argv[i],
				    strerror(errno));
			stage_free(st);
			return stopped ? EXIT_FATAL : EXIT_USAGE;
		}
		st->nin++;
	}
	if (stage_open_dlq(st, dead_letter, prog) < 0) {
		stage_free(st);
		return EXIT_USAGE;
	}
	ndjson_writer_init(&st->out, 1);
	st->out_up = 1;
	return 0;
}

int
stage_open_dlq(struct stage *st, const char *dead_letter, const char *prog)
{
	if (dead_letter == NULL)
		return 0;
	st->dlq_path = dead_letter;
	if ((st->dlq = dlq_open(dead_letter, prog)) == NULL) {
		log_error("cannot open dead-letter file '%s': %s", dead_letter,
		    strerror(errno));
		return -1;
	}
	return 0;
}

void
stage_flush(struct stage *st)
{
	ndjson_writer_flush(&st->out);
	dlq_flush(st->dlq);
}

/*
 * With --metrics-interval, an idle input must not freeze the metrics
 * file: wait for input in steps of the interval, writing it at each.
 */
static void
idle_wait(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	int ms = (int)(metrics_opt.interval * 1000);

	if (metrics_opt.interval <= 0 || metrics_opt.file == NULL)
		return;
	if (ms < 100)
		ms = 100;
	while (!stage_halted && poll(&p, 1, ms) == 0)
		stats_progress();	/* the program's counts, then the file */
}

static void
before_block(void *arg)
{
	struct stage *st = arg;

	stage_flush(st);
	if (st->ops->drain != NULL)
		st->ops->drain(st->ctx);
	idle_wait(st->cur_fd);
}

/* One input to its end. Returns 0 to go on with the next, -1 to stop. */
static int
run_input(struct stage *st, const struct stage_input *in)
{
	struct ndjson_reader *r = ndjson_reader_new(in->fd, in->name,
	    st->max_line, before_block, st, &stage_halted);
	struct ndjson_line l;
	int rc, go = 0;

	st->cur_fd = in->fd;
	if (st->ops->file != NULL)
		st->ops->file(st->ctx, in->name);
	while ((rc = ndjson_read(r, &l)) > 0) {
		go = st->ops->line(st->ctx, in->name, &l);
		if (go != 0 || st->out.err)
			break;
		if (st->out.b.len >= st->out.flush_at &&
		    ndjson_writer_flush(&st->out) < 0)
			break;
		stats_tick();
	}
	if (rc < 0) {
		log_error("%s: read error: %s", in->name, strerror(errno));
		st->fatal = 1;
	}
	if (go < 0)
		st->fatal = 1;
	if (go > 0 || ndjson_reader_stopped(r))
		st->stopped = 1;
	ndjson_reader_free(r);
	return st->fatal || st->stopped || st->out.err ? -1 : 0;
}

int
stage_run(struct stage *st, const struct stage_ops *ops, void *ctx)
{
	int i;

	st->ops = ops;
	st->ctx = ctx;
	for (i = 0; i < st->nin; i++)
		if (run_input(st, &st->in[i]) < 0)
			break;
	return st->fatal ? -1 : 0;
}

struct engine_run {
	const struct stage_engine_ops *ops;
	void *ctx;
};

static void
engine_before_block(void *arg)
{
	struct engine_run *er = arg;

	er->ops->before_block(er->ctx);
}

int
stage_run_engine(struct stage *st, const struct stage_engine_ops *ops,
    void *ctx)
{
	struct engine_run er = { ops, ctx };
	struct ndjson_line l;
	int i, rc = 1;

	for (i = 0; i < st->nin && rc > 0; i++) {
		struct ndjson_reader *r = ndjson_reader_new(st->in[i].fd,
		    st->in[i].name, st->max_line, engine_before_block, &er,
		    &stage_halted);

		for (;;) {
			while (!stage_halted && ops->busy(ctx))
				ops->work(ctx, 1);
			if (stage_halted || *ops->fatal) {
				rc = 0;
				break;
			}
			if ((rc = ndjson_read(r, &l)) <= 0)
				break;
			ops->line(&l);
			ops->work(ctx, 0);
			stats_tick();
		}
		if (rc < 0) {
			log_error("%s: read error: %s", st->in[i].name,
			    strerror(errno));
			st->fatal = 1;
		}
		if (rc == 0 && i + 1 < st->nin && !stage_halted &&
		    !*ops->fatal)
			rc = 1;	/* the next input */
		ndjson_reader_free(r);
	}
	return st->fatal ? -1 : 0;
}

int
stage_end(struct stage *st, int status, enum stats_mode mode,
    uint64_t failed, const char *what_done)
{
	if (st->out_up && (ndjson_writer_release(&st->out) < 0 ||
	    st->out.err)) {
		log_error("write error on standard output: %s",
		    strerror(st->out.err ? st->out.err : errno));
		status = EXIT_FATAL;
	}
	st->out_up = 0;
	if (dlq_close(st->dlq) < 0) {
		log_error("write error on the dead-letter file '%s'",
		    st->dlq_path);
		status = EXIT_FATAL;
	}
	st->dlq = NULL;
	if (st->fatal)
		status = EXIT_FATAL;
	if (st->stopped) {
		if (stage_stop)
			log_error("interrupted: stopped reading; %s",
			    what_done);
		status = EXIT_FATAL;
	}
	if (failed > 0)
		status = exit_worst(status, EXIT_SOME_FAILED);
	stats_finish(mode, status);
	stage_free(st);
	return status;
}

void
stage_free(struct stage *st)
{
	int i;

	for (i = 0; i < st->nin; i++)
		if (st->in[i].fd > 0)
			close(st->in[i].fd);
	free(st->in);
	st->in = NULL;
	st->nin = 0;
	if (st->out_up)
		ndjson_writer_release(&st->out);
	st->out_up = 0;
	dlq_close(st->dlq);
	st->dlq = NULL;
}
