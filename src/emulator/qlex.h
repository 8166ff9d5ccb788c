/*
 * qlex.h - the lexical pieces that the emulator's query languages share
 * (Cosmos SQL conditions in jpatch.c, IoT Hub queries in iothub_query.c):
 * white space, a punctuation character, a quoted string literal. Each
 * parser keeps its own keywords, identifiers and error messages.
 */
#ifndef TP_EMU_QLEX_H
#define TP_EMU_QLEX_H

#include <ctype.h>

#include <jv.h>

#include "buf.h"

/* Skip the white space at *s. */
static inline void
qlex_ws(const char **s)
{
	while (isspace((unsigned char)**s))
		(*s)++;
}

/* Whether c comes next after white space: if so *s is past it. */
static inline int
qlex_ch(const char **s, char c)
{
	qlex_ws(s);
	if (**s != c)
		return 0;
	(*s)++;
	return 1;
}

/*
 * The string literal at *s (its first character, ' or ", is the quote; a
 * backslash takes the next character as it is): its value, *s past it. An
 * unterminated one gives jv_invalid(), *s at the end of the text.
 */
static inline jv
qlex_string(const char **s)
{
	struct buf b = BUF_INIT;
	const char *p = *s;
	char q = *p++;
	jv v;

	while (*p != '\0' && *p != q) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		buf_addc(&b, *p++);
	}
	*s = p;
	if (*p != q) {
		buf_release(&b);
		return jv_invalid();
	}
	*s = p + 1;
	v = jv_string_sized(b.len ? b.p : "", (int)b.len);
	buf_release(&b);
	return v;
}

#endif
