/*
 * adt_impl.h - what the parts of twin-emulator's ADT data plane share
 * (emu.h has the server's types):
 *
 *   adt.c         the helpers every part uses (errors, ETags, times) and
 *                 the entry: routes, API versions
 *   adt_models.c  models: upload and validation, the declarations cache,
 *                 listing, decommissioning, deletion, dependencies
 *   adt_twins.c   twins and components: PUT, GET, PATCH, DELETE, $metadata,
 *                 telemetry
 *   adt_rels.c    relationships: one, lists, incoming
 *   adt_search.c  the query endpoint (the language is adt_query.c)
 *   adt_jobs.c    import jobs (/jobs/imports): the jobs, their runner
 *                 thread, the output log; adt_jobs_line.c reads one line
 *                 of an import file
 */
#ifndef TP_EMU_ADT_IMPL_H
#define TP_EMU_ADT_IMPL_H

#include <stdint.h>

#include <jv.h>
#include <sqlite3.h>

#include "emu.h"

#define ADT_MAX_MODELS_PER_POST 250
#define ADT_MAX_PAGE 1000
#define ADT_MAX_EXTENDS_DEPTH 10

/* Paging of lists: continuationToken=tpemu:N in the query, nextLink. */
struct pager {
	long page, skip, seen, got;
	int more;
};

/* adt.c */
void adt_err(struct resp *rs, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int adt_json_bool(jv o, const char *k);
int adt_json_has(jv o, const char *k);
jv adt_new_etag(void);
/* A twin's (borrowed) $metadata.$model (owned; a string when it has one). */
jv adt_twin_model(jv twin);
/* The request body as JSON in *out: 0, or -1 with rs the 400 answer with
 * code and the reason. */
int adt_body(struct req *r, struct resp *rs, const char *code, jv *out);
/* Answer 200 with ent (consumed) and its $etag as the ETag header. */
void adt_send_ent(struct resp *rs, jv ent);
void adt_twin_not_found(struct resp *rs, const char *id);

/* adt_models.c */
jv adt_decl_get(const char *id, int *decommissioned, int *missing_base);
int adt_has_type(jv c, const char *kind);
int adt_model_decls(const char *id, jv *decl, int depth);
int adt_model_is_a(const char *id, const char *base, int depth);
void adt_models(struct req *r, struct resp *rs);
/* Start paging a list request: 0, or -1 with rs the 400 answer (a bad
 * continuationToken). */
int adt_pager_init(struct req *r, struct resp *rs, struct pager *p);
/* Answer 200 {"value": arr (consumed), "nextLink": ...}. */
void adt_send_page(struct req *r, struct resp *rs, struct pager *p, jv arr);
int adt_pager_take(struct pager *p);
int adt_schema_ok(jv s, jv v);
int adt_twin_validate(jv twin, const char *model, struct resp *rs, int is_new);
jv adt_user_props(jv ent);
int adt_models_add(jv arr, struct resp *rs);

/* adt_twins.c */
jv adt_apply_patch(jv props, jv ops, struct resp *rs, jv *touched, jv *model,
    jv *srct);
void adt_component_one(struct req *r, struct resp *rs);
void adt_telemetry(struct req *r, struct resp *rs);
jv adt_twin_load(const char *id);
/* The twin id (owned), or jv_invalid() with rs the 404 DigitalTwinNotFound
 * answer. */
jv adt_twin_find(struct resp *rs, const char *id);
void adt_twin_one(struct req *r, struct resp *rs);
int adt_twin_put_core(const char *id, jv body, size_t len, const char *inm,
    const char *im, int rest, struct resp *rs);

/* adt_rels.c */
void adt_rel_list(struct req *r, struct resp *rs, int incoming);
void adt_rel_one(struct req *r, struct resp *rs);
int adt_rel_put_core(const char *src, const char *id, jv body,
    const char *inm, const char *im, int rest, struct resp *rs);

/* adt_jobs.c */
void adt_jobs(struct req *r, struct resp *rs);

/* adt_jobs_line.c: one line of an import file */
enum adt_line_kind {
	ADT_LINE_BLANK,		/* empty or blanks only */
	ADT_LINE_SECTION,	/* {"Section": NAME}: *section set */
	ADT_LINE_ENTITY,	/* an object: *out owned */
	ADT_LINE_BAD		/* not JSON, not an object: msg set */
};
enum adt_section { ADT_SEC_NONE, ADT_SEC_HEADER, ADT_SEC_MODELS,
	ADT_SEC_TWINS, ADT_SEC_RELS, ADT_SEC_UNKNOWN };
enum adt_line_kind adt_jobs_line_read(const char *line, size_t n,
    enum adt_section *section, jv *out, char *msg, size_t msgsz);
/* The ids an entity of section sec (borrowed) must have: 0, or -1 with
 * msg set. */
int adt_jobs_line_ids(enum adt_section sec, jv ent, char *msg, size_t msgsz);
const char *adt_jobs_section_name(enum adt_section sec);

/* adt_search.c */
void adt_search(struct req *r, struct resp *rs);

#endif
