// The AOS operator console (docs/console.md). Plain browser JavaScript, no library, no
// network beyond the router's own /v1 API.
//
// Safety rule of this file: text from the API (messages, reasons, names, anything stored) only
// ever reaches the page as a text node (el() / textContent). Nothing here hands a string to
// the HTML parser (no inner/outer HTML, no adjacent-HTML insertion, no document writes), and no
// attribute other than the fixed safe ones below is set from data — so a message containing
// <script> shows as text. tests/node/console_browser.mjs checks both.
"use strict";

(function () {
  const KEY_STORE = "aos.console.apikey";
  const REFRESH_MS = { agents: 5000, ml: 3000, live: 3000, deadletters: 0, conversations: 0 };
  let apiKey = sessionStorage.getItem(KEY_STORE) || "";
  let timer = null;
  let renderSeq = 0;

  // ---- DOM helpers ------------------------------------------------------------------------

  const SAFE_ATTRS = new Set(["class", "id", "type", "name", "value", "for", "min", "max", "step",
    "placeholder", "title", "colspan", "scope", "role", "tabindex", "autocomplete", "required",
    "aria-label", "aria-live", "aria-current", "aria-expanded", "aria-busy", "aria-describedby",
    "datetime", "list", "size", "maxlength", "spellcheck", "disabled", "selected", "checked",
    "open", "hidden"]);

  // el("tr", {class: "x", data: {id: "…"}}, "text", child, …): strings become text nodes.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "data") {
        for (const [dk, dv] of Object.entries(v)) e.dataset[dk] = String(dv);
      } else if (k === "href") {
        // internal links only: "#/…"
        if (typeof v === "string" && v.startsWith("#/")) e.setAttribute("href", v);
      } else if (k === "on") {
        for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
      } else if (SAFE_ATTRS.has(k)) {
        e.setAttribute(k, v === true ? "" : String(v));
      } else {
        throw new Error("el: attribute not allowed: " + k);
      }
    }
    append(e, children);
    return e;
  }

  function append(parent, ...children) {
    for (const c of [children].flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      parent.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return parent;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  const main = document.getElementById("main");
  const statusEl = document.getElementById("status");

  function setStatus(text, isError) {
    statusEl.textContent = text || "";
    statusEl.className = isError ? "error" : "";
  }

  // ---- formatting -------------------------------------------------------------------------

  function fmtTime(ms) {
    if (!ms) return "—";
    const d = new Date(ms);
    return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  }

  function fmtAge(ms) {
    if (ms === null || ms === undefined) return "—";
    const s = Math.round(ms / 1000);
    if (s < 60) return s + " s";
    if (s < 3600) return Math.round(s / 60) + " min";
    if (s < 86400) return (s / 3600).toFixed(1) + " h";
    return (s / 86400).toFixed(1) + " d";
  }

  function fmtIn(ms) {
    if (!ms) return "—";
    const d = ms - Date.now();
    return fmtTime(ms) + (d >= 0 ? " (in " + fmtAge(d) + ")" : " (" + fmtAge(-d) + " ago)");
  }

  function badge(text, kind) {
    return el("span", { class: "badge " + (kind || String(text).toLowerCase().replace(/[^a-z_]/g, "")) }, text);
  }

  function table(headers, rows, attrs) {
    return el("table", attrs || {},
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows.length ? rows : el("tr", {}, el("td", { colspan: headers.length, class: "empty" }, "Nothing here."))));
  }

  // ---- API --------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(method, path, body) {
    const headers = {};
    if (apiKey) headers.Authorization = "Bearer " + apiKey;
    const init = { method, headers, cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    const text = await res.text();
    if (res.status === 401) {
      showLogin("The router refused the key (401). Enter an API key.");
      throw new ApiError(401, "unauthenticated", "API key needed");
    }
    let data = null;
    if ((res.headers.get("content-type") || "").includes("json")) {
      try { data = JSON.parse(text); } catch { data = null; }
    } else {
      data = text;
    }
    if (!res.ok) {
      const err = data && data.error ? data.error : { code: "http_" + res.status, message: text.slice(0, 300) };
      throw new ApiError(res.status, err.code, err.message);
    }
    return data;
  }

  const enc = encodeURIComponent;

  // ---- confirmation dialog ----------------------------------------------------------------

  function confirmAction(title, text, okLabel) {
    const dlg = document.getElementById("confirm");
    document.getElementById("confirm-title").textContent = title;
    document.getElementById("confirm-text").textContent = text;
    document.getElementById("confirm-ok").textContent = okLabel || "Confirm";
    return new Promise((resolve) => {
      dlg.addEventListener("close", () => resolve(dlg.returnValue === "ok"), { once: true });
      dlg.returnValue = "cancel";
      dlg.showModal();
      document.getElementById("confirm-cancel").focus();
    });
  }

  // ---- login ------------------------------------------------------------------------------

  const login = document.getElementById("login");

  function showLogin(message) {
    login.hidden = false;
    main.hidden = true;
    document.getElementById("login-error").textContent = message || "";
    document.getElementById("apikey").focus();
    stopTimer();
  }

  document.getElementById("login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = document.getElementById("apikey");
    apiKey = input.value.trim();
    input.value = ""; // the key is not kept in the page
    sessionStorage.setItem(KEY_STORE, apiKey);
    login.hidden = true;
    main.hidden = false;
    document.getElementById("forget").hidden = false;
    route();
  });

  document.getElementById("forget").addEventListener("click", () => {
    apiKey = "";
    sessionStorage.removeItem(KEY_STORE);
    document.getElementById("forget").hidden = true;
    showLogin("Key forgotten.");
  });
  document.getElementById("forget").hidden = !apiKey;

  // ---- pages ------------------------------------------------------------------------------

  function pageHeader(title, ...extra) {
    return el("div", { class: "page-head" }, el("h1", {}, title), ...extra);
  }

  // Agents: GET /v1/agents
  async function pageAgents(view) {
    const data = await api("GET", "/v1/agents");
    const rows = data.agents.map((a) => {
      const h = a.health || {};
      const cap = h.capacity || 0;
      const sched = a.schedule ? (a.schedule.cron ? "cron " + a.schedule.cron : "every " + a.schedule.interval_s + " s") : "—";
      return el("tr", { data: { agent: a.name } },
        el("th", { scope: "row" }, a.name, a.default ? el("span", { class: "muted" }, " (default)") : null),
        el("td", {}, badge(h.status || "unknown")),
        el("td", { class: "num" }, String(h.instances ?? 0)),
        el("td", {}, el("meter", { min: 0, max: cap || 1, value: h.inflight || 0, title: (h.inflight || 0) + " of " + cap }),
          " ", (h.inflight ?? 0) + " / " + cap),
        el("td", {}, (a.providers || []).join(", ") || "—", h.provider ? el("div", { class: "muted" }, "serving: " + h.provider) : null),
        el("td", {}, a.adapter || "—"),
        el("td", {}, h.breaker ? badge(h.breaker, "breaker-" + h.breaker) : "—"),
        el("td", {}, sched),
        el("td", {}, fmtIn(h.schedule_last_run_ms)),
        el("td", {}, fmtIn(h.schedule_next_run_ms)),
        el("td", {}, h.last_heartbeat_age_ms !== undefined ? fmtAge(h.last_heartbeat_age_ms) + " ago" : "never"));
    });
    append(clear(view),
      pageHeader("Agents", el("p", { class: "muted" }, "Health from the runners' heartbeats; refreshed every 5 s. Default agent: ", data.default_agent || "—")),
      table(["Agent", "Health", "Instances", "In flight / capacity", "Provider", "Adapter", "Breaker", "Schedule", "Last run", "Next run", "Last heartbeat"], rows, { id: "agents-table" }));
  }

  // Conversations: GET /v1/conversations
  async function pageConversations(view, params) {
    const agents = await api("GET", "/v1/agents").then((d) => d.agents.map((a) => a.name)).catch(() => []);
    const q = new URLSearchParams();
    for (const k of ["agent", "q", "since", "until", "cursor"]) if (params.get(k)) q.set(k, params.get(k));
    q.set("limit", "50");
    const data = await api("GET", "/v1/conversations?" + q.toString());
    const form = el("form", { class: "filters", id: "conv-search" },
      el("label", {}, "Id contains ", el("input", { name: "q", value: params.get("q") || "", size: 24, spellcheck: "false" })),
      el("label", {}, "Agent ", el("select", { name: "agent" }, el("option", { value: "" }, "any"),
        agents.map((a) => el("option", { value: a, selected: params.get("agent") === a }, a)))),
      el("label", {}, "Active since ", el("input", { name: "since", type: "datetime-local", value: params.get("since_local") || "" })),
      el("label", {}, "until ", el("input", { name: "until", type: "datetime-local", value: params.get("until_local") || "" })),
      el("button", { type: "submit" }, "Search"));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const f = new FormData(form);
      const p = new URLSearchParams();
      if (f.get("q")) p.set("q", f.get("q"));
      if (f.get("agent")) p.set("agent", f.get("agent"));
      for (const k of ["since", "until"]) {
        const v = f.get(k);
        if (v) {
          p.set(k, new Date(v).toISOString());
          p.set(k + "_local", v);
        }
      }
      location.hash = "#/conversations" + (p.toString() ? "?" + p.toString() : "");
    });
    const rows = data.conversations
      .slice()
      .sort((a, b) => b.updated_ms - a.updated_ms)
      .map((c) => el("tr", { data: { conversationId: c.id } },
        el("th", { scope: "row" }, el("a", { href: "#/conversation/" + enc(c.id) }, c.id)),
        el("td", {}, c.agent),
        el("td", { class: "num" }, String(c.version)),
        el("td", {}, fmtTime(c.created_ms)),
        el("td", {}, fmtTime(c.updated_ms))));
    let more = null;
    if (data.next_cursor) {
      const p = new URLSearchParams(params);
      p.set("cursor", data.next_cursor);
      more = el("p", {}, el("a", { href: "#/conversations?" + p.toString(), id: "conv-next" }, "Next page →"));
    }
    append(clear(view),
      pageHeader("Conversations", el("p", { class: "muted" }, data.scanned + " looked at; newest activity first within this page.")),
      form,
      table(["Conversation", "Agent", "Messages", "Created", "Last activity"], rows, { id: "conversations-table" }),
      more);
  }

  function metaLine(label, value) {
    if (value === undefined || value === null || value === "") return null;
    return el("div", { class: "meta-item" }, el("span", { class: "meta-label" }, label), " ", el("span", { class: "meta-value" }, String(value)));
  }

  function messageCard(m) {
    const md = m.metadata || {};
    const failed = m.role === "error";
    const quarantined = failed && /poison|quarantin|undecodable|wrong agent/i.test(m.content || "");
    const usage = md.usage ? md.usage.prompt_tokens + " in + " + md.usage.completion_tokens + " out = " + md.usage.total_tokens + " tokens" : null;
    const head = el("div", { class: "msg-head" },
      el("span", { class: "role" }, m.role), " #" + m.seq + " · " + fmtTime(m.created_ms),
      failed ? badge(quarantined ? "quarantined" : "failed", "failed") : null);
    const meta = el("div", { class: "meta" },
      metaLine("agent", md.agent),
      metaLine("routing", md.routing_reason),
      metaLine("user", md.user),
      metaLine("kind", md.kind),
      metaLine("event", md.event_type),
      metaLine("provider", md.provider),
      metaLine("model", md.model),
      metaLine("usage", usage),
      metaLine("latency", md.latency_ms !== undefined ? md.latency_ms + " ms" : null),
      metaLine("attempts", md.attempts),
      metaLine("trace id", md.trace_id),
      metaLine("in reply to", md.in_reply_to),
      metaLine("message id", m.message_id || m.id));
    return el("article", { class: "msg msg-" + m.role + (failed ? " msg-failed" : ""), data: { role: m.role, seq: m.seq } },
      head,
      el("div", { class: "content" }, m.content), // text only: stored text is never markup
      meta);
  }

  // Transcript: GET /v1/conversations/{id}
  async function pageConversation(view, id, params) {
    const q = new URLSearchParams({ limit: "200" });
    if (params.get("cursor")) q.set("cursor", params.get("cursor"));
    const data = await api("GET", "/v1/conversations/" + enc(id) + "?" + q.toString());
    const c = data.conversation;
    let more = null;
    if (data.next_cursor) more = el("p", {}, el("a", { href: "#/conversation/" + enc(id) + "?cursor=" + enc(data.next_cursor) }, "Later messages →"));
    append(clear(view),
      pageHeader("Conversation " + c.id,
        el("p", { class: "muted" }, "agent " + c.agent + " · " + c.version + " messages · created " + fmtTime(c.created_ms) + " · last activity " + fmtTime(c.updated_ms)),
        el("p", {}, el("a", { href: "#/conversations" }, "← all conversations"))),
      el("div", { id: "transcript" }, data.messages.map(messageCard)),
      more);
  }

  // Dead letters: GET /v1/deadletters, GET /v1/deadletters/{queue}, replay, delete
  async function pageDeadLetters(view, queue) {
    const qs = await api("GET", "/v1/deadletters");
    const nav = el("nav", { class: "tabs", "aria-label": "Queues" },
      qs.queues.map((q) => el("a", { href: "#/deadletters/" + enc(q.queue), "aria-current": q.queue === queue ? "page" : false }, q.queue)));
    if (!queue) {
      append(clear(view), pageHeader("Dead letters", el("p", { class: "muted" }, "Pick an agent queue to read its dead letters.")), nav);
      return;
    }
    append(clear(view), pageHeader("Dead letters of " + queue), nav, el("p", { class: "muted", "aria-busy": "true" }, "Reading the dead-letter queue…"));
    const data = await api("GET", "/v1/deadletters/" + enc(queue));
    const rows = data.dead_letters.map((d) => {
      const replay = el("button", { type: "button", class: "replay" }, "Replay");
      const del = el("button", { type: "button", class: "delete danger" }, "Delete");
      replay.addEventListener("click", async () => {
        if (!(await confirmAction("Replay this dead letter?", "Dead letter " + d.id + " goes back to " + queue + " and runs again.", "Replay"))) return;
        await act(() => api("POST", "/v1/deadletters/" + enc(queue) + "/" + enc(d.id) + "/replay"), "Replayed " + d.id);
      });
      del.addEventListener("click", async () => {
        if (!(await confirmAction("Delete this dead letter?", "Dead letter " + d.id + " is removed for good. This cannot be undone.", "Delete"))) return;
        await act(() => api("DELETE", "/v1/deadletters/" + enc(queue) + "/" + enc(d.id)), "Deleted " + d.id);
      });
      return el("tr", { data: { deadLetterId: d.id } },
        el("th", { scope: "row" }, d.id, el("div", { class: "muted" }, d.type || "")),
        el("td", {}, d.conversation_id ? el("a", { href: "#/conversation/" + enc(d.conversation_id) }, d.conversation_id) : "—"),
        el("td", {}, d.reason || "—"),
        el("td", { class: "wrap" }, d.description || "—"),
        el("td", {}, fmtAge(d.age_ms)),
        el("td", { class: "num" }, String(d.deliveries)),
        el("td", {}, d.data !== null ? el("details", {}, el("summary", {}, d.data_bytes + " bytes" + (d.data_truncated ? " (cut)" : "")), el("pre", {}, d.data)) : d.data_bytes + " bytes"),
        el("td", { class: "actions" }, replay, " ", del));
    });
    append(clear(view),
      pageHeader("Dead letters of " + queue, el("p", { class: "muted" }, data.dead_letters.length + " dead letter(s)" + (data.more ? " (more not shown)" : "") + ". Age counts from the event's time.")),
      nav,
      el("p", {}, el("button", { type: "button", id: "dl-refresh", on: { click: () => route() } }, "Refresh")),
      table(["Dead letter", "Conversation", "Reason", "Description", "Age", "Deliveries", "Data", ""], rows, { id: "deadletters-table" }));
  }

  async function act(fn, done) {
    try {
      setStatus("Working…");
      await fn();
      setStatus(done);
    } catch (e) {
      setStatus(e.message, true);
    }
    await route();
  }

  const ENDED = new Set(["succeeded", "failed", "cancelled"]);

  function jobDetails(j) {
    const p = j.progress || {};
    return el("div", { class: "job-details" },
      el("ol", { class: "steps" }, (j.steps || []).map((s) => el("li", { data: { step: s.name } }, badge(s.state), " " + s.name + (s.updated_ms ? " · " + fmtTime(s.updated_ms) : "")))),
      p.total_steps ? el("p", {}, "Progress: step " + p.step + " of " + p.total_steps + (p.epoch !== undefined ? ", epoch " + p.epoch : "") + (p.loss !== undefined ? ", loss " + p.loss : "")) : null,
      j.metrics ? el("p", {}, "Metrics: " + Object.entries(j.metrics).map(([k, v]) => k + "=" + v).join(", ")) : null,
      j.reason ? el("p", { class: "error" }, "Reason: " + j.reason) : null,
      j.artifact ? el("p", {}, "Artifact: " + j.artifact) : null,
      el("h3", {}, "Log"),
      el("pre", { class: "log" }, (j.log || []).join("\n") || "(no trainer output recorded)"),
      el("p", { class: "muted" }, "backend " + (j.backend || "—") + " · base model " + (j.base_model || "—") + " · data " + (j.data ? j.data.container + "/" + j.data.name : "—") + " · attempt " + (j.attempt ?? "—")));
  }

  const openJobs = new Set();

  // ML: adapters, jobs, start training, cancel
  async function pageMl(view) {
    const [agentsData, adapters, jobs] = await Promise.all([
      api("GET", "/v1/agents"), api("GET", "/v1/ml/adapters"), api("GET", "/v1/ml/jobs")]);
    const adapterRows = adapters.adapters.map((a) => el("tr", { data: { adapterAgent: a.agent } },
      el("th", { scope: "row" }, a.agent), el("td", {}, a.name), el("td", {}, badge(a.status)),
      el("td", { class: "num" }, a.version !== undefined ? String(a.version) : "—"),
      el("td", {}, a.training_job || "—"), el("td", {}, a.base_model || "—"),
      el("td", {}, fmtTime(a.updated_ms)), el("td", { class: "wrap" }, a.last_error || "")));
    const jobRows = jobs.jobs.map((j) => {
      const p = j.progress || {};
      const open = openJobs.has(j.job_id);
      const toggle = el("button", { type: "button", class: "link", "aria-expanded": open ? "true" : "false" }, j.job_id);
      toggle.addEventListener("click", () => {
        if (openJobs.has(j.job_id)) openJobs.delete(j.job_id); else openJobs.add(j.job_id);
        route();
      });
      let cancel = null;
      if (!ENDED.has(j.state)) {
        cancel = el("button", { type: "button", class: "cancel danger" }, "Cancel");
        cancel.addEventListener("click", async () => {
          if (!(await confirmAction("Cancel this training job?", "Job " + j.job_id + " for " + j.agent + " stops; a ready adapter stays as it is.", "Cancel job"))) return;
          await act(() => api("POST", "/v1/ml/jobs/" + enc(j.job_id) + "/cancel"), "Cancel requested for " + j.job_id);
        });
      }
      const rows = [el("tr", { data: { jobId: j.job_id, state: j.state } },
        el("th", { scope: "row" }, toggle),
        el("td", {}, j.agent), el("td", {}, j.kind || "train"), el("td", {}, badge(j.state)),
        el("td", {}, p.total_steps ? el("progress", { max: p.total_steps, value: p.step || 0 }) : "—", p.total_steps ? " " + (p.step || 0) + "/" + p.total_steps : ""),
        el("td", {}, fmtTime(j.created_ms)), el("td", {}, fmtTime(j.updated_ms)),
        el("td", { class: "actions" }, cancel))];
      if (open) rows.push(el("tr", { class: "details-row" }, el("td", { colspan: 8 }, jobDetails(j))));
      return rows;
    });
    // The form is built once per visit and kept across refreshes (only the tables are
    // replaced), so a refresh never takes the operator's input or focus away.
    if (!view.querySelector("#train-form")) {
      append(clear(view),
        pageHeader("ML", el("p", { class: "muted" }, "Adapters and training jobs of the ML pipeline; refreshed every 3 s.")),
        el("h2", {}, "Start a training job"), trainForm(agentsData.agents),
        el("h2", {}, "Jobs"), el("div", { id: "jobs-box" }),
        el("h2", {}, "Adapters"), el("div", { id: "adapters-box" }));
    }
    append(clear(view.querySelector("#jobs-box")),
      table(["Job", "Agent", "Kind", "State", "Progress", "Created", "Updated", ""], jobRows, { id: "jobs-table" }));
    append(clear(view.querySelector("#adapters-box")),
      table(["Agent", "Adapter", "Status", "Version", "Training job", "Base model", "Updated", "Last error"], adapterRows, { id: "adapters-table" }));
  }

  function trainForm(agents) {
    const form = el("form", { id: "train-form", class: "filters" },
      el("label", {}, "Agent ", el("select", { name: "agent", required: true }, agents.map((a) => el("option", { value: a.name }, a.name)))),
      el("label", {}, "Data container ", el("input", { name: "container", required: true, value: "training", size: 12, spellcheck: "false" })),
      el("label", {}, "blob ", el("input", { name: "blob", required: true, placeholder: "cfo/2026-11.jsonl", size: 28, spellcheck: "false" })),
      el("label", {}, "Base model ", el("input", { name: "base_model", placeholder: "(pipeline default)", size: 24, spellcheck: "false" })),
      el("label", {}, "Epochs ", el("input", { name: "epochs", type: "number", min: 1, max: 1000, placeholder: "1", size: 4 })),
      el("button", { type: "submit" }, "Start training"));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const f = new FormData(form);
      const body = { data: { container: f.get("container"), name: f.get("blob") } };
      if (f.get("base_model")) body.base_model = f.get("base_model");
      if (f.get("epochs")) body.hyperparameters = { epochs: Number(f.get("epochs")) };
      await act(async () => {
        const job = await api("POST", "/v1/ml/adapters/" + enc(f.get("agent")) + "/train", body);
        openJobs.add(job.job_id);
      }, "Training job queued");
    });
    return form;
  }

  // Live: GET /v1/metrics every 3 s, turned into per-agent rates and percentiles.
  const live = { samples: [], max: 100 };

  async function pageLive(view) {
    const text = await api("GET", "/v1/metrics");
    const snap = Charts.parsePrometheus(String(text));
    live.samples.push({ t: Date.now(), snap });
    if (live.samples.length > live.max) live.samples.shift();
    const series = Charts.agentSeries(live.samples);
    const now = series.latest;
    const rows = Object.keys(now).sort().map((a) => el("tr", { data: { liveAgent: a } },
      el("th", { scope: "row" }, a),
      el("td", { class: "num" }, now[a].rate.toFixed(2)),
      el("td", { class: "num" }, fmtSec(now[a].p50)), el("td", { class: "num" }, fmtSec(now[a].p95)), el("td", { class: "num" }, fmtSec(now[a].p99)),
      el("td", { class: "num" }, now[a].errRate.toFixed(2)),
      el("td", { class: "num" }, String(now[a].total)), el("td", { class: "num" }, String(now[a].errors))));
    append(clear(view),
      pageHeader("Live", el("p", { class: "muted" }, "From the router's own metrics (GET /v1/metrics), sampled every 3 s while this page is open: turns/s and errors/s over the last interval, latency percentiles over the samples on screen.")),
      el("div", { class: "charts" },
        el("figure", {}, el("figcaption", {}, "Turns per second"), Charts.line(series.rate, { unit: "/s", id: "chart-rate" })),
        el("figure", {}, el("figcaption", {}, "Latency p95 (seconds)"), Charts.line(series.p95, { unit: "s", id: "chart-p95" })),
        el("figure", {}, el("figcaption", {}, "Errors and timeouts per second"), Charts.line(series.errRate, { unit: "/s", id: "chart-errors" }))),
      table(["Agent", "Turns/s", "p50", "p95", "p99", "Errors/s", "Turns (total)", "Errors (total)"], rows, { id: "live-table" }));
  }

  function fmtSec(v) {
    return v === null || v === undefined || Number.isNaN(v) ? "—" : v < 1 ? Math.round(v * 1000) + " ms" : v.toFixed(2) + " s";
  }

  // ---- router -----------------------------------------------------------------------------

  function stopTimer() {
    if (timer) clearTimeout(timer);
    timer = null;
  }

  async function route() {
    stopTimer();
    const seq = ++renderSeq;
    const hash = location.hash || "#/agents";
    const [pathPart, queryPart] = hash.slice(1).split("?");
    const params = new URLSearchParams(queryPart || "");
    const parts = pathPart.split("/").filter(Boolean).map((p) => decodeURIComponent(p));
    const page = parts[0] || "agents";
    for (const a of document.querySelectorAll("#nav a")) {
      if (a.dataset.page === page || (page === "conversation" && a.dataset.page === "conversations")) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    if (!login.hidden) return;
    const key = pathPart + "?" + (queryPart || "");
    let view = main.querySelector(".view");
    const samePage = view && view.dataset.key === key;
    if (!samePage) {
      view = el("div", { class: "view", data: { page, key } }, el("p", { class: "muted" }, "Loading…"));
      append(clear(main), view);
      document.title = "AOS console · " + page;
      main.focus({ preventScroll: true });
      if (page === "live") live.samples = [];
    }
    try {
      if (page === "agents") await pageAgents(view);
      else if (page === "conversations") await pageConversations(view, params);
      else if (page === "conversation" && parts[1]) await pageConversation(view, parts[1], params);
      else if (page === "deadletters") await pageDeadLetters(view, parts[1]);
      else if (page === "ml") await pageMl(view);
      else if (page === "live") await pageLive(view);
      else append(clear(view), pageHeader("Not found"), el("p", {}, "No page " + page + "."));
      if (seq !== renderSeq) return;
      if (statusEl.className === "error") setStatus("");
      main.dataset.loaded = key;
    } catch (e) {
      if (seq !== renderSeq || e.status === 401) return;
      append(clear(view), pageHeader("Error"), el("p", { class: "error", role: "alert" }, e.message));
      setStatus(e.message, true);
    }
    if (seq === renderSeq && REFRESH_MS[page]) timer = setTimeout(route, REFRESH_MS[page]);
  }

  window.addEventListener("hashchange", route);

  // Keyboard: 1-5 switch pages, r refreshes (not while typing).
  document.addEventListener("keydown", (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    const t = e.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA" || t.isContentEditable)) return;
    if (document.getElementById("confirm").open) return;
    const pages = ["agents", "conversations", "deadletters", "ml", "live"];
    if (e.key >= "1" && e.key <= "5") {
      location.hash = "#/" + pages[Number(e.key) - 1];
      e.preventDefault();
    } else if (e.key === "r") {
      route();
      e.preventDefault();
    }
  });

  // Start: with no key, try the API once (development mode needs none).
  (async () => {
    try {
      await api("GET", "/v1/agents");
      main.hidden = false;
      route();
    } catch (e) {
      if (e.status !== 401) {
        main.hidden = false;
        route();
      }
    }
  })();
})();
