/*
 * codec.h - small encodings: base64, hex, URL percent-encoding.
 * None of these functions can fail (memory exhaustion aborts).
 */
#ifndef TP_CODEC_H
#define TP_CODEC_H

#include <stddef.h>

#include "buf.h"

/* Append the standard base64 (with padding) of p[0..n) to b. */
void base64_encode(struct buf *b, const void *p, size_t n);
/*
 * Decode standard base64 (padding optional, no whitespace) and append to
 * b. Returns 0, or -1 if s is not base64 (b then holds garbage past its
 * previous length).
 */
int base64_decode(struct buf *b, const char *s, size_t n);
/* The value (0-63) of standard base64 character c, or -1. */
int base64_value(int c);
/* Append lowercase hex of p[0..n). */
void hex_encode(struct buf *b, const void *p, size_t n);
/* The value of hex digit c (either case), or -1. */
int hex_value(int c);
/*
 * Append s[0..n) percent-encoded for use as one URL path segment or query
 * value: everything but ALPHA / DIGIT / "-" / "." / "_" / "~" is escaped
 * (uppercase hex), so '/', '?', '#', '%', ' ' and non-ASCII are safe.
 */
void pct_encode(struct buf *b, const char *s, size_t n);
/*
 * Append the percent-decoding of s[0..n) ('+' is kept). Returns 0, or -1 on
 * a malformed escape.
 */
int pct_decode(struct buf *b, const char *s, size_t n);

#endif
