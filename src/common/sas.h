/*
 * sas.h - shared access signatures, the token Event Hubs, Service Bus and
 * IoT Hub take from a policy key (PROTOCOLS.md):
 *
 *   SharedAccessSignature sr=<resource, percent-encoded>&sig=<base64
 *   HMAC-SHA256 of "<encoded resource>\n<expiry>">&se=<expiry>&skn=<policy>
 *
 * Event Hubs signs with the key's text, IoT Hub with the bytes its base64
 * text decodes to: the caller passes the bytes.
 */
#ifndef TP_SAS_H
#define TP_SAS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Append the token for resource, signed with key[0..keylen) of the policy
 * key_name, valid until expiry (Unix time). Returns 0, or -1. */
int sas_token(struct buf *out, const char *resource, const char *key_name,
    const void *key, size_t keylen, int64_t expiry);

#endif
