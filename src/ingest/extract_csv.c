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

static const struct {
	const char *name;
	enum csv_type type;
} type_names[] = {
	{ "string", CT_STRING }, { "int", CT_INT }, { "number", CT_NUMBER },
	{ "bool", CT_BOOL }, { "datetime", CT_DATETIME }, { "json", CT_JSON },
};

/* Iterate "col=type,..." calling fn for each; -1 stops with msg filled. */
static int
types_each(const char *types, char *msg, size_t msglen,
    int (*fn)(void *, const char *, size_t, enum csv_type), void *ctx)
{
	const char *p = types;

	while (*p != '\0') {
		const char *comma = strchr(p, ','), *eq;
		size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
		size_t i, tn;

		eq = memchr(p, '=', n);
		if (eq == NULL || eq == p) {
			snprintf(msg, msglen, "'%.*s': expected COLUMN=TYPE",
			    (int)n, p);
			return -1;
		}
		tn = n - (size_t)(eq + 1 - p);
		for (i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
			if (strlen(type_names[i].name) == tn &&
			    memcmp(type_names[i].name, eq + 1, tn) == 0)
				break;
		if (i == sizeof(type_names) / sizeof(type_names[0])) {
			snprintf(msg, msglen, "unknown type '%.*s' (int, "
			    "number, bool, datetime, json, string)", (int)tn,
			    eq + 1);
			return -1;
		}
		if (fn != NULL && fn(ctx, p, (size_t)(eq - p),
		    type_names[i].type) < 0) {
			snprintf(msg, msglen, "no column '%.*s' in the header",
			    (int)(eq - p), p);
			return -1;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

int
extract_csv_check_types(const char *types, char *msg, size_t msglen)
{
	return types_each(types, msg, msglen, NULL, NULL);
}

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

/* ---- conversions ---- */

static int
is_json_number(const char *s, size_t n)
{
	size_t i = 0;

	if (i < n && s[i] == '-')
		i++;
	if (i >= n)
		return 0;
	if (s[i] == '0')
		i++;
	else if (s[i] >= '1' && s[i] <= '9')
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	else
		return 0;
	if (i < n && s[i] == '.') {
		i++;
		if (i >= n || s[i] < '0' || s[i] > '9')
			return 0;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= n || s[i] < '0' || s[i] > '9')
			return 0;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	return i == n;
}

static int
digits(const char *s, size_t n, int *out)
{
	size_t i;
	int v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static long long
days_from_civil(long long y, unsigned m, unsigned d)
{
	long long era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

static void
civil_from_days(long long z, int *y, int *m, int *d)
{
	long long era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

/*
 * YYYY-MM-DD, or YYYY-MM-DD[T ]HH:MM[:SS[.frac]][Z|+HH:MM|-HH:MM|+HHMM]
 * (no zone: UTC) -> ISO 8601 UTC "YYYY-MM-DDTHH:MM:SS[.frac]Z".
 */
static int
datetime_utc(const char *s, size_t n, struct buf *out)
{
	int Y, M, D, h = 0, mi = 0, sec = 0, zh = 0, zm = 0, y2, m2, d2;
	size_t i, fs = 0, fn = 0;
	long long days, t;
	int sign = 0;

	if (n < 10 || s[4] != '-' || s[7] != '-' || digits(s, 4, &Y) < 0 ||
	    digits(s + 5, 2, &M) < 0 || digits(s + 8, 2, &D) < 0 ||
	    M < 1 || M > 12 || D < 1 || D > 31)
		return -1;
	civil_from_days(days_from_civil(Y, (unsigned)M, (unsigned)D), &y2,
	    &m2, &d2);
	if (y2 != Y || m2 != M || d2 != D)
		return -1;	/* 2023-02-30 */
	if (n == 10) {
		buf_printf(out, "\"%04d-%02d-%02d\"", Y, M, D);
		return 0;
	}
	if ((s[10] != 'T' && s[10] != 't' && s[10] != ' ') || n < 16 ||
	    digits(s + 11, 2, &h) < 0 || s[13] != ':' ||
	    digits(s + 14, 2, &mi) < 0 || h > 23 || mi > 59)
		return -1;
	i = 16;
	if (i < n && s[i] == ':') {
		if (i + 3 > n || digits(s + i + 1, 2, &sec) < 0 || sec > 60)
			return -1;
		i += 3;
		if (i < n && (s[i] == '.' || s[i] == ',')) {
			fs = ++i;
			while (i < n && s[i] >= '0' && s[i] <= '9')
				i++;
			fn = i - fs;
			if (fn == 0)
				return -1;
		}
	}
	if (i < n) {
		if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == n) {
			i++;
		} else if (s[i] == '+' || s[i] == '-') {
			sign = s[i] == '+' ? 1 : -1;
			if (i + 3 > n || digits(s + i + 1, 2, &zh) < 0)
				return -1;
			i += 3;
			if (i < n && s[i] == ':')
				i++;
			if (i + 2 != n || digits(s + i, 2, &zm) < 0 ||
			    zh > 23 || zm > 59)
				return -1;
			i += 2;
		} else {
			return -1;
		}
	}
	if (i != n)
		return -1;
	days = days_from_civil(Y, (unsigned)M, (unsigned)D);
	t = days * 86400 + h * 3600 + mi * 60 + (sec == 60 ? 59 : sec) -
	    sign * (zh * 3600 + zm * 60);
	civil_from_days(t >= 0 ? t / 86400 : (t - 86399) / 86400, &y2, &m2,
	    &d2);
	t = ((t % 86400) + 86400) % 86400;
	buf_printf(out, "\"%04d-%02d-%02dT%02d:%02d:%02d", y2, m2, d2,
	    (int)(t / 3600), (int)(t / 60 % 60),
	    sec == 60 ? 60 : (int)(t % 60));
	if (fn > 0) {
		buf_addc(out, '.');
		buf_add(out, s + fs, fn);
	}
	buf_adds(out, "Z\"");
	return 0;
}

int
extract_csv_convert(enum csv_type ty, const char *s, size_t n,
    struct buf *out, struct tape *t, struct canon *c, char *msg,
    size_t msglen)
{
	struct json_err je;
	size_t i;

	if (ty != CT_STRING && n == 0) {
		buf_adds(out, "null");
		return 0;
	}
	switch (ty) {
	case CT_STRING:
		if (!json_utf8_valid(s, n)) {
			snprintf(msg, msglen, "not valid UTF-8");
			return -1;
		}
		json_write_string(out, s, n, 0);
		return 0;
	case CT_INT:
		i = s[0] == '-' ? 1 : 0;
		if (i == n || (s[i] == '0' && n > i + 1))
			goto bad;
		for (; i < n; i++)
			if (s[i] < '0' || s[i] > '9')
				goto bad;
		buf_add(out, s, n);
		return 0;
	case CT_NUMBER:
		if (!is_json_number(s, n))
			goto bad;
		buf_add(out, s, n);
		return 0;
	case CT_BOOL:
		if ((n == 4 && strncasecmp(s, "true", 4) == 0) ||
		    (n == 1 && (s[0] == '1' || s[0] == 't' || s[0] == 'T' ||
		    s[0] == 'y' || s[0] == 'Y')) ||
		    (n == 3 && strncasecmp(s, "yes", 3) == 0)) {
			buf_adds(out, "true");
			return 0;
		}
		if ((n == 5 && strncasecmp(s, "false", 5) == 0) ||
		    (n == 1 && (s[0] == '0' || s[0] == 'f' || s[0] == 'F' ||
		    s[0] == 'n' || s[0] == 'N')) ||
		    (n == 2 && strncasecmp(s, "no", 2) == 0)) {
			buf_adds(out, "false");
			return 0;
		}
		goto bad;
	case CT_DATETIME:
		if (datetime_utc(s, n, out) < 0)
			goto bad;
		return 0;
	case CT_JSON:
		if (tape_parse(t, s, n, &je) < 0) {
			snprintf(msg, msglen, "not JSON: %s at column %zu",
			    je.msg, je.off + 1);
			return -1;
		}
		canon_write(c, out, t, 0, 0);
		return 0;
	}
bad:
	snprintf(msg, msglen, "'%.*s' is not %s", (int)(n > 40 ? 40 : n), s,
	    ty == CT_INT ? "an int" : ty == CT_NUMBER ? "a number" :
	    ty == CT_BOOL ? "a bool" : "a datetime");
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
		    types_each(c->o->types, msg, sizeof(msg), set_type, c) < 0) {
			log_error("--types: %s", msg);
			c->fatal = 1;
			return;
		}
		if (c->bad) {
			log_error("%s", c->msg);
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

		if (*x->stop)
			goto out;
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
