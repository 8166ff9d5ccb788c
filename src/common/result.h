/*
 * result.h - the result line of the push programs (DESIGN.md):
 *
 *   {"ok":true|false,"op":OP,"id":ID,["source":SRC,]"status":N,
 *    "attempts":N[,"error":{"code":..,"message":..}][,"_meta":{...}]
 *    [,"stale":true]}
 *
 * One line per input record, written by push-adt and push-cosmos.
 */
#ifndef TP_RESULT_H
#define TP_RESULT_H

#include "buf.h"

struct result {
	int ok;
	const char *op;		/* "upsert", "delete", ... */
	const char *id;		/* the record's id, or NULL (written as null) */
	const char *source;	/* relationships: the source twin, or NULL
				   (then the key is left out) */
	long status;		/* last HTTP status, 0 if none */
	unsigned attempts;	/* HTTP attempts made for the record */
	const char *err_code;	/* NULL on success */
	const char *err_msg;
	const char *meta;	/* the input's _meta as JSON text, or NULL */
	int stale;		/* acknowledged, but older than the stored
				   state: adds "stale":true (push-cosmos) */
};

/*
 * Append the result line of r to b, without the final newline. Strings are
 * written as JSON strings (invalid UTF-8 bytes are copied as they are);
 * meta is spliced in unchanged. This function can't fail.
 */
void result_write(struct buf *b, const struct result *r);

#endif
