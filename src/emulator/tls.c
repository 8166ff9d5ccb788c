/*
 * tls.c - the certificate for --tls: loaded from PEM files, or a
 * self-signed P-256 certificate for 127.0.0.1 and localhost made here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "emu.h"
#include "log.h"

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct buf b = BUF_INIT;
	char tmp[4096];
	size_t n;

	if (f == NULL)
		return NULL;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_add(&b, tmp, n);
	fclose(f);
	return buf_cstr(&b);
}

static char *
bio_string(BIO *bio)
{
	char *p;
	long n = BIO_get_mem_data(bio, &p);
	char *s = xmalloc((size_t)n + 1);

	memcpy(s, p, (size_t)n);
	s[n] = '\0';
	return s;
}

static int
add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ex;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ex == NULL)
		return -1;
	X509_add_ext(x, ex, -1);
	X509_EXTENSION_free(ex);
	return 0;
}

static int
make_cert(char **cert_pem, char **key_pem)
{
	EVP_PKEY *pk = NULL;
	X509 *x = NULL;
	X509_NAME *name;
	BIO *b1 = NULL, *b2 = NULL;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	int rc = -1;
	size_t i;

	pk = EVP_EC_gen("P-256");
	if (pk == NULL || (x = X509_new()) == NULL)
		goto out;
	X509_set_version(x, 2);
	for (i = 0; i < sizeof(serial); i++)
		serial[i] = (unsigned char)emu_random();
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 60L * 60 * 24 * 365);
	X509_set_pubkey(x, pk);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	    (const unsigned char *)"twin-emulator", -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(x, name);
	if (add_ext(x, NID_basic_constraints, "critical,CA:TRUE") ||
	    add_ext(x, NID_key_usage, "critical,digitalSignature,keyCertSign") ||
	    add_ext(x, NID_ext_key_usage, "serverAuth") ||
	    add_ext(x, NID_subject_alt_name,
	    "DNS:localhost,IP:127.0.0.1,IP:::1") ||
	    add_ext(x, NID_subject_key_identifier, "hash"))
		goto out;
	if (X509_sign(x, pk, EVP_sha256()) == 0)
		goto out;
	b1 = BIO_new(BIO_s_mem());
	b2 = BIO_new(BIO_s_mem());
	if (b1 == NULL || b2 == NULL || !PEM_write_bio_X509(b1, x) ||
	    !PEM_write_bio_PrivateKey(b2, pk, NULL, NULL, 0, NULL, NULL))
		goto out;
	*cert_pem = bio_string(b1);
	*key_pem = bio_string(b2);
	rc = 0;
out:
	BIO_free(b1);
	BIO_free(b2);
	BN_free(bn);
	X509_free(x);
	EVP_PKEY_free(pk);
	if (rc != 0)
		log_error("cannot make a self-signed certificate");
	return rc;
}

static int
write_file(const char *path, const char *s, mode_t mode)
{
	FILE *f = fopen(path, "wx");

	if (f == NULL) {
		log_error("%s: %s", path, strerror(errno));
		return -1;
	}
	chmod(path, mode);
	if (fputs(s, f) < 0 || fclose(f) != 0) {
		log_error("%s: write failed", path);
		return -1;
	}
	return 0;
}

int
tls_load_or_make(const char *cert_path, const char *key_path, char **cert_pem,
    char **key_pem)
{
	struct stat st;

	*cert_pem = *key_pem = NULL;
	if (cert_path != NULL && stat(cert_path, &st) == 0) {
		*cert_pem = slurp(cert_path);
		*key_pem = slurp(key_path);
		if (*cert_pem == NULL || *key_pem == NULL) {
			log_error("cannot read %s or %s", cert_path, key_path);
			free(*cert_pem);
			free(*key_pem);
			return -1;
		}
		return 0;
	}
	if (make_cert(cert_pem, key_pem) != 0)
		return -1;
	if (cert_path != NULL && (write_file(key_path, *key_pem, 0600) != 0 ||
	    write_file(cert_path, *cert_pem, 0644) != 0))
		return -1;
	return 0;
}
