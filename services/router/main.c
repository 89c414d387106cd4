/* aos-router: thin main. Configuration from the environment and $AOS_CONFIG (see
 * docs/http-api.md); SIGTERM/SIGINT stop it gracefully. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aos/log.h"
#include "aos/service.h"
#include "router.h"

/* The credentials the router refuses to start without (API keys and the bus), named together. */
static aos_result check_credentials(const void *cfg_struct, char *errbuf, size_t errlen)
{
    const router_config_t *cfg = cfg_struct;
    return router_config_check_credentials(cfg, errbuf, errlen);
}

int main(int argc, char **argv)
{
    router_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    int init =
        aos_service_init_checked("aos-router", argc, argv, router_config_table,
                                 router_config_table_len, &cfg, &cfg.common, check_credentials);
    if (init >= 0) {
        router_config_free(&cfg);
        return init;
    }
    char err[2048] = "";
    if (aos_config_common_finish(&cfg.common) != AOS_OK) {
        fprintf(stderr, "aos-router: out of memory\n");
        router_config_free(&cfg);
        return 2;
    }
    /* Blocked before router_new()/router_start() create any thread, so SIGTERM can only be
     * taken by sigwait here (a handler plus pause() missed signals delivered to those). */
    sigset_t sigs;
    aos_service_block_signals(&sigs);
    router_t *rt = NULL;
    if (router_new(&cfg, &rt, err, sizeof err) != AOS_OK) {
        fprintf(stderr, "aos-router: %s\n", err);
        router_config_free(&cfg);
        return 2;
    }
    router_config_free(&cfg);
    if (router_start(rt, 30000, err, sizeof err) != AOS_OK) {
        fprintf(stderr, "aos-router: %s\n", err);
        router_free(rt);
        return 1;
    }
    aos_service_wait_signal(&sigs);
    router_stop(rt, 10000);
    router_free(rt);
    aos_log(AOS_LOG_INFO, "router stopped", NULL);
    return 0;
}
