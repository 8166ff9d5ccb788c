/*
 * transform - run a jq program (libjq) on every NDJSON record.
 */
#include "transform.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "exitcode.h"
#include "fastpath.h"
#include "log.h"
#include "mapping.h"
#include "stats.h"


struct opts {
	const char *prog_file;
	const char *mapping;
	const char *dead_letter;
	long max_errors;
	size_t max_line;
	long jobs;
	int compact;
	int no_fast;
	int print_program;
	jv args;		/* named arguments: {"name": value} */
	int bad_args;
};

static int
opt_arg(const struct cli_opt *o, char **a, void *ctx)
{
	struct opts *op = ctx;
	jv v;

	if (strcmp(o->name, "argjson") == 0) {
		struct json_err je;

		if (json_parse(a[1], strlen(a[1]), &v, NULL, &je) < 0) {
			fprintf(stderr, "transform: error: --argjson %s: "
			    "invalid JSON text: %s\n", a[0], je.msg);
			op->bad_args = 1;
			return -1;
		}
	} else {
		v = jv_string(a[1]);
	}
	op->args = jv_object_set(op->args, jv_string(a[0]), v);
	return 0;
}

static struct opts op = { .max_line = NDJSON_DEFAULT_MAX_LINE, .jobs = 1 };

static const struct cli_opt options[] = {
	{ "arg", 0, CLI_FN, NULL, "NAME VALUE", NULL,
	    "bind $NAME to the string VALUE", 2, opt_arg },
	{ "argjson", 0, CLI_FN, NULL, "NAME JSON", NULL,
	    "bind $NAME to the JSON value JSON", 2, opt_arg },
	{ "compact-output", 'c', CLI_FLAG, &op.compact, NULL, NULL,
	    "accepted for jq compatibility (output is always compact)", 0,
	    NULL },
	{ "dead-letter", 0, CLI_STR, &op.dead_letter, "FILE",
	    "TWINPIPE_DEAD_LETTER",
	    "append failed records with their error to FILE (NDJSON)", 0,
	    NULL },
	{ "from-file", 'f', CLI_STR, &op.prog_file, "FILE", NULL,
	    "read the jq program from FILE", 0, NULL },
	{ "jobs", 'j', CLI_LONG, &op.jobs, "N", "TRANSFORM_JOBS",
	    "run N worker processes (output order is kept; default 1)", 0,
	    NULL },
	{ "mapping", 'm', CLI_STR, &op.mapping, "FILE", NULL,
	    "use the reference design's mapping file instead of a program",
	    0, NULL },
	{ "max-errors", 0, CLI_LONG, &op.max_errors, "N", NULL,
	    "stop (exit 3) once N records failed (default 0: never)", 0,
	    NULL },
	{ "max-line", 0, CLI_SIZE, &op.max_line, "SIZE",
	    "TWINPIPE_MAX_LINE", "longest input line accepted "
	    "(default 16M)", 0, NULL },
	{ "no-fast-path", 0, CLI_FLAG, &op.no_fast, NULL, NULL,
	    "run every record through libjq (the fast path is off)", 0,
	    NULL },
	{ "print-program", 0, CLI_FLAG, &op.print_program, NULL, NULL,
	    "print the jq program (e.g. what --mapping runs) and exit", 0,
	    NULL },
};

static const struct cli_prog prog = {
	"transform",
	"[OPTION]... PROGRAM [FILE]...\n"
	"[OPTION]... -f PROGFILE [FILE]...\n"
	"[OPTION]... -m MAPPING [FILE]...",
	"Run a jq program on every NDJSON record of the FILEs (or standard\n"
	"input) and write its outputs as NDJSON to standard output. The\n"
	"record's _meta is carried onto every output; control records pass\n"
	"through untouched; bad lines and program errors go to the\n"
	"dead-letter file and processing goes on.",
	options, sizeof(options) / sizeof(options[0]),
	"Environment:\n"
	"  TWINPIPE_INPUT_FILE is set to the file being read ($FILENAME of "
	"mappings).\n",
	&op
};

static void
jq_err_cb(void *data, jv msg)
{
	(void)data;
	if (jv_get_kind(msg) == JV_KIND_STRING) {
		log_error("jq: %s", jv_string_value(msg));
	} else {
		char *s = json_dump(msg, 0);

		log_error("jq: %s", s);
		free(s);
	}
	jv_free(msg);
}

static void
jq_debug_cb(void *data, jv msg)
{
	char *s;

	(void)data;
	s = json_dump(msg, 0);
	fprintf(stderr, "[\"DEBUG:\",%s]\n", s);
	free(s);
	jv_free(msg);
}

void
xf_set_file(struct xf *x, const char *name)
{
	if (x->cur_file != NULL && strcmp(x->cur_file, name) == 0)
		return;
	x->cur_file = name;
	setenv("TWINPIPE_INPUT_FILE", strcmp(name, "<stdin>") ? name : "", 1);
}

/* {"_meta":{"control":"<kind>",...}} and nothing else (json_is_control) */
static int
is_control(const struct tape *t)
{
	uint32_t m, c;

	if (t->nodes[0].n != 1 || (m = tape_lookup(t, 0, "_meta", 5)) == 0 ||
	    t->nodes[m].type != TAPE_OBJECT || (t->nodes[m].flags & TAPE_DUPS))
		return 0;
	c = tape_lookup(t, m, "control", 7);
	return c != 0 && t->nodes[c].type == TAPE_STRING;
}

static int
fail(struct xf *x, const char *src, const struct ndjson_line *l,
    int is_json, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* A failed record: reported, dead-lettered, counted. Returns 1. */
static int
fail(struct xf *x, const char *src, const struct ndjson_line *l,
    int is_json, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)dlq_vfail(x->dlq, src, l, is_json, code, fmt, ap);
	va_end(ap);
	x->c.failed++;
	return 1;
}


int
xf_line(struct xf *x, const char *src, const struct ndjson_line *l,
    struct buf *out)
{
	struct json_err je;
	jv rec, meta, r;
	size_t mark = out->len;
	uint64_t out0 = x->c.out;

	x->c.in++;
	if (l->too_long)
		return fail(x, src, l, 0, "line_too_long",
		    "line longer than --max-line (%zu bytes); its first "
		    "bytes are in the dead-letter file", l->len);
	if (ndjson_blank(l->p, l->len)) {
		x->c.blank++;
		return 0;
	}
	if (tape_parse(&x->t, l->p, l->len, &je) < 0)
		return fail(x, src, l, 0, "invalid_json",
		    "invalid JSON at column %zu: %s", je.off + 1, je.msg);
	if (x->t.nodes[0].type != TAPE_OBJECT)
		return fail(x, src, l, 1, "not_an_object",
		    "record is %s, not a JSON object",
		    tape_kind_name(x->t.nodes[0].type));
	if (is_control(&x->t)) {
		buf_add(out, l->p, l->len);
		buf_addc(out, '\n');
		x->c.control++;
		return 0;
	}
	if (x->fp != NULL && fp_run(x->fp, &x->t, out)) {
		x->c.out++;
		x->c.fast++;
		return 0;
	}
	rec = json_from_tape(&x->t, 0, &x->lits);
	meta = json_get(rec, "_meta");
	jq_start(x->jq, rec, 0);
	while (jv_is_valid(r = jq_next(x->jq))) {
		r = json_meta_carry(r, meta);
		json_write(out, r, 0, &x->lits);
		buf_addc(out, '\n');
		jv_free(r);
		x->c.out++;
	}
	if (jq_halted(x->jq)) {
		jv code = jq_get_exit_code(x->jq);
		jv em = jq_get_error_message(x->jq);

		jv_free(r);
		if (jv_is_valid(code) &&
		    !(jv_get_kind(code) == JV_KIND_NUMBER &&
		    jv_number_value(code) == 0)) {
			char *s = jv_get_kind(em) == JV_KIND_STRING ?
			    xstrdup(jv_string_value(em)) : json_dump(em, 0);
			int rc;

			out->len = mark;
			x->c.out = out0;
			jv_free(code);
			jv_free(em);
			jv_free(meta);
			rc = fail(x, src, l, 1, "program_error",
			    "program halted with an error: %s", s);
			free(s);
			return rc;
		}
		jv_free(code);
		jv_free(em);
		r = jv_invalid();
	}
	if (jv_invalid_has_msg(jv_copy(r))) {
		jv m = jv_invalid_get_msg(r);
		char *s;
		int rc;

		if (jv_get_kind(m) == JV_KIND_STRING)
			s = xstrdup(jv_string_value(m));
		else {
			char *d = json_dump(m, 0);
			struct buf b = BUF_INIT;

			buf_printf(&b, "%s (not a string)", d);
			free(d);
			s = buf_cstr(&b);
		}
		jv_free(m);
		jv_free(meta);
		/* all or nothing: drop what this record already produced */
		x->c.out = out0;
		out->len = mark;
		rc = fail(x, src, l, 1, "program_error", "program error: %s",
		    s);
		free(s);
		return rc;
	}
	jv_free(r);
	jv_free(meta);
	return 0;
}

/* ---- single process ---- */

struct single {
	struct xf *x;
	struct stage *st;
};

static void
single_file(void *ctx, const char *name)
{
	struct single *sg = ctx;

	xf_set_file(sg->x, name);
}

/* One line in this process; --max-errors stops the reading. */
static int
single_line(void *ctx, const char *src, const struct ndjson_line *l)
{
	struct single *sg = ctx;
	struct xf *x = sg->x;

	xf_line(x, src, l, &sg->st->out.b);
	if (op.max_errors > 0 && x->c.failed >= (uint64_t)op.max_errors) {
		log_error("%llu records failed (--max-errors %ld): stopping at "
		    "%s:%llu", (unsigned long long)x->c.failed, op.max_errors,
		    src, l->lineno);
		return 1;
	}
	return 0;
}

static void
refresh_counts(void *ctx)
{
	const struct xf *x = ctx;

	*stats_counter("in") = x->c.in;
	*stats_counter("out") = x->c.out;
	*stats_counter("failed") = x->c.failed;
	*stats_counter("skipped") = x->c.blank;
	*stats_counter("control") = x->c.control;
}

/* The program to run: its text, where -f found it, the mapping it came
 * from. */
struct program {
	char *text;
	char *origin;		/* -f's directory, or NULL */
	jv mapping;		/* --mapping's, or invalid */
};

static int
check_options(void)
{
	if (op.jobs < 1 || op.jobs > 256)
		return cli_usage_error(&prog, "--jobs must be between 1 and "
		    "256"), -1;
	if (op.max_line < 16 || op.max_line > (1u << 30))
		return cli_usage_error(&prog, "--max-line must be between 16 "
		    "and 1G"), -1;
	if (op.max_errors < 0)
		return cli_usage_error(&prog, "--max-errors must not be "
		    "negative"), -1;
	if ((op.mapping != NULL) + (op.prog_file != NULL) > 1)
		return cli_usage_error(&prog, "give either -f or --mapping, "
		    "not both"), -1;
	return 0;
}

/* --mapping: the mapping program, with the mapping and $NOW as arguments */
static int
load_mapping(struct program *pg)
{
	char err[512], now[32];
	time_t t = time(NULL);
	struct tm tm;

	if (mapping_load(op.mapping, &pg->mapping, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return EXIT_USAGE;
	}
	pg->text = xstrdup(MAPPING_PROGRAM);
	op.args = jv_object_set(op.args, jv_string("tp_mapping"),
	    jv_copy(pg->mapping));
	gmtime_r(&t, &tm);
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
	op.args = jv_object_set(op.args, jv_string("tp_now"), jv_string(now));
	return 0;
}

/* -f FILE: the program and the directory its includes are relative to */
static int
load_file(struct program *pg)
{
	struct buf pb = BUF_INIT;
	char *slash;

	if (buf_read_file(&pb, op.prog_file) < 0) {
		buf_release(&pb);
		log_error("cannot read program file '%s': %s", op.prog_file,
		    strerror(errno));
		return EXIT_USAGE;
	}
	pg->text = buf_cstr(&pb);
	pg->origin = xstrdup(op.prog_file);
	if ((slash = strrchr(pg->origin, '/')) != NULL)
		*slash = '\0';
	else
		strcpy(pg->origin, ".");
	return 0;
}

/* The program from --mapping, -f or the first operand. Returns 0 or the
 * exit code. */
static int
load_program(struct program *pg, int argc, char **argv, int *first)
{
	if (op.mapping != NULL)
		return load_mapping(pg);
	if (op.prog_file != NULL)
		return load_file(pg);
	if (*first >= argc) {
		cli_usage_error(&prog, "no jq program given");
		return EXIT_USAGE;
	}
	pg->text = xstrdup(argv[(*first)++]);
	return 0;
}

/* --print-program: what would run, and how to run it with jq itself */
static void
print_program(const struct program *pg)
{
	if (op.mapping != NULL) {
		const char *mop = json_get_str(pg->mapping, "op");
		const char *mid = json_get_str(pg->mapping, "id");

		printf("# mapping: %s; twin id: %s\n",
		    strcmp(mop, "patch") == 0 ?
		    "patch of existing twins (no model: $op patch, "
		    "one JSON Patch add per entry, a missing twin "
		    "fails in push-adt)" :
		    "upsert (a model is given: create the twin, or "
		    "add the carried properties)",
		    strcmp(mid, "$FILENAME") == 0 ?
		    "$FILENAME (no $dtId entry: the record's file "
		    "name without its extension)" : "the $dtId entry");
	}
	printf("%s", pg->text);
	if (op.mapping != NULL) {
		char *m = json_dump(pg->mapping, 0);

		printf("# run with: --argjson tp_mapping '%s' "
		    "--arg tp_now \"$(date -u +%%Y-%%m-%%dT%%H:%%M:%%SZ)\"\n",
		    m);
		free(m);
	}
}

/* libjq set up as jq 1.6's driver does, the program compiled by it and,
 * when it is in the subset, for the fast path. Returns 0 or the exit
 * code. */
static int
compile(struct xf *x, const struct program *pg)
{
	jv named, all;

	if ((x->jq = jq_init()) == NULL) {
		log_error("cannot initialize libjq");
		return EXIT_FATAL;
	}
	jq_set_error_cb(x->jq, jq_err_cb, NULL);
	jq_set_debug_cb(x->jq, jq_debug_cb, NULL);
	jq_set_attr(x->jq, jv_string("JQ_LIBRARY_PATH"),
	    jv_array_append(jv_array_append(jv_array_append(jv_array(),
	    jv_string("~/.jq")), jv_string("$ORIGIN/../lib/jq")),
	    jv_string("$ORIGIN/../lib")));
	jq_set_attr(x->jq, jv_string("JQ_ORIGIN"), jv_string("/usr/bin"));
	jq_set_attr(x->jq, jv_string("PROGRAM_ORIGIN"),
	    jv_string(pg->origin != NULL ? pg->origin : "."));
	named = jv_copy(op.args);
	all = jv_object_set(jv_copy(op.args), jv_string("ARGS"),
	    jv_object_set(jv_object_set(jv_object(), jv_string("positional"),
	    jv_array()), jv_string("named"), named));
	if (!jq_compile_args(x->jq, pg->text, all)) {
		log_error("the jq program does not compile");
		return EXIT_USAGE;
	}
	if (!op.no_fast && op.mapping == NULL) {
		x->fp = fp_compile(pg->text, op.args);
	} else if (!op.no_fast) {
		jv now = json_get(op.args, "tp_now");

		x->fp = fp_compile_mapping(pg->mapping, jv_string_value(now));
		jv_free(now);
	}
	log_debug("fast path: %s", x->fp != NULL ? "on" :
	    "off (the program is outside its subset)");
	return 0;
}

/* The inputs through this process or through --jobs workers. */
static void
run(struct xf *x, struct stage *st)
{
	static const struct stage_ops ops = { single_file, single_line,
	    NULL };
	struct single sg = { x, st };

	x->dlq = st->dlq;
	st->max_line = op.max_line;
	refresh_counts(x);	/* registers the counters in summary order */
	stats_set_refresh(refresh_counts, x);
	if (op.jobs > 1) {
		if (parallel_run(x, (int)op.jobs, st->in, st->nin, op.max_line,
		    &st->out, (unsigned long)op.max_errors, &stage_stop,
		    &st->stopped) < 0)
			st->fatal = 1;
	} else {
		stage_run(st, &ops, &sg);
	}
	refresh_counts(x);
	if (log_enabled(LV_INFO))
		*stats_counter("fast") = x->c.fast;
}

int
main(int argc, char **argv)
{
	struct cli_common common;
	struct xf x = { 0 };
	struct program pg = { NULL, NULL, jv_invalid() };
	struct stage st;
	int first, status = EXIT_USAGE;

	op.args = jv_object();
	first = cli_parse(&prog, argc, argv, &common);
	if (first < 0 || check_options() < 0 ||
	    (status = load_program(&pg, argc, argv, &first)) != 0)
		goto out;
	if (op.print_program) {
		print_program(&pg);
		goto out;
	}
	/* the inputs are opened once the program compiles: no side effect
	 * before */
	if ((status = compile(&x, &pg)) != 0 ||
	    (status = stage_begin(&st, argc, argv, first, op.dead_letter,
	    "transform")) != 0)
		goto out;
	run(&x, &st);
	x.dlq = NULL;		/* stage_end closes it */
	status = stage_end(&st, EXIT_ALL_OK, common.stats, x.c.failed,
	    "every record read was processed and written");
out:
	if (x.jq != NULL)
		jq_teardown(&x.jq);
	fp_free(x.fp);
	tape_release(&x.t);
	json_numlits_release(&x.lits);
	jv_free(pg.mapping);
	jv_free(op.args);
	free(pg.text);
	free(pg.origin);
	return status;
}
