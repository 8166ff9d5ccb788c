/*
 * adt_query.h - the forms of ADT's query language twin-emulator serves
 * (adt_query.c): parsing, condition evaluation and projection. Running a
 * query over the store (which twins, which relationships) is adt.c's.
 *
 *   SELECT [TOP(n)] * | COUNT() | item [, item ...]
 *   FROM DIGITALTWINS | RELATIONSHIPS [alias]
 *   [JOIN alias RELATED alias.relationshipName [relAlias] ...]
 *   [WHERE cond [AND cond ...]]
 *
 * item is alias, alias.path or path, each with an optional AS name; cond
 * is IS_OF_MODEL([alias,] 'model' [, exact]), IS_DEFINED(path),
 * path IN [literal, ...] or path <op> literal with op one of = != <> < <=
 * > >=. Anything else (OR, NOT, functions, ORDER BY, MATCH, ...) is a
 * parse error, which adt.c answers with ADT's 400 SqlQueryError.
 */
#ifndef TP_EMU_ADT_QUERY_H
#define TP_EMU_ADT_QUERY_H

#include <stddef.h>

#include <jv.h>

#define ADTQ_MAX_TEXT 8000	/* query text (ADT's limit) */
#define ADTQ_MAX_JOINS 5	/* ADT allows five JOINs */
#define ADTQ_MAX_ALIASES (1 + 2 * ADTQ_MAX_JOINS)
#define ADTQ_MAX_CONDS 16
#define ADTQ_MAX_PROJ 12

enum adtq_kind { ADTQ_CMP, ADTQ_MODEL, ADTQ_DEFINED, ADTQ_IN };

struct adtq_cond {
	enum adtq_kind kind;
	int alias;		/* the entity it is about */
	char path[256];		/* dotted path in it */
	char op[3];
	jv lit;			/* literal, model id, or array (IN) */
	int exact;
};

/* JOIN target RELATED from.rel [relalias] */
struct adtq_join {
	int from, target, relalias;	/* alias indexes; relalias -1: none */
	char rel[128];
};

struct adtq_proj {
	int alias;
	char path[256];		/* "" : the whole entity */
	char name[128];		/* key in the result row */
};

struct adt_query {
	int rels;		/* FROM RELATIONSHIPS */
	int count;		/* SELECT COUNT() */
	int star;		/* SELECT * */
	long top;		/* TOP(n), 0: none */
	char alias[ADTQ_MAX_ALIASES][64];	/* [0]: the FROM collection */
	int stage[ADTQ_MAX_ALIASES];	/* 0: FROM, j+1: bound by join j */
	int nalias;
	struct adtq_join join[ADTQ_MAX_JOINS];
	int njoin;
	struct adtq_cond c[ADTQ_MAX_CONDS];
	int nc;
	struct adtq_proj proj[ADTQ_MAX_PROJ];
	int nproj;
};

/* Does a twin of model `model` satisfy IS_OF_MODEL(base)? (adt.c's.) */
typedef int (*adtq_is_a_fn)(const char *model, const char *base);

/*
 * Parse text into q. Returns 0, or -1 with msg filled (q then holds
 * nothing to free). adt_query_free() releases a parsed q.
 */
int adt_query_parse(const char *text, struct adt_query *q, char *msg,
    size_t msgsz);
void adt_query_free(struct adt_query *q);

/*
 * Do the conditions on the aliases bound at stage (0: FROM, j+1: JOIN j)
 * hold for row (borrowed; an array with one entity per alias, null where
 * unbound)? is_a may be NULL (IS_OF_MODEL then compares the ids).
 */
int adt_query_match(const struct adt_query *q, jv row, int stage,
    adtq_is_a_fn is_a);

/* The result item for row (borrowed): the entity, or the projection. */
jv adt_query_project(const struct adt_query *q, jv row);

#endif
