/*
 * test_log.c - message format (text and JSON), levels, and redaction of
 * registered secrets. stderr is redirected to a temp file with dup2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "tap.h"

static FILE *cap;
static int saved_fd = -1;

static void
capture(void)
{
	fflush(stderr);
	cap = tmpfile();
	saved_fd = dup(2);
	dup2(fileno(cap), 2);
}

/* Stop capturing; returns what was written (static). */
static const char *
captured(void)
{
	static char out[8192];
	size_t n;

	fflush(stderr);
	dup2(saved_fd, 2);
	close(saved_fd);
	rewind(cap);
	n = fread(out, 1, sizeof(out) - 1, cap);
	out[n] = '\0';
	fclose(cap);
	return out;
}

static void
test_text(void)
{
	log_init("/usr/local/bin/transform");
	is_str(log_prog(), "transform", "log_init keeps the base name");
	log_set_json(0);
	ok(!log_is_json(), "text by default");
	log_level = LV_WARN;

	capture();
	log_error("cannot open '%s': %s", "x.ndjson", "No such file");
	is_str(captured(), "transform: error: cannot open 'x.ndjson': No such "
	    "file\n", "log_error text");

	capture();
	log_warn("w %d", 1);
	log_info("hidden %d", 2);
	log_debug("hidden %d", 3);
	is_str(captured(), "transform: warning: w 1\n",
	    "level warn: info and debug are not printed");

	capture();
	log_at(LV_ERROR, "in.ndjson", 12, "invalid literal");
	log_at(LV_WARN, "<stdin>", 0, "no line");
	log_at(LV_WARN, NULL, 3, "no source");
	is_str(captured(), "transform: error: in.ndjson:12: invalid literal\n"
	    "transform: warning: <stdin>: no line\n"
	    "transform: warning: no source\n", "log_at source and line");

	log_level = LV_DEBUG;
	capture();
	log_info("i");
	log_debug("d");
	is_str(captured(), "transform: info: i\ntransform: debug: d\n",
	    "level debug: everything");

	log_level = LV_QUIET;
	capture();
	log_warn("w");
	log_msg(LV_WARN, "w2");
	log_error("still shown");
	is_str(captured(), "transform: error: still shown\n",
	    "quiet: errors only");
	log_level = LV_WARN;

	capture();
	log_set_progress_clear(NULL);
	log_error("no clear");
	is_str(captured(), "transform: error: no clear\n",
	    "no progress clear set");
}

static int clears;

static void
count_clear(void)
{
	clears++;
}

static void
test_json_format(void)
{
	const char *out;
	jv v;

	log_init("push-adt");
	log_set_json(1);
	ok(log_is_json(), "JSON format on");
	capture();
	log_at(LV_WARN, "in \"1\".ndjson", 7, "bad \"value\"\n\ttab \xc3\xa9");
	out = captured();
	is_str(out, "{\"prog\":\"push-adt\",\"level\":\"warning\",\"source\":"
	    "\"in \\\"1\\\".ndjson\",\"line\":7,\"msg\":\"bad \\\"value\\\"\\n"
	    "\\ttab \xc3\xa9\"}\n", "JSON log line");
	ok(json_parse(out, strlen(out), &v, NULL, NULL) == 0 &&
	    jv_get_kind(v) == JV_KIND_OBJECT, "the JSON log line parses");
	jv_free(v);
	capture();
	log_error("plain");
	log_at(LV_ERROR, "src", 0, "no line");
	is_str(captured(), "{\"prog\":\"push-adt\",\"level\":\"error\","
	    "\"msg\":\"plain\"}\n{\"prog\":\"push-adt\",\"level\":\"error\","
	    "\"source\":\"src\",\"msg\":\"no line\"}\n",
	    "JSON log without source or line");
	log_level = LV_DEBUG;
	capture();
	log_info("i");
	log_debug("d");
	is_str(captured(), "{\"prog\":\"push-adt\",\"level\":\"info\","
	    "\"msg\":\"i\"}\n{\"prog\":\"push-adt\",\"level\":\"debug\","
	    "\"msg\":\"d\"}\n", "JSON levels info and debug");
	log_level = LV_WARN;

	log_set_progress_clear(count_clear);
	capture();
	log_error("x");
	captured();
	is_int(clears, 1, "the progress line is cleared before a message");
	log_set_progress_clear(NULL);
	log_set_json(0);
}

static void
test_secrets(void)
{
	char big[5000];

	log_init("push-cosmos");
	log_set_json(0);
	log_secret("s3cr3t-key==");
	log_secret("");
	log_secret(NULL);
	log_secret("Bearer eyJabc.def");

	capture();
	log_error("auth failed with key s3cr3t-key== (s3cr3t-key==)");
	is_str(captured(), "push-cosmos: error: auth failed with key *** (***)\n",
	    "a secret is replaced everywhere");
	capture();
	log_error("s3cr3t-key==s3cr3t-key==");
	is_str(captured(), "push-cosmos: error: ******\n",
	    "adjacent occurrences");
	capture();
	log_error("header: Authorization: Bearer eyJabc.def; k=s3cr3t-key==");
	is_str(captured(), "push-cosmos: error: header: Authorization: ***; "
	    "k=***\n", "two secrets");
	capture();
	log_error("s3cr3t-key=");
	is_str(captured(), "push-cosmos: error: s3cr3t-key=\n",
	    "a prefix of a secret is not a secret");
	capture();
	log_error("%s", "s3cr3t-key==");
	is_str(captured(), "push-cosmos: error: ***\n",
	    "a secret from a %%s argument");

	log_set_json(1);
	capture();
	log_error("key \"s3cr3t-key==\"");
	is_str(captured(), "{\"prog\":\"push-cosmos\",\"level\":\"error\","
	    "\"msg\":\"key \\\"***\\\"\"}\n", "redacted in JSON format too");
	log_set_json(0);

	/* a long message: secrets far apart */
	memset(big, 'a', sizeof(big));
	memcpy(big, "s3cr3t-key==", 12);
	memcpy(big + 4000, "s3cr3t-key==", 12);
	big[sizeof(big) - 1] = '\0';
	capture();
	log_error("%s", big);
	{
		const char *out = captured();

		ok(strstr(out, "s3cr3t") == NULL && strlen(out) ==
		    strlen("push-cosmos: error: \n") + sizeof(big) - 1 - 18,
		    "a long message: both secrets gone (%zu bytes)",
		    strlen(out));
	}
	/* a secret shorter than its replacement, and one in the source */
	{
		char want[200];
		int k;

		log_secret("ab");
		capture();
		log_error("%s", "ababababababababababababababababababababab");
		strcpy(want, "push-cosmos: error: ");
		for (k = 0; k < 21; k++)
			strcat(want, "***");
		strcat(want, "\n");
		is_str(captured(), want,
		    "a short secret grows the message safely");
	}
	log_secret("tok3n");
	capture();
	log_at(LV_ERROR, "https://h/?sig=tok3n", 1, "m");
	is_str(captured(), "push-cosmos: error: https://h/?sig=***:1: m\n",
	    "a secret in the source name is redacted too");
}

int
main(void)
{
	test_text();
	test_json_format();
	test_secrets();
	return tap_done();
}
