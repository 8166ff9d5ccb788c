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

static volatile sig_atomic_t stop_flag;

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
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

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

static const char *
kind_name(int tape_type)
{
	switch (tape_type) {
	case TAPE_NULL: return "null";
	case TAPE_TRUE:
	case TAPE_FALSE: return "a boolean";
	case TAPE_NUMBER: return "a number";
	case TAPE_STRING: return "a string";
	case TAPE_ARRAY: return "an array";
	default: return "an object";
	}
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
		    kind_name(x->t.nodes[0].type));
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

struct flushes {
	struct ndjson_writer *w;
	struct dlq *dlq;
};

static void
flush_before_block(void *ctx)
{
	struct flushes *f = ctx;

	ndjson_writer_flush(f->w);
	dlq_flush(f->dlq);
}

/* Returns 0, or -1 on a fatal error (reported). */
static int
run_single(struct xf *x, struct xf_input *in, int nin,
    struct ndjson_writer *w, int *stopped_early)
{
	struct flushes fl = { w, x->dlq };
	int i;

	for (i = 0; i < nin && !*stopped_early; i++) {
		struct ndjson_reader *r = ndjson_reader_new(in[i].fd,
		    in[i].name, op.max_line, flush_before_block, &fl,
		    &stop_flag);
		struct ndjson_line l;
		int rc;

		xf_set_file(x, in[i].name);
		while ((rc = ndjson_read(r, &l)) > 0) {
			xf_line(x, in[i].name, &l, &w->b);
			if (w->b.len >= w->flush_at &&
			    ndjson_writer_flush(w) < 0)
				break;
			stats_tick();
			if (op.max_errors > 0 &&
			    x->c.failed >= (uint64_t)op.max_errors) {
				log_error("%llu records failed (--max-errors "
				    "%ld): stopping at %s:%llu",
				    (unsigned long long)x->c.failed,
				    op.max_errors, in[i].name, l.lineno);
				*stopped_early = 1;
				break;
			}
		}
		if (rc < 0) {
			log_error("%s: read error: %s", in[i].name,
			    strerror(errno));
			ndjson_reader_free(r);
			return -1;
		}
		if (ndjson_reader_stopped(r))
			*stopped_early = 1;
		ndjson_reader_free(r);
		if (w->err)
			break;
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

int
main(int argc, char **argv)
{
	struct cli_common common;
	struct xf x = { 0 };
	struct xf_input *in = NULL;
	struct ndjson_writer w;
	struct sigaction sa;
	char *program = NULL, *origin = NULL;
	jv mapping = jv_invalid();
	int first, nin = 0, i, status = EXIT_ALL_OK, stopped_early = 0;

	op.args = jv_object();
	x.jq = NULL;
	first = cli_parse(&prog, argc, argv, &common);
	if (first < 0) {
		status = EXIT_USAGE;
		goto out;
	}
	if (op.jobs < 1 || op.jobs > 256) {
		cli_usage_error(&prog, "--jobs must be between 1 and 256");
		status = EXIT_USAGE;
		goto out;
	}
	if (op.max_line < 16 || op.max_line > (1u << 30)) {
		cli_usage_error(&prog, "--max-line must be between 16 and 1G");
		status = EXIT_USAGE;
		goto out;
	}
	if (op.max_errors < 0) {
		cli_usage_error(&prog, "--max-errors must not be negative");
		status = EXIT_USAGE;
		goto out;
	}
	if ((op.mapping != NULL) + (op.prog_file != NULL) > 1) {
		cli_usage_error(&prog, "give either -f or --mapping, not both");
		status = EXIT_USAGE;
		goto out;
	}
	if (op.mapping != NULL) {
		char err[512];

		if (mapping_load(op.mapping, &mapping, err, sizeof(err)) < 0) {
			log_error("%s", err);
			status = EXIT_USAGE;
			goto out;
		}
		program = xstrdup(MAPPING_PROGRAM);
		op.args = jv_object_set(op.args, jv_string("tp_mapping"),
		    jv_copy(mapping));
		{
			char now[32];
			time_t t = time(NULL);
			struct tm tm;

			gmtime_r(&t, &tm);
			strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
			op.args = jv_object_set(op.args, jv_string("tp_now"),
			    jv_string(now));
		}
	} else if (op.prog_file != NULL) {
		struct buf pb = BUF_INIT;

		if (buf_read_file(&pb, op.prog_file) < 0) {
			buf_release(&pb);
			log_error("cannot read program file '%s': %s",
			    op.prog_file, strerror(errno));
			status = EXIT_USAGE;
			goto out;
		}
		program = buf_cstr(&pb);
		origin = xstrdup(op.prog_file);
		{
			char *s = strrchr(origin, '/');

			if (s != NULL)
				*s = '\0';
			else
				strcpy(origin, ".");
		}
	} else {
		if (first >= argc) {
			cli_usage_error(&prog, "no jq program given");
			status = EXIT_USAGE;
			goto out;
		}
		program = xstrdup(argv[first++]);
	}
	if (op.print_program) {
		if (op.mapping != NULL) {
			const char *mop = json_get_str(mapping, "op");
			const char *mid = json_get_str(mapping, "id");

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
		printf("%s", program);
		if (op.mapping != NULL) {
			char *m = json_dump(mapping, 0);

			printf("# run with: --argjson tp_mapping '%s' "
			    "--arg tp_now \"$(date -u +%%Y-%%m-%%dT%%H:%%M:%%SZ)\"\n",
			    m);
			free(m);
		}
		goto out;
	}

	x.jq = jq_init();
	if (x.jq == NULL) {
		log_error("cannot initialize libjq");
		status = EXIT_FATAL;
		goto out;
	}
	jq_set_error_cb(x.jq, jq_err_cb, NULL);
	jq_set_debug_cb(x.jq, jq_debug_cb, NULL);
	jq_set_attr(x.jq, jv_string("JQ_LIBRARY_PATH"),
	    jv_array_append(jv_array_append(jv_array_append(jv_array(),
	    jv_string("~/.jq")), jv_string("$ORIGIN/../lib/jq")),
	    jv_string("$ORIGIN/../lib")));
	jq_set_attr(x.jq, jv_string("JQ_ORIGIN"), jv_string("/usr/bin"));
	if (origin != NULL)
		jq_set_attr(x.jq, jv_string("PROGRAM_ORIGIN"),
		    jv_string(origin));
	else
		jq_set_attr(x.jq, jv_string("PROGRAM_ORIGIN"),
		    jv_string("."));
	{
		jv named = jv_copy(op.args);
		jv all = jv_object_set(jv_copy(op.args), jv_string("ARGS"),
		    jv_object_set(jv_object_set(jv_object(),
		    jv_string("positional"), jv_array()),
		    jv_string("named"), named));

		if (!jq_compile_args(x.jq, program, all)) {
			log_error("the jq program does not compile");
			status = EXIT_USAGE;
			goto out;
		}
		if (!op.no_fast && op.mapping == NULL)
			x.fp = fp_compile(program, op.args);
		else if (!op.no_fast) {
			jv now = json_get(op.args, "tp_now");

			x.fp = fp_compile_mapping(mapping,
			    jv_string_value(now));
			jv_free(now);
		}
		log_debug("fast path: %s", x.fp != NULL ? "on" :
		    "off (the program is outside its subset)");
	}

	/* inputs: check them all before any side effect */
	in = xcalloc((size_t)(argc - first) + 1, sizeof(*in));
	if (first >= argc) {
		in[nin].name = "<stdin>";
		in[nin++].fd = 0;
	}
	for (i = first; i < argc; i++) {
		if (strcmp(argv[i], "-") == 0) {
			in[nin].name = "<stdin>";
			in[nin++].fd = 0;
			continue;
		}
		in[nin].name = argv[i];
		in[nin].fd = open(argv[i], O_RDONLY | O_CLOEXEC);
		if (in[nin].fd < 0) {
			log_error("cannot open '%s': %s", argv[i],
			    strerror(errno));
			status = EXIT_USAGE;
			goto out;
		}
		nin++;
	}
	if (op.dead_letter != NULL) {
		x.dlq = dlq_open(op.dead_letter, "transform");
		if (x.dlq == NULL) {
			log_error("cannot open dead-letter file '%s': %s",
			    op.dead_letter, strerror(errno));
			status = EXIT_USAGE;
			goto out;
		}
	}

	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	ndjson_writer_init(&w, 1);
	refresh_counts(&x);	/* registers the counters in summary order */
	stats_set_refresh(refresh_counts, &x);
	if (op.jobs > 1) {
		if (parallel_run(&x, (int)op.jobs, in, nin, op.max_line, &w,
		    (unsigned long)op.max_errors, &stop_flag,
		    &stopped_early) < 0)
			status = EXIT_FATAL;
	} else if (run_single(&x, in, nin, &w, &stopped_early) < 0) {
		status = EXIT_FATAL;
	}
	if (ndjson_writer_release(&w) < 0 || w.err) {
		log_error("write error on standard output: %s",
		    strerror(w.err ? w.err : errno));
		status = EXIT_FATAL;
	}
	if (dlq_close(x.dlq) < 0) {
		log_error("write error on the dead-letter file '%s'",
		    op.dead_letter);
		status = EXIT_FATAL;
	}
	x.dlq = NULL;
	if (stopped_early) {
		if (stop_flag)
			log_error("interrupted: stopped reading; every record "
			    "read was processed and written");
		status = EXIT_FATAL;
	}
	if (x.c.failed > 0)
		status = exit_worst(status, EXIT_SOME_FAILED);
	refresh_counts(&x);
	if (log_enabled(LV_INFO))
		*stats_counter("fast") = x.c.fast;
	stats_finish(common.stats, status);
out:
	if (x.jq != NULL)
		jq_teardown(&x.jq);
	fp_free(x.fp);
	tape_release(&x.t);
	for (i = 0; i < nin; i++)
		if (in[i].fd > 0)
			close(in[i].fd);
	free(in);
	dlq_close(x.dlq);
	json_numlits_release(&x.lits);
	jv_free(mapping);
	jv_free(op.args);
	free(program);
	free(origin);
	return status;
}
