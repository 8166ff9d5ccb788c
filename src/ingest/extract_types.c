/*
 * extract_types.c - CSV --types: checking the list and converting one
 * field's text into JSON (int, number, bool, datetime in UTC, json).
 */
#include "extract.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	enum csv_type type;
} type_names[] = {
	{ "string", CT_STRING }, { "int", CT_INT }, { "number", CT_NUMBER },
	{ "bool", CT_BOOL }, { "datetime", CT_DATETIME }, { "json", CT_JSON },
};

int
extract_types_each(const char *types, char *msg, size_t msglen,
    int (*fn)(void *, const char *, size_t, enum csv_type), void *ctx)
{
	const char *p = types;

	while (*p != '\0') {
		const char *comma = strchr(p, ','), *eq;
		size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
		size_t i, tn;

		eq = memchr(p, '=', n);
		if (eq == NULL || eq == p) {
			snprintf(msg, msglen, "'%.*s': expected COLUMN=TYPE",
			    (int)n, p);
			return -1;
		}
		tn = n - (size_t)(eq + 1 - p);
		for (i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
			if (strlen(type_names[i].name) == tn &&
			    memcmp(type_names[i].name, eq + 1, tn) == 0)
				break;
		if (i == sizeof(type_names) / sizeof(type_names[0])) {
			snprintf(msg, msglen, "unknown type '%.*s' (int, "
			    "number, bool, datetime, json, string)", (int)tn,
			    eq + 1);
			return -1;
		}
		if (fn != NULL && fn(ctx, p, (size_t)(eq - p),
		    type_names[i].type) < 0) {
			snprintf(msg, msglen, "no column '%.*s' in the header",
			    (int)(eq - p), p);
			return -1;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

int
extract_csv_check_types(const char *types, char *msg, size_t msglen)
{
	return extract_types_each(types, msg, msglen, NULL, NULL);
}

/* ---- conversions ---- */

static int
is_json_number(const char *s, size_t n)
{
	size_t i = 0;

	if (i < n && s[i] == '-')
		i++;
	if (i >= n)
		return 0;
	if (s[i] == '0')
		i++;
	else if (s[i] >= '1' && s[i] <= '9')
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	else
		return 0;
	if (i < n && s[i] == '.') {
		i++;
		if (i >= n || s[i] < '0' || s[i] > '9')
			return 0;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= n || s[i] < '0' || s[i] > '9')
			return 0;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	return i == n;
}

static int
digits(const char *s, size_t n, int *out)
{
	size_t i;
	int v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static long long
days_from_civil(long long y, unsigned m, unsigned d)
{
	long long era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

static void
civil_from_days(long long z, int *y, int *m, int *d)
{
	long long era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

/*
 * YYYY-MM-DD, or YYYY-MM-DD[T ]HH:MM[:SS[.frac]][Z|+HH:MM|-HH:MM|+HHMM]
 * (no zone: UTC) -> ISO 8601 UTC "YYYY-MM-DDTHH:MM:SS[.frac]Z".
 */
static int
datetime_utc(const char *s, size_t n, struct buf *out)
{
	int Y, M, D, h = 0, mi = 0, sec = 0, zh = 0, zm = 0, y2, m2, d2;
	size_t i, fs = 0, fn = 0;
	long long days, t;
	int sign = 0;

	if (n < 10 || s[4] != '-' || s[7] != '-' || digits(s, 4, &Y) < 0 ||
	    digits(s + 5, 2, &M) < 0 || digits(s + 8, 2, &D) < 0 ||
	    M < 1 || M > 12 || D < 1 || D > 31)
		return -1;
	civil_from_days(days_from_civil(Y, (unsigned)M, (unsigned)D), &y2,
	    &m2, &d2);
	if (y2 != Y || m2 != M || d2 != D)
		return -1;	/* 2023-02-30 */
	if (n == 10) {
		buf_printf(out, "\"%04d-%02d-%02d\"", Y, M, D);
		return 0;
	}
	if ((s[10] != 'T' && s[10] != 't' && s[10] != ' ') || n < 16 ||
	    digits(s + 11, 2, &h) < 0 || s[13] != ':' ||
	    digits(s + 14, 2, &mi) < 0 || h > 23 || mi > 59)
		return -1;
	i = 16;
	if (i < n && s[i] == ':') {
		if (i + 3 > n || digits(s + i + 1, 2, &sec) < 0 || sec > 60)
			return -1;
		i += 3;
		if (i < n && (s[i] == '.' || s[i] == ',')) {
			fs = ++i;
			while (i < n && s[i] >= '0' && s[i] <= '9')
				i++;
			fn = i - fs;
			if (fn == 0)
				return -1;
		}
	}
	if (i < n) {
		if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == n) {
			i++;
		} else if (s[i] == '+' || s[i] == '-') {
			sign = s[i] == '+' ? 1 : -1;
			if (i + 3 > n || digits(s + i + 1, 2, &zh) < 0)
				return -1;
			i += 3;
			if (i < n && s[i] == ':')
				i++;
			if (i + 2 != n || digits(s + i, 2, &zm) < 0 ||
			    zh > 23 || zm > 59)
				return -1;
			i += 2;
		} else {
			return -1;
		}
	}
	if (i != n)
		return -1;
	days = days_from_civil(Y, (unsigned)M, (unsigned)D);
	t = days * 86400 + h * 3600 + mi * 60 + (sec == 60 ? 59 : sec) -
	    sign * (zh * 3600 + zm * 60);
	civil_from_days(t >= 0 ? t / 86400 : (t - 86399) / 86400, &y2, &m2,
	    &d2);
	t = ((t % 86400) + 86400) % 86400;
	buf_printf(out, "\"%04d-%02d-%02dT%02d:%02d:%02d", y2, m2, d2,
	    (int)(t / 3600), (int)(t / 60 % 60),
	    sec == 60 ? 60 : (int)(t % 60));
	if (fn > 0) {
		buf_addc(out, '.');
		buf_add(out, s + fs, fn);
	}
	buf_adds(out, "Z\"");
	return 0;
}

int
extract_csv_convert(enum csv_type ty, const char *s, size_t n,
    struct buf *out, struct tape *t, struct canon *c, char *msg,
    size_t msglen)
{
	struct json_err je;
	size_t i;

	if (ty != CT_STRING && n == 0) {
		buf_adds(out, "null");
		return 0;
	}
	switch (ty) {
	case CT_STRING:
		if (!json_utf8_valid(s, n)) {
			snprintf(msg, msglen, "not valid UTF-8");
			return -1;
		}
		json_write_string(out, s, n, 0);
		return 0;
	case CT_INT:
		i = s[0] == '-' ? 1 : 0;
		if (i == n || (s[i] == '0' && n > i + 1))
			goto bad;
		for (; i < n; i++)
			if (s[i] < '0' || s[i] > '9')
				goto bad;
		buf_add(out, s, n);
		return 0;
	case CT_NUMBER:
		if (!is_json_number(s, n))
			goto bad;
		buf_add(out, s, n);
		return 0;
	case CT_BOOL:
		if ((n == 4 && strncasecmp(s, "true", 4) == 0) ||
		    (n == 1 && (s[0] == '1' || s[0] == 't' || s[0] == 'T' ||
		    s[0] == 'y' || s[0] == 'Y')) ||
		    (n == 3 && strncasecmp(s, "yes", 3) == 0)) {
			buf_adds(out, "true");
			return 0;
		}
		if ((n == 5 && strncasecmp(s, "false", 5) == 0) ||
		    (n == 1 && (s[0] == '0' || s[0] == 'f' || s[0] == 'F' ||
		    s[0] == 'n' || s[0] == 'N')) ||
		    (n == 2 && strncasecmp(s, "no", 2) == 0)) {
			buf_adds(out, "false");
			return 0;
		}
		goto bad;
	case CT_DATETIME:
		if (datetime_utc(s, n, out) < 0)
			goto bad;
		return 0;
	case CT_JSON:
		if (tape_parse(t, s, n, &je) < 0) {
			snprintf(msg, msglen, "not JSON: %s at column %zu",
			    je.msg, je.off + 1);
			return -1;
		}
		canon_write(c, out, t, 0, 0);
		return 0;
	}
bad:
	snprintf(msg, msglen, "'%.*s' is not %s", (int)(n > 40 ? 40 : n), s,
	    ty == CT_INT ? "an int" : ty == CT_NUMBER ? "a number" :
	    ty == CT_BOOL ? "a bool" : "a datetime");
	return -1;
}

