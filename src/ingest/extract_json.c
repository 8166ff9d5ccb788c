/*
 * extract_json.c - NDJSON files, and the elements of an array inside one
 * (huge) JSON document, streamed in bounded memory.
 *
 * The streaming scanner only finds where values begin and end (strings,
 * escapes, nesting) and walks object members down the --items path; every
 * element is then parsed by tape_parse(), so elements get the same strict
 * RFC 8259 checks as every other JSON text in twinpipe. A broken element
 * whose bounds are clear (e.g. NaN, a bad escape) is a record error; a
 * document whose structure breaks (an unterminated string, a missing
 * bracket, trailing garbage) is a fatal error with no snapshot announced.
 */
#include "extract.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "stats.h"

#define JS_BLOCK (64 * 1024)
#define JS_MAX_STEPS 32

/* ---- --items paths ---- */

struct items {
	char *step[JS_MAX_STEPS];	/* decoded member names */
	size_t nstep;
};

static void
items_free(struct items *it)
{
	size_t i;

	for (i = 0; i < it->nstep; i++)
		free(it->step[i]);
	it->nstep = 0;
}

/* ".a.b[]", ".[\"x y\"]", ".a", ".", ".[]" */
static int
items_parse(const char *s, struct items *it, char *msg, size_t msglen)
{
	struct tape t = TAPE_INIT;
	struct json_err je;
	const char *p = s;

	it->nstep = 0;
	if (*p != '.') {
		snprintf(msg, msglen, "'%s': a path starts with '.'", s);
		return -1;
	}
	while (*p != '\0') {
		const char *b;

		if (strcmp(p, "[]") == 0 || strcmp(p, ".[]") == 0 ||
		    strcmp(p, ".") == 0)
			break;
		if (it->nstep == JS_MAX_STEPS)
			goto bad;
		if (p[0] == '.' && p[1] == '[')
			p++;
		if (p[0] == '.' && (p[1] == '_' || (p[1] | 32) >= 'a') &&
		    (p[1] | 32) <= 'z') {
			b = ++p;
			while ((*p | 32) >= 'a' && (*p | 32) <= 'z')
				p++;
			while (*p == '_' || (*p >= '0' && *p <= '9') ||
			    ((*p | 32) >= 'a' && (*p | 32) <= 'z'))
				p++;
			it->step[it->nstep] = xmalloc((size_t)(p - b) + 1);
			memcpy(it->step[it->nstep], b, (size_t)(p - b));
			it->step[it->nstep++][p - b] = '\0';
			continue;
		}
		if (p[0] == '.' && p[1] == '"')
			p++;
		else if (p[0] == '[' && p[1] == '"')
			p++;
		else
			goto bad;
		b = p++;
		while (*p != '\0' && *p != '"')
			p += *p == '\\' && p[1] != '\0' ? 2 : 1;
		if (*p != '"')
			goto bad;
		p++;
		if (tape_parse(&t, b, (size_t)(p - b), &je) < 0 ||
		    memchr(t.nodes[0].p, '\0', t.nodes[0].n) != NULL)
			goto bad;
		it->step[it->nstep] = xmalloc(t.nodes[0].n + 1);
		memcpy(it->step[it->nstep], t.nodes[0].p, t.nodes[0].n);
		it->step[it->nstep++][t.nodes[0].n] = '\0';
		if (b[-1] == '[') {
			if (*p != ']')
				goto bad;
			p++;
		}
	}
	tape_release(&t);
	return 0;
bad:
	tape_release(&t);
	items_free(it);
	snprintf(msg, msglen, "'%s': expected a path like .value, "
	    ".d.results[] or .[\"a b\"][]", s);
	return -1;
}

int
extract_items_check(const char *items, char *msg, size_t msglen)
{
	struct items it;

	if (items_parse(items, &it, msg, msglen) < 0)
		return -1;
	items_free(&it);
	return 0;
}

int
extract_items_find(const char *items, const struct tape *t, uint32_t *arr,
    char *msg, size_t msglen)
{
	struct items it;
	uint32_t i = 0;
	size_t k;

	if (items_parse(items != NULL ? items : ".[]", &it, msg, msglen) < 0)
		return -1;
	for (k = 0; k < it.nstep; k++) {
		if (t->nodes[i].type != TAPE_OBJECT) {
			snprintf(msg, msglen, "the value at step %zu of --items "
			    "is not an object", k + 1);
			goto fail;
		}
		i = tape_lookup(t, i, it.step[k], strlen(it.step[k]));
		if (i == 0) {
			snprintf(msg, msglen, "no member '%s' at step %zu of "
			    "--items", it.step[k], k + 1);
			goto fail;
		}
	}
	if (t->nodes[i].type != TAPE_ARRAY) {
		snprintf(msg, msglen, "the value at --items is not an array");
		goto fail;
	}
	items_free(&it);
	*arr = i;
	return 0;
fail:
	items_free(&it);
	return -1;
}

/* ---- the scanner ---- */

struct js {
	int fd;
	char *b;
	size_t pos, len;
	int eof, err;
	unsigned long long off;	/* offset of b[0] in the document */
	volatile sig_atomic_t *stop;
};

static int
js_fill(struct js *s)
{
	ssize_t got;

	if (s->eof)
		return 0;
	s->off += s->len;
	s->pos = s->len = 0;
	for (;;) {
		if (*s->stop) {
			s->eof = 1;
			s->err = EINTR;
			return 0;
		}
		got = read(s->fd, s->b, JS_BLOCK);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			s->err = errno;
			s->eof = 1;
			return 0;
		}
		if (got == 0) {
			s->eof = 1;
			return 0;
		}
		s->len = (size_t)got;
		return 1;
	}
}

/* The next byte without consuming it, or -1 at the end. */
static inline int
js_peek(struct js *s)
{
	if (s->pos == s->len && !js_fill(s))
		return -1;
	return (unsigned char)s->b[s->pos];
}

static inline unsigned long long
js_at(const struct js *s)
{
	return s->off + s->pos;
}

static int
js_ws(struct js *s)
{
	int c;

	while ((c = js_peek(s)) == ' ' || c == '\t' || c == '\n' || c == '\r')
		s->pos++;
	return c;
}

/*
 * Copy one value to out (at most max bytes kept; *trunc set beyond) and
 * consume it. Checks only structure. Returns 0, or -1 with msg filled.
 */
static int
js_value(struct js *s, struct buf *out, size_t max, int *trunc, char *msg,
    size_t msglen)
{
	int c, depth = 0, instr = 0, esc = 0;
	char stack[JSON_MAX_DEPTH + 1];

	c = js_ws(s);
	if (c < 0 || c == ',' || c == ']' || c == '}' || c == ':') {
		snprintf(msg, msglen, "expected a value at byte %llu",
		    js_at(s));
		return -1;
	}
	for (;;) {
		size_t start = s->pos, i;
		int done = 0;

		if (s->pos == s->len && !js_fill(s))
			break;
		start = s->pos;
		for (i = s->pos; i < s->len; i++) {
			c = (unsigned char)s->b[i];
			if (instr) {
				if (esc)
					esc = 0;
				else if (c == '\\')
					esc = 1;
				else if (c == '"') {
					instr = 0;
					if (depth == 0) {
						i++;
						done = 1;
						break;
					}
				}
				continue;
			}
			if (c == '"') {
				instr = 1;
			} else if (c == '{' || c == '[') {
				if (depth == JSON_MAX_DEPTH) {
					snprintf(msg, msglen, "nesting deeper "
					    "than %d at byte %llu",
					    JSON_MAX_DEPTH, s->off + i);
					return -1;
				}
				stack[depth++] = (char)(c == '{' ? '}' : ']');
			} else if (c == '}' || c == ']') {
				if (depth == 0) {
					done = 1;	/* end of a scalar */
					break;
				}
				if (stack[depth - 1] != c) {
					snprintf(msg, msglen, "'%c' does not "
					    "close '%c' at byte %llu", c,
					    stack[depth - 1] == '}' ? '{' : '[',
					    s->off + i);
					return -1;
				}
				if (--depth == 0) {
					i++;
					done = 1;
					break;
				}
			} else if (depth == 0 && (c == ',' || c == ' ' ||
			    c == '\t' || c == '\n' || c == '\r' || c == ':')) {
				done = 1;	/* end of a scalar */
				break;
			}
		}
		if (!*trunc) {
			if (out->len + (i - start) > max)
				*trunc = 1;
			else
				buf_add(out, s->b + start, i - start);
		}
		s->pos = i;
		if (done)
			return 0;
	}
	if (s->err) {
		snprintf(msg, msglen, "read error: %s", strerror(s->err));
		return -1;
	}
	if (depth == 0 && !instr && out->len > 0)
		return 0;	/* a scalar at the very end */
	snprintf(msg, msglen, "unexpected end of the document at byte %llu "
	    "(%s)", js_at(s), instr ? "inside a string" : "unclosed "
	    "array or object");
	return -1;
}

static int
js_expect(struct js *s, int want, char *msg, size_t msglen)
{
	int c = js_ws(s);

	if (c != want) {
		if (c < 0)
			snprintf(msg, msglen, "expected '%c' at byte %llu, got "
			    "the end of the document", want, js_at(s));
		else
			snprintf(msg, msglen, "expected '%c' at byte %llu, got "
			    "'%c'", want, js_at(s), c);
		return -1;
	}
	s->pos++;
	return 0;
}

/* One element of the items array: parse, check, emit or dead-letter. */
static int
element(struct extract *x, struct buf *v, int trunc, unsigned long long row,
    unsigned long long at)
{
	struct json_err je;

	x->in++;
	if (trunc) {
		x->failed++;
		return extract_fail(x, row, v->p, v->len > 1024 ? 1024 : v->len,
		    0, "record_too_long", "element %llu (byte %llu) is longer "
		    "than --max-record (%zu bytes)", row, at, x->max_record);
	}
	if (tape_parse(&x->t, v->p, v->len, &je) < 0) {
		x->failed++;
		return extract_fail(x, row, v->p, v->len, 0, "invalid_json",
		    "element %llu (byte %llu): invalid JSON at column %zu: %s",
		    row, at, je.off + 1, je.msg);
	}
	if (x->t.nodes[0].type != TAPE_OBJECT) {
		x->failed++;
		return extract_fail(x, row, v->p, v->len, 1, "not_an_object",
		    "element %llu (byte %llu) is not a JSON object", row, at);
	}
	return extract_emit_tape(x, &x->t, 0, "row", row);
}

/*
 * Walk down to the array at it->step[lvl..], stream it, and skip the rest
 * of every enclosing object. Returns 0, -1 fatal (msg), -2 output failed.
 */
static int
walk(struct extract *x, struct js *s, const struct items *it, size_t lvl,
    struct buf *v, unsigned long long *row, char *msg, size_t msglen)
{
	struct tape kt = TAPE_INIT;
	struct json_err je;
	int c, found = 0, trunc, rc = -1;

	if (lvl == it->nstep) {
		c = js_ws(s);
		if (c == '{' && it->nstep == 0 && *row == 0) {
			/* the document is one object: one record */
			unsigned long long at = js_at(s);

			v->len = 0;
			trunc = 0;
			if (js_value(s, v, x->max_record, &trunc, msg,
			    msglen) < 0)
				return -1;
			*row = 1;
			return element(x, v, trunc, 1, at) < 0 ? -2 : 0;
		}
		if (js_expect(s, '[', msg, msglen) < 0) {
			if (c >= 0)
				snprintf(msg, msglen, "the value at --items "
				    "(byte %llu) is not an array", js_at(s));
			return -1;
		}
		if (js_ws(s) == ']') {
			s->pos++;
			return 0;
		}
		for (;;) {
			unsigned long long at;

			if (*x->stop)
				return 0;
			js_ws(s);
			at = js_at(s);
			v->len = 0;
			trunc = 0;
			if (js_value(s, v, x->max_record, &trunc, msg,
			    msglen) < 0)
				return -1;
			if (element(x, v, trunc, ++*row, at) < 0)
				return -2;
			c = js_ws(s);
			if (c == ',') {
				s->pos++;
				continue;
			}
			if (c == ']') {
				s->pos++;
				return 0;
			}
			return js_expect(s, ']', msg, msglen);
		}
	}
	if (js_expect(s, '{', msg, msglen) < 0) {
		snprintf(msg, msglen, "the value at step %zu of --items is not "
		    "an object", lvl + 1);
		return -1;
	}
	if (js_ws(s) == '}') {
		s->pos++;
		goto done;
	}
	for (;;) {
		int match;

		if (js_ws(s) != '"') {
			js_expect(s, '"', msg, msglen);
			goto out;
		}
		v->len = 0;
		trunc = 0;
		if (js_value(s, v, 65536, &trunc, msg, msglen) < 0)
			goto out;
		if (trunc || tape_parse(&kt, v->p, v->len, &je) < 0) {
			snprintf(msg, msglen, "bad member name at byte %llu",
			    js_at(s));
			goto out;
		}
		match = !found && strlen(it->step[lvl]) == kt.nodes[0].n &&
		    memcmp(kt.nodes[0].p, it->step[lvl], kt.nodes[0].n) == 0;
		if (js_expect(s, ':', msg, msglen) < 0)
			goto out;
		if (match) {
			found = 1;
			rc = walk(x, s, it, lvl + 1, v, row, msg, msglen);
			if (rc < 0 || *x->stop)
				goto out;
			rc = -1;
		} else {
			v->len = 0;
			trunc = 1;	/* skip without keeping */
			if (js_value(s, v, 0, &trunc, msg, msglen) < 0)
				goto out;
		}
		c = js_ws(s);
		if (c == ',') {
			s->pos++;
			continue;
		}
		if (js_expect(s, '}', msg, msglen) < 0)
			goto out;
		break;
	}
done:
	if (!found) {
		snprintf(msg, msglen, "no member '%s' at step %zu of --items",
		    it->step[lvl], lvl + 1);
		goto out;
	}
	rc = 0;
out:
	tape_release(&kt);
	return rc;
}

int
extract_json(struct extract *x, int fd, const char *items)
{
	struct items it = { .nstep = 0 };
	struct js s = { 0 };
	struct buf v = BUF_INIT;
	unsigned long long row = 0;
	char msg[512];
	int rc = -1, r;

	if (items != NULL && items_parse(items, &it, msg, sizeof(msg)) < 0) {
		log_error("--items: %s", msg);
		return -1;
	}
	s.fd = fd;
	s.b = xmalloc(JS_BLOCK);
	s.stop = x->stop;
	if (js_peek(&s) == 0xef) {	/* a UTF-8 BOM */
		if (s.len >= 3 && memcmp(s.b, "\xef\xbb\xbf", 3) == 0)
			s.pos = 3;
	}
	r = walk(x, &s, &it, 0, &v, &row, msg, sizeof(msg));
	if (r == -2)
		goto out;
	if (r == 0 && !*x->stop && js_ws(&s) >= 0) {
		snprintf(msg, sizeof(msg), "trailing data at byte %llu",
		    js_at(&s));
		r = -1;
	}
	if (r == 0 && s.err && !*x->stop) {
		snprintf(msg, sizeof(msg), "read error: %s", strerror(s.err));
		r = -1;
	}
	if (r < 0 && *x->stop && s.err == EINTR) {
		rc = 0;		/* cut by a signal: the caller says so */
		goto out;
	}
	if (r < 0) {
		log_error("%s: %s", x->file, msg);
		goto out;
	}
	rc = 0;
out:
	items_free(&it);
	buf_release(&v);
	free(s.b);
	return rc;
}

/* ---- NDJSON ---- */

/* {"_meta":{"control":...}} and nothing else */
static int
is_control(const struct tape *t)
{
	uint32_t m;

	if (t->nodes[0].n != 1 || (m = tape_lookup(t, 0, "_meta", 5)) == 0 ||
	    t->nodes[m].type != TAPE_OBJECT || (t->nodes[m].flags & TAPE_DUPS))
		return 0;
	return tape_lookup(t, m, "control", 7) != 0;
}

int
extract_ndjson(struct extract *x, int fd, size_t max_line)
{
	struct ndjson_reader *r;
	struct ndjson_line l;
	struct json_err je;
	int got, rc = 0;

	r = ndjson_reader_new(fd, x->file, max_line, NULL, NULL, x->stop);
	while ((got = ndjson_read(r, &l)) > 0) {
		if (ndjson_blank(l.p, l.len)) {
			x->blank++;
			continue;
		}
		x->in++;
		if (l.too_long) {
			x->failed++;
			if (dlq_fail(x->dlq, x->source, &l, 0, "line_too_long",
			    "line longer than --max-record (%zu bytes)",
			    max_line) < 0)
				goto fatal;
			continue;
		}
		if (tape_parse(&x->t, l.p, l.len, &je) < 0) {
			x->failed++;
			if (dlq_fail(x->dlq, x->source, &l, 0, "invalid_json",
			    "invalid JSON at column %zu: %s", je.off + 1,
			    je.msg) < 0)
				goto fatal;
			continue;
		}
		if (x->t.nodes[0].type != TAPE_OBJECT) {
			x->failed++;
			if (dlq_fail(x->dlq, x->source, &l, 1, "not_an_object",
			    "record is not a JSON object") < 0)
				goto fatal;
			continue;
		}
		if (is_control(&x->t)) {	/* passes untouched */
			x->control++;
			if (ndjson_write_line(x->w, l.p, l.len) < 0)
				goto fatal;
			continue;
		}
		if (extract_emit_tape(x, &x->t, 0, "line", l.lineno) < 0)
			goto fatal;
	}
	if (got < 0) {
		log_error("read error on '%s': %s", x->file, strerror(errno));
		rc = -1;
	}
	ndjson_reader_free(r);
	return rc;
fatal:
	ndjson_reader_free(r);
	return -1;
}
