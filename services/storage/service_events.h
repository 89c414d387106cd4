/* services/storage/service_events.h: events aos-storage itself announces on aos.events.
 *
 * aos.conversation.created {"conversation_id","agent"} (id "conversation.created:<id>", subject
 * = agent, group-id = conversation) after conversation.create stored a new conversation — also
 * when a redelivered create finds the conversation it created before, so a crash between the
 * write and the publish cannot lose the event (at least once; consumers dedupe by id). The
 * publish is confirmed by the broker before the request is answered.
 *
 * Threads: called on a storage worker thread (blocks until the broker confirms or the bus
 * gives up on the send); never on the bus thread. */
#ifndef STORAGE_SERVICE_EVENTS_H
#define STORAGE_SERVICE_EVENTS_H

#include <stdbool.h>

#include "aos/bus.h"
#include "aos/result.h"

/* reply_json: the conversation.create result ({"conversation":{…},"created":bool}).
 * redelivered: the request was delivered before. AOS_OK when nothing was due or the broker
 * confirmed the event; else the publish error (the caller releases the request). */
aos_result storage_events_after_create(aos_bus_t *bus, const char *source, const char *reply_json,
                                       bool redelivered);

#endif
