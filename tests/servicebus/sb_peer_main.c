/* aos-sb-peer: the Service Bus test peer (sb_peer.h, sb_peer_store.h) as a standalone process,
 * for tests that drive it from outside (Microsoft's SDK, whole-stack tests).
 *
 *   aos-sb-peer [--namespace NS] [--key-name N] [--key K] [--session-queues P1,P2]
 *               [--entities E1,E2] [--max-message-size BYTES] [--duplicate-window-ms MS]
 *               [--lock-duration-ms MS]
 *               [--tls-cert server.pem --tls-key server.key] [--queues Q1,Q2]
 *               [--topic T:S1,S2]... [--port-file F]
 *
 * Prints "port <n>" on stdout once listening (and writes <n> to --port-file when given). Runs
 * until SIGTERM / SIGINT or, without --port-file, until stdin reaches EOF; on exit prints the
 * event log on stderr. --queues/--topic declare stored queues and topics with subscriptions
 * (sb_peer_store.c); --tls-cert/--tls-key serve TLS. Defaults: namespace
 * aos-test.servicebus.windows.net, key name RootManageSharedAccessKey, key
 * dGVzdGtleS1ub3QtYS1zZWNyZXQtMTIzNDU2Nzg5MA==. */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sb_peer.h"
#include "sb_peer_store.h"

/* stdin EOF means stop (the parent went away) */
static void *watch_stdin(void *arg)
{
    (void)arg;
    char buf[256];
    while (read(0, buf, sizeof buf) > 0)
        ;
    kill(getpid(), SIGTERM);
    return NULL;
}

static int write_port_file(const char *path, int port)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        perror("aos-sb-peer: port file");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *ns = "aos-test.servicebus.windows.net", *kn = "RootManageSharedAccessKey";
    const char *key = "dGVzdGtleS1ub3QtYS1zZWNyZXQtMTIzNDU2Nzg5MA==";
    const char *sessions = NULL, *entities = NULL, *cert = NULL, *pkey = NULL, *queues = NULL;
    const char *port_file = NULL, *topics[8];
    int ntopics = 0;
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
        else if (!strcmp(k, "--tls-cert"))
            cert = v;
        else if (!strcmp(k, "--tls-key"))
            pkey = v;
        else if (!strcmp(k, "--queues"))
            queues = v;
        else if (!strcmp(k, "--topic") && ntopics < 8)
            topics[ntopics++] = v;
        else if (!strcmp(k, "--port-file"))
            port_file = v;
        else {
            fprintf(stderr, "aos-sb-peer: unknown option %s\n", k);
            return 2;
        }
    }
    if ((!cert) != (!pkey)) {
        fprintf(stderr, "aos-sb-peer: --tls-cert and --tls-key go together\n");
        return 2;
    }
    /* every thread inherits the mask; the main thread takes the signals with sigwait */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    sb_peer_t *p = sb_peer_start(ns, kn, key);
    if (!p)
        return 1;
    if (cert && sb_peer_set_tls(p, cert, pkey) != 0) {
        sb_peer_stop(p);
        return 1;
    }
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
    if (queues)
        sb_peer_declare_queues(p, queues);
    for (int i = 0; i < ntopics; i++) {
        char topic[256];
        snprintf(topic, sizeof topic, "%s", topics[i]);
        char *colon = strchr(topic, ':');
        if (colon)
            *colon = '\0';
        sb_peer_declare_topic(p, topic, colon ? colon + 1 : "");
    }
    if (port_file && write_port_file(port_file, sb_peer_port(p)) != 0) {
        sb_peer_stop(p);
        return 1;
    }
    printf("port %d\n", sb_peer_port(p));
    fflush(stdout);
    fprintf(stderr, "aos-sb-peer: listening on 127.0.0.1:%d (%s)\n", sb_peer_port(p),
            cert ? "TLS" : "plain");
    pthread_t watcher;
    if (!port_file && pthread_create(&watcher, NULL, watch_stdin, NULL) == 0)
        pthread_detach(watcher);
    int sig = 0;
    sigwait(&set, &sig);
    static char log[65536];
    sb_peer_log(p, log, sizeof log);
    fprintf(stderr, "aos-sb-peer: stopping; event log:\n%s", log);
    sb_peer_stop(p);
    return 0;
}
