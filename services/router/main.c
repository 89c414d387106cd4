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

int main(int argc, char **argv)
{
    int doc = aos_config_doc_flag(argc, argv, router_config_table, router_config_table_len);
    if (doc >= 0)
        return doc;
    char err[2048] = "";
    router_config_t cfg;
    aos_log_init("aos-router", AOS_LOG_INFO);
    if (router_config_load(&cfg, err, sizeof err) != AOS_OK) {
        fprintf(stderr, "aos-router: configuration error:\n%s\n", err);
        return 2;
    }
    aos_log_level level = AOS_LOG_INFO;
    if (cfg.common.log_level)
        aos_log_level_parse(cfg.common.log_level, &level);
    aos_log_init("aos-router", level);
    aos_config_dump(router_config_table, router_config_table_len, &cfg);
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
