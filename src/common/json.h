/*
 * json.h - JSON text <-> jv (libjq's value type).
 *
 * Ownership follows jq's rule: jv arguments are consumed and jv results are
 * owned, except where a comment says "borrowed". jv_copy() to keep a value.
 *
 * The parser is strict RFC 8259: exactly one value, no NaN/Infinity, no
 * leading zeros, no trailing garbage, no unescaped control characters, valid
 * UTF-8 (no overlongs, no surrogates), lone \u surrogate escapes rejected,
 * nesting limited to JSON_MAX_DEPTH.
 *
 * Numbers: jq 1.6 stores numbers as doubles. So that ids and big integers
 * survive a round trip, the parser records in a json_numlits table the text
 * of every number literal that would not print back the same, and the writer
 * prints such a literal's original text when it meets the same double again.
 * (This is what jq 1.7 does with its literal numbers.) If two different
 * literals of one record map to the same double, neither is restored.
 *
 * Output formatting is the same as jq 1.6's `jq -c` (key order kept, 17
 * significant digits at most, "1e+17", "1e-05", DEL escaped as \u007f).
 */
#ifndef TP_JSON_H
#define TP_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <jv.h>

#include "buf.h"

#define JSON_MAX_DEPTH 512

struct json_err {
	size_t off;		/* byte offset of the error in the input */
	char msg[160];		/* lowercase, no final period */
};

struct json_numlit {
	double v;
	uint32_t off;		/* offset of the text in json_numlits.text */
	uint32_t len;
	int ambiguous;		/* another literal had the same double */
};

struct json_numlits {
	struct json_numlit *e;
	size_t n, cap;
	struct buf text;
};

#define JSON_NUMLITS_INIT { NULL, 0, 0, BUF_INIT }

/* Forget all entries (keeps the memory). This function can't fail. */
void json_numlits_reset(struct json_numlits *l);
/* Free the memory. json_numlits_release(NULL) is a no-op. */
void json_numlits_release(struct json_numlits *l);

/*
 * Parse exactly one JSON value from p[0..n) (leading and trailing JSON
 * whitespace allowed). p need not be NUL-terminated.
 * Returns 0 and stores an owned value in *out, or -1 with *out set to
 * jv_invalid() and err filled. lits may be NULL; otherwise it is reset and
 * filled (see above).
 */
int json_parse(const char *p, size_t n, jv *out, struct json_numlits *lits,
    struct json_err *err);

struct tape;
/*
 * The jv of the value at node i of a parsed tape (see tape.h); lits (may be
 * NULL) is rebuilt for the whole tape as json_parse() does. Can't fail.
 */
jv json_from_tape(const struct tape *t, uint32_t i, struct json_numlits *lits);
/* Rebuild lits for every number literal of the tape. Can't fail. */
void json_numlits_from_tape(const struct tape *t, struct json_numlits *lits);

/* Check that p[0..n) is valid UTF-8 (RFC 3629). Returns 1 or 0. */
int json_utf8_valid(const char *p, size_t n);

enum {
	JSON_SORTED = 1,	/* object keys sorted by byte order (canonical) */
	JSON_ASCII = 2		/* escape everything outside ASCII as \uXXXX */
};

/*
 * Append the compact JSON text of v to b. v is borrowed. lits may be NULL.
 * An invalid jv is written as null. This function can't fail.
 */
void json_write(struct buf *b, jv v, int flags, const struct json_numlits *lits);
/* Append s[0..n) as a JSON string (s must be valid UTF-8 unless JSON_ASCII
 * is not set, in which case bytes are copied as they are). */
void json_write_string(struct buf *b, const char *s, size_t n, int flags);
/* Append a number the way jq 1.6 prints it (NaN as null, infinities
 * clamped to +-DBL_MAX). */
void json_write_number(struct buf *b, double d);

/* Convenience: the compact text of v (borrowed) as a malloc'd string. */
char *json_dump(jv v, int flags);

/* ---- the record contract (DESIGN.md) ---- */

/*
 * Carry the _meta of the input record onto an output record: the result is
 * out with _meta = in._meta + out._meta (keys the output sets win). out is
 * consumed and returned; in_meta is borrowed (an object, or anything else
 * for "none"). Non-object outputs are returned as they are.
 */
jv json_meta_carry(jv out, jv in_meta);

/*
 * A control record is {"_meta":{"control":"<kind>",...}} and nothing else.
 * Programs pass control records through untouched. v is borrowed.
 * Returns 1 if v is one.
 */
int json_is_control(jv v);

/* Borrowed lookups that do not consume the object: */
/* Get key k of object o (borrowed), as an owned value; jv_invalid() if o
 * is not an object or has no such key. */
jv json_get(jv o, const char *k);
/* The string value of key k, or NULL (pointer valid while o lives). */
const char *json_get_str(jv o, const char *k);

#endif
