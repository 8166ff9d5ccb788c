/*
 * iothub.c - IoT Hub's service API as a client reaches it at
 * https://<hub>.azure-devices.net: the device registry (devices and
 * modules), device and module twins with IoT Hub's merge rules, versions,
 * etags and $metadata, POST /devices/query with paging, shared access
 * policy SAS tokens and Entra tokens, and routing of twin-change and
 * lifecycle events into the hub's built-in Event Hub (eh_publish()).
 *
 * Everything runs with the store lock held, events included, so that one
 * device's events reach its partition in version order.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sqlite3.h>

#include "codec.h"
#include "eh.h"
#include "emu.h"
#include "iothub.h"
#include "json.h"
#include "log.h"

#define IOT_MAX_ID 128		/* device and module ids */
#define IOT_MAX_DEPTH 10	/* nesting of tags and properties */
#define IOT_MAX_TAGS (8u << 10)
#define IOT_MAX_PROPS (32u << 10)	/* desired, reported: each */
#define IOT_MAX_KEY 1024	/* property names, bytes */
#define IOT_MAX_STRING (4u << 10)	/* string values, bytes */
#define IOT_MAX_PAGE 1000
#define IOT_DEFAULT_PAGE 100
#define IOT_NEVER "0001-01-01T00:00:00Z"

static struct {
	char name[256];
	char host[300];		/* <name>.azure-devices.net */
	char policy[128];
	struct buf key;		/* decoded */
} hub;

int
iothub_init(const char *name, const char *policy, const char *key_b64,
    char *msg, size_t msgsz)
{
	size_t i, n = strlen(name);

	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '-')
			break;
	if (n < 3 || n > 50 || i < n) {
		snprintf(msg, msgsz, "--iothub: '%.60s' is not an IoT Hub name "
		    "(3 to 50 letters, digits or '-')", name);
		return -1;
	}
	snprintf(hub.name, sizeof(hub.name), "%s", name);
	snprintf(hub.host, sizeof(hub.host), "%s.azure-devices.net", name);
	for (i = 0; hub.host[i] != '\0'; i++)
		hub.host[i] = (char)tolower((unsigned char)hub.host[i]);
	snprintf(hub.policy, sizeof(hub.policy), "%s", policy);
	buf_release(&hub.key);
	if (base64_decode(&hub.key, key_b64, strlen(key_b64)) != 0 ||
	    hub.key.len == 0) {
		snprintf(msg, msgsz, "the IoT Hub key is not base64");
		return -1;
	}
	return 0;
}

int
iothub_is_path(struct req *r)
{
	return r->nseg > 0 && (strcmp(r->seg[0], "devices") == 0 ||
	    strcmp(r->seg[0], "twins") == 0);
}

const char *
iothub_kind(struct req *r)
{
	if (strcmp(r->seg[0], "twins") == 0)
		return "iothub.twin";
	if (r->nseg == 2 && strcmp(r->seg[1], "query") == 0)
		return "iothub.query";
	return r->nseg > 2 ? "iothub.module" : "iothub.device";
}

/* ---- answers ---- */

static void
ierr(struct resp *rs, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* IoT Hub's error body: {"Message":"ErrorCode:<code>;<text>",
 * "ExceptionMessage":"Tracking ID:...-TimeStamp:..."} */
static void
ierr(struct resp *rs, int status, const char *code, const char *fmt, ...)
{
	char msg[600], m[700], ex[200], g[37], ts[32];
	time_t now = time(NULL);
	struct tm tm;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	emu_guid(g);
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%m/%d/%Y %H:%M:%S", &tm);
	snprintf(m, sizeof(m), "ErrorCode:%s;%s", code, msg);
	snprintf(ex, sizeof(ex), "Tracking ID:%.32s-G:0-TimeStamp:%s", g, ts);
	resp_json(rs, status, JV_OBJECT(jv_string("Message"), jv_string(m),
	    jv_string("ExceptionMessage"), jv_string(ex)));
	resp_header(rs, "iothub-errorcode", "%s", code);
}

void
iothub_fault_body(struct resp *rs)
{
	const char *code = rs->status == 429 ? "ThrottlingException" :
	    rs->status == 503 ? "ServerBusy" : "ServerError";
	const char *text = rs->status == 429 ? "IotHub is throttling the "
	    "requests; retry after the time in Retry-After (injected by "
	    "twin-emulator)." : "The service failed (injected by twin-emulator).";
	char m[300];
	jv o;

	if (rs->drop || rs->status == 0)
		return;
	snprintf(m, sizeof(m), "ErrorCode:%s;%s", code, text);
	o = JV_OBJECT(jv_string("Message"), jv_string(m),
	    jv_string("ExceptionMessage"), jv_string("Tracking ID:0-G:0"));
	rs->body.len = 0;
	json_write(&rs->body, o, 0, NULL);
	jv_free(o);
	resp_header(rs, "iothub-errorcode", "%s", code);
}

/* A twin etag: base64 of a big-endian 64-bit store sequence number. */
static jv
twin_etag(void)
{
	uint64_t s = store_seq();
	unsigned char be[8];
	struct buf b = BUF_INIT;
	jv v;
	int i;

	for (i = 7; i >= 0; i--, s >>= 8)
		be[i] = (unsigned char)(s & 0xff);
	base64_encode(&b, be, sizeof(be));
	v = jv_string_sized(b.p, (int)b.len);
	buf_release(&b);
	return v;
}

/* A registry etag: base64 of a decimal sequence number (as IoT Hub's). */
static jv
ident_etag(void)
{
	char d[24];
	struct buf b = BUF_INIT;
	jv v;

	snprintf(d, sizeof(d), "%llu", (unsigned long long)store_seq());
	base64_encode(&b, d, strlen(d));
	v = jv_string_sized(b.p, (int)b.len);
	buf_release(&b);
	return v;
}

/* Does If-Match (absent, * or "*", the etag quoted or not, W/ or not)
 * match etag? */
static int
if_match_ok(struct req *r, const char *etag)
{
	const char *h = req_header(r, "If-Match");
	size_t n;

	if (h == NULL || strcmp(h, "*") == 0)
		return 1;
	if (strncmp(h, "W/", 2) == 0)
		h += 2;
	n = strlen(h);
	if (n >= 2 && h[0] == '"' && h[n - 1] == '"') {
		h++;
		n -= 2;
	}
	if (n == 1 && *h == '*')	/* azure-iothub quotes the wildcard */
		return 1;
	return etag != NULL && strlen(etag) == n && strncmp(h, etag, n) == 0;
}

static void
send_ent(struct resp *rs, int status, jv ent)
{
	const char *e = json_get_str(ent, "etag");

	if (e != NULL)
		resp_header(rs, "ETag", "\"%s\"", e);
	resp_json(rs, status, ent);
}

/* ---- auth ---- */

/* The value of field name in a SAS token (raw, still encoded), or NULL;
 * *n its length. */
static const char *
sas_field(const char *tok, const char *name, size_t *n)
{
	const char *p = tok, *e;
	size_t k = strlen(name);

	while (*p != '\0') {
		e = p + strcspn(p, "&");
		if ((size_t)(e - p) > k && strncmp(p, name, k) == 0 && p[k] == '=') {
			*n = (size_t)(e - p) - k - 1;
			return p + k + 1;
		}
		p = *e == '&' ? e + 1 : e;
	}
	return NULL;
}

static int
sig_of(struct buf *out, const char *sr, size_t srn, const char *se, size_t sen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned mlen = 0;
	struct buf m = BUF_INIT;

	buf_add(&m, sr, srn);
	buf_addc(&m, '\n');
	buf_add(&m, se, sen);
	if (HMAC(EVP_sha256(), hub.key.p, (int)hub.key.len,
	    (const unsigned char *)m.p, m.len, mac, &mlen) == NULL) {
		buf_release(&m);
		return -1;
	}
	buf_release(&m);
	base64_encode(out, mac, mlen);
	return 0;
}

/* Is the host part of sr (decoded) the hub's host, or the Host the
 * client reached? */
static int
sr_host_ok(struct req *r, const char *sr)
{
	const char *host = req_header(r, "Host"), *p = sr;
	size_t n;

	if (strncasecmp(p, "https://", 8) == 0)
		p += 8;
	n = strcspn(p, "/");
	if (strlen(hub.host) == n && strncasecmp(p, hub.host, n) == 0)
		return 1;
	return host != NULL && strlen(host) == n && strncasecmp(p, host, n) == 0;
}

/* Check a SharedAccessSignature token. 0, or -1 with msg. */
static int
sas_check(struct req *r, const char *tok, char *msg, size_t msgsz)
{
	const char *sr, *sig, *se, *skn;
	size_t srn = 0, sign = 0, sen = 0, sknn = 0;
	struct buf dsr = BUF_INIT, dsig = BUF_INIT, dskn = BUF_INIT,
	    want = BUF_INIT, enc = BUF_INIT;
	char sebuf[24], *end;
	long long exp;
	int rc = -1, ok;

	sr = sas_field(tok, "sr", &srn);
	sig = sas_field(tok, "sig", &sign);
	se = sas_field(tok, "se", &sen);
	skn = sas_field(tok, "skn", &sknn);
	if (sr == NULL || sig == NULL || se == NULL || skn == NULL) {
		snprintf(msg, msgsz, "the SharedAccessSignature lacks sr, sig, "
		    "se or skn");
		goto out;
	}
	if (pct_decode(&dsr, sr, srn) != 0 || pct_decode(&dsig, sig, sign) != 0 ||
	    pct_decode(&dskn, skn, sknn) != 0 || sen == 0 || sen >= sizeof(sebuf)) {
		snprintf(msg, msgsz, "the SharedAccessSignature is malformed");
		goto out;
	}
	buf_cstr(&dsr);
	buf_cstr(&dskn);
	if (strcmp(dskn.p, hub.policy) != 0) {
		snprintf(msg, msgsz, "no shared access policy '%.100s' on this hub",
		    dskn.p);
		goto out;
	}
	memcpy(sebuf, se, sen);
	sebuf[sen] = '\0';
	exp = strtoll(sebuf, &end, 10);
	if (*end != '\0' || exp <= 0) {
		snprintf(msg, msgsz, "the SharedAccessSignature expiry is not a "
		    "number");
		goto out;
	}
	if ((double)exp < emu_now()) {
		snprintf(msg, msgsz, "the SharedAccessSignature has expired");
		goto out;
	}
	if (!sr_host_ok(r, dsr.p)) {
		snprintf(msg, msgsz, "the SharedAccessSignature is for '%.100s', "
		    "not this hub (%.100s)", dsr.p, hub.host);
		goto out;
	}
	/* signers sign the URL-encoded resource as it appears in the token;
	 * also accept our own encoding of it */
	if (sig_of(&want, sr, srn, se, sen) != 0)
		goto bad;
	ok = want.len == dsig.len && CRYPTO_memcmp(want.p, dsig.p, want.len) == 0;
	if (!ok) {
		want.len = 0;
		pct_encode(&enc, dsr.p, dsr.len);
		if (sig_of(&want, enc.p, enc.len, se, sen) != 0)
			goto bad;
		ok = want.len == dsig.len &&
		    CRYPTO_memcmp(want.p, dsig.p, want.len) == 0;
	}
	if (!ok)
		goto bad;
	rc = 0;
	goto out;
bad:
	snprintf(msg, msgsz, "the SharedAccessSignature's signature is invalid");
out:
	buf_release(&dsr);
	buf_release(&dsig);
	buf_release(&dskn);
	buf_release(&want);
	buf_release(&enc);
	return rc;
}

static int
authorized(struct req *r, struct resp *rs)
{
	const char *h = req_header(r, "Authorization");
	char msg[400];

	if (emu.no_auth)
		return 1;
	if (h == NULL) {
		ierr(rs, 401, "IotHubUnauthorizedAccess", "Unauthorized: an "
		    "Authorization header (SharedAccessSignature or Bearer) is "
		    "required.");
		return 0;
	}
	if (strncmp(h, "SharedAccessSignature ", 22) == 0) {
		if (sas_check(r, h + 22, msg, sizeof(msg)) == 0)
			return 1;
	} else if (strncasecmp(h, "Bearer ", 7) == 0) {
		if (token_check(h + 7, "https://iothubs.azure.net", msg,
		    sizeof(msg)) == 0)
			return 1;
	} else
		snprintf(msg, sizeof(msg), "the Authorization scheme is neither "
		    "SharedAccessSignature nor Bearer");
	ierr(rs, 401, "IotHubUnauthorizedAccess", "Unauthorized: %s.", msg);
	return 0;
}

/* ---- validation ---- */

/* IoT Hub's id rule: 1..128 ASCII letters, digits and - . + % _ # * ? !
 * ( ) , : = @ $ ' */
static int
id_ok(const char *id)
{
	size_t i, n = strlen(id);

	if (n == 0 || n > IOT_MAX_ID)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) &&
		    strchr("-.+%_#*?!(),:=@$'", id[i]) == NULL)
			return 0;
	return 1;
}

static int
check_ids(struct resp *rs, const char *dev, const char *mod)
{
	if (!id_ok(dev) || (mod != NULL && !id_ok(mod))) {
		ierr(rs, 400, "ArgumentInvalid", "The id '%.130s' is invalid: "
		    "1..128 ASCII letters, digits or - . + %% _ # * ? ! ( ) , : = "
		    "@ $ '.", !id_ok(dev) ? dev : mod);
		return 0;
	}
	return 1;
}

static size_t
json_size(jv v)
{
	struct buf b = BUF_INIT;
	size_t n;

	json_write(&b, v, 0, NULL);
	n = b.len;
	buf_release(&b);
	return n;
}

/* ---- the store: iot_devices(dev, mod, ident, twin) ---- */

/* Load an identity and its twin. 1 found (both owned), 0 not. */
static int
ent_load(const char *dev, const char *mod, jv *ident, jv *twin)
{
	sqlite3_stmt *st = store_stmt("SELECT ident, twin FROM iot_devices "
	    "WHERE dev=? AND mod=?");

	*ident = *twin = jv_invalid();
	sqlite3_bind_text(st, 1, dev, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, mod != NULL ? mod : "", -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW)
		return 0;
	*ident = store_col_json(st, 0);
	*twin = store_col_json(st, 1);
	sqlite3_reset(st);
	return jv_is_valid(*ident) && jv_is_valid(*twin);
}

/* Save both (borrowed). 0 or -1 (logged). */
static int
ent_save(const char *dev, const char *mod, jv ident, jv twin)
{
	sqlite3_stmt *st = store_stmt("INSERT OR REPLACE INTO iot_devices"
	    "(dev, mod, ident, twin) VALUES(?,?,?,?)");
	char *i = json_dump(ident, 0), *t = json_dump(twin, 0);
	int rc;

	sqlite3_bind_text(st, 1, dev, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, mod != NULL ? mod : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, i, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, t, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	free(i);
	free(t);
	if (rc != 0)
		log_error("iothub: cannot save device '%s'", dev);
	return rc;
}

/* ---- routing: events into the hub's built-in Event Hub ---- */

/*
 * Publish one non-telemetry event (body borrowed) with IoT Hub's
 * application properties and annotations; partition key = device id.
 * A failure is logged (IoT Hub does not fail the operation either).
 */
static void
route_event(const char *dev, const char *mod, int lifecycle,
    const char *optype, jv body)
{
	struct eh_value props[6], annos[4];
	struct eh_event ev;
	char t[40], g[37], msg[300], *text;
	int np = 0, na = 0;

	emu_time7(t, sizeof(t));
	emu_guid(g);
	text = json_dump(body, 0);
	memset(props, 0, sizeof(props));
	memset(annos, 0, sizeof(annos));
	props[np].name = "hubName", props[np].type = EH_STRING,
	    props[np++].s = hub.name;
	props[np].name = "deviceId", props[np].type = EH_STRING,
	    props[np++].s = dev;
	if (mod != NULL)
		props[np].name = "moduleId", props[np].type = EH_STRING,
		    props[np++].s = mod;
	props[np].name = "opType", props[np].type = EH_STRING,
	    props[np++].s = optype;
	props[np].name = "iothub-message-schema", props[np].type = EH_STRING,
	    props[np++].s = lifecycle ? "deviceLifecycleNotification" :
	    "twinChangeNotification";
	props[np].name = "operationTimestamp", props[np].type = EH_STRING,
	    props[np++].s = t;
	annos[na].name = "iothub-connection-device-id",
	    annos[na].type = EH_STRING, annos[na++].s = dev;
	if (mod != NULL)
		annos[na].name = "iothub-connection-module-id",
		    annos[na].type = EH_STRING, annos[na++].s = mod;
	annos[na].name = "iothub-enqueuedtime", annos[na].type = EH_TIMESTAMP,
	    annos[na++].i = (int64_t)(emu_now() * 1000);
	annos[na].name = "iothub-message-source", annos[na].type = EH_STRING,
	    annos[na++].s = lifecycle ? "deviceLifecycleEvents" :
	    "twinChangeEvents";
	memset(&ev, 0, sizeof(ev));
	ev.body = text;
	ev.len = strlen(text);
	ev.content_type = "application/json";
	ev.content_encoding = "utf-8";
	ev.message_id = g;
	ev.props = props;
	ev.nprops = np;
	ev.annos = annos;
	ev.nannos = na;
	if (eh_publish(hub.name, dev, -1, &ev, msg, sizeof(msg)) < 0)
		log_warn("iothub: device '%s': event %s not routed: %s", dev,
		    optype, msg);
	free(text);
}

/* ---- merging tags and properties ---- */

/* Keys IoT Hub refuses: empty, too long, with '.', '$', ' ' or control
 * characters. */
static int
key_ok(const char *k)
{
	size_t n = strlen(k), i;

	if (n == 0 || n > IOT_MAX_KEY)
		return 0;
	for (i = 0; i < n; i++)
		if (k[i] == '.' || k[i] == '$' || k[i] == ' ' ||
		    (unsigned char)k[i] < 0x20)
			return 0;
	return 1;
}

static jv
meta_leaf(const char *t, double ver)
{
	jv m = JV_OBJECT(jv_string("$lastUpdated"), jv_string(t));

	if (ver >= 0)
		m = jv_object_set(m, jv_string("$lastUpdatedVersion"),
		    jv_number(ver));
	return m;
}

/* Check a value's strings and depth (borrowed). 0 or -1 with msg. */
static int
value_ok(jv v, int depth, char *msg, size_t msgsz)
{
	jv_kind k = jv_get_kind(v);
	int i, n, rc = 0;

	if (k == JV_KIND_STRING && strlen(jv_string_value(v)) > IOT_MAX_STRING) {
		snprintf(msg, msgsz, "a string value is longer than %u bytes",
		    IOT_MAX_STRING);
		return -1;
	}
	if (k != JV_KIND_ARRAY)
		return 0;
	if (depth > IOT_MAX_DEPTH) {
		snprintf(msg, msgsz, "the object is nested deeper than %d levels",
		    IOT_MAX_DEPTH);
		return -1;
	}
	n = jv_array_length(jv_copy(v));
	for (i = 0; i < n && rc == 0; i++) {
		jv e = jv_array_get(jv_copy(v), i);

		rc = value_ok(e, depth + 1, msg, msgsz);
		jv_free(e);
	}
	return rc;
}

/*
 * Merge patch (borrowed, an object) into *obj, as IoT Hub does: null
 * removes, an object merges into an object (and replaces anything else),
 * other values replace. When meta is not NULL, *meta mirrors *obj with
 * $lastUpdated (and $lastUpdatedVersion when ver >= 0) for what changed.
 * Returns 0, or -1 with msg (then *obj and *meta are garbage but valid).
 */
static int
merge(jv *obj, jv *meta, jv patch, const char *t, double ver, int depth,
    char *msg, size_t msgsz)
{
	jv keys, k, v, cur, cm;
	const char *ks;
	int i, n, rc = 0;

	if (depth > IOT_MAX_DEPTH) {
		snprintf(msg, msgsz, "the object is nested deeper than %d levels",
		    IOT_MAX_DEPTH);
		return -1;
	}
	keys = jv_keys_unsorted(jv_copy(patch));
	n = jv_array_length(jv_copy(keys));
	for (i = 0; i < n && rc == 0; i++) {
		k = jv_array_get(jv_copy(keys), i);
		ks = jv_string_value(k);
		if (!key_ok(ks)) {
			snprintf(msg, msgsz, "the property name '%.100s' is "
			    "invalid: it may not be empty, longer than %d bytes, "
			    "or have '.', '$', ' ' or control characters", ks,
			    IOT_MAX_KEY);
			rc = -1;
			jv_free(k);
			break;
		}
		v = json_get(patch, ks);
		if (jv_get_kind(v) == JV_KIND_NULL) {
			*obj = jv_object_delete(*obj, jv_copy(k));
			if (meta != NULL)
				*meta = jv_object_delete(*meta, jv_copy(k));
			jv_free(v);
		} else if (jv_get_kind(v) == JV_KIND_OBJECT) {
			cur = json_get(*obj, ks);
			cm = meta != NULL ? json_get(*meta, ks) : jv_invalid();
			if (jv_get_kind(cur) != JV_KIND_OBJECT) {
				jv_free(cur);
				jv_free(cm);
				cur = jv_object();
				cm = jv_object();
			} else if (jv_get_kind(cm) != JV_KIND_OBJECT) {
				jv_free(cm);
				cm = jv_object();
			}
			rc = merge(&cur, meta != NULL ? &cm : NULL, v, t, ver,
			    depth + 1, msg, msgsz);
			jv_free(v);
			*obj = jv_object_set(*obj, jv_copy(k), cur);
			if (meta != NULL) {
				cm = jv_object_merge(cm, meta_leaf(t, ver));
				*meta = jv_object_set(*meta, jv_copy(k), cm);
			} else
				jv_free(cm);
		} else {
			rc = value_ok(v, depth + 1, msg, msgsz);
			*obj = jv_object_set(*obj, jv_copy(k), v);
			if (meta != NULL)
				*meta = jv_object_set(*meta, jv_copy(k),
				    meta_leaf(t, ver));
		}
		jv_free(k);
	}
	jv_free(keys);
	return rc;
}

/* patch (borrowed) without the $metadata and $version a twin read back
 * carries; owned. */
static jv
strip_sys(jv patch)
{
	jv p = jv_copy(patch);

	p = jv_object_delete(p, jv_string("$metadata"));
	return jv_object_delete(p, jv_string("$version"));
}

/*
 * Apply a patch (or with replace, the whole new content) to section sec
 * ("desired" or "reported") of twin (consumed). Returns the new twin and
 * the event's part for the section in *delta (owned), or jv_invalid()
 * with msg.
 */
static jv
section_apply(jv twin, const char *sec, jv patch, int replace, const char *t,
    jv *delta, char *msg, size_t msgsz)
{
	jv props = json_get(twin, "properties"), s, obj, meta, clean, keys, vj,
	    dm, k, m;
	double ver;
	int desired = strcmp(sec, "desired") == 0, i, n;

	*delta = jv_invalid();
	if (jv_get_kind(props) != JV_KIND_OBJECT) {
		jv_free(props);
		props = jv_object();
	}
	s = json_get(props, sec);
	if (jv_get_kind(s) != JV_KIND_OBJECT) {
		jv_free(s);
		s = jv_object();
	}
	vj = json_get(s, "$version");
	ver = (jv_get_kind(vj) == JV_KIND_NUMBER ? jv_number_value(vj) : 0) + 1;
	jv_free(vj);
	meta = json_get(s, "$metadata");
	if (replace || jv_get_kind(meta) != JV_KIND_OBJECT) {
		jv_free(meta);
		meta = jv_object();
	}
	obj = replace ? jv_object() : strip_sys(s);
	jv_free(s);
	clean = strip_sys(patch);
	if (merge(&obj, &meta, clean, t, desired ? ver : -1, 1, msg, msgsz) != 0)
		goto fail;
	if (json_size(obj) > IOT_MAX_PROPS) {
		snprintf(msg, msgsz, "the %s properties are larger than %u bytes",
		    sec, IOT_MAX_PROPS);
		goto fail;
	}
	meta = jv_object_merge(meta, meta_leaf(t, desired ? ver : -1));
	if (replace)
		dm = jv_copy(meta);
	else {
		/* the event carries the changed names' metadata only */
		dm = meta_leaf(t, desired ? ver : -1);
		keys = jv_keys_unsorted(jv_copy(clean));
		n = jv_array_length(jv_copy(keys));
		for (i = 0; i < n; i++) {
			k = jv_array_get(jv_copy(keys), i);
			m = json_get(meta, jv_string_value(k));
			if (jv_is_valid(m))
				dm = jv_object_set(dm, k, m);
			else
				jv_free(k);
		}
		jv_free(keys);
	}
	*delta = jv_object_merge(replace ? jv_copy(obj) : jv_copy(clean),
	    JV_OBJECT(jv_string("$metadata"), dm, jv_string("$version"),
	    jv_number(ver)));
	jv_free(clean);
	obj = jv_object_merge(obj, JV_OBJECT(jv_string("$metadata"), meta,
	    jv_string("$version"), jv_number(ver)));
	props = jv_object_set(props, jv_string(sec), obj);
	return jv_object_set(twin, jv_string("properties"), props);
fail:
	jv_free(obj);
	jv_free(meta);
	jv_free(clean);
	jv_free(props);
	jv_free(twin);
	return jv_invalid();
}

/* Tags: merged (or replaced) without metadata. twin consumed. */
static jv
tags_apply(jv twin, jv patch, int replace, char *msg, size_t msgsz)
{
	jv tags = replace ? jv_object() : json_get(twin, "tags");

	if (jv_get_kind(tags) != JV_KIND_OBJECT) {
		jv_free(tags);
		tags = jv_object();
	}
	if (merge(&tags, NULL, patch, "", -1, 1, msg, msgsz) != 0)
		goto fail;
	if (json_size(tags) > IOT_MAX_TAGS) {
		snprintf(msg, msgsz, "the tags are larger than %u bytes",
		    IOT_MAX_TAGS);
		goto fail;
	}
	return jv_object_set(twin, jv_string("tags"), tags);
fail:
	jv_free(tags);
	jv_free(twin);
	return jv_invalid();
}

/* ---- identities ---- */

static jv
new_key(void)
{
	unsigned char k[32];
	struct buf b = BUF_INIT;
	uint64_t x;
	size_t i;
	jv v;

	for (i = 0; i < sizeof(k); i += 8) {
		x = emu_random();
		memcpy(k + i, &x, 8);
	}
	base64_encode(&b, k, sizeof(k));
	v = jv_string_sized(b.p, (int)b.len);
	buf_release(&b);
	return v;
}

/*
 * The identity of device dev (module mod, or NULL) from a PUT body
 * (borrowed) and the old identity (consumed; invalid when new). Returns
 * it, or jv_invalid() with msg (a 400).
 */
static jv
ident_build(jv body, const char *dev, const char *mod, jv old, char *msg,
    size_t msgsz)
{
	jv id = jv_is_valid(old) ? old : jv_object(), auth, sk, caps, v;
	const char *status = json_get_str(body, "status"), *type;
	const char *bid = json_get_str(body, mod != NULL ? "moduleId" :
	    "deviceId");
	char g[37];
	int fresh = json_get_str(id, "generationId") == NULL, i;
	static const char *kn[] = { "primaryKey", "secondaryKey" };

	if (bid != NULL && strcmp(bid, mod != NULL ? mod : dev) != 0) {
		snprintf(msg, msgsz, "the body's %s '%.130s' is not the one in "
		    "the URL", mod != NULL ? "moduleId" : "deviceId", bid);
		goto fail;
	}
	if (status != NULL && strcmp(status, "enabled") != 0 &&
	    strcmp(status, "disabled") != 0) {
		snprintf(msg, msgsz, "status must be enabled or disabled");
		goto fail;
	}
	if (fresh) {
		emu_guid(g);
		if (mod != NULL)
			id = jv_object_set(id, jv_string("moduleId"), jv_string(mod));
		id = jv_object_merge(id, JV_OBJECT(jv_string("deviceId"),
		    jv_string(dev), jv_string("generationId"), jv_string(g),
		    jv_string("etag"), jv_null(),
		    jv_string("connectionState"), jv_string("Disconnected"),
		    jv_string("connectionStateUpdatedTime"), jv_string(IOT_NEVER),
		    jv_string("lastActivityTime"), jv_string(IOT_NEVER),
		    jv_string("cloudToDeviceMessageCount"), jv_number(0)));
		if (mod == NULL)
			id = jv_object_merge(id, JV_OBJECT(
			    jv_string("status"), jv_string("enabled"),
			    jv_string("statusReason"), jv_null(),
			    jv_string("statusUpdatedTime"), jv_string(IOT_NEVER)));
		else {
			v = json_get(body, "managedBy");
			id = jv_object_set(id, jv_string("managedBy"),
			    jv_get_kind(v) == JV_KIND_STRING ? v : (jv_free(v),
			    jv_null()));
		}
	}
	if (mod == NULL && status != NULL) {
		const char *was = json_get_str(id, "status");

		if (was == NULL || strcmp(was, status) != 0) {
			char t[40];

			emu_time7(t, sizeof(t));
			id = jv_object_set(id, jv_string("statusUpdatedTime"),
			    jv_string(t));
		}
		id = jv_object_set(id, jv_string("status"), jv_string(status));
		v = json_get(body, "statusReason");
		id = jv_object_set(id, jv_string("statusReason"),
		    jv_get_kind(v) == JV_KIND_STRING ? v : (jv_free(v), jv_null()));
	}
	auth = json_get(body, "authentication");
	if (jv_get_kind(auth) != JV_KIND_OBJECT) {
		jv_free(auth);
		auth = json_get(id, "authentication");
		if (jv_get_kind(auth) != JV_KIND_OBJECT) {
			jv_free(auth);
			auth = jv_object();
		}
	}
	type = json_get_str(auth, "type");
	if (type == NULL)
		auth = jv_object_set(auth, jv_string("type"), jv_string("sas"));
	else if (strcmp(type, "sas") && strcmp(type, "selfSigned") &&
	    strcmp(type, "certificateAuthority") && strcmp(type, "none")) {
		jv_free(auth);
		snprintf(msg, msgsz, "authentication.type must be sas, "
		    "selfSigned, certificateAuthority or none");
		goto fail;
	}
	sk = json_get(auth, "symmetricKey");
	if (jv_get_kind(sk) != JV_KIND_OBJECT) {
		jv_free(sk);
		sk = jv_object();
	}
	for (i = 0; i < 2; i++) {
		v = json_get(sk, kn[i]);
		if (jv_get_kind(v) != JV_KIND_STRING || jv_string_length_bytes(
		    jv_copy(v)) == 0) {
			jv_free(v);
			sk = jv_object_set(sk, jv_string(kn[i]),
			    strcmp(json_get_str(auth, "type"), "sas") == 0 ?
			    new_key() : jv_null());
		} else
			jv_free(v);
	}
	auth = jv_object_set(auth, jv_string("symmetricKey"), sk);
	v = json_get(auth, "x509Thumbprint");
	if (jv_get_kind(v) != JV_KIND_OBJECT) {
		jv_free(v);
		v = JV_OBJECT(jv_string("primaryThumbprint"), jv_null(),
		    jv_string("secondaryThumbprint"), jv_null());
	}
	auth = jv_object_set(auth, jv_string("x509Thumbprint"), v);
	id = jv_object_set(id, jv_string("authentication"), auth);
	if (mod == NULL) {
		caps = json_get(body, "capabilities");
		if (jv_get_kind(caps) != JV_KIND_OBJECT) {
			jv_free(caps);
			caps = json_get(id, "capabilities");
			if (jv_get_kind(caps) != JV_KIND_OBJECT) {
				jv_free(caps);
				caps = JV_OBJECT(jv_string("iotEdge"), jv_false());
			}
		}
		id = jv_object_set(id, jv_string("capabilities"), caps);
	}
	return jv_object_set(id, jv_string("etag"), ident_etag());
fail:
	jv_free(id);
	return jv_invalid();
}

/* The twin's copy of identity fields (twin consumed, ident borrowed). */
static jv
twin_sync(jv twin, jv ident)
{
	jv v;
	const char *type;

	twin = jv_object_set(twin, jv_string("deviceEtag"),
	    json_get(ident, "etag"));
	if (jv_is_valid(v = json_get(ident, "status")))
		twin = jv_object_set(twin, jv_string("status"), v);
	if (jv_is_valid(v = json_get(ident, "statusUpdatedTime")))
		twin = jv_object_set(twin, jv_string("statusUpdateTime"), v);
	v = json_get(ident, "authentication");
	type = json_get_str(v, "type");
	twin = jv_object_set(twin, jv_string("authenticationType"),
	    jv_string(type != NULL ? type : "sas"));
	jv_free(v);
	if (jv_is_valid(v = json_get(ident, "capabilities")))
		twin = jv_object_set(twin, jv_string("capabilities"), v);
	return twin;
}

static jv
twin_new(const char *dev, const char *mod, jv ident)
{
	char t[40];
	jv twin = JV_OBJECT(jv_string("deviceId"), jv_string(dev));

	emu_time7(t, sizeof(t));
	if (mod != NULL)
		twin = jv_object_set(twin, jv_string("moduleId"), jv_string(mod));
	twin = jv_object_merge(twin, JV_OBJECT(
	    jv_string("etag"), twin_etag(),
	    jv_string("deviceEtag"), jv_null(),
	    jv_string("status"), jv_string("enabled"),
	    jv_string("statusUpdateTime"), jv_string(IOT_NEVER),
	    jv_string("connectionState"), jv_string("Disconnected"),
	    jv_string("lastActivityTime"), jv_string(IOT_NEVER),
	    jv_string("cloudToDeviceMessageCount"), jv_number(0),
	    jv_string("authenticationType"), jv_string("sas")));
	twin = jv_object_merge(twin, JV_OBJECT(
	    jv_string("x509Thumbprint"), JV_OBJECT(
	    jv_string("primaryThumbprint"), jv_null(),
	    jv_string("secondaryThumbprint"), jv_null()),
	    jv_string("modelId"), jv_string(""),
	    jv_string("version"), jv_number(1)));
	twin = jv_object_merge(twin, JV_OBJECT(
	    jv_string("tags"), jv_object(),
	    jv_string("properties"), JV_OBJECT(
	    jv_string("desired"), JV_OBJECT(jv_string("$metadata"),
	    meta_leaf(t, 1), jv_string("$version"), jv_number(1)),
	    jv_string("reported"), JV_OBJECT(jv_string("$metadata"),
	    meta_leaf(t, -1), jv_string("$version"), jv_number(1)))));
	return twin_sync(twin, ident);
}

static void
not_found(struct resp *rs, const char *dev, const char *mod)
{
	if (mod != NULL)
		ierr(rs, 404, "ModuleNotFound", "Module %.130s on device "
		    "%.130s not found.", mod, dev);
	else
		ierr(rs, 404, "DeviceNotFound", "Device %.130s not found.", dev);
}

/* PUT/GET/DELETE /devices/{id}[/modules/{mid}] */
static void
identity_one(struct req *r, struct resp *rs, const char *dev, const char *mod)
{
	jv ident = jv_invalid(), twin = jv_invalid(), body = jv_invalid(), pi,
	    pt;
	char msg[300];
	int found;

	if (!check_ids(rs, dev, mod))
		return;
	found = ent_load(dev, mod, &ident, &twin);
	if (strcmp(r->method, "GET") == 0) {
		if (!found)
			not_found(rs, dev, mod);
		else
			send_ent(rs, 200, jv_copy(ident));
	} else if (strcmp(r->method, "DELETE") == 0) {
		if (!found)
			not_found(rs, dev, mod);
		else if (!if_match_ok(r, json_get_str(ident, "etag")))
			ierr(rs, 412, "PreconditionFailed", "The etag in If-Match "
			    "does not match the %s's.", mod ? "module" : "device");
		else {
			/* a device goes with its modules */
			sqlite3_stmt *st = store_stmt(mod != NULL ?
			    "DELETE FROM iot_devices WHERE dev=? AND mod=?" :
			    "DELETE FROM iot_devices WHERE dev=?");

			sqlite3_bind_text(st, 1, dev, -1, SQLITE_STATIC);
			if (mod != NULL)
				sqlite3_bind_text(st, 2, mod, -1, SQLITE_STATIC);
			sqlite3_step(st);
			sqlite3_reset(st);
			route_event(dev, mod, 1, "deleteDeviceIdentity", twin);
			rs->status = 204;
		}
	} else if (strcmp(r->method, "PUT") == 0) {
		if (req_json(r, &body, msg, sizeof(msg)) != 0 ||
		    jv_get_kind(body) != JV_KIND_OBJECT) {
			ierr(rs, 400, "ArgumentInvalid", "%s", jv_is_valid(body) ?
			    "the body must be a JSON object" : msg);
			goto out;
		}
		if (found && req_header(r, "If-Match") == NULL) {
			ierr(rs, 409, mod ? "ModuleAlreadyExistsOnDevice" :
			    "DeviceAlreadyExists", "%s %.130s already exists; "
			    "send If-Match to update it.", mod ? "Module" :
			    "Device", mod ? mod : dev);
			goto out;
		}
		if (found && !if_match_ok(r, json_get_str(ident, "etag"))) {
			ierr(rs, 412, "PreconditionFailed", "The etag in If-Match "
			    "does not match the %s's.", mod ? "module" : "device");
			goto out;
		}
		if (!found && mod != NULL) {
			jv di, dt;

			if (!ent_load(dev, NULL, &di, &dt)) {
				jv_free(di);
				jv_free(dt);
				not_found(rs, dev, NULL);
				goto out;
			}
			jv_free(di);
			jv_free(dt);
		}
		pi = ident_build(body, dev, mod, found ? jv_copy(ident) :
		    jv_invalid(), msg, sizeof(msg));
		if (!jv_is_valid(pi)) {
			ierr(rs, 400, "ArgumentInvalid", "%s.", msg);
			goto out;
		}
		pt = found ? twin_sync(jv_copy(twin), pi) : twin_new(dev, mod, pi);
		if (ent_save(dev, mod, pi, pt) != 0)
			ierr(rs, 500, "ServerError", "The store failed.");
		else {
			if (!found)
				route_event(dev, mod, 1, "createDeviceIdentity", pt);
			send_ent(rs, 200, jv_copy(pi));
		}
		jv_free(pi);
		jv_free(pt);
	} else
		ierr(rs, 405, "MethodNotAllowed", "Use GET, PUT or DELETE.");
out:
	jv_free(body);
	jv_free(ident);
	jv_free(twin);
}

/* GET /devices (deprecated by IoT Hub, kept cheap) and
 * GET /devices/{id}/modules: identities as an array. */
static void
identity_list(struct req *r, struct resp *rs, const char *dev)
{
	sqlite3_stmt *st;
	jv out = jv_array(), di, dt;
	const char *top = req_query(r, "top");
	long n = top != NULL ? strtol(top, NULL, 10) : IOT_MAX_PAGE, k = 0;

	if (strcmp(r->method, "GET") != 0) {
		ierr(rs, 405, "MethodNotAllowed", "Use GET.");
		jv_free(out);
		return;
	}
	if (dev != NULL) {
		if (!ent_load(dev, NULL, &di, &dt)) {
			jv_free(di);
			jv_free(dt);
			jv_free(out);
			not_found(rs, dev, NULL);
			return;
		}
		jv_free(di);
		jv_free(dt);
		st = store_stmt("SELECT ident FROM iot_devices WHERE dev=? AND "
		    "mod<>'' ORDER BY mod");
		sqlite3_bind_text(st, 1, dev, -1, SQLITE_STATIC);
	} else
		st = store_stmt("SELECT ident FROM iot_devices WHERE mod='' "
		    "ORDER BY dev");
	if (n < 1 || n > IOT_MAX_PAGE)
		n = IOT_MAX_PAGE;
	while (k++ < n && sqlite3_step(st) == SQLITE_ROW)
		out = jv_array_append(out, store_col_json(st, 0));
	sqlite3_reset(st);
	resp_json(rs, 200, out);
}

/* ---- twins ---- */

/*
 * Change a twin: op 'P' a service PATCH (tags, desired), 'U' a service
 * PUT (replace tags and desired), 'R' a device's reported patch (body is
 * the reported properties). Answers 200 with the new twin.
 */
static void
twin_change(struct req *r, struct resp *rs, const char *dev, const char *mod,
    int op)
{
	jv ident = jv_invalid(), twin = jv_invalid(), body = jv_invalid(),
	    props = jv_invalid(), tags = jv_invalid(), desired = jv_invalid(),
	    ev = jv_invalid(), evp = jv_object(), delta;
	char msg[300], t[40];
	double ver;

	if (!check_ids(rs, dev, mod))
		goto out;
	if (!ent_load(dev, mod, &ident, &twin)) {
		not_found(rs, dev, mod);
		goto out;
	}
	if (strcmp(r->method, "GET") == 0) {
		send_ent(rs, 200, jv_copy(twin));
		goto out;
	}
	if (op != 'R' && !if_match_ok(r, json_get_str(twin, "etag"))) {
		ierr(rs, 412, "PreconditionFailed", "The etag in If-Match does "
		    "not match the twin's.");
		goto out;
	}
	if (req_json(r, &body, msg, sizeof(msg)) != 0 ||
	    jv_get_kind(body) != JV_KIND_OBJECT) {
		ierr(rs, 400, "ArgumentInvalid", "%s", jv_is_valid(body) ?
		    "the body must be a JSON object" : msg);
		goto out;
	}
	emu_time7(t, sizeof(t));
	if (op == 'R' && jv_object_length(jv_copy(body)) == 0) {
		send_ent(rs, 200, jv_copy(twin));	/* nothing reported */
		goto out;
	}
	if (op == 'R') {
		twin = section_apply(twin, "reported", body, 0, t, &delta, msg,
		    sizeof(msg));
		if (!jv_is_valid(twin))
			goto bad;
		evp = jv_object_set(evp, jv_string("reported"), delta);
	} else {
		tags = json_get(body, "tags");
		props = json_get(body, "properties");
		if (jv_get_kind(props) == JV_KIND_OBJECT) {
			jv rep = json_get(props, "reported");

			desired = json_get(props, "desired");
			if (jv_get_kind(rep) == JV_KIND_OBJECT && op == 'P') {
				jv_free(rep);
				snprintf(msg, sizeof(msg), "reported properties "
				    "cannot be updated by the service");
				goto bad;
			}
			jv_free(rep);
		}
		if (jv_is_valid(tags) && jv_get_kind(tags) != JV_KIND_OBJECT &&
		    jv_get_kind(tags) != JV_KIND_NULL) {
			snprintf(msg, sizeof(msg), "tags must be an object");
			goto bad;
		}
		if (jv_is_valid(desired) && jv_get_kind(desired) != JV_KIND_OBJECT &&
		    jv_get_kind(desired) != JV_KIND_NULL) {
			snprintf(msg, sizeof(msg), "properties.desired must be an "
			    "object");
			goto bad;
		}
		if (jv_get_kind(tags) != JV_KIND_OBJECT) {
			jv_free(tags);
			tags = op == 'U' ? jv_object() : jv_invalid();
		}
		if (jv_get_kind(desired) != JV_KIND_OBJECT) {
			jv_free(desired);
			desired = op == 'U' ? jv_object() : jv_invalid();
		}
		if (!jv_is_valid(tags) && !jv_is_valid(desired)) {
			send_ent(rs, 200, jv_copy(twin));	/* nothing to change */
			goto out;
		}
		if (jv_is_valid(tags)) {
			twin = tags_apply(twin, tags, op == 'U', msg, sizeof(msg));
			if (!jv_is_valid(twin))
				goto bad;
		}
		if (jv_is_valid(desired)) {
			twin = section_apply(twin, "desired", desired, op == 'U', t,
			    &delta, msg, sizeof(msg));
			if (!jv_is_valid(twin))
				goto bad;
			evp = jv_object_set(evp, jv_string("desired"), delta);
		}
	}
	{
		jv vj = json_get(twin, "version");

		ver = (jv_get_kind(vj) == JV_KIND_NUMBER ? jv_number_value(vj) :
		    0) + 1;
		jv_free(vj);
	}
	twin = jv_object_set(twin, jv_string("version"), jv_number(ver));
	twin = jv_object_set(twin, jv_string("etag"), twin_etag());
	if (ent_save(dev, mod, ident, twin) != 0) {
		ierr(rs, 500, "ServerError", "The store failed.");
		goto out;
	}
	ev = JV_OBJECT(jv_string("version"), jv_number(ver));
	if (op == 'U')
		ev = jv_object_set(ev, jv_string("tags"), json_get(twin, "tags"));
	else if (jv_is_valid(tags))
		ev = jv_object_set(ev, jv_string("tags"), jv_copy(tags));
	ev = jv_object_set(ev, jv_string("properties"), evp);
	evp = jv_invalid();
	route_event(dev, mod, 0, op == 'U' ? "replaceTwin" : "updateTwin", ev);
	send_ent(rs, 200, jv_copy(twin));
	goto out;
bad:
	ierr(rs, 400, "ArgumentInvalid", "%s.", msg);
out:
	jv_free(ident);
	jv_free(twin);
	jv_free(body);
	jv_free(props);
	jv_free(tags);
	jv_free(desired);
	jv_free(ev);
	jv_free(evp);
}

static void
twin_one(struct req *r, struct resp *rs, const char *dev, const char *mod)
{
	if (strcmp(r->method, "GET") == 0 || strcmp(r->method, "PATCH") == 0)
		twin_change(r, rs, dev, mod, 'P');
	else if (strcmp(r->method, "PUT") == 0)
		twin_change(r, rs, dev, mod, 'U');
	else
		ierr(rs, 405, "MethodNotAllowed", "Use GET, PATCH or PUT.");
}

/* ---- query ---- */

/* The continuation token: base64 of ["dev","mod"], the last key served. */
static int
cont_decode(const char *tok, char **dev, char **mod)
{
	struct buf b = BUF_INIT;
	struct json_err je;
	jv v = jv_invalid();
	const char *d, *m;
	int rc = -1;

	*dev = *mod = NULL;
	if (base64_decode(&b, tok, strlen(tok)) != 0 || b.len == 0 ||
	    json_parse(b.p, b.len, &v, NULL, &je) != 0 ||
	    jv_get_kind(v) != JV_KIND_ARRAY ||
	    jv_array_length(jv_copy(v)) != 2)
		goto out;
	{
		jv a = jv_array_get(jv_copy(v), 0), c = jv_array_get(jv_copy(v), 1);

		d = jv_get_kind(a) == JV_KIND_STRING ? jv_string_value(a) : NULL;
		m = jv_get_kind(c) == JV_KIND_STRING ? jv_string_value(c) : NULL;
		if (d != NULL && m != NULL) {
			*dev = xstrdup(d);
			*mod = xstrdup(m);
			rc = 0;
		}
		jv_free(a);
		jv_free(c);
	}
out:
	jv_free(v);
	buf_release(&b);
	return rc;
}

static void
query(struct req *r, struct resp *rs)
{
	struct iothub_query q = { 0, -1, NULL, 0 };
	jv body = jv_invalid(), out = jv_array(), twin;
	const char *text, *mc = req_header(r, "x-ms-max-item-count"),
	    *ct = req_header(r, "x-ms-continuation");
	char msg[300], *cdev = NULL, *cmod = NULL, *end;
	char *ldev = NULL, *lmod = NULL;
	long page = IOT_DEFAULT_PAGE, n = 0;
	int more = 0;
	sqlite3_stmt *st;

	if (req_json(r, &body, msg, sizeof(msg)) != 0 ||
	    (text = json_get_str(body, "query")) == NULL) {
		ierr(rs, 400, "ArgumentInvalid", "The body must be "
		    "{\"query\":\"SELECT ...\"}%s%s.", jv_is_valid(body) ? "" :
		    ": ", jv_is_valid(body) ? "" : msg);
		goto out;
	}
	if (mc != NULL) {
		page = strtol(mc, &end, 10);
		if (*end != '\0' || end == mc || page < 1) {
			ierr(rs, 400, "ArgumentInvalid", "x-ms-max-item-count must "
			    "be a positive number.");
			goto out;
		}
		if (page > IOT_MAX_PAGE)
			page = IOT_MAX_PAGE;
	}
	if (ct != NULL && *ct != '\0' && cont_decode(ct, &cdev, &cmod) != 0) {
		ierr(rs, 400, "ArgumentInvalid", "The continuation token is "
		    "invalid.");
		goto out;
	}
	if (iothub_query_parse(text, &q, msg, sizeof(msg)) != 0) {
		ierr(rs, 400, "BadRequest", "Query: %s.", msg);
		goto out;
	}
	st = store_stmt(q.modules ?
	    "SELECT dev, mod, twin FROM iot_devices WHERE mod<>'' AND "
	    "(dev, mod) > (?, ?) ORDER BY dev, mod" :
	    "SELECT dev, mod, twin FROM iot_devices WHERE mod='' AND "
	    "(dev, mod) > (?, ?) ORDER BY dev, mod");
	sqlite3_bind_text(st, 1, cdev != NULL ? cdev : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, cmod != NULL ? cmod : "", -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		twin = store_col_json(st, 2);
		if (!iothub_query_match(&q, twin)) {
			jv_free(twin);
			continue;
		}
		if (n == page) {
			jv_free(twin);
			more = 1;
			break;
		}
		free(ldev);
		free(lmod);
		ldev = xstrdup((const char *)sqlite3_column_text(st, 0));
		lmod = xstrdup((const char *)sqlite3_column_text(st, 1));
		out = jv_array_append(out, twin);
		n++;
	}
	sqlite3_reset(st);
	if (more) {
		struct buf b = BUF_INIT;
		jv key = JV_ARRAY(jv_string(ldev), jv_string(lmod));
		char *j = json_dump(key, 0);

		jv_free(key);
		base64_encode(&b, j, strlen(j));
		resp_header(rs, "x-ms-continuation", "%.*s", (int)b.len, b.p);
		buf_release(&b);
		free(j);
	}
	resp_header(rs, "x-ms-item-type", "twin");
	resp_json(rs, 200, out);
	out = jv_invalid();
out:
	iothub_query_free(&q);
	jv_free(body);
	jv_free(out);
	free(cdev);
	free(cmod);
	free(ldev);
	free(lmod);
}

/* ---- entry points ---- */

void
iothub_handle(struct req *r, struct resp *rs)
{
	const char *s0 = r->seg[0];
	int n = r->nseg;

	if (!authorized(r, rs))
		return;
	store_lock();
	if (strcmp(s0, "devices") == 0) {
		if (n == 2 && strcmp(r->seg[1], "query") == 0 &&
		    strcmp(r->method, "POST") == 0)
			query(r, rs);
		else if (n == 1)
			identity_list(r, rs, NULL);
		else if (n == 2)
			identity_one(r, rs, r->seg[1], NULL);
		else if (n == 3 && strcmp(r->seg[2], "modules") == 0)
			identity_list(r, rs, r->seg[1]);
		else if (n == 4 && strcmp(r->seg[2], "modules") == 0)
			identity_one(r, rs, r->seg[1], r->seg[3]);
		else
			ierr(rs, 404, "NotFound", "The resource is not served "
			    "by twin-emulator.");
	} else if (n == 2)
		twin_one(r, rs, r->seg[1], NULL);
	else if (n == 4 && strcmp(r->seg[2], "modules") == 0)
		twin_one(r, rs, r->seg[1], r->seg[3]);
	else
		ierr(rs, 404, "NotFound", "The resource is not served by "
		    "twin-emulator.");
	store_unlock();
}

/* PATCH /_admin/iothub/twins/{id}[/modules/{mid}]/reported */
void
iothub_admin_handle(struct req *r, struct resp *rs)
{
	int n = r->nseg;

	if (!(n >= 5 && strcmp(r->seg[2], "twins") == 0 &&
	    strcmp(r->seg[n - 1], "reported") == 0 &&
	    (n == 5 || (n == 7 && strcmp(r->seg[4], "modules") == 0)))) {
		ierr(rs, 404, "NotFound", "The emulator's IoT Hub admin endpoint "
		    "is PATCH /_admin/iothub/twins/{id}[/modules/{mid}]/reported.");
		return;
	}
	if (strcmp(r->method, "PATCH") != 0) {
		ierr(rs, 405, "MethodNotAllowed", "Use PATCH.");
		return;
	}
	store_lock();
	twin_change(r, rs, r->seg[3], n == 7 ? r->seg[5] : NULL, 'R');
	store_unlock();
}
