/*
 * test_eventhub_conn.c - Event Hubs connection strings (every accepted
 * form, every refusal) and SAS tokens (a known answer computed with
 * openssl dgst -sha256 -mac HMAC).
 */
#include <stdlib.h>
#include <string.h>

#include "../../src/ingest/eventhub_conn.h"
#include "tap.h"

static int
parse(const char *s, struct eh_conn *c, struct buf *e)
{
	e->len = 0;
	return eh_conn_parse(s, strlen(s), c, e);
}

int
main(void)
{
	struct eh_conn c;
	struct buf e = BUF_INIT, t = BUF_INIT;

	ok(parse("Endpoint=sb://ns.servicebus.windows.net/;"
	    "SharedAccessKeyName=Root;SharedAccessKey=abc=;EntityPath=hub1",
	    &c, &e) == 0, "an Event Hubs connection string parses");
	is_str(c.host, "ns.servicebus.windows.net", "host");
	is_int(c.port, 5671, "port 5671");
	is_int(c.tls, 1, "TLS");
	is_str(c.entity, "hub1", "EntityPath");
	is_str(c.key_name, "Root", "key name");
	is_str(c.key, "abc=", "key keeps its '=' padding");
	is_int(c.amqp_hint, 0, "no transport hint");
	eh_conn_release(&c);

	ok(parse(" endpoint = sb://iothub-ns-h-1.servicebus.windows.net/ ;"
	    "SHAREDACCESSKEYNAME=iothubowner;sharedaccesskey=k;;"
	    "entitypath=myhub;", &c, &e) == 0,
	    "IoT Hub's Event Hub-compatible string, any case, blanks, ;;");
	is_str(c.host, "iothub-ns-h-1.servicebus.windows.net", "its host");
	is_str(c.entity, "myhub", "its EntityPath");
	eh_conn_release(&c);

	ok(parse("Endpoint=sb://localhost:5673;SharedAccessKeyName=K;"
	    "SharedAccessKey=V;UseDevelopmentEmulator=true", &c, &e) == 0,
	    "UseDevelopmentEmulator=true");
	is_int(c.tls, 0, "plain AMQP");
	is_int(c.port, 5673, "the given port");
	is_int(c.amqp_hint, 1, "asks for AMQP");
	ok(c.entity == NULL, "no EntityPath");
	eh_conn_release(&c);

	ok(parse("Endpoint=sb://h/;SharedAccessKeyName=K;SharedAccessKey=V;"
	    "UseDevelopmentEmulator=true", &c, &e) == 0 && c.port == 5672,
	    "the emulator's default port is 5672");
	eh_conn_release(&c);

	ok(parse("Endpoint=sb://h/;SharedAccessSignature=SharedAccessSignature"
	    " sr=x&sig=y&se=1&skn=K;TransportType=Amqp", &c, &e) == 0 &&
	    c.sas != NULL && c.amqp_hint == 1,
	    "a pre-made SharedAccessSignature, TransportType=Amqp");
	eh_conn_release(&c);

	ok(parse("HostName=h.azure-devices.net;SharedAccessKeyName=s;"
	    "SharedAccessKey=k", &c, &e) < 0 && strstr(e.p,
	    "Event Hub-compatible") != NULL,
	    "IoT Hub's own string is refused, naming the one to use");
	ok(parse("SharedAccessKeyName=K;SharedAccessKey=V", &c, &e) < 0 &&
	    strstr(e.p, "no Endpoint") != NULL, "no Endpoint");
	ok(parse("Endpoint=https://h/;SharedAccessKeyName=K;"
	    "SharedAccessKey=V", &c, &e) < 0, "not sb://");
	ok(parse("Endpoint=sb://h:99999/;SharedAccessKeyName=K;"
	    "SharedAccessKey=V", &c, &e) < 0, "a bad port");
	ok(parse("Endpoint=sb:///;SharedAccessKeyName=K;SharedAccessKey=V",
	    &c, &e) < 0, "no host");
	ok(parse("Endpoint=sb://h/;SharedAccessKeyName=K", &c, &e) < 0 &&
	    strstr(e.p, "SharedAccessKey") != NULL, "no key");
	ok(parse("Endpoint=sb://h/;SharedAccessKeyName=K;SharedAccessKey=V;"
	    "SharedAccessKey=W", &c, &e) < 0, "a key twice");
	ok(parse("Endpoint=sb://h/;garbage;SharedAccessKeyName=K;"
	    "SharedAccessKey=V", &c, &e) < 0, "a part without =");
	ok(parse("Endpoint=sb://h/;SharedAccessKeyName=K;"
	    "SharedAccessKey=s3cret", &c, &e) == 0, "(a key to check)");
	eh_conn_release(&c);
	ok(parse("Endpoint=sb://h/;SharedAccessKey=s3cret", &c, &e) < 0 &&
	    strstr(e.p, "s3cret") == NULL, "an error never shows the key");

	ok(eh_sas_token(&t, "sb://ns.servicebus.windows.net/hub",
	    "RootManageSharedAccessKey", "SAS_KEY_VALUE", 1700000000) == 0,
	    "a SAS token is made");
	is_str(buf_cstr(&t), "SharedAccessSignature sr=sb%3A%2F%2Fns."
	    "servicebus.windows.net%2Fhub&sig=l%2BUgnjvCPLGvtfTpVTnAT3OfaUucrhjs7Fjz5HK%2BeWA%3D&se=1700000000&"
	    "skn=RootManageSharedAccessKey", "the SAS token is right");
	buf_release(&t);
	buf_release(&e);
	return tap_done();
}
