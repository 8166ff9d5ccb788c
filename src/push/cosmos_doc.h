/*
 * cosmos_doc.h - the pure parts of push-cosmos: connection strings, RFC 7396
 * merge patches, partition keys, ids, the document bodies written.
 *
 * Documents carry their source version in "_v" and, when --tombstones
 * keeps deleted documents as tombstones, "_deleted": true. Versioned
 * merges keep the version of each path they set or removed in "_lv" (the
 * leaf map: {JSON Pointer: version}; "" is the whole document), so that a
 * late event still applies the leaves no newer event has touched.
 */
#ifndef TP_COSMOS_DOC_H
#define TP_COSMOS_DOC_H

#include <stddef.h>
#include <stdint.h>

#include <jv.h>

#include "buf.h"
#include "json.h"

#define COSMOS_VERSION_KEY "_v"
#define COSMOS_DELETED_KEY "_deleted"
#define COSMOS_LEAVES_KEY "_lv"
#define COSMOS_GEN_KEY "_gen"
#define COSMOS_DELETED_AT_KEY "_deleted_at"
#define COSMOS_ID_MAX 1023

/*
 * Parse "AccountEndpoint=URL;AccountKey=KEY;..." (keys case-insensitive,
 * other keys ignored). Returns 0 with malloc'd *endpoint and *key (either
 * NULL when absent), or -1 when s is not key=value pairs.
 */
int cosmos_conn_parse(const char *s, char **endpoint, char **key);

/*
 * RFC 7396: apply merge patch to target; both consumed, the result owned.
 * A null member removes the key; a non-object patch replaces the target.
 * This function can't fail.
 */
jv cosmos_merge_patch(jv target, jv patch);

/*
 * A write at version v applied leaf by leaf to a stored document. doc
 * (consumed) is the stored document (a tombstone, or jv_null() when there
 * is none); x (consumed) the RFC 7396 merge patch or, with whole, the new
 * document. The keys of x's top level that are reserved or kept by Cosmos
 * DB or push-cosmos ($op, _v, _lv, _gen, _rid, ...) are ignored.
 *
 * A path of x (a leaf of the patch; with whole, the document itself) is
 * applied unless the leaf map holds a version >= v at the path or one of
 * its ancestors; a value set or removed there keeps what writes newer
 * than v did below it (recorded at versions >= v). A stored document
 * without a leaf map counts as written whole at its _v; a tombstone as an
 * empty document written whole at its _v.
 *
 * Returns the document to store: its content (no system properties, no
 * _gen), "_v" the highest version applied and "_lv" the leaf map unless
 * it is just {"": _v}.
 * *stale is set when v is not newer than _v and no path was applied (the
 * result then equals the stored content). This function can't fail.
 */
jv cosmos_doc_apply(jv doc, jv x, int whole, double v, int *stale);

/*
 * Parse an RFC 3339 time "YYYY-MM-DDTHH:MM:SS[.F...](Z|+HH:MM|-HH:MM)"
 * (years 1900 to 2200) into nanoseconds since the epoch. Returns 0, or -1
 * when s is not one.
 */
int cosmos_time_parse(const char *s, int64_t *ns);

/*
 * Generations: a device deleted and created again starts its twin
 * versions anew, so versions only compare within a generation. A
 * tombstone keeps the time of the delete ("_deleted_at"), a document the
 * time its generation started ("_gen": the time of the upsert that
 * created it, or just after the delete before it). For a write at time t
 * of the stored document doc (borrowed):
 *   COSMOS_GEN_NEW    doc is a tombstone deleted before t: the write
 *                     starts a new generation, whatever its version;
 *                     *start is set to the delete's time + 1 ns;
 *   COSMOS_GEN_STALE  doc is a tombstone deleted at or after t, or its
 *                     generation started after t;
 *   COSMOS_GEN_SAME   otherwise (also when doc has no such times).
 */
enum cosmos_gen { COSMOS_GEN_SAME, COSMOS_GEN_NEW, COSMOS_GEN_STALE };

enum cosmos_gen cosmos_doc_gen(jv doc, int64_t t, int64_t *start);

/* Append ns (cosmos_time_parse) as "YYYY-MM-DDTHH:MM:SS.NNNNNNNNNZ".
 * Can't fail. */
void cosmos_time_format(struct buf *b, int64_t ns);

/*
 * The value at the partition key path ("/a/b", JSON Pointer escapes ~0 ~1)
 * of doc (borrowed), owned; jv_invalid() when absent or not a string,
 * number, boolean or null.
 */
jv cosmos_pk_get(jv doc, const char *path);

/* Append the x-ms-documentdb-partitionkey value ["..."] (non-ASCII
 * escaped) for pk (borrowed). Can't fail. */
void cosmos_pk_header(struct buf *b, jv pk);

/*
 * Check an id Cosmos DB must accept: not empty, not "." or ".." (a URL
 * path cannot carry them: they would name the collection or the
 * container), no NUL, at most 1023 bytes, none of '/', '\\', '?', '#'. With encode, those four and '%' are percent-encoded
 * instead ("%2F"...), which is reversible. Appends the id to store to out
 * and returns 0, or returns -1 with *why set (a static string).
 */
int cosmos_id_check(const char *id, size_t n, int encode, struct buf *out,
    const char **why);

/*
 * doc (consumed) without the pipeline's reserved keys ($op, $version,
 * $patch, $time, _meta) and, with sys, Cosmos DB's system properties (_rid, _self,
 * _etag, _attachments, _ts, _lsn) and our _deleted. Can't fail.
 */
jv cosmos_doc_clean(jv doc, int sys);

/*
 * Add the number literals of src to dst (json.h): a literal of a double
 * that dst already holds with another text makes that double ambiguous
 * (written as a plain double). So that the big numbers of a stored
 * document and of an event both survive a merge. Can't fail.
 */
void cosmos_lits_add(struct json_numlits *dst, const struct json_numlits *src);

/* Append a number as JSON (exact for integers). Can't fail. */
void cosmos_number(struct buf *b, double d);

#endif
