/*
 * blob.h - Azure Blob Storage addressing and request signing: connection
 * strings, blob URLs, SharedKey authorization and service SAS tokens.
 *
 * Programs that stream (archive) send their requests with http.h and
 * call blob_sharedkey() from their prepare callback (a fresh x-ms-date per
 * attempt); blob_call() (blob_call.c) does that for one small request at a
 * time (properties, metadata, empty blobs: checkpoints, ownership). See
 * PROTOCOLS.md, "Azure Blob Storage (and Azurite)".
 *
 * Connection strings (the portal's and Azurite's formats):
 *   DefaultEndpointsProtocol=https;AccountName=A;AccountKey=K;
 *     EndpointSuffix=core.windows.net            -> https://A.blob.core.windows.net
 *   ...;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;
 *   ...;SharedAccessSignature=sv=...&sig=...
 *   UseDevelopmentStorage=true[;DevelopmentStorageProxyUri=http://host]
 *                                                -> Azurite's account and key
 */
#ifndef TP_BLOB_H
#define TP_BLOB_H

#include <stddef.h>
#include <time.h>

#include "buf.h"

#define BLOB_API_VERSION "2021-08-06"
#define BLOB_DEV_ACCOUNT "devstoreaccount1"
#define BLOB_DEV_KEY "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

struct blob_account {
	char *name;		/* account name */
	char *key;		/* base64 account key, or NULL */
	char *sas;		/* SAS token without '?', or NULL */
	char *endpoint;		/* blob service URL, no trailing '/': for
				   path-style (emulator) URLs it ends with
				   "/<account>" */
};

/*
 * Parse a Storage connection string into a (zeroed or released) a.
 * Returns 0, or -1 with a message in err (no secret in it).
 */
int blob_conn_parse(struct blob_account *a, const char *cs, struct buf *err);

/*
 * Split a container URL "https://A.blob.core.windows.net/C[/PREFIX]" or a
 * path-style one "http://127.0.0.1:10000/A/C[/PREFIX]" (an IP address or
 * "localhost" host means path-style) into account name, endpoint,
 * container and prefix (malloc'd; the prefix without leading or trailing
 * '/', possibly ""). A query string is refused (a SAS is a secret: give it
 * through the environment or a file). Returns 0, or -1 with err filled.
 */
int blob_url_parse(const char *url, char **account, char **endpoint,
    char **container, char **prefix, struct buf *err);

/* Free a's strings and zero it. NULL is a no-op. */
void blob_account_release(struct blob_account *a);

/* One request header as sent (name in any case). */
struct blob_hdr {
	const char *name;
	const char *value;
};

/*
 * Append the SharedKey Authorization value ("SharedKey A:SIG") for a
 * request to out. url is the full request URL as sent (path and query
 * percent-encoded); h lists every header that is sent (x-ms-date
 * included; Content-Length is taken from content_length, signed as "" when
 * 0). Returns 0, or -1 with err filled (bad key, bad URL).
 */
int blob_sharedkey(struct buf *out, const char *account, const char *key,
    const char *method, const char *url, size_t content_length,
    const struct blob_hdr *h, size_t nh, struct buf *err);

/*
 * The string SharedKey signs for such a request (for tests and debug
 * output). Returns 0, or -1 with err filled.
 */
int blob_string_to_sign(struct buf *out, const char *account,
    const char *method, const char *url, size_t content_length,
    const struct blob_hdr *h, size_t nh, struct buf *err);

/*
 * Append a service SAS token (query string without '?') for the container
 * (blob NULL, sr=c) or one blob (sr=b) with permissions perm (e.g. "racwl")
 * valid from start to expiry, signed version BLOB_API_VERSION. Returns 0,
 * or -1 if key is not base64.
 */
int blob_service_sas(struct buf *out, const char *account, const char *key,
    const char *container, const char *blob, const char *perm,
    time_t start, time_t expiry);

/* Append an RFC 7231 date (x-ms-date) for t. Can't fail. */
void blob_http_date(struct buf *b, time_t t);

/* Longest code or message blob_error_parse() appends, in bytes. */
#define BLOB_ERROR_MAX 512

/*
 * Read the error a Blob Storage answer carries in its body,
 *   <?xml ...?><Error><Code>C</Code><Message>M</Message>...</Error>
 * with libxml2 (no network, no DTD loading, no entity expansion beyond the
 * five predefined ones; a truncated or malformed body is read as far as it
 * goes). Appends the text of Code to code and of Message to msg (either may
 * be NULL): only its first line (Azure adds RequestId and Time lines),
 * other control characters as ' ', bytes that are not UTF-8 as '?',
 * surrounding blanks dropped, at most
 * BLOB_ERROR_MAX bytes cut on a UTF-8 character boundary. Only the first
 * 64 KiB of body are read. Returns 0 when an Error element with a
 * non-empty Code or Message was found, else -1 with nothing appended.
 * Can't fail otherwise (body[0..n) need not be NUL-terminated). Sets
 * libxml2's error handlers of this thread to ones that print nothing.
 */
int blob_error_parse(const char *body, size_t n, struct buf *code,
    struct buf *msg);

/* One blob of a listing (borrowed, valid during the callback only). */
struct blob_item {
	const char *name;	/* NUL-terminated, entities decoded */
	size_t namelen;
	long long size;		/* Content-Length, -1 if absent */
	time_t mtime;		/* Last-Modified, -1 if absent or bad */
};

/*
 * Read one List Blobs answer ("restype=container&comp=list"), body[0..n),
 * with libxml2 (no network, no DTD): call fn(ctx, item) for each Blob in
 * document order (the service's name order) and set next to the
 * NextMarker text (empty: the listing is complete). Returns 0, or -1 with
 * err filled: not well-formed, not an EnumerationResults, a blob without a
 * name (or with a NUL in it), or fn returned -1. Can't fail otherwise.
 */
int blob_list_parse(const char *body, size_t n, struct buf *next,
    int (*fn)(void *, const struct blob_item *), void *ctx, struct buf *err);

/*
 * Parse an RFC 7231 date ("Mon, 07 Dec 2026 12:00:00 GMT") into *t.
 * Returns 0, or -1 if s is not one.
 */
int blob_http_date_parse(const char *s, time_t *t);

/* ---- small synchronous requests (blob_call.c): properties, metadata ---- */

struct auth;
struct http_engine;
struct http_req;

/* Most headers blob_authorize() signs (x-ms-date not counted). */
#define BLOB_SIGN_MAXH 15

/*
 * The per-attempt part of a Blob request, for an http.h prepare callback:
 * the x-ms-date header (now), then Authorization: SharedKey over the
 * request and h[0..nh) (every other header sent, at most BLOB_SIGN_MAXH)
 * plus that date when key is given, else a Bearer token for Storage from
 * entra when it is given, else nothing (a SAS in the URL). Returns 0, or
 * -1 with the request's error set.
 */
int blob_authorize(struct http_req *rq, const char *account, const char *key,
    struct auth *entra, size_t clen, const struct blob_hdr *h, size_t nh);

/* Where and how blob_call() talks: borrowed pointers. */
struct blob_where {
	const struct blob_account *acct;	/* endpoint, name, key or sas */
	const char *container;
	struct auth *entra;	/* Bearer tokens when acct has neither a SAS
				   nor a key (NULL: then the call fails) */
	long max_ms;		/* retry budget per call (0: http's default) */
};

/* Response headers blob_call() keeps. */
#define BLOB_META_MAX 4
struct blob_reply {
	long status;		/* HTTP status, 0 when none arrived */
	char etag[128];		/* ETag as sent (quotes included), "" none */
	time_t mtime;		/* Last-Modified, -1 if absent */
	char code[64];		/* x-ms-error-code, "" none */
	char *meta[BLOB_META_MAX];	/* x-ms-meta-<want[i]>, malloc'd or NULL */
	struct buf why;		/* when status is 0 or not 2xx: why */
	struct buf body;	/* the answer's body (a GET's data) */
};

/* Free what r holds (not r). Can't fail. */
void blob_reply_release(struct blob_reply *r);

/*
 * One request to blob `blob` of w's container (its '/'-separated segments
 * percent-encoded each, so any name is safe) or to the container itself
 * (blob NULL; a name with an empty, "." or ".." segment is refused),
 * run to its end on engine e (the engine's retries: 408, 429,
 * 5xx and transport errors; 404, 409 and 412 are answers). query (may be
 * NULL) is appended as is, the SAS after it; h[0..nh) are sent and signed
 * (at most 8; x-ms-version and x-ms-date are added). The values of the
 * response headers x-ms-meta-<want[i]> (i < BLOB_META_MAX, want
 * NULL-terminated or NULL) land in r->meta[i]. Returns 0 when the service
 * answered 2xx, 1 when it answered otherwise (r->status, r->code, r->why),
 * -1 when no answer came (r->why). r is initialised here.
 */
int blob_call(struct http_engine *e, const struct blob_where *w,
    const char *method, const char *blob, const char *query,
    const struct blob_hdr *h, size_t nh, const void *body, size_t n,
    const char *const *want, struct blob_reply *r);

/* ---- where the blobs go, and the credential (blob_options.c) ---- */

enum blob_auth { BA_AUTO, BA_KEY, BA_SAS, BA_ENTRA };

/* A program's blob options (borrowed strings; any may be NULL but url). */
struct blob_cli {
	const char *url;	/* container URL[/prefix], or container[/prefix]
				   under the connection string's account */
	const char *what;	/* its option, for messages ("--blob") */
	const char *conn_file;	/* else AZURE_STORAGE_CONNECTION_STRING */
	const char *key_file;	/* else AZURE_STORAGE_KEY */
	const char *sas_file;	/* else AZURE_STORAGE_SAS_TOKEN */
	const char *auth;	/* auto (NULL), key, sas or entra */
	const char *auth_opt, *key_opt, *sas_opt;	/* their options */
};

/* The resolved target: account (name, endpoint, key, sas), container,
 * prefix ("" or "a/b", decoded) and the auth mode (never BA_AUTO). */
struct blob_target {
	struct blob_account acct;
	char *container;
	char *prefix;
	enum blob_auth auth;
	char *owned_[2];	/* private */
};

/*
 * Resolve o into t (zeroed here first): the connection string, the URL
 * (its account wins over the connection string's), the key and SAS (from
 * env or files; registered as secrets with log_secret()), the auth mode
 * (auto: SAS, else key, else Entra ID); the container name and prefix are
 * checked. Returns
 * 0, or -1 with err filled (a usage error; t then holds what to release:
 * blob_target_release()).
 */
int blob_options_resolve(const struct blob_cli *o, struct blob_target *t,
    struct buf *err);
/* Free t's strings and zero it. NULL is a no-op. */
void blob_target_release(struct blob_target *t);

#endif
