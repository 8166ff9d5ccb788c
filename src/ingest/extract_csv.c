/*
 * extract_csv.c - CSV/TSV (RFC 4180) through libcsv: one object per row,
 * keyed by the header row.
 *
 * The input is fed to libcsv one physical line at a time, so that a row's
 * raw text (for the dead-letter file) and its line number are known. A
 * parse error (a stray quote) fails that row only: the parser restarts at
 * the next line.
 */
#include "extract.h"

#include <csv.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "stats.h"

#define CSV_BLOCK (64 * 1024)

struct col {
	char *name;
	struct buf key;		/* "\"name\":" */
	enum csv_type type;
};

struct csvx {
	struct extract *x;
	const struct csv_opts *o;
	struct col *cols;
	size_t ncols, cap;
	int header_done;
	size_t field;		/* fields of the current row so far */
	int bad;		/* the current row failed (code/msg set) */
	const char *code;
	char msg[512];
	unsigned long long row, line, row_line;
	struct buf raw;		/* the current row's raw text */
	int fatal;
};

static int
set_type(void *ctx, const char *name, size_t n, enum csv_type ty)
{
	struct csvx *c = ctx;
	size_t i;

	for (i = 0; i < c->ncols; i++)
		if (strlen(c->cols[i].name) == n &&
		    memcmp(c->cols[i].name, name, n) == 0) {
			c->cols[i].type = ty;
			return 0;
		}
	return -1;
}

/* ---- libcsv callbacks ---- */

static void
on_field(void *s, size_t n, void *ctx)
{
	struct csvx *c = ctx;
	struct extract *x = c->x;
	struct col *col;
	size_t save;
	char cm[256];

	if (c->field == 0)
		c->row_line = c->line;
	if (!c->header_done) {
		if (c->ncols == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 16;
			c->cols = xrealloc(c->cols, c->cap * sizeof(*c->cols));
		}
		col = &c->cols[c->ncols++];
		memset(col, 0, sizeof(*col));
		if (c->o->no_header) {
			char nm[32];

			snprintf(nm, sizeof(nm), "c%zu", c->ncols);
			col->name = xstrdup(nm);
		} else {
			col->name = xmalloc(n + 1);
			if (n > 0)
				memcpy(col->name, s, n);
			col->name[n] = '\0';
			if (!json_utf8_valid(col->name, n)) {
				c->bad = 1;
				c->code = "bad_header";
				snprintf(c->msg, sizeof(c->msg), "header "
				    "column %zu is not valid UTF-8", c->ncols);
			}
		}
		json_write_string(&col->key, col->name, strlen(col->name), 0);
		buf_addc(&col->key, ':');
		if (!c->o->no_header) {
			c->field++;
			return;
		}
	}
	if (c->bad)
		goto next;
	if (c->field >= c->ncols) {
		c->bad = 1;
		c->code = "too_many_fields";
		snprintf(c->msg, sizeof(c->msg), "row has more fields than "
		    "the header's %zu", c->ncols);
		goto next;
	}
	col = &c->cols[c->field];
	if (x->rec.len == 0)
		buf_addc(&x->rec, '{');
	else
		buf_addc(&x->rec, ',');
	buf_add(&x->rec, col->key.p, col->key.len);
	save = x->rec.len;
	if (s == NULL) {	/* CSV_EMPTY_IS_NULL: unquoted empty */
		buf_adds(&x->rec, "null");
	} else if (extract_csv_convert(col->type, s, n, &x->rec, &x->t,
	    &x->canon, cm, sizeof(cm)) < 0) {
		x->rec.len = save;
		snprintf(c->msg, sizeof(c->msg), "column '%.200s': %.250s",
		    col->name, cm);
		c->bad = 1;
		c->code = "bad_value";
	}
	if (x->rec.len > x->max_record && !c->bad) {
		c->bad = 1;
		c->code = "record_too_long";
		snprintf(c->msg, sizeof(c->msg), "record longer than "
		    "--max-record (%zu bytes)", x->max_record);
	}
next:
	c->field++;
}

static void
row_fail(struct csvx *c)
{
	struct extract *x = c->x;
	size_t n = c->raw.len;

	while (n > 0 && (c->raw.p[n - 1] == '\n' || c->raw.p[n - 1] == '\r'))
		n--;
	x->failed++;
	if (extract_fail(x, c->row_line, c->raw.p, n, 0, c->code, "row %llu: "
	    "%s", c->row, c->msg) < 0)
		c->fatal = 1;
}

static void
on_row(int term, void *ctx)
{
	struct csvx *c = ctx;
	struct extract *x = c->x;

	(void)term;
	if (c->fatal)
		return;
	if (!c->header_done) {
		char msg[256];

		c->header_done = 1;
		if (c->o->types != NULL &&
		    extract_types_each(c->o->types, msg, sizeof(msg), set_type, c) < 0) {
			log_error("--types: %s", msg);
			c->fatal = 1;
			return;
		}
		if (c->bad) {
			log_error("%s", c->msg);
			c->fatal = 1;
			return;
		}
		for (size_t i = 0; i < c->ncols; i++)
			for (size_t j = i + 1; j < c->ncols; j++)
				if (strcmp(c->cols[i].name,
				    c->cols[j].name) == 0) {
					log_error("%s: header: column '%s' "
					    "appears twice (columns %zu and %zu)",
					    x->source, c->cols[i].name, i + 1,
					    j + 1);
					c->fatal = 1;
					return;
				}
		if (!c->o->no_header) {
			c->field = 0;
			c->raw.len = 0;
			return;
		}
	}
	c->row++;
	x->in++;
	if (c->bad) {
		row_fail(c);
	} else {
		if (x->rec.len == 0)
			buf_addc(&x->rec, '{');
		if (extract_emit(x, "row", c->row, NULL, 0) < 0)
			c->fatal = 1;
		else
			stats_tick();
	}
	x->rec.len = 0;
	c->field = 0;
	c->bad = 0;
	c->raw.len = 0;
}

/* A stray quote: fail the row read so far and restart at the next line. */
static int
restart(struct csvx *c, struct csv_parser *p, int opts)
{
	if (!c->bad) {
		c->bad = 1;
		c->code = "bad_quote";
		snprintf(c->msg, sizeof(c->msg), "malformed quoting (%s)",
		    csv_strerror(csv_error(p)));
	}
	if (c->header_done) {
		c->row++;
		c->x->in++;
		row_fail(c);
	} else {
		log_error("%s:%llu: header: %s", c->x->source, c->line,
		    c->msg);
		c->fatal = 1;
	}
	c->x->rec.len = 0;
	c->field = 0;
	c->bad = 0;
	c->raw.len = 0;
	csv_free(p);
	if (csv_init(p, (unsigned char)opts) != 0)
		abort();
	csv_set_delim(p, c->o->delimiter);
	return c->fatal ? -1 : 0;
}

int
extract_csv(struct extract *x, int fd, const struct csv_opts *o)
{
	struct csv_parser p;
	struct csvx c = { 0 };
	char *blk = xmalloc(CSV_BLOCK);
	struct buf carry = BUF_INIT;	/* a partial line */
	int opts = CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL;
	int rc = -1, first = 1, skip = 0;
	ssize_t got;
	size_t i;

	if (o->empty_null)
		opts |= CSV_EMPTY_IS_NULL;
	c.x = x;
	c.o = o;
	if (csv_init(&p, (unsigned char)opts) != 0)
		abort();
	csv_set_delim(&p, o->delimiter);
	csv_set_blk_size(&p, 4096);
	for (;;) {
		const char *q, *end, *nl;

		if (*x->stop) {	/* main reports the interruption */
			rc = 0;
			goto out;
		}
		got = read(fd, blk, CSV_BLOCK);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			log_error("read error on '%s': %s", x->file,
			    strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		q = blk;
		end = blk + got;
		if (first) {
			first = 0;
			if (got >= 3 && memcmp(q, "\xef\xbb\xbf", 3) == 0)
				q += 3;
		}
		while (q < end) {
			const char *ln;
			size_t ll;

			nl = memchr(q, '\n', (size_t)(end - q));
			if (nl == NULL) {
				buf_add(&carry, q, (size_t)(end - q));
				break;
			}
			if (carry.len > 0) {
				buf_add(&carry, q, (size_t)(nl + 1 - q));
				ln = carry.p;
				ll = carry.len;
			} else {
				ln = q;
				ll = (size_t)(nl + 1 - q);
			}
			q = nl + 1;
			c.line++;
			if (skip) {	/* rest of a too-long row */
				carry.len = 0;
				continue;
			}
			buf_add(&c.raw, ln, ll);
			if (csv_parse(&p, ln, ll, on_field, on_row, &c) != ll &&
			    restart(&c, &p, opts) < 0)
				goto out;
			carry.len = 0;
			if (c.fatal)
				goto out;
			if (c.raw.len > x->max_record) {
				/* an unterminated quoted field, probably */
				c.bad = 1;
				c.code = "record_too_long";
				snprintf(c.msg, sizeof(c.msg), "row longer "
				    "than --max-record (%zu bytes)",
				    x->max_record);
				c.raw.len = 1024;
				if (restart(&c, &p, opts) < 0)
					goto out;
			}
		}
		(void)i;
	}
	if (carry.len > 0) {
		c.line++;
		buf_add(&c.raw, carry.p, carry.len);
		if (csv_parse(&p, carry.p, carry.len, on_field, on_row, &c) !=
		    carry.len && restart(&c, &p, opts) < 0)
			goto out;
	}
	if (csv_fini(&p, on_field, on_row, &c) != 0) {
		if (restart(&c, &p, opts) < 0)
			goto out;
	}
	if (c.fatal)
		goto out;
	rc = 0;
out:
	csv_free(&p);
	for (i = 0; i < c.ncols; i++) {
		free(c.cols[i].name);
		buf_release(&c.cols[i].key);
	}
	free(c.cols);
	buf_release(&c.raw);
	buf_release(&carry);
	free(blk);
	return rc;
}
