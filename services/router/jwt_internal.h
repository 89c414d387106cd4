/* Internal to the JWT module (jwt.c, jwt_verify.c). */
#ifndef ROUTER_JWT_INTERNAL_H
#define ROUTER_JWT_INTERNAL_H

#include <openssl/evp.h>

#include "jwt.h"

typedef struct jwk {
    char kid[128];
    EVP_PKEY *pkey; /* RSA public key, owned */
} jwk_t;

struct router_jwks {
    jwk_t *keys;
    size_t count;
};

#endif
