/*
 * test_blob.c - Storage connection strings, blob URLs, SharedKey and SAS.
 */
#include <stdlib.h>

#include "blob.h"
#include "buf.h"
#include "tap.h"

int
main(void)
{
	struct blob_account a;
	struct buf b = BUF_INIT, err = BUF_INIT;
	char *acct, *ep, *c, *pre;
	const struct blob_hdr h[] = {
		{ "Content-Type", "application/octet-stream" },
		{ "If-None-Match", "*" },
		{ "X-MS-Version", "2021-08-06" },
		{ "x-ms-date", "Mon, 23 Nov 2026 19:00:00 GMT" },
	};
	const char *url = "http://127.0.0.1:10000/devstoreaccount1/arch/a/"
	    "b.zst?comp=block&blockid=YmxrLTAwMDAwMDAw";

	/* connection strings */
	ok(blob_conn_parse(&a, "UseDevelopmentStorage=true", &err) == 0,
	    "UseDevelopmentStorage=true parses");
	is_str(a.name, "devstoreaccount1", "dev account");
	is_str(a.endpoint, "http://127.0.0.1:10000/devstoreaccount1",
	    "dev endpoint");
	is_str(a.key, BLOB_DEV_KEY, "dev key");
	blob_account_release(&a);
	ok(blob_conn_parse(&a, "UseDevelopmentStorage=true;"
	    "DevelopmentStorageProxyUri=http://azurite", &err) == 0 &&
	    strcmp(a.endpoint, "http://azurite:10000/devstoreaccount1") == 0,
	    "DevelopmentStorageProxyUri");
	blob_account_release(&a);
	ok(blob_conn_parse(&a, "DefaultEndpointsProtocol=https;AccountName="
	    "acct;AccountKey=a2V5;EndpointSuffix=core.chinacloudapi.cn;",
	    &err) == 0, "portal form parses");
	is_str(a.endpoint, "https://acct.blob.core.chinacloudapi.cn",
	    "endpoint from the suffix");
	blob_account_release(&a);
	ok(blob_conn_parse(&a, "BlobEndpoint=https://acct.blob.core.windows."
	    "net/;SharedAccessSignature=sv=2021-08-06&sig=x", &err) == 0,
	    "SAS form parses");
	is_str(a.name, "acct", "account from BlobEndpoint");
	is_str(a.sas, "sv=2021-08-06&sig=x", "SAS kept");
	is_str(a.endpoint, "https://acct.blob.core.windows.net",
	    "trailing slash dropped");
	blob_account_release(&a);
	err.len = 0;
	ok(blob_conn_parse(&a, "AccountName=x;AccountKey=%%%", &err) < 0 &&
	    strstr(buf_cstr(&err), "base64") != NULL &&
	    strstr(err.p, "%%%") == NULL, "bad key: error without the key");
	err.len = 0;
	ok(blob_conn_parse(&a, "AccountKey=a2V5", &err) < 0,
	    "no account: error");
	err.len = 0;
	ok(blob_conn_parse(&a, "garbage", &err) < 0, "no '=': error");

	/* URLs */
	ok(blob_url_parse("https://acct.blob.core.windows.net/cont/a/b/",
	    &acct, &ep, &c, &pre, &err) == 0, "host-style URL");
	is_str(acct, "acct", "account");
	is_str(ep, "https://acct.blob.core.windows.net", "endpoint");
	is_str(c, "cont", "container");
	is_str(pre, "a/b", "prefix");
	free(acct); free(ep); free(c); free(pre);
	ok(blob_url_parse("http://127.0.0.1:10000/devstoreaccount1/cont",
	    &acct, &ep, &c, &pre, &err) == 0, "path-style URL");
	is_str(acct, "devstoreaccount1", "account from the path");
	is_str(ep, "http://127.0.0.1:10000/devstoreaccount1", "endpoint");
	is_str(c, "cont", "container");
	is_str(pre, "", "no prefix");
	free(acct); free(ep); free(c); free(pre);
	err.len = 0;
	ok(blob_url_parse("https://a.blob.core.windows.net/c?sig=x", &acct,
	    &ep, &c, &pre, &err) < 0 && strstr(buf_cstr(&err), "sig=x") ==
	    NULL, "a query string is refused, not echoed");
	ok(blob_url_parse("https://a.blob.core.windows.net/", &acct, &ep, &c,
	    &pre, &err) < 0, "no container: error");

	/* SharedKey: path-style doubles the account, Content-Length 0 is
	 * signed as "", the query is decoded and sorted; the expected
	 * signature was computed with openssl */
	b.len = 0;
	ok(blob_string_to_sign(&b, "devstoreaccount1", "PUT", url, 0, h, 4,
	    &err) == 0, "string to sign");
	is_str(buf_cstr(&b), "PUT\n\n\n\n\napplication/octet-stream\n\n\n\n*"
	    "\n\n\nx-ms-date:Mon, 23 Nov 2026 19:00:00 GMT\n"
	    "x-ms-version:2021-08-06\n"
	    "/devstoreaccount1/devstoreaccount1/arch/a/b.zst\n"
	    "blockid:YmxrLTAwMDAwMDAw\ncomp:block", "canonical form");
	b.len = 0;
	ok(blob_sharedkey(&b, "devstoreaccount1", BLOB_DEV_KEY, "PUT", url, 0,
	    h, 4, &err) == 0, "SharedKey");
	is_str(buf_cstr(&b), "SharedKey devstoreaccount1:"
	    "ph0MKIOVIaAW/Vr8AiyMSNUCz1LzzLmEHIRosdC7ZIc=", "SharedKey value");
	b.len = 0;
	ok(blob_string_to_sign(&b, "acct", "PUT", url, 1234, h, 2, &err) == 0
	    && strstr(buf_cstr(&b), "\n1234\n") != NULL,
	    "a non-zero Content-Length is signed");

	/* service SAS (openssl computed the same signature) */
	b.len = 0;
	ok(blob_service_sas(&b, "devstoreaccount1", BLOB_DEV_KEY, "arch", NULL,
	    "rl", 1767225600, 1767312000) == 0, "service SAS");
	is_str(buf_cstr(&b), "sv=2021-08-06&sr=c&sp=rl&st=2026-01-01T00%3A00%3A"
	    "00Z&se=2026-01-02T00%3A00%3A00Z&sig=M3nCpmlwoqJ1DTWtabg4C5y5dvZG8S"
	    "S4Gt1HV0YrFeE%3D", "SAS token");

	b.len = 0;
	blob_http_date(&b, 1767225600);
	is_str(buf_cstr(&b), "Thu, 01 Jan 2026 00:00:00 GMT", "x-ms-date");
	buf_release(&b);
	buf_release(&err);
	return tap_done();
}
