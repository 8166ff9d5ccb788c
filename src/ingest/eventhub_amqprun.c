/*
 * eventhub_amqprun.c - the AMQP transport (eventhub_amqpc.c) in
 * ingest-eventhub's run: its set-up from the options, where a partition
 * starts (its checkpoint or --start), events handed to handle_ev,
 * checkpoints of what is acknowledged, and the balancing of partitions
 * between instances (--checkpoint-store).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "eventhub_impl.h"
#include "exitcode.h"
#include "log.h"
#include "stats.h"

/* Checkpoint every partition up to its last contiguous acknowledgement. */
void
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
	c->assigned_at = clock_s();
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
	if (clock_s() < c->lb_next)
		return;
	if (eh_lb_cycle(c->lb, time(NULL), lb_add, lb_drop, c, &e) < 0)
		log_warn("%s (retried next cycle)", buf_cstr(&e));
	c->lb_next = clock_s() + eh_lb_interval(c->lb);
	buf_release(&e);
}

/*
 * Connect, open the checkpoints, start every chosen partition from its
 * checkpoint or --start. Returns 0, or an exit status (reported).
 */
int
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
	c->assigned_at = clock_s();
	rc = 0;
out:
	free(mine);
	buf_release(&e);
	return rc;
}

/* --namespace over AMQP: NS, NS.servicebus.windows.net or HOST:PORT, with
 * the Entra credential chain. Returns 0, or -1 (reported). */
int
amqp_namespace(struct eh_conn *conn)
{
	const struct auth_cli ac = { NULL, NULL, op.cacert, 0 };
	const char *pc = strrchr(op.namespace, ':');
	struct buf e = BUF_INIT;

	if (pc != NULL)
		buf_add(&e, op.namespace, (size_t)(pc - op.namespace));
	else
		buf_printf(&e, strchr(op.namespace, '.') ? "%s" :
		    "%s.servicebus.windows.net", op.namespace);
	conn->host = buf_cstr(&e);
	conn->port = pc != NULL ? atoi(pc + 1) : 5671;
	conn->tls = 1;
	/* tokens are asked when the connection is (CBS), not before */
	return (cx.auth = auth_from_options(&ac, NULL, NULL)) == NULL ? -1 : 0;
}

/* One turn of the AMQP transport into ob. Returns the events got, or -1
 * on a fatal error; *reading is cleared when reading must end. */
int
turn_amqp(size_t out_bytes, struct buf *ob, int *reading)
{
	int got;

	cx.ob = ob;
	got = eh_amqpc_run(cx.amqp, op.exec ? 0 : 100,
	    ob->len < out_bytes && (!op.exec ||
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
