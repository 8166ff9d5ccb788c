#include <stdlib.h>

#include "buf.h"
#include "cosmos_sig.h"
#include "tap.h"

#define DOC_KEY \
	"dsZQi3KtZmCv1ljt3VNWNm7sQUF1y5rJfC6kv5JiwvW0EndXdDku/dkKBp8/ufDToSxLzR4y+O/0H/t4bQtVNw=="
#define DOC_DATE "Thu, 27 Apr 2017 00:51:12 GMT"

int
main(void)
{
	struct buf b = BUF_INIT, t = BUF_INIT, l = BUF_INIT;
	char *seg[] = { "dbs", "D", "colls", "C", "docs", "a b/c" };
	char *tok = NULL;

	/* the documentation's worked example */
	ok(cosmos_sig_compute(&b, "GET", "dbs", "dbs/ToDoList", DOC_DATE,
	    DOC_KEY) == 0, "compute succeeds");
	is_str(buf_cstr(&b), "c09PEVJrgp2uQRkr934kFbTqhByc7TVr3OHyqlu+c+c=",
	    "documentation example signature");
	b.len = 0;
	ok(cosmos_sig_header(&b, "GET", "dbs", "dbs/ToDoList", DOC_DATE,
	    DOC_KEY) == 0, "header succeeds");
	is_str(buf_cstr(&b), "type%3Dmaster%26ver%3D1.0%26sig%3D"
	    "c09PEVJrgp2uQRkr934kFbTqhByc7TVr3OHyqlu%2Bc%2Bc%3D",
	    "documentation example header");
	is_int(cosmos_sig_verify(b.p, "get", "DBS", "dbs/ToDoList", DOC_DATE,
	    DOC_KEY, &tok), COSMOS_AUTH_OK, "verify: own header");
	is_int(cosmos_sig_verify("type=master&ver=1.0&sig="
	    "c09PEVJrgp2uQRkr934kFbTqhByc7TVr3OHyqlu%2bc%2bc%3d", "GET", "dbs",
	    "dbs/ToDoList", DOC_DATE, DOC_KEY, &tok), COSMOS_AUTH_OK,
	    "verify: lowercase escapes");
	is_int(cosmos_sig_verify(b.p, "GET", "dbs", "dbs/todolist", DOC_DATE,
	    DOC_KEY, &tok), COSMOS_AUTH_BAD, "verify: link is case-sensitive");
	is_int(cosmos_sig_verify(b.p, "GET", "dbs", "dbs/ToDoList", DOC_DATE,
	    COSMOS_EMULATOR_KEY, &tok), COSMOS_AUTH_BAD, "verify: wrong key");
	is_int(cosmos_sig_verify("garbage", "GET", "dbs", "dbs/ToDoList",
	    DOC_DATE, DOC_KEY, &tok), COSMOS_AUTH_BAD, "verify: garbage");
	is_int(cosmos_sig_verify("type=master&ver=1.0&sig=", "GET", "dbs",
	    "dbs/ToDoList", DOC_DATE, DOC_KEY, &tok), COSMOS_AUTH_BAD,
	    "verify: empty sig");
	is_int(cosmos_sig_verify("type%3Daad%26ver%3D1.0%26sig%3Dabc.def",
	    "GET", "", "", DOC_DATE, DOC_KEY, &tok), COSMOS_AUTH_AAD,
	    "verify: aad token");
	is_str(tok, "abc.def", "aad token returned");
	free(tok);
	b.len = 0;
	ok(cosmos_sig_compute(&b, "GET", "dbs", "x", DOC_DATE, "!!") == -1,
	    "bad key refused");

	cosmos_sig_resource(&t, &l, seg, 6);
	is_str(t.p, "docs", "item: type");
	is_str(l.p, "dbs/D/colls/C/docs/a b/c", "item: link keeps raw id");
	t.len = l.len = 0;
	cosmos_sig_resource(&t, &l, seg, 5);
	is_str(t.p, "docs", "feed: type");
	is_str(l.p, "dbs/D/colls/C", "feed: link");
	t.len = l.len = 0;
	cosmos_sig_resource(&t, &l, seg, 0);
	is_str(t.p, "", "root: type");
	is_str(l.p, "", "root: link");
	buf_release(&b);
	buf_release(&t);
	buf_release(&l);
	return tap_done();
}
