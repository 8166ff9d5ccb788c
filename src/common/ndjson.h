/*
 * ndjson.h - newline-delimited JSON streams: a bounded line reader, a
 * buffered writer and the dead-letter writer (DESIGN.md record contract).
 */
#ifndef TP_NDJSON_H
#define TP_NDJSON_H

#include <signal.h>
#include <stdarg.h>
#include <stddef.h>

#include <jv.h>

#include "buf.h"

#define NDJSON_DEFAULT_MAX_LINE (16u << 20)

struct ndjson_line {
	char *p;		/* the line, without '\n', NUL-terminated */
	size_t len;
	unsigned long long lineno;	/* 1-based */
	int too_long;		/* longer than the limit: p holds a prefix */
	int unterminated;	/* last line of the input without '\n' */
};

struct ndjson_reader;

/*
 * Read lines from fd (not closed by the reader). name is used in messages
 * ("<stdin>" or a path; copied). max_line bounds a line in bytes.
 * before_block, when not NULL, is called with ctx right before every read(2)
 * that may block, so that programs flush their output there. stop, when not
 * NULL, makes an interrupted read(2) end the input when *stop is set.
 * Never returns NULL.
 */
struct ndjson_reader *ndjson_reader_new(int fd, const char *name,
    size_t max_line, void (*before_block)(void *), void *ctx,
    volatile sig_atomic_t *stop);
void ndjson_reader_free(struct ndjson_reader *r);
const char *ndjson_reader_name(const struct ndjson_reader *r);

/*
 * Next line. Returns 1 and fills *line (valid until the next call), 0 at the
 * end of input (or when stopped), -1 on a read error (errno set). An
 * over-long line is returned with too_long set and the rest of it skipped.
 * Blank lines are returned too; callers decide.
 */
int ndjson_read(struct ndjson_reader *r, struct ndjson_line *line);

/*
 * Does the reader hold unread bytes, so that ndjson_read() may return a
 * line without reading (and blocking)? For event loops (http_poll).
 */
int ndjson_reader_buffered(const struct ndjson_reader *r);

/* Was the input ended by *stop rather than by end of file? */
int ndjson_reader_stopped(const struct ndjson_reader *r);

struct json_numlits;
/*
 * The checks every program makes of an input line before it is a record.
 * Returns 1 with an owned JSON object in *out (lits, may be NULL, filled as
 * json_parse() does); 0 for a blank line; -1 when the line is no record,
 * with *code ("line_too_long", "invalid_json", "not_an_object"), the
 * message appended to msg and *is_json saying whether the line is JSON
 * (for dlq_write()). Can't fail otherwise.
 */
int ndjson_record(const struct ndjson_line *l, jv *out,
    struct json_numlits *lits, const char **code, struct buf *msg,
    int *is_json);

/* Is the line empty or only JSON whitespace? */
int ndjson_blank(const char *p, size_t n);

/* ---- writer ---- */

struct ndjson_writer {
	int fd;
	struct buf b;
	size_t flush_at;
	int err;		/* errno of the first failed write, sticky */
};

/*
 * Write all n bytes of p to fd, again after EINTR and short writes (the
 * one write loop of the tree). Returns 0, or -1 with errno set.
 */
int fd_write_all(int fd, const void *p, size_t n);

/* Initialize a writer on fd (not closed by it). This function can't fail. */
void ndjson_writer_init(struct ndjson_writer *w, int fd);
/* Write everything buffered. Returns 0, or -1 (w->err set) on failure. */
int ndjson_writer_flush(struct ndjson_writer *w);
/* Flush and free the buffer. Returns 0 or -1 like flush. */
int ndjson_writer_release(struct ndjson_writer *w);

/* Append one line (a '\n' is added). Returns -1 once a write failed. */
int ndjson_write_line(struct ndjson_writer *w, const char *p, size_t n);

/*
 * For writing in place: append to w->b directly, then call
 * ndjson_writer_commit(), which adds the '\n' and flushes when the buffer is
 * full. Returns -1 once a write failed.
 */
int ndjson_writer_commit(struct ndjson_writer *w);

/* ---- dead letters ---- */

struct dlq;

/*
 * Open (append, create 0600) the dead-letter file at path. "-" is not
 * allowed (stdout carries data). Returns NULL with errno set on failure.
 */
struct dlq *dlq_open(const char *path, const char *prog);
/*
 * A dead-letter writer that keeps everything in memory (for worker
 * processes that hand their dead letters to a parent). Never NULL.
 */
struct dlq *dlq_new_mem(const char *prog);
/* The buffered, unwritten dead letters (in-memory mode: all of them). */
struct buf *dlq_buffer(struct dlq *d);
/* Flush and close; returns -1 if a write failed. dlq_close(NULL) is a no-op. */
int dlq_close(struct dlq *d);
int dlq_flush(struct dlq *d);

/*
 * Write one dead letter:
 *   {"error":{"code":CODE,"message":MSG,"program":PROG,"source":SRC,
 *    "line":N, ...extra},"record":<the line as it was>}
 * The line is spliced in unchanged when it is valid JSON (is_json); else it
 * goes into "raw" as a string (or "raw_base64" when not valid UTF-8), so
 * that `jq -c .record` re-drives what can be re-driven. extra (consumed) is
 * an object merged into "error", or jv_invalid(). d may be NULL (no file):
 * then nothing is written. Returns -1 once a write failed.
 */
int dlq_write(struct dlq *d, const char *src, unsigned long long lineno,
    const char *line, size_t len, int is_json, const char *code,
    const char *msg, jv extra);

/*
 * Report one failed input line l of src: "SRC:LINE: MESSAGE" on stderr
 * (log_at) and the line, with code and message, in the dead-letter file d
 * (may be NULL; an over-long line is marked truncated). Returns 0, or -1
 * when the dead-letter write failed (reported; callers treat it as fatal).
 */
int dlq_fail(struct dlq *d, const char *src, const struct ndjson_line *l,
    int is_json, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
/* The same with a va_list. */
int dlq_vfail(struct dlq *d, const char *src, const struct ndjson_line *l,
    int is_json, const char *code, const char *fmt, va_list ap)
	__attribute__((format(printf, 6, 0)));

#endif
