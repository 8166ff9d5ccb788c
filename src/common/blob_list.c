/*
 * blob_list.c - read a List Blobs answer (EnumerationResults) with
 * libxml2: blob names, sizes and last-modified times, and the next marker.
 */
#include "blob.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

static void
quiet(void *ctx, const char *fmt, ...)
{
	(void)ctx;
	(void)fmt;
}

static void
quiet_s(void *ctx, xmlErrorPtr e)
{
	(void)ctx;
	(void)e;
}

static int
is(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && n->name != NULL &&
	    strcmp((const char *)n->name, name) == 0;
}

/* the text of e (text and CDATA children, entities decoded by libxml2) */
static void
text(struct buf *t, const xmlNode *e)
{
	const xmlNode *c;

	t->len = 0;
	for (c = e->children; c != NULL; c = c->next)
		if ((c->type == XML_TEXT_NODE ||
		    c->type == XML_CDATA_SECTION_NODE) && c->content != NULL)
			buf_adds(t, (const char *)c->content);
	buf_cstr(t);
}

int
blob_http_date_parse(const char *s, time_t *t)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char mon[4], zone[4];
	int d, y, hh, mm, ss, i, n = 0;
	struct tm tm;

	if (s == NULL || sscanf(s, "%*3s, %2d %3s %4d %2d:%2d:%2d %3s%n", &d,
	    mon, &y, &hh, &mm, &ss, zone, &n) != 7 || s[n] != '\0' ||
	    strcmp(zone, "GMT") != 0)
		return -1;
	for (i = 0; i < 12; i++)
		if (strncmp(months + 3 * i, mon, 3) == 0)
			break;
	if (i == 12 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60 ||
	    y < 1970)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = i;
	tm.tm_mday = d;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	*t = timegm(&tm);
	return 0;
}

int
blob_list_parse(const char *body, size_t n, struct buf *next,
    int (*fn)(void *, const struct blob_item *), void *ctx, struct buf *err)
{
	const xmlNode *root, *c, *b, *p;
	struct buf name = BUF_INIT, t = BUF_INIT;
	xmlDoc *doc;
	int rc = -1;

	next->len = 0;
	if (body == NULL || n == 0 || n > (1u << 30)) {
		buf_printf(err, "empty listing");
		return -1;
	}
	xmlSetGenericErrorFunc(NULL, quiet);
	xmlSetStructuredErrorFunc(NULL, quiet_s);
	doc = xmlReadMemory(body, (int)n, NULL, NULL, XML_PARSE_NONET |
	    XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA |
	    XML_PARSE_HUGE);
	if (doc == NULL) {
		buf_printf(err, "the listing is not well-formed XML");
		return -1;
	}
	root = xmlDocGetRootElement(doc);
	if (root == NULL || !is(root, "EnumerationResults")) {
		buf_printf(err, "the listing has no EnumerationResults");
		goto out;
	}
	for (c = root->children; c != NULL; c = c->next) {
		if (is(c, "NextMarker")) {
			text(&t, c);
			next->len = 0;
			buf_add(next, t.p, t.len);
			continue;
		}
		if (!is(c, "Blobs"))
			continue;
		for (b = c->children; b != NULL; b = b->next) {
			struct blob_item it = { 0 };
			int have_name = 0;

			if (!is(b, "Blob"))
				continue;
			it.size = -1;
			it.mtime = -1;
			for (p = b->children; p != NULL; p = p->next) {
				if (is(p, "Name")) {
					text(&name, p);
					have_name = 1;
				} else if (is(p, "Properties")) {
					const xmlNode *q;

					for (q = p->children; q != NULL;
					    q = q->next) {
						char *e;
						long long v;

						if (is(q, "Content-Length")) {
							text(&t, q);
							v = strtoll(t.p, &e, 10);
							if (e != t.p && *e == '\0' &&
							    v >= 0)
								it.size = v;
						} else if (is(q,
						    "Last-Modified")) {
							time_t tt;

							text(&t, q);
							if (blob_http_date_parse(
							    t.p, &tt) == 0)
								it.mtime = tt;
						}
					}
				}
			}
			if (!have_name || name.len == 0 ||
			    strlen(name.p) != name.len) {
				buf_printf(err, "a listed blob has no name");
				goto out;
			}
			it.name = name.p;
			it.namelen = name.len;
			if (fn(ctx, &it) < 0) {
				buf_printf(err, "stopped");
				goto out;
			}
		}
	}
	rc = 0;
out:
	xmlFreeDoc(doc);
	buf_release(&name);
	buf_release(&t);
	return rc;
}
