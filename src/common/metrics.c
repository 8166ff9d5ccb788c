#include "clock.h"
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "log.h"
#include "ndjson.h"
#include "stats.h"

#ifndef TP_VERSION
#define TP_VERSION "0.0.0"
#endif

struct metrics_opts metrics_opt;

/* Histogram buckets (seconds): HTTP request latency. */
static const double buckets[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 2.5, 5, 10, 30, 60 };
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

/* The families twinpipe itself exposes, in the order of the page. */
static const struct {
	const char *name;
	enum metrics_type type;
	const char *help;
} known[] = {
	{ "twinpipe_records_in_total", METRICS_COUNTER,
	    "Records read (summary counter in)." },
	{ "twinpipe_records_out_total", METRICS_COUNTER,
	    "Records written to standard output (summary counter out)." },
	{ "twinpipe_records_total", METRICS_COUNTER,
	    "Records by outcome, one per summary counter (ok, failed, "
	    "skipped, ...)." },
	{ "twinpipe_input_errors_total", METRICS_COUNTER,
	    "Input records refused, by error code." },
	{ "twinpipe_adt_operations_total", METRICS_COUNTER,
	    "ADT operations finished, by kind, operation and HTTP status." },
	{ "twinpipe_cosmos_request_units_total", METRICS_COUNTER,
	    "Cosmos DB request units charged." },
	{ "twinpipe_archive_bytes_total", METRICS_COUNTER,
	    "Bytes of records archived." },
	{ "twinpipe_archive_segments_total", METRICS_COUNTER,
	    "Archive segments closed." },
	{ "twinpipe_archive_uploaded_segments_total", METRICS_COUNTER,
	    "Archive segments uploaded to Blob Storage." },
	{ "twinpipe_archive_refused_segments_total", METRICS_COUNTER,
	    "Archive segments Blob Storage refused." },
	{ "twinpipe_http_attempts_total", METRICS_COUNTER,
	    "HTTP attempts started, retries included." },
	{ "twinpipe_http_retries_total", METRICS_COUNTER,
	    "HTTP attempts that were retries." },
	{ "twinpipe_http_throttled_total", METRICS_COUNTER,
	    "HTTP 429 answers." },
	{ "twinpipe_http_transport_errors_total", METRICS_COUNTER,
	    "HTTP attempts that got no answer." },
	{ "twinpipe_http_request_duration_seconds", METRICS_HISTOGRAM,
	    "Duration of HTTP attempts by service and status "
	    "(status 0: no answer)." },
	{ "twinpipe_token_requests_total", METRICS_COUNTER,
	    "Access token requests by credential source and outcome." },
	{ "twinpipe_eventhub_partitions_assigned", METRICS_GAUGE,
	    "Event Hubs partitions this consumer reads." },
	{ "twinpipe_eventhub_lag_events", METRICS_GAUGE,
	    "Events behind the end of the partition: its last enqueued "
	    "sequence number minus the last one read." },
	{ "twinpipe_eventhub_lag_seconds", METRICS_GAUGE,
	    "Seconds between now and the enqueued time of the last event "
	    "read, while events are behind (0 when caught up)." },
	{ "twinpipe_eventhub_in_flight_events", METRICS_GAUGE,
	    "Events written to the sink and not yet acknowledged." },
	{ "twinpipe_eventhub_commit_age_seconds", METRICS_GAUGE,
	    "Seconds since the last checkpoint commit (or the start)." },
	{ "twinpipe_eventhub_commits_total", METRICS_COUNTER,
	    "Checkpoint commits." },
	{ "twinpipe_emulator_requests_total", METRICS_COUNTER,
	    "Requests twin-emulator answered, by method, kind and status "
	    "(0: dropped)." },
};

/* Summary counters with a name of their own (the rest: outcomes or
 * twinpipe_NAME_total). */
static const struct {
	const char *stat, *family;
} smap[] = {
	{ "in", "twinpipe_records_in_total" },
	{ "out", "twinpipe_records_out_total" },
	{ "requests", "twinpipe_http_attempts_total" },
	{ "retried", "twinpipe_http_retries_total" },
	{ "throttled", "twinpipe_http_throttled_total" },
	{ "transport_errors", "twinpipe_http_transport_errors_total" },
	{ "ru", "twinpipe_cosmos_request_units_total" },
	{ "bytes", "twinpipe_archive_bytes_total" },
	{ "segments", "twinpipe_archive_segments_total" },
	{ "uploaded", "twinpipe_archive_uploaded_segments_total" },
	{ "refused", "twinpipe_archive_refused_segments_total" },
	{ "commits", "twinpipe_eventhub_commits_total" },
};

/* Summary counters that say what happened to records. */
static const char *const outcomes[] = {
	"acked", "committed", "conflicts", "control", "deleted", "duplicate",
	"failed", "fast", "ignored", "inserted", "merged", "no_result", "ok",
	"other_shard", "passed", "rejected", "removed", "sink_failed",
	"skipped", "stale", "unchanged", "updated",
};

struct series {
	char *labels;		/* without program="..." */
	double v;		/* counter, gauge; histogram: sum */
	uint64_t n;		/* histogram: count */
	uint64_t b[NBUCKETS];	/* histogram: per bucket, not cumulative */
	unsigned gen;		/* the family's gen when last set */
};

struct family {
	char *name, *help;
	enum metrics_type type;
	struct series *s;
	size_t ns;
	int from_stats;		/* values are copies of stats counters */
	unsigned gen;		/* metrics_sweep() rounds */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct family *fams;
static size_t nfams;
static double t_start, t_tick, t_file, last_success = -1;
static int finished, exit_code = -1, ticked, heartbeat;
static volatile int ready;

static void
start_clock(void)
{
	if (t_start == 0)
		t_start = clock_wall_s();
}

/* The start time is the process's, not the first write's. */
__attribute__((constructor)) static void
metrics_init_clock(void)
{
	start_clock();
}

/* The family (created on first use); mu held. */
static struct family *
family(const char *name, int type)
{
	struct family *f;
	size_t i;

	for (i = 0; i < nfams; i++)
		if (strcmp(fams[i].name, name) == 0)
			return &fams[i];
	fams = xrealloc(fams, (nfams + 1) * sizeof(*fams));
	f = &fams[nfams++];
	memset(f, 0, sizeof(*f));
	f->name = xstrdup(name);
	f->type = type < 0 ? METRICS_GAUGE : (enum metrics_type)type;
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(known[i].name, name) == 0) {
			f->type = known[i].type;
			f->help = xstrdup(known[i].help);
		}
	return f;
}

static struct series *
series(struct family *f, const char *labels)
{
	size_t i;

	if (labels == NULL)
		labels = "";
	for (i = 0; i < f->ns; i++)
		if (strcmp(f->s[i].labels, labels) == 0)
			return &f->s[i];
	f->s = xrealloc(f->s, (f->ns + 1) * sizeof(*f->s));
	memset(&f->s[f->ns], 0, sizeof(f->s[0]));
	f->s[f->ns].labels = xstrdup(labels);
	return &f->s[f->ns++];
}

void
metrics_describe(const char *fam, enum metrics_type type, const char *help)
{
	struct family *f;

	pthread_mutex_lock(&mu);
	f = family(fam, (int)type);
	f->type = type;
	free(f->help);
	f->help = xstrdup(help);
	pthread_mutex_unlock(&mu);
}

void
metrics_add(const char *fam, const char *labels, double v)
{
	pthread_mutex_lock(&mu);
	series(family(fam, METRICS_COUNTER), labels)->v += v;
	pthread_mutex_unlock(&mu);
}

void
metrics_set(const char *fam, const char *labels, double v)
{
	struct family *f;
	struct series *s;

	pthread_mutex_lock(&mu);
	f = family(fam, METRICS_GAUGE);
	s = series(f, labels);
	s->v = v;
	s->gen = f->gen;
	pthread_mutex_unlock(&mu);
}

void
metrics_sweep(const char *fam)
{
	struct family *f;
	size_t i, k = 0;

	pthread_mutex_lock(&mu);
	f = family(fam, -1);
	for (i = 0; i < f->ns; i++) {
		if (f->s[i].gen != f->gen) {
			free(f->s[i].labels);
			continue;
		}
		f->s[k++] = f->s[i];
	}
	f->ns = k;
	f->gen++;	/* the next round's sets count */
	pthread_mutex_unlock(&mu);
}

void
metrics_clear(const char *fam)
{
	struct family *f;
	size_t i;

	pthread_mutex_lock(&mu);
	f = family(fam, -1);
	for (i = 0; i < f->ns; i++)
		free(f->s[i].labels);
	free(f->s);
	f->s = NULL;
	f->ns = 0;
	pthread_mutex_unlock(&mu);
}

void
metrics_observe(const char *fam, const char *labels, double v)
{
	struct series *s;
	size_t i;

	pthread_mutex_lock(&mu);
	s = series(family(fam, METRICS_HISTOGRAM), labels);
	s->v += v;
	s->n++;
	for (i = 0; i < NBUCKETS; i++)
		if (v <= buckets[i]) {
			s->b[i]++;
			break;
		}
	pthread_mutex_unlock(&mu);
}

void
metrics_label(struct buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			buf_addc(b, '\\');
		if (*v == '\n')
			buf_adds(b, "\\n");
		else
			buf_addc(b, *v);
	}
}

/* "twinpipe_" NAME "_total" with NAME's other characters made '_'. */
static void
generic_name(struct buf *b, const char *stat)
{
	buf_adds(b, "twinpipe_");
	for (; *stat; stat++)
		buf_addc(b, (*stat >= 'a' && *stat <= 'z') ||
		    (*stat >= 'A' && *stat <= 'Z') ||
		    (*stat >= '0' && *stat <= '9') ? *stat : '_');
	buf_adds(b, "_total");
}

/* Copy one summary counter into its series; mu held. */
static void
map_stat(const char *name, uint64_t v)
{
	struct buf fam = BUF_INIT, lab = BUF_INIT;
	const char *dot = strchr(name, '.');
	struct family *f;
	size_t i;

	for (i = 0; i < sizeof(smap) / sizeof(smap[0]); i++)
		if (strcmp(smap[i].stat, name) == 0)
			buf_adds(&fam, smap[i].family);
	for (i = 0; fam.len == 0 && i < sizeof(outcomes) / sizeof(outcomes[0]);
	    i++)
		if (strcmp(outcomes[i], name) == 0) {
			buf_adds(&fam, "twinpipe_records_total");
			buf_adds(&lab, "outcome=\"");
			metrics_label(&lab, name);
			buf_addc(&lab, '"');
		}
	if (fam.len == 0 && dot != NULL && strncmp(name, "invalid.", 8) == 0) {
		buf_adds(&fam, "twinpipe_input_errors_total");
		buf_adds(&lab, "code=\"");
		metrics_label(&lab, dot + 1);
		buf_addc(&lab, '"');
	} else if (fam.len == 0 && dot != NULL) {
		/* push-adt's KIND.OP[.STATUS] */
		const char *d2 = strchr(dot + 1, '.');

		buf_adds(&fam, "twinpipe_adt_operations_total");
		buf_printf(&lab, "kind=\"%.*s\",op=\"", (int)(dot - name),
		    name);
		if (d2 != NULL) {
			buf_add(&lab, dot + 1, (size_t)(d2 - dot - 1));
			buf_printf(&lab, "\",status=\"%s\"", d2 + 1);
		} else {
			buf_printf(&lab, "%s\",status=\"0\"", dot + 1);
		}
	} else if (fam.len == 0) {
		generic_name(&fam, name);
	}
	f = family(buf_cstr(&fam), METRICS_COUNTER);
	f->from_stats = 1;
	if (f->help == NULL) {
		struct buf h = BUF_INIT;

		buf_printf(&h, "Summary counter %s.", name);
		f->help = buf_cstr(&h);
	}
	series(f, lab.len ? buf_cstr(&lab) : NULL)->v = (double)v;
	buf_release(&fam);
	buf_release(&lab);
}

/* Copy the summary counters (main thread). */
static void
snapshot(void)
{
	const char *name;
	uint64_t v;
	int i;

	pthread_mutex_lock(&mu);
	for (i = 0; stats_nth(i, &name, &v) == 0; i++)
		map_stat(name, v);
	pthread_mutex_unlock(&mu);
}

static void
value(struct buf *b, double v)
{
	if (isinf(v))
		buf_adds(b, v > 0 ? "+Inf" : "-Inf");
	else if (isnan(v))
		buf_adds(b, "NaN");
	else if (v == floor(v) && fabs(v) < 1e15)
		buf_printf(b, "%.0f", v);
	else
		buf_printf(b, "%.17g", v);
}

/* NAME{program="P"[,LABELS][,EXTRA]} VALUE */
static void
line(struct buf *b, const char *name, const char *suffix, const char *labels,
    const char *extra, double v)
{
	buf_printf(b, "%s%s{program=\"", name, suffix);
	metrics_label(b, log_prog());
	buf_addc(b, '"');
	if (labels != NULL && *labels)
		buf_printf(b, ",%s", labels);
	if (extra != NULL)
		buf_printf(b, ",%s", extra);
	buf_adds(b, "} ");
	value(b, v);
	buf_addc(b, '\n');
}

static void
head(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
render_family(struct buf *b, const struct family *f)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };
	size_t i, k;

	if (f->ns == 0)
		return;
	head(b, f->name, types[f->type],
	    f->help != NULL ? f->help : "(no help)");
	for (i = 0; i < f->ns; i++) {
		const struct series *s = &f->s[i];
		uint64_t cum = 0;
		char le[40];

		if (f->type != METRICS_HISTOGRAM) {
			line(b, f->name, "", s->labels, NULL, s->v);
			continue;
		}
		for (k = 0; k < NBUCKETS; k++) {
			cum += s->b[k];
			snprintf(le, sizeof(le), "le=\"%g\"", buckets[k]);
			line(b, f->name, "_bucket", s->labels, le,
			    (double)cum);
		}
		line(b, f->name, "_bucket", s->labels, "le=\"+Inf\"",
		    (double)s->n);
		line(b, f->name, "_sum", s->labels, NULL, s->v);
		line(b, f->name, "_count", s->labels, NULL, (double)s->n);
	}
}

void
metrics_render(struct buf *b)
{
	double now = clock_wall_s();
	size_t i, k;

	start_clock();
	pthread_mutex_lock(&mu);
	head(b, "twinpipe_up", "gauge",
	    "1 while the program runs, 0 in the file written at its exit.");
	line(b, "twinpipe_up", "", NULL, NULL, finished ? 0 : 1);
	head(b, "twinpipe_build_info", "gauge",
	    "Always 1; the twinpipe version is a label.");
	line(b, "twinpipe_build_info", "", "version=\"" TP_VERSION "\"", NULL,
	    1);
	head(b, "twinpipe_start_time_seconds", "gauge",
	    "Start of the process, seconds since the Unix epoch.");
	line(b, "twinpipe_start_time_seconds", "", NULL, NULL, t_start);
	head(b, "twinpipe_run_seconds", "gauge",
	    "Seconds since the start; at exit, the duration of the run.");
	line(b, "twinpipe_run_seconds", "", NULL, NULL, now - t_start);
	if (finished) {
		head(b, "twinpipe_exit_code", "gauge", "Exit status of the "
		    "run: 0 all ok, 1 some records failed, 2 usage, 3 fatal.");
		line(b, "twinpipe_exit_code", "", NULL, NULL, exit_code);
	}
	if (last_success >= 0) {
		head(b, "twinpipe_last_success_timestamp_seconds", "gauge",
		    "End of the last run that exited 0, seconds since the "
		    "Unix epoch.");
		line(b, "twinpipe_last_success_timestamp_seconds", "", NULL,
		    NULL, last_success);
	}
	/* known families in table order, then the others */
	for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
		for (i = 0; i < nfams; i++)
			if (strcmp(fams[i].name, known[k].name) == 0)
				render_family(b, &fams[i]);
	for (i = 0; i < nfams; i++) {
		for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if (strcmp(fams[i].name, known[k].name) == 0)
				break;
		if (k == sizeof(known) / sizeof(known[0]))
			render_family(b, &fams[i]);
	}
	pthread_mutex_unlock(&mu);
}

int
metrics_active(void)
{
	return metrics_opt.file != NULL || metrics_opt.listen != NULL;
}

int
metrics_write_file(const char *path)
{
	struct buf b = BUF_INIT, tmp = BUF_INIT;
	int fd, rc = -1;

	metrics_render(&b);
	buf_printf(&tmp, "%s.XXXXXX", path);
	if ((fd = mkstemp(buf_cstr(&tmp))) < 0) {
		log_warn("metrics: cannot create a file beside '%s': %s", path,
		    strerror(errno));
		goto out;
	}
	(void)fchmod(fd, 0644);
	if (fd_write_all(fd, b.p, b.len) < 0 || fsync(fd) != 0) {
		log_warn("metrics: write error on '%s': %s", tmp.p,
		    strerror(errno));
		close(fd);
		unlink(tmp.p);
		goto out;
	}
	if (close(fd) != 0 || rename(tmp.p, path) != 0) {
		log_warn("metrics: cannot write '%s': %s", path,
		    strerror(errno));
		unlink(tmp.p);
		goto out;
	}
	rc = 0;
out:
	buf_release(&b);
	buf_release(&tmp);
	return rc;
}

void
metrics_tick(void)
{
	double now;

	if (!metrics_active())
		return;
	start_clock();
	now = clock_wall_s();
	snapshot();
	pthread_mutex_lock(&mu);
	t_tick = now;
	ticked = 1;
	pthread_mutex_unlock(&mu);
	if (metrics_opt.file != NULL && metrics_opt.interval > 0 &&
	    now - t_file >= metrics_opt.interval) {
		t_file = now;
		(void)metrics_write_file(metrics_opt.file);
	}
}

/* The last success recorded in the file of an earlier run, or -1. */
static double
previous_success(const char *path)
{
	struct buf b = BUF_INIT, key = BUF_INIT;
	const char *p;
	double v = -1;

	buf_adds(&key, "\ntwinpipe_last_success_timestamp_seconds{program=\"");
	metrics_label(&key, log_prog());
	buf_adds(&key, "\"} ");
	if (buf_read_file(&b, path) == 0 && b.len > 0) {
		buf_cstr(&b);
		if ((p = strstr(b.p, buf_cstr(&key))) != NULL)
			v = strtod(p + key.len, NULL);
	}
	buf_release(&b);
	buf_release(&key);
	return v;
}

int
metrics_finish(int status)
{
	double prev;
	int rc = 0;

	if (!metrics_active())
		return 0;
	metrics_listen_stop();
	snapshot();
	prev = status != 0 && metrics_opt.file != NULL ?
	    previous_success(metrics_opt.file) : -1;
	pthread_mutex_lock(&mu);
	finished = 1;
	exit_code = status;
	last_success = status == 0 ? clock_wall_s() : prev;
	pthread_mutex_unlock(&mu);
	if (metrics_opt.file != NULL)
		rc = metrics_write_file(metrics_opt.file);
	return rc;
}

/* ---- the listener ---- */

static struct MHD_Daemon *daemon_;

static enum MHD_Result
answer(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_len, void **state)
{
	struct MHD_Response *r;
	struct buf b = BUF_INIT;
	const char *type = "text/plain; charset=utf-8";
	unsigned status = 200;
	enum MHD_Result ret;

	(void)cls;
	(void)version;
	(void)upload;
	(void)upload_len;
	if (*state == NULL) {	/* headers only: wait for the end */
		*state = c;
		return MHD_YES;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		status = 405;
		buf_adds(&b, "method not allowed\n");
	} else if (strcmp(url, "/metrics") == 0) {
		metrics_render(&b);
		type = "text/plain; version=0.0.4; charset=utf-8";
	} else if (strcmp(url, "/healthz") == 0) {
		double limit = metrics_opt.interval * 3 > 30 ?
		    metrics_opt.interval * 3 : 30, age;
		int t;

		pthread_mutex_lock(&mu);
		t = ticked && heartbeat;
		age = clock_wall_s() - t_tick;
		pthread_mutex_unlock(&mu);
		if (t && age > limit) {
			status = 503;
			buf_printf(&b, "stalled: the main loop was last seen "
			    "%.0fs ago\n", age);
		} else {
			buf_adds(&b, "ok\n");
		}
	} else if (strcmp(url, "/readyz") == 0) {
		if (__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) {
			buf_adds(&b, "ready\n");
		} else {
			status = 503;
			buf_adds(&b, "not ready\n");
		}
	} else {
		status = 404;
		buf_adds(&b, "not found: /metrics, /healthz, /readyz\n");
	}
	r = MHD_create_response_from_buffer(b.len, b.p, MHD_RESPMEM_MUST_COPY);
	buf_release(&b);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

int
metrics_listen_start(const char *addr, struct buf *bound)
{
	struct addrinfo hints, *ai = NULL;
	struct buf host = BUF_INIT;
	const union MHD_DaemonInfo *di;
	const char *colon = strrchr(addr, ':');
	char shown[INET6_ADDRSTRLEN];
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	int rc = -1, e;

	start_clock();
	if (colon == NULL || colon[1] == '\0') {
		log_error("--metrics-listen: '%s' is not HOST:PORT", addr);
		return -1;
	}
	if (addr[0] == '[' && colon > addr && colon[-1] == ']')
		buf_add(&host, addr + 1, (size_t)(colon - addr - 2));
	else
		buf_add(&host, addr, (size_t)(colon - addr));
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((e = getaddrinfo(host.len ? buf_cstr(&host) : NULL, colon + 1,
	    &hints, &ai)) != 0) {
		log_error("--metrics-listen: '%s': %s", addr, gai_strerror(e));
		goto out;
	}
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	daemon_ = MHD_start_daemon(flags, 0, NULL, NULL, answer, NULL,
	    MHD_OPTION_SOCK_ADDR, ai->ai_addr,
	    MHD_OPTION_CONNECTION_LIMIT, 32u,
	    MHD_OPTION_CONNECTION_TIMEOUT, 10u,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32 * 1024,
	    MHD_OPTION_END);
	if (daemon_ == NULL) {
		log_error("--metrics-listen: cannot listen on %s: %s", addr,
		    strerror(errno));
		goto out;
	}
	di = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, shown, sizeof(shown),
	    NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(shown, sizeof(shown), "?");
	if (bound != NULL)
		buf_printf(bound, ai->ai_family == AF_INET6 ? "[%s]:%u" :
		    "%s:%u", shown, di != NULL ? (unsigned)di->port : 0u);
	log_info(ai->ai_family == AF_INET6 ? "metrics: serving "
	    "http://[%s]:%u/metrics" : "metrics: serving http://%s:%u/metrics",
	    shown, di != NULL ? (unsigned)di->port : 0u);
	rc = 0;
out:
	if (ai != NULL)
		freeaddrinfo(ai);
	buf_release(&host);
	return rc;
}

void
metrics_listen_stop(void)
{
	if (daemon_ != NULL)
		MHD_stop_daemon(daemon_);
	daemon_ = NULL;
}

void
metrics_expect_heartbeat(void)
{
	pthread_mutex_lock(&mu);
	heartbeat = 1;
	pthread_mutex_unlock(&mu);
}

void
metrics_set_ready(int r)
{
	__atomic_store_n(&ready, r, __ATOMIC_RELEASE);
}

void
metrics_reset(void)
{
	size_t i, k;

	metrics_listen_stop();
	pthread_mutex_lock(&mu);
	for (i = 0; i < nfams; i++) {
		for (k = 0; k < fams[i].ns; k++)
			free(fams[i].s[k].labels);
		free(fams[i].s);
		free(fams[i].name);
		free(fams[i].help);
	}
	free(fams);
	fams = NULL;
	nfams = 0;
	finished = ticked = heartbeat = 0;
	exit_code = -1;
	last_success = -1;
	t_file = t_tick = 0;
	pthread_mutex_unlock(&mu);
}
