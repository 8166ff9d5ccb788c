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

int
cli_parse(const struct cli_prog *p, int argc, char **argv,
    struct cli_common *common)
{
	size_t ncommon = sizeof(common_opts) / sizeof(common_opts[0]);
	size_t nlong = p->nopts + ncommon, i;
	struct option *lo = xcalloc(nlong + 1, sizeof(*lo));
	unsigned char *seen = xcalloc(p->nopts + 1, 1);
	struct buf shorts = BUF_INIT;
	const char *log_format = NULL, *stats = NULL;
	int c, quiet = 0, verbose = 0, rc = -1;

	common->log_json = 0;
	common->stats = STATS_TEXT;
	log_init(p->name);
	buf_addc(&shorts, '+');
	buf_addc(&shorts, ':');
	for (i = 0; i < p->nopts; i++) {
		const struct cli_opt *o = &p->opts[i];
		int hasarg = o->kind == CLI_FLAG ||
		    (o->kind == CLI_FN && o->nargs == 0) ? no_argument :
		    required_argument;

		lo[i].name = o->name;
		lo[i].has_arg = hasarg;
		lo[i].val = OPT_BASE + (int)i;
		if (o->short_name) {
			buf_addc(&shorts, (char)o->short_name);
			if (hasarg == required_argument)
				buf_addc(&shorts, ':');
		}
	}
	for (i = 0; i < ncommon; i++) {
		const struct cli_opt *o = &common_opts[i];

		lo[p->nopts + i].name = o->name;
		lo[p->nopts + i].has_arg = o->argname ? required_argument :
		    no_argument;
		lo[p->nopts + i].val = o->short_name ? o->short_name :
		    strcmp(o->name, "stats") == 0 ? OPT_STATS :
		    strcmp(o->name, "metrics-file") == 0 ? OPT_METRICS_FILE :
		    strcmp(o->name, "metrics-interval") == 0 ?
		    OPT_METRICS_INTERVAL : OPT_LOG_FORMAT;
	}
	buf_adds(&shorts, "hVqv");
	/* permute like GNU tools, but let "+" stop at "--" only */
	shorts.p[0] = '-';
	buf_cstr(&shorts);
	optind = 0;	/* 0: glibc resets its internal state too */
	opterr = 0;
	{
		char **operands = xcalloc((size_t)argc + 1, sizeof(char *));
		int nops = 0, li;

		operands[nops++] = argv[0];
		while ((c = getopt_long(argc, argv, shorts.p, lo, &li)) != -1) {
			const struct cli_opt *o = NULL;
			size_t oi = 0;

			if (c == 1) {
				operands[nops++] = optarg;
				continue;
			}
			if (c == '?') {
				if (optopt)
					cli_usage_error(p,
					    "unknown option '-%c'", optopt);
				else
					cli_usage_error(p,
					    "unknown option '%s'",
					    argv[optind - 1]);
				goto out_ops;
			}
			if (c == ':') {
				cli_usage_error(p,
				    "option '%s' needs an argument",
				    argv[optind - 1]);
				goto out_ops;
			}
			switch (c) {
			case OPT_HELP:
				cli_help(p);
				exit(0);
			case OPT_VERSION:
				cli_version(p->name);
				exit(0);
			case OPT_QUIET:
				quiet++;
				continue;
			case OPT_VERBOSE:
				verbose++;
				continue;
			case OPT_LOG_FORMAT:
				log_format = optarg;
				continue;
			case OPT_STATS:
				stats = optarg;
				continue;
			case OPT_METRICS_FILE:
				metrics_opt.file = optarg;
				continue;
			case OPT_METRICS_INTERVAL:
				if (cli_parse_duration(optarg,
				    &metrics_opt.interval) < 0) {
					cli_usage_error(p,
					    "--metrics-interval: '%s' is not "
					    "a duration (like 10s, 1m)",
					    optarg);
					goto out_ops;
				}
				continue;
			}
			if (c >= OPT_BASE) {
				oi = (size_t)(c - OPT_BASE);
			} else {
				for (oi = 0; oi < p->nopts; oi++)
					if (p->opts[oi].short_name == c)
						break;
			}
			if (oi >= p->nopts)
				goto out_ops;
			o = &p->opts[oi];
			seen[oi] = 1;
			if (o->kind == CLI_FN && o->nargs == 2) {
				char *args[2];

				if (optind >= argc) {
					cli_usage_error(p, "--%s needs %s",
					    o->name, o->argname);
					goto out_ops;
				}
				args[0] = optarg;
				args[1] = argv[optind++];
				if (set_value(p, o, args, 0) < 0)
					goto out_ops;
			} else {
				char *args[1] = { optarg };

				if (set_value(p, o, args, 0) < 0)
					goto out_ops;
			}
		}
		while (optind < argc)
			operands[nops++] = argv[optind++];
		/* move operands to the end of argv, in order */
		for (i = 0; i < (size_t)nops - 1; i++)
			argv[argc - (nops - 1) + (int)i] = operands[i + 1];
		rc = argc - (nops - 1);
out_ops:
		free(operands);
	}
	if (rc < 0)
		goto out;
	for (i = 0; i < p->nopts; i++) {
		const struct cli_opt *o = &p->opts[i];
		char *v;

		if (seen[i] || o->env == NULL || (v = getenv(o->env)) == NULL)
			continue;
		if (o->kind == CLI_FN && o->nargs != 1)
			continue;
		{
			char *args[1] = { v };

			if (set_value(p, o, args, 1) < 0) {
				rc = -1;
				goto out;
			}
		}
	}
	if (log_format == NULL)
		log_format = getenv("TWINPIPE_LOG_FORMAT");
	if (log_format != NULL && strcmp(log_format, "json") == 0)
		common->log_json = 1;
	else if (log_format != NULL && strcmp(log_format, "text") != 0) {
		cli_usage_error(p, "--log-format: '%s' is not text or json",
		    log_format);
		rc = -1;
		goto out;
	}
	if (stats == NULL || strcmp(stats, "text") == 0)
		common->stats = STATS_TEXT;
	else if (strcmp(stats, "json") == 0)
		common->stats = STATS_JSON;
	else if (strcmp(stats, "none") == 0)
		common->stats = STATS_NONE;
	else {
		cli_usage_error(p, "--stats: '%s' is not text, json or none",
		    stats);
		rc = -1;
		goto out;
	}
	if (metrics_opt.interval > 0 && metrics_opt.file == NULL) {
		cli_usage_error(p, "--metrics-interval needs --metrics-file");
		rc = -1;
		goto out;
	}
	log_set_json(common->log_json);
	log_level = LV_WARN - quiet + verbose;
	if (log_level < LV_QUIET)
		log_level = LV_QUIET;
out:
	free(lo);
	free(seen);
	buf_release(&shorts);
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
