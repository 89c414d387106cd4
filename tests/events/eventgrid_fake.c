/* A fake Azure Event Grid topic (see eventgrid_fake.h). */
#include "eventgrid_fake.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "aos/http_server.h"
#include "aos/resilience.h"

#define EG_LIMIT (1024u * 1024u)
#define MAX_STATUS 600
#define MAX_HELD 64

struct eg_fake {
    aos_http_server_t *srv;
    char key[256];
    char endpoint[128];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t requests;
    size_t status[MAX_STATUS];
    char **ids;
    size_t *sizes; /* each event's data length */
    size_t id_count, id_cap;
    int fail_next;
    int fail_status; /* 429 (with Retry-After) or a 5xx */
    char retry_after[32];
    int hold;
    aos_http_request_t *held[MAX_HELD];
    int held_status[MAX_HELD];
    size_t held_count;
};

static void count_status(eg_fake_t *f, int status)
{
    if (status >= 0 && status < MAX_STATUS)
        f->status[status]++;
    pthread_cond_broadcast(&f->cv);
}

static void answer(aos_http_request_t *req, int status, const char *code)
{
    if (status == 200)
        aos_http_respond(req, 200, NULL, NULL, 0);
    else
        aos_http_respond_error_status(req, status, code, code);
}

static void record_events(eg_fake_t *f, aos_event_t **evs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (f->id_count == f->id_cap) {
            size_t cap = f->id_cap ? f->id_cap * 2 : 64;
            char **ids = realloc(f->ids, cap * sizeof *ids);
            if (!ids)
                return;
            f->ids = ids;
            size_t *sizes = realloc(f->sizes, cap * sizeof *sizes);
            if (!sizes)
                return;
            f->sizes = sizes;
            f->id_cap = cap;
        }
        f->sizes[f->id_count] = evs[i]->data_len;
        f->ids[f->id_count++] = strdup(evs[i]->id);
    }
}

/* Validate one publish request; returns the status to answer and the error code. */
static int check_request(eg_fake_t *f, aos_http_request_t *req, const char **code,
                         aos_event_t ***out_evs, size_t *out_n)
{
    const char *key = aos_http_request_header(req, "aeg-sas-key");
    if (!key || strcmp(key, f->key) != 0) {
        *code = "Unauthorized";
        return 401;
    }
    const char *ct = aos_http_request_header(req, "content-type");
    const char *want = "application/cloudevents-batch+json";
    if (!ct || strncasecmp(ct, want, strlen(want)) != 0 ||
        (ct[strlen(want)] != '\0' && ct[strlen(want)] != ';')) {
        *code = "BadRequest";
        return 400;
    }
    const char *v = aos_http_request_query(req, "api-version");
    if (!v || strcmp(v, "2018-01-01") != 0) {
        *code = "BadRequest";
        return 400;
    }
    size_t len = 0;
    const char *body = aos_http_request_body(req, &len);
    if (len > EG_LIMIT) {
        *code = "RequestEntityTooLarge";
        return 413;
    }
    char err[256];
    if (aos_event_batch_from_json(body, len, out_evs, out_n, err, sizeof err) != AOS_OK) {
        *code = "BadRequest";
        return 400;
    }
    for (size_t i = 0; i < *out_n; i++) {
        char *json = NULL;
        size_t elen = EG_LIMIT + 1;
        if (aos_event_to_json((*out_evs)[i], &json) == AOS_OK)
            elen = strlen(json);
        free(json);
        if (elen > EG_LIMIT) {
            aos_event_array_free(*out_evs, *out_n);
            *code = "RequestEntityTooLarge";
            return 413;
        }
    }
    *code = "";
    return 200;
}

static void on_publish(aos_http_request_t *req, void *ctx)
{
    eg_fake_t *f = ctx;
    const char *code = "";
    aos_event_t **evs = NULL;
    size_t n = 0;
    pthread_mutex_lock(&f->mu);
    f->requests++;
    int status;
    if (f->fail_next > 0) {
        f->fail_next--;
        status = f->fail_status ? f->fail_status : 429;
        if (status == 429)
            aos_http_response_add_header(req, "Retry-After", f->retry_after);
        code = status == 429 ? "TooManyRequests" : "ServiceUnavailable";
    } else {
        status = check_request(f, req, &code, &evs, &n);
        if (status == 200) {
            record_events(f, evs, n);
            aos_event_array_free(evs, n);
        }
    }
    if (f->hold && f->held_count < MAX_HELD) {
        f->held[f->held_count] = req;
        f->held_status[f->held_count++] = status;
        pthread_cond_broadcast(&f->cv);
        pthread_mutex_unlock(&f->mu);
        return;
    }
    count_status(f, status);
    pthread_mutex_unlock(&f->mu);
    answer(req, status, code);
}

eg_fake_t *eg_fake_start(const char *key)
{
    eg_fake_t *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    snprintf(f->key, sizeof f->key, "%s", key);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    aos_http_server_config_t cfg = {.bind_addr = "127.0.0.1:0",
                                    .max_body_bytes = 8 * EG_LIMIT,
                                    .name = "eventgrid-fake",
                                    .metrics = NULL};
    char err[256];
    if (aos_http_server_new(&cfg, &f->srv, err, sizeof err) != AOS_OK ||
        aos_http_server_route(f->srv, "POST", "/api/events", on_publish, f) != AOS_OK ||
        aos_http_server_start(f->srv, err, sizeof err) != AOS_OK) {
        fprintf(stderr, "eventgrid fake: %s\n", err);
        eg_fake_free(f);
        return NULL;
    }
    snprintf(f->endpoint, sizeof f->endpoint, "http://127.0.0.1:%u/api/events",
             (unsigned)aos_http_server_port(f->srv));
    return f;
}

void eg_fake_free(eg_fake_t *f)
{
    if (!f)
        return;
    eg_fake_release(f);
    aos_http_server_free(f->srv);
    for (size_t i = 0; i < f->id_count; i++)
        free(f->ids[i]);
    free(f->ids);
    free(f->sizes);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

const char *eg_fake_endpoint(eg_fake_t *f)
{
    return f->endpoint;
}

void eg_fake_fail_next(eg_fake_t *f, int n, const char *retry_after)
{
    pthread_mutex_lock(&f->mu);
    f->fail_next = n;
    f->fail_status = 429;
    snprintf(f->retry_after, sizeof f->retry_after, "%s", retry_after);
    pthread_mutex_unlock(&f->mu);
}

void eg_fake_fail_next_status(eg_fake_t *f, int n, int status)
{
    pthread_mutex_lock(&f->mu);
    f->fail_next = n;
    f->fail_status = status;
    pthread_mutex_unlock(&f->mu);
}

void eg_fake_hold(eg_fake_t *f)
{
    pthread_mutex_lock(&f->mu);
    f->hold = 1;
    pthread_mutex_unlock(&f->mu);
}

void eg_fake_release(eg_fake_t *f)
{
    pthread_mutex_lock(&f->mu);
    f->hold = 0;
    size_t n = f->held_count;
    f->held_count = 0;
    for (size_t i = 0; i < n; i++)
        count_status(f, f->held_status[i]);
    pthread_mutex_unlock(&f->mu);
    for (size_t i = 0; i < n; i++)
        answer(f->held[i], f->held_status[i], f->held_status[i] == 200 ? "" : "error");
}

size_t eg_fake_requests(eg_fake_t *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->requests;
    pthread_mutex_unlock(&f->mu);
    return n;
}

size_t eg_fake_status_count(eg_fake_t *f, int status)
{
    pthread_mutex_lock(&f->mu);
    size_t n = status >= 0 && status < MAX_STATUS ? f->status[status] : 0;
    pthread_mutex_unlock(&f->mu);
    return n;
}

size_t eg_fake_event_count(eg_fake_t *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->id_count;
    pthread_mutex_unlock(&f->mu);
    return n;
}

size_t eg_fake_event_size(eg_fake_t *f, size_t i)
{
    pthread_mutex_lock(&f->mu);
    size_t n = i < f->id_count ? f->sizes[i] : 0;
    pthread_mutex_unlock(&f->mu);
    return n;
}

void eg_fake_event_id(eg_fake_t *f, size_t i, char *buf, size_t len)
{
    pthread_mutex_lock(&f->mu);
    snprintf(buf, len, "%s", i < f->id_count ? f->ids[i] : "");
    pthread_mutex_unlock(&f->mu);
}

int eg_fake_wait(eg_fake_t *f, size_t n, int events, int timeout_ms)
{
    struct timespec until = aos_clock_deadline(CLOCK_REALTIME, timeout_ms);
    int rc = 0;
    pthread_mutex_lock(&f->mu);
    while ((events ? f->id_count : f->requests) < n) {
        if (pthread_cond_timedwait(&f->cv, &f->mu, &until) == ETIMEDOUT) {
            rc = -1;
            break;
        }
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}
