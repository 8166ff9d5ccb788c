/*
 * emu.h - twin-emulator's shared types: the server state, one request and
 * its response, and the handlers of each service.
 *
 * Threads: libmicrohttpd runs handlers on a pool of threads. The store
 * (SQLite) is one connection guarded by store_lock()/store_unlock(); fault
 * settings and counters have their own mutexes.
 */
#ifndef TP_EMU_H
#define TP_EMU_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jv.h>

#include "buf.h"

#define EMU_MAX_BODY (4u << 20)		/* read at most this much of a body */
#define COSMOS_MAX_ITEM (2u << 20)	/* Cosmos item limit (413) */
#define ADT_MAX_BODY (32u << 10)	/* ADT twin / request limit */

struct faults {
	double rate;		/* requests/s per instance, 0 = unlimited */
	double twin_rate;	/* ADT writes/s per twin, 0 = unlimited */
	double partition_ru;	/* Cosmos RU/s per logical partition, 0 = none */
	double error_rate;	/* share of 500/503 answers, 0..1 */
	double drop_rate;	/* share of connections dropped, 0..1 */
	double latency;		/* seconds added to every answer */
	double jitter;		/* up to this many more seconds, uniform */
	unsigned long long seed;
	double create_rate;	/* ADT twin/relationship creates+deletes/s
				   over REST, 0 = unlimited */
	double job_fail_after;	/* import jobs fail after N entities, 0 off */
};

struct emu {
	const char *key;	/* Cosmos master key (base64) */
	int no_auth;		/* accept requests without credentials */
	double token_lifetime;	/* seconds */
	const char *client_secret;	/* required secret, or NULL: any */
	const char *identity_header;	/* App Service header, or NULL: any */
	/* federated credentials (client_assertion): the key that signs them,
	 * RS256 (fed_pkey, an EVP_PKEY *) or HS256 (fed_secret), or neither;
	 * the iss and sub required, NULL: any non-empty */
	void *fed_pkey;
	const char *fed_secret;
	const char *fed_issuer, *fed_subject;
	unsigned char token_key[32];	/* signs the tokens we issue */
	int tls;		/* serving https */
	long page_size;		/* ADT list and query page size */
	pthread_mutex_t fault_mu;
	struct faults faults;
	uint64_t rng;
	double bucket, bucket_t;	/* instance token bucket */
	double cbucket, cbucket_t;	/* creates+deletes token bucket */
};

extern struct emu emu;

struct req {
	void *conn;		/* struct MHD_Connection * */
	const char *method;
	const char *url;	/* raw path, still percent-encoded */
	char **seg;		/* decoded path segments */
	int nseg;
	struct buf body;
	int too_large;
	const char *kind;	/* for the counters, e.g. "cosmos.doc" */
	char **owned;		/* strings freed with the request */
	int nowned;
	char *twin_limit_id;	/* ADT twin whose write budget applies */
	int parsed;		/* body parsed ahead (outside the store lock) */
	int json_ok;
	jv json;
	char json_msg[200];
};

struct resp {
	int status;
	struct buf hdrs;	/* name \0 value \0 ... */
	struct buf body;
	int drop;		/* close the connection without an answer */
};

/* ---- server.c: request and response helpers ---- */
/* A request header (case-insensitive), or NULL. Borrowed. */
const char *req_header(struct req *r, const char *name);
/* A decoded query argument, or NULL. Owned by the request. */
const char *req_query(struct req *r, const char *name);
/* Add a response header (printf). */
void resp_header(struct resp *rs, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Call fn for each query argument (raw, still percent-encoded). */
void req_query_each(struct req *r, void (*fn)(void *, const char *,
    const char *), void *ctx);
/* Set status and a JSON body (v consumed). */
void resp_json(struct resp *rs, int status, jv v);
/* Parse the request body as a JSON value. Returns 0, or -1 with *msg set. */
int req_json(struct req *r, jv *out, char *msg, size_t msgsz);
/* Fill buf with the current time in RFC 7231 form. */
void emu_http_date(char *buf, size_t n, double t);
/* Seconds since the epoch, with fraction. */
double emu_now(void);
/* A UTC time with 7 fraction digits as ADT and IoT Hub write it: s seconds
 * since the epoch, hns the 100 ns units (0 to 9999999), zone the suffix
 * ("Z": 2026-11-23T05:40:36.1234567Z; "+00:00"). */
void emu_time7_at(char *out, size_t n, time_t s, int hns, const char *zone);
/* Now, that way, with "Z". */
void emu_time7(char *out, size_t n);
/* 64 random bits (seeded generator, thread-safe). */
uint64_t emu_random(void);
/* A new random GUID string (36 chars + NUL) into out. */
void emu_guid(char *out);
/* Whether an If-Match header (NULL: none) lets a write replace ent
 * (borrowed), whose etag is its string member key ("$etag", "_etag"):
 * no header, "*" or the same etag. */
int emu_etag_ok(jv ent, const char *key, const char *if_match);

/* ---- store.c: the SQLite store ---- */
/* Open (path NULL = in memory) and create the schema. Returns 0 or -1. */
int store_open(const char *path);
void store_close(void);
void store_lock(void);
void store_unlock(void);
/* A cached prepared statement for sql (a string literal), reset and with
 * its bindings cleared. Call with the lock held. Never NULL (aborts). */
struct sqlite3_stmt *store_stmt(const char *sql);
/* A monotonic sequence number (for _rid / etags). Lock held. */
uint64_t store_seq(void);
/* Run a statement without results (BEGIN, COMMIT...). Lock held. 0 or -1. */
int store_exec(const char *sql);
/* Column col of st's current row parsed as JSON; NULL or not JSON:
 * jv_invalid(). */
jv store_col_json(struct sqlite3_stmt *st, int col);

/* ---- handlers: each fills rs; return 0 when handled ---- */
void cosmos_handle(struct req *r, struct resp *rs);
void adt_handle(struct req *r, struct resp *rs);
/* Token endpoints; 1 when the path was one of them. */
int token_handle(struct req *r, struct resp *rs);
/*
 * Check a bearer token we issued: signature, expiry and audience. aud is
 * what the service accepts, one audience or several separated by spaces
 * (e.g. ADT_AUDIENCES, "https://iothubs.azure.net"); NULL skips that check.
 * Returns 0, or -1 with why in msg (never the token). Thread-safe.
 */
int token_check(const char *tok, const char *aud, char *msg, size_t msgsz);
/* The same, with the token's expiry (seconds since the epoch) in *exp. */
int token_check_exp(const char *tok, const char *aud, double *exp,
    char *msg, size_t msgsz);
/* The audience of federated client assertions (Entra's token exchange). */
#define FEDERATED_AUDIENCE "api://AzureADTokenExchange"
/* The audiences of ADT's tokens: its resource URI and application id. */
#define ADT_AUDIENCES "https://digitaltwins.azure.net " \
	"0b07f429-9f4b-4714-9392-cc5e8e80c8b0"
/* Cosmos DB's account-independent audience (the SDKs' fallback scope). */
#define COSMOS_AUDIENCE "https://cosmos.azure.com"
/* Free the token cache (at exit). */
void token_release(void);
/* ADT import jobs (adt_jobs.c): the Storage account (connection string
 * cs, NULL: none; import jobs are refused then) and --import-rate. 0, or
 * -1 with msg set. */
int adt_jobs_init(const char *cs, double import_rate, char *msg,
    size_t msgsz);
/* Stop the runner thread and forget the jobs (at exit). */
void adt_jobs_stop(void);
/* Admin endpoints (/_admin/...). */
void admin_handle(struct req *r, struct resp *rs);

/* ---- faults.c ---- */
/* Decide the fate of a request before it runs: 0 go on; 1 answered (429
 * or 5xx in rs) or dropped (rs->drop). */
int faults_before(struct req *r, struct resp *rs, int is_adt);
/* Per-twin write budget (ADT); 0 go on, 1 answered with 429. */
int faults_twin(const char *id, struct resp *rs);
/* Cosmos RU budget per logical partition (key names it): 0 go on, 1
 * answered with 429; then add the charge of what ran. */
int faults_partition(const char *key, struct resp *rs);
void faults_partition_charge(const char *key, double ru);
/* ADT creates+deletes budget (create_rate): 0 go on, 1 answered 429. */
int faults_create(struct resp *rs);
/* Sleep for the configured latency. */
void faults_delay(void);
/* Apply a JSON object of settings (borrowed). 0 or -1 with msg. */
int faults_set(jv o, char *msg, size_t msgsz);
/* The current settings as an object. */
jv faults_get(void);

/* ---- stats.c-like counters in admin.c ---- */
void counters_add(const char *method, const char *kind, int status);
jv counters_get(void);
void counters_reset(void);

/* ---- tls.c ---- */
/* Load cert/key PEM files, or generate a self-signed pair for 127.0.0.1
 * and localhost (written to the files when their paths are given and they
 * do not exist). Returns 0 with malloc'd PEM strings, or -1 (logged). */
int tls_load_or_make(const char *cert_path, const char *key_path,
    char **cert_pem, char **key_pem);

/* ---- jpatch.c: JSON pointer edits shared by ADT and Cosmos ---- */
enum jpatch_op { JP_ADD, JP_SET, JP_REPLACE, JP_REMOVE, JP_INCR, JP_MOVE };
/*
 * Apply one operation to doc (consumed; the result is owned). path/from
 * are JSON Pointers; value is borrowed. Returns the new document, or
 * jv_invalid() with msg filled when the operation does not apply.
 */
jv jpatch_apply(jv doc, enum jpatch_op op, const char *path,
    const char *from, jv value, char *msg, size_t msgsz);
/* Evaluate a Cosmos patch condition "from c where ..." against doc
 * (borrowed). Returns 1 true, 0 false, -1 syntax error (msg filled). */
int jpatch_cond(const char *cond, jv doc, char *msg, size_t msgsz);
/* The same with query parameters (borrowed): [{"name":"@x","value":..}]. */
int jpatch_cond_params(const char *cond, jv doc, jv params, char *msg,
    size_t msgsz);

#endif
