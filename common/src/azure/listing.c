/* Listing documents: List Blobs (EnumerationResults) and Get/Peek Messages
 * (QueueMessagesList), read through the small XML tree. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aos/base64.h"
#include "azure_internal.h"

void aos_azure_blob_list_free(aos_azure_blob_list_t *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++) {
        aos_azure_blob_item_t *it = &list->items[i];
        free(it->name);
        free(it->content_type);
        free(it->content_md5);
        free(it->etag);
        free(it->last_modified);
        for (size_t k = 0; k < it->meta_count; k++) {
            free(it->meta_names[k]);
            free(it->meta_values[k]);
        }
        free(it->meta_names);
        free(it->meta_values);
    }
    free(list->items);
    free(list->next_marker);
    free(list);
}

/* Copy of text if present and UTF-8 without control characters; *ok false otherwise. */
static char *dup_text(const char *text, bool required, bool *ok)
{
    if (!text) {
        if (required)
            *ok = false;
        return NULL;
    }
    size_t n = strlen(text);
    if (!aos_utf8_valid(text, n)) {
        *ok = false;
        return NULL;
    }
    char *s = strdup(text);
    if (!s)
        *ok = false;
    return s;
}

static bool parse_int64(const char *s, int64_t *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < 0)
        return false;
    *out = v;
    return true;
}

static size_t count_children(const aos_xml_node_t *n, const char *name)
{
    size_t k = 0;
    for (const aos_xml_node_t *c = n ? n->first_child : NULL; c; c = c->next)
        k += !strcmp(c->name, name);
    return k;
}

static bool fill_blob_item(const aos_xml_node_t *blob, aos_azure_blob_item_t *it)
{
    bool ok = true;
    const aos_xml_node_t *props = aos_xml_child(blob, "Properties");
    it->name = dup_text(aos_xml_child_text(blob, "Name"), true, &ok);
    if (!ok || !*it->name || !props)
        return false;
    if (!parse_int64(aos_xml_child_text(props, "Content-Length"), &it->content_length))
        return false;
    const char *ct = aos_xml_child_text(props, "Content-Type");
    const char *md5 = aos_xml_child_text(props, "Content-MD5");
    it->content_type = ct && *ct ? dup_text(ct, false, &ok) : NULL;
    it->content_md5 = md5 && *md5 ? dup_text(md5, false, &ok) : NULL;
    it->etag = dup_text(aos_xml_child_text(props, "Etag"), false, &ok);
    it->last_modified = dup_text(aos_xml_child_text(props, "Last-Modified"), false, &ok);
    const aos_xml_node_t *meta = aos_xml_child(blob, "Metadata");
    size_t n = 0;
    for (const aos_xml_node_t *m = meta ? meta->first_child : NULL; m; m = m->next)
        n++;
    if (ok && n) {
        it->meta_names = calloc(n, sizeof *it->meta_names);
        it->meta_values = calloc(n, sizeof *it->meta_values);
        if (!it->meta_names || !it->meta_values)
            return false;
        for (const aos_xml_node_t *m = meta->first_child; m && ok; m = m->next) {
            it->meta_names[it->meta_count] = dup_text(m->name, true, &ok);
            it->meta_values[it->meta_count] = dup_text(m->text, true, &ok);
            it->meta_count++;
            if (ok)
                for (char *ch = it->meta_names[it->meta_count - 1]; *ch; ch++)
                    if (*ch >= 'A' && *ch <= 'Z')
                        *ch = (char)(*ch - 'A' + 'a');
        }
    }
    return ok;
}

aos_result aos_azure_blob_list_parse(const char *xml, size_t len, aos_azure_blob_list_t **out,
                                     char *errbuf, size_t errlen)
{
    *out = NULL;
    aos_xml_node_t *root;
    AOS_RETURN_IF_FAILED(aos_xml_parse(xml, len, &root, errbuf, errlen));
    aos_result r = AOS_OK;
    aos_azure_blob_list_t *list = calloc(1, sizeof *list);
    const aos_xml_node_t *blobs = aos_xml_child(root, "Blobs");
    size_t n = count_children(blobs, "Blob");
    if (!list || (n && !(list->items = calloc(n, sizeof *list->items)))) {
        r = AOS_ERR_NOMEM;
        goto done;
    }
    if (strcmp(root->name, "EnumerationResults") != 0) {
        r = aos_fail(AOS_ERR_PROTOCOL, errbuf, errlen,
                     "listing: root is <%.40s>, not "
                     "<EnumerationResults>",
                     root->name);
        goto done;
    }
    for (const aos_xml_node_t *c = blobs ? blobs->first_child : NULL; c; c = c->next) {
        if (strcmp(c->name, "Blob") != 0)
            continue;
        if (!fill_blob_item(c, &list->items[list->count++])) {
            r = aos_fail(AOS_ERR_PROTOCOL, errbuf, errlen,
                         "listing: blob %zu lacks a valid Name or Content-Length", list->count);
            goto done;
        }
    }
    const char *next = aos_xml_child_text(root, "NextMarker");
    if (next && *next) {
        bool ok = true;
        list->next_marker = dup_text(next, true, &ok);
        if (!ok)
            r = aos_fail(AOS_ERR_PROTOCOL, errbuf, errlen, "listing: bad NextMarker");
    }
done:
    aos_xml_free(root);
    if (r != AOS_OK) {
        aos_azure_blob_list_free(list);
        return r;
    }
    *out = list;
    return AOS_OK;
}

void aos_azure_queue_msgs_free(aos_azure_queue_msgs_t *msgs)
{
    if (!msgs)
        return;
    for (size_t i = 0; i < msgs->count; i++) {
        aos_azure_queue_msg_t *m = &msgs->items[i];
        free(m->message_id);
        free(m->pop_receipt);
        free(m->insertion_time);
        free(m->time_next_visible);
        free(m->data);
        free(m->text);
    }
    free(msgs->items);
    free(msgs);
}

static bool fill_queue_msg(const aos_xml_node_t *qm, aos_azure_queue_msg_t *m)
{
    bool ok = true;
    m->message_id = dup_text(aos_xml_child_text(qm, "MessageId"), true, &ok);
    m->pop_receipt = dup_text(aos_xml_child_text(qm, "PopReceipt"), false, &ok);
    m->insertion_time = dup_text(aos_xml_child_text(qm, "InsertionTime"), false, &ok);
    m->time_next_visible = dup_text(aos_xml_child_text(qm, "TimeNextVisible"), false, &ok);
    if (!ok || !*m->message_id)
        return false;
    const char *dc = aos_xml_child_text(qm, "DequeueCount");
    if (dc && !parse_int64(dc, &m->dequeue_count))
        return false;
    const char *text = aos_xml_child_text(qm, "MessageText");
    if (!text || !(m->text = strdup(text)))
        return false;
    /* Senders choose: base64 (the older SDKs', Functions' and AOS's encoding) or raw text
     * (@azure/storage-queue's default). data is the decoded form when the text is base64. */
    if (aos_base64_decode(text, strlen(text), &m->data, &m->data_len) != AOS_OK) {
        m->data = NULL;
        m->data_len = 0;
    }
    return true;
}

aos_result aos_azure_queue_msgs_parse(const char *xml, size_t len, aos_azure_queue_msgs_t **out,
                                      char *errbuf, size_t errlen)
{
    *out = NULL;
    aos_xml_node_t *root;
    AOS_RETURN_IF_FAILED(aos_xml_parse(xml, len, &root, errbuf, errlen));
    aos_result r = AOS_OK;
    aos_azure_queue_msgs_t *msgs = calloc(1, sizeof *msgs);
    size_t n = count_children(root, "QueueMessage");
    if (!msgs || (n && !(msgs->items = calloc(n, sizeof *msgs->items)))) {
        r = AOS_ERR_NOMEM;
        goto done;
    }
    if (strcmp(root->name, "QueueMessagesList") != 0) {
        r = aos_fail(AOS_ERR_PROTOCOL, errbuf, errlen, "queue: root is not <QueueMessagesList>");
        goto done;
    }
    for (const aos_xml_node_t *c = root->first_child; c; c = c->next) {
        if (strcmp(c->name, "QueueMessage") != 0)
            continue;
        if (!fill_queue_msg(c, &msgs->items[msgs->count++])) {
            r = aos_fail(AOS_ERR_PROTOCOL, errbuf, errlen,
                         "queue: message %zu lacks a MessageId or a MessageText", msgs->count);
            goto done;
        }
    }
done:
    aos_xml_free(root);
    if (r != AOS_OK) {
        aos_azure_queue_msgs_free(msgs);
        return r;
    }
    *out = msgs;
    return AOS_OK;
}
