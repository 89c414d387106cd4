/* aos-sb-peer: the Service Bus test peer as a process, for whole-stack tests and Microsoft's
 * SDK (docs/servicebus.md, "The standalone peer"). Listens on 127.0.0.1:<free port>, writes
 * the port to --port-file once listening, runs until SIGTERM/SIGINT, then prints its event log
 * on stderr.
 *
 *   aos-sb-peer --namespace localhost --key-name aos-services --key <key>
 *               [--tls-cert server.pem --tls-key server.key]
 *               [--session-queues aos.agent.,aos.reply] [--queues aos.storage,aos.ml]
 *               [--topic aos.events:aos-router,app]... --port-file <file>
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb_peer.h"
#include "sb_peer_store.h"

static void usage(void)
{
    fprintf(stderr, "usage: aos-sb-peer --namespace H --key-name N --key K [--tls-cert F "
                    "--tls-key F] [--session-queues P] [--queues Q] [--topic T:S1,S2]... "
                    "--port-file F\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *ns = "localhost", *key_name = NULL, *key = NULL, *cert = NULL, *pkey = NULL;
    const char *sessions = NULL, *queues = NULL, *port_file = NULL;
    const char *topics[8];
    int ntopics = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        i++;
        if (!strcmp(a, "--namespace"))
            ns = v;
        else if (!strcmp(a, "--key-name"))
            key_name = v;
        else if (!strcmp(a, "--key"))
            key = v;
        else if (!strcmp(a, "--tls-cert"))
            cert = v;
        else if (!strcmp(a, "--tls-key"))
            pkey = v;
        else if (!strcmp(a, "--session-queues"))
            sessions = v;
        else if (!strcmp(a, "--queues"))
            queues = v;
        else if (!strcmp(a, "--topic") && ntopics < 8)
            topics[ntopics++] = v;
        else if (!strcmp(a, "--port-file"))
            port_file = v;
        else
            usage();
    }
    if (!key_name || !key || !port_file || (!cert) != (!pkey))
        usage();

    /* every thread inherits the mask; the main thread takes the signals with sigwait */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    sb_peer_t *p = sb_peer_start(ns, key_name, key);
    if (!p)
        return 1;
    if (cert && sb_peer_set_tls(p, cert, pkey) != 0) {
        sb_peer_stop(p);
        return 1;
    }
    if (sessions)
        sb_peer_set_session_queues(p, sessions);
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
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", sb_peer_port(p)) < 0 || fclose(f) != 0 ||
        rename(tmp, port_file) != 0) {
        perror("aos-sb-peer: port file");
        sb_peer_stop(p);
        return 1;
    }
    fprintf(stderr, "aos-sb-peer: listening on 127.0.0.1:%d (%s)\n", sb_peer_port(p),
            cert ? "TLS" : "plain");
    int sig = 0;
    sigwait(&set, &sig);
    static char log[65536];
    sb_peer_log(p, log, sizeof log);
    fprintf(stderr, "aos-sb-peer: stopping; event log:\n%s", log);
    sb_peer_stop(p);
    return 0;
}
