/*
 * adt_job.c - push-adt's bulk loads through ADT Import Jobs (adt_job.h):
 * the spool, the candidates, the exists query, the upload, the job, its
 * log, the state file and the recovery of an earlier run's job.
 */
#include "adt_job.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "adt_bulk.h"
#include "adt_op.h"
#include "auth.h"
#include "clock.h"
#include "codec.h"
#include "fnv.h"
#include "json.h"
#include "log.h"
#include "stage.h"
#include "stats.h"

#define ADT_JOB_MAX_TWINS 2000000	/* ADT's per-job limits */
#define ADT_JOB_MAX_RELS 10000000
#define PUT_BLOB_MAX (64u << 20)	/* above: Put Block + Put Block List */
#define BLOCK_SIZE (32u << 20)
#define SPOOL_FLUSH (1u << 20)
#define POLL_MAX_MS 30000

/* ---- a string map: key bytes -> index ---- */

struct smap_slot {
	char *k;
	size_t klen;
	size_t v;
};

struct smap {
	struct smap_slot *s;
	size_t n, cap;		/* cap: a power of two */
};

static void
smap_release(struct smap *m)
{
	size_t i;

	for (i = 0; i < m->cap; i++)
		free(m->s[i].k);
	free(m->s);
	memset(m, 0, sizeof(*m));
}

static struct smap_slot *
smap_slot(struct smap *m, const char *k, size_t klen)
{
	size_t i;

	i = (size_t)fnv1a64(k, klen) & (m->cap - 1);
	while (m->s[i].k != NULL && (m->s[i].klen != klen ||
	    memcmp(m->s[i].k, k, klen) != 0))
		i = (i + 1) & (m->cap - 1);
	return &m->s[i];
}

/* The value of k, or NULL. */
static size_t *
smap_get(struct smap *m, const char *k, size_t klen)
{
	struct smap_slot *s;

	if (m->cap == 0)
		return NULL;
	s = smap_slot(m, k, klen);
	return s->k != NULL ? &s->v : NULL;
}

/* Add k with value v (when k is absent); returns its value's place. */
static size_t *
smap_put(struct smap *m, const char *k, size_t klen, size_t v)
{
	struct smap_slot *s;

	if (2 * (m->n + 1) > m->cap) {
		struct smap old = *m;
		size_t i;

		m->cap = m->cap ? 2 * m->cap : 1024;
		m->s = xcalloc(m->cap, sizeof(*m->s));
		for (i = 0; i < old.cap; i++)
			if (old.s[i].k != NULL)
				*smap_slot(m, old.s[i].k, old.s[i].klen) =
				    old.s[i];
		free(old.s);
	}
	s = smap_slot(m, k, klen);
	if (s->k == NULL) {
		s->k = xmalloc(klen + 1);
		memcpy(s->k, k, klen);
		s->k[klen] = '\0';
		s->klen = klen;
		s->v = v;
		m->n++;
	}
	return &s->v;
}

/* ---- the run ---- */

enum cand { C_NONE, C_TWIN, C_REL };

struct srec {
	size_t off;		/* its frame in the spool */
	size_t key;		/* C_REL: its source's twin key */
	long ent;		/* entity in the job, -1: none */
	unsigned char cand;
	unsigned char out;	/* enum adt_job_out */
};

struct tkey {
	int open;		/* only candidates seen for it so far */
	int cand;		/* its first record is a candidate twin */
	int is_new;		/* the query did not find it */
	int in_job;
};

struct adt_job {
	struct adt_job_cfg c;
	struct blob_target bt;
	struct blob_where bw;
	struct auth *entra;
	struct http_engine *be;	/* Blob Storage */
	struct json_numlits lits;
	int fd;			/* the spool */
	int lockfd;		/* FILE.lock, held while the run lives */
	struct buf wb;
	size_t woff;
	char *map;
	size_t mapn, rd;	/* pass 2: read offset */
	struct srec *r;
	size_t nr, capr;
	struct tkey *k;
	size_t nk, capk;
	struct smap keys;	/* twin id -> tkey */
	struct smap pairs;	/* source NUL rel id (open prefixes) */
	struct smap okl;	/* import lines an earlier job loaded */
	size_t ncand;
	struct adt_bulk b;
	int used;		/* a job ran */
	int interrupted;	/* stopped while waiting for it */
	int written;		/* the state file names this run's job */
	struct adt_bulk_state st;	/* this run's job */
	struct adt_bulk_state old;	/* an earlier run's, to clean up */
	uint64_t *c_jobs, *c_ok, *c_failed, *c_requests;
};

/* ---- small synchronous requests on the ADT engine ---- */

struct sync {
	int done;
	long status;
	struct buf body, why;
};

static void
sync_done(struct http_req *rq, enum http_verdict v,
    const struct http_resp *resp, void *user)
{
	struct sync *s = user;

	(void)rq;
	(void)v;
	s->done = 1;
	s->status = resp->terr == HTTP_TE_NONE ? resp->status : 0;
	if (resp->body != NULL)
		buf_add(&s->body, resp->body, resp->body_len);
	buf_adds(&s->why, resp->why != NULL ? resp->why : "");
	buf_cstr(&s->body);
	buf_cstr(&s->why);
}

/* method url [body]: fills s; returns its HTTP status (0: no answer) */
static long
adt_sync(struct adt_job *j, const char *method, const char *url,
    const char *body, struct sync *s)
{
	struct http_req *rq = http_req_new(method, url);
	unsigned guard;

	memset(s, 0, sizeof(*s));
	if (body != NULL) {
		http_req_header(rq, "Content-Type", "application/json");
		http_req_body(rq, body, strlen(body));
	}
	http_req_callbacks(rq, j->c.prepare, j->c.classify, sync_done, s);
	http_submit(j->c.e, rq);
	for (guard = 0; !s->done && guard < 10000000; guard++)
		http_poll(j->c.e, 1000, -1, NULL);
	if (!s->done) {
		http_drain(j->c.e, 0);
		buf_adds(&s->why, "cancelled");
	}
	return s->status;
}

static void
sync_release(struct sync *s)
{
	buf_release(&s->body);
	buf_release(&s->why);
}

/* ADT's error code and message of an answer body */
static void
adt_err(const struct sync *s, struct buf *code, struct buf *msg)
{
	jv v = jv_invalid(), e;
	struct json_err je;

	if (s->body.len > 0 && json_parse(s->body.p, s->body.len, &v, NULL,
	    &je) == 0 && jv_get_kind(v) == JV_KIND_OBJECT) {
		e = json_get(v, "error");
		if (jv_get_kind(e) == JV_KIND_OBJECT) {
			const char *c = json_get_str(e, "code");
			const char *m = json_get_str(e, "message");

			buf_adds(code, c ? c : "");
			buf_adds(msg, m ? m : "");
		}
		jv_free(e);
	}
	jv_free(v);
	if (msg->len == 0)
		buf_printf(msg, "HTTP %ld %s", s->status, s->why.len ?
		    s->why.p : "");
	buf_cstr(code);
	buf_cstr(msg);
}

/* Sleep ms, waking for a stop. Returns 1 on a stop. */
static int
nap(long ms)
{
	while (ms > 0 && !stage_stop) {
		long t = ms > 100 ? 100 : ms;
		struct timespec ts = { t / 1000, (t % 1000) * 1000000L };

		nanosleep(&ts, NULL);
		ms -= t;
	}
	return stage_stop != 0;
}

/* ---- setup ---- */

struct adt_job *
adt_job_new(const struct adt_job_cfg *c, struct buf *err)
{
	struct adt_job *j = xcalloc(1, sizeof(*j));
	const char *tmp = getenv("TMPDIR");
	char path[4096];
	struct http_opts ho;

	j->c = *c;
	j->fd = j->lockfd = -1;
	if (blob_options_resolve(&c->bc, &j->bt, err) < 0)
		goto fail;
	if (!c->dry_run && j->bt.auth == BA_ENTRA) {
		struct auth_opts ao;

		auth_opts_init(&ao);
		ao.insecure = c->insecure;
		ao.cacert = c->cacert;
		if ((j->entra = auth_new(&ao, err)) == NULL)
			goto fail;
	}
	if (j->bt.auth != BA_SAS) {
		/* SAS only when asked for: key first, then Entra ID */
		free(j->bt.acct.sas);
		j->bt.acct.sas = NULL;
	}
	if (j->bt.auth == BA_ENTRA) {
		free(j->bt.acct.key);
		j->bt.acct.key = NULL;
	}
	j->bw.acct = &j->bt.acct;
	j->bw.container = j->bt.container;
	j->bw.entra = j->entra;
	if (!c->dry_run) {
		http_opts_init(&ho);
		ho.service = "blob";
		ho.max_inflight = 4;
		ho.insecure = c->insecure;
		ho.cacert = c->cacert;
		ho.timeout_ms = 300000;
		if ((j->be = http_engine_new(&ho)) == NULL) {
			buf_adds(err, "cannot start the HTTP engine");
			goto fail;
		}
	}
	if (!c->dry_run) {
		/* one run at a time per state file */
		snprintf(path, sizeof(path), "%s.lock", c->state_path);
		if ((j->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC,
		    0600)) < 0) {
			buf_printf(err, "cannot open '%s': %s", path,
			    strerror(errno));
			goto fail;
		}
		if (flock(j->lockfd, LOCK_EX | LOCK_NB) < 0) {
			buf_printf(err, "the state file '%s' is in use by "
			    "another push-adt (%s is locked)", c->state_path,
			    path);
			goto fail;
		}
	}
	snprintf(path, sizeof(path), "%s/push-adt-spool.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if ((j->fd = mkstemp(path)) < 0) {
		buf_printf(err, "cannot make the spool file '%s': %s", path,
		    strerror(errno));
		goto fail;
	}
	unlink(path);
	j->c_jobs = stats_counter("bulk.jobs");
	j->c_ok = stats_counter("bulk.ok");
	j->c_failed = stats_counter("bulk.failed");
	j->c_requests = stats_counter("bulk.requests");
	return j;
fail:
	adt_job_free(j);
	return NULL;
}

void
adt_job_free(struct adt_job *j)
{
	if (j == NULL)
		return;
	if (j->map != NULL)
		munmap(j->map, j->mapn);
	if (j->fd >= 0)
		close(j->fd);
	if (j->lockfd >= 0)
		close(j->lockfd);
	buf_release(&j->wb);
	free(j->r);
	free(j->k);
	smap_release(&j->keys);
	smap_release(&j->pairs);
	smap_release(&j->okl);
	adt_bulk_release(&j->b);
	adt_bulk_state_release(&j->st);
	adt_bulk_state_release(&j->old);
	json_numlits_release(&j->lits);
	http_engine_free(j->be);
	auth_free(j->entra);
	blob_target_release(&j->bt);
	free(j);
}

int
adt_job_used(const struct adt_job *j)
{
	return j != NULL && j->used;
}

/* ---- the state file ---- */

static int
state_save(struct adt_job *j)
{
	struct buf b = BUF_INIT, tmp = BUF_INIT;
	int fd, rc = -1;

	adt_bulk_state_write(&b, &j->st);
	buf_printf(&tmp, "%s.tmp", j->c.state_path);
	fd = open(buf_cstr(&tmp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600);
	if (fd >= 0 && fd_write_all(fd, b.p, b.len) == 0 &&
	    fsync(fd) == 0 && close(fd) == 0) {
		fd = -1;
		if (rename(tmp.p, j->c.state_path) == 0)
			rc = 0;
	}
	if (rc < 0)
		log_error("cannot write the state file '%s': %s",
		    j->c.state_path, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		unlink(tmp.p);
	buf_release(&b);
	buf_release(&tmp);
	return rc;
}

/* Read the state file into s: 1, 0 when there is none, -1 (logged). */
static int
state_load(const char *path, struct adt_bulk_state *s)
{
	struct buf b = BUF_INIT, err = BUF_INIT;
	char chunk[4096];
	ssize_t n;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;
		log_error("cannot read the state file '%s': %s", path,
		    strerror(errno));
		return -1;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0 && b.len < (1u << 20))
		buf_add(&b, chunk, (size_t)n);
	close(fd);
	if (n < 0 || b.len == 0) {
		buf_release(&b);
		/* an empty file: a job was never named in it */
		return n < 0 ? (log_error("cannot read the state file '%s'",
		    path), -1) : 0;
	}
	rc = adt_bulk_state_parse(b.p, b.len, s, &err) == 0 ? 1 : -1;
	if (rc < 0)
		log_error("the state file '%s' is not push-adt's: %s", path,
		    buf_cstr(&err));
	buf_release(&b);
	buf_release(&err);
	return rc;
}

/* ---- the job's requests ---- */

static void
job_url(const struct adt_job *j, struct buf *u, const char *id,
    const char *tail)
{
	buf_printf(u, "%s/jobs/imports/", j->c.endpoint);
	pct_encode(u, id, strlen(id));
	if (tail != NULL)
		buf_adds(u, tail);
	buf_printf(u, "?api-version=%s", j->c.api_version);
}

/* The blob's URL as ADT reads it: no SAS. */
static void
blob_url(const struct adt_job *j, struct buf *u, const char *name)
{
	const char *p = name, *sl;

	buf_printf(u, "%s/", j->bt.acct.endpoint);
	pct_encode(u, j->bt.container, strlen(j->bt.container));
	for (;;) {
		sl = strchr(p, '/');
		buf_addc(u, '/');
		pct_encode(u, p, sl != NULL ? (size_t)(sl - p) : strlen(p));
		if (sl == NULL)
			break;
		p = sl + 1;
	}
	buf_cstr(u);
}

static int
job_ended(const char *status)
{
	return strcmp(status, "succeeded") == 0 ||
	    strcmp(status, "failed") == 0 || strcmp(status, "cancelled") == 0;
}

/*
 * Wait for job id to end. Returns 0 with *status ("succeeded", ...) and
 * the job's error into code/msg, 1 on a stop, 2 when it is not there
 * (404), -1 when --bulk-wait passed or the service keeps failing.
 */
static int
job_wait(struct adt_job *j, const char *id, char *status, size_t nstatus,
    struct buf *code, struct buf *msg)
{
	struct buf u = BUF_INIT;
	double t0 = clock_s();
	long delay = 1000;
	int rc = -1;

	job_url(j, &u, id, NULL);
	for (;;) {
		struct sync s;
		long st = adt_sync(j, "GET", buf_cstr(&u), NULL, &s);

		if (st == 404) {
			rc = 2;
		} else if (st == 200) {
			jv v = jv_invalid();
			struct json_err je;
			const char *ss;

			if (json_parse(s.body.p, s.body.len, &v, NULL,
			    &je) == 0 && (ss = json_get_str(v,
			    "status")) != NULL && job_ended(ss)) {
				jv e = json_get(v, "error");

				snprintf(status, nstatus, "%s", ss);
				if (jv_get_kind(e) == JV_KIND_OBJECT) {
					const char *c = json_get_str(e, "code");
					const char *m = json_get_str(e,
					    "message");

					buf_adds(code, c ? c : "");
					buf_adds(msg, m ? m : "");
				}
				jv_free(e);
				rc = 0;
			}
			jv_free(v);
		} else {
			log_warn("import job '%s': GET: %s", id,
			    s.why.len ? s.why.p : "no answer");
		}
		sync_release(&s);
		if (rc == 0 || rc == 2)
			break;
		if (clock_s() - t0 > j->c.wait_s) {
			log_error("import job '%s' did not end within "
			    "--bulk-wait (%.0f s)", id, j->c.wait_s);
			break;
		}
		if (nap(delay)) {
			rc = 1;
			break;
		}
		delay = delay * 2 > POLL_MAX_MS ? POLL_MAX_MS : delay * 2;
	}
	buf_cstr(code);
	buf_cstr(msg);
	buf_release(&u);
	return rc;
}

/* GET blob name into out: 0, or -1 (logged) */
static int
blob_get(struct adt_job *j, const char *name, struct buf *out)
{
	struct blob_reply r;
	int rc = blob_call(j->be, &j->bw, "GET", name, NULL, NULL, 0, NULL, 0,
	    NULL, &r);

	if (rc == 0)
		buf_add(out, r.body.p, r.body.len);
	else
		log_warn("cannot read the blob '%s': %s", name,
		    buf_cstr(&r.why));
	blob_reply_release(&r);
	return rc == 0 ? 0 : -1;
}

static void
blob_del(struct adt_job *j, const char *name)
{
	struct blob_reply r;

	if (name == NULL)
		return;
	if (blob_call(j->be, &j->bw, "DELETE", name, NULL, NULL, 0, NULL, 0,
	    NULL, &r) < 0 || (r.status != 202 && r.status != 404 &&
	    r.status != 200))
		log_warn("cannot delete the blob '%s': %s", name,
		    buf_cstr(&r.why));
	blob_reply_release(&r);
}

/* Upload the import file: 0, or -1 (logged). */
static int
upload(struct adt_job *j, const char *name, const struct buf *f)
{
	const struct blob_hdr bb = { "x-ms-blob-type", "BlockBlob" };
	struct blob_reply r;
	struct buf list = BUF_INIT, q = BUF_INIT, id = BUF_INIT;
	size_t off, k;
	int rc;

	/* the container, when it is missing (409: it is there; a SAS
	   without the right to create it: the upload says) */
	if (blob_call(j->be, &j->bw, "PUT", NULL, "restype=container", NULL,
	    0, NULL, 0, NULL, &r) < 0)
		log_warn("blob container '%s': %s", j->bt.container,
		    buf_cstr(&r.why));
	blob_reply_release(&r);
	if (f->len <= PUT_BLOB_MAX) {
		rc = blob_call(j->be, &j->bw, "PUT", name, NULL, &bb, 1, f->p,
		    f->len, NULL, &r);
		if (rc != 0)
			log_error("cannot upload the import file '%s': %s",
			    name, buf_cstr(&r.why));
		blob_reply_release(&r);
		return rc == 0 ? 0 : -1;
	}
	buf_adds(&list, "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
	    "<BlockList>");
	for (off = 0, k = 0, rc = 0; off < f->len && rc == 0; k++) {
		size_t n = f->len - off > BLOCK_SIZE ? BLOCK_SIZE :
		    f->len - off;
		char raw[32];

		snprintf(raw, sizeof(raw), "block-%010zu", k);
		id.len = 0;
		base64_encode(&id, raw, strlen(raw));
		q.len = 0;
		buf_adds(&q, "comp=block&blockid=");
		pct_encode(&q, id.p, id.len);
		rc = blob_call(j->be, &j->bw, "PUT", name, buf_cstr(&q), NULL,
		    0, f->p + off, n, NULL, &r);
		if (rc != 0)
			log_error("cannot upload the import file '%s' (block "
			    "%zu): %s", name, k, buf_cstr(&r.why));
		blob_reply_release(&r);
		buf_printf(&list, "<Latest>%.*s</Latest>", (int)id.len, id.p);
		off += n;
	}
	buf_adds(&list, "</BlockList>");
	if (rc == 0) {
		rc = blob_call(j->be, &j->bw, "PUT", name, "comp=blocklist",
		    NULL, 0, list.p, list.len, NULL, &r);
		if (rc != 0)
			log_error("cannot upload the import file '%s' (block "
			    "list): %s", name, buf_cstr(&r.why));
		blob_reply_release(&r);
	}
	buf_release(&list);
	buf_release(&q);
	buf_release(&id);
	return rc == 0 ? 0 : -1;
}

/*
 * PUT the job. Returns 0 when it exists (created, or its answer lost but
 * it is there), -1 when it was not created (logged).
 */
static int
job_create(struct adt_job *j)
{
	struct buf u = BUF_INIT, body = BUF_INIT, code = BUF_INIT,
	    msg = BUF_INIT;
	double t0 = clock_s();
	long delay = 1000, st;
	int rc = -1;

	job_url(j, &u, j->st.job_id, NULL);
	buf_adds(&body, "{\"inputBlobUri\":");
	json_write_string(&body, j->st.input_url, strlen(j->st.input_url), 0);
	buf_adds(&body, ",\"outputBlobUri\":");
	json_write_string(&body, j->st.output_url, strlen(j->st.output_url),
	    0);
	buf_addc(&body, '}');
	for (;;) {
		struct sync s;

		st = adt_sync(j, "PUT", buf_cstr(&u), buf_cstr(&body), &s);
		code.len = msg.len = 0;
		adt_err(&s, &code, &msg);
		sync_release(&s);
		if (st == 200 || st == 201) {
			rc = 0;
			break;
		}
		if (st == 400 && strcmp(code.p, "JobLimitReached") == 0 &&
		    clock_s() - t0 < j->c.wait_s) {
			log_info("another import job runs (JobLimitReached): "
			    "waiting %ld ms", delay);
			if (nap(delay))
				break;
			delay = delay * 2 > POLL_MAX_MS ? POLL_MAX_MS :
			    delay * 2;
			continue;
		}
		if (st == 0 || st >= 500) {
			/* the answer was lost: is the job there? */
			struct sync g;

			if (adt_sync(j, "GET", buf_cstr(&u), NULL, &g) == 200)
				rc = 0;
			sync_release(&g);
		}
		if (rc < 0)
			log_error("import job '%s' not created: %s%s%s",
			    j->st.job_id, code.p, code.len ? ": " : "", msg.p);
		break;
	}
	buf_release(&u);
	buf_release(&body);
	buf_release(&code);
	buf_release(&msg);
	return rc;
}

/* ---- recovery ---- */

/* Fill b with the entities of an import file's text; 0, or -1 when it is
 * not one push-adt wrote (the same text would not come back). */
static int
bulk_from_file(struct adt_bulk *b, const struct buf *f,
    struct json_numlits *lits)
{
	struct buf again = BUF_INIT, msg = BUF_INIT;
	size_t i = 0, lineno = 0;
	int rc;

	while (i < f->len) {
		const char *p = f->p + i, *nl = memchr(p, '\n', f->len - i);
		size_t n = nl != NULL ? (size_t)(nl - p) : f->len - i;
		struct json_err je;
		struct adt_op op;
		const char *code;
		jv v;

		i += n + 1;
		if (++lineno <= 2 || json_parse(p, n, &v, lits, &je) < 0)
			continue;
		if (json_get_str(v, "Section") == NULL &&
		    adt_op_parse(jv_copy(v), lits, &op, &code, &msg) == 0) {
			adt_bulk_add(b, &op, v, lits);
			adt_op_release(&op);
		}
		msg.len = 0;
		jv_free(v);
	}
	adt_bulk_file(b, &again, "push-adt");
	rc = again.len == f->len && memcmp(again.p, f->p, f->len) == 0 ? 0 :
	    -1;
	buf_release(&again);
	buf_release(&msg);
	return rc;
}

/* The import lines of b's OK entities (file f) into j->okl. */
static void
keep_ok_lines(struct adt_job *j, const struct adt_bulk *b,
    const struct buf *f)
{
	size_t i = 0, lineno = 0, e, maxl = 0, *line_ent;

	for (e = 0; e < b->n; e++)
		if (b->e[e].line > maxl)
			maxl = b->e[e].line;
	line_ent = xcalloc(maxl + 2, sizeof(size_t));
	for (e = 0; e < b->n; e++)
		line_ent[b->e[e].line] = e + 1;
	while (i < f->len) {
		const char *p = f->p + i, *nl = memchr(p, '\n', f->len - i);
		size_t n = nl != NULL ? (size_t)(nl - p) : f->len - i;

		i += n + 1;
		if (++lineno <= maxl && line_ent[lineno] != 0 &&
		    b->e[line_ent[lineno] - 1].out == ADT_BULK_OK)
			smap_put(&j->okl, p, n, 1);
	}
	free(line_ent);
}

int
adt_job_recover(struct adt_job *j)
{
	struct buf code = BUF_INIT, msg = BUF_INIT, in = BUF_INIT,
	    logt = BUF_INIT;
	struct adt_bulk b = ADT_BULK_INIT;
	struct adt_bulk_sum sum;
	char status[32] = "";
	int rc;

	if (j->c.dry_run || (rc = state_load(j->c.state_path, &j->old)) == 0)
		return 0;
	if (rc < 0)
		return -1;
	if (j->old.endpoint != NULL && strcmp(j->old.endpoint,
	    j->c.endpoint) != 0) {
		log_error("the state file '%s' is for another instance (%s)",
		    j->c.state_path, j->old.endpoint);
		return -1;
	}
	log_info("import job '%s' of an earlier run: waiting for it to end",
	    j->old.job_id);
	rc = job_wait(j, j->old.job_id, status, sizeof(status), &code, &msg);
	if (rc == 1 || rc < 0) {
		j->interrupted = 1;	/* the state file stays */
		buf_release(&code);
		buf_release(&msg);
		return rc == 1 ? 1 : -1;
	}
	if (rc == 2) {
		log_info("import job '%s' was never created: forgotten",
		    j->old.job_id);
	} else if (j->old.input_blob == NULL || j->old.output_blob == NULL ||
	    blob_get(j, j->old.input_blob, &in) < 0 ||
	    blob_get(j, j->old.output_blob, &logt) < 0 ||
	    bulk_from_file(&b, &in, &j->lits) < 0) {
		log_warn("import job '%s' (%s): its import file or log cannot "
		    "be read: its twins take the request path", j->old.job_id,
		    status);
	} else {
		adt_bulk_settle(&b, logt.p, logt.len, strcmp(status,
		    "succeeded") == 0 ? NULL : code.len ? code.p : NULL,
		    msg.len ? msg.p : NULL, &sum);
		keep_ok_lines(j, &b, &in);
		log_info("import job '%s' of an earlier run %s: %zu entities "
		    "loaded", j->old.job_id, status, j->okl.n);
	}
	adt_bulk_release(&b);
	buf_release(&code);
	buf_release(&msg);
	buf_release(&in);
	buf_release(&logt);
	return 0;
}

/* ---- pass 1 ---- */

static struct tkey *
tkey_of(struct adt_job *j, const char *id, size_t *ix)
{
	size_t *v = smap_get(&j->keys, id, strlen(id));

	if (v == NULL) {
		if (j->nk == j->capk) {
			j->capk = j->capk ? 2 * j->capk : 1024;
			j->k = xrealloc(j->k, j->capk * sizeof(*j->k));
		}
		memset(&j->k[j->nk], 0, sizeof(j->k[j->nk]));
		j->k[j->nk].open = 2;	/* not seen */
		v = smap_put(&j->keys, id, strlen(id), j->nk++);
	}
	*ix = *v;
	return &j->k[*v];
}

/* Is rec (its import line) one an earlier job loaded? */
static int
loaded_before(struct adt_job *j, jv rec)
{
	struct buf b = BUF_INIT;
	int hit;

	if (j->okl.n == 0)
		return 0;
	adt_bulk_line(&b, rec, &j->lits);
	hit = smap_get(&j->okl, b.p, b.len) != NULL;
	buf_release(&b);
	return hit;
}

/* Sort record sr (op parsed from rec) into a candidate or not. */
static void
classify_rec(struct adt_job *j, struct srec *sr, const struct adt_op *op,
    jv rec)
{
	size_t kx;
	struct tkey *t = tkey_of(j, op->id, &kx);
	int upsert = op->op == ADT_UPSERT || op->op == ADT_REPLACE;

	sr->key = kx;
	if (t->open == 2) {	/* its first record */
		t->open = op->kind == ADT_TWIN && upsert && op->has_model;
		if (!t->open)
			return;
		if (loaded_before(j, rec)) {
			sr->out = ADT_JOB_OK;
			return;
		}
		t->cand = 1;
		sr->cand = C_TWIN;
		j->ncand++;
		return;
	}
	if (t->open && op->kind == ADT_REL && upsert) {
		struct buf pk = BUF_INIT;
		size_t before = j->pairs.n;

		buf_adds(&pk, op->id);
		buf_addc(&pk, '\0');
		buf_adds(&pk, op->rel_id);
		smap_put(&j->pairs, pk.p, pk.len, 0);
		buf_release(&pk);
		if (j->pairs.n > before) {
			if (loaded_before(j, rec)) {
				sr->out = ADT_JOB_OK;
				return;
			}
			sr->cand = C_REL;
			j->ncand++;
			return;
		}
	}
	t->open = 0;
}

int
adt_job_line(struct adt_job *j, const struct ndjson_line *l)
{
	struct srec *sr;
	struct buf msg = BUF_INIT;
	const char *code;
	struct adt_op op;
	int is_json;
	jv v;

	if (j->nr == j->capr) {
		j->capr = j->capr ? 2 * j->capr : 4096;
		j->r = xrealloc(j->r, j->capr * sizeof(*j->r));
	}
	sr = &j->r[j->nr++];
	memset(sr, 0, sizeof(*sr));
	sr->off = j->woff + j->wb.len;
	sr->ent = -1;
	adt_spool_frame(&j->wb, l);
	if (j->wb.len >= SPOOL_FLUSH) {
		if (write(j->fd, j->wb.p, j->wb.len) != (ssize_t)j->wb.len) {
			log_error("write error on the spool: %s",
			    strerror(errno));
			return -1;
		}
		j->woff += j->wb.len;
		j->wb.len = 0;
	}
	if (ndjson_record(l, &v, &j->lits, &code, &msg, &is_json) <= 0) {
		buf_release(&msg);
		return 0;
	}
	if (json_is_control(v) || adt_op_parse(jv_copy(v), &j->lits, &op,
	    &code, &msg) < 0) {
		jv_free(v);
		buf_release(&msg);
		return 0;
	}
	classify_rec(j, sr, &op, v);
	adt_op_release(&op);
	jv_free(v);
	buf_release(&msg);
	return 0;
}

/* The spool written and mapped: 0, or -1 (logged). */
static int
spool_map(struct adt_job *j)
{
	if (j->wb.len > 0 && write(j->fd, j->wb.p, j->wb.len) !=
	    (ssize_t)j->wb.len) {
		log_error("write error on the spool: %s", strerror(errno));
		return -1;
	}
	j->woff += j->wb.len;
	buf_release(&j->wb);
	j->mapn = j->woff;
	if (j->mapn == 0)
		return 0;
	j->map = mmap(NULL, j->mapn, PROT_READ | PROT_WRITE, MAP_PRIVATE,
	    j->fd, 0);
	if (j->map == MAP_FAILED) {
		j->map = NULL;
		log_error("cannot map the spool: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- which candidates are new ---- */

/* Mark the twins of one query answer as existing; its continuation
 * token into tok. 0, or -1 when the answer is not one. */
static int
query_answer(struct adt_job *j, const struct buf *body, struct buf *tok)
{
	jv v = jv_invalid(), list = jv_invalid();
	struct json_err je;
	const char *t;
	int i, n, rc = -1;

	tok->len = 0;
	if (json_parse(body->p, body->len, &v, NULL, &je) < 0)
		goto out;
	list = json_get(v, "value");
	if (jv_get_kind(list) != JV_KIND_ARRAY)
		goto out;
	n = jv_array_length(jv_copy(list));
	for (i = 0; i < n; i++) {
		jv it = jv_array_get(jv_copy(list), i);
		const char *id = json_get_str(it, "$dtId");
		size_t *k;

		if (id != NULL && (k = smap_get(&j->keys, id,
		    strlen(id))) != NULL)
			j->k[*k].is_new = 0;
		jv_free(it);
	}
	if ((t = json_get_str(v, "continuationToken")) != NULL)
		buf_adds(tok, t);
	rc = 0;
out:
	jv_free(list);
	jv_free(v);
	return rc;
}

/* The exists queries, many in flight on the ADT engine. */
struct qrun {
	struct adt_job *j;
	const char *url;
	size_t pending;
	int failed;
};

struct qpage {
	struct qrun *x;
	int pages;
};

static void q_done(struct http_req *rq, enum http_verdict v,
    const struct http_resp *resp, void *user);

static void
q_submit(struct qrun *x, const char *body, int pages)
{
	struct http_req *rq = http_req_new("POST", x->url);
	struct qpage *qp = xcalloc(1, sizeof(*qp));

	qp->x = x;
	qp->pages = pages;
	http_req_header(rq, "Content-Type", "application/json");
	http_req_body(rq, body, strlen(body));
	http_req_callbacks(rq, x->j->c.prepare, x->j->c.classify, q_done, qp);
	x->pending++;
	http_submit(x->j->c.e, rq);
}

static void
q_done(struct http_req *rq, enum http_verdict v,
    const struct http_resp *resp, void *user)
{
	struct qpage *qp = user;
	struct qrun *x = qp->x;
	struct buf body = BUF_INIT, tok = BUF_INIT;

	(void)rq;
	x->pending--;
	if (resp->body != NULL)
		buf_add(&body, resp->body, resp->body_len);
	if (v != HTTP_OK || resp->status != 200 ||
	    query_answer(x->j, &body, &tok) < 0) {
		if (!x->failed)
			log_error("the query for existing twins failed (%s): "
			    "no import job", resp->why != NULL ? resp->why :
			    "not a query answer");
		x->failed = 1;
	} else if (tok.len > 0 && !x->failed) {
		if (qp->pages >= 1000) {
			log_error("the query for existing twins keeps paging: "
			    "no import job");
			x->failed = 1;
		} else {
			body.len = 0;
			buf_adds(&body, "{\"continuationToken\":");
			json_write_string(&body, tok.p, tok.len, 0);
			buf_addc(&body, '}');
			q_submit(x, buf_cstr(&body), qp->pages + 1);
		}
	}
	buf_release(&body);
	buf_release(&tok);
	free(qp);
}

/* Query the candidate twins: 0, or -1 (logged: then no job). */
static int
find_new(struct adt_job *j)
{
	char **ids = xmalloc((j->nk + 1) * sizeof(*ids));
	struct buf u = BUF_INIT, q = BUF_INIT, body = BUF_INIT;
	struct qrun x;
	size_t i, n = 0, at, took;

	for (i = 0; i < j->keys.cap; i++) {
		struct smap_slot *s = &j->keys.s[i];

		if (s->k != NULL && j->k[s->v].cand) {
			j->k[s->v].is_new = 1;
			ids[n++] = s->k;
		}
	}
	buf_printf(&u, "%s/query?api-version=%s", j->c.endpoint,
	    j->c.api_version);
	memset(&x, 0, sizeof(x));
	x.j = j;
	x.url = buf_cstr(&u);
	for (at = 0; at < n && !x.failed && !stage_stop; at += took) {
		while (http_full(j->c.e) && !x.failed)
			http_poll(j->c.e, 1000, -1, NULL);
		q.len = 0;
		took = adt_bulk_query(&q, ids + at, n - at);
		body.len = 0;
		buf_adds(&body, "{\"query\":");
		json_write_string(&body, q.p, q.len, 0);
		buf_addc(&body, '}');
		q_submit(&x, buf_cstr(&body), 1);
	}
	/* bounded: each request ends within its own budget */
	while (x.pending > 0)
		http_poll(j->c.e, 1000, -1, NULL);
	free(ids);
	buf_release(&u);
	buf_release(&q);
	buf_release(&body);
	if (stage_stop && !x.failed) {
		log_info("stopped while looking for existing twins: no import "
		    "job");
		return -1;
	}
	return x.failed ? -1 : 0;
}

/* ---- the job ---- */

/* Which candidates go in: the new twins and their relationships, up to
 * ADT's limits. Returns how many. */
static size_t
pick(struct adt_job *j)
{
	size_t i, nt = 0, nrel = 0;

	for (i = 0; i < j->nr; i++) {
		struct srec *sr = &j->r[i];
		struct tkey *t = &j->k[sr->key];

		if (sr->cand == C_TWIN) {
			if (t->is_new && nt < ADT_JOB_MAX_TWINS) {
				t->in_job = 1;
				nt++;
			} else {
				sr->cand = C_NONE;
			}
		} else if (sr->cand == C_REL) {
			if (t->in_job && nrel < ADT_JOB_MAX_RELS)
				nrel++;
			else
				sr->cand = C_NONE;
		}
	}
	return nt + nrel;
}

/* The entities into j->b from the spool. 0, or -1 (logged). */
static int
build(struct adt_job *j)
{
	struct buf msg = BUF_INIT;
	size_t i;

	for (i = 0; i < j->nr; i++) {
		struct srec *sr = &j->r[i];
		struct ndjson_line l;
		const char *code;
		struct adt_op op;
		int is_json;
		jv v;

		if (sr->cand == C_NONE)
			continue;
		if (adt_spool_unframe(j->map + sr->off, j->mapn - sr->off,
		    &l) <= 0 || ndjson_record(&l, &v, &j->lits, &code, &msg,
		    &is_json) <= 0) {
			log_error("internal error: the spool does not read "
			    "back");
			buf_release(&msg);
			return -1;
		}
		if (adt_op_parse(jv_copy(v), &j->lits, &op, &code, &msg) < 0) {
			jv_free(v);
			log_error("internal error: a spooled record does not "
			    "parse again");
			buf_release(&msg);
			return -1;
		}
		sr->ent = adt_bulk_add(&j->b, &op, v, &j->lits);
		adt_op_release(&op);
		jv_free(v);
		msg.len = 0;
	}
	buf_release(&msg);
	return 0;
}

static void
new_job_id(char *dst, size_t n)
{
	unsigned char r[4];
	struct buf h = BUF_INIT;
	time_t now = time(NULL);
	struct tm tm;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, r, sizeof(r)) != (ssize_t)sizeof(r)) {
		unsigned v = (unsigned)getpid() ^ (unsigned)now;

		memcpy(r, &v, sizeof(r));
	}
	if (fd >= 0)
		close(fd);
	hex_encode(&h, r, sizeof(r));
	gmtime_r(&now, &tm);
	snprintf(dst, n, "%04d%02d%02d-%02d%02d%02d-%s", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    buf_cstr(&h));
	buf_release(&h);
}

static void
names(struct adt_job *j, const char *id)
{
	struct buf in = BUF_INIT, out = BUF_INIT, u = BUF_INIT;
	const char *pre = j->bt.prefix;

	buf_printf(&in, "%s%spush-adt-%s.ndjson", pre, *pre ? "/" : "", id);
	buf_printf(&out, "%s%spush-adt-%s.log.ndjson", pre, *pre ? "/" : "",
	    id);
	j->st.job_id = xstrdup(id);
	j->st.endpoint = xstrdup(j->c.endpoint);
	j->st.input_blob = buf_cstr(&in);
	j->st.output_blob = buf_cstr(&out);
	blob_url(j, &u, j->st.input_blob);
	j->st.input_url = xstrdup(buf_cstr(&u));
	u.len = 0;
	blob_url(j, &u, j->st.output_blob);
	j->st.output_url = buf_cstr(&u);
}

/* --dry-run: say what the job would be. */
static void
dry(struct adt_job *j)
{
	struct buf u = BUF_INIT, *b = &j->c.w->b;

	names(j, "JOBID");
	buf_printf(b, "{\"bulk\":\"an import job would load the new twins "
	    "and relationships among %zu candidates (which are new: a "
	    "query)\",\"requests\":[", j->ncand);
	buf_adds(b, "{\"method\":\"PUT\",\"url\":");
	json_write_string(b, j->st.input_url, strlen(j->st.input_url), 0);
	buf_adds(b, "},{\"method\":\"PUT\",\"url\":");
	job_url(j, &u, "JOBID", NULL);
	json_write_string(b, u.p, u.len, 0);
	buf_adds(b, ",\"body\":{\"inputBlobUri\":");
	json_write_string(b, j->st.input_url, strlen(j->st.input_url), 0);
	buf_adds(b, ",\"outputBlobUri\":");
	json_write_string(b, j->st.output_url, strlen(j->st.output_url), 0);
	buf_adds(b, "}},{\"method\":\"GET\",\"url\":");
	json_write_string(b, u.p, u.len, 0);
	buf_adds(b, ",\"when\":\"until it ends\"},{\"method\":\"GET\","
	    "\"url\":");
	json_write_string(b, j->st.output_url, strlen(j->st.output_url), 0);
	buf_adds(b, "}]}");
	(void)ndjson_writer_commit(j->c.w);
	buf_release(&u);
	adt_bulk_state_release(&j->st);
}

/* The job's outcome onto the records. */
static void
settle(struct adt_job *j, const char *status, const struct buf *logt,
    int log_ok, const char *code, const char *msg)
{
	struct adt_bulk_sum sum;
	size_t i;

	if (log_ok || strcmp(status, "succeeded") != 0)
		adt_bulk_settle(&j->b, logt->p, logt->len,
		    strcmp(status, "succeeded") == 0 ? NULL :
		    code[0] ? code : "ImportJobFailed", msg[0] ? msg :
		    "the import job did not load it", &sum);
	for (i = 0; i < j->nr; i++) {
		struct srec *sr = &j->r[i];
		struct adt_bulk_ent *e;

		if (sr->ent < 0)
			continue;
		e = &j->b.e[sr->ent];
		if (!log_ok && strcmp(status, "succeeded") == 0)
			e->out = ADT_BULK_VERIFY;	/* see for itself */
		if (e->out == ADT_BULK_FAILED && e->kind == ADT_REL &&
		    e->code != NULL && strcmp(e->code,
		    "DigitalTwinNotFound") == 0)
			e->out = ADT_BULK_EXISTS; /* its target may come */
		sr->out = e->out == ADT_BULK_OK ? ADT_JOB_OK :
		    e->out == ADT_BULK_FAILED ? ADT_JOB_FAILED :
		    ADT_JOB_REQUEST;
	}
}

/* Create, wait for and read the job of j->b. Returns 0 or 1 (a stop). */
static int
job(struct adt_job *j)
{
	struct buf f = BUF_INIT, code = BUF_INIT, msg = BUF_INIT,
	    logt = BUF_INIT;
	char id[64], status[32] = "";
	int rc = 0, w;

	new_job_id(id, sizeof(id));
	names(j, id);
	adt_bulk_file(&j->b, &f, "push-adt");
	log_info("import job '%s': %zu twins, %zu relationships (%zu bytes)",
	    id, j->b.ntwins, j->b.nrels, f.len);
	if (state_save(j) < 0)
		goto none;
	j->written = 1;
	if (upload(j, j->st.input_blob, &f) < 0 || job_create(j) < 0)
		goto none;
	(*j->c_jobs)++;
	j->used = 1;
	w = job_wait(j, id, status, sizeof(status), &code, &msg);
	if (w == 1) {
		log_warn("import job '%s' runs on; its state is kept in '%s' "
		    "for the next run", id, j->c.state_path);
		j->interrupted = 1;
		rc = 1;
		goto out;
	}
	if (w != 0) {
		snprintf(status, sizeof(status), "unknown");
		buf_adds(&code, "bulk_timeout");
		buf_adds(&msg, "the import job did not end within --bulk-wait "
		    "(its state file is kept)");
		j->interrupted = 1;	/* keep the state */
	}
	log_info("import job '%s' %s%s%s", id, status, code.len ? ": " : "",
	    buf_cstr(&code));
	settle(j, status, &logt, w == 0 && blob_get(j, j->st.output_blob,
	    &logt) == 0, buf_cstr(&code), buf_cstr(&msg));
	goto out;
none:
	/* no job: every record takes the request path */
	{
		size_t i;

		for (i = 0; i < j->nr; i++)
			j->r[i].ent = -1;
	}
	if (j->written && unlink(j->c.state_path) == 0)
		j->written = 0;
	blob_del(j, j->st.input_blob);
	adt_bulk_state_release(&j->st);
out:
	buf_release(&f);
	buf_release(&code);
	buf_release(&msg);
	buf_release(&logt);
	return rc;
}

int
adt_job_run(struct adt_job *j)
{
	size_t n;

	if (spool_map(j) < 0)
		return -1;
	if (stage_stop || j->ncand == 0 || (j->c.mode == ADT_JOB_AUTO &&
	    j->ncand < (size_t)j->c.threshold))
		return 0;
	if (j->c.dry_run) {
		dry(j);
		return 0;
	}
	if (find_new(j) < 0)
		return 0;
	n = pick(j);
	if (n == 0 || (j->c.mode == ADT_JOB_AUTO &&
	    n < (size_t)j->c.threshold)) {
		log_info("%zu new twins and relationships: below "
		    "--bulk-threshold, no import job", n);
		return 0;
	}
	if (build(j) < 0)
		return -1;
	return job(j);
}

/* ---- pass 2 ---- */

int
adt_job_next(struct adt_job *j, struct ndjson_line *l, size_t *ix)
{
	long n;

	if (j->rd >= j->nr)
		return 0;
	n = adt_spool_unframe(j->map + j->r[j->rd].off, j->mapn -
	    j->r[j->rd].off, l);
	if (n <= 0)
		return 0;
	*ix = j->rd++;
	return 1;
}

enum adt_job_out
adt_job_outcome(const struct adt_job *j, size_t ix, const char **code,
    const char **msg)
{
	const struct srec *sr = &j->r[ix];
	const struct adt_bulk_ent *e;

	*code = *msg = NULL;
	if (sr->out == ADT_JOB_OK && sr->ent < 0)
		return ADT_JOB_OK;	/* an earlier run's job */
	if (sr->ent < 0 || !j->used)
		return ADT_JOB_REQUEST;
	e = &j->b.e[sr->ent];
	if (sr->out == ADT_JOB_OK) {
		(*j->c_ok)++;
		return ADT_JOB_OK;
	}
	if (sr->out == ADT_JOB_FAILED) {
		*code = e->code != NULL ? e->code : "ImportJobFailed";
		*msg = e->msg != NULL ? e->msg : "the import job failed";
		(*j->c_failed)++;
		return ADT_JOB_FAILED;
	}
	(*j->c_requests)++;
	return ADT_JOB_REQUEST;
}

void
adt_job_end(struct adt_job *j)
{
	if (j == NULL || j->c.dry_run || j->interrupted)
		return;
	if ((j->written || j->old.job_id != NULL) &&
	    unlink(j->c.state_path) < 0 && errno != ENOENT)
		log_warn("cannot remove the state file '%s': %s",
		    j->c.state_path, strerror(errno));
	if (!j->c.keep) {
		blob_del(j, j->st.input_blob);
		blob_del(j, j->st.output_blob);
		if (j->old.job_id != NULL) {
			blob_del(j, j->old.input_blob);
			blob_del(j, j->old.output_blob);
		}
	}
}
