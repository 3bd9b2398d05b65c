#include "dstack_tls.h"
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fail(char *error, size_t size, const char *what) {
    unsigned long code = ERR_get_error();
    char detail[256] = "";
    if (code) ERR_error_string_n(code, detail, sizeof(detail));
    snprintf(error, size, "%s%s%s", what, code ? ": " : "", detail);
}

static char *pem_of_bio(BIO *bio) {
    char *data = NULL;
    long length = BIO_get_mem_data(bio, &data);
    if (length <= 0) return NULL;
    char *copy = malloc((size_t)length + 1);
    if (!copy) return NULL;
    memcpy(copy, data, (size_t)length);
    copy[length] = 0;
    return copy;
}

static int add_extension(X509 *cert, int nid, const char *value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext) return 0;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

int dstack_tls_self_signed(const char *common_name, const char *san, int days,
                           char **cert_pem, char **key_pem, char *error, size_t error_size) {
    int result = -1;
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *kctx = NULL;
    X509 *cert = NULL;
    BIO *cbio = NULL, *kbio = NULL;
    *cert_pem = *key_pem = NULL;

    kctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
    if (!kctx || EVP_PKEY_keygen_init(kctx) <= 0 || EVP_PKEY_CTX_set_ec_paramgen_curve_nid(kctx, NID_X9_62_prime256v1) <= 0
        || EVP_PKEY_keygen(kctx, &key) <= 0) {
        fail(error, error_size, "could not make a key");
        goto done;
    }
    cert = X509_new();
    if (!cert) { fail(error, error_size, "could not make a certificate"); goto done; }
    X509_set_version(cert, 2); // v3
    unsigned char serial[16];
    if (RAND_bytes(serial, sizeof(serial)) != 1) { fail(error, error_size, "no random serial"); goto done; }
    serial[0] &= 0x7f; // a positive serial
    BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert))) {
        BN_free(bn);
        fail(error, error_size, "could not set the serial");
        goto done;
    }
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600); // clocks of new instances may lag
    X509_gmtime_adj(X509_getm_notAfter(cert), (long)days * 86400);
    X509_NAME *name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"dstack", -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)common_name, -1, -1, 0);
    X509_set_issuer_name(cert, name);
    if (X509_set_pubkey(cert, key) != 1
        || !add_extension(cert, NID_basic_constraints, "critical,CA:FALSE")
        || !add_extension(cert, NID_key_usage, "critical,digitalSignature")
        || !add_extension(cert, NID_ext_key_usage, "serverAuth")
        || (san && san[0] && !add_extension(cert, NID_subject_alt_name, san))) {
        fail(error, error_size, "could not fill in the certificate");
        goto done;
    }
    if (X509_sign(cert, key, EVP_sha256()) <= 0) { fail(error, error_size, "could not sign the certificate"); goto done; }

    cbio = BIO_new(BIO_s_mem());
    kbio = BIO_new(BIO_s_mem());
    if (!cbio || !kbio || PEM_write_bio_X509(cbio, cert) != 1
        || PEM_write_bio_PrivateKey(kbio, key, NULL, NULL, 0, NULL, NULL) != 1) {
        fail(error, error_size, "could not write PEM");
        goto done;
    }
    *cert_pem = pem_of_bio(cbio);
    *key_pem = pem_of_bio(kbio);
    if (!*cert_pem || !*key_pem) {
        free(*cert_pem);
        free(*key_pem);
        *cert_pem = *key_pem = NULL;
        snprintf(error, error_size, "out of memory");
        goto done;
    }
    result = 0;
done:
    BIO_free(cbio);
    BIO_free(kbio);
    X509_free(cert);
    EVP_PKEY_free(key);
    EVP_PKEY_CTX_free(kctx);
    return result;
}

int dstack_tls_spki_sha256(const char *cert_pem, unsigned char digest[32]) {
    BIO *bio = BIO_new_mem_buf(cert_pem, -1);
    if (!bio) return -1;
    X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!cert) return -1;
    unsigned char *der = NULL;
    int length = i2d_PUBKEY(X509_get0_pubkey(cert), &der);
    X509_free(cert);
    if (length <= 0) return -1;
    SHA256(der, (size_t)length, digest);
    OPENSSL_free(der);
    return 0;
}
