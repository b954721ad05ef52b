"use strict";
// The dashboard's pages. Every value shown comes from the JSON API (app.py); the
// DOM is built with createElement/textContent only, so key names and values from
// the server are never interpreted as HTML.

const state = { session: null, timer: null, events: null, charts: {}, page: null, sort: {} };

// -- helpers -------------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function fmtNum(n) {
  if (n === null || n === undefined) return "—";
  if (typeof n !== "number") return String(n);
  return Number.isInteger(n) ? n.toLocaleString("en-US") : n.toLocaleString("en-US", { maximumFractionDigits: 2 });
}
function fmtBytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(2) : String(n)) + " " + units[i];
}
function fmtMs(ms) {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return ms + " ms";
  const s = ms / 1000;
  if (s < 120) return s.toFixed(1) + " s";
  if (s < 7200) return (s / 60).toFixed(1) + " min";
  return (s / 3600).toFixed(1) + " h";
}
function fmtTtl(ms) { return ms === -1 ? "no TTL" : ms === -2 ? "gone" : fmtMs(ms); }

function status(message, isError) {
  const box = document.getElementById("status");
  box.textContent = message;
  box.className = "show" + (isError ? " error" : "");
  clearTimeout(status.timer);
  status.timer = setTimeout(() => { box.className = ""; }, isError ? 6000 : 2500);
}

class LoginNeeded extends Error {}

async function api(path) {
  const r = await fetch(path, { credentials: "same-origin" });
  if (r.status === 401) throw new LoginNeeded();
  const body = await r.json().catch(() => ({ error: r.statusText }));
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

async function post(path, data) {
  const r = await fetch(path, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-Vermilion-Dashboard": "1" },
    body: JSON.stringify(data || {}),
  });
  const body = await r.json().catch(() => ({ error: r.statusText }));
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

function confirmAction(message, input) {
  const box = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = message;
  const label = document.getElementById("confirm-input-label");
  const field = document.getElementById("confirm-input");
  label.hidden = !input;
  if (input) { document.getElementById("confirm-input-name").textContent = input.name; field.value = input.value || ""; }
  box.hidden = false;
  return new Promise(resolve => {
    const done = ok => {
      box.hidden = true;
      document.getElementById("confirm-ok").onclick = document.getElementById("confirm-cancel").onclick = null;
      resolve(ok ? (input ? field.value : true) : null);
    };
    document.getElementById("confirm-ok").onclick = () => done(true);
    document.getElementById("confirm-cancel").onclick = () => done(false);
  });
}

// A write action: shown only when the dashboard allows writes; asks first.
function actionButton(label, name, message, args, input) {
  if (!state.session || !state.session.write) return null;
  return el("button", {
    class: "action", "data-action": name, text: label,
    onclick: async (ev) => {
      ev.stopPropagation();
      const answer = await confirmAction(message, input);
      if (answer === null) return;
      const body = Object.assign({}, args);
      if (input) body[input.field] = answer;
      try {
        await post("/api/action/" + name, body);
        status(label + ": done");
        refresh();
      } catch (err) { status(label + " failed: " + err.message, true); }
    },
  });
}

function table(headers, rows, attrs) {
  const head = el("tr", {}, headers.map(h => typeof h === "string" ? el("th", { text: h }) : h));
  return el("table", attrs || {}, el("thead", {}, head), el("tbody", {}, rows));
}

function td(value, cls) { return el("td", { class: cls || null, text: value === null || value === undefined ? "—" : String(value) }); }
function num(value) { return td(fmtNum(value), "num"); }

function main() { return document.getElementById("main"); }
function show(...nodes) { main().replaceChildren(...nodes.flat(Infinity).filter(n => n !== null && n !== undefined)); }

// -- session and routing -----------------------------------------------------------------

async function start() {
  state.session = await api("/api/session");
  document.getElementById("target").textContent = state.session.target;
  const mode = document.getElementById("mode");
  mode.textContent = state.session.write ? "write actions on" : "read-only";
  mode.className = state.session.write ? "write" : "";
  // Logged in as a user of our own: log out. Otherwise, on a server that lets
  // anyone in, one may still log in as another ACL user.
  const logout = document.getElementById("logout");
  logout.hidden = !state.session.user && state.session.auth_required;
  logout.textContent = state.session.user ? `Log out (${state.session.user})` : "Log in as…";
  logout.onclick = async () => {
    if (!state.session.user) return showLogin();
    await post("/api/logout"); location.reload();
  };
  if (state.session.auth_required && !state.session.logged_in) return showLogin();
  window.addEventListener("hashchange", route);
  route();
}

function showLogin(message) {
  stopPage();
  const error = el("p", { id: "login-error", class: "error", text: message || "" });
  const user = el("input", { id: "login-user", autocomplete: "username", placeholder: "default" });
  const pass = el("input", { id: "login-pass", type: "password", autocomplete: "current-password" });
  const form = el("form", { id: "login", class: "login card", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      await post("/api/login", { username: user.value, password: pass.value });
      location.reload();
    } catch (err) { error.textContent = err.message; }
  } },
  el("h2", { text: state.session && !state.session.auth_required ? "Log in as an ACL user" : "This server needs credentials" }),
  el("label", { text: "User (empty: default)" }), user,
  el("label", { text: "Password" }), pass,
  el("p", {}, el("button", { id: "login-submit", type: "submit", text: "Log in" })), error);
  show(form);
}

const PAGES = { overview: overviewPage, streams: streamsPage, stream: streamPage, pubsub: pubsubPage,
                keys: keysPage, clients: clientsPage };

function stopPage() {
  if (state.timer) clearInterval(state.timer);
  if (state.events) state.events.close();
  state.timer = state.events = null;
}

function route() {
  stopPage();
  const [page, arg] = (location.hash.slice(1) || "overview").split("/");
  const render = PAGES[page] || overviewPage;
  state.page = { name: page, arg, render };
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.page === (page === "stream" ? "streams" : page));
  refresh();
  const every = { overview: 5000, streams: 2000, stream: 2000, pubsub: 2000, clients: 3000 }[page || "overview"];
  if (every) state.timer = setInterval(refresh, every);
}

async function refresh() {
  if (!state.page) return;
  try { await state.page.render(state.page.arg); }
  catch (err) {
    if (err instanceof LoginNeeded) return showLogin("Please log in.");
    status(err.message, true);
  }
}

// -- Overview -------------------------------------------------------------------------------

const SERIES = [
  ["ops", "Ops/s", v => fmtNum(Math.round(v))],
  ["hit_ratio", "Hit ratio", v => (v * 100).toFixed(1) + " %"],
  ["memory", "Memory", fmtBytes],
  ["clients", "Clients", v => fmtNum(v)],
  ["net_in", "Network in", v => v.toFixed(1) + " KB/s"],
  ["net_out", "Network out", v => v.toFixed(1) + " KB/s"],
];

async function overviewPage() {
  const data = await api("/api/overview");
  if (!document.getElementById("ov-cards")) {
    const cards = SERIES.map(([key, label]) => el("div", { class: "card" },
      el("div", { class: "label", text: label }),
      el("div", { class: "value", id: "ov-" + key, text: "—" }),
      el("canvas", { class: "chart", id: "chart-" + key, "data-points": "0" })));
    show(el("h2", { text: "Overview" }), el("div", { class: "cards", id: "ov-cards" }, cards),
         el("div", { class: "two" },
           el("div", {}, el("h3", { text: "Server" }), el("div", { id: "server-info" }),
                         el("h3", { text: "Keyspace" }), el("div", { id: "keyspace" })),
           el("div", {}, el("h3", { text: "Persistence" }), el("div", { id: "persistence" }),
                         el("h3", { text: "Replication" }), el("div", { id: "replication" }),
                         el("h3", { text: "Configuration" }), el("div", { id: "config" }))));
    state.charts = {};
    for (const [key, , format] of SERIES) state.charts[key] = new LineChart(document.getElementById("chart-" + key), { format });
    for (const point of data.history || []) addPoint(point);
    listen();
  }
  const s = data.server;
  document.getElementById("server-info").replaceChildren(kv([
    ["version", s.vermilion_version ? `Vermilion ${s.vermilion_version} (redis ${s.redis_version})` : `Redis ${s.redis_version}`],
    ["role", s.role], ["uptime", fmtMs((s.uptime_in_seconds || 0) * 1000)], ["process id", s.process_id],
    ["commands processed", fmtNum(s.total_commands_processed)], ["keyspace hits / misses", `${fmtNum(s.keyspace_hits)} / ${fmtNum(s.keyspace_misses)}`],
    ["expired / evicted keys", `${fmtNum(s.expired_keys)} / ${fmtNum(s.evicted_keys)}`],
    ["memory used / peak / max", `${s.used_memory_human} / ${s.used_memory_peak_human} / ${s.maxmemory_human}`],
    ["pub/sub channels / patterns", `${s.pubsub_channels} / ${s.pubsub_patterns}`],
  ]));
  const p = data.persistence, c = data.config;
  const lastSave = p.rdb_last_save_time ? new Date(p.rdb_last_save_time * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC" : "—";
  document.getElementById("persistence").replaceChildren(kv([
    ["last save", lastSave], ["changes since last save", fmtNum(p.rdb_changes_since_last_save)],
    ["last bgsave status", p.rdb_last_bgsave_status], ["save rules", c.save === "" ? "none" : c.save],
    ["AOF", p.aof_enabled ? "on" : "off"], ["fsync policy", c.appendfsync],
    ["AOF last write", p.aof_last_write_status], ["AOF rewrite in progress", p.aof_rewrite_in_progress ? "yes" : "no"],
    ["loading", p.loading ? "yes" : "no"],
  ], "persistence-kv"));
  const r = data.replication;
  const link = r.role === "slave" ? [
    ["primary", `${r.master_host}:${r.master_port}`], ["link", r.master_link_status],
    ["last I/O from primary", r.master_last_io_seconds_ago === -1 ? "—" : `${r.master_last_io_seconds_ago} s ago`],
    ["sync in progress", r.master_sync_in_progress ? "yes" : "no"], ["applied offset", fmtNum(r.slave_repl_offset)],
    ["read-only", r.slave_read_only ? "yes" : "no"],
  ] : [["offset", fmtNum(r.master_repl_offset)], ["replicas", r.connected_slaves]];
  document.getElementById("replication").replaceChildren(kv([["role", r.role === "slave" ? "replica" : r.role], ...link], "replication-kv"),
    ...(r.replicas.length ? [table(["replica", "state", el("th", { class: "num", text: "offset" }), el("th", { class: "num", text: "bytes behind" }), el("th", { class: "num", text: "lag" })],
      r.replicas.map(x => el("tr", { "data-replica": x.address }, td(x.address, "mono"), td(x.state), num(x.offset), num(x.behind), td(x.lag === undefined ? "—" : `${x.lag} s`, "num"))), { id: "replicas-table" })] : []));
  document.getElementById("config").replaceChildren(c.error ? el("p", { class: "muted", text: c.error }) :
    kv(Object.entries(c).map(([k, v]) => [k, v === "" ? "\"\"" : v]), "config-kv"));
  const dbs = Object.entries(data.keyspace);
  document.getElementById("keyspace").replaceChildren(dbs.length ? table(["db", el("th", { class: "num", text: "keys" }), el("th", { class: "num", text: "expires" }), el("th", { class: "num", text: "avg TTL" })],
    dbs.map(([db, v]) => el("tr", { "data-db": db }, td(db), num(v.keys), num(v.expires), td(fmtMs(v.avg_ttl), "num")))) : el("p", { class: "muted", text: "No keys." }));
}

function kv(items, id) {
  return el("dl", { class: "kv", id: id || null }, items.map(([k, v]) => [el("dt", { text: k }), el("dd", { "data-field": k, text: v === null || v === undefined ? "—" : String(v) })]));
}

function addPoint(point) {
  if (point.error) { status(point.error, true); return; }
  for (const [key, , format] of SERIES) {
    const value = point[key];
    if (value === null || value === undefined) continue;
    state.charts[key].push(point.t, value);
    const label = document.getElementById("ov-" + key);
    if (label) label.textContent = format(value);
  }
}

function listen() {
  const source = new EventSource("/api/events");
  source.addEventListener("history", () => {});
  source.onmessage = (ev) => addPoint(JSON.parse(ev.data));
  source.onerror = () => status("live updates interrupted; retrying", true);
  state.events = source;
}

// -- Streams --------------------------------------------------------------------------------

function groupCells(g) {
  const oldest = g.oldest_pending;
  const consumers = g.consumers.map(c => `${c.name} (idle ${fmtMs(c.idle)}, ${c.pending} pending)`).join(", ");
  return [
    el("td", { class: "group-name" }, el("b", { text: g.name })),
    td(g.lag === null ? "unknown" : fmtNum(g.lag), "num lag"),
    td(fmtNum(g.pending), "num pending"),
    td(oldest ? `${fmtMs(oldest.age)} old (idle ${fmtMs(oldest.idle)}, ${oldest.deliveries} deliveries)` : "—", "oldest"),
    el("td", { class: "consumers", colSpan: 3, text: consumers || "no consumers" }),
  ];
}

async function streamsPage() {
  const data = await api("/api/streams");
  const rows = [];
  for (const s of data.streams) {
    rows.push(el("tr", { class: "clickable stream", "data-stream": s.name, onclick: () => { location.hash = "stream/" + s.key; } },
      el("td", { class: "name" }, el("b", { text: s.name }),
         s.dead_letters_of !== null ? el("span", { class: "badge dead dead-of", text: "dead letters of " + s.dead_letters_of }) : null),
      num(s.length), td(s.first_id || "—", "id first"), td(s.last_id || "—", "id last"),
      td(s.rate === null ? "…" : fmtNum(s.rate), "num rate"), num(s.groups.length),
      td(s.dead_letters === null ? "—" : fmtNum(s.dead_letters), "num dead")));
    if (s.groups.length) rows.push(el("tr", { class: "group group-head" }, ["consumer group", "lag", "pending", "oldest pending entry"].map(
      (h, i) => el("th", { class: i === 1 || i === 2 ? "num" : null, text: h })), el("th", { colSpan: 3, text: "consumers" })));
    for (const g of s.groups) rows.push(el("tr", { class: "group", "data-group": s.name + "/" + g.name }, groupCells(g)));
  }
  show(el("h2", { text: `Streams (${data.streams.length}${data.capped ? ", first ones only" : ""})` }),
    data.streams.length ? table(["stream", el("th", { class: "num", text: "length" }), "first ID", "last ID",
      el("th", { class: "num", text: "added/s" }), el("th", { class: "num", text: "groups" }), el("th", { class: "num", text: "dead letters" })],
      rows, { id: "streams-table" }) : el("p", { class: "muted", text: "No streams." }),
    el("p", { class: "muted", text: "Group rows: lag (entries not yet delivered), pending (delivered, not acknowledged), age of the oldest pending entry, consumers with their idle time. Click a stream for its entries." }));
}

async function streamPage(hex) {
  const s = await api("/api/stream?key=" + encodeURIComponent(hex));
  const isDead = s.dead_letters_of !== null;
  const entryRows = s.entries.map(e => el("tr", { "data-id": e.id }, td(e.id, "id"),
    td(e.fields.map(([f, v]) => `${f}=${v}`).join("  ") + (e.more ? ` … (+${e.more} fields)` : ""), "mono"),
    isDead ? el("td", {}, actionButton("Replay", "replay", `Put dead letter ${e.id} back on its stream?`, { key: s.key, id: e.id })) : null));
  const groups = s.groups.map(g => el("section", { "data-group": g.name },
    el("h3", { text: `Group ${g.name}: lag ${g.lag === null ? "unknown" : g.lag}, ${g.pending} pending` }),
    g.pending_entries.length ? table(["pending ID", "consumer", el("th", { class: "num", text: "idle" }), el("th", { class: "num", text: "deliveries" }), ""],
      g.pending_entries.map(p => el("tr", { "data-id": p.id }, td(p.id, "id"), td(p.consumer, "consumer"), td(fmtMs(p.idle), "num idle"), num(p.deliveries),
        el("td", {}, actionButton("XACK", "xack", `Acknowledge ${p.id} in group ${g.name}?`, { key: s.key, group: g.name, id: p.id }),
                     " ", actionButton("XCLAIM", "xclaim", `Claim ${p.id} of group ${g.name} for another consumer?`, { key: s.key, group: g.name, id: p.id },
                                       { name: "consumer", field: "consumer", value: "dashboard" })))),
      { class: "pending", id: "pending-" + g.name }) : el("p", { class: "muted", text: "Nothing pending." })));
  show(el("h2", {}, el("a", { href: "#streams", text: "Streams" }), " / ", el("span", { id: "stream-name", text: s.name }),
         isDead ? el("span", { class: "badge dead", text: "dead letters of " + s.dead_letters_of }) : null),
    kv([["length", fmtNum(s.length)], ["first ID", s.first_id], ["last ID", s.last_id], ["entries added", fmtNum(s.entries_added)],
        ["added/s", s.rate === null ? "…" : fmtNum(s.rate)], ["groups", s.groups.length]], "stream-info"),
    el("h3", { text: "Latest entries" }),
    s.entries.length ? table(["ID", "fields", isDead ? "" : null].filter(h => h !== null), entryRows, { id: "stream-entries" }) : el("p", { class: "muted", text: "Empty." }),
    groups);
}

// -- Pub/Sub --------------------------------------------------------------------------------

async function pubsubPage() {
  const d = await api("/api/pubsub");
  const channels = d.channels.map(c => el("tr", { "data-channel": c.name }, td(c.name, "mono"), td(fmtNum(c.subscribers), "num subs"), td(fmtNum(c.rate), "num rate")));
  const nodes = [el("h2", { text: "Pub/Sub" }),
    el("h3", { text: `Channels with subscribers (${d.channels.length}${d.capped ? ", first ones only" : ""})` }),
    channels.length ? table(["channel", el("th", { class: "num", text: "subscribers" }), el("th", { class: "num", text: "messages/s" })], channels, { id: "channels-table" })
                    : el("p", { class: "muted", text: "No channel has subscribers." }),
    el("h3", {}, "Patterns: ", el("span", { id: "numpat", text: String(d.numpat) }))];
  if (d.patterns) {
    nodes.push(d.patterns.length ? table(["pattern", el("th", { class: "num", text: "subscribers" }), el("th", { class: "num", text: "messages/s" })],
      d.patterns.map(p => el("tr", { "data-pattern": p.name }, td(p.name, "mono"), td(fmtNum(p.subscribers), "num subs"), td(fmtNum(p.rate), "num rate"))), { id: "patterns-table" })
      : el("p", { class: "muted", text: "No pattern subscriptions." }));
  } else {
    nodes.push(el("p", { class: "muted", text: "Redis has no command that lists pattern subscriptions: only their number is shown (CLIENT LIST shows each client's psub count)." }));
  }
  if (d.published.length) {
    nodes.push(el("h3", { text: "Published (messages/s, any channel)" }),
      table(["channel", el("th", { class: "num", text: "messages/s" })], d.published.map(p => el("tr", { "data-published": p.name }, td(p.name, "mono"), td(fmtNum(p.rate), "num rate"))), { id: "published-table" }));
  }
  nodes.push(el("p", { class: "muted", text: d.rate_error || "Message rates are counted by the dashboard's own PSUBSCRIBE * (held while this page is open; not included in the counts above)." }));
  show(...nodes);
}

// -- Keys -----------------------------------------------------------------------------------

const keysState = { pattern: "*", type: "", cursor: 0, rows: [], selected: null };

async function keysPage() {
  if (!document.getElementById("keys-form")) {
    const pattern = el("input", { id: "keys-pattern", value: keysState.pattern, placeholder: "pattern (glob)" });
    const type = el("select", { id: "keys-type" }, ["", "string", "list", "hash", "set", "zset", "stream"].map(t => el("option", { value: t, text: t || "any type", selected: t === keysState.type })));
    const form = el("form", { id: "keys-form", class: "inline", onsubmit: (ev) => {
      ev.preventDefault();
      Object.assign(keysState, { pattern: pattern.value || "*", type: type.value, cursor: 0, rows: [] });
      loadKeys();
    } }, pattern, type, el("button", { id: "keys-search", type: "submit", text: "Scan" }));
    show(el("h2", { text: "Keys" }), form, el("div", { class: "two" }, el("div", { id: "keys-list" }), el("div", { id: "key-preview" })));
    keysState.rows = []; keysState.cursor = 0;
    await loadKeys();
  }
  if (keysState.selected) await preview(keysState.selected);
}

async function loadKeys() {
  const q = new URLSearchParams({ pattern: keysState.pattern, type: keysState.type, cursor: String(keysState.cursor) });
  const d = await api("/api/keys?" + q);
  keysState.rows = keysState.rows.concat(d.keys);
  keysState.cursor = d.cursor;
  const rows = keysState.rows.map(k => el("tr", { class: "clickable", "data-key": k.name, onclick: () => { keysState.selected = k.key; preview(k.key); } },
    td(k.name, "mono"), td(k.type, "type"), td(fmtTtl(k.ttl), "num ttl")));
  document.getElementById("keys-list").replaceChildren(
    rows.length ? table(["key", "type", el("th", { class: "num", text: "TTL" })], rows, { id: "keys-table" }) : el("p", { class: "muted", text: "No keys match." }),
    keysState.cursor ? el("p", {}, el("button", { id: "keys-more", text: "More", onclick: loadKeys })) : el("p", { class: "muted", id: "keys-done", text: `${rows.length} keys, scan complete.` }));
}

async function preview(hex) {
  const k = await api("/api/key?key=" + encodeURIComponent(hex));
  let body;
  if (k.type === "none") body = el("p", { class: "muted", text: "This key no longer exists." });
  else if (k.type === "string") body = el("pre", { class: "preview", text: k.preview + (k.size > k.preview.length ? " …" : "") });
  else if (k.type === "list" || k.type === "set") body = table(["#", "value"], k.preview.map((v, i) => el("tr", {}, td(i), td(v, "mono"))));
  else if (k.type === "hash" || k.type === "zset") body = table([k.type === "hash" ? "field" : "member", k.type === "hash" ? "value" : "score"], k.preview.map(([a, b]) => el("tr", {}, td(a, "mono"), td(b, "mono"))));
  else if (k.type === "stream") body = table(["ID", "fields"], k.preview.map(e => el("tr", {}, td(e.id, "id"), td(e.fields.map(([f, v]) => `${f}=${v}`).join("  "), "mono"))));
  else body = el("p", { class: "muted", text: "No preview for this type." });
  document.getElementById("key-preview").replaceChildren(el("div", { class: "card", id: "key-card", "data-key": k.name },
    el("h3", { text: k.name }),
    kv([["type", k.type], ["TTL", fmtTtl(k.ttl)], ["size", fmtNum(k.size)]]),
    k.capped ? el("p", { class: "muted", text: "Preview shows the first elements only." }) : null,
    body,
    el("p", {}, actionButton("Delete key", "key-delete", `Delete key ${k.name}?`, { key: k.key }))));
}

// -- Clients and slowlog ----------------------------------------------------------------------

const CLIENT_COLUMNS = [["id", true], ["addr", false], ["name", false], ["age", true], ["idle", true], ["db", true],
  ["cmd", false], ["user", false], ["sub", true], ["psub", true], ["flags", false], ["qbuf", true], ["omem", true]];

async function clientsPage() {
  const d = await api("/api/clients");
  const sort = state.sort.clients || { column: "id", asc: true };
  const rows = d.clients.slice().sort((a, b) => {
    const x = a[sort.column], y = b[sort.column];
    const r = (typeof x === "number" && typeof y === "number") ? x - y : String(x).localeCompare(String(y));
    return sort.asc ? r : -r;
  });
  const headers = CLIENT_COLUMNS.map(([c, isNum]) => el("th", { "data-sort": c, class: (isNum ? "num " : "") + (sort.column === c ? "sorted" + (sort.asc ? " asc" : "") : ""), text: c,
    onclick: () => { state.sort.clients = { column: c, asc: sort.column === c ? !sort.asc : true }; clientsPage(); } }));
  if (state.session.write) headers.push(el("th", { text: "" }));
  const clientRows = rows.map(c => el("tr", { "data-client-id": String(c.id) },
    CLIENT_COLUMNS.map(([col, isNum]) => isNum ? num(c[col]) : td(c[col] === "" ? "" : c[col], col === "addr" || col === "cmd" ? "mono" : null)),
    state.session.write ? el("td", {}, actionButton("Kill", "client-kill", `Disconnect client ${c.id} (${c.addr})?`, { id: c.id })) : null));
  const nodes = [el("h2", { text: `Clients (${d.clients.length})` }), table(headers, clientRows, { id: "clients-table" }),
    el("h3", { text: "Slow log" })];
  nodes.push(d.slowlog === null ? el("p", { class: "muted", text: d.errors.slowlog }) : d.slowlog.length ?
    table(["id", "time", el("th", { class: "num", text: "duration" }), "command", "client"],
      d.slowlog.map(e => el("tr", { "data-slowlog-id": String(e.id) }, num(e.id), td(new Date(e.time * 1000).toISOString().slice(11, 19)), td(e.duration + " µs", "num"), td(e.command, "mono"), td(e.client, "mono"))), { id: "slowlog-table" })
    : el("p", { class: "muted", id: "slowlog-empty", text: "The slow log is empty." }));
  nodes.push(el("h3", { text: "Latency (LATENCY LATEST)" }));
  nodes.push(d.latency === null ? el("p", { class: "muted", text: d.errors.latency }) : d.latency.length ?
    table(["event", "when", el("th", { class: "num", text: "latest" }), el("th", { class: "num", text: "max" })],
      d.latency.map(e => el("tr", { "data-event": e.event }, td(e.event), td(new Date(e.time * 1000).toISOString().slice(11, 19)), td(e.latest + " ms", "num"), td(e.max + " ms", "num"))), { id: "latency-table" })
    : el("p", { class: "muted", text: "No latency spikes recorded (latency-monitor-threshold may be 0)." }));
  nodes.push(el("h3", { text: "Latency histogram (LATENCY HISTOGRAM)" }));
  nodes.push(d.histogram === null ? el("p", { class: "muted", id: "histogram-missing", text: "Not available from this server: " + (d.errors.histogram || "") }) :
    table(["command", el("th", { class: "num", text: "calls" }), "cumulative calls by latency (µs ≤ bucket)"],
      d.histogram.slice(0, 30).map(h => el("tr", { "data-command": h.command }, td(h.command, "mono"), num(h.calls), td(h.buckets.map(([b, n]) => `≤${b}: ${n}`).join("  "), "mono"))), { id: "histogram-table" }));
  show(...nodes);
}

document.addEventListener("DOMContentLoaded", () => start().catch(err => {
  if (err instanceof LoginNeeded) return showLogin();
  show(el("p", { class: "error", text: "Cannot reach the server: " + err.message }));
}));
