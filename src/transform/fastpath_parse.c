/*
 * fastpath_parse.c - the fast path's compiler: a recursive-descent parser
 * that follows jq 1.6's grammar and precedence (parser.y) for the subset
 * and gives up (NULL) on anything else; fp_compile() and fp_free().
 */
#include "fastpath_impl.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "json.h"

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
