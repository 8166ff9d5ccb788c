/*
 * adt_job.h - push-adt's bulk loads through ADT Import Jobs (adt_job.c).
 *
 * When a job may be used, push-adt reads its whole input first into a
 * private spool (pass 1): the twin upserts and replaces with a model that
 * open their twin's records, and the relationship upserts and replaces
 * that follow them (each the first of its source and id, before any other
 * record of the source) are candidates. adt_job_run() asks ADT which of
 * the candidate twins exist; the new ones and their relationships go into
 * one import file, uploaded to Blob Storage and loaded by an import job;
 * the job's output log settles every entity. Pass 2 replays the spool:
 * adt_job_outcome() says, for each record, whether it has its result
 * from the job or takes the request path (after the job ended, so the
 * records of one twin stay in input order).
 *
 * The job id is kept in a state file (--bulk-state) from before the job
 * is created until every result is written: a run that finds one waits
 * for that job, and the records that job loaded are settled from its log
 * without loading them again.
 */
#ifndef TP_ADT_JOB_H
#define TP_ADT_JOB_H

#include <stddef.h>

#include "blob.h"
#include "http.h"
#include "ndjson.h"

enum adt_job_mode { ADT_JOB_AUTO, ADT_JOB_ALWAYS, ADT_JOB_NEVER };

struct adt_job_cfg {
	struct http_engine *e;		/* the ADT engine (NULL: dry run) */
	http_prepare_fn prepare;	/* its Authorization */
	http_classify_fn classify;
	const char *endpoint;		/* base URL, no trailing '/' */
	const char *api_version;
	enum adt_job_mode mode;
	long threshold;
	const char *state_path;
	double wait_s;			/* --bulk-wait */
	int keep;			/* --bulk-keep */
	int dry_run;
	struct ndjson_writer *w;	/* dry run: where the requests go */
	struct blob_cli bc;		/* --bulk-container and credentials */
	int insecure;
	const char *cacert;
};

/* What a record of the spool gets in pass 2. */
enum adt_job_out {
	ADT_JOB_REQUEST,	/* the request path */
	ADT_JOB_OK,		/* loaded by the job */
	ADT_JOB_FAILED		/* the job's or its log's error */
};

struct adt_job;

/*
 * Resolve the blob target and credentials, open the spool. Returns the
 * run, or NULL with err filled (a usage error: bad --bulk-container,
 * credentials; or the spool cannot be made).
 */
struct adt_job *adt_job_new(const struct adt_job_cfg *c, struct buf *err);
void adt_job_free(struct adt_job *j);

/*
 * A state file left by an earlier run: wait for its job to end and keep
 * what it loaded (its log), for pass 1 to settle those records without
 * loading them again. Returns 0 (also when there is no state file, or
 * its job never was created), 1 on a stop while waiting, -1 with the
 * reason logged when the state file cannot be read.
 */
int adt_job_recover(struct adt_job *j);

/* Pass 1: one line as the reader gave it. Returns 0, or -1 on a write
 * error of the spool (logged). */
int adt_job_line(struct adt_job *j, const struct ndjson_line *l);

/*
 * After pass 1: which candidates are new (the query), the import file,
 * its upload, the job, its log. Returns 0 (a job ran, or none was
 * needed: see adt_job_used()), 1 when a stop came while the job was
 * being waited for (the job runs on; the state file is kept), -1 when
 * the spool cannot be read back (logged). A job that cannot be created
 * leaves every record to the request path.
 */
int adt_job_run(struct adt_job *j);
int adt_job_used(const struct adt_job *j);

/*
 * Pass 2: the next record of the spool into l (valid until the next
 * call), its index into *ix. Returns 1, or 0 at the end.
 */
int adt_job_next(struct adt_job *j, struct ndjson_line *l, size_t *ix);

/* What record ix gets; for ADT_JOB_FAILED, *code and *msg (borrowed). */
enum adt_job_out adt_job_outcome(const struct adt_job *j, size_t ix,
    const char **code, const char **msg);

/*
 * The end, once every result is written: the state file removed, then
 * the job's blobs deleted (unless --bulk-keep; best effort) and an
 * earlier run's. Can't fail.
 */
void adt_job_end(struct adt_job *j);

#endif
