/*
 * test_cli.c - cli_parse_size, cli_parse_duration and cli_parse with a
 * small option table: flags, strings, integers, sizes, durations, a
 * 2-argument CLI_FN, environment fallbacks, operand order, errors.
 * (--help and --version exit(), so they are not tested in-process.)
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "tap.h"

static void
size_ok(const char *s, size_t want)
{
	size_t v = 12345;
	int rc = cli_parse_size(s, &v);

	ok(rc == 0 && v == want, "size '%s' = %zu (got rc %d, %zu)", s, want,
	    rc, v);
}

static void
size_bad(const char *s)
{
	size_t v = 12345;

	ok(cli_parse_size(s, &v) == -1 && v == 12345, "size '%s' rejected", s);
}

static void
dur_ok(const char *s, double want)
{
	double v = -1;
	int rc = cli_parse_duration(s, &v);

	ok(rc == 0 && v > want - 1e-9 && v < want + 1e-9,
	    "duration '%s' = %g s (got rc %d, %g)", s, want, rc, v);
}

static void
dur_bad(const char *s)
{
	double v = -1;

	ok(cli_parse_duration(s, &v) == -1 && v == -1,
	    "duration '%s' rejected", s);
}

static void
test_values(void)
{
	size_ok("0", 0);
	size_ok("1", 1);
	size_ok("4096", 4096);
	size_ok("64k", 64 << 10);
	size_ok("64K", 64 << 10);
	size_ok("16M", 16u << 20);
	size_ok("1G", 1u << 30);
	size_ok("1kB", 1024);
	size_ok("16MB", 16u << 20);
	size_ok("16MiB", 16u << 20);
	size_ok("2Gi", 2ull << 30);
	size_ok("1KiB", 1024);
	size_ok("18446744073709551615", SIZE_MAX);
	size_bad(NULL);
	size_bad("");
	size_bad("k");
	size_bad("M");
	size_bad("-1");
	size_bad("+1");
	size_bad(" 1");
	size_bad("1 ");
	size_bad("1 M");
	size_bad("1.5M");
	size_bad("1T");
	size_bad("1x");
	size_bad("1Mx");
	size_bad("1MiBs");
	size_bad("1BB");
	size_bad("0x10");
	size_bad("18446744073709551616");
	size_bad("17179869184G");
	size_bad("99999999999999999999k");

	dur_ok("0", 0);
	dur_ok("30", 30);
	dur_ok("30s", 30);
	dur_ok("1.5", 1.5);
	dur_ok(".5s", 0.5);
	dur_ok("500ms", 0.5);
	dur_ok("1ms", 0.001);
	dur_ok("5m", 300);
	dur_ok("2min", 120);
	dur_ok("1h", 3600);
	dur_ok("0.25h", 900);
	dur_bad(NULL);
	dur_bad("");
	dur_bad("s");
	dur_bad("ms");
	dur_bad("-1");
	dur_bad("-1s");
	dur_bad("+1s");
	dur_bad(" 1s");
	dur_bad("1 s");
	dur_bad("1d");
	dur_bad("1S");
	dur_bad("1sec");
	dur_bad("1sx");
	dur_bad("1hh");
	dur_bad("abc");
	dur_bad("nan");
	dur_bad("inf");
	dur_bad("1e999");
}

/* ---- cli_parse ---- */

static int dry, fn_calls;
static long count;
static const char *name, *arg_names[4], *arg_values[4];
static size_t max_line;
static double timeout;
static const char *tag;

static int
fn_arg(const struct cli_opt *o, char **args, void *ctx)
{
	if (strcmp(args[0], "bad") == 0) {
		cli_usage_error(ctx, "--%s: bad name", o->name);
		return -1;
	}
	if (fn_calls < 4) {
		arg_names[fn_calls] = args[0];
		arg_values[fn_calls] = args[1];
	}
	fn_calls++;
	return 0;
}

static int
fn_tag(const struct cli_opt *o, char **args, void *ctx)
{
	tag = args[0];
	return 0;
}

static const struct cli_opt opts[] = {
	{ "arg", 0, CLI_FN, NULL, "NAME VALUE", NULL,
	    "set $NAME to VALUE", 2, fn_arg },
	{ "count", 'c', CLI_LONG, &count, "N", "TP_TEST_COUNT",
	    "how many", 0, NULL },
	{ "dry-run", 'n', CLI_FLAG, &dry, NULL, "TP_TEST_DRY",
	    "do nothing", 0, NULL },
	{ "max-line", 0, CLI_SIZE, &max_line, "SIZE", "TP_TEST_MAX_LINE",
	    "line limit", 0, NULL },
	{ "name", 'N', CLI_STR, &name, "STR", "TP_TEST_NAME",
	    "a name", 0, NULL },
	{ "tag", 0, CLI_FN, NULL, "TAG", "TP_TEST_TAG", "a tag", 1, fn_tag },
	{ "timeout", 't', CLI_DURATION, &timeout, "DUR", "TP_TEST_TIMEOUT",
	    "how long", 0, NULL },
};

static struct cli_prog prog = {
	"test-cli", "[OPTION]... [FILE]...", "Test program.", opts,
	sizeof(opts) / sizeof(opts[0]), NULL, NULL
};

static char errbuf[4096];

/*
 * Run cli_parse on the NULL-terminated argument list; stderr goes to
 * errbuf. Returns cli_parse's result; *argvp gets the (permuted) argv.
 */
static int
run(char ***argvp, struct cli_common *c, ...)
{
	static char *argv[32];
	static char store[32][256];
	va_list ap;
	const char *s;
	int argc = 0, rc, saved, fd;
	FILE *f;
	size_t n;

	dry = fn_calls = 0;
	count = -1;
	name = tag = NULL;
	max_line = 0;
	timeout = -1;
	argv[argc++] = strcpy(store[0], "test-cli");
	va_start(ap, c);
	while ((s = va_arg(ap, const char *)) != NULL && argc < 31) {
		snprintf(store[argc], sizeof(store[argc]), "%s", s);
		argv[argc] = store[argc];
		argc++;
	}
	va_end(ap);
	argv[argc] = NULL;
	/*
	 * cli_parse sets optind = 1, which does not reset the state glibc's
	 * getopt keeps between calls (a short option cluster cut by an
	 * error); optind = 0 does. Programs parse once, tests many times.
	 */
	{
		static char *dummy[] = { "x", NULL };

		optind = 0;
		opterr = 0;
		(void)getopt(1, dummy, "-:");	/* the mode cli_parse uses */
	}
	fflush(stderr);
	saved = dup(2);
	f = tmpfile();
	fd = fileno(f);
	dup2(fd, 2);
	rc = cli_parse(&prog, argc, argv, c);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	n = fread(errbuf, 1, sizeof(errbuf) - 1, f);
	errbuf[n] = '\0';
	fclose(f);
	*argvp = argv;
	return rc;
}

#define RUN(...) run(&av, &common, __VA_ARGS__, (const char *)NULL)

static void
test_parse(void)
{
	struct cli_common common;
	char **av;
	int rc;

	prog.ctx = &prog;
	unsetenv("TP_TEST_COUNT");
	unsetenv("TP_TEST_DRY");
	unsetenv("TP_TEST_NAME");
	unsetenv("TP_TEST_TIMEOUT");
	unsetenv("TP_TEST_MAX_LINE");
	unsetenv("TP_TEST_TAG");
	unsetenv("TWINPIPE_LOG_FORMAT");

	rc = RUN("in1", "-n", "--name", "x", "in2", "--count", "5", "in3");
	is_int(rc, 6, "operands start at 6 of 9");
	ok(rc == 6 && strcmp(av[6], "in1") == 0 && strcmp(av[7], "in2") == 0 &&
	    strcmp(av[8], "in3") == 0, "operands kept in order at the end");
	is_int(dry, 1, "flag -n");
	is_str(name, "x", "--name x");
	is_int(count, 5, "--count 5");
	is_str(errbuf, "", "nothing on stderr");
	is_int(common.log_json, 0, "log format text by default");
	is_int(common.stats, STATS_TEXT, "stats text by default");
	is_int(log_level, LV_WARN, "log level warn by default");

	rc = RUN("--name=eq", "-c7", "-N", "short", "--timeout", "500ms",
	    "--max-line", "16M", "--dry-run");
	is_int(rc, 10, "no operands: index argc");
	is_str(name, "short", "the last --name wins");
	is_int(count, 7, "-c7 attached");
	ok(timeout == 0.5, "--timeout 500ms = 0.5 (%g)", timeout);
	is_int(max_line, 16u << 20, "--max-line 16M");
	is_int(dry, 1, "--dry-run");

	rc = RUN("--arg", "a", "1", "in", "--arg", "b", "two words", "--",
	    "--name", "-x");
	is_int(rc, 8, "2-argument option: operands after it");
	is_int(fn_calls, 2, "CLI_FN called twice");
	ok(fn_calls == 2 && strcmp(arg_names[0], "a") == 0 &&
	    strcmp(arg_values[0], "1") == 0 && strcmp(arg_names[1], "b") == 0 &&
	    strcmp(arg_values[1], "two words") == 0,
	    "--arg NAME VALUE gets both arguments");
	ok(rc == 8 && strcmp(av[8], "in") == 0 && strcmp(av[9], "--name") == 0 &&
	    strcmp(av[10], "-x") == 0, "after --, options are operands");
	ok(name == NULL, "--name after -- not parsed");

	rc = RUN("--tag", "t1", "f");
	ok(rc == 3 && tag != NULL && strcmp(tag, "t1") == 0,
	    "1-argument CLI_FN");

	/* errors */
	rc = RUN("--count", "abc");
	is_int(rc, -1, "--count abc is an error");
	ok(strstr(errbuf, "test-cli: error: ") == errbuf &&
	    strstr(errbuf, "'abc' is not an integer") != NULL &&
	    strstr(errbuf, "Try 'test-cli --help'") != NULL,
	    "the message names the value and the --help hint");
	is_int(RUN("--count", ""), -1, "--count '' is an error");
	is_int(RUN("--count", "5x"), -1, "--count 5x is an error");
	is_int(RUN("--count", "99999999999999999999"), -1,
	    "--count out of range is an error");
	is_int(RUN("--count", "-3"), 3, "--count -3 is fine");
	is_int(count, -3, "negative count");
	is_int(RUN("--timeout", "1d"), -1, "--timeout 1d is an error");
	ok(strstr(errbuf, "not a duration") != NULL, "duration message");
	is_int(RUN("--max-line", "1T"), -1, "--max-line 1T is an error");
	ok(strstr(errbuf, "not a size") != NULL, "size message");
	is_int(RUN("--nope"), -1, "unknown long option");
	ok(strstr(errbuf, "--nope") != NULL, "message names --nope: %s",
	    errbuf);
	is_int(RUN("-x"), -1, "unknown short option");
	ok(strstr(errbuf, "-x") != NULL, "message names -x");
	is_int(RUN("--name"), -1, "missing argument");
	ok(strstr(errbuf, "--name") != NULL, "message names --name: %s", errbuf);
	is_int(RUN("-N"), -1, "missing argument to -N");
	is_int(RUN("--arg", "a"), -1, "--arg with one of two arguments");
	ok(strstr(errbuf, "--arg") != NULL, "message names --arg");
	is_int(RUN("--arg", "bad", "v"), -1, "a CLI_FN error is an error");
	is_int(RUN("--dry-run=1"), -1, "a flag takes no argument");
	is_int(RUN("--log-format", "xml"), -1, "--log-format xml");
	is_int(RUN("--stats", "yaml"), -1, "--stats yaml");

	/* the common options */
	rc = RUN("-q", "--log-format", "json", "--stats", "none", "f");
	ok(rc == 6 && common.log_json == 1 && common.stats == STATS_NONE &&
	    log_level == LV_ERROR, "-q --log-format json --stats none");
	ok(log_is_json(), "log format set to JSON");
	rc = RUN("-qqq");
	is_int(log_level, LV_QUIET, "-qqq: quiet, not lower");
	rc = RUN("-v", "--stats", "json");
	ok(log_level == LV_INFO && common.stats == STATS_JSON &&
	    !log_is_json(), "-v --stats json");
	rc = RUN("-vv");
	is_int(log_level, LV_DEBUG, "-vv: debug");
	is_str(log_prog(), "test-cli", "cli_parse sets the program name");

	/* environment fallbacks */
	setenv("TP_TEST_NAME", "from-env", 1);
	setenv("TP_TEST_COUNT", "42", 1);
	setenv("TP_TEST_TIMEOUT", "5m", 1);
	setenv("TP_TEST_MAX_LINE", "1k", 1);
	setenv("TP_TEST_DRY", "1", 1);
	setenv("TP_TEST_TAG", "env-tag", 1);
	rc = RUN("f");
	ok(rc == 1 && name != NULL && strcmp(name, "from-env") == 0 &&
	    count == 42 && timeout == 300 && max_line == 1024 && dry == 1 &&
	    tag != NULL && strcmp(tag, "env-tag") == 0,
	    "every option falls back to its environment variable");
	rc = RUN("--name", "cmd", "-c", "1", "--tag", "t");
	ok(rc == 7 && name != NULL && strcmp(name, "cmd") == 0 && count == 1 &&
	    tag != NULL && strcmp(tag, "t") == 0,
	    "the command line wins over the environment (rc %d, %s, %ld, %s)",
	    rc, name ? name : "(null)", count, tag ? tag : "(null)");
	setenv("TP_TEST_DRY", "0", 1);
	RUN("f");
	is_int(dry, 0, "TP_TEST_DRY=0 is off");
	setenv("TP_TEST_DRY", "false", 1);
	RUN("f");
	is_int(dry, 0, "TP_TEST_DRY=false is off");
	setenv("TP_TEST_DRY", "", 1);
	RUN("f");
	is_int(dry, 0, "TP_TEST_DRY= is off");
	setenv("TP_TEST_COUNT", "many", 1);
	is_int(RUN("f"), -1, "a bad environment value is a usage error");
	ok(strstr(errbuf, "TP_TEST_COUNT") != NULL,
	    "the message names the variable: %s", errbuf);
	unsetenv("TP_TEST_COUNT");
	setenv("TWINPIPE_LOG_FORMAT", "json", 1);
	RUN("f");
	is_int(common.log_json, 1, "TWINPIPE_LOG_FORMAT=json");
	RUN("--log-format", "text");
	is_int(common.log_json, 0, "--log-format text wins over the env");
	setenv("TWINPIPE_LOG_FORMAT", "bogus", 1);
	is_int(RUN("f"), -1, "TWINPIPE_LOG_FORMAT=bogus is an error");
	unsetenv("TWINPIPE_LOG_FORMAT");
	unsetenv("TP_TEST_NAME");
	unsetenv("TP_TEST_TIMEOUT");
	unsetenv("TP_TEST_MAX_LINE");
	unsetenv("TP_TEST_DRY");
	unsetenv("TP_TEST_TAG");
	log_set_json(0);
	log_level = LV_WARN;
}

static void
test_secret(void)
{
	char path[] = "/tmp/tp-test-cli.XXXXXX";
	int fd = mkstemp(path), failed = -1;
	char *s;

	(void)!write(fd, "hunter2-secret\r\n", 16);
	close(fd);
	s = cli_secret("TP_TEST_SECRET", path, &failed);
	ok(s != NULL && strcmp(s, "hunter2-secret") == 0 && failed == 0,
	    "cli_secret from a file, newline removed");
	free(s);
	setenv("TP_TEST_SECRET", "env-secret", 1);
	s = cli_secret("TP_TEST_SECRET", NULL, &failed);
	ok(s != NULL && strcmp(s, "env-secret") == 0 && failed == 0,
	    "cli_secret from the environment");
	free(s);
	unsetenv("TP_TEST_SECRET");
	s = cli_secret("TP_TEST_SECRET", NULL, &failed);
	ok(s == NULL && failed == 0, "cli_secret: neither set");
	unlink(path);
	{
		int saved = dup(2), nul = open("/dev/null", O_WRONLY);

		dup2(nul, 2);
		s = cli_secret("TP_TEST_SECRET", path, &failed);
		dup2(saved, 2);
		close(saved);
		close(nul);
	}
	ok(s == NULL && failed == 1, "cli_secret: unreadable file fails");
}

int
main(void)
{
	test_values();
	test_parse();
	test_secret();
	return tap_done();
}
