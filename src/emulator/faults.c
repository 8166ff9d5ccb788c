/*
 * faults.c - fault injection (rate limits, 5xx answers, latency, dropped
 * connections), the request counters and the /_admin endpoints.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "eh_store.h"
#include "emu.h"
#include "fnv.h"
#include "iothub.h"
#include "json.h"
#include "metrics.h"

#define TWIN_SLOTS 4096
#define COUNTER_MAX 512

static struct {
	uint64_t hash;
	double start;
	double count;
} twin_win[TWIN_SLOTS];

static struct {
	uint64_t hash;
	double start;
	double used;
} part_win[TWIN_SLOTS];

static struct {
	char method[12];
	char kind[24];
	int status;
	uint64_t n;
} counters[COUNTER_MAX];
static int ncounters;
static uint64_t counters_total;
static pthread_mutex_t counter_mu = PTHREAD_MUTEX_INITIALIZER;

/* uniform in [0, 1); fault_mu held */
static double
rnd_locked(void)
{
	uint64_t x = emu.rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	emu.rng = x;
	return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

static void
throttle(struct resp *rs, int is_adt, double wait)
{
	long ms = (long)ceil(wait * 1000);

	if (ms < 1)
		ms = 1;
	if (is_adt) {
		resp_json(rs, 429, JV_OBJECT(jv_string("error"),
		    JV_OBJECT(jv_string("code"), jv_string("TooManyRequests"),
		    jv_string("message"), jv_string("Too many requests. Please "
		    "retry after the time given in the Retry-After header."))));
		resp_header(rs, "Retry-After", "%ld", (ms + 999) / 1000);
		resp_header(rs, "x-ms-error-code", "TooManyRequests");
	} else {
		resp_json(rs, 429, JV_OBJECT(jv_string("code"),
		    jv_string("TooManyRequests"), jv_string("message"),
		    jv_string("Message: {\"Errors\":[\"Request rate is large. "
		    "More Request Units may be needed, so no changes were made. "
		    "Please retry this request later.\"]}")));
		resp_header(rs, "x-ms-retry-after-ms", "%ld", ms);
		resp_header(rs, "x-ms-substatus", "3200");
		resp_header(rs, "x-ms-request-charge", "0");
	}
}

int
faults_before(struct req *r, struct resp *rs, int is_adt)
{
	struct faults f;
	double now, wait = 0, u_drop, u_err, u_kind;
	int limited = 0;

	now = emu_now();
	pthread_mutex_lock(&emu.fault_mu);
	f = emu.faults;
	u_drop = rnd_locked();
	u_err = rnd_locked();
	u_kind = rnd_locked();
	if (f.rate > 0) {
		emu.bucket += (now - emu.bucket_t) * f.rate;
		emu.bucket_t = now;
		if (emu.bucket > (f.rate < 1 ? 1 : f.rate))
			emu.bucket = f.rate < 1 ? 1 : f.rate;
		if (emu.bucket >= 1)
			emu.bucket -= 1;
		else {
			limited = 1;
			wait = (1 - emu.bucket) / f.rate;
		}
	}
	pthread_mutex_unlock(&emu.fault_mu);
	if (f.drop_rate > 0 && u_drop < f.drop_rate) {
		rs->drop = 1;
		return 1;
	}
	if (limited) {
		throttle(rs, is_adt, wait);
		return 1;
	}
	if (f.error_rate > 0 && u_err < f.error_rate) {
		int st = u_kind < 0.5 ? 500 : 503;
		const char *code = st == 500 ? "InternalServerError" :
		    "ServiceUnavailable";
		const char *msg = st == 500 ? "An internal error occurred "
		    "(injected by twin-emulator)." : "The service is busy "
		    "(injected by twin-emulator).";

		if (is_adt)
			resp_json(rs, st, JV_OBJECT(jv_string("error"),
			    JV_OBJECT(jv_string("code"), jv_string(code),
			    jv_string("message"), jv_string(msg))));
		else
			resp_json(rs, st, JV_OBJECT(jv_string("code"),
			    jv_string(code), jv_string("message"), jv_string(msg)));
		return 1;
	}
	(void)r;
	return 0;
}

static uint64_t
fnv(const char *s)
{
	return fnv1a64(s, strlen(s)) | 1;
}

int
faults_twin(const char *id, struct resp *rs)
{
	double now = emu_now(), lim, wait = 0;
	uint64_t h = fnv(id);
	unsigned slot = (unsigned)(h % TWIN_SLOTS);
	int over = 0;

	pthread_mutex_lock(&emu.fault_mu);
	lim = emu.faults.twin_rate;
	if (lim > 0) {
		if (twin_win[slot].hash != h || now - twin_win[slot].start >= 1) {
			twin_win[slot].hash = h;
			twin_win[slot].start = now;
			twin_win[slot].count = 0;
		}
		if (twin_win[slot].count >= lim) {
			over = 1;
			wait = 1 - (now - twin_win[slot].start);
		} else
			twin_win[slot].count++;
	}
	pthread_mutex_unlock(&emu.fault_mu);
	if (over)
		throttle(rs, 1, wait);
	return over;
}

int
faults_create(struct resp *rs)
{
	double now = emu_now(), lim, depth, wait = 0;
	int over = 0;

	pthread_mutex_lock(&emu.fault_mu);
	lim = emu.faults.create_rate;
	if (lim > 0) {
		depth = lim < 1 ? 1 : lim;
		emu.cbucket += (now - emu.cbucket_t) * lim;
		emu.cbucket_t = now;
		if (emu.cbucket > depth)
			emu.cbucket = depth;
		if (emu.cbucket >= 1)
			emu.cbucket -= 1;
		else {
			over = 1;
			wait = (1 - emu.cbucket) / lim;
		}
	}
	pthread_mutex_unlock(&emu.fault_mu);
	if (over)
		throttle(rs, 1, wait);
	return over;
}

int
faults_partition(const char *key, struct resp *rs)
{
	double now = emu_now(), wait = 0;
	uint64_t h = fnv(key);
	unsigned slot = (unsigned)(h % TWIN_SLOTS);
	int over = 0;

	pthread_mutex_lock(&emu.fault_mu);
	if (emu.faults.partition_ru > 0) {
		if (part_win[slot].hash != h || now - part_win[slot].start >= 1) {
			part_win[slot].hash = h;
			part_win[slot].start = now;
			part_win[slot].used = 0;
		}
		if (part_win[slot].used >= emu.faults.partition_ru) {
			over = 1;
			wait = 1 - (now - part_win[slot].start);
		}
	}
	pthread_mutex_unlock(&emu.fault_mu);
	if (over)
		throttle(rs, 0, wait);
	return over;
}

void
faults_partition_charge(const char *key, double ru)
{
	uint64_t h = fnv(key);
	unsigned slot = (unsigned)(h % TWIN_SLOTS);

	pthread_mutex_lock(&emu.fault_mu);
	if (emu.faults.partition_ru > 0 && part_win[slot].hash == h)
		part_win[slot].used += ru;
	pthread_mutex_unlock(&emu.fault_mu);
}

void
faults_delay(void)
{
	double d;
	struct timespec ts;

	pthread_mutex_lock(&emu.fault_mu);
	d = emu.faults.latency;
	if (emu.faults.jitter > 0)
		d += emu.faults.jitter * rnd_locked();
	pthread_mutex_unlock(&emu.fault_mu);
	if (d <= 0)
		return;
	ts.tv_sec = (time_t)d;
	ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0)
		;
}

jv
faults_get(void)
{
	struct faults f;

	pthread_mutex_lock(&emu.fault_mu);
	f = emu.faults;
	pthread_mutex_unlock(&emu.fault_mu);
	jv v = JV_OBJECT(jv_string("rate"), jv_number(f.rate),
	    jv_string("twin_rate"), jv_number(f.twin_rate),
	    jv_string("partition_ru"), jv_number(f.partition_ru),
	    jv_string("error_rate"), jv_number(f.error_rate),
	    jv_string("drop_rate"), jv_number(f.drop_rate),
	    jv_string("latency_ms"), jv_number(f.latency * 1000),
	    jv_string("jitter_ms"), jv_number(f.jitter * 1000),
	    jv_string("seed"), jv_number((double)f.seed));

	v = jv_object_set(v, jv_string("create_rate"), jv_number(f.create_rate));
	return jv_object_set(v, jv_string("job_fail_after"),
	    jv_number(f.job_fail_after));
}

int
faults_set(jv o, char *msg, size_t msgsz)
{
	struct faults f;
	jv keys, v;
	const char *k;
	double d;
	int i, n;

	if (jv_get_kind(o) != JV_KIND_OBJECT) {
		snprintf(msg, msgsz, "the body must be a JSON object");
		return -1;
	}
	pthread_mutex_lock(&emu.fault_mu);
	f = emu.faults;
	pthread_mutex_unlock(&emu.fault_mu);
	keys = jv_keys(jv_copy(o));
	n = jv_array_length(jv_copy(keys));
	for (i = 0; i < n; i++) {
		jv kj = jv_array_get(jv_copy(keys), i);

		k = jv_string_value(kj);
		v = json_get(o, k);
		if (jv_get_kind(v) != JV_KIND_NUMBER || !isfinite(jv_number_value(v)) ||
		    jv_number_value(v) < 0) {
			snprintf(msg, msgsz, "'%s' must be a number >= 0", k);
			goto bad;
		}
		d = jv_number_value(v);
		jv_free(v);
		if (strcmp(k, "rate") == 0)
			f.rate = d;
		else if (strcmp(k, "twin_rate") == 0)
			f.twin_rate = d;
		else if (strcmp(k, "partition_ru") == 0)
			f.partition_ru = d;
		else if (strcmp(k, "error_rate") == 0 && d <= 1)
			f.error_rate = d;
		else if (strcmp(k, "drop_rate") == 0 && d <= 1)
			f.drop_rate = d;
		else if (strcmp(k, "latency_ms") == 0 && d <= 60000)
			f.latency = d / 1000;
		else if (strcmp(k, "jitter_ms") == 0 && d <= 60000)
			f.jitter = d / 1000;
		else if (strcmp(k, "seed") == 0)
			f.seed = (unsigned long long)d;
		else if (strcmp(k, "create_rate") == 0)
			f.create_rate = d;
		else if (strcmp(k, "job_fail_after") == 0)
			f.job_fail_after = floor(d);
		else {
			snprintf(msg, msgsz, "unknown setting or out of range: '%s'", k);
			jv_free(kj);
			goto bad_nov;
		}
		jv_free(kj);
		continue;
bad:
		jv_free(v);
		jv_free(kj);
bad_nov:
		jv_free(keys);
		return -1;
	}
	jv_free(keys);
	pthread_mutex_lock(&emu.fault_mu);
	if (f.seed != emu.faults.seed)
		emu.rng = f.seed * 0x9E3779B97F4A7C15ULL | 1;
	if (f.rate != emu.faults.rate) {
		emu.bucket = f.rate < 1 ? 1 : f.rate;
		emu.bucket_t = emu_now();
	}
	if (f.create_rate != emu.faults.create_rate) {
		emu.cbucket = f.create_rate < 1 ? 1 : f.create_rate;
		emu.cbucket_t = emu_now();
	}
	emu.faults = f;
	pthread_mutex_unlock(&emu.fault_mu);
	return 0;
}

void
counters_add(const char *method, const char *kind, int status)
{
	int i;

	pthread_mutex_lock(&counter_mu);
	counters_total++;
	for (i = 0; i < ncounters; i++)
		if (counters[i].status == status &&
		    strcmp(counters[i].kind, kind) == 0 &&
		    strcmp(counters[i].method, method) == 0)
			break;
	if (i == ncounters && ncounters < COUNTER_MAX) {
		snprintf(counters[i].method, sizeof(counters[i].method), "%s", method);
		snprintf(counters[i].kind, sizeof(counters[i].kind), "%s", kind);
		counters[i].status = status;
		counters[i].n = 0;
		ncounters++;
	}
	if (i < ncounters)
		counters[i].n++;
	pthread_mutex_unlock(&counter_mu);
	if (metrics_opt.listen != NULL || metrics_opt.file != NULL) {
		struct buf l = BUF_INIT;

		buf_adds(&l, "method=\"");
		metrics_label(&l, method);
		buf_adds(&l, "\",kind=\"");
		metrics_label(&l, kind);
		buf_printf(&l, "\",status=\"%d\"", status);
		metrics_add("twinpipe_emulator_requests_total", buf_cstr(&l),
		    1);
		buf_release(&l);
	}
}

static jv
bump(jv o, const char *k, uint64_t n)
{
	jv old = json_get(o, k);
	double d = jv_get_kind(old) == JV_KIND_NUMBER ? jv_number_value(old) : 0;

	jv_free(old);
	return jv_object_set(o, jv_string(k), jv_number(d + (double)n));
}

jv
counters_get(void)
{
	jv st = jv_object(), kd = jv_object(), me = jv_object(), all = jv_object(),
	    ent = jv_array();
	char sk[16], key[64];
	int i;
	uint64_t total;

	pthread_mutex_lock(&counter_mu);
	total = counters_total;
	for (i = 0; i < ncounters; i++) {
		snprintf(sk, sizeof(sk), "%d", counters[i].status);
		st = bump(st, sk, counters[i].n);
		kd = bump(kd, counters[i].kind, counters[i].n);
		me = bump(me, counters[i].method, counters[i].n);
		snprintf(key, sizeof(key), "%.11s %.23s %d", counters[i].method,
		    counters[i].kind, counters[i].status);
		all = bump(all, key, counters[i].n);
		ent = jv_array_append(ent, JV_OBJECT(jv_string("method"),
		    jv_string(counters[i].method), jv_string("kind"),
		    jv_string(counters[i].kind), jv_string("status"),
		    jv_number(counters[i].status), jv_string("count"),
		    jv_number((double)counters[i].n)));
	}
	pthread_mutex_unlock(&counter_mu);
	return JV_OBJECT(jv_string("total"), jv_number((double)total),
	    jv_string("by_status"), st, jv_string("by_kind"), kd,
	    jv_string("by_method"), me, jv_string("by_request"), all,
	    jv_string("entries"), ent);
}

void
counters_reset(void)
{
	pthread_mutex_lock(&counter_mu);
	ncounters = 0;
	counters_total = 0;
	pthread_mutex_unlock(&counter_mu);
}

static void
admin_error(struct resp *rs, int status, const char *msg)
{
	resp_json(rs, status, JV_OBJECT(jv_string("error"), jv_string(msg)));
}

void
admin_handle(struct req *r, struct resp *rs)
{
	const char *what = r->nseg > 1 ? r->seg[1] : "";
	char msg[160];
	jv o;

	if (r->nseg > 2 && strcmp(what, "eventhubs") == 0) {
		eh_admin_handle(r, rs);
	} else if (r->nseg > 2 && strcmp(what, "iothub") == 0) {
		iothub_admin_handle(r, rs);
	} else if (r->nseg != 2) {
		admin_error(rs, 404, "no such admin endpoint");
	} else if (strcmp(what, "stats") == 0) {
		if (strcmp(r->method, "GET") == 0)
			resp_json(rs, 200, counters_get());
		else if (strcmp(r->method, "DELETE") == 0) {
			counters_reset();
			rs->status = 204;
		} else
			admin_error(rs, 405, "use GET or DELETE");
	} else if (strcmp(what, "faults") == 0) {
		if (strcmp(r->method, "GET") == 0)
			resp_json(rs, 200, faults_get());
		else if (strcmp(r->method, "POST") == 0 ||
		    strcmp(r->method, "PUT") == 0) {
			if (req_json(r, &o, msg, sizeof(msg)) != 0 ||
			    faults_set(o, msg, sizeof(msg)) != 0)
				admin_error(rs, 400, msg);
			else
				resp_json(rs, 200, faults_get());
			jv_free(o);
		} else
			admin_error(rs, 405, "use GET or POST");
	} else if (strcmp(what, "health") == 0) {
		resp_json(rs, 200, JV_OBJECT(jv_string("status"), jv_string("ok")));
	} else
		admin_error(rs, 404, "no such admin endpoint");
}
