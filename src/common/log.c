#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "json.h"

int log_level = LV_WARN;

static const char *prog_name = "twinpipe";
static int json_mode;
static char **secrets;
static size_t nsecrets;
static void (*progress_clear)(void);

static const char *const level_names[] = { "error", "warning", "info",
	"debug" };

void
log_init(const char *prog)
{
	const char *s = strrchr(prog, '/');

	prog_name = s ? s + 1 : prog;
}

const char *
log_prog(void)
{
	return prog_name;
}

void
log_set_json(int on)
{
	json_mode = on;
}

int
log_is_json(void)
{
	return json_mode;
}

void
log_set_progress_clear(void (*fn)(void))
{
	progress_clear = fn;
}

void
log_secret(const char *s)
{
	if (s == NULL || *s == '\0')
		return;
	secrets = xrealloc(secrets, (nsecrets + 1) * sizeof(*secrets));
	secrets[nsecrets++] = xstrdup(s);
}

/* Replace every registered secret in b by "***" (into a new buffer). */
static void
redact(struct buf *b)
{
	size_t i;

	for (i = 0; i < nsecrets; i++) {
		size_t sl = strlen(secrets[i]), off = 0;
		struct buf o = BUF_INIT;
		char *p;

		while (off < b->len && (p = memmem(b->p + off, b->len - off,
		    secrets[i], sl)) != NULL) {
			buf_add(&o, b->p + off, (size_t)(p - (b->p + off)));
			buf_add(&o, "***", 3);
			off = (size_t)(p - b->p) + sl;
		}
		if (o.p == NULL)
			continue;
		buf_add(&o, b->p + off, b->len - off);
		buf_release(b);
		*b = o;
	}
}

static void
emit(int level, const char *src, unsigned long long line, const char *fmt,
    va_list ap)
{
	struct buf msg = BUF_INIT, out = BUF_INIT, srcb = BUF_INIT;
	va_list aq;
	int n;
	const char *lv = level_names[level < 0 ? 0 : level > 3 ? 3 : level];

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		return;
	buf_grow(&msg, (size_t)n + 1);
	vsnprintf(msg.p, (size_t)n + 1, fmt, ap);
	msg.len = (size_t)n;
	redact(&msg);
	if (src != NULL) {
		buf_adds(&srcb, src);
		redact(&srcb);
		src = buf_cstr(&srcb);
	}
	if (json_mode) {
		buf_adds(&out, "{\"prog\":");
		json_write_string(&out, prog_name, strlen(prog_name), 0);
		buf_adds(&out, ",\"level\":");
		json_write_string(&out, lv, strlen(lv), 0);
		if (src != NULL) {
			buf_adds(&out, ",\"source\":");
			json_write_string(&out, src, strlen(src), 0);
		}
		if (line > 0)
			buf_printf(&out, ",\"line\":%llu", line);
		buf_adds(&out, ",\"msg\":");
		json_write_string(&out, msg.p, msg.len, 0);
		buf_adds(&out, "}\n");
	} else {
		buf_printf(&out, "%s: %s: ", prog_name, lv);
		if (src != NULL && line > 0)
			buf_printf(&out, "%s:%llu: ", src, line);
		else if (src != NULL)
			buf_printf(&out, "%s: ", src);
		buf_add(&out, msg.p, msg.len);
		buf_addc(&out, '\n');
	}
	if (progress_clear != NULL)
		progress_clear();
	(void)!write(2, out.p, out.len);
	buf_release(&msg);
	buf_release(&out);
	buf_release(&srcb);
}

void
log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_level && level != LV_ERROR)
		return;
	va_start(ap, fmt);
	emit(level, NULL, 0, fmt, ap);
	va_end(ap);
}

void
log_at(int level, const char *src, unsigned long long line,
    const char *fmt, ...)
{
	va_list ap;

	if (level > log_level && level != LV_ERROR)
		return;
	va_start(ap, fmt);
	emit(level, src, line, fmt, ap);
	va_end(ap);
}
