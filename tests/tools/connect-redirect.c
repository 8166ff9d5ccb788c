/*
 * connect-redirect.c - test shim (LD_PRELOAD): connect() to 127.0.0.1:A
 * goes to 127.0.0.1:B instead, for every pair "A=B" of the comma-separated
 * list in TP_CONNECT_REDIRECT. Lets a test put a proxy
 * (kafka-sasl-proxy.c) between a client and brokers whose addresses the
 * client learns from metadata.
 *
 * Build: cc -shared -fPIC -o connect-redirect.so connect-redirect.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int
connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	static int (*real)(int, const struct sockaddr *, socklen_t);
	const char *m = getenv("TP_CONNECT_REDIRECT");

	if (real == NULL)
		real = (int (*)(int, const struct sockaddr *, socklen_t))
		    dlsym(RTLD_NEXT, "connect");
	if (m != NULL && sa != NULL && sa->sa_family == AF_INET &&
	    len >= (socklen_t)sizeof(struct sockaddr_in)) {
		struct sockaddr_in in;
		long from, to;
		char *e;

		memcpy(&in, sa, sizeof(in));
		while (*m != '\0') {
			from = strtol(m, &e, 10);
			if (*e != '=')
				break;
			to = strtol(e + 1, &e, 10);
			if (from == ntohs(in.sin_port)) {
				in.sin_port = htons((uint16_t)to);
				return real(fd, (struct sockaddr *)&in,
				    sizeof(in));
			}
			if (*e != ',')
				break;
			m = e + 1;
		}
	}
	return real(fd, sa, len);
}
