/*
 * eh_store.c - the Event Hubs store (eh.h, eh_store.h): hubs, partitions,
 * events with sequence numbers, offsets and enqueued times, a retention
 * bound by count and age.
 *
 * Every partition's kept events are in memory (an array with a moving
 * head); with --db they are also written through to the emulator's SQLite
 * file and loaded again at start. The store has its own SQLite connection
 * to that file (WAL mode) and its own mutex, so that a caller holding the
 * HTTP store's lock (IoT Hub routing publishes while a twin is updated)
 * can publish without a lock-order problem.
 *
 * Offsets are byte positions: an event's offset is the sum of the encoded
 * sizes of the partition's events before it (opaque to clients).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <proton/codec.h>
#include <proton/message.h>
#include <sqlite3.h>

#include "clock.h"
#include "eh.h"
#include "eh_store.h"
#include "fnv.h"
#include "log.h"

struct part {
	struct eh_rec *ev;
	size_t head, n, cap;	/* kept events are ev[head .. head+n) */
	int64_t next_seq, next_off, last_time;
	int64_t last_seq, last_off;
};

struct hub {
	char *name;
	int n;
	int64_t created;
	unsigned rr;
	struct part p[EH_MAX_PARTITIONS];
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct eh_config cfg = { NULL, 4, 0, 0, 0 };
static struct hub **hubs;
static int nhubs;
static sqlite3 *db;
static sqlite3_stmt *st_ins, *st_trim, *st_hub;
static void (*notify_fn)(void *);
static void *notify_ctx;

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS eh_hubs(name TEXT PRIMARY KEY,"
    " parts INTEGER NOT NULL, created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS eh_events(hub TEXT, part INTEGER,"
    " seq INTEGER, off INTEGER, t INTEGER, pkey TEXT, msg BLOB,"
    " PRIMARY KEY(hub, part, seq));";

static void
part_init(struct part *p)
{
	memset(p, 0, sizeof(*p));
	p->last_seq = -1;
	p->last_off = -1;
}

static struct hub *
hub_find(const char *name)
{
	int i;

	for (i = 0; i < nhubs; i++)
		if (strcmp(hubs[i]->name, name) == 0)
			return hubs[i];
	return NULL;
}

static struct hub *
hub_new(const char *name, int n, int64_t created, int persist)
{
	struct hub *h, **nh;
	int i;

	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (h->name = strdup(name)) == NULL ||
	    (nh = realloc(hubs, sizeof(*hubs) * (size_t)(nhubs + 1))) == NULL) {
		if (h != NULL)
			free(h->name);
		free(h);
		return NULL;
	}
	hubs = nh;
	h->n = n;
	h->created = created;
	for (i = 0; i < EH_MAX_PARTITIONS; i++)
		part_init(&h->p[i]);
	hubs[nhubs++] = h;
	if (persist && db != NULL) {
		sqlite3_reset(st_hub);
		sqlite3_bind_text(st_hub, 1, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(st_hub, 2, n);
		sqlite3_bind_int64(st_hub, 3, created);
		if (sqlite3_step(st_hub) != SQLITE_DONE)
			log_error("eventhubs: %s: %s", name, sqlite3_errmsg(db));
	}
	return h;
}

static int
name_ok(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n < EH_MAX_NAME && strchr(name, '/') == NULL;
}

void
eh_rec_free(struct eh_rec *r)
{
	if (r == NULL)
		return;
	free(r->pkey);
	free(r->msg);
	r->pkey = NULL;
	r->msg = NULL;
}

/* Append a record (consumed) to p; the lock is held. */
static int
part_push(struct part *p, struct eh_rec *r)
{
	struct eh_rec *nv;
	size_t cap;

	if (p->head > 0 && p->head + p->n == p->cap && p->head >= p->n) {
		memmove(p->ev, p->ev + p->head, p->n * sizeof(*p->ev));
		p->head = 0;
	}
	if (p->head + p->n == p->cap) {
		cap = p->cap ? p->cap * 2 : 64;
		if ((nv = realloc(p->ev, cap * sizeof(*nv))) == NULL)
			return -1;
		p->ev = nv;
		p->cap = cap;
	}
	p->ev[p->head + p->n++] = *r;
	p->next_seq = r->seq + 1;
	p->next_off = r->off + (int64_t)r->len;
	p->last_seq = r->seq;
	p->last_off = r->off;
	p->last_time = r->t_ms;
	return 0;
}

/* Drop what is beyond retention; the lock is held. */
static void
part_trim(struct hub *h, int part, int64_t now)
{
	struct part *p = &h->p[part];
	size_t drop = 0;

	while (drop < p->n) {
		const struct eh_rec *r = &p->ev[p->head + drop];

		if (cfg.retention_count > 0 &&
		    p->n - drop > (size_t)cfg.retention_count) {
			drop++;
			continue;
		}
		if (cfg.retention_age > 0 &&
		    r->t_ms < now - (int64_t)(cfg.retention_age * 1000)) {
			drop++;
			continue;
		}
		break;
	}
	if (drop == 0)
		return;
	for (size_t i = 0; i < drop; i++)
		eh_rec_free(&p->ev[p->head + i]);
	p->head += drop;
	p->n -= drop;
	if (p->n == 0)
		p->head = 0;
	if (db != NULL) {
		sqlite3_reset(st_trim);
		sqlite3_bind_text(st_trim, 1, h->name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(st_trim, 2, part);
		sqlite3_bind_int64(st_trim, 3, p->n ? p->ev[p->head].seq :
		    p->next_seq);
		if (sqlite3_step(st_trim) != SQLITE_DONE)
			log_error("eventhubs: trim: %s", sqlite3_errmsg(db));
	}
}

static int
db_load(void)
{
	sqlite3_stmt *st;
	struct hub *h;
	struct eh_rec r;
	int rc = 0;

	if (sqlite3_prepare_v2(db, "SELECT name, parts, created FROM eh_hubs",
	    -1, &st, NULL) != SQLITE_OK)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		int n = sqlite3_column_int(st, 1);

		if (n < 1 || n > EH_MAX_PARTITIONS)
			continue;
		if (hub_new((const char *)sqlite3_column_text(st, 0), n,
		    sqlite3_column_int64(st, 2), 0) == NULL)
			rc = -1;
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(db, "SELECT hub, part, seq, off, t, pkey, msg "
	    "FROM eh_events ORDER BY hub, part, seq", -1, &st, NULL) != SQLITE_OK)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		int part = sqlite3_column_int(st, 1);
		const void *blob = sqlite3_column_blob(st, 6);
		size_t len = (size_t)sqlite3_column_bytes(st, 6);

		h = hub_find((const char *)sqlite3_column_text(st, 0));
		if (h == NULL || part < 0 || part >= h->n)
			continue;
		memset(&r, 0, sizeof(r));
		r.seq = sqlite3_column_int64(st, 2);
		r.off = sqlite3_column_int64(st, 3);
		r.t_ms = sqlite3_column_int64(st, 4);
		if (sqlite3_column_type(st, 5) != SQLITE_NULL)
			r.pkey = strdup((const char *)sqlite3_column_text(st, 5));
		r.msg = malloc(len ? len : 1);
		r.len = len;
		if (r.msg == NULL) {
			eh_rec_free(&r);
			rc = -1;
			break;
		}
		if (len)
			memcpy(r.msg, blob, len);
		if (part_push(&h->p[part], &r) != 0) {
			eh_rec_free(&r);
			rc = -1;
			break;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

int
eh_init(const struct eh_config *c)
{
	char *err = NULL;

	cfg = *c;
	if (cfg.default_partitions < 1 ||
	    cfg.default_partitions > EH_MAX_PARTITIONS)
		cfg.default_partitions = 4;
	if (cfg.db_path == NULL)
		return 0;
	if (sqlite3_open_v2(cfg.db_path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_error("%s: %s", cfg.db_path, sqlite3_errmsg(db));
		goto fail;
	}
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;",
	    NULL, NULL, &err) != SQLITE_OK ||
	    sqlite3_exec(db, schema, NULL, NULL, &err) != SQLITE_OK) {
		log_error("%s: %s", cfg.db_path, err ? err : "?");
		sqlite3_free(err);
		goto fail;
	}
	if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO eh_events "
	    "VALUES(?,?,?,?,?,?,?)", -1, &st_ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "DELETE FROM eh_events WHERE hub=? AND part=? "
	    "AND seq<?", -1, &st_trim, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO eh_hubs VALUES(?,?,?)",
	    -1, &st_hub, NULL) != SQLITE_OK || db_load() != 0) {
		log_error("%s: event hubs: %s", cfg.db_path, sqlite3_errmsg(db));
		goto fail;
	}
	return 0;
fail:
	eh_release();
	return -1;
}

void
eh_release(void)
{
	int i, j;
	size_t k;

	pthread_mutex_lock(&mu);
	for (i = 0; i < nhubs; i++) {
		for (j = 0; j < EH_MAX_PARTITIONS; j++) {
			struct part *p = &hubs[i]->p[j];

			for (k = 0; k < p->n; k++)
				eh_rec_free(&p->ev[p->head + k]);
			free(p->ev);
		}
		free(hubs[i]->name);
		free(hubs[i]);
	}
	free(hubs);
	hubs = NULL;
	nhubs = 0;
	sqlite3_finalize(st_ins);
	sqlite3_finalize(st_trim);
	sqlite3_finalize(st_hub);
	st_ins = st_trim = st_hub = NULL;
	if (db != NULL)
		sqlite3_close(db);
	db = NULL;
	pthread_mutex_unlock(&mu);
}

int
eh_hub_add(const char *name, int n, char *msg, size_t msgsz)
{
	int rc = 0;

	if (!name_ok(name)) {
		snprintf(msg, msgsz, "event hub name '%s' is empty, too long or "
		    "has a '/'", name);
		return -1;
	}
	if (n < 1 || n > EH_MAX_PARTITIONS) {
		snprintf(msg, msgsz, "event hub '%s': %d partitions is not in "
		    "1..%d", name, n, EH_MAX_PARTITIONS);
		return -1;
	}
	pthread_mutex_lock(&mu);
	if (hub_find(name) == NULL && hub_new(name, n, clock_wall_ms(), 1) == NULL) {
		snprintf(msg, msgsz, "out of memory");
		rc = -1;
	}
	pthread_mutex_unlock(&mu);
	return rc;
}

/* The lock is held. */
static struct hub *
hub_get_locked(const char *name, int create)
{
	struct hub *h = hub_find(name);

	if (h == NULL && create && name_ok(name))
		h = hub_new(name, cfg.default_partitions, clock_wall_ms(), 1);
	return h;
}

int
eh_hub_get(const char *name, int create, int64_t *created_ms)
{
	struct hub *h;
	int n = -1;

	pthread_mutex_lock(&mu);
	h = hub_get_locked(name, create || !cfg.strict);
	if (h != NULL) {
		n = h->n;
		if (created_ms != NULL)
			*created_ms = h->created;
	}
	pthread_mutex_unlock(&mu);
	return n;
}

int
eh_part_info(const char *hub, int part, struct eh_part_info *pi)
{
	struct hub *h;
	struct part *p;
	int rc = -1;

	pthread_mutex_lock(&mu);
	h = hub_get_locked(hub, !cfg.strict);
	if (h != NULL && part >= 0 && part < h->n) {
		p = &h->p[part];
		part_trim(h, part, clock_wall_ms());
		pi->begin_seq = p->n ? p->ev[p->head].seq : -1;
		pi->last_seq = p->last_seq;
		pi->last_off = p->last_off;
		pi->last_time = p->last_time;
		pi->empty = p->n == 0;
		rc = 0;
	}
	pthread_mutex_unlock(&mu);
	return rc;
}

int
eh_publish_raw(const char *hub, const char *partition_key, int partition,
    const void *msg, size_t len, char *err, size_t errsz)
{
	struct hub *h;
	struct part *p;
	struct eh_rec r;
	void (*fn)(void *);
	void *ctx;
	int part;

	memset(&r, 0, sizeof(r));
	pthread_mutex_lock(&mu);
	if ((h = hub_get_locked(hub, 1)) == NULL) {
		pthread_mutex_unlock(&mu);
		snprintf(err, errsz, "event hub '%s': bad name or out of memory",
		    hub);
		return -1;
	}
	if (partition >= 0)
		part = partition;
	else if (partition_key != NULL)
		/* FNV-1a 32: stable across runs and platforms, so one key
		 * keeps its partition (the service's hash is not emulated) */
		part = (int)(fnv1a32(partition_key, strlen(partition_key)) %
		    (unsigned)h->n);
	else
		part = (int)(h->rr++ % (unsigned)h->n);
	if (part >= h->n) {
		pthread_mutex_unlock(&mu);
		snprintf(err, errsz, "event hub '%s' has no partition %d", hub,
		    partition);
		return -1;
	}
	p = &h->p[part];
	r.seq = p->next_seq;
	r.off = p->next_off;
	r.t_ms = clock_wall_ms();
	if (r.t_ms < p->last_time)
		r.t_ms = p->last_time;	/* enqueued times never go back */
	r.len = len;
	if ((r.msg = malloc(len ? len : 1)) == NULL ||
	    (partition_key != NULL && (r.pkey = strdup(partition_key)) == NULL)) {
		eh_rec_free(&r);
		pthread_mutex_unlock(&mu);
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	if (len)
		memcpy(r.msg, msg, len);
	if (db != NULL) {
		sqlite3_reset(st_ins);
		sqlite3_bind_text(st_ins, 1, h->name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(st_ins, 2, part);
		sqlite3_bind_int64(st_ins, 3, r.seq);
		sqlite3_bind_int64(st_ins, 4, r.off);
		sqlite3_bind_int64(st_ins, 5, r.t_ms);
		if (r.pkey != NULL)
			sqlite3_bind_text(st_ins, 6, r.pkey, -1, SQLITE_TRANSIENT);
		sqlite3_bind_blob(st_ins, 7, r.msg, (int)len, SQLITE_TRANSIENT);
		if (sqlite3_step(st_ins) != SQLITE_DONE) {
			snprintf(err, errsz, "event hub '%s': sqlite: %s", hub,
			    sqlite3_errmsg(db));
			eh_rec_free(&r);
			pthread_mutex_unlock(&mu);
			return -1;
		}
	}
	if (part_push(p, &r) != 0) {
		eh_rec_free(&r);
		pthread_mutex_unlock(&mu);
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	part_trim(h, part, r.t_ms);
	fn = notify_fn;
	ctx = notify_ctx;
	pthread_mutex_unlock(&mu);
	if (fn != NULL)
		fn(ctx);
	return part;
}

/* Put one typed value into d. */
static void
put_value(pn_data_t *d, const struct eh_value *v)
{
	const char *s = v->s != NULL ? v->s : "";

	switch (v->type) {
	case EH_STRING:
		pn_data_put_string(d, pn_bytes(strlen(s), s));
		break;
	case EH_SYMBOL:
		pn_data_put_symbol(d, pn_bytes(strlen(s), s));
		break;
	case EH_LONG:
		pn_data_put_long(d, v->i);
		break;
	case EH_TIMESTAMP:
		pn_data_put_timestamp(d, v->i);
		break;
	case EH_BOOL:
		pn_data_put_bool(d, v->i != 0);
		break;
	case EH_DOUBLE:
		pn_data_put_double(d, v->d);
		break;
	}
}

static void
put_map(pn_data_t *d, const struct eh_value *v, int n, int symkeys)
{
	int i;

	pn_data_put_map(d);
	pn_data_enter(d);
	for (i = 0; i < n; i++) {
		const char *k = v[i].name != NULL ? v[i].name : "";

		if (symkeys)
			pn_data_put_symbol(d, pn_bytes(strlen(k), k));
		else
			pn_data_put_string(d, pn_bytes(strlen(k), k));
		put_value(d, &v[i]);
	}
	pn_data_exit(d);
}

int
eh_publish(const char *hub, const char *partition_key, int partition,
    const struct eh_event *ev, char *msg, size_t msgsz)
{
	pn_message_t *m;
	pn_rwbytes_t out = { 0, NULL };
	ssize_t n;
	int rc;

	if ((m = pn_message()) == NULL) {
		snprintf(msg, msgsz, "out of memory");
		return -1;
	}
	if (ev->content_type != NULL)
		pn_message_set_content_type(m, ev->content_type);
	if (ev->content_encoding != NULL)
		pn_message_set_content_encoding(m, ev->content_encoding);
	if (ev->message_id != NULL) {
		pn_atom_t id;

		id.type = PN_STRING;
		id.u.as_bytes = pn_bytes(strlen(ev->message_id), ev->message_id);
		pn_message_set_id(m, id);
	}
	if (ev->nprops > 0)
		put_map(pn_message_properties(m), ev->props, ev->nprops, 0);
	if (ev->nannos > 0)
		put_map(pn_message_annotations(m), ev->annos, ev->nannos, 1);
	pn_data_put_binary(pn_message_body(m), pn_bytes(ev->len,
	    ev->body != NULL ? ev->body : ""));
	pn_message_set_inferred(m, true);	/* binary body: a data section */
	n = pn_message_encode2(m, &out);
	pn_message_free(m);
	if (n < 0) {
		free(out.start);
		snprintf(msg, msgsz, "event hub '%s': cannot encode the event", hub);
		return -1;
	}
	rc = eh_publish_raw(hub, partition_key, partition, out.start, (size_t)n,
	    msg, msgsz);
	free(out.start);
	return rc;
}

int
eh_part_start(const char *hub, int part, enum eh_pos kind, int64_t value,
    int inclusive, int latest, int64_t *seq_out)
{
	struct hub *h;
	struct part *p;
	size_t lo, hi, mid;
	int64_t key;
	int rc = -1;

	pthread_mutex_lock(&mu);
	h = hub_get_locked(hub, !cfg.strict);
	if (h == NULL || part < 0 || part >= h->n)
		goto out;
	p = &h->p[part];
	rc = 0;
	if (latest) {
		*seq_out = p->next_seq;
		goto out;
	}
	/* the first kept event e with e.key > value (>= when inclusive) */
	lo = 0;
	hi = p->n;
	while (lo < hi) {
		const struct eh_rec *r;

		mid = lo + (hi - lo) / 2;
		r = &p->ev[p->head + mid];
		key = kind == EH_POS_OFFSET ? r->off : kind == EH_POS_SEQ ?
		    r->seq : r->t_ms;
		if (inclusive ? key < value : key <= value)
			lo = mid + 1;
		else
			hi = mid;
	}
	*seq_out = lo < p->n ? p->ev[p->head + lo].seq : p->next_seq;
	/* a sequence number past the end waits for that number */
	if (kind == EH_POS_SEQ && lo == p->n && value + !inclusive > p->next_seq)
		*seq_out = value + !inclusive;
out:
	pthread_mutex_unlock(&mu);
	return rc;
}

int
eh_read(const char *hub, int part, int64_t from, int max,
    struct eh_rec *out, int64_t *next)
{
	struct hub *h;
	struct part *p;
	size_t i;
	int n = 0;

	*next = from;
	pthread_mutex_lock(&mu);
	h = hub_find(hub);
	if (h == NULL || part < 0 || part >= h->n)
		goto out;
	p = &h->p[part];
	part_trim(h, part, clock_wall_ms());
	if (p->n == 0 || from >= p->next_seq)
		goto out;
	i = from <= p->ev[p->head].seq ? 0 :
	    (size_t)(from - p->ev[p->head].seq);
	for (; i < p->n && n < max; i++) {
		const struct eh_rec *r = &p->ev[p->head + i];
		struct eh_rec *o = &out[n];

		memset(o, 0, sizeof(*o));
		*o = *r;
		o->pkey = r->pkey != NULL ? strdup(r->pkey) : NULL;
		o->msg = malloc(r->len ? r->len : 1);
		if (o->msg == NULL || (r->pkey != NULL && o->pkey == NULL)) {
			eh_rec_free(o);
			break;
		}
		memcpy(o->msg, r->msg, r->len);
		*next = r->seq + 1;
		n++;
	}
out:
	pthread_mutex_unlock(&mu);
	return n;
}

void
eh_set_notify(void (*fn)(void *), void *ctx)
{
	pthread_mutex_lock(&mu);
	notify_fn = fn;
	notify_ctx = ctx;
	pthread_mutex_unlock(&mu);
}

/* ---- re-encoding with the x-opt annotations ---- */

static int
is_xopt(pn_bytes_t k)
{
	static const char *const names[] = { "x-opt-sequence-number",
	    "x-opt-offset", "x-opt-enqueued-time", "x-opt-partition-key" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (k.size == strlen(names[i]) &&
		    memcmp(k.start, names[i], k.size) == 0)
			return 1;
	return 0;
}

/* The descriptor code of the section decoded into d, or 0. */
static uint64_t
section_code(pn_data_t *d)
{
	uint64_t code = 0;

	pn_data_rewind(d);
	if (!pn_data_next(d) || pn_data_type(d) != PN_DESCRIBED)
		return 0;
	pn_data_enter(d);
	if (pn_data_next(d) && pn_data_type(d) == PN_ULONG)
		code = pn_data_get_ulong(d);
	pn_data_exit(d);
	return code;
}

/* Append src's current value to out (pn_data_appendn copies from the
 * root, not the current node). Scalars only: what annotations hold;
 * anything else becomes null. */
static void
append_current(pn_data_t *out, pn_data_t *src)
{
	switch (pn_data_type(src)) {
	case PN_SYMBOL: pn_data_put_symbol(out, pn_data_get_symbol(src)); break;
	case PN_STRING: pn_data_put_string(out, pn_data_get_string(src)); break;
	case PN_BINARY: pn_data_put_binary(out, pn_data_get_binary(src)); break;
	case PN_BOOL: pn_data_put_bool(out, pn_data_get_bool(src)); break;
	case PN_UBYTE: pn_data_put_ubyte(out, pn_data_get_ubyte(src)); break;
	case PN_BYTE: pn_data_put_byte(out, pn_data_get_byte(src)); break;
	case PN_USHORT: pn_data_put_ushort(out, pn_data_get_ushort(src)); break;
	case PN_SHORT: pn_data_put_short(out, pn_data_get_short(src)); break;
	case PN_UINT: pn_data_put_uint(out, pn_data_get_uint(src)); break;
	case PN_INT: pn_data_put_int(out, pn_data_get_int(src)); break;
	case PN_ULONG: pn_data_put_ulong(out, pn_data_get_ulong(src)); break;
	case PN_LONG: pn_data_put_long(out, pn_data_get_long(src)); break;
	case PN_TIMESTAMP:
		pn_data_put_timestamp(out, pn_data_get_timestamp(src));
		break;
	case PN_FLOAT: pn_data_put_float(out, pn_data_get_float(src)); break;
	case PN_DOUBLE: pn_data_put_double(out, pn_data_get_double(src)); break;
	case PN_UUID: pn_data_put_uuid(out, pn_data_get_uuid(src)); break;
	default: pn_data_put_null(out); break;
	}
}

static int
put_annotations(pn_data_t *out, const struct eh_rec *r, pn_data_t *old)
{
	char off[24];

	pn_data_clear(out);
	pn_data_put_described(out);
	pn_data_enter(out);
	pn_data_put_ulong(out, 0x72);
	pn_data_put_map(out);
	pn_data_enter(out);
	if (old != NULL) {
		/* old holds the described map: copy the other keys */
		pn_data_rewind(old);
		pn_data_next(old);
		pn_data_enter(old);
		pn_data_next(old);	/* descriptor */
		if (pn_data_next(old) && pn_data_type(old) == PN_MAP) {
			pn_data_enter(old);
			while (pn_data_next(old)) {
				pn_bytes_t k = { 0, NULL };
				int skip;

				if (pn_data_type(old) == PN_SYMBOL)
					k = pn_data_get_symbol(old);
				else if (pn_data_type(old) == PN_STRING)
					k = pn_data_get_string(old);
				skip = k.start != NULL && is_xopt(k);
				/* appendn copies from the root: narrow to the
				 * current value first */
				if (!skip)
					append_current(out, old);
				if (!pn_data_next(old))
					break;
				if (!skip)
					append_current(out, old);
			}
		}
	}
	pn_data_put_symbol(out, pn_bytes(21, "x-opt-sequence-number"));
	pn_data_put_long(out, r->seq);
	snprintf(off, sizeof(off), "%lld", (long long)r->off);
	pn_data_put_symbol(out, pn_bytes(12, "x-opt-offset"));
	pn_data_put_string(out, pn_bytes(strlen(off), off));
	pn_data_put_symbol(out, pn_bytes(19, "x-opt-enqueued-time"));
	pn_data_put_timestamp(out, r->t_ms);
	if (r->pkey != NULL) {
		pn_data_put_symbol(out, pn_bytes(19, "x-opt-partition-key"));
		pn_data_put_string(out, pn_bytes(strlen(r->pkey), r->pkey));
	}
	pn_data_exit(out);
	pn_data_exit(out);
	return 0;
}

static int
append_data(unsigned char **buf, size_t *len, size_t *cap, pn_data_t *d)
{
	ssize_t n;

	for (;;) {
		n = pn_data_encode(d, (char *)*buf + *len, *cap - *len);
		if (n >= 0) {
			*len += (size_t)n;
			return 0;
		}
		if (n != PN_OVERFLOW)
			return -1;
		unsigned char *nb = realloc(*buf, *cap * 2);
		if (nb == NULL)
			return -1;
		*buf = nb;
		*cap *= 2;
	}
}

unsigned char *
eh_msg_annotate(const struct eh_rec *r, size_t *lenp)
{
	pn_data_t *d = pn_data(16), *a = pn_data(16);
	unsigned char *out = NULL;
	size_t len = 0, cap = r->len + 256, pos = 0;
	int done = 0, ok = 0;
	ssize_t n;
	uint64_t code;

	if (d == NULL || a == NULL || (out = malloc(cap)) == NULL)
		goto out;
	while (pos < r->len) {
		pn_data_clear(d);
		n = pn_data_decode(d, (const char *)r->msg + pos, r->len - pos);
		if (n <= 0)
			goto out;
		code = section_code(d);
		if (!done && code == 0x72) {
			put_annotations(a, r, d);
			if (append_data(&out, &len, &cap, a) != 0)
				goto out;
			done = 1;
		} else {
			if (!done && code > 0x72) {
				put_annotations(a, r, NULL);
				if (append_data(&out, &len, &cap, a) != 0)
					goto out;
				done = 1;
			}
			if (len + (size_t)n > cap) {
				unsigned char *nb = realloc(out, len + (size_t)n + 256);

				if (nb == NULL)
					goto out;
				out = nb;
				cap = len + (size_t)n + 256;
			}
			memcpy(out + len, r->msg + pos, (size_t)n);
			len += (size_t)n;
		}
		pos += (size_t)n;
	}
	if (!done) {
		put_annotations(a, r, NULL);
		if (append_data(&out, &len, &cap, a) != 0)
			goto out;
	}
	ok = 1;
out:
	pn_data_free(d);
	pn_data_free(a);
	if (!ok) {
		free(out);
		return NULL;
	}
	*lenp = len;
	return out;
}
