/*
 * eventhub_ckpt.h - where the AMQP transport keeps its checkpoints (and,
 * in Blob Storage, the partitions' ownership), in the layout Microsoft's
 * BlobCheckpointStore (@azure/eventhubs-checkpointstore-blob 2.x, and the
 * .NET, Java and Python ones) uses:
 *
 *   <namespace>/<hub>/<consumer group>/checkpoint/<partition>
 *	metadata offset=<x-opt-offset>, sequencenumber=<N>
 *   <namespace>/<hub>/<consumer group>/ownership/<partition>
 *	metadata ownerid=<processor id> ("" once given up)
 *
 * names lower-cased as the SDK does, each percent-encoded in URLs and file
 * names. Two stores behind one interface:
 *
 * - a local directory (eventhub_ckpt.c): DIR/<that path>, each file one
 *   JSON object {"offset":"...","sequencenumber":N}, written atomically
 *   (a temporary file, fsync, rename); no ownership (one reader).
 * - a Blob Storage container (eventhub_ckptblob.c), through blob_call():
 *   empty block blobs whose state is their metadata, exactly what the SDK
 *   reads and writes, so either side resumes where the other stopped.
 */
#ifndef TP_EVENTHUB_CKPT_H
#define TP_EVENTHUB_CKPT_H

#include <stdint.h>
#include <time.h>

#include "blob.h"
#include "buf.h"

struct auth;

struct eh_ckpt {
	int64_t seq;		/* the last event handled */
	char offset[40];	/* its x-opt-offset, "" if unknown */
};

struct eh_ckpt_dir;		/* a store: a directory or a container */

/* Open a local directory store (creating the directories). Returns NULL
 * with err filled. */
struct eh_ckpt_dir *eh_ckpt_dir_open(const char *dir, const char *ns,
    const char *hub, const char *group, struct buf *err);

/*
 * Open a Blob Storage store: the container named by spec, either a
 * container URL (https://A.blob.core.windows.net/C, or path-style
 * http://127.0.0.1:10000/A/C) or a container name of the account of the
 * connection string cs (may be NULL; key or SAS from it), key and sas
 * (may be NULL: from the environment's AZURE_STORAGE_KEY and
 * AZURE_STORAGE_SAS_TOKEN, read by the caller). Without a key or a SAS,
 * Entra ID tokens from entra (borrowed; NULL: a credential chain of the
 * store's own). cacert may be NULL. Returns NULL with err filled.
 */
struct eh_ckpt_dir *eh_ckpt_blob_open(const char *spec, const char *cs,
    const char *key, const char *sas, struct auth *entra,
    const char *cacert, const char *ns, const char *hub, const char *group,
    struct buf *err);

/* eh_ckpt_dir_close(NULL) is a no-op. */
void eh_ckpt_dir_close(struct eh_ckpt_dir *d);

/* Read partition p's checkpoint: 1 and *c, 0 when there is none, -1 with
 * err filled when it cannot be read or parsed. */
int eh_ckpt_get(struct eh_ckpt_dir *d, int32_t p, struct eh_ckpt *c,
    struct buf *err);

/* Write partition p's checkpoint. Returns 0, or -1 with err filled. */
int eh_ckpt_put(struct eh_ckpt_dir *d, int32_t p, const struct eh_ckpt *c,
    struct buf *err);

/* 1 when the store keeps ownership (several readers may share it). */
int eh_ckpt_shared(const struct eh_ckpt_dir *d);

/* One partition's ownership blob. */
struct eh_own {
	int32_t partition;
	char owner[64];		/* ownerid, "" when none or given up */
	char etag[128];		/* "" when the blob does not exist */
	time_t mtime;		/* Last-Modified, -1 unknown */
};

/*
 * Read the ownership of partition o->partition into *o (Get Blob
 * Properties). Returns 0 (o->etag "" when there is none), or -1 with err
 * filled.
 */
int eh_own_get(struct eh_ckpt_dir *d, struct eh_own *o, struct buf *err);

/*
 * Set the ownership blob of o->partition to owner ("" gives it up): with
 * If-Match o->etag when o->etag is set, else create it with If-None-Match
 * *. Returns 1 and the new etag and mtime in *o, 0 when another processor
 * changed it first (412, 409, 404), -1 with err filled.
 */
int eh_own_set(struct eh_ckpt_dir *d, struct eh_own *o, const char *owner,
    struct buf *err);

/* ---- private: the blob store's half (eventhub_ckptblob.c) ---- */
struct eh_ckpt_blob;
int eh_ckptblob_get(struct eh_ckpt_blob *b, const char *base, int32_t p,
    struct eh_ckpt *c, struct buf *err);
int eh_ckptblob_put(struct eh_ckpt_blob *b, const char *base, int32_t p,
    const struct eh_ckpt *c, struct buf *err);
int eh_ckptblob_own_get(struct eh_ckpt_blob *b, const char *base,
    struct eh_own *o, struct buf *err);
int eh_ckptblob_own_set(struct eh_ckpt_blob *b, const char *base,
    struct eh_own *o, const char *owner, struct buf *err);
struct eh_ckpt_blob *eh_ckptblob_open(const char *spec, const char *cs,
    const char *key, const char *sas, struct auth *entra,
    const char *cacert, struct buf *err);
void eh_ckptblob_close(struct eh_ckpt_blob *b);

#endif
