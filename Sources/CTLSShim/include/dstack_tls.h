// The server's self-signed certificate, made with OpenSSL's libcrypto. The calls that
// build a certificate are macros or variadic in places, which Swift cannot call.
#ifndef DSTACK_TLS_H
#define DSTACK_TLS_H

#include <stddef.h>

/// Makes an EC P-256 key and a self-signed X.509 v3 certificate for `common_name`,
/// valid for `days` days, with the subjectAltName `san` ("IP:10.0.0.5,DNS:localhost").
/// Returns 0 on success: the PEM texts are malloc'd, NUL-terminated, freed by the
/// caller. Otherwise -1, with a reason in `error`.
int dstack_tls_self_signed(const char *common_name, const char *san, int days,
                           char **cert_pem, char **key_pem, char *error, size_t error_size);

/// The SHA-256 of a PEM certificate's SubjectPublicKeyInfo (DER): what a libcurl
/// `sha256//` pin compares. Returns 0 on success, -1 when the text is no certificate.
int dstack_tls_spki_sha256(const char *cert_pem, unsigned char digest[32]);

#endif
