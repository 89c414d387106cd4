/* tests/support/stack_bus.h: the test's own side of a stack started with stack_services.h
 * (header-only, cmocka tests): its bus connection and storage client, turns as the router
 * sends them, and the stored messages of a conversation. Link aos_bus (and aos_storage_client
 * for the storage calls). */
#ifndef AOS_TEST_STACK_BUS_H
#define AOS_TEST_STACK_BUS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the headers above first */
#include <cmocka.h>

#include "aos/bus.h"
#include "aos/json.h"
#include "aos/storage_client.h"
#include "stack_services.h"

/* The test's bus on the fixture's RabbitMQ, instance id "<instance>-<tag>", connected within
 * 20 s. 0 or -1. */
static inline int stack_bus_open(const stack_where_t *w, const char *instance, aos_bus_t **out)
{
    char err[256], inst[96];
    snprintf(inst, sizeof inst, "%s-%s", instance, w->tag);
    aos_bus_config_t bc = {.url = w->url, .profile = AOS_BUS_PROFILE_RABBITMQ, .instance_id = inst};
    if (aos_bus_new(&bc, out, err, sizeof err) != AOS_OK || aos_bus_start(*out) != AOS_OK ||
        aos_bus_wait_connected(*out, 20000) != AOS_OK)
        return -1;
    return 0;
}

/* A storage client on the stack's storage queue. 0 or -1. */
static inline int stack_storage_open(const stack_where_t *w, aos_bus_t *bus, int timeout_ms,
                                     aos_storage_client_t **out)
{
    char err[256];
    aos_storage_client_config_t scc = {
        .bus = bus, .queue = w->storage_queue, .timeout_ms = timeout_ms};
    return aos_storage_client_new(&scc, out, err, sizeof err) == AOS_OK ? 0 : -1;
}

/* An aos.agent.turn as the router sends it (event id = message id, group = conversation),
 * kind "query", from source. Caller frees. */
static inline aos_event_t *stack_turn_event(const char *agent, const char *conv, const char *msg,
                                            const char *text, const char *source)
{
    json_object *o = json_object_new_object();
    aos_json_add_string(o, "conversation_id", conv);
    aos_json_add_string(o, "message_id", msg);
    aos_json_add_string(o, "agent", agent);
    aos_json_add_string(o, "text", text);
    aos_json_add_string(o, "kind", "query");
    char *data = NULL;
    assert_int_equal(aos_json_to_string(o, &data, NULL), AOS_OK);
    json_object_put(o);
    aos_event_t *ev = NULL;
    assert_int_equal(aos_event_create("aos.agent.turn", source, data, &ev), AOS_OK);
    free(data);
    assert_int_equal(aos_event_set(&ev->id, msg), AOS_OK); /* message-id = user message id */
    assert_int_equal(aos_event_set(&ev->group_id, conv), AOS_OK);
    return ev;
}

/* The first max stored messages of a conversation (a timed-out read is asked again, up to 5
 * times). Clear the page. */
static inline void stack_messages(aos_storage_client_t *sc, const char *conv, size_t max,
                                  aos_storage_message_page_t *page)
{
    char err[256];
    aos_result rc = AOS_ERR_TIMEOUT;
    memset(page, 0, sizeof *page);
    for (int i = 0; i < 5 && rc == AOS_ERR_TIMEOUT; i++) {
        aos_storage_message_page_clear(page);
        rc = aos_storage_message_list_sync(sc, conv, NULL, max, false, page, err, sizeof err);
    }
    assert_int_equal(rc, AOS_OK);
}

#endif
