/* The ML pipeline's HTTP surface (docs/design.md §4, docs/ml.md "HTTP routes"): each route becomes
 * one aos.ml.<op> request whose data is the JSON body plus the path parameter (and, for
 * listings, the query parameters); the reply's data is the response body. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/json.h"
#include "router_internal.h"

typedef struct ml_route {
    const char *method, *path, *op;
    const char *path_param, *as_field; /* path {param} copied into the data as field */
    bool body;                         /* the request has a JSON object body */
    int ok_status;                     /* 200, or 202 for work that runs on */
} ml_route_t;

static const ml_route_t ML_ROUTES[] = {
    {"POST", "/v1/ml/adapters/{agent}/train", "train_adapter", "agent", "agent", true, 202},
    {"POST", "/v1/ml/pipelines/{agent}/run", "run_pipeline", "agent", "agent", true, 202},
    {"GET", "/v1/ml/adapters", "list_adapters", NULL, NULL, false, 200},
    {"GET", "/v1/ml/adapters/{agent}", "get_adapter", "agent", "agent", false, 200},
    {"GET", "/v1/ml/jobs", "list_jobs", NULL, NULL, false, 200},
    {"GET", "/v1/ml/jobs/{id}", "get_job", "id", "job_id", false, 200},
    {"POST", "/v1/ml/jobs/{id}/cancel", "cancel_job", "id", "job_id", false, 200},
    {"POST", "/v1/ml/infer", "infer", NULL, NULL, true, 200},
    {"POST", "/v1/ml/adapters/{agent}/promote", "promote", "agent", "agent", true, 200},
    {"POST", "/v1/ml/adapters/{agent}/rollback", "rollback", "agent", "agent", true, 200},
    {"POST", "/v1/ml/adapters/{agent}/pin", "pin", "agent", "agent", true, 200},
    {"POST", "/v1/ml/adapters/{agent}/unpin", "unpin", "agent", "agent", true, 200},
    {"POST", "/v1/ml/adapters/{agent}/canary", "canary", "agent", "agent", true, 200},
    {"POST", "/v1/conversations/{id}/messages/{message_id}/feedback", "feedback", "id",
     "conversation_id", true, 200},
};

/* Query parameters that listings forward. */
static const char *LIST_FILTERS[] = {"agent", "state", "cursor", "limit"};

typedef struct ml_call {
    router_t *rt;
    aos_http_request_t *req;
    int ok_status;
} ml_call_t;

static void on_ml_reply(void *ctx, aos_result r, const aos_event_t *reply)
{
    ml_call_t *c = ctx;
    char msg[300];
    if (r == AOS_ERR_TIMEOUT || r == AOS_ERR_CLOSED || r == AOS_ERR_REJECTED) {
        snprintf(msg, sizeof msg,
                 "no ML pipeline answered within %u ms (is aos-ml-pipeline running and "
                 "consuming aos.ml?)",
                 c->rt->agents->settings.act_timeout_ms);
        router_respond_error(c->req, AOS_ERR_UNAVAILABLE, msg);
    } else if (r != AOS_OK) {
        router_respond_error(c->req, r, NULL);
    } else if ((r = aos_bus_reply_result(reply, msg, sizeof msg)) != AOS_OK) {
        router_respond_error(c->req, r, msg);
    } else {
        const char *data = reply->data && reply->data_len ? reply->data : "{}";
        json_object *v = NULL;
        if (aos_json_parse(data, reply->data_len ? reply->data_len : 2, 0, 0, &v, NULL, 0) ==
            AOS_OK)
            aos_http_respond_json(c->req, c->ok_status, data);
        else
            router_respond_error(c->req, AOS_ERR_PROTOCOL, "the ML pipeline sent unreadable data");
        json_object_put(v);
    }
    free(c);
}

/* The request data for route m: body (or {}), path parameter, list filters. */
static aos_result ml_request_data(const ml_route_t *m, aos_http_request_t *req, char **out_json,
                                  char *why, size_t whylen)
{
    json_object *data = NULL;
    if (m->body) {
        size_t len = 0;
        const char *body = aos_http_request_body(req, &len);
        AOS_RETURN_IF_FAILED(aos_json_parse_object(body, len, len + 1, 0, &data, why, whylen));
    } else {
        data = json_object_new_object();
        for (size_t i = 0; !m->path_param && i < sizeof LIST_FILTERS / sizeof *LIST_FILTERS; i++) {
            const char *v = aos_http_request_query(req, LIST_FILTERS[i]);
            if (v && strcmp(LIST_FILTERS[i], "limit") == 0)
                json_object_object_add(data, "limit", json_object_new_int64(atoll(v)));
            else if (v)
                aos_json_add_string(data, LIST_FILTERS[i], v);
        }
    }
    /* feedback has a second path parameter, copied under its own name */
    const char *second = strcmp(m->op, "feedback") == 0 ? "message_id" : NULL;
    const char *params[2][2] = {{m->path_param, m->as_field}, {second, second}};
    for (size_t i = 0; i < 2 && params[i][0]; i++) {
        const char *v = aos_http_request_param(req, params[i][0]);
        json_object *given = NULL;
        if (json_object_object_get_ex(data, params[i][1], &given) &&
            (!json_object_is_type(given, json_type_string) ||
             strcmp(json_object_get_string(given), v) != 0)) {
            json_object_put(data);
            return aos_fail(AOS_ERR_INVALID, why, whylen,
                            "field '%s' in the body disagrees with the path", params[i][1]);
        }
        aos_json_add_string(data, params[i][1], v);
    }
    aos_result r = aos_json_to_string(data, out_json, NULL);
    json_object_put(data);
    return r;
}

static void svc_ml(aos_http_request_t *req, void *ctx)
{
    router_t *rt = ctx;
    if (!router_authorize(rt, req))
        return;
    const char *route = aos_http_request_route(req);
    const ml_route_t *m = NULL;
    for (size_t i = 0; i < sizeof ML_ROUTES / sizeof *ML_ROUTES && !m; i++)
        if (strcmp(route, ML_ROUTES[i].path) == 0 &&
            strcmp(aos_http_request_method(req), ML_ROUTES[i].method) == 0)
            m = &ML_ROUTES[i];
    char why[300] = "";
    char *data = NULL;
    aos_event_t *ev = NULL;
    ml_call_t *c = NULL;
    char type[64];
    aos_result r = m ? ml_request_data(m, req, &data, why, sizeof why) : AOS_ERR_NOT_FOUND;
    if (r == AOS_OK) {
        snprintf(type, sizeof type, "aos.ml.%s", m->op);
        r = aos_event_create(type, ROUTER_SOURCE, data, &ev);
    }
    if (r == AOS_OK && !(c = calloc(1, sizeof *c)))
        r = AOS_ERR_NOMEM;
    free(data);
    if (r != AOS_OK) {
        aos_event_free(ev);
        router_respond_error(req, r, why[0] ? why : NULL);
        return;
    }
    *c = (ml_call_t){rt, req, m->ok_status};
    r = aos_bus_request(rt->bus, "aos.ml", ev, (int)rt->agents->settings.act_timeout_ms,
                        on_ml_reply, c);
    aos_event_free(ev);
    if (r != AOS_OK) {
        free(c);
        router_respond_error(req, AOS_ERR_UNAVAILABLE, "bus unavailable: the request was not sent");
    }
}

aos_result svc_ml_routes(aos_http_server_t *s, router_t *rt)
{
    for (size_t i = 0; i < sizeof ML_ROUTES / sizeof *ML_ROUTES; i++)
        AOS_RETURN_IF_FAILED(aos_http_server_route_ex(s, ML_ROUTES[i].method, ML_ROUTES[i].path,
                                                      svc_ml, rt,
                                                      AOS_HTTP_ROUTE_AUTH | AOS_HTTP_ROUTE_JSON));
    return AOS_OK;
}
