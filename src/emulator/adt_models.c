/*
 * adt_models.c - ADT models in twin-emulator: uploads checked whole (DTDL
 * subset, extends and component dependencies), the declarations cache,
 * listing with dependencies, decommissioning and deletion.
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

/* ---- models ---- */

static jv
model_load(const char *id, int with_meta)
{
	sqlite3_stmt *st = store_stmt("SELECT body, meta FROM models WHERE id=?");

	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW)
		return jv_invalid();
	return store_col_json(st, with_meta ? 1 : 0);
}

/* The "extends" of a model as an array of ids (owned). */
static jv
model_extends(jv m)
{
	jv e = json_get(m, "extends");

	if (jv_get_kind(e) == JV_KIND_STRING)
		return JV_ARRAY(e);
	if (jv_get_kind(e) == JV_KIND_ARRAY)
		return e;
	jv_free(e);
	return jv_array();
}

/* The @type of a content entry is one of kind (a string or an array). */
int
adt_has_type(jv c, const char *kind)
{
	jv t = json_get(c, "@type");
	int i, n, r = 0;

	if (jv_get_kind(t) == JV_KIND_STRING)
		r = strcmp(jv_string_value(t), kind) == 0;
	else if (jv_get_kind(t) == JV_KIND_ARRAY) {
		n = jv_array_length(jv_copy(t));
		for (i = 0; i < n && !r; i++) {
			jv x = jv_array_get(jv_copy(t), i);

			r = jv_get_kind(x) == JV_KIND_STRING &&
			    strcmp(jv_string_value(x), kind) == 0;
			jv_free(x);
		}
	}
	jv_free(t);
	return r;
}

/*
 * Collect the contents of a model and its ancestors into *decl, an object
 * name -> content entry. Returns 0, or -1 if a model is missing.
 */
int
adt_model_decls(const char *id, jv *decl, int depth)
{
	jv m, contents, c, ext;
	const char *name;
	int i, n, rc = 0;

	if (depth > ADT_MAX_EXTENDS_DEPTH)
		return 0;
	m = model_load(id, 0);
	if (!jv_is_valid(m)) {
		jv_free(m);
		return -1;
	}
	ext = model_extends(m);
	n = jv_array_length(jv_copy(ext));
	for (i = 0; i < n && rc == 0; i++) {
		c = jv_array_get(jv_copy(ext), i);
		if (jv_get_kind(c) == JV_KIND_STRING)
			rc = adt_model_decls(jv_string_value(c), decl, depth + 1);
		jv_free(c);
	}
	jv_free(ext);
	contents = json_get(m, "contents");
	n = jv_get_kind(contents) == JV_KIND_ARRAY ?
	    jv_array_length(jv_copy(contents)) : 0;
	for (i = 0; i < n; i++) {
		c = jv_array_get(jv_copy(contents), i);
		name = json_get_str(c, "name");
		if (name != NULL)
			*decl = jv_object_set(*decl, jv_string(name), jv_copy(c));
		jv_free(c);
	}
	jv_free(contents);
	jv_free(m);
	return rc;
}

/* Is model id the same as or derived from base? */
int
adt_model_is_a(const char *id, const char *base, int depth)
{
	jv m, ext, c;
	int i, n, r = 0;

	if (strcmp(id, base) == 0)
		return 1;
	if (depth > ADT_MAX_EXTENDS_DEPTH)
		return 0;
	m = model_load(id, 0);
	ext = model_extends(m);
	n = jv_array_length(jv_copy(ext));
	for (i = 0; i < n && !r; i++) {
		c = jv_array_get(jv_copy(ext), i);
		if (jv_get_kind(c) == JV_KIND_STRING)
			r = adt_model_is_a(jv_string_value(c), base, depth + 1);
		jv_free(c);
	}
	jv_free(ext);
	jv_free(m);
	return r;
}

/*
 * A small cache of model declarations for twin validation (store lock
 * held). Any change to the models bumps model_gen and empties it.
 */
#define DECL_CACHE 32
static struct {
	char *id;
	jv decl;
	int decommissioned;
	uint64_t gen;
} decl_cache[DECL_CACHE];
static uint64_t model_gen = 1;
static unsigned decl_next;

static void
models_changed(void)
{
	model_gen++;
}

/* Declarations of model id (owned), or jv_invalid() when a model is
 * missing (*missing_base set when it is an ancestor). */
jv
adt_decl_get(const char *id, int *decommissioned, int *missing_base)
{
	jv meta, decl;
	unsigned i;

	*missing_base = 0;
	for (i = 0; i < DECL_CACHE; i++)
		if (decl_cache[i].id != NULL && decl_cache[i].gen == model_gen &&
		    strcmp(decl_cache[i].id, id) == 0) {
			*decommissioned = decl_cache[i].decommissioned;
			return jv_copy(decl_cache[i].decl);
		}
	meta = model_load(id, 1);
	if (!jv_is_valid(meta))
		return meta;
	*decommissioned = adt_json_bool(meta, "decommissioned");
	jv_free(meta);
	decl = jv_object();
	if (adt_model_decls(id, &decl, 0) != 0) {
		jv_free(decl);
		*missing_base = 1;
		return jv_invalid();
	}
	i = decl_next++ % DECL_CACHE;
	free(decl_cache[i].id);
	jv_free(decl_cache[i].decl);
	decl_cache[i].id = xstrdup(id);
	decl_cache[i].decl = jv_copy(decl);
	decl_cache[i].decommissioned = *decommissioned;
	decl_cache[i].gen = model_gen;
	return decl;
}

/* Does value v fit the DTDL schema s (borrowed)? Unknown schemas pass. */
int
adt_schema_ok(jv s, jv v)
{
	const char *t;
	double d;

	if (jv_get_kind(s) != JV_KIND_STRING)
		return 1;	/* complex schemas are not checked */
	t = jv_string_value(s);
	if (strcmp(t, "string") == 0 || strcmp(t, "date") == 0 ||
	    strcmp(t, "dateTime") == 0 || strcmp(t, "time") == 0 ||
	    strcmp(t, "duration") == 0)
		return jv_get_kind(v) == JV_KIND_STRING;
	if (strcmp(t, "boolean") == 0)
		return jv_get_kind(v) == JV_KIND_TRUE || jv_get_kind(v) == JV_KIND_FALSE;
	if (strcmp(t, "integer") == 0 || strcmp(t, "long") == 0) {
		if (jv_get_kind(v) != JV_KIND_NUMBER)
			return 0;
		d = jv_number_value(v);
		return d == floor(d);
	}
	if (strcmp(t, "double") == 0 || strcmp(t, "float") == 0)
		return jv_get_kind(v) == JV_KIND_NUMBER;
	return 1;
}

/* Only the user properties of an entity (no $ keys). */
jv
adt_user_props(jv ent)
{
	jv keys = jv_keys_unsorted(jv_copy(ent)), out = jv_object();
	int i, n = jv_array_length(jv_copy(keys));

	for (i = 0; i < n; i++) {
		jv k = jv_array_get(jv_copy(keys), i);

		if (jv_string_value(k)[0] != '$')
			out = jv_object_set(out, jv_copy(k),
			    jv_object_get(jv_copy(ent), jv_copy(k)));
		jv_free(k);
	}
	jv_free(keys);
	jv_free(ent);
	return out;
}


/* Validate property k = v (borrowed) against its declaration d. */
static int
prop_validate(const char *k, jv v, jv d, const char *model, struct resp *rs)
{
	jv s;
	int rc = 0;

	if (!jv_is_valid(d) || !(adt_has_type(d, "Property") ||
	    adt_has_type(d, "Component"))) {
		adt_err(rs, 400, "ValidationFailed", "Invalid twin: the property "
		    "'%.200s' is not defined in model %.200s (or is not a "
		    "writable property).", k, model);
		return -1;
	}
	s = json_get(d, "schema");
	if (adt_has_type(d, "Component")) {
		if (jv_get_kind(v) != JV_KIND_OBJECT) {
			adt_err(rs, 400, "ValidationFailed", "Invalid twin: the "
			    "component '%.200s' must be an object.", k);
			rc = -1;
		} else if (jv_get_kind(s) == JV_KIND_STRING)
			rc = adt_twin_validate(adt_user_props(jv_copy(v)),
			    jv_string_value(s), rs, 0);
	} else if (!adt_schema_ok(s, v)) {
		adt_err(rs, 400, "ValidationFailed", "Invalid twin: the value of "
		    "property '%.200s' does not match its schema '%s'.", k,
		    jv_get_kind(s) == JV_KIND_STRING ? jv_string_value(s) : "?");
		rc = -1;
	}
	jv_free(s);
	return rc;
}

/*
 * Validate the properties of twin (consumed) against its model (and its
 * components against theirs). Returns 0, or -1 with rs filled with ADT's
 * 400 ValidationFailed (ModelDecommissioned for a new twin of a
 * decommissioned model).
 */
int
adt_twin_validate(jv twin, const char *model, struct resp *rs, int is_new)
{
	jv decl, keys = jv_invalid();
	int i, n, rc = -1, decom = 0, missing_base = 0;

	decl = adt_decl_get(model, &decom, &missing_base);
	if (!jv_is_valid(decl) && missing_base) {
		adt_err(rs, 400, "ValidationFailed", "Invalid twin: a model that "
		    "%.200s extends is not found.", model);
		goto out;
	}
	if (!jv_is_valid(decl)) {
		adt_err(rs, 400, "ValidationFailed", "Invalid twin: the model %.200s "
		    "is not found. Upload the model before creating twins that "
		    "use it.", model);
		goto out;
	}
	if (is_new && decom) {
		adt_err(rs, 400, "ModelDecommissioned", "Invalid twin: the model "
		    "%.200s is decommissioned.", model);
		goto out;
	}
	keys = jv_keys(jv_copy(twin));
	n = jv_array_length(jv_copy(keys));
	for (i = 0; i < n; i++) {
		jv kj = jv_array_get(jv_copy(keys), i), d, v;
		const char *k = jv_string_value(kj);
		int bad = 0;

		if (k[0] != '$') {
			d = json_get(decl, k);
			v = json_get(twin, k);
			bad = prop_validate(k, v, d, model, rs) != 0;
			jv_free(v);
			jv_free(d);
		}
		jv_free(kj);
		if (bad)
			goto out;
	}
	rc = 0;
out:
	jv_free(keys);
	jv_free(decl);
	jv_free(twin);
	return rc;
}

static jv
display_map(jv v)
{
	if (jv_get_kind(v) == JV_KIND_STRING)
		return JV_OBJECT(jv_string("en"), v);
	if (jv_get_kind(v) == JV_KIND_OBJECT)
		return v;
	jv_free(v);
	return jv_object();
}

/*
 * The models model m (borrowed) depends on (owned array of ids): what it
 * extends and the schemas of its components.
 */
static jv
model_refs(jv m)
{
	jv out = model_extends(m), contents = json_get(m, "contents"), c, sc;
	int i, n = jv_get_kind(contents) == JV_KIND_ARRAY ?
	    jv_array_length(jv_copy(contents)) : 0;

	for (i = 0; i < n; i++) {
		c = jv_array_get(jv_copy(contents), i);
		sc = json_get(c, "schema");
		if (adt_has_type(c, "Component") && jv_get_kind(sc) == JV_KIND_STRING)
			out = jv_array_append(out, sc);
		else
			jv_free(sc);
		jv_free(c);
	}
	jv_free(contents);
	return out;
}

static int
dtdl_name_ok(const char *s)
{
	size_t i, n = s != NULL ? strlen(s) : 0;

	if (n == 0 || n > 64 || !isalpha((unsigned char)s[0]) || s[n - 1] == '_')
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return 0;
	return 1;
}

/* Check the contents of model m (borrowed); -1 with msg filled. */
static int
model_contents_ok(jv m, const char *id, char *msg, size_t msgsz)
{
	static const char *kinds[] = { "Property", "Telemetry", "Command",
	    "Relationship", "Component" };
	jv contents = json_get(m, "contents"), seen = jv_object(), c, sc;
	int i, j, n, rc = 0, kind;
	const char *name;

	if (jv_get_kind(contents) != JV_KIND_ARRAY &&
	    jv_get_kind(contents) != JV_KIND_INVALID) {
		snprintf(msg, msgsz, "The contents of %.200s must be an array.", id);
		rc = -1;
	}
	n = jv_get_kind(contents) == JV_KIND_ARRAY ?
	    jv_array_length(jv_copy(contents)) : 0;
	for (i = 0; i < n && rc == 0; i++) {
		c = jv_array_get(jv_copy(contents), i);
		name = json_get_str(c, "name");
		for (kind = -1, j = 0; j < 5 && kind < 0; j++)
			if (adt_has_type(c, kinds[j]))
				kind = j;
		sc = json_get(c, "schema");
		if (kind < 0 || !dtdl_name_ok(name)) {
			snprintf(msg, msgsz, "Content %d of %.200s needs an @type "
			    "(Property, Telemetry, Command, Relationship or "
			    "Component) and a name of letters, digits and _.",
			    i, id);
			rc = -1;
		} else if (adt_json_has(seen, name)) {
			snprintf(msg, msgsz, "The name %.64s is used twice in the "
			    "contents of %.200s.", name, id);
			rc = -1;
		} else if ((kind == 0 || kind == 1 || kind == 4) &&
		    !jv_is_valid(sc)) {
			snprintf(msg, msgsz, "%s %.64s of %.200s needs a schema.",
			    kinds[kind], name, id);
			rc = -1;
		} else if (kind == 4 && jv_get_kind(sc) != JV_KIND_STRING) {
			snprintf(msg, msgsz, "The schema of component %.64s of "
			    "%.200s must be an interface id.", name, id);
			rc = -1;
		} else
			seen = jv_object_set(seen, jv_string(name), jv_true());
		jv_free(sc);
		jv_free(c);
	}
	jv_free(seen);
	jv_free(contents);
	return rc;
}

/* Is id uploaded or among the @ids of arr (borrowed)? */
static int
model_known(const char *id, jv arr)
{
	jv found = model_load(id, 0);
	int j, n = jv_array_length(jv_copy(arr)), ok = jv_is_valid(found);

	jv_free(found);
	for (j = 0; j < n && !ok; j++) {
		jv o = jv_array_get(jv_copy(arr), j);
		const char *x = json_get_str(o, "@id");

		ok = x != NULL && strcmp(x, id) == 0;
		jv_free(o);
	}
	return ok;
}

/*
 * Check model i of the upload arr (borrowed). Returns 0, or -1 with rs
 * filled: nothing of the upload is stored then.
 */
static int
model_check(jv arr, int i, struct resp *rs)
{
	jv m = jv_array_get(jv_copy(arr), i), refs = jv_invalid(), e;
	const char *id = json_get_str(m, "@id");
	char msg[400];
	int j, n, rc = -1;

	if (jv_get_kind(m) != JV_KIND_OBJECT || id == NULL ||
	    strncmp(id, "dtmi:", 5) != 0 || strchr(id, ';') == NULL ||
	    !adt_has_type(m, "Interface")) {
		adt_err(rs, 400, "DTDLParserError", "Model %d is not a DTDL "
		    "Interface with an @id of the form dtmi:...;N.", i);
		goto out;
	}
	for (j = 0; j < i; j++) {
		jv o = jv_array_get(jv_copy(arr), j);
		const char *x = json_get_str(o, "@id");
		int dup = x != NULL && strcmp(x, id) == 0;

		jv_free(o);
		if (dup) {
			adt_err(rs, 400, "DTDLParserError", "Model %.200s appears "
			    "twice in the request.", id);
			goto out;
		}
	}
	e = model_load(id, 0);
	if (jv_is_valid(e)) {
		jv_free(e);
		adt_err(rs, 409, "ModelIdAlreadyExists", "Model with ID %.200s "
		    "already exists. Use Model_List API to view models that "
		    "already exist. See the Swagger example. "
		    "(http://aka.ms/ModelListSwSmpl)", id);
		goto out;
	}
	jv_free(e);
	if (model_contents_ok(m, id, msg, sizeof(msg)) != 0) {
		adt_err(rs, 400, "DTDLParserError", "%s", msg);
		goto out;
	}
	refs = model_refs(m);
	n = jv_array_length(jv_copy(refs));
	for (j = 0; j < n; j++) {
		jv b = jv_array_get(jv_copy(refs), j);
		int ok = jv_get_kind(b) != JV_KIND_STRING ||	/* inline */
		    model_known(jv_string_value(b), arr);

		if (!ok) {
			adt_err(rs, 400, "DTDLParserError", "Model %.200s refers to "
			    "%.200s, which is neither uploaded nor in this "
			    "request.", id, jv_string_value(b));
			jv_free(b);
			goto out;
		}
		jv_free(b);
	}
	rc = 0;
out:
	jv_free(refs);
	jv_free(m);
	return rc;
}

/* POST /models: all of them or none. */
static void
models_post(struct req *r, struct resp *rs)
{
	jv arr = jv_invalid();
	int n;

	if (adt_body(r, rs, "InvalidArgument", &arr) != 0)
		goto out;
	if (jv_get_kind(arr) != JV_KIND_ARRAY || (n = jv_array_length(jv_copy(arr))) == 0) {
		adt_err(rs, 400, "InvalidArgument", "The request body must be a "
		    "non-empty JSON array of DTDL interfaces.");
		goto out;
	}
	if (n > ADT_MAX_MODELS_PER_POST) {
		adt_err(rs, 400, "InvalidArgument", "At most %d models can be "
		    "uploaded in one request.", ADT_MAX_MODELS_PER_POST);
		goto out;
	}
	(void)adt_models_add(arr, rs);
	arr = jv_invalid();
out:
	jv_free(arr);
}

/*
 * Store the DTDL interfaces of arr (consumed, a non-empty array), all of
 * them or none: the checks and the store writes of POST /models, shared
 * with the import jobs (adt_jobs.c). Returns 0 with rs the 201 answer, or
 * -1 with rs ADT's error. Store lock held.
 */
int
adt_models_add(jv arr, struct resp *rs)
{
	jv out = jv_array(), m;
	char now[40];
	const char *id;
	int i, n = jv_array_length(jv_copy(arr)), rc = -1;
	sqlite3_stmt *st;

	for (i = 0; i < n; i++)
		if (model_check(arr, i, rs) != 0)
			goto out;
	emu_time7(now, sizeof(now));
	models_changed();
	for (i = 0; i < n; i++) {
		jv meta;

		m = jv_array_get(jv_copy(arr), i);
		id = json_get_str(m, "@id");
		meta = JV_OBJECT(jv_string("id"), jv_string(id),
		    jv_string("description"), display_map(json_get(m, "description")),
		    jv_string("displayName"), display_map(json_get(m, "displayName")),
		    jv_string("decommissioned"), jv_false(),
		    jv_string("uploadTime"), jv_string(now));
		st = store_stmt("INSERT INTO models VALUES(?,?,?,?)");
		sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, json_dump(m, 0), -1, free);
		sqlite3_bind_text(st, 3, json_dump(meta, 0), -1, free);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)store_seq());
		sqlite3_step(st);
		sqlite3_reset(st);
		out = jv_array_append(out, meta);
		jv_free(m);
	}
	resp_json(rs, 201, out);
	out = jv_invalid();
	rc = 0;
out:
	jv_free(out);
	jv_free(arr);
	return rc;
}

int
adt_pager_init(struct req *r, struct resp *rs, struct pager *p)
{
	const char *mi = req_header(r, "max-items-per-page"),
	    *tok = req_query(r, "continuationToken");

	if (mi == NULL)		/* the name older clients send */
		mi = req_header(r, "x-ms-max-item-count");

	memset(p, 0, sizeof(*p));
	p->page = mi != NULL ? strtol(mi, NULL, 10) : emu.page_size;
	if (p->page <= 0 || p->page > ADT_MAX_PAGE)
		p->page = emu.page_size;
	if (tok != NULL && (strncmp(tok, "tpemu:", 6) != 0 ||
	    (p->skip = strtol(tok + 6, NULL, 10)) < 0)) {
		adt_err(rs, 400, "BadRequest", "Invalid continuation token.");
		return -1;
	}
	return 0;
}

/* 1: add this item; 0: skip it; -1: the page is full, stop. */
int
adt_pager_take(struct pager *p)
{
	if (p->seen++ < p->skip)
		return 0;
	if (p->got == p->page) {
		p->more = 1;
		return -1;
	}
	p->got++;
	return 1;
}

static void
add_arg(void *ctx, const char *k, const char *v)
{
	struct buf *b = ctx;

	if (strcmp(k, "continuationToken") == 0)
		return;
	if (b->p[b->len - 1] != '?')
		buf_addc(b, '&');
	buf_adds(b, k);
	buf_addc(b, '=');
	buf_adds(b, v);
}

/* The absolute nextLink of this list request, or null. */
static jv
next_link(struct req *r, struct pager *p)
{
	struct buf b = BUF_INIT;
	const char *host = req_header(r, "Host");
	jv v;

	if (!p->more)
		return jv_null();
	buf_printf(&b, "%s://%s%s?", emu.tls ? "https" : "http",
	    host != NULL ? host : "127.0.0.1", r->url);
	req_query_each(r, add_arg, &b);
	buf_printf(&b, "%scontinuationToken=tpemu%%3A%ld",
	    b.p[b.len - 1] == '?' ? "" : "&", p->skip + p->got);
	v = jv_string_sized(b.p, (int)b.len);
	buf_release(&b);
	return v;
}

void
adt_send_page(struct req *r, struct resp *rs, struct pager *p, jv arr)
{
	resp_json(rs, 200, JV_OBJECT(jv_string("value"), arr,
	    jv_string("nextLink"), next_link(r, p)));
}

static jv
model_view(sqlite3_stmt *st, int with_def)
{
	jv meta = store_col_json(st, 1);

	if (with_def)
		meta = jv_object_set(meta, jv_string("model"),
		    store_col_json(st, 0));
	return meta;
}

struct deps {
	jv ids;		/* id -> false */
	int bad;	/* an id with a malformed escape */
};

static void
dep_arg(void *ctx, const char *k, const char *v)
{
	struct deps *d = ctx;
	struct buf b = BUF_INIT;

	if (strcmp(k, "dependenciesFor") != 0 || v[0] == '\0')
		return;
	if (pct_decode(&b, v, strlen(v)) == 0 && b.len > 0)
		d->ids = jv_object_set(d->ids, jv_string_sized(b.p, (int)b.len),
		    jv_false());
	else
		d->bad = 1;
	buf_release(&b);
}

/*
 * The models in ids (an object id -> false, consumed) and all they depend
 * on, as an object id -> true; jv_invalid() with *missing set to a model
 * id that does not exist.
 */
static jv
models_closure(jv ids, char *missing, size_t msz)
{
	jv keys, m, refs;
	int i, n, j, nr, round, grew = 1;

	for (round = 0; grew && round < 1000; round++) {
		grew = 0;
		keys = jv_keys(jv_copy(ids));
		n = jv_array_length(jv_copy(keys));
		for (i = 0; i < n; i++) {
			jv k = jv_array_get(jv_copy(keys), i), done;

			done = json_get(ids, jv_string_value(k));
			if (jv_get_kind(done) == JV_KIND_FALSE) {
				m = model_load(jv_string_value(k), 0);
				if (!jv_is_valid(m)) {
					snprintf(missing, msz, "%s", jv_string_value(k));
					jv_free(k);
					jv_free(keys);
					jv_free(ids);
					return m;
				}
				ids = jv_object_set(ids, jv_copy(k), jv_true());
				refs = model_refs(m);
				nr = jv_array_length(jv_copy(refs));
				for (j = 0; j < nr; j++) {
					jv b = jv_array_get(jv_copy(refs), j);

					if (jv_get_kind(b) == JV_KIND_STRING &&
					    !adt_json_has(ids, jv_string_value(b))) {
						ids = jv_object_set(ids, b, jv_false());
						grew = 1;
					} else
						jv_free(b);
				}
				jv_free(refs);
				jv_free(m);
			}
			jv_free(done);
			jv_free(k);
		}
		jv_free(keys);
	}
	return ids;
}

/* GET /models[?dependenciesFor=ID...][&includeModelDefinition=true] */
static void
models_list(struct req *r, struct resp *rs, int with_def)
{
	struct pager pg;
	sqlite3_stmt *st;
	struct deps d = { jv_object(), 0 };
	jv arr, ids;
	char missing[300];
	int t, some;

	req_query_each(r, dep_arg, &d);
	ids = d.ids;
	if (adt_pager_init(r, rs, &pg) != 0)
		goto out;
	if (d.bad) {
		adt_err(rs, 400, "InvalidArgument", "A dependenciesFor model id is "
		    "not validly percent-encoded.");
		goto out;
	}
	some = jv_object_length(jv_copy(ids)) > 0;
	if (some && !jv_is_valid(ids = models_closure(ids, missing,
	    sizeof(missing)))) {
		adt_err(rs, 404, "ModelNotFound", "There is no Model(s) available "
		    "that matches the provided id(s) %.200s. Check that the Model "
		    "ID provided is valid by doing a Model_List API call.",
		    missing);
		goto out;
	}
	arr = jv_array();
	st = store_stmt("SELECT body, meta, id FROM models ORDER BY seq");
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (some && !adt_json_has(ids, (const char *)sqlite3_column_text(st,
		    2)))
			continue;
		if ((t = adt_pager_take(&pg)) < 0)
			break;
		if (t == 1)
			arr = jv_array_append(arr, model_view(st, with_def));
	}
	sqlite3_reset(st);
	adt_send_page(r, rs, &pg, arr);
out:
	jv_free(ids);
}

void
adt_models(struct req *r, struct resp *rs)
{
	const char *q = req_query(r, "includeModelDefinition");
	int with_def = q != NULL && strcasecmp(q, "true") == 0;
	sqlite3_stmt *st;
	jv body = jv_invalid(), meta;
	char msg[300];
	const char *m = r->method;

	r->kind = "adt.model";
	if (r->nseg == 1 && strcmp(m, "POST") == 0) {
		models_post(r, rs);
		return;
	}
	if (r->nseg == 1 && strcmp(m, "GET") == 0) {
		models_list(r, rs, with_def);
		return;
	}
	if (r->nseg != 2) {
		adt_err(rs, 404, "NotFound", "No such resource.");
		return;
	}
	st = store_stmt("SELECT body, meta FROM models WHERE id=?");
	sqlite3_bind_text(st, 1, r->seg[1], -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		adt_err(rs, 404, "ModelNotFound", "There is no Model(s) available "
		    "that matches the provided id(s) %.200s. Check that the Model "
		    "ID provided is valid by doing a Model_List API call.",
		    r->seg[1]);
		return;
	}
	if (strcmp(m, "GET") == 0) {
		resp_json(rs, 200, model_view(st, with_def));
		sqlite3_reset(st);
		return;
	}
	meta = store_col_json(st, 1);
	sqlite3_reset(st);
	if (strcmp(m, "DELETE") == 0) {
		jv_free(meta);
		st = store_stmt("SELECT id, body FROM models");
		while (sqlite3_step(st) == SQLITE_ROW) {
			jv o = store_col_json(st, 1), refs = model_refs(o);
			int i, n = jv_array_length(jv_copy(refs)), hit = 0;

			for (i = 0; i < n && !hit; i++) {
				jv b = jv_array_get(jv_copy(refs), i);

				hit = jv_get_kind(b) == JV_KIND_STRING &&
				    strcmp(jv_string_value(b), r->seg[1]) == 0;
				jv_free(b);
			}
			jv_free(refs);
			jv_free(o);
			if (hit) {
				adt_err(rs, 409, "ModelReferencesNotDeleted", "Model "
				    "with ID %.200s is referenced by %.200s; delete "
				    "that model first.", r->seg[1],
				    (const char *)sqlite3_column_text(st, 0));
				sqlite3_reset(st);
				return;
			}
		}
		sqlite3_reset(st);
		models_changed();
		st = store_stmt("DELETE FROM models WHERE id=?");
		sqlite3_bind_text(st, 1, r->seg[1], -1, SQLITE_STATIC);
		sqlite3_step(st);
		sqlite3_reset(st);
		rs->status = 204;
		return;
	}
	if (strcmp(m, "PATCH") == 0) {
		jv op;

		if (req_json(r, &body, msg, sizeof(msg)) != 0 ||
		    jv_get_kind(body) != JV_KIND_ARRAY ||
		    jv_array_length(jv_copy(body)) != 1) {
			adt_err(rs, 400, "JsonPatchInvalid", "The only supported patch "
			    "is [{\"op\":\"replace\",\"path\":\"/decommissioned\","
			    "\"value\":true}].");
			goto patch_out;
		}
		op = jv_array_get(jv_copy(body), 0);
		if (json_get_str(op, "path") == NULL ||
		    strcmp(json_get_str(op, "path"), "/decommissioned") != 0 ||
		    !adt_json_bool(op, "value")) {
			jv_free(op);
			adt_err(rs, 400, "JsonPatchInvalid", "Only /decommissioned can "
			    "be set, and only to true.");
			goto patch_out;
		}
		jv_free(op);
		meta = jv_object_set(meta, jv_string("decommissioned"), jv_true());
		models_changed();
		st = store_stmt("UPDATE models SET meta=? WHERE id=?");
		sqlite3_bind_text(st, 1, json_dump(meta, 0), -1, free);
		sqlite3_bind_text(st, 2, r->seg[1], -1, SQLITE_STATIC);
		sqlite3_step(st);
		sqlite3_reset(st);
		rs->status = 204;
patch_out:
		jv_free(body);
		jv_free(meta);
		return;
	}
	jv_free(meta);
	adt_err(rs, 405, "MethodNotAllowed", "The method is not allowed here.");
}
