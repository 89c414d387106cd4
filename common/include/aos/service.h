/* aos/service.h: the start-up and shutdown steps every AOS service main() shares.
 *
 *   int main(int argc, char **argv) {
 *       int rc = aos_service_init("aos-x", argc, argv, TABLE, TABLE_N, &cfg, &common);
 *       if (rc >= 0) return rc;               // --config-doc printed, or bad configuration
 *       sigset_t sigs; aos_service_block_signals(&sigs);   // before any thread starts
 *       ... start ...; aos_service_wait_signal(&sigs); ... stop ...
 *   }
 * Call from the main thread only.
 */
#ifndef AOS_SERVICE_H
#define AOS_SERVICE_H

#include <signal.h>
#include <stddef.h>

#include "aos/config.h"

/* --config-doc (aos_config_doc_flag), then load the table from the environment and
 * $AOS_CONFIG into out_struct, printing every error to stderr, and set up logging for
 * `service` at common->log_level (common points into out_struct; NULL: info) with the
 * effective configuration logged (secrets redacted). Returns -1 to go on, or the process
 * exit code: 0 after --config-doc, 2 for a bad configuration. */
int aos_service_init(const char *service, int argc, char **argv, const aos_config_field_t *table,
                     size_t n, void *out_struct, const aos_config_common_t *common);

/* A service's own credential check, run by aos_service_init_checked in place of the bus check
 * (aos_secure_check_bus, aos_secure_log_dev_mode) on the loaded out_struct: a service with
 * more credentials than the bus (the router's API keys) names everything missing at once.
 * Returns AOS_OK to start, else a failure with the text for the operator in errbuf. */
typedef aos_result (*aos_service_check_fn)(const void *out_struct, char *errbuf, size_t errlen);

/* aos_service_init with check (NULL: the bus check) in place of the bus check. */
int aos_service_init_checked(const char *service, int argc, char **argv,
                             const aos_config_field_t *table, size_t n, void *out_struct,
                             const aos_config_common_t *common, aos_service_check_fn check);

/* Block SIGTERM and SIGINT in this thread and every thread it starts afterwards (they are
 * taken by aos_service_wait_signal), and ignore SIGPIPE. */
void aos_service_block_signals(sigset_t *out_set);

/* Wait for SIGTERM or SIGINT, log which, return it. */
int aos_service_wait_signal(const sigset_t *set);

/* Log a start-up step that failed (what, the result code, the detail; detail may be NULL) and
 * return the process exit code for it, 1. */
int aos_service_fail(const char *what, aos_result r, const char *detail);

#endif
