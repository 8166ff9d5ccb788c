/*
 * fuzz_jwt.c - twin-emulator's client assertion parser and verifier
 * (src/emulator/jwt.c, compiled in here) with an HS256 secret.
 *
 * Input: a compact JWT. Nothing may crash or leak; a verified token must
 * have an object of claims, a refused one must say why. The fixed secret
 * is "k", so the corpus can hold correctly signed tokens.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/emulator/jwt.c"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct jwt_key k = { NULL, (const unsigned char *)"k", 1 };
	char msg[300], *s;
	struct buf b = BUF_INIT;
	jv c;
	int rc;

	if (size > 20000)
		return 0;
	s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	msg[0] = '\0';
	rc = jwt_verify(s, &k, &c, msg, sizeof(msg));
	if (rc == 0 && jv_get_kind(c) != JV_KIND_OBJECT)
		abort();
	if (rc != 0 && (msg[0] == '\0' || jv_is_valid(c)))
		abort();
	jv_free(c);
	(void)jwt_b64url_decode(&b, s, strlen(s));
	buf_release(&b);
	free(s);
	return 0;
}
