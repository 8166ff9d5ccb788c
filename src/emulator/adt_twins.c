/*
 * adt_twins.c - ADT twins and their components in twin-emulator: PUT with
 * If-None-Match, GET, JSON Patch (properties, components, sourceTime),
 * DELETE, $metadata timestamps, validation against the model, telemetry.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sqlite3.h>

#include "codec.h"
#include "adt_query.h"
#include "adt_impl.h"
#include "emu.h"
#include "json.h"

/* ---- twins ---- */

jv
adt_twin_load(const char *id)
{
	sqlite3_stmt *st = store_stmt("SELECT body FROM twins WHERE id=?");
	jv v;

	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	v = sqlite3_step(st) == SQLITE_ROW ? store_col_json(st, 0) :
	    jv_invalid();
	sqlite3_reset(st);
	return v;
}

jv
adt_twin_find(struct resp *rs, const char *id)
{
	jv t = adt_twin_load(id);

	if (!jv_is_valid(t))
		adt_twin_not_found(rs, id);
	return t;
}

static void
twin_save(const char *id, jv twin)
{
	sqlite3_stmt *st = store_stmt("INSERT OR REPLACE INTO twins VALUES(?,?,?)");
	jv model = adt_twin_model(twin);

	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, jv_get_kind(model) == JV_KIND_STRING ?
	    jv_string_value(model) : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, json_dump(twin, 0), -1, free);
	sqlite3_step(st);
	sqlite3_reset(st);
	jv_free(model);
}

static int
twin_has_rels(const char *id)
{
	sqlite3_stmt *st = store_stmt("SELECT 1 FROM rels WHERE src=?1 OR "
	    "target=?1 LIMIT 1");
	int r;

	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	r = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return r;
}

/*
 * The $metadata entry of one property: lastUpdateTime now if fresh (or
 * new), else the old one (om, consumed); sourceTime from st (consumed:
 * a string sets it, null removes it, invalid keeps the old one).
 */
static jv
meta_entry(jv om, int fresh, jv st, const char *now)
{
	jv e = jv_get_kind(om) == JV_KIND_OBJECT ? om : (jv_free(om), jv_object());

	if (fresh || !adt_json_has(e, "lastUpdateTime"))
		e = jv_object_set(e, jv_string("lastUpdateTime"), jv_string(now));
	if (jv_get_kind(st) == JV_KIND_STRING)
		e = jv_object_set(e, jv_string("sourceTime"), st);
	else {
		if (jv_get_kind(st) == JV_KIND_NULL)
			e = jv_object_delete(e, jv_string("sourceTime"));
		jv_free(st);
	}
	return e;
}

/* Is property k fresh: touched (an object of names), or changed? */
static int
prop_fresh(jv touched, const char *k, jv v, jv old)
{
	jv ov;
	int r;

	if (jv_get_kind(touched) == JV_KIND_OBJECT) {
		ov = json_get(touched, k);
		r = jv_is_valid(ov);
		jv_free(ov);
		return r;
	}
	ov = json_get(old, k);
	r = !jv_is_valid(ov) || !jv_equal(ov, jv_copy(v));
	return r;
}

/*
 * Properties props (consumed) with their $metadata as ADT keeps it: a
 * lastUpdateTime per property (and sourceTime from srct, borrowed, keyed
 * prefix+name), from old (borrowed) where not fresh. Components (their
 * names in comps, borrowed) get their own $metadata, recursively.
 */
static jv
props_build(jv props, jv old, jv touched, jv srct, jv comps,
    const char *prefix, const char *now, jv *meta)
{
	jv keys = jv_keys_unsorted(jv_copy(props)), oldmeta = json_get(old,
	    "$metadata"), out = jv_object();
	char key[600];
	int i, n = jv_array_length(jv_copy(keys)), any = 0;

	for (i = 0; i < n; i++) {
		jv k = jv_array_get(jv_copy(keys), i), v, ov, cm;
		const char *ks = jv_string_value(k);

		v = jv_object_get(jv_copy(props), jv_copy(k));
		snprintf(key, sizeof(key), "%s%s", prefix, ks);
		if (prefix[0] == '\0' && jv_get_kind(v) == JV_KIND_OBJECT &&
		    adt_json_has(comps, ks)) {
			ov = json_get(old, ks);
			snprintf(key, sizeof(key), "%s/", ks);
			cm = JV_OBJECT(jv_string("$lastUpdateTime"), jv_string(now));
			v = props_build(adt_user_props(v), ov, jv_copy(touched), srct,
			    jv_null(), key, now, &cm);
			v = jv_object_set(v, jv_string("$metadata"), cm);
			jv_free(ov);
		} else {
			int fresh = prop_fresh(touched, jv_get_kind(touched) ==
			    JV_KIND_OBJECT ? key : ks, v, old);

			any |= fresh;
			*meta = jv_object_set(*meta, jv_copy(k), meta_entry(
			    json_get(oldmeta, ks), fresh, json_get(srct, key), now));
		}
		out = jv_object_set(out, k, v);
	}
	if (prefix[0] != '\0' && !any && adt_json_has(oldmeta, "$lastUpdateTime"))	/* an untouched component keeps its time */
		*meta = jv_object_set(*meta, jv_string("$lastUpdateTime"),
		    json_get(oldmeta, "$lastUpdateTime"));
	jv_free(keys);
	jv_free(oldmeta);
	jv_free(props);
	jv_free(touched);
	return out;
}

/* The names of the Component contents of model (owned object). */
static jv
model_components(const char *model)
{
	int decom, missing;
	jv decl = adt_decl_get(model, &decom, &missing), keys, out = jv_object();
	int i, n;

	if (!jv_is_valid(decl))
		return out;
	keys = jv_keys(jv_copy(decl));
	n = jv_array_length(jv_copy(keys));
	for (i = 0; i < n; i++) {
		jv k = jv_array_get(jv_copy(keys), i), d = json_get(decl,
		    jv_string_value(k));

		if (adt_has_type(d, "Component"))
			out = jv_object_set(out, jv_copy(k), json_get(d, "schema"));
		jv_free(d);
		jv_free(k);
	}
	jv_free(keys);
	jv_free(decl);
	return out;
}

/*
 * Assemble a stored twin: $dtId, $etag, props, $metadata with a
 * lastUpdateTime (and sourceTime, from srct: name or component/name ->
 * time or null) per property: now for the touched ones (touched null:
 * those whose value differs from old), else the old time.
 */
static jv
twin_build(const char *id, jv props, const char *model, jv old, jv touched,
    jv srct, const char *now)
{
	jv t = JV_OBJECT(jv_string("$dtId"), jv_string(id), jv_string("$etag"),
	    adt_new_etag()), meta, comps = model_components(model), keys;
	int i, n;

	meta = JV_OBJECT(jv_string("$model"), jv_string(model),
	    jv_string("$lastUpdateTime"), jv_string(now));
	props = props_build(props, old, touched, srct, comps, "", now, &meta);
	keys = jv_keys_unsorted(jv_copy(props));
	n = jv_array_length(jv_copy(keys));
	for (i = 0; i < n; i++) {
		jv k = jv_array_get(jv_copy(keys), i);

		t = jv_object_set(t, jv_copy(k), jv_object_get(jv_copy(props), k));
	}
	jv_free(keys);
	jv_free(props);
	jv_free(comps);
	jv_free(srct);
	return jv_object_set(t, jv_string("$metadata"), meta);
}

/* The sourceTimes a PUT body (borrowed) sets: name or comp/name -> time. */
static jv
put_source_times(jv body)
{
	jv out = jv_object(), keys = jv_keys_unsorted(jv_copy(body));
	int i, n = jv_array_length(jv_copy(keys));

	for (i = -1; i < n; i++) {
		jv k = i < 0 ? jv_string("") : jv_array_get(jv_copy(keys), i);
		jv m = i < 0 ? json_get(body, "$metadata") : jv_getpath(
		    jv_copy(body), JV_ARRAY(jv_copy(k), jv_string("$metadata")));
		jv pk = jv_get_kind(m) == JV_KIND_OBJECT ?
		    jv_keys_unsorted(jv_copy(m)) : jv_array();
		int j, np = jv_array_length(jv_copy(pk));
		char key[600];

		for (j = 0; j < np; j++) {
			jv p = jv_array_get(jv_copy(pk), j), st;

			st = jv_getpath(jv_copy(m), JV_ARRAY(jv_copy(p),
			    jv_string("sourceTime")));
			snprintf(key, sizeof(key), "%s%s%s", jv_string_value(k),
			    i < 0 ? "" : "/", jv_string_value(p));
			if (jv_get_kind(st) == JV_KIND_STRING)
				out = jv_object_set(out, jv_string(key), st);
			else
				jv_free(st);
			jv_free(p);
		}
		jv_free(pk);
		jv_free(m);
		jv_free(k);
	}
	jv_free(keys);
	return out;
}

/*
 * Create or replace twin id from body (consumed; len its size in bytes):
 * the checks and the store write of PUT /digitaltwins/ID, shared with the
 * import jobs (adt_jobs.c). inm/im are If-None-Match/If-Match (or NULL);
 * rest: a REST request (the per-twin write budget applies). Returns 0 with
 * rs the 200 answer, or -1 with rs ADT's error. Store lock held.
 */
int
adt_twin_put_core(const char *id, jv body, size_t len, const char *inm,
    const char *im, int rest, struct resp *rs)
{
	jv old = jv_invalid(), srct = jv_invalid(), t, model;
	char now[40];
	int rc = -1;

	if (jv_get_kind(body) != JV_KIND_OBJECT) {
		adt_err(rs, 400, "InvalidArgument", "The twin must be a JSON "
		    "object.");
		goto out;
	}
	if (len > ADT_MAX_BODY) {
		adt_err(rs, 413, "RequestEntityTooLarge", "A twin is limited to "
		    "32 KB.");
		goto out;
	}
	model = adt_twin_model(body);
	if (jv_get_kind(model) != JV_KIND_STRING) {
		jv_free(model);
		adt_err(rs, 400, "ValidationFailed", "Invalid twin: $metadata.$model "
		    "is required and must be a string.");
		goto out;
	}
	old = adt_twin_load(id);
	if (jv_is_valid(old) && inm != NULL && strcmp(inm, "*") == 0) {
		jv_free(model);
		adt_err(rs, 412, "PreconditionFailed", "If-None-Match: * header was "
		    "specified but a twin with the id %.200s was found. Please "
		    "specify a different twin id.", id);
		goto out;
	}
	if (jv_is_valid(old) && !emu_etag_ok(old, "$etag", im)) {
		jv_free(model);
		adt_err(rs, 412, "PreconditionFailed", "The ETag does not match the "
		    "twin's current ETag.");
		goto out;
	}
	if (!jv_is_valid(old) && im != NULL && strcmp(im, "*") != 0) {
		jv_free(model);
		adt_twin_not_found(rs, id);
		goto out;
	}
	srct = put_source_times(body);
	body = adt_user_props(body);
	if (adt_twin_validate(jv_copy(body), jv_string_value(model), rs, 1) != 0) {
		jv_free(model);
		goto out;
	}
	if (rest && faults_twin(id, rs)) {
		jv_free(model);
		goto out;
	}
	emu_time7(now, sizeof(now));
	t = twin_build(id, body, jv_string_value(model), old, jv_null(), srct,
	    now);
	srct = jv_invalid();
	body = jv_invalid();
	jv_free(model);
	twin_save(id, t);
	adt_send_ent(rs, t);
	rc = 0;
out:
	jv_free(srct);
	jv_free(old);
	jv_free(body);
	return rc;
}

static void
twin_put(struct req *r, struct resp *rs, const char *id)
{
	jv body = jv_invalid();

	if (adt_body(r, rs, "InvalidArgument", &body) != 0) {
		jv_free(body);
		return;
	}
	(void)adt_twin_put_core(id, body, r->body.len, req_header(r,
	    "If-None-Match"), req_header(r, "If-Match"), 1, rs);
}

static int
patch_kind(const char *op, enum jpatch_op *k)
{
	if (op == NULL)
		return -1;
	if (strcmp(op, "add") == 0)
		*k = JP_ADD;
	else if (strcmp(op, "replace") == 0)
		*k = JP_REPLACE;
	else if (strcmp(op, "remove") == 0)
		*k = JP_REMOVE;
	else
		return -1;
	return 0;
}

/*
 * A patch of $metadata: /$metadata/$model (*model replaced), or
 * [/comp]/$metadata/prop/sourceTime (srct[prop or comp/prop] set, null on
 * remove). Returns 1 if path is one of those, 0 if it is no $metadata
 * path, -1 (rs filled) if it is another $ path.
 */
static int
patch_meta(int i, enum jpatch_op k, const char *path, jv op, jv *model,
    jv *srct, struct resp *rs)
{
	char comp[256] = "", prop[256], key[600];
	const char *m = path + 1, *e;
	jv v = k == JP_REMOVE ? jv_null() : json_get(op, "value");

	if (strcmp(path, "/$metadata/$model") == 0 && k != JP_REMOVE) {
		if (jv_get_kind(v) != JV_KIND_STRING)
			goto bad;
		jv_free(*model);
		*model = v;
		return 1;
	}
	if (m[0] != '$' && (e = strchr(m, '/')) != NULL &&
	    strncmp(e, "/$metadata/", 11) == 0 && (size_t)(e - m) < sizeof(comp)) {
		snprintf(comp, sizeof(comp), "%.*s/", (int)(e - m), m);
		m = e + 1;
	}
	if (strncmp(m, "$metadata/", 10) != 0) {
		jv_free(v);
		return comp[0] == '\0' && path[1] == '$' ? -1 : 0;
	}
	m += 10;
	e = strchr(m, '/');
	if (e == NULL || strcmp(e, "/sourceTime") != 0 || m[0] == '$' ||
	    (size_t)(e - m) >= sizeof(prop) ||
	    (k != JP_REMOVE && jv_get_kind(v) != JV_KIND_STRING))
		goto bad;
	snprintf(prop, sizeof(prop), "%.*s", (int)(e - m), m);
	snprintf(key, sizeof(key), "%s%s", comp, prop);
	*srct = jv_object_set(*srct, jv_string(key), v);
	return 1;
bad:
	jv_free(v);
	adt_err(rs, 400, "JsonPatchInvalid", "Operation %d: the path %.200s "
	    "cannot be patched (only /$metadata/$model and "
	    "[/component]/$metadata/property/sourceTime with a string).", i,
	    path);
	return -1;
}

/* Record the first two segments of path in touched: "a" and "a/b". */
static jv
touch(jv touched, const char *path)
{
	const char *p1 = strchr(path + 1, '/'), *p2;
	char top[600];
	size_t l = p1 != NULL ? (size_t)(p1 - path - 1) : strlen(path + 1);

	snprintf(top, sizeof(top), "%.*s", (int)(l < 255 ? l : 255), path + 1);
	touched = jv_object_set(touched, jv_string(top), jv_true());
	if (p1 != NULL) {
		p2 = strchr(p1 + 1, '/');
		l = p2 != NULL ? (size_t)(p2 - p1 - 1) : strlen(p1 + 1);
		snprintf(top + strlen(top), sizeof(top) - strlen(top), "/%.*s",
		    (int)(l < 255 ? l : 255), p1 + 1);
		touched = jv_object_set(touched, jv_string(top), jv_true());
	}
	return touched;
}

static void
problem_400(struct resp *rs)
{
	resp_json(rs, 400, JV_OBJECT(jv_string("type"), jv_string(
	    "https://tools.ietf.org/html/rfc7231#section-6.5.1"),
	    jv_string("title"), jv_string("One or more validation errors "
	    "occurred."), jv_string("status"), jv_number(400)));
	rs->hdrs.len = 0;
	resp_header(rs, "Content-Type", "application/problem+json; "
	    "charset=utf-8");
}

/*
 * Apply an ADT JSON Patch (ops, borrowed) to props (consumed). Returns the
 * result, or jv_invalid() with rs filled. touched collects the property
 * names written (and comp/name), *model may be replaced by
 * /$metadata/$model and *srct gets the sourceTimes set.
 */
jv
adt_apply_patch(jv props, jv ops, struct resp *rs, jv *touched, jv *model,
    jv *srct)
{
	enum jpatch_op k;
	const char *path;
	char msg[300];
	int i, n, pm;

	if (jv_get_kind(ops) != JV_KIND_ARRAY) {
		problem_400(rs);
		jv_free(props);
		return jv_invalid();
	}
	n = jv_array_length(jv_copy(ops));
	for (i = 0; i < n; i++) {
		jv op = jv_array_get(jv_copy(ops), i), v;

		path = json_get_str(op, "path");
		if (patch_kind(json_get_str(op, "op"), &k) != 0 || path == NULL ||
		    path[0] != '/') {
			adt_err(rs, 400, "JsonPatchInvalid", "Operation %d: only add, "
			    "replace and remove with a path are supported.", i);
			goto bad;
		}
		if ((pm = patch_meta(i, k, path, op, model, srct, rs)) != 0) {
			if (pm < 0)
				goto bad;
			jv_free(op);
			continue;
		}
		v = json_get(op, "value");
		if (k != JP_REMOVE && !jv_is_valid(v)) {
			jv_free(v);
			adt_err(rs, 400, "JsonPatchInvalid", "Operation %d needs a "
			    "value.", i);
			goto bad;
		}
		props = jpatch_apply(props, k, path, NULL, v, msg, sizeof(msg));
		jv_free(v);
		if (!jv_is_valid(props)) {
			adt_err(rs, 400, "JsonPatchInvalid", "Operation %d: %s.", i, msg);
			jv_free(op);
			return jv_invalid();
		}
		*touched = touch(*touched, path);
		jv_free(op);
		continue;
bad:
		jv_free(op);
		jv_free(props);
		return jv_invalid();
	}
	return props;
}

/* ops (consumed) with every path put under /comp. */
static jv
ops_under(jv ops, const char *comp)
{
	int i, n;
	char p[1200];

	if (jv_get_kind(ops) != JV_KIND_ARRAY)
		return ops;
	n = jv_array_length(jv_copy(ops));
	for (i = 0; i < n; i++) {
		jv op = jv_array_get(jv_copy(ops), i);
		const char *path = json_get_str(op, "path");

		if (path != NULL && jv_get_kind(op) == JV_KIND_OBJECT) {
			snprintf(p, sizeof(p), "/%.200s%.900s", comp, path);
			op = jv_object_set(op, jv_string("path"), jv_string(p));
		}
		ops = jv_array_set(ops, i, op);
	}
	return ops;
}

/* PATCH a twin, or its component comp (NULL: the twin). */
static void
twin_patch(struct req *r, struct resp *rs, const char *id, const char *comp)
{
	jv ops = jv_invalid(), old = jv_invalid(), props, touched = jv_object(),
	    srct = jv_object(), model = jv_invalid(), t, comps;
	char now[40];

	old = adt_twin_find(rs, id);
	if (!jv_is_valid(old))
		goto out;
	if (!emu_etag_ok(old, "$etag", req_header(r, "If-Match"))) {
		adt_err(rs, 412, "PreconditionFailed", "The ETag does not match the "
		    "twin's current ETag.");
		goto out;
	}
	if (adt_body(r, rs, "JsonPatchInvalid", &ops) != 0)
		goto out;
	model = adt_twin_model(old);
	props = adt_user_props(jv_copy(old));
	if (comp != NULL) {
		comps = model_components(jv_string_value(model));
		if (!adt_json_has(comps, comp)) {
			jv_free(comps);
			jv_free(props);
			adt_err(rs, 404, "ComponentNotFound", "There is no component "
			    "%.200s in digital twin %.200s.", comp, id);
			goto out;
		}
		jv_free(comps);
		if (!adt_json_has(props, comp))
			props = jv_object_set(props, jv_string(comp), jv_object());
		ops = ops_under(ops, comp);
	}
	props = adt_apply_patch(props, ops, rs, &touched, &model, &srct);
	if (!jv_is_valid(props))
		goto out;
	if (adt_twin_validate(jv_copy(props), jv_string_value(model), rs, 0) != 0 ||
	    faults_twin(id, rs)) {
		jv_free(props);
		goto out;
	}
	emu_time7(now, sizeof(now));
	t = twin_build(id, props, jv_string_value(model), old, touched, srct,
	    now);
	touched = jv_invalid();
	srct = jv_invalid();
	twin_save(id, t);
	resp_header(rs, "ETag", "%s", json_get_str(t, "$etag"));
	rs->status = 204;
	jv_free(t);
out:
	jv_free(model);
	jv_free(srct);
	jv_free(touched);
	jv_free(ops);
	jv_free(old);
}

void
adt_twin_one(struct req *r, struct resp *rs)
{
	const char *id = r->seg[1], *m = r->method;
	sqlite3_stmt *st;
	jv t;

	r->kind = "adt.twin";
	if ((strcmp(m, "PUT") == 0 || strcmp(m, "DELETE") == 0) &&
	    faults_create(rs))
		return;
	if (strcmp(m, "PUT") == 0) {
		twin_put(r, rs, id);
		return;
	}
	if (strcmp(m, "PATCH") == 0) {
		twin_patch(r, rs, id, NULL);
		return;
	}
	t = adt_twin_find(rs, id);
	if (!jv_is_valid(t))
		return;
	if (strcmp(m, "GET") == 0) {
		adt_send_ent(rs, t);
		return;
	}
	if (strcmp(m, "DELETE") == 0) {
		if (!emu_etag_ok(t, "$etag", req_header(r, "If-Match"))) {
			adt_err(rs, 412, "PreconditionFailed", "The ETag does not match "
			    "the twin's current ETag.");
		} else if (twin_has_rels(id)) {
			adt_err(rs, 400, "RelationshipsNotDeleted", "Digital twin with "
			    "ID %.200s still has relationships. Delete all "
			    "relationships for the twin before deleting the twin.",
			    id);
		} else if (!faults_twin(id, rs)) {
			st = store_stmt("DELETE FROM twins WHERE id=?");
			sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
			sqlite3_step(st);
			sqlite3_reset(st);
			rs->status = 204;
		}
		jv_free(t);
		return;
	}
	jv_free(t);
	adt_err(rs, 405, "MethodNotAllowed", "The method is not allowed here.");
}

/* GET|PATCH /digitaltwins/ID/components/C */
void
adt_component_one(struct req *r, struct resp *rs)
{
	const char *id = r->seg[1], *c = r->seg[3];
	jv t, v, comps, model;

	r->kind = "adt.component";
	if (strcmp(r->method, "PATCH") == 0) {
		twin_patch(r, rs, id, c);
		return;
	}
	if (strcmp(r->method, "GET") != 0) {
		adt_err(rs, 405, "MethodNotAllowed", "The method is not allowed here.");
		return;
	}
	t = adt_twin_find(rs, id);
	if (!jv_is_valid(t))
		return;
	model = adt_twin_model(t);
	comps = jv_get_kind(model) == JV_KIND_STRING ?
	    model_components(jv_string_value(model)) : jv_object();
	v = json_get(t, c);
	if (!adt_json_has(comps, c) || jv_get_kind(v) != JV_KIND_OBJECT) {
		jv_free(v);
		adt_err(rs, 404, "ComponentNotFound", "There is no component %.200s "
		    "in digital twin %.200s.", c, id);
	} else {
		resp_header(rs, "ETag", "%s", json_get_str(t, "$etag"));
		resp_json(rs, 200, v);
	}
	jv_free(model);
	jv_free(comps);
	jv_free(t);
}

/*
 * POST /digitaltwins/ID[/components/C]/telemetry: checked (twin, component,
 * Message-Id, a JSON object) and answered 204; there are no event routes
 * to deliver it to.
 */
void
adt_telemetry(struct req *r, struct resp *rs)
{
	jv t = jv_invalid(), body = jv_invalid(), comps, model;
	char msg[300];

	r->kind = "adt.telemetry";
	if (strcmp(r->method, "POST") != 0) {
		adt_err(rs, 405, "MethodNotAllowed", "Use POST.");
		return;
	}
	t = adt_twin_find(rs, r->seg[1]);
	if (!jv_is_valid(t))
		goto out;
	if (r->nseg == 5) {
		model = adt_twin_model(t);
		comps = jv_get_kind(model) == JV_KIND_STRING ?
		    model_components(jv_string_value(model)) : jv_object();
		jv_free(model);
		if (!adt_json_has(comps, r->seg[3])) {
			jv_free(comps);
			adt_err(rs, 404, "ComponentNotFound", "There is no component "
			    "%.200s in digital twin %.200s.", r->seg[3], r->seg[1]);
			goto out;
		}
		jv_free(comps);
	}
	if (req_header(r, "Message-Id") == NULL) {
		adt_err(rs, 400, "InvalidArgument", "The Message-Id header is "
		    "required.");
		goto out;
	}
	if (req_json(r, &body, msg, sizeof(msg)) != 0 ||
	    jv_get_kind(body) != JV_KIND_OBJECT) {
		adt_err(rs, 400, "ValidationFailed", "The telemetry must be a JSON "
		    "object.");
		goto out;
	}
	rs->status = 204;
out:
	jv_free(body);
	jv_free(t);
}
