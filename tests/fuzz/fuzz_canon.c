/*
 * fuzz_canon.c - the canonical writer, the JSON Patch generator and the
 * key path parser (src/common/canon.c, keypath.c).
 *
 * Input: KEYEXPR '\n' OLD '\n' NEW. Properties checked:
 * - canonical form is valid JSON and a fixed point (canon(canon(x)) ==
 *   canon(x));
 * - applying the generated patch to OLD (with jq's jv path functions) gives
 *   a document whose canonical form is NEW's;
 * - the key path parser and evaluator never crash.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "json.h"
#include "keypath.h"

static jv
pointer(const char *p, size_t n)
{
	jv path = jv_array();
	struct buf seg = BUF_INIT;
	size_t i;

	for (i = 1; i <= n; i++) {
		if (i == n || p[i] == '/') {
			path = jv_array_append(path, jv_string_sized(
			    seg.p ? seg.p : "", (int)seg.len));
			seg.len = 0;
		} else if (p[i] == '~') {
			buf_addc(&seg, p[i + 1] == '0' ? '~' : '/');
			i++;
		} else {
			buf_addc(&seg, p[i]);
		}
	}
	buf_release(&seg);
	return path;
}

static void
check(struct canon *c, const char *a, size_t an, const char *b, size_t bn)
{
	struct tape ta = TAPE_INIT, tb = TAPE_INIT, tp = TAPE_INIT;
	struct buf out = BUF_INIT, ca = BUF_INIT, cb = BUF_INIT;
	struct json_err je;
	size_t nops, i;
	jv doc = jv_invalid(), ops = jv_invalid();

	if (tape_parse(&ta, a, an, &je) < 0 || tape_parse(&tb, b, bn, &je) < 0)
		goto out;
	canon_write(c, &ca, &ta, 0, CANON_SORTED | CANON_TOP);
	if (tape_parse(&tp, ca.p, ca.len, &je) < 0)
		abort();	/* canonical form must be valid JSON */
	canon_write(c, &cb, &tp, 0, CANON_SORTED | CANON_TOP);
	if (ca.len != cb.len || memcmp(ca.p, cb.p, ca.len) != 0)
		abort();	/* and a fixed point */
	if (canon_diff(c, &out, &tp, &tb, &nops) < 0)
		goto out;
	if (json_parse(out.p, out.len, &ops, NULL, &je) < 0 ||
	    json_parse(ca.p, ca.len, &doc, NULL, &je) < 0)
		abort();
	for (i = 0; i < nops; i++) {
		jv o = jv_array_get(jv_copy(ops), (int)i);
		const char *k = json_get_str(o, "op");
		jv pj = json_get(o, "path");
		jv path = pointer(jv_string_value(pj),
		    (size_t)jv_string_length_bytes(jv_copy(pj)));

		if (strcmp(k, "remove") == 0)
			doc = jv_delpaths(doc, jv_array_append(jv_array(), path));
		else
			doc = jv_setpath(doc, path, json_get(o, "value"));
		jv_free(o);
		jv_free(pj);
		if (!jv_is_valid(doc))
			abort();
	}
	/* patched OLD == NEW, compared in canonical form */
	cb.len = 0;
	json_write(&cb, doc, JSON_SORTED, NULL);
	ca.len = 0;
	{
		struct tape tq = TAPE_INIT;

		if (tape_parse(&tq, cb.p, cb.len, &je) < 0)
			abort();
		cb.len = 0;
		canon_write(c, &cb, &tq, 0, CANON_SORTED | CANON_TOP);
		tape_release(&tq);
	}
	canon_write(c, &ca, &tb, 0, CANON_SORTED | CANON_TOP);
	/* numbers may print differently once through jv: compare as jv;
	 * numbers beyond double range do not survive jv, skip those */
	for (i = 0; i < tb.len; i++)
		if (tb.nodes[i].type == TAPE_NUMBER &&
		    isinf(tape_number(&tb.nodes[i])))
			goto out;
	{
		jv x, y;

		if (json_parse(ca.p, ca.len, &x, NULL, &je) < 0 ||
		    json_parse(cb.p, cb.len, &y, NULL, &je) < 0)
			abort();
		if (!jv_equal(x, y))
			abort();
	}
out:
	jv_free(doc);
	jv_free(ops);
	tape_release(&ta);
	tape_release(&tb);
	tape_release(&tp);
	buf_release(&out);
	buf_release(&ca);
	buf_release(&cb);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *e = p + size, *nl1, *nl2;
	struct canon c = CANON_INIT;
	char err[128], *expr;
	struct keypath *kp;

	nl1 = memchr(p, '\n', size);
	if (nl1 == NULL)
		return 0;
	nl2 = memchr(nl1 + 1, '\n', (size_t)(e - nl1 - 1));
	if (nl2 == NULL)
		return 0;
	expr = strndup(p, (size_t)(nl1 - p));
	if (expr == NULL)
		return 0;
	kp = keypath_parse(expr);
	if (expr[0] == '/' || (expr[0] != '.' && expr[0] != '\0'))
		(void)canon_exclude(&c, expr, err, sizeof(err));
	check(&c, nl1 + 1, (size_t)(nl2 - nl1 - 1), nl2 + 1,
	    (size_t)(e - nl2 - 1));
	if (kp != NULL) {
		struct tape t = TAPE_INIT;
		struct json_err je;

		if (tape_parse(&t, nl2 + 1, (size_t)(e - nl2 - 1), &je) == 0)
			(void)keypath_eval(kp, &t);
		tape_release(&t);
	}
	keypath_free(kp);
	canon_release(&c);
	free(expr);
	return 0;
}
