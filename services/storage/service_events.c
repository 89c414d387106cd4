/* aos.conversation.created from aos-storage (see service_events.h, docs/events.md). */
#include "service_events.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "aos/envelope.h"
#include "aos/json.h"

typedef struct confirm {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    aos_result result;
} confirm_t; /* on the waiter's stack: it waits for the callback, which always comes */

static void on_confirm(void *ctx, aos_result result, const char *detail)
{
    (void)detail;
    confirm_t *c = ctx;
    pthread_mutex_lock(&c->mu);
    c->done = true;
    c->result = result;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static const char *member_str(json_object *o, const char *k)
{
    json_object *v;
    return o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

aos_result storage_events_after_create(aos_bus_t *bus, const char *source, const char *reply_json,
                                       bool redelivered)
{
    json_object *root = NULL, *conv = NULL, *created = NULL;
    if (!bus || !reply_json ||
        aos_json_parse(reply_json, strlen(reply_json), 0, 0, &root, NULL, 0) != AOS_OK)
        return AOS_OK;
    bool is_new =
        json_object_object_get_ex(root, "created", &created) && json_object_get_boolean(created);
    json_object_object_get_ex(root, "conversation", &conv);
    const char *id = member_str(conv, "conversation_id"), *agent = member_str(conv, "agent");
    if ((!is_new && !redelivered) || !id || !agent) {
        json_object_put(root);
        return AOS_OK;
    }
    json_object *data = json_object_new_object();
    aos_json_add_string(data, "conversation_id", id);
    aos_json_add_string(data, "agent", agent);
    char *text = NULL, ev_id[200];
    aos_result r = aos_json_to_string(data, &text, NULL);
    json_object_put(data);
    aos_event_t *ev = NULL;
    snprintf(ev_id, sizeof ev_id, "conversation.created:%s", id);
    if (r == AOS_OK)
        r = aos_event_create("aos.conversation.created", source, text, &ev);
    if (r == AOS_OK &&
        (aos_event_set(&ev->id, ev_id) != AOS_OK || aos_event_set(&ev->subject, agent) != AOS_OK ||
         aos_event_set(&ev->group_id, id) != AOS_OK))
        r = AOS_ERR_NOMEM;
    free(text);
    json_object_put(root);
    if (r != AOS_OK) {
        aos_event_free(ev);
        return r;
    }
    confirm_t c = {.done = false, .result = AOS_ERR_TIMEOUT};
    pthread_mutex_init(&c.mu, NULL);
    pthread_cond_init(&c.cv, NULL);
    r = aos_bus_publish(bus, "aos.events", ev, on_confirm, &c);
    aos_event_free(ev);
    if (r == AOS_OK) {
        /* the callback always comes (confirmed, rejected, timed out or closed) */
        pthread_mutex_lock(&c.mu);
        while (!c.done)
            pthread_cond_wait(&c.cv, &c.mu);
        pthread_mutex_unlock(&c.mu);
        r = c.result;
    }
    pthread_mutex_destroy(&c.mu);
    pthread_cond_destroy(&c.cv);
    return r;
}
