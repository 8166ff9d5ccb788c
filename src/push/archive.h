/*
 * archive.h - the pieces of the archive program: segments (zstd, SHA-256,
 * manifest, atomic publication) and the Blob Storage uploader.
 */
#ifndef TP_ARCHIVE_H
#define TP_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "blob.h"
#include "buf.h"

#define SEG_SUFFIX ".ndjson.zst"
#define MANIFEST_SUFFIX ".manifest.json"

struct seg_opts {
	int level;		/* zstd level */
	int threads;		/* zstd workers, 0 = compress in this thread */
	const char *run;	/* run id in names */
};

/* One segment being written. */
struct seg {
	int fd;			/* -1 when none is open */
	char *tmp;		/* ROOT/.tmp/NAME.tmp */
	char *name;		/* YYYY/MM/DD/HHMMSS-RUN-SEQ.ndjson.zst */
	unsigned long seq;
	uint64_t records, bytes_in, bytes_out;
	time_t opened;
	double opened_mono;	/* monotonic seconds, for --segment-age */
	struct buf first_src, last_src;	/* JSON text, empty if none */
	/* private */
	void *cz;		/* ZSTD_CCtx, kept across segments */
	void *sha;		/* EVP_MD_CTX */
	struct buf z;		/* compressed bytes not yet written */
};

/* Wall clock: TWINPIPE_ARCHIVE_CLOCK (Unix seconds, for tests) or now. */
time_t seg_now(void);

/* Initialize s (no segment open). Can't fail. */
void seg_init(struct seg *s);
/* Free everything; an open segment's temp file is left. NULL no-op. */
void seg_release(struct seg *s);
/*
 * Open segment number seq under root (temp file root/.tmp/...; locked with
 * flock so another run can tell it is live). Returns 0, or -1 with err.
 */
int seg_open(struct seg *s, const struct seg_opts *o, const char *root,
    unsigned long seq, struct buf *err);
/* Compress p[0..n) into the open segment. Returns 0, or -1 with err. */
int seg_write(struct seg *s, const void *p, size_t n, struct buf *err);
/*
 * Finish the open segment: end the zstd frame, fsync, rename to
 * root/NAME, fsync the directory, then write root/NAME-manifest the same
 * way. Returns 0, or -1 with err (the temp file is left).
 */
int seg_close(struct seg *s, const struct seg_opts *o, const char *root,
    struct buf *err);
/* The manifest text (one JSON line, no '\n') of the open segment. */
void seg_manifest(const struct seg *s, const struct seg_opts *o,
    const char *sha_hex, struct buf *out);

/*
 * Temp files under root/.tmp that no live run holds: warn about each one
 * (an interrupted run left it). Returns how many. Can't fail.
 */
unsigned seg_report_stale(const char *root);
/*
 * Finished segment names under root (sorted, relative, NULL-terminated,
 * malloc'd; free with seg_names_free). Returns NULL with err on failure.
 */
char **seg_list_dir(const char *root, struct buf *err);
void seg_names_free(char **v);

/* "NAME.ndjson.zst" -> "NAME.manifest.json" (appended to out). */
void seg_manifest_name(struct buf *out, const char *seg_name);

/*
 * Decompress all of p[0..n) with dz (a frame may go on across calls) to
 * standard output; *last is zstd's hint after it (0: a frame ended).
 * Returns 0, or -1 with err filled (a zstd error naming name, or the
 * write error).
 */
/* A manifest as read: its trailing newlines dropped; where its "sha256"
 * hex starts (the caller compares 64 characters), or NULL. */
const char *seg_manifest_sha(struct buf *man);

struct ZSTD_DCtx_s;
int seg_cat(struct ZSTD_DCtx_s *dz, const void *p, size_t n,
    const char *name, size_t *last, struct buf *err);

/* ---- the spool of a blob archive (archive_spool.c) ---- */

/*
 * Append the default spool of a target to out:
 * $XDG_STATE_HOME/twinpipe/archive/NAME, else
 * $HOME/.local/state/twinpipe/archive/NAME, else
 * ${TMPDIR:-/tmp}/twinpipe-UID/archive/NAME, where NAME is
 * ACCOUNT-CONTAINER[-PREFIX] percent-encoded. *owned_from is the length
 * of the part that is not ours (the base directory). Can't fail.
 */
void spool_default(struct buf *out, size_t *owned_from, const char *account,
    const char *container, const char *prefix);
/*
 * Create (mode 0700) and check every directory of path after its first
 * owned_from bytes (an explicit --spool: owned_from = the length of its
 * parent, only the spool itself is checked): each must be a directory, not
 * a symbolic link, owned by this user, not writable by group or others;
 * with strict, the last also not readable by them. Returns 0, or -1 with
 * err saying what is wrong and why it is refused.
 */
int spool_prepare(const char *path, size_t owned_from, int strict,
    struct buf *err);
/*
 * Read spool/name and its manifest for upload, checking that archive
 * wrote them: regular files (not symbolic links, one link) of this user,
 * the manifest names the segment, its run and sequence number, its size
 * (bytes_out) and SHA-256 are those of the bytes read into data. Returns 0
 * with data, manifest and sha (hex) filled, or -1 with why filled (nothing
 * is changed in the spool).
 */
int spool_read_segment(const char *spool, const char *name, struct buf *data,
    struct buf *manifest, char sha[65], struct buf *why);

/* ---- Blob Storage uploader (archive_blob.c) ---- */

struct up_opts {
	struct blob_account acct;	/* name, key, sas, endpoint */
	const char *container;
	const char *prefix;	/* "" or "a/b" */
	enum blob_auth auth;
	size_t block_size;	/* Put Block size; larger segments use blocks */
	unsigned concurrency;
	long retry_ms;		/* per request time budget */
	int insecure;
	const char *cacert;
};

struct up;

/*
 * An uploader for finished segments in spool (a directory laid out like a
 * --dir archive). Returns NULL with err filled on a configuration error.
 */
struct up *up_new(const struct up_opts *o, const char *spool,
    struct buf *err);
void up_free(struct up *u);
/*
 * Check the target before any data flows: create the container if it is
 * missing (a SAS without that right is fine), which also proves the
 * credentials. Returns 0, or -1 with err filled (unreachable, refused).
 */
int up_start(struct up *u, struct buf *err);
/*
 * Queue a finished segment (name relative to the spool): own, written by
 * this run, or not (left by an earlier one). Before its upload it is read
 * with spool_read_segment(); if that refuses it, an own segment fails the
 * upload (up_poll() -1), another is logged as refused, left in place, and
 * the next one goes on.
 */
void up_enqueue(struct up *u, const char *name, int own);
/* Segments queued or uploading. */
size_t up_pending(const struct up *u);
/*
 * Make progress: start the next upload, run the engine for at most
 * timeout_ms (or until fd is readable, see http_poll()). Returns 0, or -1
 * once an upload failed for good (err filled, once).
 */
int up_poll(struct up *u, long timeout_ms, int fd, int *fd_ready,
    struct buf *err);
/* Uploaded segments, and bytes; segments left by earlier runs refused. */
uint64_t up_done(const struct up *u);
uint64_t up_refused(const struct up *u);
uint64_t up_bytes(const struct up *u);

/*
 * Read back (--list / --cat) a blob archive: print each manifest (list)
 * or the decompressed segments (cat) to fd 1 in name order. Returns 0,
 * or -1 with err filled.
 */
int up_read_back(struct up *u, int cat, struct buf *err);

#endif
