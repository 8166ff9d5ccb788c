/*
 * cosmos_doc.c - the pure parts of push-cosmos (see cosmos_doc.h).
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cosmos_doc.h"
#include "json.h"

static char *
dup_trim(const char *p, size_t n)
{
	char *s;

	while (n > 0 && isspace((unsigned char)*p)) {
		p++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)p[n - 1]))
		n--;
	s = xmalloc(n + 1);
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

int
cosmos_conn_parse(const char *s, char **endpoint, char **key)
{
	const char *p = s;

	*endpoint = NULL;
	*key = NULL;
	while (*p != '\0') {
		const char *end = strchr(p, ';'), *eq;
		size_t n;

		if (end == NULL)
			end = p + strlen(p);
		n = (size_t)(end - p);
		eq = memchr(p, '=', n);
		if (eq == NULL) {
			size_t i;

			for (i = 0; i < n; i++)
				if (!isspace((unsigned char)p[i]))
					goto bad;
		} else {
			const char *k = p;
			size_t kn = (size_t)(eq - p);
			char *kk = dup_trim(k, kn), **dst = NULL;

			if (strcasecmp(kk, "AccountEndpoint") == 0)
				dst = endpoint;
			else if (strcasecmp(kk, "AccountKey") == 0)
				dst = key;
			free(kk);
			if (dst != NULL) {
				free(*dst);
				*dst = dup_trim(eq + 1,
				    (size_t)(end - eq - 1));
			}
		}
		p = *end ? end + 1 : end;
	}
	return 0;
bad:
	free(*endpoint);
	free(*key);
	*endpoint = NULL;
	*key = NULL;
	return -1;
}

jv
cosmos_merge_patch(jv target, jv patch)
{
	int it;

	if (jv_get_kind(patch) != JV_KIND_OBJECT) {
		jv_free(target);
		return patch;
	}
	if (jv_get_kind(target) != JV_KIND_OBJECT) {
		jv_free(target);
		target = jv_object();
	}
	for (it = jv_object_iter(patch); jv_object_iter_valid(patch, it);
	    it = jv_object_iter_next(patch, it)) {
		jv k = jv_object_iter_key(patch, it);
		jv v = jv_object_iter_value(patch, it);

		if (jv_get_kind(v) == JV_KIND_NULL) {
			jv_free(v);
			target = jv_object_delete(target, k);
		} else {
			jv old = jv_object_has(jv_copy(target), jv_copy(k)) ?
			    jv_object_get(jv_copy(target), jv_copy(k)) :
			    jv_null();

			target = jv_object_set(target, k,
			    cosmos_merge_patch(old, v));
		}
	}
	jv_free(patch);
	return target;
}

jv
cosmos_pk_get(jv doc, const char *path)
{
	jv cur = jv_copy(doc);
	const char *p = path;

	if (*p != '/') {
		jv_free(cur);
		return jv_invalid();
	}
	while (*p == '/') {
		struct buf seg = BUF_INIT;
		const char *q = p + 1;

		while (*q != '\0' && *q != '/') {
			if (q[0] == '~' && q[1] == '0') {
				buf_addc(&seg, '~');
				q += 2;
			} else if (q[0] == '~' && q[1] == '1') {
				buf_addc(&seg, '/');
				q += 2;
			} else {
				buf_addc(&seg, *q++);
			}
		}
		buf_cstr(&seg);
		if (jv_get_kind(cur) != JV_KIND_OBJECT ||
		    !jv_object_has(jv_copy(cur), jv_string(seg.p ? seg.p :
		    ""))) {
			buf_release(&seg);
			jv_free(cur);
			return jv_invalid();
		}
		cur = jv_object_get(cur, jv_string(seg.p ? seg.p : ""));
		buf_release(&seg);
		p = q;
	}
	switch (jv_get_kind(cur)) {
	case JV_KIND_STRING:
	case JV_KIND_NUMBER:
	case JV_KIND_TRUE:
	case JV_KIND_FALSE:
	case JV_KIND_NULL:
		return cur;
	default:
		jv_free(cur);
		return jv_invalid();
	}
}

void
cosmos_pk_header(struct buf *b, jv pk)
{
	buf_addc(b, '[');
	json_write(b, pk, JSON_ASCII, NULL);
	buf_addc(b, ']');
}

int
cosmos_id_check(const char *id, size_t n, int encode, struct buf *out,
    const char **why)
{
	size_t i, start = out->len;

	if (n == 0) {
		*why = "empty id";
		return -1;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)id[i];

		if (c == '/' || c == '\\' || c == '?' || c == '#' ||
		    (encode && c == '%')) {
			if (!encode) {
				*why = "id contains '/', '\\', '?' or '#', "
				    "which Cosmos DB rejects (see "
				    "--encode-ids)";
				out->len = start;
				return -1;
			}
			buf_printf(out, "%%%02X", c);
		} else {
			buf_addc(out, (char)c);
		}
	}
	if (out->len - start > COSMOS_ID_MAX) {
		*why = "id longer than 1023 bytes";
		out->len = start;
		return -1;
	}
	buf_cstr(out);
	return 0;
}

jv
cosmos_doc_clean(jv doc, int sys)
{
	static const char *const reserved[] = { "$op", "$version", "$patch",
	    "_meta" };
	static const char *const system[] = { "_rid", "_self", "_etag",
	    "_attachments", "_ts", "_lsn", COSMOS_DELETED_KEY };
	size_t i;

	if (jv_get_kind(doc) != JV_KIND_OBJECT)
		return doc;
	for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		doc = jv_object_delete(doc, jv_string(reserved[i]));
	if (sys)
		for (i = 0; i < sizeof(system) / sizeof(system[0]); i++)
			doc = jv_object_delete(doc, jv_string(system[i]));
	return doc;
}

void
cosmos_number(struct buf *b, double d)
{
	if (d == floor(d) && fabs(d) < 9007199254740992.0)
		buf_printf(b, "%.0f", d);
	else
		json_write_number(b, d);
}

void
cosmos_lits_add(struct json_numlits *dst, const struct json_numlits *src)
{
	size_t i, j;

	for (i = 0; i < src->n; i++) {
		const struct json_numlit *e = &src->e[i];
		const char *t = src->text.p + e->off;

		for (j = 0; j < dst->n; j++) {
			struct json_numlit *d = &dst->e[j];

			if (d->v == e->v && signbit(d->v) == signbit(e->v)) {
				if (e->ambiguous || d->len != e->len ||
				    memcmp(dst->text.p + d->off, t, e->len) != 0)
					d->ambiguous = 1;
				break;
			}
		}
		if (j < dst->n)
			continue;
		if (dst->n == dst->cap) {
			dst->cap = dst->cap ? dst->cap * 2 : 8;
			dst->e = xrealloc(dst->e, dst->cap * sizeof(*dst->e));
		}
		dst->e[dst->n] = *e;
		dst->e[dst->n].off = (uint32_t)dst->text.len;
		dst->n++;
		buf_add(&dst->text, t, e->len);
	}
}
