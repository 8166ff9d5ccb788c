/*
 * test_codec.c - base64 (RFC 4648 vectors, round trips, rejections), hex,
 * URL percent-encoding.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "tap.h"

static void
is_b64(const char *in, const char *want)
{
	struct buf b = BUF_INIT, d = BUF_INIT;
	size_t n = strlen(want);

	base64_encode(&b, in, strlen(in));
	is_str(buf_cstr(&b), want, "base64 '%s'", in);
	ok(base64_decode(&d, want, n) == 0 && d.len == strlen(in) &&
	    memcmp(d.p ? d.p : "", in, d.len) == 0, "base64 decode '%s'", want);
	/* padding is optional */
	while (n > 0 && want[n - 1] == '=')
		n--;
	d.len = 0;
	ok(base64_decode(&d, want, n) == 0 && d.len == strlen(in) &&
	    memcmp(d.p ? d.p : "", in, d.len) == 0,
	    "base64 decode '%.*s' without padding", (int)n, want);
	buf_release(&b);
	buf_release(&d);
}

static void
b64_reject(const char *s, const char *name)
{
	struct buf d = BUF_INIT;

	is_int(base64_decode(&d, s, strlen(s)), -1, "base64 rejects %s", name);
	buf_release(&d);
}

static void
test_base64(void)
{
	struct buf b = BUF_INIT, d = BUF_INIT;
	unsigned char data[300];
	size_t n, i, bad = 0;
	unsigned seed = 42;

	/* RFC 4648 section 10 */
	is_b64("", "");
	is_b64("f", "Zg==");
	is_b64("fo", "Zm8=");
	is_b64("foo", "Zm9v");
	is_b64("foob", "Zm9vYg==");
	is_b64("fooba", "Zm9vYmE=");
	is_b64("foobar", "Zm9vYmFy");
	/* the whole alphabet, + and / included */
	base64_encode(&b, "\xfb\xff\xbf\x00\x10\x83", 6);
	is_str(buf_cstr(&b), "+/+/ABCD", "base64 uses + and /");
	b.len = 0;

	/* round trips of every length, seeded random bytes */
	for (n = 0; n < sizeof(data); n++) {
		for (i = 0; i < n; i++)
			data[i] = (unsigned char)rand_r(&seed);
		b.len = d.len = 0;
		base64_encode(&b, data, n);
		if (b.len != (n + 2) / 3 * 4 ||
		    base64_decode(&d, b.p, b.len) != 0 || d.len != n ||
		    (n > 0 && memcmp(d.p, data, n) != 0))
			bad++;
	}
	is_int(bad, 0, "base64 round trip of 0..299 random bytes");
	/* appends to what the buffer holds */
	b.len = 0;
	buf_adds(&b, "x:");
	base64_encode(&b, "foo", 3);
	is_str(buf_cstr(&b), "x:Zm9v", "base64_encode appends");
	d.len = 0;
	buf_adds(&d, "y:");
	ok(base64_decode(&d, "Zm9v", 4) == 0 && d.len == 5 &&
	    memcmp(d.p, "y:foo", 5) == 0, "base64_decode appends");

	b64_reject("Z", "a single character");
	b64_reject("Zm9vY", "5 characters");
	b64_reject("Zm9v!", "'!'");
	b64_reject("Zm 9v", "a space");
	b64_reject("Zm9v\n", "a newline");
	b64_reject("Zm=v", "'=' in the middle");
	b64_reject("Zm9-", "base64url '-'");
	b64_reject("Zm9_", "base64url '_'");
	b64_reject("Zm9v\x80", "a non-ASCII byte");
	buf_release(&b);
	buf_release(&d);
}

static void
test_hex(void)
{
	struct buf b = BUF_INIT;

	hex_encode(&b, "\x00\xff\x10\xab", 4);
	is_str(buf_cstr(&b), "00ff10ab", "hex_encode lowercase");
	b.len = 0;
	hex_encode(&b, "", 0);
	is_str(buf_cstr(&b), "", "hex_encode empty");
	buf_release(&b);
}

static void
is_pct(const char *in, size_t n, const char *want)
{
	struct buf b = BUF_INIT, d = BUF_INIT;

	pct_encode(&b, in, n);
	is_str(buf_cstr(&b), want, "pct_encode -> %s", want);
	ok(pct_decode(&d, b.p, b.len) == 0 && d.len == n &&
	    memcmp(d.p, in, n) == 0, "pct_decode %s back", want);
	buf_release(&b);
	buf_release(&d);
}

static void
pct_reject(const char *s, const char *name)
{
	struct buf d = BUF_INIT;

	is_int(pct_decode(&d, s, strlen(s)), -1, "pct_decode rejects %s", name);
	buf_release(&d);
}

static void
test_pct(void)
{
	struct buf b = BUF_INIT, d = BUF_INIT;
	char all[256];
	int i;

	is_pct("a/b?c#d%e f", 11, "a%2Fb%3Fc%23d%25e%20f");
	is_pct("AZaz09-._~", 10, "AZaz09-._~");
	is_pct("caf\xc3\xa9", 5, "caf%C3%A9");
	is_pct("+&=:@!$'()*,;[]", 15,
	    "%2B%26%3D%3A%40%21%24%27%28%29%2A%2C%3B%5B%5D");
	is_pct("a\0b", 3, "a%00b");
	is_pct("\x7f\xff", 2, "%7F%FF");
	is_pct("", 0, "");
	for (i = 0; i < 256; i++)
		all[i] = (char)i;
	pct_encode(&b, all, 256);
	ok(pct_decode(&d, b.p, b.len) == 0 && d.len == 256 &&
	    memcmp(d.p, all, 256) == 0, "pct round trip of all 256 bytes");
	d.len = 0;
	ok(pct_decode(&d, "%2f%2F+%41", 10) == 0 && d.len == 4 &&
	    memcmp(d.p, "//+A", 4) == 0, "pct_decode: either case, '+' kept");
	pct_reject("%", "a lone %");
	pct_reject("%2", "a short escape");
	pct_reject("abc%4", "a short escape at the end");
	pct_reject("%G0", "a bad hex digit");
	pct_reject("%0g", "a bad second hex digit");
	pct_reject("%%", "%%");
	pct_reject("% 1", "a space in an escape");
	buf_release(&b);
	buf_release(&d);
}

int
main(void)
{
	test_base64();
	test_hex();
	test_pct();
	return tap_done();
}
