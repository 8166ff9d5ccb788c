/*
 * eventhub_amqpc.c - Event Hubs over AMQP 1.0 with Qpid Proton C.
 *
 * One connection, one session: $cbs (sender + receiver) for put-token,
 * $management for the hub's partition ids, one receiver per partition
 * ("HUB/ConsumerGroups/GROUP/Partitions/P") with a selector filter for its
 * start. The proactor is driven from the caller's thread (pn_proactor_get,
 * or pn_proactor_wait with a timeout); work outside an event batch (a
 * token to renew, credit to give) is done on PN_CONNECTION_WAKE.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <proton/codec.h>
#include <proton/condition.h>
#include <proton/connection.h>
#include <proton/delivery.h>
#include <proton/event.h>
#include <proton/link.h>
#include <proton/message.h>
#include <proton/proactor.h>
#include <proton/sasl.h>
#include <proton/session.h>
#include <proton/ssl.h>
#include <proton/terminus.h>
#include <proton/transport.h>

#include "auth.h"
#include "clock.h"
#include "eventhub_amqpc.h"
#include "log.h"

#define EH_SCOPE "https://eventhubs.azure.net/.default"
#define SAS_TTL 3600		/* a SAS token lasts an hour */
#define RENEW_BEFORE 300	/* and is renewed 5 minutes before */
#define SELECTOR "apache.org:selector-filter:string"

struct seqoff {
	int64_t seq;
	char off[24];
};

struct part {
	int32_t id;
	pn_link_t *l;
	struct eh_start st;	/* where the next link starts */
	int64_t last;		/* last sequence number delivered, -1 none */
	int active;		/* being read */
	int lost;		/* taken by a higher epoch: not reopened */
	double reopen_at;	/* detached: reopen then (0: not waiting) */
	double backoff;		/* the next wait after a detach */
	struct seqoff *so;	/* offsets of delivered events, a ring */
	size_t so_head, so_n, so_cap;
	int64_t last_ms;	/* enqueued time of the last delivered */
	int64_t begin, end, end_ms;	/* partition properties, -2: none */
};

enum { ST_IDLE, ST_CONNECTING, ST_AUTH, ST_READY, ST_DOWN };

struct eh_amqpc {
	struct eh_amqpc_cfg cfg;
	char *audience;		/* sb://HOST/HUB */
	pn_proactor_t *pr;
	pn_connection_t *c;
	pn_session_t *s;
	pn_link_t *cbs_tx, *cbs_rx, *mgmt_tx, *mgmt_rx;
	pn_ssl_domain_t *ssl;
	int state;
	int auth_ok, auth_failed, mgmt_done, fatal;
	int tls_ok;		/* a connection got through TLS */
	int tls_fatal;		/* gave up: see tls_why */
	double t_first;		/* the first connection attempt */
	struct buf tls_why;	/* the last certificate verification error */
	double renew_at, retry_at, backoff;
	int renew_sent;
	uint64_t tag;
	int32_t *ids;
	size_t nids;
	struct part *p;
	size_t np;
	int32_t lostq[64];
	size_t nlost;
	struct buf err;
	int may_read;
	eh_amqpc_fn fn;
	void *fctx;
	int delivered;
	pn_message_t *msg;
	struct buf rx;
	struct eh_amqpc_prop *props;
	size_t nprops, props_cap;
	struct buf names;
	unsigned char uuids[64][16];
	double props_every, props_at;	/* eh_amqpc_track_end() */
};

void
eh_amqpc_set_credit(struct eh_amqpc *a, uint32_t credit)
{
	a->cfg.prefetch = credit > 0 ? credit : 1;
}

struct eh_amqpc *
eh_amqpc_new(const struct eh_amqpc_cfg *cfg, struct buf *err)
{
	struct eh_amqpc *a = calloc(1, sizeof(*a));
	struct buf au = BUF_INIT;

	if (a == NULL)
		abort();
	a->cfg = *cfg;
	buf_printf(&au, "sb://%s/%s", cfg->conn->host, cfg->hub);
	a->audience = buf_cstr(&au);
	a->pr = pn_proactor();
	a->msg = pn_message();
	if (cfg->conn->tls) {
		a->ssl = pn_ssl_domain(PN_SSL_MODE_CLIENT);
		if (cfg->cacert != NULL &&
		    pn_ssl_domain_set_trusted_ca_db(a->ssl, cfg->cacert) != 0) {
			buf_printf(err, "cannot use the CA certificates in '%s'",
			    cfg->cacert);
			eh_amqpc_free(a);
			return NULL;
		}
		pn_ssl_domain_set_peer_authentication(a->ssl, cfg->insecure ?
		    PN_SSL_ANONYMOUS_PEER : PN_SSL_VERIFY_PEER_NAME, NULL);
	}
	a->backoff = 0.5;
	return a;
}

void
eh_amqpc_free(struct eh_amqpc *a)
{
	size_t i;

	if (a == NULL)
		return;
	if (a->pr != NULL)
		pn_proactor_free(a->pr);
	if (a->ssl != NULL)
		pn_ssl_domain_free(a->ssl);
	pn_message_free(a->msg);
	for (i = 0; i < a->np; i++)
		free(a->p[i].so);
	free(a->p);
	free(a->ids);
	free(a->props);
	free(a->audience);
	buf_release(&a->names);
	buf_release(&a->rx);
	buf_release(&a->err);
	buf_release(&a->tls_why);
	free(a);
}

/* ---- connecting ---- */

static void
connect_now(struct eh_amqpc *a)
{
	pn_transport_t *t = pn_transport();
	char addr[512], port[16];
	pn_sasl_t *sasl;

	a->c = pn_connection();
	pn_connection_set_container(a->c, "twinpipe-ingest-eventhub");
	pn_connection_set_hostname(a->c, a->cfg.conn->host);
	pn_connection_set_context(a->c, a);
	sasl = pn_sasl(t);
	pn_sasl_allowed_mechs(sasl, "ANONYMOUS");
	if (a->ssl != NULL) {
		pn_ssl_t *ssl = pn_ssl(t);

		pn_ssl_init(ssl, a->ssl, NULL);
		pn_ssl_set_peer_hostname(ssl, a->cfg.conn->host);
	}
	snprintf(port, sizeof(port), "%d", a->cfg.conn->port);
	pn_proactor_addr(addr, sizeof(addr), a->cfg.conn->host, port);
	a->cbs_tx = a->cbs_rx = a->mgmt_tx = a->mgmt_rx = NULL;
	a->s = NULL;
	a->auth_ok = a->renew_sent = 0;
	a->state = ST_CONNECTING;
	log_debug("amqp: connecting to %s (%s)", addr,
	    a->ssl ? "TLS" : "plain");
	pn_proactor_connect2(a->pr, a->c, t, addr);
	pn_connection_open(a->c);
}

static pn_link_t *
link_pair(struct eh_amqpc *a, const char *addr, int rx)
{
	char name[64];
	pn_link_t *l;

	snprintf(name, sizeof(name), "%s-%s", addr, rx ? "rx" : "tx");
	l = rx ? pn_receiver(a->s, name) : pn_sender(a->s, name);
	if (rx)
		pn_terminus_set_address(pn_link_source(l), addr);
	else
		pn_terminus_set_address(pn_link_target(l), addr);
	pn_link_set_snd_settle_mode(l, PN_SND_SETTLED);
	pn_link_open(l);
	if (rx)
		pn_link_flow(l, 10);
	return l;
}

static void
send_msg(struct eh_amqpc *a, pn_link_t *tx, pn_message_t *m)
{
	char tag[24];
	int n = snprintf(tag, sizeof(tag), "%" PRIu64, ++a->tag);

	pn_delivery(tx, pn_dtag(tag, (size_t)n));
	if (pn_message_send(m, tx, NULL) < 0)
		log_warn("amqp: cannot send a request: %s",
		    pn_error_text(pn_message_error(m)));
}

static void
put_str_prop(pn_data_t *d, const char *k, const char *v)
{
	pn_data_put_string(d, pn_bytes(strlen(k), k));
	pn_data_put_string(d, pn_bytes(strlen(v), v));
}

/*
 * Address m, a request, to node (replies to reply_to) with a fresh message
 * id and the application properties operation, type, name and, when
 * partition is not NULL, partition. Cannot fail.
 */
static void
request_set(struct eh_amqpc *a, pn_message_t *m, const char *node,
    const char *reply_to, const char *operation, const char *type,
    const char *name, const char *partition)
{
	pn_data_t *ap;

	pn_message_set_address(m, node);
	pn_message_set_reply_to(m, reply_to);
	pn_message_set_id(m, (pn_msgid_t){ .type = PN_ULONG,
	    .u.as_ulong = ++a->tag });
	ap = pn_message_properties(m);
	pn_data_put_map(ap);
	pn_data_enter(ap);
	put_str_prop(ap, "operation", operation);
	put_str_prop(ap, "type", type);
	put_str_prop(ap, "name", name);
	if (partition != NULL)
		put_str_prop(ap, "partition", partition);
	pn_data_exit(ap);
}

/* Put a token on $cbs. Returns 0, or -1 (reported) when none can be made. */
static int
put_token(struct eh_amqpc *a)
{
	struct buf tok = BUF_INIT, e = BUF_INIT;
	pn_message_t *m = pn_message();
	int64_t exp;
	const char *type = "servicebus.windows.net:sastoken";
	int rc = -1;

	if (a->cfg.auth != NULL) {
		const char *t = auth_get(a->cfg.auth, EH_SCOPE, &exp, &e);

		if (t == NULL) {
			log_error("entra: %s", buf_cstr(&e));
			goto out;
		}
		buf_adds(&tok, t);
		type = "jwt";
	} else if (a->cfg.conn->sas != NULL) {
		const char *se = strstr(a->cfg.conn->sas, "se=");

		buf_adds(&tok, a->cfg.conn->sas);
		exp = se ? strtoll(se + 3, NULL, 10) : (int64_t)time(NULL) +
		    SAS_TTL;
	} else {
		exp = (int64_t)time(NULL) + (a->cfg.sas_ttl >= 1 ?
		    (int64_t)a->cfg.sas_ttl : SAS_TTL);
		if (eh_sas_token(&tok, a->audience, a->cfg.conn->key_name,
		    a->cfg.conn->key, exp) < 0) {
			log_error("amqp: cannot sign a SAS token");
			goto out;
		}
	}
	log_secret(buf_cstr(&tok));
	request_set(a, m, "$cbs", "cbs-reply", "put-token", type, a->audience,
	    NULL);
	pn_data_put_string(pn_message_body(m), pn_bytes(tok.len, tok.p));
	send_msg(a, a->cbs_tx, m);
	/* renew RENEW_BEFORE before expiry (half the life if shorter) */
	{
		double left = (double)(exp - (int64_t)time(NULL));

		a->renew_at = clock_s() + (left > 2 * RENEW_BEFORE ?
		    left - RENEW_BEFORE : left / 2);
	}
	a->renew_sent = 1;
	log_debug("amqp: put-token (%s) for %s", type, a->audience);
	rc = 0;
out:
	pn_message_free(m);
	buf_release(&tok);
	buf_release(&e);
	return rc;
}

static void
ask_partitions(struct eh_amqpc *a)
{
	pn_message_t *m = pn_message();

	request_set(a, m, "$management", "mgmt-reply", "READ",
	    "com.microsoft:eventhub", a->cfg.hub, NULL);
	send_msg(a, a->mgmt_tx, m);
	pn_message_free(m);
}

static struct part *
part_of(struct eh_amqpc *a, int32_t id)
{
	size_t i;

	for (i = 0; i < a->np; i++)
		if (a->p[i].id == id)
			return &a->p[i];
	return NULL;
}

static void
open_receiver(struct eh_amqpc *a, struct part *p)
{
	char addr[600], name[128], expr[160];
	pn_data_t *f, *lp;

	snprintf(addr, sizeof(addr), "%s/ConsumerGroups/%s/Partitions/%d",
	    a->cfg.hub, a->cfg.group, (int)p->id);
	snprintf(name, sizeof(name), "twinpipe-%d-%" PRIu64, (int)p->id,
	    ++a->tag);
	switch (p->st.kind) {
	case EHS_LATEST:
		snprintf(expr, sizeof(expr),
		    "amqp.annotation.x-opt-offset > '@latest'");
		break;
	case EHS_TIME:
		snprintf(expr, sizeof(expr), "amqp.annotation."
		    "x-opt-enqueued-time > '%" PRId64 "'", p->st.v);
		break;
	case EHS_SEQ:
		snprintf(expr, sizeof(expr), "amqp.annotation."
		    "x-opt-sequence-number > '%" PRId64 "'", p->st.v);
		break;
	case EHS_OFFSET:
		snprintf(expr, sizeof(expr), "amqp.annotation.x-opt-offset > "
		    "'%s'", p->st.offset);
		break;
	default:
		snprintf(expr, sizeof(expr),
		    "amqp.annotation.x-opt-offset > '-1'");
	}
	p->reopen_at = 0;
	p->l = pn_receiver(a->s, name);
	pn_link_set_context(p->l, p);
	pn_terminus_set_address(pn_link_source(p->l), addr);
	f = pn_terminus_filter(pn_link_source(p->l));
	pn_data_put_map(f);
	pn_data_enter(f);
	pn_data_put_symbol(f, pn_bytes(strlen(SELECTOR), SELECTOR));
	pn_data_put_described(f);
	pn_data_enter(f);
	pn_data_put_symbol(f, pn_bytes(strlen(SELECTOR), SELECTOR));
	pn_data_put_string(f, pn_bytes(strlen(expr), expr));
	pn_data_exit(f);
	pn_data_exit(f);
	if (p->st.epoch > 0 || a->cfg.epoch >= 0) {
		lp = pn_link_properties(p->l);
		pn_data_put_map(lp);
		pn_data_enter(lp);
		pn_data_put_symbol(lp, pn_bytes(19, "com.microsoft:epoch"));
		pn_data_put_long(lp, p->st.epoch > 0 ? p->st.epoch :
		    a->cfg.epoch);
		pn_data_exit(lp);
	}
	pn_link_open(p->l);
	log_info("amqp: reading %s[%d] from %s", a->cfg.hub, (int)p->id,
	    expr + 16);
}

static void
give_credit(struct eh_amqpc *a)
{
	size_t i;

	if (!a->may_read || a->state != ST_READY)
		return;
	for (i = 0; i < a->np; i++) {
		pn_link_t *l = a->p[i].l;
		int c;

		if (l == NULL)
			continue;
		c = pn_link_credit(l) + pn_link_queued(l);
		if ((uint32_t)c < a->cfg.prefetch / 2 + 1)
			pn_link_flow(l, (int)a->cfg.prefetch - c);
	}
}

/* ---- received messages ---- */

static void
remember(struct part *p, int64_t seq, const char *off)
{
	struct seqoff *s;

	if (p->so_n == p->so_cap) {
		size_t nc = p->so_cap ? p->so_cap * 2 : 256, i;
		struct seqoff *n = xmalloc(nc * sizeof(*n));

		for (i = 0; i < p->so_n; i++)
			n[i] = p->so[(p->so_head + i) % p->so_cap];
		free(p->so);
		p->so = n;
		p->so_cap = nc;
		p->so_head = 0;
	}
	s = &p->so[(p->so_head + p->so_n++) % p->so_cap];
	s->seq = seq;
	snprintf(s->off, sizeof(s->off), "%s", off);
}

const char *
eh_amqpc_offset_of(struct eh_amqpc *a, int32_t id, int64_t seq)
{
	struct part *p = part_of(a, id);
	size_t i;

	for (i = 0; p != NULL && i < p->so_n; i++) {
		struct seqoff *s = &p->so[(p->so_head + i) % p->so_cap];

		if (s->seq == seq)
			return s->off;
	}
	return NULL;
}

void
eh_amqpc_forget(struct eh_amqpc *a, int32_t id, int64_t seq)
{
	struct part *p = part_of(a, id);

	while (p != NULL && p->so_n > 0 && p->so[p->so_head].seq < seq) {
		p->so_head = (p->so_head + 1) % p->so_cap;
		p->so_n--;
	}
}

size_t
eh_amqpc_lost(struct eh_amqpc *a, int32_t *out, size_t max)
{
	size_t n = a->nlost < max ? a->nlost : max;

	memcpy(out, a->lostq, n * sizeof(*out));
	a->nlost = 0;
	return n;
}

/* The name of a key (a string or symbol) at the current node, copied. */
static size_t
key_name(struct eh_amqpc *a, pn_data_t *d)
{
	pn_bytes_t b = pn_data_type(d) == PN_SYMBOL ? pn_data_get_symbol(d) :
	    pn_data_type(d) == PN_STRING ? pn_data_get_string(d) :
	    pn_bytes(0, NULL);
	size_t at = a->names.len;

	buf_add(&a->names, b.start ? b.start : "", b.size);
	buf_addc(&a->names, '\0');
	return at;
}

/* The current node of d as an eh_amqp_value (bytes point into d). */
static void
value_of(struct eh_amqpc *a, pn_data_t *d, struct eh_amqp_value *v)
{
	pn_bytes_t b;

	memset(v, 0, sizeof(*v));
	switch (pn_data_type(d)) {
	case PN_BOOL: v->kind = EHA_BOOL; v->v.b = pn_data_get_bool(d); break;
	case PN_UBYTE: v->kind = EHA_UINT; v->v.u = pn_data_get_ubyte(d); break;
	case PN_USHORT: v->kind = EHA_UINT; v->v.u = pn_data_get_ushort(d);
		break;
	case PN_UINT: v->kind = EHA_UINT; v->v.u = pn_data_get_uint(d); break;
	case PN_ULONG: v->kind = EHA_UINT; v->v.u = pn_data_get_ulong(d); break;
	case PN_BYTE: v->kind = EHA_INT; v->v.i = pn_data_get_byte(d); break;
	case PN_SHORT: v->kind = EHA_INT; v->v.i = pn_data_get_short(d); break;
	case PN_INT: v->kind = EHA_INT; v->v.i = pn_data_get_int(d); break;
	case PN_LONG: v->kind = EHA_INT; v->v.i = pn_data_get_long(d); break;
	case PN_CHAR: v->kind = EHA_UINT; v->v.u = pn_data_get_char(d); break;
	case PN_FLOAT: v->kind = EHA_FLOAT; v->v.d = pn_data_get_float(d);
		break;
	case PN_DOUBLE: v->kind = EHA_DOUBLE; v->v.d = pn_data_get_double(d);
		break;
	case PN_TIMESTAMP: v->kind = EHA_TIMESTAMP;
		v->v.i = pn_data_get_timestamp(d); break;
	case PN_UUID:
		if (a->nprops < 64) {
			pn_uuid_t u = pn_data_get_uuid(d);

			memcpy(a->uuids[a->nprops], u.bytes, 16);
			v->kind = EHA_UUID;
			v->p = a->uuids[a->nprops];
			v->n = 16;
		}
		break;
	case PN_BINARY: b = pn_data_get_binary(d); v->kind = EHA_BINARY;
		v->p = (const unsigned char *)b.start; v->n = b.size; break;
	case PN_STRING: b = pn_data_get_string(d); v->kind = EHA_STRING;
		v->p = (const unsigned char *)b.start; v->n = b.size; break;
	case PN_SYMBOL: b = pn_data_get_symbol(d); v->kind = EHA_SYMBOL;
		v->p = (const unsigned char *)b.start; v->n = b.size; break;
	default: v->kind = EHA_NULL;	/* null, lists, maps, decimals */
	}
}

static void
add_prop(struct eh_amqpc *a, size_t name_at, const struct eh_amqp_value *v)
{
	if (a->nprops == a->props_cap) {
		a->props_cap = a->props_cap ? a->props_cap * 2 : 16;
		a->props = xrealloc(a->props, a->props_cap *
		    sizeof(*a->props));
	}
	a->props[a->nprops].name = (const char *)(uintptr_t)name_at;
	a->props[a->nprops++].v = *v;
}

/* Every key/value of the map d (if it is one). */
static void
add_map(struct eh_amqpc *a, pn_data_t *d, struct eh_amqpc_event *ev)
{
	pn_data_rewind(d);
	if (!pn_data_next(d) || pn_data_type(d) != PN_MAP)
		return;
	pn_data_enter(d);
	while (pn_data_next(d)) {
		struct eh_amqp_value v;
		size_t at = key_name(a, d);

		if (!pn_data_next(d))
			break;
		value_of(a, d, &v);
		if (strcmp(a->names.p + at, "x-opt-sequence-number") == 0 &&
		    v.kind == EHA_INT)
			ev->seq = v.v.i;
		else if (strcmp(a->names.p + at, "x-opt-enqueued-time") == 0 &&
		    v.kind == EHA_TIMESTAMP)
			ev->enqueued = v.v.i;
		add_prop(a, at, &v);
	}
	pn_data_exit(d);
}

static void
add_text(struct eh_amqpc *a, const char *name, const char *s)
{
	struct eh_amqp_value v = { .kind = EHA_STRING };
	size_t at = a->names.len;

	if (s == NULL)
		return;
	buf_adds(&a->names, name);
	buf_addc(&a->names, '\0');
	v.p = (const unsigned char *)s;
	v.n = strlen(s);
	add_prop(a, at, &v);
}

static void
add_id(struct eh_amqpc *a, const char *name, pn_data_t *d)
{
	struct eh_amqp_value v;
	size_t at;

	pn_data_rewind(d);
	if (!pn_data_next(d) || pn_data_type(d) == PN_NULL)
		return;
	at = a->names.len;
	buf_adds(&a->names, name);
	buf_addc(&a->names, '\0');
	value_of(a, d, &v);
	add_prop(a, at, &v);
}

/* A delivery on partition link p is complete in a->rx: decode and hand on. */
static int
deliver(struct eh_amqpc *a, struct part *p)
{
	struct eh_amqpc_event ev;
	pn_message_t *m = a->msg;
	pn_data_t *body;
	char offs[24] = "";
	size_t i, off_at = (size_t)-1;

	pn_message_clear(m);
	if (pn_message_decode(m, a->rx.p, a->rx.len) != 0) {
		log_warn("amqp: %s[%d]: an undecodable message after "
		    "sequence number %" PRId64 ": skipped", a->cfg.hub,
		    (int)p->id, p->last);
		return 0;
	}
	memset(&ev, 0, sizeof(ev));
	ev.partition = p->id;
	ev.seq = -1;
	ev.enqueued = -1;
	a->nprops = 0;
	a->names.len = 0;
	add_map(a, pn_message_properties(m), &ev);
	add_map(a, pn_message_annotations(m), &ev);
	for (i = 0; i < a->nprops; i++)
		if (strcmp(a->names.p + (uintptr_t)a->props[i].name,
		    "x-opt-offset") == 0)
			off_at = i;
	add_id(a, "message-id", pn_message_id(m));
	add_text(a, "content-type", pn_message_get_content_type(m));
	add_text(a, "content-encoding", pn_message_get_content_encoding(m));
	add_id(a, "correlation-id", pn_message_correlation_id(m));
	add_text(a, "to", pn_message_get_address(m));
	add_text(a, "reply-to", pn_message_get_reply_to(m));
	if (pn_message_get_creation_time(m) != 0) {
		struct eh_amqp_value v = { .kind = EHA_TIMESTAMP };
		size_t at = a->names.len;

		buf_adds(&a->names, "creation-time");
		buf_addc(&a->names, '\0');
		v.v.i = pn_message_get_creation_time(m);
		add_prop(a, at, &v);
	}
	for (i = 0; i < a->nprops; i++)	/* names are stable now */
		a->props[i].name = a->names.p + (uintptr_t)a->props[i].name;
	if (off_at != (size_t)-1 && eh_amqp_is_text(&a->props[off_at].v))
		snprintf(offs, sizeof(offs), "%.*s",
		    (int)a->props[off_at].v.n,
		    (const char *)a->props[off_at].v.p);
	ev.offset = offs;
	ev.props = a->props;
	ev.nprops = a->nprops;
	body = pn_message_body(m);
	pn_data_rewind(body);
	if (pn_data_next(body)) {
		pn_bytes_t b = pn_bytes(0, NULL);

		if (pn_data_type(body) == PN_BINARY)
			b = pn_data_get_binary(body);
		else if (pn_data_type(body) == PN_STRING)
			b = pn_data_get_string(body);
		else if (pn_data_type(body) == PN_SYMBOL)
			b = pn_data_get_symbol(body);
		ev.body = b.start;
		ev.blen = b.size;
	}
	if (ev.seq < 0) {
		log_warn("amqp: %s[%d]: a message without "
		    "x-opt-sequence-number: skipped", a->cfg.hub, (int)p->id);
		return 0;
	}
	if (ev.seq <= p->last)
		return 0;	/* delivered before a reconnect */
	p->last = ev.seq;
	p->last_ms = ev.enqueued;
	p->backoff = 0;
	if (!a->cfg.no_offsets)
		remember(p, ev.seq, offs);
	a->delivered++;
	return a->fn ? a->fn(a->fctx, &ev) : 0;
}

/* A partition properties answer: where the partition ends. */
static void
part_props(struct eh_amqpc *a, pn_message_t *m)
{
	pn_data_t *body = pn_message_body(m);
	int64_t begin = -2, end = -2, end_ms = -2;
	struct part *p = NULL;

	pn_data_rewind(body);
	if (!pn_data_next(body) || pn_data_type(body) != PN_MAP)
		return;
	pn_data_enter(body);
	while (pn_data_next(body)) {
		pn_bytes_t k = pn_data_type(body) == PN_STRING ?
		    pn_data_get_string(body) : pn_bytes(0, NULL);
		pn_type_t t;

		if (!pn_data_next(body))
			break;
		t = pn_data_type(body);
		if (k.size == 9 && memcmp(k.start, "partition", 9) == 0 &&
		    t == PN_STRING) {
			pn_bytes_t v = pn_data_get_string(body);
			char id[16];

			snprintf(id, sizeof(id), "%.*s", (int)v.size,
			    v.start ? v.start : "");
			p = part_of(a, (int32_t)strtol(id, NULL, 10));
		} else if (k.size == 29 && memcmp(k.start,
		    "last_enqueued_sequence_number", 29) == 0 && t == PN_LONG) {
			end = pn_data_get_long(body);
		} else if (k.size == 21 && memcmp(k.start,
		    "begin_sequence_number", 21) == 0 && t == PN_LONG) {
			begin = pn_data_get_long(body);
		} else if (k.size == 22 && memcmp(k.start,
		    "last_enqueued_time_utc", 22) == 0 && t == PN_TIMESTAMP) {
			end_ms = pn_data_get_timestamp(body);
		}
	}
	pn_data_exit(body);
	if (p == NULL || end == -2)
		return;
	p->begin = begin;
	p->end = end;
	p->end_ms = end_ms;
}

/* Ask $management where each partition being read ends. */
static void
ask_part_props(struct eh_amqpc *a)
{
	size_t i;

	for (i = 0; i < a->np; i++) {
		pn_message_t *m;
		char id[16];

		if (!a->p[i].active || a->p[i].lost)
			continue;
		m = pn_message();
		snprintf(id, sizeof(id), "%d", (int)a->p[i].id);
		request_set(a, m, "$management", "mgmt-reply", "READ",
		    "com.microsoft:partition", a->cfg.hub, id);
		send_msg(a, a->mgmt_tx, m);
		pn_message_free(m);
	}
}

void
eh_amqpc_track_end(struct eh_amqpc *a, double every_s)
{
	a->props_every = every_s;
	a->props_at = 0;
}

int
eh_amqpc_position(const struct eh_amqpc *a, size_t i,
    struct eh_amqpc_pos *pos)
{
	const struct part *p;

	if (i >= a->np)
		return -1;
	p = &a->p[i];
	pos->partition = p->id;
	pos->active = p->active && !p->lost;
	pos->last = p->last;
	pos->last_ms = p->last_ms;
	pos->begin = p->begin;
	pos->end = p->end;
	pos->end_ms = p->end_ms;
	return 0;
}

int
eh_amqpc_connected(const struct eh_amqpc *a)
{
	return a->state == ST_READY && !a->fatal;
}
static void reopen_all(struct eh_amqpc *);

/* A reply on $cbs or $management. */
static void
reply(struct eh_amqpc *a, pn_link_t *l)
{
	pn_message_t *m = a->msg;
	pn_data_t *ap, *body;
	int64_t status = -1;
	char desc[200] = "";

	pn_message_clear(m);
	if (pn_message_decode(m, a->rx.p, a->rx.len) != 0)
		return;
	ap = pn_message_properties(m);
	pn_data_rewind(ap);
	if (pn_data_next(ap) && pn_data_type(ap) == PN_MAP) {
		pn_data_enter(ap);
		while (pn_data_next(ap)) {
			pn_bytes_t k = pn_data_type(ap) == PN_STRING ?
			    pn_data_get_string(ap) : pn_data_type(ap) ==
			    PN_SYMBOL ? pn_data_get_symbol(ap) :
			    pn_bytes(0, NULL);

			if (!pn_data_next(ap))
				break;
			if ((k.size == 11 && memcmp(k.start, "status-code", 11)
			    == 0) || (k.size == 10 && memcmp(k.start,
			    "statusCode", 10) == 0)) {
				struct eh_amqp_value v;

				value_of(a, ap, &v);
				status = v.kind == EHA_INT ? v.v.i :
				    (int64_t)v.v.u;
			} else if (k.size == 18 && memcmp(k.start,
			    "status-description", 18) == 0 &&
			    pn_data_type(ap) == PN_STRING) {
				pn_bytes_t s = pn_data_get_string(ap);

				snprintf(desc, sizeof(desc), "%.*s",
				    (int)s.size, s.start);
			}
		}
		pn_data_exit(ap);
	}
	if (l == a->cbs_rx) {
		if (status == 200 || status == 202) {
			a->auth_ok = 1;
			a->renew_sent = 0;
			log_debug("amqp: token accepted (%d)", (int)status);
			if (!a->mgmt_done)
				ask_partitions(a);
			else if (a->state == ST_AUTH)
				reopen_all(a);
			return;
		}
		log_error("amqp: the token was refused: %d %s", (int)status,
		    desc);
		a->auth_failed = a->fatal = 1;
		return;
	}
	if (a->mgmt_done) {	/* only partition properties are asked now */
		if (status == 200)
			part_props(a, m);
		else
			log_debug("amqp: partition properties: %d %s",
			    (int)status, desc);
		return;
	}
	if (status != 200) {
		log_error("amqp: reading hub '%s': %d %s", a->cfg.hub,
		    (int)status, desc);
		a->fatal = 1;
		return;
	}
	body = pn_message_body(m);
	pn_data_rewind(body);
	if (!pn_data_next(body) || pn_data_type(body) != PN_MAP)
		goto bad;
	pn_data_enter(body);
	while (pn_data_next(body)) {
		pn_bytes_t k = pn_data_type(body) == PN_STRING ?
		    pn_data_get_string(body) : pn_bytes(0, NULL);

		if (!pn_data_next(body))
			break;
		if (k.size == 13 && memcmp(k.start, "partition_ids", 13) == 0 &&
		    pn_data_type(body) == PN_ARRAY) {
			size_t n = pn_data_get_array(body);

			free(a->ids);
			a->ids = xmalloc((n ? n : 1) * sizeof(*a->ids));
			a->nids = 0;
			pn_data_enter(body);
			while (pn_data_next(body)) {
				pn_bytes_t s = pn_data_get_string(body);
				char t[16], *e;
				long v;

				snprintf(t, sizeof(t), "%.*s", (int)s.size,
				    s.start ? s.start : "");
				v = strtol(t, &e, 10);
				if (*e != '\0' || e == t || v < 0) {
					log_error("amqp: partition id '%s' is "
					    "not a number", t);
					a->fatal = 1;
					continue;
				}
				a->ids[a->nids++] = (int32_t)v;
			}
			pn_data_exit(body);
		}
	}
	pn_data_exit(body);
	if (a->nids == 0)
		goto bad;
	if (a->p == NULL) {	/* stable: links point at their part */
		size_t i;

		a->p = calloc(a->nids, sizeof(*a->p));
		if (a->p == NULL)
			abort();
		a->np = a->nids;
		for (i = 0; i < a->np; i++) {
			a->p[i].id = a->ids[i];
			a->p[i].last = -1;
			a->p[i].last_ms = -1;
			a->p[i].begin = a->p[i].end = a->p[i].end_ms = -2;
		}
	}
	a->mgmt_done = 1;
	a->state = ST_READY;
	return;
bad:
	log_error("amqp: $management: no partition_ids for '%s'", a->cfg.hub);
	a->fatal = 1;
}

static void
on_remote_open_conn(struct eh_amqpc *a)
{
	a->s = pn_session(a->c);
	pn_session_open(a->s);
	a->cbs_tx = link_pair(a, "$cbs", 0);
	a->cbs_rx = link_pair(a, "$cbs", 1);
	pn_terminus_set_address(pn_link_target(a->cbs_rx), "cbs-reply");
	a->mgmt_tx = link_pair(a, "$management", 0);
	a->mgmt_rx = link_pair(a, "$management", 1);
	pn_terminus_set_address(pn_link_target(a->mgmt_rx), "mgmt-reply");
	a->state = ST_AUTH;
	if (put_token(a) < 0) {
		a->fatal = 1;
		return;
	}
	a->backoff = 0.5;
}

/* A reconnect, once the token is accepted (links opened before it would
 * be refused): reopen what was read. */
static void
reopen_all(struct eh_amqpc *a)
{
	size_t i;

	a->state = ST_READY;
	for (i = 0; i < a->np; i++) {
		struct part *p = &a->p[i];

		if (p->lost || !p->active)
			continue;
		if (p->last >= 0) {
			p->st.kind = EHS_SEQ;
			p->st.v = p->last;
		}
		open_receiver(a, p);
	}
}

static void
link_closed(struct eh_amqpc *a, pn_link_t *l)
{
	pn_condition_t *cond = pn_link_remote_condition(l);
	const char *name = pn_condition_get_name(cond);
	struct part *p = pn_link_get_context(l);

	if (p == NULL || p->l != l) {
		if (l == a->cbs_tx || l == a->cbs_rx || l == a->mgmt_tx ||
		    l == a->mgmt_rx) {
			log_warn("amqp: %s detached: %s %s (reconnecting)",
			    pn_link_name(l), name ? name : "",
			    pn_condition_get_description(cond) ?
			    pn_condition_get_description(cond) : "");
			pn_connection_close(a->c);
		}
		pn_link_close(l);
		return;
	}
	pn_link_close(l);
	p->l = NULL;
	if (name != NULL && (strcmp(name, "amqp:link:stolen") == 0 ||
	    strcmp(name, "com.microsoft:receiver-disconnected") == 0)) {
		log_info("amqp: %s[%d] taken by another reader (%s)",
		    a->cfg.hub, (int)p->id, name);
		p->lost = 1;
		if (a->nlost < 64)
			a->lostq[a->nlost++] = p->id;
		return;
	}
	if (name != NULL && (strcmp(name, "amqp:not-found") == 0 ||
	    strcmp(name, "amqp:unauthorized-access") == 0 ||
	    strcmp(name, "amqp:invalid-field") == 0)) {
		log_error("amqp: %s[%d]: %s %s", a->cfg.hub, (int)p->id, name,
		    pn_condition_get_description(cond) ?
		    pn_condition_get_description(cond) : "");
		a->fatal = 1;
		return;
	}
	/* server-busy, detach-forced, ...: reopen with backoff */
	p->backoff = p->backoff < 0.25 ? 0.25 : p->backoff * 2 > 30 ? 30 :
	    p->backoff * 2;
	p->reopen_at = clock_s() + p->backoff;
	log_warn("amqp: %s[%d] detached: %s %s (reopened in %.2fs after "
	    "sequence number %" PRId64 ")", a->cfg.hub, (int)p->id,
	    name ? name : "", pn_condition_get_description(cond) ?
	    pn_condition_get_description(cond) : "", p->backoff, p->last);
	if (p->last >= 0) {
		p->st.kind = EHS_SEQ;
		p->st.v = p->last;
	}
}

/* Reopen the detached partitions whose backoff has passed. */
static void
reopen_due(struct eh_amqpc *a)
{
	double now = clock_s();
	size_t i;

	for (i = 0; i < a->np; i++) {
		struct part *p = &a->p[i];

		if (p->l == NULL && p->active && !p->lost && p->reopen_at > 0 &&
		    now >= p->reopen_at)
			open_receiver(a, p);
	}
}

/* Is this a failed verification of the peer's certificate? */
static int
is_cert_failure(const char *name, const char *desc)
{
	const char *t[] = { name, desc };

	for (size_t i = 0; i < 2; i++)
		if (t[i] != NULL && (strstr(t[i], "certificate verify failed")
		    != NULL || strstr(t[i], "certificate") != NULL))
			return 1;
	return 0;
}

static void
tls_check(struct eh_amqpc *a)
{
	if (!a->tls_ok && a->tls_why.len > 0 && a->cfg.tls_timeout > 0 &&
	    clock_s() - a->t_first >= a->cfg.tls_timeout) {
		a->tls_fatal = 1;
		a->fatal = 1;
	}
}

/* Before any connection got through TLS: remember why, and give up once
 * cfg.tls_timeout has passed. */
static void
tls_failure(struct eh_amqpc *a, const char *name, const char *desc)
{
	if (a->tls_ok || !is_cert_failure(name, desc))
		return;
	a->tls_why.len = 0;
	buf_adds(&a->tls_why, desc != NULL && *desc != '\0' ? desc :
	    name != NULL ? name : "certificate verify failed");
	tls_check(a);
}

const char *
eh_amqpc_tls_error(const struct eh_amqpc *a)
{
	return a != NULL && a->tls_fatal ? a->tls_why.p : NULL;
}

static void
handle(struct eh_amqpc *a, pn_event_t *e)
{
	pn_link_t *l;
	pn_delivery_t *d;

	switch (pn_event_type(e)) {
	case PN_CONNECTION_REMOTE_OPEN:
		a->tls_ok = 1;
		on_remote_open_conn(a);
		break;
	case PN_CONNECTION_WAKE:
		if (a->state == ST_READY && a->auth_ok && !a->renew_sent &&
		    clock_s() >= a->renew_at)
			(void)put_token(a);
		if (a->state == ST_READY && a->mgmt_done &&
		    a->props_every > 0 && clock_s() >= a->props_at) {
			a->props_at = clock_s() + a->props_every;
			ask_part_props(a);
		}
		if (a->state == ST_READY)
			reopen_due(a);
		give_credit(a);
		break;
	case PN_LINK_REMOTE_CLOSE:
	case PN_LINK_REMOTE_DETACH:
		link_closed(a, pn_event_link(e));
		break;
	case PN_DELIVERY:
		d = pn_event_delivery(e);
		l = pn_delivery_link(d);
		if (!pn_link_is_receiver(l))
			break;
		if (pn_delivery_readable(d)) {
			char tmp[16384];
			ssize_t k;

			while ((k = pn_link_recv(l, tmp, sizeof(tmp))) > 0)
				buf_add(&a->rx, tmp, (size_t)k);
			if (pn_delivery_partial(d))
				break;
			if (l == a->cbs_rx || l == a->mgmt_rx) {
				reply(a, l);
				pn_link_flow(l, 1);
			} else if (pn_link_get_context(l) != NULL) {
				if (deliver(a, pn_link_get_context(l)) < 0)
					a->fatal = 1;
			}
			a->rx.len = 0;
			if (!pn_delivery_settled(d))
				pn_delivery_update(d, PN_ACCEPTED);
			pn_delivery_settle(d);
			if (a->may_read && l != a->cbs_rx && l != a->mgmt_rx &&
			    (uint32_t)(pn_link_credit(l) + pn_link_queued(l)) <
			    a->cfg.prefetch / 2)
				give_credit(a);
		}
		break;
	case PN_TRANSPORT_CLOSED: {
		pn_condition_t *c = pn_transport_condition(pn_event_transport(
		    e));

		if (a->state != ST_DOWN && !a->fatal) {
			const char *n = pn_condition_get_name(c);

			log_warn("amqp: connection lost: %s %s (retry in "
			    "%.1fs)", n ? n : "closed",
			    pn_condition_get_description(c) ?
			    pn_condition_get_description(c) : "", a->backoff);
			if (n != NULL && strstr(n, "unauthorized") != NULL) {
				a->fatal = 1;
				a->auth_failed = 1;
			}
			if (!a->mgmt_done && n != NULL && strstr(n,
			    "ssl") != NULL)
				a->fatal = 1;
			tls_failure(a, n, pn_condition_get_description(c));
		}
		for (size_t i = 0; i < a->np; i++)
			a->p[i].l = NULL;
		a->state = ST_DOWN;
		a->c = NULL;
		a->retry_at = clock_s() + a->backoff;
		a->backoff = a->backoff * 2 > 30 ? 30 : a->backoff * 2;
		break;
	}
	default:
		break;
	}
}

static int
pump(struct eh_amqpc *a, int timeout_ms)
{
	pn_event_batch_t *b;
	pn_event_t *e;
	int n = 0;

	tls_check(a);
	if (a->fatal)
		return -1;
	if (a->state == ST_DOWN && clock_s() >= a->retry_at)
		connect_now(a);
	if (a->c != NULL && a->state != ST_DOWN)
		pn_connection_wake(a->c);
	while ((b = pn_proactor_get(a->pr)) != NULL) {
		while ((e = pn_event_batch_next(b)) != NULL)
			handle(a, e);
		pn_proactor_done(a->pr, b);
		n++;
	}
	if (n == 0 && timeout_ms > 0) {
		int timed_out = 0;

		pn_proactor_set_timeout(a->pr, (pn_millis_t)timeout_ms);
		while (!timed_out) {
			b = pn_proactor_wait(a->pr);
			while ((e = pn_event_batch_next(b)) != NULL) {
				if (pn_event_type(e) == PN_PROACTOR_TIMEOUT)
					timed_out = 1;
				else {
					handle(a, e);
					n++;
				}
			}
			pn_proactor_done(a->pr, b);
			if (n > 0)
				break;
		}
		if (!timed_out)
			pn_proactor_cancel_timeout(a->pr);
	}
	return a->fatal ? -1 : 0;
}

int
eh_amqpc_open(struct eh_amqpc *a, double timeout_s, const int32_t **ids,
    struct buf *err)
{
	double end = clock_s() + timeout_s;

	a->t_first = clock_s();
	if (a->cfg.tls_timeout > 0 && a->t_first + a->cfg.tls_timeout > end)
		end = a->t_first + a->cfg.tls_timeout;
	connect_now(a);
	while (a->state != ST_READY && !a->fatal && clock_s() < end)
		if (pump(a, 100) < 0)
			break;
	if (a->state != ST_READY && !a->tls_ok && a->tls_why.len > 0) {
		a->tls_fatal = 1;	/* out of time, and TLS is why */
		a->fatal = 1;
	}
	if (a->tls_fatal) {
		buf_printf(err, "cannot open hub '%s' at %s:%d: TLS: the "
		    "server's certificate is not trusted (%s) and no "
		    "connection got through TLS in %gs; trust its CA with "
		    "--cacert", a->cfg.hub, a->cfg.conn->host,
		    a->cfg.conn->port, buf_cstr(&a->tls_why),
		    clock_s() - a->t_first < a->cfg.tls_timeout ?
		    timeout_s : a->cfg.tls_timeout);
		return -1;
	}
	if (a->state != ST_READY) {
		buf_printf(err, "cannot open hub '%s' at %s:%d%s", a->cfg.hub,
		    a->cfg.conn->host, a->cfg.conn->port, a->auth_failed ?
		    ": credentials refused" : a->fatal ? "" :
		    ": timed out");
		return -1;
	}
	*ids = a->ids;
	return (int)a->nids;
}

int
eh_amqpc_add(struct eh_amqpc *a, int32_t id, const struct eh_start *st,
    struct buf *err)
{
	struct part *p = part_of(a, id);

	if (p == NULL) {
		buf_printf(err, "hub '%s' has no partition %d", a->cfg.hub,
		    (int)id);
		return -1;
	}
	p->active = 1;
	p->st = *st;
	p->lost = 0;
	if (st->kind == EHS_SEQ)
		p->last = st->v;
	if (a->state == ST_READY && p->l == NULL)
		open_receiver(a, p);
	return 0;
}

void
eh_amqpc_remove(struct eh_amqpc *a, int32_t id)
{
	struct part *p = part_of(a, id);

	if (p == NULL)
		return;
	p->active = 0;
	if (p->l != NULL) {
		pn_link_set_context(p->l, NULL);
		pn_link_close(p->l);
		p->l = NULL;
	}
	p->so_n = 0;
	p->last = -1;
}

int
eh_amqpc_run(struct eh_amqpc *a, int timeout_ms, int may_read,
    eh_amqpc_fn fn, void *ctx)
{
	a->may_read = may_read;
	a->fn = fn;
	a->fctx = ctx;
	a->delivered = 0;
	if (pump(a, timeout_ms) < 0)
		return -1;
	return a->delivered;
}
