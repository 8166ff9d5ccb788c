/*
 * utf8.h - UTF-8 sequences (RFC 3629), shared by the parser and writer.
 */
#ifndef TP_UTF8_H
#define TP_UTF8_H

#include <stddef.h>

/*
 * Length of the valid UTF-8 sequence at s (s < e, *s >= 0x80), or 0 when it
 * is not valid (overlong, surrogate, > U+10FFFF, truncated). Can't fail.
 */
static inline size_t
utf8_seq(const unsigned char *s, const unsigned char *e)
{
	unsigned c = s[0];

	if (c >= 0xc2 && c <= 0xdf) {
		if (e - s < 2 || (s[1] & 0xc0) != 0x80)
			return 0;
		return 2;
	}
	if (c >= 0xe0 && c <= 0xef) {
		if (e - s < 3 || (s[1] & 0xc0) != 0x80 ||
		    (s[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0))
			return 0;	/* overlong, surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (e - s < 4 || (s[1] & 0xc0) != 0x80 ||
		    (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
			return 0;	/* overlong, > U+10FFFF */
		return 4;
	}
	return 0;
}

/* Write code point cp (<= U+10FFFF) as UTF-8 into d; returns the length. */
static inline size_t
utf8_put(char *d, unsigned cp)
{
	if (cp < 0x80) {
		d[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		d[0] = (char)(0xc0 | (cp >> 6));
		d[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		d[0] = (char)(0xe0 | (cp >> 12));
		d[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		d[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	d[0] = (char)(0xf0 | (cp >> 18));
	d[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	d[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	d[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

#endif
