/* Per-message CPU of the bus's message bytes, no broker: bus_msg_decode (what every received
 * delivery costs, aos/amqp.h) and bus_msg_write (every send), next to Proton reading the same
 * bytes into a pn_message_t (what the raw client of bench_bus_rr does per message). Prints
 * ns of thread CPU and allocations per message.
 *   bench_bus_msg [ITERATIONS]                    (tests/bench/bus_msg/run.sh) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <proton/message.h>

#include "aos/envelope.h"
#include "bus_internal.h"

#include "../bench_alloc.h"

/* A turn request as the router sends it to a runner. */
static aos_event_t *sample(void)
{
    aos_event_t *ev = NULL;
    if (aos_event_create("aos.agent.turn", "/aos/router/r1",
                         "{\"conversation_id\":\"c-1\",\"turn_id\":\"t-7\",\"text\":\"What is "
                         "our budget for next quarter?\",\"kind\":\"query\",\"user\":\"u-1\"}",
                         &ev) != AOS_OK)
        exit(1);
    aos_event_set(&ev->subject, "c-1");
    aos_event_set(&ev->correlation_id, "8d5c2f7e-2b1a-4c3d-9e8f-0a1b2c3d4e5f");
    aos_event_set(&ev->reply_to, "/queue/aos.reply.router-1");
    aos_event_set(&ev->group_id, "c-1");
    aos_event_set(&ev->traceparent, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    aos_event_set_ext(ev, "agent", "cfo");
    ev->ttl_ms = 30000;
    return ev;
}

typedef void (*op_fn)(void *ctx);

static void measure(const char *name, op_fn fn, void *ctx, long n)
{
    for (long i = 0; i < n / 10; i++) /* warm */
        fn(ctx);
    long a0 = bench_allocs();
    double t0 = bench_thread_cpu_ns();
    for (long i = 0; i < n; i++)
        fn(ctx);
    double t1 = bench_thread_cpu_ns();
    long a1 = bench_allocs();
    printf("  %-34s %8.0f ns  %5.1f allocations\n", name, (t1 - t0) / (double)n,
           (double)(a1 - a0) / (double)n);
}

typedef struct {
    char *bytes;
    size_t len;
    aos_event_t *ev;
    pn_message_t *pm;
} ctx_t;

static void op_decode(void *p)
{
    ctx_t *c = p;
    aos_event_t *ev = NULL;
    bus_msg_info_t info;
    char err[256];
    if (bus_msg_decode(AOS_BUS_PROFILE_RABBITMQ, c->bytes, c->len, &ev, &info, err, sizeof err) !=
        AOS_OK)
        exit(1);
    bus_msg_info_clear(&info);
    aos_event_free(ev);
}

static void op_pn_decode(void *p)
{
    ctx_t *c = p;
    if (pn_message_decode(c->pm, c->bytes, c->len) != 0)
        exit(1);
    pn_message_clear(c->pm);
}

static void op_write(void *p)
{
    ctx_t *c = p;
    char *out = NULL, err[256];
    size_t len = 0;
    if (bus_msg_write(c->ev, NULL, 1795510800123LL, &out, &len, err, sizeof err) != AOS_OK)
        exit(1);
    free(out);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    ctx_t c = {.ev = sample(), .pm = pn_message()};
    char err[256];
    if (bus_msg_write(c.ev, NULL, 1795510800123LL, &c.bytes, &c.len, err, sizeof err) != AOS_OK)
        return 1;
    printf("bus message bytes, %zu-byte turn request, %ld per figure (thread CPU per message)\n",
           c.len, n);
    measure("bus_msg_decode (receive)", op_decode, &c, n);
    measure("pn_message_decode alone (raw)", op_pn_decode, &c, n);
    measure("bus_msg_write (send)", op_write, &c, n);
    free(c.bytes);
    pn_message_free(c.pm);
    aos_event_free(c.ev);
    return 0;
}
