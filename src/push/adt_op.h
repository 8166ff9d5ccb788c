/*
 * adt_op.h - push-adt's records: parse a twin or relationship operation
 * (DESIGN.md record contract: ADT import-file line shapes plus "$op"),
 * check ids, build request URLs and bodies, merge waiting patches.
 */
#ifndef TP_ADT_OP_H
#define TP_ADT_OP_H

#include <stddef.h>

#include <jv.h>

#include "buf.h"
#include "json.h"

/* Longest id accepted (bytes); ADT's own rule is not published. */
#define ADT_ID_MAX 1024
/* Largest request body ADT accepts (PUT or PATCH). */
#define ADT_BODY_MAX (32u << 10)

enum adt_kind { ADT_TWIN, ADT_REL };
enum adt_opk { ADT_UPSERT, ADT_REPLACE, ADT_PATCH, ADT_DELETE };

struct adt_op {
	enum adt_kind kind;
	enum adt_opk op;
	char *id;		/* the twin, or the relationship's source */
	char *rel_id;		/* ADT_REL: $relationshipId */
	char *target;		/* ADT_REL: $targetId, or NULL */
	int has_model;		/* twin with $metadata.$model */
	char *put_body;		/* upsert, replace: the PUT body */
	char *patch_body;	/* patch: $patch; twin upsert: "add" ops of
				   the carried properties ("[]" if none) */
	char *meta;		/* the record's _meta as JSON text, or NULL */
	unsigned merged;	/* patches folded into this one */
};

/* "upsert", "replace", "patch" or "delete". Can't fail. */
const char *adt_op_name(enum adt_opk k);

/*
 * Fill op from the record rec (consumed; an object). lits are the number
 * literals of the record (json_parse()), used so that numbers keep their
 * text. Returns 0, or -1 with *code (a static string such as "missing_id")
 * and msg filled; op is then released. On success op owns its strings:
 * adt_op_release() frees them.
 */
int adt_op_parse(jv rec, const struct json_numlits *lits, struct adt_op *op,
    const char **code, struct buf *msg);
/* Free op's strings; op is zeroed. NULL members are fine. */
void adt_op_release(struct adt_op *op);

/*
 * Check an id (what = "$dtId", ...) that goes into a URL. Returns 0, or -1
 * with why filled: empty, "." or ".." (dot segments: a URL cannot carry
 * them, libcurl and servers resolve them to the parent), longer than
 * ADT_ID_MAX, or with a control character or leading/trailing white space.
 */
int adt_id_check(const char *id, const char *what, struct buf *why);

/*
 * Append the URL endpoint + "/digitaltwins/" + id [+ "/" + sub] [+ "/" +
 * rid] + "?api-version=" + api to b, with id and rid as url.h segments
 * (percent-encoded). endpoint has no trailing slash. sub and rid may be
 * NULL. Returns 0, or -1 with *why (a static string) and b unchanged when
 * id or rid cannot be a path segment (empty, "." or "..").
 */
int adt_url(struct buf *b, const char *endpoint, const char *id,
    const char *sub, const char *rid, const char *api, const char **why);

/*
 * Fold the twin patch `from` into the waiting twin patch `into`: the
 * operations of from are appended. Returns 1 if merged, 0 if they cannot
 * be (not both twin patches of one twin, or the body would exceed
 * ADT_BODY_MAX). from is not changed. Can't fail otherwise.
 */
int adt_op_merge(struct adt_op *into, const struct adt_op *from);

/* Append s as a JSON Pointer reference token (~ -> ~0, / -> ~1). */
void adt_pointer_escape(struct buf *b, const char *s, size_t n);

/*
 * Make a JSON Patch idempotent against the entity doc (borrowed) as it is
 * now, for a replayed patch (at-least-once): a "remove" of a path doc does
 * not have is dropped (already applied), a "replace" of such a path becomes
 * an "add". Returns the new patch text (malloc'd; "[]" when nothing is
 * left to do), or NULL when patch is not an array of operations or nothing
 * would change (healing cannot help).
 */
char *adt_patch_heal(const char *patch, jv doc);

#endif
