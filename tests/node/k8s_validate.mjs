// Renders every kustomization under deploy/ with `kubectl kustomize` and validates each object
// against the Kubernetes and KEDA schemas (kubernetes-models, @kubernetes-models/keda), then
// checks what the deployment needs beyond the schema (docs/kubernetes.md):
//   - every Deployment/StatefulSet has a PodDisruptionBudget selecting it,
//   - the agent-runner's ScaledObject has a trigger for every agent of the config,
//   - images come from the kustomize `images:` (no bare placeholder names left),
//   - a read-only root filesystem has volumes where the service writes (ml-pipeline workdir),
//   - the router requires the API keys from the aos-secrets Secret.
//
//   node tests/node/k8s_validate.mjs SOURCE_DIR
// Exit 0 ok, 1 failures, 77 when kubectl is not installed (skip).
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

const src = path.resolve(process.argv[2] ?? ".");
let failures = 0;
const fail = (what) => {
  failures++;
  console.error(`FAIL ${what}`);
};

// ---- a YAML reader for what kustomize (kyaml) writes: block mappings and sequences, plain and
// quoted scalars, literal/folded block scalars, empty flow collections, `---` between documents.
function parseScalar(s) {
  if (s === "" || s === "~" || s === "null") return null;
  if (s === "true") return true;
  if (s === "false") return false;
  if (s === "{}") return {};
  if (s === "[]") return [];
  if (/^-?(0|[1-9][0-9]*)$/.test(s)) return Number(s);
  if (/^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$/.test(s)) return Number(s);
  if (s.startsWith('"')) return JSON.parse(s);
  if (s.startsWith("'")) return s.slice(1, -1).replace(/''/g, "'");
  if (s.startsWith("{") || s.startsWith("[")) throw new Error(`flow collection not supported: ${s}`);
  return s;
}

// "key: value" at the start of s (key plain or quoted); null when s is no mapping entry.
function splitKey(s) {
  let m = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s'"#][^:#]*?)\s*:(?:\s+(.*))?$/.exec(s);
  if (!m) return null;
  return { key: String(parseScalar(m[1])), rest: m[2] ?? "" };
}

function stripComment(s) {
  if (s.startsWith('"') || s.startsWith("'")) return s;
  const i = s.search(/\s#/);
  return i >= 0 ? s.slice(0, i).trimEnd() : s;
}

function parseDocument(text) {
  const lines = text.split("\n").map((raw) => ({ raw, indent: raw.search(/\S/) }));
  let i = 0;
  const skip = () => {
    while (i < lines.length && (lines[i].indent < 0 || lines[i].raw.trimStart().startsWith("#")))
      i++;
  };
  const blockScalar = (header, parentIndent) => {
    const out = [];
    let ind = -1;
    while (i < lines.length) {
      const l = lines[i];
      if (l.indent >= 0 && l.indent <= parentIndent) break;
      if (l.indent < 0) out.push("");
      else {
        if (ind < 0) ind = l.indent;
        out.push(l.raw.slice(ind));
      }
      i++;
    }
    while (out.length && out[out.length - 1] === "") out.pop();
    let s = header.startsWith(">") ? out.join(" ") : out.join("\n");
    if (!header.includes("-")) s += "\n";
    return s;
  };
  // value after "key:" or "- " on a line of indent ind: inline scalar, block scalar or nested
  const value = (rest, ind) => {
    rest = stripComment(rest);
    if (rest.startsWith("|") || rest.startsWith(">")) return blockScalar(rest, ind);
    if (rest !== "") return parseScalar(rest);
    skip();
    if (i >= lines.length || lines[i].indent < ind) return null;
    if (lines[i].indent === ind && !lines[i].raw.trimStart().startsWith("- ")) return null;
    return node(lines[i].indent);
  };
  const node = (ind) => {
    skip();
    const first = lines[i].raw.slice(ind);
    if (first.startsWith("- ") || first === "-") {
      const arr = [];
      while (i < lines.length) {
        skip();
        if (i >= lines.length || lines[i].indent !== ind) break;
        const t = lines[i].raw.slice(ind);
        if (!(t.startsWith("- ") || t === "-")) break;
        const item = t.slice(2);
        const kv = splitKey(stripComment(item));
        if (kv && !item.startsWith('"') && !item.startsWith("'")) {
          // "- key: v" starts a mapping whose other keys sit at ind + 2
          lines[i] = { raw: " ".repeat(ind + 2) + item, indent: ind + 2 };
          arr.push(mapping(ind + 2));
        } else {
          i++;
          arr.push(value(item, ind));
        }
      }
      return arr;
    }
    return mapping(ind);
  };
  const mapping = (ind) => {
    const obj = {};
    while (i < lines.length) {
      skip();
      if (i >= lines.length || lines[i].indent !== ind) break;
      const t = lines[i].raw.slice(ind);
      if (t.startsWith("- ")) break;
      const kv = splitKey(t);
      if (!kv) throw new Error(`cannot read line ${i + 1}: ${lines[i].raw}`);
      i++;
      obj[kv.key] = value(kv.rest, ind);
    }
    return obj;
  };
  skip();
  return i < lines.length ? node(lines[i].indent) : null;
}

function parseStream(text) {
  return text
    .split(/^---\s*$/m)
    .map(parseDocument)
    .filter((d) => d !== null);
}

// AOS_K8S_PARSE=1: print the JSON of the YAML stream on stdin (to check the reader)
if (process.env.AOS_K8S_PARSE === "1") {
  console.log(JSON.stringify(parseStream(readFileSync(0, "utf8"))));
  process.exit(0);
}

// ---- schemas
async function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const mod = group.endsWith("keda.sh")
    ? await import(`@kubernetes-models/keda/${group}/${version}`)
    : await import(group ? `kubernetes-models/${group}/${version}` : `kubernetes-models/${version}`);
  return mod[kind];
}

function kubectl(args) {
  return execFileSync("kubectl", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

try {
  kubectl(["version", "--client"]);
} catch {
  console.log("SKIP: kubectl is not installed");
  process.exit(77);
}

const roots = ["deploy/k8s", "deploy/k8s/overlays/azure", "deploy/k8s/overlays/rabbitmq"];
const agents = JSON.parse(readFileSync(path.join(src, "deploy/config/aos.json"), "utf8")).agents.map(
  (a) => a.name,
);

for (const root of roots) {
  let out;
  try {
    out = kubectl(["kustomize", path.join(src, root)]);
  } catch (e) {
    fail(`${root}: kubectl kustomize failed: ${e.stderr || e.message}`);
    continue;
  }
  const objs = parseStream(out);
  if (objs.length === 0) fail(`${root}: renders nothing`);
  const byKind = (k) => objs.filter((o) => o.kind === k);
  for (const o of objs) {
    const id = `${root}: ${o.kind}/${o.metadata?.name}`;
    let Model;
    try {
      Model = await modelFor(o.apiVersion, o.kind);
    } catch (e) {
      Model = undefined;
    }
    if (!Model) {
      fail(`${id}: no schema for ${o.apiVersion} ${o.kind}`);
      continue;
    }
    try {
      new Model(o).validate();
    } catch (e) {
      fail(`${id}: ${e.message}`);
    }
    if (o.metadata?.namespace !== "aos" && o.kind !== "Namespace")
      fail(`${id}: not in namespace aos`);
  }
  // every workload is covered by a PodDisruptionBudget
  const pdbs = byKind("PodDisruptionBudget");
  for (const w of [...byKind("Deployment"), ...byKind("StatefulSet")]) {
    const labels = w.spec.template.metadata.labels;
    const covered = pdbs.some((p) =>
      Object.entries(p.spec.selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v),
    );
    if (!covered) fail(`${root}: ${w.kind}/${w.metadata.name} has no PodDisruptionBudget`);
    const pod = w.spec.template.spec;
    for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
      if (!c.image.includes("/") || !c.image.includes(":"))
        fail(`${root}: ${w.metadata.name}/${c.name}: image '${c.image}' not set by images:`);
      if (c.securityContext?.readOnlyRootFilesystem) {
        const mounts = (c.volumeMounts ?? []).map((m) => m.mountPath);
        if (c.name.startsWith("aos-") && !mounts.includes("/tmp"))
          fail(`${root}: ${c.name}: read-only root filesystem without a /tmp volume`);
        if (c.name === "aos-ml-pipeline") {
          const wd = (c.env ?? []).find((e) => e.name === "AOS_ML_WORKDIR")?.value;
          if (!wd || !mounts.includes(wd))
            fail(`${root}: aos-ml-pipeline: AOS_ML_WORKDIR is not on a volume`);
        }
      }
    }
    if (w.metadata.name === "aos-router") {
      const keys = pod.containers[0].env?.find((e) => e.name === "AOS_API_KEYS");
      const ref = keys?.valueFrom?.secretKeyRef;
      if (!ref || ref.name !== "aos-secrets" || ref.optional)
        fail(`${root}: aos-router does not require AOS_API_KEYS from aos-secrets`);
    }
  }
  // the agent-runner scales on every agent's queue, aos.agent.default included
  const so = byKind("ScaledObject").find((s) => s.spec.scaleTargetRef.name === "aos-agent-runner");
  if (!so) fail(`${root}: no ScaledObject for aos-agent-runner`);
  else {
    const queues = so.spec.triggers.map((t) => t.metadata.queueName);
    for (const a of agents)
      if (!queues.includes(`aos.agent.${a}`)) fail(`${root}: no KEDA trigger for aos.agent.${a}`);
  }
  for (const s of byKind("ScaledObject"))
    for (const t of s.spec.triggers) {
      const auth = byKind("TriggerAuthentication").find((a) => a.metadata.name === t.authenticationRef?.name);
      if (!auth) fail(`${root}: ScaledObject/${s.metadata.name}: trigger without its TriggerAuthentication`);
    }
  console.log(`${root}: ${objs.length} objects checked`);
}

if (!existsSync(path.join(src, "deploy/k8s/overlays/rabbitmq/keda-agents.yaml")))
  fail("deploy/k8s/overlays/rabbitmq/keda-agents.yaml is missing");
if (failures) {
  console.error(`${failures} failure(s)`);
  process.exit(1);
}
console.log("ok");
