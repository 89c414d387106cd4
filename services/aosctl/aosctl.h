/* aosctl: command-line client for AOS.
 *
 *   aosctl [--url URL] [--api-key KEY] [--json] COMMAND ...
 *     send [--agent A] [--conversation C] [--user U] TEXT...
 *     history CONVERSATION_ID
 *     agents
 *     dlq list QUEUE [--max N]
 *     dlq replay QUEUE [--max N]
 *     blob put CONTAINER NAME [FILE|-] [--type CONTENT_TYPE]
 *     blob get CONTAINER NAME [FILE]
 *     blob ls CONTAINER [PREFIX]
 *     topology render rabbitmq|servicebus|keda [--config FILE] [--bus servicebus|rabbitmq]
 *     topology apply [--config FILE] [--management-url URL]
 *
 * The router URL defaults to $AOS_ROUTER_URL or http://127.0.0.1:8080, the key to
 * $AOS_API_KEY; dead-letter commands use $AOS_BUS_URL / $AOS_BUS_PROFILE /
 * $AOS_SERVICEBUS_CONNECTION_STRING like the services.
 */
#ifndef AOSCTL_H
#define AOSCTL_H

#include <stdbool.h>
#include <stdio.h>

#include "aos/result.h"

typedef struct aosctl_opts {
    const char *url;
    const char *api_key;
    bool json;
    FILE *out; /* where results go (stdout) */
    FILE *err; /* where errors go (stderr) */
} aosctl_opts_t;

/* Run one command line; returns the process exit code (0 ok, 1 failure, 2 usage). */
int aosctl_main(int argc, char **argv, FILE *out, FILE *err);

/* Dead-letter commands (aosctl_dlq.c). args[0] is "list" or "replay". */
int aosctl_dlq(const aosctl_opts_t *o, int argc, char **argv);

/* Blob commands (aosctl_blob.c): put CONTAINER NAME [FILE|-], get CONTAINER NAME [FILE],
 * ls CONTAINER [PREFIX]. Talk to aos-storage over the bus. */
int aosctl_blob(const aosctl_opts_t *o, int argc, char **argv);

struct aos_bus;
/* Connect to the bus configured by AOS_BUS_URL / AOS_BUS_PROFILE /
 * AOS_SERVICEBUS_CONNECTION_STRING (aosctl_bus.c); prints the reason on failure. */
aos_result aosctl_open_bus(const aosctl_opts_t *o, struct aos_bus **out_bus);

/* Topology commands (aosctl_topology.c, docs/deploy.md): args[0] is render|apply. */
int aosctl_topology(const aosctl_opts_t *o, int argc, char **argv);

/* ML commands (aosctl_ml.c, docs/ml.md). args[0] is train|jobs|job|cancel|adapters|infer. */
int aosctl_ml(const aosctl_opts_t *o, int argc, char **argv);

/* A response body collected by curl (CURLOPT_WRITEFUNCTION aosctl_curl_body, WRITEDATA the
 * buffer): NUL-terminated; data is malloc'd, the caller frees it. */
typedef struct aosctl_buf {
    char *data;
    size_t len;
} aosctl_buf_t;
size_t aosctl_curl_body(char *p, size_t size, size_t n, void *ctx);

#endif
