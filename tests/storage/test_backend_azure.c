/* The shared backend suite on the Azure backend against the Azurite fixture. Every run uses
 * its own table-name prefix, so runs never see each other's data. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

#include "backend_suite.h"
#include "fixture.h"

static char g_cs[2048];
static char g_prefix[17];

static aos_result open_azure(void *ctx, storage_backend_t **out_be, char *errbuf, size_t errlen)
{
    (void)ctx;
    storage_backend_config_t cfg = {.kind = AOS_STORAGE_BACKEND_AZURE,
                                    .azure_connection_string = g_cs,
                                    .name_prefix = g_prefix};
    return storage_backend_open(&cfg, out_be, errbuf, errlen);
}

int main(void)
{
    if (aos_test_fixture_read("azurite", "connection_string", g_cs, sizeof g_cs) != 0)
        return 1;
    unsigned char b[4] = {0};
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        return 1;
    snprintf(g_prefix, sizeof g_prefix, "t%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
    return aos_storage_backend_suite_run("backend_azure", open_azure, NULL) ? 1 : 0;
}
