/*
 * cli.h - one option table drives parsing (getopt_long), --help and the
 * environment fallbacks of every twinpipe program.
 *
 * Every program also gets the common options -h/--help, -V/--version,
 * -q/--quiet, -v/--verbose, --log-format text|json, --stats text|json|none,
 * --metrics-file FILE and --metrics-interval DURATION (into metrics_opt,
 * metrics.h).
 * Values: sizes like 16M / 64k / 1G, durations like 30s / 500ms / 5m / 1h
 * (a bare number is seconds). Secrets never come from the command line:
 * see cli_secret().
 */
#ifndef TP_CLI_H
#define TP_CLI_H

#include <stddef.h>

#include "stats.h"

enum cli_kind {
	CLI_FLAG,	/* int *: set to 1 */
	CLI_STR,	/* const char **: the argument */
	CLI_LONG,	/* long *: a decimal integer */
	CLI_SIZE,	/* size_t *: bytes, with k/M/G suffix */
	CLI_DURATION,	/* double *: seconds, with ms/s/m/h suffix */
	CLI_FN		/* fn(opt, args, ctx): nargs arguments */
};

struct cli_opt {
	const char *name;	/* long name, without "--" */
	int short_name;		/* 0 if none */
	enum cli_kind kind;
	void *dest;
	const char *argname;	/* e.g. "FILE"; for CLI_FN "NAME VALUE" */
	const char *env;	/* environment fallback, or NULL */
	const char *help;
	int nargs;		/* CLI_FN: number of arguments (0-2) */
	int (*fn)(const struct cli_opt *, char **args, void *ctx);
};

struct cli_prog {
	const char *name;
	const char *usage;	/* text after "Usage: NAME ", one or more lines */
	const char *summary;	/* one paragraph */
	const struct cli_opt *opts;	/* sorted by long name */
	size_t nopts;
	const char *more;	/* printed after the options, or NULL */
	void *ctx;		/* passed to CLI_FN callbacks */
};

/*
 * Options shared by every networked program (push-adt, push-cosmos,
 * archive, extract-lob, ingest-eventhub), put in their sorted tables so
 * that each parses them the same way:
 * --cacert FILE (env TWINPIPE_CACERT): the CA bundle every TLS client of
 * the program trusts (http, auth, blob, Kafka, AMQP) instead of the
 * system's; --redact-param NAME (repeatable): one more query parameter
 * whose value redact_url() hides (redact.h).
 */
#define CLI_OPT_CACERT(dest) \
	{ "cacert", 0, CLI_STR, (dest), "FILE", "TWINPIPE_CACERT", \
	    "trust the CA certificates in FILE (PEM) for TLS instead of " \
	    "the system's", 0, NULL }
#define CLI_OPT_REDACT_PARAM \
	{ "redact-param", 0, CLI_FN, NULL, "NAME", NULL, \
	    "also hide the value of URL query parameter NAME in output and " \
	    "logs (repeatable)", 1, cli_redact_param }

/* The CLI_FN of --redact-param: redact_add_param(args[0]). Returns 0. */
int cli_redact_param(const struct cli_opt *o, char **args, void *ctx);

struct cli_common {
	int log_json;
	enum stats_mode stats;
};

/*
 * Parse argv. Returns the index of the first operand, or -1 after printing a
 * usage error ("Try 'PROG --help'"); the caller then exits with EXIT_USAGE.
 * --help and --version print and exit(0) here. Options not given on the
 * command line take their value from their environment variable, if set.
 * Also sets log level/format from the common options.
 */
int cli_parse(const struct cli_prog *p, int argc, char **argv,
    struct cli_common *common);

/* Print "PROG: error: MSG" then the usage line and the --help hint. */
void cli_usage_error(const struct cli_prog *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Print the --help text to stdout. */
void cli_help(const struct cli_prog *p);
/* Print the --version text (program and library versions) to stdout. */
void cli_version(const char *prog);

/* Parse "16M" etc. Returns 0, or -1 if s is not a size. */
int cli_parse_size(const char *s, size_t *out);
/* Parse "30s" etc. into seconds. Returns 0, or -1. */
int cli_parse_duration(const char *s, double *out);

/*
 * Read a secret: from the file at path when path is not NULL (trailing
 * newline removed), else from the environment variable env. The value is
 * registered with log_secret() so it is never printed. Returns a malloc'd
 * string, or NULL when neither is set; -1 style errors (unreadable file)
 * print a message and return NULL with *failed set.
 */
char *cli_secret(const char *env, const char *path, int *failed);

#endif
