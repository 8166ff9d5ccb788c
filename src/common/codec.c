#include "codec.h"

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void
base64_encode(struct buf *b, const void *data, size_t n)
{
	const unsigned char *p = data;
	size_t i;
	char *o;

	buf_grow(b, (n + 2) / 3 * 4);
	o = b->p + b->len;
	for (i = 0; i + 2 < n; i += 3) {
		*o++ = b64[p[i] >> 2];
		*o++ = b64[(p[i] & 3) << 4 | p[i + 1] >> 4];
		*o++ = b64[(p[i + 1] & 15) << 2 | p[i + 2] >> 6];
		*o++ = b64[p[i + 2] & 63];
	}
	if (i < n) {
		*o++ = b64[p[i] >> 2];
		if (i + 1 < n) {
			*o++ = b64[(p[i] & 3) << 4 | p[i + 1] >> 4];
			*o++ = b64[(p[i + 1] & 15) << 2];
		} else {
			*o++ = b64[(p[i] & 3) << 4];
			*o++ = '=';
		}
		*o++ = '=';
	}
	b->len = (size_t)(o - b->p);
}

int
base64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
base64_decode(struct buf *b, const char *s, size_t n)
{
	unsigned acc = 0;
	int bits = 0;
	size_t i;

	while (n > 0 && s[n - 1] == '=')
		n--;
	if (n % 4 == 1)
		return -1;
	buf_grow(b, n / 4 * 3 + 3);
	for (i = 0; i < n; i++) {
		int v = base64_value((unsigned char)s[i]);

		if (v < 0)
			return -1;
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			b->p[b->len++] = (char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return 0;
}

static const char hexl[] = "0123456789abcdef";
static const char hexu[] = "0123456789ABCDEF";

void
hex_encode(struct buf *b, const void *data, size_t n)
{
	const unsigned char *p = data;
	size_t i;

	buf_grow(b, 2 * n);
	for (i = 0; i < n; i++) {
		b->p[b->len++] = hexl[p[i] >> 4];
		b->p[b->len++] = hexl[p[i] & 15];
	}
}

void
pct_encode(struct buf *b, const char *s, size_t n)
{
	size_t i;

	buf_grow(b, 3 * n);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~') {
			b->p[b->len++] = (char)c;
		} else {
			b->p[b->len++] = '%';
			b->p[b->len++] = hexu[c >> 4];
			b->p[b->len++] = hexu[c & 15];
		}
	}
}

int
hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
pct_decode(struct buf *b, const char *s, size_t n)
{
	size_t i;

	buf_grow(b, n);
	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			int h, l;

			if (n - i < 3)
				return -1;
			h = hex_value((unsigned char)s[i + 1]);
			l = hex_value((unsigned char)s[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			b->p[b->len++] = (char)(h << 4 | l);
			i += 2;
		} else {
			b->p[b->len++] = s[i];
		}
	}
	return 0;
}
