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
 * canonical name, Target turned into a path array "_path"), or -1 with a
 * message in err.
 */
int mapping_load(const char *path, jv *out, char *err, size_t errlen);

#endif
