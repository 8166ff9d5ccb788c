/*
 * cmp.h - what a comparison operator of the emulator's query languages
 * (Cosmos SQL conditions, IoT Hub and ADT queries) says of an ordering:
 * shared by jpatch.c, iothub_query.c and adt_query.c, each of which
 * decides how its own language orders two values; the ordering of JSON
 * values and the three-valued logic that Cosmos conditions and IoT Hub
 * queries share.
 */
#ifndef TP_EMU_CMP_H
#define TP_EMU_CMP_H

#include <string.h>

#include <jv.h>

/* Whether "a OP b" holds when a compares to b as c (<0, 0, >0); OP is one
 * of = != <> < <= > >= (anything else reads as >=). */
static inline int
cmp_holds(const char *op, int c)
{
	if (strcmp(op, "=") == 0)
		return c == 0;
	if (strcmp(op, "!=") == 0 || strcmp(op, "<>") == 0)
		return c != 0;
	if (strcmp(op, "<") == 0)
		return c < 0;
	if (strcmp(op, "<=") == 0)
		return c <= 0;
	if (strcmp(op, ">") == 0)
		return c > 0;
	return c >= 0;
}

/*
 * 1 if "a OP b" holds, 0 if not, -1 if undefined (a and b borrowed): an
 * operand undefined (invalid), or arrays or objects ordered (they are only
 * equal or not). Booleans order false < true, numbers and strings as such,
 * null equals null. Values of different kinds: undefined when strict (Cosmos
 * SQL), else (IoT Hub) unequal, so that only != and <> hold.
 */
static inline int
cmp_values(jv a, jv b, const char *op, int strict)
{
	jv_kind ka = jv_get_kind(a), kb = jv_get_kind(b);
	int c;

	if (!jv_is_valid(a) || !jv_is_valid(b))
		return -1;
	if ((ka == JV_KIND_TRUE || ka == JV_KIND_FALSE) &&
	    (kb == JV_KIND_TRUE || kb == JV_KIND_FALSE))
		c = (ka == JV_KIND_TRUE) - (kb == JV_KIND_TRUE);
	else if (ka != kb && strict)
		return -1;
	else if (ka != kb)
		return strcmp(op, "!=") == 0 || strcmp(op, "<>") == 0 ? 1 : 0;
	else if (ka == JV_KIND_NUMBER)
		c = jv_number_value(a) < jv_number_value(b) ? -1 :
		    jv_number_value(a) > jv_number_value(b);
	else if (ka == JV_KIND_STRING)
		c = strcmp(jv_string_value(a), jv_string_value(b));
	else if (ka == JV_KIND_NULL)
		c = 0;
	else {
		if (strcmp(op, "=") && strcmp(op, "!=") && strcmp(op, "<>"))
			return -1;
		c = jv_equal(jv_copy(a), jv_copy(b)) ? 0 : 1;
	}
	return cmp_holds(op, c);
}

/* Three-valued logic: v (consumed) as 1 true, 0 false, -1 undefined. */
static inline int
cmp_tv(jv v)
{
	int r = jv_get_kind(v) == JV_KIND_TRUE ? 1 :
	    jv_get_kind(v) == JV_KIND_FALSE ? 0 : -1;

	jv_free(v);
	return r;
}

/* a AND b, a OR b of three-valued a and b (-1: undefined). */
static inline int
cmp_and3(int a, int b)
{
	return a == 0 || b == 0 ? 0 : a == 1 && b == 1 ? 1 : -1;
}

static inline int
cmp_or3(int a, int b)
{
	return a == 1 || b == 1 ? 1 : a == 0 && b == 0 ? 0 : -1;
}

/* The value of a three-valued r: true, false, or undefined (invalid). */
static inline jv
cmp_tvj(int r)
{
	return r < 0 ? jv_invalid() : jv_bool(r);
}

#endif
