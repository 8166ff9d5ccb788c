/*
 * eventhub_amqpc.h - the AMQP 1.0 transport of ingest-eventhub (Qpid
 * Proton C, one proactor driven from the caller's thread): connect (TLS
 * verified, or plain AMQP for a development emulator), authorise with CBS
 * put-token (a SAS token made from the connection string's key, or an
 * Entra ID token) renewed before it expires, read the hub's partition ids
 * from $management, and receive from partitions with credit-based flow.
 * A dropped connection or a detached link is retried with backoff and the
 * partition resumes after the last event it delivered.
 */
#ifndef TP_EVENTHUB_AMQPC_H
#define TP_EVENTHUB_AMQPC_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "eventhub_amqp.h"
#include "eventhub_conn.h"

struct auth;

struct eh_amqpc_cfg {
	const struct eh_conn *conn;	/* host, port, tls, key or sas */
	const char *hub;
	const char *group;
	const char *cacert;		/* CA file for TLS, or NULL: system */
	int insecure;			/* do not verify the peer */
	struct auth *auth;		/* Entra ID instead of a key, or NULL */
	uint32_t prefetch;		/* credit per partition link */
	int64_t epoch;			/* owner level, -1 none */
	int no_offsets;			/* nothing is committed: keep no
					   offsets for eh_amqpc_offset_of */
	double sas_ttl;			/* lifetime of the SAS tokens made
					   from the key, s; 0: an hour */
	double tls_timeout;		/* give up after this long when no
					   connection got through TLS and
					   the peer's certificate failed
					   verification; 0: never */
};

/* Where a partition starts. */
enum eh_start_kind { EHS_EARLIEST, EHS_LATEST, EHS_TIME, EHS_SEQ,
	EHS_OFFSET };

struct eh_start {
	enum eh_start_kind kind;
	int64_t v;		/* ms since the epoch, or a sequence number:
				   start after it (EHS_SEQ) */
	char offset[40];	/* EHS_OFFSET: start after this offset */
	int64_t epoch;		/* owner level of this partition's link, 0:
				   the client's (eh_amqpc_cfg.epoch) */
};

struct eh_amqpc_prop {
	const char *name;
	struct eh_amqp_value v;
};

/* One received event, valid during the callback only. */
struct eh_amqpc_event {
	int32_t partition;
	int64_t seq;		/* x-opt-sequence-number */
	const char *offset;	/* x-opt-offset, "" if absent */
	int64_t enqueued;	/* x-opt-enqueued-time, ms, -1 if absent */
	const void *body;
	size_t blen;
	const struct eh_amqpc_prop *props;	/* application properties,
						   then annotations, then
						   standard properties */
	size_t nprops;
};

typedef int (*eh_amqpc_fn)(void *ctx, const struct eh_amqpc_event *ev);

struct eh_amqpc;

/* A client; nothing is connected yet. Returns NULL with err filled. */
struct eh_amqpc *eh_amqpc_new(const struct eh_amqpc_cfg *cfg,
    struct buf *err);
/* Set the credit of each partition link (from now on). Can't fail. */
void eh_amqpc_set_credit(struct eh_amqpc *a, uint32_t credit);
/* Disconnect and free. eh_amqpc_free(NULL) is a no-op. */
void eh_amqpc_free(struct eh_amqpc *a);

/*
 * Connect, authorise and read the partition ids (blocking, at most
 * timeout_s). Returns the number of partitions and sets *ids (borrowed,
 * valid until eh_amqpc_free), or -1 with err filled.
 */
int eh_amqpc_open(struct eh_amqpc *a, double timeout_s,
    const int32_t **ids, struct buf *err);

/* Start receiving partition p from st. Returns 0, or -1 (err filled). */
int eh_amqpc_add(struct eh_amqpc *a, int32_t p, const struct eh_start *st,
    struct buf *err);

/* Stop receiving partition p (given up or lost): its link is closed, what
 * it still delivers is dropped. This function can't fail. */
void eh_amqpc_remove(struct eh_amqpc *a, int32_t p);

/*
 * Process network events for at most timeout_ms (0: only what is ready),
 * calling fn for every event received; credit is granted only while
 * may_read is set. Returns the number of events delivered, or -1 on a
 * fatal error (reported with log_error: refused credentials, a hub that
 * does not exist, fn returning -1).
 */
int eh_amqpc_run(struct eh_amqpc *a, int timeout_ms, int may_read,
    eh_amqpc_fn fn, void *ctx);

/*
 * The x-opt-offset of event seq of partition p if it is still remembered
 * (events are remembered from delivery until eh_amqpc_forget), else NULL.
 */
const char *eh_amqpc_offset_of(struct eh_amqpc *a, int32_t p, int64_t seq);

/* Forget the offsets of p's events below seq. This function can't fail. */
void eh_amqpc_forget(struct eh_amqpc *a, int32_t p, int64_t seq);

/*
 * Why the client gave up on TLS: the certificate verification error of
 * the last attempt when no connection got through TLS within
 * cfg.tls_timeout (eh_amqpc_open and eh_amqpc_run then fail), else NULL.
 */
const char *eh_amqpc_tls_error(const struct eh_amqpc *a);

/*
 * For metrics: every every_s seconds (0: never) ask $management for the
 * properties of each partition being read (where it ends). Can't fail.
 */
void eh_amqpc_track_end(struct eh_amqpc *a, double every_s);

/* Where partition number i (0..) stands; -1 past the last. */
struct eh_amqpc_pos {
	int32_t partition;
	int active;		/* being read */
	int64_t last;		/* last sequence number delivered, or -1 */
	int64_t last_ms;	/* its enqueued time, ms, -1 unknown */
	int64_t begin, end;	/* first and last enqueued sequence numbers
				   of the partition (-1: empty), -2 unknown */
	int64_t end_ms;		/* enqueued time of end (ms), -2 unknown */
};
int eh_amqpc_position(const struct eh_amqpc *a, size_t i,
    struct eh_amqpc_pos *pos);
/* 1 while connected and authorised. */
int eh_amqpc_connected(const struct eh_amqpc *a);

/* The partitions this client lost to a higher epoch since the last call
 * (appended to out); returns how many. */
size_t eh_amqpc_lost(struct eh_amqpc *a, int32_t *out, size_t max);

#endif
