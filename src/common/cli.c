#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <zstd.h>

#include "buf.h"
#include "log.h"
#include "metrics.h"
#include "redact.h"

#ifndef TP_VERSION
#define TP_VERSION "0.0.0"
#endif
#ifndef TP_JQ_VERSION
#define TP_JQ_VERSION "unknown"
#endif

enum {
	OPT_HELP = 'h',
	OPT_VERSION = 'V',
	OPT_QUIET = 'q',
	OPT_VERBOSE = 'v',
	OPT_LOG_FORMAT = 0x1000,
	OPT_STATS,
	OPT_METRICS_FILE,
	OPT_METRICS_INTERVAL,
	OPT_BASE = 0x2000
};

static const struct cli_opt common_opts[] = {
	{ "help", 'h', CLI_FLAG, NULL, NULL, NULL,
	    "show this help and exit", 0, NULL },
	{ "log-format", 0, CLI_STR, NULL, "FMT", "TWINPIPE_LOG_FORMAT",
	    "messages on stderr as text (default) or json", 0, NULL },
	{ "metrics-file", 0, CLI_STR, NULL, "FILE", NULL,
	    "write the counters in the Prometheus text format to FILE "
	    "(atomically) at exit", 0, NULL },
	{ "metrics-interval", 0, CLI_DURATION, NULL, "DURATION", NULL,
	    "also write --metrics-file every DURATION while running", 0,
	    NULL },
	{ "quiet", 'q', CLI_FLAG, NULL, NULL, NULL,
	    "fewer messages (errors only; twice: less)", 0, NULL },
	{ "stats", 0, CLI_STR, NULL, "FMT", NULL,
	    "summary line at exit as text (default), json or none", 0, NULL },
	{ "verbose", 'v', CLI_FLAG, NULL, NULL, NULL,
	    "more messages (twice: debug)", 0, NULL },
	{ "version", 'V', CLI_FLAG, NULL, NULL, NULL,
	    "show version and library versions and exit", 0, NULL },
};

int
cli_redact_param(const struct cli_opt *o, char **args, void *ctx)
{
	(void)o;
	(void)ctx;
	redact_add_param(args[0]);
	return 0;
}

void
cli_usage_error(const struct cli_prog *p, const char *fmt, ...)
{
	va_list ap;
	const char *u = p->usage;

	fprintf(stderr, "%s: error: ", p->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fprintf(stderr, "Usage: %s ", p->name);
	/* first usage line only */
	fprintf(stderr, "%.*s\n", (int)strcspn(u, "\n"), u);
	fprintf(stderr, "Try '%s --help' for more information.\n", p->name);
}

static void
print_opt(const struct cli_opt *o)
{
	char left[64];
	int n;

	if (o->short_name)
		n = snprintf(left, sizeof(left), "  -%c, --%s", o->short_name,
		    o->name);
	else
		n = snprintf(left, sizeof(left), "      --%s", o->name);
	if (o->argname != NULL && n > 0 && (size_t)n < sizeof(left))
		snprintf(left + n, sizeof(left) - (size_t)n, " %s",
		    o->argname);
	if (strlen(left) > 28)
		printf("%s\n%30s", left, "");
	else
		printf("%-30s", left);
	printf("%s", o->help);
	if (o->env != NULL)
		printf(" [env %s]", o->env);
	putchar('\n');
}

void
cli_help(const struct cli_prog *p)
{
	const char *u = p->usage;
	size_t i;
	int first = 1;

	while (*u) {
		size_t n = strcspn(u, "\n");

		printf("%s %s %.*s\n", first ? "Usage:" : "      ", p->name,
		    (int)n, u);
		first = 0;
		u += n;
		if (*u == '\n')
			u++;
	}
	printf("\n%s\n\nOptions:\n", p->summary);
	for (i = 0; i < p->nopts; i++)
		print_opt(&p->opts[i]);
	printf("\nCommon options:\n");
	for (i = 0; i < sizeof(common_opts) / sizeof(common_opts[0]); i++)
		print_opt(&common_opts[i]);
	if (p->more != NULL)
		printf("\n%s", p->more);
	printf("\nExit status: 0 all records succeeded, 1 some records failed "
	    "(dead-lettered),\n2 usage or configuration error, 3 fatal "
	    "runtime error.\n");
}

void
cli_version(const char *prog)
{
	const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);

	printf("%s (twinpipe) %s\n", prog, TP_VERSION);
	printf("libjq %s, libcurl %s, zstd %s, %s, SQLite %s\n",
	    TP_JQ_VERSION, cv->version, ZSTD_versionString(),
	    OpenSSL_version(OPENSSL_VERSION), sqlite3_libversion());
}

int
cli_parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v, mul = 1;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	if (*end == 'k' || *end == 'K')
		mul = 1ull << 10;
	else if (*end == 'M')
		mul = 1ull << 20;
	else if (*end == 'G')
		mul = 1ull << 30;
	else if (*end != '\0')
		return -1;
	if (*end != '\0' && end[1] != '\0' &&
	    !((end[1] == 'B' || end[1] == 'i') && end[2] == '\0') &&
	    !(end[1] == 'i' && end[2] == 'B' && end[3] == '\0'))
		return -1;
	if (v > (unsigned long long)SIZE_MAX / mul)
		return -1;
	*out = (size_t)(v * mul);
	return 0;
}

int
cli_parse_duration(const char *s, double *out)
{
	char *end;
	double v;

	if (s == NULL || !((*s >= '0' && *s <= '9') || *s == '.'))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || v < 0)
		return -1;
	if (strcmp(end, "") == 0 || strcmp(end, "s") == 0)
		;
	else if (strcmp(end, "ms") == 0)
		v /= 1000;
	else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
		v *= 60;
	else if (strcmp(end, "h") == 0)
		v *= 3600;
	else
		return -1;
	*out = v;
	return 0;
}

static int
set_value(const struct cli_prog *p, const struct cli_opt *o, char **args,
    int from_env)
{
	const char *arg = args ? args[0] : NULL;
	const char *where = from_env ? "environment variable " : "--";
	const char *what = from_env ? o->env : o->name;
	char *end;

	switch (o->kind) {
	case CLI_FLAG:
		if (from_env && arg != NULL && (strcmp(arg, "0") == 0 ||
		    strcmp(arg, "") == 0 || strcmp(arg, "false") == 0))
			*(int *)o->dest = 0;
		else
			*(int *)o->dest = 1;
		return 0;
	case CLI_STR:
		*(const char **)o->dest = arg;
		return 0;
	case CLI_LONG:
		errno = 0;
		*(long *)o->dest = strtol(arg, &end, 10);
		if (errno != 0 || *arg == '\0' || *end != '\0') {
			cli_usage_error(p, "%s%s: '%s' is not an integer",
			    where, what, arg);
			return -1;
		}
		return 0;
	case CLI_SIZE:
		if (cli_parse_size(arg, o->dest) < 0) {
			cli_usage_error(p, "%s%s: '%s' is not a size "
			    "(like 64k, 16M, 1G)", where, what, arg);
			return -1;
		}
		return 0;
	case CLI_DURATION:
		if (cli_parse_duration(arg, o->dest) < 0) {
			cli_usage_error(p, "%s%s: '%s' is not a duration "
			    "(like 500ms, 30s, 5m, 1h)", where, what, arg);
			return -1;
		}
		return 0;
	case CLI_FN:
		return o->fn(o, args, p->ctx);
	}
	return -1;
}

/* One run of cli_parse(): the getopt tables and what the common options
 * said. */
struct parse {
	const struct cli_prog *p;
	struct option *lo;
	unsigned char *seen;	/* the program's options given */
	struct buf shorts;
	const char *log_format, *stats;
	int quiet, verbose;
};

/* getopt_long's tables: the program's options, then the common ones */
static void
build_tables(struct parse *ps)
{
	const struct cli_prog *p = ps->p;
	size_t ncommon = sizeof(common_opts) / sizeof(common_opts[0]), i;

	ps->lo = xcalloc(p->nopts + ncommon + 1, sizeof(*ps->lo));
	ps->seen = xcalloc(p->nopts + 1, 1);
	buf_addc(&ps->shorts, '+');
	buf_addc(&ps->shorts, ':');
	for (i = 0; i < p->nopts; i++) {
		const struct cli_opt *o = &p->opts[i];
		int hasarg = o->kind == CLI_FLAG ||
		    (o->kind == CLI_FN && o->nargs == 0) ? no_argument :
		    required_argument;

		ps->lo[i].name = o->name;
		ps->lo[i].has_arg = hasarg;
		ps->lo[i].val = OPT_BASE + (int)i;
		if (o->short_name) {
			buf_addc(&ps->shorts, (char)o->short_name);
			if (hasarg == required_argument)
				buf_addc(&ps->shorts, ':');
		}
	}
	for (i = 0; i < ncommon; i++) {
		const struct cli_opt *o = &common_opts[i];
		struct option *lo = &ps->lo[p->nopts + i];

		lo->name = o->name;
		lo->has_arg = o->argname ? required_argument : no_argument;
		lo->val = o->short_name ? o->short_name :
		    strcmp(o->name, "stats") == 0 ? OPT_STATS :
		    strcmp(o->name, "metrics-file") == 0 ? OPT_METRICS_FILE :
		    strcmp(o->name, "metrics-interval") == 0 ?
		    OPT_METRICS_INTERVAL : OPT_LOG_FORMAT;
	}
	buf_adds(&ps->shorts, "hVqv");
	/* permute like GNU tools, but let "+" stop at "--" only */
	ps->shorts.p[0] = '-';
	buf_cstr(&ps->shorts);
}

/* A common option: 1 when c was one, 0 when not, -1 on an error (reported).
 * --help and --version exit. */
static int
common_option(struct parse *ps, int c)
{
	switch (c) {
	case OPT_HELP:
		cli_help(ps->p);
		exit(0);
	case OPT_VERSION:
		cli_version(ps->p->name);
		exit(0);
	case OPT_QUIET:
		ps->quiet++;
		return 1;
	case OPT_VERBOSE:
		ps->verbose++;
		return 1;
	case OPT_LOG_FORMAT:
		ps->log_format = optarg;
		return 1;
	case OPT_STATS:
		ps->stats = optarg;
		return 1;
	case OPT_METRICS_FILE:
		metrics_opt.file = optarg;
		return 1;
	case OPT_METRICS_INTERVAL:
		if (cli_parse_duration(optarg, &metrics_opt.interval) < 0) {
			cli_usage_error(ps->p, "--metrics-interval: '%s' is "
			    "not a duration (like 10s, 1m)", optarg);
			return -1;
		}
		return 1;
	}
	return 0;
}

/* One of the program's options (c as getopt_long returned it), with its
 * argument(s). Returns 0, or -1 (reported). */
static int
program_option(struct parse *ps, int c, int argc, char **argv)
{
	const struct cli_prog *p = ps->p;
	const struct cli_opt *o;
	size_t oi;

	if (c >= OPT_BASE) {
		oi = (size_t)(c - OPT_BASE);
	} else {
		for (oi = 0; oi < p->nopts; oi++)
			if (p->opts[oi].short_name == c)
				break;
	}
	if (oi >= p->nopts)
		return -1;
	o = &p->opts[oi];
	ps->seen[oi] = 1;
	if (o->kind == CLI_FN && o->nargs == 2) {
		char *args[2];

		if (optind >= argc) {
			cli_usage_error(p, "--%s needs %s", o->name,
			    o->argname);
			return -1;
		}
		args[0] = optarg;
		args[1] = argv[optind++];
		return set_value(p, o, args, 0);
	} else {
		char *args[1] = { optarg };

		return set_value(p, o, args, 0);
	}
}

/* The command line: options applied, operands moved to the end of argv
 * in order. Returns the index of the first operand, or -1 (reported). */
static int
scan(struct parse *ps, int argc, char **argv)
{
	char **operands = xcalloc((size_t)argc + 1, sizeof(char *));
	int nops = 0, li, c, k, rc = -1;

	optind = 0;	/* 0: glibc resets its internal state too */
	opterr = 0;
	operands[nops++] = argv[0];
	while ((c = getopt_long(argc, argv, ps->shorts.p, ps->lo, &li)) !=
	    -1) {
		if (c == 1) {
			operands[nops++] = optarg;
			continue;
		}
		if (c == '?') {
			if (optopt)
				cli_usage_error(ps->p, "unknown option '-%c'",
				    optopt);
			else
				cli_usage_error(ps->p, "unknown option '%s'",
				    argv[optind - 1]);
			goto out;
		}
		if (c == ':') {
			cli_usage_error(ps->p, "option '%s' needs an argument",
			    argv[optind - 1]);
			goto out;
		}
		if ((k = common_option(ps, c)) < 0)
			goto out;
		if (k == 0 && program_option(ps, c, argc, argv) < 0)
			goto out;
	}
	while (optind < argc)
		operands[nops++] = argv[optind++];
	for (k = 0; k < nops - 1; k++)
		argv[argc - (nops - 1) + k] = operands[k + 1];
	rc = argc - (nops - 1);
out:
	free(operands);
	return rc;
}

/* The program's options not given on the command line, from their
 * environment variables. Returns 0, or -1 (reported). */
static int
from_environment(struct parse *ps)
{
	const struct cli_prog *p = ps->p;
	size_t i;

	for (i = 0; i < p->nopts; i++) {
		const struct cli_opt *o = &p->opts[i];
		char *v, *args[1];

		if (ps->seen[i] || o->env == NULL || (v = getenv(o->env)) ==
		    NULL)
			continue;
		if (o->kind == CLI_FN && o->nargs != 1)
			continue;
		args[0] = v;
		if (set_value(p, o, args, 1) < 0)
			return -1;
	}
	return 0;
}

/* The common options' values checked and applied. Returns 0, or -1
 * (reported). */
static int
apply_common(struct parse *ps, struct cli_common *common)
{
	const char *lf = ps->log_format, *st = ps->stats;

	if (lf == NULL)
		lf = getenv("TWINPIPE_LOG_FORMAT");
	if (lf != NULL && strcmp(lf, "json") == 0)
		common->log_json = 1;
	else if (lf != NULL && strcmp(lf, "text") != 0)
		return cli_usage_error(ps->p, "--log-format: '%s' is not text "
		    "or json", lf), -1;
	if (st == NULL || strcmp(st, "text") == 0)
		common->stats = STATS_TEXT;
	else if (strcmp(st, "json") == 0)
		common->stats = STATS_JSON;
	else if (strcmp(st, "none") == 0)
		common->stats = STATS_NONE;
	else
		return cli_usage_error(ps->p, "--stats: '%s' is not text, json "
		    "or none", st), -1;
	if (metrics_opt.interval > 0 && metrics_opt.file == NULL)
		return cli_usage_error(ps->p, "--metrics-interval needs "
		    "--metrics-file"), -1;
	log_set_json(common->log_json);
	log_level = LV_WARN - ps->quiet + ps->verbose;
	if (log_level < LV_QUIET)
		log_level = LV_QUIET;
	return 0;
}

int
cli_parse(const struct cli_prog *p, int argc, char **argv,
    struct cli_common *common)
{
	struct parse ps;
	int rc;

	memset(&ps, 0, sizeof(ps));
	ps.p = p;
	ps.shorts = (struct buf)BUF_INIT;
	common->log_json = 0;
	common->stats = STATS_TEXT;
	log_init(p->name);
	build_tables(&ps);
	rc = scan(&ps, argc, argv);
	if (rc >= 0 && (from_environment(&ps) < 0 ||
	    apply_common(&ps, common) < 0))
		rc = -1;
	free(ps.lo);
	free(ps.seen);
	buf_release(&ps.shorts);
	return rc;
}

char *
cli_secret(const char *env, const char *path, int *failed)
{
	struct buf b = BUF_INIT;
	char *v;

	*failed = 0;
	if (path != NULL) {
		FILE *f = fopen(path, "r");
		char chunk[4096];
		size_t n;

		if (f == NULL) {
			log_error("cannot read secret file '%s': %s", path,
			    strerror(errno));
			*failed = 1;
			return NULL;
		}
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			buf_add(&b, chunk, n);
		fclose(f);
		while (b.len > 0 && (b.p[b.len - 1] == '\n' ||
		    b.p[b.len - 1] == '\r'))
			b.len--;
		v = buf_cstr(&b);
	} else if (env != NULL && (v = getenv(env)) != NULL) {
		v = xstrdup(v);
	} else {
		return NULL;
	}
	log_secret(v);
	return v;
}
