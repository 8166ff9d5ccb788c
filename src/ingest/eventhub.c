/*
 * ingest-eventhub - consume IoT Hub twin-change and lifecycle events from
 * Event Hubs (its Kafka endpoint, through librdkafka, or AMQP 1.0) or any
 * Kafka cluster, write them as NDJSON, and commit a partition's offset only
 * up to what the sink acknowledged (--exec: eventhub_exec.c).
 *
 * This file owns the options, main and its run loop, and the Kafka
 * transport; eventhub_impl.h declares what the program's files share.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "auth.h"
#include "cli.h"
#include "clock.h"
#include "eventhub_ack.h"
#include "eventhub_amqpc.h"
#include "eventhub_ckpt.h"
#include "eventhub_conn.h"
#include "eventhub_event.h"
#include "eventhub_impl.h"
#include "eventhub_own.h"
#include "exitcode.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "ndjson.h"
#include "stage.h"
#include "stats.h"
#include "tape.h"

struct opts op = {
	.group = "twinpipe", .start = "earliest", .max_in_flight = 100000,
	.commit_interval = 1.0, .drain_timeout = 30.0, .barrier_interval = 1.0,
	.ckpt_dir = "eventhub-checkpoints", .max_buffer = 32u << 20,
	.prefetch = 0, .tls_timeout = 60.0, .own_expiry = 60.0,
	.sas_ttl = 3600
};

static int
opt_x(const struct cli_opt *o, char **a, void *ctx)
{
	struct opts *p = ctx;
	char *eq = strchr(a[0], '=');

	(void)o;
	if (eq == NULL || eq == a[0] || p->nx == MAX_X) {
		fprintf(stderr, "ingest-eventhub: error: -X wants KEY=VALUE "
		    "(at most %d)\n", MAX_X);
		return -1;
	}
	*eq = '\0';
	p->xk[p->nx] = a[0];
	p->xv[p->nx++] = eq + 1;
	return 0;
}

static const struct cli_opt options[] = {
	{ "assign", 'a', CLI_FLAG, &op.assign, NULL, NULL,
	    "read every partition of the topic directly, without joining "
	    "a consumer group (like kcat -C; replay: commits nothing)", 0,
	    NULL },
	{ "barrier-interval", 0, CLI_DURATION, &op.barrier_interval,
	    "DURATION", NULL, "with --exec, send a barrier control record "
	    "this often while events are in flight (default 1s; 0: never)",
	    0, NULL },
	{ "binary-body", 0, CLI_FLAG, &op.binary_body, NULL, NULL,
	    "write every body as base64 instead of parsing it as JSON", 0,
	    NULL },
	{ "bootstrap", 'b', CLI_STR, &op.bootstrap, "HOST:PORT",
	    "KAFKA_BOOTSTRAP", "a plain Kafka cluster (no SASL) instead of "
	    "an Event Hubs connection string", 0, NULL },
	CLI_OPT_CACERT(&op.cacert),
	{ "checkpoint-dir", 0, CLI_STR, &op.ckpt_dir, "DIR",
	    "EVENTHUB_CHECKPOINT_DIR", "AMQP: keep checkpoints under DIR in "
	    "the SDKs' layout (default eventhub-checkpoints)", 0, NULL },
	{ "checkpoint-store", 0, CLI_STR, &op.ckpt_store, "URL|CONTAINER",
	    "EVENTHUB_CHECKPOINT_STORE", "AMQP: keep checkpoints and "
	    "ownership in this Blob Storage container as the SDKs' "
	    "BlobCheckpointStore does, shared by instances of the group",
	    0, NULL },
	{ "commit-interval", 0, CLI_DURATION, &op.commit_interval,
	    "DURATION", NULL, "commit acknowledged offsets at most this "
	    "often (default 1s)", 0, NULL },
	{ "connection-string-file", 0, CLI_STR, &op.conn_file, "FILE", NULL,
	    "read the Event Hubs connection string from FILE", 0, NULL },
	{ "dead-letter", 0, CLI_STR, &op.dead_letter, "FILE",
	    "TWINPIPE_DEAD_LETTER",
	    "append bad events with their error to FILE (NDJSON)", 0, NULL },
	{ "drain-timeout", 0, CLI_DURATION, &op.drain_timeout, "DURATION",
	    NULL, "at the end, wait this long for acknowledgements in "
	    "flight (default 30s)", 0, NULL },
	{ "exec", 'e', CLI_STR, &op.exec, "CMD", NULL,
	    "run CMD (sh -c) as the rest of the pipeline and commit what its "
	    "result lines acknowledge", 0, NULL },
	{ "group", 'g', CLI_STR, &op.group, "GROUP", "EVENTHUB_CONSUMER_GROUP",
	    "consumer group (default twinpipe)", 0, NULL },
	{ "idle-exit", 0, CLI_DURATION, &op.idle_exit, "DURATION", NULL,
	    "stop after no event arrived for DURATION (counted from the "
	    "last partition assignment at the earliest)", 0, NULL },
	{ "max-buffer", 0, CLI_SIZE, &op.max_buffer, "SIZE", NULL,
	    "memory for events held, all partitions together: prefetch and "
	    "output waiting to be written (default 32M)", 0, NULL },
	{ "max-events", 'n', CLI_LONG, &op.max_events, "N", NULL,
	    "stop after N events", 0, NULL },
	{ "max-in-flight", 0, CLI_LONG, &op.max_in_flight, "N", NULL,
	    "with --exec, pause reading while N events are unacknowledged "
	    "(default 100000)", 0, NULL },
	{ "metrics-listen", 0, CLI_STR, &metrics_opt.listen, "ADDR:PORT",
	    NULL, "serve /metrics, /healthz and /readyz over HTTP on "
	    "ADDR:PORT (port 0: any)", 0, NULL },
	{ "namespace", 0, CLI_STR, &op.namespace, "NS", "EVENTHUB_NAMESPACE",
	    "Event Hubs namespace (NS or NS.servicebus.windows.net) with "
	    "Entra ID tokens (OAUTHBEARER) instead of a key", 0, NULL },
	{ "no-commit", 0, CLI_FLAG, &op.no_commit, NULL, NULL,
	    "never commit offsets (replay, debugging)", 0, NULL },
	{ "ownership-expiry", 0, CLI_DURATION, &op.own_expiry, "DURATION",
	    NULL, "AMQP with --checkpoint-store: a partition not renewed "
	    "this long may be taken by another instance (default 60s)", 0,
	    NULL },
	{ "partitions", 'p', CLI_STR, &op.partitions, "LIST", NULL,
	    "AMQP: read only these partitions (comma-separated ids; "
	    "default all)", 0, NULL },
	{ "prefetch", 0, CLI_LONG, &op.prefetch, "N", NULL,
	    "AMQP: credit per partition (default: from --max-buffer, at "
	    "most 300)", 0, NULL },
	{ "property", 'X', CLI_FN, NULL, "KEY=VALUE", NULL,
	    "set a librdkafka property, like kcat -X (applied last)", 1,
	    opt_x },
	CLI_OPT_REDACT_PARAM,
	{ "sas-lifetime", 0, CLI_DURATION, &op.sas_ttl, "DURATION", NULL,
	    "AMQP: lifetime of the SAS tokens made from the key, each "
	    "renewed before it expires (default 1h)", 0, NULL },
	{ "start", 's', CLI_STR, &op.start, "WHERE", NULL,
	    "where to start when the group has no committed offset: "
	    "earliest (default), latest, or a time (ISO 8601 or ms since "
	    "the epoch)", 0, NULL },
	{ "tls-timeout", 0, CLI_DURATION, &op.tls_timeout, "DURATION", NULL,
	    "exit 2 when no connection got through TLS this long because "
	    "the server's certificate failed verification (default 60s; "
	    "0: retry for ever)", 0, NULL },
	{ "topic", 't', CLI_STR, &op.topic, "TOPIC", "EVENTHUB_NAME",
	    "the topic (event hub); default: EntityPath of the connection "
	    "string", 0, NULL },
	{ "transport", 'T', CLI_STR, &op.transport, "amqp|kafka",
	    "EVENTHUB_TRANSPORT", "AMQP 1.0 or the Kafka endpoint (default: "
	    "amqp when the connection string asks for it, else kafka)", 0,
	    NULL },
};

const struct cli_prog prog = {
	"ingest-eventhub",
	"[OPTION]... [--exec CMD]",
	"Consume IoT Hub twin-change and lifecycle events from an Event Hub\n"
	"(its Kafka endpoint) or a Kafka topic and write one JSON object per\n"
	"event: {\"body\":..,\"properties\":{..},\"system\":{..},\"_meta\":{\"src\":\n"
	"{\"topic\",\"partition\",\"offset\",\"timestamp\"}}}. With --exec, the\n"
	"events go to CMD and offsets are committed only up to what its\n"
	"result lines acknowledged; without it nothing is committed.",
	options, sizeof(options) / sizeof(options[0]),
	"Environment:\n"
	"  EVENTHUB_CONNECTION_STRING  Endpoint=sb://NS.servicebus.windows.net/;"
	"...;EntityPath=HUB\n"
	"  AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_KEY,\n"
	"  AZURE_STORAGE_SAS_TOKEN     the account of --checkpoint-store\n",
	&op
};

/* ---- connection string ---- */

/* The value of key k in a ';'-separated connection string, or NULL. */
static char *
cs_get(const char *cs, const char *k)
{
	size_t kl = strlen(k);
	const char *p = cs;

	while (*p != '\0') {
		const char *e = strchr(p, ';');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (n > kl && strncasecmp(p, k, kl) == 0 && p[kl] == '=') {
			char *v = xmalloc(n - kl);

			memcpy(v, p + kl + 1, n - kl - 1);
			v[n - kl - 1] = '\0';
			return v;
		}
		p += n;
		if (*p == ';')
			p++;
	}
	return NULL;
}

/* ---- the consumer ---- */

struct ctx cx;

static void revoke_wait(struct ctx *c,
    const rd_kafka_topic_partition_list_t *parts);

void
commit_acked(struct ctx *c, int sync)
{
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_resp_err_t err;
	size_t i;

	if (!c->commit)
		return;
	if (c->amqp != NULL) {
		amqp_commit(c);
		return;
	}
	l = rd_kafka_topic_partition_list_new(8);
	for (i = 0; i < c->ack.n; i++) {
		struct eh_ack_part *p = &c->ack.p[i];

		if (p->commit >= 0 && p->commit > p->committed)
			rd_kafka_topic_partition_list_add(l, op.topic,
			    p->partition)->offset = p->commit;
	}
	if (l->cnt > 0) {
		err = rd_kafka_commit(c->rk, l, sync ? 0 : 1);
		if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
			log_warn("commit failed: %s (retried at the next "
			    "interval)", rd_kafka_err2str(err));
		} else {
			for (i = 0; i < (size_t)l->cnt; i++) {
				struct eh_ack_part *p = eh_ack_part(&c->ack,
				    l->elems[i].partition, 0);

				if (p != NULL)
					p->committed = l->elems[i].offset;
				log_debug("committed %s[%d] at %lld", op.topic,
				    (int)l->elems[i].partition,
				    (long long)l->elems[i].offset);
			}
			c->commits++;
		}
	}
	rd_kafka_topic_partition_list_destroy(l);
}

/* For --start TIME: partitions without a committed offset start there. */
static void
start_at_time(struct ctx *c, rd_kafka_topic_partition_list_t *parts)
{
	rd_kafka_topic_partition_list_t *l;
	int i;

	if (rd_kafka_committed(c->rk, parts, 10000) != 0)
		return;
	l = rd_kafka_topic_partition_list_new(parts->cnt);
	for (i = 0; i < parts->cnt; i++)
		if (parts->elems[i].offset < 0)
			rd_kafka_topic_partition_list_add(l,
			    parts->elems[i].topic,
			    parts->elems[i].partition)->offset = c->start_ts;
	if (l->cnt > 0 && rd_kafka_offsets_for_times(c->rk, l, 10000) == 0) {
		for (i = 0; i < l->cnt; i++) {
			rd_kafka_topic_partition_t *t =
			    rd_kafka_topic_partition_list_find(parts,
			    l->elems[i].topic, l->elems[i].partition);

			log_debug("--start: %s[%d] starts at offset %lld (%s)",
			    l->elems[i].topic, (int)l->elems[i].partition,
			    (long long)l->elems[i].offset,
			    rd_kafka_err2str(l->elems[i].err));
			if (t != NULL && l->elems[i].err == 0)
				t->offset = l->elems[i].offset;
		}
	}
	rd_kafka_topic_partition_list_destroy(l);
}

static void
on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
    rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct ctx *c = opaque;
	int i;

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		for (i = 0; i < parts->cnt; i++)
			log_info("assigned %s[%d]", parts->elems[i].topic,
			    (int)parts->elems[i].partition);
		if (c->start_ts >= 0)
			start_at_time(c, parts);
		rd_kafka_assign(rk, parts);
		c->assigned_at = clock_s();
		return;
	}
	/* revoked: wait (bounded) for what is in flight, commit what is
	 * acknowledged; the rest is delivered again */
	revoke_wait(c, parts);
	commit_acked(c, 1);
	for (i = 0; i < parts->cnt; i++) {
		log_info("revoked %s[%d]", parts->elems[i].topic,
		    (int)parts->elems[i].partition);
		eh_ack_drop(&c->ack, parts->elems[i].partition);
	}
	rd_kafka_assign(rk, NULL);
}

static void
on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct ctx *c = opaque;

	(void)rk;
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		char s[512];

		rd_kafka_fatal_error(rk, s, sizeof(s));
		log_error("kafka: fatal: %s", s);
		c->fatal = 1;
		return;
	}
	if (err == RD_KAFKA_RESP_ERR__SSL && !c->tls_ok && reason != NULL &&
	    strstr(reason, "certificate") != NULL) {
		c->tls_why.len = 0;	/* checked by kafka_tls_check */
		buf_adds(&c->tls_why, reason);
	}
	log_warn("kafka: %s", reason);
}

static void
on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	if (level <= 3)
		log_warn("kafka: %s: %s", fac, buf);
	else
		log_debug("kafka: %s: %s", fac, buf);
}

/*
 * Kafka: has --tls-timeout passed with no broker reached through TLS and
 * a certificate that failed verification? Then say so (once) and return 1:
 * a configuration error (exit 2), not something a retry mends.
 */
static int
kafka_tls_check(struct ctx *c)
{
	if (c->tls_ok || c->tls_why.len == 0 || op.tls_timeout <= 0 ||
	    clock_s() - c->t_start < op.tls_timeout)
		return 0;
	log_error("kafka: no connection got through TLS in %gs: the "
	    "server's certificate is not trusted: %s; trust its CA with "
	    "--cacert", op.tls_timeout, buf_cstr(&c->tls_why));
	return 1;
}

#define EH_SCOPE "https://eventhubs.azure.net/.default"

/*
 * librdkafka asks for a token (from rd_kafka_consumer_poll, this thread),
 * at start and before the one it has expires. Without a first token
 * nothing can connect: that is fatal. A failed refresh is retried by
 * librdkafka while the current token lasts.
 */
static void
on_token_refresh(rd_kafka_t *rk, const char *cfg, void *opaque)
{
	struct ctx *c = opaque;
	struct buf e = BUF_INIT;
	const char *tok;
	int64_t exp = 0;
	char err[512];

	(void)cfg;
	tok = auth_get(c->auth, EH_SCOPE, &exp, &e);
	if (tok != NULL && rd_kafka_oauthbearer_set_token(rk, tok, exp * 1000,
	    "twinpipe", NULL, 0, err, sizeof(err)) !=
	    RD_KAFKA_RESP_ERR_NO_ERROR) {
		buf_printf(&e, "librdkafka refused the token: %s", err);
		tok = NULL;
	}
	if (tok == NULL) {
		if (c->token_set) {
			log_warn("entra: cannot refresh the token for %s "
			    "(retried): %s", EH_SCOPE, buf_cstr(&e));
		} else {
			log_error("entra: %s", buf_cstr(&e));
			c->fatal = 1;
		}
		rd_kafka_oauthbearer_set_token_failure(rk, buf_cstr(&e));
	} else {
		log_info("entra: token for %s from credential '%s', valid "
		    "for %llds", EH_SCOPE, auth_provider_name(c->auth),
		    (long long)(exp - (int64_t)time(NULL)));
		c->token_set = 1;
	}
	buf_release(&e);
}

/*
 * --assign: every partition of the topic, from --start, without a group
 * (no join, no committed offsets). Returns 0, or -1 (reported).
 */
static int
assign_all(struct ctx *c)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_topic_t *t;
	rd_kafka_resp_err_t err;
	int64_t start;
	int i, rc = -1;

	t = rd_kafka_topic_new(c->rk, op.topic, NULL);
	/* a second at a time, serving the error callbacks in between: a
	   certificate that fails verification ends it after --tls-timeout,
	   anything else after 30s as before */
	for (;;) {
		rd_kafka_message_t *m;

		err = rd_kafka_metadata(c->rk, 0, t, &md, 1000);
		if (err == 0) {
			c->tls_ok = 1;
			break;
		}
		md = NULL;
		if ((m = rd_kafka_consumer_poll(c->rk, 0)) != NULL)
			rd_kafka_message_destroy(m);
		if (kafka_tls_check(c)) {
			rc = -2;
			goto out;
		}
		if (clock_s() - c->t_start >= 30 && (c->tls_why.len == 0 ||
		    op.tls_timeout <= 0))
			break;
	}
	if (err != 0 || md->topic_cnt != 1 || md->topics[0].err != 0 ||
	    md->topics[0].partition_cnt == 0) {
		log_error("--assign: no partitions of topic '%s': %s",
		    op.topic, rd_kafka_err2str(err != 0 ? err : md->topic_cnt
		    == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
		goto out;
	}
	start = strcmp(op.start, "latest") == 0 ? RD_KAFKA_OFFSET_END :
	    RD_KAFKA_OFFSET_BEGINNING;
	l = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
	for (i = 0; i < md->topics[0].partition_cnt; i++)
		rd_kafka_topic_partition_list_add(l, op.topic,
		    md->topics[0].partitions[i].id)->offset = c->start_ts >= 0 ?
		    c->start_ts : start;
	if (c->start_ts >= 0 && rd_kafka_offsets_for_times(c->rk, l,
	    10000) != 0) {
		log_error("--assign: cannot look up offsets for --start %s",
		    op.start);
		rd_kafka_topic_partition_list_destroy(l);
		goto out;
	}
	for (i = 0; i < l->cnt; i++) {
		if (l->elems[i].err != 0 || l->elems[i].offset < 0)
			l->elems[i].offset = c->start_ts >= 0 ?
			    RD_KAFKA_OFFSET_END : l->elems[i].offset;
		log_info("assigned %s[%d]", op.topic,
		    (int)l->elems[i].partition);
	}
	err = rd_kafka_assign(c->rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (err != 0) {
		log_error("--assign: %s", rd_kafka_err2str(err));
		goto out;
	}
	c->assigned_at = clock_s();
	rc = 0;
out:
	if (md != NULL)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(t);
	return rc;
}

/* In flight on the partitions of parts. */
static uint64_t
in_flight_of(struct ctx *c, const rd_kafka_topic_partition_list_t *parts)
{
	uint64_t n = 0;
	int i;

	for (i = 0; i < parts->cnt; i++) {
		struct eh_ack_part *p = eh_ack_part(&c->ack,
		    parts->elems[i].partition, 0);

		if (p != NULL)
			n += p->n;
	}
	return n;
}

/*
 * Partitions are being revoked: with barriers, send one and move results
 * until nothing of those partitions is in flight any more (at most
 * --drain-timeout), so that the commit that follows covers what the
 * pipeline handled.
 */
static void
revoke_wait(struct ctx *c, const rd_kafka_topic_partition_list_t *parts)
{
	struct child *ch = c->ch;
	double end;
	uint64_t n;

	if (ch == NULL || ch->in < 0 || ch->eof || op.barrier_interval <= 0 ||
	    (n = in_flight_of(c, parts)) == 0)
		return;
	if (!barrier_send(c, clock_s()))
		return;
	log_info("revoked: waiting for %llu events in flight",
	    (unsigned long long)n);
	end = clock_s() + op.drain_timeout;
	while (!ch->eof && in_flight_of(c, parts) > 0 && clock_s() < end)
		if (child_io(c, ch, 50) < 0)
			break;
}

/* Handle one event: into out (the stream) or the dead letters. */
int
handle_ev(struct ctx *c, const struct ev *e, struct buf *out)
{
	const char *code = NULL;
	char msg[256];

	c->in++;
	if (c->track)
		eh_ack_sent(&c->ack, e->partition, e->offset);
	if (build_event(&c->line, &c->t, &c->lits, op.binary_body, e, &code, msg,
	    sizeof(msg)) < 0) {
		char src[300];

		snprintf(src, sizeof(src), "%s[%d]@%lld", e->topic,
		    (int)e->partition, (long long)e->offset);
		log_at(LV_ERROR, src, 0, "%s", msg);
		c->failed++;
		if (dlq_write(c->dlq, src, 0, c->line.p, c->line.len, 1, code,
		    msg, jv_invalid()) < 0) {
			log_error("write error on the dead-letter file");
			return -1;
		}
		if (c->track && eh_ack_done(&c->ack, e->partition, e->offset))
			c->acked++;
		return 0;
	}
	buf_add(out, c->line.p, c->line.len);
	buf_addc(out, '\n');
	c->out++;
	return 0;
}

/* Handle one consumed Kafka message. */
static int
handle(struct ctx *c, const rd_kafka_message_t *m, struct buf *out)
{
	rd_kafka_timestamp_type_t tt;
	rd_kafka_headers_t *h = NULL;
	struct ev e;

	(void)rd_kafka_message_headers(m, &h);
	e.topic = rd_kafka_topic_name(m->rkt);
	e.partition = m->partition;
	e.offset = m->offset;
	e.ts = rd_kafka_message_timestamp(m, &tt);
	e.amqp_offset = NULL;
	e.body = m->payload;
	e.blen = m->len;
	e.nh = hdr_collect(h, e.ix);
	return handle_ev(c, &e, out);
}

/* One partition's lag gauges; behind < 0: unknown. */
static void
lag_gauges(int32_t partition, int64_t behind, double seconds)
{
	char l[48];

	snprintf(l, sizeof(l), "partition=\"%d\"", (int)partition);
	if (behind < 0)
		return;
	metrics_set("twinpipe_eventhub_lag_events", l, (double)behind);
	if (seconds >= 0)
		metrics_set("twinpipe_eventhub_lag_seconds", l,
		    behind > 0 ? seconds : 0);
}

/*
 * The gauges of metrics.h (main thread, once a second): consumer lag per
 * partition, events in flight, commit age, and readiness (partitions
 * assigned, the connection up, the sink alive).
 */
static void
publish_metrics(const struct ctx *c)
{
	static uint64_t commits_seen;
	static double commit_at;
	double now = clock_s(), wall = (double)time(NULL);
	int assigned = 0;
	size_t i;

	if (commit_at == 0 || c->commits != commits_seen) {
		commits_seen = c->commits;
		commit_at = now;
	}
	if (c->amqp != NULL) {
		struct eh_amqpc_pos p;

		for (i = 0; eh_amqpc_position(c->amqp, i, &p) == 0; i++) {
			int64_t from = p.last >= 0 ? p.last :
			    p.begin >= 0 ? p.begin - 1 : -1;

			if (!p.active)
				continue;
			assigned++;
			lag_gauges(p.partition, p.end < -1 ? -1 : p.end > from ?
			    p.end - from : 0, p.last_ms >= 0 ?
			    wall - (double)p.last_ms / 1000 : p.end_ms >= 0 ?
			    wall - (double)p.end_ms / 1000 : -1);
		}
	} else if (c->rk != NULL) {
		rd_kafka_topic_partition_list_t *l = NULL;

		if (rd_kafka_assignment(c->rk, &l) == 0 && l != NULL) {
			assigned = l->cnt;
			(void)rd_kafka_position(c->rk, l);
			for (i = 0; i < (size_t)l->cnt; i++) {
				int64_t lo = -1, hi = -1;

				if (rd_kafka_get_watermark_offsets(c->rk,
				    l->elems[i].topic, l->elems[i].partition,
				    &lo, &hi) != 0 || hi < 0)
					continue;
				lag_gauges(l->elems[i].partition,
				    l->elems[i].offset >= 0 ? (hi >
				    l->elems[i].offset ? hi - l->elems[i].offset
				    : 0) : hi - lo, -1);
			}
		}
		if (l != NULL)
			rd_kafka_topic_partition_list_destroy(l);
	}
	metrics_sweep("twinpipe_eventhub_lag_events");
	metrics_sweep("twinpipe_eventhub_lag_seconds");
	metrics_set("twinpipe_eventhub_partitions_assigned", NULL, assigned);
	metrics_set("twinpipe_eventhub_in_flight_events", NULL,
	    (double)c->ack.in_flight);
	if (c->commit)
		metrics_set("twinpipe_eventhub_commit_age_seconds", NULL,
		    now - commit_at);
	metrics_set_ready(assigned > 0 && !c->fatal && !stage_stop &&
	    (c->amqp == NULL || eh_amqpc_connected(c->amqp)) &&
	    (c->ch == NULL || (!c->ch->eof && c->ch->pid > 0)));
}

static void
refresh_counts(void *ctx)
{
	const struct ctx *c = ctx;

	*stats_counter("in") = c->in;
	*stats_counter("out") = c->out;
	*stats_counter("failed") = c->failed;
	*stats_counter("acked") = c->acked;
	*stats_counter("sink_failed") = c->sink_failed;
	*stats_counter("commits") = c->commits;
	*stats_counter("no_result") = c->no_result;
	if (metrics_active())
		publish_metrics(c);
}

static int
set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
	char err[512];

	if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) !=
	    RD_KAFKA_CONF_OK) {
		log_error("kafka setting %s: %s", k, err);
		return -1;
	}
	return 0;
}

/* Parse --start TIME: ms since the epoch or ISO 8601 UTC. -1 if not. */
static int64_t
parse_time(const char *s)
{
	struct tm tm;
	char *end;
	long long ms;

	if (*s >= '0' && *s <= '9' && strchr(s, '-') == NULL) {
		ms = strtoll(s, &end, 10);
		return *end == '\0' ? ms : -1;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end == NULL) {
		end = strptime(s, "%Y-%m-%d", &tm);
		if (end == NULL || *end != '\0')
			return -1;
	}
	ms = 0;
	if (*end == '.') {
		int k = 0;

		for (end++; *end >= '0' && *end <= '9'; end++, k++)
			if (k < 3)
				ms = ms * 10 + (*end - '0');
		for (; k < 3; k++)
			ms *= 10;
	}
	if (*end == 'Z')
		end++;
	if (*end != '\0')
		return -1;
	return (int64_t)timegm(&tm) * 1000 + ms;
}

/* What a run holds beside cx: the transport's set-up and the co-process. */
struct run {
	struct child ch;
	rd_kafka_conf_t *conf;
	rd_kafka_topic_partition_list_t *subs;
	char *cs, *ns, *entity, *host;
	int use_amqp;
	struct eh_conn conn;
	struct eh_budget bud;
	char kbytes[32], kmsgs[32];
	size_t kafka_out;	/* output bytes pending before Kafka waits */
};

/* The options that need more than the table: 0, or -1 (reported). */
static int
check_options(int argc, char **argv, int first)
{
	if (first < argc)
		return cli_usage_error(&prog, "unexpected argument '%s'",
		    argv[first]), -1;
	if (strcmp(op.start, "earliest") && strcmp(op.start, "latest") &&
	    strncmp(op.start, "seq:", 4) != 0 &&
	    (cx.start_ts = parse_time(op.start)) < 0)
		return cli_usage_error(&prog, "--start wants earliest, latest or "
		    "a time, not '%s'", op.start), -1;
	if (op.max_events < 0 || op.max_in_flight < 1 ||
	    strlen(op.group) == 0 || strlen(op.group) > 256 ||
	    op.max_buffer < (1u << 20))
		return cli_usage_error(&prog, "--max-events must not be "
		    "negative, --max-in-flight positive, --group 1-256 "
		    "characters, --max-buffer at least 1M"), -1;
	if (op.transport != NULL && strcmp(op.transport, "amqp") != 0 &&
	    strcmp(op.transport, "kafka") != 0)
		return cli_usage_error(&prog, "--transport wants amqp or "
		    "kafka"), -1;
	if (op.assign && op.exec != NULL && !op.no_commit)
		return cli_usage_error(&prog, "--assign joins no group and "
		    "commits nothing: with --exec, add --no-commit"), -1;
	return 0;
}

/* The transport (--transport, or what the connection string asks) and,
 * for AMQP, the connection. Returns 0, or -1 (reported). */
static int
choose_transport(struct run *rn)
{
	struct buf e = BUF_INIT;
	int failed = 0;

	rn->use_amqp = op.transport != NULL &&
	    strcmp(op.transport, "amqp") == 0;
	if (op.bootstrap != NULL || (op.transport != NULL && !rn->use_amqp))
		return 0;
	if (op.namespace == NULL || op.conn_file != NULL)
		rn->cs = cli_secret("EVENTHUB_CONNECTION_STRING", op.conn_file,
		    &failed);
	if (rn->cs != NULL && eh_conn_parse(rn->cs, strlen(rn->cs), &rn->conn,
	    &e) < 0) {
		log_error("connection string: %s", buf_cstr(&e));
		buf_release(&e);
		return -1;
	}
	buf_release(&e);
	rn->use_amqp |= rn->conn.amqp_hint;
	if (rn->use_amqp && rn->cs == NULL && op.namespace != NULL) {
		if (amqp_namespace(&rn->conn) < 0)
			return -1;
	} else if (rn->use_amqp && rn->cs == NULL) {
		if (!failed)
			cli_usage_error(&prog, "--transport amqp needs an Event "
			    "Hubs connection string (EVENTHUB_CONNECTION_STRING "
			    "or --connection-string-file) or --namespace");
		return -1;
	}
	if (rn->use_amqp && op.topic == NULL)
		op.topic = rn->conn.entity;
	if (rn->use_amqp && (op.topic == NULL || *op.topic == '\0'))
		return cli_usage_error(&prog, "no event hub: give --topic or a "
		    "connection string with EntityPath"), -1;
	if (rn->use_amqp && (op.prefetch < 0 || op.prefetch > 100000))
		return cli_usage_error(&prog, "--prefetch wants 1-100000"), -1;
	if (!rn->use_amqp) {
		free(rn->cs);	/* read again by kafka_broker() */
		rn->cs = NULL;
		eh_conn_release(&rn->conn);
	}
	return 0;
}

/* The settings every Event Hubs Kafka endpoint wants */
static int
kafka_sasl(rd_kafka_conf_t *conf, const char *host, const char *mech)
{
	return set(conf, "bootstrap.servers", host) ||
	    set(conf, "security.protocol", "SASL_SSL") ||
	    set(conf, "sasl.mechanisms", mech) ||
	    set(conf, "socket.keepalive.enable", "true") ||
	    set(conf, "metadata.max.age.ms", "180000") ||
	    set(conf, "session.timeout.ms", "30000") ||
	    set(conf, "request.timeout.ms", "60000");
}

/* Kafka: the broker and its credential (--namespace with Entra, a
 * connection string, or --bootstrap). Returns 0, or -1 (reported). */
static int
kafka_broker(struct run *rn)
{
	struct buf hb = BUF_INIT;
	int failed = 0;

	if (op.bootstrap != NULL)
		return set(rn->conf, "bootstrap.servers", op.bootstrap) ? -1 : 0;
	if (op.namespace != NULL) {
		const struct auth_cli ac = { NULL, NULL, op.cacert, 0 };

		buf_printf(&hb, strchr(op.namespace, '.') != NULL ? "%s:9093" :
		    "%s.servicebus.windows.net:9093", op.namespace);
		rn->host = buf_cstr(&hb);
		/* tokens are asked by librdkafka's refresh callback */
		if ((cx.auth = auth_from_options(&ac, NULL, NULL)) == NULL)
			return -1;
		if (kafka_sasl(rn->conf, rn->host, "OAUTHBEARER"))
			return -1;
		rd_kafka_conf_set_oauthbearer_token_refresh_cb(rn->conf,
		    on_token_refresh);
		return 0;
	}
	rn->cs = cli_secret("EVENTHUB_CONNECTION_STRING", op.conn_file,
	    &failed);
	if (rn->cs == NULL) {
		if (!failed)
			cli_usage_error(&prog, "give --bootstrap, --namespace, "
			    "or an Event Hubs connection string "
			    "(EVENTHUB_CONNECTION_STRING or "
			    "--connection-string-file)");
		return -1;
	}
	rn->ns = cs_get(rn->cs, "Endpoint");
	rn->entity = cs_get(rn->cs, "EntityPath");
	if (rn->ns == NULL || strncmp(rn->ns, "sb://", 5) != 0) {
		log_error("the connection string has no Endpoint=sb://NAMESPACE/");
		return -1;
	}
	{
		char *h = rn->ns + 5, *end = strchr(h, '/');

		if (end != NULL)
			*end = '\0';
		buf_printf(&hb, "%s:9093", h);
		rn->host = buf_cstr(&hb);
	}
	if (op.topic == NULL)
		op.topic = rn->entity;
	return kafka_sasl(rn->conf, rn->host, "PLAIN") ||
	    set(rn->conf, "sasl.username", "$ConnectionString") ||
	    set(rn->conf, "sasl.password", rn->cs) ? -1 : 0;
}

/* The Kafka consumer's configuration. Returns 0, or -1 (reported). */
static int
kafka_config(struct run *rn)
{
	int i;

	rn->conf = rd_kafka_conf_new();
	if (kafka_broker(rn) < 0)
		return -1;
	if (op.topic == NULL || *op.topic == '\0')
		return cli_usage_error(&prog, "no topic: give --topic or a "
		    "connection string with EntityPath"), -1;
	if (set(rn->conf, "group.id", op.group) ||
	    set(rn->conf, "enable.auto.commit", "false") ||
	    set(rn->conf, "enable.auto.offset.store", "false") ||
	    set(rn->conf, "auto.offset.reset",
	    strcmp(op.start, "latest") == 0 ? "latest" : "earliest") ||
	    set(rn->conf, "client.id", "twinpipe-ingest-eventhub") ||
	    /* prefetch bounded by --max-buffer (eh_budget_split);
	     * -X below may set them otherwise */
	    set(rn->conf, "queued.max.messages.kbytes", rn->kbytes) ||
	    set(rn->conf, "queued.min.messages", rn->kmsgs) ||
	    (op.cacert != NULL && set(rn->conf, "ssl.ca.location",
	    op.cacert)))
		return -1;
	for (i = 0; i < op.nx; i++)
		if (set(rn->conf, op.xk[i], op.xv[i]))
			return -1;
	return 0;
}

/* The Kafka consumer made, and subscribed (or assigned). Returns 0 or the
 * exit code. */
static int
kafka_start(struct run *rn)
{
	char err[512];
	int i;

	rd_kafka_conf_set_opaque(rn->conf, &cx);
	rd_kafka_conf_set_rebalance_cb(rn->conf, on_rebalance);
	rd_kafka_conf_set_error_cb(rn->conf, on_error);
	rd_kafka_conf_set_log_cb(rn->conf, on_log);
	cx.rk = rd_kafka_new(RD_KAFKA_CONSUMER, rn->conf, err, sizeof(err));
	if (cx.rk == NULL) {
		log_error("kafka: %s", err);
		return EXIT_USAGE;
	}
	rn->conf = NULL;	/* owned by rk now */
	rd_kafka_poll_set_consumer(cx.rk);
	rn->subs = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(rn->subs, op.topic,
	    RD_KAFKA_PARTITION_UA);
	cx.t_start = clock_s();
	if (op.assign) {
		if ((i = assign_all(&cx)) < 0)
			return i == -2 ? EXIT_USAGE : EXIT_FATAL;
	} else if (rd_kafka_subscribe(cx.rk, rn->subs) != 0) {
		log_error("cannot subscribe to '%s'", op.topic);
		return EXIT_FATAL;
	}
	return 0;
}

/* One turn of the Kafka transport into ob (up to 1000 events). Returns
 * the events got, or -1 on a fatal error; *reading is cleared when reading
 * must end. */
static int
turn_kafka(struct run *rn, struct buf *ob, int *reading)
{
	int got = 0;

	while (*reading && ob->len < rn->kafka_out && (!op.exec ||
	    cx.ack.in_flight < (uint64_t)op.max_in_flight)) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(cx.rk,
		    got || op.exec ? 0 : 100);
		int rc;

		if (m == NULL)
			break;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
			cx.tls_ok = 1;	/* a broker answered */
		if (m->err) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				log_warn("kafka: %s",
				    rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			continue;
		}
		got++;
		cx.tls_ok = 1;
		rc = handle(&cx, m, ob);
		rd_kafka_message_destroy(m);
		stats_tick();
		if (rc < 0) {
			*reading = 0;
			return -1;
		}
		if (op.max_events > 0 && cx.in >= (uint64_t)op.max_events) {
			*reading = 0;
			break;
		}
		if (got >= 1000)
			break;
	}
	return got;
}

/*
 * The run: events read and written (to standard output or the --exec
 * co-process) until a signal, --max-events, --idle-exit, the end of the
 * drain or a fatal error. Returns the exit code so far.
 */
static int
consume(struct run *rn, struct stage *st)
{
	double last_event, last_commit, drain_end = 0, t;
	int reading = 1, got, k, status = EXIT_ALL_OK;

	last_event = last_commit = cx.last_barrier = clock_s();
	for (;;) {
		struct buf *ob = op.exec ? &rn->ch.wb : &st->out.b;

		stats_progress();	/* metrics, /healthz: once a second */
		if (stage_stop && reading) {
			log_info("signal: stopping; draining what is in "
			    "flight");
			reading = 0;
		}
		if (cx.fatal)
			return EXIT_FATAL;
		if (cx.amqp == NULL && reading && !cx.tls_ok &&
		    cx.assigned_at > 0)
			cx.tls_ok = 1;	/* the group coordinator answered */
		if (cx.amqp == NULL && reading && kafka_tls_check(&cx))
			return EXIT_USAGE;
		got = 0;
		if (reading)
			got = cx.amqp != NULL ? turn_amqp(rn->bud.out_bytes, ob, &reading) :
			    turn_kafka(rn, ob, &reading);
		if (got < 0) {	/* reading ends; what is in flight drains */
			status = EXIT_FATAL;
			got = 0;
		}
		t = clock_s();
		if (got)
			last_event = t;
		if (cx.assigned_at > last_event)
			last_event = cx.assigned_at;	/* a join is not idle */
		if (reading && op.idle_exit > 0 && cx.assigned_at > 0 &&
		    t - last_event >= op.idle_exit) {
			log_info("idle for %gs: stopping", op.idle_exit);
			reading = 0;
		}
		if (!op.exec) {
			if ((!got || st->out.b.len >= (1u << 16)) &&
			    ndjson_writer_flush(&st->out) < 0)
				return EXIT_FATAL;
			dlq_flush(cx.dlq);
			if (!reading)
				return status;
			continue;
		}
		if ((k = turn_exec(&rn->ch, got, reading, t, &drain_end,
		    &last_commit)) <= 0)
			return k < 0 ? EXIT_FATAL : status;
	}
}

/* The configuration, the transport connected, the co-process started:
 * returns 0 or the exit code. */
static int
setup(struct run *rn, struct stage *st)
{
	int rc;

	if (!rn->use_amqp && kafka_config(rn) < 0)
		return EXIT_USAGE;
	if (stage_open_dlq(st, op.dead_letter, "ingest-eventhub") < 0)
		return EXIT_USAGE;
	cx.dlq = st->dlq;
	cx.track = op.exec != NULL;
	cx.commit = cx.track && !op.no_commit;
	/* /healthz while connecting; /readyz once partitions are read */
	if (metrics_opt.listen != NULL &&
	    metrics_listen_start(metrics_opt.listen, NULL) < 0)
		return EXIT_USAGE;
	metrics_expect_heartbeat();	/* the loop turns when idle */
	if ((rc = rn->use_amqp ? amqp_setup(&cx, &rn->conn) :
	    kafka_start(rn)) != 0)
		return rc;
	if (op.exec != NULL && child_start(&rn->ch, op.exec) < 0)
		return EXIT_FATAL;
	if (op.exec != NULL)
		cx.ch = &rn->ch;
	refresh_counts(&cx);
	stats_set_refresh(refresh_counts, &cx);
	if (cx.amqp != NULL && metrics_active())
		eh_amqpc_track_end(cx.amqp, 5.0);	/* for the lag */
	return 0;
}

static void
run_free(struct run *rn)
{
	if (rn->ch.in >= 0)
		close(rn->ch.in);
	if (rn->ch.out >= 0)
		close(rn->ch.out);
	if (rn->ch.pid > 0)
		waitpid(rn->ch.pid, NULL, 0);
	buf_release(&rn->ch.wb);
	buf_release(&rn->ch.rb);
	if (rn->subs != NULL)
		rd_kafka_topic_partition_list_destroy(rn->subs);
	if (cx.rk != NULL)
		rd_kafka_destroy(cx.rk);
	if (rn->conf != NULL)
		rd_kafka_conf_destroy(rn->conf);
	barrier_release(&cx);
	eh_ack_release(&cx.ack);
	hdr_free();
	eh_amqpc_free(cx.amqp);
	eh_lb_free(cx.lb);
	eh_ckpt_dir_close(cx.ckpt);
	eh_conn_release(&rn->conn);
	auth_free(cx.auth);
	buf_release(&cx.tls_why);
	buf_release(&cx.line);
	tape_release(&cx.t);
	json_numlits_release(&cx.lits);
	free(rn->cs);
	free(rn->ns);
	free(rn->entity);
	free(rn->host);
}

int
main(int argc, char **argv)
{
	struct cli_common common;
	struct run rn;
	struct stage st;
	int first, status = EXIT_USAGE;

	memset(&rn, 0, sizeof(rn));
	rn.ch = (struct child){ .pid = -1, .in = -1, .out = -1 };
	cx.start_ts = -1;
	first = cli_parse(&prog, argc, argv, &common);
	if (first < 0 || check_options(argc, argv, first) < 0)
		goto out;
	eh_budget_split(op.max_buffer, &rn.bud);
	snprintf(rn.kbytes, sizeof(rn.kbytes), "%lu", rn.bud.kafka_kbytes);
	snprintf(rn.kmsgs, sizeof(rn.kmsgs), "%lu", rn.bud.kafka_messages);
	rn.kafka_out = rn.bud.out_bytes < (1u << 20) ? rn.bud.out_bytes :
	    1u << 20;
	if (choose_transport(&rn) < 0)
		goto out;
	/* no input: the stage gives the signals, the output, the end */
	if ((status = stage_begin(&st, argc, argv, argc, NULL,
	    "ingest-eventhub")) != 0)
		goto out;
	if ((status = setup(&rn, &st)) != 0) {
		stage_free(&st);
		goto out;
	}
	status = consume(&rn, &st);
	if (op.exec)
		status = exec_end(&rn.ch, status);
	if (cx.rk != NULL)
		rd_kafka_consumer_close(cx.rk);
	if (cx.failed > 0 || cx.sink_failed > 0)
		status = exit_worst(status, EXIT_SOME_FAILED);
	if (stage_stop)
		status = exit_worst(status, EXIT_FATAL);
	refresh_counts(&cx);
	cx.dlq = NULL;		/* stage_end closes it */
	status = stage_end(&st, status, common.stats, 0, "");
out:
	run_free(&rn);
	return status;
}
