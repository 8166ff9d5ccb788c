/*
 * eventhub_impl.h - what the files of ingest-eventhub share, not an
 * interface for anything else: the options (op, prog), the run's context
 * (cx), the --exec co-process (eventhub_exec.c) and the AMQP transport's
 * glue between the client and the run (eventhub_amqprun.c). eventhub.c
 * holds main, the option table and the Kafka transport.
 */
#ifndef EVENTHUB_IMPL_H
#define EVENTHUB_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <librdkafka/rdkafka.h>

#include "auth.h"
#include "buf.h"
#include "cli.h"
#include "eventhub_ack.h"
#include "eventhub_amqpc.h"
#include "eventhub_ckpt.h"
#include "eventhub_conn.h"
#include "eventhub_event.h"
#include "eventhub_own.h"
#include "json.h"
#include "ndjson.h"
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

extern struct opts op;			/* eventhub.c: the options */
extern const struct cli_prog prog;	/* eventhub.c: for usage errors */

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

extern struct ctx cx;			/* eventhub.c: the one run */

/* eventhub.c */

/*
 * Handle one event of either transport: its line into out, or to the dead
 * letters (acknowledged at once when tracked). Returns 0, or -1 when the
 * dead-letter file cannot be written (reported).
 */
int handle_ev(struct ctx *c, const struct ev *e, struct buf *out);

/*
 * Commit (Kafka) or checkpoint (AMQP) every partition up to what is
 * acknowledged, when offsets are committed at all; sync: Kafka waits for
 * the answer. A failure is logged and retried at the next call.
 */
void commit_acked(struct ctx *c, int sync);

/* eventhub_exec.c: the --exec co-process, its results and its barriers */

/* Start cmd under /bin/sh with pipes both ways (non-blocking) into ch.
 * Returns 0, or -1 (reported). */
int child_start(struct child *ch, const char *cmd);

/*
 * Send a barrier into CMD (after what ch->wb holds): remember where every
 * partition with events in flight stands. Returns 1 if one was sent, 0 if
 * nothing is in flight or too many barriers are still out.
 */
int barrier_send(struct ctx *c, double now);

/* Free the barriers still in flight. */
void barrier_release(struct ctx *c);

/* Move bytes both ways, results acknowledged as they come (waits at most
 * timeout_ms). Returns 0, or -1 on a fatal error (reported). */
int child_io(struct ctx *c, struct child *ch, int timeout_ms);

/*
 * One turn of the co-process ch: barriers, its input and results, the
 * commits, the drain. Returns 1 to go on, 0 when the run ends, -1 on a
 * fatal error (reported).
 */
int turn_exec(struct child *ch, int got, int reading, double t,
    double *drain_end, double *last_commit);

/* The last commit, the partitions given up, the co-process ch ended and
 * its exit status taken into status: returns the run's status. */
int exec_end(struct child *ch, int status);

/* eventhub_amqprun.c: the AMQP transport in the run */

/* Checkpoint every partition up to its last contiguous acknowledgement. */
void amqp_commit(struct ctx *c);

/*
 * Connect, open the checkpoints, start every chosen partition from its
 * checkpoint or --start. Returns 0, or an exit status (reported).
 */
int amqp_setup(struct ctx *c, const struct eh_conn *conn);

/* --namespace over AMQP: conn's host, port and TLS from NS,
 * NS.servicebus.windows.net or HOST:PORT, with the Entra credential chain
 * in cx.auth. Returns 0, or -1 (reported). */
int amqp_namespace(struct eh_conn *conn);

/* One turn of the AMQP transport into ob (paused while ob holds out_bytes).
 * Returns the events got, or -1 on a fatal error; *reading is cleared when
 * reading must end. */
int turn_amqp(size_t out_bytes, struct buf *ob, int *reading);

#endif
