/*
 * blob.c - Azure Blob Storage connection strings, URLs and signatures.
 */
#include "blob.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "codec.h"
#include "redact.h"
#include "url.h"
#include "utf8.h"

void
blob_account_release(struct blob_account *a)
{
	if (a == NULL)
		return;
	free(a->name);
	free(a->key);
	free(a->sas);
	free(a->endpoint);
	memset(a, 0, sizeof(*a));
}

static char *
xstrndup0(const char *p, size_t n)
{
	char *s = xmalloc(n + 1);

	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

static void
set_str(char **dst, const char *p, size_t n)
{
	free(*dst);
	*dst = xstrndup0(p, n);
}

int
blob_conn_parse(struct blob_account *a, const char *cs, struct buf *err)
{
	char *proto = NULL, *suffix = NULL, *proxy = NULL;
	int dev = 0, rc = -1;
	const char *p = cs;

	memset(a, 0, sizeof(*a));
	while (*p != '\0') {
		const char *end = strchr(p, ';'), *eq;
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p), kn;

		while (n > 0 && isspace((unsigned char)*p)) {
			p++;
			n--;
		}
		while (n > 0 && isspace((unsigned char)p[n - 1]))
			n--;
		if (n == 0)
			goto next;
		eq = memchr(p, '=', n);
		if (eq == NULL) {
			buf_printf(err, "connection string: a part has no "
			    "'=' (expected Name=value;...)");
			goto out;
		}
		kn = (size_t)(eq - p);
#define KEY(s) (kn == strlen(s) && strncasecmp(p, s, kn) == 0)
		if (KEY("AccountName"))
			set_str(&a->name, eq + 1, n - kn - 1);
		else if (KEY("AccountKey"))
			set_str(&a->key, eq + 1, n - kn - 1);
		else if (KEY("BlobEndpoint"))
			set_str(&a->endpoint, eq + 1, n - kn - 1);
		else if (KEY("SharedAccessSignature"))
			set_str(&a->sas, eq + 1, n - kn - 1);
		else if (KEY("DefaultEndpointsProtocol"))
			set_str(&proto, eq + 1, n - kn - 1);
		else if (KEY("EndpointSuffix"))
			set_str(&suffix, eq + 1, n - kn - 1);
		else if (KEY("DevelopmentStorageProxyUri"))
			set_str(&proxy, eq + 1, n - kn - 1);
		else if (KEY("UseDevelopmentStorage"))
			dev = (n - kn - 1 == 4 && strncasecmp(eq + 1, "true",
			    4) == 0);
		/* other keys (QueueEndpoint, ...) are not ours */
#undef KEY
next:
		if (end == NULL)
			break;
		p = end + 1;
	}
	if (dev) {
		struct buf b = BUF_INIT;

		if (a->name == NULL)
			a->name = xstrdup(BLOB_DEV_ACCOUNT);
		if (a->key == NULL && a->sas == NULL)
			a->key = xstrdup(BLOB_DEV_KEY);
		if (a->endpoint == NULL) {
			const char *why;

			buf_printf(&b, "%s:10000", proxy != NULL ? proxy :
			    "http://127.0.0.1");
			if (url_segment(&b, a->name, strlen(a->name),
			    &why) < 0) {
				buf_printf(err, "connection string: "
				    "AccountName: %s", why);
				buf_release(&b);
				goto out;
			}
			a->endpoint = buf_cstr(&b);
		}
	}
	if (a->sas != NULL && a->sas[0] == '?')
		memmove(a->sas, a->sas + 1, strlen(a->sas));
	if (a->endpoint == NULL) {
		struct buf b = BUF_INIT;

		if (a->name == NULL) {
			buf_printf(err, "connection string: no AccountName "
			    "and no BlobEndpoint");
			goto out;
		}
		if (a->name[strspn(a->name, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")] != '\0' ||
		    a->name[0] == '\0') {
			buf_printf(err, "connection string: AccountName '%s' "
			    "is not a storage account name (letters and "
			    "digits)", a->name);
			goto out;
		}
		buf_printf(&b, "%s://%s.blob.%s", proto != NULL ? proto :
		    "https", a->name, suffix != NULL ? suffix :
		    "core.windows.net");
		a->endpoint = buf_cstr(&b);
	}
	while (a->endpoint[0] != '\0' &&
	    a->endpoint[strlen(a->endpoint) - 1] == '/')
		a->endpoint[strlen(a->endpoint) - 1] = '\0';
	if (a->name == NULL) {
		/* BlobEndpoint only (with a SAS): the account from the URL */
		char *acct = NULL, *ep = NULL, *c = NULL, *pre = NULL;
		struct buf u = BUF_INIT;

		buf_printf(&u, "%s/x", a->endpoint);
		if (blob_url_parse(buf_cstr(&u), &acct, &ep, &c, &pre,
		    err) < 0) {
			buf_release(&u);
			goto out;
		}
		a->name = acct;
		free(ep);
		free(c);
		free(pre);
		buf_release(&u);
	}
	if (a->key != NULL) {
		struct buf k = BUF_INIT;

		if (base64_decode(&k, a->key, strlen(a->key)) < 0 ||
		    k.len == 0) {
			buf_release(&k);
			buf_printf(err, "connection string: AccountKey is not "
			    "base64");
			goto out;
		}
		buf_release(&k);
	}
	rc = 0;
out:
	free(proto);
	free(suffix);
	free(proxy);
	if (rc < 0)
		blob_account_release(a);
	return rc;
}

static int
is_path_style_host(const char *h, size_t n)
{
	size_t i;
	int dots = 0;

	if (n == 9 && strncasecmp(h, "localhost", 9) == 0)
		return 1;
	if (n > 0 && h[0] == '[')
		return 1;	/* IPv6 literal */
	for (i = 0; i < n; i++) {
		if (h[i] == '.')
			dots++;
		else if (!isdigit((unsigned char)h[i]))
			return 0;
	}
	return dots == 3;
}

/* "'URL': why" into err, the URL without its secrets (redact.h). */
static void
bad_url(struct buf *err, const char *url, const char *why)
{
	buf_addc(err, '\'');
	redact_url(err, url);
	buf_printf(err, "': %s", why);
}

int
blob_url_parse(const char *url, char **account, char **endpoint,
    char **container, char **prefix, struct buf *err)
{
	const char *p, *host, *hend, *path, *seg, *e;
	size_t hn;

	*account = *endpoint = *container = *prefix = NULL;
	if (strncmp(url, "https://", 8) == 0)
		host = url + 8;
	else if (strncmp(url, "http://", 7) == 0)
		host = url + 7;
	else {
		bad_url(err, url, "not an http(s) URL");
		return -1;
	}
	if (strchr(url, '?') != NULL || strchr(url, '#') != NULL) {
		buf_printf(err, "blob URL: a query string is not accepted (give "
		    "a SAS through AZURE_STORAGE_SAS_TOKEN or --sas-file)");
		return -1;
	}
	path = strchr(host, '/');
	if (path == NULL)
		path = host + strlen(host);
	hend = memchr(host, ':', (size_t)(path - host));
	if (host[0] == '[')
		hend = memchr(host, ']', (size_t)(path - host));
	hn = (size_t)((hend != NULL ? hend : path) - host);
	if (host[0] == '[')
		hn++;
	if (hn == 0) {
		bad_url(err, url, "no host");
		return -1;
	}
	p = path;
	while (*p == '/')
		p++;
	if (is_path_style_host(host, hn)) {
		seg = p;
		e = strchr(seg, '/');
		if (e == NULL || e == seg) {
			bad_url(err, url, "expected "
			    "http://HOST:PORT/ACCOUNT/CONTAINER[/PREFIX]");
			return -1;
		}
		*account = xstrndup0(seg, (size_t)(e - seg));
		*endpoint = xstrndup0(url, (size_t)(e - url));
		p = e + 1;
	} else {
		const char *dot = memchr(host, '.', hn);

		if (dot == NULL) {
			bad_url(err, url, "cannot tell the account "
			    "from the host");
			return -1;
		}
		*account = xstrndup0(host, (size_t)(dot - host));
		*endpoint = xstrndup0(url, (size_t)(path - url));
	}
	while (*p == '/')
		p++;
	e = strchr(p, '/');
	if (e == NULL)
		e = p + strlen(p);
	if (e == p) {
		bad_url(err, url, "no container in the URL");
		free(*account);
		free(*endpoint);
		*account = *endpoint = NULL;
		return -1;
	}
	*container = xstrndup0(p, (size_t)(e - p));
	while (*e == '/')
		e++;
	{
		size_t n = strlen(e);

		while (n > 0 && e[n - 1] == '/')
			n--;
		*prefix = xstrndup0(e, n);
	}
	return 0;
}

/* ---- SharedKey ---- */

static const char *
hdr_get(const struct blob_hdr *h, size_t nh, const char *name)
{
	size_t i;

	for (i = 0; i < nh; i++)
		if (strcasecmp(h[i].name, name) == 0)
			return h[i].value;
	return NULL;
}

struct kv {
	char *k;
	char *v;
};

static int
kv_cmp(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;

	return strcmp(x->k, y->k);
}

static void
lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* canonicalized resource: "/account/path" then "\nkey:value" sorted */
static int
canon_resource(struct buf *out, const char *account, const char *url,
    struct buf *err)
{
	const char *host, *path, *q;
	struct kv *kv = NULL;
	size_t nkv = 0, i;
	int rc = -1;

	host = strstr(url, "://");
	if (host == NULL) {
		bad_url(err, url, "not a URL");
		return -1;
	}
	host += 3;
	path = strchr(host, '/');
	if (path == NULL)
		path = "/";
	q = strchr(path, '?');
	buf_addc(out, '/');
	buf_adds(out, account);
	buf_add(out, path, q != NULL ? (size_t)(q - path) : strlen(path));
	if (q == NULL)
		return 0;
	q++;
	while (*q != '\0') {
		const char *amp = strchr(q, '&'), *eq;
		size_t n = amp != NULL ? (size_t)(amp - q) : strlen(q);
		struct buf k = BUF_INIT, v = BUF_INIT;

		eq = memchr(q, '=', n);
		if (pct_decode(&k, q, eq != NULL ? (size_t)(eq - q) : n) < 0 ||
		    (eq != NULL && pct_decode(&v, eq + 1,
		    n - (size_t)(eq - q) - 1) < 0)) {
			buf_release(&k);
			buf_release(&v);
			bad_url(err, url, "bad percent-encoding");
			goto out;
		}
		kv = xrealloc(kv, (nkv + 1) * sizeof(*kv));
		kv[nkv].k = buf_cstr(&k);
		kv[nkv].v = v.p != NULL ? buf_cstr(&v) : xstrdup("");
		lower(kv[nkv].k);
		nkv++;
		if (amp == NULL)
			break;
		q = amp + 1;
	}
	if (nkv > 1)
		qsort(kv, nkv, sizeof(*kv), kv_cmp);
	for (i = 0; i < nkv; i++) {
		/* repeated parameters: one line, values comma-separated */
		if (i > 0 && strcmp(kv[i].k, kv[i - 1].k) == 0) {
			buf_addc(out, ',');
		} else {
			buf_addc(out, '\n');
			buf_adds(out, kv[i].k);
			buf_addc(out, ':');
		}
		buf_adds(out, kv[i].v);
	}
	rc = 0;
out:
	for (i = 0; i < nkv; i++) {
		free(kv[i].k);
		free(kv[i].v);
	}
	free(kv);
	return rc;
}

static int
str_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
blob_string_to_sign(struct buf *out, const char *account, const char *method,
    const char *url, size_t content_length, const struct blob_hdr *h,
    size_t nh, struct buf *err)
{
	static const char *const std[] = {
		"Content-Encoding", "Content-Language", NULL /* length */,
		"Content-MD5", "Content-Type", "Date", "If-Modified-Since",
		"If-Match", "If-None-Match", "If-Unmodified-Since", "Range"
	};
	char **xms = NULL;
	size_t i, nx = 0;

	buf_adds(out, method);
	buf_addc(out, '\n');
	for (i = 0; i < sizeof(std) / sizeof(std[0]); i++) {
		const char *v;

		if (std[i] == NULL) {
			if (content_length > 0)
				buf_printf(out, "%zu", content_length);
		} else if ((v = hdr_get(h, nh, std[i])) != NULL) {
			buf_adds(out, v);
		}
		buf_addc(out, '\n');
	}
	for (i = 0; i < nh; i++) {
		struct buf line = BUF_INIT;
		const char *v = h[i].value;

		if (strncasecmp(h[i].name, "x-ms-", 5) != 0)
			continue;
		buf_adds(&line, h[i].name);
		lower(buf_cstr(&line));
		buf_addc(&line, ':');
		while (*v == ' ')
			v++;
		buf_adds(&line, v);
		while (line.len > 0 && line.p[line.len - 1] == ' ')
			line.len--;
		xms = xrealloc(xms, (nx + 1) * sizeof(*xms));
		xms[nx++] = buf_cstr(&line);
	}
	if (nx > 1)
		qsort(xms, nx, sizeof(*xms), str_ptr_cmp);
	for (i = 0; i < nx; i++) {
		buf_adds(out, xms[i]);
		buf_addc(out, '\n');
		free(xms[i]);
	}
	free(xms);
	return canon_resource(out, account, url, err);
}

static int
hmac_b64(struct buf *out, const char *key, const char *msg, size_t n)
{
	struct buf k = BUF_INIT;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int ml = 0;
	int rc = -1;

	if (base64_decode(&k, key, strlen(key)) < 0 || k.len == 0)
		goto out;
	if (HMAC(EVP_sha256(), k.p, (int)k.len, (const unsigned char *)msg, n,
	    mac, &ml) == NULL)
		goto out;
	base64_encode(out, mac, ml);
	rc = 0;
out:
	if (k.p != NULL)
		memset(k.p, 0, k.cap);
	buf_release(&k);
	return rc;
}

int
blob_sharedkey(struct buf *out, const char *account, const char *key,
    const char *method, const char *url, size_t content_length,
    const struct blob_hdr *h, size_t nh, struct buf *err)
{
	struct buf s = BUF_INIT;
	int rc = -1;

	if (blob_string_to_sign(&s, account, method, url, content_length, h,
	    nh, err) < 0)
		goto out;
	buf_printf(out, "SharedKey %s:", account);
	if (hmac_b64(out, key, s.p, s.len) < 0) {
		buf_printf(err, "the account key is not base64");
		goto out;
	}
	rc = 0;
out:
	buf_release(&s);
	return rc;
}

/* ---- SAS ---- */

static void
iso8601(char *dst, size_t n, time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(dst, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
blob_service_sas(struct buf *out, const char *account, const char *key,
    const char *container, const char *blob, const char *perm,
    time_t start, time_t expiry)
{
	struct buf s = BUF_INIT, sig = BUF_INIT;
	char st[32], se[32];
	const char *sr = blob != NULL ? "b" : "c";
	int rc = -1;

	iso8601(st, sizeof(st), start);
	iso8601(se, sizeof(se), expiry);
	/* sp st se resource si sip spr sv sr snapshotTime ses rscc rscd
	 * rsce rscl rsct */
	buf_printf(&s, "%s\n%s\n%s\n/blob/%s/%s%s%s\n\n\n\n%s\n%s\n\n\n\n\n\n"
	    "\n", perm, st, se, account, container, blob != NULL ? "/" : "",
	    blob != NULL ? blob : "", BLOB_API_VERSION, sr);
	if (hmac_b64(&sig, key, s.p, s.len) < 0)
		goto out;
	buf_printf(out, "sv=%s&sr=%s&sp=%s&st=", BLOB_API_VERSION, sr, perm);
	pct_encode(out, st, strlen(st));
	buf_adds(out, "&se=");
	pct_encode(out, se, strlen(se));
	buf_adds(out, "&sig=");
	pct_encode(out, sig.p, sig.len);
	rc = 0;
out:
	buf_release(&s);
	buf_release(&sig);
	return rc;
}

void
blob_http_date(struct buf *b, time_t t)
{
	static const char *const wd[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
		"Fri", "Sat" };
	static const char *const mo[] = { "Jan", "Feb", "Mar", "Apr", "May",
		"Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	gmtime_r(&t, &tm);
	buf_printf(b, "%s, %02d %s %04d %02d:%02d:%02d GMT", wd[tm.tm_wday],
	    tm.tm_mday, mo[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
}

/* ---- error bodies ---- */

#define BLOB_ERROR_READ (64u << 10)

/* the text children of element e (entity references are not followed) */
static void
elem_text(struct buf *t, const xmlNode *e)
{
	const xmlNode *c;

	for (c = e->children; c != NULL && t->len <= 4 * BLOB_ERROR_MAX;
	    c = c->next)
		if ((c->type == XML_TEXT_NODE ||
		    c->type == XML_CDATA_SECTION_NODE) && c->content != NULL)
			buf_adds(t, (const char *)c->content);
}

static int
blank(char c)
{
	return (unsigned char)c <= 0x20 || c == 0x7f;
}

/* append t's first line, cleaned and bounded, to out; 0 if non-empty */
static int
clean_line(struct buf *out, const struct buf *t)
{
	const char *p = t->p, *e;
	size_t n, i;

	if (t->len == 0)
		return -1;
	e = p + t->len;
	while (p < e && blank(*p))
		p++;
	n = (size_t)(e - p);
	for (i = 0; i < n; i++)
		if (p[i] == '\n' || p[i] == '\r')
			break;
	n = i;
	while (n > 0 && blank(p[n - 1]))
		n--;
	if (n > BLOB_ERROR_MAX) {
		n = BLOB_ERROR_MAX;
		/* do not end inside a UTF-8 sequence */
		while (n > 0 && ((unsigned char)p[n] & 0xc0) == 0x80)
			n--;
		while (n > 0 && blank(p[n - 1]))
			n--;
	}
	if (n == 0)
		return -1;
	/* blanks as ' ', bytes that are not UTF-8 as '?' */
	for (i = 0; i < n; ) {
		size_t k = (unsigned char)p[i] < 0x80 ? 1 :
		    utf8_seq((const unsigned char *)p + i,
		    (const unsigned char *)p + n);

		if (k == 0) {
			buf_addc(out, '?');
			i++;
		} else if (k == 1) {
			buf_addc(out, blank(p[i]) ? ' ' : p[i]);
			i++;
		} else {
			buf_add(out, p + i, k);
			i += k;
		}
	}
	return 0;
}

/* libxml2 prints some errors despite XML_PARSE_NOERROR: not to our stderr */
static void
xml_quiet(void *ctx, const char *fmt, ...)
{
	(void)ctx;
	(void)fmt;
}

static void
xml_quiet_s(void *ctx, xmlErrorPtr e)
{
	(void)ctx;
	(void)e;
}

int
blob_error_parse(const char *body, size_t n, struct buf *code,
    struct buf *msg)
{
	struct buf tc = BUF_INIT, tm = BUF_INIT, oc = BUF_INIT, om = BUF_INIT;
	const xmlNode *root, *c;
	xmlDoc *doc;
	int rc = -1;

	if (body == NULL || n == 0)
		return -1;
	if (n > BLOB_ERROR_READ)
		n = BLOB_ERROR_READ;
	xmlSetGenericErrorFunc(NULL, xml_quiet);
	xmlSetStructuredErrorFunc(NULL, xml_quiet_s);
	doc = xmlReadMemory(body, (int)n, NULL, NULL, XML_PARSE_RECOVER |
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
	    XML_PARSE_NOCDATA);
	if (doc == NULL)
		return -1;
	root = xmlDocGetRootElement(doc);
	if (root == NULL || root->name == NULL ||
	    strcmp((const char *)root->name, "Error") != 0)
		goto out;
	for (c = root->children; c != NULL; c = c->next) {
		if (c->type != XML_ELEMENT_NODE || c->name == NULL)
			continue;
		if (strcmp((const char *)c->name, "Code") == 0 && tc.len == 0)
			elem_text(&tc, c);
		else if (strcmp((const char *)c->name, "Message") == 0 &&
		    tm.len == 0)
			elem_text(&tm, c);
	}
	if (clean_line(&oc, &tc) == 0)
		rc = 0;
	if (clean_line(&om, &tm) == 0)
		rc = 0;
	if (rc == 0) {
		if (code != NULL)
			buf_add(code, oc.p, oc.len);
		if (msg != NULL)
			buf_add(msg, om.p, om.len);
	}
out:
	xmlFreeDoc(doc);
	buf_release(&tc);
	buf_release(&tm);
	buf_release(&oc);
	buf_release(&om);
	return rc;
}
