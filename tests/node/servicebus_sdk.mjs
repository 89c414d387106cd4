// Microsoft's @azure/service-bus SDK (7.9.5, pinned) as an outside application against the
// Service Bus test peer (tests/servicebus/sb_peer_main.c) and, in "stack" mode, against the
// whole AOS stack on the servicebus profile (docs/servicebus.md, "Talking to AOS with the SDK").
// Started by servicebus_stack.mjs with NODE_EXTRA_CA_CERTS = the test CA (the peer speaks TLS)
// and AOS_TEST_SB_CONNECTION_STRING = Endpoint=sb://localhost:<port>/;SharedAccessKeyName=…;…
//
//   node servicebus_sdk.mjs peer     the peer behaves like Service Bus for the SDK
//   node servicebus_sdk.mjs stack    a turn, aos.events, the ingress entity (needs the stack)
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { ServiceBusClient } from "@azure/service-bus";

const cs = process.env.AOS_TEST_SB_CONNECTION_STRING;
const mode = process.argv[2];
if (!cs || !["peer", "stack"].includes(mode)) {
  console.error("usage: AOS_TEST_SB_CONNECTION_STRING=… node servicebus_sdk.mjs peer|stack");
  process.exit(2);
}
const TIMEOUT = 60000;
const step = (s) => console.log(`sdk: ${s}`);

// Receive from a receiver until pred matches one message (others are completed and skipped).
async function receiveMatching(receiver, pred, what, timeoutMs = TIMEOUT) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const got = await receiver.receiveMessages(10, { maxWaitTimeInMs: 2000 });
    for (const m of got) {
      await receiver.completeMessage(m);
      if (pred(m)) return m;
    }
  }
  throw new Error(`timed out waiting for ${what}`);
}

function cloudEvent(type, data, extra = {}) {
  const id = extra.id || randomUUID();
  return {
    messageId: id,
    contentType: "application/json",
    body: data,
    applicationProperties: {
      "cloudEvents:specversion": "1.0",
      "cloudEvents:id": id,
      "cloudEvents:type": type,
      "cloudEvents:source": extra.source || "urn:example:sdk-test",
      "cloudEvents:time": new Date().toISOString(),
      ...(extra.subject ? { "cloudEvents:subject": extra.subject } : {}),
    },
    ...(extra.sessionId ? { sessionId: extra.sessionId } : {}),
    ...(extra.replyTo ? { replyTo: extra.replyTo } : {}),
    ...(extra.replyToSessionId ? { replyToSessionId: extra.replyToSessionId } : {}),
  };
}

async function peerChecks(client) {
  // a plain queue: peek-lock, complete, dead-letter, the dead-letter queue
  const q = "sdk.probe";
  const sender = client.createSender(q);
  await sender.sendMessages({ body: { n: 1 }, messageId: "p-1", contentType: "application/json" });
  await sender.sendMessages([{ body: { n: 2 } }, { body: { n: 3 } }]);
  const r = client.createReceiver(q);
  const got = [];
  while (got.length < 3) {
    for (const m of await r.receiveMessages(3, { maxWaitTimeInMs: 5000 })) got.push(m);
  }
  assert.deepEqual(got.map((m) => m.body.n), [1, 2, 3]);
  assert.equal(got[0].messageId, "p-1");
  assert.ok(got[0].sequenceNumber !== undefined && got[0].enqueuedTimeUtc instanceof Date);
  await r.completeMessage(got[0]);
  await r.completeMessage(got[1]);
  await r.deadLetterMessage(got[2], { deadLetterReason: "probe", deadLetterErrorDescription: "by the SDK" });
  const dlr = client.createReceiver(q, { subQueueType: "deadLetter" });
  const [dl] = await dlr.receiveMessages(1, { maxWaitTimeInMs: 10000 });
  assert.ok(dl, "a dead letter");
  assert.equal(dl.body.n, 3);
  assert.equal(dl.deadLetterReason, "probe");
  assert.equal(dl.deadLetterErrorDescription, "by the SDK");
  await dlr.completeMessage(dl);
  step("queue, complete, dead-letter, $deadletterqueue: ok");

  // abandon comes back with a higher delivery count
  await sender.sendMessages({ body: { n: 4 } });
  const [a1] = await r.receiveMessages(1, { maxWaitTimeInMs: 10000 });
  await r.abandonMessage(a1);
  const [a2] = await r.receiveMessages(1, { maxWaitTimeInMs: 10000 });
  assert.equal(a2.body.n, 4);
  assert.ok((a2.deliveryCount ?? 0) > (a1.deliveryCount ?? 0), "delivery count grows");
  await r.completeMessage(a2);
  step("abandon and redelivery: ok");

  // a topic fans out to every subscription
  const ts = client.createSender("aos.events");
  await ts.sendMessages(cloudEvent("sdk.probe.event", { hello: "topic" }));
  for (const sub of ["app", "aos-router"]) {
    const sr = client.createReceiver("aos.events", sub);
    const m = await receiveMatching(sr, (x) => x.body && x.body.hello === "topic", `topic copy on ${sub}`);
    assert.equal(m.applicationProperties["cloudEvents:type"], "sdk.probe.event");
    await sr.close();
  }
  step("topic with two subscriptions: ok");

  // sessions: the SDK's session filter, next-available and named sessions, order kept
  const ss = client.createSender("aos.agent.default");
  for (let i = 0; i < 3; i++) await ss.sendMessages({ body: { i }, sessionId: "conv-a" });
  await ss.sendMessages({ body: { i: 0 }, sessionId: "conv-b" });
  const sa = await client.acceptSession("aos.agent.default", "conv-a");
  const inA = [];
  while (inA.length < 3) inA.push(...(await sa.receiveMessages(3, { maxWaitTimeInMs: 5000 })));
  assert.deepEqual(inA.map((m) => m.body.i), [0, 1, 2]);
  for (const m of inA) await sa.completeMessage(m);
  const sb = await client.acceptNextSession("aos.agent.default");
  assert.equal(sb.sessionId, "conv-b");
  const [b0] = await sb.receiveMessages(1, { maxWaitTimeInMs: 5000 });
  assert.equal(b0.sessionId, "conv-b");
  await sb.completeMessage(b0);
  await sa.close();
  await sb.close();
  step("sessions (named and next available): ok");

  // a dead-lettered session message lands in the queue's (sessionless) dead-letter queue
  await ss.sendMessages({ body: { i: 7 }, sessionId: "conv-d", messageId: "dl-7" });
  const sd = await client.acceptSession("aos.agent.default", "conv-d");
  const [d7] = await sd.receiveMessages(1, { maxWaitTimeInMs: 5000 });
  await sd.deadLetterMessage(d7, { deadLetterReason: "poison", deadLetterErrorDescription: "cannot parse" });
  await sd.close();
  const sdl = client.createReceiver("aos.agent.default", { subQueueType: "deadLetter" });
  const [dl7] = await sdl.receiveMessages(1, { maxWaitTimeInMs: 10000 });
  assert.ok(dl7, "the session message's dead letter");
  assert.equal(dl7.messageId, "dl-7");
  assert.equal(dl7.deadLetterReason, "poison");
  await sdl.completeMessage(dl7);
  await sdl.close();
  step("session queue dead letter: ok");

  // a session queue refuses a message without SessionId
  await assert.rejects(ss.sendMessages({ body: { i: 9 } }), /SessionId/);
  // an entity that does not exist
  const nx = client.createSender("no.such.queue");
  await assert.rejects(nx.sendMessages({ body: 1 }), (e) => /could not be found|not.?found/i.test(`${e.code} ${e.message}`));
  step("refusals (no SessionId, unknown entity): ok");
}

async function wrongKey() {
  const bad = cs.replace(/SharedAccessKey=[^;]*/, "SharedAccessKey=d3JvbmcK");
  const c = new ServiceBusClient(bad, { retryOptions: { maxRetries: 0, timeoutInMs: 10000 } });
  await assert.rejects(c.createSender("sdk.probe").sendMessages({ body: 1 }), (e) =>
    /Unauthorized|401|signature/i.test(`${e.code} ${e.message}`));
  await c.close();
  step("a wrong key is refused at put-token: ok");
}

async function stackChecks(client) {
  const agent = process.env.AOS_TEST_AGENT || "default";
  // 1. a turn straight onto the agent's queue, the reply on aos.reply in our own session
  const conv = `c-sdk-${randomUUID().slice(0, 8)}`;
  const replySession = `sdk-app-${randomUUID().slice(0, 8)}`;
  const turn = cloudEvent(
    "aos.agent.turn",
    { conversation_id: conv, message_id: `m-${randomUUID()}`, agent, text: "What is the budget?", user: "sdk", kind: "query" },
    { sessionId: conv, replyTo: "aos.reply", replyToSessionId: replySession, subject: conv });
  const events = client.createReceiver("aos.events", "app");
  await client.createSender(`aos.agent.${agent}`).sendMessages(turn);
  const rs = await client.acceptSession("aos.reply", replySession);
  const [reply] = await (async () => {
    const end = Date.now() + TIMEOUT;
    while (Date.now() < end) {
      const got = await rs.receiveMessages(1, { maxWaitTimeInMs: 3000 });
      if (got.length) return got;
    }
    throw new Error("no reply on aos.reply");
  })();
  await rs.completeMessage(reply);
  await rs.close();
  assert.equal(reply.correlationId, turn.messageId, "reply correlates with the turn");
  assert.equal(reply.sessionId, replySession);
  assert.equal(reply.applicationProperties["cloudEvents:type"], "aos.agent.turn.result");
  assert.equal(reply.body.conversation_id, conv);
  assert.ok(typeof reply.body.reply === "string" && reply.body.reply.length > 0, "a reply text");
  step(`turn on aos.agent.${agent} answered on aos.reply session ${replySession}: ok`);

  // 2. aos.events from the application's subscription: the reply event of that turn
  const ev = await receiveMatching(events, (m) =>
    m.applicationProperties["cloudEvents:type"] === "aos.agent.reply" && m.body && m.body.conversation_id === conv,
    "aos.agent.reply on aos.events/Subscriptions/app");
  assert.equal(ev.contentType, "application/json");
  step("aos.agent.reply read from aos.events/Subscriptions/app: ok");

  // 3. a CloudEvent to the ingress queue becomes a turn for every subscribed agent, once
  const evType = process.env.AOS_TEST_INGRESS_TYPE || "com.example.invoice.overdue";
  const id = `sdk-ingress-${randomUUID()}`;
  const msg = cloudEvent(evType, { invoice: "INV-42", amount: 1200 }, { id, source: "urn:example:billing", subject: "INV-42" });
  const ingress = client.createSender("aos.ingress");
  await ingress.sendMessages(msg);
  await ingress.sendMessages(msg); // a retried publish: same id, same effect
  const actions = [];
  const end = Date.now() + TIMEOUT;
  while (Date.now() < end) {
    for (const m of await events.receiveMessages(10, { maxWaitTimeInMs: 2000 })) {
      await events.completeMessage(m);
      const t = m.applicationProperties["cloudEvents:type"];
      if ((t === "aos.agent.action" || t === "aos.agent.reply") && JSON.stringify(m.body).includes(id)) actions.push(m);
    }
    if (actions.some((m) => m.applicationProperties["cloudEvents:type"] === "aos.agent.action")) break;
  }
  const acts = actions.filter((m) => m.applicationProperties["cloudEvents:type"] === "aos.agent.action");
  assert.ok(acts.length >= 1, "an aos.agent.action for the ingress event");
  step(`ingress CloudEvent ${id} became ${acts.length} action(s): ok`);
  await events.close();
  console.log(JSON.stringify({ ingress_event_id: id, actions: acts.map((m) => m.body.agent) }));
}

const client = new ServiceBusClient(cs, { retryOptions: { maxRetries: 2, timeoutInMs: 30000 } });
try {
  if (mode === "peer") {
    await peerChecks(client);
    await wrongKey();
  } else {
    await stackChecks(client);
  }
  step(`${mode}: all ok`);
} catch (e) {
  console.error("sdk: FAILED:", e);
  process.exitCode = 1;
} finally {
  await client.close();
}
