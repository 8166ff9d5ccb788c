/*
 * adt_jobs.c - ADT's Import Jobs API in twin-emulator (issue 19; the wire
 * contract is man/twin-emulator.1, IMPORT JOBS): the routes under
 * /jobs/imports (PUT, GET, list, cancel, DELETE), the jobs (in memory
 * only: they are gone when the emulator stops), and the runner thread
 * that runs them one at a time: it reads the input blob (ranged GETs with
 * blob_call on its own http engine, SharedKey with the configured Storage
 * account), creates each model, twin and relationship through the same
 * code as the REST PUTs (adt_models_add, adt_twin_put_core,
 * adt_rel_put_core, under the store lock), and writes the output log as
 * an append blob in batches. One line of the input is read by
 * adt_jobs_line.c.
 *
 * Locks: jobs_mu guards the job list and every job's fields; it is taken
 * under the store lock (by the handlers, which adt_handle runs with it
 * held) and never held while the runner takes the store lock.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adt_impl.h"
#include "blob.h"
#include "codec.h"
#include "emu.h"
#include "http.h"
#include "json.h"
#include "log.h"

#define JOB_MAX_TWINS 2000000L
#define JOB_MAX_RELS 10000000L
#define JOB_MAX_MODELS 10000L
#define JOB_CHUNK (4u << 20)		/* bytes per ranged GET */
#define JOB_FLUSH_BYTES (1u << 20)	/* output log batch */
#define JOB_MAX_LINE (8u << 20)		/* longest input line kept */
#define JOB_BLOB_MS 30000		/* retry budget per blob request */

enum jst { J_NOTSTARTED, J_RUNNING, J_FAILED, J_SUCCEEDED, J_CANCELLING,
	J_CANCELLED };
static const char *jst_names[] = { "notstarted", "running", "failed",
    "succeeded", "cancelling", "cancelled" };

struct job {
	char *id, *in, *out;
	char created[40], last[40], finished[40], purge[40];
	enum jst st;
	char code[64], msg[600];
	int cancel, deleted;
	struct job *next;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *head;
	int started, stop;
	pthread_t th;
	struct blob_account acct;
	int configured;
	double rate;
} J = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, 0,
	0, { NULL, NULL, NULL, NULL }, 0, 0 };

/* ---- times, views ---- */

/* t (seconds since the epoch) as ADT writes job times:
 * 2022-01-01T00:00:00.0000000+00:00 */
static void
job_time(char *out, size_t n, double t)
{
	time_t s = (time_t)t;

	emu_time7_at(out, n, s, (int)((t - (double)s) * 1e7) % 10000000,
	    "+00:00");
}

static int
active(const struct job *j)
{
	return j->st == J_NOTSTARTED || j->st == J_RUNNING ||
	    j->st == J_CANCELLING;
}

/* The job as ADT shows it (jobs_mu held). */
static jv
job_view(const struct job *j)
{
	jv v = JV_OBJECT(jv_string("id"), jv_string(j->id),
	    jv_string("inputBlobUri"), jv_string(j->in),
	    jv_string("outputBlobUri"), jv_string(j->out),
	    jv_string("status"), jv_string(jst_names[j->st]),
	    jv_string("createdDateTime"), jv_string(j->created),
	    jv_string("lastActionDateTime"), jv_string(j->last));

	if (j->finished[0] != '\0')
		v = jv_object_set(v, jv_string("finishedDateTime"),
		    jv_string(j->finished));
	v = jv_object_set(v, jv_string("purgeDateTime"), jv_string(j->purge));
	if (j->st == J_FAILED)
		v = jv_object_set(v, jv_string("error"), JV_OBJECT(
		    jv_string("code"), jv_string(j->code),
		    jv_string("message"), jv_string(j->msg)));
	return v;
}

static struct job *
job_find(const char *id)
{
	struct job *j;

	for (j = J.head; j != NULL; j = j->next)
		if (!j->deleted && strcmp(j->id, id) == 0)
			return j;
	return NULL;
}

static void
job_free(struct job *j)
{
	free(j->id);
	free(j->in);
	free(j->out);
	free(j);
}

static void
job_unlink(struct job *j)
{
	struct job **p;

	for (p = &J.head; *p != NULL; p = &(*p)->next)
		if (*p == j) {
			*p = j->next;
			break;
		}
	job_free(j);
}

/* ---- blob addresses ---- */

/*
 * Split a job's blob URI into container and blob name (decoded,
 * malloc'd); it must be under the configured account's endpoint. 0, or
 * -1 with msg set.
 */
static int
blob_addr(const char *uri, char **container, char **blob, char *msg,
    size_t msgsz)
{
	char *acct = NULL, *ep = NULL, *c = NULL, *pre = NULL;
	struct buf err = BUF_INIT, dc = BUF_INIT, db = BUF_INIT;
	int rc = -1;

	*container = *blob = NULL;
	if (blob_url_parse(uri, &acct, &ep, &c, &pre, &err) < 0) {
		snprintf(msg, msgsz, "%s", buf_cstr(&err));
		goto out;
	}
	if (strcmp(ep, J.acct.endpoint) != 0 || strcmp(acct, J.acct.name) != 0) {
		snprintf(msg, msgsz, "the blob URI %.300s is not under the "
		    "Storage account of twin-emulator (%.200s)", uri,
		    J.acct.endpoint);
		goto out;
	}
	if (pre[0] == '\0' || pct_decode(&dc, c, strlen(c)) != 0 ||
	    pct_decode(&db, pre, strlen(pre)) != 0) {
		snprintf(msg, msgsz, "the blob URI %.300s names no blob", uri);
		goto out;
	}
	*container = xstrdup(buf_cstr(&dc));
	*blob = xstrdup(buf_cstr(&db));
	rc = 0;
out:
	free(acct);
	free(ep);
	free(c);
	free(pre);
	buf_release(&err);
	buf_release(&dc);
	buf_release(&db);
	return rc;
}

/* Is uri a blob of the configured account? (else msg says why) */
static int
blob_ok(const char *uri, char *msg, size_t msgsz)
{
	char *c, *b;

	if (blob_addr(uri, &c, &b, msg, msgsz) != 0)
		return 0;
	free(c);
	free(b);
	return 1;
}

/* ---- the runner ---- */

struct run {
	struct job *j;
	char jobid[300];
	struct http_engine *e;
	struct blob_where win, wout;
	char *inc, *inb, *outc, *outb;
	struct buf log;		/* lines not yet appended */
	double flushed;		/* time of the last append */
	int out_made;
	enum adt_section sec;
	int sec_open;		/* Started logged, Succeeded not yet */
	long line, n_ent, n_twins, n_rels, n_models;
	jv models;		/* the Models section, uploaded at its end */
	long models_line;
	double tokens, tokens_t;
	int failed, cancelled;
	char code[64], msg[600];
};

static void
run_fail(struct run *rn, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
run_fail(struct run *rn, const char *code, const char *fmt, ...)
{
	va_list ap;

	if (rn->failed)
		return;
	rn->failed = 1;
	snprintf(rn->code, sizeof(rn->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(rn->msg, sizeof(rn->msg), fmt, ap);
	va_end(ap);
}

/* Append the buffered log lines to the output blob (creating it first). */
static int
flush_log(struct run *rn)
{
	struct blob_hdr h[2] = { { "x-ms-blob-type", "AppendBlob" },
	    { "If-None-Match", "*" } };
	struct blob_reply r;
	int rc;

	if (rn->log.len == 0)
		return 0;
	if (!rn->out_made) {
		rc = blob_call(rn->e, &rn->wout, "PUT", rn->outb, NULL, h, 2,
		    NULL, 0, NULL, &r);
		if (rc != 0 && !(rc == 1 && r.status == 409)) {
			run_fail(rn, "ValidationFailed", "Cannot create the output "
			    "blob %.300s: %s.", rn->j->out, buf_cstr(&r.why));
			blob_reply_release(&r);
			rn->log.len = 0;
			return -1;
		}
		blob_reply_release(&r);
		rn->out_made = 1;
	}
	rc = blob_call(rn->e, &rn->wout, "PUT", rn->outb, "comp=appendblock",
	    NULL, 0, rn->log.p, rn->log.len, NULL, &r);
	rn->log.len = 0;
	rn->flushed = emu_now();
	if (rc != 0) {
		run_fail(rn, "ValidationFailed", "Cannot append to the output "
		    "blob %.300s: %s.", rn->j->out, buf_cstr(&r.why));
		blob_reply_release(&r);
		return -1;
	}
	blob_reply_release(&r);
	return 0;
}

/* One line of the output log (details consumed); batched. */
static void
jlog_line(struct run *rn, const char *type, jv details)
{
	char ts[40];

	emu_time7(ts, sizeof(ts));
	jv v = JV_OBJECT(jv_string("timestamp"), jv_string(ts),
	    jv_string("jobId"), jv_string(rn->jobid),
	    jv_string("jobType"), jv_string("Import"),
	    jv_string("logType"), jv_string(type),
	    jv_string("details"), details);

	json_write(&rn->log, v, 0, NULL);
	buf_addc(&rn->log, '\n');
	jv_free(v);
	if (rn->log.len >= JOB_FLUSH_BYTES || emu_now() - rn->flushed >= 1)
		(void)flush_log(rn);
}

static void
jlog_status(struct run *rn, enum adt_section sec, const char *status)
{
	jv d = jv_object();

	if (sec != ADT_SEC_NONE)
		d = jv_object_set(d, jv_string("section"),
		    jv_string(adt_jobs_section_name(sec)));
	jlog_line(rn, "Info", jv_object_set(d, jv_string("status"),
	    jv_string(status)));
}

/* An entity's error line; ent (borrowed, may be invalid) gives its ids. */
static void
jlog_error(struct run *rn, jv ent, const char *code, const char *msg)
{
	jv d = JV_OBJECT(jv_string("section"),
	    jv_string(adt_jobs_section_name(rn->sec)), jv_string("lineNumber"),
	    jv_number((double)rn->line));
	const char *ids[] = { "@id", "$dtId", "$relationshipId" };
	size_t i;

	for (i = 0; jv_is_valid(ent) && i < sizeof(ids) / sizeof(ids[0]); i++)
		if (json_get_str(ent, ids[i]) != NULL &&
		    (i != 0 || rn->sec == ADT_SEC_MODELS) &&
		    (i != 2 || rn->sec == ADT_SEC_RELS))
			d = jv_object_set(d, jv_string(ids[i]),
			    jv_string(json_get_str(ent, ids[i])));
	d = jv_object_set(d, jv_string("code"), jv_string(code));
	d = jv_object_set(d, jv_string("message"), jv_string(msg));
	jlog_line(rn, "Error", d);
}

/* The code and message of ADT's error body in rs. */
static void
resp_error(struct resp *rs, char *code, size_t cn, char *msg, size_t mn)
{
	struct json_err je;
	jv v = jv_invalid();
	const char *c = NULL, *m = NULL;
	jv e;

	if (json_parse(rs->body.p != NULL ? rs->body.p : "", rs->body.len, &v,
	    NULL, &je) != 0)
		v = jv_invalid();
	e = json_get(v, "error");
	c = json_get_str(e, "code");
	m = json_get_str(e, "message");
	snprintf(code, cn, "%s", c != NULL ? c : "InternalServerError");
	snprintf(msg, mn, "%s", m != NULL ? m : "The entity was not created.");
	jv_free(e);
	jv_free(v);
}

static void
resp_release(struct resp *rs)
{
	buf_release(&rs->body);
	buf_release(&rs->hdrs);
}

/* Should the job stop (cancel, delete, shutdown)? */
static int
run_stopped(struct run *rn)
{
	int c;

	pthread_mutex_lock(&J.mu);
	c = rn->j->cancel || J.stop;
	pthread_mutex_unlock(&J.mu);
	if (c)
		rn->cancelled = 1;
	return c;
}

/* Wait for a token of --import-rate (woken early by cancel and stop). */
static void
run_pace(struct run *rn)
{
	double now, wait;
	struct timespec ts;

	if (J.rate <= 0)
		return;
	pthread_mutex_lock(&J.mu);
	for (;;) {
		now = emu_now();
		rn->tokens += (now - rn->tokens_t) * J.rate;
		rn->tokens_t = now;
		if (rn->tokens > 1)
			rn->tokens = 1;
		if (rn->tokens >= 1 || rn->j->cancel || J.stop)
			break;
		wait = (1 - rn->tokens) / J.rate;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)wait;
		ts.tv_nsec += (long)((wait - floor(wait)) * 1e9);
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		(void)pthread_cond_timedwait(&J.cv, &J.mu, &ts);
	}
	if (rn->tokens >= 1)
		rn->tokens -= 1;
	pthread_mutex_unlock(&J.mu);
}

static void
models_upload(struct run *rn)
{
	struct resp rs;
	char code[64], msg[600];
	long line = rn->line;
	int rc;

	if (jv_array_length(jv_copy(rn->models)) == 0)
		return;
	memset(&rs, 0, sizeof(rs));
	store_lock();
	rc = adt_models_add(rn->models, &rs);
	store_unlock();
	rn->models = jv_array();
	if (rc != 0) {
		resp_error(&rs, code, sizeof(code), msg, sizeof(msg));
		rn->line = rn->models_line;
		jlog_error(rn, jv_invalid(), code, msg);
		rn->line = line;
	}
	resp_release(&rs);
}

/* End the open section: it was read to its end. */
static void
section_end(struct run *rn)
{
	if (!rn->sec_open)
		return;
	if (rn->sec == ADT_SEC_MODELS)
		models_upload(rn);
	jlog_status(rn, rn->sec, "Succeeded");
	(void)flush_log(rn);
	rn->sec_open = 0;
}

static void
section_start(struct run *rn, enum adt_section sec)
{
	section_end(rn);
	rn->sec = sec;
	if (sec == ADT_SEC_MODELS || sec == ADT_SEC_TWINS || sec == ADT_SEC_RELS) {
		jlog_status(rn, sec, "Started");
		rn->sec_open = 1;
	}
}

static void
do_twin(struct run *rn, jv ent, size_t n)
{
	struct resp rs;
	char code[64], msg[600], id[1024];
	jv model;
	int rc, decom = 0, missing = 0, nomodel = 0;

	memset(&rs, 0, sizeof(rs));
	snprintf(id, sizeof(id), "%s", json_get_str(ent, "$dtId"));
	model = adt_twin_model(ent);
	store_lock();
	if (jv_get_kind(model) == JV_KIND_STRING) {
		jv d = adt_decl_get(jv_string_value(model), &decom, &missing);

		nomodel = !jv_is_valid(d) && !missing;
		jv_free(d);
	}
	rc = nomodel ? -1 : adt_twin_put_core(id, jv_copy(ent), n, "*", NULL,
	    0, &rs);
	store_unlock();
	if (nomodel) {
		snprintf(msg, sizeof(msg), "The model %.250s of twin %.250s is "
		    "not found.", jv_string_value(model), id);
		jlog_error(rn, ent, "ModelNotFound", msg);
	} else if (rc != 0) {
		resp_error(&rs, code, sizeof(code), msg, sizeof(msg));
		if (rs.status == 412)
			jlog_error(rn, ent, "TwinAlreadyExists", "A twin with this "
			    "id already exists; it was not changed.");
		else
			jlog_error(rn, ent, code, msg);
	} else
		rn->n_twins++;
	jv_free(model);
	resp_release(&rs);
}

static void
do_rel(struct run *rn, jv ent)
{
	struct resp rs;
	char code[64], msg[600], src[1024], id[1024];
	int rc;

	memset(&rs, 0, sizeof(rs));
	snprintf(src, sizeof(src), "%s", json_get_str(ent, "$dtId"));
	snprintf(id, sizeof(id), "%s", json_get_str(ent, "$relationshipId"));
	store_lock();
	rc = adt_rel_put_core(src, id, jv_copy(ent), "*", NULL, 0, &rs);
	store_unlock();
	if (rc != 0) {
		resp_error(&rs, code, sizeof(code), msg, sizeof(msg));
		if (rs.status == 412)
			jlog_error(rn, ent, "RelationshipAlreadyExists", "A "
			    "relationship with this id already exists on the "
			    "source twin; it was not changed.");
		else if (rs.status == 404)
			jlog_error(rn, ent, "DigitalTwinNotFound", msg);
		else
			jlog_error(rn, ent, code, msg);
	}
	resp_release(&rs);
}

static long
fail_after(void)
{
	double d;

	pthread_mutex_lock(&emu.fault_mu);
	d = emu.faults.job_fail_after;
	pthread_mutex_unlock(&emu.fault_mu);
	return (long)d;
}

/* One line of the input (n bytes, not NUL-terminated). 0 go on, -1 stop. */
static int
do_line(struct run *rn, const char *p, size_t n)
{
	enum adt_section sec = rn->sec;
	char msg[300];
	jv ent;
	long lim;

	rn->line++;
	switch (adt_jobs_line_read(p, n, &sec, &ent, msg, sizeof(msg))) {
	case ADT_LINE_BLANK:
		return 0;
	case ADT_LINE_SECTION:
		section_start(rn, sec);
		return rn->failed ? -1 : 0;
	case ADT_LINE_BAD:
		jlog_error(rn, jv_invalid(), "InvalidArgument", msg);
		return rn->failed ? -1 : 0;
	case ADT_LINE_ENTITY:
		break;
	}
	if (rn->sec == ADT_SEC_HEADER) {
		jv_free(ent);
		return 0;
	}
	if (run_stopped(rn)) {
		jv_free(ent);
		return -1;
	}
	if ((lim = fail_after()) > 0 && rn->n_ent >= lim) {
		jv_free(ent);
		run_fail(rn, "InternalServerError", "The import job failed after "
		    "%ld entities (job_fail_after, injected by twin-emulator).",
		    rn->n_ent);
		return -1;
	}
	run_pace(rn);
	if (run_stopped(rn)) {
		jv_free(ent);
		return -1;
	}
	rn->n_ent++;
	if (adt_jobs_line_ids(rn->sec, ent, msg, sizeof(msg)) != 0) {
		jlog_error(rn, ent, "InvalidArgument", msg);
		jv_free(ent);
		return rn->failed ? -1 : 0;
	}
	if (rn->sec == ADT_SEC_MODELS) {
		if (++rn->n_models > JOB_MAX_MODELS)
			run_fail(rn, "ValidationFailed", "The import file has "
			    "more than %ld models (ADT's limit per job).",
			    JOB_MAX_MODELS);
		else {
			if (jv_array_length(jv_copy(rn->models)) == 0)
				rn->models_line = rn->line;
			rn->models = jv_array_append(rn->models, jv_copy(ent));
		}
	} else if (rn->sec == ADT_SEC_TWINS) {
		if (rn->n_twins >= JOB_MAX_TWINS)
			run_fail(rn, "ValidationFailed", "The import file has "
			    "more than %ld twins (ADT's limit per job).",
			    JOB_MAX_TWINS);
		else
			do_twin(rn, ent, n);
	} else if (rn->sec == ADT_SEC_RELS) {
		if (++rn->n_rels > JOB_MAX_RELS)
			run_fail(rn, "ValidationFailed", "The import file has "
			    "more than %ld relationships (ADT's limit per job).",
			    JOB_MAX_RELS);
		else
			do_rel(rn, ent);
	}
	jv_free(ent);
	return rn->failed ? -1 : 0;
}

/* Read the input blob in ranges and feed its lines to do_line. */
static void
read_input(struct run *rn)
{
	struct buf pend = BUF_INIT;
	struct blob_reply r;
	struct blob_hdr h[1];
	char range[64];
	unsigned long long off = 0;
	size_t i, start, got;
	int rc, eof = 0, skipping = 0;

	while (!eof && !rn->failed && !rn->cancelled) {
		snprintf(range, sizeof(range), "bytes=%llu-%llu", off,
		    off + JOB_CHUNK - 1);
		h[0].name = "x-ms-range";
		h[0].value = range;
		rc = blob_call(rn->e, &rn->win, "GET", rn->inb, NULL, h, 1, NULL,
		    0, NULL, &r);
		if (rc == 1 && r.status == 416) {	/* past the end */
			blob_reply_release(&r);
			break;
		}
		if (rc == 1 && r.status == 404) {
			run_fail(rn, "InputBlobNotFound", "The input blob %.300s "
			    "was not found.", rn->j->in);
			blob_reply_release(&r);
			break;
		}
		if (rc != 0) {
			run_fail(rn, "ValidationFailed", "Cannot read the input "
			    "blob %.300s: %s.", rn->j->in, buf_cstr(&r.why));
			blob_reply_release(&r);
			break;
		}
		got = r.body.len;
		eof = got < JOB_CHUNK;
		off += got;
		buf_add(&pend, r.body.p != NULL ? r.body.p : "", got);
		blob_reply_release(&r);
		for (start = 0, i = 0; i < pend.len; i++) {
			if (pend.p[i] != '\n')
				continue;
			if (!skipping && do_line(rn, pend.p + start,
			    i - start) != 0)
				goto out;
			if (skipping) {
				rn->line++;
				skipping = 0;
			}
			start = i + 1;
		}
		memmove(pend.p, pend.p + start, pend.len - start);
		pend.len -= start;
		if (pend.len > JOB_MAX_LINE) {	/* keep the count, not the line */
			if (!skipping) {
				rn->line++;
				jlog_error(rn, jv_invalid(), "InvalidArgument",
				    "The line is longer than 8 MiB.");
				rn->line--;
			}
			pend.len = 0;
			skipping = 1;
		}
	}
	if (!rn->failed && !rn->cancelled && pend.len > 0 && !skipping)
		(void)do_line(rn, pend.p, pend.len);
out:
	buf_release(&pend);
}

static void
run_job(struct run *rn)
{
	char msg[400];

	snprintf(rn->jobid, sizeof(rn->jobid), "%s", rn->j->id);
	rn->win.acct = rn->wout.acct = &J.acct;
	rn->win.max_ms = rn->wout.max_ms = JOB_BLOB_MS;
	rn->models = jv_array();
	rn->flushed = emu_now();
	rn->tokens_t = emu_now();
	if (blob_addr(rn->j->in, &rn->inc, &rn->inb, msg, sizeof(msg)) != 0 ||
	    blob_addr(rn->j->out, &rn->outc, &rn->outb, msg, sizeof(msg)) != 0) {
		run_fail(rn, "ValidationFailed", "%s", msg);
	} else {
		rn->win.container = rn->inc;
		rn->wout.container = rn->outc;
		jlog_status(rn, ADT_SEC_NONE, "Started");
		read_input(rn);
		if (!rn->failed && !rn->cancelled)
			section_end(rn);
		jlog_status(rn, ADT_SEC_NONE, rn->failed ? "Failed" :
		    rn->cancelled ? "Cancelled" : "Succeeded");
		if (flush_log(rn) != 0 && !rn->cancelled)
			rn->failed = 1;
	}
	pthread_mutex_lock(&J.mu);
	job_time(rn->j->finished, sizeof(rn->j->finished), emu_now());
	snprintf(rn->j->last, sizeof(rn->j->last), "%s", rn->j->finished);
	if (rn->failed) {
		rn->j->st = J_FAILED;
		snprintf(rn->j->code, sizeof(rn->j->code), "%s", rn->code);
		snprintf(rn->j->msg, sizeof(rn->j->msg), "%s", rn->msg);
	} else
		rn->j->st = rn->cancelled ? J_CANCELLED : J_SUCCEEDED;
	if (rn->j->deleted)
		job_unlink(rn->j);
	pthread_mutex_unlock(&J.mu);
	jv_free(rn->models);
	free(rn->inc);
	free(rn->inb);
	free(rn->outc);
	free(rn->outb);
	buf_release(&rn->log);
}

static void *
runner(void *arg)
{
	struct http_opts o;
	struct http_engine *e;
	struct job *j;
	struct run rn;

	(void)arg;
	http_opts_init(&o);
	o.no_stats = 1;
	o.service = "blob";
	o.max_attempts = 4;
	o.max_total_ms = JOB_BLOB_MS;
	e = http_engine_new(&o);
	pthread_mutex_lock(&J.mu);
	for (;;) {
		for (j = J.head; j != NULL && j->st != J_NOTSTARTED &&
		    j->st != J_CANCELLING; j = j->next)
			;
		if (J.stop)
			break;
		if (j == NULL) {
			pthread_cond_wait(&J.cv, &J.mu);
			continue;
		}
		job_time(j->last, sizeof(j->last), emu_now());
		if (j->cancel || e == NULL) {
			job_time(j->finished, sizeof(j->finished), emu_now());
			if (e == NULL) {
				j->st = J_FAILED;
				snprintf(j->code, sizeof(j->code),
				    "InternalServerError");
				snprintf(j->msg, sizeof(j->msg), "twin-emulator "
				    "cannot start its HTTP client.");
			} else
				j->st = J_CANCELLED;
			if (j->deleted)
				job_unlink(j);
			continue;
		}
		j->st = J_RUNNING;
		pthread_mutex_unlock(&J.mu);
		memset(&rn, 0, sizeof(rn));
		rn.j = j;
		rn.e = e;
		run_job(&rn);
		pthread_mutex_lock(&J.mu);
	}
	pthread_mutex_unlock(&J.mu);
	http_engine_free(e);
	return NULL;
}

/* ---- configuration ---- */

int
adt_jobs_init(const char *cs, double import_rate, char *msg, size_t msgsz)
{
	struct buf err = BUF_INIT;

	J.rate = import_rate;
	if (cs == NULL)
		return 0;
	if (blob_conn_parse(&J.acct, cs, &err) != 0) {
		snprintf(msg, msgsz, "the Storage connection string: %s",
		    buf_cstr(&err));
		buf_release(&err);
		return -1;
	}
	buf_release(&err);
	if (J.acct.key == NULL) {
		blob_account_release(&J.acct);
		snprintf(msg, msgsz, "the Storage connection string has no "
		    "AccountKey (import jobs sign with the account key)");
		return -1;
	}
	J.configured = 1;
	return 0;
}

void
adt_jobs_stop(void)
{
	struct job *j;

	pthread_mutex_lock(&J.mu);
	J.stop = 1;
	pthread_cond_broadcast(&J.cv);
	pthread_mutex_unlock(&J.mu);
	if (J.started)
		pthread_join(J.th, NULL);
	J.started = 0;
	while ((j = J.head) != NULL) {
		J.head = j->next;
		job_free(j);
	}
	blob_account_release(&J.acct);
}

/* ---- the routes ---- */

static void
job_put(struct req *r, struct resp *rs, const char *id)
{
	jv body = jv_invalid();
	const char *in, *out;
	char msg[600];
	struct job *j, *a;
	double now = emu_now();

	if (!J.configured) {
		adt_err(rs, 400, "ValidationFailed", "twin-emulator has no Storage "
		    "account for import jobs: start it with "
		    "TWIN_EMULATOR_STORAGE_CONNECTION_STRING or "
		    "--storage-connection-string-file.");
		return;
	}
	if (req_json(r, &body, msg, sizeof(msg)) != 0 ||
	    jv_get_kind(body) != JV_KIND_OBJECT) {
		adt_err(rs, 400, "ValidationFailed", "The import job must be a JSON "
		    "object with inputBlobUri and outputBlobUri%s%s",
		    jv_is_valid(body) ? "." : ": ", jv_is_valid(body) ? "" : msg);
		goto out;
	}
	in = json_get_str(body, "inputBlobUri");
	out = json_get_str(body, "outputBlobUri");
	if (in == NULL || out == NULL || in[0] == '\0' || out[0] == '\0') {
		adt_err(rs, 400, "ValidationFailed", "The import job needs "
		    "inputBlobUri and outputBlobUri (non-empty strings).");
		goto out;
	}
	if (!blob_ok(in, msg, sizeof(msg)) || !blob_ok(out, msg, sizeof(msg))) {
		adt_err(rs, 400, "ValidationFailed", "Invalid import job: %s.",
		    msg);
		goto out;
	}
	pthread_mutex_lock(&J.mu);
	if (job_find(id) != NULL) {
		pthread_mutex_unlock(&J.mu);
		adt_err(rs, 400, "ValidationFailed", "An import job with the id "
		    "%.200s already exists.", id);
		goto out;
	}
	for (a = J.head; a != NULL && !active(a); a = a->next)
		;
	if (a != NULL) {
		pthread_mutex_unlock(&J.mu);
		adt_err(rs, 400, "JobLimitReached", "The import job %.200s is "
		    "still %s; twin-emulator runs one import job at a time.",
		    a->id, jst_names[a->st]);
		goto out;
	}
	if (!J.started) {
		if ((errno = pthread_create(&J.th, NULL, runner, NULL)) != 0) {
			pthread_mutex_unlock(&J.mu);
			adt_err(rs, 500, "InternalServerError", "Cannot start the "
			    "import job runner: %s.", strerror(errno));
			goto out;
		}
		J.started = 1;
	}
	j = xcalloc(1, sizeof(*j));
	j->id = xstrdup(id);
	j->in = xstrdup(in);
	j->out = xstrdup(out);
	job_time(j->created, sizeof(j->created), now);
	snprintf(j->last, sizeof(j->last), "%s", j->created);
	job_time(j->purge, sizeof(j->purge), now + 86400);
	j->st = J_NOTSTARTED;
	if (J.head == NULL)
		J.head = j;
	else {
		for (a = J.head; a->next != NULL; a = a->next)
			;
		a->next = j;
	}
	resp_json(rs, 201, job_view(j));
	pthread_cond_broadcast(&J.cv);
	pthread_mutex_unlock(&J.mu);
out:
	jv_free(body);
}

static void
job_list(struct req *r, struct resp *rs)
{
	struct pager pg;
	struct job *j;
	jv arr = jv_array();
	int take;

	if (adt_pager_init(r, rs, &pg) != 0) {
		jv_free(arr);
		return;
	}
	pthread_mutex_lock(&J.mu);
	for (j = J.head; j != NULL; j = j->next) {
		if (j->deleted)
			continue;
		if ((take = adt_pager_take(&pg)) < 0)
			break;
		if (take > 0)
			arr = jv_array_append(arr, job_view(j));
	}
	pthread_mutex_unlock(&J.mu);
	adt_send_page(r, rs, &pg, arr);
}

static void
job_not_found(struct resp *rs, const char *id)
{
	adt_err(rs, 404, "JobNotFound", "There is no import job with the id "
	    "%.200s.", id);
}

static void
job_one(struct req *r, struct resp *rs, const char *id, int cancel)
{
	struct job *j;
	const char *m = r->method;

	pthread_mutex_lock(&J.mu);
	j = job_find(id);
	if (j == NULL) {
		pthread_mutex_unlock(&J.mu);
		job_not_found(rs, id);
		return;
	}
	if (cancel || strcmp(m, "DELETE") == 0) {
		if (active(j)) {
			j->cancel = 1;
			if (j->st != J_CANCELLING) {
				j->st = J_CANCELLING;
				job_time(j->last, sizeof(j->last), emu_now());
			}
			pthread_cond_broadcast(&J.cv);
		}
		if (cancel)
			resp_json(rs, 200, job_view(j));
		else {
			if (active(j))
				j->deleted = 1;	/* the runner frees it */
			else
				job_unlink(j);
			rs->status = 204;
		}
	} else
		resp_json(rs, 200, job_view(j));
	pthread_mutex_unlock(&J.mu);
}

/* /jobs/imports[/ID[/cancel]] */
void
adt_jobs(struct req *r, struct resp *rs)
{
	const char *m = r->method;

	r->kind = "adt.job";
	if (r->nseg == 2 && strcmp(m, "GET") == 0)
		job_list(r, rs);
	else if (r->nseg == 3 && strcmp(m, "PUT") == 0)
		job_put(r, rs, r->seg[2]);
	else if (r->nseg == 3 && (strcmp(m, "GET") == 0 ||
	    strcmp(m, "DELETE") == 0))
		job_one(r, rs, r->seg[2], 0);
	else if (r->nseg == 4 && strcmp(r->seg[3], "cancel") == 0 &&
	    strcmp(m, "POST") == 0)
		job_one(r, rs, r->seg[2], 1);
	else if (r->nseg <= 4)
		adt_err(rs, 405, "MethodNotAllowed", "The method is not allowed "
		    "here.");
	else
		adt_err(rs, 404, "NotFound", "The resource is not served by "
		    "twin-emulator.");
}
