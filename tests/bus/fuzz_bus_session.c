/* Fuzz target: the session id the bus reads from the source filter of the broker's attach
 * (outside data). The bytes are decoded as AMQP data and used as a source filter; whatever it
 * is, reading it must not crash and must yield NULL or a short NUL-free string. The filter the
 * bus writes must read back as the session it names. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <proton/codec.h>
#include <proton/connection.h>
#include <proton/link.h>
#include <proton/session.h>
#include <proton/terminus.h>

#include "bus_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pn_connection_t *c = pn_connection();
    pn_link_t *l = pn_receiver(pn_session(c), "fuzz");
    pn_data_t *d = pn_data(0);
    if (pn_data_decode(d, (const char *)data, size) > 0) {
        pn_data_t *f = pn_terminus_filter(pn_link_source(l));
        pn_data_rewind(d);
        pn_data_copy(f, d);
        char *id = bus_session_from_source(pn_link_source(l));
        if (id && (strlen(id) == 0 || strlen(id) > 128))
            abort();
        free(id);
    }
    bus_session_set_filter(l, "conv-1");
    char *id = bus_session_from_source(pn_link_source(l));
    if (!id || strcmp(id, "conv-1") != 0)
        abort();
    free(id);
    bus_session_set_filter(l, NULL);
    if ((id = bus_session_from_source(pn_link_source(l))) != NULL)
        abort();
    pn_data_free(d);
    pn_connection_free(c);
    return 0;
}
