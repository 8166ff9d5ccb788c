/*
 * adt_bulk.h - push-adt's ADT Import Jobs pieces that need no network:
 * the import file (Header/Twins/Relationships sections, one entity a
 * line, the line number of every entity kept) and the job's output log
 * read back into one outcome per entity.
 *
 * The log: ADT documents the Info lines ({"details":{"status":..}},
 * {"details":{"section":..,"status":..}}); the shape of a per-entity
 * error line is twin-emulator's (see /work/notes/import-jobs-contract.md):
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

#endif
