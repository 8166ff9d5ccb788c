/*
 * result.c - the result line of the push programs.
 */
#include "result.h"

#include <string.h>

#include "json.h"

static void
result_str(struct buf *b, const char *s)
{
	if (s == NULL)
		buf_adds(b, "null");
	else
		json_write_string(b, s, strlen(s), 0);
}

void
result_write(struct buf *b, const struct result *r)
{
	buf_adds(b, r->ok ? "{\"ok\":true,\"op\":" : "{\"ok\":false,\"op\":");
	result_str(b, r->op);
	buf_adds(b, ",\"id\":");
	result_str(b, r->id);
	if (r->source != NULL) {
		buf_adds(b, ",\"source\":");
		result_str(b, r->source);
	}
	buf_printf(b, ",\"status\":%ld,\"attempts\":%u", r->status,
	    r->attempts);
	if (r->err_code != NULL || r->err_msg != NULL) {
		buf_adds(b, ",\"error\":{\"code\":");
		result_str(b, r->err_code);
		buf_adds(b, ",\"message\":");
		result_str(b, r->err_msg);
		buf_addc(b, '}');
	}
	if (r->meta != NULL) {
		buf_adds(b, ",\"_meta\":");
		buf_adds(b, r->meta);
	}
	if (r->stale)
		buf_adds(b, ",\"stale\":true");
	buf_addc(b, '}');
}
