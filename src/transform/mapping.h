/*
 * mapping.h - the Azure reference design's mapping file, as a jq program.
 *
 * A mapping file {"mapping":[{"Source":..,"Target":..,"TargetType":..}],
 * "model"?: "dtmi:..."} becomes the jq program MAPPING_PROGRAM run with the
 * validated mapping bound to $tp_mapping (see man/transform.1, MAPPING).
 */
#ifndef TP_MAPPING_H
#define TP_MAPPING_H

#include <stddef.h>

#include <jv.h>

extern const char MAPPING_PROGRAM[];

/*
 * Read and validate the mapping file at path. Returns 0 and an owned,
 * normalized mapping object in *out (TargetType lowercased to its
 * canonical name, Target turned into a path array "_path" and its RFC 6901
 * text "_ptr"; "op": "upsert" when a model is given, else "patch"; "id":
 * "entry" when a $dtId entry exists, else "$FILENAME"), or -1 with a
 * message in err.
 */
int mapping_load(const char *path, jv *out, char *err, size_t errlen);

/*
 * Parse the RFC 6901 JSON Pointer s[0..n) ("/a/b~1c") into an owned array
 * of its unescaped reference tokens in *path. Returns 0, or -1 with a
 * message in err for a pointer that does not start with '/', a '~' not
 * followed by 0 or 1, an empty token, a NUL byte or bytes that are not UTF-8. Never fails
 * otherwise.
 */
int mapping_pointer(const char *s, size_t n, jv *path, char *err,
    size_t errlen);

#endif
