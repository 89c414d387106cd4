/* services/router/console_assets.h: the operator console's files (services/router/console/),
 * compiled into the router by cmake/embed_assets.cmake (docs/console.md). Read-only data. */
#ifndef ROUTER_CONSOLE_ASSETS_H
#define ROUTER_CONSOLE_ASSETS_H

#include <stddef.h>

typedef struct router_console_asset {
    const char *name;         /* file name, e.g. "app.js" */
    const char *content_type; /* e.g. "text/javascript; charset=utf-8" */
    const unsigned char *bytes;
    size_t len;
} router_console_asset_t;

extern const router_console_asset_t router_console_assets[];
extern const size_t router_console_asset_count;

#endif
