/*
 * kafka-sasl-proxy.c - test helper: SASL/OAUTHBEARER in front of
 * librdkafka's mock cluster, which has no SASL (2.0.2).
 *
 *   kafka-sasl-proxy BOOTSTRAPS TOKENS-FILE [AUDIENCE]
 *
 * Listens on one loopback port per broker of BOOTSTRAPS (host:port,...)
 * and prints "BROKERPORT=PROXYPORT,..." on the first line of stdout: the
 * mapping for connect-redirect.so (TP_CONNECT_REDIRECT), which sends the
 * client's connections to the brokers (bootstrap and the addresses in
 * metadata) here. Each connection is relayed to its broker, except that:
 *
 * - ApiVersions responses also list SaslHandshake and SaslAuthenticate
 *   (v0-1);
 * - SaslHandshake is answered here: mechanism OAUTHBEARER only;
 * - SaslAuthenticate is answered here: the bearer token of the client's
 *   OAUTHBEARER message (RFC 7628: "n,,\x01auth=Bearer TOKEN\x01\x01") is
 *   appended to TOKENS-FILE, one a line; with AUDIENCE, a token whose JWT
 *   payload has no "aud":"AUDIENCE" is refused (SASL_AUTHENTICATION_FAILED,
 *   "token rejected: wrong audience");
 * - any other request before a successful SaslAuthenticate closes the
 *   connection (the client must authenticate first).
 *
 * Single-threaded, blocking writes (loopback). Runs until killed.
 * Build: cc -o kafka-sasl-proxy kafka-sasl-proxy.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXB 16
#define MAXC 256
#define MAXPEND 64

struct conn {
	int cfd, ufd;		/* client, upstream; -1 when free */
	unsigned char *cb, *ub;	/* partial frames from each side */
	size_t cn, un;
	int authed;
	int32_t apiv_corr[MAXPEND];	/* ApiVersions requests in flight */
	int16_t apiv_ver[MAXPEND];
	int npend;
};

static int lfd[MAXB], uport[MAXB], nb;
static struct conn cs[MAXC];
static const char *tokens_file, *audience;

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static int16_t
be16(const unsigned char *p)
{
	return (int16_t)((uint16_t)p[0] << 8 | p[1]);
}

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void
put16(unsigned char *p, int16_t v)
{
	p[0] = (uint16_t)v >> 8;
	p[1] = (uint16_t)v;
}

static int
writeall(int fd, const void *p, size_t n)
{
	const char *s = p;

	while (n > 0) {
		ssize_t k = write(fd, s, n);

		if (k <= 0)
			return -1;
		s += k;
		n -= (size_t)k;
	}
	return 0;
}

static void
conn_close(struct conn *c)
{
	if (c->cfd >= 0)
		close(c->cfd);
	if (c->ufd >= 0)
		close(c->ufd);
	free(c->cb);
	free(c->ub);
	memset(c, 0, sizeof(*c));
	c->cfd = c->ufd = -1;
}

/* Send a response frame: size, corrid, body. */
static int
respond(struct conn *c, int32_t corr, const unsigned char *body, size_t n)
{
	unsigned char h[8];

	put32(h, (uint32_t)(n + 4));
	put32(h + 4, (uint32_t)corr);
	return writeall(c->cfd, h, 8) || writeall(c->cfd, body, n) ? -1 : 0;
}

/* Does the base64url JWT payload of tok carry "aud":"audience"? */
static int
aud_ok(const char *tok)
{
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
	    "qrstuvwxyz0123456789-_";
	const char *p = strchr(tok, '.'), *e;
	char out[4096], want[512];
	size_t n = 0;
	unsigned v = 0;
	int bits = 0;

	if (p == NULL || (e = strchr(++p, '.')) == NULL)
		return 0;
	for (; p < e && n + 1 < sizeof(out); p++) {
		const char *q = strchr(tbl, *p);

		if (q == NULL || *p == '\0')
			return 0;
		v = v << 6 | (unsigned)(q - tbl);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (char)(v >> bits & 0xff);
		}
	}
	out[n] = '\0';
	snprintf(want, sizeof(want), "\"aud\":\"%s\"", audience);
	return strstr(out, want) != NULL;
}

/* A request frame f (n bytes, without the size) from the client. */
static int
client_frame(struct conn *c, unsigned char *f, size_t n)
{
	int16_t key, ver, cidlen;
	int32_t corr;
	size_t off;

	if (n < 10)
		return -1;
	key = be16(f);
	ver = be16(f + 2);
	corr = (int32_t)be32(f + 4);
	cidlen = be16(f + 8);
	off = 10 + (cidlen > 0 ? (size_t)cidlen : 0);
	if (key == 17) {		/* SaslHandshake */
		static const char m[] = "OAUTHBEARER";
		unsigned char b[32];
		int16_t ml = off + 2 <= n ? be16(f + off) : -1;
		int ok = ml == 11 && off + 2 + 11 <= n &&
		    memcmp(f + off + 2, m, 11) == 0;

		put16(b, ok ? 0 : 33);	/* UNSUPPORTED_SASL_MECHANISM */
		put32(b + 2, 1);
		put16(b + 6, 11);
		memcpy(b + 8, m, 11);
		return respond(c, corr, b, 19);
	}
	if (key == 36) {		/* SaslAuthenticate v0-1 */
		unsigned char b[512];
		const char *msg = NULL;
		char tok[8192];
		size_t bl, k = 0, t;
		const char *a, *s;
		FILE *fp;

		if (off + 4 > n || (bl = be32(f + off)) > n - off - 4)
			return -1;
		a = (const char *)f + off + 4;
		s = memmem(a, bl, "auth=Bearer ", 12);
		if (s != NULL) {
			s += 12;
			for (t = (size_t)(s - a); t < bl && a[t] != '\x01' &&
			    k + 1 < sizeof(tok); t++)
				tok[k++] = a[t];
		}
		tok[k] = '\0';
		if ((fp = fopen(tokens_file, "a")) != NULL) {
			fprintf(fp, "%s\n", tok);
			fclose(fp);
		}
		if (k == 0)
			msg = "token rejected: no bearer token";
		else if (audience != NULL && !aud_ok(tok))
			msg = "token rejected: wrong audience";
		put16(b, msg ? 58 : 0);	/* SASL_AUTHENTICATION_FAILED */
		k = 2;
		if (msg) {
			put16(b + k, (int16_t)strlen(msg));
			memcpy(b + k + 2, msg, strlen(msg));
			k += 2 + strlen(msg);
		} else {
			put16(b + k, -1);
			k += 2;
		}
		put32(b + k, 0);	/* auth bytes */
		k += 4;
		if (ver >= 1) {
			memset(b + k, 0, 8);	/* session lifetime */
			k += 8;
		}
		c->authed = msg == NULL;
		return respond(c, corr, b, k);
	}
	if (key != 18 && !c->authed) {
		fprintf(stderr, "kafka-sasl-proxy: request %d before "
		    "authentication: closed\n", key);
		return -1;
	}
	if (key == 18 && c->npend < MAXPEND) {	/* ApiVersions */
		c->apiv_corr[c->npend] = corr;
		c->apiv_ver[c->npend++] = ver;
	}
	{
		unsigned char h[4];

		put32(h, (uint32_t)n);
		return writeall(c->ufd, h, 4) || writeall(c->ufd, f, n) ?
		    -1 : 0;
	}
}

/* A response frame f (n bytes, without the size) from the broker. */
static int
upstream_frame(struct conn *c, unsigned char *f, size_t n)
{
	int32_t corr = n >= 4 ? (int32_t)be32(f) : 0;
	unsigned char h[4];
	int i;

	for (i = 0; i < c->npend; i++)
		if (c->apiv_corr[i] == corr)
			break;
	if (i < c->npend) {
		int16_t ver = c->apiv_ver[i];

		c->apiv_corr[i] = c->apiv_corr[--c->npend];
		c->apiv_ver[i] = c->apiv_ver[c->npend];
		if (ver <= 2 && n >= 10 && be16(f + 4) == 0) {
			uint32_t cnt = be32(f + 6);
			size_t end = 10 + (size_t)cnt * 6;
			static const unsigned char add[12] = { 0, 17, 0, 0, 0,
			    1, 0, 36, 0, 0, 0, 1 };

			if (end > n)
				return -1;
			put32(f + 6, cnt + 2);
			put32(h, (uint32_t)(n + 12));
			return writeall(c->cfd, h, 4) ||
			    writeall(c->cfd, f, end) ||
			    writeall(c->cfd, add, 12) ||
			    writeall(c->cfd, f + end, n - end) ? -1 : 0;
		}
	}
	put32(h, (uint32_t)n);
	return writeall(c->cfd, h, 4) || writeall(c->cfd, f, n) ? -1 : 0;
}

/* Read from fd into *b, hand over every whole frame. */
static int
pump(struct conn *c, int fd, unsigned char **b, size_t *bn, int up)
{
	unsigned char tmp[65536];
	ssize_t k = read(fd, tmp, sizeof(tmp));
	size_t at = 0;

	if (k <= 0)
		return -1;
	*b = realloc(*b, *bn + (size_t)k);
	memcpy(*b + *bn, tmp, (size_t)k);
	*bn += (size_t)k;
	while (*bn - at >= 4) {
		size_t fl = be32(*b + at);

		if (*bn - at - 4 < fl)
			break;
		if ((up ? upstream_frame(c, *b + at + 4, fl) :
		    client_frame(c, *b + at + 4, fl)) < 0)
			return -1;
		at += 4 + fl;
	}
	memmove(*b, *b + at, *bn - at);
	*bn -= at;
	return 0;
}

int
main(int argc, char **argv)
{
	char *bs, *tok;
	int i;

	if (argc < 3) {
		fprintf(stderr, "usage: kafka-sasl-proxy BOOTSTRAPS "
		    "TOKENS-FILE [AUDIENCE]\n");
		return 2;
	}
	tokens_file = argv[2];
	audience = argc > 3 ? argv[3] : NULL;
	for (i = 0; i < MAXC; i++)
		cs[i].cfd = cs[i].ufd = -1;
	bs = strdup(argv[1]);
	for (tok = strtok(bs, ","); tok != NULL && nb < MAXB;
	    tok = strtok(NULL, ",")) {
		struct sockaddr_in a = { .sin_family = AF_INET };
		socklen_t al = sizeof(a);
		char *colon = strrchr(tok, ':');

		if (colon == NULL)
			return 2;
		uport[nb] = atoi(colon + 1);
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		lfd[nb] = socket(AF_INET, SOCK_STREAM, 0);
		if (bind(lfd[nb], (struct sockaddr *)&a, sizeof(a)) < 0 ||
		    listen(lfd[nb], 64) < 0 ||
		    getsockname(lfd[nb], (struct sockaddr *)&a, &al) < 0) {
			perror("kafka-sasl-proxy: listen");
			return 1;
		}
		printf("%s%d=%d", nb ? "," : "", uport[nb],
		    ntohs(a.sin_port));
		nb++;
	}
	printf("\n");
	fflush(stdout);
	for (;;) {
		struct pollfd pf[MAXB + 2 * MAXC];
		int who[MAXB + 2 * MAXC], np = 0;

		for (i = 0; i < nb; i++) {
			pf[np].fd = lfd[i];
			pf[np].events = POLLIN;
			who[np++] = -1 - i;
		}
		for (i = 0; i < MAXC; i++) {
			if (cs[i].cfd < 0)
				continue;
			pf[np].fd = cs[i].cfd;
			pf[np].events = POLLIN;
			who[np++] = 2 * i;
			pf[np].fd = cs[i].ufd;
			pf[np].events = POLLIN;
			who[np++] = 2 * i + 1;
		}
		if (poll(pf, (nfds_t)np, -1) < 0)
			continue;
		for (i = 0; i < np; i++) {
			struct conn *c;

			if (!pf[i].revents)
				continue;
			if (who[i] < 0) {
				int b = -1 - who[i], fd, k;
				struct sockaddr_in u = {
					.sin_family = AF_INET,
					.sin_port = htons((uint16_t)uport[b]),
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)
				};

				if ((fd = accept(lfd[b], NULL, NULL)) < 0)
					continue;
				for (k = 0; k < MAXC && cs[k].cfd >= 0; k++)
					;
				if (k == MAXC) {
					close(fd);
					continue;
				}
				cs[k].cfd = fd;
				cs[k].ufd = socket(AF_INET, SOCK_STREAM, 0);
				if (connect(cs[k].ufd, (struct sockaddr *)&u,
				    sizeof(u)) < 0)
					conn_close(&cs[k]);
				continue;
			}
			c = &cs[who[i] / 2];
			if (c->cfd < 0)
				continue;	/* closed in this round */
			if ((who[i] & 1 ? pump(c, c->ufd, &c->ub, &c->un, 1) :
			    pump(c, c->cfd, &c->cb, &c->cn, 0)) < 0)
				conn_close(c);
		}
	}
}
