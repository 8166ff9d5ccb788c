/*
 * push.c - the shared part of the programs whose records become requests
 * of the HTTP engine: input, control records, failures, the loop glue
 * (see push.h).
 */
#include "push.h"

#include <stdarg.h>
#include <stdio.h>

#include "exitcode.h"
#include "log.h"
#include "metrics.h"
#include "stats.h"

int
push_check_opts(const struct cli_prog *prog, const struct push_opts *o,
    int others_bad, const char *others)
{
	if (o->concurrency < 1 || o->concurrency > 1024 ||
	    o->max_attempts < 1 || o->max_attempts > 1000 || others_bad ||
	    o->max_time < 0)
		return cli_usage_error(prog, "--concurrency must be 1..1024, "
		    "--max-attempts 1..1000, %s and --max-time not negative",
		    others), -1;
	if (o->max_line < 16 || o->max_line > (1u << 30))
		return cli_usage_error(prog, "--max-line must be between 16 "
		    "and 1G"), -1;
	return 0;
}

struct auth_cli
push_auth_cli(const struct push_opts *o)
{
	const struct auth_cli ac = { o->credential, o->token_file, o->cacert,
	    o->insecure };

	return ac;
}

void
push_http_opts(struct http_opts *ho, const struct push_opts *o)
{
	ho->max_inflight = (unsigned)o->concurrency;
	ho->max_attempts = (unsigned)o->max_attempts;
	ho->max_total_ms = (long)(o->max_time * 1000);
	ho->cacert = o->cacert;
	ho->insecure = o->insecure;
	ho->http1 = o->http1;
}

int
push_begin(struct push *p, const struct push_ops *ops, struct stage *st,
    int argc, char **argv, int first, const char *prog,
    const struct push_opts *o)
{
	int rc;

	p->ops = ops;
	if ((rc = stage_begin(st, argc, argv, first, NULL, prog)) != 0)
		return rc;
	p->w = &st->out;
	p->c_in = stats_counter("in");
	p->c_ok = stats_counter("ok");
	p->c_failed = stats_counter("failed");
	p->max_live = 1024 + 64 * (size_t)o->concurrency;
	st->max_line = o->max_line;
	return 0;
}

int
push_open_dlq(struct push *p, struct stage *st, const struct push_opts *o,
    const char *prog)
{
	if (stage_open_dlq(st, o->dead_letter, prog) < 0)
		return EXIT_USAGE;
	p->dlq = st->dlq;
	return 0;
}

int
push_ready(struct stage *st, int status)
{
	if (status == 0 && metrics_opt.listen != NULL &&
	    metrics_listen_start(metrics_opt.listen, NULL) < 0)
		status = EXIT_USAGE;
	if (status != 0) {
		stage_free(st);
		return status;
	}
	metrics_set_ready(1);
	return 0;
}

int
push_stage_end(struct push *p, struct stage *st, enum stats_mode mode)
{
	return stage_end(st, EXIT_ALL_OK, mode, *p->c_failed,
	    "every record read has a result");
}

void
push_free(struct push *p)
{
	http_engine_free(p->e);
	p->e = NULL;
	json_numlits_release(&p->lits);
}

void
push_result(struct push *p, const struct result *res)
{
	result_write(&p->w->b, res);
	if (ndjson_writer_commit(p->w) < 0)
		p->fatal = 1;
}

void
push_input_error(struct push *p, const struct ndjson_line *l, int is_json,
    const char *code, const char *msg, const char *meta, const char *id,
    const char *op)
{
	struct result res = { 0 };

	res.op = op;
	res.id = id;
	res.meta = meta;
	res.err_code = code;
	res.err_msg = msg;
	if (!p->no_results)
		push_result(p, &res);
	log_at(LV_ERROR, "<stdin>", l->lineno, "%s", msg);
	if (dlq_write(p->dlq, "<stdin>", l->lineno, l->p, l->len, is_json,
	    code, msg, l->too_long ? jv_object_set(jv_object(),
	    jv_string("truncated"), jv_true()) : jv_invalid()) < 0)
		p->fatal = 1;
	(*p->c_failed)++;
	if (p->ops->invalid != NULL)
		p->ops->invalid(code);
}

void
push_dead_letter(struct push *p, unsigned long long lineno,
    const char *line, size_t len, const char *code, const char *msg,
    long status, unsigned attempts)
{
	if (dlq_write(p->dlq, "<stdin>", lineno, line, len, 1, code, msg,
	    jv_object_set(jv_object_set(jv_object(), jv_string("status"),
	    jv_number((double)status)), jv_string("attempts"),
	    jv_number(attempts))) < 0)
		p->fatal = 1;
}

/*
 * Control records pass through untouched, after the results of the records
 * read before them (ingest-eventhub's acknowledgements, extract-lob --ack
 * and cdc-filter --commit rely on that): they wait until no record is in
 * flight or waiting.
 */
void
push_flush_controls(struct push *p)
{
	if (p->live != 0 || p->controls.len == 0)
		return;
	buf_add(&p->w->b, p->controls.p, p->controls.len);
	p->controls.len = 0;
	if (p->w->b.len >= p->w->flush_at)
		(void)ndjson_writer_flush(p->w);
}

int
push_record(struct push *p, const struct ndjson_line *l, jv *v)
{
	struct buf msg = BUF_INIT;
	const char *code = NULL;
	int rc, is_json;

	if ((rc = ndjson_record(l, v, &p->lits, &code, &msg, &is_json)) == 0)
		return 0;
	(*p->c_in)++;
	if (rc < 0) {
		push_input_error(p, l, is_json, code, buf_cstr(&msg), NULL,
		    NULL, NULL);
		buf_release(&msg);
		return 0;
	}
	buf_release(&msg);
	if (!json_is_control(*v))
		return 1;
	(*p->c_in)--;
	if (p->ops->control != NULL)
		p->ops->control(jv_copy(*v));
	jv_free(*v);
	*v = jv_invalid();
	(*p->c_control)++;
	buf_add(&p->controls, l->p, l->len);
	buf_addc(&p->controls, '\n');
	push_flush_controls(p);
	return 0;
}

void
push_fail(void (*fail)(void *rec, const char *code, const char *msg),
    void *rec, const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fail(rec, code, msg);
}

void
push_fail_resp(void (*fail)(void *rec, const char *code, const char *msg),
    void *rec, void (*decode)(const struct http_resp *resp, struct buf *code,
    struct buf *msg), const struct http_resp *resp)
{
	struct buf code = BUF_INIT, msg = BUF_INIT;

	decode(resp, &code, &msg);
	fail(rec, buf_cstr(&code), buf_cstr(&msg));
	buf_release(&code);
	buf_release(&msg);
}

/* ---- the loop glue ---- */

int
push_busy(struct push *p)
{
	return p->e != NULL && (http_full(p->e) ||
	    p->live - p->parked >= p->max_live);
}

void
push_work(struct push *p, int block)
{
	if (p->e != NULL)
		p->ops->pump(block ? -1 : 0, -1, NULL);
}

static int
engine_busy(void *ctx)
{
	return push_busy(ctx);
}

static void
engine_work(void *ctx, int block)
{
	push_work(ctx, block);
}

/* Before a read that may block: flush, then keep the requests moving
 * until input is readable. */
static void
before_block(void *ctx)
{
	struct push *p = ctx;
	int ready = 0;

	ndjson_writer_flush(p->w);
	dlq_flush(p->dlq);
	if (p->e == NULL)
		return;
	while (!ready && !stage_stop) {
		int tick = 1;

		if (p->ops->idle != NULL)
			tick = p->ops->idle(&ready);
		else
			p->ops->pump(-1, 0, &ready);
		if (tick)
			metrics_tick();	/* idle input: counters stay current */
	}
}

void
push_read(struct push *p, struct stage *st)
{
	const struct stage_engine_ops ops = { engine_busy, engine_work,
	    p->ops->line, before_block, &p->fatal };

	if (stage_run_engine(st, &ops, p) < 0)
		p->fatal = 1;
}

void
push_finish(struct push *p)
{
	int drained = 0;

	while (p->live > 0) {
		int idle;

		if (stage_stop && !drained) {
			/* interrupted: give what is in flight (retries
			   included) 10 s, then cancel it; the records fail
			   and are dead-lettered for a re-drive */
			drained = 1;
			http_drain(p->e, 10000);
			p->ops->start();
			continue;
		}
		idle = http_pending(p->e) == 0 && !p->ops->waiting();
		if (p->ops->settle != NULL && p->ops->settle(idle))
			continue;
		if (idle) {
			log_error("internal error: %zu records neither in "
			    "flight nor waiting", p->live);
			p->fatal = 1;
			return;
		}
		p->ops->pump(stage_stop ? 1000 : -1, -1, NULL);
	}
}

void
push_end(struct push *p, struct stage *st)
{
	if (p->e != NULL)
		push_finish(p);
	push_flush_controls(p);
	buf_release(&p->controls);
	st->fatal = p->fatal;
	st->stopped = stage_stop != 0;
}
