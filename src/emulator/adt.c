/*
 * adt.c - the Azure Digital Twins data plane: models, twins, relationships
 * and the simple forms of the query language, with ADT's error bodies,
 * ETags, $metadata timestamps and validation against the models.
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
#include "emu.h"
#include "json.h"

#define ADT_MAX_MODELS_PER_POST 250
#define ADT_MAX_PAGE 1000
#define ADT_MAX_EXTENDS_DEPTH 10

static const char *api_versions[] = { "2020-10-31", "2021-06-30-preview",
    "2022-05-31", "2023-06-30", "2023-10-31" };

static void
aerr(struct resp *rs, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
aerr(struct resp *rs, int status, const char *code, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	resp_json(rs, status, JV_OBJECT(jv_string("error"), JV_OBJECT(
	    jv_string("code"), jv_string(code), jv_string("message"),
	    jv_string(msg))));
	resp_header(rs, "x-ms-error-code", "%s", code);
}

static void
not_found_twin(struct resp *rs, const char *id)
{
	aerr(rs, 404, "DigitalTwinNotFound", "There is no digital twin instance "
	    "that exists with the ID %.200s. Please verify that the twin id is "
	    "valid and ensure that the twin is not deleted. See section on "
	    "querying the twins http://aka.ms/adtv2query.", id);
}

/* Now as ADT writes it: 2026-11-23T05:40:36.1234567Z */
static void
adt_time(char *out, size_t n)
{
	struct timespec ts;
	struct tm tm;
	char base[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, n, "%.20s.%07dZ", base, (int)(ts.tv_nsec / 100 % 10000000));
}

static int
json_get_bool(jv o, const char *k)
{
	jv v = json_get(o, k);
	int r = jv_get_kind(v) == JV_KIND_TRUE;

	jv_free(v);
	return r;
}

/* Does object o (borrowed) have key k? */
static int
json_has(jv o, const char *k)
{
	jv v = json_get(o, k);
	int r = jv_is_valid(v);

	jv_free(v);
	return r;
}

static jv
new_etag(void)
{
	char g[37], e[48];

	emu_guid(g);
	snprintf(e, sizeof(e), "W/\"%s\"", g);
	return jv_string(e);
}

static jv
load_col(sqlite3_stmt *st, int col)
{
	jv v = jv_invalid();
	struct json_err je;
	const char *t = (const char *)sqlite3_column_text(st, col);

	if (t != NULL && json_parse(t, (size_t)sqlite3_column_bytes(st, col), &v,
	    NULL, &je) != 0)
		v = jv_invalid();
	return v;
}

static int
etag_ok(jv ent, const char *if_match)
{
	const char *e = json_get_str(ent, "$etag");

	if (if_match == NULL || strcmp(if_match, "*") == 0)
		return 1;
	return e != NULL && strcmp(e, if_match) == 0;
}

/* ---- models ---- */

static jv
model_load(const char *id, int with_meta)
{
	sqlite3_stmt *st = store_stmt("SELECT body, meta FROM models WHERE id=?");

	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW)
		return jv_invalid();
	return load_col(st, with_meta ? 1 : 0);
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
static int
has_type(jv c, const char *kind)
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
static int
model_decls(const char *id, jv *decl, int depth)
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
			rc = model_decls(jv_string_value(c), decl, depth + 1);
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
static int
model_is_a(const char *id, const char *base, int depth)
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
			r = model_is_a(jv_string_value(c), base, depth + 1);
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
static jv
decl_get(const char *id, int *decommissioned, int *missing_base)
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
	*decommissioned = json_get_bool(meta, "decommissioned");
	jv_free(meta);
	decl = jv_object();
	if (model_decls(id, &decl, 0) != 0) {
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
static int
schema_ok(jv s, jv v)
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
static jv
user_props(jv ent)
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

static int twin_validate(jv twin, const char *model, struct resp *rs,
    int is_new);

/* Validate property k = v (borrowed) against its declaration d. */
static int
prop_validate(const char *k, jv v, jv d, const char *model, struct resp *rs)
{
	jv s;
	int rc = 0;

	if (!jv_is_valid(d) || !(has_type(d, "Property") ||
	    has_type(d, "Component"))) {
		aerr(rs, 400, "ValidationFailed", "Invalid twin: the property "
		    "'%.200s' is not defined in model %.200s (or is not a "
		    "writable property).", k, model);
		return -1;
	}
	s = json_get(d, "schema");
	if (has_type(d, "Component")) {
		if (jv_get_kind(v) != JV_KIND_OBJECT) {
			aerr(rs, 400, "ValidationFailed", "Invalid twin: the "
			    "component '%.200s' must be an object.", k);
			rc = -1;
		} else if (jv_get_kind(s) == JV_KIND_STRING)
			rc = twin_validate(user_props(jv_copy(v)),
			    jv_string_value(s), rs, 0);
	} else if (!schema_ok(s, v)) {
		aerr(rs, 400, "ValidationFailed", "Invalid twin: the value of "
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
static int
twin_validate(jv twin, const char *model, struct resp *rs, int is_new)
{
	jv decl, keys = jv_invalid();
	int i, n, rc = -1, decom = 0, missing_base = 0;

	decl = decl_get(model, &decom, &missing_base);
	if (!jv_is_valid(decl) && missing_base) {
		aerr(rs, 400, "ValidationFailed", "Invalid twin: a model that "
		    "%.200s extends is not found.", model);
		goto out;
	}
	if (!jv_is_valid(decl)) {
		aerr(rs, 400, "ValidationFailed", "Invalid twin: the model %.200s "
		    "is not found. Upload the model before creating twins that "
		    "use it.", model);
		goto out;
	}
	if (is_new && decom) {
		aerr(rs, 400, "ModelDecommissioned", "Invalid twin: the model "
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
		if (has_type(c, "Component") && jv_get_kind(sc) == JV_KIND_STRING)
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
			if (has_type(c, kinds[j]))
				kind = j;
		sc = json_get(c, "schema");
		if (kind < 0 || !dtdl_name_ok(name)) {
			snprintf(msg, msgsz, "Content %d of %.200s needs an @type "
			    "(Property, Telemetry, Command, Relationship or "
			    "Component) and a name of letters, digits and _.",
			    i, id);
			rc = -1;
		} else if (json_has(seen, name)) {
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
	    !has_type(m, "Interface")) {
		aerr(rs, 400, "DTDLParserError", "Model %d is not a DTDL "
		    "Interface with an @id of the form dtmi:...;N.", i);
		goto out;
	}
	for (j = 0; j < i; j++) {
		jv o = jv_array_get(jv_copy(arr), j);
		const char *x = json_get_str(o, "@id");
		int dup = x != NULL && strcmp(x, id) == 0;

		jv_free(o);
		if (dup) {
			aerr(rs, 400, "DTDLParserError", "Model %.200s appears "
			    "twice in the request.", id);
			goto out;
		}
	}
	e = model_load(id, 0);
	if (jv_is_valid(e)) {
		jv_free(e);
		aerr(rs, 409, "ModelIdAlreadyExists", "Model with ID %.200s "
		    "already exists. Use Model_List API to view models that "
		    "already exist. See the Swagger example. "
		    "(http://aka.ms/ModelListSwSmpl)", id);
		goto out;
	}
	jv_free(e);
	if (model_contents_ok(m, id, msg, sizeof(msg)) != 0) {
		aerr(rs, 400, "DTDLParserError", "%s", msg);
		goto out;
	}
	refs = model_refs(m);
	n = jv_array_length(jv_copy(refs));
	for (j = 0; j < n; j++) {
		jv b = jv_array_get(jv_copy(refs), j);
		int ok = jv_get_kind(b) != JV_KIND_STRING ||	/* inline */
		    model_known(jv_string_value(b), arr);

		if (!ok) {
			aerr(rs, 400, "DTDLParserError", "Model %.200s refers to "
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
	jv arr = jv_invalid(), out = jv_array(), m;
	char msg[300], now[40];
	const char *id;
	int i, n;
	sqlite3_stmt *st;

	if (req_json(r, &arr, msg, sizeof(msg)) != 0) {
		aerr(rs, 400, "InvalidArgument", "%s", msg);
		goto out;
	}
	if (jv_get_kind(arr) != JV_KIND_ARRAY || (n = jv_array_length(jv_copy(arr))) == 0) {
		aerr(rs, 400, "InvalidArgument", "The request body must be a "
		    "non-empty JSON array of DTDL interfaces.");
		goto out;
	}
	if (n > ADT_MAX_MODELS_PER_POST) {
		aerr(rs, 400, "InvalidArgument", "At most %d models can be "
		    "uploaded in one request.", ADT_MAX_MODELS_PER_POST);
		goto out;
	}
	for (i = 0; i < n; i++)
		if (model_check(arr, i, rs) != 0)
			goto out;
	adt_time(now, sizeof(now));
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
out:
	jv_free(out);
	jv_free(arr);
}

/* Paging of lists: continuationToken=tpemu:N in the query, nextLink. */
struct pager {
	long page, skip, seen, got;
	int more;
};

static int
pager_init(struct req *r, struct pager *p)
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
	    (p->skip = strtol(tok + 6, NULL, 10)) < 0))
		return -1;
	return 0;
}

/* 1: add this item; 0: skip it; -1: the page is full, stop. */
static int
pager_take(struct pager *p)
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

static jv
model_view(sqlite3_stmt *st, int with_def)
{
	jv meta = load_col(st, 1);

	if (with_def)
		meta = jv_object_set(meta, jv_string("model"), load_col(st, 0));
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
					    !json_has(ids, jv_string_value(b))) {
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
	if (pager_init(r, &pg) != 0) {
		aerr(rs, 400, "BadRequest", "Invalid continuation token.");
		goto out;
	}
	if (d.bad) {
		aerr(rs, 400, "InvalidArgument", "A dependenciesFor model id is "
		    "not validly percent-encoded.");
		goto out;
	}
	some = jv_object_length(jv_copy(ids)) > 0;
	if (some && !jv_is_valid(ids = models_closure(ids, missing,
	    sizeof(missing)))) {
		aerr(rs, 404, "ModelNotFound", "There is no Model(s) available "
		    "that matches the provided id(s) %.200s. Check that the Model "
		    "ID provided is valid by doing a Model_List API call.",
		    missing);
		goto out;
	}
	arr = jv_array();
	st = store_stmt("SELECT body, meta, id FROM models ORDER BY seq");
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (some && !json_has(ids, (const char *)sqlite3_column_text(st,
		    2)))
			continue;
		if ((t = pager_take(&pg)) < 0)
			break;
		if (t == 1)
			arr = jv_array_append(arr, model_view(st, with_def));
	}
	sqlite3_reset(st);
	resp_json(rs, 200, JV_OBJECT(jv_string("value"), arr,
	    jv_string("nextLink"), next_link(r, &pg)));
out:
	jv_free(ids);
}

static void
models(struct req *r, struct resp *rs)
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
		aerr(rs, 404, "NotFound", "No such resource.");
		return;
	}
	st = store_stmt("SELECT body, meta FROM models WHERE id=?");
	sqlite3_bind_text(st, 1, r->seg[1], -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		aerr(rs, 404, "ModelNotFound", "There is no Model(s) available "
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
	meta = load_col(st, 1);
	sqlite3_reset(st);
	if (strcmp(m, "DELETE") == 0) {
		jv_free(meta);
		st = store_stmt("SELECT id, body FROM models");
		while (sqlite3_step(st) == SQLITE_ROW) {
			jv o = load_col(st, 1), refs = model_refs(o);
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
				aerr(rs, 409, "ModelReferencesNotDeleted", "Model "
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
			aerr(rs, 400, "JsonPatchInvalid", "The only supported patch "
			    "is [{\"op\":\"replace\",\"path\":\"/decommissioned\","
			    "\"value\":true}].");
			goto patch_out;
		}
		op = jv_array_get(jv_copy(body), 0);
		if (json_get_str(op, "path") == NULL ||
		    strcmp(json_get_str(op, "path"), "/decommissioned") != 0 ||
		    !json_get_bool(op, "value")) {
			jv_free(op);
			aerr(rs, 400, "JsonPatchInvalid", "Only /decommissioned can "
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
	aerr(rs, 405, "MethodNotAllowed", "The method is not allowed here.");
}

/* ---- twins ---- */

static jv
twin_load(const char *id)
{
	sqlite3_stmt *st = store_stmt("SELECT body FROM twins WHERE id=?");
	jv v;

	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	v = sqlite3_step(st) == SQLITE_ROW ? load_col(st, 0) : jv_invalid();
	sqlite3_reset(st);
	return v;
}

static void
twin_save(const char *id, jv twin)
{
	sqlite3_stmt *st = store_stmt("INSERT OR REPLACE INTO twins VALUES(?,?,?)");
	jv model = jv_getpath(jv_copy(twin), JV_ARRAY(jv_string("$metadata"),
	    jv_string("$model")));

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

	if (fresh || !json_has(e, "lastUpdateTime"))
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
		    json_has(comps, ks)) {
			ov = json_get(old, ks);
			snprintf(key, sizeof(key), "%s/", ks);
			cm = JV_OBJECT(jv_string("$lastUpdateTime"), jv_string(now));
			v = props_build(user_props(v), ov, jv_copy(touched), srct,
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
	if (prefix[0] != '\0' && !any && json_has(oldmeta, "$lastUpdateTime"))	/* an untouched component keeps its time */
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
	jv decl = decl_get(model, &decom, &missing), keys, out = jv_object();
	int i, n;

	if (!jv_is_valid(decl))
		return out;
	keys = jv_keys(jv_copy(decl));
	n = jv_array_length(jv_copy(keys));
	for (i = 0; i < n; i++) {
		jv k = jv_array_get(jv_copy(keys), i), d = json_get(decl,
		    jv_string_value(k));

		if (has_type(d, "Component"))
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
	    new_etag()), meta, comps = model_components(model), keys;
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

static void
twin_put(struct req *r, struct resp *rs, const char *id)
{
	jv body = jv_invalid(), old = jv_invalid(), srct = jv_invalid(), t, model;
	const char *inm = req_header(r, "If-None-Match"),
	    *im = req_header(r, "If-Match");
	char msg[300], now[40];

	if (req_json(r, &body, msg, sizeof(msg)) != 0 ||
	    jv_get_kind(body) != JV_KIND_OBJECT) {
		aerr(rs, 400, "InvalidArgument", "%s", jv_is_valid(body) ?
		    "The twin must be a JSON object." : msg);
		goto out;
	}
	if (r->body.len > ADT_MAX_BODY) {
		aerr(rs, 413, "RequestEntityTooLarge", "A twin is limited to "
		    "32 KB.");
		goto out;
	}
	model = jv_getpath(jv_copy(body), JV_ARRAY(jv_string("$metadata"),
	    jv_string("$model")));
	if (jv_get_kind(model) != JV_KIND_STRING) {
		jv_free(model);
		aerr(rs, 400, "ValidationFailed", "Invalid twin: $metadata.$model "
		    "is required and must be a string.");
		goto out;
	}
	old = twin_load(id);
	if (jv_is_valid(old) && inm != NULL && strcmp(inm, "*") == 0) {
		jv_free(model);
		aerr(rs, 412, "PreconditionFailed", "If-None-Match: * header was "
		    "specified but a twin with the id %.200s was found. Please "
		    "specify a different twin id.", id);
		goto out;
	}
	if (jv_is_valid(old) && !etag_ok(old, im)) {
		jv_free(model);
		aerr(rs, 412, "PreconditionFailed", "The ETag does not match the "
		    "twin's current ETag.");
		goto out;
	}
	if (!jv_is_valid(old) && im != NULL && strcmp(im, "*") != 0) {
		jv_free(model);
		not_found_twin(rs, id);
		goto out;
	}
	srct = put_source_times(body);
	body = user_props(body);
	if (twin_validate(jv_copy(body), jv_string_value(model), rs, 1) != 0) {
		jv_free(model);
		goto out;
	}
	if (faults_twin(id, rs)) {
		jv_free(model);
		goto out;
	}
	adt_time(now, sizeof(now));
	t = twin_build(id, body, jv_string_value(model), old, jv_null(), srct,
	    now);
	srct = jv_invalid();
	body = jv_invalid();
	jv_free(model);
	twin_save(id, t);
	resp_header(rs, "ETag", "%s", json_get_str(t, "$etag"));
	resp_json(rs, 200, t);
out:
	jv_free(srct);
	jv_free(old);
	jv_free(body);
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
	aerr(rs, 400, "JsonPatchInvalid", "Operation %d: the path %.200s "
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
static jv
apply_patch(jv props, jv ops, struct resp *rs, jv *touched, jv *model,
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
			aerr(rs, 400, "JsonPatchInvalid", "Operation %d: only add, "
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
			aerr(rs, 400, "JsonPatchInvalid", "Operation %d needs a "
			    "value.", i);
			goto bad;
		}
		props = jpatch_apply(props, k, path, NULL, v, msg, sizeof(msg));
		jv_free(v);
		if (!jv_is_valid(props)) {
			aerr(rs, 400, "JsonPatchInvalid", "Operation %d: %s.", i, msg);
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
	char msg[300], now[40];

	old = twin_load(id);
	if (!jv_is_valid(old)) {
		not_found_twin(rs, id);
		goto out;
	}
	if (!etag_ok(old, req_header(r, "If-Match"))) {
		aerr(rs, 412, "PreconditionFailed", "The ETag does not match the "
		    "twin's current ETag.");
		goto out;
	}
	if (req_json(r, &ops, msg, sizeof(msg)) != 0) {
		aerr(rs, 400, "JsonPatchInvalid", "%s", msg);
		goto out;
	}
	model = jv_getpath(jv_copy(old), JV_ARRAY(jv_string("$metadata"),
	    jv_string("$model")));
	props = user_props(jv_copy(old));
	if (comp != NULL) {
		comps = model_components(jv_string_value(model));
		if (!json_has(comps, comp)) {
			jv_free(comps);
			jv_free(props);
			aerr(rs, 404, "ComponentNotFound", "There is no component "
			    "%.200s in digital twin %.200s.", comp, id);
			goto out;
		}
		jv_free(comps);
		if (!json_has(props, comp))
			props = jv_object_set(props, jv_string(comp), jv_object());
		ops = ops_under(ops, comp);
	}
	props = apply_patch(props, ops, rs, &touched, &model, &srct);
	if (!jv_is_valid(props))
		goto out;
	if (twin_validate(jv_copy(props), jv_string_value(model), rs, 0) != 0 ||
	    faults_twin(id, rs)) {
		jv_free(props);
		goto out;
	}
	adt_time(now, sizeof(now));
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

static void
twin_one(struct req *r, struct resp *rs)
{
	const char *id = r->seg[1], *m = r->method;
	sqlite3_stmt *st;
	jv t;

	r->kind = "adt.twin";
	if (strcmp(m, "PUT") == 0) {
		twin_put(r, rs, id);
		return;
	}
	if (strcmp(m, "PATCH") == 0) {
		twin_patch(r, rs, id, NULL);
		return;
	}
	t = twin_load(id);
	if (!jv_is_valid(t)) {
		jv_free(t);
		not_found_twin(rs, id);
		return;
	}
	if (strcmp(m, "GET") == 0) {
		resp_header(rs, "ETag", "%s", json_get_str(t, "$etag"));
		resp_json(rs, 200, t);
		return;
	}
	if (strcmp(m, "DELETE") == 0) {
		if (!etag_ok(t, req_header(r, "If-Match"))) {
			aerr(rs, 412, "PreconditionFailed", "The ETag does not match "
			    "the twin's current ETag.");
		} else if (twin_has_rels(id)) {
			aerr(rs, 400, "RelationshipsNotDeleted", "Digital twin with "
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
	aerr(rs, 405, "MethodNotAllowed", "The method is not allowed here.");
}

/* GET|PATCH /digitaltwins/ID/components/C */
static void
component_one(struct req *r, struct resp *rs)
{
	const char *id = r->seg[1], *c = r->seg[3];
	jv t, v, comps, model;

	r->kind = "adt.component";
	if (strcmp(r->method, "PATCH") == 0) {
		twin_patch(r, rs, id, c);
		return;
	}
	if (strcmp(r->method, "GET") != 0) {
		aerr(rs, 405, "MethodNotAllowed", "The method is not allowed here.");
		return;
	}
	t = twin_load(id);
	if (!jv_is_valid(t)) {
		jv_free(t);
		not_found_twin(rs, id);
		return;
	}
	model = jv_getpath(jv_copy(t), JV_ARRAY(jv_string("$metadata"),
	    jv_string("$model")));
	comps = jv_get_kind(model) == JV_KIND_STRING ?
	    model_components(jv_string_value(model)) : jv_object();
	v = json_get(t, c);
	if (!json_has(comps, c) || jv_get_kind(v) != JV_KIND_OBJECT) {
		jv_free(v);
		aerr(rs, 404, "ComponentNotFound", "There is no component %.200s "
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
static void
telemetry(struct req *r, struct resp *rs)
{
	jv t = jv_invalid(), body = jv_invalid(), comps, model;
	char msg[300];

	r->kind = "adt.telemetry";
	if (strcmp(r->method, "POST") != 0) {
		aerr(rs, 405, "MethodNotAllowed", "Use POST.");
		return;
	}
	t = twin_load(r->seg[1]);
	if (!jv_is_valid(t)) {
		not_found_twin(rs, r->seg[1]);
		goto out;
	}
	if (r->nseg == 5) {
		model = jv_getpath(jv_copy(t), JV_ARRAY(jv_string("$metadata"),
		    jv_string("$model")));
		comps = jv_get_kind(model) == JV_KIND_STRING ?
		    model_components(jv_string_value(model)) : jv_object();
		jv_free(model);
		if (!json_has(comps, r->seg[3])) {
			jv_free(comps);
			aerr(rs, 404, "ComponentNotFound", "There is no component "
			    "%.200s in digital twin %.200s.", r->seg[3], r->seg[1]);
			goto out;
		}
		jv_free(comps);
	}
	if (req_header(r, "Message-Id") == NULL) {
		aerr(rs, 400, "InvalidArgument", "The Message-Id header is "
		    "required.");
		goto out;
	}
	if (req_json(r, &body, msg, sizeof(msg)) != 0 ||
	    jv_get_kind(body) != JV_KIND_OBJECT) {
		aerr(rs, 400, "ValidationFailed", "The telemetry must be a JSON "
		    "object.");
		goto out;
	}
	rs->status = 204;
out:
	jv_free(body);
	jv_free(t);
}

/* ---- relationships ---- */

static jv
rel_load(const char *src, const char *id)
{
	sqlite3_stmt *st = store_stmt("SELECT body FROM rels WHERE src=? AND id=?");
	jv v;

	sqlite3_bind_text(st, 1, src, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	v = sqlite3_step(st) == SQLITE_ROW ? load_col(st, 0) : jv_invalid();
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
	    jv_string("$etag"), new_etag(), jv_string("$sourceId"),
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
				if (!schema_ok(sch, v)) {
					aerr(rs, 400, "ValidationFailed", "Invalid "
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
			aerr(rs, 400, "ValidationFailed", "Invalid relationship: the "
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
	jv t = twin_load(src), model, decl = jv_object(), d;

	model = jv_getpath(t, JV_ARRAY(jv_string("$metadata"),
	    jv_string("$model")));
	if (jv_get_kind(model) == JV_KIND_STRING)
		model_decls(jv_string_value(model), &decl, 0);
	jv_free(model);
	d = json_get(decl, name);
	jv_free(decl);
	return d;
}

static void
rel_put(struct req *r, struct resp *rs, const char *src, const char *id)
{
	jv body = jv_invalid(), st = jv_invalid(), tt = jv_invalid(),
	    old = jv_invalid(), decl = jv_object(), d, rel, model;
	const char *target, *name, *inm = req_header(r, "If-None-Match");
	char msg[300];

	if (req_json(r, &body, msg, sizeof(msg)) != 0 ||
	    jv_get_kind(body) != JV_KIND_OBJECT) {
		aerr(rs, 400, "InvalidArgument", "%s", jv_is_valid(body) ?
		    "The relationship must be a JSON object." : msg);
		goto out;
	}
	target = json_get_str(body, "$targetId");
	name = json_get_str(body, "$relationshipName");
	if (target == NULL || name == NULL) {
		aerr(rs, 400, "ValidationFailed", "Invalid relationship: "
		    "$targetId and $relationshipName are required.");
		goto out;
	}
	st = twin_load(src);
	if (!jv_is_valid(st)) {
		not_found_twin(rs, src);
		goto out;
	}
	tt = twin_load(target);
	if (!jv_is_valid(tt)) {
		aerr(rs, 404, "TargetDigitalTwinNotFound", "There is no digital "
		    "twin instance that exists with the ID %.200s (the target "
		    "of the relationship).", target);
		goto out;
	}
	if (strcmp(src, target) == 0) {
		aerr(rs, 400, "OperationNotAllowed", "A relationship cannot have "
		    "the same source and target.");
		goto out;
	}
	model = jv_getpath(jv_copy(st), JV_ARRAY(jv_string("$metadata"),
	    jv_string("$model")));
	if (jv_get_kind(model) == JV_KIND_STRING)
		model_decls(jv_string_value(model), &decl, 0);
	d = json_get(decl, name);
	if (!jv_is_valid(d) || !has_type(d, "Relationship")) {
		jv_free(d);
		aerr(rs, 400, "ValidationFailed", "Invalid relationship: the "
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
		aerr(rs, 412, "PreconditionFailed", "If-None-Match: * header was "
		    "specified but a relationship with the id %.200s was found.",
		    id);
		goto out;
	}
	if (jv_is_valid(old) && !etag_ok(old, req_header(r, "If-Match"))) {
		aerr(rs, 412, "PreconditionFailed", "The ETag does not match the "
		    "relationship's current ETag.");
		goto out;
	}
	if (faults_twin(src, rs))
		goto out;
	rel = rel_build(src, id, target, name, user_props(jv_copy(body)));
	rel_save(rel);
	resp_header(rs, "ETag", "%s", json_get_str(rel, "$etag"));
	resp_json(rs, 200, rel);
out:
	jv_free(decl);
	jv_free(old);
	jv_free(st);
	jv_free(tt);
	jv_free(body);
}

static void
rel_one(struct req *r, struct resp *rs)
{
	const char *src = r->seg[1], *id = r->seg[3], *m = r->method;
	jv rel, ops = jv_invalid(), props, touched = jv_object(), model = jv_null(),
	    srct = jv_object();
	sqlite3_stmt *st;
	char msg[300];

	r->kind = "adt.relationship";
	if (strcmp(m, "PUT") == 0) {
		jv_free(touched);
		jv_free(srct);
		rel_put(r, rs, src, id);
		return;
	}
	rel = rel_load(src, id);
	if (!jv_is_valid(rel)) {
		jv t = twin_load(src);

		if (!jv_is_valid(t))
			not_found_twin(rs, src);
		else
			aerr(rs, 404, "RelationshipNotFound", "There is no "
			    "relationship with the ID %.200s on twin %.200s.", id,
			    src);
		jv_free(t);
		goto out;
	}
	if (strcmp(m, "GET") == 0) {
		resp_header(rs, "ETag", "%s", json_get_str(rel, "$etag"));
		resp_json(rs, 200, jv_copy(rel));
		goto out;
	}
	if (!etag_ok(rel, req_header(r, "If-Match"))) {
		aerr(rs, 412, "PreconditionFailed", "The ETag does not match the "
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
		if (req_json(r, &ops, msg, sizeof(msg)) != 0) {
			aerr(rs, 400, "JsonPatchInvalid", "%s", msg);
			goto out;
		}
		props = apply_patch(user_props(jv_copy(rel)), ops, rs, &touched,
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
	aerr(rs, 405, "MethodNotAllowed", "The method is not allowed here.");
out:
	jv_free(model);
	jv_free(touched);
	jv_free(srct);
	jv_free(ops);
	jv_free(rel);
}

static void
rel_list(struct req *r, struct resp *rs, int incoming)
{
	const char *id = r->seg[1], *name = req_query(r, "relationshipName");
	sqlite3_stmt *st;
	jv t = twin_load(id), arr = jv_array(), v;
	char link[1024];
	struct pager pg;
	int take;

	r->kind = "adt.relationship";
	if (!jv_is_valid(t)) {
		jv_free(t);
		jv_free(arr);
		not_found_twin(rs, id);
		return;
	}
	jv_free(t);
	if (pager_init(r, &pg) != 0) {
		jv_free(arr);
		aerr(rs, 400, "BadRequest", "Invalid continuation token.");
		return;
	}
	if (incoming)
		st = store_stmt("SELECT body FROM rels WHERE target=? ORDER BY src, id");
	else
		st = store_stmt("SELECT body FROM rels WHERE src=? ORDER BY id");
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		v = load_col(st, 0);
		if (!jv_is_valid(v) || (name != NULL && (json_get_str(v,
		    "$relationshipName") == NULL || strcmp(name,
		    json_get_str(v, "$relationshipName")) != 0))) {
			jv_free(v);
			continue;
		}
		if ((take = pager_take(&pg)) <= 0) {
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
	resp_json(rs, 200, JV_OBJECT(jv_string("value"), arr,
	    jv_string("nextLink"), next_link(r, &pg)));
}

/* ---- query (the language is adt_query.c's) ---- */

/* One run of a query: the row being bound, the page being filled. */
struct qrun {
	const struct adt_query *q;
	jv row, out;
	long skip, seen, got, page, count;
	int more, stop;
};

static int
qrun_is_a(const char *model, const char *base)
{
	return model_is_a(model, base, 0);
}

static void
qrun_emit(struct qrun *x)
{
	x->count++;
	if (x->q->count || x->seen++ < x->skip)
		return;
	if (x->q->top > 0 && x->skip + x->got >= x->q->top) {
		x->stop = 1;
		return;
	}
	if (x->got == x->page) {
		x->more = 1;
		x->stop = 1;
		return;
	}
	x->out = jv_array_append(x->out, adt_query_project(x->q, x->row));
	x->got++;
}

/* Bind JOIN j and the ones after it, for each relationship it follows. */
static void
qrun_join(struct qrun *x, int j)
{
	const struct adtq_join *jn = &x->q->join[j];
	sqlite3_stmt *st;
	jv from, rels, rel, tw;
	const char *src;
	int i, n;

	if (j == x->q->njoin) {
		qrun_emit(x);
		return;
	}
	from = jv_array_get(jv_copy(x->row), jn->from);
	src = json_get_str(from, "$dtId");
	rels = jv_array();
	st = store_stmt("SELECT body FROM rels WHERE src=? AND name=? "
	    "ORDER BY id");
	sqlite3_bind_text(st, 1, src != NULL ? src : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, jn->rel, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW)
		rels = jv_array_append(rels, load_col(st, 0));
	sqlite3_reset(st);
	jv_free(from);
	n = jv_array_length(jv_copy(rels));
	for (i = 0; i < n && !x->stop; i++) {
		rel = jv_array_get(jv_copy(rels), i);
		tw = twin_load(json_get_str(rel, "$targetId") != NULL ?
		    json_get_str(rel, "$targetId") : "");
		if (jv_is_valid(tw)) {
			x->row = jv_array_set(x->row, jn->target, tw);
			if (jn->relalias >= 0)
				x->row = jv_array_set(x->row, jn->relalias,
				    jv_copy(rel));
			if (adt_query_match(x->q, x->row, j + 1, qrun_is_a))
				qrun_join(x, j + 1);
		} else
			jv_free(tw);
		jv_free(rel);
	}
	jv_free(rels);
}

/* A continuation token: the query and how many items were returned. */
static jv
qtoken_make(const char *text, long next)
{
	struct buf b = BUF_INIT;
	jv v = JV_OBJECT(jv_string("q"), jv_string(text), jv_string("s"),
	    jv_number((double)next));
	char *js = json_dump(v, 0);	/* borrows v */

	jv_free(v);

	buf_adds(&b, "tpemu:");
	base64_encode(&b, js, strlen(js));
	free(js);
	v = jv_string_sized(b.p, (int)b.len);
	buf_release(&b);
	return v;
}

/* Read a token into *text (owned, jv string) and *skip; -1 if invalid. */
static int
qtoken_read(const char *tok, jv *text, long *skip)
{
	struct buf b = BUF_INIT;
	struct json_err je;
	jv o = jv_invalid(), q, s;
	int rc = -1;

	if (strncmp(tok, "tpemu:", 6) != 0 ||
	    base64_decode(&b, tok + 6, strlen(tok + 6)) != 0 ||
	    json_parse(b.len ? b.p : "", b.len, &o, NULL, &je) != 0)
		goto out;
	q = json_get(o, "q");
	s = json_get(o, "s");
	if (jv_get_kind(q) == JV_KIND_STRING && jv_get_kind(s) == JV_KIND_NUMBER &&
	    jv_number_value(s) >= 0 && jv_number_value(s) < 1e12) {
		*skip = (long)jv_number_value(s);
		jv_free(*text);
		*text = q;
		rc = 0;
	} else
		jv_free(q);
	jv_free(s);
out:
	jv_free(o);
	buf_release(&b);
	return rc;
}

/* The entities of the FROM collection that pass its conditions (owned). */
static jv
query_base(const struct adt_query *q, jv row)
{
	const struct adtq_cond *c0 = &q->c[0];
	sqlite3_stmt *st;
	jv v, arr = jv_array();

	if (!q->rels && q->nc >= 1 && c0->kind == ADTQ_CMP && c0->alias == 0 &&
	    strcmp(c0->path, "$dtId") == 0 && strcmp(c0->op, "=") == 0 &&
	    jv_get_kind(c0->lit) == JV_KIND_STRING) {
		st = store_stmt("SELECT body FROM twins WHERE id=?");
		sqlite3_bind_text(st, 1, jv_string_value(c0->lit), -1,
		    SQLITE_STATIC);
	} else if (q->rels)
		st = store_stmt("SELECT body FROM rels ORDER BY src, id");
	else
		st = store_stmt("SELECT body FROM twins ORDER BY id");
	while (sqlite3_step(st) == SQLITE_ROW) {
		v = load_col(st, 0);
		if (!jv_is_valid(v)) {
			jv_free(v);
			continue;
		}
		row = jv_array_set(row, 0, jv_copy(v));
		if (adt_query_match(q, row, 0, qrun_is_a))
			arr = jv_array_append(arr, v);
		else
			jv_free(v);
	}
	sqlite3_reset(st);
	jv_free(row);
	return arr;
}

/* Run x->q from x->skip and answer rs with the page. */
static void
query_run(struct qrun *x, const char *text, struct resp *rs)
{
	const struct adt_query *q = x->q;
	jv base;
	int i, n;

	if (q->top > 0 && q->top < x->page)
		x->page = q->top;
	x->row = jv_array();
	for (i = 0; i < q->nalias; i++)
		x->row = jv_array_append(x->row, jv_null());
	base = query_base(q, jv_copy(x->row));
	n = jv_array_length(jv_copy(base));
	for (i = 0; i < n && !x->stop; i++) {
		x->row = jv_array_set(x->row, 0, jv_array_get(jv_copy(base), i));
		qrun_join(x, 0);
	}
	jv_free(base);
	jv_free(x->row);
	x->row = jv_invalid();
	if (q->count) {
		jv_free(x->out);
		x->out = JV_ARRAY(JV_OBJECT(jv_string("COUNT"),
		    jv_number((double)x->count)));
	}
	resp_json(rs, 200, JV_OBJECT(jv_string("value"), x->out,
	    jv_string("continuationToken"), x->more ?
	    qtoken_make(text, x->skip + x->got) : jv_null()));
	x->out = jv_invalid();
	resp_header(rs, "query-charge", "%.2f", 1 + 0.1 * (double)x->got);
}

/*
 * POST /query: {"query"} for a first page; {"continuationToken"} alone
 * (or with the query) for the next ones. max-items-per-page sets a page.
 */
static void
query(struct req *r, struct resp *rs)
{
	jv body = jv_invalid(), text = jv_invalid();
	struct adt_query q;
	struct qrun x;
	char msg[600];
	const char *tok, *mi = req_header(r, "max-items-per-page");

	r->kind = "adt.query";
	memset(&x, 0, sizeof(x));
	x.out = jv_array();
	x.page = mi != NULL ? strtol(mi, NULL, 10) : emu.page_size;
	if (x.page <= 0 || x.page > ADT_MAX_PAGE)
		x.page = emu.page_size;
	if (strcmp(r->method, "POST") != 0) {
		aerr(rs, 405, "MethodNotAllowed", "Use POST /query.");
		goto out;
	}
	if (req_json(r, &body, msg, sizeof(msg)) != 0 ||
	    jv_get_kind(body) != JV_KIND_OBJECT) {
		aerr(rs, 400, "BadRequest", "The body must be {\"query\": "
		    "\"SELECT ...\"} or {\"continuationToken\": \"...\"}.");
		goto out;
	}
	text = json_get(body, "query");
	tok = json_get_str(body, "continuationToken");
	if (tok != NULL && qtoken_read(tok, &text, &x.skip) != 0) {
		aerr(rs, 400, "BadRequest", "Invalid continuation token.");
		goto out;
	}
	if (jv_get_kind(text) != JV_KIND_STRING) {
		aerr(rs, 400, "BadRequest", "The body must be {\"query\": "
		    "\"SELECT ...\"} or {\"continuationToken\": \"...\"}.");
		goto out;
	}
	if (adt_query_parse(jv_string_value(text), &q, msg, sizeof(msg)) != 0) {
		aerr(rs, 400, "SqlQueryError", "%s", msg);
		goto out;
	}
	x.q = &q;
	query_run(&x, jv_string_value(text), rs);
	adt_query_free(&q);
out:
	jv_free(x.out);
	jv_free(text);
	jv_free(body);
}

/* ---- entry ---- */

static int
api_version_ok(struct req *r, struct resp *rs)
{
	const char *v = req_query(r, "api-version");
	size_t i;

	if (v == NULL) {
		aerr(rs, 400, "MissingApiVersionParameter", "The api-version "
		    "query parameter (?api-version=) is required for all "
		    "requests.");
		return 0;
	}
	for (i = 0; i < sizeof(api_versions) / sizeof(api_versions[0]); i++)
		if (strcmp(v, api_versions[i]) == 0)
			return 1;
	aerr(rs, 400, "InvalidApiVersionParameter", "The api-version '%.40s' is "
	    "not supported. Supported versions: 2020-10-31, 2022-05-31, "
	    "2023-06-30, 2023-10-31.", v);
	return 0;
}

static int
authorized(struct req *r, struct resp *rs)
{
	const char *h = req_header(r, "Authorization");
	char msg[200];

	if (emu.no_auth)
		return 1;
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
		aerr(rs, 401, "Unauthorized", "A bearer token is required "
		    "(Authorization: Bearer <token> from the token endpoint).");
		resp_header(rs, "WWW-Authenticate", "Bearer");
		return 0;
	}
	if (token_check(h + 7, ADT_AUDIENCES, msg, sizeof(msg)) != 0) {
		aerr(rs, 401, "Unauthorized", "%s", msg);
		resp_header(rs, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
		return 0;
	}
	return 1;
}

void
adt_handle(struct req *r, struct resp *rs)
{
	const char *s0 = r->seg[0];

	if (!authorized(r, rs) || !api_version_ok(r, rs))
		return;
	store_lock();
	if (strcmp(s0, "models") == 0 && r->nseg <= 2)
		models(r, rs);
	else if (strcmp(s0, "query") == 0 && r->nseg == 1)
		query(r, rs);
	else if (strcmp(s0, "digitaltwins") == 0 && r->nseg == 2)
		twin_one(r, rs);
	else if (strcmp(s0, "digitaltwins") == 0 && r->nseg == 3 &&
	    strcmp(r->seg[2], "relationships") == 0 && strcmp(r->method, "GET") == 0)
		rel_list(r, rs, 0);
	else if (strcmp(s0, "digitaltwins") == 0 && r->nseg == 3 &&
	    strcmp(r->seg[2], "incomingrelationships") == 0 &&
	    strcmp(r->method, "GET") == 0)
		rel_list(r, rs, 1);
	else if (strcmp(s0, "digitaltwins") == 0 && r->nseg == 4 &&
	    strcmp(r->seg[2], "relationships") == 0)
		rel_one(r, rs);
	else if (strcmp(s0, "digitaltwins") == 0 && r->nseg == 4 &&
	    strcmp(r->seg[2], "components") == 0)
		component_one(r, rs);
	else if (strcmp(s0, "digitaltwins") == 0 && ((r->nseg == 3 &&
	    strcmp(r->seg[2], "telemetry") == 0) || (r->nseg == 5 &&
	    strcmp(r->seg[2], "components") == 0 &&
	    strcmp(r->seg[4], "telemetry") == 0)))
		telemetry(r, rs);
	else
		aerr(rs, 404, "NotFound", "The resource is not served by "
		    "twin-emulator.");
	store_unlock();
}
