/*
 * auth.h - Microsoft Entra ID access tokens through one credential chain.
 *
 * The chain tries, in the order of the Azure SDKs' DefaultAzureCredential:
 *
 *   environment        AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_CLIENT_SECRET:
 *                      client credentials grant at
 *                      {authority}/{tenant}/oauth2/v2.0/token
 *   workload-identity  AZURE_TENANT_ID + AZURE_CLIENT_ID +
 *                      AZURE_FEDERATED_TOKEN_FILE (re-read for every token):
 *                      client assertion grant at the same endpoint
 *   managed-identity   App Service / Functions when IDENTITY_ENDPOINT and
 *                      IDENTITY_HEADER are set (api-version 2019-08-01),
 *                      else IMDS (api-version 2018-02-01, "Metadata: true",
 *                      retried on 404, 410, 429 and 5xx); AZURE_CLIENT_ID
 *                      selects a user-assigned identity
 *   azure-cli          az account get-access-token --output json --resource R
 *
 * The authority is AZURE_AUTHORITY_HOST or https://login.microsoftonline.com;
 * the IMDS endpoint is TWINPIPE_IMDS_ENDPOINT, AZURE_POD_IDENTITY_AUTHORITY_HOST
 * or http://169.254.169.254 - so tests and the emulator serve tokens locally.
 * The environment is read once, by auth_new().
 *
 * Like DefaultAzureCredential, a provider that is not configured or cannot
 * be reached is "unavailable" and the chain goes on; a provider that is
 * configured and gets an error (wrong secret, a failing az) stops the chain,
 * so that a misconfiguration never silently falls through to another
 * identity. The first provider that returns a token is kept for the life of
 * the chain. Errors name every provider tried and why it did not give a
 * token; secrets (client secret, assertions, tokens, the identity header)
 * are registered with log_secret() and never appear in them.
 *
 * Tokens are cached per scope and refreshed refresh_margin before they
 * expire (at half their lifetime for short-lived tokens); a token whose
 * refresh fails is still used while it is valid. Requests are synchronous
 * (libcurl easy): tokens are rare. Not thread-safe.
 *
 * Scopes: "https://digitaltwins.azure.net/.default" style; a resource
 * without "/.default" is accepted too (auth_scope_to_resource()).
 */
#ifndef TP_AUTH_H
#define TP_AUTH_H

#include <stdint.h>

#include "buf.h"

/* What a provider's get() returns. */
enum auth_status {
	AUTH_OK = 0,
	AUTH_UNAVAILABLE = 1,	/* not configured / not reachable: go on */
	AUTH_FAILED = 2		/* configured but failed: stop the chain */
};

/* A token as a provider returns it. */
struct auth_token {
	char *token;		/* malloc'd */
	int64_t expires_on;	/* Unix time, seconds */
	int64_t expires_ms;	/* the same in ms when known precisely
				   (from expires_in), else 0 */
};

struct auth;

/*
 * One credential provider. get() fetches a token for scope into *out, or
 * explains in why (lowercase, no secret) why it could not.
 */
struct auth_provider {
	const char *name;	/* "environment", "azure-cli", ... */
	enum auth_status (*get)(struct auth *a, const char *scope,
	    struct auth_token *out, struct buf *why);
};

struct auth_opts {
	const char *chain;	/* comma-separated provider names to use, in
				   order; NULL = all four. Also "static". */
	const char *static_token; /* the "static" provider's token (for
				   tests and --token-file), expires in 1h */
	const char *authority;	/* overrides AZURE_AUTHORITY_HOST */
	const char *imds;	/* overrides the IMDS endpoint */
	const char *az;		/* az command (default "az", on PATH) */
	const char *cacert;	/* CA bundle for token endpoints */
	int insecure;		/* no TLS verification */
	long timeout_ms;	/* per token request (default 10000) */
	long imds_probe_ms;	/* IMDS connect timeout (default 1000) */
	unsigned imds_attempts;	/* IMDS tries on 404/410/429/5xx (default 4) */
	long imds_backoff_ms;	/* first IMDS retry delay (default 500) */
	long cli_timeout_ms;	/* az run time limit (default 20000) */
	long refresh_margin_s;	/* refresh this early (default 300) */
};

/* Fill o with the defaults above. This function can't fail. */
void auth_opts_init(struct auth_opts *o);

/*
 * A credential chain configured from o and the environment (read now).
 * Returns NULL with a message in err if o->chain names an unknown provider.
 */
struct auth *auth_new(const struct auth_opts *o, struct buf *err);
/* Free the chain and its cache. auth_free(NULL) is a no-op. */
void auth_free(struct auth *a);

/*
 * An access token for scope: from the cache, or fetched. Returns the token
 * (borrowed, valid until the next auth_get() for the same scope or
 * auth_free()) and its expiry in *expires_on (may be NULL), or NULL with
 * err filled: "no credential for SCOPE: environment: ...; azure-cli: ...".
 */
const char *auth_get(struct auth *a, const char *scope, int64_t *expires_on,
    struct buf *err);
/*
 * Append prefix and the token for scope to out, e.g. prefix "Bearer " for
 * ADT and Storage, "type=aad&ver=1.0&sig=" for Cosmos DB: what a prepare
 * callback (http.h) puts in Authorization. Returns 0, or -1 with err
 * filled as auth_get() does.
 */
int auth_header(struct auth *a, const char *scope, const char *prefix,
    struct buf *out, struct buf *err);
/* Forget the cached token of scope (e.g. after a 401). Can't fail. */
void auth_invalidate(struct auth *a, const char *scope);

/* Name of the provider that gave the last token, or NULL. */
const char *auth_provider_name(const struct auth *a);
/* Token requests made (not served from the cache). */
unsigned long auth_requests(const struct auth *a);

/*
 * "https://x.azure.net/.default" -> "https://x.azure.net" (appended to b);
 * a scope without "/.default" is appended as it is.
 */
void auth_scope_to_resource(struct buf *b, const char *scope);
/* "https://x.azure.net" -> "https://x.azure.net/.default"; a string that
 * already ends in "/.default" is kept. */
void auth_resource_to_scope(struct buf *b, const char *resource);

/*
 * Parse the expiry of an az CLI answer: "expires_on" (Unix seconds, newer
 * az) or else "expiresOn" ("2026-11-23 19:20:57.000000", local time).
 * Returns the Unix time or -1.
 */
int64_t auth_cli_expiry(const char *expires_on, const char *expiresOn);

/* A program's credential options (the same in every program). */
struct auth_cli {
	const char *credential;	/* --credential LIST, or NULL: all */
	const char *token_file;	/* --token-file FILE, or NULL */
	const char *cacert;	/* --cacert / TWINPIPE_CACERT, or NULL */
	int insecure;		/* --insecure */
};

/*
 * The credential the options name: the token in --token-file, else the
 * chain of --credential. With scope, a first token is got now, so that a
 * missing credential is a configuration error found before any side
 * effect (its message prefixed by missing, e.g. "no account key and ").
 * Returns NULL with the reason logged.
 */
struct auth *auth_from_options(const struct auth_cli *o, const char *scope,
    const char *missing);

#endif
