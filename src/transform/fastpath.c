/*
 * fastpath.c - native evaluation of a jq subset on a record's tape.
 *
 * Compile: a small recursive-descent parser that follows jq 1.6's grammar
 * and precedence (parser.y) for the subset and gives up (NULL) on anything
 * else. Run: evaluate to one value, write it; any case not handled exactly
 * makes fp_run() return 0 and the record goes through libjq.
 */
#include "fastpath.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "json.h"

/* ---- values ---- */

enum vk { V_NULL, V_FALSE, V_TRUE, V_NUM, V_STR, V_NODE, V_OBJ, V_ARR };

struct val;
struct pair;

struct val {
	uint8_t k;
	uint8_t raw_ok;		/* V_STR: no escaping needed */
	uint32_t n;		/* V_STR: bytes; V_NODE: index; V_OBJ/V_ARR:
				 * count */
	union {
		double d;
		const char *s;
		struct pair *pairs;
		struct val *elems;
	} u;
};

struct pair {
	const char *key;
	uint32_t klen;
	struct val v;
};

/* ---- program ---- */

enum nk {
	N_DOT, N_FIELD, N_INDEX, N_LIT, N_OBJ, N_ARR, N_PIPE, N_ALT, N_AND,
	N_OR, N_CMP, N_ARITH, N_NEG, N_CALL, N_IF, N_FMT
};

enum cmpop { C_EQ, C_NE, C_LT, C_LE, C_GT, C_GE };

enum builtin {
	B_TONUMBER, B_TOSTRING, B_DOWN, B_UP, B_LENGTH, B_NOT, B_TYPE,
	B_FLOOR, B_LTRIM, B_RTRIM, B_STARTS, B_ENDS, B_SUB, B_GSUB
};

struct node {
	uint8_t kind;
	uint8_t op;		/* cmpop, arith char, builtin */
	uint32_t n;		/* children / pairs / parts */
	struct node *a, *b, *c;	/* operands (N_IF: cond, then, else) */
	struct node **kids;	/* N_OBJ values, N_ARR elems, N_FMT parts */
	char **keys;		/* N_OBJ keys (NUL-terminated, exact bytes) */
	uint32_t *klens;
	char *s;		/* N_FIELD key, literal string, call args */
	uint32_t slen;
	char *s2;		/* second literal argument (sub/gsub) */
	uint32_t s2len;
	int32_t index;		/* N_INDEX */
	struct val lit;		/* N_LIT */
};

enum mtype { M_STRING, M_BOOLEAN, M_DOUBLE, M_INTEGER, M_DATETIME, M_DATE,
	M_DURATION };
enum msrc { S_FIELD, S_FILENAME, S_LINE, S_NOW };

struct fmap {
	char *src;
	uint32_t srclen;
	uint8_t special;	/* enum msrc */
	uint8_t type;		/* enum mtype */
	char **path;
	uint32_t *plens;
	uint32_t plen;
	char *ptr;		/* the Target as an RFC 6901 pointer */
	uint32_t ptrlen;
	uint8_t is_id;		/* Target $dtId */
};

struct fp {
	struct node *root;
	struct node **all;	/* every node, for fp_free */
	size_t nall, capall;
	char **strs;
	size_t nstrs, capstrs;
	/* a mapping file (mapping.c), evaluated natively */
	struct fmap *maps;
	uint32_t nmaps;
	char *model;		/* or NULL */
	char *now;
	uint8_t patch;		/* op "patch": an ADT JSON Patch per record */
	uint8_t id_file;	/* no $dtId entry: the id is $FILENAME */
};

/* ---- lexer ---- */

enum tok {
	T_EOF, T_BAD, T_DOT, T_FIELD, T_IDENT, T_VAR, T_STR, T_NUM,
	T_PIPE, T_COMMA, T_ALT, T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE,
	T_PLUS, T_MINUS, T_STAR, T_SLASH, T_LPAREN, T_RPAREN, T_LBRACK,
	T_RBRACK, T_LBRACE, T_RBRACE, T_COLON, T_SEMI
};

struct lex {
	const char *p;
	enum tok t;
	const char *ts;		/* token text (FIELD/IDENT/VAR: name) */
	size_t tn;
	double num;
	/* T_STR: the raw literal between quotes (escapes not decoded) */
	struct fp *f;
	jv args;
	int bad;
};

static int
is_id0(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int
is_id(int c)
{
	return is_id0(c) || (c >= '0' && c <= '9');
}

static void
lex_next(struct lex *l)
{
	const char *p = l->p;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (*p == '#') {
			while (*p && *p != '\n')
				p++;
			continue;
		}
		break;
	}
	l->ts = p;
	if (*p == '\0') {
		l->t = T_EOF;
		l->p = p;
		return;
	}
	if (*p == '.') {
		if (is_id0((unsigned char)p[1])) {
			const char *s = ++p;

			while (is_id((unsigned char)*p))
				p++;
			l->t = T_FIELD;
			l->ts = s;
			l->tn = (size_t)(p - s);
			l->p = p;
			return;
		}
		if (p[1] == '.') {
			l->t = T_BAD;	/* recursion */
			return;
		}
		l->t = T_DOT;
		l->p = p + 1;
		return;
	}
	if (is_id0((unsigned char)*p)) {
		const char *s = p;

		while (is_id((unsigned char)*p))
			p++;
		l->t = T_IDENT;
		l->ts = s;
		l->tn = (size_t)(p - s);
		l->p = p;
		return;
	}
	if (*p == '$') {
		const char *s = ++p;

		if (!is_id0((unsigned char)*p)) {
			l->t = T_BAD;
			return;
		}
		while (is_id((unsigned char)*p))
			p++;
		l->t = T_VAR;
		l->ts = s;
		l->tn = (size_t)(p - s);
		l->p = p;
		return;
	}
	if ((*p >= '0' && *p <= '9')) {
		char *end;

		/* jq: ([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)? */
		l->num = strtod(p, &end);
		if (end == p || *end == 'x' || *end == 'X' || is_id0(*end)) {
			l->t = T_BAD;
			return;
		}
		/* strtod accepts hex, inf, nan: guard the plain forms */
		{
			const char *q;

			for (q = p; q < end; q++)
				if (!((*q >= '0' && *q <= '9') || *q == '.' ||
				    *q == 'e' || *q == 'E' || *q == '+' ||
				    *q == '-')) {
					l->t = T_BAD;
					return;
				}
		}
		l->t = T_NUM;
		l->p = end;
		return;
	}
	if (*p == '"') {
		const char *s = ++p;

		/* find the closing quote; interpolation nests parens */
		while (*p && *p != '"') {
			if (*p == '\\' && p[1] == '(') {
				int depth = 1;

				p += 2;
				while (*p && depth > 0) {
					if (*p == '(')
						depth++;
					else if (*p == ')')
						depth--;
					else if (*p == '"') {
						/* nested string: give up */
						l->t = T_BAD;
						return;
					}
					p++;
				}
				continue;
			}
			if (*p == '\\' && p[1])
				p++;
			p++;
		}
		if (*p != '"') {
			l->t = T_BAD;
			return;
		}
		l->t = T_STR;
		l->ts = s;
		l->tn = (size_t)(p - s);
		l->p = p + 1;
		return;
	}
	l->p = p + 1;
	switch (*p) {
	case '|':
		if (p[1] == '=') {
			l->t = T_BAD;
			return;
		}
		l->t = T_PIPE;
		return;
	case ',': l->t = T_COMMA; return;
	case '/':
		if (p[1] == '/') {
			if (p[2] == '=') {
				l->t = T_BAD;
				return;
			}
			l->t = T_ALT;
			l->p = p + 2;
			return;
		}
		l->t = p[1] == '=' ? T_BAD : T_SLASH;
		return;
	case '=':
		l->t = p[1] == '=' ? T_EQ : T_BAD;
		l->p = p + 2;
		return;
	case '!':
		l->t = p[1] == '=' ? T_NE : T_BAD;
		l->p = p + 2;
		return;
	case '<':
		if (p[1] == '=') {
			l->t = T_LE;
			l->p = p + 2;
		} else
			l->t = T_LT;
		return;
	case '>':
		if (p[1] == '=') {
			l->t = T_GE;
			l->p = p + 2;
		} else
			l->t = T_GT;
		return;
	case '+': l->t = p[1] == '=' ? T_BAD : T_PLUS; return;
	case '-': l->t = p[1] == '=' ? T_BAD : T_MINUS; return;
	case '*': l->t = p[1] == '=' ? T_BAD : T_STAR; return;
	case '(': l->t = T_LPAREN; return;
	case ')': l->t = T_RPAREN; return;
	case '[': l->t = T_LBRACK; return;
	case ']': l->t = T_RBRACK; return;
	case '{': l->t = T_LBRACE; return;
	case '}': l->t = T_RBRACE; return;
	case ':': l->t = T_COLON; return;
	case ';': l->t = T_SEMI; return;
	default: l->t = T_BAD; return;
	}
}

/* ---- parser ---- */

static struct node *
node_new(struct lex *l, enum nk kind)
{
	struct fp *f = l->f;
	struct node *n = xcalloc(1, sizeof(*n));

	n->kind = (uint8_t)kind;
	if (f->nall == f->capall) {
		f->capall = f->capall ? f->capall * 2 : 32;
		f->all = xrealloc(f->all, f->capall * sizeof(*f->all));
	}
	f->all[f->nall++] = n;
	return n;
}

static char *
keep(struct lex *l, const char *s, size_t n)
{
	struct fp *f = l->f;
	char *c = xmalloc(n + 1);

	memcpy(c, s, n);
	c[n] = '\0';
	if (f->nstrs == f->capstrs) {
		f->capstrs = f->capstrs ? f->capstrs * 2 : 32;
		f->strs = xrealloc(f->strs, f->capstrs * sizeof(*f->strs));
	}
	f->strs[f->nstrs++] = c;
	return c;
}

static int
tok_is(struct lex *l, const char *word)
{
	return l->t == T_IDENT && l->tn == strlen(word) &&
	    memcmp(l->ts, word, l->tn) == 0;
}

static int
is_keyword(const char *s, size_t n)
{
	static const char *const kw[] = { "if", "then", "elif", "else", "end",
		"as", "def", "reduce", "foreach", "try", "catch", "label",
		"import", "include", "and", "or", "not", "__loc__" };
	size_t i;

	for (i = 0; i < sizeof(kw) / sizeof(kw[0]); i++)
		if (strlen(kw[i]) == n && memcmp(kw[i], s, n) == 0)
			return 1;
	return 0;
}

static struct node *parse_pipe(struct lex *l);
static struct node *parse_pipe_ex(struct lex *l, int *saw_pipe);
static struct node *parse_post(struct lex *l);

/*
 * Decode a jq string literal body s[0..n) without interpolation into buf.
 * Returns -1 on anything unusual.
 */
static int
decode_str(const char *s, size_t n, struct buf *b)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned cp;

		if (s[i] != '\\') {
			if ((unsigned char)s[i] < 0x20)
				return -1;
			buf_addc(b, s[i]);
			continue;
		}
		if (++i >= n)
			return -1;
		switch (s[i]) {
		case '"': buf_addc(b, '"'); break;
		case '\\': buf_addc(b, '\\'); break;
		case '/': buf_addc(b, '/'); break;
		case 'b': buf_addc(b, '\b'); break;
		case 'f': buf_addc(b, '\f'); break;
		case 'n': buf_addc(b, '\n'); break;
		case 'r': buf_addc(b, '\r'); break;
		case 't': buf_addc(b, '\t'); break;
		case 'u':
			if (n - i < 5)
				return -1;
			if (hex_value(s[i + 1]) < 0 || hex_value(s[i + 2]) < 0 ||
			    hex_value(s[i + 3]) < 0 || hex_value(s[i + 4]) < 0)
				return -1;
			cp = (unsigned)(hex_value(s[i + 1]) << 12 |
			    hex_value(s[i + 2]) << 8 | hex_value(s[i + 3]) << 4 |
			    hex_value(s[i + 4]));
			if (cp >= 0x80)
				return -1;	/* keep it simple */
			buf_addc(b, (char)cp);
			i += 4;
			break;
		default:
			return -1;
		}
	}
	return json_utf8_valid(b->p ? b->p : "", b->len) ? 0 : -1;
}

/* A string token: a literal (N_LIT) or an interpolation (N_FMT). */
static struct node *
parse_string_tok(struct lex *l)
{
	const char *s = l->ts, *e = l->ts + l->tn, *run = s;
	struct node *fmt = NULL;
	struct buf b = BUF_INIT;
	struct node **parts = NULL;
	uint32_t np = 0;

	while (s < e) {
		if (s[0] == '\\' && s + 1 < e && s[1] == '(') {
			struct lex sub;
			const char *q = s + 2;
			int depth = 1;
			struct node *lit, *ex;
			char *inner;

			b.len = 0;
			if (decode_str(run, (size_t)(s - run), &b) < 0)
				goto bad;
			lit = node_new(l, N_LIT);
			lit->lit.k = V_STR;
			lit->s = keep(l, b.p ? b.p : "", b.len);
			lit->lit.u.s = lit->s;
			lit->lit.n = (uint32_t)b.len;
			while (q < e && depth > 0) {
				if (*q == '(')
					depth++;
				else if (*q == ')')
					depth--;
				q++;
			}
			if (depth != 0)
				goto bad;
			inner = keep(l, s + 2, (size_t)(q - 1 - (s + 2)));
			sub = *l;
			sub.p = inner;
			lex_next(&sub);
			ex = parse_pipe(&sub);
			if (ex == NULL || sub.t != T_EOF)
				goto bad;
			parts = xrealloc(parts, (np + 2) * sizeof(*parts));
			parts[np++] = lit;
			parts[np++] = ex;
			s = run = q;
			continue;
		}
		if (s[0] == '\\' && s + 1 < e)
			s++;
		s++;
	}
	b.len = 0;
	if (decode_str(run, (size_t)(e - run), &b) < 0)
		goto bad;
	{
		struct node *lit = node_new(l, N_LIT);

		lit->lit.k = V_STR;
		lit->s = keep(l, b.p ? b.p : "", b.len);
		lit->lit.u.s = lit->s;
		lit->lit.n = (uint32_t)b.len;
		if (np == 0) {
			buf_release(&b);
			free(parts);
			lex_next(l);
			return lit;
		}
		parts = xrealloc(parts, (np + 1) * sizeof(*parts));
		parts[np++] = lit;
	}
	fmt = node_new(l, N_FMT);
	fmt->kids = parts;
	fmt->n = np;
	buf_release(&b);
	lex_next(l);
	return fmt;
bad:
	free(parts);
	buf_release(&b);
	return NULL;
}

/* A literal string argument of a builtin: must be a plain string token. */
static int
literal_arg(struct lex *l, char **s, uint32_t *n)
{
	struct node *a;

	if (l->t != T_STR)
		return -1;
	a = parse_string_tok(l);
	if (a == NULL || a->kind != N_LIT)
		return -1;
	*s = a->s;
	*n = a->lit.n;
	return 0;
}

static const struct {
	const char *name;
	int nargs;
	enum builtin b;
} builtins[] = {
	{ "tonumber", 0, B_TONUMBER }, { "tostring", 0, B_TOSTRING },
	{ "ascii_downcase", 0, B_DOWN }, { "ascii_upcase", 0, B_UP },
	{ "length", 0, B_LENGTH }, { "not", 0, B_NOT }, { "type", 0, B_TYPE },
	{ "floor", 0, B_FLOOR }, { "ltrimstr", 1, B_LTRIM },
	{ "rtrimstr", 1, B_RTRIM }, { "startswith", 1, B_STARTS },
	{ "endswith", 1, B_ENDS }, { "sub", 2, B_SUB }, { "gsub", 2, B_GSUB },
};

static struct node *
parse_call(struct lex *l)
{
	struct node *n;
	size_t i;

	for (i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
		if (strlen(builtins[i].name) == l->tn &&
		    memcmp(builtins[i].name, l->ts, l->tn) == 0)
			break;
	if (i == sizeof(builtins) / sizeof(builtins[0]))
		return NULL;
	n = node_new(l, N_CALL);
	n->op = (uint8_t)builtins[i].b;
	lex_next(l);
	if (builtins[i].nargs == 0) {
		if (l->t == T_LPAREN)
			return NULL;
		return n;
	}
	if (l->t != T_LPAREN)
		return NULL;
	lex_next(l);
	if (literal_arg(l, &n->s, &n->slen) < 0)
		return NULL;
	if (builtins[i].nargs == 2) {
		const char *q;

		if (l->t != T_SEMI)
			return NULL;
		lex_next(l);
		if (literal_arg(l, &n->s2, &n->s2len) < 0)
			return NULL;
		/* the pattern must be free of regex syntax */
		if (n->slen == 0)
			return NULL;
		for (q = n->s; q < n->s + n->slen; q++)
			if (strchr(".^$|?*+()[]{}\\", *q) != NULL ||
			    (unsigned char)*q >= 0x80)
				return NULL;
	}
	if (l->t != T_RPAREN)
		return NULL;
	lex_next(l);
	return n;
}

static struct node *
parse_object(struct lex *l)
{
	struct node *o = node_new(l, N_OBJ);
	uint32_t cap = 0;

	lex_next(l);	/* { */
	if (l->t == T_RBRACE) {
		lex_next(l);
		return o;
	}
	for (;;) {
		char *key;
		uint32_t klen;
		struct node *v;
		int shorthand_ok = 0;

		if (l->t == T_IDENT) {
			key = keep(l, l->ts, l->tn);
			klen = (uint32_t)l->tn;
			shorthand_ok = !is_keyword(l->ts, l->tn);
			lex_next(l);
		} else if (l->t == T_STR) {
			struct node *s = parse_string_tok(l);

			if (s == NULL || s->kind != N_LIT)
				return NULL;
			key = s->s;
			klen = s->lit.n;
			shorthand_ok = 1;
		} else {
			return NULL;
		}
		if (l->t == T_COLON) {
			struct node *rhs;

			lex_next(l);
			/* ExpD: ExpD '|' ExpD | '-' ExpD | Term */
			v = parse_post(l);
			if (v == NULL)
				return NULL;
			while (l->t == T_PIPE) {
				lex_next(l);
				rhs = parse_post(l);
				if (rhs == NULL)
					return NULL;
				{
					struct node *p = node_new(l, N_PIPE);

					p->a = v;
					p->b = rhs;
					v = p;
				}
			}
		} else if (shorthand_ok) {
			v = node_new(l, N_FIELD);
			v->a = node_new(l, N_DOT);
			v->s = key;
			v->slen = klen;
		} else {
			return NULL;
		}
		if (o->n == cap) {
			cap = cap ? cap * 2 : 8;
			o->kids = xrealloc(o->kids, cap * sizeof(*o->kids));
			o->keys = xrealloc(o->keys, cap * sizeof(*o->keys));
			o->klens = xrealloc(o->klens, cap * sizeof(*o->klens));
		}
		o->kids[o->n] = v;
		o->keys[o->n] = key;
		o->klens[o->n] = klen;
		o->n++;
		if (l->t == T_COMMA) {
			lex_next(l);
			continue;
		}
		if (l->t == T_RBRACE) {
			lex_next(l);
			return o;
		}
		return NULL;
	}
}

/* '.' followed by a string or '[' ... ']', or a suffix '[' ... ']' */
static struct node *
parse_index(struct lex *l, struct node *base)
{
	struct node *n;

	if (l->t == T_STR) {
		struct node *s = parse_string_tok(l);

		if (s == NULL || s->kind != N_LIT)
			return NULL;
		n = node_new(l, N_FIELD);
		n->a = base;
		n->s = s->s;
		n->slen = s->lit.n;
		return n;
	}
	if (l->t != T_LBRACK)
		return NULL;
	lex_next(l);
	if (l->t == T_STR) {
		struct node *s = parse_string_tok(l);

		if (s == NULL || s->kind != N_LIT || l->t != T_RBRACK)
			return NULL;
		n = node_new(l, N_FIELD);
		n->a = base;
		n->s = s->s;
		n->slen = s->lit.n;
	} else if (l->t == T_NUM && l->num == floor(l->num) &&
	    l->num < 1e9) {
		n = node_new(l, N_INDEX);
		n->a = base;
		n->index = (int32_t)l->num;
		lex_next(l);
		if (l->t != T_RBRACK)
			return NULL;
	} else {
		return NULL;
	}
	lex_next(l);
	return n;
}

static struct node *
parse_primary(struct lex *l)
{
	struct node *n;

	switch (l->t) {
	case T_DOT:
		n = node_new(l, N_DOT);
		lex_next(l);
		if (l->t == T_STR || l->t == T_LBRACK)
			return parse_index(l, n);
		return n;
	case T_FIELD:
		n = node_new(l, N_FIELD);
		n->a = node_new(l, N_DOT);
		n->s = keep(l, l->ts, l->tn);
		n->slen = (uint32_t)l->tn;
		lex_next(l);
		return n;
	case T_STR:
		return parse_string_tok(l);
	case T_NUM:
		n = node_new(l, N_LIT);
		n->lit.k = V_NUM;
		n->lit.u.d = l->num;
		lex_next(l);
		return n;
	case T_VAR: {
		jv v = jv_object_get(jv_copy(l->args),
		    jv_string_sized(l->ts, (int)l->tn));

		n = node_new(l, N_LIT);
		switch (jv_get_kind(v)) {
		case JV_KIND_NULL: n->lit.k = V_NULL; break;
		case JV_KIND_TRUE: n->lit.k = V_TRUE; break;
		case JV_KIND_FALSE: n->lit.k = V_FALSE; break;
		case JV_KIND_NUMBER:
			n->lit.k = V_NUM;
			n->lit.u.d = jv_number_value(v);
			break;
		case JV_KIND_STRING:
			n->lit.k = V_STR;
			n->s = keep(l, jv_string_value(v),
			    (size_t)jv_string_length_bytes(jv_copy(v)));
			n->lit.u.s = n->s;
			n->lit.n = (uint32_t)jv_string_length_bytes(jv_copy(v));
			break;
		default:
			jv_free(v);
			return NULL;
		}
		jv_free(v);
		lex_next(l);
		return n;
	}
	case T_LPAREN:
		lex_next(l);
		n = parse_pipe(l);
		if (n == NULL || l->t != T_RPAREN)
			return NULL;
		lex_next(l);
		return n;
	case T_LBRACE:
		return parse_object(l);
	case T_LBRACK: {
		uint32_t cap = 0;
		int piped = 0;

		n = node_new(l, N_ARR);
		lex_next(l);
		if (l->t == T_RBRACK) {
			lex_next(l);
			return n;
		}
		for (;;) {
			/* elements: Exp without ',' and '|' at this level
			 * would be wrong: jq's [E] collects E, and E may be
			 * "a, b"; each of ours is one value. */
			int saw = 0;
			struct node *e = parse_pipe_ex(l, &saw);

			if (e == NULL)
				return NULL;
			piped |= saw;
			/* "[a, b | c]" is "[(a, b) | c]": not ours */
			if (piped && (n->n > 0 || l->t == T_COMMA))
				return NULL;
			if (n->n == cap) {
				cap = cap ? cap * 2 : 8;
				n->kids = xrealloc(n->kids,
				    cap * sizeof(*n->kids));
			}
			n->kids[n->n++] = e;
			if (l->t == T_COMMA) {
				lex_next(l);
				continue;
			}
			if (l->t == T_RBRACK) {
				lex_next(l);
				return n;
			}
			return NULL;
		}
	}
	case T_MINUS:
		lex_next(l);
		n = node_new(l, N_NEG);
		n->a = parse_post(l);
		return n->a ? n : NULL;
	case T_IDENT:
		if (tok_is(l, "true") || tok_is(l, "false") ||
		    tok_is(l, "null")) {
			n = node_new(l, N_LIT);
			n->lit.k = tok_is(l, "true") ? V_TRUE :
			    tok_is(l, "false") ? V_FALSE : V_NULL;
			lex_next(l);
			return n;
		}
		if (tok_is(l, "if")) {
			struct node *top = NULL, **slot = &top;

			lex_next(l);
			for (;;) {
				n = node_new(l, N_IF);
				if ((n->a = parse_pipe(l)) == NULL ||
				    !tok_is(l, "then"))
					return NULL;
				lex_next(l);
				if ((n->b = parse_pipe(l)) == NULL)
					return NULL;
				*slot = n;
				slot = &n->c;
				if (tok_is(l, "elif")) {
					lex_next(l);
					continue;
				}
				if (!tok_is(l, "else"))
					return NULL;
				lex_next(l);
				if ((n->c = parse_pipe(l)) == NULL ||
				    !tok_is(l, "end"))
					return NULL;
				lex_next(l);
				return top;
			}
		}
		return parse_call(l);
	default:
		return NULL;
	}
}

/* Term: primary followed by .a / ."a" / [..] suffixes */
static struct node *
parse_post(struct lex *l)
{
	struct node *n = parse_primary(l);

	while (n != NULL) {
		if (l->t == T_FIELD) {
			struct node *f = node_new(l, N_FIELD);

			f->a = n;
			f->s = keep(l, l->ts, l->tn);
			f->slen = (uint32_t)l->tn;
			lex_next(l);
			n = f;
		} else if (l->t == T_DOT) {
			lex_next(l);
			if (l->t != T_STR)
				return NULL;	/* .[ after a term: not 1.6 */
			n = parse_index(l, n);
		} else if (l->t == T_LBRACK) {
			n = parse_index(l, n);
		} else {
			break;
		}
	}
	return n;
}

static struct node *
binary(struct lex *l, enum nk kind, int op, struct node *a, struct node *b)
{
	struct node *n;

	if (a == NULL || b == NULL)
		return NULL;
	n = node_new(l, kind);
	n->op = (uint8_t)op;
	n->a = a;
	n->b = b;
	return n;
}

static struct node *
parse_mul(struct lex *l)
{
	struct node *n = parse_post(l);

	while (n != NULL && (l->t == T_STAR || l->t == T_SLASH)) {
		int op = l->t == T_STAR ? '*' : '/';

		lex_next(l);
		n = binary(l, N_ARITH, op, n, parse_post(l));
	}
	return n;
}

static struct node *
parse_add(struct lex *l)
{
	struct node *n = parse_mul(l);

	while (n != NULL && (l->t == T_PLUS || l->t == T_MINUS)) {
		int op = l->t == T_PLUS ? '+' : '-';

		lex_next(l);
		n = binary(l, N_ARITH, op, n, parse_mul(l));
	}
	return n;
}

static struct node *
parse_cmp(struct lex *l)
{
	struct node *n = parse_add(l);
	int op;

	switch (l->t) {
	case T_EQ: op = C_EQ; break;
	case T_NE: op = C_NE; break;
	case T_LT: op = C_LT; break;
	case T_LE: op = C_LE; break;
	case T_GT: op = C_GT; break;
	case T_GE: op = C_GE; break;
	default: return n;
	}
	lex_next(l);
	n = binary(l, N_CMP, op, n, parse_add(l));
	if (n != NULL && (l->t == T_EQ || l->t == T_NE || l->t == T_LT ||
	    l->t == T_LE || l->t == T_GT || l->t == T_GE))
		return NULL;	/* nonassoc */
	return n;
}

static struct node *
parse_and(struct lex *l)
{
	struct node *n = parse_cmp(l);

	while (n != NULL && tok_is(l, "and")) {
		lex_next(l);
		n = binary(l, N_AND, 0, n, parse_cmp(l));
	}
	return n;
}

static struct node *
parse_or(struct lex *l)
{
	struct node *n = parse_and(l);

	while (n != NULL && tok_is(l, "or")) {
		lex_next(l);
		n = binary(l, N_OR, 0, n, parse_and(l));
	}
	return n;
}

static struct node *
parse_alt(struct lex *l)
{
	struct node *n = parse_or(l);

	if (n != NULL && l->t == T_ALT) {
		lex_next(l);
		n = binary(l, N_ALT, 0, n, parse_alt(l));
	}
	return n;
}

/* Exp: alt ('|' Exp)?; a ',' is left for the caller (array elements). */
static struct node *
parse_pipe_ex(struct lex *l, int *saw_pipe)
{
	struct node *n = parse_alt(l);

	if (n != NULL && l->t == T_COMMA)
		return n;
	if (n != NULL && l->t == T_PIPE) {
		*saw_pipe = 1;
		lex_next(l);
		n = binary(l, N_PIPE, 0, n, parse_pipe_ex(l, saw_pipe));
	}
	return n;
}

static struct node *
parse_pipe(struct lex *l)
{
	int saw = 0;

	return parse_pipe_ex(l, &saw);
}

void
fp_free(struct fp *f)
{
	size_t i;

	if (f == NULL)
		return;
	for (i = 0; i < f->nall; i++) {
		free(f->all[i]->kids);
		free(f->all[i]->keys);
		free(f->all[i]->klens);
		free(f->all[i]);
	}
	for (i = 0; i < f->nstrs; i++)
		free(f->strs[i]);
	for (i = 0; i < f->nmaps; i++) {
		uint32_t k;

		for (k = 0; k < f->maps[i].plen; k++)
			free(f->maps[i].path[k]);
		free(f->maps[i].path);
		free(f->maps[i].plens);
		free(f->maps[i].src);
		free(f->maps[i].ptr);
	}
	free(f->maps);
	free(f->model);
	free(f->now);
	free(f->all);
	free(f->strs);
	free(f);
}

struct fp *
fp_compile(const char *program, jv args)
{
	struct fp *f = xcalloc(1, sizeof(*f));
	struct lex l;

	memset(&l, 0, sizeof(l));
	l.p = program;
	l.f = f;
	l.args = args;
	lex_next(&l);
	f->root = parse_pipe(&l);
	if (f->root == NULL || l.t != T_EOF) {
		fp_free(f);
		return NULL;
	}
	return f;
}

/* ---- evaluation ---- */

#define ARENA_BLOCK (64u << 10)

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	char data[];
};

struct ctx {
	const struct tape *t;
	struct arena_block *arena;
	struct json_numlits lits;
	int lits_built;
};

static void *
arena_alloc(struct ctx *c, size_t n)
{
	struct arena_block *b = c->arena;

	n = (n + 7) & ~(size_t)7;
	if (b == NULL || b->cap - b->used < n) {
		size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
		struct arena_block *nb = xmalloc(sizeof(*nb) + cap);

		nb->next = b;
		nb->used = 0;
		nb->cap = cap;
		c->arena = b = nb;
	}
	b->used += n;
	return b->data + b->used - n;
}

static void
arena_reset(struct ctx *c)
{
	struct arena_block *b = c->arena, *next;

	if (b == NULL)
		return;
	for (next = b->next; next != NULL; ) {
		struct arena_block *nn = next->next;

		free(next);
		next = nn;
	}
	b->next = NULL;
	b->used = 0;
}

static int
truthy(const struct ctx *c, const struct val *v)
{
	if (v->k == V_NULL || v->k == V_FALSE)
		return 0;
	if (v->k == V_NODE) {
		uint8_t t = c->t->nodes[v->n].type;

		return t != TAPE_NULL && t != TAPE_FALSE;
	}
	return 1;
}

/* Turn a tape scalar into a plain value (containers stay V_NODE). */
static void
deref(const struct ctx *c, struct val *v)
{
	const struct tape_node *nd;

	if (v->k != V_NODE)
		return;
	nd = &c->t->nodes[v->n];
	switch (nd->type) {
	case TAPE_NULL: v->k = V_NULL; break;
	case TAPE_TRUE: v->k = V_TRUE; break;
	case TAPE_FALSE: v->k = V_FALSE; break;
	case TAPE_STRING:
		v->k = V_STR;
		v->u.s = nd->p;
		v->n = nd->n;
		v->raw_ok = (nd->flags & TAPE_RAW_OK) != 0;
		break;
	case TAPE_NUMBER:
		v->k = V_NUM;
		v->u.d = tape_number(nd);
		break;
	default:
		break;
	}
}

/* jq kind order: null < false < true < number < string < array < object */
static int
kind_rank(const struct ctx *c, const struct val *v)
{
	if (v->k == V_NODE)
		return c->t->nodes[v->n].type == TAPE_ARRAY ? 5 : 6;
	switch (v->k) {
	case V_NULL: return 0;
	case V_FALSE: return 1;
	case V_TRUE: return 2;
	case V_NUM: return 3;
	case V_STR: return 4;
	case V_ARR: return 5;
	default: return 6;
	}
}

static int
str_has_escape_needs(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch == '"' || ch == '\\' || ch == 0x7f)
			return 1;
	}
	return 0;
}

static struct val
mkstr(const char *s, size_t n)
{
	struct val v;

	v.k = V_STR;
	v.u.s = s;
	v.n = (uint32_t)n;
	v.raw_ok = !str_has_escape_needs(s, n);
	return v;
}

/* tostring of a scalar (jq's dumper, no literal restoring). -1: fallback */
static int
to_string(struct ctx *c, struct val *v)
{
	char tmp[40];
	struct buf b = { tmp, 0, sizeof(tmp) };
	char *s;

	deref(c, v);
	switch (v->k) {
	case V_STR:
		return 0;
	case V_NULL:
		*v = mkstr("null", 4);
		return 0;
	case V_TRUE:
		*v = mkstr("true", 4);
		return 0;
	case V_FALSE:
		*v = mkstr("false", 5);
		return 0;
	case V_NUM:
		json_write_number(&b, v->u.d);
		s = arena_alloc(c, b.len);
		memcpy(s, tmp, b.len);
		*v = mkstr(s, b.len);
		return 0;
	default:
		return -1;
	}
}

static int ev(struct ctx *c, const struct node *n, const struct val *in,
    struct val *out);

static int
call(struct ctx *c, const struct node *n, struct val *v)
{
	switch (n->op) {
	case B_TONUMBER:
		deref(c, v);
		if (v->k == V_NUM)
			return 0;
		if (v->k == V_STR) {
			struct tape tt = TAPE_INIT;
			struct json_err je;
			double d;

			/* strict JSON number text only; jq is laxer, and
			 * libjq decides those cases */
			if (v->n == 0 || v->n > 40 || (v->u.s[0] != '-' &&
			    (v->u.s[0] < '0' || v->u.s[0] > '9')))
				return -1;
			{
				struct tape_node nd;
				const char *q = v->u.s;
				size_t i;

				for (i = 0; i < v->n; i++)
					if (!((q[i] >= '0' && q[i] <= '9') ||
					    q[i] == '-' || q[i] == '+' ||
					    q[i] == '.' || q[i] == 'e' ||
					    q[i] == 'E'))
						return -1;
				if (tape_parse(&tt, q, v->n, &je) < 0 ||
				    tt.nodes[0].type != TAPE_NUMBER) {
					tape_release(&tt);
					return -1;
				}
				nd = tt.nodes[0];
				d = tape_number(&nd);
				tape_release(&tt);
			}
			v->k = V_NUM;
			v->u.d = d;
			return 0;
		}
		return -1;
	case B_TOSTRING:
		return to_string(c, v);
	case B_DOWN:
	case B_UP: {
		char *s;
		uint32_t i;

		deref(c, v);
		if (v->k != V_STR)
			return -1;
		s = arena_alloc(c, v->n);
		for (i = 0; i < v->n; i++) {
			char ch = v->u.s[i];

			if (n->op == B_DOWN && ch >= 'A' && ch <= 'Z')
				ch = (char)(ch - 'A' + 'a');
			else if (n->op == B_UP && ch >= 'a' && ch <= 'z')
				ch = (char)(ch - 'a' + 'A');
			s[i] = ch;
		}
		v->u.s = s;
		return 0;
	}
	case B_LENGTH:
		if (v->k == V_NODE && (c->t->nodes[v->n].type == TAPE_ARRAY ||
		    (c->t->nodes[v->n].type == TAPE_OBJECT &&
		    !(c->t->nodes[v->n].flags & TAPE_DUPS)))) {
			double d = c->t->nodes[v->n].n;

			v->k = V_NUM;
			v->u.d = d;
			return 0;
		}
		deref(c, v);
		if (v->k == V_NULL) {
			v->k = V_NUM;
			v->u.d = 0;
		} else if (v->k == V_NUM) {
			v->u.d = fabs(v->u.d);
		} else if (v->k == V_STR) {
			uint32_t i, cps = 0;

			for (i = 0; i < v->n; i++)
				if (((unsigned char)v->u.s[i] & 0xc0) != 0x80)
					cps++;
			v->k = V_NUM;
			v->u.d = cps;
		} else if (v->k == V_OBJ || v->k == V_ARR) {
			double d = v->n;

			v->k = V_NUM;
			v->u.d = d;
		} else {
			return -1;
		}
		return 0;
	case B_NOT: {
		int t = truthy(c, v);

		v->k = t ? V_FALSE : V_TRUE;
		return 0;
	}
	case B_TYPE: {
		static const char *const names[] = { "null", "boolean",
			"boolean", "number", "string", "array", "object" };
		int r = kind_rank(c, v);

		*v = mkstr(names[r], strlen(names[r]));
		return 0;
	}
	case B_FLOOR:
		deref(c, v);
		if (v->k != V_NUM)
			return -1;
		v->u.d = floor(v->u.d);
		return 0;
	case B_LTRIM:
	case B_RTRIM:
		deref(c, v);
		if (v->k != V_STR || v->n < n->slen)
			return 0;
		if (n->op == B_LTRIM && memcmp(v->u.s, n->s, n->slen) == 0) {
			v->u.s += n->slen;
			v->n -= n->slen;
		} else if (n->op == B_RTRIM && memcmp(v->u.s + v->n -
		    n->slen, n->s, n->slen) == 0) {
			v->n -= n->slen;
		}
		return 0;
	case B_STARTS:
	case B_ENDS: {
		int r;

		deref(c, v);
		if (v->k != V_STR)
			return -1;
		r = v->n >= n->slen && memcmp(n->op == B_STARTS ? v->u.s :
		    v->u.s + v->n - n->slen, n->s, n->slen) == 0;
		v->k = r ? V_TRUE : V_FALSE;
		return 0;
	}
	case B_SUB:
	case B_GSUB: {
		struct buf b = BUF_INIT;
		const char *s, *e, *hit;
		char *o;

		deref(c, v);
		if (v->k != V_STR)
			return -1;
		s = v->u.s;
		e = s + v->n;
		while ((hit = memmem(s, (size_t)(e - s), n->s, n->slen))
		    != NULL) {
			buf_add(&b, s, (size_t)(hit - s));
			buf_add(&b, n->s2, n->s2len);
			s = hit + n->slen;
			if (n->op == B_SUB)
				break;
		}
		if (b.p == NULL)
			return 0;	/* no match: unchanged */
		buf_add(&b, s, (size_t)(e - s));
		o = arena_alloc(c, b.len);
		memcpy(o, b.p, b.len);
		*v = mkstr(o, b.len);
		buf_release(&b);
		return 0;
	}
	}
	return -1;
}

static int
compare(struct ctx *c, struct val *a, struct val *b, int op, int *res)
{
	int ra, rb, cmp;

	deref(c, a);
	deref(c, b);
	ra = kind_rank(c, a);
	rb = kind_rank(c, b);
	if (ra >= 5 || rb >= 5)
		return -1;	/* containers: libjq */
	if (ra != rb) {
		cmp = ra < rb ? -1 : 1;
	} else if (ra == 3) {
		cmp = a->u.d < b->u.d ? -1 : a->u.d > b->u.d ? 1 : 0;
	} else if (ra == 4) {
		uint32_t m = a->n < b->n ? a->n : b->n;

		cmp = memcmp(a->u.s, b->u.s, m);
		if (cmp == 0)
			cmp = a->n < b->n ? -1 : a->n > b->n ? 1 : 0;
		cmp = cmp < 0 ? -1 : cmp > 0;
	} else {
		cmp = 0;
	}
	switch (op) {
	case C_EQ: *res = cmp == 0; break;
	case C_NE: *res = cmp != 0; break;
	case C_LT: *res = cmp < 0; break;
	case C_LE: *res = cmp <= 0; break;
	case C_GT: *res = cmp > 0; break;
	default: *res = cmp >= 0; break;
	}
	return 0;
}

static int
arith(struct ctx *c, int op, struct val *a, struct val *b, struct val *out)
{
	deref(c, a);
	deref(c, b);
	if (op == '+') {
		if (a->k == V_NULL) {
			*out = *b;
			return 0;
		}
		if (b->k == V_NULL) {
			*out = *a;
			return 0;
		}
		if (a->k == V_STR && b->k == V_STR) {
			char *s = arena_alloc(c, (size_t)a->n + b->n);

			memcpy(s, a->u.s, a->n);
			memcpy(s + a->n, b->u.s, b->n);
			out->k = V_STR;
			out->u.s = s;
			out->n = a->n + b->n;
			out->raw_ok = a->raw_ok && b->raw_ok;
			return 0;
		}
	}
	if (a->k != V_NUM || b->k != V_NUM)
		return -1;
	out->k = V_NUM;
	switch (op) {
	case '+': out->u.d = a->u.d + b->u.d; break;
	case '-': out->u.d = a->u.d - b->u.d; break;
	case '*': out->u.d = a->u.d * b->u.d; break;
	default:
		if (b->u.d == 0)
			return -1;	/* jq's error */
		out->u.d = a->u.d / b->u.d;
	}
	return 0;
}

static int
ev(struct ctx *c, const struct node *n, const struct val *in,
    struct val *out)
{
	struct val a, b;
	uint32_t i;

	switch (n->kind) {
	case N_DOT:
		*out = *in;
		return 0;
	case N_FIELD:
		if (ev(c, n->a, in, &a) < 0)
			return -1;
		if (a.k == V_NULL || (a.k == V_NODE &&
		    c->t->nodes[a.n].type == TAPE_NULL)) {
			out->k = V_NULL;
			return 0;
		}
		if (a.k == V_NODE && c->t->nodes[a.n].type == TAPE_OBJECT &&
		    !(c->t->nodes[a.n].flags & TAPE_DUPS)) {
			uint32_t idx = tape_lookup(c->t, a.n, n->s, n->slen);

			if (idx == 0) {
				out->k = V_NULL;
			} else {
				out->k = V_NODE;
				out->n = idx;
			}
			return 0;
		}
		if (a.k == V_OBJ) {
			for (i = 0; i < a.n; i++)
				if (a.u.pairs[i].klen == n->slen &&
				    memcmp(a.u.pairs[i].key, n->s,
				    n->slen) == 0) {
					*out = a.u.pairs[i].v;
					return 0;
				}
			out->k = V_NULL;
			return 0;
		}
		return -1;
	case N_INDEX:
		if (ev(c, n->a, in, &a) < 0)
			return -1;
		if (a.k == V_NULL || (a.k == V_NODE &&
		    c->t->nodes[a.n].type == TAPE_NULL)) {
			out->k = V_NULL;
			return 0;
		}
		if (a.k == V_NODE && c->t->nodes[a.n].type == TAPE_ARRAY) {
			int32_t len = (int32_t)c->t->nodes[a.n].n, k = n->index;
			uint32_t j;

			if (k < 0)
				k += len;
			if (k < 0 || k >= len) {
				out->k = V_NULL;
				return 0;
			}
			j = a.n + 1;
			while (k-- > 0)
				j = c->t->nodes[j].next;
			out->k = V_NODE;
			out->n = j;
			return 0;
		}
		return -1;
	case N_LIT:
		*out = n->lit;
		if (out->k == V_STR)
			out->raw_ok = !str_has_escape_needs(out->u.s, out->n);
		return 0;
	case N_OBJ: {
		struct pair *p = arena_alloc(c, n->n * sizeof(*p) + 1);
		uint32_t np = 0, j;

		for (i = 0; i < n->n; i++) {
			if (ev(c, n->kids[i], in, &a) < 0)
				return -1;
			for (j = 0; j < np; j++)
				if (p[j].klen == n->klens[i] &&
				    memcmp(p[j].key, n->keys[i],
				    n->klens[i]) == 0)
					break;
			if (j == np) {
				p[np].key = n->keys[i];
				p[np].klen = n->klens[i];
				np++;
			}
			p[j].v = a;
		}
		out->k = V_OBJ;
		out->n = np;
		out->u.pairs = p;
		return 0;
	}
	case N_ARR: {
		struct val *e = arena_alloc(c, n->n * sizeof(*e) + 1);

		for (i = 0; i < n->n; i++)
			if (ev(c, n->kids[i], in, &e[i]) < 0)
				return -1;
		out->k = V_ARR;
		out->n = n->n;
		out->u.elems = e;
		return 0;
	}
	case N_PIPE:
		if (ev(c, n->a, in, &a) < 0)
			return -1;
		return ev(c, n->b, &a, out);
	case N_ALT:
		if (ev(c, n->a, in, &a) < 0)
			return -1;
		if (truthy(c, &a)) {
			*out = a;
			return 0;
		}
		return ev(c, n->b, in, out);
	case N_AND:
	case N_OR:
		if (ev(c, n->a, in, &a) < 0)
			return -1;
		if (n->kind == N_AND && !truthy(c, &a)) {
			out->k = V_FALSE;
			return 0;
		}
		if (n->kind == N_OR && truthy(c, &a)) {
			out->k = V_TRUE;
			return 0;
		}
		if (ev(c, n->b, in, &b) < 0)
			return -1;
		out->k = truthy(c, &b) ? V_TRUE : V_FALSE;
		return 0;
	case N_CMP: {
		int r;

		if (ev(c, n->a, in, &a) < 0 || ev(c, n->b, in, &b) < 0 ||
		    compare(c, &a, &b, n->op, &r) < 0)
			return -1;
		out->k = r ? V_TRUE : V_FALSE;
		return 0;
	}
	case N_ARITH:
		/* jq evaluates the right operand first; no side effects
		 * here, so the order does not show */
		if (ev(c, n->a, in, &a) < 0 || ev(c, n->b, in, &b) < 0)
			return -1;
		return arith(c, n->op, &a, &b, out);
	case N_NEG:
		if (ev(c, n->a, in, &a) < 0)
			return -1;
		deref(c, &a);
		if (a.k != V_NUM)
			return -1;
		out->k = V_NUM;
		out->u.d = -a.u.d;
		return 0;
	case N_CALL:
		*out = *in;
		return call(c, n, out);
	case N_IF:
		if (ev(c, n->a, in, &a) < 0)
			return -1;
		return ev(c, truthy(c, &a) ? n->b : n->c, in, out);
	case N_FMT: {
		struct buf b2 = BUF_INIT;
		char *s;

		for (i = 0; i < n->n; i++) {
			if (ev(c, n->kids[i], in, &a) < 0 ||
			    to_string(c, &a) < 0) {
				buf_release(&b2);
				return -1;
			}
			buf_add(&b2, a.u.s, a.n);
		}
		s = arena_alloc(c, b2.len);
		if (b2.len)
			memcpy(s, b2.p, b2.len);
		*out = mkstr(s, b2.len);
		buf_release(&b2);
		return 0;
	}
	}
	return -1;
}

/* ---- mapping files (the program of mapping.c, natively) ---- */

static char *
jv_strdup_sized(jv s, uint32_t *len)
{
	int n = jv_string_length_bytes(jv_copy(s));
	char *c = xmalloc((size_t)n + 1);

	memcpy(c, jv_string_value(s), (size_t)n);
	c[n] = '\0';
	*len = (uint32_t)n;
	return c;
}

struct fp *
fp_compile_mapping(jv mapping, const char *now)
{
	static const struct {
		const char *name;
		enum mtype t;
	} types[] = {
		{ "string", M_STRING }, { "boolean", M_BOOLEAN },
		{ "double", M_DOUBLE }, { "float", M_DOUBLE },
		{ "integer", M_INTEGER }, { "long", M_INTEGER },
		{ "datetime", M_DATETIME }, { "date", M_DATE },
		{ "duration", M_DURATION },
	};
	struct fp *f = xcalloc(1, sizeof(*f));
	jv list = json_get(mapping, "mapping");
	jv model = json_get(mapping, "model");
	int i, n;

	if (jv_get_kind(list) != JV_KIND_ARRAY)
		goto fail;
	n = jv_array_length(jv_copy(list));
	f->maps = xcalloc((size_t)n + 1, sizeof(*f->maps));
	for (i = 0; i < n; i++) {
		jv m = jv_array_get(jv_copy(list), i);
		jv src = json_get(m, "Source"), path = json_get(m, "_path");
		jv ptr = json_get(m, "_ptr");
		const char *typ = json_get_str(m, "TargetType");
		struct fmap *fm = &f->maps[f->nmaps];
		size_t k;
		int pl, j;

		fm->type = 255;
		for (k = 0; typ != NULL && k < sizeof(types) / sizeof(types[0]);
		    k++)
			if (strcmp(typ, types[k].name) == 0)
				fm->type = (uint8_t)types[k].t;
		if (jv_get_kind(src) != JV_KIND_STRING ||
		    jv_get_kind(path) != JV_KIND_ARRAY ||
		    jv_get_kind(ptr) != JV_KIND_STRING || fm->type == 255) {
			jv_free(ptr);
			jv_free(src);
			jv_free(path);
			jv_free(m);
			goto fail;
		}
		fm->src = jv_strdup_sized(src, &fm->srclen);
		fm->ptr = jv_strdup_sized(ptr, &fm->ptrlen);
		fm->special = strcmp(fm->src, "$FILENAME") == 0 ? S_FILENAME :
		    strcmp(fm->src, "$LINE") == 0 ? S_LINE :
		    strcmp(fm->src, "$NOW") == 0 ? S_NOW : S_FIELD;
		pl = jv_array_length(jv_copy(path));
		fm->path = xcalloc((size_t)pl + 1, sizeof(*fm->path));
		fm->plens = xcalloc((size_t)pl + 1, sizeof(*fm->plens));
		for (j = 0; j < pl; j++) {
			jv seg = jv_array_get(jv_copy(path), j);

			if (jv_get_kind(seg) != JV_KIND_STRING) {
				jv_free(seg);
				jv_free(ptr);
				jv_free(src);
				jv_free(path);
				jv_free(m);
				f->nmaps++;
				goto fail;
			}
			fm->path[j] = jv_strdup_sized(seg, &fm->plens[j]);
			fm->plen++;
			jv_free(seg);
		}
		fm->is_id = fm->plen == 1 && strcmp(fm->path[0], "$dtId") == 0;
		f->nmaps++;
		jv_free(ptr);
		jv_free(src);
		jv_free(path);
		jv_free(m);
	}
	if (jv_get_kind(model) == JV_KIND_STRING) {
		uint32_t ml;

		f->model = jv_strdup_sized(model, &ml);
	}
	{
		const char *op = json_get_str(mapping, "op");
		const char *id = json_get_str(mapping, "id");

		if (op == NULL || id == NULL)
			goto fail;
		f->patch = strcmp(op, "patch") == 0;
		f->id_file = strcmp(id, "$FILENAME") == 0;
	}
	f->now = xstrdup(now);
	jv_free(list);
	jv_free(model);
	return f;
fail:
	jv_free(list);
	jv_free(model);
	fp_free(f);
	return NULL;
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* n digits at s[*i], advancing */
static int
digits(const char *s, uint32_t len, uint32_t *i, int n)
{
	int k;

	for (k = 0; k < n; k++)
		if (*i + (uint32_t)k >= len || !is_digit(s[*i + k]))
			return 0;
	*i += (uint32_t)n;
	return 1;
}

/* YYYY-MM-DD with the month and day ranges of mapping.c's regex */
static int
match_date(const char *s, uint32_t len, uint32_t *i)
{
	uint32_t p = *i;

	if (!digits(s, len, &p, 4) || p >= len || s[p++] != '-' ||
	    !digits(s, len, &p, 2))
		return 0;
	if (!((s[p - 2] == '0' && s[p - 1] >= '1') ||
	    (s[p - 2] == '1' && s[p - 1] <= '2')))
		return 0;
	if (p >= len || s[p++] != '-' || !digits(s, len, &p, 2))
		return 0;
	if (!((s[p - 2] == '0' && s[p - 1] >= '1') ||
	    s[p - 2] == '1' || s[p - 2] == '2' ||
	    (s[p - 2] == '3' && s[p - 1] <= '1')))
		return 0;
	*i = p;
	return 1;
}

/* [01][0-9]|2[0-3] */
static int
match_hour(const char *s, uint32_t len, uint32_t *i)
{
	uint32_t p = *i;

	if (!digits(s, len, &p, 2))
		return 0;
	if (!(s[p - 2] <= '1' || (s[p - 2] == '2' && s[p - 1] <= '3')))
		return 0;
	*i = p;
	return 1;
}

/* [0-5][0-9] */
static int
match_min(const char *s, uint32_t len, uint32_t *i)
{
	uint32_t p = *i;

	if (!digits(s, len, &p, 2) || s[p - 2] > '5')
		return 0;
	*i = p;
	return 1;
}

/*
 * The dateTime regex of mapping.c; *zone says whether the zone group
 * matched. Returns 1 on a match of the whole string.
 */
static int
match_datetime(const char *s, uint32_t len, int *zone)
{
	uint32_t i = 0;

	*zone = 0;
	if (!match_date(s, len, &i) || i >= len ||
	    (s[i] != 'T' && s[i] != ' '))
		return 0;
	i++;
	if (!match_hour(s, len, &i) || i >= len || s[i++] != ':' ||
	    !match_min(s, len, &i))
		return 0;
	if (i < len && s[i] == ':') {
		uint32_t j = i + 1;

		if (match_min(s, len, &j)) {
			i = j;
			if (i < len && s[i] == '.' && i + 1 < len &&
			    is_digit(s[i + 1])) {
				for (i++; i < len && is_digit(s[i]); i++)
					;
			}
		}
	}
	if (i == len)
		return 1;
	if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == len) {
		*zone = 1;
		return 1;
	}
	if (s[i] == '+' || s[i] == '-') {
		i++;
		if (!match_hour(s, len, &i))
			return 0;
		if (i < len && s[i] == ':')
			i++;
		if (!match_min(s, len, &i) || i != len)
			return 0;
		*zone = 1;
		return 1;
	}
	return 0;
}

/* the duration regex of mapping.c */
static int
match_duration(const char *s, uint32_t len)
{
	static const char date_units[] = "YMWD";
	static const char time_units[] = "HMS";
	uint32_t i = 0;
	int u;

	if (i < len && s[i] == '-')
		i++;
	if (i >= len || s[i++] != 'P' || i == len)
		return 0;
	for (u = 0; u < 4; u++) {
		uint32_t j = i;

		while (j < len && is_digit(s[j]))
			j++;
		if (j > i && j < len && s[j] == date_units[u])
			i = j + 1;
	}
	if (i < len && s[i] == 'T' && i + 1 < len && is_digit(s[i + 1])) {
		uint32_t t = i + 1;

		for (u = 0; u < 3; u++) {
			uint32_t j = t;

			while (j < len && is_digit(s[j]))
				j++;
			if (u == 2 && j > t && j + 1 < len && s[j] == '.' &&
			    is_digit(s[j + 1]))
				for (j++; j < len && is_digit(s[j]); j++)
					;
			if (j > t && j < len && s[j] == time_units[u])
				t = j + 1;
		}
		if (t == len)
			return 1;
		/* the optional T group can also be skipped: then $ fails */
		return 0;
	}
	return i == len;
}

/* plain ASCII without control characters (regex anchors are unambiguous) */
static int
plain_ascii(const char *s, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

/* the decimal regex of _tp_num, on a trimmed copy; then tonumber */
static int
mapping_number(struct ctx *c, const struct val *v, double *d)
{
	const char *s = v->u.s, *e = s + v->n, *p;
	char tmp[64];
	size_t n;

	if (!plain_ascii(s, v->n))
		return -1;
	while (s < e && (*s == ' ' || *s == '\t' || *s == '\v' || *s == '\f'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\v' ||
	    e[-1] == '\f'))
		e--;
	p = s;
	if (p < e && *p == '-')
		p++;
	if (p >= e || !is_digit(*p))
		return -1;
	while (p < e && is_digit(*p))
		p++;
	if (p < e && *p == '.') {
		p++;
		if (p >= e || !is_digit(*p))
			return -1;
		while (p < e && is_digit(*p))
			p++;
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < e && (*p == '+' || *p == '-'))
			p++;
		if (p >= e || !is_digit(*p))
			return -1;
		while (p < e && is_digit(*p))
			p++;
	}
	if (p != e || (n = (size_t)(e - s)) >= sizeof(tmp))
		return -1;
	(void)c;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	*d = strtod(tmp, NULL);
	return 0;
}

/* _tp_conv: 1 with *out set, 0 to leave the target out, -1: libjq */
static int
mapping_conv(struct ctx *c, const struct fmap *m, struct val *v,
    struct val *out)
{
	double d;
	int zone;

	deref(c, v);
	if (v->k == V_NULL)
		return 0;
	if (m->type == M_STRING) {
		if (v->k == V_STR) {
			*out = *v;
			return 1;
		}
		if (to_string(c, v) < 0)
			return -1;
		*out = *v;
		return 1;
	}
	if (v->k == V_STR && v->n == 0)
		return 0;
	switch (m->type) {
	case M_BOOLEAN:
		if (v->k == V_TRUE || v->k == V_FALSE) {
			*out = *v;
			return 1;
		}
		if (v->k == V_NUM && (v->u.d == 0 || v->u.d == 1)) {
			out->k = v->u.d == 1 ? V_TRUE : V_FALSE;
			return 1;
		}
		if (v->k == V_STR && v->n <= 5) {
			char low[6];
			uint32_t i;

			for (i = 0; i < v->n; i++)
				low[i] = (char)(v->u.s[i] >= 'A' &&
				    v->u.s[i] <= 'Z' ? v->u.s[i] + 32 :
				    v->u.s[i]);
			low[v->n] = '\0';
			if (!strcmp(low, "true") || !strcmp(low, "yes") ||
			    !strcmp(low, "y") || !strcmp(low, "1")) {
				out->k = V_TRUE;
				return 1;
			}
			if (!strcmp(low, "false") || !strcmp(low, "no") ||
			    !strcmp(low, "n") || !strcmp(low, "0")) {
				out->k = V_FALSE;
				return 1;
			}
		}
		return -1;
	case M_DOUBLE:
	case M_INTEGER:
		if (v->k == V_NUM)
			d = v->u.d;
		else if (v->k != V_STR || mapping_number(c, v, &d) < 0)
			return -1;
		if (m->type == M_INTEGER && d != floor(d))
			return -1;
		out->k = V_NUM;
		out->u.d = d;
		return 1;
	case M_DATETIME: {
		char *s;

		if (v->k != V_STR || !plain_ascii(v->u.s, v->n) ||
		    !match_datetime(v->u.s, v->n, &zone))
			return -1;
		s = arena_alloc(c, (size_t)v->n + 1);
		memcpy(s, v->u.s, v->n);
		if (s[10] == ' ')
			s[10] = 'T';
		if (!zone) {
			s[v->n] = 'Z';
			*out = mkstr(s, (size_t)v->n + 1);
		} else {
			if (s[v->n - 1] == 'z')
				s[v->n - 1] = 'Z';
			*out = mkstr(s, v->n);
		}
		return 1;
	}
	case M_DATE:
		{
			uint32_t i = 0;

			if (v->k != V_STR || !plain_ascii(v->u.s, v->n) ||
			    !match_date(v->u.s, v->n, &i) || i != v->n)
				return -1;
		}
		*out = *v;
		return 1;
	case M_DURATION:
		if (v->k != V_STR || !plain_ascii(v->u.s, v->n) ||
		    !match_duration(v->u.s, v->n))
			return -1;
		*out = *v;
		return 1;
	}
	return -1;
}

/* the source value of a mapping: 0 ok, -1: libjq */
static int
mapping_src(struct ctx *c, const struct fp *f, const struct fmap *m,
    struct val *v)
{
	const struct tape *t = c->t;
	uint32_t meta, src, x;

	v->k = V_NULL;
	if (m->special == S_FIELD) {
		x = tape_lookup(t, 0, m->src, m->srclen);
		if (x != 0) {
			v->k = V_NODE;
			v->n = x;
		}
		return 0;
	}
	if (m->special == S_NOW) {
		*v = mkstr(f->now, strlen(f->now));
		return 0;
	}
	/* ._meta.src.<...>: each step null, or an object without dups */
	src = 0;
	meta = tape_lookup(t, 0, "_meta", 5);
	if (meta != 0 && t->nodes[meta].type != TAPE_NULL) {
		if (t->nodes[meta].type != TAPE_OBJECT ||
		    (t->nodes[meta].flags & TAPE_DUPS))
			return -1;
		src = tape_lookup(t, meta, "src", 3);
		if (src != 0 && t->nodes[src].type == TAPE_NULL)
			src = 0;
		if (src != 0 && (t->nodes[src].type != TAPE_OBJECT ||
		    (t->nodes[src].flags & TAPE_DUPS)))
			return -1;
	}
	if (m->special == S_LINE) {
		const char *names[2] = { "row", "line" };
		int k;

		for (k = 0; k < 2 && src != 0; k++) {
			x = tape_lookup(t, src, names[k], 3 + (k == 1));
			/* row // line: line is taken whatever it is */
			if (x != 0 && (k == 1 ||
			    (t->nodes[x].type != TAPE_NULL &&
			    t->nodes[x].type != TAPE_FALSE))) {
				v->k = V_NODE;
				v->n = x;
				return 0;
			}
		}
		return 0;
	}
	/* $FILENAME */
	{
		const char *fname = NULL, *slash, *dot;
		size_t fl = 0;

		x = src != 0 ? tape_lookup(t, src, "file", 4) : 0;
		if (x != 0 && t->nodes[x].type != TAPE_NULL &&
		    t->nodes[x].type != TAPE_FALSE) {
			if (t->nodes[x].type != TAPE_STRING)
				return -1;
			fname = t->nodes[x].p;
			fl = t->nodes[x].n;
		} else if ((fname = getenv("TWINPIPE_INPUT_FILE")) != NULL) {
			fl = strlen(fname);
		}
		if (fname == NULL || fl == 0)
			return 0;
		if (!plain_ascii(fname, (uint32_t)fl))
			return -1;
		slash = memrchr(fname, '/', fl);
		if (slash != NULL) {
			fl -= (size_t)(slash + 1 - fname);
			fname = slash + 1;
		}
		dot = memrchr(fname, '.', fl);
		if (dot != NULL)
			fl = (size_t)(dot - fname);
		*v = mkstr(fname, fl);
		return 0;
	}
}

/* setpath into a constructed object (capacity cap per object) */
static int
obj_set(struct ctx *c, struct val *o, const char *k, uint32_t kl,
    struct val v, uint32_t cap)
{
	uint32_t i;

	for (i = 0; i < o->n; i++)
		if (o->u.pairs[i].klen == kl &&
		    memcmp(o->u.pairs[i].key, k, kl) == 0) {
			o->u.pairs[i].v = v;
			return 0;
		}
	if (o->n >= cap)
		return -1;
	(void)c;
	o->u.pairs[o->n].key = k;
	o->u.pairs[o->n].klen = kl;
	o->u.pairs[o->n].v = v;
	o->n++;
	return 0;
}

static struct val
new_obj(struct ctx *c, uint32_t cap)
{
	struct val o;

	o.k = V_OBJ;
	o.n = 0;
	o.u.pairs = arena_alloc(c, (size_t)cap * sizeof(struct pair));
	return o;
}

/* the twin id of a record with no $dtId entry: 1 set, -1 libjq */
static int
mapping_file_id(struct ctx *c, const struct fp *f, struct val *id)
{
	struct fmap fm;

	memset(&fm, 0, sizeof(fm));
	fm.special = S_FILENAME;
	if (mapping_src(c, f, &fm, id) < 0)
		return -1;
	deref(c, id);
	if (id->k == V_NULL || (id->k == V_STR && id->n == 0))
		return -1;	/* _tp_noid */
	return 1;
}

static int
id_empty(const struct val *v)
{
	return v->k == V_NULL || (v->k == V_STR && v->n == 0);
}

/* {"$dtId","$op":"patch","$patch":[{"op":"add","path","value"}...]} */
static int
mapping_run_patch(struct ctx *c, const struct fp *f, struct val *res)
{
	struct val id, ops;
	uint32_t i;
	int have_id = 0;

	id.k = V_NULL;
	ops.k = V_ARR;
	ops.n = 0;
	ops.u.elems = arena_alloc(c, ((size_t)f->nmaps + 1) *
	    sizeof(struct val));
	for (i = 0; i < f->nmaps; i++) {
		const struct fmap *m = &f->maps[i];
		struct val v, cv, op;
		int r;

		if (mapping_src(c, f, m, &v) < 0)
			return -1;
		if ((r = mapping_conv(c, m, &v, &cv)) < 0)
			return -1;
		if (r == 0)
			continue;
		if (m->is_id) {
			id = cv;
			have_id = 1;
			continue;
		}
		op = new_obj(c, 3);
		obj_set(c, &op, "op", 2, mkstr("add", 3), 3);
		obj_set(c, &op, "path", 4, mkstr(m->ptr, m->ptrlen), 3);
		obj_set(c, &op, "value", 5, cv, 3);
		ops.u.elems[ops.n++] = op;
	}
	if (f->id_file) {
		if (mapping_file_id(c, f, &id) < 0)
			return -1;
	} else if (!have_id || id_empty(&id)) {
		return -1;
	}
	*res = new_obj(c, 3);
	obj_set(c, res, "$dtId", 5, id, 3);
	obj_set(c, res, "$op", 3, mkstr("patch", 5), 3);
	obj_set(c, res, "$patch", 6, ops, 3);
	return 0;
}

static int
mapping_run(struct ctx *c, const struct fp *f, struct val *res)
{
	uint32_t cap = f->nmaps + 3, i, j;

	if (f->patch)
		return mapping_run_patch(c, f, res);
	*res = new_obj(c, cap);
	if (f->id_file) {
		struct val id;

		if (mapping_file_id(c, f, &id) < 0)
			return -1;
		obj_set(c, res, "$dtId", 5, id, cap);
	}
	for (i = 0; i < f->nmaps; i++) {
		const struct fmap *m = &f->maps[i];
		struct val v, cv, *o;
		int r;

		if (mapping_src(c, f, m, &v) < 0)
			return -1;
		if ((r = mapping_conv(c, m, &v, &cv)) < 0)
			return -1;
		if (r == 0)
			continue;
		/* setpath: objects along the way, created as needed */
		o = res;
		for (j = 0; j + 1 < m->plen; j++) {
			uint32_t k;

			for (k = 0; k < o->n; k++)
				if (o->u.pairs[k].klen == m->plens[j] &&
				    memcmp(o->u.pairs[k].key, m->path[j],
				    m->plens[j]) == 0)
					break;
			if (k == o->n) {
				if (obj_set(c, o, m->path[j], m->plens[j],
				    new_obj(c, cap), cap) < 0)
					return -1;
			} else if (o->u.pairs[k].v.k != V_OBJ) {
				return -1;	/* jq: cannot index */
			}
			o = &o->u.pairs[k].v;
		}
		if (obj_set(c, o, m->path[j], m->plens[j], cv, cap) < 0)
			return -1;
	}
	if (f->model != NULL) {
		struct val *md = NULL, mv;

		for (i = 0; i < res->n; i++)
			if (res->u.pairs[i].klen == 9 &&
			    memcmp(res->u.pairs[i].key, "$metadata", 9) == 0)
				md = &res->u.pairs[i].v;
		mv = mkstr(f->model, strlen(f->model));
		if (md == NULL) {
			struct val o = new_obj(c, cap);

			obj_set(c, &o, "$model", 6, mv, cap);
			if (obj_set(c, res, "$metadata", 9, o, cap) < 0)
				return -1;
		} else if (md->k == V_OBJ) {
			for (i = 0; i < md->n; i++)
				if (md->u.pairs[i].klen == 6 &&
				    memcmp(md->u.pairs[i].key, "$model", 6) ==
				    0 && md->u.pairs[i].v.k != V_NULL)
					break;
			if (i == md->n && obj_set(c, md, "$model", 6, mv,
			    cap) < 0)
				return -1;
		} else {
			return -1;
		}
	}
	if (!f->id_file) {
		for (i = 0; i < res->n; i++)
			if (res->u.pairs[i].klen == 5 &&
			    memcmp(res->u.pairs[i].key, "$dtId", 5) == 0)
				break;
		if (i == res->n || id_empty(&res->u.pairs[i].v))
			return -1;	/* no twin id: libjq says so */
	}
	return 0;
}

/* ---- output ---- */

static void
build_lits(struct ctx *c)
{
	if (c->lits_built)
		return;
	c->lits_built = 1;
	/* the same table json_parse() builds for this record */
	json_numlits_from_tape(c->t, &c->lits);
}

static void
write_num(struct ctx *c, struct buf *o, double d)
{
	build_lits(c);
	{
		/* json_write with a number jv applies the literal table */
		jv v = jv_number(d);

		json_write(o, v, 0, &c->lits);
		jv_free(v);
	}
}

static int
write_node(struct ctx *c, struct buf *o, uint32_t i, int meta_at_root);

static int
write_tape_number(struct ctx *c, struct buf *o, const struct tape_node *nd)
{
	char tmp[40];
	struct buf b = { tmp, 0, sizeof(tmp) };
	double d;

	if (nd->flags & TAPE_SMALL_INT) {
		buf_add(o, nd->p, nd->n);
		return 0;
	}
	d = tape_number(nd);
	json_write_number(&b, d);
	if (b.p == tmp && b.len == nd->n && memcmp(tmp, nd->p, nd->n) == 0) {
		buf_add(o, nd->p, nd->n);
		return 0;
	}
	write_num(c, o, d);
	return 0;
}

static int
write_node(struct ctx *c, struct buf *o, uint32_t i, int unused)
{
	const struct tape_node *nd = &c->t->nodes[i];
	uint32_t j, end;
	int first = 1;

	(void)unused;
	switch (nd->type) {
	case TAPE_NULL:
		buf_add(o, "null", 4);
		return 0;
	case TAPE_TRUE:
		buf_add(o, "true", 4);
		return 0;
	case TAPE_FALSE:
		buf_add(o, "false", 5);
		return 0;
	case TAPE_NUMBER:
		return write_tape_number(c, o, nd);
	case TAPE_STRING:
		if (nd->flags & TAPE_RAW_OK) {
			buf_addc(o, '"');
			buf_add(o, nd->p, nd->n);
			buf_addc(o, '"');
		} else {
			json_write_string(o, nd->p, nd->n, 0);
		}
		return 0;
	case TAPE_ARRAY:
		buf_addc(o, '[');
		for (j = i + 1, end = nd->next; j < end;
		    j = c->t->nodes[j].next) {
			if (!first)
				buf_addc(o, ',');
			first = 0;
			if (write_node(c, o, j, 0) < 0)
				return -1;
		}
		buf_addc(o, ']');
		return 0;
	default:
		if (nd->flags & TAPE_DUPS)
			return -1;
		buf_addc(o, '{');
		for (j = i + 1, end = nd->next; j < end;
		    j = c->t->nodes[j + 1].next) {
			if (!first)
				buf_addc(o, ',');
			first = 0;
			if (write_node(c, o, j, 0) < 0)
				return -1;
			buf_addc(o, ':');
			if (write_node(c, o, j + 1, 0) < 0)
				return -1;
		}
		buf_addc(o, '}');
		return 0;
	}
}

static int
write_val(struct ctx *c, struct buf *o, const struct val *v)
{
	uint32_t i;

	switch (v->k) {
	case V_NULL:
		buf_add(o, "null", 4);
		return 0;
	case V_TRUE:
		buf_add(o, "true", 4);
		return 0;
	case V_FALSE:
		buf_add(o, "false", 5);
		return 0;
	case V_NUM:
		write_num(c, o, v->u.d);
		return 0;
	case V_STR:
		if (v->raw_ok) {
			buf_addc(o, '"');
			buf_add(o, v->u.s, v->n);
			buf_addc(o, '"');
		} else {
			json_write_string(o, v->u.s, v->n, 0);
		}
		return 0;
	case V_NODE:
		return write_node(c, o, v->n, 0);
	case V_ARR:
		buf_addc(o, '[');
		for (i = 0; i < v->n; i++) {
			if (i > 0)
				buf_addc(o, ',');
			if (write_val(c, o, &v->u.elems[i]) < 0)
				return -1;
		}
		buf_addc(o, ']');
		return 0;
	default:
		buf_addc(o, '{');
		for (i = 0; i < v->n; i++) {
			struct val k = mkstr(v->u.pairs[i].key,
			    v->u.pairs[i].klen);

			if (i > 0)
				buf_addc(o, ',');
			write_val(c, o, &k);
			buf_addc(o, ':');
			if (write_val(c, o, &v->u.pairs[i].v) < 0)
				return -1;
		}
		buf_addc(o, '}');
		return 0;
	}
}

static __thread struct ctx tctx;

int
fp_run(struct fp *f, const struct tape *t, struct buf *out)
{
	struct ctx *c = &tctx;
	struct val in, res;
	size_t mark = out->len;
	uint32_t meta = 0;
	int rc = 0;

	if (t->nodes[0].type != TAPE_OBJECT || (t->nodes[0].flags & TAPE_DUPS))
		return 0;
	c->t = t;
	c->lits_built = 0;
	in.k = V_NODE;
	in.n = 0;
	if (f->root != NULL ? ev(c, f->root, &in, &res) < 0 :
	    mapping_run(c, f, &res) < 0)
		goto out;
	meta = tape_lookup(t, 0, "_meta", 5);
	if (meta != 0 && t->nodes[meta].type != TAPE_OBJECT)
		meta = 0;
	if (meta != 0 && res.k == V_NODE && res.n != 0 &&
	    t->nodes[res.n].type == TAPE_OBJECT) {
		/* an input sub-object: append _meta unless it has one */
		const struct tape_node *nd = &t->nodes[res.n];

		if ((nd->flags & TAPE_DUPS) ||
		    tape_lookup(t, res.n, "_meta", 5) != 0)
			goto out;
		if (write_node(c, out, res.n, 0) < 0)
			goto out;
		out->len--;	/* the '}' */
		if (nd->n > 0)
			buf_addc(out, ',');
		buf_adds(out, "\"_meta\":");
		if (write_node(c, out, meta, 0) < 0)
			goto out;
		buf_addc(out, '}');
	} else if (meta != 0 && res.k == V_OBJ) {
		uint32_t i;

		for (i = 0; i < res.n; i++)
			if (res.u.pairs[i].klen == 5 &&
			    memcmp(res.u.pairs[i].key, "_meta", 5) == 0)
				goto out;
		if (write_val(c, out, &res) < 0)
			goto out;
		out->len--;
		if (res.n > 0)
			buf_addc(out, ',');
		buf_adds(out, "\"_meta\":");
		if (write_node(c, out, meta, 0) < 0)
			goto out;
		buf_addc(out, '}');
	} else if (write_val(c, out, &res) < 0) {
		goto out;
	}
	buf_addc(out, '\n');
	rc = 1;
out:
	if (!rc)
		out->len = mark;
	arena_reset(c);
	return rc;
}
