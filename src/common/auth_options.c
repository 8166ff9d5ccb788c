/*
 * auth_options.c - a program's credential options made into a credential
 * in one call (auth_from_options(), see auth.h): --token-file,
 * --credential, --cacert and --insecure mean the same in every program.
 */
#include "auth.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "log.h"

struct auth *
auth_from_options(const struct auth_cli *o, const char *scope,
    const char *missing)
{
	struct auth_opts ao;
	struct auth *a;
	struct buf err = BUF_INIT;
	char *token = NULL;
	int failed = 0;

	auth_opts_init(&ao);
	ao.cacert = o->cacert;
	ao.insecure = o->insecure;
	ao.chain = o->credential;
	if (o->token_file != NULL) {
		if ((token = cli_secret(NULL, o->token_file, &failed)) ==
		    NULL) {
			if (!failed)
				log_error("token file '%s' is empty",
				    o->token_file);
			return NULL;
		}
		ao.chain = "static";
		ao.static_token = token;
	}
	a = auth_new(&ao, &err);	/* keeps a copy of the token */
	if (token != NULL) {
		explicit_bzero(token, strlen(token));
		free(token);
	}
	if (a == NULL) {
		log_error("%s", buf_cstr(&err));
		buf_release(&err);
		return NULL;
	}
	/* a first token now: a missing credential is a configuration error
	   found before any side effect */
	if (scope != NULL && auth_get(a, scope, NULL, &err) == NULL) {
		log_error("%s%s", missing != NULL ? missing : "",
		    buf_cstr(&err));
		buf_release(&err);
		auth_free(a);
		return NULL;
	}
	buf_release(&err);
	if (scope != NULL)
		log_info("credential: %s", auth_provider_name(a));
	return a;
}
