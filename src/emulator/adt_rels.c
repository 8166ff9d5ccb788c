/*
 * adt_rels.c - ADT relationships in twin-emulator: PUT, GET, PATCH and
 * DELETE of one, the outgoing and incoming lists with paging.
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

/* ---- relationships ---- */

static jv
rel_load(const char *src, const char *id)
{
	sqlite3_stmt *st = store_stmt("SELECT body FROM rels WHERE src=? AND id=?");
	jv v;

	sqlite3_bind_text(st, 1, src, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	v = sqlite3_step(st) == SQLITE_ROW ? store_col_json(st, 0) :
	    jv_invalid();
	sqlite3_reset(st);
	return v;
}

static void
rel_save(jv rel)
{
	sqlite3_stmt *st = store_stmt("INSERT OR REPLACE INTO rels VALUES"
	    "(?,?,?,?,?)");

	sqlite3_bind_text(st, 1, json_get_str(rel, "$sourceId"), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, json_get_str(rel, "$relationshipId"), -1,
	    SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, json_get_str(rel, "$targetId"), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, json_get_str(rel, "$relationshipName"), -1,
	    SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 5, json_dump(rel, 0), -1, free);
	sqlite3_step(st);
	sqlite3_reset(st);
}

static jv
rel_build(const char *src, const char *id, const char *target,
    const char *name, jv props)
{
	jv r = JV_OBJECT(jv_string("$relationshipId"), jv_string(id),
	    jv_string("$etag"), adt_new_etag(), jv_string("$sourceId"),
	    jv_string(src), jv_string("$relationshipName"), jv_string(name),
	    jv_string("$targetId"), jv_string(target));
	jv keys = jv_keys_unsorted(jv_copy(props));
	int i, n = jv_array_length(jv_copy(keys));

	for (i = 0; i < n; i++) {
		jv k = jv_array_get(jv_copy(keys), i);

		r = jv_object_set(r, jv_copy(k), jv_object_get(jv_copy(props), k));
	}
	jv_free(keys);
	jv_free(props);
	return r;
}

/*
 * Check the properties of a relationship (ent, borrowed) against the
 * "properties" of its DTDL declaration d (borrowed). 0, or -1 with rs set.
 */
static int
rel_props_validate(jv d, jv ent, const char *name, struct resp *rs)
{
	jv decl = json_get(d, "properties"), keys, k, p, v, sch;
	const char *pn;
	int i, j, n, np, found, rc = 0;

	keys = jv_keys_unsorted(jv_copy(ent));
	n = jv_array_length(jv_copy(keys));
	np = jv_get_kind(decl) == JV_KIND_ARRAY ? jv_array_length(jv_copy(decl)) : 0;
	for (i = 0; i < n && rc == 0; i++) {
		k = jv_array_get(jv_copy(keys), i);
		if (jv_string_value(k)[0] == '$') {
			jv_free(k);
			continue;
		}
		found = 0;
		for (j = 0; j < np && !found; j++) {
			p = jv_array_get(jv_copy(decl), j);
			pn = json_get_str(p, "name");
			if (pn != NULL && strcmp(pn, jv_string_value(k)) == 0) {
				found = 1;
				v = json_get(ent, pn);
				sch = json_get(p, "schema");
				if (!adt_schema_ok(sch, v)) {
					adt_err(rs, 400, "ValidationFailed", "Invalid "
					    "relationship: the value of property "
					    "'%.200s' does not match its schema.", pn);
					rc = -1;
				}
				jv_free(sch);
				jv_free(v);
			}
			jv_free(p);
		}
		if (!found) {
			adt_err(rs, 400, "ValidationFailed", "Invalid relationship: the "
			    "property '%.200s' is not defined on relationship "
			    "'%.200s'.", jv_string_value(k), name);
			rc = -1;
		}
		jv_free(k);
	}
	jv_free(keys);
	jv_free(decl);
	return rc;
}

/* The declaration of relationship name in the model of twin src (owned),
 * or jv_invalid(). */
static jv
rel_decl(const char *src, const char *name)
{
	jv t = adt_twin_load(src), model, decl = jv_object(), d;

	model = adt_twin_model(t);
	jv_free(t);
	if (jv_get_kind(model) == JV_KIND_STRING)
		adt_model_decls(jv_string_value(model), &decl, 0);
	jv_free(model);
	d = json_get(decl, name);
	jv_free(decl);
	return d;
}

/*
 * Create or replace relationship id of twin src from body (consumed): the
 * checks and the store write of PUT /digitaltwins/SRC/relationships/ID,
 * shared with the import jobs (adt_jobs.c). inm/im: If-None-Match and
 * If-Match (or NULL); rest: a REST request (the per-twin write budget
 * applies). Returns 0 with rs the 200 answer, or -1 with rs ADT's error.
 * Store lock held.
 */
int
adt_rel_put_core(const char *src, const char *id, jv body, const char *inm,
    const char *im, int rest, struct resp *rs)
{
	jv st = jv_invalid(), tt = jv_invalid(),
	    old = jv_invalid(), decl = jv_object(), d, rel, model;
	const char *target, *name;
	int rc = -1;

	if (jv_get_kind(body) != JV_KIND_OBJECT) {
		adt_err(rs, 400, "InvalidArgument", "The relationship must be a "
		    "JSON object.");
		goto out;
	}
	target = json_get_str(body, "$targetId");
	name = json_get_str(body, "$relationshipName");
	if (target == NULL || name == NULL) {
		adt_err(rs, 400, "ValidationFailed", "Invalid relationship: "
		    "$targetId and $relationshipName are required.");
		goto out;
	}
	st = adt_twin_find(rs, src);
	if (!jv_is_valid(st))
		goto out;
	tt = adt_twin_load(target);
	if (!jv_is_valid(tt)) {
		adt_err(rs, 404, "TargetDigitalTwinNotFound", "There is no digital "
		    "twin instance that exists with the ID %.200s (the target "
		    "of the relationship).", target);
		goto out;
	}
	if (strcmp(src, target) == 0) {
		adt_err(rs, 400, "OperationNotAllowed", "A relationship cannot have "
		    "the same source and target.");
		goto out;
	}
	model = adt_twin_model(st);
	if (jv_get_kind(model) == JV_KIND_STRING)
		adt_model_decls(jv_string_value(model), &decl, 0);
	d = json_get(decl, name);
	if (!jv_is_valid(d) || !adt_has_type(d, "Relationship")) {
		jv_free(d);
		adt_err(rs, 400, "ValidationFailed", "Invalid relationship: the "
		    "relationship '%.200s' is not defined in model %.200s of "
		    "twin %.200s.", name, jv_get_kind(model) == JV_KIND_STRING ?
		    jv_string_value(model) : "?", src);
		jv_free(model);
		goto out;
	}
	jv_free(model);
	if (rel_props_validate(d, body, name, rs) != 0) {
		jv_free(d);
		goto out;
	}
	jv_free(d);
	old = rel_load(src, id);
	if (jv_is_valid(old) && inm != NULL && strcmp(inm, "*") == 0) {
		adt_err(rs, 412, "PreconditionFailed", "If-None-Match: * header was "
		    "specified but a relationship with the id %.200s was found.",
		    id);
		goto out;
	}
	if (jv_is_valid(old) && !emu_etag_ok(old, "$etag", im)) {
		adt_err(rs, 412, "PreconditionFailed", "The ETag does not match the "
		    "relationship's current ETag.");
		goto out;
	}
	if (rest && faults_twin(src, rs))
		goto out;
	rel = rel_build(src, id, target, name, adt_user_props(jv_copy(body)));
	rel_save(rel);
	adt_send_ent(rs, rel);
	rc = 0;
out:
	jv_free(decl);
	jv_free(old);
	jv_free(st);
	jv_free(tt);
	jv_free(body);
	return rc;
}

static void
rel_put(struct req *r, struct resp *rs, const char *src, const char *id)
{
	jv body = jv_invalid();

	if (adt_body(r, rs, "InvalidArgument", &body) != 0) {
		jv_free(body);
		return;
	}
	(void)adt_rel_put_core(src, id, body, req_header(r, "If-None-Match"),
	    req_header(r, "If-Match"), 1, rs);
}

void
adt_rel_one(struct req *r, struct resp *rs)
{
	const char *src = r->seg[1], *id = r->seg[3], *m = r->method;
	jv rel, ops = jv_invalid(), props, touched = jv_object(), model = jv_null(),
	    srct = jv_object();
	sqlite3_stmt *st;

	r->kind = "adt.relationship";
	if ((strcmp(m, "PUT") == 0 || strcmp(m, "DELETE") == 0) &&
	    faults_create(rs)) {
		jv_free(touched);
		jv_free(srct);
		return;
	}
	if (strcmp(m, "PUT") == 0) {
		jv_free(touched);
		jv_free(srct);
		rel_put(r, rs, src, id);
		return;
	}
	rel = rel_load(src, id);
	if (!jv_is_valid(rel)) {
		jv t = adt_twin_load(src);

		if (!jv_is_valid(t))
			adt_twin_not_found(rs, src);
		else
			adt_err(rs, 404, "RelationshipNotFound", "There is no "
			    "relationship with the ID %.200s on twin %.200s.", id,
			    src);
		jv_free(t);
		goto out;
	}
	if (strcmp(m, "GET") == 0) {
		adt_send_ent(rs, jv_copy(rel));
		goto out;
	}
	if (!emu_etag_ok(rel, "$etag", req_header(r, "If-Match"))) {
		adt_err(rs, 412, "PreconditionFailed", "The ETag does not match the "
		    "relationship's current ETag.");
		goto out;
	}
	if (strcmp(m, "DELETE") == 0) {
		if (faults_twin(src, rs))
			goto out;
		st = store_stmt("DELETE FROM rels WHERE src=? AND id=?");
		sqlite3_bind_text(st, 1, src, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
		sqlite3_step(st);
		sqlite3_reset(st);
		rs->status = 204;
		goto out;
	}
	if (strcmp(m, "PATCH") == 0) {
		if (adt_body(r, rs, "JsonPatchInvalid", &ops) != 0)
			goto out;
		props = adt_apply_patch(adt_user_props(jv_copy(rel)), ops, rs, &touched,
		    &model, &srct);
		if (jv_is_valid(props)) {
			jv d = rel_decl(src, json_get_str(rel, "$relationshipName"));
			int bad = jv_is_valid(d) && rel_props_validate(d, props,
			    json_get_str(rel, "$relationshipName"), rs) != 0;

			jv_free(d);
			if (bad) {
				jv_free(props);
				goto out;
			}
		}
		if (!jv_is_valid(props) || faults_twin(src, rs)) {
			jv_free(props);
			goto out;
		}
		jv nrel = rel_build(src, id, json_get_str(rel, "$targetId"),
		    json_get_str(rel, "$relationshipName"), props);
		rel_save(nrel);
		resp_header(rs, "ETag", "%s", json_get_str(nrel, "$etag"));
		rs->status = 204;
		jv_free(nrel);
		goto out;
	}
	adt_err(rs, 405, "MethodNotAllowed", "The method is not allowed here.");
out:
	jv_free(model);
	jv_free(touched);
	jv_free(srct);
	jv_free(ops);
	jv_free(rel);
}

void
adt_rel_list(struct req *r, struct resp *rs, int incoming)
{
	const char *id = r->seg[1], *name = req_query(r, "relationshipName");
	sqlite3_stmt *st;
	jv t, arr = jv_array(), v;
	char link[1024];
	struct pager pg;
	int take;

	r->kind = "adt.relationship";
	t = adt_twin_find(rs, id);
	if (!jv_is_valid(t)) {
		jv_free(arr);
		return;
	}
	jv_free(t);
	if (adt_pager_init(r, rs, &pg) != 0) {
		jv_free(arr);
		return;
	}
	if (incoming)
		st = store_stmt("SELECT body FROM rels WHERE target=? ORDER BY src, id");
	else
		st = store_stmt("SELECT body FROM rels WHERE src=? ORDER BY id");
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		v = store_col_json(st, 0);
		if (!jv_is_valid(v) || (name != NULL && (json_get_str(v,
		    "$relationshipName") == NULL || strcmp(name,
		    json_get_str(v, "$relationshipName")) != 0))) {
			jv_free(v);
			continue;
		}
		if ((take = adt_pager_take(&pg)) <= 0) {
			jv_free(v);
			if (take < 0)
				break;
			continue;
		}
		if (incoming) {
			struct buf b = BUF_INIT;

			buf_adds(&b, "/digitaltwins/");
			pct_encode(&b, json_get_str(v, "$sourceId"),
			    strlen(json_get_str(v, "$sourceId")));
			buf_adds(&b, "/relationships/");
			pct_encode(&b, json_get_str(v, "$relationshipId"),
			    strlen(json_get_str(v, "$relationshipId")));
			snprintf(link, sizeof(link), "%s", buf_cstr(&b));
			buf_release(&b);
			arr = jv_array_append(arr, JV_OBJECT(
			    jv_string("$relationshipId"), json_get(v, "$relationshipId"),
			    jv_string("$sourceId"), json_get(v, "$sourceId"),
			    jv_string("$relationshipName"),
			    json_get(v, "$relationshipName"),
			    jv_string("$relationshipLink"), jv_string(link)));
			jv_free(v);
		} else
			arr = jv_array_append(arr, v);
	}
	sqlite3_reset(st);
	adt_send_page(r, rs, &pg, arr);
}
