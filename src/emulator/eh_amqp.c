/*
 * eh_amqp.c - the Event Hubs AMQP 1.0 endpoint: one Qpid Proton proactor
 * thread serving SASL (ANONYMOUS, PLAIN), claims-based security on $cbs,
 * $management READ, partition receivers (selector filter, epochs,
 * credit) and senders to a hub or a partition (single and batched
 * messages) over the store of eh_store.h.
 *
 * Threads: only the proactor thread touches connections; a publish from
 * another thread (IoT Hub routing) interrupts the proactor, which wakes
 * every connection, and each wakes its receivers in its own batch.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <proton/condition.h>
#include <proton/connection.h>
#include <proton/delivery.h>
#include <proton/link.h>
#include <proton/listener.h>
#include <proton/message.h>
#include <proton/netaddr.h>
#include <proton/proactor.h>
#include <proton/sasl.h>
#include <proton/sasl_plugin.h>
#include <proton/session.h>
#include <proton/ssl.h>
#include <proton/terminus.h>
#include <proton/transport.h>

#include "codec.h"
#include "eh_amqp.h"
#include "eh_selector.h"
#include "eh_store.h"
#include "emu.h"
#include "log.h"

#define EH_MAX_MESSAGE (1u << 20)	/* the service's 1 MB */
#define EH_CREDIT 100
/*
 * The condition a receiver is detached with when a higher epoch takes its
 * partition: amqp:link:stolen is what Microsoft's SDKs map to
 * ReceiverDisconnectedError / ConsumerDisconnected (@azure/core-amqp
 * errors.js), so that is what the service sends; PROTOCOLS.md's
 * com.microsoft:receiver-disconnected is not recognised by them.
 */
#define EH_EPOCH_CONDITION "amqp:link:stolen"

enum lk_kind { LK_CBS, LK_MGMT, LK_REPLY, LK_HUB, LK_PART };

struct conn;

struct lk {
	enum lk_kind kind;
	pn_link_t *l;
	struct conn *cn;
	char hub[EH_MAX_NAME], cg[EH_MAX_NAME];
	int part;
	int64_t next;
	int has_epoch, kicked;
	int64_t epoch;
	struct lk *next_lk;	/* in the connection's list */
};

struct conn {
	pn_connection_t *c;
	int auth;		/* PLAIN with the key, a CBS token, or --no-auth */
	double tok_exp;		/* the CBS token expires then; 0: no token */
	int kick;		/* EH_KICK_*: asked for by the admin endpoint */
	char kick_hub[EH_MAX_NAME], kick_cond[64];
	struct lk *links;
	struct conn *next;
};

static struct eh_amqp_config cfg;
static pn_proactor_t *px;
static pn_listener_t *lsn;
static pn_ssl_domain_t *ssl_dom;
static pthread_t thr;
static int running;
static atomic_int pending, stopping;
static struct conn *conns;
static pthread_mutex_t start_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t start_cv = PTHREAD_COND_INITIALIZER;
static int start_state, bound_port;
static uint64_t tag_seq;
static pthread_mutex_t kick_mu = PTHREAD_MUTEX_INITIALIZER;
static int kick_what;			/* what eh_amqp_kick() asked for */
static char kick_hub[EH_MAX_NAME], kick_cond[64];

/* the audience of the Entra tokens Event Hubs accepts */
#define EH_AUDIENCE "https://eventhubs.azure.net"

/* ---- faults ---- */

static int
fault(int drop)
{
	double p;

	pthread_mutex_lock(&emu.fault_mu);
	p = drop ? emu.faults.drop_rate : emu.faults.error_rate;
	pthread_mutex_unlock(&emu.fault_mu);
	return p > 0 && (double)(emu_random() >> 11) * 0x1.0p-53 < p;
}

static void
drop_connection(pn_connection_t *c)
{
	pn_transport_t *t = pn_connection_transport(c);

	log_info("eventhubs: fault: dropping a connection");
	if (t != NULL) {
		pn_transport_close_tail(t);
		pn_transport_close_head(t);
	}
}

/* ---- SASL: ANONYMOUS, and PLAIN with the shared access key ---- */

static void sasl_free(pn_transport_t *t) { (void)t; }
static const char *sasl_mechs(pn_transport_t *t) { (void)t; return "PLAIN ANONYMOUS"; }
static bool sasl_init_client(pn_transport_t *t) { (void)t; return false; }
static void sasl_prepare(pn_transport_t *t) { (void)t; }
static void sasl_response(pn_transport_t *t, const pn_bytes_t *r) { (void)t; (void)r; }
static bool sasl_mechanisms(pn_transport_t *t, const char *m) { (void)t; (void)m; return false; }
static void sasl_challenge(pn_transport_t *t, const pn_bytes_t *r) { (void)t; (void)r; }
static void sasl_outcome(pn_transport_t *t, const pn_bytes_t *r) { (void)t; (void)r; }
static bool sasl_can_encrypt(pn_transport_t *t) { (void)t; return false; }
static ssize_t sasl_max_size(pn_transport_t *t) { (void)t; return 0; }

static ssize_t
sasl_code(pn_transport_t *t, pn_bytes_t in, pn_bytes_t *out)
{
	(void)t;
	*out = in;
	return 0;
}

static bool
sasl_init_server(pn_transport_t *t)
{
	pnx_sasl_set_desired_state(t, SASL_POSTED_MECHANISMS);
	return true;
}

static void
sasl_init(pn_transport_t *t, const char *mech, const pn_bytes_t *recv)
{
	const char *p, *end, *user, *pass;
	size_t ul, pl;

	if (strcmp(mech, "ANONYMOUS") == 0) {
		pnx_sasl_set_succeeded(t, "anonymous", "anonymous");
	} else if (strcmp(mech, "PLAIN") == 0 && recv->start != NULL) {
		/* authzid \0 authcid \0 password */
		p = recv->start;
		end = p + recv->size;
		user = memchr(p, '\0', recv->size);
		pass = user ? memchr(user + 1, '\0', (size_t)(end - user - 1)) : NULL;
		if (user == NULL || pass == NULL)
			goto fail;
		user++;
		ul = (size_t)(pass - user);
		pass++;
		pl = (size_t)(end - pass);
		if (cfg.key == NULL || ul != strlen(cfg.key_name) ||
		    memcmp(user, cfg.key_name, ul) != 0 ||
		    pl != strlen(cfg.key) ||
		    CRYPTO_memcmp(pass, cfg.key, pl) != 0)
			goto fail;
		pnx_sasl_set_succeeded(t, "plain", "plain");
	} else
		goto fail;
	pnx_sasl_set_desired_state(t, SASL_POSTED_OUTCOME);
	return;
fail:
	log_info("eventhubs: SASL %s refused", mech);
	pnx_sasl_set_failed(t);
	pnx_sasl_set_desired_state(t, SASL_POSTED_OUTCOME);
}

static const pnx_sasl_implementation sasl_impl = {
	sasl_free, sasl_mechs, sasl_init_server, sasl_init_client,
	sasl_prepare, sasl_init, sasl_response, sasl_mechanisms,
	sasl_challenge, sasl_outcome, sasl_can_encrypt, sasl_max_size,
	sasl_code, sasl_code
};

/* ---- tokens ---- */

/* The value of field name= in a SAS token (raw), or NULL. */
static const char *
sas_field(const char *tok, const char *name, size_t *len)
{
	size_t n = strlen(name);
	const char *p = tok;

	while ((p = strstr(p, name)) != NULL) {
		if ((p == tok || p[-1] == '&' || p[-1] == ' ') && p[n] == '=') {
			p += n + 1;
			*len = strcspn(p, "&");
			return p;
		}
		p++;
	}
	return NULL;
}

/* Check a SharedAccessSignature. 0, or -1 (why in msg). */
static int
sas_check(const char *tok, double *exp_at, char *msg, size_t msgsz)
{
	const char *sr, *sig, *se, *skn;
	size_t srl, sigl, sel, sknl;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	struct buf in = BUF_INIT, want = BUF_INIT, got = BUF_INIT;
	char exp[24];
	long long e;
	int rc = -1;

	if (strncmp(tok, "SharedAccessSignature ", 22) != 0 ||
	    (sr = sas_field(tok, "sr", &srl)) == NULL ||
	    (sig = sas_field(tok, "sig", &sigl)) == NULL ||
	    (se = sas_field(tok, "se", &sel)) == NULL ||
	    (skn = sas_field(tok, "skn", &sknl)) == NULL || sel >= sizeof(exp)) {
		snprintf(msg, msgsz, "malformed SharedAccessSignature");
		return -1;
	}
	if (cfg.key == NULL || sknl != strlen(cfg.key_name) ||
	    memcmp(skn, cfg.key_name, sknl) != 0) {
		snprintf(msg, msgsz, "unknown shared access key name");
		return -1;
	}
	memcpy(exp, se, sel);
	exp[sel] = '\0';
	e = strtoll(exp, NULL, 10);
	buf_add(&in, sr, srl);
	buf_add(&in, "\n", 1);
	buf_add(&in, se, sel);
	HMAC(EVP_sha256(), cfg.key, (int)strlen(cfg.key),
	    (const unsigned char *)in.p, in.len, mac, &maclen);
	base64_encode(&want, mac, maclen);
	if (pct_decode(&got, sig, sigl) != 0 || got.len != want.len ||
	    CRYPTO_memcmp(got.p, want.p, want.len) != 0) {
		snprintf(msg, msgsz, "invalid signature");
		goto out;
	}
	if ((double)e < emu_now()) {
		snprintf(msg, msgsz, "the token has expired");
		goto out;
	}
	if (exp_at != NULL)
		*exp_at = (double)e;
	rc = 0;
out:
	buf_release(&in);
	buf_release(&want);
	buf_release(&got);
	return rc;
}

/* ---- message helpers ---- */

/* The string or symbol value of application property name, or NULL
 * (points into the message). */
static const char *
app_prop(pn_message_t *m, const char *name, char *tmp, size_t tmpsz)
{
	pn_data_t *d = pn_message_properties(m);
	size_t n = strlen(name);

	pn_data_rewind(d);
	if (!pn_data_next(d) || pn_data_type(d) != PN_MAP)
		return NULL;
	pn_data_enter(d);
	while (pn_data_next(d)) {
		pn_bytes_t k = pn_data_type(d) == PN_STRING ?
		    pn_data_get_string(d) : pn_data_get_symbol(d);
		int match = k.size == n && memcmp(k.start, name, n) == 0;

		if (!pn_data_next(d))
			break;
		if (match && (pn_data_type(d) == PN_STRING ||
		    pn_data_type(d) == PN_SYMBOL)) {
			pn_bytes_t v = pn_data_type(d) == PN_STRING ?
			    pn_data_get_string(d) : pn_data_get_symbol(d);

			snprintf(tmp, tmpsz, "%.*s", (int)v.size, v.start);
			pn_data_exit(d);
			return tmp;
		}
	}
	pn_data_exit(d);
	return NULL;
}

/* Encode m and send it on l (pre-settled). */
static void
send_message(pn_link_t *l, pn_message_t *m)
{
	pn_rwbytes_t out = { 0, NULL };
	ssize_t n = pn_message_encode2(m, &out);
	pn_delivery_t *d;
	uint64_t tag;

	if (n >= 0) {
		tag = ++tag_seq;
		d = pn_delivery(l, pn_dtag((const char *)&tag, sizeof(tag)));
		pn_link_send(l, out.start, (size_t)n);
		pn_link_advance(l);
		pn_delivery_settle(d);
	}
	free(out.start);
}

static void
send_bytes(pn_link_t *l, const unsigned char *b, size_t n)
{
	pn_delivery_t *d;
	uint64_t tag = ++tag_seq;

	d = pn_delivery(l, pn_dtag((const char *)&tag, sizeof(tag)));
	pn_link_send(l, (const char *)b, n);
	pn_link_advance(l);
	pn_delivery_settle(d);
}

/* The reply link of a request on node kind: the one the reply-to names,
 * else any reply link of that node on the connection. */
static pn_link_t *
reply_link(struct conn *cn, const char *node, const char *reply_to)
{
	struct lk *k;
	pn_link_t *any = NULL;

	for (k = cn->links; k != NULL; k = k->next_lk) {
		const char *ta, *sa;

		if (k->kind != LK_REPLY)
			continue;
		ta = pn_terminus_get_address(pn_link_remote_target(k->l));
		sa = pn_terminus_get_address(pn_link_remote_source(k->l));
		if (reply_to != NULL && ta != NULL && strcmp(ta, reply_to) == 0)
			return k->l;
		if (sa != NULL && strcmp(sa, node) == 0 && any == NULL)
			any = k->l;
	}
	return any;
}

static void
put_str(pn_data_t *d, const char *s)
{
	pn_data_put_string(d, pn_bytes(strlen(s), s));
}

/* Reply to request req on node with status (and body map, filled by
 * body_fn when not NULL). */
static void
reply(struct conn *cn, const char *node, pn_message_t *req, int status,
    const char *desc, void (*body_fn)(pn_data_t *, void *), void *ctx)
{
	pn_message_t *m = pn_message();
	pn_data_t *p;
	pn_link_t *l;
	const char *rt = pn_message_get_reply_to(req);

	if ((l = reply_link(cn, node, rt)) == NULL) {
		log_info("eventhubs: %s: no reply link for '%s'", node,
		    rt ? rt : "");
		pn_message_free(m);
		return;
	}
	pn_message_set_correlation_id(m, pn_message_get_id(req));
	if (rt != NULL)
		pn_message_set_address(m, rt);
	p = pn_message_properties(m);
	pn_data_put_map(p);
	pn_data_enter(p);
	put_str(p, "status-code");
	pn_data_put_int(p, status);
	put_str(p, "status-description");
	put_str(p, desc);
	pn_data_exit(p);
	if (body_fn != NULL)
		body_fn(pn_message_body(m), ctx);
	send_message(l, m);
	pn_message_free(m);
}

/* ---- $cbs ---- */

static void
on_cbs(struct conn *cn, pn_message_t *m)
{
	char op[32], type[64], msg[200];
	const char *tok = NULL;
	pn_data_t *b = pn_message_body(m);
	char *tokbuf = NULL;
	double exp_at = 0;
	int ok;

	if (app_prop(m, "operation", op, sizeof(op)) == NULL ||
	    strcmp(op, "put-token") != 0 ||
	    app_prop(m, "type", type, sizeof(type)) == NULL) {
		reply(cn, "$cbs", m, 400, "expected operation put-token and a "
		    "type", NULL, NULL);
		return;
	}
	pn_data_rewind(b);
	if (pn_data_next(b) && pn_data_type(b) == PN_STRING) {
		pn_bytes_t s = pn_data_get_string(b);

		if ((tokbuf = malloc(s.size + 1)) != NULL) {
			memcpy(tokbuf, s.start, s.size);
			tokbuf[s.size] = '\0';
			tok = tokbuf;
		}
	}
	if (tok == NULL) {
		reply(cn, "$cbs", m, 400, "the body is not a string token", NULL,
		    NULL);
		return;
	}
	if (strcmp(type, "servicebus.windows.net:sastoken") == 0)
		ok = sas_check(tok, &exp_at, msg, sizeof(msg)) == 0;
	else if (strcmp(type, "jwt") == 0)
		ok = token_check_exp(tok, EH_AUDIENCE, &exp_at, msg,
		    sizeof(msg)) == 0;
	else {
		ok = 0;
		snprintf(msg, sizeof(msg), "unsupported token type '%s'", type);
	}
	free(tokbuf);
	if (ok) {
		cn->auth = 1;
		cn->tok_exp = exp_at;
		reply(cn, "$cbs", m, 202, "Accepted", NULL, NULL);
	} else {
		log_info("eventhubs: put-token refused: %s", msg);
		reply(cn, "$cbs", m, 401, msg, NULL, NULL);
	}
}

/* ---- $management ---- */

struct mg_hub {
	const char *name;
	int n;
	int64_t created;
};

static void
body_hub(pn_data_t *d, void *ctx)
{
	struct mg_hub *h = ctx;
	char id[16];
	int i;

	pn_data_put_map(d);
	pn_data_enter(d);
	put_str(d, "name");
	put_str(d, h->name);
	put_str(d, "type");
	put_str(d, "com.microsoft:eventhub");
	put_str(d, "created_at");
	pn_data_put_timestamp(d, h->created);
	put_str(d, "partition_count");
	pn_data_put_int(d, h->n);
	put_str(d, "partition_ids");
	pn_data_put_array(d, false, PN_STRING);
	pn_data_enter(d);
	for (i = 0; i < h->n; i++) {
		snprintf(id, sizeof(id), "%d", i);
		put_str(d, id);
	}
	pn_data_exit(d);
	pn_data_exit(d);
}

struct mg_part {
	const char *name, *id;
	struct eh_part_info pi;
};

static void
body_part(pn_data_t *d, void *ctx)
{
	struct mg_part *p = ctx;
	char off[24];

	snprintf(off, sizeof(off), "%lld", (long long)p->pi.last_off);
	pn_data_put_map(d);
	pn_data_enter(d);
	put_str(d, "name");
	put_str(d, p->name);
	put_str(d, "type");
	put_str(d, "com.microsoft:partition");
	put_str(d, "partition");
	put_str(d, p->id);
	put_str(d, "begin_sequence_number");
	pn_data_put_long(d, p->pi.begin_seq);
	put_str(d, "last_enqueued_sequence_number");
	pn_data_put_long(d, p->pi.last_seq);
	put_str(d, "last_enqueued_offset");
	put_str(d, off);
	put_str(d, "last_enqueued_time_utc");
	pn_data_put_timestamp(d, p->pi.last_time);
	put_str(d, "is_partition_empty");
	pn_data_put_bool(d, p->pi.empty);
	pn_data_exit(d);
}

static int
parse_part(const char *s, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (end == s || *end != '\0' || v < 0 || v >= EH_MAX_PARTITIONS)
		return -1;
	*out = (int)v;
	return 0;
}

static void
on_mgmt(struct conn *cn, pn_message_t *m)
{
	char op[32], type[64], name[EH_MAX_NAME], part[16], msg[400];
	struct mg_hub h;
	struct mg_part p;
	int pi;

	if (app_prop(m, "operation", op, sizeof(op)) == NULL ||
	    strcmp(op, "READ") != 0 ||
	    app_prop(m, "type", type, sizeof(type)) == NULL ||
	    app_prop(m, "name", name, sizeof(name)) == NULL) {
		reply(cn, "$management", m, 400, "expected operation READ, a type "
		    "and a name", NULL, NULL);
		return;
	}
	if (!cn->auth && !cfg.no_auth) {
		const char *st = app_prop(m, "security_token", msg, sizeof(msg));
		char why[200];

		if (st == NULL || (strncmp(st, "SharedAccessSignature ", 22) == 0 ?
		    sas_check(st, NULL, why, sizeof(why)) : token_check(st, EH_AUDIENCE,
		    why, sizeof(why))) != 0) {
			reply(cn, "$management", m, 401, "no valid token: put one "
			    "on $cbs", NULL, NULL);
			return;
		}
	}
	h.name = name;
	if ((h.n = eh_hub_get(name, 0, &h.created)) < 0) {
		snprintf(msg, sizeof(msg), "event hub '%s' not found", name);
		reply(cn, "$management", m, 404, msg, NULL, NULL);
		return;
	}
	if (strcmp(type, "com.microsoft:eventhub") == 0) {
		reply(cn, "$management", m, 200, "OK", body_hub, &h);
	} else if (strcmp(type, "com.microsoft:partition") == 0) {
		if (app_prop(m, "partition", part, sizeof(part)) == NULL ||
		    parse_part(part, &pi) != 0 ||
		    eh_part_info(name, pi, &p.pi) != 0) {
			reply(cn, "$management", m, 404, "no such partition", NULL,
			    NULL);
			return;
		}
		p.name = name;
		p.id = part;
		reply(cn, "$management", m, 200, "OK", body_part, &p);
	} else
		reply(cn, "$management", m, 400, "unsupported type", NULL, NULL);
}

/* ---- publishing ---- */

struct sect {
	uint64_t code;
	size_t pos, len;	/* whole section */
	pn_bytes_t bin;		/* data section body */
};

/* Split an encoded message into its sections (at most max; s NULL: only
 * count them). Returns the count, or -1 when it does not decode. */
static int
split_sections(pn_data_t *d, const char *b, size_t len, struct sect *s, int max)
{
	size_t pos = 0;
	ssize_t n;
	int k = 0;

	while (pos < len) {
		if (k == max)
			return -1;
		pn_data_clear(d);
		n = pn_data_decode(d, b + pos, len - pos);
		if (n <= 0)
			return -1;
		if (s == NULL) {	/* count only */
			pos += (size_t)n;
			k++;
			continue;
		}
		memset(&s[k], 0, sizeof(s[k]));
		s[k].pos = pos;
		s[k].len = (size_t)n;
		pn_data_rewind(d);
		if (!pn_data_next(d) || pn_data_type(d) != PN_DESCRIBED)
			return -1;
		pn_data_enter(d);
		if (!pn_data_next(d) || pn_data_type(d) != PN_ULONG)
			return -1;
		s[k].code = pn_data_get_ulong(d);
		if (s[k].code < 0x70 || s[k].code > 0x78)
			return -1;
		if (s[k].code == 0x75 && pn_data_next(d) &&
		    pn_data_type(d) == PN_BINARY) {
			/* the binary ends the section; point into b, not d */
			size_t sz = pn_data_get_binary(d).size;

			s[k].bin = pn_bytes(sz, b + pos + (size_t)n - sz);
		}
		pn_data_exit(d);
		pos += (size_t)n;
		k++;
	}
	return k;
}

/* The x-opt-partition-key of an encoded message into key, or 0. */
static int
partition_key(pn_data_t *d, const char *b, size_t len, char *key, size_t keysz)
{
	struct sect s[16];
	int n = split_sections(d, b, len, s, 16), i, found = 0;

	for (i = 0; i < n && !found; i++) {
		if (s[i].code != 0x72)
			continue;
		pn_data_clear(d);
		pn_data_decode(d, b + s[i].pos, s[i].len);
		pn_data_rewind(d);
		pn_data_next(d);
		pn_data_enter(d);
		pn_data_next(d);
		if (!pn_data_next(d) || pn_data_type(d) != PN_MAP)
			break;
		pn_data_enter(d);
		while (pn_data_next(d)) {
			pn_bytes_t k = pn_data_get_symbol(d);
			int m = pn_data_type(d) == PN_SYMBOL && k.size == 19 &&
			    memcmp(k.start, "x-opt-partition-key", 19) == 0;

			if (!pn_data_next(d))
				break;
			if (m && pn_data_type(d) == PN_STRING) {
				pn_bytes_t v = pn_data_get_string(d);

				snprintf(key, keysz, "%.*s", (int)v.size, v.start);
				found = 1;
				break;
			}
		}
	}
	return found;
}

/*
 * Publish what a producer sent: a batch (format 0x80013700: every data
 * section is an encoded message) as its messages, else the message.
 * Returns 0, or -1 (why in err).
 */
static int
publish(struct lk *k, const char *b, size_t len, char *err, size_t errsz)
{
	pn_data_t *d = pn_data(16), *d2 = pn_data(16);
	struct sect *s = NULL, in[16];
	char key[256], ikey[256];
	int n, i, ndata = 0, batch = 1, haskey, part = k->part, rc = 0;

	if (d == NULL || d2 == NULL) {
		snprintf(err, errsz, "out of memory");
		rc = -1;
		goto out;
	}
	/* a batch holds as many events as fit in a message */
	if ((n = split_sections(d, b, len, NULL, INT_MAX)) > 0 &&
	    (s = calloc((size_t)n, sizeof(*s))) == NULL) {
		snprintf(err, errsz, "out of memory");
		rc = -1;
		goto out;
	}
	if (n > 0)
		n = split_sections(d, b, len, s, n);
	if (n < 0) {
		snprintf(err, errsz, "the message does not decode");
		rc = -1;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (s[i].code != 0x75)
			continue;
		ndata++;
		if (s[i].bin.start == NULL || split_sections(d2, s[i].bin.start,
		    s[i].bin.size, in, 16) <= 0)
			batch = 0;
	}
	haskey = partition_key(d, b, len, key, sizeof(key));
	if (!batch || ndata == 0) {
		rc = eh_publish_raw(k->hub, haskey ? key : NULL, part, b, len,
		    err, errsz) < 0 ? -1 : 0;
		goto out;
	}
	for (i = 0; i < n && rc == 0; i++) {
		int p, ih;

		if (s[i].code != 0x75)
			continue;
		ih = partition_key(d2, s[i].bin.start, s[i].bin.size, ikey,
		    sizeof(ikey));
		p = eh_publish_raw(k->hub, ih ? ikey : haskey ? key : NULL, part,
		    s[i].bin.start, s[i].bin.size, err, errsz);
		if (p < 0)
			rc = -1;
		else if (!ih && !haskey)
			part = p;	/* one batch, one partition */
	}
out:
	free(s);
	pn_data_free(d);
	pn_data_free(d2);
	return rc;
}

/* ---- partition receivers ---- */

static void
link_fail(pn_link_t *l, const char *cond, const char *desc)
{
	pn_condition_t *c = pn_link_condition(l);

	pn_condition_set_name(c, cond);
	pn_condition_set_description(c, desc);
	pn_link_close(l);
}

static void
pump(struct lk *k)
{
	struct eh_rec recs[32];
	int n, i, credit;
	int64_t next;
	unsigned char *enc;
	size_t len;

	if (k->kind != LK_PART || pn_link_state(k->l) & PN_LOCAL_CLOSED)
		return;
	if (k->cn != NULL && k->cn->tok_exp > 0 && emu_now() > k->cn->tok_exp) {
		/* as the service does: a link outlives no token */
		log_info("eventhubs: the token of a receiver expired: detached");
		k->kind = LK_REPLY;
		link_fail(k->l, "amqp:unauthorized-access", "the token has "
		    "expired: renew it on $cbs before it does");
		return;
	}
	while ((credit = pn_link_credit(k->l)) > 0) {
		n = eh_read(k->hub, k->part, k->next, credit < 32 ? credit : 32,
		    recs, &next);
		if (n == 0)
			break;
		for (i = 0; i < n; i++) {
			if ((enc = eh_msg_annotate(&recs[i], &len)) != NULL) {
				send_bytes(k->l, enc, len);
				free(enc);
			}
			k->next = recs[i].seq + 1;
			eh_rec_free(&recs[i]);
		}
		if (fault(1)) {
			drop_connection(pn_session_connection(pn_link_session(k->l)));
			return;
		}
	}
}

/* The selector filter of a source, into sel; 0 none, 1 found, -1 bad. */
static int
source_filter(pn_terminus_t *src, struct eh_selector *sel, char *msg,
    size_t msgsz)
{
	pn_data_t *f = pn_terminus_filter(src);
	static const char name[] = "apache.org:selector-filter:string";
	int rc = 0;

	if (f == NULL)
		return 0;
	pn_data_rewind(f);
	if (!pn_data_next(f) || pn_data_type(f) != PN_MAP)
		return 0;
	pn_data_enter(f);
	while (pn_data_next(f)) {
		pn_bytes_t k = pn_data_get_symbol(f);
		int m = k.size == sizeof(name) - 1 &&
		    memcmp(k.start, name, k.size) == 0;

		if (!pn_data_next(f))
			break;
		if (!m)
			continue;
		if (pn_data_type(f) == PN_DESCRIBED) {
			pn_data_enter(f);
			pn_data_next(f);	/* descriptor: symbol or ulong */
			if (!((pn_data_type(f) == PN_SYMBOL &&
			    pn_data_get_symbol(f).size == sizeof(name) - 1) ||
			    (pn_data_type(f) == PN_ULONG &&
			    pn_data_get_ulong(f) == 0x0000468C00000004ULL))) {
				snprintf(msg, msgsz, "unknown filter descriptor");
				rc = -1;
				break;
			}
			pn_data_next(f);
		}
		if (pn_data_type(f) != PN_STRING) {
			snprintf(msg, msgsz, "the selector filter is not a string");
			rc = -1;
			break;
		}
		pn_bytes_t v = pn_data_get_string(f);
		log_info("eventhubs: selector filter \"%.*s\"", (int)v.size,
		    v.start);
		rc = eh_selector_parse(v.start, v.size, sel, msg, msgsz) == 0 ?
		    1 : -1;
		break;
	}
	return rc;
}

static int
link_epoch(pn_link_t *l, int64_t *epoch)
{
	pn_data_t *p = pn_link_remote_properties(l);

	if (p == NULL)
		return 0;
	pn_data_rewind(p);
	if (!pn_data_next(p) || pn_data_type(p) != PN_MAP)
		return 0;
	pn_data_enter(p);
	while (pn_data_next(p)) {
		pn_bytes_t k = pn_data_get_symbol(p);
		int m = pn_data_type(p) == PN_SYMBOL && k.size == 19 &&
		    memcmp(k.start, "com.microsoft:epoch", 19) == 0;

		if (!pn_data_next(p))
			break;
		if (m && (pn_data_type(p) == PN_LONG || pn_data_type(p) == PN_INT)) {
			*epoch = pn_data_type(p) == PN_LONG ? pn_data_get_long(p) :
			    pn_data_get_int(p);
			return 1;
		}
	}
	return 0;
}

/* Whether o is another live receiver of k's partition (hub, group). */
static int
rival(const struct lk *o, const struct lk *k)
{
	return o != k && o->kind == LK_PART && !o->kicked &&
	    strcmp(o->hub, k->hub) == 0 && strcmp(o->cg, k->cg) == 0 &&
	    o->part == k->part;
}

/* Apply the epoch rules to new receiver k: 0 go on, -1 refused. */
static int
epoch_rules(struct lk *k)
{
	struct conn *cn;
	struct lk *o;

	for (cn = conns; cn != NULL; cn = cn->next)
		for (o = cn->links; o != NULL; o = o->next_lk) {
			if (!rival(o, k))
				continue;
			if (o->has_epoch && (!k->has_epoch || k->epoch < o->epoch))
				return -1;
		}
	for (cn = conns; cn != NULL; cn = cn->next)
		for (o = cn->links; o != NULL; o = o->next_lk) {
			if (!rival(o, k))
				continue;
			if (k->has_epoch && (!o->has_epoch || o->epoch < k->epoch)) {
				o->kicked = 1;
				log_info("eventhubs: epoch %lld takes %s/%s/%d from "
				    "epoch %lld", (long long)k->epoch, k->hub, k->cg,
				    k->part, o->has_epoch ? (long long)o->epoch : -1LL);
				pn_connection_wake(cn->c);
			}
		}
	return 0;
}

/* "<hub>/ConsumerGroups/<cg>/Partitions/<p>" into k. 0 or -1. */
static int
parse_receiver_address(const char *a, struct lk *k)
{
	const char *s1, *s2, *s3, *s4;

	if ((s1 = strchr(a, '/')) == NULL || strncmp(s1, "/ConsumerGroups/", 16))
		return -1;
	s2 = s1 + 16;
	if ((s3 = strchr(s2, '/')) == NULL || strncmp(s3, "/Partitions/", 12))
		return -1;
	s4 = s3 + 12;
	if (s1 - a >= EH_MAX_NAME || s3 - s2 >= EH_MAX_NAME || s1 == a || s3 == s2)
		return -1;
	snprintf(k->hub, sizeof(k->hub), "%.*s", (int)(s1 - a), a);
	snprintf(k->cg, sizeof(k->cg), "%.*s", (int)(s3 - s2), s2);
	return parse_part(s4, &k->part);
}

/* "<hub>" or "<hub>/Partitions/<p>" into k. 0 or -1. */
static int
parse_sender_address(const char *a, struct lk *k)
{
	const char *s = strchr(a, '/');

	k->part = -1;
	if (s == NULL) {
		if (strlen(a) == 0 || strlen(a) >= EH_MAX_NAME)
			return -1;
		snprintf(k->hub, sizeof(k->hub), "%s", a);
		return 0;
	}
	if (s - a >= EH_MAX_NAME || s == a || strncmp(s, "/Partitions/", 12))
		return -1;
	snprintf(k->hub, sizeof(k->hub), "%.*s", (int)(s - a), a);
	return parse_part(s + 12, &k->part);
}

static void
lk_unlink(struct lk *k)
{
	struct lk **pp;

	if (k->cn == NULL)
		return;
	for (pp = &k->cn->links; *pp != NULL; pp = &(*pp)->next_lk)
		if (*pp == k) {
			*pp = k->next_lk;
			break;
		}
	k->cn = NULL;
}

static void
on_link_open(pn_link_t *l)
{
	pn_connection_t *c = pn_session_connection(pn_link_session(l));
	struct conn *cn = pn_connection_get_context(c);
	struct lk *k;
	struct eh_selector sel;
	const char *addr;
	char msg[400];
	int n, f;

	if (cn == NULL)
		return;
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		drop_connection(c);
		return;
	}
	k->l = l;
	k->cn = cn;
	k->next_lk = cn->links;
	cn->links = k;
	pn_link_set_context(l, k);
	pn_terminus_copy(pn_link_source(l), pn_link_remote_source(l));
	pn_terminus_copy(pn_link_target(l), pn_link_remote_target(l));
	if (pn_link_is_receiver(l)) {
		/* the peer sends: a request node or a hub */
		addr = pn_terminus_get_address(pn_link_remote_target(l));
		pn_link_set_max_message_size(l, EH_MAX_MESSAGE);
		pn_link_open(l);
		if (addr == NULL) {
			link_fail(l, "amqp:invalid-field", "no target address");
			return;
		}
		if (strcmp(addr, "$cbs") == 0)
			k->kind = LK_CBS;
		else if (strcmp(addr, "$management") == 0)
			k->kind = LK_MGMT;
		else {
			k->kind = LK_HUB;
			if (parse_sender_address(addr, k) != 0) {
				link_fail(l, "amqp:not-found", "expected <hub> or "
				    "<hub>/Partitions/<p>");
				return;
			}
			if (!cn->auth && !cfg.no_auth) {
				link_fail(l, "amqp:unauthorized-access",
				    "put a token on $cbs first");
				return;
			}
			if ((n = eh_hub_get(k->hub, 0, NULL)) < 0 || k->part >= n) {
				snprintf(msg, sizeof(msg), "event hub '%s' or its "
				    "partition not found", k->hub);
				link_fail(l, "amqp:not-found", msg);
				return;
			}
			if (fault(0)) {
				link_fail(l, "com.microsoft:server-busy",
				    "fault: the server is busy");
				return;
			}
		}
		pn_link_flow(l, EH_CREDIT);
		return;
	}
	/* we send: a reply link or a partition receiver */
	addr = pn_terminus_get_address(pn_link_remote_source(l));
	if (addr != NULL && (strcmp(addr, "$cbs") == 0 ||
	    strcmp(addr, "$management") == 0)) {
		k->kind = LK_REPLY;
		pn_link_open(l);
		return;
	}
	k->kind = LK_PART;
	k->has_epoch = link_epoch(l, &k->epoch);
	pn_link_open(l);
	if (addr == NULL || parse_receiver_address(addr, k) != 0) {
		link_fail(l, "amqp:not-found", "expected <hub>/ConsumerGroups/"
		    "<group>/Partitions/<p>");
		return;
	}
	if (!cn->auth && !cfg.no_auth) {
		link_fail(l, "amqp:unauthorized-access", "put a token on $cbs first");
		return;
	}
	if ((n = eh_hub_get(k->hub, 0, NULL)) < 0 || k->part >= n) {
		snprintf(msg, sizeof(msg), "event hub '%s' or its partition not "
		    "found", k->hub);
		link_fail(l, "amqp:not-found", msg);
		return;
	}
	if ((f = source_filter(pn_link_remote_source(l), &sel, msg,
	    sizeof(msg))) < 0) {
		link_fail(l, "amqp:invalid-field", msg);
		return;
	}
	if (f == 0) {
		sel.kind = EH_POS_OFFSET;
		sel.value = -1;
		sel.inclusive = 0;
		sel.latest = 0;
	}
	eh_part_start(k->hub, k->part, (enum eh_pos)sel.kind, sel.value,
	    sel.inclusive, sel.latest, &k->next);
	if (epoch_rules(k) != 0) {
		k->kind = LK_REPLY;	/* no longer a receiver */
		link_fail(l, EH_EPOCH_CONDITION, "a receiver "
		    "with a higher epoch is connected to this partition");
		return;
	}
	if (fault(0)) {
		k->kind = LK_REPLY;
		link_fail(l, "com.microsoft:server-busy", "fault: the server is "
		    "busy");
		return;
	}
	log_info("eventhubs: receiver %s from sequence number %lld", addr,
	    (long long)k->next);
	pump(k);
}

static void
on_delivery(pn_delivery_t *d)
{
	pn_link_t *l = pn_delivery_link(d);
	struct lk *k = pn_link_get_context(l);
	struct buf b = BUF_INIT;
	char chunk[4096], err[300];
	pn_message_t *m;
	ssize_t n;

	if (pn_link_is_sender(l)) {
		if (pn_delivery_remote_state(d) != 0 || pn_delivery_settled(d))
			pn_delivery_settle(d);
		return;
	}
	if (!pn_delivery_readable(d) || pn_delivery_partial(d))
		return;
	while ((n = pn_link_recv(l, chunk, sizeof(chunk))) > 0)
		buf_add(&b, chunk, (size_t)n);
	pn_link_advance(l);
	if (k == NULL) {
		pn_delivery_settle(d);
		buf_release(&b);
		return;
	}
	if (k->kind == LK_CBS || k->kind == LK_MGMT) {
		m = pn_message();
		if (pn_message_decode(m, b.p, b.len) == 0) {
			if (k->kind == LK_CBS)
				on_cbs(k->cn, m);
			else
				on_mgmt(k->cn, m);
		}
		pn_message_free(m);
		pn_delivery_update(d, PN_ACCEPTED);
	} else if (k->kind == LK_HUB) {
		if (fault(1)) {
			buf_release(&b);
			drop_connection(pn_session_connection(pn_link_session(l)));
			return;
		}
		if (fault(0)) {
			snprintf(err, sizeof(err), "fault: the server is busy");
			pn_condition_set_name(pn_disposition_condition(
			    pn_delivery_local(d)), "com.microsoft:server-busy");
			pn_condition_set_description(pn_disposition_condition(
			    pn_delivery_local(d)), err);
			pn_delivery_update(d, PN_REJECTED);
		} else if (publish(k, b.p, b.len, err, sizeof(err)) != 0) {
			log_info("eventhubs: %s: message rejected: %s", k->hub, err);
			pn_condition_set_name(pn_disposition_condition(
			    pn_delivery_local(d)), "amqp:decode-error");
			pn_condition_set_description(pn_disposition_condition(
			    pn_delivery_local(d)), err);
			pn_delivery_update(d, PN_REJECTED);
		} else
			pn_delivery_update(d, PN_ACCEPTED);
	}
	pn_delivery_settle(d);
	buf_release(&b);
	if (pn_link_credit(l) < EH_CREDIT / 2)
		pn_link_flow(l, EH_CREDIT - pn_link_credit(l));
}

/* Do what the admin endpoint asked of this connection's receivers. */
static int
on_kick(struct conn *cn)
{
	struct lk *k;
	int what = cn->kick, n = 0;

	cn->kick = 0;
	for (k = cn->links; k != NULL; k = k->next_lk) {
		if (k->kind != LK_PART || strcmp(k->hub, cn->kick_hub) != 0)
			continue;
		n++;
		if (what == EH_KICK_DETACH) {
			k->kind = LK_REPLY;
			if (!(pn_link_state(k->l) & PN_LOCAL_CLOSED))
				link_fail(k->l, cn->kick_cond, "detached by "
				    "POST /_admin/eventhubs/HUB/detach");
		}
	}
	if (what == EH_KICK_DROP && n > 0) {
		drop_connection(cn->c);
		return 1;
	}
	return 0;
}

static void
on_wake(struct conn *cn)
{
	struct lk *k;

	if (cn->kick != 0 && on_kick(cn))
		return;
	for (k = cn->links; k != NULL; k = k->next_lk) {
		if (k->kind != LK_PART)
			continue;
		if (k->kicked) {
			k->kind = LK_REPLY;
			if (!(pn_link_state(k->l) & PN_LOCAL_CLOSED))
				link_fail(k->l, EH_EPOCH_CONDITION,
				    "a receiver with a higher epoch took the "
				    "partition");
			continue;
		}
		pump(k);
	}
}

static void
conn_free(struct conn *cn)
{
	struct conn **pp;
	struct lk *k, *nk;

	for (pp = &conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == cn) {
			*pp = cn->next;
			break;
		}
	for (k = cn->links; k != NULL; k = nk) {
		nk = k->next_lk;
		pn_link_set_context(k->l, NULL);
		free(k);
	}
	pn_connection_set_context(cn->c, NULL);
	free(cn);
}

static void
on_accept(pn_listener_t *l)
{
	pn_connection_t *c = pn_connection();
	pn_transport_t *t = pn_transport();
	struct conn *cn = calloc(1, sizeof(*cn));
	pn_sasl_t *s;

	if (c == NULL || t == NULL || cn == NULL) {
		free(cn);
		pn_listener_accept2(l, c, t);
		if (c != NULL)
			pn_connection_close(c);
		return;
	}
	cn->c = c;
	cn->auth = cfg.no_auth;
	cn->next = conns;
	conns = cn;
	pn_connection_set_context(c, cn);
	pn_transport_set_server(t);
	if (cfg.tls && pn_ssl_init(pn_ssl(t), ssl_dom, NULL) != 0)
		log_error("eventhubs: cannot set up TLS for a connection");
	s = pn_sasl(t);
	pnx_sasl_set_implementation(t, &sasl_impl, NULL);
	pn_sasl_allowed_mechs(s, "PLAIN ANONYMOUS");
	pn_sasl_set_allow_insecure_mechs(s, true);
	pn_transport_set_idle_timeout(t, 60000);
	pn_listener_accept2(l, c, t);
}

static void
handle(pn_event_t *e)
{
	pn_connection_t *c;
	struct conn *cn;
	struct lk *k;
	pn_link_t *l;
	char host[64], port[16];

	switch (pn_event_type(e)) {
	case PN_LISTENER_OPEN:
		pn_netaddr_host_port(pn_listener_addr(pn_event_listener(e)), host,
		    sizeof(host), port, sizeof(port));
		pthread_mutex_lock(&start_mu);
		bound_port = atoi(port);
		start_state = 1;
		pthread_cond_broadcast(&start_cv);
		pthread_mutex_unlock(&start_mu);
		break;
	case PN_LISTENER_ACCEPT:
		on_accept(pn_event_listener(e));
		break;
	case PN_LISTENER_CLOSE:
		if (pn_condition_is_set(pn_listener_condition(pn_event_listener(e))))
			log_error("eventhubs: listener: %s", pn_condition_get_description(
			    pn_listener_condition(pn_event_listener(e))));
		pthread_mutex_lock(&start_mu);
		if (start_state == 0)
			start_state = -1;
		pthread_cond_broadcast(&start_cv);
		pthread_mutex_unlock(&start_mu);
		break;
	case PN_PROACTOR_INTERRUPT:
		if (atomic_load(&stopping)) {
			if (lsn != NULL)
				pn_listener_close(lsn);
			pn_proactor_disconnect(px, NULL);
			break;
		}
		atomic_store(&pending, 0);
		pthread_mutex_lock(&kick_mu);
		for (cn = conns; cn != NULL; cn = cn->next) {
			if (kick_what != 0) {
				cn->kick = kick_what;
				memcpy(cn->kick_hub, kick_hub, sizeof(kick_hub));
				memcpy(cn->kick_cond, kick_cond,
				    sizeof(kick_cond));
			}
			pn_connection_wake(cn->c);
		}
		kick_what = 0;
		pthread_mutex_unlock(&kick_mu);
		break;
	case PN_CONNECTION_WAKE:
		if ((cn = pn_connection_get_context(pn_event_connection(e))) != NULL)
			on_wake(cn);
		break;
	case PN_CONNECTION_REMOTE_OPEN:
		c = pn_event_connection(e);
		if ((cn = pn_connection_get_context(c)) != NULL &&
		    pn_connection_transport(c) != NULL &&
		    pn_transport_get_user(pn_connection_transport(c)) != NULL &&
		    strcmp(pn_transport_get_user(pn_connection_transport(c)),
		    "plain") == 0)
			cn->auth = 1;	/* SASL PLAIN with the key */
		pn_connection_set_container(c, "twin-emulator");
		pn_connection_open(c);
		break;
	case PN_SESSION_REMOTE_OPEN:
		pn_session_open(pn_event_session(e));
		break;
	case PN_LINK_REMOTE_OPEN:
		on_link_open(pn_event_link(e));
		break;
	case PN_LINK_FLOW:
		l = pn_event_link(e);
		if ((k = pn_link_get_context(l)) != NULL && pn_link_is_sender(l))
			pump(k);
		break;
	case PN_DELIVERY:
		on_delivery(pn_event_delivery(e));
		break;
	case PN_LINK_REMOTE_CLOSE:
	case PN_LINK_REMOTE_DETACH:
		l = pn_event_link(e);
		if ((k = pn_link_get_context(l)) != NULL)
			k->kind = k->kind == LK_PART ? LK_REPLY : k->kind;
		if (!(pn_link_state(l) & PN_LOCAL_CLOSED))
			pn_link_close(l);
		break;
	case PN_LINK_FINAL:
		l = pn_event_link(e);
		if ((k = pn_link_get_context(l)) != NULL) {
			lk_unlink(k);
			pn_link_set_context(l, NULL);
			free(k);
		}
		break;
	case PN_SESSION_REMOTE_CLOSE:
		pn_session_close(pn_event_session(e));
		break;
	case PN_CONNECTION_REMOTE_CLOSE:
		pn_connection_close(pn_event_connection(e));
		break;
	case PN_TRANSPORT_CLOSED:
		c = pn_event_connection(e);
		if (c != NULL && (cn = pn_connection_get_context(c)) != NULL)
			conn_free(cn);
		break;
	default:
		break;
	}
}

static void *
run(void *arg)
{
	pn_event_batch_t *b;
	pn_event_t *e;
	int done = 0;

	(void)arg;
	while (!done) {
		b = pn_proactor_wait(px);
		while ((e = pn_event_batch_next(b)) != NULL) {
			if (pn_event_type(e) == PN_PROACTOR_INACTIVE &&
			    atomic_load(&stopping))
				done = 1;
			handle(e);
		}
		pn_proactor_done(px, b);
	}
	return NULL;
}

void
eh_amqp_kick(int what, const char *hub, const char *cond)
{
	pthread_mutex_lock(&kick_mu);
	kick_what = what;
	snprintf(kick_hub, sizeof(kick_hub), "%s", hub);
	snprintf(kick_cond, sizeof(kick_cond), "%s", cond != NULL ? cond :
	    "amqp:link:detach-forced");
	pthread_mutex_unlock(&kick_mu);
	if (px != NULL)
		pn_proactor_interrupt(px);
}

static void
notify(void *ctx)
{
	(void)ctx;
	if (atomic_exchange(&pending, 1) == 0)
		pn_proactor_interrupt(px);
}

/* Write s to a new private temporary file; its path into path. */
static int
temp_pem(const char *s, char *path, size_t pathsz)
{
	const char *dir = getenv("TMPDIR");
	size_t n = strlen(s);
	int fd;

	snprintf(path, pathsz, "%s/twin-emulator-XXXXXX",
	    dir != NULL && *dir != '\0' ? dir : "/tmp");
	if ((fd = mkstemp(path)) < 0)
		return -1;
	if (write(fd, s, n) != (ssize_t)n) {
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	return 0;
}

int
eh_amqp_start(const struct eh_amqp_config *c)
{
	char addr[300], cp[4096], kp[4096];
	int rc;

	cfg = *c;
	if (cfg.tls) {
		if ((ssl_dom = pn_ssl_domain(PN_SSL_MODE_SERVER)) == NULL) {
			log_error("eventhubs: no TLS in Qpid Proton");
			return -1;
		}
		if (temp_pem(cfg.cert_pem, cp, sizeof(cp)) != 0 ||
		    temp_pem(cfg.key_pem, kp, sizeof(kp)) != 0) {
			log_error("eventhubs: cannot write the TLS key for Proton");
			return -1;
		}
		rc = pn_ssl_domain_set_credentials(ssl_dom, cp, kp, NULL);
		unlink(cp);
		unlink(kp);
		if (rc != 0) {
			log_error("eventhubs: cannot load the TLS certificate");
			return -1;
		}
		pn_ssl_domain_set_peer_authentication(ssl_dom, PN_SSL_ANONYMOUS_PEER,
		    NULL);
	}
	if ((px = pn_proactor()) == NULL || (lsn = pn_listener()) == NULL)
		return -1;
	snprintf(addr, sizeof(addr), "%s:%d", cfg.host, cfg.port);
	pn_proactor_listen(px, lsn, addr, 128);
	eh_set_notify(notify, NULL);
	if (pthread_create(&thr, NULL, run, NULL) != 0) {
		log_error("eventhubs: cannot start the AMQP thread");
		return -1;
	}
	running = 1;
	pthread_mutex_lock(&start_mu);
	while (start_state == 0)
		pthread_cond_wait(&start_cv, &start_mu);
	rc = start_state > 0 ? bound_port : -1;
	pthread_mutex_unlock(&start_mu);
	if (rc < 0)
		log_error("eventhubs: cannot listen on %s", addr);
	return rc;
}

void
eh_amqp_stop(void)
{
	if (px == NULL)
		return;
	eh_set_notify(NULL, NULL);
	if (running) {
		atomic_store(&stopping, 1);
		pn_proactor_interrupt(px);
		pthread_join(thr, NULL);
		running = 0;
	}
	while (conns != NULL)
		conn_free(conns);
	pn_proactor_free(px);
	px = NULL;
	lsn = NULL;
	if (ssl_dom != NULL)
		pn_ssl_domain_free(ssl_dom);
	ssl_dom = NULL;
}
