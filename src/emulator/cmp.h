/*
 * cmp.h - what a comparison operator of the emulator's query languages
 * (Cosmos SQL conditions, IoT Hub and ADT queries) says of an ordering:
 * shared by jpatch.c, iothub_query.c and adt_query.c, each of which
 * decides how its own language orders two values.
 */
#ifndef TP_EMU_CMP_H
#define TP_EMU_CMP_H

#include <string.h>

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

#endif
