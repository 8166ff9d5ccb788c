/*
 * cosmos_sig.h - the Cosmos DB master-key signature (PROTOCOLS.md).
 *
 *   Authorization: urlencode("type=master&ver=1.0&sig=" + base64(
 *     HMAC-SHA256(base64-decode(key), lower(verb) "\n" lower(type) "\n"
 *     link "\n" lower(date) "\n" "" "\n")))
 *
 * type and link come from the request path, see cosmos_sig_resource().
 */
#ifndef TP_COSMOS_SIG_H
#define TP_COSMOS_SIG_H

#include <stddef.h>

#include "buf.h"

/* The well-known key of Microsoft's Cosmos DB emulator. */
#define COSMOS_EMULATOR_KEY \
	"C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="

/*
 * Append the base64 signature to out. key is the account key in base64.
 * Returns 0, or -1 if the key is not base64 (out unchanged).
 */
int cosmos_sig_compute(struct buf *out, const char *verb, const char *type,
    const char *link, const char *date, const char *key);

/*
 * Append the whole (URL-encoded) Authorization header value to out.
 * Returns 0, or -1 if the key is not base64.
 */
int cosmos_sig_header(struct buf *out, const char *verb, const char *type,
    const char *link, const char *date, const char *key);

/*
 * Split a request path of decoded segments (dbs, D, colls, C, docs, ID) into
 * resource type and link: an even count names a resource (type = the
 * second-to-last segment, link = all), an odd count a feed (type = the last
 * segment, link = the others). Appends NUL-terminated strings to type and
 * link. This function can't fail.
 */
void cosmos_sig_resource(struct buf *type, struct buf *link,
    char *const *seg, int nseg);

enum cosmos_auth {
	COSMOS_AUTH_OK = 0,
	COSMOS_AUTH_BAD = -1,		/* malformed header or wrong signature */
	COSMOS_AUTH_AAD = 1		/* type=aad: token returned in *token */
};

/*
 * Check an Authorization header value (URL-encoded or not) against the
 * request. Returns COSMOS_AUTH_OK when it is a master-key signature made
 * with key, COSMOS_AUTH_AAD (with a malloc'd *token) for type=aad, and
 * COSMOS_AUTH_BAD otherwise. The comparison is constant-time.
 */
enum cosmos_auth cosmos_sig_verify(const char *header, const char *verb,
    const char *type, const char *link, const char *date, const char *key,
    char **token);

#endif
