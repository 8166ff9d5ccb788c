/*
 * cosmos_doc.h - the pure parts of push-cosmos: connection strings, RFC 7396
 * merge patches, partition keys, ids, the document bodies written.
 *
 * Documents carry their source version in "_v" and, when --tombstones
 * keeps deleted documents as tombstones, "_deleted": true.
 */
#ifndef TP_COSMOS_DOC_H
#define TP_COSMOS_DOC_H

#include <stddef.h>

#include <jv.h>

#include "buf.h"
#include "json.h"

#define COSMOS_VERSION_KEY "_v"
#define COSMOS_DELETED_KEY "_deleted"
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
 * The value at the partition key path ("/a/b", JSON Pointer escapes ~0 ~1)
 * of doc (borrowed), owned; jv_invalid() when absent or not a string,
 * number, boolean or null.
 */
jv cosmos_pk_get(jv doc, const char *path);

/* Append the x-ms-documentdb-partitionkey value ["..."] (non-ASCII
 * escaped) for pk (borrowed). Can't fail. */
void cosmos_pk_header(struct buf *b, jv pk);

/*
 * Check an id Cosmos DB must accept: not empty, at most 1023 bytes, none of
 * '/', '\\', '?', '#'. With encode, those four and '%' are percent-encoded
 * instead ("%2F"...), which is reversible. Appends the id to store to out
 * and returns 0, or returns -1 with *why set (a static string).
 */
int cosmos_id_check(const char *id, size_t n, int encode, struct buf *out,
    const char **why);

/*
 * doc (consumed) without the pipeline's reserved keys ($op, $version,
 * $patch, _meta) and, with sys, Cosmos DB's system properties (_rid, _self,
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
