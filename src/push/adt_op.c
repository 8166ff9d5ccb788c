/*
 * adt_op.c - push-adt's records: parsing, id checks, URLs, bodies, merges.
 */
#include "adt_op.h"

#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "url.h"

const char *
adt_op_name(enum adt_opk k)
{
	switch (k) {
	case ADT_UPSERT: return "upsert";
	case ADT_REPLACE: return "replace";
	case ADT_PATCH: return "patch";
	default: return "delete";
	}
}

void
adt_op_release(struct adt_op *op)
{
	free(op->id);
	free(op->rel_id);
	free(op->target);
	free(op->put_body);
	free(op->patch_body);
	free(op->meta);
	memset(op, 0, sizeof(*op));
}

static int
is_reserved(const char *k)
{
	return strcmp(k, "$op") == 0 || strcmp(k, "$patch") == 0 ||
	    strcmp(k, "$version") == 0 || strcmp(k, "_meta") == 0;
}

int
adt_id_check(const char *id, const char *what, struct buf *why)
{
	size_t n = strlen(id), i;

	if (n == 0) {
		buf_printf(why, "%s is empty", what);
		return -1;
	}
	if ((n == 1 && id[0] == '.') || (n == 2 && id[0] == '.' &&
	    id[1] == '.')) {
		buf_printf(why, "%s '%s' is a dot segment, which no URL path "
		    "can carry (it would name the parent resource)", what, id);
		return -1;
	}
	if (n > ADT_ID_MAX) {
		buf_printf(why, "%s is longer than %d bytes", what, ADT_ID_MAX);
		return -1;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)id[i];

		if (c < 0x20 || c == 0x7f) {
			buf_printf(why, "%s contains a control character "
			    "(byte %zu)", what, i + 1);
			return -1;
		}
	}
	if (id[0] == ' ' || id[n - 1] == ' ') {
		buf_printf(why, "%s begins or ends with a space", what);
		return -1;
	}
	return 0;
}

void
adt_pointer_escape(struct buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '~')
			buf_adds(b, "~0");
		else if (s[i] == '/')
			buf_adds(b, "~1");
		else
			buf_addc(b, s[i]);
	}
}

int
adt_url(struct buf *b, const char *endpoint, const char *id, const char *sub,
    const char *rid, const char *api, const char **why)
{
	size_t start = b->len;

	buf_adds(b, endpoint);
	buf_adds(b, "/digitaltwins");
	if (url_segment(b, id, strlen(id), why) < 0)
		goto fail;
	if (sub != NULL) {
		buf_addc(b, '/');
		buf_adds(b, sub);
	}
	if (rid != NULL && url_segment(b, rid, strlen(rid), why) < 0)
		goto fail;
	url_query(b, "api-version", api, strlen(api));
	return 0;
fail:
	b->len = start;
	return -1;
}

/* The string member k of o as a malloc'd copy: 0 found, 1 absent, -1 not a
 * string, -2 a string with a NUL (\u0000) in it, which C strings would cut
 * short. */
static int
get_string(jv o, const char *k, char **out)
{
	jv v = json_get(o, k);

	*out = NULL;
	if (!jv_is_valid(v)) {
		jv_free(v);
		return 1;
	}
	if (jv_get_kind(v) != JV_KIND_STRING) {
		jv_free(v);
		return -1;
	}
	if ((size_t)jv_string_length_bytes(jv_copy(v)) !=
	    strlen(jv_string_value(v))) {
		jv_free(v);
		return -2;
	}
	*out = xstrdup(jv_string_value(v));
	jv_free(v);
	return 0;
}

static int
get_id(jv rec, const char *k, char **out, const char **code, struct buf *msg)
{
	int rc = get_string(rec, k, out);

	if (rc > 0) {
		*code = "missing_id";
		buf_printf(msg, "record has no %s", k);
		return -1;
	}
	if (rc < 0) {
		*code = "bad_id";
		buf_printf(msg, rc == -2 ? "%s contains a NUL character "
		    "(\\u0000)" : "%s is not a string", k);
		return -1;
	}
	if (adt_id_check(*out, k, msg) < 0) {
		*code = "bad_id";
		return -1;
	}
	return 0;
}

/* Check a JSON Patch for ADT (add, replace, remove with a path) and
 * serialize it into *out. */
static int
patch_text(jv patch, const struct json_numlits *lits, char **out,
    struct buf *msg)
{
	int i, n;
	struct buf b = BUF_INIT;

	if (jv_get_kind(patch) != JV_KIND_ARRAY) {
		buf_adds(msg, "$patch is not an array of JSON Patch operations");
		return -1;
	}
	n = jv_array_length(jv_copy(patch));
	if (n == 0) {
		buf_adds(msg, "$patch is empty");
		return -1;
	}
	for (i = 0; i < n; i++) {
		jv o = jv_array_get(jv_copy(patch), i);
		const char *opn = json_get_str(o, "op");
		const char *path = json_get_str(o, "path");
		int bad = 0;

		if (jv_get_kind(o) != JV_KIND_OBJECT || opn == NULL ||
		    path == NULL)
			bad = 1;
		else if (strcmp(opn, "add") && strcmp(opn, "replace") &&
		    strcmp(opn, "remove")) {
			buf_printf(msg, "$patch[%d]: operation '%s' is not "
			    "supported by ADT (add, replace, remove)", i, opn);
			jv_free(o);
			return -1;
		} else if (strcmp(opn, "remove") != 0) {
			jv v = json_get(o, "value");

			bad = !jv_is_valid(v);
			jv_free(v);
		}
		jv_free(o);
		if (bad) {
			buf_printf(msg, "$patch[%d] is not an operation with "
			    "op, path (and value)", i);
			return -1;
		}
	}
	json_write(&b, patch, 0, lits);
	*out = buf_cstr(&b);
	return 0;
}

/*
 * The PUT body: rec without the reserved keys and without the keys of the
 * NULL-terminated list drop (what ADT takes from the URL or sets itself);
 * the "add" operations of its properties (keys not starting with '$')
 * into *patch when patch is not NULL.
 */
static void
bodies(jv rec, const struct json_numlits *lits, const char *const *drop,
    char **put, char **patch)
{
	struct buf b = BUF_INIT, p = BUF_INIT;
	int it, first = 1, pfirst = 1;
	const char *const *d;

	buf_addc(&b, '{');
	buf_addc(&p, '[');
	for (it = jv_object_iter(rec); jv_object_iter_valid(rec, it);
	    it = jv_object_iter_next(rec, it)) {
		jv k = jv_object_iter_key(rec, it);
		jv v = jv_object_iter_value(rec, it);
		const char *ks = jv_string_value(k);
		size_t kn = (size_t)jv_string_length_bytes(jv_copy(k));

		for (d = drop; *d != NULL && strcmp(ks, *d) != 0; d++)
			;
		if (is_reserved(ks) || *d != NULL) {
			jv_free(k);
			jv_free(v);
			continue;
		}
		if (!first)
			buf_addc(&b, ',');
		first = 0;
		json_write_string(&b, ks, kn, 0);
		buf_addc(&b, ':');
		json_write(&b, v, 0, lits);
		if (patch != NULL && ks[0] != '$') {
			if (!pfirst)
				buf_addc(&p, ',');
			pfirst = 0;
			buf_adds(&p, "{\"op\":\"add\",\"path\":");
			{
				struct buf ptr = BUF_INIT;

				buf_addc(&ptr, '/');
				adt_pointer_escape(&ptr, ks, kn);
				json_write_string(&p, ptr.p, ptr.len, 0);
				buf_release(&ptr);
			}
			buf_adds(&p, ",\"value\":");
			json_write(&p, v, 0, lits);
			buf_addc(&p, '}');
		}
		jv_free(k);
		jv_free(v);
	}
	buf_addc(&b, '}');
	buf_addc(&p, ']');
	*put = buf_cstr(&b);
	if (patch != NULL)
		*patch = buf_cstr(&p);
	else
		buf_release(&p);
}

static const char *const twin_drop[] = { "$dtId", "$etag", NULL };
static const char *const rel_drop[] = { "$dtId", "$relationshipId",
    "$sourceId", "$etag", NULL };

int
adt_op_parse(jv rec, const struct json_numlits *lits, struct adt_op *op,
    const char **code, struct buf *msg)
{
	jv v = jv_invalid();
	char *s = NULL;
	int rc;

	memset(op, 0, sizeof(*op));
	v = json_get(rec, "_meta");
	if (jv_is_valid(v)) {
		struct buf b = BUF_INIT;

		json_write(&b, v, 0, lits);
		op->meta = buf_cstr(&b);
	}
	jv_free(v);
	v = jv_invalid();

	rc = get_string(rec, "$op", &s);
	if (rc < 0) {
		*code = "unknown_op";
		buf_adds(msg, "$op is not a string");
		goto fail;
	}
	if (rc > 0 || strcmp(s, "upsert") == 0)
		op->op = ADT_UPSERT;
	else if (strcmp(s, "replace") == 0)
		op->op = ADT_REPLACE;
	else if (strcmp(s, "patch") == 0)
		op->op = ADT_PATCH;
	else if (strcmp(s, "delete") == 0)
		op->op = ADT_DELETE;
	else {
		*code = "unknown_op";
		buf_adds(msg, "unknown $op '");
		buf_adds(msg, s);
		buf_adds(msg, "' (upsert, replace, patch or delete)");
		goto fail;
	}
	free(s);
	s = NULL;

	if (get_id(rec, "$dtId", &op->id, code, msg) < 0)
		goto fail;
	v = json_get(rec, "$relationshipId");
	op->kind = jv_is_valid(v) ? ADT_REL : ADT_TWIN;
	jv_free(v);
	v = jv_invalid();
	if (op->kind == ADT_TWIN) {
		v = json_get(rec, "$targetId");
		if (!jv_is_valid(v)) {
			jv_free(v);
			v = json_get(rec, "$relationshipName");
		}
		if (jv_is_valid(v)) {
			*code = "missing_id";
			buf_adds(msg, "relationship record has no "
			    "$relationshipId");
			goto fail;
		}
		jv_free(v);
		v = json_get(rec, "$metadata");
		{
			jv m = json_get(v, "$model");

			op->has_model = jv_get_kind(m) == JV_KIND_STRING;
			jv_free(m);
		}
		jv_free(v);
		v = jv_invalid();
	} else {
		if (get_id(rec, "$relationshipId", &op->rel_id, code, msg) < 0)
			goto fail;
		rc = get_string(rec, "$targetId", &op->target);
		if (rc < 0 || (rc == 0 &&
		    adt_id_check(op->target, "$targetId", msg) < 0)) {
			*code = "bad_id";
			if (msg->len == 0)
				buf_adds(msg, rc == -2 ? "$targetId contains "
				    "a NUL character (\\u0000)" :
				    "$targetId is not a string");
			goto fail;
		}
		if (rc > 0 && (op->op == ADT_UPSERT || op->op == ADT_REPLACE)) {
			*code = "missing_target";
			buf_adds(msg, "relationship has no $targetId");
			goto fail;
		}
		if (op->op == ADT_UPSERT || op->op == ADT_REPLACE) {
			v = json_get(rec, "$relationshipName");
			if (jv_get_kind(v) != JV_KIND_STRING ||
			    jv_string_length_bytes(jv_copy(v)) == 0) {
				*code = "missing_relationship_name";
				buf_adds(msg, "relationship has no "
				    "$relationshipName");
				goto fail;
			}
			jv_free(v);
			v = jv_invalid();
		}
	}

	switch (op->op) {
	case ADT_PATCH:
		v = json_get(rec, "$patch");
		if (!jv_is_valid(v)) {
			*code = "bad_patch";
			buf_adds(msg, "$op patch needs a $patch array");
			goto fail;
		}
		if (patch_text(v, lits, &op->patch_body, msg) < 0) {
			*code = "bad_patch";
			goto fail;
		}
		break;
	case ADT_UPSERT:
	case ADT_REPLACE:
		if (op->kind == ADT_TWIN)
			bodies(rec, lits, twin_drop, &op->put_body,
			    op->op == ADT_UPSERT ? &op->patch_body : NULL);
		else
			bodies(rec, lits, rel_drop, &op->put_body, NULL);
		if (strlen(op->put_body) > ADT_BODY_MAX) {
			*code = "too_large";
			buf_printf(msg, "the body is larger than ADT's limit "
			    "(%u bytes)", ADT_BODY_MAX);
			goto fail;
		}
		break;
	case ADT_DELETE:
		break;
	}
	jv_free(v);
	jv_free(rec);
	return 0;
fail:
	free(s);
	jv_free(v);
	jv_free(rec);
	{
		char *meta = op->meta;

		op->meta = NULL;
		adt_op_release(op);
		op->meta = meta;
	}
	return -1;
}

int
adt_op_merge(struct adt_op *into, const struct adt_op *from)
{
	struct buf b = BUF_INIT;
	size_t a, f;

	if (into->kind != ADT_TWIN || from->kind != ADT_TWIN ||
	    into->op != ADT_PATCH || from->op != ADT_PATCH ||
	    strcmp(into->id, from->id) != 0)
		return 0;
	a = strlen(into->patch_body);
	f = strlen(from->patch_body);
	if (a + f > ADT_BODY_MAX || a < 2 || f < 2)
		return 0;
	buf_add(&b, into->patch_body, a - 1);	/* without ']' */
	buf_addc(&b, ',');
	buf_add(&b, from->patch_body + 1, f - 1);	/* without '[' */
	free(into->patch_body);
	into->patch_body = buf_cstr(&b);
	into->merged++;
	return 1;
}

/* Does the JSON Pointer p (RFC 6901) name a value in doc (borrowed)? */
static int
pointer_exists(jv doc, const char *p)
{
	jv cur = jv_copy(doc);
	int ok = 1;

	if (*p == '\0') {
		jv_free(cur);
		return 1;
	}
	while (ok && *p == '/') {
		struct buf seg = BUF_INIT;
		const char *q;

		for (q = p + 1; *q != '\0' && *q != '/'; q++) {
			if (q[0] == '~' && q[1] == '1') {
				buf_addc(&seg, '/');
				q++;
			} else if (q[0] == '~' && q[1] == '0') {
				buf_addc(&seg, '~');
				q++;
			} else {
				buf_addc(&seg, *q);
			}
		}
		if (jv_get_kind(cur) == JV_KIND_OBJECT) {
			jv k = jv_string_sized(seg.p ? seg.p : "", (int)seg.len);

			if (jv_object_has(jv_copy(cur), jv_copy(k)))
				cur = jv_object_get(cur, k);
			else {
				jv_free(k);
				ok = 0;
			}
		} else if (jv_get_kind(cur) == JV_KIND_ARRAY) {
			char *end;
			long i = strtol(buf_cstr(&seg), &end, 10);

			if (seg.len == 0 || *end != '\0' || i < 0 ||
			    i >= jv_array_length(jv_copy(cur)))
				ok = 0;
			else
				cur = jv_array_get(cur, (int)i);
		} else {
			ok = 0;
		}
		buf_release(&seg);
		p = q;
	}
	jv_free(cur);
	return ok && *p == '\0';
}

char *
adt_patch_heal(const char *patch, jv doc)
{
	jv ops = jv_invalid(), out = jv_array();
	struct json_err je;
	char *text = NULL;
	int i, n, changed = 0;

	if (json_parse(patch, strlen(patch), &ops, NULL, &je) < 0 ||
	    jv_get_kind(ops) != JV_KIND_ARRAY)
		goto done;
	n = jv_array_length(jv_copy(ops));
	for (i = 0; i < n; i++) {
		jv o = jv_array_get(jv_copy(ops), i);
		const char *opn = json_get_str(o, "op");
		const char *path = json_get_str(o, "path");

		if (opn == NULL || path == NULL) {
			jv_free(o);
			goto done;
		}
		if (strcmp(opn, "remove") == 0 && !pointer_exists(doc, path)) {
			changed = 1;
			jv_free(o);
			continue;
		}
		if (strcmp(opn, "replace") == 0 && !pointer_exists(doc, path)) {
			changed = 1;
			o = jv_object_set(o, jv_string("op"), jv_string("add"));
		}
		out = jv_array_append(out, o);
	}
	if (changed)
		text = json_dump(out, 0);
done:
	jv_free(ops);
	jv_free(out);
	return text;
}
