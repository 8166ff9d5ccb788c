/*
 * exitcode.h - the exit codes every twinpipe program uses (DESIGN.md).
 *
 * The worst outcome seen wins: combine with exit_worst().
 */
#ifndef TP_EXITCODE_H
#define TP_EXITCODE_H

enum {
	EXIT_ALL_OK = 0,	/* every record succeeded */
	EXIT_SOME_FAILED = 1,	/* some records failed and were dead-lettered */
	EXIT_USAGE = 2,		/* usage or configuration error, no side effect */
	EXIT_FATAL = 3		/* fatal runtime error; nothing partial is lost */
};

/* Return the worse of two exit codes. This function can't fail. */
static inline int
exit_worst(int a, int b)
{
	return a > b ? a : b;
}

#endif
