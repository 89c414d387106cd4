// Issue 9: AOS as a Copilot Studio skill, with Microsoft's Bot Framework SDK (botbuilder
// 4.23.3) as the Copilot Studio side, against the real aos-storage + aos-agent-runner +
// aos-router on the RabbitMQ fixture and a fake Entra (tests/fakes/entra) for tokens.
//
// Two root bots. One does by hand what SkillDialog does: SkillHttpClient.postToSkill with a
// SkillConversationIdFactory, replies received by the SDK's own CloudSkillHandler, which
// forwards skill messages to the user's channel (a recorder here) and runs the root's logic on
// endOfConversation / events. The other is the real SkillDialog of botbuilder-dialogs 4.23.3
// (DialogSet + ConversationState over MemoryStorage, user turns through CloudAdapter's
// processActivityDirect, skill app id and endpoint from the router's manifest, the same
// CloudSkillHandler as its skill host): begin with a message, continue with an Adaptive Card
// submit, end on AOS's endOfConversation (a manifest event), nothing lost or reordered. Both
// delivery modes; message, Adaptive Card submit, manifest event (with its endOfConversation result),
// invoke (InvokeResponse) and an unhandled invoke (501); replies of one conversation in
// order; a reply retried after the skill host answers 503; a reply delivered by another
// router after the one that accepted the activity was killed; the JWT matrix over HTTP and a
// signing-key rotation; the certificate and federated credentials for the outbound token;
// the manifest served by the router.
//   node skill_sdk.mjs <bin dir> <aos.json>    (AOS_TEST_FIXTURES_DIR set by ctest)
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, openSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as netServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import botbuilder from 'botbuilder';
import dialogs from 'botbuilder-dialogs';
import { startFakeEntra } from '../fakes/entra/entra.mjs';

const { CloudAdapter, CloudSkillHandler, ConfigurationBotFrameworkAuthentication, ConversationState,
  MemoryStorage, SkillConversationIdFactory, SkillHttpClient } = botbuilder;
const { DialogSet, DialogTurnStatus, SkillDialog } = dialogs;

const here = dirname(fileURLToPath(import.meta.url));
const [binDir, config] = process.argv.slice(2);
const fixtures = process.env.AOS_TEST_FIXTURES_DIR || 'fixtures';
const busUrl = readFileSync(join(fixtures, 'rabbitmq', 'url'), 'utf8').trim();
const TENANT = '8d4f1a2b-0c3e-4d5f-9a6b-7c8d9e0f1a2b';
const SKILL_APP = '5c1a7a36-3c4e-4f7e-9a51-2b8f3f0d9e11'; // AOS
const ROOT_APP = 'a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d'; // the Copilot Studio bot
const SKILL_SECRET = 'skill-secret/+&=';
const dir = mkdtempSync(join(tmpdir(), 'aos-skill-sdk-'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const procs = [];

async function freePort() {
  const s = netServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const p = s.address().port;
  await new Promise((r) => s.close(r));
  return p;
}

async function waitFor(what, fn, ms = 60000) {
  const end = Date.now() + ms;
  for (;;) {
    try { const v = await fn(); if (v) return v; } catch { /* not yet */ }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function startService(name, env) {
  const log = join(dir, `${name}-${procs.length}.log`);
  const fd = openSync(log, 'a');
  const child = spawn(join(binDir, name), [], { env: { ...process.env, AOS_BUS_URL: busUrl, AOS_BUS_PROFILE: 'rabbitmq', AOS_CONFIG: config, AOS_SQLITE_PATH: join(dir, 'aos.db'), AOS_LOG_LEVEL: 'info', AOS_DEV_MODE: '1', ...env }, stdio: ['ignore', fd, fd] });
  const p = { name, child, log, exited: false };
  child.on('exit', () => { p.exited = true; });
  procs.push(p);
  return p;
}

async function stop(p, signal = 'SIGTERM') {
  if (p.exited) return;
  const done = new Promise((r) => p.child.on('exit', r));
  p.child.kill(signal);
  await Promise.race([done, sleep(20000)]);
  if (!p.exited) { p.child.kill('SIGKILL'); await done; }
}

async function ready(adminPort) {
  await waitFor(`:${adminPort}/readyz`, async () => (await fetch(`http://127.0.0.1:${adminPort}/readyz`)).status === 200);
}

// ---- the Copilot Studio side ----
const entraCertDir = mkdtempSync(join(tmpdir(), 'aos-skill-cert-'));
execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=aos-skill', '-days', '2', '-keyout', join(entraCertDir, 'key.pem'), '-out', join(entraCertDir, 'cert.pem')], { stdio: 'ignore' });
const certPem = readFileSync(join(entraCertDir, 'cert.pem'), 'utf8');
writeFileSync(join(entraCertDir, 'both.pem'), certPem + readFileSync(join(entraCertDir, 'key.pem'), 'utf8'));
writeFileSync(join(entraCertDir, 'federated.jwt'), 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YW9zOnJvdXRlciJ9.c2ln\n');
const entra = await startFakeEntra({ tenant: TENANT, apps: { [SKILL_APP]: { secret: SKILL_SECRET, certPem, managed: true, federatedToken: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YW9zOnJvdXRlciJ9.c2ln' } } });

// Inbound tokens as Entra issues them to the Copilot Studio bot for the skill (v2 and v1).
function rootToken(over = {}, opts = {}) {
  const now = Math.floor(Date.now() / 1000);
  return entra.sign({ aud: SKILL_APP, iss: `https://login.microsoftonline.com/${TENANT}/v2.0`, azp: ROOT_APP, tid: TENANT, ver: '2.0', iat: now, nbf: now, exp: now + 3600, ...over }, opts);
}

class RootSkillClient extends SkillHttpClient {
  async buildCredentials(appId) {
    return { appId, getToken: async () => rootToken() };
  }
}

const userSeen = []; // what the root bot forwarded to its user (SkillDialog semantics)
const logicSeen = []; // activities the root's logic ran for (endOfConversation, events)
const hostAuth = []; // Authorization of every reply AOS POSTed to the skill host
const hostSeen = []; // { conv, activity } of every reply AOS POSTed to the skill host, in order
let hostFailures = 0; // answer this many skill-host POSTs with 503 first
const auth = new ConfigurationBotFrameworkAuthentication({}); // the root's channel side is open
const adapter = new CloudAdapter(auth);
const idFactory = new SkillConversationIdFactory(new MemoryStorage());
const handler = new CloudSkillHandler(adapter, async (context) => {
  logicSeen.push(context.activity);
  await dialogBot(context); // the SkillDialog root bot's logic (no active dialog: nothing)
}, idFactory, auth);
const credentials = { getAppPassword: async () => '', isAuthenticationDisabled: async () => true, isValidAppId: async () => true };
const rootClient = new RootSkillClient(credentials, idFactory);

// ---- the SkillDialog root bot ----
const skillPosts = []; // { conversationId, activity, status, body } of every POST SkillDialog made to AOS
class RecordingSkillClient extends RootSkillClient {
  async postActivity(fromBotId, toBotId, toUrl, serviceUrl, conversationId, activity) {
    const r = await super.postActivity(fromBotId, toBotId, toUrl, serviceUrl, conversationId, activity);
    skillPosts.push({ conversationId, activity: JSON.parse(JSON.stringify(activity)), status: r.status, body: r.body });
    return r;
  }
}
const convState = new ConversationState(new MemoryStorage());
const dialogState = convState.createProperty('dialogState');
let dialogSet = new DialogSet(dialogState);
const dialogResults = []; // { conv, status, result } of every turn of the SkillDialog bot
let dialogMode = 'normal'; // the delivery mode the root bot begins the skill dialog with
function useSkillDialog(manifest) {
  // The manifest's endpoint is the public URL (the ingress in front of the router); here the
  // router itself serves that path.
  const ep = manifest.endpoints[0];
  const dialog = new SkillDialog({
    botId: ROOT_APP,
    conversationState: convState,
    conversationIdFactory: idFactory,
    skillClient: new RecordingSkillClient(credentials, idFactory),
    skillHostEndpoint: callbackUrl,
    skill: { id: manifest.$id || 'aos', appId: ep.msAppId, skillEndpoint: `${router.url}${new URL(ep.endpointUrl).pathname}` },
  }, 'aos-skill');
  dialogSet = new DialogSet(dialogState); // the current router's address
  dialogSet.add(dialog);
}
// What AOS answered SkillDialog's POSTs (expectReplies: the response bodies; normal: what it
// POSTed to the skill host for that skill conversation), in order.
function aosAnswers(posts, expect, host0) {
  return expect ? posts.flatMap((p) => p.body.activities)
    : hostSeen.slice(host0).filter((h) => posts.some((p) => p.conversationId === h.conv)).map((h) => h.activity);
}
async function dialogBot(context) {
  if (!dialogSet.find('aos-skill')) return;
  const dc = await dialogSet.createContext(context);
  let r = await dc.continueDialog();
  if (r.status === DialogTurnStatus.empty && context.activity.type === 'message') {
    const activity = { ...context.activity, ...(dialogMode === 'expectReplies' ? { deliveryMode: 'expectReplies' } : {}) };
    r = await dc.beginDialog('aos-skill', { activity });
  }
  dialogResults.push({ conv: context.activity.conversation.id, type: context.activity.type, status: r.status, result: r.result });
  await convState.saveChanges(context);
}
// A user turn of the root bot as the channel delivers it (the root's channel side is open).
const userTurn = (activity) => adapter.processActivityDirect('', activity, dialogBot);

const hostPort = await freePort();
const host = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', async () => {
    try {
      const url = new URL(req.url, 'http://x');
      const m = url.pathname.match(/^\/api\/skills\/v3\/conversations\/([^/]+)\/activities(?:\/([^/]+))?$/);
      const u = url.pathname.match(/^\/user\/v3\/conversations\/([^/]+)\/activities(?:\/([^/]+))?$/);
      if (u) { userSeen.push(JSON.parse(body)); res.writeHead(200, { 'Content-Type': 'application/json' }); return res.end(JSON.stringify({ id: `u-${userSeen.length}` })); }
      if (!m || req.method !== 'POST') { res.writeHead(404); return res.end(); }
      if (hostFailures > 0) { hostFailures--; res.writeHead(503, { 'Retry-After': '1' }); return res.end(); }
      // AOS must present the token Entra issued to it; the SDK's handler (auth off on this
      // side) then gets the activity as the channel would hand it over.
      hostAuth.push(req.headers.authorization || '');
      const conv = decodeURIComponent(m[1]);
      const activity = JSON.parse(body);
      hostSeen.push({ conv, activity: JSON.parse(body) });
      const r = m[2] ? await handler.handleReplyToActivity('', conv, decodeURIComponent(m[2]), activity)
        : await handler.handleSendToConversation('', conv, activity);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(r || {}));
    } catch (e) {
      res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'host', message: String(e && e.message) } }));
    }
  });
});
await new Promise((r) => host.listen(hostPort, '127.0.0.1', r));
const callbackUrl = `http://127.0.0.1:${hostPort}/api/skills`;
const userChannel = `http://127.0.0.1:${hostPort}/user/`;

// ---- the AOS stack ----
let runner = null;
let router = null;
async function startRouter(extra = {}) {
  const api = await freePort();
  const admin = await freePort();
  const p = startService('aos-router', {
    AOS_HTTP_ADDR: `127.0.0.1:${api}`, AOS_ADMIN_ADDR: `127.0.0.1:${admin}`, AOS_API_KEYS: 'skill-test-key-0123456789',
    AOS_INSTANCE_ID: `skill-router-${procs.length}`,
    AOS_BOT_APP_ID: SKILL_APP, AOS_BOT_TENANT: TENANT, AOS_BOT_ALLOWED_CALLERS: ROOT_APP,
    AOS_BOT_OPENID_METADATA: `${entra.botframeworkMetadata},${entra.tenantMetadata}`,
    AOS_BOT_TOKEN_URL: entra.tokenUrl, AOS_BOT_APP_PASSWORD: SKILL_SECRET,
    AOS_PUBLIC_URL: 'https://aos.example.com', ...extra,
  });
  p.url = `http://127.0.0.1:${api}`;
  await ready(admin);
  return p;
}
const skill = () => ({ id: 'aos', appId: SKILL_APP, skillEndpoint: `${router.url}/api/messages` });
let seq = 0;
function userActivity(fields, conv = `user-conv-${++seq}`) {
  return { channelId: 'pva-studio', serviceUrl: userChannel, conversation: { id: conv }, from: { id: 'user-1', name: 'Alice' }, recipient: { id: ROOT_APP, name: 'copilot' }, id: `a-${++seq}`, locale: 'en-US', ...fields };
}
const send = (activity) => rootClient.postToSkill(ROOT_APP, ROOT_APP, skill(), callbackUrl, activity);

let failures = 0;
async function check(name, fn) {
  try { await fn(); console.log(`ok - ${name}`); } catch (e) { failures++; console.log(`not ok - ${name}\n  ${e && e.stack}`); }
}
const textsFor = (conv) => userSeen.filter((a) => a.conversation && a.conversation.id === conv).map((a) => a);

try {
  startService('aos-storage', { AOS_HTTP_ADDR: `127.0.0.1:${await freePort()}`, AOS_ADMIN_ADDR: `127.0.0.1:${await freePort()}` });
  runner = startService('aos-agent-runner', { AOS_HTTP_ADDR: `127.0.0.1:${await freePort()}`, AOS_ADMIN_ADDR: `127.0.0.1:${await freePort()}`, AOS_INSTANCE_ID: 'skill-runner-1' });
  router = await startRouter();


  await check('manifest served by the router validates against skill-manifest v2.2', async () => {
    const r = await fetch(`${router.url}/api/skill/manifest.json`);
    assert.equal(r.status, 200);
    const m = await r.json();
    const ajv = new Ajv({ strict: false });
    addFormats(ajv);
    const v = ajv.compile(JSON.parse(readFileSync(join(here, 'schemas/skill-manifest-v2.2.json'), 'utf8')));
    assert.ok(v(m), JSON.stringify(v.errors));
    assert.equal(m.endpoints[0].endpointUrl, 'https://aos.example.com/api/messages');
    assert.equal(m.endpoints[0].msAppId, SKILL_APP);
  });

  for (const mode of ['expectReplies', 'normal']) {
    const expect = mode === 'expectReplies';
    const dm = expect ? { deliveryMode: 'expectReplies' } : {};

    await check(`${mode}: message`, async () => {
      const a = userActivity({ type: 'message', text: 'What is our budget for Q3?', ...dm });
      const r = await send(a);
      if (expect) {
        assert.equal(r.status, 200);
        const msgs = r.body.activities.filter((x) => x.type === 'message');
        assert.equal(msgs.length, 1);
        assert.match(msgs[0].text, /offline cfo/);
      } else {
        assert.equal(r.status, 202);
        const got = await waitFor('the reply', () => textsFor(a.conversation.id).find((x) => x.type === 'message'));
        assert.match(got.text, /offline cfo/);
      }
    });

    await check(`${mode}: Adaptive Card submit (value, no text)`, async () => {
      const a = userActivity({ type: 'message', value: { action: 'approve', budget: 'marketing' }, ...dm });
      const r = await send(a);
      if (expect) {
        assert.equal(r.status, 200);
        assert.ok(r.body.activities.some((x) => x.type === 'message' && /approve/.test(x.text)), JSON.stringify(r.body));
      } else {
        assert.equal(r.status, 202);
        const got = await waitFor('the reply', () => textsFor(a.conversation.id).find((x) => x.type === 'message'));
        assert.match(got.text, /approve/);
      }
    });

    await check(`${mode}: manifest event -> message, then endOfConversation with the result`, async () => {
      const a = userActivity({ type: 'event', name: 'cmo', value: { text: 'Plan a campaign' }, ...dm });
      const before = logicSeen.length;
      const r = await send(a);
      if (expect) {
        assert.equal(r.status, 200);
        const types = r.body.activities.map((x) => x.type);
        assert.deepEqual(types, ['message', 'endOfConversation']);
        assert.equal(r.body.activities[1].value.agent, 'cmo');
      } else {
        assert.equal(r.status, 202);
        const eoc = await waitFor('endOfConversation', () => logicSeen.slice(before).find((x) => x.type === 'endOfConversation'));
        assert.equal(eoc.value.agent, 'cmo');
        assert.match(eoc.value.reply, /offline cmo/);
        // the message reached the user before the conversation ended (nothing lost)
        assert.ok(textsFor(a.conversation.id).some((x) => x.type === 'message' && /offline cmo/.test(x.text)));
      }
    });

    await check(`${mode}: invoke aos/ask -> InvokeResponse; unhandled invoke -> 501`, async () => {
      const a = userActivity({ type: 'invoke', name: 'aos/ask', value: { text: 'How are sales?', agent: 'ceo' }, ...dm });
      const r = await send(a);
      if (expect) {
        assert.equal(r.status, 200);
        assert.equal(r.body.activities.length, 1);
        const ir = r.body.activities[0];
        assert.equal(ir.type, 'invokeResponse');
        assert.equal(ir.value.status, 200);
        assert.equal(ir.value.body.agent, 'ceo');
      } else {
        assert.equal(r.status, 200);
        assert.equal(r.body.agent, 'ceo');
        assert.match(r.body.reply, /offline ceo/);
      }
      const u = await send(userActivity({ type: 'invoke', name: 'composeExtension/query', value: {}, ...dm }));
      if (expect) {
        assert.equal(u.status, 200);
        assert.equal(u.body.activities[0].type, 'invokeResponse');
        assert.equal(u.body.activities[0].value.status, 501);
      } else {
        assert.equal(u.status, 501);
      }
    });

    await check(`${mode}: SkillDialog root bot: message, card submit, manifest event -> dialog ends on endOfConversation`, async () => {
      const manifest = await (await fetch(`${router.url}/api/skill/manifest.json`)).json();
      useSkillDialog(manifest);
      dialogMode = mode;
      const conv = `user-conv-dialog-${mode}`;
      const posts0 = skillPosts.length;
      const host0 = hostSeen.length;
      const userMsgs = () => textsFor(conv).filter((x) => x.type === 'message');
      const turns = () => dialogResults.filter((x) => x.conv === conv);

      // 1. a message begins the skill dialog; AOS's reply reaches the user; the dialog waits
      const a1 = userActivity({ type: 'message', text: 'What is our budget for Q3?' }, conv);
      await userTurn(a1);
      await waitFor('the reply to the message', () => userMsgs().length >= 1);
      assert.equal(turns()[0].status, DialogTurnStatus.waiting);
      // 2. an Adaptive Card submit (value, no text) continues it
      const a2 = userActivity({ type: 'message', value: { action: 'approve', budget: 'marketing' } }, conv);
      await userTurn(a2);
      await waitFor('the reply to the card submit', () => userMsgs().length >= 2);
      assert.equal(turns()[1].status, DialogTurnStatus.waiting);
      // 3. a manifest event: the reply, then endOfConversation ends the dialog with its value
      const a3 = userActivity({ type: 'event', name: 'cmo', value: { text: 'Plan a campaign' } }, conv);
      await userTurn(a3);
      const done = await waitFor('the dialog to end', () => turns().find((x) => x.status === DialogTurnStatus.complete));
      assert.equal(done.type, expect ? 'event' : 'endOfConversation');
      assert.equal(done.result.agent, 'cmo');
      assert.match(done.result.reply, /offline cmo/);
      await waitFor('the reply to the event', () => userMsgs().length >= 3);

      // what SkillDialog sent: the three activities, one skill conversation, the delivery mode
      const posts = skillPosts.slice(posts0);
      assert.deepEqual(posts.map((p) => p.activity.id), [a1.id, a2.id, a3.id]);
      assert.equal(new Set(posts.map((p) => p.conversationId)).size, 1);
      assert.equal(posts[1].activity.text, undefined);
      assert.deepEqual(posts[1].activity.value, a2.value);
      for (const p of posts) {
        assert.equal(p.activity.deliveryMode, expect ? 'expectReplies' : undefined);
        assert.equal(p.status, expect ? 200 : 202);
      }
      // what AOS answered, in order, each reply to its activity, nothing twice
      const fromAos = aosAnswers(posts, expect, host0);
      assert.deepEqual(fromAos.map((x) => `${x.type}:${x.replyToId}`),
        [`message:${a1.id}`, `message:${a2.id}`, `message:${a3.id}`, `endOfConversation:${a3.id}`]);
      // what the user saw: the three replies in order, no endOfConversation, nothing else
      await sleep(1000); // a late duplicate would show here
      const seen = textsFor(conv);
      assert.deepEqual(seen.map((x) => x.type), ['message', 'message', 'message']);
      assert.match(seen[0].text, /offline cfo/);
      assert.match(seen[1].text, /approve/);
      assert.match(seen[2].text, /offline cmo/);
      // the dialog is over: the next message begins a new one
      assert.equal(turns().filter((x) => x.status === DialogTurnStatus.complete).length, 1);
    });
  }

  await check('normal: replies of one conversation arrive in order', async () => {
    const conv = `user-conv-order-${Date.now()}`;
    const ids = [];
    for (let i = 0; i < 6; i++) {
      const a = userActivity({ type: 'message', text: `budget question ${i}` }, conv);
      ids.push(a.id);
      assert.equal((await send(a)).status, 202);
    }
    const got = await waitFor('6 replies', () => { const r = textsFor(conv).filter((x) => x.type === 'message'); return r.length >= 6 ? r : null; });
    assert.deepEqual(got.map((x) => x.replyToId), ids);
    assert.equal(got.length, 6, 'no duplicates');
  });

  await check('normal: a reply the skill host refused with 503 is retried', async () => {
    hostFailures = 2;
    const a = userActivity({ type: 'message', text: 'budget after a hiccup' });
    assert.equal((await send(a)).status, 202);
    await waitFor('the retried reply', () => textsFor(a.conversation.id).find((x) => x.type === 'message'), 90000);
    assert.equal(hostFailures, 0);
  });

  await check('normal: the bot token from Entra (client secret) on every reply', async () => {
    const secretTokens = entra.state.issued.filter((i) => i.how === 'secret').map((i) => `Bearer ${i.token}`);
    assert.ok(hostAuth.length > 0);
    for (const h of hostAuth) assert.ok(secretTokens.includes(h), `unexpected Authorization ${h.slice(0, 20)}`);
  });

  await check('normal: the router that took the activity dies; another one delivers the reply', async () => {
    await stop(runner); // the turn waits in its queue
    const a = userActivity({ type: 'message', text: 'budget while routers come and go' });
    assert.equal((await send(a)).status, 202);
    await stop(router, 'SIGKILL');
    runner = startService('aos-agent-runner', { AOS_HTTP_ADDR: `127.0.0.1:${await freePort()}`, AOS_ADMIN_ADDR: `127.0.0.1:${await freePort()}`, AOS_INSTANCE_ID: 'skill-runner-2' });
    router = await startRouter({ AOS_BOT_APP_PASSWORD: '', AOS_BOT_CERT_FILE: join(entraCertDir, 'both.pem') });
    await waitFor('the reply via the new router', () => textsFor(a.conversation.id).find((x) => x.type === 'message'), 120000);
    assert.ok(entra.state.issued.some((i) => i.how === 'certificate'), 'token by certificate credential');
  });

  await check('federated workload identity token file for the outbound token', async () => {
    await stop(router);
    router = await startRouter({ AOS_BOT_APP_PASSWORD: '', AOS_BOT_FEDERATED_TOKEN_FILE: join(entraCertDir, 'federated.jwt') });
    const a = userActivity({ type: 'message', text: 'budget with workload identity' });
    assert.equal((await send(a)).status, 202);
    await waitFor('the reply', () => textsFor(a.conversation.id).find((x) => x.type === 'message'), 60000);
    assert.ok(entra.state.issued.some((i) => i.how === 'federated'));
  });

  await check('user-assigned managed identity for the outbound token (IMDS)', async () => {
    await stop(router);
    router = await startRouter({ AOS_BOT_APP_PASSWORD: '', AOS_BOT_MANAGED_IDENTITY: 'true', AOS_AZURE_IMDS_ENDPOINT: entra.imdsUrl });
    const from = hostAuth.length;
    const a = userActivity({ type: 'message', text: 'budget with a managed identity' });
    assert.equal((await send(a)).status, 202);
    await waitFor('the reply', () => textsFor(a.conversation.id).find((x) => x.type === 'message'), 60000);
    const managed = entra.state.issued.filter((i) => i.how === 'managed').map((i) => `Bearer ${i.token}`);
    assert.ok(hostAuth.length > from, 'a reply reached the host');
    for (const h of hostAuth.slice(from)) assert.ok(managed.includes(h), `reply without the managed identity's token: ${h.slice(0, 20)}`);
  });

  await check('the bot token is reused while fresh and refreshed before it expires', async () => {
    await stop(router);
    entra.state.ttl = 12; // refreshed at half its life (aos/identity.h)
    try {
      router = await startRouter({});
      const reply = async (text) => {
        const from = hostAuth.length;
        const a = userActivity({ type: 'message', text });
        assert.equal((await send(a)).status, 202);
        await waitFor('the reply', () => textsFor(a.conversation.id).find((x) => x.type === 'message'), 60000);
        const got = [...new Set(hostAuth.slice(from))];
        assert.equal(got.length, 1, 'one token per reply');
        return got[0];
      };
      const t0 = Date.now(); // the first token is issued between t0 and t1At
      const t1 = await reply('budget, first token');
      const t1At = Date.now();
      assert.equal(await reply('budget, same token'), t1, 'a fresh token is reused, not fetched again');
      await sleep(Math.max(0, t1At + 6500 - Date.now()));
      const t3 = await reply('budget, refreshed token');
      assert.notEqual(t3, t1, 'refreshed after half its life');
      assert.ok(Date.now() - t0 < 12000, 'and before the first one expired');
    } finally {
      entra.state.ttl = 3599;
    }
  });

  await check('JWT matrix over HTTP', async () => {
    const body = (extra = {}) => JSON.stringify({ type: 'message', text: 'hi budget', serviceUrl: callbackUrl, channelId: 'pva-studio', conversation: { id: `m-${Date.now()}` }, from: { id: 'u' }, recipient: { id: SKILL_APP }, deliveryMode: 'expectReplies', ...extra });
    const post = async (token, extra) => (await fetch(`${router.url}/api/messages`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) }, body: body(extra) })).status;
    const now = Math.floor(Date.now() / 1000);
    assert.equal(await post(rootToken()), 200, 'valid v2');
    assert.equal(await post(rootToken({ iss: `https://sts.windows.net/${TENANT}/`, ver: '1.0', azp: undefined, appid: ROOT_APP })), 200, 'valid v1');
    assert.equal(await post(rootToken({ iss: 'https://api.botframework.com', azp: undefined, appid: ROOT_APP })), 200, 'Bot Framework issuer');
    assert.equal(await post(null), 401, 'unsigned');
    assert.equal(await post(rootToken({ aud: 'someone-else' })), 401, 'wrong aud');
    assert.equal(await post(rootToken({ iss: 'https://sts.windows.net/other-tenant/' })), 401, 'wrong iss');
    assert.equal(await post(rootToken({ exp: now - 3600 })), 401, 'expired');
    assert.equal(await post(rootToken({}, { kid: 'k1', foreign: true })), 401, 'foreign key');
    assert.equal(await post(rootToken({ azp: 'not-copilot' })), 403, 'caller not allowed');
    assert.equal(await post(rootToken({ serviceurl: 'https://elsewhere.example/' })), 403, 'serviceurl mismatch');
    const h = rootToken().split('.');
    const hs = Buffer.from(JSON.stringify({ alg: 'HS256', kid: 'k1' })).toString('base64url');
    assert.equal(await post(`${hs}.${h[1]}.${h[2]}`), 401, 'wrong alg');
    // an unknown kid: 503 + Retry-After while the keys are refreshed, 401 right after a refresh
    assert.ok([401, 503].includes(await post(rootToken({}, { kid: 'nope' }))), 'unknown kid');
    // signing key rotation: a token under a new kid is accepted once the keys were refreshed
    entra.rotate('k2');
    const t2 = rootToken({}, { kid: 'k2' });
    const s = await waitFor('the rotated key', async () => { const st = await post(t2); return st === 200 ? st : null; }, 90000);
    assert.equal(s, 200);
  });

  // A single-turn skill (AOS_BOT_END_OF_CONVERSATION=true): every reply is followed by
  // endOfConversation, so a SkillDialog begun with a message or a card submit ends right away.
  await stop(router);
  router = await startRouter({ AOS_BOT_END_OF_CONVERSATION: 'true' });
  for (const mode of ['expectReplies', 'normal']) {
    const expect = mode === 'expectReplies';
    await check(`${mode}: SkillDialog, single-turn skill: message and card submit each end the dialog on endOfConversation`, async () => {
      useSkillDialog(await (await fetch(`${router.url}/api/skill/manifest.json`)).json());
      dialogMode = mode;
      const conv = `user-conv-dialog-single-${mode}`;
      const posts0 = skillPosts.length;
      const host0 = hostSeen.length;
      const ended = () => dialogResults.filter((x) => x.conv === conv && x.status === DialogTurnStatus.complete);
      const a1 = userActivity({ type: 'message', text: 'What is our budget for Q3?' }, conv);
      await userTurn(a1);
      await waitFor('the first dialog to end', () => ended().length >= 1);
      await waitFor('the reply to the message', () => textsFor(conv).length >= 1);
      const a2 = userActivity({ type: 'message', value: { action: 'approve', budget: 'marketing' } }, conv);
      await userTurn(a2);
      await waitFor('the second dialog to end', () => ended().length >= 2);
      await waitFor('the reply to the card submit', () => textsFor(conv).length >= 2);
      const posts = skillPosts.slice(posts0);
      assert.deepEqual(posts.map((p) => p.activity.id), [a1.id, a2.id]);
      assert.notEqual(posts[0].conversationId, posts[1].conversationId, 'a new skill conversation per dialog');
      for (const p of posts) assert.equal(p.status, expect ? 200 : 202);
      const fromAos = aosAnswers(posts, expect, host0);
      assert.deepEqual(fromAos.map((x) => `${x.type}:${x.replyToId}`),
        [`message:${a1.id}`, `endOfConversation:${a1.id}`, `message:${a2.id}`, `endOfConversation:${a2.id}`]);
      await sleep(1000); // a late duplicate would show here
      const seen = textsFor(conv);
      assert.deepEqual(seen.map((x) => x.type), ['message', 'message']);
      assert.match(seen[0].text, /offline cfo/);
      assert.match(seen[1].text, /approve/);
      assert.equal(ended().length, 2);
    });
  }
} catch (e) {
  failures++;
  console.log(`not ok - setup\n  ${e && e.stack}`);
} finally {
  for (const p of procs.slice().reverse()) await stop(p);
  // under ASan/UBSan a report in a service's log fails the test (its exit status is not seen)
  for (const p of procs) {
    if (/ERROR: (Address|Leak)Sanitizer|runtime error:/.test(readFileSync(p.log, 'utf8'))) {
      failures++;
      console.log(`not ok - sanitizer report in ${p.log}`);
    }
  }
  host.close();
  await entra.close();
  if (failures) {
    for (const p of procs) {
      console.log(`--- ${p.log}`);
      console.log(readFileSync(p.log, 'utf8').split('\n').slice(-40).join('\n'));
    }
  }
}
console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
if (!failures) {
  rmSync(dir, { recursive: true, force: true });
  rmSync(entraCertDir, { recursive: true, force: true });
}
process.exit(failures ? 1 : 0);
