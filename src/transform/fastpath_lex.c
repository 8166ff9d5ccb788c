/*
 * fastpath_lex.c - the fast path's lexer: jq 1.6's tokens for the subset
 * (fields, identifiers, $variables, numbers in jq's plain forms, strings
 * with their interpolations kept raw, operators). Anything else is T_BAD
 * and the program goes to libjq.
 */
#include "fastpath_impl.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "json.h"

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

/* a name of [A-Za-z_][A-Za-z0-9_]* at p as token t; p is past the sigil */
static void
lex_name(struct lex *l, const char *p, enum tok t)
{
	const char *s = p;

	while (is_id((unsigned char)*p))
		p++;
	l->t = t;
	l->ts = s;
	l->tn = (size_t)(p - s);
	l->p = p;
}

/* jq: ([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)? */
static void
lex_number(struct lex *l, const char *p)
{
	const char *q;
	char *end;

	l->num = strtod(p, &end);
	if (end == p || *end == 'x' || *end == 'X' || is_id0(*end)) {
		l->t = T_BAD;
		return;
	}
	/* strtod accepts hex, inf, nan: guard the plain forms */
	for (q = p; q < end; q++)
		if (!((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' ||
		    *q == 'E' || *q == '+' || *q == '-')) {
			l->t = T_BAD;
			return;
		}
	l->t = T_NUM;
	l->p = end;
}

/* a string literal kept raw (p is past the opening quote); interpolation
 * nests parentheses, a string nested in one gives up */
static void
lex_string(struct lex *l, const char *p)
{
	const char *s = p;

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
}

/* operators and punctuation; the assignment forms (|= += ...) give up */
static void
lex_punct(struct lex *l, const char *p)
{
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

void
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
	} else if (*p == '.' && is_id0((unsigned char)p[1])) {
		lex_name(l, p + 1, T_FIELD);
	} else if (*p == '.') {
		l->t = p[1] == '.' ? T_BAD : T_DOT;	/* .. is recursion */
		if (l->t == T_DOT)
			l->p = p + 1;
	} else if (is_id0((unsigned char)*p)) {
		lex_name(l, p, T_IDENT);
	} else if (*p == '$') {
		if (is_id0((unsigned char)p[1]))
			lex_name(l, p + 1, T_VAR);
		else
			l->t = T_BAD;
	} else if (*p >= '0' && *p <= '9') {
		lex_number(l, p);
	} else if (*p == '"') {
		lex_string(l, p + 1);
	} else {
		lex_punct(l, p);
	}
}
