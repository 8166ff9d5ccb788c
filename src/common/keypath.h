/*
 * keypath.h - the simple jq paths that name a record's key, evaluated on a
 * tape (tape.h) without libjq.
 *
 * Accepted forms (whitespace allowed between tokens):
 *   EXPR := ALT ( "//" ALT )*
 *   ALT  := STEP+
 *   STEP := "." NAME | "." STRING | "[" STRING "]" | ".[" STRING "]"
 * NAME is [A-Za-z_][A-Za-z0-9_]*, STRING a JSON string literal (jq's
 * escapes minus interpolation). Examples: .id  .["$dtId"] // .id
 * .device.id  ."$dtId". Anything else is not a key path: the caller falls
 * back to libjq, which gives the same answers.
 *
 * Evaluation follows jq: a step into a non-object, or a missing member,
 * gives null; `a // b` is a unless a is null or false; with duplicate keys
 * the last one wins.
 */
#ifndef TP_KEYPATH_H
#define TP_KEYPATH_H

#include <stddef.h>
#include <stdint.h>

#include "tape.h"

struct keypath;

/*
 * Parse expr. Returns a new key path, or NULL when expr is not one of the
 * forms above (not an error: use libjq then). Can't fail otherwise.
 */
struct keypath *keypath_parse(const char *expr);
/* keypath_free(NULL) is a no-op. */
void keypath_free(struct keypath *kp);

/*
 * The node index of the key's value in t (its root must be parsed), or 0
 * when the value is null (absent). May return a FALSE node (jq: `.a //
 * false`). This function can't fail.
 */
uint32_t keypath_eval(const struct keypath *kp, const struct tape *t);

#endif
