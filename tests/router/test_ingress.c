/* Unit tests: Bot Framework activities, CloudEvents / Event Grid deliveries, API keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aos/json.h"
#include "apikey.h"
#include "botframework.h"
#include "events_in.h"

/* What Copilot Studio posts to a skill (trimmed to the fields that matter). */
static const char *COPILOT_ACTIVITY =
    "{\"type\":\"message\",\"id\":\"act-1|0001\",\"timestamp\":\"2026-11-24T01:00:00.000Z\","
    "\"serviceUrl\":\"https://pvaruntime.example.com/skills/\",\"channelId\":\"pva-studio\","
    "\"from\":{\"id\":\"user-1\",\"name\":\"Alice\",\"role\":\"user\"},"
    "\"conversation\":{\"id\":\"conv|42/a b\",\"tenantId\":\"t\"},"
    "\"recipient\":{\"id\":\"skill-app\",\"name\":\"aos\",\"role\":\"skill\"},"
    "\"text\":\"What is our budget?\",\"locale\":\"en-US\",\"deliveryMode\":\"expectReplies\","
    "\"channelData\":{\"x\":1}}";

static void test_activity_parse_and_reply(void **state)
{
    (void)state;
    router_activity_t *a = NULL;
    char err[256] = "";
    assert_int_equal(router_activity_parse(COPILOT_ACTIVITY, strlen(COPILOT_ACTIVITY), 1000, &a,
                                           err, sizeof err),
                     AOS_OK);
    assert_true(router_activity_is_message(a));
    assert_true(router_activity_expect_replies(a));
    assert_string_equal(a->text, "What is our budget?");
    assert_string_equal(a->conversation_id, "conv|42/a b");
    char conv[40], conv2[40], mid[48];
    assert_int_equal(router_activity_conversation_id(a, conv), AOS_OK);
    assert_int_equal(strlen(conv), 35);
    assert_int_equal(strncmp(conv, "bf-", 3), 0);
    router_activity_conversation_id(a, conv2);
    assert_string_equal(conv, conv2); /* deterministic */
    assert_int_equal(router_activity_message_id(a, mid), AOS_OK);
    assert_int_equal(strncmp(mid, "bf-m-", 5), 0);

    char *reply = NULL;
    assert_int_equal(router_activity_reply_build(a, "r-1", "About 1M.", "cfo", &reply), AOS_OK);
    json_object *o = NULL;
    assert_int_equal(aos_json_parse_object(reply, strlen(reply), 0, 0, &o, NULL, 0), AOS_OK);
    json_object *from = NULL, *rcpt = NULL, *cv = NULL;
    const char *s = NULL;
    aos_json_get_object(o, "from", AOS_JSON_REQUIRED, &from, NULL, 0);
    aos_json_get_string(from, "id", AOS_JSON_REQUIRED, &s, NULL, 0);
    assert_string_equal(s, "skill-app");
    aos_json_get_object(o, "recipient", AOS_JSON_REQUIRED, &rcpt, NULL, 0);
    aos_json_get_string(rcpt, "id", AOS_JSON_REQUIRED, &s, NULL, 0);
    assert_string_equal(s, "user-1");
    aos_json_get_object(o, "conversation", AOS_JSON_REQUIRED, &cv, NULL, 0);
    aos_json_get_string(cv, "tenantId", AOS_JSON_REQUIRED, &s, NULL, 0);
    assert_string_equal(s, "t");
    aos_json_get_string(o, "replyToId", AOS_JSON_REQUIRED, &s, NULL, 0);
    assert_string_equal(s, "act-1|0001");
    aos_json_get_string(o, "text", AOS_JSON_REQUIRED, &s, NULL, 0);
    assert_string_equal(s, "About 1M.");
    aos_json_get_string(o, "type", AOS_JSON_REQUIRED, &s, NULL, 0);
    assert_string_equal(s, "message");
    json_object_put(o);

    char *eoc = NULL, *body = NULL;
    assert_int_equal(router_activity_eoc_build(a, "r-2", &eoc), AOS_OK);
    const char *acts[] = {reply, eoc};
    assert_int_equal(router_activity_replies_body(acts, 2, &body), AOS_OK);
    assert_int_equal(aos_json_parse_object(body, strlen(body), 0, 0, &o, NULL, 0), AOS_OK);
    json_object *arr = NULL;
    aos_json_get_array(o, "activities", AOS_JSON_REQUIRED, &arr, NULL, 0);
    assert_int_equal(json_object_array_length(arr), 2);
    json_object_put(o);
    free(body);
    free(eoc);
    free(reply);

    char url[2048];
    assert_int_equal(router_activity_reply_url(a, url, sizeof url), AOS_OK);
    assert_string_equal(url, "https://pvaruntime.example.com/skills/v3/conversations/"
                             "conv%7C42%2Fa%20b/activities/act-1%7C0001");
    assert_int_equal(router_activity_reply_url(a, url, 20), AOS_ERR_TOO_LARGE);
    router_activity_free(a);
}

static void activity_fails(const char *body, const char *needle)
{
    router_activity_t *a = NULL;
    char err[256] = "";
    assert_int_equal(router_activity_parse(body, strlen(body), 100, &a, err, sizeof err),
                     AOS_ERR_INVALID);
    assert_null(a);
    if (!strstr(err, needle))
        fail_msg("\"%s\" lacks \"%s\"", err, needle);
}

static void test_activity_errors(void **state)
{
    (void)state;
    activity_fails("{\"conversation\":{\"id\":\"c\"}}", "'type' is required");
    activity_fails("{\"type\":\"message\",\"text\":\"x\"}", "'conversation' is required");
    activity_fails("{\"type\":\"message\",\"conversation\":{},\"text\":\"x\"}", "conversation:");
    activity_fails("{\"type\":\"message\",\"conversation\":{\"id\":\"c\"}}", "non-empty 'text'");
    activity_fails("{\"type\":\"message\",\"conversation\":{\"id\":\"c\"},\"text\":\"x\","
                   "\"serviceUrl\":\"file:///etc/passwd\"}",
                   "serviceUrl");
    activity_fails("{\"type\":\"message\",\"conversation\":{\"id\":\"c\"},\"text\":\"x\","
                   "\"from\":[]}",
                   "from");
    activity_fails("[]", "object");
    /* non-message activities need no text */
    router_activity_t *a = NULL;
    const char *upd = "{\"type\":\"conversationUpdate\",\"conversation\":{\"id\":\"c\"}}";
    assert_int_equal(router_activity_parse(upd, strlen(upd), 100, &a, NULL, 0), AOS_OK);
    assert_false(router_activity_is_message(a));
    assert_false(router_activity_expect_replies(a));
    char url[256];
    assert_int_equal(router_activity_reply_url(a, url, sizeof url), AOS_ERR_INVALID);
    char mid[48];
    assert_int_equal(router_activity_message_id(a, mid), AOS_OK);
    assert_int_equal(strncmp(mid, "m-", 2), 0);
    router_activity_free(a);
}

static const char *EG_VALIDATION =
    "[{\"id\":\"2d1781af-3a4c-4d7c-bd0c-e34b19da4e66\",\"topic\":\"/subscriptions/x\","
    "\"subject\":\"\",\"data\":{\"validationCode\":\"512d38b6-c7b8-40c8-89fe-f46f9e9622b6\","
    "\"validationUrl\":\"https://rp-eastus2.eventgrid.azure.net/x\"},"
    "\"eventType\":\"Microsoft.EventGrid.SubscriptionValidationEvent\","
    "\"eventTime\":\"2018-01-25T22:12:19.4556811Z\",\"metadataVersion\":\"1\","
    "\"dataVersion\":\"1\"}]";

static const char *EG_BLOB =
    "[{\"topic\":\"/subscriptions/s/resourceGroups/r/providers/Microsoft.Storage/"
    "storageAccounts/acct\",\"subject\":\"/blobServices/default/containers/c/blobs/b.txt\","
    "\"eventType\":\"Microsoft.Storage.BlobCreated\",\"eventTime\":\"2017-06-26T18:41:00."
    "9584103Z\","
    "\"id\":\"831e1650-001e-001b-66ab-eeb76e069631\",\"data\":{\"api\":\"PutBlockList\","
    "\"contentLength\":524288},\"dataVersion\":\"\",\"metadataVersion\":\"1\"}]";

static void test_eventgrid(void **state)
{
    (void)state;
    router_event_delivery_t *d = NULL;
    char err[256] = "";
    assert_int_equal(router_events_parse("application/json", EG_VALIDATION, strlen(EG_VALIDATION),
                                         &d, err, sizeof err),
                     AOS_OK);
    assert_true(d->is_validation);
    assert_string_equal(d->validation_code, "512d38b6-c7b8-40c8-89fe-f46f9e9622b6");
    char *resp = NULL;
    assert_int_equal(router_events_validation_response(d->validation_code, &resp), AOS_OK);
    assert_string_equal(resp, "{\"validationResponse\":\"512d38b6-c7b8-40c8-89fe-f46f9e9622b6\"}");
    free(resp);
    router_event_delivery_free(d);

    assert_int_equal(router_events_parse(NULL, EG_BLOB, strlen(EG_BLOB), &d, err, sizeof err),
                     AOS_OK);
    assert_false(d->is_validation);
    assert_int_equal(d->schema, ROUTER_SCHEMA_EVENTGRID);
    assert_int_equal(d->count, 1);
    assert_string_equal(d->events[0]->type, "Microsoft.Storage.BlobCreated");
    assert_string_equal(d->events[0]->id, "831e1650-001e-001b-66ab-eeb76e069631");
    assert_non_null(strstr(d->events[0]->source, "storageAccounts/acct"));
    assert_non_null(strstr(d->events[0]->data, "PutBlockList"));
    router_event_delivery_free(d);
}

static void test_cloudevents(void **state)
{
    (void)state;
    const char *one = "{\"specversion\":\"1.0\",\"id\":\"e1\",\"type\":\"com.example.order\","
                      "\"source\":\"/shop\",\"data\":{\"n\":1}}";
    router_event_delivery_t *d = NULL;
    char err[256] = "";
    assert_int_equal(router_events_parse("application/cloudevents+json; charset=utf-8", one,
                                         strlen(one), &d, err, sizeof err),
                     AOS_OK);
    assert_int_equal(d->count, 1);
    assert_string_equal(d->events[0]->type, "com.example.order");
    router_event_delivery_free(d);

    char batch[1024];
    snprintf(batch, sizeof batch, "[%s,%s]", one,
             "{\"specversion\":\"1.0\",\"id\":\"e2\",\"type\":\"t2\",\"source\":\"/s\"}");
    assert_int_equal(router_events_parse("application/cloudevents-batch+json", batch, strlen(batch),
                                         &d, err, sizeof err),
                     AOS_OK);
    assert_int_equal(d->count, 2);
    router_event_delivery_free(d);
    assert_int_equal(
        router_events_parse("application/json", batch, strlen(batch), &d, err, sizeof err), AOS_OK);
    assert_int_equal(d->schema, ROUTER_SCHEMA_CLOUDEVENTS);
    router_event_delivery_free(d);
    assert_int_equal(router_events_parse(NULL, "[]", 2, &d, err, sizeof err), AOS_OK);
    assert_int_equal(d->count, 0);
    router_event_delivery_free(d);

    struct {
        const char *ct, *body, *needle;
        aos_result want;
    } bad[] = {
        {"application/cloudevents+json", "[]", "carries one event", AOS_ERR_INVALID},
        {"application/cloudevents-batch+json", one, "must be a JSON array", AOS_ERR_INVALID},
        {"text/plain", one, "not supported", AOS_ERR_UNSUPPORTED},
        {NULL, "{\"specversion\":\"1.0\",\"id\":\"e\",\"source\":\"/s\"}", "events[0]",
         AOS_ERR_INVALID},
        {NULL, "[{\"specversion\":\"1.0\",\"id\":\"e\",\"type\":\"t\",\"source\":\"/s\"},5]",
         "events[1]", AOS_ERR_INVALID},
        {NULL, "[{\"id\":\"e\",\"eventType\":\"t\"},{\"specversion\":\"1.0\"}]", "mixed",
         AOS_ERR_INVALID},
        {NULL, "[{\"eventType\":\"t\"}]", "events[0]", AOS_ERR_INVALID},
        {NULL,
         "[{\"id\":\"1\",\"eventType\":\"Microsoft.EventGrid.SubscriptionValidationEvent\","
         "\"data\":{}}]",
         "validationCode", AOS_ERR_INVALID},
        {NULL, "\"str\"", "expected a CloudEvent", AOS_ERR_INVALID},
        {NULL, "{bad", "JSON", AOS_ERR_INVALID},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        d = NULL;
        assert_int_equal(
            router_events_parse(bad[i].ct, bad[i].body, strlen(bad[i].body), &d, err, sizeof err),
            bad[i].want);
        assert_null(d);
        if (!strstr(err, bad[i].needle))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, bad[i].needle);
    }
    assert_true(router_webhook_origin_valid("eventgrid.azure.net"));
    assert_false(router_webhook_origin_valid("evil\r\nX-Injected: 1"));
    assert_false(router_webhook_origin_valid(""));
}

static void test_apikeys(void **state)
{
    (void)state;
    router_apikeys_t *k = NULL;
    char err[256] = "";
    const char *file = "# keys\n\n  key-aaaaaaaaaaaaaaaa  \r\nkey-bbbbbbbbbbbbbbbb\n";
    assert_int_equal(
        router_apikeys_parse(file, strlen(file), "key-cccccccccccccccc, ", &k, err, sizeof err),
        AOS_OK);
    assert_int_equal(router_apikeys_count(k), 3);
    assert_int_equal(router_apikeys_check(k, "Bearer key-aaaaaaaaaaaaaaaa", err, sizeof err),
                     AOS_OK);
    assert_int_equal(router_apikeys_check(k, "bearer key-cccccccccccccccc", err, sizeof err),
                     AOS_OK);
    assert_int_equal(router_apikeys_check(k, "Bearer key-aaaaaaaaaaaaaaab", err, sizeof err),
                     AOS_ERR_AUTH);
    assert_null(strstr(err, "key-aaaa"));
    assert_int_equal(router_apikeys_check(k, "Bearer key-aaaaaaaaaaaaaaa", err, sizeof err),
                     AOS_ERR_AUTH);
    assert_int_equal(router_apikeys_check(k, NULL, err, sizeof err), AOS_ERR_AUTH);
    assert_non_null(strstr(err, "missing"));
    assert_int_equal(router_apikeys_check(k, "Basic a2V5", err, sizeof err), AOS_ERR_AUTH);
    assert_int_equal(router_apikeys_check(k, "Bearer ", err, sizeof err), AOS_ERR_AUTH);
    router_apikeys_free(k);

    assert_int_equal(router_apikeys_parse(NULL, 0, NULL, &k, err, sizeof err), AOS_OK);
    assert_int_equal(router_apikeys_check(k, NULL, err, sizeof err), AOS_OK); /* disabled */
    router_apikeys_free(k);
    assert_int_equal(router_apikeys_parse("short\n", 6, NULL, &k, err, sizeof err),
                     AOS_ERR_INVALID);
    assert_non_null(strstr(err, "line 1"));
    assert_null(strstr(err, "short"));
    assert_int_equal(
        router_apikeys_parse(NULL, 0, "key-dddddddddddddddd,tiny", &k, err, sizeof err),
        AOS_ERR_INVALID);
    assert_non_null(strstr(err, "list position 2"));
    assert_int_equal(router_apikeys_load("/nonexistent/keys", NULL, &k, err, sizeof err),
                     AOS_ERR_NOT_FOUND);
    router_apikeys_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_activity_parse_and_reply),
        cmocka_unit_test(test_activity_errors),
        cmocka_unit_test(test_eventgrid),
        cmocka_unit_test(test_cloudevents),
        cmocka_unit_test(test_apikeys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
