/*
 * ingest-eventhub - consume IoT Hub twin-change and lifecycle events from
 * Event Hubs (its Kafka endpoint, through librdkafka) or any Kafka
 * cluster, write them as NDJSON, and commit a partition's offset only up to
 * what the sink acknowledged.
 *
 * The acknowledgement loop (--exec CMD): CMD runs under /bin/sh as a
 * co-process; its standard input is the events, its standard output the
 * result lines of the last stage. Every line that comes back carrying
 * _meta.src {topic, partition, offset} acknowledges that event (a result
 * with "ok": false too: the sink dead-lettered it). Per partition, the
 * offset committed is one past the highest offset below which everything
 * was acknowledged, at most once per --commit-interval.
 *
 * Barriers: a stage may drop an event without a result line (a filter, a
 * dead letter). So every --barrier-interval, while events are in flight,
 * the control record {"_meta":{"control":"barrier","seq":N}} goes into
 * CMD after the events; the programs of a pipeline pass control records on
 * after the results of the records before them, so when barrier N comes
 * back every event written before it was handled: it is acknowledged,
 * result or not. A stage that does not pass it on changes nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "auth.h"
#include "cli.h"
#include "codec.h"
#include "eventhub_ack.h"
#include "eventhub_amqp.h"
#include "eventhub_amqpc.h"
#include "eventhub_ckpt.h"
#include "eventhub_conn.h"
#include "eventhub_event.h"
#include "eventhub_own.h"
#include "exitcode.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "ndjson.h"
#include "stage.h"
#include "stats.h"
#include "tape.h"


#define MAX_X 64

struct opts {
	const char *bootstrap;
	const char *topic;
	const char *group;
	const char *start;
	const char *conn_file;
	const char *dead_letter;
	const char *exec;
	const char *namespace;
	double barrier_interval;
	int assign;
	int binary_body;
	int no_commit;
	long max_events;
	long max_in_flight;
	double idle_exit;
	double commit_interval;
	double drain_timeout;
	const char *xk[MAX_X], *xv[MAX_X];
	int nx;
	/* the AMQP transport */
	const char *transport;
	const char *partitions;
	const char *ckpt_dir;
	const char *ckpt_store;	/* Blob Storage checkpoints, or NULL */
	double own_expiry;
	const char *cacert;
	size_t max_buffer;
	long prefetch;
	double tls_timeout;
	double sas_ttl;
};

static struct opts op = {
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

static const struct cli_prog prog = {
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

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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

struct child {
	pid_t pid;
	int in, out;		/* its stdin (we write), its stdout (we read) */
	struct buf wb, rb;	/* pending output, partial result line */
	int eof;
};

/* A barrier in flight: where each partition stood when it was written. */
struct barrier_mark {
	int32_t partition;
	uint64_t gen;
	int64_t offset;
};

struct barrier {
	uint64_t seq;
	struct barrier_mark *m;
	size_t n;
};

#define MAX_BARRIERS 64

struct ctx {
	rd_kafka_t *rk;
	struct eh_ack ack;
	struct dlq *dlq;
	int64_t start_ts;	/* --start TIME in ms, or -1 */
	int track;		/* acknowledgements tracked (--exec) */
	int commit;		/* offsets committed */
	struct buf line;
	struct tape t;		/* the body, parsed */
	struct json_numlits lits;
	uint64_t in, out, failed, acked, sink_failed, commits;
	uint64_t no_result;	/* acknowledged by a barrier, without result */
	int fatal;
	struct child *ch;	/* --exec */
	struct barrier bq[MAX_BARRIERS];	/* barriers in flight, a ring */
	size_t bq_head, bq_n;
	uint64_t barrier_seq;
	uint64_t out_at_barrier;	/* c->out when the last one was sent */
	double last_barrier;
	double assigned_at;	/* when partitions were last assigned */
	struct auth *auth;	/* Entra ID (OAUTHBEARER), or NULL */
	int token_set;		/* a token was handed to librdkafka */
	struct eh_amqpc *amqp;	/* the AMQP transport, or NULL: Kafka */
	struct eh_ckpt_dir *ckpt;	/* its checkpoints */
	struct eh_lb *lb;	/* shared ownership (--checkpoint-store) */
	double lb_next;		/* its next cycle */
	struct eh_start st0;	/* where a partition without one starts */
	struct buf *ob;		/* where amqp_event writes */
	int amqp_full;		/* --max-events reached */
	int tls_ok;		/* Kafka: a broker answered through TLS */
	double t_start;		/* Kafka: when the client was made */
	struct buf tls_why;	/* Kafka: the last certificate failure */
};

static struct ctx cx;

static void revoke_wait(struct ctx *c,
    const rd_kafka_topic_partition_list_t *parts);
static void amqp_commit(struct ctx *c);

static void
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
		c->assigned_at = now_s();
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
	    now_s() - c->t_start < op.tls_timeout)
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
		if (now_s() - c->t_start >= 30 && (c->tls_why.len == 0 ||
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
	c->assigned_at = now_s();
	rc = 0;
out:
	if (md != NULL)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(t);
	return rc;
}

/* ---- the co-process ---- */

static int
child_start(struct child *ch, const char *cmd)
{
	int a[2], b[2];

	if (pipe2(a, O_CLOEXEC) < 0 || pipe2(b, O_CLOEXEC) < 0) {
		log_error("pipe: %s", strerror(errno));
		return -1;
	}
	ch->pid = fork();
	if (ch->pid < 0) {
		log_error("fork: %s", strerror(errno));
		return -1;
	}
	if (ch->pid == 0) {
		dup2(a[0], 0);
		dup2(b[1], 1);
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(a[0]);
	close(b[1]);
	ch->in = a[1];
	ch->out = b[0];
	fcntl(ch->in, F_SETFL, O_NONBLOCK);
	fcntl(ch->out, F_SETFL, O_NONBLOCK);
	return 0;
}

/*
 * Send a barrier into CMD (after what ch->wb holds): remember where every
 * partition with events in flight stands. Returns 1 if one was sent, 0 if
 * nothing is in flight or too many barriers are still out.
 */
static int
barrier_send(struct ctx *c, double now)
{
	struct barrier *b;
	size_t i;

	if (c->ack.in_flight == 0)
		return 0;
	if (c->bq_n == MAX_BARRIERS) {	/* CMD does not pass them on? */
		if (now - c->last_barrier >= op.barrier_interval)
			log_debug("--exec: %d barriers not back: none sent",
			    MAX_BARRIERS);
		c->last_barrier = now;
		return 0;
	}
	b = &c->bq[(c->bq_head + c->bq_n) % MAX_BARRIERS];
	b->seq = ++c->barrier_seq;
	b->m = xmalloc(c->ack.n * sizeof(*b->m));
	b->n = 0;
	for (i = 0; i < c->ack.n; i++) {
		struct barrier_mark *k = &b->m[b->n];

		k->partition = c->ack.p[i].partition;
		if (eh_ack_last(&c->ack, k->partition, &k->offset,
		    &k->gen) == 0)
			b->n++;
	}
	c->bq_n++;
	buf_printf(&c->ch->wb, "{\"_meta\":{\"control\":\"barrier\","
	    "\"seq\":%llu}}\n", (unsigned long long)b->seq);
	c->out_at_barrier = c->out;
	c->last_barrier = now;
	return 1;
}

/* Barrier seq came back: what was written before it is handled. */
static void
barrier_back(struct ctx *c, uint64_t seq)
{
	size_t i, k;

	while (c->bq_n > 0 && c->bq[c->bq_head].seq <= seq) {
		struct barrier *b = &c->bq[c->bq_head];

		/* an earlier barrier is covered by a later one */
		for (i = 0; b->seq == seq && i < b->n; i++) {
			k = eh_ack_upto(&c->ack, b->m[i].partition,
			    b->m[i].gen, b->m[i].offset);
			c->acked += k;
			c->no_result += k;
			if (k > 0)
				log_debug("barrier %llu: %zu events of %s[%d] "
				    "handled without a result line",
				    (unsigned long long)seq, k, op.topic,
				    (int)b->m[i].partition);
		}
		free(b->m);
		b->m = NULL;
		c->bq_head = (c->bq_head + 1) % MAX_BARRIERS;
		c->bq_n--;
	}
}

static void
barrier_release(struct ctx *c)
{
	for (; c->bq_n > 0; c->bq_n--) {
		free(c->bq[c->bq_head].m);
		c->bq_head = (c->bq_head + 1) % MAX_BARRIERS;
	}
}

/*
 * A control record came back: our barrier, or another kind (ignored).
 * Returns 1 if meta marks the line as a control record at all.
 */
static int
control_line(struct ctx *c, jv r, jv meta)
{
	const char *kind = json_get_str(meta, "control");
	jv seq;

	if (kind == NULL)
		return 0;
	if (!json_is_control(r) || strcmp(kind, "barrier") != 0) {
		log_debug("--exec: a '%s' control line: ignored", kind);
		return 1;
	}
	seq = json_get(meta, "seq");
	if (jv_get_kind(seq) == JV_KIND_NUMBER && jv_number_value(seq) >= 1)
		barrier_back(c, (uint64_t)jv_number_value(seq));
	jv_free(seq);
	return 1;
}

/* One result line: acknowledge its _meta.src. */
static void
result_line(struct ctx *c, const char *p, size_t n)
{
	struct json_err je;
	jv r, meta, src, part, off, okv;

	if (ndjson_blank(p, n))
		return;
	if (json_parse(p, n, &r, NULL, &je) < 0) {
		log_warn("--exec: result line is not JSON: %s", je.msg);
		return;
	}
	meta = json_get(r, "_meta");
	if (control_line(c, r, meta)) {
		jv_free(meta);
		jv_free(r);
		return;
	}
	src = json_get(meta, "src");
	part = json_get(src, "partition");
	off = json_get(src, "offset");
	okv = json_get(r, "ok");
	if (jv_get_kind(part) != JV_KIND_NUMBER ||
	    jv_get_kind(off) != JV_KIND_NUMBER) {
		log_warn("--exec: result line without _meta.src.partition and "
		    "offset: ignored");
	} else {
		const char *t = json_get_str(src, "topic");

		if (t == NULL || strcmp(t, op.topic) == 0) {
			if (eh_ack_done(&c->ack, (int32_t)jv_number_value(part),
			    (int64_t)jv_number_value(off)))
				c->acked++;
			if (jv_get_kind(okv) == JV_KIND_FALSE)
				c->sink_failed++;
		}
	}
	jv_free(okv);
	jv_free(off);
	jv_free(part);
	jv_free(src);
	jv_free(meta);
	jv_free(r);
}

/* Move bytes both ways. Returns -1 on a fatal error (reported). */
static int
child_io(struct ctx *c, struct child *ch, int timeout_ms)
{
	struct pollfd pf[2];
	int nf = 0, wi = -1, ri = -1;

	if (ch->in >= 0 && ch->wb.len > 0) {
		pf[nf].fd = ch->in;
		pf[nf].events = POLLOUT;
		wi = nf++;
	}
	if (!ch->eof) {
		pf[nf].fd = ch->out;
		pf[nf].events = POLLIN;
		ri = nf++;
	}
	if (poll(pf, (nfds_t)nf, timeout_ms) < 0) {
		if (errno == EINTR)
			return 0;
		log_error("poll: %s", strerror(errno));
		return -1;
	}
	if (wi >= 0 && pf[wi].revents) {
		ssize_t k = write(ch->in, ch->wb.p, ch->wb.len);

		if (k < 0 && errno != EAGAIN && errno != EINTR) {
			log_error("--exec: writing to the command: %s",
			    strerror(errno));
			return -1;
		}
		if (k > 0) {
			memmove(ch->wb.p, ch->wb.p + k, ch->wb.len - (size_t)k);
			ch->wb.len -= (size_t)k;
		}
	}
	if (ri >= 0 && pf[ri].revents) {
		char tmp[65536];
		ssize_t k = read(ch->out, tmp, sizeof(tmp));
		size_t start = 0, i;

		if (k == 0) {
			ch->eof = 1;
		} else if (k < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				log_error("--exec: reading results: %s",
				    strerror(errno));
				return -1;
			}
		} else {
			buf_add(&ch->rb, tmp, (size_t)k);
			for (i = 0; i < ch->rb.len; i++) {
				if (ch->rb.p[i] != '\n')
					continue;
				result_line(c, ch->rb.p + start, i - start);
				start = i + 1;
			}
			memmove(ch->rb.p, ch->rb.p + start, ch->rb.len - start);
			ch->rb.len -= start;
			if (ch->rb.len > NDJSON_DEFAULT_MAX_LINE) {
				log_error("--exec: result line longer than "
				    "16M");
				return -1;
			}
		}
	}
	return 0;
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
	if (!barrier_send(c, now_s()))
		return;
	log_info("revoked: waiting for %llu events in flight",
	    (unsigned long long)n);
	end = now_s() + op.drain_timeout;
	while (!ch->eof && in_flight_of(c, parts) > 0 && now_s() < end)
		if (child_io(c, ch, 50) < 0)
			break;
}

/* Handle one event: into out (the stream) or the dead letters. */
static int
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
	double now = now_s(), wall = (double)time(NULL);
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

/* ---- the AMQP transport ---- */

/* Checkpoint every partition up to its last contiguous acknowledgement. */
static void
amqp_commit(struct ctx *c)
{
	struct buf e = BUF_INIT;
	size_t i;

	for (i = 0; i < c->ack.n; i++) {
		struct eh_ack_part *p = &c->ack.p[i];
		struct eh_ckpt ck;
		const char *off;

		if (p->commit < 1 || p->commit <= p->committed)
			continue;
		memset(&ck, 0, sizeof(ck));
		ck.seq = p->commit - 1;
		off = eh_amqpc_offset_of(c->amqp, p->partition, ck.seq);
		snprintf(ck.offset, sizeof(ck.offset), "%s", off ? off : "");
		e.len = 0;
		if (eh_ckpt_put(c->ckpt, p->partition, &ck, &e) < 0) {
			log_warn("%s (retried at the next interval)",
			    buf_cstr(&e));
			continue;
		}
		p->committed = p->commit;
		eh_amqpc_forget(c->amqp, p->partition, ck.seq);
		log_debug("checkpoint %s[%d] at sequence number %lld", op.topic,
		    (int)p->partition, (long long)ck.seq);
		c->commits++;
	}
	buf_release(&e);
}

/* An event from the AMQP client: the same record as from Kafka. */
static int
amqp_event(void *ctx, const struct eh_amqpc_event *ae)
{
	struct ctx *c = ctx;
	struct ev e;
	size_t i;
	int rc;

	if (c->amqp_full)
		return 0;	/* not handed on: read again next time */
	e.topic = op.topic;
	e.partition = ae->partition;
	e.offset = ae->seq;
	e.ts = ae->enqueued;
	e.amqp_offset = ae->offset;
	e.body = ae->body;
	e.blen = ae->blen;
	for (i = 0; i < HX_N; i++)
		e.ix[i] = -1;
	for (i = 0; i < ae->nprops; i++)
		hdr_push(i, ae->props[i].name, NULL, 0, &ae->props[i].v, e.ix);
	e.nh = ae->nprops;
	rc = handle_ev(c, &e, c->ob);
	stats_tick();
	if (op.max_events > 0 && c->in >= (uint64_t)op.max_events)
		c->amqp_full = 1;
	return rc;
}

/* Where a partition without a checkpoint starts (--start). */
static int
amqp_start(struct eh_start *st)
{
	char *end;

	memset(st, 0, sizeof(*st));
	if (strcmp(op.start, "earliest") == 0) {
		st->kind = EHS_EARLIEST;
	} else if (strcmp(op.start, "latest") == 0) {
		st->kind = EHS_LATEST;
	} else if (strncmp(op.start, "seq:", 4) == 0) {
		st->kind = EHS_SEQ;
		st->v = strtoll(op.start + 4, &end, 10) - 1;
		if (*end != '\0' || end == op.start + 4 || st->v < -1)
			return -1;
	} else {
		st->kind = EHS_TIME;
		st->v = cx.start_ts;
	}
	return 0;
}

/*
 * Start reading partition id from its checkpoint, else --start; with owner
 * level epoch (0: none). Returns 0, or -1 (reported).
 */
static int
amqp_add(struct ctx *c, int32_t id, int64_t epoch)
{
	struct eh_start st = c->st0;
	struct buf e = BUF_INIT;
	struct eh_ckpt ck;
	int k;

	k = eh_ckpt_get(c->ckpt, id, &ck, &e);
	if (k < 0) {
		log_error("%s", buf_cstr(&e));
		buf_release(&e);
		return -1;
	}
	if (k == 1 && ck.offset[0] != '\0') {
		st.kind = EHS_OFFSET;
		snprintf(st.offset, sizeof(st.offset), "%s", ck.offset);
	} else if (k == 1) {
		st.kind = EHS_SEQ;
		st.v = ck.seq;
	}
	st.epoch = epoch;
	eh_ack_drop(&c->ack, id);	/* what an earlier hold left */
	if (k == 1)
		eh_ack_part(&c->ack, id, 1)->committed = ck.seq + 1;
	e.len = 0;
	if (eh_amqpc_add(c->amqp, id, &st, &e) < 0) {
		log_error("amqp: %s", buf_cstr(&e));
		buf_release(&e);
		return -1;
	}
	buf_release(&e);
	log_info("assigned %s[%d]%s", op.topic, (int)id,
	    k == 1 ? " (from its checkpoint)" : "");
	c->assigned_at = now_s();
	return 0;
}

static int
lb_add(void *ctx, int32_t id, int64_t epoch)
{
	return amqp_add(ctx, id, epoch);
}

/* Stop reading partition id: another instance holds it now. */
static void
lb_drop(void *ctx, int32_t id)
{
	struct ctx *c = ctx;

	eh_amqpc_remove(c->amqp, id);
	eh_ack_drop(&c->ack, id);
	log_info("revoked %s[%d]", op.topic, (int)id);
}

/* A balancing cycle when one is due (--checkpoint-store), after dropping
 * the partitions a higher epoch took. */
static void
amqp_balance(struct ctx *c)
{
	struct buf e = BUF_INIT;
	int32_t lost[64];
	size_t i, n;

	if (c->lb == NULL)
		return;
	n = eh_amqpc_lost(c->amqp, lost, 64);
	for (i = 0; i < n; i++) {
		eh_lb_lost(c->lb, lost[i]);
		lb_drop(c, lost[i]);
	}
	if (now_s() < c->lb_next)
		return;
	if (eh_lb_cycle(c->lb, time(NULL), lb_add, lb_drop, c, &e) < 0)
		log_warn("%s (retried next cycle)", buf_cstr(&e));
	c->lb_next = now_s() + eh_lb_interval(c->lb);
	buf_release(&e);
}

/*
 * Connect, open the checkpoints, start every chosen partition from its
 * checkpoint or --start. Returns 0, or an exit status (reported).
 */
static int
amqp_setup(struct ctx *c, const struct eh_conn *conn)
{
	struct eh_amqpc_cfg cfg;
	struct buf e = BUF_INIT;
	const int32_t *ids;
	int32_t *mine = NULL;
	size_t nmine = 0;
	struct eh_start st0;
	int n, i, rc = EXIT_FATAL;

	if (amqp_start(&st0) < 0) {
		cli_usage_error(&prog, "--start seq:N wants a sequence number");
		return EXIT_USAGE;
	}
	if (op.own_expiry <= 0 || op.sas_ttl < 2) {
		cli_usage_error(&prog, op.sas_ttl < 2 ? "--sas-lifetime wants "
		    "at least 2s" : "--ownership-expiry must be positive");
		return EXIT_USAGE;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.conn = conn;
	cfg.hub = op.topic;
	cfg.group = op.group;
	cfg.cacert = op.cacert;
	cfg.tls_timeout = op.tls_timeout;
	cfg.sas_ttl = op.sas_ttl;
	cfg.no_offsets = op.exec == NULL || op.no_commit;
	cfg.auth = c->auth;
	cfg.prefetch = (uint32_t)op.prefetch;
	cfg.epoch = -1;
	if (op.ckpt_store != NULL) {
		char *cs, *key, *sas;
		int failed = 0;

		cs = cli_secret("AZURE_STORAGE_CONNECTION_STRING", NULL,
		    &failed);
		key = cli_secret("AZURE_STORAGE_KEY", NULL, &failed);
		sas = cli_secret("AZURE_STORAGE_SAS_TOKEN", NULL, &failed);
		c->ckpt = eh_ckpt_blob_open(op.ckpt_store, cs, key, sas,
		    c->auth, op.cacert, conn->host, op.topic, op.group, &e);
		free(cs);
		free(key);
		free(sas);
	} else
		c->ckpt = eh_ckpt_dir_open(op.ckpt_dir, conn->host, op.topic,
		    op.group, &e);
	if (c->ckpt == NULL) {
		log_error("%s", buf_cstr(&e));
		rc = EXIT_USAGE;
		goto out;
	}
	c->amqp = eh_amqpc_new(&cfg, &e);
	if (c->amqp == NULL) {
		log_error("amqp: %s", buf_cstr(&e));
		rc = EXIT_USAGE;
		goto out;
	}
	n = eh_amqpc_open(c->amqp, 30.0, &ids, &e);
	if (n < 0) {
		log_error("amqp: %s", buf_cstr(&e));
		if (eh_amqpc_tls_error(c->amqp) != NULL)
			rc = EXIT_USAGE;	/* a configuration error */
		goto out;
	}
	mine = xcalloc((size_t)n + 1, sizeof(*mine));
	if (op.prefetch == 0)	/* the budget shared by every partition */
		eh_amqpc_set_credit(c->amqp, eh_budget_credit(op.max_buffer,
		    n, 300));
	c->st0 = st0;
	for (i = 0; i < n; i++) {
		char id[16];

		snprintf(id, sizeof(id), ",%d,", (int)ids[i]);
		if (op.partitions != NULL) {
			struct buf l = BUF_INIT;
			int want;

			buf_printf(&l, ",%s,", op.partitions);
			want = strstr(l.p, id) != NULL;
			buf_release(&l);
			if (!want)
				continue;
		}
		if (eh_ckpt_shared(c->ckpt)) {
			mine[nmine++] = ids[i];
			continue;
		}
		if (amqp_add(c, ids[i], 0) < 0)
			goto out;
	}
	if (eh_ckpt_shared(c->ckpt)) {
		c->lb = eh_lb_new(c->ckpt, mine, nmine, op.own_expiry);
		log_info("sharing %s/%s with the other readers of the "
		    "checkpoint store as owner %s", op.topic, op.group,
		    eh_lb_id(c->lb));
		amqp_balance(c);
	}
	c->assigned_at = now_s();
	rc = 0;
out:
	free(mine);
	buf_release(&e);
	return rc;
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

/* --namespace over AMQP: NS, NS.servicebus.windows.net or HOST:PORT, with
 * the Entra credential chain. Returns 0, or -1 (reported). */
static int
amqp_namespace(struct run *rn)
{
	const struct auth_cli ac = { NULL, NULL, op.cacert, 0 };
	const char *pc = strrchr(op.namespace, ':');
	struct buf e = BUF_INIT;

	if (pc != NULL)
		buf_add(&e, op.namespace, (size_t)(pc - op.namespace));
	else
		buf_printf(&e, strchr(op.namespace, '.') ? "%s" :
		    "%s.servicebus.windows.net", op.namespace);
	rn->conn.host = buf_cstr(&e);
	rn->conn.port = pc != NULL ? atoi(pc + 1) : 5671;
	rn->conn.tls = 1;
	/* tokens are asked when the connection is (CBS), not before */
	return (cx.auth = auth_from_options(&ac, NULL, NULL)) == NULL ? -1 : 0;
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
		if (amqp_namespace(rn) < 0)
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
	cx.t_start = now_s();
	if (op.assign) {
		if ((i = assign_all(&cx)) < 0)
			return i == -2 ? EXIT_USAGE : EXIT_FATAL;
	} else if (rd_kafka_subscribe(cx.rk, rn->subs) != 0) {
		log_error("cannot subscribe to '%s'", op.topic);
		return EXIT_FATAL;
	}
	return 0;
}

/* One turn of the AMQP transport into ob. Returns the events got, or -1
 * on a fatal error; *reading is cleared when reading must end. */
static int
turn_amqp(struct run *rn, struct buf *ob, int *reading)
{
	int got;

	cx.ob = ob;
	got = eh_amqpc_run(cx.amqp, op.exec ? 0 : 100,
	    ob->len < rn->bud.out_bytes && (!op.exec ||
	    cx.ack.in_flight < (uint64_t)op.max_in_flight), amqp_event, &cx);
	if (got < 0) {
		*reading = 0;
		return -1;
	}
	if (cx.amqp_full)
		*reading = 0;
	if (*reading)
		amqp_balance(&cx);
	return got;
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
 * --exec: one turn of the co-process: barriers, its input and results,
 * the commits, the drain. Returns 1 to go on, 0 when the run ends, -1 on
 * a fatal error (reported).
 */
static int
turn_exec(struct run *rn, int got, int reading, double t, double *drain_end,
    double *last_commit)
{
	struct child *ch = &rn->ch;

	if (!reading && *drain_end == 0)
		*drain_end = t + op.drain_timeout;
	/* a barrier every --barrier-interval while events are in flight, at
	 * once when reading pauses or ends */
	if (op.barrier_interval > 0 && ch->in >= 0 &&
	    cx.out != cx.out_at_barrier &&
	    (t - cx.last_barrier >= op.barrier_interval || !reading ||
	    cx.ack.in_flight >= (uint64_t)op.max_in_flight))
		(void)barrier_send(&cx, t);
	if (child_io(&cx, ch, got ? 0 : 50) < 0)
		return -1;
	if (!reading && ch->in >= 0 && ch->wb.len == 0) {
		close(ch->in);	/* the command sees the end */
		ch->in = -1;
	}
	if (ch->eof && (reading || ch->in >= 0)) {
		log_error("--exec: the command ended early");
		return -1;
	}
	if (t - *last_commit >= op.commit_interval) {
		commit_acked(&cx, 1);	/* sync: a failure is retried */
		*last_commit = t;
	}
	if (!reading && (ch->eof || t >= *drain_end)) {
		if (!ch->eof)
			log_warn("--exec: %llu events still unacknowledged "
			    "after %gs", (unsigned long long)cx.ack.in_flight,
			    op.drain_timeout);
		return 0;
	}
	if (got == 0)
		dlq_flush(cx.dlq);
	return 1;
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

	last_event = last_commit = cx.last_barrier = now_s();
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
			got = cx.amqp != NULL ? turn_amqp(rn, ob, &reading) :
			    turn_kafka(rn, ob, &reading);
		if (got < 0) {	/* reading ends; what is in flight drains */
			status = EXIT_FATAL;
			got = 0;
		}
		t = now_s();
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
		if ((k = turn_exec(rn, got, reading, t, &drain_end,
		    &last_commit)) <= 0)
			return k < 0 ? EXIT_FATAL : status;
	}
}

/* --exec: the last commit, the partitions given up, the co-process ended
 * and its exit status taken into the run's. */
static int
exec_end(struct run *rn, int status)
{
	struct child *ch = &rn->ch;
	int ws;

	commit_acked(&cx, 1);
	if (cx.lb != NULL)	/* as the SDKs do on close */
		eh_lb_release(cx.lb);
	if (ch->in >= 0)
		close(ch->in);
	ch->in = -1;
	cx.ch = NULL;
	if (!ch->eof)
		kill(ch->pid, SIGTERM);
	if (waitpid(ch->pid, &ws, 0) == ch->pid) {
		int rc = WIFEXITED(ws) ? WEXITSTATUS(ws) : EXIT_FATAL;

		if (rc == EXIT_SOME_FAILED)
			status = exit_worst(status, EXIT_SOME_FAILED);
		else if (rc != 0 && ch->eof) {
			log_error("--exec: the command exited with status %d",
			    rc);
			status = EXIT_FATAL;
		}
	}
	ch->pid = -1;
	if (cx.ack.in_flight > 0)
		log_warn("%llu events past the committed offsets: they will be "
		    "delivered again", (unsigned long long)cx.ack.in_flight);
	return status;
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
		status = exec_end(&rn, status);
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
