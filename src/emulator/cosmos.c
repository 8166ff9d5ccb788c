/*
 * cosmos.c - the Cosmos DB NoSQL data plane: account, databases,
 * containers, documents (create, upsert, read, replace, delete, patch,
 * transactional batch), master-key and Entra ID authorization.
 *
 * Request charge model (x-ms-request-charge), documented in the man page:
 * metadata operations 1 RU; a point read 1 RU per started KB of the item;
 * create, upsert, replace and delete 5.71 RU per started KB; a patch
 * 5.71 RU per started KB plus 0.5 RU per operation; a failed operation
 * 1 RU; a throttled one 0 RU.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sqlite3.h>

#include "codec.h"
#include "cosmos_sig.h"
#include "emu.h"
#include "json.h"

#define COSMOS_MAX_OPS 10
#define COSMOS_MAX_BATCH 100

struct coll {
	const char *db, *id;
	jv body;		/* the container resource */
	char **pk;		/* partition key path tokens (first path) */
	int npk;
	int partitioned;
};

struct opres {
	int status;
	char msg[512];
	jv doc;			/* the resulting (or deleted) item */
	double ru;
};

static const char *
code_of(int status)
{
	switch (status) {
	case 400: return "BadRequest";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "NotFound";
	case 405: return "MethodNotAllowed";
	case 409: return "Conflict";
	case 412: return "PreconditionFailed";
	case 413: return "RequestEntityTooLarge";
	case 415: return "UnsupportedMediaType";
	default: return "InternalServerError";
	}
}

static void
cerr(struct resp *rs, int status, const char *msg)
{
	char full[640];

	snprintf(full, sizeof(full), "Message: {\"Errors\":[\"%.500s\"]}", msg);
	resp_json(rs, status, JV_OBJECT(jv_string("code"),
	    jv_string(code_of(status)), jv_string("message"), jv_string(full)));
}

static const char exists_msg[] =
    "Entity with the specified id already exists in the system.";

/* The 404 of a database or collection that does not exist. */
static void
not_found(struct resp *rs)
{
	cerr(rs, 404, "Resource Not Found. Learn more: "
	    "https://aka.ms/cosmosdb-tsg-not-found");
}

static double
kb_of(jv doc)
{
	struct buf b = BUF_INIT;
	double kb;

	json_write(&b, doc, 0, NULL);
	kb = ceil((double)b.len / 1024.0);
	buf_release(&b);
	return kb < 1 ? 1 : kb;
}

static void
make_rid(char *out, size_t outsz, const unsigned char *prefix, size_t plen,
    size_t extra)
{
	unsigned char raw[16];
	struct buf b = BUF_INIT;
	uint64_t s = store_seq();
	size_t i;

	memcpy(raw, prefix, plen);
	for (i = 0; i < extra; i++)
		raw[plen + i] = (unsigned char)(s >> (8 * (extra - 1 - i)));
	base64_encode(&b, raw, plen + extra);
	snprintf(out, outsz, "%.*s", (int)b.len, b.p);
	buf_release(&b);
}

static void
rid_bytes(const char *rid, unsigned char *out, size_t n)
{
	struct buf b = BUF_INIT;

	memset(out, 0, n);
	if (rid != NULL && base64_decode(&b, rid, strlen(rid)) == 0)
		memcpy(out, b.p, b.len < n ? b.len : n);
	buf_release(&b);
}

static jv
new_etag(void)
{
	char e[64];
	uint64_t s = store_seq();

	snprintf(e, sizeof(e), "\"%08llx-0000-0000-0000-%012llx\"",
	    (unsigned long long)(s >> 32) & 0xffffffffULL,
	    (unsigned long long)(s & 0xffffffffffffULL));
	return jv_string(e);
}

static int
valid_id(const char *id, char *msg, size_t msgsz)
{
	size_t n = strlen(id);

	if (n == 0 || n > 1023) {
		snprintf(msg, msgsz, "The id must be 1 to 1023 bytes long.");
		return 0;
	}
	if (strpbrk(id, "/\\?#") != NULL) {
		snprintf(msg, msgsz, "The input name '%.64s' is invalid. Ensure "
		    "to provide a unique non-empty string less than '1024' "
		    "characters without '/', '\\\\', '?' or '#'.", id);
		return 0;
	}
	return 1;
}

/* ---- loading ---- */

static jv
db_load(const char *id)
{
	sqlite3_stmt *st = store_stmt("SELECT body FROM cdbs WHERE id=?");

	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	return sqlite3_step(st) == SQLITE_ROW ? store_col_json(st, 0) :
	    jv_invalid();
}

static void
coll_release(struct coll *c)
{
	int i;

	jv_free(c->body);
	for (i = 0; i < c->npk; i++)
		free(c->pk[i]);
	free(c->pk);
}

static int
coll_load(struct coll *c, const char *db, const char *id)
{
	sqlite3_stmt *st = store_stmt("SELECT body FROM ccolls WHERE db=? AND id=?");
	jv paths, p;
	const char *s, *e;

	memset(c, 0, sizeof(*c));
	c->db = db;
	c->id = id;
	sqlite3_bind_text(st, 1, db, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	c->body = sqlite3_step(st) == SQLITE_ROW ? store_col_json(st, 0) :
	    jv_invalid();
	if (!jv_is_valid(c->body))
		return -1;
	paths = jv_getpath(jv_copy(c->body), JV_ARRAY(jv_string("partitionKey"),
	    jv_string("paths")));
	if (jv_get_kind(paths) == JV_KIND_ARRAY && jv_array_length(jv_copy(paths)) > 0) {
		p = jv_array_get(jv_copy(paths), 0);
		if (jv_get_kind(p) == JV_KIND_STRING) {
			c->partitioned = 1;
			for (s = jv_string_value(p); *s == '/'; s = e) {
				s++;
				e = strchr(s, '/');
				if (e == NULL)
					e = s + strlen(s);
				c->pk = xrealloc(c->pk, (size_t)(c->npk + 1) * sizeof(char *));
				c->pk[c->npk] = xmalloc((size_t)(e - s) + 1);
				memcpy(c->pk[c->npk], s, (size_t)(e - s));
				c->pk[c->npk++][e - s] = '\0';
			}
		}
		jv_free(p);
	}
	jv_free(paths);
	return 0;
}

/* The partition key text of a document: compact JSON of its value, "{}"
 * when undefined, "" in a container without partition key. Malloc'd. */
static char *
doc_pk(struct coll *c, jv doc)
{
	jv v = jv_copy(doc);
	int i;
	char *s;

	if (!c->partitioned) {
		jv_free(v);
		return xstrdup("");
	}
	for (i = 0; i < c->npk && jv_is_valid(v); i++) {
		if (jv_get_kind(v) != JV_KIND_OBJECT) {
			jv_free(v);
			v = jv_invalid();
			break;
		}
		v = jv_object_get(v, jv_string(c->pk[i]));
	}
	if (!jv_is_valid(v)) {
		jv_free(v);
		return xstrdup("{}");
	}
	s = json_dump(v, 0);
	jv_free(v);
	return s;
}

/*
 * The partition key from the x-ms-documentdb-partitionkey header, as text
 * comparable with doc_pk(). NULL when absent; "!" when malformed.
 */
static char *
hdr_pk(struct req *r, struct coll *c)
{
	const char *h = req_header(r, "x-ms-documentdb-partitionkey");
	struct json_err je;
	jv v, e;
	char *s;

	if (h == NULL)
		return NULL;
	if (!c->partitioned)
		return xstrdup("");
	if (json_parse(h, strlen(h), &v, NULL, &je) != 0 ||
	    jv_get_kind(v) != JV_KIND_ARRAY || jv_array_length(jv_copy(v)) != 1) {
		jv_free(v);
		return xstrdup("!");
	}
	e = jv_array_get(v, 0);
	s = json_dump(e, 0);
	jv_free(e);
	return s;
}

/*
 * The statement sql with a document's key (db, collection, partition key,
 * id) bound to its first four parameters; the strings are borrowed and must
 * outlive the step. Cannot fail: store_stmt aborts on a bad statement.
 */
static sqlite3_stmt *
doc_stmt(const char *sql, struct coll *c, const char *pk, const char *id)
{
	sqlite3_stmt *st = store_stmt(sql);

	sqlite3_bind_text(st, 1, c->db, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, c->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, pk, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, id, -1, SQLITE_STATIC);
	return st;
}

/*
 * The statement that reads a collection's documents in id order: those of
 * partition pk when pk is not NULL, else all by partition then id. c and pk
 * are borrowed until the last step. Cannot fail.
 */
static sqlite3_stmt *
coll_docs_stmt(struct coll *c, const char *pk)
{
	sqlite3_stmt *st;

	if (pk != NULL) {
		st = store_stmt("SELECT body FROM cdocs WHERE db=? AND coll=? "
		    "AND pk=? ORDER BY id");
		sqlite3_bind_text(st, 3, pk, -1, SQLITE_STATIC);
	} else
		st = store_stmt("SELECT body FROM cdocs WHERE db=? AND coll=? "
		    "ORDER BY pk, id");
	sqlite3_bind_text(st, 1, c->db, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, c->id, -1, SQLITE_STATIC);
	return st;
}

static jv
doc_load(struct coll *c, const char *pk, const char *id)
{
	sqlite3_stmt *st = doc_stmt("SELECT body FROM cdocs WHERE db=? AND "
	    "coll=? AND pk=? AND id=?", c, pk, id);

	return sqlite3_step(st) == SQLITE_ROW ? store_col_json(st, 0) :
	    jv_invalid();
}

static int
doc_save(struct coll *c, const char *pk, const char *id, jv doc)
{
	sqlite3_stmt *st = doc_stmt("INSERT OR REPLACE INTO cdocs VALUES"
	    "(?,?,?,?,?)", c, pk, id);
	char *text = json_dump(doc, 0);
	int rc;

	sqlite3_bind_text(st, 5, text, -1, free);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

static void
doc_del(struct coll *c, const char *pk, const char *id)
{
	sqlite3_stmt *st = doc_stmt("DELETE FROM cdocs WHERE db=? AND coll=? "
	    "AND pk=? AND id=?", c, pk, id);

	sqlite3_step(st);
	sqlite3_reset(st);
}

static const char *sysprops[] = { "_rid", "_self", "_etag", "_ts",
    "_attachments" };

/* Set the system properties on a stored document (doc consumed). */
static jv
doc_stamp(struct coll *c, jv doc, const char *old_rid)
{
	unsigned char pre[8];
	char rid[32], self[160], crid[32];
	const char *cr = json_get_str(c->body, "_rid");
	size_t i;

	/* old_rid may point into doc: copy it before the edits */
	if (old_rid != NULL)
		snprintf(rid, sizeof(rid), "%s", old_rid);
	for (i = 0; i < sizeof(sysprops) / sizeof(sysprops[0]); i++)
		doc = jv_object_delete(doc, jv_string(sysprops[i]));
	snprintf(crid, sizeof(crid), "%s", cr ? cr : "");
	rid_bytes(crid, pre, sizeof(pre));
	if (old_rid == NULL)
		make_rid(rid, sizeof(rid), pre, 8, 8);
	snprintf(self, sizeof(self), "dbs/%.*s/colls/%s/docs/%s/", 6, crid, crid,
	    rid);
	doc = jv_object_set(doc, jv_string("_rid"), jv_string(rid));
	doc = jv_object_set(doc, jv_string("_self"), jv_string(self));
	doc = jv_object_set(doc, jv_string("_etag"), new_etag());
	doc = jv_object_set(doc, jv_string("_attachments"),
	    jv_string("attachments/"));
	doc = jv_object_set(doc, jv_string("_ts"), jv_number(floor(emu_now())));
	return doc;
}

/* ---- operations (store lock held) ---- */

static void
res_err(struct opres *o, int status, const char *msg)
{
	o->status = status;
	snprintf(o->msg, sizeof(o->msg), "%s", msg);
	o->ru = 1;
}

/*
 * Check a new body: an object with a valid id, within the size limit, whose
 * partition key matches pk (when pk is not NULL). Returns its pk text
 * (malloc'd) or NULL with o filled.
 */
static char *
check_body(struct coll *c, jv body, const char *pk, struct opres *o)
{
	const char *id;
	char msg[300], *dpk;
	struct buf b = BUF_INIT;

	if (jv_get_kind(body) != JV_KIND_OBJECT) {
		res_err(o, 400, "The input content is invalid because it is not a JSON object.");
		return NULL;
	}
	id = json_get_str(body, "id");
	if (id == NULL) {
		res_err(o, 400, "The input content is invalid because the required "
		    "properties - 'id; ' - are missing");
		return NULL;
	}
	if (!valid_id(id, msg, sizeof(msg))) {
		res_err(o, 400, msg);
		return NULL;
	}
	json_write(&b, body, 0, NULL);
	if (b.len > COSMOS_MAX_ITEM) {
		buf_release(&b);
		res_err(o, 413, "Request size is too large");
		return NULL;
	}
	buf_release(&b);
	dpk = doc_pk(c, body);
	if (pk != NULL && strcmp(pk, dpk) != 0) {
		free(dpk);
		res_err(o, 400, "PartitionKey extracted from document doesn't "
		    "match the one specified in the header");
		return NULL;
	}
	return dpk;
}

/* The 412 of a request whose If-Match the stored document does not meet. */
static void
res_precondition(struct opres *o)
{
	res_err(o, 412, "Operation cannot be performed because one of the "
	    "specified precondition is not met.");
}

/*
 * The stored document (pk, id) that an operation on it acts on, owned by the
 * caller; if_match NULL matches any. On an absent document (404) or an etag
 * that differs from if_match (412) fills o and returns jv_invalid().
 */
static jv
doc_existing(struct coll *c, const char *pk, const char *id,
    const char *if_match, struct opres *o)
{
	jv doc = doc_load(c, pk, id);

	if (!jv_is_valid(doc)) {
		res_err(o, 404, "Entity with the specified id does not exist in "
		    "the system. More info: https://aka.ms/cosmosdb-tsg-not-found");
		return doc;
	}
	if (!emu_etag_ok(doc, "_etag", if_match)) {
		jv_free(doc);
		res_precondition(o);
		return jv_invalid();
	}
	return doc;
}

static void
op_create(struct coll *c, jv body, const char *pk, int upsert,
    const char *if_match, struct opres *o)
{
	char *dpk = check_body(c, body, pk, o);
	jv old;
	const char *id;

	o->doc = jv_invalid();
	if (dpk == NULL)
		goto out;
	id = json_get_str(body, "id");
	old = doc_load(c, dpk, id);
	if (jv_is_valid(old) && !upsert) {
		res_err(o, 409, exists_msg);
		jv_free(old);
		goto out;
	}
	if (jv_is_valid(old) && !emu_etag_ok(old, "_etag", if_match)) {
		res_precondition(o);
		jv_free(old);
		goto out;
	}
	o->doc = doc_stamp(c, jv_copy(body), jv_is_valid(old) ?
	    json_get_str(old, "_rid") : NULL);
	o->status = jv_is_valid(old) ? 200 : 201;
	jv_free(old);
	doc_save(c, dpk, id, o->doc);
	o->ru = 5.71 * kb_of(o->doc);
out:
	free(dpk);
	jv_free(body);
}

static void
op_read(struct coll *c, const char *pk, const char *id, struct opres *o)
{
	o->doc = doc_existing(c, pk, id, NULL, o);
	if (!jv_is_valid(o->doc))
		return;
	o->status = 200;
	o->ru = kb_of(o->doc);
}

static void
op_replace(struct coll *c, const char *pk, const char *id, jv body,
    const char *if_match, struct opres *o)
{
	char *dpk = check_body(c, body, pk, o);
	jv old = jv_invalid();

	o->doc = jv_invalid();
	if (dpk == NULL)
		goto out;
	if (strcmp(json_get_str(body, "id"), id) != 0) {
		res_err(o, 400, "The id in the body does not match the id in the URL.");
		goto out;
	}
	old = doc_existing(c, dpk, id, if_match, o);
	if (!jv_is_valid(old))
		goto out;
	o->doc = doc_stamp(c, jv_copy(body), json_get_str(old, "_rid"));
	doc_save(c, dpk, id, o->doc);
	o->status = 200;
	o->ru = 5.71 * kb_of(o->doc);
out:
	jv_free(old);
	free(dpk);
	jv_free(body);
}

static void
op_delete(struct coll *c, const char *pk, const char *id,
    const char *if_match, struct opres *o)
{
	o->doc = doc_existing(c, pk, id, if_match, o);
	if (!jv_is_valid(o->doc))
		return;
	doc_del(c, pk, id);
	o->status = 204;
	o->ru = 5.71 * kb_of(o->doc);
}

static int
patch_op_kind(const char *s, enum jpatch_op *op)
{
	static const struct {
		const char *n;
		enum jpatch_op op;
	} t[] = { { "add", JP_ADD }, { "set", JP_SET }, { "replace", JP_REPLACE },
	    { "remove", JP_REMOVE }, { "incr", JP_INCR }, { "move", JP_MOVE } };
	size_t i;

	for (i = 0; s != NULL && i < sizeof(t) / sizeof(t[0]); i++)
		if (strcasecmp(s, t[i].n) == 0) {
			*op = t[i].op;
			return 0;
		}
	return -1;
}

static int
protected_path(struct coll *c, const char *path)
{
	static const char *sys[] = { "/id", "/_rid", "/_self", "/_etag", "/_ts",
	    "/_attachments" };
	char pkp[512];
	size_t i, n;
	int k;

	for (i = 0; i < sizeof(sys) / sizeof(sys[0]); i++) {
		n = strlen(sys[i]);
		if (strncmp(path, sys[i], n) == 0 && (path[n] == '\0' || path[n] == '/'))
			return 1;
	}
	if (c->partitioned) {
		pkp[0] = '\0';
		for (k = 0; k < c->npk; k++) {
			strncat(pkp, "/", sizeof(pkp) - strlen(pkp) - 1);
			strncat(pkp, c->pk[k], sizeof(pkp) - strlen(pkp) - 1);
		}
		n = strlen(pkp);
		if (strncmp(path, pkp, n) == 0 && (path[n] == '\0' || path[n] == '/'))
			return 1;
	}
	return 0;
}

static void
op_patch(struct coll *c, const char *pk, const char *id, jv ops,
    const char *cond, const char *if_match, struct opres *o)
{
	jv doc = jv_invalid(), e, v;
	enum jpatch_op op;
	const char *path, *from;
	char msg[300];
	int i, n, r;

	o->doc = jv_invalid();
	if (jv_get_kind(ops) != JV_KIND_ARRAY || (n = jv_array_length(jv_copy(ops))) == 0) {
		res_err(o, 400, "The patch request has no operations.");
		goto out;
	}
	if (n > COSMOS_MAX_OPS) {
		res_err(o, 400, "The number of patch operations can't exceed 10.");
		goto out;
	}
	doc = doc_existing(c, pk, id, if_match, o);
	if (!jv_is_valid(doc))
		goto out;
	if (cond != NULL) {
		r = jpatch_cond(cond, doc, msg, sizeof(msg));
		if (r < 0) {
			res_err(o, 400, msg);
			goto out;
		}
		if (r == 0) {
			res_err(o, 412, "Precondition check for the patch condition "
			    "failed: the condition is false for this document.");
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		e = jv_array_get(jv_copy(ops), i);
		path = json_get_str(e, "path");
		from = json_get_str(e, "from");
		if (jv_get_kind(e) != JV_KIND_OBJECT ||
		    patch_op_kind(json_get_str(e, "op"), &op) != 0 || path == NULL) {
			jv_free(e);
			res_err(o, 400, "Invalid patch operation: each operation "
			    "needs an 'op' (add, set, replace, remove, incr, move) "
			    "and a 'path'.");
			goto out;
		}
		if (protected_path(c, path) || (from != NULL && protected_path(c, from))) {
			snprintf(msg, sizeof(msg), "Patch operations cannot change the "
			    "system property or partition key at '%.100s'.", path);
			jv_free(e);
			res_err(o, 400, msg);
			goto out;
		}
		v = json_get(e, "value");
		if (!jv_is_valid(v) && op != JP_REMOVE && op != JP_MOVE) {
			jv_free(v);
			jv_free(e);
			res_err(o, 400, "The patch operation needs a 'value'.");
			goto out;
		}
		doc = jpatch_apply(doc, op, path, from, v, msg, sizeof(msg));
		jv_free(v);
		jv_free(e);
		if (!jv_is_valid(doc)) {
			char full[400];

			snprintf(full, sizeof(full), "Patch operation %d failed: %s.",
			    i, msg);
			res_err(o, 400, full);
			goto out;
		}
	}
	if (kb_of(doc) * 1024 > COSMOS_MAX_ITEM) {
		res_err(o, 413, "Request size is too large");
		goto out;
	}
	o->doc = doc_stamp(c, doc, json_get_str(doc, "_rid"));
	doc = jv_invalid();
	doc_save(c, pk, id, o->doc);
	o->status = 200;
	o->ru = 5.71 * kb_of(o->doc) + 0.5 * n;
out:
	jv_free(doc);
	jv_free(ops);
}

/* ---- HTTP layer ---- */

static void
charge(struct resp *rs, double ru)
{
	resp_header(rs, "x-ms-request-charge", "%.2f", ru);
}

/*
 * Runs st, the bound INSERT of a new database or collection, and answers 201
 * with v (consumed), its etag and a charge of 1 RU.
 */
static void
created(struct resp *rs, sqlite3_stmt *st, jv v)
{
	sqlite3_step(st);
	sqlite3_reset(st);
	resp_header(rs, "etag", "%s", json_get_str(v, "_etag"));
	resp_json(rs, 201, v);
	charge(rs, 1);
}

static void
send_res(struct resp *rs, struct opres *o)
{
	const char *e;

	if (o->status >= 400) {
		cerr(rs, o->status, o->msg);
	} else if (o->status == 204) {
		rs->status = 204;
	} else {
		e = json_get_str(o->doc, "_etag");
		if (e != NULL)
			resp_header(rs, "etag", "%s", e);
		resp_json(rs, o->status, jv_copy(o->doc));
	}
	charge(rs, o->ru);
	jv_free(o->doc);
	o->doc = jv_invalid();
}

static int
truthy(const char *h)
{
	return h != NULL && strcasecmp(h, "true") == 0;
}

static void
account(struct req *r, struct resp *rs)
{
	const char *host = req_header(r, "Host");
	char ep[300];
	jv loc, a;

	snprintf(ep, sizeof(ep), "%s://%.200s/", emu.tls ? "https" : "http",
	    host ? host : "127.0.0.1");
	loc = JV_ARRAY(JV_OBJECT(jv_string("name"), jv_string("South Central US"),
	    jv_string("databaseAccountEndpoint"), jv_string(ep)));
	a = JV_OBJECT(jv_string("_self"), jv_string(""),
	    jv_string("id"), jv_string("localhost"),
	    jv_string("_rid"), jv_string("localhost"),
	    jv_string("media"), jv_string("//media/"),
	    jv_string("addresses"), jv_string("//addresses/"),
	    jv_string("_dbs"), jv_string("//dbs/"),
	    jv_string("writableLocations"), jv_copy(loc),
	    jv_string("readableLocations"), loc,
	    jv_string("enableMultipleWriteLocations"), jv_false());
	a = jv_object_set(a, jv_string("userReplicationPolicy"), JV_OBJECT(
	    jv_string("asyncReplication"), jv_false(),
	    jv_string("minReplicaSetSize"), jv_number(1),
	    jv_string("maxReplicasetSize"), jv_number(4)));
	a = jv_object_set(a, jv_string("userConsistencyPolicy"), JV_OBJECT(
	    jv_string("defaultConsistencyLevel"), jv_string("Session")));
	a = jv_object_set(a, jv_string("systemReplicationPolicy"), JV_OBJECT(
	    jv_string("minReplicaSetSize"), jv_number(1),
	    jv_string("maxReplicasetSize"), jv_number(4)));
	a = jv_object_set(a, jv_string("readPolicy"), JV_OBJECT(
	    jv_string("primaryReadCoefficient"), jv_number(1),
	    jv_string("secondaryReadCoefficient"), jv_number(1)));
	a = jv_object_set(a, jv_string("queryEngineConfiguration"), jv_string(
	    "{\"maxSqlQueryInputLength\":262144,\"maxJoinsPerSqlQuery\":5,"
	    "\"maxLogicalAndPerSqlQuery\":500,\"maxLogicalOrPerSqlQuery\":500,"
	    "\"maxUdfRefPerSqlQuery\":10,\"maxInExpressionItemsCount\":16000,"
	    "\"queryMaxInMemorySortDocumentCount\":500,"
	    "\"maxQueryRequestTimeoutFraction\":0.9,"
	    "\"sqlAllowNonFiniteNumbers\":false,"
	    "\"sqlAllowAggregateFunctions\":true,\"sqlAllowSubQuery\":true,"
	    "\"sqlAllowScalarSubQuery\":true,\"allowNewKeywords\":true,"
	    "\"sqlAllowLike\":true,\"sqlAllowGroupByClause\":true,"
	    "\"maxSpatialQueryCells\":12,\"spatialMaxGeometryPointCount\":256,"
	    "\"sqlAllowTop\":true,\"enableSpatialIndexing\":true}"));
	resp_json(rs, 200, a);
	resp_header(rs, "x-ms-max-media-storage-usage-mb", "10240");
	resp_header(rs, "x-ms-media-storage-usage-mb", "0");
	charge(rs, 1);
}

/* A list (read feed) of the rows of st's first column. */
static void
feed(struct resp *rs, sqlite3_stmt *st, const char *name, const char *rid)
{
	jv arr = jv_array(), v;
	int n = 0;

	while (sqlite3_step(st) == SQLITE_ROW) {
		v = store_col_json(st, 0);
		if (jv_is_valid(v)) {
			arr = jv_array_append(arr, v);
			n++;
		} else
			jv_free(v);
	}
	sqlite3_reset(st);
	resp_json(rs, 200, JV_OBJECT(jv_string("_rid"), jv_string(rid),
	    jv_string(name), arr, jv_string("_count"), jv_number(n)));
	resp_header(rs, "x-ms-item-count", "%d", n);
	charge(rs, 1 + n * 0.1);
}

static void
databases(struct req *r, struct resp *rs)
{
	sqlite3_stmt *st;
	jv body = jv_invalid(), v;
	char msg[300], rid[32], self[64];
	const char *id;
	unsigned char none[1] = { 0 };

	r->kind = "cosmos.db";
	if (r->nseg == 1 && strcmp(r->method, "GET") == 0) {
		feed(rs, store_stmt("SELECT body FROM cdbs ORDER BY id"),
		    "Databases", "");
		return;
	}
	if (r->nseg == 1 && strcmp(r->method, "POST") == 0) {
		if (req_json(r, &body, msg, sizeof(msg)) != 0) {
			cerr(rs, 400, msg);
			goto out;
		}
		id = json_get_str(body, "id");
		if (id == NULL || !valid_id(id, msg, sizeof(msg))) {
			cerr(rs, 400, id == NULL ? "The database needs an 'id'." : msg);
			goto out;
		}
		v = db_load(id);
		if (jv_is_valid(v)) {
			jv_free(v);
			cerr(rs, 409, exists_msg);
			goto out;
		}
		jv_free(v);
		make_rid(rid, sizeof(rid), none, 0, 4);
		snprintf(self, sizeof(self), "dbs/%s/", rid);
		v = JV_OBJECT(jv_string("id"), jv_string(id),
		    jv_string("_rid"), jv_string(rid),
		    jv_string("_self"), jv_string(self),
		    jv_string("_etag"), new_etag(),
		    jv_string("_colls"), jv_string("colls/"),
		    jv_string("_users"), jv_string("users/"),
		    jv_string("_ts"), jv_number(floor(emu_now())));
		st = store_stmt("INSERT INTO cdbs VALUES(?,?)");
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, json_dump(v, 0), -1, free);
		created(rs, st, v);
		goto out;
	}
	if (r->nseg == 2 && (strcmp(r->method, "GET") == 0 ||
	    strcmp(r->method, "DELETE") == 0)) {
		v = db_load(r->seg[1]);
		if (!jv_is_valid(v)) {
			jv_free(v);
			not_found(rs);
			charge(rs, 1);
			goto out;
		}
		if (strcmp(r->method, "GET") == 0) {
			resp_json(rs, 200, v);
			charge(rs, 1);
			goto out;
		}
		jv_free(v);
		st = store_stmt("DELETE FROM cdocs WHERE db=?");
		sqlite3_bind_text(st, 1, r->seg[1], -1, SQLITE_STATIC);
		sqlite3_step(st);
		st = store_stmt("DELETE FROM ccolls WHERE db=?");
		sqlite3_bind_text(st, 1, r->seg[1], -1, SQLITE_STATIC);
		sqlite3_step(st);
		st = store_stmt("DELETE FROM cdbs WHERE id=?");
		sqlite3_bind_text(st, 1, r->seg[1], -1, SQLITE_STATIC);
		sqlite3_step(st);
		sqlite3_reset(st);
		rs->status = 204;
		charge(rs, 1);
		goto out;
	}
	cerr(rs, 405, "The requested verb is not supported.");
out:
	jv_free(body);
}

static void
collections(struct req *r, struct resp *rs)
{
	sqlite3_stmt *st;
	jv body = jv_invalid(), dbv = jv_invalid(), v, pk;
	char msg[300], rid[32], self[96];
	const char *id, *dbrid;
	unsigned char pre[4];
	struct coll c;

	r->kind = "cosmos.coll";
	dbv = db_load(r->seg[1]);
	if (!jv_is_valid(dbv)) {
		not_found(rs);
		charge(rs, 1);
		goto out;
	}
	dbrid = json_get_str(dbv, "_rid");
	if (r->nseg == 3 && strcmp(r->method, "GET") == 0) {
		st = store_stmt("SELECT body FROM ccolls WHERE db=? ORDER BY id");
		sqlite3_bind_text(st, 1, r->seg[1], -1, SQLITE_STATIC);
		feed(rs, st, "DocumentCollections", dbrid ? dbrid : "");
		goto out;
	}
	if (r->nseg == 3 && strcmp(r->method, "POST") == 0) {
		if (req_json(r, &body, msg, sizeof(msg)) != 0) {
			cerr(rs, 400, msg);
			goto out;
		}
		id = json_get_str(body, "id");
		if (id == NULL || !valid_id(id, msg, sizeof(msg))) {
			cerr(rs, 400, id == NULL ? "The container needs an 'id'." : msg);
			goto out;
		}
		pk = json_get(body, "partitionKey");
		if (jv_is_valid(pk)) {
			jv paths = json_get(pk, "paths"), p0;
			int okp = jv_get_kind(paths) == JV_KIND_ARRAY &&
			    jv_array_length(jv_copy(paths)) >= 1;

			if (okp) {
				p0 = jv_array_get(jv_copy(paths), 0);
				okp = jv_get_kind(p0) == JV_KIND_STRING &&
				    jv_string_value(p0)[0] == '/' &&
				    jv_string_value(p0)[1] != '\0';
				jv_free(p0);
			}
			jv_free(paths);
			if (!okp) {
				jv_free(pk);
				cerr(rs, 400, "The partition key definition needs "
				    "'paths' with one path like '/pk'.");
				goto out;
			}
			if (json_get_str(pk, "kind") == NULL)
				pk = jv_object_set(pk, jv_string("kind"), jv_string("Hash"));
		}
		if (coll_load(&c, r->seg[1], id) == 0) {
			coll_release(&c);
			jv_free(pk);
			cerr(rs, 409, exists_msg);
			goto out;
		}
		coll_release(&c);
		rid_bytes(dbrid, pre, sizeof(pre));
		make_rid(rid, sizeof(rid), pre, 4, 4);
		snprintf(self, sizeof(self), "dbs/%s/colls/%s/", dbrid ? dbrid : "",
		    rid);
		v = JV_OBJECT(jv_string("id"), jv_string(id),
		    jv_string("indexingPolicy"), JV_OBJECT(
		    jv_string("indexingMode"), jv_string("consistent"),
		    jv_string("automatic"), jv_true(),
		    jv_string("includedPaths"), JV_ARRAY(JV_OBJECT(
		    jv_string("path"), jv_string("/*"))),
		    jv_string("excludedPaths"), JV_ARRAY(JV_OBJECT(
		    jv_string("path"), jv_string("/\"_etag\"/?")))));
		if (jv_is_valid(pk))
			v = jv_object_set(v, jv_string("partitionKey"), pk);
		else
			jv_free(pk);
		v = jv_object_set(v, jv_string("conflictResolutionPolicy"),
		    JV_OBJECT(jv_string("mode"), jv_string("LastWriterWins"),
		    jv_string("conflictResolutionPath"), jv_string("/_ts"),
		    jv_string("conflictResolutionProcedure"), jv_string("")));
		v = jv_object_set(v, jv_string("geospatialConfig"),
		    JV_OBJECT(jv_string("type"), jv_string("Geography")));
		v = jv_object_set(v, jv_string("_rid"), jv_string(rid));
		v = jv_object_set(v, jv_string("_ts"), jv_number(floor(emu_now())));
		v = jv_object_set(v, jv_string("_self"), jv_string(self));
		v = jv_object_set(v, jv_string("_etag"), new_etag());
		v = jv_object_set(v, jv_string("_docs"), jv_string("docs/"));
		v = jv_object_set(v, jv_string("_sprocs"), jv_string("sprocs/"));
		v = jv_object_set(v, jv_string("_triggers"), jv_string("triggers/"));
		v = jv_object_set(v, jv_string("_udfs"), jv_string("udfs/"));
		v = jv_object_set(v, jv_string("_conflicts"), jv_string("conflicts/"));
		st = store_stmt("INSERT INTO ccolls VALUES(?,?,?)");
		sqlite3_bind_text(st, 1, r->seg[1], -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, json_dump(v, 0), -1, free);
		created(rs, st, v);
		goto out;
	}
	if (r->nseg == 4 && (strcmp(r->method, "GET") == 0 ||
	    strcmp(r->method, "DELETE") == 0)) {
		if (coll_load(&c, r->seg[1], r->seg[3]) != 0) {
			coll_release(&c);
			not_found(rs);
			charge(rs, 1);
			goto out;
		}
		if (strcmp(r->method, "GET") == 0) {
			resp_json(rs, 200, jv_copy(c.body));
		} else {
			st = store_stmt("DELETE FROM cdocs WHERE db=? AND coll=?");
			sqlite3_bind_text(st, 1, r->seg[1], -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, r->seg[3], -1, SQLITE_STATIC);
			sqlite3_step(st);
			st = store_stmt("DELETE FROM ccolls WHERE db=? AND id=?");
			sqlite3_bind_text(st, 1, r->seg[1], -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, r->seg[3], -1, SQLITE_STATIC);
			sqlite3_step(st);
			sqlite3_reset(st);
			rs->status = 204;
		}
		coll_release(&c);
		charge(rs, 1);
		goto out;
	}
	cerr(rs, 405, "The requested verb is not supported.");
out:
	jv_free(body);
	jv_free(dbv);
}

static void
pkranges(struct resp *rs, struct coll *c)
{
	const char *rid = json_get_str(c->body, "_rid");

	jv range = JV_OBJECT(jv_string("_rid"), jv_string(rid ? rid : ""),
	    jv_string("id"), jv_string("0"),
	    jv_string("_etag"), jv_string("\"00000000-0000-0000-0000-000000000000\""),
	    jv_string("minInclusive"), jv_string(""),
	    jv_string("maxExclusive"), jv_string("FF"),
	    jv_string("ridPrefix"), jv_number(0),
	    jv_string("_self"), jv_string(""),
	    jv_string("throughputFraction"), jv_number(1),
	    jv_string("status"), jv_string("online"));

	range = jv_object_set(range, jv_string("parents"), jv_array());
	range = jv_object_set(range, jv_string("_ts"), jv_number(0));
	resp_json(rs, 200, JV_OBJECT(jv_string("_rid"), jv_string(rid ? rid : ""),
	    jv_string("PartitionKeyRanges"), JV_ARRAY(range),
	    jv_string("_count"), jv_number(1)));
	resp_header(rs, "x-ms-item-count", "1");
	charge(rs, 1);
}

/* Transactional batch: all operations or none. */
static void
batch(struct req *r, struct resp *rs, struct coll *c, const char *pk)
{
	jv ops = jv_invalid(), e, out = jv_array(), rb;
	struct opres *res = NULL;
	char msg[300], *opk = NULL;
	const char *type, *id, *im;
	int i, n = 0, failed = -1;
	double ru = 0;

	if (req_json(r, &ops, msg, sizeof(msg)) != 0) {
		cerr(rs, 400, msg);
		goto out;
	}
	if (jv_get_kind(ops) != JV_KIND_ARRAY ||
	    (n = jv_array_length(jv_copy(ops))) == 0 || n > COSMOS_MAX_BATCH) {
		cerr(rs, 400, "A batch needs 1 to 100 operations.");
		goto out;
	}
	if (pk == NULL) {
		cerr(rs, 400, "A batch needs the partition key header.");
		goto out;
	}
	res = xcalloc((size_t)n, sizeof(*res));
	store_exec("SAVEPOINT batch");
	for (i = 0; i < n; i++) {
		e = jv_array_get(jv_copy(ops), i);
		type = json_get_str(e, "operationType");
		id = json_get_str(e, "id");
		im = json_get_str(e, "ifMatch");
		rb = json_get(e, "resourceBody");
		res[i].doc = jv_invalid();
		if (jv_get_kind(e) != JV_KIND_OBJECT || type == NULL) {
			jv_free(rb);
			res_err(&res[i], 400, "operationType missing");
		} else if (strcasecmp(type, "Create") == 0 ||
		    strcasecmp(type, "Upsert") == 0) {
			op_create(c, rb, pk, strcasecmp(type, "Upsert") == 0, im, &res[i]);
		} else if (id == NULL) {
			jv_free(rb);
			res_err(&res[i], 400, "the operation needs an id");
		} else if (strcasecmp(type, "Read") == 0) {
			jv_free(rb);
			op_read(c, pk, id, &res[i]);
		} else if (strcasecmp(type, "Replace") == 0) {
			op_replace(c, pk, id, rb, im, &res[i]);
		} else if (strcasecmp(type, "Delete") == 0) {
			jv_free(rb);
			op_delete(c, pk, id, im, &res[i]);
		} else if (strcasecmp(type, "Patch") == 0) {
			jv pops = json_get(rb, "operations");
			const char *cond = json_get_str(rb, "condition");

			if (!jv_is_valid(pops) && jv_get_kind(rb) == JV_KIND_ARRAY) {
				jv_free(pops);
				pops = jv_copy(rb);
			}
			op_patch(c, pk, id, pops, cond, im, &res[i]);
			jv_free(rb);
		} else {
			jv_free(rb);
			res_err(&res[i], 400, "unknown operationType");
		}
		jv_free(e);
		if (res[i].status >= 400) {
			failed = i;
			break;
		}
	}
	if (failed >= 0)
		store_exec("ROLLBACK TO batch");
	store_exec("RELEASE batch");
	for (i = 0; i < n; i++) {
		jv o;

		if (failed >= 0 && i != failed) {
			o = JV_OBJECT(jv_string("statusCode"), jv_number(424),
			    jv_string("requestCharge"), jv_number(0));
		} else {
			o = JV_OBJECT(jv_string("statusCode"), jv_number(res[i].status),
			    jv_string("requestCharge"), jv_number(res[i].ru));
			if (res[i].status < 400 && jv_is_valid(res[i].doc)) {
				const char *et = json_get_str(res[i].doc, "_etag");

				if (et != NULL)
					o = jv_object_set(o, jv_string("eTag"), jv_string(et));
				if (res[i].status != 204)
					o = jv_object_set(o, jv_string("resourceBody"),
					    jv_copy(res[i].doc));
			} else if (res[i].status >= 400)
				o = jv_object_set(o, jv_string("message"),
				    jv_string(res[i].msg));
		}
		ru += res[i].ru;
		jv_free(res[i].doc);
		out = jv_array_append(out, o);
	}
	resp_json(rs, failed >= 0 ? 207 : 200, out);
	out = jv_invalid();
	charge(rs, ru);
out:
	free(res);
	free(opk);
	jv_free(out);
	jv_free(ops);
}

/*
 * The query forms served: SELECT [TOP n] * | VALUE COUNT(1) FROM alias
 * [WHERE <condition as in patch conditions, with @parameters>].
 * Fills the where text ("from alias where ...") and returns 0, or -1.
 */
struct cquery {
	long top;
	int count;
	struct buf cond;
};

static int
kw(const char **s, const char *k)
{
	size_t n = strlen(k);

	while (isspace((unsigned char)**s))
		(*s)++;
	if (strncasecmp(*s, k, n) != 0 || isalnum((unsigned char)(*s)[n]) ||
	    (*s)[n] == '_')
		return 0;
	*s += n;
	return 1;
}

static int
cquery_parse(const char *text, struct cquery *q)
{
	const char *s = text, *st;
	char *end;

	q->top = 0;
	q->count = 0;
	if (!kw(&s, "SELECT"))
		return -1;
	if (kw(&s, "TOP")) {
		while (isspace((unsigned char)*s))
			s++;
		q->top = strtol(s, &end, 10);
		if (end == s || q->top <= 0)
			return -1;
		s = end;
	}
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '*')
		s++;
	else if (kw(&s, "VALUE")) {
		while (isspace((unsigned char)*s))
			s++;
		if (strncasecmp(s, "COUNT(1)", 8) != 0)
			return -1;
		s += 8;
		q->count = 1;
	} else
		return -1;
	if (!kw(&s, "FROM"))
		return -1;
	while (isspace((unsigned char)*s))
		s++;
	st = s;
	while (isalnum((unsigned char)*s) || *s == '_')
		s++;
	if (s == st)
		return -1;
	buf_adds(&q->cond, "from ");
	buf_add(&q->cond, st, (size_t)(s - st));
	buf_addc(&q->cond, ' ');
	buf_adds(&q->cond, s);	/* "" or "WHERE ..." */
	buf_cstr(&q->cond);
	return 0;
}

/* The query plan Microsoft's SDKs ask the gateway for. */
static void
query_plan(struct req *r, struct resp *rs)
{
	struct cquery q = { 0, 0, BUF_INIT };
	jv body = jv_invalid(), qi;
	char msg[300];
	const char *text;

	if (req_json(r, &body, msg, sizeof(msg)) != 0 ||
	    (text = json_get_str(body, "query")) == NULL ||
	    cquery_parse(text, &q) != 0 || q.count) {
		cerr(rs, 400, "twin-emulator serves queries of the form SELECT "
		    "[TOP n] * FROM c [WHERE ...] (VALUE COUNT(1) without the "
		    "query plan only).");
		goto out;
	}
	qi = JV_OBJECT(jv_string("distinctType"), jv_string("None"),
	    jv_string("top"), q.top > 0 ? jv_number(q.top) : jv_null(),
	    jv_string("offset"), jv_null(), jv_string("limit"), jv_null(),
	    jv_string("orderBy"), jv_array(),
	    jv_string("orderByExpressions"), jv_array(),
	    jv_string("groupByExpressions"), jv_array(),
	    jv_string("groupByAliases"), jv_array());
	qi = jv_object_set(qi, jv_string("aggregates"), jv_array());
	qi = jv_object_set(qi, jv_string("groupByAliasToAggregateType"),
	    jv_object());
	qi = jv_object_set(qi, jv_string("rewrittenQuery"), jv_string(""));
	qi = jv_object_set(qi, jv_string("hasSelectValue"), jv_false());
	qi = jv_object_set(qi, jv_string("dCountInfo"), jv_null());
	qi = jv_object_set(qi, jv_string("hasNonStreamingOrderBy"), jv_false());
	resp_json(rs, 200, JV_OBJECT(
	    jv_string("partitionedQueryExecutionInfoVersion"), jv_number(2),
	    jv_string("queryInfo"), qi,
	    jv_string("queryRanges"), JV_ARRAY(JV_OBJECT(
	    jv_string("min"), jv_string(""), jv_string("max"), jv_string("FF"),
	    jv_string("isMinInclusive"), jv_true(),
	    jv_string("isMaxInclusive"), jv_false()))));
	charge(rs, 0);
out:
	buf_release(&q.cond);
	jv_free(body);
}

static void
query(struct req *r, struct resp *rs, struct coll *c, const char *pk)
{
	struct cquery q = { 0, 0, BUF_INIT };
	jv body = jv_invalid(), params, arr = jv_array(), v, probe;
	char msg[300];
	const char *text, *mi = req_header(r, "x-ms-max-item-count"),
	    *cont = req_header(r, "x-ms-continuation");
	long page = mi != NULL ? strtol(mi, NULL, 10) : 100, skip = 0, seen = 0,
	    got = 0, count = 0;
	sqlite3_stmt *st;
	int more = 0, m;

	if (page <= 0 || page > 1000)
		page = 1000;
	if (cont != NULL && (strncmp(cont, "tpemu:", 6) != 0 ||
	    (skip = strtol(cont + 6, NULL, 10)) < 0)) {
		cerr(rs, 400, "Invalid continuation token.");
		goto out;
	}
	if (req_json(r, &body, msg, sizeof(msg)) != 0 ||
	    (text = json_get_str(body, "query")) == NULL) {
		cerr(rs, 400, "The query body must be {\"query\": \"SELECT ...\"}.");
		goto out;
	}
	if (cquery_parse(text, &q) != 0) {
		cerr(rs, 400, "twin-emulator serves queries of the form SELECT "
		    "[TOP n] * | VALUE COUNT(1) FROM c [WHERE ...].");
		goto out;
	}
	params = json_get(body, "parameters");
	probe = jv_object();
	m = jpatch_cond_params(q.cond.p, probe, params, msg, sizeof(msg));
	jv_free(probe);
	if (m < 0) {
		jv_free(params);
		cerr(rs, 400, msg);
		goto out;
	}
	st = coll_docs_stmt(c, pk);
	while (sqlite3_step(st) == SQLITE_ROW) {
		v = store_col_json(st, 0);
		if (!jv_is_valid(v) ||
		    jpatch_cond_params(q.cond.p, v, params, msg, sizeof(msg)) != 1) {
			jv_free(v);
			continue;
		}
		count++;
		if (q.count || seen++ < skip || (q.top > 0 && skip + got >= q.top)) {
			jv_free(v);
			continue;
		}
		if (got == page) {
			jv_free(v);
			more = 1;
			break;
		}
		arr = jv_array_append(arr, v);
		got++;
	}
	sqlite3_reset(st);
	jv_free(params);
	if (q.count) {
		jv_free(arr);
		arr = JV_ARRAY(jv_number(count));
		got = 1;
	}
	if (more) {
		resp_header(rs, "x-ms-continuation", "tpemu:%ld", skip + got);
	}
	resp_header(rs, "x-ms-item-count", "%ld", got);
	resp_json(rs, 200, JV_OBJECT(jv_string("_rid"),
	    jv_string(json_get_str(c->body, "_rid") ? json_get_str(c->body,
	    "_rid") : ""), jv_string("Documents"), arr,
	    jv_string("_count"), jv_number(got)));
	arr = jv_invalid();
	charge(rs, 2.5 + 0.1 * (double)seen);
out:
	jv_free(arr);
	buf_release(&q.cond);
	jv_free(body);
}

/* The key of a logical partition for the RU budget. Malloc'd. */
static char *
part_key(struct coll *c, const char *pk)
{
	struct buf b = BUF_INIT;

	buf_adds(&b, c->db);
	buf_addc(&b, '\x1f');
	buf_adds(&b, c->id);
	buf_addc(&b, '\x1f');
	buf_adds(&b, pk != NULL ? pk : "");
	return buf_cstr(&b);
}

/* Send an operation's result and charge it to its partition. */
static void
finish(struct resp *rs, struct opres *o, const char *pkey)
{
	faults_partition_charge(pkey, o->ru);
	send_res(rs, o);
}

/* The 400 for a partitioned collection addressed without a partition key. */
static void
pk_missing(struct resp *rs)
{
	cerr(rs, 400, "The partition key supplied in x-ms-partitionkey "
	    "header has fewer components than defined in the the "
	    "collection.");
}

/* GET of a collection's docs: its documents, of one partition if pk is set. */
static void
docs_feed(struct resp *rs, struct coll *c, const char *pk)
{
	sqlite3_stmt *st;

	st = coll_docs_stmt(c, pk);
	feed(rs, st, "Documents", json_get_str(c->body, "_rid"));
}

/* POST to a collection's docs: a batch, a query plan, a query or a create. */
static void
docs_post(struct req *r, struct resp *rs, struct coll *c, const char *pk)
{
	struct opres o = { 0, "", jv_invalid(), 0 };
	const char *ct = req_header(r, "Content-Type");
	char msg[300], *pkey;
	jv body = jv_invalid();

	if (truthy(req_header(r, "x-ms-cosmos-is-batch-request"))) {
		r->kind = "cosmos.batch";
		batch(r, rs, c, pk);
		return;
	}
	if (truthy(req_header(r, "x-ms-cosmos-is-query-plan-request"))) {
		r->kind = "cosmos.query";
		query_plan(r, rs);
		return;
	}
	if (truthy(req_header(r, "x-ms-documentdb-isquery")) ||
	    (ct != NULL && strncasecmp(ct, "application/query+json", 22) == 0)) {
		r->kind = "cosmos.query";
		query(r, rs, c, pk);
		return;
	}
	if (req_json(r, &body, msg, sizeof(msg)) != 0) {
		cerr(rs, 400, msg);
		jv_free(body);
		return;
	}
	if (pk == NULL && c->partitioned) {
		pk_missing(rs);
		jv_free(body);
		return;
	}
	pkey = part_key(c, pk);
	if (faults_partition(pkey, rs))
		jv_free(body);
	else {
		op_create(c, body, pk,
		    truthy(req_header(r, "x-ms-documentdb-is-upsert")),
		    req_header(r, "If-Match"), &o);
		finish(rs, &o, pkey);
	}
	free(pkey);
}

/*
 * PATCH of one document: body (borrowed) is an array of operations or an
 * object with "operations" and an optional "condition". 0 once o holds the
 * result; -1 after answering 400.
 */
static int
doc_patch(struct resp *rs, struct coll *c, const char *pk, const char *id,
    jv body, const char *im, struct opres *o)
{
	if (jv_get_kind(body) == JV_KIND_ARRAY) {
		op_patch(c, pk, id, jv_copy(body), NULL, im, o);
	} else if (jv_get_kind(body) == JV_KIND_OBJECT) {
		const char *cond = json_get_str(body, "condition");
		jv cj = json_get(body, "condition");

		if (jv_is_valid(cj) && cond == NULL) {
			jv_free(cj);
			cerr(rs, 400, "The patch condition must be a string.");
			return -1;
		}
		jv_free(cj);
		op_patch(c, pk, id, json_get(body, "operations"), cond, im, o);
	} else {
		cerr(rs, 400, "The patch body must be an object with "
		    "'operations' or an array of operations.");
		return -1;
	}
	return 0;
}

/* GET, PUT, DELETE or PATCH of one document of partition pk. */
static void
doc_item(struct req *r, struct resp *rs, struct coll *c, const char *pk)
{
	struct opres o = { 0, "", jv_invalid(), 0 };
	const char *m = r->method, *im = req_header(r, "If-Match"), *inm;
	const char *id = r->seg[5];
	char msg[300], *pkey = part_key(c, pk);
	jv body = jv_invalid();

	if (faults_partition(pkey, rs))
		goto out;
	if (strcmp(m, "GET") == 0) {
		op_read(c, pk, id, &o);
		inm = req_header(r, "If-None-Match");
		if (o.status == 200 && inm != NULL &&
		    json_get_str(o.doc, "_etag") != NULL &&
		    strcmp(inm, json_get_str(o.doc, "_etag")) == 0) {
			rs->status = 304;
			resp_header(rs, "etag", "%s", inm);
			charge(rs, 1);
			jv_free(o.doc);
			goto out;
		}
		finish(rs, &o, pkey);
	} else if (strcmp(m, "DELETE") == 0) {
		op_delete(c, pk, id, im, &o);
		finish(rs, &o, pkey);
	} else if (strcmp(m, "PUT") != 0 && strcmp(m, "PATCH") != 0)
		cerr(rs, 405, "The requested verb is not supported.");
	else if (req_json(r, &body, msg, sizeof(msg)) != 0)
		cerr(rs, 400, msg);
	else if (strcmp(m, "PUT") == 0) {
		op_replace(c, pk, id, body, im, &o);
		body = jv_invalid();
		finish(rs, &o, pkey);
	} else if (doc_patch(rs, c, pk, id, body, im, &o) == 0)
		finish(rs, &o, pkey);
out:
	free(pkey);
	jv_free(body);
}

/* The docs and pkranges of a collection: dbs/D/colls/C/{docs,pkranges}... */
static void
documents(struct req *r, struct resp *rs)
{
	struct coll c;
	char *pk = NULL;

	r->kind = strcmp(r->seg[4], "pkranges") == 0 ? "cosmos.pkranges" :
	    "cosmos.doc";
	if (coll_load(&c, r->seg[1], r->seg[3]) != 0) {
		not_found(rs);
		charge(rs, 1);
	} else if (strcmp(r->seg[4], "pkranges") == 0 && r->nseg == 5)
		pkranges(rs, &c);
	else if (strcmp(r->seg[4], "docs") != 0)
		cerr(rs, 404, "This resource type is not supported by twin-emulator.");
	else if ((pk = hdr_pk(r, &c)) != NULL && strcmp(pk, "!") == 0)
		cerr(rs, 400, "The partition key header is not a JSON array of one value.");
	else if (r->nseg == 5 && strcmp(r->method, "GET") == 0)
		docs_feed(rs, &c, pk);
	else if (r->nseg == 5 && strcmp(r->method, "POST") == 0)
		docs_post(r, rs, &c, pk);
	else if (r->nseg != 6)
		cerr(rs, 405, "The requested verb is not supported.");
	else if (pk == NULL && c.partitioned)
		pk_missing(rs);
	else
		doc_item(r, rs, &c, pk != NULL ? pk : "");
	free(pk);
	coll_release(&c);
}

/*
 * The audiences an Entra token must have here: the account's resource URI,
 * https://HOST as the client addressed it (port dropped, as the SDKs and
 * push-cosmos make the scope; http://HOST too when serving plain HTTP),
 * and the account-independent one.
 */
static void
cosmos_audiences(struct req *r, char *out, size_t outsz)
{
	const char *host = req_header(r, "Host"), *colon;
	size_t n;

	if (host == NULL || *host == '\0' || strchr(host, ' ') != NULL) {
		snprintf(out, outsz, "%s", COSMOS_AUDIENCE);
		return;
	}
	if (*host == '[')
		n = strcspn(host, "]") + (strchr(host, ']') != NULL);
	else
		n = (colon = strchr(host, ':')) != NULL ?
		    (size_t)(colon - host) : strlen(host);
	if (n > 120)
		n = 120;
	/* served over plain HTTP, the account URI a client derives from its
	 * endpoint is http://HOST: accept that one too */
	snprintf(out, outsz, "https://%.*s %s%.*s %s", (int)n, host,
	    emu.tls ? "" : "http://", emu.tls ? 0 : (int)n, host,
	    COSMOS_AUDIENCE);
}

/* Check the Authorization header. Returns 0, or -1 with rs filled. */
static int
authorize(struct req *r, struct resp *rs)
{
	const char *auth = req_header(r, "Authorization");
	const char *date = req_header(r, "x-ms-date");
	struct buf type = BUF_INIT, link = BUF_INIT;
	struct tm tm;
	char *tok = NULL, msg[200], full[700];
	const char *end;
	enum cosmos_auth a;
	int rc = -1;

	if (emu.no_auth)
		return 0;
	if (date == NULL)
		date = req_header(r, "Date");
	if (auth == NULL) {
		cerr(rs, 401, "Required Header authorization is missing. Ensure a "
		    "valid Authorization token is passed.");
		goto out;
	}
	if (date == NULL) {
		cerr(rs, 401, "The input authorization token can't serve the "
		    "request. The x-ms-date header is missing.");
		goto out;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (end == NULL || *end != '\0') {
		cerr(rs, 401, "The x-ms-date header is not an RFC 7231 date.");
		goto out;
	}
	if (fabs((double)timegm(&tm) - emu_now()) > 900) {
		cerr(rs, 403, "The authorization token is not valid at the current "
		    "time. Please create another token and retry (token start "
		    "time: x-ms-date is more than 15 minutes away from the "
		    "server's time).");
		goto out;
	}
	cosmos_sig_resource(&type, &link, r->seg, r->nseg);
	a = cosmos_sig_verify(auth, r->method, type.p, link.p, date, emu.key, &tok);
	if (a == COSMOS_AUTH_AAD) {
		char auds[300];

		cosmos_audiences(r, auds, sizeof(auds));
		if (token_check(tok, auds, msg, sizeof(msg)) != 0) {
			snprintf(full, sizeof(full), "Request blocked by Auth: %s", msg);
			cerr(rs, 401, full);
			goto out;
		}
	} else if (a != COSMOS_AUTH_OK) {
		char *lv = xstrdup(r->method), *p;

		for (p = lv; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
		snprintf(full, sizeof(full), "The input authorization token can't "
		    "serve the request. The wrong key is being used or the "
		    "expected payload is not built as per the protocol. Server "
		    "used the following payload to sign: '%s\\n%s\\n%.300s\\n%s\\n\\n'",
		    lv, type.p, link.p, date);
		free(lv);
		cerr(rs, 401, full);
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		charge(rs, 0);
	free(tok);
	buf_release(&type);
	buf_release(&link);
	return rc;
}

static int
has_header(const struct resp *rs, const char *name)
{
	const char *p = rs->hdrs.p, *end = rs->hdrs.p + rs->hdrs.len;

	while (p != NULL && p < end) {
		if (strcasecmp(p, name) == 0)
			return 1;
		p += strlen(p) + 1;
		p += strlen(p) + 1;
	}
	return 0;
}

void
cosmos_handle(struct req *r, struct resp *rs)
{
	char act[37];

	emu_guid(act);
	resp_header(rs, "x-ms-activity-id", "%s", act);
	resp_header(rs, "x-ms-gatewayversion", "version=2.14.0");
	resp_header(rs, "x-ms-serviceversion", "version=2.14.0.0");
	if (r->nseg == 0) {
		r->kind = "cosmos.account";
		if (authorize(r, rs) != 0)
			return;
		if (strcmp(r->method, "GET") != 0) {
			cerr(rs, 405, "The requested verb is not supported.");
			return;
		}
		account(r, rs);
		return;
	}
	if (strcmp(r->seg[0], "dbs") != 0 || r->nseg > 6) {
		cerr(rs, 404, "The requested resource is not served by twin-emulator.");
		return;
	}
	if (authorize(r, rs) != 0)
		return;
	store_lock();
	if (r->nseg <= 2)
		databases(r, rs);
	else if (strcmp(r->seg[2], "colls") != 0)
		cerr(rs, 404, "This resource type is not supported by twin-emulator.");
	else if (r->nseg <= 4)
		collections(r, rs);
	else
		documents(r, rs);
	store_unlock();
	if (!has_header(rs, "x-ms-request-charge"))
		charge(rs, rs->status >= 400 ? 1 : 0);
}
