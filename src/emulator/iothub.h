/*
 * iothub.h - twin-emulator's IoT Hub service API (iothub.c): the device
 * registry, device and module twins, the query language's simple forms
 * (iothub_query.c), shared access policies and routing of twin-change and
 * lifecycle events into the hub's built-in Event Hub (eh.h).
 */
#ifndef TP_EMU_IOTHUB_H
#define TP_EMU_IOTHUB_H

#include <stddef.h>

#include <jv.h>

/* The default key of the iothubowner policy (documented, not secret). */
#define IOTHUB_EMULATOR_KEY "dHdpbi1lbXVsYXRvciBJb1QgSHViIG93bmVyIGtleSE="

#define IOTHUB_MAX_QUERY 8192	/* query text (IoT Hub's limit) */
#define IOTHUB_MAX_NODES 512	/* parsed query size */

struct req;
struct resp;

/*
 * Set the hub: name (3 to 50 letters, digits or '-'; the Event Hub events
 * go to, and <name>.azure-devices.net the host SAS tokens are for) and the
 * key of shared access policy policy (base64, decoded here). Returns 0, or
 * -1 with msg filled (a usage error).
 */
int iothub_init(const char *name, const char *policy, const char *key_b64,
    char *msg, size_t msgsz);
/* Is this decoded path one of the IoT Hub service API? */
int iothub_is_path(struct req *r);
/* The counter kind of such a request: iothub.device, .module, .twin,
 * .query. */
const char *iothub_kind(struct req *r);
/* Serve /devices/... and /twins/... (the hub's host). */
void iothub_handle(struct req *r, struct resp *rs);
/* Serve /_admin/iothub/...: the emulator's own device-side endpoint. */
void iothub_admin_handle(struct req *r, struct resp *rs);
/* Rewrite a fault answer (429, 5xx from faults_before) in IoT Hub's
 * error shape, keeping its headers (Retry-After). */
void iothub_fault_body(struct resp *rs);

/* ---- iothub_query.c ---- */
struct iq_node;
struct iothub_query {
	int modules;		/* FROM devices.modules */
	int root;		/* the WHERE condition's node, or -1 */
	struct iq_node *n;
	int nn;
};

/*
 * Parse "SELECT * FROM devices[.modules] [WHERE cond]": cond has AND, OR,
 * NOT, parentheses, comparisons (= != <> < <= > >=) of paths (tags.a.b,
 * properties.reported.x, deviceId, name['key']) and literals (strings,
 * numbers, true, false, null), IN / NIN [list] and IS_DEFINED(path).
 * Returns 0, or -1 with msg filled (q is then empty; query_free is still
 * allowed).
 */
int iothub_query_parse(const char *text, struct iothub_query *q, char *msg,
    size_t msgsz);
/* Does twin (borrowed) match the WHERE condition? 1 or 0. */
int iothub_query_match(const struct iothub_query *q, jv twin);
/* Free q's nodes. iothub_query_free on an empty query is a no-op. */
void iothub_query_free(struct iothub_query *q);

#endif
