/*
 * archive - pass NDJSON through and keep it in zstd-compressed segments,
 * in a directory or in Azure Blob Storage.
 */
#include "archive.h"
#include "clock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zstd.h>

#include "cli.h"
#include "codec.h"
#include "exitcode.h"
#include "json.h"
#include "log.h"
#include "ndjson.h"
#include "stage.h"
#include "stats.h"
#include "tape.h"
#include "url.h"

#define PEND_FLUSH (256u << 10)


struct opts {
	const char *auth;
	const char *blob;
	size_t block_size;
	int cat;
	long concurrency;
	const char *conn_file;
	const char *dead_letter;
	const char *dir;
	int insecure;
	const char *cacert;
	const char *key_file;
	long level;
	int list;
	size_t max_line;
	int no_pass;
	long queue;
	double retry_time;
	const char *run_id;
	const char *sas_file;
	double seg_age;
	long seg_records;
	size_t seg_size;
	const char *spool;
	long threads;
};

static struct opts op = {
	.block_size = 8u << 20, .concurrency = 4, .level = 3,
	.max_line = NDJSON_DEFAULT_MAX_LINE, .queue = 4, .retry_time = 300,
	.seg_age = 900, .seg_size = 64u << 20, .threads = 1,
};

static const struct cli_opt options[] = {
	{ "auth", 0, CLI_STR, &op.auth, "MODE", "ARCHIVE_AUTH",
	    "blob credentials: auto (default: SAS, else key, else Entra), "
	    "key, sas or entra", 0, NULL },
	{ "blob", 0, CLI_STR, &op.blob, "URL", "ARCHIVE_BLOB",
	    "archive to this container URL (or CONTAINER[/PREFIX] of the "
	    "connection string's account)", 0, NULL },
	{ "block-size", 0, CLI_SIZE, &op.block_size, "SIZE", NULL,
	    "segments larger than SIZE go up in blocks of SIZE (Put Block "
	    "List; default 8M)", 0, NULL },
	CLI_OPT_CACERT(&op.cacert),
	{ "cat", 0, CLI_FLAG, &op.cat, NULL, NULL,
	    "write the archived records to standard output, in order", 0,
	    NULL },
	{ "concurrency", 0, CLI_LONG, &op.concurrency, "N", NULL,
	    "blocks uploaded at once (default 4)", 0, NULL },
	{ "connection-string-file", 0, CLI_STR, &op.conn_file, "FILE", NULL,
	    "read the Storage connection string from FILE (default: "
	    "AZURE_STORAGE_CONNECTION_STRING)", 0, NULL },
	{ "dead-letter", 0, CLI_STR, &op.dead_letter, "FILE",
	    "TWINPIPE_DEAD_LETTER",
	    "append lines longer than --max-line to FILE (NDJSON)", 0, NULL },
	{ "dir", 0, CLI_STR, &op.dir, "DIR", "ARCHIVE_DIR",
	    "archive to the local directory DIR", 0, NULL },
	{ "insecure", 0, CLI_FLAG, &op.insecure, NULL, NULL,
	    "do not verify TLS certificates", 0, NULL },
	{ "key-file", 0, CLI_STR, &op.key_file, "FILE", NULL,
	    "read the account key from FILE (default: AZURE_STORAGE_KEY)", 0,
	    NULL },
	{ "level", 'l', CLI_LONG, &op.level, "N", "ARCHIVE_LEVEL",
	    "zstd compression level (1-19, default 3)", 0, NULL },
	{ "list", 0, CLI_FLAG, &op.list, NULL, NULL,
	    "print the manifest of every segment, in order, and exit", 0,
	    NULL },
	{ "max-line", 0, CLI_SIZE, &op.max_line, "SIZE", "TWINPIPE_MAX_LINE",
	    "longest input line accepted (default 16M)", 0, NULL },
	{ "no-pass", 0, CLI_FLAG, &op.no_pass, NULL, NULL,
	    "do not copy the input to standard output (act as a sink)", 0,
	    NULL },
	{ "queue", 0, CLI_LONG, &op.queue, "N", NULL,
	    "finished segments that may wait for upload before reading "
	    "blocks (default 4)", 0, NULL },
	CLI_OPT_REDACT_PARAM,
	{ "retry-time", 0, CLI_DURATION, &op.retry_time, "DURATION", NULL,
	    "give up on a blob request after retrying this long (default 5m)",
	    0, NULL },
	{ "run-id", 0, CLI_STR, &op.run_id, "ID", NULL,
	    "run id in segment names (default: random)", 0, NULL },
	{ "sas-file", 0, CLI_STR, &op.sas_file, "FILE", NULL,
	    "read a SAS token from FILE (default: AZURE_STORAGE_SAS_TOKEN)",
	    0, NULL },
	{ "segment-age", 0, CLI_DURATION, &op.seg_age, "DURATION", NULL,
	    "close a segment this long after it was opened (default 15m, 0: "
	    "never)", 0, NULL },
	{ "segment-records", 0, CLI_LONG, &op.seg_records, "N", NULL,
	    "close a segment after N records (default 0: no limit)", 0,
	    NULL },
	{ "segment-size", 0, CLI_SIZE, &op.seg_size, "SIZE", NULL,
	    "close a segment after SIZE input bytes (default 64M)", 0, NULL },
	{ "spool", 0, CLI_STR, &op.spool, "DIR", "ARCHIVE_SPOOL",
	    "blob target: keep finished segments in DIR (yours, not "
	    "writable by others) until uploaded (default: under "
	    "$XDG_STATE_HOME or ~/.local/state)", 0, NULL },
	{ "threads", 'T', CLI_LONG, &op.threads, "N", "ARCHIVE_THREADS",
	    "zstd worker threads (default 1, as zstd's CLI; 0: compress in "
	    "the main thread)", 0,
	    NULL },
};

static const struct cli_prog prog = {
	"archive",
	"[OPTION]... --dir DIR | --blob URL\n"
	"--list|--cat [OPTION]... --dir DIR | --blob URL",
	"Copy NDJSON from standard input to standard output unchanged and\n"
	"keep it in zstd-compressed segments (YYYY/MM/DD/HHMMSS-RUN-SEQ\n"
	".ndjson.zst, each with a manifest) in a directory or an Azure Blob\n"
	"Storage container. Segments appear only when complete; blobs are\n"
	"never overwritten.",
	options, sizeof(options) / sizeof(options[0]),
	"Environment:\n"
	"  AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_KEY,\n"
	"  AZURE_STORAGE_SAS_TOKEN, the Entra variables (AZURE_TENANT_ID, ...)\n",
	NULL
};

struct ctx {
	struct seg seg;
	struct seg_opts so;
	const char *root;	/* --dir or the spool */
	struct up *up;
	struct buf pend;	/* lines read, not yet passed on/compressed */
	struct tape t;
	struct json_numlits lits;
	struct buf err;
	unsigned long seq;
	uint64_t in, bytes, segments, failed;
	int fatal;
	int out_dead;		/* standard output failed: archive only */
};

static void
set_fatal(struct ctx *c)
{
	if (!c->fatal)
		log_error("%s", buf_cstr(&c->err));
	c->fatal = 1;
	stage_halt();
}

/* the JSON text of _meta.src of line p[0..n), or nothing */
static void
src_of(struct ctx *c, const char *p, size_t n, struct buf *out)
{
	struct json_err je;
	uint32_t m, s;
	jv v;

	out->len = 0;
	if (tape_parse(&c->t, p, n, &je) < 0 ||
	    c->t.nodes[0].type != TAPE_OBJECT ||
	    (c->t.nodes[0].flags & TAPE_DUPS))
		return;
	m = tape_lookup(&c->t, 0, "_meta", 5);
	if (m == 0 || c->t.nodes[m].type != TAPE_OBJECT ||
	    (c->t.nodes[m].flags & TAPE_DUPS))
		return;
	s = tape_lookup(&c->t, m, "src", 3);
	if (s == 0)
		return;
	v = json_from_tape(&c->t, s, &c->lits);
	json_write(out, v, 0, &c->lits);
	jv_free(v);
}

/* pass on and compress what is pending */
static int
flush_pend(struct ctx *c)
{
	const char *last;

	if (c->pend.len == 0 || c->fatal)
		return c->fatal ? -1 : 0;
	if (!op.no_pass && !c->out_dead &&
	    fd_write_all(1, c->pend.p, c->pend.len) < 0) {
		buf_printf(&c->err, "write error on standard output: %s",
		    strerror(errno));
		c->out_dead = 1;
		set_fatal(c);
		return -1;
	}
	if (seg_write(&c->seg, c->pend.p, c->pend.len, &c->err) < 0) {
		set_fatal(c);
		return -1;
	}
	/* the last line of the batch: its _meta.src is the segment's last */
	last = c->pend.len > 1 ? memrchr(c->pend.p, '\n', c->pend.len - 1) :
	    NULL;
	last = last != NULL ? last + 1 : c->pend.p;
	src_of(c, last, (size_t)(c->pend.p + c->pend.len - 1 - last),
	    &c->seg.last_src);
	c->pend.len = 0;
	return 0;
}

static int
close_seg(struct ctx *c)
{
	if (c->seg.fd < 0)
		return 0;
	if (flush_pend(c) < 0)
		return -1;
	if (seg_close(&c->seg, &c->so, c->root, &c->err) < 0) {
		set_fatal(c);
		return -1;
	}
	c->segments++;
	log_info("segment %s: %llu records, %llu bytes -> %llu",
	    c->seg.name, (unsigned long long)c->seg.records,
	    (unsigned long long)c->seg.bytes_in,
	    (unsigned long long)c->seg.bytes_out);
	if (c->up != NULL) {
		up_enqueue(c->up, c->seg.name, 1);
		/* a bounded queue: block (never drop) while it is full */
		while (!c->fatal && up_pending(c->up) > (size_t)op.queue)
			if (up_poll(c->up, -1, -1, NULL, &c->err) < 0)
				set_fatal(c);
	}
	return c->fatal ? -1 : 0;
}

static long
age_left_ms(const struct ctx *c)
{
	double left;

	if (c->seg.fd < 0 || op.seg_age <= 0)
		return -1;
	left = c->seg.opened_mono + op.seg_age - clock_s();
	return left <= 0 ? 0 : (long)(left * 1000) + 1;
}

/* progress uploads without waiting */
static void
tick_uploads(struct ctx *c)
{
	if (c->up != NULL && !c->fatal &&
	    up_poll(c->up, 0, -1, NULL, &c->err) < 0)
		set_fatal(c);
}

/* before a read that may block: pass on, then wait while working */
static void
before_block(void *ctx)
{
	struct ctx *c = ctx;

	if (flush_pend(c) < 0)
		return;
	while (!stage_halted) {
		long t = age_left_ms(c);
		int ready = 0;

		if (t == 0) {
			if (close_seg(c) < 0)
				return;
			continue;
		}
		if (c->up != NULL) {
			if (up_poll(c->up, t, 0, &ready, &c->err) < 0) {
				set_fatal(c);
				return;
			}
		} else {
			struct pollfd p = { 0, POLLIN, 0 };
			int n = poll(&p, 1, (int)(t > 0x7fffffff ? 0x7fffffff :
			    t));

			ready = n != 0;	/* readable, hung up, or EINTR */
		}
		if (ready)
			return;
	}
}

static int
add_line(struct ctx *c, const struct ndjson_line *l)
{
	if (c->seg.fd < 0) {
		if (seg_open(&c->seg, &c->so, c->root, c->seq++, &c->err) < 0) {
			set_fatal(c);
			return -1;
		}
		src_of(c, l->p, l->len, &c->seg.first_src);
	}
	buf_add(&c->pend, l->p, l->len);
	buf_addc(&c->pend, '\n');
	c->seg.records++;
	c->in++;
	c->bytes += l->len + 1;
	if ((op.seg_records > 0 && c->seg.records >= (uint64_t)op.seg_records)
	    || c->seg.bytes_in + c->pend.len >= op.seg_size)
		return close_seg(c);
	if (c->pend.len >= PEND_FLUSH) {
		if (flush_pend(c) < 0)
			return -1;
		tick_uploads(c);
		if (age_left_ms(c) == 0)
			return close_seg(c);
	}
	return 0;
}

/* ---- reading an archive back ---- */

static int
cat_file(const char *path, const char *want_sha, struct buf *err)
{
	ZSTD_DCtx *dz = ZSTD_createDCtx();
	EVP_MD_CTX *sha = EVP_MD_CTX_new();
	size_t inn = ZSTD_DStreamInSize();
	char *ib = xmalloc(inn);
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;
	size_t last = 0;
	ssize_t n;

	EVP_DigestInit_ex(sha, EVP_sha256(), NULL);
	if (fd < 0) {
		buf_printf(err, "cannot open '%s': %s", path, strerror(errno));
		goto out;
	}
	while ((n = read(fd, ib, inn)) > 0) {
		EVP_DigestUpdate(sha, ib, (size_t)n);
		if (seg_cat(dz, ib, (size_t)n, path, &last, err) < 0)
			goto out;
	}
	if (n < 0 || last != 0) {
		buf_printf(err, "'%s': %s", path, n < 0 ? strerror(errno) :
		    "truncated zstd frame");
		goto out;
	}
	if (want_sha != NULL) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int ml;
		struct buf hex = BUF_INIT;

		EVP_DigestFinal_ex(sha, md, &ml);
		hex_encode(&hex, md, ml);
		if (strncmp(buf_cstr(&hex), want_sha, hex.len) != 0) {
			buf_printf(err, "'%s': SHA-256 differs from its "
			    "manifest", path);
			buf_release(&hex);
			goto out;
		}
		buf_release(&hex);
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(ib);
	ZSTD_freeDCtx(dz);
	EVP_MD_CTX_free(sha);
	return rc;
}

static int
read_back_dir(const char *root, int cat, struct buf *err)
{
	char **v = seg_list_dir(root, err);
	size_t i;
	int rc = 0;

	if (v == NULL)
		return -1;
	for (i = 0; v[i] != NULL && rc == 0; i++) {
		struct buf mp = BUF_INIT, man = BUF_INIT, sp = BUF_INIT;
		const char *sha = NULL;

		buf_printf(&mp, "%s/", root);
		seg_manifest_name(&mp, v[i]);
		if (buf_read_file(&man, buf_cstr(&mp)) == 0) {
			sha = seg_manifest_sha(&man);
		} else {
			man.len = 0;
			buf_printf(&man, "{\"segment\":\"%s\",\"manifest\":"
			    "null}", v[i]);
			log_warn("segment '%s' has no manifest", v[i]);
		}
		if (cat) {
			buf_printf(&sp, "%s/%s", root, v[i]);
			rc = cat_file(buf_cstr(&sp), sha, err);
		} else {
			buf_addc(&man, '\n');
			if (fd_write_all(1, man.p, man.len) < 0) {
				buf_printf(err, "write error on standard "
				    "output: %s", strerror(errno));
				rc = -1;
			}
		}
		buf_release(&mp);
		buf_release(&man);
		buf_release(&sp);
	}
	seg_names_free(v);
	return rc;
}

/* ---- configuration ---- */

static void
random_id(char *dst)
{
	unsigned char r[4];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	struct buf b = BUF_INIT;

	if (fd < 0 || read(fd, r, sizeof(r)) != (ssize_t)sizeof(r)) {
		unsigned v = (unsigned)getpid() ^ (unsigned)time(NULL);

		memcpy(r, &v, sizeof(r));
	}
	if (fd >= 0)
		close(fd);
	hex_encode(&b, r, sizeof(r));
	memcpy(dst, buf_cstr(&b), 9);
	buf_release(&b);
}

static int
valid_run_id(const char *s)
{
	if (*s == '\0' || strlen(s) > 32)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

/* resolve the blob target into uo; returns 0 or -1 (usage error logged) */
static int
blob_config(struct up_opts *uo, struct blob_target *bt, struct buf *err)
{
	const struct blob_cli bc = { op.blob, "--blob", op.conn_file,
	    op.key_file, op.sas_file, op.auth, "--auth", "--key-file",
	    "--sas-file" };

	if (blob_options_resolve(&bc, bt, err) < 0)
		return -1;
	uo->acct = bt->acct;
	uo->container = bt->container;
	uo->prefix = bt->prefix;
	uo->auth = bt->auth;
	uo->block_size = op.block_size;
	uo->concurrency = (unsigned)op.concurrency;
	uo->retry_ms = (long)(op.retry_time * 1000);
	uo->insecure = op.insecure;
	uo->cacert = op.cacert;
	return 0;
}

static void
refresh_counts(void *ctx)
{
	const struct ctx *c = ctx;

	*stats_counter("in") = c->in;
	*stats_counter("bytes") = c->bytes;
	*stats_counter("segments") = c->segments;
	*stats_counter("failed") = c->failed;
	if (c->up != NULL) {
		*stats_counter("uploaded") = up_done(c->up);
		*stats_counter("refused") = up_refused(c->up);
	}
}

/* The options that need more than the table: 0, or -1 (reported). */
static int
check_options(int argc, char **argv, int first)
{
	if (first < argc)
		return cli_usage_error(&prog, "unexpected operand '%s' (the "
		    "input is standard input)", argv[first]), -1;
	if ((op.dir != NULL) == (op.blob != NULL))
		return cli_usage_error(&prog, "give exactly one of --dir and "
		    "--blob"), -1;
	if (op.list && op.cat)
		return cli_usage_error(&prog, "give --list or --cat, not "
		    "both"), -1;
	if (op.level < 1 || op.level > ZSTD_maxCLevel() || op.threads < 0 ||
	    op.threads > 64 || op.queue < 1 || op.concurrency < 1 ||
	    op.concurrency > 64 || op.seg_records < 0 || op.seg_size < 1 ||
	    op.seg_age < 0 || op.block_size < (64u << 10) ||
	    op.block_size > (4000u << 20) || op.retry_time <= 0)
		return cli_usage_error(&prog, "a value is out of range (--level "
		    "1-%d, --threads 0-64, --queue >= 1, --concurrency 1-64, "
		    "--block-size 64k-4000M)", ZSTD_maxCLevel()), -1;
	if (op.run_id != NULL && !valid_run_id(op.run_id))
		return cli_usage_error(&prog, "--run-id: 1-32 letters, digits "
		    "or '_'"), -1;
	return 0;
}

/* What archive holds beside its context for a run. */
struct run {
	struct up_opts uo;
	struct blob_target bt;	/* what blob_config() allocated */
	struct buf spool;
	size_t spool_from;	/* where the spool's own part begins */
	int spool_strict;	/* the default spool: its owner is checked */
	int lockfd;
	char id[33];
};

/* --blob: the account, the spool and the uploader. Returns 0 or the exit
 * code. */
static int
blob_setup(struct ctx *c, struct run *rn)
{
	*stats_counter("uploaded") = 0;
	*stats_counter("refused") = 0;
	if (blob_config(&rn->uo, &rn->bt, &c->err) < 0) {
		if (c->err.len > 0)
			log_error("%s", buf_cstr(&c->err));
		return EXIT_USAGE;
	}
	if (op.spool != NULL) {
		const char *sl = strrchr(op.spool, '/');

		buf_adds(&rn->spool, op.spool);
		rn->spool_from = sl != NULL ? (size_t)(sl - op.spool) : 0;
	} else {
		spool_default(&rn->spool, &rn->spool_from, rn->uo.acct.name,
		    rn->uo.container, rn->uo.prefix);
		rn->spool_strict = 1;
	}
	c->root = buf_cstr(&rn->spool);
	if ((c->up = up_new(&rn->uo, c->root, &c->err)) == NULL) {
		log_error("%s", buf_cstr(&c->err));
		return EXIT_USAGE;
	}
	return 0;
}

/* --list, --cat: the archive read back. Returns the exit code. */
static int
read_back(struct ctx *c)
{
	int rc;

	signal(SIGPIPE, SIG_IGN);
	if (c->up != NULL)
		rc = up_read_back(c->up, op.cat, &c->err);
	else
		rc = read_back_dir(c->root, op.cat, &c->err);
	if (rc < 0) {
		log_error("%s", buf_cstr(&c->err));
		return EXIT_FATAL;
	}
	return EXIT_ALL_OK;
}

/* The directory segments go to: a private spool (whoever can write there
 * decides what is uploaded with our credentials), locked by one process,
 * which owns its segments; or --dir. Returns 0 or the exit code. */
static int
root_prepare(struct ctx *c, struct run *rn)
{
	struct buf lp = BUF_INIT;

	if (c->up == NULL) {
		if (mkdir(c->root, 0777) < 0 && errno != EEXIST) {
			log_error("cannot create directory '%s': %s", c->root,
			    strerror(errno));
			return EXIT_USAGE;
		}
		return 0;
	}
	if (spool_prepare(c->root, rn->spool_from, rn->spool_strict,
	    &c->err) < 0) {
		log_error("%s", buf_cstr(&c->err));
		return EXIT_USAGE;
	}
	buf_printf(&lp, "%s/.lock", c->root);
	rn->lockfd = open(buf_cstr(&lp), O_RDWR | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	buf_release(&lp);
	if (rn->lockfd < 0 || flock(rn->lockfd, LOCK_EX | LOCK_NB) < 0) {
		log_error("spool '%s' is in use by another archive process "
		    "(give each its own --spool)", c->root);
		return EXIT_USAGE;
	}
	return 0;
}

/* The uploader started, with the segments an earlier run finished but
 * did not upload. Returns 0 or the exit code. */
static int
resume_uploads(struct ctx *c)
{
	char **v;
	size_t i;

	if (c->up == NULL)
		return 0;
	if (up_start(c->up, &c->err) < 0) {
		log_error("%s", buf_cstr(&c->err));
		return EXIT_FATAL;
	}
	v = seg_list_dir(c->root, &c->err);
	for (i = 0; v != NULL && v[i] != NULL; i++) {
		log_warn("'%s' was left in the spool by an earlier run: "
		    "uploading it once its manifest vouches for it", v[i]);
		up_enqueue(c->up, v[i], 0);
	}
	seg_names_free(v);
	return 0;
}

/* Standard input passed on and archived; at EOF, a signal or a fatal
 * error, what was read is kept. Returns the exit code so far. */
static int
run(struct ctx *c, struct stage *st)
{
	struct ndjson_reader *r = ndjson_reader_new(0, "<stdin>", op.max_line,
	    before_block, c, &stage_halted);
	struct ndjson_line l;
	int rc = 0, status = EXIT_ALL_OK;

	while (!c->fatal && (rc = ndjson_read(r, &l)) > 0) {
		if (l.too_long) {
			c->failed++;
			if (dlq_fail(st->dlq, "<stdin>", &l, 0, "line_too_long",
			    "line longer than --max-line (%zu bytes): not "
			    "passed on, not archived", l.len) < 0) {
				buf_printf(&c->err, "dead-letter write failed");
				set_fatal(c);
			}
			continue;
		}
		if (add_line(c, &l) < 0)
			break;
		stats_tick();
	}
	if (rc < 0 && !c->fatal) {
		buf_printf(&c->err, "read error on standard input: %s",
		    strerror(errno));
		set_fatal(c);
	}
	ndjson_reader_free(r);
	if (c->seg.fd >= 0) {
		int was = c->fatal;

		c->fatal = 0;	/* still pass on and store what we have */
		if (close_seg(c) < 0 && !was)
			status = EXIT_FATAL;
		c->fatal |= was;
	}
	while (c->up != NULL && !c->fatal && up_pending(c->up) > 0)
		if (up_poll(c->up, -1, -1, NULL, &c->err) < 0)
			set_fatal(c);
	st->fatal = c->fatal;
	st->stopped = stage_stop != 0;
	refresh_counts(c);
	return status;
}

int
main(int argc, char **argv)
{
	struct cli_common common;
	struct ctx c;
	struct run rn;
	struct stage st;
	int first, status = EXIT_USAGE;

	memset(&c, 0, sizeof(c));
	memset(&rn, 0, sizeof(rn));
	rn.lockfd = -1;
	seg_init(&c.seg);
	first = cli_parse(&prog, argc, argv, &common);
	if (first < 0 || check_options(argc, argv, first) < 0)
		goto out;
	if (op.run_id != NULL)
		snprintf(rn.id, sizeof(rn.id), "%s", op.run_id);
	else
		random_id(rn.id);
	c.so.level = (int)op.level;
	c.so.threads = (int)op.threads;
	c.so.run = rn.id;
	refresh_counts(&c);	/* registers our counters first */
	c.root = op.dir;
	if ((op.blob != NULL && (status = blob_setup(&c, &rn)) != 0))
		goto out;
	if (op.list || op.cat) {
		status = read_back(&c);
		goto out;
	}
	if ((status = root_prepare(&c, &rn)) != 0)
		goto out;
	seg_report_stale(c.root);
	/* standard input, the dead letters, the signals */
	if ((status = stage_begin(&st, argc, argv, argc, op.dead_letter,
	    "archive")) != 0)
		goto out;
	if ((status = resume_uploads(&c)) != 0) {
		stage_free(&st);
		goto out;
	}
	stats_set_refresh(refresh_counts, &c);
	status = run(&c, &st);
	status = stage_end(&st, status, common.stats, c.failed,
	    c.up != NULL && c.fatal ? "every record read was passed on and "
	    "archived in the spool" : "every record read was passed on and "
	    "archived");
out:
	seg_release(&c.seg);
	up_free(c.up);
	if (rn.lockfd >= 0)
		close(rn.lockfd);
	blob_target_release(&rn.bt);
	buf_release(&rn.spool);
	buf_release(&c.pend);
	buf_release(&c.err);
	tape_release(&c.t);
	json_numlits_release(&c.lits);
	return status;
}
