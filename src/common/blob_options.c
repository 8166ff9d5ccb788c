/*
 * blob_options.c - where a program's blobs go and with which credential:
 * the container URL (or container[/prefix] with a connection string), the
 * connection string, account key and SAS token from the environment or
 * files, and the auth mode (blob.h). Shared by archive and push-adt.
 */
#include "blob.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "codec.h"
#include "log.h"
#include "url.h"

int
blob_options_resolve(const struct blob_cli *o, struct blob_target *t,
    struct buf *err)
{
	char **owned = t->owned_;
	char *cs, *key, *sas, *acct = NULL, *ep = NULL;
	const char *why;
	int failed = 0, url_form = 0;

	memset(t, 0, sizeof(*t));

	cs = cli_secret("AZURE_STORAGE_CONNECTION_STRING", o->conn_file,
	    &failed);
	if (failed)
		return -1;
	if (cs != NULL && blob_conn_parse(&t->acct, cs, err) < 0) {
		free(cs);
		return -1;
	}
	free(cs);
	if (strncmp(o->url, "http://", 7) == 0 ||
	    strncmp(o->url, "https://", 8) == 0) {
		if (blob_url_parse(o->url, &acct, &ep, &owned[0], &owned[1],
		    err) < 0)
			return -1;
		url_form = 1;
		if (t->acct.name != NULL && strcmp(t->acct.name, acct) != 0)
			log_warn("the connection string's account '%s' is not "
			    "the URL's '%s': using the URL's", t->acct.name,
			    acct);
		free(t->acct.name);
		free(t->acct.endpoint);
		t->acct.name = acct;
		t->acct.endpoint = ep;
	} else {
		const char *sl = strchr(o->url, '/');

		if (t->acct.endpoint == NULL) {
			buf_printf(err, "%s '%s' is not a URL and no "
			    "connection string is set "
			    "(AZURE_STORAGE_CONNECTION_STRING)", o->what,
			    o->url);
			return -1;
		}
		owned[0] = sl != NULL ? strndup(o->url,
		    (size_t)(sl - o->url)) : xstrdup(o->url);
		owned[1] = xstrdup(sl != NULL ? sl + 1 : "");
		while (owned[1][0] != '\0' &&
		    owned[1][strlen(owned[1]) - 1] == '/')
			owned[1][strlen(owned[1]) - 1] = '\0';
	}
	if (url_form && owned[1][0] != '\0') {
		/* a URL's path is percent-encoded: the prefix is its
		   decoding ("my%20dir" is the blob folder "my dir") */
		struct buf d = BUF_INIT;

		if (pct_decode(&d, owned[1], strlen(owned[1])) < 0 ||
		    memchr(buf_cstr(&d), '\0', d.len) != NULL) {
			buf_printf(err, "%s: the prefix '%s' is not "
			    "valid percent-encoding", o->what, owned[1]);
			buf_release(&d);
			return -1;
		}
		free(owned[1]);
		owned[1] = buf_cstr(&d);
	}
	t->container = owned[0];
	t->prefix = owned[1];
	if (t->prefix[0] != '\0' && url_path_check(t->prefix,
	    strlen(t->prefix), &why) < 0) {
		buf_printf(err, "%s: the prefix '%s': %s: refused "
		    "(Blob Storage and URLs would resolve it, and the blobs "
		    "would land elsewhere)", o->what, t->prefix, why);
		return -1;
	}
	{
		size_t i, n = strlen(t->container);
		int okname = n >= 3 && n <= 63 && t->container[0] != '-' &&
		    t->container[n - 1] != '-' &&
		    strstr(t->container, "--") == NULL;

		for (i = 0; i < n && okname; i++)
			okname = (t->container[i] >= 'a' &&
			    t->container[i] <= 'z') ||
			    (t->container[i] >= '0' &&
			    t->container[i] <= '9') || t->container[i] == '-';
		if (!okname) {
			buf_printf(err, "container name '%s': 3-63 lowercase "
			    "letters, digits and single hyphens",
			    t->container);
			return -1;
		}
	}
	key = cli_secret("AZURE_STORAGE_KEY", o->key_file, &failed);
	if (failed)
		return -1;
	if (key != NULL) {
		free(t->acct.key);
		t->acct.key = key;
	}
	sas = cli_secret("AZURE_STORAGE_SAS_TOKEN", o->sas_file, &failed);
	if (failed)
		return -1;
	if (sas != NULL) {
		free(t->acct.sas);
		t->acct.sas = xstrdup(sas[0] == '?' ? sas + 1 : sas);
		log_secret(t->acct.sas);
		free(sas);
	}
	if (t->acct.key != NULL)
		log_secret(t->acct.key);
	if (o->auth == NULL || strcmp(o->auth, "auto") == 0)
		t->auth = t->acct.sas != NULL ? BA_SAS :
		    t->acct.key != NULL ? BA_KEY : BA_ENTRA;
	else if (strcmp(o->auth, "key") == 0)
		t->auth = BA_KEY;
	else if (strcmp(o->auth, "sas") == 0)
		t->auth = BA_SAS;
	else if (strcmp(o->auth, "entra") == 0)
		t->auth = BA_ENTRA;
	else {
		buf_printf(err, "%s must be auto, key, sas or entra",
		    o->auth_opt);
		return -1;
	}
	if (t->auth == BA_KEY && t->acct.key == NULL) {
		buf_printf(err, "%s key: no account key (AccountKey in the "
		    "connection string, AZURE_STORAGE_KEY or %s)", o->auth_opt,
		    o->key_opt);
		return -1;
	}
	if (t->auth == BA_SAS && t->acct.sas == NULL) {
		buf_printf(err, "%s sas: no SAS token "
		    "(AZURE_STORAGE_SAS_TOKEN, %s or "
		    "SharedAccessSignature in the connection string)",
		    o->auth_opt, o->sas_opt);
		return -1;
	}
	return 0;
}

void
blob_target_release(struct blob_target *t)
{
	if (t == NULL)
		return;
	blob_account_release(&t->acct);
	free(t->owned_[0]);
	free(t->owned_[1]);
	memset(t, 0, sizeof(*t));
}
