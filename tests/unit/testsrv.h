/*
 * testsrv.h - an in-process HTTP server for unit tests (libmicrohttpd, one
 * thread per connection, 127.0.0.1, port 0). A test scripts the answers
 * with a handler; the server counts requests and concurrency.
 *
 *	static void h(const struct ts_req *q, struct ts_resp *a, void *ctx)
 *	{ a->status = 200; ts_body(a, "{}"); }
 *	struct ts_server s;
 *	ts_start(&s, h, ctx);  ... s.base ...  ts_stop(&s);
 *
 * Handlers run one at a time (under the server's mutex); the answer's delay
 * is slept outside it, so slow answers overlap.
 */
#ifndef TP_TESTSRV_H
#define TP_TESTSRV_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "buf.h"

struct ts_req {
	const char *method;
	const char *url;		/* path only */
	const char *body;		/* NUL-terminated */
	size_t body_len;
	unsigned n;			/* arrival number, from 1 */
	struct MHD_Connection *conn;
};

struct ts_resp {
	int status;
	struct buf body;
	char hname[8][64];
	char hvalue[8][256];
	int nh;
	int delay_ms;			/* sleep before answering */
	int drop;			/* 1: close, no answer; 2: half a body */
};

typedef void (*ts_handler)(const struct ts_req *q, struct ts_resp *a,
    void *ctx);

struct ts_server {
	struct MHD_Daemon *d;
	unsigned port;
	char base[64];			/* "http://127.0.0.1:PORT" */
	ts_handler h;
	void *ctx;
	pthread_mutex_t mu;
	int cur, max_conc;
	unsigned nreq;
	unsigned nconn;			/* TCP connections accepted */
};

struct ts_conn {
	struct buf body;
};

struct ts_partial {
	char *p;
	size_t n, off;
};

static inline void
ts_body(struct ts_resp *a, const char *s)
{
	a->body.len = 0;
	buf_adds(&a->body, s);
}

static inline void
ts_header(struct ts_resp *a, const char *name, const char *value)
{
	if (a->nh >= 8)
		return;
	snprintf(a->hname[a->nh], sizeof(a->hname[0]), "%s", name);
	snprintf(a->hvalue[a->nh], sizeof(a->hvalue[0]), "%s", value);
	a->nh++;
}

/* A request header, or NULL. */
static inline const char *
ts_get(const struct ts_req *q, const char *name)
{
	return MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, name);
}

/* A query argument, or NULL. */
static inline const char *
ts_arg(const struct ts_req *q, const char *name)
{
	return MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND,
	    name);
}

static inline ssize_t
ts_partial_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct ts_partial *p = cls;
	size_t n;

	(void)pos;
	if (p->off >= p->n / 2)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	n = p->n / 2 - p->off;
	if (n > max)
		n = max;
	memcpy(out, p->p + p->off, n);
	p->off += n;
	return (ssize_t)n;
}

static inline void
ts_partial_free(void *cls)
{
	struct ts_partial *p = cls;

	free(p->p);
	free(p);
}

static enum MHD_Result
ts_access(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct ts_server *s = cls;
	struct ts_conn *c = *con_cls;
	struct ts_req q;
	struct ts_resp a;
	struct MHD_Response *resp;
	struct timespec ts;
	enum MHD_Result ret;
	int i;

	(void)version;
	if (c == NULL) {
		c = calloc(1, sizeof(*c));
		*con_cls = c;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		buf_add(&c->body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	memset(&q, 0, sizeof(q));
	memset(&a, 0, sizeof(a));
	q.method = method;
	q.url = url;
	q.body = c->body.p != NULL ? buf_cstr(&c->body) : "";
	q.body_len = c->body.len;
	q.conn = conn;
	a.status = 200;
	pthread_mutex_lock(&s->mu);
	q.n = ++s->nreq;
	if (++s->cur > s->max_conc)
		s->max_conc = s->cur;
	s->h(&q, &a, s->ctx);
	pthread_mutex_unlock(&s->mu);
	if (a.delay_ms > 0) {
		ts.tv_sec = a.delay_ms / 1000;
		ts.tv_nsec = (long)(a.delay_ms % 1000) * 1000000L;
		nanosleep(&ts, NULL);
	}
	pthread_mutex_lock(&s->mu);
	s->cur--;
	pthread_mutex_unlock(&s->mu);
	if (a.drop == 1) {
		buf_release(&a.body);
		return MHD_NO;
	}
	if (a.drop == 2) {
		struct ts_partial *p = calloc(1, sizeof(*p));

		if (a.body.len < 16)
			buf_adds(&a.body, "0123456789abcdef0123456789abcdef");
		p->p = a.body.p;
		p->n = a.body.len;
		a.body.p = NULL;
		resp = MHD_create_response_from_callback(p->n, 4096,
		    ts_partial_read, p, ts_partial_free);
	} else
		resp = MHD_create_response_from_buffer(a.body.len,
		    a.body.p != NULL ? a.body.p : (void *)"",
		    MHD_RESPMEM_MUST_COPY);
	for (i = 0; i < a.nh; i++)
		MHD_add_response_header(resp, a.hname[i], a.hvalue[i]);
	ret = MHD_queue_response(conn, (unsigned)a.status, resp);
	MHD_destroy_response(resp);
	buf_release(&a.body);
	return ret;
}

static inline void
ts_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct ts_conn *c = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (c != NULL) {
		buf_release(&c->body);
		free(c);
		*con_cls = NULL;
	}
}

static inline void
ts_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
    enum MHD_ConnectionNotificationCode code)
{
	struct ts_server *s = cls;

	(void)conn;
	(void)socket_ctx;
	if (code != MHD_CONNECTION_NOTIFY_STARTED)
		return;
	pthread_mutex_lock(&s->mu);
	s->nconn++;
	pthread_mutex_unlock(&s->mu);
}

/*
 * Start a server on 127.0.0.1, a free port; HTTPS when key and cert (PEM
 * text) are given. Returns 0 or -1.
 */
static inline int
ts_start_tls(struct ts_server *s, ts_handler h, void *ctx, const char *key,
    const char *cert)
{
	struct sockaddr_in sa;
	const union MHD_DaemonInfo *di;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_THREAD_PER_CONNECTION;

	memset(s, 0, sizeof(*s));
	s->h = h;
	s->ctx = ctx;
	pthread_mutex_init(&s->mu, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (key != NULL)
		s->d = MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL,
		    ts_access, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
		    MHD_OPTION_NOTIFY_COMPLETED, ts_completed, s,
		    MHD_OPTION_NOTIFY_CONNECTION, ts_connection, s,
		    MHD_OPTION_HTTPS_MEM_KEY, key,
		    MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_END);
	else
		s->d = MHD_start_daemon(flags, 0, NULL, NULL, ts_access, s,
		    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
		    MHD_OPTION_NOTIFY_COMPLETED, ts_completed, s,
		    MHD_OPTION_NOTIFY_CONNECTION, ts_connection, s,
		    MHD_OPTION_END);
	if (s->d == NULL)
		return -1;
	di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di->port;
	snprintf(s->base, sizeof(s->base), "%s://127.0.0.1:%u",
	    key != NULL ? "https" : "http", s->port);
	return 0;
}

/* Start a plain HTTP server (see ts_start_tls()). */
static inline int
ts_start(struct ts_server *s, ts_handler h, void *ctx)
{
	return ts_start_tls(s, h, ctx, NULL, NULL);
}

static inline void
ts_stop(struct ts_server *s)
{
	if (s->d != NULL)
		MHD_stop_daemon(s->d);
	s->d = NULL;
	pthread_mutex_destroy(&s->mu);
}

/* Wait up to ms until no request is being answered. Returns 0 or -1. */
static inline int
ts_idle(struct ts_server *s, int ms)
{
	struct timespec t = { 0, 5000000L };
	int cur;

	for (;;) {
		pthread_mutex_lock(&s->mu);
		cur = s->cur;
		if (cur == 0)
			s->max_conc = 0;
		pthread_mutex_unlock(&s->mu);
		if (cur == 0)
			return 0;
		if ((ms -= 5) < 0)
			return -1;
		nanosleep(&t, NULL);
	}
}

/* A loopback port nobody listens on (bound, then closed). */
static inline unsigned
ts_closed_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	unsigned port;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		port = 1;
	else
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* Milliseconds on a monotonic clock. */
static inline long long
ts_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

#endif
