/*
 * fuzz_jpointer.c - the mapping file's Target parser: RFC 6901 JSON
 * Pointers (mapping_pointer(), src/transform/mapping.c, compiled in here).
 *
 * Properties checked:
 * - it never crashes and reads only data[0..size) (a copy of exactly that
 *   size, not NUL-terminated);
 * - on 0 the path is a non-empty array of non-empty strings, and escaping
 *   it again ('~' as ~0, '/' as ~1) gives back the input exactly;
 * - on -1 there is a message and no path;
 * - the verdict agrees with a direct reading of the grammar: a leading
 *   '/', every '~' followed by 0 or 1, no empty token, no NUL, UTF-8.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/transform/mapping.c"

static int
valid(const char *p, size_t n)
{
	size_t i, tok = 0;

	if (n == 0 || p[0] != '/' || !json_utf8_valid(p, n))
		return 0;
	for (i = 1; i <= n; i++) {
		if (i == n || p[i] == '/') {
			if (tok == 0)
				return 0;
			tok = 0;
			continue;
		}
		if (p[i] == '\0')
			return 0;
		if (p[i] == '~' && (i + 1 >= n || (p[i + 1] != '0' &&
		    p[i + 1] != '1')))
			return 0;
		tok++;
	}
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *p, err[256];
	jv path;
	int rc;

	if (size > 4096)
		return 0;
	p = malloc(size ? size : 1);
	memcpy(p, data, size);
	err[0] = '\0';
	rc = mapping_pointer(p, size, &path, err, sizeof(err));
	if (rc != (valid(p, size) ? 0 : -1))
		abort();
	if (rc < 0) {
		if (err[0] == '\0' || jv_is_valid(path))
			abort();
		jv_free(path);
	} else {
		jv back = pointer_text(jv_copy(path));
		int i, n = jv_array_length(jv_copy(path));

		if (n < 1)
			abort();
		for (i = 0; i < n; i++) {
			jv s = jv_array_get(jv_copy(path), i);

			if (jv_get_kind(s) != JV_KIND_STRING ||
			    jv_string_length_bytes(jv_copy(s)) == 0)
				abort();
			jv_free(s);
		}
		if ((size_t)jv_string_length_bytes(jv_copy(back)) != size ||
		    memcmp(jv_string_value(back), p, size) != 0)
			abort();
		jv_free(back);
		jv_free(path);
	}
	free(p);
	return 0;
}
