/*
 * adt_bulk.h - push-adt's ADT Import Jobs pieces that need no network:
 * the import file (Header/Twins/Relationships sections, one entity a
 * line, the line number of every entity kept) and the job's output log
 * read back into one outcome per entity.
 *
 * The log: ADT documents the Info lines ({"details":{"status":..}},
 * {"details":{"section":..,"status":..}}); the shape of a per-entity
 * error line is twin-emulator's (man/twin-emulator.1, IMPORT JOBS):
 *   {"logType":"Error","details":{"section":"Twins","lineNumber":N,
 *    "$dtId":..,["$relationshipId":..,]"code":..,"message":..}}
 * An error line is mapped to its entity by lineNumber (the ids it names
 * must agree), else by the ids; one that maps to nothing makes every
 * unsettled entity of its section ADT_BULK_VERIFY: never acknowledged
 * from the log, the caller GETs it.
 */
#ifndef TP_ADT_BULK_H
#define TP_ADT_BULK_H

#include <stddef.h>

#include "adt_op.h"
#include "buf.h"

enum adt_bulk_out {
	ADT_BULK_PENDING,	/* nothing known yet */
	ADT_BULK_OK,		/* its section succeeded, no error for it */
	ADT_BULK_FAILED,	/* the log's error (code, msg), or the job's */
	ADT_BULK_EXISTS,	/* "already exists": take the request path */
	ADT_BULK_VERIFY		/* unprovable from the log: GET it */
};

struct adt_bulk_ent {
	enum adt_kind kind;
	char *id;		/* twin id, or the relationship's source */
	char *rel_id;		/* relationships */
	size_t line;		/* 1-based line in the import file */
	enum adt_bulk_out out;
	char *code, *msg;	/* ADT_BULK_FAILED / _EXISTS */
};

struct adt_bulk {
	struct adt_bulk_ent *e;	/* in the order added */
	size_t n, cap;
	struct buf twins;	/* the Twins section's lines */
	struct buf rels;	/* the Relationships section's lines */
	size_t ntwins, nrels;
	size_t twin0, rel0;	/* line of the first twin / relationship */
	size_t *tix, *rix;	/* entity index of the k-th twin / rel */
};

#define ADT_BULK_INIT { NULL, 0, 0, BUF_INIT, BUF_INIT, 0, 0, 0, 0, \
	NULL, NULL }

/* Free everything b holds; b is zeroed (ready again). */
void adt_bulk_release(struct adt_bulk *b);

/*
 * Add the entity of an upsert or replace op (twin or relationship) whose
 * record is rec (borrowed; its "$op" and "_meta" are left out of the
 * import line; lits as json_parse() gave them). Returns its index, or -1
 * when op cannot go into an import file (a patch or a delete).
 */
long adt_bulk_add(struct adt_bulk *b, const struct adt_op *op, jv rec,
    const struct json_numlits *lits);

/* Append rec's import line (borrowed; "$op" and "_meta" left out; no
 * newline): what adt_bulk_add() puts in the file. Can't fail. */
void adt_bulk_line(struct buf *out, jv rec, const struct json_numlits *lits);

/*
 * Write the import file to out (appended) and fix every entity's line:
 * {"Section":"Header"}, the header ({"fileVersion":"1.0.0","author",
 * "organization"}), then {"Section":"Twins"} and the twins, then
 * {"Section":"Relationships"} and the relationships (a section without
 * entities is left out). Can't fail.
 */
void adt_bulk_file(struct adt_bulk *b, struct buf *out, const char *author);

/* One line of the output log, as read. Strings borrowed from a jv that
 * adt_bulk_log_release() frees. */
struct adt_bulk_log {
	int error;		/* logType "Error" */
	const char *section;	/* "Twins", "Relationships", "Models" or NULL */
	const char *status;	/* details.status, or NULL */
	long line;		/* details.lineNumber, or -1 */
	const char *id, *rel_id, *code, *msg;
	jv v;
};

/*
 * Parse one line of the log (p[0..n), no newline). Returns 0, or -1 with
 * err filled when it is not a JSON object with an object "details".
 */
int adt_bulk_log_parse(const char *p, size_t n, struct adt_bulk_log *l,
    struct buf *err);
void adt_bulk_log_release(struct adt_bulk_log *l);

/* What a whole log said about the job. */
struct adt_bulk_sum {
	int job_status;		/* 1 Succeeded, -1 Failed, 0 not seen */
	int twins_ok, rels_ok;	/* the section's "Succeeded" was seen */
	int twins_unmapped, rels_unmapped;
	size_t errors, bad_lines;
};

/*
 * Settle the entities from the whole log text (NDJSON, log[0..n)):
 * errors mapped as above; then every entity still pending is OK when its
 * section succeeded and no error line of that section was unmappable,
 * VERIFY when one was, and FAILED with job_code/job_msg when its section
 * did not succeed (the job failed or was cancelled: not acknowledged).
 * job_code NULL: "ImportJobFailed". Fills sum. Can't fail.
 */
void adt_bulk_settle(struct adt_bulk *b, const char *log, size_t n,
    const char *job_code, const char *job_msg, struct adt_bulk_sum *sum);

/* "TwinAlreadyExists", "RelationshipAlreadyExists", ...: 1 if code says
 * the entity is there already (a race: the request path upserts it). */
int adt_bulk_code_exists(const char *code);

/* ---- the query for which twins exist ---- */

#define ADT_BULK_IN_MAX 50	/* ADT's IN array limit */
#define ADT_BULK_QUERY_MAX 7000	/* bytes of query text at most (ADT: 8000) */

/*
 * Append to out the query for the first ids of ids[0..n) (n > 0):
 *   SELECT T.$dtId FROM DIGITALTWINS T WHERE T.$dtId IN ['a','b',...]
 * each id in single quotes with '\' and '\'' escaped by a '\', at most
 * ADT_BULK_IN_MAX ids and, past the first, no more than
 * ADT_BULK_QUERY_MAX bytes of text. Returns how many ids it holds (>= 1).
 * Can't fail.
 */
size_t adt_bulk_query(struct buf *out, char *const *ids, size_t n);

/* ---- the state file (crash recovery) ---- */

struct adt_bulk_state {
	char *job_id;
	char *endpoint;		/* the ADT instance it ran on */
	char *input_url, *output_url;	/* the blob URLs given to ADT */
	char *input_blob, *output_blob;	/* their names in the container */
};

/* Append the state as one JSON line. Can't fail. */
void adt_bulk_state_write(struct buf *out, const struct adt_bulk_state *s);
/*
 * Read a state file's text p[0..n) into s (zeroed first). Returns 0, or
 * -1 with err filled: not a JSON object, or "jobId" (a non-empty string)
 * or another member that is not a string. Members but jobId may be absent
 * (NULL).
 */
int adt_bulk_state_parse(const char *p, size_t n, struct adt_bulk_state *s,
    struct buf *err);
/* Free s's strings and zero it. */
void adt_bulk_state_release(struct adt_bulk_state *s);

/* ---- the spool: the input lines exactly as the reader gave them ---- */

struct ndjson_line;

/* Append one line's frame (line number, length, too_long/unterminated
 * flags, bytes, a NUL). Can't fail. */
void adt_spool_frame(struct buf *out, const struct ndjson_line *l);
/*
 * Read the frame at p[0..n) into l (l->p points into p, NUL-terminated).
 * Returns the frame's size, 0 when n is 0, -1 when p does not hold a
 * whole valid frame.
 */
long adt_spool_unframe(char *p, size_t n, struct ndjson_line *l);

#endif
