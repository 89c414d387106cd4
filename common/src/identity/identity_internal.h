/* Private to common/src/identity: the certificate credential's client assertion. */
#ifndef AOS_IDENTITY_INTERNAL_H
#define AOS_IDENTITY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "aos/result.h"

/* The RFC 7523 client assertion of a certificate credential (Microsoft identity platform
 * "certificate credentials"): header {alg RS256, typ JWT, x5t, x5t#S256}, claims {aud
 * token_url, iss = sub = client_id, jti, nbf, iat, exp = +10 min}, signed with the RSA key of
 * pem_file (the certificate and its private key). *out malloc'd (wipe before free). */
aos_result aos_identity_cert_assertion(const char *pem_file, const char *client_id,
                                       const char *token_url, int64_t now_s, char **out,
                                       char *errbuf, size_t errlen);

#endif
