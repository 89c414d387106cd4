/* aos-sb-peer: the Service Bus test peer (sb_peer.h) as a standalone process, for tests that
 * drive it from outside (SDK tests, whole-stack tests).
 *
 *   aos-sb-peer [--namespace NS] [--key-name N] [--key K] [--session-queues P1,P2]
 *               [--entities E1,E2] [--max-message-size BYTES] [--duplicate-window-ms MS]
 *               [--lock-duration-ms MS]
 *
 * Prints "port <n>" on stdout once listening, then runs until stdin reaches EOF or SIGTERM /
 * SIGINT; on exit prints the event log on stderr. Defaults: namespace
 * aos-test.servicebus.windows.net, key name RootManageSharedAccessKey, key
 * dGVzdGtleS1ub3QtYS1zZWNyZXQtMTIzNDU2Nzg5MA==. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sb_peer.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    const char *ns = "aos-test.servicebus.windows.net", *kn = "RootManageSharedAccessKey";
    const char *key = "dGVzdGtleS1ub3QtYS1zZWNyZXQtMTIzNDU2Nzg5MA==";
    const char *sessions = NULL, *entities = NULL;
    long long max_size = -1, dup_ms = 0, lock_ms = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--namespace"))
            ns = v;
        else if (!strcmp(k, "--key-name"))
            kn = v;
        else if (!strcmp(k, "--key"))
            key = v;
        else if (!strcmp(k, "--session-queues"))
            sessions = v;
        else if (!strcmp(k, "--entities"))
            entities = v;
        else if (!strcmp(k, "--max-message-size"))
            max_size = atoll(v);
        else if (!strcmp(k, "--duplicate-window-ms"))
            dup_ms = atoll(v);
        else if (!strcmp(k, "--lock-duration-ms"))
            lock_ms = atoll(v);
        else {
            fprintf(stderr, "aos-sb-peer: unknown option %s\n", k);
            return 2;
        }
    }
    sb_peer_t *p = sb_peer_start(ns, kn, key);
    if (!p)
        return 1;
    if (sessions)
        sb_peer_set_session_queues(p, sessions);
    if (entities)
        sb_peer_set_entities(p, entities);
    if (max_size >= 0)
        sb_peer_set_max_message_size(p, (uint64_t)max_size);
    if (dup_ms > 0)
        sb_peer_set_duplicate_detection(p, (uint64_t)dup_ms);
    if (lock_ms > 0)
        sb_peer_set_lock_duration(p, (uint64_t)lock_ms);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    printf("port %d\n", sb_peer_port(p));
    fflush(stdout);
    char buf[256];
    while (!stop && read(0, buf, sizeof buf) > 0)
        ;
    static char log[16384];
    sb_peer_log(p, log, sizeof log);
    fputs(log, stderr);
    sb_peer_stop(p);
    return 0;
}
