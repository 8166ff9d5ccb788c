/*
 * adt.c - the Azure Digital Twins data plane of twin-emulator: the entry
 * (routes and API versions) and the helpers its parts share (ADT's error
 * bodies, ETags, times). Models, twins, relationships and the query
 * endpoint are in adt_models.c, adt_twins.c, adt_rels.c and adt_search.c
 * (see adt_impl.h).
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sqlite3.h>

#include "codec.h"
#include "adt_query.h"
#include "adt_impl.h"
#include "emu.h"
#include "json.h"


static const char *api_versions[] = { "2020-10-31", "2021-06-30-preview",
    "2022-05-31", "2023-06-30", "2023-10-31" };

void
adt_err(struct resp *rs, int status, const char *code, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	resp_json(rs, status, JV_OBJECT(jv_string("error"), JV_OBJECT(
	    jv_string("code"), jv_string(code), jv_string("message"),
	    jv_string(msg))));
	resp_header(rs, "x-ms-error-code", "%s", code);
}

void
adt_twin_not_found(struct resp *rs, const char *id)
{
	adt_err(rs, 404, "DigitalTwinNotFound", "There is no digital twin instance "
	    "that exists with the ID %.200s. Please verify that the twin id is "
	    "valid and ensure that the twin is not deleted. See section on "
	    "querying the twins http://aka.ms/adtv2query.", id);
}

int
adt_json_bool(jv o, const char *k)
{
	jv v = json_get(o, k);
	int r = jv_get_kind(v) == JV_KIND_TRUE;

	jv_free(v);
	return r;
}

/* Does object o (borrowed) have key k? */
int
adt_json_has(jv o, const char *k)
{
	jv v = json_get(o, k);
	int r = jv_is_valid(v);

	jv_free(v);
	return r;
}

int
adt_body(struct req *r, struct resp *rs, const char *code, jv *out)
{
	char msg[300];

	if (req_json(r, out, msg, sizeof(msg)) == 0)
		return 0;
	adt_err(rs, 400, code, "%s", msg);
	return -1;
}

jv
adt_twin_model(jv twin)
{
	return jv_getpath(jv_copy(twin), JV_ARRAY(jv_string("$metadata"),
	    jv_string("$model")));
}

void
adt_send_ent(struct resp *rs, jv ent)
{
	resp_header(rs, "ETag", "%s", json_get_str(ent, "$etag"));
	resp_json(rs, 200, ent);
}

jv
adt_new_etag(void)
{
	char g[37], e[48];

	emu_guid(g);
	snprintf(e, sizeof(e), "W/\"%s\"", g);
	return jv_string(e);
}

/* ---- entry ---- */

static int
api_version_ok(struct req *r, struct resp *rs)
{
	const char *v = req_query(r, "api-version");
	size_t i;

	if (v == NULL) {
		adt_err(rs, 400, "MissingApiVersionParameter", "The api-version "
		    "query parameter (?api-version=) is required for all "
		    "requests.");
		return 0;
	}
	for (i = 0; i < sizeof(api_versions) / sizeof(api_versions[0]); i++)
		if (strcmp(v, api_versions[i]) == 0)
			return 1;
	adt_err(rs, 400, "InvalidApiVersionParameter", "The api-version '%.40s' is "
	    "not supported. Supported versions: 2020-10-31, 2022-05-31, "
	    "2023-06-30, 2023-10-31.", v);
	return 0;
}

static int
authorized(struct req *r, struct resp *rs)
{
	const char *h = req_header(r, "Authorization");
	char msg[200];

	if (emu.no_auth)
		return 1;
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
		adt_err(rs, 401, "Unauthorized", "A bearer token is required "
		    "(Authorization: Bearer <token> from the token endpoint).");
		resp_header(rs, "WWW-Authenticate", "Bearer");
		return 0;
	}
	if (token_check(h + 7, ADT_AUDIENCES, msg, sizeof(msg)) != 0) {
		adt_err(rs, 401, "Unauthorized", "%s", msg);
		resp_header(rs, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
		return 0;
	}
	return 1;
}

void
adt_handle(struct req *r, struct resp *rs)
{
	const char *s0 = r->seg[0];

	if (!authorized(r, rs) || !api_version_ok(r, rs))
		return;
	store_lock();
	if (strcmp(s0, "models") == 0 && r->nseg <= 2)
		adt_models(r, rs);
	else if (strcmp(s0, "jobs") == 0 && r->nseg >= 2 &&
	    strcmp(r->seg[1], "imports") == 0)
		adt_jobs(r, rs);
	else if (strcmp(s0, "query") == 0 && r->nseg == 1)
		adt_search(r, rs);
	else if (strcmp(s0, "digitaltwins") == 0 && r->nseg == 2)
		adt_twin_one(r, rs);
	else if (strcmp(s0, "digitaltwins") == 0 && r->nseg == 3 &&
	    strcmp(r->seg[2], "relationships") == 0 && strcmp(r->method, "GET") == 0)
		adt_rel_list(r, rs, 0);
	else if (strcmp(s0, "digitaltwins") == 0 && r->nseg == 3 &&
	    strcmp(r->seg[2], "incomingrelationships") == 0 &&
	    strcmp(r->method, "GET") == 0)
		adt_rel_list(r, rs, 1);
	else if (strcmp(s0, "digitaltwins") == 0 && r->nseg == 4 &&
	    strcmp(r->seg[2], "relationships") == 0)
		adt_rel_one(r, rs);
	else if (strcmp(s0, "digitaltwins") == 0 && r->nseg == 4 &&
	    strcmp(r->seg[2], "components") == 0)
		adt_component_one(r, rs);
	else if (strcmp(s0, "digitaltwins") == 0 && ((r->nseg == 3 &&
	    strcmp(r->seg[2], "telemetry") == 0) || (r->nseg == 5 &&
	    strcmp(r->seg[2], "components") == 0 &&
	    strcmp(r->seg[4], "telemetry") == 0)))
		adt_telemetry(r, rs);
	else
		adt_err(rs, 404, "NotFound", "The resource is not served by "
		    "twin-emulator.");
	store_unlock();
}
