/*
 * fastpath.h - a native evaluator for the subset of jq that mapping
 * programs are made of, run on the parsed tape of a record without building
 * jv values. libjq stays the reference: every program is compiled by libjq
 * too, and any record the fast path cannot finish exactly as jq 1.6 would
 * (a type it does not handle, an error, an edge case) goes through libjq.
 *
 * The subset: `.`, `.a`, `."a"`, `.["a"]`, `.[N]` and chains of them;
 * literals; string interpolation; `{...}` with literal keys (and `{a}`
 * shorthand); `[a, b, ...]`; `|`; `//`; `and`, `or`; comparisons; `+ - * /`;
 * unary minus; `if ... elif ... else ... end`; `$name` bound by --arg /
 * --argjson to a scalar; the builtins tonumber, tostring, ascii_downcase,
 * ascii_upcase, length, not, type, floor, ltrimstr, rtrimstr, startswith,
 * endswith with a literal argument, and sub/gsub with a literal pattern free
 * of regex syntax and a literal replacement. Comments are allowed.
 */
#ifndef TP_FASTPATH_H
#define TP_FASTPATH_H

#include <jv.h>

#include "buf.h"
#include "tape.h"

struct fp;

/*
 * Compile program for the fast path. Returns NULL when the program is
 * outside the subset (libjq then runs every record). args (borrowed) holds
 * the named arguments. Never fails otherwise.
 */
struct fp *fp_compile(const char *program, jv args);
/*
 * The same for a mapping file: mapping is what mapping_load() returned
 * (borrowed), now the $NOW text. Returns NULL if it cannot be run natively.
 */
struct fp *fp_compile_mapping(jv mapping, const char *now);
/* fp_free(NULL) is a no-op. */
void fp_free(struct fp *f);

/*
 * Run the program on the record in t (root: an object, node 0) and append
 * its one output and a '\n' to out, carrying the record's _meta as
 * json_meta_carry() would. Returns 1 when done, 0 when this record must go
 * through libjq instead (out is then as it was).
 */
int fp_run(struct fp *f, const struct tape *t, struct buf *out);

#endif
