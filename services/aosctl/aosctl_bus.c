#include <stdlib.h>
#include <string.h>

#include "aos/bus.h"
#include "aosctl.h"

aos_result aosctl_open_bus(const aosctl_opts_t *o, aos_bus_t **out_bus)
{
    aos_bus_config_t cfg = {
        .url = getenv("AOS_BUS_URL"),
        .connection_string = getenv("AOS_SERVICEBUS_CONNECTION_STRING"),
        .profile = aos_bus_profile_of(getenv("AOS_BUS_PROFILE")),
    };
    if (!cfg.url && !cfg.connection_string)
        cfg.url = "amqp://guest:guest@127.0.0.1:5672";
    char err[256] = "";
    *out_bus = NULL;
    aos_result r = aos_bus_new(&cfg, out_bus, err, sizeof err);
    if (r == AOS_OK)
        r = aos_bus_start(*out_bus);
    if (r == AOS_OK)
        r = aos_bus_wait_connected(*out_bus, 10000);
    if (r != AOS_OK) {
        fprintf(o->err, "aosctl: cannot connect to the bus: %s%s%s\n", aos_result_str(r),
                err[0] ? ": " : "", err);
        aos_bus_free(*out_bus);
        *out_bus = NULL;
    }
    return r;
}
