/*
 * extract_odbc.c - SQL through unixODBC: one object per row.
 *
 * Types: exact numerics (DECIMAL, NUMERIC, the integers) keep their digits
 * as JSON numbers; REAL/FLOAT/DOUBLE print like jq; BIT is a bool;
 * DATE is "YYYY-MM-DD"; TIMESTAMP is ISO 8601 UTC with microseconds
 * ("2024-01-02T03:04:05.000000Z"; values without a zone are taken as UTC);
 * TIME is "HH:MM:SS"; binary is base64; NULL is null; everything else is
 * a string. Rows are fetched with SQLFetch and read column by column with
 * SQLGetData, so memory stays bounded by the widest row. For psqlODBC
 * (a connection string naming PostgreSQL) UseDeclareFetch=1;Fetch=--fetch
 * and BoolsAsChar=0 are added unless given: without a cursor psqlODBC
 * reads the whole result first.
 */
#include "extract.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sql.h>
#include <sqlext.h>

#include "codec.h"
#include "log.h"
#include "stats.h"

struct ocol {
	char name[256];
	struct buf key;		/* "\"name\":" */
	SQLSMALLINT type;
};

/* Append the diagnostics of handle h to b. */
static void
diag(SQLSMALLINT ht, SQLHANDLE h, struct buf *b)
{
	SQLCHAR state[8], text[1024];
	SQLINTEGER native;
	SQLSMALLINT len, i;

	for (i = 1; i < 5; i++) {
		if (!SQL_SUCCEEDED(SQLGetDiagRec(ht, h, i, state, &native, text,
		    sizeof(text), &len)))
			break;
		if (b->len > 0)
			buf_adds(b, "; ");
		buf_printf(b, "%s (SQLSTATE %s)", (char *)text, (char *)state);
	}
	if (b->len == 0)
		buf_adds(b, "no diagnostics");
}

static void
odbc_error(SQLSMALLINT ht, SQLHANDLE h, const char *what)
{
	struct buf b = BUF_INIT;

	diag(ht, h, &b);
	log_error("odbc: %s: %s", what, buf_cstr(&b));
	buf_release(&b);
}

/* Read column i as bytes of C type ct into out (all of it). */
static int
get_all(SQLHSTMT st, SQLUSMALLINT i, SQLSMALLINT ct, struct buf *out,
    int *isnull)
{
	SQLLEN ind;
	SQLRETURN r;
	size_t chunk = 4096, term = ct == SQL_C_CHAR ? 1 : 0;

	*isnull = 0;
	out->len = 0;
	for (;;) {
		buf_grow(out, chunk + 1);
		r = SQLGetData(st, i, ct, out->p + out->len,
		    (SQLLEN)(out->cap - out->len), &ind);
		if (r == SQL_NO_DATA)
			return 0;
		if (!SQL_SUCCEEDED(r))
			return -1;
		if (ind == SQL_NULL_DATA) {
			*isnull = 1;
			return 0;
		}
		if (r == SQL_SUCCESS_WITH_INFO && (ind == SQL_NO_TOTAL ||
		    (size_t)ind >= out->cap - out->len - term)) {
			/* truncated: the buffer is full less the NUL */
			out->len = out->cap - term;
			chunk = out->cap;
			continue;
		}
		out->len += (size_t)ind;
		return 0;
	}
}

static void
write_timestamp(struct buf *b, const SQL_TIMESTAMP_STRUCT *t)
{
	buf_printf(b, "\"%04d-%02u-%02uT%02u:%02u:%02u.%06luZ\"", t->year,
	    t->month, t->day, t->hour, t->minute, t->second,
	    (unsigned long)t->fraction / 1000);
}

/* Make a driver's DECIMAL text a JSON number: "-.5" -> "-0.5", "5." */
static int
decimal_json(const char *s, size_t n, struct buf *out)
{
	size_t i = 0, st = out->len;
	int digits = 0;

	while (n > 0 && s[n - 1] == ' ')
		n--;
	while (i < n && s[i] == ' ')
		i++;
	if (i < n && (s[i] == '-' || s[i] == '+')) {
		if (s[i] == '-')
			buf_addc(out, '-');
		i++;
	}
	while (i + 1 < n && s[i] == '0' && s[i + 1] >= '0' && s[i + 1] <= '9')
		i++;	/* leading zeros */
	if (i < n && s[i] == '.')
		buf_addc(out, '0');
	for (; i < n; i++) {
		if (s[i] >= '0' && s[i] <= '9') {
			digits = 1;
			buf_addc(out, s[i]);
		} else if (s[i] == '.' && i + 1 < n && s[i + 1] >= '0' &&
		    s[i + 1] <= '9') {
			buf_addc(out, '.');
		} else if (s[i] == '.' && i + 1 == n) {
			;	/* "5." */
		} else if (s[i] == 'e' || s[i] == 'E') {
			buf_add(out, s + i, n - i);
			break;
		} else {
			out->len = st;
			return -1;
		}
	}
	if (!digits) {
		out->len = st;
		return -1;
	}
	return 0;
}

/* Append column i of the current row as JSON. */
static int
column(SQLHSTMT st, SQLUSMALLINT i, const struct ocol *c, struct buf *out,
    struct buf *tmp, char *msg, size_t msglen)
{
	SQLLEN ind;
	int isnull;

	switch (c->type) {
	case SQL_TYPE_TIMESTAMP:
	case SQL_TIMESTAMP: {
		SQL_TIMESTAMP_STRUCT ts;

		if (!SQL_SUCCEEDED(SQLGetData(st, i, SQL_C_TYPE_TIMESTAMP, &ts,
		    sizeof(ts), &ind)))
			goto err;
		if (ind == SQL_NULL_DATA)
			buf_adds(out, "null");
		else
			write_timestamp(out, &ts);
		return 0;
	}
	case SQL_TYPE_DATE:
	case SQL_DATE: {
		SQL_DATE_STRUCT d;

		if (!SQL_SUCCEEDED(SQLGetData(st, i, SQL_C_TYPE_DATE, &d,
		    sizeof(d), &ind)))
			goto err;
		if (ind == SQL_NULL_DATA)
			buf_adds(out, "null");
		else
			buf_printf(out, "\"%04d-%02u-%02u\"", d.year, d.month,
			    d.day);
		return 0;
	}
	case SQL_REAL:
	case SQL_FLOAT:
	case SQL_DOUBLE: {
		double v;

		if (!SQL_SUCCEEDED(SQLGetData(st, i, SQL_C_DOUBLE, &v,
		    sizeof(v), &ind)))
			goto err;
		if (ind == SQL_NULL_DATA)
			buf_adds(out, "null");
		else
			json_write_number(out, v);
		return 0;
	}
	case SQL_BINARY:
	case SQL_VARBINARY:
	case SQL_LONGVARBINARY:
		if (get_all(st, i, SQL_C_BINARY, tmp, &isnull) < 0)
			goto err;
		if (isnull) {
			buf_adds(out, "null");
		} else {
			buf_addc(out, '"');
			base64_encode(out, tmp->p, tmp->len);
			buf_addc(out, '"');
		}
		return 0;
	default:
		break;
	}
	if (get_all(st, i, SQL_C_CHAR, tmp, &isnull) < 0)
		goto err;
	if (isnull) {
		buf_adds(out, "null");
		return 0;
	}
	switch (c->type) {
	case SQL_BIT:
		buf_adds(out, tmp->len > 0 && tmp->p[0] != '0' &&
		    tmp->p[0] != 'f' && tmp->p[0] != 'F' ? "true" : "false");
		return 0;
	case SQL_TINYINT:
	case SQL_SMALLINT:
	case SQL_INTEGER:
	case SQL_BIGINT:
	case SQL_DECIMAL:
	case SQL_NUMERIC:
		if (decimal_json(tmp->p, tmp->len, out) == 0)
			return 0;
		/* NaN and the like: keep the text */
		break;
	default:
		break;
	}
	if (!json_utf8_valid(tmp->p, tmp->len)) {
		snprintf(msg, msglen, "column '%s' is not valid UTF-8",
		    c->name);
		return -1;
	}
	json_write_string(out, tmp->p, tmp->len, 0);
	return 0;
err:
	{
		struct buf b = BUF_INIT;

		diag(SQL_HANDLE_STMT, st, &b);
		snprintf(msg, msglen, "column '%s': %s", c->name,
		    buf_cstr(&b));
		buf_release(&b);
	}
	return -1;
}

/* Bind the watermark (JSON text) as the statement's parameter 1. */
static int
bind_wm(SQLHSTMT st, const char *wm, SQL_TIMESTAMP_STRUCT *ts,
    long long *ll, struct buf *text, SQLLEN *ind)
{
	size_t n = strlen(wm);
	char *e;
	unsigned Y, M, D, h = 0, mi = 0, s = 0;
	unsigned long frac = 0;
	int used;

	*ind = 0;
	if (n >= 2 && wm[0] == '"' && wm[n - 1] == '"') {
		text->len = 0;
		buf_add(text, wm + 1, n - 2);
		buf_cstr(text);
		if (sscanf(text->p, "%4u-%2u-%2u%n", &Y, &M, &D, &used) == 3 &&
		    (used == 10)) {
			memset(ts, 0, sizeof(*ts));
			sscanf(text->p + 10, "T%2u:%2u:%2u.%6lu", &h, &mi, &s,
			    &frac);
			ts->year = (SQLSMALLINT)Y;
			ts->month = (SQLUSMALLINT)M;
			ts->day = (SQLUSMALLINT)D;
			ts->hour = (SQLUSMALLINT)h;
			ts->minute = (SQLUSMALLINT)mi;
			ts->second = (SQLUSMALLINT)s;
			ts->fraction = (SQLUINTEGER)(frac * 1000);
			return SQLBindParameter(st, 1, SQL_PARAM_INPUT,
			    SQL_C_TYPE_TIMESTAMP, SQL_TYPE_TIMESTAMP, 26, 6,
			    ts, sizeof(*ts), ind);
		}
		*ind = (SQLLEN)text->len;
		return SQLBindParameter(st, 1, SQL_PARAM_INPUT, SQL_C_CHAR,
		    SQL_VARCHAR, text->len > 0 ? text->len : 1, 0, text->p,
		    (SQLLEN)text->len, ind);
	}
	*ll = strtoll(wm, &e, 10);
	if (*e == '\0' && e != wm)
		return SQLBindParameter(st, 1, SQL_PARAM_INPUT, SQL_C_SBIGINT,
		    SQL_BIGINT, 0, 0, ll, 0, ind);
	text->len = 0;
	buf_adds(text, wm);
	buf_cstr(text);
	*ind = (SQLLEN)text->len;
	return SQLBindParameter(st, 1, SQL_PARAM_INPUT, SQL_C_CHAR,
	    SQL_NUMERIC, text->len, 0, text->p, (SQLLEN)text->len, ind);
}

/* One query's handles and columns. */
struct q {
	SQLHENV env;
	SQLHDBC dbc;
	SQLHSTMT st;
	int connected;
	struct ocol *cols;
	SQLSMALLINT ncols;
	int wmcol;		/* the --watermark column, or -1 */
	/* the bound watermark parameter */
	SQL_TIMESTAMP_STRUCT ts;
	SQLLEN ind;
	long long ll;
	struct buf wmtext;
};

/* The connection string: a DSN or the driver's keywords, psqlODBC told to
 * use a cursor, the user and the password. */
static void
conn_string(const struct odbc_opts *o, struct buf *conn)
{
	if (strchr(o->conn, '=') != NULL)
		buf_adds(conn, o->conn);
	else
		buf_printf(conn, "DSN=%s", o->conn);
	if (strcasestr(o->conn, "postgres") != NULL) {
		/* psqlODBC reads a whole result unless told to use a cursor */
		if (strcasestr(o->conn, "usedeclarefetch") == NULL)
			buf_printf(conn, ";UseDeclareFetch=1;Fetch=%ld",
			    o->fetch);
		if (strcasestr(o->conn, "boolsaschar") == NULL)
			buf_adds(conn, ";BoolsAsChar=0");
	}
	if (o->user != NULL)
		buf_printf(conn, ";UID=%s", o->user);
	if (o->password != NULL)
		buf_printf(conn, ";PWD={%s}", o->password);
}

/* Connected, the query prepared and its watermark bound. Returns 0, or
 * -1 (reported). */
static int
prepare_query(struct q *q, const struct odbc_opts *o)
{
	struct buf conn = BUF_INIT;
	SQLRETURN r;

	SQLSetEnvAttr(q->env, SQL_ATTR_ODBC_VERSION, (void *)SQL_OV_ODBC3, 0);
	SQLAllocHandle(SQL_HANDLE_DBC, q->env, &q->dbc);
	conn_string(o, &conn);
	r = SQLDriverConnect(q->dbc, NULL, (SQLCHAR *)buf_cstr(&conn),
	    SQL_NTS, NULL, 0, NULL, SQL_DRIVER_NOPROMPT);
	explicit_bzero(conn.p, conn.len);
	buf_release(&conn);
	if (!SQL_SUCCEEDED(r)) {
		odbc_error(SQL_HANDLE_DBC, q->dbc, "cannot connect");
		return -1;
	}
	q->connected = 1;
	SQLAllocHandle(SQL_HANDLE_STMT, q->dbc, &q->st);
	if (!SQL_SUCCEEDED(SQLPrepare(q->st, (SQLCHAR *)o->query, SQL_NTS))) {
		odbc_error(SQL_HANDLE_STMT, q->st, "bad query");
		return -1;
	}
	if (o->wm_col == NULL)
		return 0;
	{
		SQLSMALLINT np = 0;

		if (SQL_SUCCEEDED(SQLNumParams(q->st, &np)) && np != 1) {
			log_error("odbc: with --watermark the query needs "
			    "exactly one ? (the last watermark), it has %d",
			    (int)np);
			return -1;
		}
	}
	if (!SQL_SUCCEEDED(bind_wm(q->st, o->wm_value, &q->ts, &q->ll,
	    &q->wmtext, &q->ind))) {
		odbc_error(SQL_HANDLE_STMT, q->st, "cannot bind the watermark");
		return -1;
	}
	log_info("watermark %s > %s", o->wm_col, o->wm_value);
	return 0;
}

/* The result's columns: names (as JSON keys), types, the watermark's.
 * Returns 0, or -1 (reported). */
static int
describe(struct q *q, const struct odbc_opts *o)
{
	SQLSMALLINT i, nlen, dtype, dig, nullable;
	SQLULEN csize;

	SQLNumResultCols(q->st, &q->ncols);
	if (q->ncols <= 0) {
		log_error("odbc: the query returns no columns");
		return -1;
	}
	q->cols = xcalloc((size_t)q->ncols, sizeof(*q->cols));
	for (i = 0; i < q->ncols; i++) {
		struct ocol *c = &q->cols[i];

		if (!SQL_SUCCEEDED(SQLDescribeCol(q->st, (SQLUSMALLINT)(i + 1),
		    (SQLCHAR *)c->name, sizeof(c->name), &nlen, &dtype,
		    &csize, &dig, &nullable))) {
			odbc_error(SQL_HANDLE_STMT, q->st, "describe");
			return -1;
		}
		c->type = dtype;
		json_write_string(&c->key, c->name, strlen(c->name),
		    JSON_ASCII);
		buf_addc(&c->key, ':');
		if (o->wm_col != NULL && strcasecmp(c->name, o->wm_col) == 0)
			q->wmcol = i;
	}
	if (o->wm_col != NULL && q->wmcol < 0) {
		log_error("odbc: the query has no column '%s' (--watermark)",
		    o->wm_col);
		return -1;
	}
	return 0;
}

/* One fetched row as a record in x->rec (and its watermark value in wmval).
 * Returns 0, or -1 with the reason in msg. */
static int
row_record(struct extract *x, struct q *q, struct buf *tmp,
    struct buf *wmval, char *msg, size_t msgsz)
{
	SQLSMALLINT i;

	x->rec.len = 0;
	buf_addc(&x->rec, '{');
	for (i = 0; i < q->ncols; i++) {
		size_t at;

		if (i > 0)
			buf_addc(&x->rec, ',');
		buf_add(&x->rec, q->cols[i].key.p, q->cols[i].key.len);
		at = x->rec.len;
		if (column(q->st, (SQLUSMALLINT)(i + 1), &q->cols[i], &x->rec,
		    tmp, msg, msgsz) < 0)
			return -1;
		if (i == q->wmcol) {
			wmval->len = 0;
			buf_add(wmval, x->rec.p + at, x->rec.len - at);
		}
	}
	return 0;
}

/* Every row, until the end, a signal or an error. Returns 0, or -1
 * (reported). */
static int
fetch_rows(struct extract *x, struct q *q)
{
	struct buf tmp = BUF_INIT, wmval = BUF_INIT;
	unsigned long long row = 0;
	char msg[1024];
	SQLRETURN r;
	int rc = -1;

	while (!*x->stop) {
		if ((r = SQLFetch(q->st)) == SQL_NO_DATA)
			break;
		if (!SQL_SUCCEEDED(r)) {
			odbc_error(SQL_HANDLE_STMT, q->st, "fetch failed");
			goto out;
		}
		row++;
		x->in++;
		if (row_record(x, q, &tmp, &wmval, msg, sizeof(msg)) < 0) {
			x->failed++;
			x->rec.len = 0;
			if (extract_fail(x, row, NULL, 0, 0, "bad_row",
			    "row %llu: %s", row, msg) < 0)
				goto out;
			continue;
		}
		if (extract_emit(x, "row", row, q->wmcol >= 0 ? wmval.p : NULL,
		    wmval.len) < 0)
			goto out;
	}
	rc = 0;
out:
	buf_release(&tmp);
	buf_release(&wmval);
	return rc;
}

int
extract_odbc(struct extract *x, const struct odbc_opts *o)
{
	struct q q;
	SQLRETURN r;
	SQLSMALLINT i;
	int rc = -1;

	memset(&q, 0, sizeof(q));
	q.dbc = SQL_NULL_HDBC;
	q.st = SQL_NULL_HSTMT;
	q.wmcol = -1;
	q.wmtext = (struct buf)BUF_INIT;
	if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_ENV, SQL_NULL_HANDLE,
	    &q.env))) {
		log_error("odbc: cannot allocate an environment");
		return -1;
	}
	if (prepare_query(&q, o) < 0)
		goto out;
	r = SQLExecute(q.st);
	if (!SQL_SUCCEEDED(r) && r != SQL_NO_DATA) {
		odbc_error(SQL_HANDLE_STMT, q.st, "query failed");
		goto out;
	}
	if (describe(&q, o) == 0)
		rc = fetch_rows(x, &q);
out:
	if (q.st != SQL_NULL_HSTMT)
		SQLFreeHandle(SQL_HANDLE_STMT, q.st);
	if (q.connected)
		SQLDisconnect(q.dbc);
	if (q.dbc != SQL_NULL_HDBC)
		SQLFreeHandle(SQL_HANDLE_DBC, q.dbc);
	SQLFreeHandle(SQL_HANDLE_ENV, q.env);
	for (i = 0; q.cols != NULL && i < q.ncols; i++)
		buf_release(&q.cols[i].key);
	free(q.cols);
	buf_release(&q.wmtext);
	return rc;
}
