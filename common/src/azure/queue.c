/* Queue service: queues and base64 messages, for applications that take agent events or
 * requests from an Azure Storage queue. */
#include <stdlib.h>
#include <string.h>

#include "aos/base64.h"
#include "azure_internal.h"

#define QUEUE_MSG_MAX (48 * 1024)  /* 64 KiB on the wire after base64 */
#define QUEUE_TEXT_MAX (60 * 1024) /* raw text: 64 KiB on the wire with some room for escapes */

static aos_result queue_path(aos_azure_client_t *c, const char *queue, const char *suffix,
                             char *out, size_t outlen)
{
    if (!aos_azure_container_name_valid(queue)) {
        aos_azure_set_error(c, "invalid queue name '%.80s'", queue ? queue : "(null)");
        return AOS_ERR_INVALID;
    }
    snprintf(out, outlen, "/%s%s", queue, suffix);
    return AOS_OK;
}

aos_result aos_azure_queue_create(aos_azure_client_t *c, const char *queue)
{
    char path[96];
    AOS_RETURN_IF_FAILED(queue_path(c, queue, "", path, sizeof path));
    aos_azure_request_t req = {.svc = AOS_AZURE_QUEUE, .verb = "PUT", .path = path};
    return aos_azure_perform(c, &req, NULL);
}

aos_result aos_azure_queue_delete(aos_azure_client_t *c, const char *queue)
{
    char path[96];
    AOS_RETURN_IF_FAILED(queue_path(c, queue, "", path, sizeof path));
    aos_azure_request_t req = {.svc = AOS_AZURE_QUEUE, .verb = "DELETE", .path = path};
    return aos_azure_perform(c, &req, NULL);
}

static aos_result post_message(aos_azure_client_t *c, const char *path, aos_buf_t *body,
                               int visibility_timeout_s, int ttl_s)
{
    aos_buf_t q = {0};
    aos_buf_printf(&q, "visibilitytimeout=%d", visibility_timeout_s);
    if (ttl_s)
        aos_buf_printf(&q, "&messagettl=%d", ttl_s);
    aos_result r = body->failed || q.failed ? AOS_ERR_NOMEM : AOS_OK;
    const aos_azure_header_t h[] = {{"Content-Type", "application/xml"}};
    aos_azure_request_t req = {.svc = AOS_AZURE_QUEUE,
                               .verb = "POST",
                               .path = path,
                               .query = q.data,
                               .headers = h,
                               .nheaders = 1,
                               .body = body->data,
                               .body_len = body->len};
    if (r == AOS_OK)
        r = aos_azure_perform(c, &req, NULL);
    aos_buf_free(&q);
    return r;
}

aos_result aos_azure_queue_put(aos_azure_client_t *c, const char *queue, const void *data,
                               size_t len, int visibility_timeout_s, int ttl_s)
{
    char path[96];
    AOS_RETURN_IF_FAILED(queue_path(c, queue, "/messages", path, sizeof path));
    if (len > QUEUE_MSG_MAX) {
        aos_azure_set_error(c, "queue message of %zu bytes is over %d", len, QUEUE_MSG_MAX);
        return AOS_ERR_TOO_LARGE;
    }
    if (visibility_timeout_s < 0 || ttl_s < -1) {
        aos_azure_set_error(c, "invalid visibility timeout or ttl");
        return AOS_ERR_INVALID;
    }
    char *b64;
    AOS_RETURN_IF_FAILED(aos_base64_encode(data ? data : "", len, &b64, NULL));
    aos_buf_t body = {0};
    aos_buf_printf(&body, "<QueueMessage><MessageText>%s</MessageText></QueueMessage>", b64);
    free(b64);
    aos_result r = post_message(c, path, &body, visibility_timeout_s, ttl_s);
    aos_buf_free(&body);
    return r;
}

aos_result aos_azure_queue_put_text(aos_azure_client_t *c, const char *queue, const char *text,
                                    int visibility_timeout_s, int ttl_s)
{
    char path[96];
    AOS_RETURN_IF_FAILED(queue_path(c, queue, "/messages", path, sizeof path));
    size_t len = text ? strlen(text) : 0;
    if (len > QUEUE_TEXT_MAX) {
        aos_azure_set_error(c, "queue message of %zu bytes is over %d", len, QUEUE_TEXT_MAX);
        return AOS_ERR_TOO_LARGE;
    }
    if (visibility_timeout_s < 0 || ttl_s < -1) {
        aos_azure_set_error(c, "invalid visibility timeout or ttl");
        return AOS_ERR_INVALID;
    }
    aos_buf_t body = {0};
    aos_buf_puts(&body, "<QueueMessage><MessageText>");
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') {
            aos_buf_free(&body);
            aos_azure_set_error(c, "queue message text has a control character");
            return AOS_ERR_INVALID;
        }
        const char *esc = ch == '<'    ? "&lt;"
                          : ch == '>'  ? "&gt;"
                          : ch == '&'  ? "&amp;"
                          : ch == '\r' ? "&#13;"
                                       : NULL;
        if (esc)
            aos_buf_puts(&body, esc);
        else
            aos_buf_append(&body, &text[i], 1);
    }
    aos_buf_puts(&body, "</MessageText></QueueMessage>");
    aos_result r = post_message(c, path, &body, visibility_timeout_s, ttl_s);
    aos_buf_free(&body);
    return r;
}

static aos_result fetch(aos_azure_client_t *c, const char *queue, const char *query,
                        aos_azure_queue_msgs_t **out_msgs)
{
    *out_msgs = NULL;
    char path[96];
    AOS_RETURN_IF_FAILED(queue_path(c, queue, "/messages", path, sizeof path));
    aos_buf_t resp = {0};
    aos_azure_request_t req = {
        .svc = AOS_AZURE_QUEUE, .verb = "GET", .path = path, .query = query, .resp = &resp};
    aos_result r = aos_azure_perform(c, &req, NULL);
    if (r == AOS_OK) {
        char err[256];
        r = aos_azure_queue_msgs_parse(resp.data ? resp.data : "", resp.len, out_msgs, err,
                                       sizeof err);
        if (r != AOS_OK)
            aos_azure_set_error(c, "queue messages: %s", err);
    }
    aos_buf_free(&resp);
    return r;
}

aos_result aos_azure_queue_get(aos_azure_client_t *c, const char *queue, int max,
                               int visibility_timeout_s, aos_azure_queue_msgs_t **out_msgs)
{
    *out_msgs = NULL;
    if (max < 1 || max > 32 || visibility_timeout_s < 1) {
        aos_azure_set_error(c, "numofmessages must be 1..32, visibility timeout >= 1 s");
        return AOS_ERR_INVALID;
    }
    char q[96];
    snprintf(q, sizeof q, "numofmessages=%d&visibilitytimeout=%d", max, visibility_timeout_s);
    return fetch(c, queue, q, out_msgs);
}

aos_result aos_azure_queue_peek(aos_azure_client_t *c, const char *queue, int max,
                                aos_azure_queue_msgs_t **out_msgs)
{
    *out_msgs = NULL;
    if (max < 1 || max > 32) {
        aos_azure_set_error(c, "numofmessages must be 1..32");
        return AOS_ERR_INVALID;
    }
    char q[96];
    snprintf(q, sizeof q, "numofmessages=%d&peekonly=true", max);
    return fetch(c, queue, q, out_msgs);
}

aos_result aos_azure_queue_delete_message(aos_azure_client_t *c, const char *queue,
                                          const char *message_id, const char *pop_receipt)
{
    if (!message_id || !*message_id || !pop_receipt || !*pop_receipt) {
        aos_azure_set_error(c, "message id and pop receipt are required");
        return AOS_ERR_INVALID;
    }
    aos_buf_t path = {0}, q = {0};
    char base[96];
    AOS_RETURN_IF_FAILED(queue_path(c, queue, "/messages/", base, sizeof base));
    aos_buf_puts(&path, base);
    aos_azure_url_encode(&path, message_id, false);
    aos_buf_puts(&q, "popreceipt=");
    aos_azure_url_encode(&q, pop_receipt, false);
    aos_result r = path.failed || q.failed ? AOS_ERR_NOMEM : AOS_OK;
    aos_azure_request_t req = {
        .svc = AOS_AZURE_QUEUE, .verb = "DELETE", .path = path.data, .query = q.data};
    if (r == AOS_OK)
        r = aos_azure_perform(c, &req, NULL);
    aos_buf_free(&path);
    aos_buf_free(&q);
    return r;
}
