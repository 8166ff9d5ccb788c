/*
 * cosmos_impl.h - what the parts of push-cosmos share: its options, a
 * record's state machine, the run's state, and the functions one part
 * gives the other.
 *
 *   cosmos.c            options, the loop's hooks (push.h),
 *                       --create-container, main
 *   cosmos_req.c        requests (signed, throttled, classified) and
 *                       their results: a record's state machine
 *   cosmos_input.c      the input: records parsed and checked, queued
 *   cosmos_reconcile.c  --reconcile: the snapshot's ids, the container
 *                       listed, the deletes it proves
 *   cosmos_doc.c        the pure parts (connection strings, merges,
 *                       versions; cosmos_doc.h)
 */
#ifndef TP_COSMOS_IMPL_H
#define TP_COSMOS_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <jv.h>

#include "buf.h"
#include "http.h"
#include "json.h"
#include "keyq.h"
#include "ndjson.h"
#include "push.h"
#include "ratectl.h"
#include "result.h"

#define COSMOS_API_VERSION "2020-07-15"
#define RESTARTS_MAX 50		/* 409/412 races per record */
#define PATCH_OPS_MAX 10
#define HOLD_SLOTS 4096		/* partitions held after a 429 (hash) */
#define HOLD_MAX_MS 60000	/* the engine's Retry-After clamp */
#define CUT_SHARE 0.05		/* 429 share of answers that cuts the rate */

struct cosmos_opts {
	struct push_opts push;	/* --endpoint, --concurrency, ... */
	const char *conn_file;
	const char *key_file;
	const char *database;
	const char *container;
	const char *pk_path;
	long max_ru;
	int create_container;
	int encode_ids;
	int tombstones;
	int reconcile;
};
extern struct cosmos_opts op;

enum opk { OP_UPSERT, OP_MERGE, OP_PATCH, OP_DELETE };
enum step {
	S_READ,		/* GET the document */
	S_CREATE,	/* POST (no upsert): 409 if it exists */
	S_UPSERT,	/* POST with x-ms-documentdb-is-upsert */
	S_REPLACE,	/* PUT If-Match */
	S_PATCH,	/* PATCH (with a condition when versioned) */
	S_DELETE	/* DELETE (If-Match when versioned) */
};

/* What the prepare callback signs; first member of its owners. */
struct sigctx {
	const char *verb;
	char type[8];
	char *link;
};

struct rec {
	struct sigctx sc;
	enum opk op;
	enum step step;
	char *id;		/* as stored (maybe encoded) */
	char *raw_id;		/* as the record has it */
	char *key;		/* keyq key: pk header + '\n' + id */
	char *pkh;		/* partition key header */
	char *meta;		/* _meta as JSON, or NULL */
	char *line;
	size_t len;
	unsigned long long lineno;
	jv body;		/* upsert: the document; merge: the patch;
				   patch: the operations */
	int has_version;
	double version;
	char *time;		/* "$time", or NULL */
	int64_t time_ns;
	struct json_numlits lits; /* number literals of record and read */
	char *etag;		/* from the read, for If-Match */
	char *send;		/* body of the coming request */
	int restarts;
	unsigned attempts;
	long status;
	int stale;
	struct rec *next;
};

struct cosmos_run {
	struct push p;		/* the engine, output, dead letters, counts */
	struct keyq *q;
	struct auth *auth;
	char *endpoint;		/* scheme://host[:port], no final '/' */
	char *key;		/* master key, or NULL */
	char *scope;
	char *coll_path;	/* /dbs/D/colls/C (encoded) */
	char *coll_link;	/* dbs/D/colls/C (raw) */
	struct rec *ready, **ready_tail;
	uint64_t *c_stale, *c_restarts;
	double ru;		/* request units consumed */
	double ru_avg;		/* per request, moving average */
	double ru_win, gain;	/* --max-ru: RU this second, correction */
	int64_t win_start;
	struct ratectl rc;	/* rate under 429s; --max-ru is its ceiling */
	struct hold {		/* a partition key throttled until */
		uint64_t h;
		int64_t until;
	} holds[HOLD_SLOTS];
};
extern struct cosmos_run g;

/* the input's side of --reconcile (cosmos.c) */
extern int reconciling;		/* its deletes are being made */
extern uint64_t n_data;		/* data records read (not reconcile deletes) */

/* cosmos.c: the options, the loop's hooks, --create-container, main */
void pump(long timeout_ms, int fd, int *fd_ready);
extern const char *const op_names[];	/* by enum opk */

/* cosmos_input.c */
void handle_line(const struct ndjson_line *l);

/* cosmos_req.c: requests and their results */
int prepare(struct http_req *req, void *user);
enum http_verdict classify(const struct http_resp *resp, void *user);
struct http_req * req_new(struct sigctx *sc, const char *method, const char *path);
void cosmos_error(const struct http_resp *resp, struct buf *code, struct buf *msg);
const char * pk_key(void);
void rec_free(struct rec *r);
void rec_free_item(void *item);	/* rec_free for keyq_free */
void rec_begin(struct rec *r);
void rec_send(struct rec *r);	/* r's current step, again after a wait */

/* cosmos_reconcile.c */
void reconcile(jv ctl);
void seen_add(const char *id);
void seen_free(void);

#endif
