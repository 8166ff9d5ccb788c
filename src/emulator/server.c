/*
 * server.c - twin-emulator: options, the libmicrohttpd glue, request
 * routing, fault injection points and the counters.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "cli.h"
#include "codec.h"
#include "cosmos_sig.h"
#include "eh_amqp.h"
#include "eh_store.h"
#include "emu.h"
#include "exitcode.h"
#include "guard.h"
#include "iothub.h"
#include "json.h"
#include "log.h"
#include "metrics.h"

struct emu emu;

static struct {
	long port;
	const char *host;
	const char *db;
	int tls;
	const char *cert, *key;
	const char *pid_file;
	const char *cosmos_key_file;
	const char *iothub, *iothub_key_file;
	const char *client_secret_file;
	int no_auth;
	double token_lifetime;
	long threads;
	long rate, twin_rate, partition_ru, page_size, create_rate, import_rate;
	const char *storage_cs_file;
	const char *error_rate, *drop_rate;
	double latency, jitter;
	long seed;
	const char *amqp_port, *eh_key_name, *eh_key_file;
	long eh_partitions, eh_retention;
	double eh_retention_age;
	const char *eventhubs[64];
	int neventhubs;
	long max_conns, max_conns_ip;
	const char *fed_key, *fed_issuer, *fed_subject;
	double header_timeout, idle_timeout;
} opt = { .host = "127.0.0.1", .token_lifetime = 3600, .page_size = 100,
	.eh_key_name = "RootManageSharedAccessKey", .eh_partitions = 4,
	.eh_retention = 100000, .eh_retention_age = 86400,
	.max_conns = 2048, .max_conns_ip = 512, .header_timeout = 5,
	.idle_timeout = 60 };

static int
opt_eventhub(const struct cli_opt *o, char **args, void *ctx)
{
	(void)o;
	(void)ctx;
	if (opt.neventhubs == 64) {
		fprintf(stderr, "twin-emulator: error: more than 64 --eventhub\n");
		return -1;
	}
	opt.eventhubs[opt.neventhubs++] = args[0];
	return 0;
}

static const struct cli_opt options[] = {
	{ "amqp-port", 0, CLI_STR, &opt.amqp_port, "N|auto", NULL,
	    "serve Event Hubs over AMQP 1.0 on port N (auto: a free one; "
	    "amqps with --tls; default: off)", 0, NULL },
	{ "cert", 0, CLI_STR, &opt.cert, "FILE", NULL,
	    "TLS certificate (PEM); generated there when missing", 0, NULL },
	{ "client-secret-file", 0, CLI_STR, &opt.client_secret_file, "FILE",
	    NULL, "client secret the token endpoint requires (default: any; "
	    "env TWIN_EMULATOR_CLIENT_SECRET)", 0, NULL },
	{ "create-rate", 0, CLI_LONG, &opt.create_rate, "N", NULL,
	    "allow N ADT twin and relationship creates and deletes/s over "
	    "REST, 429 above (ADT's limit is about 500; default 0: none)", 0,
	    NULL },
	{ "cosmos-key-file", 0, CLI_STR, &opt.cosmos_key_file, "FILE", NULL,
	    "Cosmos master key, base64 (default: the Cosmos emulator's "
	    "well-known key; env TWIN_EMULATOR_COSMOS_KEY)", 0, NULL },
	{ "db", 0, CLI_STR, &opt.db, "FILE", "TWIN_EMULATOR_DB",
	    "keep the data in the SQLite file FILE (default: in memory)", 0,
	    NULL },
	{ "drop-rate", 0, CLI_STR, &opt.drop_rate, "P", NULL,
	    "drop this share (0..1) of connections mid-request", 0, NULL },
	{ "eh-key-file", 0, CLI_STR, &opt.eh_key_file, "FILE", NULL,
	    "Event Hubs shared access key (default: SAS_KEY_VALUE, the "
	    "official emulator's; env TWIN_EMULATOR_EH_KEY)", 0, NULL },
	{ "eh-key-name", 0, CLI_STR, &opt.eh_key_name, "NAME", NULL,
	    "Event Hubs shared access key name (default "
	    "RootManageSharedAccessKey)", 0, NULL },
	{ "eh-partitions", 0, CLI_LONG, &opt.eh_partitions, "N", NULL,
	    "partitions of event hubs created on first use (default 4)", 0,
	    NULL },
	{ "eh-retention", 0, CLI_LONG, &opt.eh_retention, "N", NULL,
	    "keep at most N events per partition (default 100000; 0: no "
	    "bound)", 0, NULL },
	{ "eh-retention-age", 0, CLI_DURATION, &opt.eh_retention_age,
	    "DURATION", NULL, "drop events older than DURATION (default 24h; "
	    "0: no bound)", 0, NULL },
	{ "error-rate", 0, CLI_STR, &opt.error_rate, "P", NULL,
	    "answer this share (0..1) of requests with 500 or 503", 0, NULL },
	{ "eventhub", 0, CLI_FN, NULL, "NAME[:N]", NULL,
	    "declare event hub NAME with N partitions (repeatable; then "
	    "AMQP clients reach only declared hubs)", 1, opt_eventhub },
	{ "federated-issuer", 0, CLI_STR, &opt.fed_issuer, "ISS", NULL,
	    "the iss client assertions must have (default: any)", 0, NULL },
	{ "federated-key", 0, CLI_STR, &opt.fed_key, "FILE", NULL,
	    "verify client assertions with FILE: a PEM public key (RS256) or "
	    "a secret (HS256)", 0, NULL },
	{ "federated-subject", 0, CLI_STR, &opt.fed_subject, "SUB", NULL,
	    "the sub client assertions must have (default: any)", 0, NULL },
	{ "header-timeout", 0, CLI_DURATION, &opt.header_timeout, "DURATION",
	    NULL, "close a new connection whose first request headers are not "
	    "in within DURATION of its accept (default 5s; 0: never)", 0, NULL },
	{ "host", 0, CLI_STR, &opt.host, "ADDR", NULL,
	    "listen on ADDR (default 127.0.0.1)", 0, NULL },
	{ "idle-timeout", 0, CLI_DURATION, &opt.idle_timeout, "DURATION", NULL,
	    "close a connection idle for DURATION (default 60s)", 0, NULL },
	{ "import-rate", 0, CLI_LONG, &opt.import_rate, "N", NULL,
	    "ADT import jobs create at most N entities/s (default 0: as fast "
	    "as they go)", 0, NULL },
	{ "iothub", 0, CLI_STR, &opt.iothub, "NAME", NULL,
	    "name of the IoT Hub served on /devices and /twins, and of the "
	    "event hub its events are routed to (default twin-emulator)", 0,
	    NULL },
	{ "iothub-key-file", 0, CLI_STR, &opt.iothub_key_file, "FILE", NULL,
	    "key (base64) of the IoT Hub's iothubowner policy (default: a "
	    "well-known key, see the man page; env TWIN_EMULATOR_IOTHUB_KEY)",
	    0, NULL },
	{ "jitter", 0, CLI_DURATION, &opt.jitter, "DURATION", NULL,
	    "add up to DURATION more latency, uniformly drawn", 0, NULL },
	{ "key", 0, CLI_STR, &opt.key, "FILE", NULL,
	    "TLS private key (PEM); generated there when missing", 0, NULL },
	{ "latency", 0, CLI_DURATION, &opt.latency, "DURATION", NULL,
	    "add DURATION to every answer", 0, NULL },
	{ "max-connections", 0, CLI_LONG, &opt.max_conns, "N", NULL,
	    "serve at most N connections at once (default 2048)", 0, NULL },
	{ "max-connections-per-ip", 0, CLI_LONG, &opt.max_conns_ip, "N", NULL,
	    "serve at most N connections at once from one client address "
	    "(default 512)", 0, NULL },
	{ "metrics-listen", 0, CLI_STR, &metrics_opt.listen, "ADDR:PORT",
	    NULL, "serve /metrics, /healthz and /readyz over HTTP on "
	    "ADDR:PORT (port 0: any)", 0, NULL },
	{ "no-auth", 0, CLI_FLAG, &opt.no_auth, NULL, NULL,
	    "accept requests without credentials (demos only)", 0, NULL },
	{ "page-size", 0, CLI_LONG, &opt.page_size, "N", NULL,
	    "ADT pages (lists, queries without max-items-per-page) hold N "
	    "items (default 100)", 0, NULL },
	{ "partition-ru", 0, CLI_LONG, &opt.partition_ru, "N", NULL,
	    "Cosmos RU budget per logical partition and second, 429 above "
	    "(the service's is 10000; default 0: none)", 0, NULL },
	{ "pid-file", 0, CLI_STR, &opt.pid_file, "FILE", NULL,
	    "write the process id to FILE (removed at exit)", 0, NULL },
	{ "port", 'p', CLI_LONG, &opt.port, "N", "TWIN_EMULATOR_PORT",
	    "listen on port N (default 0: a free port)", 0, NULL },
	{ "rate", 0, CLI_LONG, &opt.rate, "N", NULL,
	    "allow N requests/s, answer 429 above (default 0: no limit)", 0,
	    NULL },
	{ "seed", 0, CLI_LONG, &opt.seed, "N", NULL,
	    "seed of the random faults (default: from the clock)", 0, NULL },
	{ "storage-connection-string-file", 0, CLI_STR, &opt.storage_cs_file,
	    "FILE", NULL, "Storage connection string of the blobs of ADT "
	    "import jobs (env TWIN_EMULATOR_STORAGE_CONNECTION_STRING)", 0,
	    NULL },
	{ "threads", 0, CLI_LONG, &opt.threads, "N", NULL,
	    "worker threads (default: the number of CPUs)", 0, NULL },
	{ "tls", 0, CLI_FLAG, &opt.tls, NULL, NULL,
	    "serve HTTPS (self-signed certificate unless --cert/--key)", 0,
	    NULL },
	{ "token-lifetime", 0, CLI_DURATION, &opt.token_lifetime, "DURATION",
	    NULL, "lifetime of the tokens it issues (default 1h)", 0, NULL },
	{ "twin-rate", 0, CLI_LONG, &opt.twin_rate, "N", NULL,
	    "allow N ADT writes/s per twin (ADT's limit is 10; default 0: "
	    "none)", 0, NULL },
};

static const struct cli_prog prog = {
	"twin-emulator",
	"[--port N] [--host ADDR] [--db FILE] [--tls [--cert FILE --key FILE]] "
	"[--pid-file FILE] [OPTION]...",
	"Serve the Azure Digital Twins and Cosmos DB (NoSQL) data planes and\n"
	"an Entra ID token endpoint on one local port, for development, demos\n"
	"and tests. Prints the base URL on standard output, then serves until\n"
	"SIGTERM or SIGINT. Faults (throttling, errors, latency, dropped\n"
	"connections) can be set by flags and at run time with\n"
	"POST /_admin/faults; GET /_admin/stats counts what was served.\n"
	"IoT Hub's service API (/devices, /twins, /devices/query) is served\n"
	"too, its twin and lifecycle events routed to the event hub --iothub.\n"
	"With --amqp-port, Event Hubs is served over AMQP 1.0 as well; its\n"
	"URL (amqp:// or amqps://) is the second line of standard output.",
	options, sizeof(options) / sizeof(options[0]),
	"Environment:\n"
	"  TWIN_EMULATOR_COSMOS_KEY     Cosmos master key (base64)\n"
	"  TWIN_EMULATOR_CLIENT_SECRET  client secret the token endpoint requires\n"
	"  TWIN_EMULATOR_EH_KEY         Event Hubs shared access key\n"
	"  TWIN_EMULATOR_IOTHUB_KEY     IoT Hub iothubowner policy key (base64)\n"
	"  TWIN_EMULATOR_IDENTITY_HEADER  App Service X-IDENTITY-HEADER value\n"
	"  TWIN_EMULATOR_STORAGE_CONNECTION_STRING  Storage account of ADT\n"
	"                               import jobs (account key)\n",
	NULL
};

/* ---- small helpers ---- */

double
emu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void
emu_time7_at(char *out, size_t n, time_t s, int hns, const char *zone)
{
	struct tm tm;
	char base[32];

	gmtime_r(&s, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, n, "%.20s.%07d%s", base, hns, zone);
}

void
emu_time7(char *out, size_t n)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	emu_time7_at(out, n, ts.tv_sec, (int)(ts.tv_nsec / 100 % 10000000),
	    "Z");
}

void
emu_http_date(char *out, size_t n, double t)
{
	time_t s = (time_t)t;
	struct tm tm;

	gmtime_r(&s, &tm);
	strftime(out, n, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

uint64_t
emu_random(void)
{
	uint64_t x;

	pthread_mutex_lock(&emu.fault_mu);
	x = emu.rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	emu.rng = x;
	pthread_mutex_unlock(&emu.fault_mu);
	return x * 0x2545F4914F6CDD1DULL;
}

void
emu_guid(char *out)
{
	uint64_t a = emu_random(), b = emu_random();

	snprintf(out, 37, "%08x-%04x-4%03x-%04x-%012llx",
	    (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff,
	    (unsigned)a & 0xfff, (unsigned)(0x8000 | ((b >> 48) & 0x3fff)),
	    (unsigned long long)(b & 0xffffffffffffULL));
}

int
emu_etag_ok(jv ent, const char *key, const char *if_match)
{
	const char *e = json_get_str(ent, key);

	if (if_match == NULL || strcmp(if_match, "*") == 0)
		return 1;
	return e != NULL && strcmp(e, if_match) == 0;
}

const char *
req_header(struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

static const char *
req_own(struct req *r, char *s)
{
	r->owned = xrealloc(r->owned, (size_t)(r->nowned + 1) * sizeof(char *));
	r->owned[r->nowned++] = s;
	return s;
}

const char *
req_query(struct req *r, const char *name)
{
	const char *raw;
	struct buf b = BUF_INIT;
	char *p;

	raw = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
	if (raw == NULL)
		return NULL;
	if (pct_decode(&b, raw, strlen(raw)) != 0) {
		buf_release(&b);
		return NULL;
	}
	buf_cstr(&b);
	for (p = b.p; *p != '\0'; p++)
		if (*p == '+')
			*p = ' ';
	return req_own(r, b.p);
}

struct each_ctx {
	void (*fn)(void *, const char *, const char *);
	void *ctx;
};

static enum MHD_Result
each_arg(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct each_ctx *e = cls;

	(void)kind;
	e->fn(e->ctx, key, value != NULL ? value : "");
	return MHD_YES;
}

void
req_query_each(struct req *r, void (*fn)(void *, const char *, const char *),
    void *ctx)
{
	struct each_ctx e = { fn, ctx };

	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, each_arg, &e);
}

void
resp_header(struct resp *rs, const char *name, const char *fmt, ...)
{
	va_list ap;
	char v[512];

	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	buf_add(&rs->hdrs, name, strlen(name) + 1);
	buf_add(&rs->hdrs, v, strlen(v) + 1);
}

void
resp_json(struct resp *rs, int status, jv v)
{
	rs->status = status;
	rs->body.len = 0;
	json_write(&rs->body, v, 0, NULL);
	jv_free(v);
	resp_header(rs, "Content-Type", "application/json; charset=utf-8");
}

int
req_json(struct req *r, jv *out, char *msg, size_t msgsz)
{
	struct json_err je;

	if (r->parsed) {
		if (r->json_ok) {
			*out = jv_copy(r->json);
			return 0;
		}
		snprintf(msg, msgsz, "%s", r->json_msg);
		*out = jv_invalid();
		return -1;
	}
	if (r->body.len == 0) {
		snprintf(msg, msgsz, "the request body is empty");
		*out = jv_invalid();
		return -1;
	}
	if (json_parse(r->body.p, r->body.len, out, NULL, &je) != 0) {
		snprintf(msg, msgsz, "the request body is not valid JSON: %s "
		    "at byte %zu", je.msg, je.off);
		return -1;
	}
	return 0;
}

/* ---- request lifecycle ---- */

static void
req_free(struct req *r)
{
	int i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nseg; i++)
		free(r->seg[i]);
	free(r->seg);
	for (i = 0; i < r->nowned; i++)
		free(r->owned[i]);
	free(r->owned);
	free(r->twin_limit_id);
	if (r->parsed)
		jv_free(r->json);
	buf_release(&r->body);
	free(r);
}

/*
 * Split the raw path into decoded segments. A trailing slash is allowed;
 * empty segments, ".", "..", control characters and bad escapes are not.
 * Returns 0 or -1.
 */
static int
split_path(struct req *r)
{
	const char *s = r->url, *e;
	struct buf b = BUF_INIT;
	size_t i;

	if (*s != '/')
		return -1;
	s++;
	while (*s != '\0') {
		e = strchr(s, '/');
		if (e == NULL)
			e = s + strlen(s);
		if (e == s)
			return -1;
		b = (struct buf)BUF_INIT;
		if (pct_decode(&b, s, (size_t)(e - s)) != 0) {
			buf_release(&b);
			return -1;
		}
		buf_cstr(&b);
		for (i = 0; i < b.len; i++)
			if ((unsigned char)b.p[i] < 0x20 || b.p[i] == 0x7f)
				break;
		r->seg = xrealloc(r->seg, (size_t)(r->nseg + 1) * sizeof(char *));
		r->seg[r->nseg++] = b.p;
		if (i < b.len || strcmp(b.p, ".") == 0 || strcmp(b.p, "..") == 0 ||
		    strlen(b.p) != b.len)
			return -1;
		if (*e == '\0')
			break;
		s = e + 1;
	}
	return 0;
}

static int
is_adt_path(struct req *r)
{
	return r->nseg > 0 && (strcmp(r->seg[0], "models") == 0 ||
	    strcmp(r->seg[0], "digitaltwins") == 0 ||
	    strcmp(r->seg[0], "query") == 0 || strcmp(r->seg[0], "jobs") == 0 ||
	    strcmp(r->seg[0], "eventroutes") == 0);
}

/* The counter kind of a data-plane request, known before it runs. */
static const char *
classify(struct req *r, int adt)
{
	if (adt) {
		if (strcmp(r->seg[0], "models") == 0)
			return "adt.model";
		if (strcmp(r->seg[0], "query") == 0)
			return "adt.query";
		if (strcmp(r->seg[0], "jobs") == 0)
			return "adt.job";
		if (strcmp(r->seg[0], "digitaltwins") == 0)
			return r->nseg <= 2 ? "adt.twin" : "adt.relationship";
		return "adt";
	}
	if (r->nseg == 0)
		return "cosmos.account";
	if (strcmp(r->seg[0], "dbs") != 0)
		return "cosmos";
	if (r->nseg <= 2)
		return "cosmos.db";
	if (r->nseg <= 4)
		return "cosmos.coll";
	if (strcmp(r->seg[4], "pkranges") == 0)
		return "cosmos.pkranges";
	return "cosmos.doc";
}

/* Is the raw path one of the ADT data plane? (before it is split) */
static int
url_is_adt(const char *url)
{
	static const char *pre[] = { "/models", "/digitaltwins", "/query",
	    "/jobs", "/eventroutes" };
	size_t i, n;

	for (i = 0; i < sizeof(pre) / sizeof(pre[0]); i++) {
		n = strlen(pre[i]);
		if (strncmp(url, pre[i], n) == 0 && (url[n] == '\0' || url[n] == '/'))
			return 1;
	}
	return 0;
}

static void
error_body(struct resp *rs, int is_adt, int status, const char *code,
    const char *msg)
{
	if (is_adt)
		resp_json(rs, status, JV_OBJECT(jv_string("error"),
		    JV_OBJECT(jv_string("code"), jv_string(code),
		    jv_string("message"), jv_string(msg))));
	else
		resp_json(rs, status, JV_OBJECT(jv_string("code"),
		    jv_string(code), jv_string("message"), jv_string(msg)));
	if (is_adt)
		resp_header(rs, "x-ms-error-code", "%s", code);
}

static enum MHD_Result
check_header(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	int *bad = cls;
	const unsigned char *p;

	(void)kind;
	for (p = (const unsigned char *)key; *p != '\0'; p++)
		if (*p < 0x21 || *p == 0x7f || *p == ':')
			*bad = 1;
	for (p = (const unsigned char *)value; p != NULL && *p != '\0'; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			*bad = 1;
	return *bad ? MHD_NO : MHD_YES;
}

static void
route(struct req *r, struct resp *rs)
{
	int adt, iot, bad = 0;

	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, check_header, &bad);
	if (bad) {
		r->kind = "bad";
		error_body(rs, 0, 400, "BadRequest", "A request header has a "
		    "control character (CR, LF, NUL...) in its name or value.");
		return;
	}
	if (split_path(r) != 0) {
		r->kind = "bad";
		error_body(rs, is_adt_path(r), 400, "BadRequest",
		    "The request URL is invalid: bad escape, empty, '.' or '..' "
		    "segment, or a control character.");
		return;
	}
	if (r->nseg > 0 && strcmp(r->seg[0], "_admin") == 0) {
		r->kind = "admin";
		admin_handle(r, rs);
		return;
	}
	if (token_handle(r, rs)) {
		r->kind = "token";
		return;
	}
	iot = iothub_is_path(r);
	adt = !iot && is_adt_path(r);
	r->kind = iot ? iothub_kind(r) : classify(r, adt);
	if (faults_before(r, rs, adt || iot)) {
		if (iot)
			iothub_fault_body(rs);
		return;
	}
	if (r->too_large) {
		error_body(rs, adt, 413, "RequestEntityTooLarge",
		    "Request size is too large.");
		return;
	}
	/* parse the body here, so that the handlers' store lock is short */
	if (r->body.len > 0) {
		r->json_ok = req_json(r, &r->json, r->json_msg,
		    sizeof(r->json_msg)) == 0;
		r->parsed = 1;
	}
	if (iot)
		iothub_handle(r, rs);
	else if (adt)
		adt_handle(r, rs);
	else
		cosmos_handle(r, rs);
}

static enum MHD_Result
send_resp(struct MHD_Connection *c, struct resp *rs)
{
	struct MHD_Response *m;
	enum MHD_Result ret;
	const char *p = rs->hdrs.p, *end = rs->hdrs.p + rs->hdrs.len, *v;
	char date[64];

	m = MHD_create_response_from_buffer(rs->body.len, rs->body.p,
	    MHD_RESPMEM_MUST_COPY);
	if (m == NULL)
		return MHD_NO;
	while (p != NULL && p < end) {
		v = p + strlen(p) + 1;
		MHD_add_response_header(m, p, v);
		p = v + strlen(v) + 1;
	}
	emu_http_date(date, sizeof(date), emu_now());
	MHD_add_response_header(m, "Date", date);
	ret = MHD_queue_response(c, (unsigned)rs->status, m);
	MHD_destroy_response(m);
	return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct req *r = *con_cls;
	struct resp rs = { 0, BUF_INIT, BUF_INIT, 0 };
	const char *cl;
	unsigned long long len;
	enum MHD_Result ret;

	(void)cls;
	(void)version;
	if (r == NULL) {
		guard_headers_done(c);
		r = xcalloc(1, sizeof(*r));
		r->conn = c;
		r->method = method;
		r->url = url;
		r->kind = "other";
		*con_cls = r;
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    "Content-Length");
		if (cl != NULL && (len = strtoull(cl, NULL, 10)) > EMU_MAX_BODY) {
			/* answer at once; libmicrohttpd then closes the
			 * connection instead of reading the body */
			r->too_large = 1;
			r->kind = "toolarge";
			error_body(&rs, url_is_adt(url), 413,
			    "RequestEntityTooLarge", "Request size is too large.");
			counters_add(method, r->kind, 413);
			ret = send_resp(c, &rs);
			buf_release(&rs.hdrs);
			buf_release(&rs.body);
			return ret;
		}
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (!r->too_large && r->body.len + *upload_size <= EMU_MAX_BODY)
			buf_add(&r->body, upload, *upload_size);
		else
			r->too_large = 1;
		*upload_size = 0;
		return MHD_YES;
	}
	route(r, &rs);
	if (rs.status == 0)
		error_body(&rs, 0, 500, "InternalServerError", "no handler answered");
	if (strcmp(r->kind, "admin") != 0 && strcmp(r->kind, "token") != 0)
		faults_delay();
	if (strcmp(r->kind, "admin") != 0)	/* count what tests assert on */
		counters_add(method, r->kind, rs.drop ? 0 : rs.status);
	ret = rs.drop ? MHD_NO : send_resp(c, &rs);
	buf_release(&rs.hdrs);
	buf_release(&rs.body);
	return ret;
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	req_free(*con_cls);
	*con_cls = NULL;
}

static size_t
keep_escapes(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
	if (!log_enabled(LV_INFO))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_info("microhttpd: %s", msg);
}

/*
 * Raise the soft limit on descriptors so that --max-connections fit
 * (with room for the store, the listening socket and epoll), or lower
 * --max-connections to what the hard limit allows (logged). Can't fail.
 */
static void
fd_budget(void)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)opt.max_conns + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
		rl.rlim_cur = rl.rlim_max;
	else
		rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 && getrlimit(RLIMIT_NOFILE,
	    &rl) != 0)
		return;
	if (rl.rlim_cur < want) {
		opt.max_conns = rl.rlim_cur > 128 ? (long)rl.rlim_cur - 64 : 64;
		log_warn("the descriptor limit (%llu) allows only %ld "
		    "connections: --max-connections lowered",
		    (unsigned long long)rl.rlim_cur, opt.max_conns);
	}
}

/*
 * --federated-key: a PEM public key (RS256) sets emu.fed_pkey; any other
 * content is the HS256 secret (*secret, malloc'd, trimmed, never logged).
 * Returns 0, or -1 after a usage error.
 */
static int
load_federated_key(char **secret)
{
	int failed = 0;
	char *s;
	BIO *bio;

	if (opt.fed_key == NULL) {
		if (opt.fed_issuer != NULL || opt.fed_subject != NULL) {
			cli_usage_error(&prog, "--federated-issuer and "
			    "--federated-subject need --federated-key");
			return -1;
		}
		return 0;
	}
	s = cli_secret(NULL, opt.fed_key, &failed);
	if (failed || s == NULL || *s == '\0') {
		free(s);
		cli_usage_error(&prog, "--federated-key: '%s' cannot be read or "
		    "is empty", opt.fed_key);
		return -1;
	}
	if (strstr(s, "-----BEGIN") == NULL) {
		*secret = s;
		emu.fed_secret = s;
		return 0;
	}
	bio = BIO_new_mem_buf(s, -1);
	emu.fed_pkey = bio != NULL ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) :
	    NULL;
	BIO_free(bio);
	free(s);
	if (emu.fed_pkey == NULL || EVP_PKEY_base_id(emu.fed_pkey) != EVP_PKEY_RSA) {
		cli_usage_error(&prog, "--federated-key: '%s' is PEM but not an "
		    "RSA public key (-----BEGIN PUBLIC KEY-----)", opt.fed_key);
		return -1;
	}
	return 0;
}

static int
parse_share(const char *s, const char *name, double *out)
{
	char *end;
	double d;

	if (s == NULL)
		return 0;
	d = strtod(s, &end);
	if (end == s || *end != '\0' || d < 0 || d > 1) {
		cli_usage_error(&prog, "--%s: '%s' is not a number in 0..1", name, s);
		return -1;
	}
	*out = d;
	return 0;
}

/* What a run holds beside emu: secrets, the listeners, the addresses. */
struct run {
	char *cert_pem, *key_pem;
	char *ckey, *csecret, *iotkey, *ehkey, *idh, *fsecret, *scs;
	struct sockaddr_in sa;
	long amqp_port;		/* 0: any */
	int amqp_on;
	struct MHD_Daemon *d;
	char url[128], amqp_url[160];
};

/* The options that need more than the table: 0, or -1 (reported). */
static int
check_options(struct run *rn, int argc, char **argv, int first)
{
	char *end;

	if (first < argc)
		return cli_usage_error(&prog, "unexpected operand '%s'",
		    argv[first]), -1;
	if (opt.port < 0 || opt.port > 65535)
		return cli_usage_error(&prog, "--port: %ld is out of range",
		    opt.port), -1;
	if ((opt.cert == NULL) != (opt.key == NULL))
		return cli_usage_error(&prog, "--cert and --key go together"),
		    -1;
	if ((opt.cert != NULL) && !opt.tls)
		return cli_usage_error(&prog, "--cert/--key need --tls"), -1;
	if (opt.page_size < 1 || opt.page_size > 1000)
		return cli_usage_error(&prog, "--page-size: %ld is not in "
		    "1..1000", opt.page_size), -1;
	if (opt.rate < 0 || opt.twin_rate < 0 || opt.partition_ru < 0 ||
	    opt.create_rate < 0 || opt.import_rate < 0 ||
	    opt.threads < 0 || opt.latency < 0 || opt.jitter < 0 ||
	    opt.token_lifetime <= 0)
		return cli_usage_error(&prog, "negative rate, latency, thread "
		    "count or token lifetime"), -1;
	if (opt.amqp_port != NULL) {
		int any = strcmp(opt.amqp_port, "auto") == 0;

		rn->amqp_port = any ? 0 : strtol(opt.amqp_port, &end, 10);
		if (!any && (*end != '\0' || end == opt.amqp_port ||
		    rn->amqp_port < 0 || rn->amqp_port > 65535))
			return cli_usage_error(&prog, "--amqp-port: '%s' is not "
			    "a port or auto", opt.amqp_port), -1;
		rn->amqp_on = rn->amqp_port != 0 || any;
	}
	if (opt.eh_partitions < 1 || opt.eh_partitions > EH_MAX_PARTITIONS ||
	    opt.eh_retention < 0 || opt.eh_retention_age < 0)
		return cli_usage_error(&prog, "--eh-partitions is not in 1..%d, "
		    "or a negative retention", EH_MAX_PARTITIONS), -1;
	if (opt.max_conns < 1 || opt.max_conns_ip < 0 ||
	    opt.header_timeout < 0 || opt.idle_timeout < 1)
		return cli_usage_error(&prog, "--max-connections must be at "
		    "least 1, --idle-timeout at least 1s, "
		    "--max-connections-per-ip and --header-timeout not "
		    "negative"), -1;
	return 0;
}

/* Faults, limits and switches from the options into emu. Returns 0, or
 * -1 (reported). */
static int
configure(void)
{
	pthread_mutex_init(&emu.fault_mu, NULL);
	if (parse_share(opt.error_rate, "error-rate", &emu.faults.error_rate) ||
	    parse_share(opt.drop_rate, "drop-rate", &emu.faults.drop_rate))
		return -1;
	emu.faults.rate = (double)opt.rate;
	emu.faults.twin_rate = (double)opt.twin_rate;
	emu.faults.create_rate = (double)opt.create_rate;
	emu.faults.partition_ru = (double)opt.partition_ru;
	emu.faults.latency = opt.latency;
	emu.faults.jitter = opt.jitter;
	emu.faults.seed = opt.seed != 0 ? (unsigned long long)opt.seed :
	    (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 32);
	emu.rng = emu.faults.seed * 0x9E3779B97F4A7C15ULL | 1;
	emu.no_auth = opt.no_auth;
	emu.tls = opt.tls;
	emu.page_size = opt.page_size;
	emu.token_lifetime = opt.token_lifetime;
	return 0;
}

/* The keys and secrets, from files or the environment, and the IoT Hub.
 * Returns 0, or an exit code (reported). */
static int
load_secrets(struct run *rn)
{
	struct buf kb = BUF_INIT;
	char msg[200];
	int failed = 0, bad;

	rn->ckey = cli_secret("TWIN_EMULATOR_COSMOS_KEY", opt.cosmos_key_file,
	    &failed);
	if (!failed)
		rn->csecret = cli_secret("TWIN_EMULATOR_CLIENT_SECRET",
		    opt.client_secret_file, &failed);
	if (!failed)
		rn->ehkey = cli_secret("TWIN_EMULATOR_EH_KEY", opt.eh_key_file,
		    &failed);
	if (!failed)
		rn->iotkey = cli_secret("TWIN_EMULATOR_IOTHUB_KEY",
		    opt.iothub_key_file, &failed);
	if (failed)
		return EXIT_USAGE;
	emu.key = rn->ckey != NULL ? rn->ckey : COSMOS_EMULATOR_KEY;
	bad = base64_decode(&kb, emu.key, strlen(emu.key)) != 0 || kb.len == 0;
	buf_release(&kb);
	if (bad)
		return cli_usage_error(&prog, "the Cosmos key is not base64"),
		    EXIT_USAGE;
	emu.client_secret = rn->csecret;
	if (opt.iothub == NULL)
		opt.iothub = "twin-emulator";
	if (iothub_init(opt.iothub, "iothubowner", rn->iotkey != NULL ?
	    rn->iotkey : IOTHUB_EMULATOR_KEY, msg, sizeof(msg)) != 0)
		return cli_usage_error(&prog, "%s", msg), EXIT_USAGE;
	rn->idh = cli_secret("TWIN_EMULATOR_IDENTITY_HEADER", NULL, &failed);
	emu.identity_header = rn->idh;
	rn->scs = cli_secret("TWIN_EMULATOR_STORAGE_CONNECTION_STRING",
	    opt.storage_cs_file, &failed);
	if (failed)
		return EXIT_USAGE;
	if (adt_jobs_init(rn->scs, (double)opt.import_rate, msg,
	    sizeof(msg)) != 0)
		return cli_usage_error(&prog, "%s", msg), EXIT_USAGE;
	if (load_federated_key(&rn->fsecret) != 0)
		return EXIT_USAGE;
	emu.fed_issuer = opt.fed_issuer;
	emu.fed_subject = opt.fed_subject;
	if (RAND_bytes(emu.token_key, sizeof(emu.token_key)) != 1) {
		log_error("cannot get random bytes for the token key");
		return EXIT_FATAL;
	}
	return 0;
}

/* --host and --port as an IPv4 address. Returns 0, or -1 (reported). */
static int
resolve_host(struct run *rn)
{
	struct addrinfo hints, *ai = NULL;

	memset(&rn->sa, 0, sizeof(rn->sa));
	rn->sa.sin_family = AF_INET;
	rn->sa.sin_port = htons((uint16_t)opt.port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(opt.host, NULL, &hints, &ai) != 0 || ai == NULL)
		return cli_usage_error(&prog, "--host: cannot resolve '%s' "
		    "(IPv4)", opt.host), -1;
	rn->sa.sin_addr = ((struct sockaddr_in *)ai->ai_addr)->sin_addr;
	freeaddrinfo(ai);
	return 0;
}

/* The SQLite store and the event hubs (the IoT Hub's built-in endpoint,
 * even when hubs are declared). Returns 0, or -1 (reported). */
static int
open_stores(void)
{
	struct eh_config ehc;
	char msg[300];
	int i;

	if (store_open(opt.db) != 0)
		return -1;
	memset(&ehc, 0, sizeof(ehc));
	ehc.db_path = opt.db;
	ehc.default_partitions = (int)opt.eh_partitions;
	ehc.retention_count = opt.eh_retention;
	ehc.retention_age = opt.eh_retention_age;
	ehc.strict = opt.neventhubs > 0;
	if (eh_init(&ehc) != 0)
		return -1;
	if (eh_hub_add(opt.iothub, (int)opt.eh_partitions, msg,
	    sizeof(msg)) != 0) {
		log_error("--iothub: %s", msg);
		return -1;
	}
	for (i = 0; i < opt.neventhubs; i++) {
		char name[EH_MAX_NAME], *colon, *end;
		long n = opt.eh_partitions;

		snprintf(name, sizeof(name), "%s", opt.eventhubs[i]);
		if ((colon = strrchr(name, ':')) != NULL) {
			*colon = '\0';
			n = strtol(colon + 1, &end, 10);
			if (*end != '\0' || end == colon + 1)
				n = -1;
		}
		if (eh_hub_add(name, (int)n, msg, sizeof(msg)) != 0) {
			log_error("--eventhub: %s", msg);
			return -1;
		}
	}
	return 0;
}

/*
 * The HTTP(S) daemon. Hostile clients: bounded connections in total and
 * per address (a refused one is closed at accept), the header deadline
 * (guard.c), an idle timeout, strict request parsing (garbage answers 400
 * and the connection is closed), 64 KiB per connection. Returns 0, or -1
 * (reported).
 */
static int
start_http(struct run *rn)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	    MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *di;

	if (opt.threads == 0)
		opt.threads = sysconf(_SC_NPROCESSORS_ONLN) > 0 ?
		    sysconf(_SC_NPROCESSORS_ONLN) : 2;
	fd_budget();
	if (guard_start(opt.header_timeout) != 0) {
		log_error("cannot start the header deadline thread: %s",
		    strerror(errno));
		return -1;
	}
	if (opt.tls)
		flags |= MHD_USE_TLS;
#define DAEMON_OPTIONS \
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, \
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&rn->sa, \
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)opt.threads, \
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, \
	    MHD_OPTION_NOTIFY_CONNECTION, guard_notify, NULL, \
	    MHD_OPTION_UNESCAPE_CALLBACK, keep_escapes, NULL, \
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)opt.idle_timeout, \
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)opt.max_conns, \
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)opt.max_conns_ip, \
	    MHD_OPTION_STRICT_FOR_CLIENT, 1, \
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024, \
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u
	if (opt.tls)
		rn->d = MHD_start_daemon(flags, (uint16_t)opt.port, NULL, NULL,
		    on_request, NULL, DAEMON_OPTIONS,
		    MHD_OPTION_HTTPS_MEM_CERT, rn->cert_pem,
		    MHD_OPTION_HTTPS_MEM_KEY, rn->key_pem,
		    MHD_OPTION_END);
	else
		rn->d = MHD_start_daemon(flags, (uint16_t)opt.port, NULL, NULL,
		    on_request, NULL, DAEMON_OPTIONS, MHD_OPTION_END);
#undef DAEMON_OPTIONS
	if (rn->d == NULL) {
		log_error("cannot listen on %s:%ld: %s", opt.host, opt.port,
		    strerror(errno));
		return -1;
	}
	di = MHD_get_daemon_info(rn->d, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(rn->url, sizeof(rn->url), "%s://%s:%u", opt.tls ? "https" :
	    "http", inet_ntoa(rn->sa.sin_addr), di != NULL ?
	    (unsigned)di->port : 0u);
	return 0;
}

/* The Event Hubs AMQP endpoint (--amqp-port). Returns 0, or -1 (reported). */
static int
start_amqp(struct run *rn)
{
	struct eh_amqp_config amc;
	int port;

	if (!rn->amqp_on)
		return 0;
	memset(&amc, 0, sizeof(amc));
	amc.host = inet_ntoa(rn->sa.sin_addr);
	amc.port = (int)rn->amqp_port;
	amc.tls = opt.tls;
	amc.cert_pem = rn->cert_pem;
	amc.key_pem = rn->key_pem;
	amc.key_name = opt.eh_key_name;
	amc.key = rn->ehkey != NULL ? rn->ehkey : "SAS_KEY_VALUE";
	amc.no_auth = opt.no_auth;
	if ((port = eh_amqp_start(&amc)) < 0)
		return -1;
	snprintf(rn->amqp_url, sizeof(rn->amqp_url), "%s://%s:%d",
	    opt.tls ? "amqps" : "amqp", inet_ntoa(rn->sa.sin_addr), port);
	return 0;
}

/* --pid-file, then the URLs on standard output: the emulator is ready.
 * Returns 0, or -1 (reported). */
static int
announce(const struct run *rn)
{
	FILE *pf;

	if (opt.pid_file != NULL) {
		if ((pf = fopen(opt.pid_file, "w")) == NULL) {
			log_error("%s: %s", opt.pid_file, strerror(errno));
			return -1;
		}
		fprintf(pf, "%ld\n", (long)getpid());
		if (fclose(pf) != 0) {
			log_error("%s: %s", opt.pid_file, strerror(errno));
			return -1;
		}
	}
	printf("%s\n", rn->url);
	if (rn->amqp_url[0] != '\0')
		printf("%s\n", rn->amqp_url);
	if (fflush(stdout) != 0) {
		log_error("cannot write to standard output");
		return -1;
	}
	log_info("serving on %s", rn->url);
	if (metrics_opt.listen != NULL &&
	    metrics_listen_start(metrics_opt.listen, NULL) < 0)
		return -1;
	metrics_set_ready(1);
	metrics_expect_heartbeat();
	return 0;
}

/* Serve until SIGTERM or SIGINT (taken by sigwait in this thread only). */
static void
serve(const sigset_t *set)
{
	struct timespec tick = { 1, 0 };
	int sig;

	while ((sig = sigtimedwait(set, NULL, &tick)) <= 0)
		metrics_tick();	/* --metrics-interval, /healthz */
	log_info("signal %d: stopping", sig);
}

static void
run_free(struct run *rn, int rc)
{
	(void)metrics_finish(rc);
	eh_amqp_stop();
	if (rn->d != NULL)
		MHD_stop_daemon(rn->d);
	adt_jobs_stop();
	eh_release();
	guard_stop();
	store_close();
	token_release();
	if (opt.pid_file != NULL && rc == EXIT_ALL_OK)
		unlink(opt.pid_file);
	free(rn->cert_pem);
	free(rn->key_pem);
	free(rn->ckey);
	free(rn->csecret);
	free(rn->iotkey);
	free(rn->ehkey);
	free(rn->idh);
	free(rn->fsecret);
	free(rn->scs);
	EVP_PKEY_free(emu.fed_pkey);
}

int
main(int argc, char **argv)
{
	struct cli_common common;
	struct run rn;
	sigset_t set;
	int first, rc;

	memset(&rn, 0, sizeof(rn));
	rn.amqp_port = -1;
	log_init("twin-emulator");
	if ((first = cli_parse(&prog, argc, argv, &common)) < 0 ||
	    check_options(&rn, argc, argv, first) < 0 || configure() < 0)
		return EXIT_USAGE;
	if ((rc = load_secrets(&rn)) == 0 && resolve_host(&rn) < 0)
		rc = EXIT_USAGE;
	if (rc != 0) {
		free(rn.ckey);
		free(rn.csecret);
		free(rn.iotkey);
		free(rn.ehkey);
		free(rn.idh);
		free(rn.fsecret);
		free(rn.scs);
		adt_jobs_stop();
		return rc;
	}
	rc = EXIT_FATAL;
	if ((opt.tls && tls_load_or_make(opt.cert, opt.key, &rn.cert_pem,
	    &rn.key_pem) != 0) || open_stores() < 0)
		goto out;
	/* signals are taken by sigwait() in this thread only */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (start_http(&rn) < 0 || start_amqp(&rn) < 0 || announce(&rn) < 0)
		goto out;
	serve(&set);
	rc = EXIT_ALL_OK;
out:
	run_free(&rn, rc);
	return rc;
}
