/*
 * eh_selector.c - the receiver start-position filter (eh_selector.h).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "eh_selector.h"

static const struct {
	const char *name;
	int kind;
} names[] = {
	{ "amqp.annotation.x-opt-offset", 0 },
	{ "amqp.annotation.x-opt-sequence-number", 1 },
	{ "amqp.annotation.x-opt-enqueued-time", 2 },
};

static size_t
skip_blanks(const char *s, size_t len, size_t i)
{
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i;
}

int
eh_selector_parse(const char *s, size_t len, struct eh_selector *out,
    char *msg, size_t msgsz)
{
	size_t i, j, n;
	int q = 0, neg = 0, digits = 0;
	int64_t v = 0;

	memset(out, 0, sizeof(*out));
	out->kind = -1;
	i = skip_blanks(s, len, 0);
	for (j = 0; j < sizeof(names) / sizeof(names[0]); j++) {
		n = strlen(names[j].name);
		if (len - i >= n && strncasecmp(s + i, names[j].name, n) == 0 &&
		    (len - i == n || s[i + n] == ' ' || s[i + n] == '\t' ||
		    s[i + n] == '>' || s[i + n] == '=')) {
			out->kind = names[j].kind;
			i += n;
			break;
		}
	}
	if (out->kind < 0) {
		snprintf(msg, msgsz, "selector filter: expected "
		    "amqp.annotation.x-opt-offset, -sequence-number or "
		    "-enqueued-time");
		return -1;
	}
	i = skip_blanks(s, len, i);
	if (i < len && s[i] == '>') {
		i++;
		if (i < len && s[i] == '=') {
			out->inclusive = 1;
			i++;
		}
	} else if (i < len && s[i] == '=') {
		out->inclusive = 1;
		i++;
	} else {
		snprintf(msg, msgsz, "selector filter: expected '>', '>=' or '='");
		return -1;
	}
	i = skip_blanks(s, len, i);
	if (i < len && s[i] == '\'') {
		q = 1;
		i++;
	}
	if (out->kind == 0 && len - i >= 7 && memcmp(s + i, "@latest", 7) == 0) {
		out->latest = 1;
		i += 7;
	} else {
		if (i < len && s[i] == '-') {
			neg = 1;
			i++;
		}
		for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
			if (v > (INT64_MAX - (s[i] - '0')) / 10) {
				snprintf(msg, msgsz, "selector filter: number out "
				    "of range");
				return -1;
			}
			v = v * 10 + (s[i] - '0');
		}
		if (digits == 0) {
			snprintf(msg, msgsz, "selector filter: expected a number "
			    "or '@latest'");
			return -1;
		}
		out->value = neg ? -v : v;
	}
	if (q) {
		if (i >= len || s[i] != '\'') {
			snprintf(msg, msgsz, "selector filter: unterminated quote");
			return -1;
		}
		i++;
	}
	i = skip_blanks(s, len, i);
	if (i != len) {
		snprintf(msg, msgsz, "selector filter: unexpected text at %zu", i);
		return -1;
	}
	return 0;
}
