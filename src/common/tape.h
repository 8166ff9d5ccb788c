/*
 * tape.h - one JSON text parsed into a flat array of nodes ("tape"),
 * without building jv values and without an allocation per value.
 *
 * This is twinpipe's only JSON parser: json_parse() builds jv from a tape.
 * It is strict RFC 8259 (see json.h). Strings are decoded: a node points
 * into the input when the string had no escapes, else into the tape's own
 * buffer, so the input must outlive the tape's use.
 *
 * Layout: a container node is followed by its members; for an object each
 * member is a STRING key node followed by its value. Every node's `next` is
 * the index just past the value (past a container's last member), so
 * siblings are walked with i = t->nodes[i].next.
 */
#ifndef TP_TAPE_H
#define TP_TAPE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct json_err;

enum tape_type {
	TAPE_NULL,
	TAPE_FALSE,
	TAPE_TRUE,
	TAPE_NUMBER,
	TAPE_STRING,
	TAPE_ARRAY,
	TAPE_OBJECT
};

enum {
	/* STRING: the decoded bytes are also their own JSON escaping (no
	 * escapes were in the input and none are needed on output) */
	TAPE_RAW_OK = 1,
	/* NUMBER: a plain integer literal of at most 15 digits */
	TAPE_SMALL_INT = 2,
	/* OBJECT: duplicate keys, or too many members to check (> 32) */
	TAPE_DUPS = 4
};

struct tape_node {
	uint8_t type;
	uint8_t flags;
	uint32_t n;		/* STRING, NUMBER: bytes; ARRAY: elements;
				 * OBJECT: members */
	uint32_t next;
	const char *p;		/* STRING: decoded bytes; NUMBER: its text */
};

struct tape {
	struct tape_node *nodes;
	size_t len, cap;
	struct buf strings;	/* decoded strings that had escapes */
};

#define TAPE_INIT { NULL, 0, 0, BUF_INIT }

/*
 * Parse exactly one JSON value from p[0..n) (JSON whitespace around it
 * allowed; p need not be NUL-terminated). Returns 0, or -1 with err filled
 * (message and byte offset). The tape is reset first; its memory is reused
 * across calls.
 */
int tape_parse(struct tape *t, const char *p, size_t n, struct json_err *err);
/* Free the memory. tape_release(NULL) is a no-op. */
void tape_release(struct tape *t);

/* The value of a NUMBER node (strtod of its text). Can't fail. */
double tape_number(const struct tape_node *nd);

/* A node type in words for messages: "null", "a boolean", "a number", "a
 * string", "an array", "an object". */
const char *tape_kind_name(int type);

/*
 * The index of the value of key k[0..kn) in the OBJECT node at index obj,
 * or 0 when absent (index 0 is always the root, never a member). Must not
 * be used on a TAPE_DUPS object (the caller decides what to do then).
 */
uint32_t tape_lookup(const struct tape *t, uint32_t obj, const char *k,
    size_t kn);

#endif
