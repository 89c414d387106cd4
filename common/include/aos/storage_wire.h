/* aos/storage_wire.h: the JSON form of the storage data model as it travels on aos.storage
 * (docs/storage.md), shared by aos-storage (encodes replies) and aos/storage_client.h
 * (decodes them). Blob chunks use aos/base64.h.
 *
 * JSON field names:
 *   conversation {"conversation_id","agent","metadata":{…},"version","created_ms","updated_ms"}
 *   message      {"conversation_id","message_id","seq","role","content","metadata":{…},
 *                 "created_ms"}
 *   blob {"container","name","content_type","size","sha256"?,"content_md5"?,"etag","updated_ms"}
 *   record       {"kind","key","data":{…},"version","updated_ms"}
 * metadata_json / data_json texts are embedded as JSON objects, not as strings.
 *
 * Ownership: *_to_json return a new json_object reference (json_object_put) or NULL when out
 * of memory or when an embedded JSON text does not parse. *_from_json fill a zeroed struct the
 * caller clears. Thread-safe (pure).
 */
#ifndef AOS_STORAGE_WIRE_H
#define AOS_STORAGE_WIRE_H

#include <stddef.h>

#include <json-c/json.h>

#include "aos/result.h"
#include "aos/storage_types.h"

json_object *aos_storage_conversation_to_json(const aos_storage_conversation_t *c);
/* A message as JSON text (the stored metadata embedded as it is, after a check that it is a
 * JSON object), built without a parse: for what is sent (aos_json_raw; its members cannot be
 * read). NULL when out of memory or the metadata is not a JSON object. */
json_object *aos_storage_message_to_wire(const aos_storage_message_t *m);
/* The same JSON as a tree whose members can be read (the wire text parsed). */
json_object *aos_storage_message_to_json(const aos_storage_message_t *m);
json_object *aos_storage_blob_info_to_json(const aos_storage_blob_info_t *b);
json_object *aos_storage_record_to_json(const aos_storage_record_t *r);

aos_result aos_storage_conversation_from_json(const json_object *o, aos_storage_conversation_t *out,
                                              char *errbuf, size_t errlen);
aos_result aos_storage_message_from_json(const json_object *o, aos_storage_message_t *out,
                                         char *errbuf, size_t errlen);
aos_result aos_storage_blob_info_from_json(const json_object *o, aos_storage_blob_info_t *out,
                                           char *errbuf, size_t errlen);
aos_result aos_storage_record_from_json(const json_object *o, aos_storage_record_t *out,
                                        char *errbuf, size_t errlen);

/* The metadata stored with a turn's user message (docs/turn-order.md):
 * {"kind","user","agent","routing_reason","event_type","metadata":{…}}; NULL strings are
 * left out, metadata_json is embedded as an object (left out when NULL or not JSON). One
 * home for the router (turn.accept stores the message when the turn is next in line) and the
 * runner (turn.claim stores it otherwise), so both store the same bytes. *out_json is
 * malloc'd. */
aos_result aos_storage_turn_user_metadata(const char *kind, const char *user, const char *agent,
                                          const char *routing_reason, const char *event_type,
                                          const char *metadata_json, char **out_json);

#endif
