/* services/router/console_query.h: the query parameters of the routes the operator console
 * needs (docs/http-api.md "GET /v1/conversations", "Dead letters"). Pure functions over the
 * %-decoded values the HTTP server hands over; thread-safe; no allocation.
 */
#ifndef ROUTER_CONSOLE_QUERY_H
#define ROUTER_CONSOLE_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aos/result.h"
#include "aos/storage_types.h"

#define ROUTER_CONV_LIST_LIMIT_MAX 200
#define ROUTER_CONV_LIST_LIMIT_DEFAULT 50
#define ROUTER_CONV_QUERY_MAX 128

/* GET /v1/conversations: which conversations, from where, how many. */
typedef struct router_conv_filter {
    char agent[AOS_STORAGE_AGENT_MAX + 1]; /* "" = any agent */
    char q[ROUTER_CONV_QUERY_MAX + 1];     /* "" = any id; else a case-insensitive part of it */
    int64_t since_ms, until_ms;            /* active in [since, until] (Unix ms); 0 = open */
    char cursor[AOS_STORAGE_ID_MAX + 1];   /* "" = from the start (ids are ordered) */
    size_t limit;
} router_conv_filter_t;

/* The raw query values (each NULL when absent). */
typedef struct router_conv_query {
    const char *agent, *q, *since, *until, *cursor, *limit;
} router_conv_query_t;

/* Validate and convert. since / until are Unix milliseconds or an RFC 3339 UTC time
 * ("2026-12-07T22:00:00Z", fractional seconds and a numeric offset allowed). Every error is
 * AOS_ERR_INVALID with a message naming the parameter. */
aos_result router_conv_filter_parse(const router_conv_query_t *in, router_conv_filter_t *out,
                                    char *why, size_t whylen);

/* True when a conversation (id, created, updated) passes the filter's q / since / until
 * (the agent and cursor are storage's part). */
bool router_conv_filter_match(const router_conv_filter_t *f, const char *id, int64_t created_ms,
                              int64_t updated_ms);

/* An RFC 3339 time or a decimal count of Unix ms, to Unix ms. AOS_ERR_INVALID otherwise. */
aos_result router_time_parse(const char *s, int64_t *out_ms);

/* A dead-letter id in a path: 1..255 printable ASCII characters without space. */
bool router_dead_letter_id_valid(const char *id);

#endif
