/*
 * test_metrics.c - the Prometheus text renderer: the mapping of summary
 * counters to metric names and labels, HELP/TYPE once per family, label
 * escaping, cumulative histogram buckets, the last write of a run (exit
 * code, last success kept from an earlier file), and the atomic file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "metrics.h"
#include "stats.h"
#include "tap.h"

static int
has(const char *page, const char *line)
{
	struct buf b = BUF_INIT;
	int r;

	buf_printf(&b, "\n%s\n", line);
	r = strstr(page, b.p) != NULL;
	if (!r)
		printf("#   missing line: %s\n", line);
	buf_release(&b);
	return r;
}

static int
count(const char *page, const char *s)
{
	int n = 0;

	while ((page = strstr(page, s)) != NULL) {
		n++;
		page += strlen(s);
	}
	return n;
}

int
main(void)
{
	struct buf b = BUF_INIT;
	char dir[] = "/tmp/test_metrics.XXXXXX", path[64];
	const char *p;

	log_init("push-adt");
	*stats_counter("in") = 10;
	*stats_counter("ok") = 8;
	*stats_counter("failed") = 2;
	*stats_counter("requests") = 12;
	*stats_counter("twin.upsert.200") = 7;
	*stats_counter("relationship.delete") = 1;
	*stats_counter("invalid.missing_id") = 2;
	*stats_counter("odd-name") = 3;

	/* nothing is copied while metrics are off */
	metrics_tick();
	metrics_render(&b);
	p = buf_cstr(&b);
	ok(strstr(p, "twinpipe_records_in_total") == NULL,
	    "no copy of the counters without --metrics-file");
	ok(has(p, "twinpipe_up{program=\"push-adt\"} 1"), "up while running");
	buf_release(&b);

	metrics_opt.listen = "unused";	/* active, no file */
	metrics_tick();
	metrics_render(&b);
	p = buf_cstr(&b);
	ok(has(p, "twinpipe_records_in_total{program=\"push-adt\"} 10"),
	    "in is twinpipe_records_in_total");
	ok(has(p, "twinpipe_records_total{program=\"push-adt\","
	    "outcome=\"ok\"} 8"), "ok is an outcome");
	ok(has(p, "twinpipe_records_total{program=\"push-adt\","
	    "outcome=\"failed\"} 2"), "failed is an outcome");
	ok(has(p, "twinpipe_http_attempts_total{program=\"push-adt\"} 12"),
	    "requests are HTTP attempts");
	ok(has(p, "twinpipe_adt_operations_total{program=\"push-adt\","
	    "kind=\"twin\",op=\"upsert\",status=\"200\"} 7"),
	    "KIND.OP.STATUS");
	ok(has(p, "twinpipe_adt_operations_total{program=\"push-adt\","
	    "kind=\"relationship\",op=\"delete\",status=\"0\"} 1"),
	    "KIND.OP without a status");
	ok(has(p, "twinpipe_input_errors_total{program=\"push-adt\","
	    "code=\"missing_id\"} 2"), "invalid.CODE");
	ok(has(p, "twinpipe_odd_name_total{program=\"push-adt\"} 3"),
	    "unknown names are sanitized");
	ok(has(p, "# TYPE twinpipe_records_total counter"), "TYPE line");
	is_int(count(p, "# TYPE twinpipe_records_total "), 1,
	    "one TYPE per family");
	is_int(count(p, "# HELP twinpipe_records_total "), 1,
	    "one HELP per family");
	ok(strstr(p, "twinpipe_exit_code") == NULL, "no exit code yet");
	buf_release(&b);

	/* the copy follows the counters */
	*stats_counter("in") = 11;
	metrics_tick();
	metrics_render(&b);
	ok(has(buf_cstr(&b), "twinpipe_records_in_total{program=\"push-adt\"} "
	    "11"), "a tick copies the new value");
	buf_release(&b);

	/* registered series, escaping, histograms */
	metrics_add("twinpipe_token_requests_total",
	    "source=\"env\",outcome=\"ok\"", 1);
	metrics_add("twinpipe_token_requests_total",
	    "source=\"env\",outcome=\"ok\"", 2);
	{
		struct buf l = BUF_INIT;

		buf_adds(&l, "partition=\"");
		metrics_label(&l, "a\"b\\c\nd");
		buf_addc(&l, '"');
		metrics_set("twinpipe_eventhub_lag_events", buf_cstr(&l), 5);
		buf_release(&l);
	}
	metrics_observe("twinpipe_http_request_duration_seconds",
	    "service=\"adt\",status=\"200\"", 0.003);
	metrics_observe("twinpipe_http_request_duration_seconds",
	    "service=\"adt\",status=\"200\"", 0.2);
	metrics_observe("twinpipe_http_request_duration_seconds",
	    "service=\"adt\",status=\"200\"", 100);
	metrics_describe("custom_thing", METRICS_GAUGE, "A thing.");
	metrics_set("custom_thing", NULL, 0.5);
	metrics_render(&b);
	p = buf_cstr(&b);
	ok(has(p, "twinpipe_token_requests_total{program=\"push-adt\","
	    "source=\"env\",outcome=\"ok\"} 3"), "counters add");
	ok(has(p, "twinpipe_eventhub_lag_events{program=\"push-adt\","
	    "partition=\"a\\\"b\\\\c\\nd\"} 5"), "label values escaped");
	ok(has(p, "# TYPE twinpipe_http_request_duration_seconds histogram"),
	    "histogram type");
	ok(has(p, "twinpipe_http_request_duration_seconds_bucket{program="
	    "\"push-adt\",service=\"adt\",status=\"200\",le=\"0.005\"} 1"),
	    "first bucket");
	ok(has(p, "twinpipe_http_request_duration_seconds_bucket{program="
	    "\"push-adt\",service=\"adt\",status=\"200\",le=\"0.25\"} 2"),
	    "buckets are cumulative");
	ok(has(p, "twinpipe_http_request_duration_seconds_bucket{program="
	    "\"push-adt\",service=\"adt\",status=\"200\",le=\"60\"} 2"),
	    "100s is above the last finite bucket");
	ok(has(p, "twinpipe_http_request_duration_seconds_bucket{program="
	    "\"push-adt\",service=\"adt\",status=\"200\",le=\"+Inf\"} 3"),
	    "+Inf bucket is the count");
	ok(has(p, "twinpipe_http_request_duration_seconds_count{program="
	    "\"push-adt\",service=\"adt\",status=\"200\"} 3"), "count");
	ok(has(p, "twinpipe_http_request_duration_seconds_sum{program="
	    "\"push-adt\",service=\"adt\",status=\"200\"} 100.203"), "sum");
	ok(has(p, "# TYPE custom_thing gauge") &&
	    has(p, "custom_thing{program=\"push-adt\"} 0.5"),
	    "a described family");
	ok(b.len > 0 && b.p[b.len - 1] == '\n', "ends with a newline");
	buf_release(&b);
	/* a sweep keeps what was set since the last one */
	metrics_sweep("twinpipe_eventhub_lag_events");
	metrics_set("twinpipe_eventhub_lag_events", "partition=\"1\"", 3);
	metrics_sweep("twinpipe_eventhub_lag_events");
	metrics_render(&b);
	p = buf_cstr(&b);
	ok(has(p, "twinpipe_eventhub_lag_events{program=\"push-adt\","
	    "partition=\"1\"} 3") && strstr(p, "a\\\"b") == NULL,
	    "a sweep drops the series not set since the last one");
	buf_release(&b);
	metrics_sweep("twinpipe_eventhub_lag_events");
	metrics_render(&b);
	ok(strstr(buf_cstr(&b), "twinpipe_eventhub_lag_events") == NULL,
	    "a round without sets empties the family");
	buf_release(&b);
	metrics_set("twinpipe_eventhub_lag_events", "partition=\"1\"", 3);
	metrics_clear("twinpipe_eventhub_lag_events");
	metrics_render(&b);
	ok(strstr(buf_cstr(&b), "twinpipe_eventhub_lag_events") == NULL,
	    "a cleared family is gone, HELP included");
	buf_release(&b);

	/* the file: a failed run keeps the last success of the earlier one */
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/m.prom", dir);
	{
		FILE *f = fopen(path, "w");

		fputs("# earlier run\ntwinpipe_up{program=\"push-adt\"} 0\n"
		    "twinpipe_last_success_timestamp_seconds{program="
		    "\"push-adt\"} 1700000000.5\n", f);
		fclose(f);
	}
	metrics_opt.listen = NULL;
	metrics_opt.file = path;
	is_int(metrics_finish(1), 0, "finish writes the file");
	is_int(buf_read_file(&b, path), 0, "the file is there");
	p = buf_cstr(&b);
	ok(has(p, "twinpipe_up{program=\"push-adt\"} 0"), "up is 0 at exit");
	ok(has(p, "twinpipe_exit_code{program=\"push-adt\"} 1"), "exit code");
	ok(has(p, "twinpipe_last_success_timestamp_seconds{program="
	    "\"push-adt\"} 1700000000.5"), "a failed run keeps the success");
	buf_release(&b);
	metrics_reset();
	is_int(metrics_finish(0), 0, "a successful run");
	is_int(buf_read_file(&b, path), 0, "read again");
	p = buf_cstr(&b);
	ok(strstr(p, "twinpipe_last_success_timestamp_seconds{program="
	    "\"push-adt\"} 1700000000.5") == NULL &&
	    strstr(p, "twinpipe_last_success_timestamp_seconds{") != NULL,
	    "a successful run sets the success time");
	buf_release(&b);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "test $(ls %s | wc -l) = 1", dir);
		is_int(system(cmd), 0, "no temporary file left beside it");
	}
	metrics_opt.file = "/nonexistent/dir/m.prom";
	log_level = LV_QUIET;
	is_int(metrics_write_file(metrics_opt.file), -1,
	    "an unwritable directory is -1");
	unlink(path);
	rmdir(dir);
	metrics_reset();
	return tap_done();
}
