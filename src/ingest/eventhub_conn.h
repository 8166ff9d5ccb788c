/*
 * eventhub_conn.h - Event Hubs connection strings and SAS tokens (the AMQP
 * transport's credentials).
 *
 * Accepted: an Event Hubs connection string
 * "Endpoint=sb://NS.servicebus.windows.net/;SharedAccessKeyName=K;
 * SharedAccessKey=V;EntityPath=HUB" (keys case-insensitive, any order,
 * empty parts ignored), IoT Hub's "Event Hub-compatible endpoint" (the same
 * form, host iothub-ns-...), a pre-made "SharedAccessSignature=..." instead
 * of the key, and the official emulator's ";UseDevelopmentEmulator=true"
 * (plain AMQP on 5672). IoT Hub's own "HostName=..." string is refused with
 * a message naming the string to use instead.
 */
#ifndef TP_EVENTHUB_CONN_H
#define TP_EVENTHUB_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct eh_conn {
	char *host;		/* NS.servicebus.windows.net (no port) */
	int port;		/* 5671, 5672 for the development emulator */
	int tls;		/* 0 only for UseDevelopmentEmulator=true / amqp:// */
	char *entity;		/* EntityPath, or NULL */
	char *key_name;		/* SharedAccessKeyName, or NULL */
	char *key;		/* SharedAccessKey (a secret), or NULL */
	char *sas;		/* SharedAccessSignature (a secret), or NULL */
	int amqp_hint;		/* the string itself asks for AMQP */
};

/*
 * Parse the connection string s[0..n). Returns 0 and fills *c (release with
 * eh_conn_release), or -1 with a reason in err (no secret in it); *c is
 * then empty. This function does not log.
 */
int eh_conn_parse(const char *s, size_t n, struct eh_conn *c,
    struct buf *err);

/* Free what c holds. eh_conn_release on a zeroed struct is a no-op. */
void eh_conn_release(struct eh_conn *c);

/*
 * Append to out the SAS token for resource uri (e.g.
 * "sb://NS.servicebus.windows.net/HUB"), signed with key (its bytes as
 * given, as Event Hubs wants) and valid until expiry (seconds since the
 * epoch): "SharedAccessSignature sr=...&sig=...&se=...&skn=...". Returns
 * 0, or -1 when OpenSSL fails.
 */
int eh_sas_token(struct buf *out, const char *uri, const char *key_name,
    const char *key, int64_t expiry);

#endif
