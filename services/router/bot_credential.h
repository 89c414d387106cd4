/* services/router/bot_credential.h: the client credential in the outbound token request
 * (docs/copilot-studio.md "Authentication"): a client secret, a certificate (RFC 7523 client
 * assertion signed RS256 with the app's key, x5t / x5t#S256 of its certificate), or a
 * federated workload identity token read from a file (AKS). Pure except for reading files;
 * thread-safe.
 */
#ifndef ROUTER_BOT_CREDENTIAL_H
#define ROUTER_BOT_CREDENTIAL_H

#include <stddef.h>
#include <time.h>

#include "aos/result.h"

typedef struct bot_credential {
    const char *client_id;
    const char *secret;                /* client secret, or NULL */
    const char *cert_file;             /* PEM: certificate + private key, or NULL */
    const char *federated_token_file;  /* workload identity token file, or NULL */
} bot_credential_t;

/* The form body for token_url: grant_type=client_credentials, client_id, scope
 * https://api.botframework.com/.default and the credential (client_secret, or
 * client_assertion_type + client_assertion). Precedence: federated token, certificate,
 * secret. *out_form malloc'd (contains a secret: wipe before free). */
aos_result bot_credential_form(const bot_credential_t *cred, const char *token_url, time_t now,
                               char **out_form, char *errbuf, size_t errlen);

#endif
