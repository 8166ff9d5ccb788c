/*
 * mapping.c - load the reference design's mapping file.
 */
#include "mapping.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "json.h"

/*
 * The program a mapping runs. Sources: a column name of the input record,
 * or a special source: $FILENAME (base name without extension of
 * _meta.src.file, else of the file transform is reading), $LINE
 * (_meta.src.row, else _meta.src.line), $NOW (UTC time when the run
 * started). A missing or null source, or an empty string for any type but
 * string, leaves the target out. Conversion errors fail the record.
 */
const char MAPPING_PROGRAM[] =
"def _tp_fail($m; $msg): error(\"mapping of \\($m.Source | tojson) to \\($m.Target | tojson): \\($msg)\");\n"
"def _tp_base: split(\"/\") | last | sub(\"\\\\.[^.]*$\"; \"\");\n"
"def _tp_src($m):\n"
"  if $m.Source == \"$FILENAME\" then\n"
"    (._meta.src.file // env.TWINPIPE_INPUT_FILE) as $f\n"
"    | if $f == null or $f == \"\" then null else $f | _tp_base end\n"
"  elif $m.Source == \"$LINE\" then (._meta.src.row // ._meta.src.line)\n"
"  elif $m.Source == \"$NOW\" then $tp_now\n"
"  else .[$m.Source] end;\n"
"def _tp_num($m):\n"
"  if type == \"number\" then .\n"
"  elif type == \"string\" and test(\"^\\\\s*-?[0-9]+(\\\\.[0-9]+)?([eE][-+]?[0-9]+)?\\\\s*$\") then (sub(\"^\\\\s+\"; \"\") | sub(\"\\\\s+$\"; \"\") | tonumber)\n"
"  else _tp_fail($m; \"\\(tojson) is not a number\") end;\n"
"def _tp_conv($m):\n"
"  $m.TargetType as $t\n"
"  | if . == null then empty\n"
"    elif $t == \"string\" then (if type == \"string\" then . else tojson end)\n"
"    elif . == \"\" then empty\n"
"    elif $t == \"boolean\" then\n"
"      (if type == \"boolean\" then .\n"
"       elif type == \"number\" and (. == 0 or . == 1) then . == 1\n"
"       elif type == \"string\" and (ascii_downcase | IN(\"true\", \"yes\", \"y\", \"1\")) then true\n"
"       elif type == \"string\" and (ascii_downcase | IN(\"false\", \"no\", \"n\", \"0\")) then false\n"
"       else _tp_fail($m; \"\\(tojson) is not a boolean\") end)\n"
"    elif $t == \"double\" or $t == \"float\" then _tp_num($m)\n"
"    elif $t == \"integer\" or $t == \"long\" then\n"
"      (. as $orig | _tp_num($m) | if . == floor then . else _tp_fail($m; \"\\($orig | tojson) is not an integer\") end)\n"
"    elif $t == \"datetime\" then\n"
"      (if type == \"string\" and test(\"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\\\.[0-9]+)?)?(Z|z|[-+]([01][0-9]|2[0-3]):?[0-5][0-9])?$\")\n"
"       then (sub(\" \"; \"T\") | if test(\"(Z|z|[-+][0-9:]{4,5})$\") then sub(\"z$\"; \"Z\") else . + \"Z\" end)\n"
"       else _tp_fail($m; \"\\(tojson) is not an ISO 8601 date-time\") end)\n"
"    elif $t == \"date\" then\n"
"      (if type == \"string\" and test(\"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$\") then .\n"
"       else _tp_fail($m; \"\\(tojson) is not an ISO 8601 date\") end)\n"
"    elif $t == \"duration\" then\n"
"      (if type == \"string\" and test(\"^-?P(?!$)([0-9]+Y)?([0-9]+M)?([0-9]+W)?([0-9]+D)?(T(?=[0-9])([0-9]+H)?([0-9]+M)?([0-9]+(\\\\.[0-9]+)?S)?)?$\") then .\n"
"       else _tp_fail($m; \"\\(tojson) is not an ISO 8601 duration\") end)\n"
"    else _tp_fail($m; \"unknown TargetType \\($t | tojson)\") end;\n"
"def _tp_noid: error(\"no twin id: the mapping has no $dtId entry and the record has no file name (_meta.src.file) for $FILENAME\");\n"
"def _tp_vals($in):\n"
"  $tp_mapping.mapping[] as $m\n"
"  | [$in | _tp_src($m) | _tp_conv($m)] as $c\n"
"  | if ($c | length) == 0 then empty else [$m, $c[0]] end;\n"
"def _tp_id($in):\n"
"  if $tp_mapping.id == \"$FILENAME\" then\n"
"    ($in | _tp_src({Source: \"$FILENAME\"})) | if . == null or . == \"\" then _tp_noid else . end\n"
"  elif . == null or . == \"\" then error(\"no twin id: the $dtId entry gave no value\")\n"
"  else . end;\n"
". as $in\n"
"| if $tp_mapping.op == \"patch\" then\n"
"    reduce _tp_vals($in) as $v\n"
"      ({id: null, ops: []};\n"
"       if $v[0]._path == [\"$dtId\"] then .id = $v[1]\n"
"       else .ops += [{op: \"add\", path: $v[0]._ptr, value: $v[1]}] end)\n"
"    | {\"$dtId\": (.id | _tp_id($in)), \"$op\": \"patch\", \"$patch\": .ops}\n"
"  else\n"
"    reduce _tp_vals($in) as $v\n"
"      (if $tp_mapping.id == \"$FILENAME\" then {\"$dtId\": (null | _tp_id($in))} else {} end;\n"
"       setpath($v[0]._path; $v[1]))\n"
"    | if $tp_mapping.model != null and .[\"$metadata\"][\"$model\"] == null\n"
"      then .[\"$metadata\"] = ((.[\"$metadata\"] // {}) + {\"$model\": $tp_mapping.model})\n"
"      else . end\n"
"    | if $tp_mapping.id == \"$FILENAME\" then . else .[\"$dtId\"] |= _tp_id($in) end\n"
"  end\n";

static const struct {
	const char *name;
	const char *canon;
} types[] = {
	{ "boolean", "boolean" }, { "bool", "boolean" },
	{ "date", "date" }, { "datetime", "datetime" },
	{ "double", "double" }, { "duration", "duration" },
	{ "float", "float" }, { "int", "integer" },
	{ "integer", "integer" }, { "long", "long" },
	{ "string", "string" },
};

int
mapping_pointer(const char *s, size_t n, jv *path, char *err,
    size_t errlen)
{
	jv p = jv_array();
	struct buf seg = BUF_INIT;
	size_t i = 0;

	*path = jv_invalid();
	if (n == 0 || s[0] != '/') {
		snprintf(err, errlen, "a JSON Pointer starts with '/'");
		goto fail;
	}
	if (!json_utf8_valid(s, n)) {
		snprintf(err, errlen, "not UTF-8");
		goto fail;
	}
	while (i < n) {
		i++;		/* the '/' */
		seg.len = 0;
		for (; i < n && s[i] != '/'; i++) {
			if (s[i] == '\0') {
				snprintf(err, errlen, "NUL byte in the pointer");
				goto fail;
			}
			if (s[i] != '~') {
				buf_add(&seg, &s[i], 1);
				continue;
			}
			if (i + 1 >= n || (s[i + 1] != '0' && s[i + 1] != '1')) {
				snprintf(err, errlen, "'~' at byte %zu is not "
				    "followed by 0 or 1 (write ~0 for '~', ~1 "
				    "for '/')", i + 1);
				goto fail;
			}
			buf_add(&seg, s[i + 1] == '0' ? "~" : "/", 1);
			i++;
		}
		if (seg.len == 0) {
			snprintf(err, errlen, "empty property name at byte "
			    "%zu", i);
			goto fail;
		}
		p = jv_array_append(p, jv_string_sized(seg.p, (int)seg.len));
	}
	buf_release(&seg);
	*path = p;
	return 0;
fail:
	buf_release(&seg);
	jv_free(p);
	return -1;
}

/* the RFC 6901 text of a path of strings: ["a/b","c"] -> "/a~1b/c" */
static jv
pointer_text(jv path)
{
	struct buf b = BUF_INIT;
	int i, n = jv_array_length(jv_copy(path));
	jv out;

	for (i = 0; i < n; i++) {
		jv seg = jv_array_get(jv_copy(path), i);
		const char *c = jv_string_value(seg);
		int k, len = jv_string_length_bytes(jv_copy(seg));

		buf_add(&b, "/", 1);
		for (k = 0; k < len; k++)
			if (c[k] == '~')
				buf_add(&b, "~0", 2);
			else if (c[k] == '/')
				buf_add(&b, "~1", 2);
			else
				buf_add(&b, &c[k], 1);
		jv_free(seg);
	}
	out = jv_string_sized(b.p ? b.p : "", (int)b.len);
	jv_free(path);
	buf_release(&b);
	return out;
}

/*
 * Target "/a/b" (RFC 6901) or the older "a/b" -> ["a","b"];
 * "$model" -> ["$metadata","$model"]. -1 with err for a bad pointer.
 */
static int
target_path(const char *t, jv *out, char *err, size_t errlen)
{
	jv path = jv_array();

	if (strcmp(t, "$model") == 0 || strcmp(t, "$metadata.$model") == 0) {
		*out = jv_array_append(jv_array_append(path,
		    jv_string("$metadata")), jv_string("$model"));
		return 0;
	}
	if (t[0] == '/') {
		jv_free(path);
		return mapping_pointer(t, strlen(t), out, err, errlen);
	}
	while (1) {
		size_t n = strcspn(t, "/");

		if (n == 0) {
			jv_free(path);
			snprintf(err, errlen, "empty property name");
			return -1;
		}
		path = jv_array_append(path, jv_string_sized(t, (int)n));
		if (t[n] == '\0')
			break;
		t += n + 1;
	}
	*out = path;
	return 0;
}

static int
path_is(jv path, const char *a, const char *b)
{
	int n = jv_array_length(jv_copy(path)), r;
	jv s0 = jv_array_get(jv_copy(path), 0);

	r = n == (b == NULL ? 1 : 2) && strcmp(jv_string_value(s0), a) == 0;
	jv_free(s0);
	if (r && b != NULL) {
		jv s1 = jv_array_get(jv_copy(path), 1);

		r = strcmp(jv_string_value(s1), b) == 0;
		jv_free(s1);
	}
	return r;
}

int
mapping_load(const char *path, jv *out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	struct buf b = BUF_INIT;
	struct json_err je;
	char chunk[65536];
	jv doc = jv_invalid(), list = jv_invalid(), norm = jv_invalid();
	size_t n;
	int i, len, rc = -1, has_id = 0, has_model = 0;

	*out = jv_invalid();
	if (f == NULL) {
		snprintf(err, errlen, "cannot open mapping file '%s': %s",
		    path, strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	if (json_parse(b.p ? b.p : "", b.len, &doc, NULL, &je) < 0) {
		snprintf(err, errlen, "mapping file '%s': invalid JSON at "
		    "byte %zu: %s", path, je.off, je.msg);
		goto out;
	}
	list = json_get(doc, "mapping");
	if (jv_get_kind(list) != JV_KIND_ARRAY) {
		snprintf(err, errlen, "mapping file '%s': no \"mapping\" "
		    "array", path);
		goto out;
	}
	norm = jv_array();
	len = jv_array_length(jv_copy(list));
	for (i = 0; i < len; i++) {
		jv m = jv_array_get(jv_copy(list), i);
		const char *src = json_get_str(m, "Source");
		const char *tgt = json_get_str(m, "Target");
		const char *typ = json_get_str(m, "TargetType");
		const char *canon = NULL;
		size_t k;

		if (typ == NULL)
			typ = "string";
		for (k = 0; k < sizeof(types) / sizeof(types[0]); k++)
			if (strcasecmp(typ, types[k].name) == 0)
				canon = types[k].canon;
		jv tpath;
		char perr[160];

		if (src == NULL || tgt == NULL || *tgt == '\0' ||
		    canon == NULL) {
			snprintf(err, errlen, "mapping file '%s': entry %d: %s",
			    path, i + 1, src == NULL ? "no string Source" :
			    tgt == NULL || *tgt == '\0' ?
			    "no string Target" : "unknown TargetType (use "
			    "string, boolean, double, float, integer, int, "
			    "long, dateTime, date or duration)");
			jv_free(m);
			goto out;
		}
		if (target_path(tgt, &tpath, perr, sizeof(perr)) < 0) {
			snprintf(err, errlen, "mapping file '%s': entry %d: "
			    "Target \"%.100s\" is not a valid JSON Pointer: %s",
			    path, i + 1, tgt, perr);
			jv_free(m);
			goto out;
		}
		if (path_is(tpath, "$dtId", NULL))
			has_id = 1;
		if (path_is(tpath, "$metadata", "$model"))
			has_model = 1;
		m = jv_object_set(m, jv_string("TargetType"),
		    jv_string(canon));
		m = jv_object_set(m, jv_string("_ptr"),
		    pointer_text(jv_copy(tpath)));
		m = jv_object_set(m, jv_string("_path"), tpath);
		norm = jv_array_append(norm, m);
	}
	{
		jv model = json_get(doc, "model");

		if (jv_get_kind(model) != JV_KIND_STRING &&
		    jv_get_kind(model) != JV_KIND_INVALID &&
		    jv_get_kind(model) != JV_KIND_NULL) {
			jv_free(model);
			snprintf(err, errlen, "mapping file '%s': \"model\" "
			    "must be a string", path);
			goto out;
		}
		if (jv_get_kind(model) != JV_KIND_STRING) {
			jv_free(model);
			model = jv_null();
		}
		if (jv_get_kind(model) == JV_KIND_STRING)
			has_model = 1;
		*out = jv_object_set(jv_object_set(jv_object(),
		    jv_string("mapping"), norm), jv_string("model"), model);
		*out = jv_object_set(*out, jv_string("op"),
		    jv_string(has_model ? "upsert" : "patch"));
		*out = jv_object_set(*out, jv_string("id"),
		    jv_string(has_id ? "entry" : "$FILENAME"));
		norm = jv_invalid();
	}
	rc = 0;
out:
	jv_free(doc);
	jv_free(list);
	jv_free(norm);
	buf_release(&b);
	return rc;
}
