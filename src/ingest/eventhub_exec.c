/*
 * eventhub_exec.c - ingest-eventhub's --exec co-process: it is started,
 * fed the events, its result lines and barriers acknowledge them, and it
 * is ended with its exit status taken into the run's.
 *
 * The acknowledgement loop (--exec CMD): CMD runs under /bin/sh as a
 * co-process; its standard input is the events, its standard output the
 * result lines of the last stage. Every line that comes back carrying
 * _meta.src {topic, partition, offset} acknowledges that event (a result
 * with "ok": false too: the sink dead-lettered it). Per partition, the
 * offset committed is one past the highest offset below which everything
 * was acknowledged, at most once per --commit-interval.
 *
 * Barriers: a stage may drop an event without a result line (a filter, a
 * dead letter). So every --barrier-interval, while events are in flight,
 * the control record {"_meta":{"control":"barrier","seq":N}} goes into
 * CMD after the events; the programs of a pipeline pass control records on
 * after the results of the records before them, so when barrier N comes
 * back every event written before it was handled: it is acknowledged,
 * result or not. A stage that does not pass it on changes nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "eventhub_impl.h"
#include "exitcode.h"
#include "json.h"
#include "log.h"
#include "ndjson.h"

int
child_start(struct child *ch, const char *cmd)
{
	int a[2], b[2];

	if (pipe2(a, O_CLOEXEC) < 0 || pipe2(b, O_CLOEXEC) < 0) {
		log_error("pipe: %s", strerror(errno));
		return -1;
	}
	ch->pid = fork();
	if (ch->pid < 0) {
		log_error("fork: %s", strerror(errno));
		return -1;
	}
	if (ch->pid == 0) {
		dup2(a[0], 0);
		dup2(b[1], 1);
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(a[0]);
	close(b[1]);
	ch->in = a[1];
	ch->out = b[0];
	fcntl(ch->in, F_SETFL, O_NONBLOCK);
	fcntl(ch->out, F_SETFL, O_NONBLOCK);
	return 0;
}

/*
 * Send a barrier into CMD (after what ch->wb holds): remember where every
 * partition with events in flight stands. Returns 1 if one was sent, 0 if
 * nothing is in flight or too many barriers are still out.
 */
int
barrier_send(struct ctx *c, double now)
{
	struct barrier *b;
	size_t i;

	if (c->ack.in_flight == 0)
		return 0;
	if (c->bq_n == MAX_BARRIERS) {	/* CMD does not pass them on? */
		if (now - c->last_barrier >= op.barrier_interval)
			log_debug("--exec: %d barriers not back: none sent",
			    MAX_BARRIERS);
		c->last_barrier = now;
		return 0;
	}
	b = &c->bq[(c->bq_head + c->bq_n) % MAX_BARRIERS];
	b->seq = ++c->barrier_seq;
	b->m = xmalloc(c->ack.n * sizeof(*b->m));
	b->n = 0;
	for (i = 0; i < c->ack.n; i++) {
		struct barrier_mark *k = &b->m[b->n];

		k->partition = c->ack.p[i].partition;
		if (eh_ack_last(&c->ack, k->partition, &k->offset,
		    &k->gen) == 0)
			b->n++;
	}
	c->bq_n++;
	buf_printf(&c->ch->wb, "{\"_meta\":{\"control\":\"barrier\","
	    "\"seq\":%llu}}\n", (unsigned long long)b->seq);
	c->out_at_barrier = c->out;
	c->last_barrier = now;
	return 1;
}

/* Barrier seq came back: what was written before it is handled. */
static void
barrier_back(struct ctx *c, uint64_t seq)
{
	size_t i, k;

	while (c->bq_n > 0 && c->bq[c->bq_head].seq <= seq) {
		struct barrier *b = &c->bq[c->bq_head];

		/* an earlier barrier is covered by a later one */
		for (i = 0; b->seq == seq && i < b->n; i++) {
			k = eh_ack_upto(&c->ack, b->m[i].partition,
			    b->m[i].gen, b->m[i].offset);
			c->acked += k;
			c->no_result += k;
			if (k > 0)
				log_debug("barrier %llu: %zu events of %s[%d] "
				    "handled without a result line",
				    (unsigned long long)seq, k, op.topic,
				    (int)b->m[i].partition);
		}
		free(b->m);
		b->m = NULL;
		c->bq_head = (c->bq_head + 1) % MAX_BARRIERS;
		c->bq_n--;
	}
}

void
barrier_release(struct ctx *c)
{
	for (; c->bq_n > 0; c->bq_n--) {
		free(c->bq[c->bq_head].m);
		c->bq_head = (c->bq_head + 1) % MAX_BARRIERS;
	}
}

/*
 * A control record came back: our barrier, or another kind (ignored).
 * Returns 1 if meta marks the line as a control record at all.
 */
static int
control_line(struct ctx *c, jv r, jv meta)
{
	const char *kind = json_get_str(meta, "control");
	jv seq;

	if (kind == NULL)
		return 0;
	if (!json_is_control(r) || strcmp(kind, "barrier") != 0) {
		log_debug("--exec: a '%s' control line: ignored", kind);
		return 1;
	}
	seq = json_get(meta, "seq");
	if (jv_get_kind(seq) == JV_KIND_NUMBER && jv_number_value(seq) >= 1)
		barrier_back(c, (uint64_t)jv_number_value(seq));
	jv_free(seq);
	return 1;
}

/* One result line: acknowledge its _meta.src. */
static void
result_line(struct ctx *c, const char *p, size_t n)
{
	struct json_err je;
	jv r, meta, src, part, off, okv;

	if (ndjson_blank(p, n))
		return;
	if (json_parse(p, n, &r, NULL, &je) < 0) {
		log_warn("--exec: result line is not JSON: %s", je.msg);
		return;
	}
	meta = json_get(r, "_meta");
	if (control_line(c, r, meta)) {
		jv_free(meta);
		jv_free(r);
		return;
	}
	src = json_get(meta, "src");
	part = json_get(src, "partition");
	off = json_get(src, "offset");
	okv = json_get(r, "ok");
	if (jv_get_kind(part) != JV_KIND_NUMBER ||
	    jv_get_kind(off) != JV_KIND_NUMBER) {
		log_warn("--exec: result line without _meta.src.partition and "
		    "offset: ignored");
	} else {
		const char *t = json_get_str(src, "topic");

		if (t == NULL || strcmp(t, op.topic) == 0) {
			if (eh_ack_done(&c->ack, (int32_t)jv_number_value(part),
			    (int64_t)jv_number_value(off)))
				c->acked++;
			if (jv_get_kind(okv) == JV_KIND_FALSE)
				c->sink_failed++;
		}
	}
	jv_free(okv);
	jv_free(off);
	jv_free(part);
	jv_free(src);
	jv_free(meta);
	jv_free(r);
}

/* Move bytes both ways. Returns -1 on a fatal error (reported). */
int
child_io(struct ctx *c, struct child *ch, int timeout_ms)
{
	struct pollfd pf[2];
	int nf = 0, wi = -1, ri = -1;

	if (ch->in >= 0 && ch->wb.len > 0) {
		pf[nf].fd = ch->in;
		pf[nf].events = POLLOUT;
		wi = nf++;
	}
	if (!ch->eof) {
		pf[nf].fd = ch->out;
		pf[nf].events = POLLIN;
		ri = nf++;
	}
	if (poll(pf, (nfds_t)nf, timeout_ms) < 0) {
		if (errno == EINTR)
			return 0;
		log_error("poll: %s", strerror(errno));
		return -1;
	}
	if (wi >= 0 && pf[wi].revents) {
		ssize_t k = write(ch->in, ch->wb.p, ch->wb.len);

		if (k < 0 && errno != EAGAIN && errno != EINTR) {
			log_error("--exec: writing to the command: %s",
			    strerror(errno));
			return -1;
		}
		if (k > 0) {
			memmove(ch->wb.p, ch->wb.p + k, ch->wb.len - (size_t)k);
			ch->wb.len -= (size_t)k;
		}
	}
	if (ri >= 0 && pf[ri].revents) {
		char tmp[65536];
		ssize_t k = read(ch->out, tmp, sizeof(tmp));
		size_t start = 0, i;

		if (k == 0) {
			ch->eof = 1;
		} else if (k < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				log_error("--exec: reading results: %s",
				    strerror(errno));
				return -1;
			}
		} else {
			buf_add(&ch->rb, tmp, (size_t)k);
			for (i = 0; i < ch->rb.len; i++) {
				if (ch->rb.p[i] != '\n')
					continue;
				result_line(c, ch->rb.p + start, i - start);
				start = i + 1;
			}
			memmove(ch->rb.p, ch->rb.p + start, ch->rb.len - start);
			ch->rb.len -= start;
			if (ch->rb.len > NDJSON_DEFAULT_MAX_LINE) {
				log_error("--exec: result line longer than "
				    "16M");
				return -1;
			}
		}
	}
	return 0;
}

/*
 * --exec: one turn of the co-process: barriers, its input and results,
 * the commits, the drain. Returns 1 to go on, 0 when the run ends, -1 on
 * a fatal error (reported).
 */
int
turn_exec(struct child *ch, int got, int reading, double t,
    double *drain_end, double *last_commit)
{

	if (!reading && *drain_end == 0)
		*drain_end = t + op.drain_timeout;
	/* a barrier every --barrier-interval while events are in flight, at
	 * once when reading pauses or ends */
	if (op.barrier_interval > 0 && ch->in >= 0 &&
	    cx.out != cx.out_at_barrier &&
	    (t - cx.last_barrier >= op.barrier_interval || !reading ||
	    cx.ack.in_flight >= (uint64_t)op.max_in_flight))
		(void)barrier_send(&cx, t);
	if (child_io(&cx, ch, got ? 0 : 50) < 0)
		return -1;
	if (!reading && ch->in >= 0 && ch->wb.len == 0) {
		close(ch->in);	/* the command sees the end */
		ch->in = -1;
	}
	if (ch->eof && (reading || ch->in >= 0)) {
		log_error("--exec: the command ended early");
		return -1;
	}
	if (t - *last_commit >= op.commit_interval) {
		commit_acked(&cx, 1);	/* sync: a failure is retried */
		*last_commit = t;
	}
	if (!reading && (ch->eof || t >= *drain_end)) {
		if (!ch->eof)
			log_warn("--exec: %llu events still unacknowledged "
			    "after %gs", (unsigned long long)cx.ack.in_flight,
			    op.drain_timeout);
		return 0;
	}
	if (got == 0)
		dlq_flush(cx.dlq);
	return 1;
}

/* --exec: the last commit, the partitions given up, the co-process ended
 * and its exit status taken into the run's. */
int
exec_end(struct child *ch, int status)
{
	int ws;

	commit_acked(&cx, 1);
	if (cx.lb != NULL)	/* as the SDKs do on close */
		eh_lb_release(cx.lb);
	if (ch->in >= 0)
		close(ch->in);
	ch->in = -1;
	cx.ch = NULL;
	if (!ch->eof)
		kill(ch->pid, SIGTERM);
	if (waitpid(ch->pid, &ws, 0) == ch->pid) {
		int rc = WIFEXITED(ws) ? WEXITSTATUS(ws) : EXIT_FATAL;

		if (rc == EXIT_SOME_FAILED)
			status = exit_worst(status, EXIT_SOME_FAILED);
		else if (rc != 0 && ch->eof) {
			log_error("--exec: the command exited with status %d",
			    rc);
			status = EXIT_FATAL;
		}
	}
	ch->pid = -1;
	if (cx.ack.in_flight > 0)
		log_warn("%llu events past the committed offsets: they will be "
		    "delivered again", (unsigned long long)cx.ack.in_flight);
	return status;
}
