/*
 * canon.h - the canonical form of a JSON value on a tape (tape.h), its
 * strong hash, a stable shard function and a JSON Patch (RFC 6902)
 * generator between two documents.
 *
 * Canonical form: compact JSON, object keys sorted by byte order (of their
 * decoded UTF-8), numbers by their literal text (so 1.0 and 1 differ, and
 * big integers are exact), strings escaped as json_write_string() does,
 * duplicate keys resolved as jq does (the last one wins). In a top-level
 * object (CANON_TOP) the reserved keys _meta, $op and $version are left out,
 * and so is every excluded field (canon_exclude()). Two records have the
 * same canonical form exactly when a twin built from them is the same.
 *
 * Nothing here allocates per call once the scratch memory has grown.
 */
#ifndef TP_CANON_H
#define TP_CANON_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "tape.h"

#define CANON_HASH_LEN 32	/* SHA-256 */
#define CANON_MAX_EXCLUDE 64

enum {
	CANON_SORTED = 1,	/* sort keys, resolve duplicates (canonical) */
	CANON_TOP = 2		/* value is a record: leave out reserved and
				 * excluded fields */
};

struct canon_path {
	char **seg;		/* decoded member names */
	size_t nseg;
};

struct canon {
	struct canon_path ex[CANON_MAX_EXCLUDE];
	size_t nex;
	uint32_t *scratch;	/* member indices being sorted (a stack) */
	size_t slen, scap;
	void *md;		/* EVP_MD_CTX */
	struct buf tmp_a, tmp_b;
};

#define CANON_INIT { .nex = 0 }

/*
 * Leave a field out of the canonical form: a top-level member name
 * ("lastSeen"), or a JSON Pointer (RFC 6901) to a nested object member
 * ("/$metadata/$lastUpdateTime"). Returns 0, or -1 with err filled (too
 * many fields, bad pointer).
 */
int canon_exclude(struct canon *c, const char *field, char *err,
    size_t errlen);
/* Free the memory. canon_release(NULL) is a no-op. */
void canon_release(struct canon *c);

/*
 * Append the JSON text of the value at node i of t to b. flags: CANON_SORTED
 * for the canonical form, CANON_TOP to leave out the reserved and excluded
 * fields of a record. Without CANON_SORTED the key order (and duplicates)
 * of the input are kept. This function can't fail.
 */
void canon_write(struct canon *c, struct buf *b, const struct tape *t,
    uint32_t i, int flags);

/* SHA-256 of p[0..n) into out. This function can't fail (aborts if
 * OpenSSL cannot provide SHA-256). */
void canon_hash(struct canon *c, const void *p, size_t n,
    unsigned char out[CANON_HASH_LEN]);

/*
 * The shard (0..nshards-1) of a key: FNV-1a 64 of the key's bytes modulo
 * nshards. Stable across versions and machines: extract-lob and cdc-filter
 * agree on it. nshards must be > 0.
 */
unsigned canon_shard(const char *key, size_t n, unsigned nshards);
/* --shard I/N: 0 <= I < N <= 65536. Returns 0, or -1. */
int canon_shard_parse(const char *s, unsigned *i, unsigned *n);

/*
 * Append the RFC 6901 escaping of a member name (~ as ~0, / as ~1) to b.
 */
void canon_pointer_escape(struct buf *b, const char *s, size_t n);

/*
 * Append to out a JSON Patch (a JSON array of RFC 6902 operations) that
 * turns the record at the root of old into the record at the root of cur,
 * both as canon_write(CANON_SORTED | CANON_TOP) sees them: members only in
 * old are removed, members only in cur are added, members whose values
 * differ are replaced, objects are compared member by member, arrays and
 * scalars are replaced whole. Paths are escaped (~0, ~1). *nops is the
 * number of operations.
 * Returns 0, or -1 (out unchanged) when a patch cannot express the change:
 * a root is not an object, or an identity field ($dtId, $relationshipId,
 * $targetId, $relationshipName, id) differs.
 */
int canon_diff(struct canon *c, struct buf *out, const struct tape *old,
    const struct tape *cur, size_t *nops);

#endif
