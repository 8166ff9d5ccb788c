/*
 * fuzz_adt_jobs_line.c - twin-emulator's reading of an ADT import file,
 * one line at a time (src/emulator/adt_jobs_line.c, compiled in here).
 *
 * Input: an import file (NDJSON). Each line is read with the section of
 * the lines before it; a bad line must say why, an entity must be an
 * object, a section line must name a section; the ids of each entity are
 * checked for every section. Nothing may crash or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/emulator/adt_jobs_line.c"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *e;
	enum adt_section sec = ADT_SEC_NONE, s;
	char msg[300];
	size_t n;
	jv ent;

	while (size > 0) {
		e = memchr(p, '\n', size);
		n = e != NULL ? (size_t)(e - p) : size;
		msg[0] = '\0';
		switch (adt_jobs_line_read(p, n, &sec, &ent, msg, sizeof(msg))) {
		case ADT_LINE_BLANK:
		case ADT_LINE_SECTION:
			if (jv_is_valid(ent) || sec > ADT_SEC_UNKNOWN)
				abort();
			(void)adt_jobs_section_name(sec);
			break;
		case ADT_LINE_BAD:
			if (msg[0] == '\0' || jv_is_valid(ent))
				abort();
			break;
		case ADT_LINE_ENTITY:
			if (jv_get_kind(ent) != JV_KIND_OBJECT)
				abort();
			for (s = ADT_SEC_NONE; s <= ADT_SEC_UNKNOWN; s++) {
				msg[0] = '\0';
				if (adt_jobs_line_ids(s, ent, msg, sizeof(msg)) != 0 &&
				    msg[0] == '\0')
					abort();
			}
			jv_free(ent);
			break;
		}
		if (e == NULL)
			break;
		size -= n + 1;
		p = e + 1;
	}
	return 0;
}
