// The operator console in a real browser (issue 14, docs/console.md): Debian's headless
// chromium, driven over W3C WebDriver by chromedriver (plain HTTP with Node's fetch; no npm
// package), against the real aos-storage + aos-agent-runner + aos-ml-pipeline + aos-router on
// the RabbitMQ fixture. Loads every page, follows a message sent through the API into its
// transcript (a message with <script> shows as text and runs nothing), replays and deletes
// dead letters, starts and cancels a training job, and saves a screenshot of each page.
//
//   node console_browser.mjs <bin dir> <aos.json> <source dir> <screenshot dir>
//
// Fails (never skips) when chromium or chromedriver is missing: scripts/deps.sh installs them.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";

import { Amqp, Proc, fixture, freePort, queueAddress, sleep, tempDir, waitFor } from "./aos_stack.mjs";

const [binDir, config, srcDir, shotDir] = process.argv.slice(2);
if (!shotDir) {
  console.error("usage: console_browser.mjs <bin dir> <aos.json> <source dir> <screenshot dir>");
  process.exit(2);
}
const CHROMIUM = process.env.AOS_CHROMIUM ?? "/usr/bin/chromium";
const CHROMEDRIVER = process.env.AOS_CHROMEDRIVER ?? "/usr/bin/chromedriver";
for (const [what, p] of [["chromium", CHROMIUM], ["chromedriver", CHROMEDRIVER]]) {
  if (!existsSync(p)) {
    console.error(`not ok - ${what} not found at ${p}: install it (scripts/deps.sh: apt-get install chromium chromium-driver)`);
    process.exit(1);
  }
}
mkdirSync(shotDir, { recursive: true });

const KEY = "console-test-key-0123456789abcdef";
const dir = tempDir("console");
const busUrl = fixture("rabbitmq", "url");
const procs = [];
let failures = 0;

async function check(name, fn) {
  try {
    await fn();
    console.log(`ok - ${name}`);
  } catch (e) {
    failures++;
    console.log(`not ok - ${name}\n  ${e && e.stack}`);
    await shot(`failed-${name.replace(/[^a-z0-9]+/gi, "-").slice(0, 60)}`).catch(() => {});
  }
}

// ---- the stack ----
async function start(bin, name, env) {
  const p = new Proc(join(binDir, bin), name, dir, {
    AOS_BUS_URL: busUrl, AOS_BUS_PROFILE: "rabbitmq", AOS_CONFIG: config,
    AOS_SQLITE_PATH: join(dir, "aos.db"), AOS_LOG_LEVEL: "info",
    AOS_HTTP_ADDR: `127.0.0.1:${await freePort()}`, AOS_INSTANCE_ID: `console-${name}`, ...env,
  });
  procs.push(p);
  return p.start();
}

// ---- WebDriver over HTTP ----
const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";
let wdBase = null;
let session = null;

async function wd(method, path, body) {
  const res = await fetch(`${wdBase}${path}`, {
    method, headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(60000),
  });
  const j = await res.json();
  if (!res.ok) {
    const err = new Error(`webdriver ${method} ${path}: ${j.value?.error} ${j.value?.message?.split("\n")[0]}`);
    err.wd = j.value?.error;
    throw err;
  }
  return j.value;
}
const s = (p) => `/session/${session}${p}`;
const navigate = (url) => wd("POST", s("/url"), { url });
const exec = (script, ...args) => wd("POST", s("/execute/sync"), { script, args });
const findAll = (css) => wd("POST", s("/elements"), { using: "css selector", value: css }).then((l) => l.map((e) => e[ELEMENT]));
async function find(css, timeoutMs = 20000) {
  return waitFor(`element ${css}`, async () => (await findAll(css))[0], timeoutMs, 100);
}
const click = (id) => wd("POST", s(`/element/${id}/click`), {});
const type = (id, text) => wd("POST", s(`/element/${id}/value`), { text });
const textOf = (id) => wd("GET", s(`/element/${id}/text`));
const clearEl = (id) => wd("POST", s(`/element/${id}/clear`), {});
async function shot(name) {
  if (!session) return;
  const png = await wd("GET", s("/screenshot"));
  writeFileSync(join(shotDir, `${name}.png`), Buffer.from(png, "base64"));
}
const bodyText = () => exec("return document.body.innerText");
const go = (hash) => exec("location.hash = arguments[0]", hash);

async function api(method, path, body) {
  const res = await fetch(`${router.url}${path}`, {
    method, headers: { authorization: `Bearer ${KEY}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined, signal: AbortSignal.timeout(60000),
  });
  const text = await res.text();
  let data = null;
  try { data = JSON.parse(text); } catch { data = text; }
  return { status: res.status, data, headers: res.headers };
}

let router = null;
let driver = null;
let amqp = null;
try {
  await start("aos-storage", "storage");
  await start("aos-agent-runner", "runner");
  await start("aos-ml-pipeline", "ml", {
    AOS_ML_WORKDIR: join(dir, "ml"), AOS_ML_TRAINER_CMD: join(srcDir, "tests/ml/test_trainer.sh"),
    AOS_ML_LEASE: "2s", AOS_ML_POLL: "100ms", AOS_ML_CANCEL_GRACE: "1s", AOS_ML_MAX_JOBS: "4",
  });
  const apiPort = await freePort();
  router = await start("aos-router", "router", { AOS_HTTP_ADDR: `127.0.0.1:${apiPort}`, AOS_API_KEYS: KEY });
  router.url = `http://127.0.0.1:${apiPort}`;
  amqp = await new Amqp(busUrl).open();

  // Training data for the ML page, through the storage service like any client.
  const put = spawnSync(join(binDir, "aosctl"), ["blob", "put", "training", "console/cfo.jsonl", "-"], {
    input: '{"prompt":"What is our Q3 budget?","completion":"1.2 M EUR"}\n{"prompt":"Cash?","completion":"Enough for 18 months."}\n',
    env: { ...process.env, AOS_BUS_URL: busUrl, AOS_BUS_PROFILE: "rabbitmq" }, encoding: "utf8",
  });
  assert.equal(put.status, 0, `aosctl blob put: ${put.stderr}`);

  // chromedriver + headless chromium
  const wdPort = await freePort();
  driver = spawn(CHROMEDRIVER, [`--port=${wdPort}`], { stdio: "ignore" });
  wdBase = `http://127.0.0.1:${wdPort}`;
  await waitFor("chromedriver", async () => (await fetch(`${wdBase}/status`)).ok, 30000, 200);
  const created = await wd("POST", "/session", {
    capabilities: {
      alwaysMatch: {
        browserName: "chrome",
        "goog:chromeOptions": {
          binary: CHROMIUM,
          args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--window-size=1440,960", `--user-data-dir=${join(dir, "chromium")}`, "--no-first-run"],
        },
        "goog:loggingPrefs": { browser: "ALL" },
      },
    },
  });
  session = created.sessionId;
  await wd("POST", s("/timeouts"), { script: 30000, pageLoad: 60000, implicit: 0 });

  await check("console assets: compiled in, strict CSP, no inline script", async () => {
    const res = await fetch(`${router.url}/console`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^text\/html/);
    const csp = res.headers.get("content-security-policy");
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    const html = await res.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, "an inline script in index.html");
    for (const f of ["app.js", "charts.js", "app.css"]) {
      const r = await fetch(`${router.url}/console/${f}`);
      assert.equal(r.status, 200, f);
      assert.ok(r.headers.get("content-security-policy"), `${f} without CSP`);
    }
    const js = await (await fetch(`${router.url}/console/app.js`)).text();
    for (const sink of [/innerHTML/, /outerHTML/, /insertAdjacentHTML/, /document\.write/, /\beval\(/, /new Function/])
      assert.ok(!sink.test(js), `app.js uses an HTML/script sink: ${sink}`);
    const missing = await fetch(`${router.url}/console/nope.js`);
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).error.code, "not_found");
  });

  await check("new routes refuse bad input with a JSON error", async () => {
    for (const [m, p, status] of [
      ["GET", "/v1/conversations?since=yesterday", 400], ["GET", "/v1/conversations?limit=0", 400],
      ["GET", "/v1/conversations?agent=no%20such", 400], ["GET", "/v1/deadletters/aos.agent.nope", 404],
      ["GET", "/v1/deadletters/aos.agent.cfo?limit=9999", 400],
      ["POST", "/v1/deadletters/aos.agent.cfo/has%20space/replay", 400],
      ["DELETE", "/v1/deadletters/aos.agent.nope/x", 404]]) {
      const r = await api(m, p);
      assert.equal(r.status, status, `${m} ${p}: ${JSON.stringify(r.data)}`);
      assert.ok(r.data.error && r.data.error.code && r.data.error.message, `${m} ${p}: ${JSON.stringify(r.data)}`);
    }
    const anon = await fetch(`${router.url}/v1/conversations`);
    assert.equal(anon.status, 401);
  });

  await check("agents page: the key entered once, agents healthy from heartbeats", async () => {
    await navigate(`${router.url}/console`);
    const input = await find("#apikey");
    await type(input, KEY);
    await click(await find("#login-form button[type=submit]"));
    await find('#agents-table tr[data-agent="cfo"]');
    await waitFor("cfo healthy", async () => /healthy/.test(await textOf(await find('#agents-table tr[data-agent="cfo"]'))), 40000, 500);
    const text = await bodyText();
    assert.ok(!text.includes(KEY), "the API key is shown on the page");
    assert.equal(await exec("return document.getElementById('apikey').value"), "");
    const row = await textOf(await find('#agents-table tr[data-agent="cmo"]'));
    assert.match(row, /cron 0 8 \* \* 1/);
    await shot("agents");
    // the key is kept for the session: a reload needs no login
    await navigate(`${router.url}/console#/agents`);
    await find('#agents-table tr[data-agent="cfo"]');
    assert.equal(await exec("return document.getElementById('login').hidden"), true);
  });

  const HOSTILE = 'What is our budget for Q3? <script>window.__xss = 1</script><img src=x onerror="window.__xss = 2"> <b>bold?</b>';
  let convId = null;
  await check("a message sent through the API shows in its transcript, as text", async () => {
    const r = await api("POST", "/v1/messages", { text: HOSTILE });
    assert.equal(r.status, 200, JSON.stringify(r.data));
    convId = r.data.conversation_id;
    await go(`#/conversation/${encodeURIComponent(convId)}`);
    await find('#transcript .msg[data-role="assistant"]');
    const user = await find('#transcript .msg[data-role="user"] .content');
    assert.equal(await exec("return arguments[0].textContent", { [ELEMENT]: user }), HOSTILE);
    assert.equal(await exec("return document.querySelectorAll('#transcript script, #transcript img, #transcript b').length"), 0);
    await sleep(300);
    assert.equal(await exec("return window.__xss === undefined"), true, "the message ran as script");
    const meta = await textOf(await find('#transcript .msg[data-role="assistant"] .meta'));
    for (const want of [/agent\s+cfo/, /model\s+\S+/, /usage\s+\d+ in \+ \d+ out/, /latency\s+\d+ ms/, /trace id\s+[0-9a-f]{32}/])
      assert.match(meta, want);
    const umeta = await textOf(await find('#transcript .msg[data-role="user"] .meta'));
    assert.match(umeta, /routing\s+keyword:budget/);
    await shot("transcript");
  });

  await check("conversations page: search by id part, agent and time", async () => {
    await go("#/conversations");
    const q = await find('#conv-search input[name="q"]');
    await type(q, convId.slice(2, 14));
    await click(await find('#conv-search button[type="submit"]'));
    await find(`#conversations-table tr[data-conversation-id="${convId}"]`);
    const rows = await findAll("#conversations-table tbody tr[data-conversation-id]");
    assert.equal(rows.length, 1);
    await shot("conversations");
    const since = new Date(Date.now() - 3600e3).toISOString();
    const r = await api("GET", `/v1/conversations?agent=cfo&since=${encodeURIComponent(since)}`);
    assert.equal(r.status, 200);
    assert.ok(r.data.conversations.some((c) => c.id === convId));
    const none = await api("GET", `/v1/conversations?agent=cmo&q=${encodeURIComponent(convId)}`);
    assert.equal(none.data.conversations.length, 0);
    const future = await api("GET", `/v1/conversations?since=${Date.now() + 3600e3}`);
    assert.equal(future.data.conversations.length, 0);
  });

  // Dead letters: a poison turn (the runner dead-letters it: aos:poison) and a good turn
  // that sits in the dead-letter queue as the bus writes it (as if its model had been down).
  // On ceo's queue: other tests leave their dead letters on cfo's, and a listing shows the
  // oldest first.
  const replayConv = `c-console-replay-${Date.now()}`;
  const goodId = `m-console-good-${Date.now()}`;
  let poisonId = null;
  await check("dead letters page: reason, description, age; replay leaves the list", async () => {
    poisonId = await amqp.send(queueAddress("aos.agent.ceo"), { type: "aos.agent.turn", data: "this is not a turn" });
    await amqp.send(queueAddress("aos.agent.ceo.dlq"), {
      id: goodId, type: "aos.agent.turn",
      data: { conversation_id: replayConv, message_id: goodId, agent: "ceo", text: "Replay me: what is our cash flow?", kind: "query", routing: { reason: "explicit" } },
    }, {
      group_id: replayConv,
      application_properties: {
        "cloudEvents:specversion": "1.0", "cloudEvents:id": goodId, "cloudEvents:type": "aos.agent.turn",
        "cloudEvents:source": "/tests/console", "cloudEvents:time": new Date(Date.now() - 90e3).toISOString(),
        "aos:dead-letter-reason": "aos:model-unavailable", "aos:dead-letter-description": "model failed on every endpoint <b>(test)</b>",
        "aos:dead-letter-source": "/amq/queue/aos.agent.ceo",
      },
    });
    await go("#/deadletters/aos.agent.ceo");
    await waitFor("both dead letters listed", async () => {
      const rows = await findAll("#deadletters-table tr[data-dead-letter-id]");
      if (rows.length >= 2) return true;
      await click(await find("#dl-refresh"));
      await sleep(2500);
      return false;
    }, 60000, 200);
    const good = await textOf(await find(`#deadletters-table tr[data-dead-letter-id="${goodId}"]`));
    assert.match(good, /aos:model-unavailable/);
    assert.match(good, /model failed on every endpoint <b>\(test\)<\/b>/);
    assert.match(good, /(1|2) min/);
    const poison = await textOf(await find(`#deadletters-table tr[data-dead-letter-id="${poisonId}"]`));
    assert.match(poison, /aos:poison/);
    await shot("deadletters");
    await click(await find(`#deadletters-table tr[data-dead-letter-id="${goodId}"] button.replay`));
    await find("#confirm[open]");
    await shot("deadletters-confirm");
    await click(await find("#confirm-ok"));
    await waitFor("the replayed dead letter leaves the list", async () =>
      (await findAll(`#deadletters-table tr[data-dead-letter-id="${goodId}"]`)).length === 0 &&
      (await findAll(`#deadletters-table tr[data-dead-letter-id="${poisonId}"]`)).length === 1, 30000, 300);
    // the replayed turn ran: its answer is in its conversation
    await waitFor("the replayed turn answered", async () => {
      const r = await api("GET", `/v1/conversations/${replayConv}`);
      return r.status === 200 && r.data.messages.some((m) => m.role === "assistant");
    }, 30000, 300);
  });

  await check("dead letters page: delete with confirmation; cancel keeps it", async () => {
    await click(await find(`#deadletters-table tr[data-dead-letter-id="${poisonId}"] button.delete`));
    await click(await find("#confirm[open] #confirm-cancel"));
    await sleep(300);
    assert.equal((await findAll(`#deadletters-table tr[data-dead-letter-id="${poisonId}"]`)).length, 1);
    await click(await find(`#deadletters-table tr[data-dead-letter-id="${poisonId}"] button.delete`));
    await click(await find("#confirm[open] #confirm-ok"));
    await waitFor("the deleted dead letter leaves the list", async () =>
      (await findAll(`#deadletters-table tr[data-dead-letter-id="${poisonId}"]`)).length === 0 &&
      /Deleted/.test(await textOf(await find("#status"))), 30000, 300);
    const again = await api("GET", "/v1/deadletters/aos.agent.ceo");
    assert.ok(!again.data.dead_letters.some((d) => d.id === poisonId || d.id === goodId));
    const gone = await api("POST", `/v1/deadletters/aos.agent.ceo/${encodeURIComponent(poisonId)}/replay`);
    assert.equal(gone.status, 404);
  });

  await check("the poison turn's conversation marker and the failed-turn mark", async () => {
    // a quarantined turn of a conversation that exists: marked failed in its transcript
    const first = await api("POST", "/v1/messages", { text: "hello there", agent: "cfo" });
    assert.equal(first.status, 200);
    const cid = first.data.conversation_id;
    const wrongId = `m-poison-${Date.now()}`;
    await amqp.send(queueAddress("aos.agent.cfo"), { id: wrongId, type: "aos.agent.turn", data: { conversation_id: cid, message_id: wrongId, agent: "ceo", text: "wrong agent" } }, { group_id: cid });
    await waitFor("the failed marker", async () => {
      const r = await api("GET", `/v1/conversations/${cid}`);
      return r.data.messages.some((m) => m.role === "error");
    }, 30000, 300);
    await go(`#/conversation/${encodeURIComponent(cid)}`);
    const marker = await find('#transcript .msg[data-role="error"]');
    assert.match(await textOf(marker), /QUARANTINED|FAILED/i);
    await shot("transcript-failed");
    // its dead letter, deleted through the API (also: no leftovers for other tests)
    await waitFor("the quarantined turn deleted", async () =>
      (await api("DELETE", `/v1/deadletters/aos.agent.cfo/${encodeURIComponent(wrongId)}`)).status === 200, 20000, 500);
  });

  await check("ML page: start a training job on a blob, see its steps and progress, cancel it", async () => {
    const ok = await api("POST", "/v1/ml/adapters/cmo/train", { data: { container: "training", name: "console/cfo.jsonl" }, base_model: "test:ok" });
    assert.equal(ok.status, 202, JSON.stringify(ok.data));
    await go("#/ml");
    await find("#train-form");
    await wd("POST", s(`/element/${await find('#train-form select[name="agent"] option[value="cfo"]')}/click`), {});
    await type(await find('#train-form input[name="blob"]'), "console/cfo.jsonl");
    await type(await find('#train-form input[name="base_model"]'), "test:slow");
    await click(await find('#train-form button[type="submit"]'));
    const row = await waitFor("a running cfo job with progress", async () => {
      for (const id of await findAll('#jobs-table tr[data-job-id][data-state="running"]')) {
        const t = await textOf(id);
        if (/cfo/.test(t) && /\d+\/300/.test(t)) return id;
      }
      return null;
    }, 60000, 300);
    const jobId = await exec("return arguments[0].dataset.jobId", { [ELEMENT]: row });
    await waitFor("the steps and the trainer's log shown", async () => {
      const d = await exec("const d = document.querySelector('.job-details'); return d ? d.innerText : ''");
      return /validate_data/.test(d) && /not a protocol line/.test(d);
    }, 10000, 200);
    await waitFor("the cmo adapter ready", async () => /ready/.test(await textOf(await find('#adapters-table tr[data-adapter-agent="cmo"]'))), 30000, 300);
    await shot("ml");
    await click(await find(`#jobs-table tr[data-job-id="${jobId}"] button.cancel`));
    await click(await find("#confirm[open] #confirm-ok"));
    await waitFor("the job cancelled", async () => (await findAll(`#jobs-table tr[data-job-id="${jobId}"][data-state="cancelled"]`)).length === 1, 30000, 300);
    const j = await api("GET", `/v1/ml/jobs/${jobId}`);
    assert.equal(j.data.state, "cancelled");
    await shot("ml-cancelled");
  });

  await check("live page: turns/s, latency percentiles and errors per agent from the router's metrics", async () => {
    await go("#/live");
    for (let i = 0; i < 4; i++) await api("POST", "/v1/messages", { text: `budget question ${i}` });
    await waitFor("cfo in the live table with a rate", async () => {
      const rows = await findAll('#live-table tr[data-live-agent="cfo"]');
      return rows.length === 1;
    }, 20000, 300);
    for (let i = 0; i < 4; i++) await api("POST", "/v1/messages", { text: `cost question ${i}` });
    await waitFor("a line in the turns chart", async () => (await findAll("#chart-rate polyline")).length > 0, 20000, 300);
    const row = await textOf(await find('#live-table tr[data-live-agent="cfo"]'));
    assert.match(row, /\d+ ms|\d\.\d+ s/);
    const metrics = await api("GET", "/v1/metrics");
    assert.equal(metrics.status, 200);
    assert.match(metrics.data, /aos_router_agent_turns_total\{agent="cfo",result="ok"\} \d+/);
    await shot("live");
  });

  await check("keyboard: number keys switch pages", async () => {
    await exec("document.activeElement && document.activeElement.blur()");
    await wd("POST", s("/actions"), { actions: [{ type: "key", id: "kb", actions: [{ type: "keyDown", value: "1" }, { type: "keyUp", value: "1" }] }] });
    await find('#agents-table tr[data-agent="cfo"]');
    await wd("POST", s("/actions"), { actions: [{ type: "key", id: "kb", actions: [{ type: "keyDown", value: "3" }, { type: "keyUp", value: "3" }] }] });
    await waitFor("dead letters page", async () => (await exec("return location.hash")) === "#/deadletters", 5000, 100);
  });

  await check("development mode (make run): no key asked", async () => {
    const port = await freePort();
    await start("aos-router", "router-dev", { AOS_HTTP_ADDR: `127.0.0.1:${port}`, AOS_INSTANCE_ID: "console-router-dev" });
    await navigate(`http://127.0.0.1:${port}/console`);
    await find('#agents-table tr[data-agent="cfo"]');
    assert.equal(await exec("return document.getElementById('login').hidden"), true);
    assert.equal(await exec("return document.getElementById('forget').hidden"), true);
    await shot("agents-devmode");
  });

  await check("no script errors and no CSP violations in the browser console", async () => {
    const logs = await wd("POST", s("/se/log"), { type: "browser" });
    const bad = logs.filter((l) => l.level === "SEVERE" && !/status of (401|404)/.test(l.message));
    assert.deepEqual(bad.map((l) => l.message), []);
  });
} catch (e) {
  failures++;
  console.log(`not ok - setup\n  ${e && e.stack}`);
} finally {
  if (session) await wd("DELETE", `/session/${session}`).catch(() => {});
  driver?.kill("SIGTERM");
  amqp?.close();
  for (const p of procs.reverse()) {
    if (failures) p.dumpLog(30);
    await p.stop();
  }
}
console.log(failures ? `${failures} check(s) failed; screenshots in ${shotDir}` : `all checks passed; screenshots in ${shotDir}`);
process.exit(failures ? 1 : 0);
