/*
 * guard.c - the deadline of a connection's first request: a connection
 * whose request headers are not complete within the header timeout of
 * its accept (TLS handshake included) is shut down, so slow or idle
 * clients cannot hold the connection slots (libmicrohttpd's own timeout
 * only counts idle time, which a client sending a byte now and then
 * resets).
 *
 * Connections waiting for their headers sit in one list in accept order,
 * so the oldest is first. libmicrohttpd tells us of a connection's end
 * (MHD_CONNECTION_NOTIFY_CLOSED) before it closes the socket, and that
 * waits for our mutex: the reaper may shutdown() a listed socket while
 * it holds the mutex without ever touching a reused descriptor.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "buf.h"
#include "clock.h"
#include "emu.h"
#include "log.h"

struct guard_conn {
	int fd;
	double start;		/* monotonic seconds at accept */
	int listed;
	struct guard_conn *prev, *next;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	int running, stop;
	double timeout;
	struct guard_conn *head, *tail;
	unsigned long reaped;
} g;

/* Take gc off the list. Call with the mutex held. */
static void
unlist(struct guard_conn *gc)
{
	if (!gc->listed)
		return;
	if (gc->prev != NULL)
		gc->prev->next = gc->next;
	else
		g.head = gc->next;
	if (gc->next != NULL)
		gc->next->prev = gc->prev;
	else
		g.tail = gc->prev;
	gc->prev = gc->next = NULL;
	gc->listed = 0;
}

static void *
reaper(void *arg)
{
	struct timespec ts;
	struct guard_conn *gc;
	double now;
	unsigned long n;

	(void)arg;
	pthread_mutex_lock(&g.mu);
	while (!g.stop) {
		n = 0;
		now = clock_s();
		while ((gc = g.head) != NULL && now - gc->start >= g.timeout) {
			unlist(gc);
			shutdown(gc->fd, SHUT_RDWR);
			n++;
		}
		g.reaped += n;
		if (n > 0)
			log_debug("closed %lu connection(s) whose request headers "
			    "were not complete within %.1fs", n, g.timeout);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 250 * 1000 * 1000;
		if (ts.tv_nsec >= 1000 * 1000 * 1000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000 * 1000 * 1000;
		}
		pthread_cond_timedwait(&g.cv, &g.mu, &ts);
	}
	pthread_mutex_unlock(&g.mu);
	return NULL;
}

int
guard_start(double header_timeout)
{
	int e;

	pthread_mutex_init(&g.mu, NULL);
	pthread_cond_init(&g.cv, NULL);
	g.timeout = header_timeout;
	g.stop = 0;
	if (header_timeout <= 0)
		return 0;
	if ((e = pthread_create(&g.thread, NULL, reaper, NULL)) != 0) {
		errno = e;
		return -1;
	}
	g.running = 1;
	return 0;
}

void
guard_stop(void)
{
	if (!g.running)
		return;
	pthread_mutex_lock(&g.mu);
	g.stop = 1;
	pthread_cond_signal(&g.cv);
	pthread_mutex_unlock(&g.mu);
	pthread_join(g.thread, NULL);
	g.running = 0;
}

void
guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
    enum MHD_ConnectionNotificationCode code)
{
	struct guard_conn *gc = *socket_context;
	const union MHD_ConnectionInfo *ci;

	(void)cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		if (!g.running)
			return;
		ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci == NULL)
			return;
		gc = xcalloc(1, sizeof(*gc));
		gc->fd = ci->connect_fd;
		gc->start = clock_s();
		pthread_mutex_lock(&g.mu);
		gc->prev = g.tail;
		if (g.tail != NULL)
			g.tail->next = gc;
		else
			g.head = gc;
		g.tail = gc;
		gc->listed = 1;
		pthread_mutex_unlock(&g.mu);
		*socket_context = gc;
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED && gc != NULL) {
		pthread_mutex_lock(&g.mu);
		unlist(gc);
		pthread_mutex_unlock(&g.mu);
		free(gc);
		*socket_context = NULL;
	}
}

void
guard_headers_done(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci;
	struct guard_conn *gc;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci == NULL || (gc = ci->socket_context) == NULL)
		return;
	pthread_mutex_lock(&g.mu);
	unlist(gc);
	pthread_mutex_unlock(&g.mu);
}

unsigned long
guard_reaped(void)
{
	unsigned long n;

	pthread_mutex_lock(&g.mu);
	n = g.reaped;
	pthread_mutex_unlock(&g.mu);
	return n;
}
