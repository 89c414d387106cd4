/* sb_peer: TLS on the listening port (Service Bus only speaks AMQP over TLS on 5671) and the
 * port-insensitive audience. See sb_peer_store.h. */
#include <stdio.h>
#include <string.h>

#include <proton/ssl.h>

#include "sb_peer_hooks.h"

void **sb_peer_tls_slot(sb_peer_t *p); /* sb_peer.c */

int sb_peer_set_tls(sb_peer_t *p, const char *cert_pem_file, const char *key_pem_file)
{
    pn_ssl_domain_t *dom = pn_ssl_domain(PN_SSL_MODE_SERVER);
    if (!dom || pn_ssl_domain_set_credentials(dom, cert_pem_file, key_pem_file, NULL) != 0) {
        fprintf(stderr, "sb_peer: cannot load TLS certificate %s / key %s\n", cert_pem_file,
                key_pem_file);
        if (dom)
            pn_ssl_domain_free(dom);
        return -1;
    }
    void **slot = sb_peer_tls_slot(p);
    if (*slot)
        pn_ssl_domain_free(*slot);
    *slot = dom;
    return 0;
}

void sb_peer_tls_apply(sb_peer_t *p, pn_transport_t *t)
{
    pn_ssl_domain_t *dom = *sb_peer_tls_slot(p);
    if (dom)
        pn_ssl_init(pn_ssl(t), dom, NULL);
}

void sb_peer_tls_free(sb_peer_t *p)
{
    void **slot = sb_peer_tls_slot(p);
    if (*slot)
        pn_ssl_domain_free(*slot);
    *slot = NULL;
}

void sb_peer_audience_strip_port(char *uri)
{
    char *host = strstr(uri, "://");
    if (!host)
        return;
    host += 3;
    char *colon = strchr(host, ':'), *slash = strchr(host, '/');
    if (!colon || (slash && colon > slash))
        return;
    char *rest = slash ? slash : colon + strlen(colon);
    memmove(colon, rest, strlen(rest) + 1);
}
