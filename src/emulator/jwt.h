/*
 * jwt.h - verify a compact JWS (header.payload.signature) made with
 * RS256 (an RSA public key) or HS256 (a shared secret): the federated
 * client assertions twin-emulator's token endpoint accepts.
 */
#ifndef TP_EMU_JWT_H
#define TP_EMU_JWT_H

#include <stddef.h>

#include <jv.h>

#include "buf.h"

struct jwt_key {
	void *pkey;			/* EVP_PKEY * (RS256), or NULL */
	const unsigned char *secret;	/* HS256 secret when pkey is NULL */
	size_t secret_len;
};

/* base64url without padding -> bytes appended to out. 0, or -1 on bad
 * input. */
int jwt_b64url_decode(struct buf *out, const char *s, size_t n);
/*
 * Check the form, the algorithm (RS256 with a public key, HS256 with a
 * secret; "none" and any other are refused) and the signature of jwt.
 * Returns 0 with the payload object in *claims (owned by the caller);
 * -1 (not a JWT) or -2 (bad algorithm or signature) with *claims
 * jv_invalid() and why in msg. Claims are not checked. Thread-safe.
 */
int jwt_verify(const char *jwt, const struct jwt_key *k, jv *claims,
    char *msg, size_t msgsz);

#endif
