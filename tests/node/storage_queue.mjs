// Azure Storage queues for applications (issue 8 item 8; docs/storage.md "Azure Storage queues
// for applications"), run by ctest against the Azurite and RabbitMQ fixtures:
//   node storage_queue.mjs <bin dir>
// An application uses only Microsoft's @azure/storage-queue: it puts CloudEvents on the request
// queue (raw JSON, the SDK's default, and base64 as older SDKs and Functions write them), and
// reads the agent's actions and replies from the response queue. In between: aos-storage's
// queue bridge -> the router's /v1/events -> a turn for the subscribed agent on the runner ->
// aos.events -> the event relay -> the response queue. A message that is no CloudEvent ends
// in "<queue>-poison"; handled messages are deleted.
import { randomUUID } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import assert from "node:assert/strict";

import { QueueServiceClient } from "@azure/storage-queue";

import { Proc, fixture, freePort, tag, tempDir, waitFor } from "./aos_stack.mjs";

const [binDir] = process.argv.slice(2);
if (!binDir) {
  console.error("usage: node storage_queue.mjs <bin dir>");
  process.exit(2);
}
const conn = fixture("azurite", "connection_string");
const busUrl = fixture("rabbitmq", "url");
const t = tag();
const AGENT = "xqueue";
const inQ = `aos-in-${t}`;
const outQ = `aos-out-${t}`;
const dir = tempDir("squeue");
const procs = [];

const queues = QueueServiceClient.fromConnectionString(conn);
// The router talks to aos.storage (it has no queue override), so this test's aos-storage serves
// aos.storage; ctest's RESOURCE_LOCK aos_agent_queues keeps other stacks off it meanwhile.
const commonEnv = { AOS_BUS_URL: busUrl, AOS_BUS_PROFILE: "rabbitmq", AOS_LOG_LEVEL: process.env.AOS_TEST_LOG_LEVEL ?? "info" };

function writeConfig() {
  const cfg = {
    default_agent: AGENT,
    settings: { storage_timeout_ms: 10000, heartbeat_interval_ms: 1000 },
    agents: [{ name: AGENT, purpose: "You handle orders.", event_subscriptions: [`com.example.${t}.*`] }],
  };
  const path = join(dir, "aos.json");
  writeFileSync(path, JSON.stringify(cfg));
  return path;
}

async function startStack() {
  const config = writeConfig();
  const httpPort = await freePort();
  const router = new Proc(join(binDir, "aos-router"), "router", dir, {
    ...commonEnv, AOS_CONFIG: config, AOS_HTTP_ADDR: `127.0.0.1:${httpPort}`, AOS_INSTANCE_ID: `xqrouter-${t}`,
  });
  const runner = new Proc(join(binDir, "aos-agent-runner"), "runner", dir, {
    ...commonEnv, AOS_CONFIG: config, AOS_AGENTS: AGENT, AOS_INSTANCE_ID: `xqrunner-${t}`, AOS_SHUTDOWN_GRACE: "5s",
  });
  const storage = new Proc(join(binDir, "aos-storage"), "storage", dir, {
    ...commonEnv, AOS_SQLITE_PATH: join(dir, "aos.db"), AOS_INSTANCE_ID: `xqstorage-${t}`,
    AZURE_STORAGE_CONNECTION_STRING: conn, AOS_STORAGE_QUEUE_IN: inQ, AOS_STORAGE_QUEUE_OUT: outQ,
    AOS_ROUTER_URL: `http://127.0.0.1:${httpPort}`, AOS_STORAGE_QUEUE_POLL: "200ms",
    AOS_EVENTS_RELAY_QUEUE: "aos.test.xrelay",
  });
  procs.push(storage, runner, router);
  await storage.start();
  await Promise.all([runner.start(), router.start()]);
}

const cloudEvent = (type, data) => ({
  specversion: "1.0", id: randomUUID(), type, source: "/apps/orders", time: new Date().toISOString(),
  datacontenttype: "application/json", data,
});

// Every message of the response queue so far, decoded (base64 by default).
async function drain(client, seen) {
  for (;;) {
    const r = await client.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 30 });
    if (r.receivedMessageItems.length === 0) return;
    for (const m of r.receivedMessageItems) {
      const ev = JSON.parse(Buffer.from(m.messageText, "base64").toString("utf8"));
      seen.push(ev);
      await client.deleteMessage(m.messageId, m.popReceipt);
    }
  }
}

let failed = false;
try {
  await startStack();
  const inClient = queues.getQueueClient(inQ);
  const outClient = queues.getQueueClient(outQ);
  // aos-storage created both queues (and the poison queue) at start
  await waitFor("the queues", async () => (await inClient.exists()) && (await outClient.exists()), 30000);

  const raw = cloudEvent(`com.example.${t}.created`, { order: 1, item: "laptop" });
  const b64 = cloudEvent(`com.example.${t}.cancelled`, { order: 2 });
  await inClient.sendMessage(JSON.stringify(raw)); // @azure/storage-queue sends text as it is
  await inClient.sendMessage(Buffer.from(JSON.stringify(b64)).toString("base64"));
  await inClient.sendMessage("this is not a CloudEvent");

  const seen = [];
  // the action names its source event; the reply of the same turn has the sibling event id
  const actionFor = (id) => seen.find((e) => e.type === "aos.agent.action" && e.data.source_event?.id === id);
  const replyFor = (id) => {
    const a = actionFor(id);
    return a && seen.find((e) => e.type === "aos.agent.reply" && e.id === a.id.replace(/:action$/, ":reply"));
  };
  try {
    await waitFor("actions and replies on the response queue", async () => {
      await drain(outClient, seen);
      return [raw.id, b64.id].every((id) => actionFor(id) && replyFor(id));
    }, Number(process.env.AOS_TEST_WAIT_MS ?? 300000), 500);
  } catch (e) {
    console.error(`response queue had ${seen.length} events:`, JSON.stringify(seen.slice(0, 6), null, 1));
    throw e;
  }
  for (const id of [raw.id, b64.id]) {
    const action = actionFor(id);
    assert.equal(action.specversion, "1.0");
    assert.equal(action.data.agent, AGENT);
    assert.ok(action.data.text.length > 0, JSON.stringify(action));
    assert.equal(replyFor(id).data.kind, "event");
  }
  // the garbage message went to the poison queue, nothing is left in the request queue
  const poison = queues.getQueueClient(`${inQ}-poison`);
  await waitFor("the poison message", async () => {
    const p = await poison.peekMessages({ numberOfMessages: 5 });
    return p.peekedMessageItems.some((m) => m.messageText === "this is not a CloudEvent");
  }, 60000, 300);
  await waitFor("an empty request queue", async () => {
    const props = await inClient.getProperties();
    return props.approximateMessagesCount === 0;
  }, 60000, 300);
  console.log("storage queue: raw and base64 CloudEvents became turns; actions and replies came back; garbage poisoned");
} catch (err) {
  failed = true;
  console.error("storage queue FAILED:", err);
  for (const p of procs) p.dumpLog();
} finally {
  for (const p of [...procs].reverse()) await p.stop();
  if (!failed) rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
