/* Secure by default: the start-up credential checks shared by every service (aos/secure.h). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "aos/log.h"
#include "aos/secure.h"

/* The user-info of scheme://userinfo@host…, or NULL. */
static const char *userinfo(const char *url, size_t *out_len)
{
    const char *p = url ? strstr(url, "://") : NULL;
    if (!p)
        return NULL;
    p += 3;
    size_t auth_len = strcspn(p, "/?#");
    const char *at = memchr(p, '@', auth_len);
    if (!at)
        return NULL;
    /* The last '@' of the authority ends the user-info (a password may contain '@'). */
    for (const char *q = at + 1; q < p + auth_len; q++)
        if (*q == '@')
            at = q;
    *out_len = (size_t)(at - p);
    return p;
}

bool aos_secure_bus_has_credentials(const aos_config_common_t *c)
{
    if (!c)
        return false;
    if (c->servicebus_connection_string && c->servicebus_connection_string[0])
        return true;
    size_t n = 0;
    const char *ui = userinfo(c->bus_url, &n);
    if (!ui || n == 0)
        return false;
    const char *colon = memchr(ui, ':', n);
    size_t user_len = colon ? (size_t)(colon - ui) : n;
    if (user_len == 0)
        return false;
    /* RabbitMQ's built-in account (the AOS_BUS_URL default) is no credential anyone chose. */
    return !(user_len == 5 && strncasecmp(ui, "guest", 5) == 0);
}

aos_result aos_secure_check_bus(const aos_config_common_t *c, char *errbuf, size_t errlen)
{
    if (c && c->dev_mode)
        return AOS_OK;
    if (aos_secure_bus_has_credentials(c))
        return AOS_OK;
    return aos_fail(AOS_ERR_AUTH, errbuf, errlen,
                    "no bus credentials configured: set AOS_SERVICEBUS_CONNECTION_STRING, or "
                    "AOS_BUS_URL with a user and password (amqps://user:password@host:5671; "
                    "not RabbitMQ's default guest account); " AOS_SECURE_DEV_HINT);
}

void aos_secure_log_dev_mode(const aos_config_common_t *c, const char *what)
{
    if (!c || !c->dev_mode)
        return;
    char msg[512];
    snprintf(msg, sizeof msg, "development mode (AOS_DEV_MODE=1): credential checks are off%s%s",
             what && *what ? "; " : "", what ? what : "");
    aos_log(AOS_LOG_WARN, msg, NULL);
}
