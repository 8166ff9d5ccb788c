/*
 * eventhub_ckpt.h - checkpoints of the AMQP transport in a local
 * directory, laid out as Microsoft's BlobCheckpointStore names its blobs:
 * DIR/<namespace>/<hub>/<consumer group>/checkpoint/<partition> (names
 * lower-cased, each percent-encoded), each file one JSON object
 * {"offset":"<x-opt-offset>","sequencenumber":N}. Written atomically
 * (a temporary file, fsync, rename).
 */
#ifndef TP_EVENTHUB_CKPT_H
#define TP_EVENTHUB_CKPT_H

#include <stdint.h>

#include "buf.h"

struct eh_ckpt {
	int64_t seq;		/* the last event handled */
	char offset[40];	/* its x-opt-offset, "" if unknown */
};

struct eh_ckpt_dir;

/* Open (creating the directories). Returns NULL with err filled. */
struct eh_ckpt_dir *eh_ckpt_dir_open(const char *dir, const char *ns,
    const char *hub, const char *group, struct buf *err);
/* eh_ckpt_dir_close(NULL) is a no-op. */
void eh_ckpt_dir_close(struct eh_ckpt_dir *d);

/* Read partition p's checkpoint: 1 and *c, 0 when there is none, -1 with
 * err filled when it cannot be read or parsed. */
int eh_ckpt_get(struct eh_ckpt_dir *d, int32_t p, struct eh_ckpt *c,
    struct buf *err);

/* Write partition p's checkpoint. Returns 0, or -1 with err filled. */
int eh_ckpt_put(struct eh_ckpt_dir *d, int32_t p, const struct eh_ckpt *c,
    struct buf *err);

#endif
