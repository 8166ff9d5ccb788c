/*
 * extract.h - extract-lob's sources and the one place that writes records.
 *
 * A source builds each record as the text of a JSON object without its
 * closing brace in x->rec ("{" then members) and calls extract_emit(),
 * which adds _meta.src, applies --shard and writes the line. A source
 * returns 0 when it read everything (even if some records were
 * dead-lettered), or -1 after logging a fatal error (unreachable source,
 * structural damage, bad SQL, a write error on stdout): then no control
 * record may follow.
 */
#ifndef TP_EXTRACT_H
#define TP_EXTRACT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "canon.h"
#include "json.h"
#include "keypath.h"
#include "ndjson.h"
#include "tape.h"

struct extract {
	const char *source;	/* _meta.src.source */
	const char *file;	/* _meta.src.file, or NULL */
	const char *run;	/* _meta.src.run */
	struct ndjson_writer *w;
	struct dlq *dlq;
	struct buf rec;		/* the record being built, no closing '}' */
	struct buf tmp;
	struct tape t;		/* scratch for --shard and JSON sources */
	struct canon canon;
	struct json_numlits lits;
	struct keypath *kp;	/* --key, or NULL */
	const char *key_expr;	/* its text, for messages */
	unsigned shard_i, shard_n;
	size_t max_record;
	unsigned long long page;	/* HTTP: _meta.src.page, 0: none */
	int partial;		/* read on purpose only in part: no snapshot */
	const char *file_wm;	/* many-file sources: the file's "wm" (JSON
				   text) for records emitted without one */
	size_t file_wmlen;
	const char *src_extra;	/* more _meta.src members (",\"k\":v"), or
				   NULL */
	char *control_extra;	/* more snapshot-complete members (malloc'd,
				   ",\"k\":v"), or NULL */
	volatile sig_atomic_t *stop;
	uint64_t in, out, failed, other_shard, control, blank;
};

/*
 * Finish x->rec with _meta.src = {source, file, run, POSKIND: pos} plus
 * "wm": wm (JSON text, when wm is not NULL), then write it unless it
 * belongs to another shard. x->rec is emptied. Returns 0, or -1 once
 * stdout failed (reported here).
 */
int extract_emit(struct extract *x, const char *poskind,
    unsigned long long pos, const char *wm, size_t wmlen);

/*
 * Emit the object at node of t (parsed from a JSON source) the same way;
 * an existing _meta of the element is kept and src added to it. Returns
 * like extract_emit().
 */
int extract_emit_tape(struct extract *x, const struct tape *t, uint32_t node,
    const char *poskind, unsigned long long pos);

/*
 * One failed record: "SOURCE:POS: MESSAGE" on stderr and the raw record
 * with code and message in the dead-letter file. Returns 0, or -1 when
 * the dead-letter file failed (fatal).
 */
int extract_fail(struct extract *x, unsigned long long pos, const char *raw,
    size_t rawlen, int is_json, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

/* ---- sources ---- */

enum csv_type { CT_STRING, CT_INT, CT_NUMBER, CT_BOOL, CT_DATETIME, CT_JSON };

struct csv_opts {
	unsigned char delimiter;
	int no_header;
	int empty_null;		/* unquoted empty fields are null */
	const char *types;	/* "col=int,col2=bool" or NULL */
};

/*
 * Call fn(ctx, column, column_len, type) for every item of a --types list
 * ("col=int,col2=bool"); fn may be NULL (syntax check only). Returns 0, or
 * -1 with msg filled (bad syntax, unknown type, or fn returned -1: "no
 * column").
 */
int extract_types_each(const char *types, char *msg, size_t msglen,
    int (*fn)(void *, const char *, size_t, enum csv_type), void *ctx);
/*
 * Parse a --types list against nothing yet (syntax only): returns 0, or
 * -1 with msg filled.
 */
int extract_csv_check_types(const char *types, char *msg, size_t msglen);
/*
 * Convert one field of type ty into JSON text appended to out. Returns 0,
 * or -1 with msg filled (the value does not fit the type). An empty value
 * of a non-string type is null.
 */
int extract_csv_convert(enum csv_type ty, const char *s, size_t n,
    struct buf *out, struct tape *t, struct canon *c, char *msg,
    size_t msglen);
/* Read CSV from fd. */
int extract_csv(struct extract *x, int fd, const struct csv_opts *o);

/* Read NDJSON lines from fd: every object line is a record. */
int extract_ndjson(struct extract *x, int fd, size_t max_line);

/*
 * Stream the elements of the array at items (a jq path: ".", ".[]",
 * ".value", ".d.results[]", ".[\"a b\"]") of the JSON document on fd.
 * A document whose root is an object and items is NULL is one record.
 */
int extract_json(struct extract *x, int fd, const char *items);

/*
 * Check an --items path. Returns 0, or -1 with msg filled.
 */
int extract_items_check(const char *items, char *msg, size_t msglen);

/*
 * The node of the array at items (NULL: ".[]") in the parsed document t.
 * Returns 0, or -1 with msg filled (no such member, not an array). The
 * document must not have duplicate keys on the path (tape_lookup()).
 */
int extract_items_find(const char *items, const struct tape *t, uint32_t *arr,
    char *msg, size_t msglen);

struct http_src_opts {
	const char *url;
	const char *items;	/* NULL: the page is an array, or .value */
	const char *next;	/* key path of the next page's URL, or NULL */
	long page_size;		/* > 0: offset/limit paging */
	const char *offset_param, *limit_param;
	const char *scope;	/* Entra ID scope: bearer token */
	const char *token;	/* a static bearer token (secret), or NULL */
	const char *basic_user;
	const char *password;	/* secret for basic auth */
	const char *header_name; /* --auth-header NAME */
	const char *header_value; /* its secret value */
	double rate;
	int insecure;
	const char *cacert;	/* CA bundle, or NULL: the system's */
	int follow_foreign;	/* follow next links to another origin,
				   without credentials */
	long max_pages;
	unsigned max_attempts;
};

/* GET every page and emit the elements of its items array. */
int extract_http(struct extract *x, const struct http_src_opts *o);

struct odbc_opts {
	const char *conn;	/* after "odbc:": a DSN or a connection string */
	const char *query;
	const char *user;
	const char *password;	/* secret, or NULL */
	const char *wm_col;	/* --watermark, or NULL */
	const char *wm_value;	/* the stored / start watermark text */
	long fetch;		/* rows per fetch */
};

/* Run the query and emit one record per row. */
int extract_odbc(struct extract *x, const struct odbc_opts *o);

/* ---- many files as one source (extract_files.c, extract_blob.c) ---- */

struct files_opts {
	int lines;		/* NDJSON: one record per line; else each file
				   is a JSON document (--items applies) */
	const char *items;
	size_t max_line;
	const char *wm_since;	/* --watermark last-modified: the stored
				   watermark (JSON string text), or NULL */
};

/*
 * The text of a last-modified watermark for t (seconds) and nsec: JSON
 * "YYYY-MM-DDTHH:MM:SS.NNNNNNNNNZ" (fixed width: compares as text), into
 * out (at least 40 bytes). Can't fail.
 */
void extract_wm_text(char *out, size_t outlen, time_t t, long nsec);

/*
 * Read one file or blob on fd named name as records (a JSON document or
 * NDJSON lines, as o says), with _meta.src.file = name. A file that is not
 * a valid document is that file's failure (logged, dead-lettered, counted),
 * and 0 is returned; -1 only when stdout or the dead-letter file failed.
 */
int extract_one_file(struct extract *x, int fd, const char *name,
    const struct files_opts *o);

/*
 * Is path a many-file source: a directory, or a glob pattern (with * ? or
 * [) that is not itself an existing file? 1 yes, 0 no.
 */
int extract_files_is_multi(const char *path);

/*
 * Read every regular file of the directory path (not recursive; names
 * starting with '.' and empty files are skipped) or every file the glob
 * pattern matches, in byte order of their paths, each as
 * extract_one_file() does. With o->wm_since, files modified before it are
 * skipped. A glob that matches nothing is an error. Returns 0, or -1
 * (fatal, logged).
 */
int extract_files(struct extract *x, const char *path,
    const struct files_opts *o);

struct blob_src_opts {
	const char *url;	/* after "blob:": a container URL
				   [/PREFIX], or CONTAINER[/PREFIX] on the
				   connection string's account */
	int insecure;
	const char *cacert;
	unsigned concurrency;	/* blob GETs in flight (default 16) */
};

/*
 * List the container (prefix) page by page (by marker, the service's name
 * order) and read each blob: names ending in .ndjson or .jsonl as NDJSON,
 * others as one JSON document (--items applies), _meta.src.file the blob's
 * name. Credentials from AZURE_STORAGE_CONNECTION_STRING,
 * AZURE_STORAGE_SAS_TOKEN, AZURE_STORAGE_KEY, else the Entra chain.
 * A failed listing page is fatal (-1): no complete read; a blob that
 * cannot be read or parsed is that blob's failure. Returns 0 or -1.
 */
int extract_blob(struct extract *x, const struct blob_src_opts *bo,
    const struct files_opts *o);

/* ---- IoT Hub registry (extract_iothub.c) ---- */

struct iothub_src_opts {
	const char *host;	/* after "iothub:": HUB.azure-devices.net or a
				   base URL; empty: the connection string's */
	const char *conn;	/* IoT Hub connection string (secret), or NULL */
	const char *key;	/* shared access policy key (secret), or NULL */
	const char *policy;	/* its policy name (default iothubowner) */
	const char *where;	/* the query's WHERE condition, or NULL */
	int modules;		/* module twins too */
	long page_size;		/* x-ms-max-item-count, 0: the hub's */
	double rate;
	int insecure;
	long max_pages;
	unsigned max_attempts;
};

/*
 * Read every device twin (then, with o->modules, every module twin) with
 * the twin query, page by page; each twin is a record with _meta.src.read
 * (the page's time) and x->control_extra gets the read's start. A twin
 * that is not an object or lacks its ids is that record's failure; a page
 * that fails or is not a JSON array is fatal (-1). Returns 0 or -1.
 */
int extract_iothub(struct extract *x, const struct iothub_src_opts *o);

/*
 * Append an IoT Hub SAS token for resource sr, policy and base64 key,
 * valid until expiry (Unix s). Returns 0, or -1 if key is not base64.
 */
int iothub_sas_token(struct buf *out, const char *sr, const char *policy,
    const char *key, int64_t expiry);

#endif
