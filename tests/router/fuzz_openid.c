/* Fuzz target: OpenID Connect metadata documents (their jwks_uri) and the JWKS documents they
 * point to, as fetched from Entra / login.botframework.com. */
#include <stdint.h>
#include <string.h>

#include "jwt.h"
#include "openid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char uri[1024];
    if (router_openid_jwks_uri((const char *)data, size, uri, sizeof uri) == AOS_OK &&
        strncmp(uri, "http", 4) != 0)
        __builtin_trap();
    router_jwks_t *jwks = NULL;
    if (router_jwks_parse((const char *)data, size, &jwks, NULL, 0) == AOS_OK) {
        router_jwks_has_kid(jwks, "k1");
        router_jwks_free(jwks);
    }
    return 0;
}
