/*
 * eh_amqp.h - the Event Hubs AMQP 1.0 endpoint of twin-emulator (one
 * Qpid Proton proactor thread over the store of eh_store.h).
 */
#ifndef TP_EMU_EH_AMQP_H
#define TP_EMU_EH_AMQP_H

struct eh_amqp_config {
	const char *host;
	int port;		/* 0: a free port */
	int tls;		/* amqps (cert_pem/key_pem needed) */
	const char *cert_pem, *key_pem;
	const char *key_name;	/* shared access key name */
	const char *key;	/* its key (the HMAC key as given) */
	int no_auth;		/* links need no token */
};

/* Listen and serve on a new thread. Returns the bound port, or -1
 * (logged). The config's strings must outlive eh_amqp_stop(). */
int eh_amqp_start(const struct eh_amqp_config *cfg);
/* Detach every receiver link of hub with condition cond (NULL:
 * amqp:link:detach-forced), or drop every connection that has one; done
 * on the AMQP thread soon after. */
enum { EH_KICK_DETACH = 1, EH_KICK_DROP };
void eh_amqp_kick(int what, const char *hub, const char *cond);
/* Stop serving (closes every connection) and join the thread. */
void eh_amqp_stop(void);

#endif
