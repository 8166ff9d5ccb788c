/*
 * redact.h - the one place that takes secrets out of URLs before a URL is
 * written (records, control records, dead letters) or logged.
 *
 * redact_url() replaces the userinfo of the authority ("user:pass@host")
 * by "***@" and the value of every query (or fragment) parameter whose
 * name is a secret by "REDACTED". Names are compared case-insensitively
 * after percent-decoding. The built-in secret names are:
 *
 *   sig signature code api-key apikey api_key key token access_token
 *   refresh_token id_token secret client_secret client_assertion password
 *   passwd pwd subscription-key
 *
 * and --redact-param NAME (redact_add_param()) adds more. The other SAS
 * fields (sv, se, sp, sr, st, spr, ...) stay visible: they say what a
 * token may do and until when, and are needed to debug a 403.
 */
#ifndef TP_REDACT_H
#define TP_REDACT_H

#include <stddef.h>

#include "buf.h"

/* What a secret value becomes. */
#define REDACT_VALUE "REDACTED"

/*
 * Append url to b without its secrets. Anything that is not a URL is
 * appended as it is except for its query parameters. Cannot fail.
 */
void redact_url(struct buf *b, const char *url);

/* The same as a malloc'd string. Cannot fail (aborts on no memory). */
char *redact_url_dup(const char *url);

/*
 * Is the parameter name (n bytes, percent-encoded as in a URL) a secret?
 * Returns 1 or 0.
 */
int redact_param_is_secret(const char *name, size_t n);

/* Treat query parameter name as a secret too (copied). Cannot fail. */
void redact_add_param(const char *name);

/* Forget the names added by redact_add_param() (tests, exit). */
void redact_reset(void);

#endif
