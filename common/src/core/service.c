#include "aos/service.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "aos/log.h"
#include "aos/secure.h"

int aos_service_init(const char *service, int argc, char **argv, const aos_config_field_t *table,
                     size_t n, void *out_struct, const aos_config_common_t *common)
{
    return aos_service_init_checked(service, argc, argv, table, n, out_struct, common, NULL);
}

int aos_service_init_checked(const char *service, int argc, char **argv,
                             const aos_config_field_t *table, size_t n, void *out_struct,
                             const aos_config_common_t *common, aos_service_check_fn check)
{
    int doc = aos_config_doc_flag(argc, argv, table, n);
    if (doc >= 0)
        return doc;
    char err[4096] = "";
    aos_log_init(service, AOS_LOG_INFO);
    if (aos_config_load(table, n, out_struct, getenv("AOS_CONFIG"), err, sizeof err) != AOS_OK) {
        fprintf(stderr, "%s: configuration:\n%s\n", service, err);
        return 2;
    }
    aos_log_level level = AOS_LOG_INFO;
    if (common && common->log_level)
        aos_log_level_parse(common->log_level, &level);
    aos_log_init(service, level);
    aos_config_dump(table, n, out_struct);
    if (check) {
        if (check(out_struct, err, sizeof err) != AOS_OK) {
            fprintf(stderr, "%s: %s\n", service, err);
            return 2;
        }
        return -1;
    }
    if (common && aos_secure_check_bus(common, err, sizeof err) != AOS_OK) {
        fprintf(stderr, "%s: refusing to start: %s\n", service, err);
        return 2;
    }
    aos_secure_log_dev_mode(common, "the bus may use the default guest account");
    return -1;
}

void aos_service_block_signals(sigset_t *out_set)
{
    sigemptyset(out_set);
    sigaddset(out_set, SIGTERM);
    sigaddset(out_set, SIGINT);
    pthread_sigmask(SIG_BLOCK, out_set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int aos_service_wait_signal(const sigset_t *set)
{
    int sig = 0;
    sigwait(set, &sig);
    aos_log(AOS_LOG_INFO, "shutting down", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
    return sig;
}

int aos_service_fail(const char *what, aos_result r, const char *detail)
{
    aos_log(AOS_LOG_ERROR, what, "result", aos_result_code(r), "detail", detail, NULL);
    return 1;
}
