/* Fuzz target: JWT verification and JWKS parsing. Input: JWKS JSON, a NUL byte, the token. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *sep = memchr(data, 0, size);
    size_t jlen = sep ? (size_t)(sep - data) : size;
    router_jwks_t *jwks = NULL;
    if (router_jwks_parse((const char *)data, jlen, &jwks, NULL, 0) != AOS_OK)
        return 0;
    if (sep) {
        size_t tlen = size - jlen - 1;
        char *tok = malloc(tlen + 1);
        if (tok) {
            memcpy(tok, sep + 1, tlen);
            tok[tlen] = '\0';
            const char *iss[] = {"https://api.botframework.com"};
            router_jwt_policy_t pol = {iss, 1, "app", 0, false, NULL, 0};
            router_jwt_claims_t c;
            router_jwt_verify(jwks, &pol, tok, 1800000000, &c, NULL, 0);
            free(tok);
        }
    }
    router_jwks_free(jwks);
    return 0;
}
