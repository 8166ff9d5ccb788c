/*
 * adt_jobs_line.c - one line of an ADT import file (NDJSON: section lines
 * {"Section": "Header|Models|Twins|Relationships"}, then one object per
 * entity) and the ids its entity must have. Pure: no store, no I/O (the
 * fuzz harness tests/fuzz/fuzz_adt_jobs_line.c compiles it in).
 */
#include <stdio.h>
#include <string.h>

#include "adt_impl.h"
#include "json.h"

static const char *sec_names[] = { "", "Header", "Models", "Twins",
    "Relationships", "" };

const char *
adt_jobs_section_name(enum adt_section sec)
{
	return sec_names[sec];
}

/* A section line: an object whose only key is "Section", a string. */
static int
section_of(jv o, enum adt_section *sec)
{
	const char *s = json_get_str(o, "Section");
	size_t i;

	if (s == NULL || jv_object_length(jv_copy(o)) != 1)
		return 0;
	*sec = ADT_SEC_UNKNOWN;
	for (i = 1; i < ADT_SEC_UNKNOWN; i++)
		if (strcmp(s, sec_names[i]) == 0)
			*sec = (enum adt_section)i;
	return 1;
}

enum adt_line_kind
adt_jobs_line_read(const char *line, size_t n, enum adt_section *section, jv *out,
    char *msg, size_t msgsz)
{
	struct json_err je;
	size_t i;
	jv v;

	*out = jv_invalid();
	while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' ||
	    line[n - 1] == '\t'))
		n--;
	for (i = 0; i < n && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	if (i == n)
		return ADT_LINE_BLANK;
	if (json_parse(line, n, &v, NULL, &je) != 0) {
		snprintf(msg, msgsz, "The line is not JSON: %s at byte %zu.",
		    je.msg, je.off + 1);
		return ADT_LINE_BAD;
	}
	if (jv_get_kind(v) != JV_KIND_OBJECT) {
		jv_free(v);
		snprintf(msg, msgsz, "The line is not a JSON object.");
		return ADT_LINE_BAD;
	}
	if (section_of(v, section)) {
		jv_free(v);
		return ADT_LINE_SECTION;
	}
	*out = v;
	return ADT_LINE_ENTITY;
}

static int
need_str(jv ent, const char *k, char *msg, size_t msgsz)
{
	const char *s = json_get_str(ent, k);

	if (s != NULL && s[0] != '\0')
		return 0;
	snprintf(msg, msgsz, "The entity has no %s (a non-empty string).", k);
	return -1;
}

int
adt_jobs_line_ids(enum adt_section sec, jv ent, char *msg, size_t msgsz)
{
	switch (sec) {
	case ADT_SEC_MODELS:
		return need_str(ent, "@id", msg, msgsz);
	case ADT_SEC_TWINS:
		return need_str(ent, "$dtId", msg, msgsz);
	case ADT_SEC_RELS:
		if (need_str(ent, "$dtId", msg, msgsz) != 0 ||
		    need_str(ent, "$relationshipId", msg, msgsz) != 0 ||
		    need_str(ent, "$targetId", msg, msgsz) != 0)
			return -1;
		return 0;
	case ADT_SEC_HEADER:
		return 0;
	default:
		snprintf(msg, msgsz, "The line is outside a known section "
		    "(Header, Models, Twins, Relationships).");
		return -1;
	}
}
