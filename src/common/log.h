/*
 * log.h - messages on stderr.
 *
 * Text form (default), git's message rules, no timestamps:
 *   PROG: LEVEL: [SOURCE:LINE: ]message
 * JSON form (--log-format json), one object a line:
 *   {"prog":..,"level":..,"source":..,"line":..,"msg":..}
 * Registered secrets are replaced by "***" in every message, in one place.
 * The level is checked before anything is formatted.
 */
#ifndef TP_LOG_H
#define TP_LOG_H

enum log_level {
	LV_QUIET = -1,	/* nothing but fatal messages */
	LV_ERROR = 0,
	LV_WARN = 1,
	LV_INFO = 2,
	LV_DEBUG = 3
};

extern int log_level;		/* default LV_WARN; -q/-v move it */

/* Set the program name and defaults. This function can't fail. */
void log_init(const char *prog);
const char *log_prog(void);
/* 0 = text, 1 = JSON. */
void log_set_json(int on);
int log_is_json(void);
/* Never print s (a secret) in any message. s is copied; empty is ignored. */
void log_secret(const char *s);

void log_msg(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A message about one record: src and line name it (line 0: none). */
void log_at(int level, const char *src, unsigned long long line,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define log_enabled(lv) ((lv) <= log_level)
#define log_error(...) log_msg(LV_ERROR, __VA_ARGS__)
#define log_warn(...) do { if (log_enabled(LV_WARN)) log_msg(LV_WARN, __VA_ARGS__); } while (0)
#define log_info(...) do { if (log_enabled(LV_INFO)) log_msg(LV_INFO, __VA_ARGS__); } while (0)
#define log_debug(...) do { if (log_enabled(LV_DEBUG)) log_msg(LV_DEBUG, __VA_ARGS__); } while (0)

/* Clear an on-screen progress line before printing (see stats.h). */
void log_set_progress_clear(void (*fn)(void));

#endif
