/*
 * parallel.c - transform -j N: worker processes (libjq 1.6 is not
 * thread-safe), output order kept.
 *
 * The parent reads lines and cuts them into batches, sent round-robin to
 * the workers over pipes; a collector thread reads each batch's results
 * back in the same round-robin order and writes them out. Batches are cut
 * at BATCH_LINES lines, BATCH_BYTES bytes, or whenever reading would block
 * (so a slow stream is not held back).
 *
 * Parent -> worker frame: struct req_hdr, source name, then per line
 *   u64 lineno, u32 len, u32 flags, bytes.
 * Worker -> parent frame: struct resp_hdr, output bytes, dead-letter bytes.
 */
#include "transform.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "stats.h"

#define BATCH_LINES 2048
#define BATCH_BYTES (512u << 10)
#define F_TOO_LONG 1u
#define F_UNTERMINATED 2u

struct req_hdr {
	uint32_t nlines;
	uint32_t srclen;
	uint64_t payload;
};

struct resp_hdr {
	uint64_t outlen;
	uint64_t dlqlen;
	struct xf_counts c;
};

struct worker {
	pid_t pid;
	int to;			/* parent writes requests */
	int from;		/* parent reads responses */
};

struct par {
	struct xf *x;
	struct worker *wk;
	int n;
	struct ndjson_writer *w;
	unsigned long max_errors;
	volatile sig_atomic_t *stop;
	/* batch being filled */
	struct buf batch;
	uint32_t nlines;
	const char *src;
	uint64_t sent;		/* batches sent */
	/* collector */
	uint64_t received;
	int collector_failed;
	int out_failed;		/* stdout failed: say that, not the rest */
	volatile int halt;	/* the collector asks the reader to stop */
	volatile int too_many_errors;
};

/* Returns 1 when all n bytes were read, 0 on EOF before any byte, -1. */
static int
read_all(int fd, void *p, size_t n)
{
	char *c = p;
	size_t got = 0;

	while (got < n) {
		ssize_t k = read(fd, c + got, n - got);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (k == 0) {
			if (got == 0)
				return 0;
			errno = EPIPE;
			return -1;
		}
		got += (size_t)k;
	}
	return 1;
}

/* ---- worker side ---- */

static void __attribute__((noreturn))
worker_main(struct xf *x, int in, int out)
{
	struct buf req = BUF_INIT, res = BUF_INIT, src = BUF_INIT;
	struct req_hdr h;
	int rc;

	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	x->dlq = dlq_new_mem("transform");
	while ((rc = read_all(in, &h, sizeof(h))) == 1) {
		struct resp_hdr rh;
		struct buf *dl = dlq_buffer(x->dlq);
		size_t off = 0;
		uint32_t i;

		src.len = 0;
		buf_grow(&src, h.srclen + 1);
		req.len = 0;
		buf_grow(&req, h.payload + 1);
		if (read_all(in, src.p, h.srclen) != 1 ||
		    read_all(in, req.p, h.payload) != 1)
			_exit(3);
		src.len = h.srclen;
		buf_cstr(&src);
		xf_set_file(x, src.p);
		memset(&x->c, 0, sizeof(x->c));
		res.len = 0;
		buf_grow(&res, sizeof(rh));
		res.len = sizeof(rh);
		dl->len = 0;
		for (i = 0; i < h.nlines; i++) {
			struct ndjson_line l;
			uint64_t lineno;
			uint32_t len, flags;

			memcpy(&lineno, req.p + off, 8);
			memcpy(&len, req.p + off + 8, 4);
			memcpy(&flags, req.p + off + 12, 4);
			off += 16;
			l.p = req.p + off;
			l.len = len;
			l.lineno = lineno;
			l.too_long = (flags & F_TOO_LONG) != 0;
			l.unterminated = (flags & F_UNTERMINATED) != 0;
			off += len + 1;	/* NUL kept after each line */
			xf_line(x, src.p, &l, &res);
		}
		rh.outlen = res.len - sizeof(rh);
		rh.dlqlen = dl->len;
		rh.c = x->c;
		memcpy(res.p, &rh, sizeof(rh));
		if (fd_write_all(out, res.p, res.len) < 0 ||
		    fd_write_all(out, dl->p, dl->len) < 0)
			_exit(3);
	}
	_exit(rc == 0 ? 0 : 3);
}

/* ---- parent side ---- */

static int
send_batch(struct par *p)
{
	struct worker *w;
	struct req_hdr h;
	size_t sl;

	if (p->nlines == 0)
		return 0;
	w = &p->wk[p->sent % (uint64_t)p->n];
	sl = strlen(p->src);
	h.nlines = p->nlines;
	h.srclen = (uint32_t)sl;
	h.payload = p->batch.len;
	if (fd_write_all(w->to, &h, sizeof(h)) < 0 ||
	    fd_write_all(w->to, p->src, sl) < 0 ||
	    fd_write_all(w->to, p->batch.p, p->batch.len) < 0) {
		if (!p->halt)	/* else the collector said why */
			log_error("cannot send records to worker %d: %s",
			    (int)(p->sent % (uint64_t)p->n), strerror(errno));
		return -1;
	}
	p->sent++;
	p->batch.len = 0;
	p->nlines = 0;
	return 0;
}

static void
before_block(void *ctx)
{
	struct par *p = ctx;

	/* don't hold lines back while the input is slow */
	if (send_batch(p) < 0)
		p->halt = 1;
}

static void *
collector(void *arg)
{
	struct par *p = arg;
	struct buf dl = BUF_INIT;
	uint64_t k;

	for (k = 0;; k++) {
		struct worker *w = &p->wk[k % (uint64_t)p->n];
		struct resp_hdr h;
		int rc = read_all(w->from, &h, sizeof(h));

		if (rc == 0)
			break;
		buf_grow(&p->w->b, h.outlen);
		dl.len = 0;
		buf_grow(&dl, h.dlqlen);
		if (rc < 0 || read_all(w->from, p->w->b.p + p->w->b.len,
		    h.outlen) < 0 || read_all(w->from, dl.p, h.dlqlen) < 0) {
			log_error("lost contact with worker %d: %s",
			    (int)(k % (uint64_t)p->n), strerror(errno));
			p->collector_failed = 1;
			p->halt = 1;
			break;
		}
		p->w->b.len += h.outlen;
		dl.len = h.dlqlen;
		p->x->c.in += h.c.in;
		p->x->c.out += h.c.out;
		p->x->c.failed += h.c.failed;
		p->x->c.blank += h.c.blank;
		p->x->c.control += h.c.control;
		p->x->c.fast += h.c.fast;
		p->received++;
		if (ndjson_writer_flush(p->w) < 0) {
			p->collector_failed = 1;
			p->out_failed = 1;
			p->halt = 1;
			break;
		}
		if (dl.len > 0 && p->x->dlq != NULL) {
			struct buf *db = dlq_buffer(p->x->dlq);

			buf_add(db, dl.p, dl.len);
			dlq_flush(p->x->dlq);
		}
		stats_progress();
		if (p->max_errors > 0 && p->x->c.failed >= p->max_errors &&
		    !p->too_many_errors) {
			p->too_many_errors = 1;
			p->halt = 1;
		}
	}
	if (p->collector_failed) {
		int i;

		/* workers blocked on a full result pipe must not hang the
		 * reader: closing makes their writes fail and them exit */
		for (i = 0; i < p->n; i++) {
			close(p->wk[i].from);
			p->wk[i].from = -1;
		}
	}
	buf_release(&dl);
	return NULL;
}

int
parallel_run(struct xf *x, int jobs, struct stage_input *in, int nin,
    size_t max_line, struct ndjson_writer *w, unsigned long max_errors,
    volatile sig_atomic_t *stop, int *stopped_early)
{
	struct par p;
	pthread_t th;
	int i, rc = 0;

	memset(&p, 0, sizeof(p));
	p.x = x;
	p.n = jobs;
	p.w = w;
	p.max_errors = max_errors;
	p.stop = stop;
	p.wk = xcalloc((size_t)jobs, sizeof(*p.wk));
	for (i = 0; i < jobs; i++) {
		int a[2], b[2], j;
		pid_t pid;

		if (pipe2(a, O_CLOEXEC) < 0 || pipe2(b, O_CLOEXEC) < 0) {
			log_error("pipe: %s", strerror(errno));
			return -1;
		}
		fcntl(a[1], F_SETPIPE_SZ, 1 << 20);
		fcntl(b[1], F_SETPIPE_SZ, 1 << 20);
		pid = fork();
		if (pid < 0) {
			log_error("fork: %s", strerror(errno));
			return -1;
		}
		if (pid == 0) {
			for (j = 0; j < i; j++) {
				close(p.wk[j].to);
				close(p.wk[j].from);
			}
			close(a[1]);
			close(b[0]);
			worker_main(x, a[0], b[1]);
		}
		close(a[0]);
		close(b[1]);
		p.wk[i].pid = pid;
		p.wk[i].to = a[1];
		p.wk[i].from = b[0];
	}
	{
		sigset_t set, old;
		int e;

		/* signals go to the reading thread, so its read() stops */
		sigemptyset(&set);
		sigaddset(&set, SIGINT);
		sigaddset(&set, SIGTERM);
		pthread_sigmask(SIG_BLOCK, &set, &old);
		e = pthread_create(&th, NULL, collector, &p);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (e != 0) {
			log_error("cannot start the collector thread");
			return -1;
		}
	}
	for (i = 0; i < nin && !*stop && !p.halt; i++) {
		struct ndjson_reader *r = ndjson_reader_new(in[i].fd,
		    in[i].name, max_line, before_block, &p, stop);
		struct ndjson_line l;
		int rr;

		p.src = in[i].name;
		while ((rr = ndjson_read(r, &l)) > 0) {
			uint64_t lineno = l.lineno;
			uint32_t len = (uint32_t)l.len;
			uint32_t flags = (l.too_long ? F_TOO_LONG : 0) |
			    (l.unterminated ? F_UNTERMINATED : 0);

			buf_grow(&p.batch, 16 + l.len + 1);
			memcpy(p.batch.p + p.batch.len, &lineno, 8);
			memcpy(p.batch.p + p.batch.len + 8, &len, 4);
			memcpy(p.batch.p + p.batch.len + 12, &flags, 4);
			memcpy(p.batch.p + p.batch.len + 16, l.p, l.len);
			p.batch.p[p.batch.len + 16 + l.len] = '\0';
			p.batch.len += 16 + l.len + 1;
			p.nlines++;
			if ((p.nlines >= BATCH_LINES ||
			    p.batch.len >= BATCH_BYTES) && send_batch(&p) < 0)
				break;
			if (*stop || p.halt)
				break;
		}
		if (rr < 0) {
			log_error("%s: read error: %s", in[i].name,
			    strerror(errno));
			rc = -1;
		}
		if (send_batch(&p) < 0)
			rc = -1;
		if ((*stop || p.halt) && (rr > 0 || ndjson_reader_stopped(r)))
			*stopped_early = 1;
		ndjson_reader_free(r);
		if (rc < 0)
			break;
	}
	if (*stop || p.halt)
		*stopped_early = 1;
	for (i = 0; i < jobs; i++)
		close(p.wk[i].to);
	pthread_join(th, NULL);
	for (i = 0; i < jobs; i++) {
		int st;

		if (p.wk[i].from >= 0)
			close(p.wk[i].from);
		if ((waitpid(p.wk[i].pid, &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0) && !p.out_failed) {
			log_error("worker %d (pid %d) failed", i,
			    (int)p.wk[i].pid);
			rc = -1;
		}
	}
	if (p.received != p.sent && !p.out_failed) {
		log_error("%llu of %llu batches came back from the workers",
		    (unsigned long long)p.received,
		    (unsigned long long)p.sent);
		rc = -1;
	}
	if (p.too_many_errors)
		log_error("%llu records failed (--max-errors %lu): stopped",
		    (unsigned long long)x->c.failed, max_errors);
	if (p.collector_failed)
		rc = -1;
	buf_release(&p.batch);
	free(p.wk);
	return rc;
}
