/*
 * fastpath_impl.h - what the parts of transform's fast path share: the
 * compiled program (nodes, mapping entries), the values the evaluator
 * makes, the lexer's state and the per-record context. Only the
 * fastpath*.c files include it; the interface is fastpath.h.
 *
 *   fastpath_lex.c    tokens of a jq program
 *   fastpath_parse.c  the recursive-descent parser, fp_compile, fp_free
 *   fastpath_eval.c   evaluation of a program on a record's tape
 *   fastpath_map.c    mapping files compiled and run natively
 *   fastpath.c        writing the result, fp_run
 */
#ifndef TP_FASTPATH_IMPL_H
#define TP_FASTPATH_IMPL_H

#include <stdint.h>

#include "fastpath.h"
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

/* fastpath_lex.c */
void lex_next(struct lex *l);

/* fastpath_eval.c */
void * arena_alloc(struct ctx *c, size_t n);
void arena_reset(struct ctx *c);
void deref(const struct ctx *c, struct val *v);
int ev(struct ctx *c, const struct node *n, const struct val *in,
    struct val *out);
struct val mkstr(const char *s, size_t n);
int to_string(struct ctx *c, struct val *v);

/* fastpath_map.c */
int mapping_run(struct ctx *c, const struct fp *f, struct val *res);

#endif
