/*
 * transform.h - the record processor shared by transform's single-process
 * and worker-process modes.
 */
#ifndef TP_TRANSFORM_H
#define TP_TRANSFORM_H

#include <signal.h>
#include <stdint.h>

#include <jq.h>

#include "buf.h"
#include "json.h"
#include "ndjson.h"
#include "stage.h"
#include "tape.h"

struct fp;

struct xf_counts {
	uint64_t in;		/* lines read (blank ones included) */
	uint64_t out;		/* output records written */
	uint64_t failed;	/* records dead-lettered */
	uint64_t blank;		/* blank lines skipped */
	uint64_t control;	/* control records passed through */
	uint64_t fast;		/* records done by the fast path */
};

struct xf {
	jq_state *jq;
	struct fp *fp;		/* the fast path, or NULL */
	struct tape t;		/* the current record, parsed */
	struct json_numlits lits;
	struct dlq *dlq;	/* may be NULL: no dead-letter file */
	struct xf_counts c;
	const char *cur_file;	/* what TWINPIPE_INPUT_FILE is set to */
};

/*
 * Run one input line through the program. Outputs are appended to out, each
 * followed by '\n'; they are all or nothing (a record whose program fails
 * part-way writes no output). A failed record is logged and dead-lettered.
 * Returns 0, or 1 when the record failed. Can't fail otherwise.
 */
int xf_line(struct xf *x, const char *src, const struct ndjson_line *l,
    struct buf *out);

/* Point TWINPIPE_INPUT_FILE ($FILENAME of mappings) at the input file. */
void xf_set_file(struct xf *x, const char *name);

/*
 * Run the inputs through `jobs` worker processes, writing outputs to w in
 * input order and dead letters to x->dlq. max_errors (0: none) stops reading
 * once that many records failed; *stop stops reading too. Returns 0, or -1
 * on a fatal error (already reported). *stopped_early is set when reading
 * stopped before the end of the input.
 */
int parallel_run(struct xf *x, int jobs, struct stage_input *in, int nin,
    size_t max_line, struct ndjson_writer *w, unsigned long max_errors,
    volatile sig_atomic_t *stop, int *stopped_early);

#endif
