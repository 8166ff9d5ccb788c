/*
 * guard.h - twin-emulator's deadline for the request headers of a new
 * connection (see guard.c). libmicrohttpd calls guard_notify() as its
 * MHD_OPTION_NOTIFY_CONNECTION callback; the request handler calls
 * guard_headers_done() when a request's headers are in.
 */
#ifndef TP_EMU_GUARD_H
#define TP_EMU_GUARD_H

#include <microhttpd.h>

/* Start the reaper; timeout <= 0 disables it. Returns 0, or -1 (errno). */
int guard_start(double header_timeout);
/* Stop and join the reaper (after MHD_stop_daemon). A no-op if not
 * started. */
void guard_stop(void);
void guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
    enum MHD_ConnectionNotificationCode code);
/* The connection's headers are complete: its deadline no longer applies.
 * Can't fail; a no-op after the first call. */
void guard_headers_done(struct MHD_Connection *c);
/* Connections shut down so far for missing their deadline. */
unsigned long guard_reaped(void);

#endif
