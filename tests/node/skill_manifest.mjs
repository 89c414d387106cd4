// Issue 9 item 1: the skill manifest AOS serves validates against Microsoft's Bot Framework
// skill manifest schema v2.2 (vendored in tests/node/schemas, see its README) and declares
// what AOS handles: the message activity, one event per agent, the aos/ask invoke.
//   node skill_manifest.mjs <skill_manifest_tool> <aos.json>
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';

const here = dirname(fileURLToPath(import.meta.url));
const [tool, config] = process.argv.slice(2);
const appId = '5c1a7a36-3c4e-4f7e-9a51-2b8f3f0d9e11';
const manifest = JSON.parse(
  execFileSync(tool, [config, 'https://aos.example.com/', appId], { encoding: 'utf8' }));

const schema = JSON.parse(readFileSync(join(here, 'schemas/skill-manifest-v2.2.json'), 'utf8'));
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
const validate = ajv.compile(schema);
if (!validate(manifest)) {
  console.error(JSON.stringify(validate.errors, null, 2));
  assert.fail('the manifest does not validate against skill-manifest v2.2');
}
assert.equal(manifest.$schema, 'https://schemas.botframework.com/schemas/skills/v2.2/skill-manifest.json');
assert.equal(manifest.endpoints.length, 1);
assert.equal(manifest.endpoints[0].endpointUrl, 'https://aos.example.com/api/messages');
assert.equal(manifest.endpoints[0].msAppId, appId);
const agents = JSON.parse(readFileSync(config, 'utf8')).agents.map((a) => a.name);
const acts = manifest.activities;
assert.equal(acts.message.type, 'message');
for (const name of agents) {
  const key = name === 'message' || name === 'ask' ? `agent-${name}` : name;
  assert.equal(acts[key].type, 'event', `event for agent ${name}`);
  assert.equal(acts[key].name, name);
  assert.deepEqual(acts[key].value.required, ['text']);
}
assert.equal(acts.ask.type, 'invoke');
assert.equal(acts.ask.name, 'aos/ask');
// only what AOS handles
const types = new Set(Object.values(acts).map((a) => a.type));
assert.deepEqual([...types].sort(), ['conversationUpdate', 'endOfConversation', 'event', 'invoke', 'message']);
console.log(`ok: manifest with ${Object.keys(acts).length} activities validates`);
