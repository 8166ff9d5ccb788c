/*
 * eventhub_conn.c - Event Hubs connection strings and SAS tokens.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec.h"
#include "eventhub_conn.h"
#include "sas.h"

void
eh_conn_release(struct eh_conn *c)
{
	if (c == NULL)
		return;
	free(c->host);
	free(c->entity);
	free(c->key_name);
	if (c->key != NULL)
		memset(c->key, 0, strlen(c->key));
	free(c->key);
	if (c->sas != NULL)
		memset(c->sas, 0, strlen(c->sas));
	free(c->sas);
	memset(c, 0, sizeof(*c));
}

static char *
dupn(const char *p, size_t n)
{
	char *s = xmalloc(n + 1);

	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* Set *dst from v[0..n) unless it is set already (the first one wins). */
static int
take(char **dst, const char *k, const char *v, size_t n, struct buf *err)
{
	if (*dst != NULL) {
		buf_printf(err, "the connection string has %s twice", k);
		return -1;
	}
	*dst = dupn(v, n);
	return 0;
}

/* Host (and port) of an endpoint "sb://HOST[:PORT][/...]". */
static int
endpoint(struct eh_conn *c, const char *v, size_t n, struct buf *err)
{
	size_t i, h;
	const char *p;

	if (n >= 5 && strncasecmp(v, "sb://", 5) == 0)
		i = 5;
	else if (n >= 8 && strncasecmp(v, "amqps://", 8) == 0)
		i = 8, c->amqp_hint = 1;
	else if (n >= 7 && strncasecmp(v, "amqp://", 7) == 0)
		i = 7, c->amqp_hint = 1, c->tls = 0;
	else {
		buf_printf(err, "Endpoint must start with sb://");
		return -1;
	}
	p = v + i;
	n -= i;
	for (h = 0; h < n && p[h] != '/' && p[h] != ':'; h++)
		if (p[h] == '@' || p[h] == '?' || p[h] == '#' ||
		    (unsigned char)p[h] <= ' ') {
			buf_printf(err, "Endpoint has a bad host name");
			return -1;
		}
	if (h == 0) {
		buf_printf(err, "Endpoint has no host name");
		return -1;
	}
	if (c->host != NULL) {
		buf_printf(err, "the connection string has Endpoint twice");
		return -1;
	}
	c->host = dupn(p, h);
	if (h < n && p[h] == ':') {
		long port = 0;
		size_t k = h + 1;

		for (; k < n && p[k] >= '0' && p[k] <= '9' && port < 65536;
		    k++)
			port = port * 10 + (p[k] - '0');
		if (k == h + 1 || port < 1 || port > 65535 ||
		    (k < n && p[k] != '/')) {
			buf_printf(err, "Endpoint has a bad port");
			return -1;
		}
		c->port = (int)port;
	}
	return 0;
}

int
eh_conn_parse(const char *s, size_t n, struct eh_conn *c, struct buf *err)
{
	size_t i = 0;
	int dev = 0;

	memset(c, 0, sizeof(*c));
	c->tls = 1;
	while (i < n) {
		size_t e = i, eq, kl, vl;
		const char *k = s + i, *v;

		while (e < n && s[e] != ';')
			e++;
		for (eq = i; eq < e && s[eq] != '='; eq++)
			;
		/* trim blanks around the key */
		while (k < s + eq && (*k == ' ' || *k == '\t' || *k == '\n' ||
		    *k == '\r'))
			k++;
		kl = (size_t)(s + eq - k);
		while (kl > 0 && (k[kl - 1] == ' ' || k[kl - 1] == '\t'))
			kl--;
		if (kl == 0 && eq == e) {	/* an empty part */
			i = e + 1;
			continue;
		}
		if (eq == e || kl == 0) {
			buf_printf(err, "the connection string has a part "
			    "without KEY=VALUE");
			goto bad;
		}
		v = s + eq + 1;
		vl = e - eq - 1;
		while (vl > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			vl--;
		}
		while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t' ||
		    v[vl - 1] == '\n' || v[vl - 1] == '\r'))
			vl--;
#define K(name) (kl == sizeof(name) - 1 && strncasecmp(k, name, kl) == 0)
		if (K("Endpoint")) {
			if (endpoint(c, v, vl, err) < 0)
				goto bad;
		} else if (K("EntityPath")) {
			if (take(&c->entity, "EntityPath", v, vl, err) < 0)
				goto bad;
		} else if (K("SharedAccessKeyName")) {
			if (take(&c->key_name, "SharedAccessKeyName", v, vl,
			    err) < 0)
				goto bad;
		} else if (K("SharedAccessKey")) {
			if (take(&c->key, "SharedAccessKey", v, vl, err) < 0)
				goto bad;
		} else if (K("SharedAccessSignature")) {
			if (take(&c->sas, "SharedAccessSignature", v, vl,
			    err) < 0)
				goto bad;
		} else if (K("UseDevelopmentEmulator")) {
			dev = vl == 4 && strncasecmp(v, "true", 4) == 0;
		} else if (K("TransportType")) {
			c->amqp_hint |= vl >= 4 && strncasecmp(v, "amqp", 4)
			    == 0;
		} else if (K("HostName")) {
			buf_printf(err, "this is an IoT Hub connection string "
			    "(HostName=...): use the hub's \"Event "
			    "Hub-compatible endpoint\" string (Endpoint=sb://"
			    "...;EntityPath=...) from Built-in endpoints");
			goto bad;
		}
		/* other keys (DeviceId, ...) are ignored, as the SDKs do */
#undef K
		i = e + 1;
	}
	if (c->host == NULL) {
		buf_printf(err, "the connection string has no "
		    "Endpoint=sb://NAMESPACE/");
		goto bad;
	}
	if (c->sas == NULL && (c->key_name == NULL || c->key == NULL)) {
		buf_printf(err, "the connection string needs "
		    "SharedAccessKeyName and SharedAccessKey (or "
		    "SharedAccessSignature)");
		goto bad;
	}
	if (c->entity != NULL && c->entity[0] == '\0') {
		free(c->entity);
		c->entity = NULL;
	}
	if (dev) {
		c->tls = 0;
		c->amqp_hint = 1;
	}
	if (c->port == 0)
		c->port = c->tls ? 5671 : 5672;
	return 0;
bad:
	eh_conn_release(c);
	return -1;
}

int
eh_sas_token(struct buf *out, const char *uri, const char *key_name,
    const char *key, int64_t expiry)
{
	return sas_token(out, uri, key_name, key, strlen(key), expiry);
}
