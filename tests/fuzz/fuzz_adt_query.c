/*
 * fuzz_adt_query.c - twin-emulator's ADT query parser, condition evaluator
 * and projection (src/emulator/adt_query.c, compiled in here).
 *
 * Input: a query text. It is parsed; a parse error must say why; a parsed
 * query's conditions are evaluated at every stage on a row of fixed
 * entities (a twin, a relationship, odd values) and the row is projected.
 * Nothing may crash or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "../../src/emulator/adt_query.c"

static const char twin_text[] =
    "{\"$dtId\":\"Twin-01\",\"$etag\":\"W/\\\"e\\\"\",\"name\":\"Sample01\","
    "\"temp\":79,\"on\":true,\"c\":{\"p\":1,\"$metadata\":{}},"
    "\"$metadata\":{\"$model\":\"dtmi:com:example:Sample;1\","
    "\"temp\":{\"lastUpdateTime\":\"2022-02-28T00:30:00.1234567Z\"}}}";
static const char rel_text[] =
    "{\"$relationshipId\":\"r1\",\"$sourceId\":\"Twin-01\","
    "\"$targetId\":\"Twin-02\",\"$relationshipName\":\"Contains\",\"w\":2}";

static int
is_a(const char *model, const char *base)
{
	return strcmp(model, base) == 0 || strncmp(base, "dtmi:com:", 9) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct adt_query q;
	struct json_err je;
	char msg[600], *s;
	jv twin, rel, row, item;
	int i, st;

	if (size > 9000)
		return 0;
	s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	if (adt_query_parse(s, &q, msg, sizeof(msg)) != 0) {
		if (msg[0] == '\0')
			abort();	/* a syntax error must say why */
		free(s);
		return 0;
	}
	if (json_parse(twin_text, sizeof(twin_text) - 1, &twin, NULL, &je) != 0 ||
	    json_parse(rel_text, sizeof(rel_text) - 1, &rel, NULL, &je) != 0)
		abort();
	row = jv_array();
	for (i = 0; i < q.nalias; i++)
		row = jv_array_append(row, i % 3 == 0 ? jv_copy(twin) :
		    i % 3 == 1 ? jv_copy(rel) : jv_null());
	for (st = 0; st <= q.njoin; st++) {
		(void)adt_query_match(&q, row, st, is_a);
		(void)adt_query_match(&q, row, st, NULL);
	}
	item = adt_query_project(&q, row);
	jv_free(item);
	jv_free(row);
	row = JV_ARRAY(jv_number(1));	/* a row too short: no entity */
	(void)adt_query_match(&q, row, 0, is_a);
	jv_free(adt_query_project(&q, row));
	jv_free(row);
	jv_free(twin);
	jv_free(rel);
	adt_query_free(&q);
	free(s);
	return 0;
}
