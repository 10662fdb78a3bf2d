// Strata's web console: one page, no dependencies, no request beyond this listener.
// Every page is rendered from the JSON API (/api/v1/, docs/console.md) with DOM nodes and
// textContent only: data from the broker never becomes markup.
"use strict";

const PAGE_SIZE = 50;

// ---- DOM and formatting helpers

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "value") el.value = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function link(href, text, cls) {
  return h("a", { href, class: cls, "data-link": true }, text);
}

const fmtInt = (n) => (typeof n === "number" ? n.toLocaleString("en-US") : "–");

function fmtBytes(n) {
  if (typeof n !== "number" || n < 0) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)) + " " + units[i];
}

function fmtTime(ms) {
  if (typeof ms !== "number" || ms < 0) return "–";
  return new Date(ms).toISOString().replace("T", " ").replace("Z", " UTC");
}

const enc = encodeURIComponent;

function stateBadge(state) {
  const cls = { Stable: "ok", Empty: "gray", Dead: "bad", PreparingRebalance: "warn", CompletingRebalance: "warn" }[state] || "";
  return h("span", { class: "badge " + cls }, state);
}

function empty(title, text) {
  return h("div", { class: "empty" }, h("strong", {}, title), text);
}

function message(kind, text) {
  return h("div", { class: "msg " + kind, role: kind === "error" ? "alert" : "status" }, text);
}

function table(columns, rows, emptyNode) {
  if (rows.length === 0) return emptyNode;
  return h("table", {},
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { class: c.num ? "num" : null }, c.title)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, columns.map((c) => h("td", { class: c.num ? "num" : c.cls }, c.cell(r)))))));
}

function panel(title, tools, ...body) {
  return h("section", { class: "panel" },
    h("div", { class: "panel-head" }, h("h2", {}, title), tools || null),
    ...body);
}

function header(crumbs, title, sub, tools) {
  const c = crumbs.length ? h("div", { class: "crumbs" }, crumbs.flatMap((x, i) => (i ? [" / ", x] : [x]))) : null;
  return [c, h("div", { class: "head" }, h("div", {}, h("h1", {}, title), sub ? h("div", { class: "sub" }, sub) : null), tools || null)];
}

// ---- the API

class APIError extends Error {
  constructor(status, msg) { super(msg); this.status = status; }
}

async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch("/api/v1" + path, opts);
  let data = null;
  try { data = await resp.json(); } catch (e) { /* no body */ }
  if (!resp.ok) throw new APIError(resp.status, (data && data.error) || resp.status + " " + resp.statusText);
  return { data, total: Number(resp.headers.get("X-Total-Count") || "NaN"), status: resp.status };
}

// ---- routing

const routes = [
  [/^\/$/, overview, "overview"],
  [/^\/topics$/, topics, "topics"],
  [/^\/topics\/([^/]+)$/, topic, "topics"],
  [/^\/topics\/([^/]+)\/partitions\/(\d+)$/, browser, "topics"],
  [/^\/groups$/, groups, "groups"],
  [/^\/groups\/([^/]+)$/, groupPage, "groups"],
  [/^\/brokers$/, brokers, "brokers"],
];

let renderSeq = 0;

async function render() {
  const seq = ++renderSeq;
  const main = document.getElementById("main");
  const path = location.pathname.replace(/\/+$/, "") || "/";
  const params = new URLSearchParams(location.search);
  for (const [re, fn, nav] of routes) {
    const m = path.match(re);
    if (!m) continue;
    for (const a of document.querySelectorAll("a.nav")) a.classList.toggle("active", a.dataset.nav === nav);
    main.replaceChildren(h("div", { class: "loading" }, "Loading…"));
    let nodes;
    try {
      nodes = await fn(...m.slice(1).map(decodeURIComponent), params);
    } catch (e) {
      nodes = [...header([], "Something went wrong", null), message("error", e.message)];
      if (e.status === 404) nodes = [...header([], "Not found", null), message("error", e.message), link("/", "Back to the overview")];
    }
    if (seq !== renderSeq) return; // a newer navigation took over
    main.replaceChildren(...[nodes].flat().filter(Boolean));
    document.title = (main.querySelector("h1")?.textContent || "Strata") + " · Strata console";
    return;
  }
  main.replaceChildren(...header([], "Not found", null), message("error", "No page at " + path), link("/", "Back to the overview"));
}

function go(url, replace) {
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  render();
api("GET", "/overview").then(({ data }) => { document.getElementById("version").textContent = "Strata " + data.version; }, () => {});
}

document.addEventListener("click", (e) => {
  const a = e.target.closest("a[data-link], a.nav, a.brand");
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  go(a.getAttribute("href"));
});
window.addEventListener("popstate", render);

// ---- pages

async function overview() {
  const { data: o } = await api("GET", "/overview");
  const card = (label, value, href) => h("div", { class: "card" }, h("div", { class: "label" }, label),
    href ? link(href, value, "value") : h("div", { class: "value" }, value));
  return [
    ...header([], "Overview", "Cluster " + o.cluster_id,
      h("span", { class: "badge " + (o.ready ? "ok" : "bad") }, o.ready ? "Ready" : "Not ready")),
    h("div", { class: "cards" },
      card("Brokers", fmtInt(o.brokers.length), "/brokers"),
      card("Topics", fmtInt(o.topics), "/topics"),
      card("Partitions", fmtInt(o.partitions)),
      card("Consumer groups", fmtInt(o.groups), "/groups"),
      card("Data on disk", fmtBytes(o.size_bytes))),
    panel("Brokers", null, brokerTable(o.brokers)),
  ];
}

function brokerTable(list) {
  return table([
    { title: "Node", cell: (b) => String(b.node_id) },
    { title: "Host", cell: (b) => h("span", { class: "mono" }, b.host + ":" + b.port) },
    { title: "Rack", cell: (b) => b.rack || h("span", { class: "muted" }, "–") },
    { title: "Role", cell: (b) => (b.controller ? h("span", { class: "badge" }, "Controller") : "Broker") },
  ], list, empty("No brokers", "The cluster reports no broker."));
}

async function brokers() {
  const { data } = await api("GET", "/brokers");
  return [...header([], "Brokers", fmtInt(data.length) + (data.length === 1 ? " broker" : " brokers")), panel("Brokers", null, brokerTable(data))];
}

async function topics(params) {
  const q = params.get("q") || "";
  const page = Math.max(0, Number(params.get("page") || "0") | 0);
  const internal = params.get("internal") === "true";
  const { data, total } = await api("GET", `/topics?q=${enc(q)}&offset=${page * PAGE_SIZE}&limit=${PAGE_SIZE}&internal=${internal}`);
  const url = (p, qq, inn) => `/topics?${new URLSearchParams({ q: qq, page: String(p), internal: String(inn) })}`;
  const search = h("input", { class: "search", type: "search", placeholder: "Search topics", value: q, "aria-label": "Search topics", name: "q" });
  let timer;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => go(url(0, search.value, internal), true), 250);
  });
  const showInternal = h("label", { class: "muted" },
    h("input", { type: "checkbox", checked: internal || null, onchange: (e) => go(url(0, q, e.target.checked)) }), " internal topics");
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const pager = h("div", { class: "pager" },
    h("span", { id: "topic-count" }, total === 0 ? "" : `${fmtInt(page * PAGE_SIZE + 1)}–${fmtInt(page * PAGE_SIZE + data.length)} of ${fmtInt(total)} ${total === 1 ? "topic" : "topics"}`),
    h("div", { class: "toolbar" },
      h("button", { disabled: page === 0 || null, onclick: () => go(url(page - 1, q, internal)), "aria-label": "Previous page" }, "‹ Previous"),
      h("span", {}, `Page ${fmtInt(page + 1)} of ${fmtInt(pages)}`),
      h("button", { disabled: page + 1 >= pages || null, onclick: () => go(url(page + 1, q, internal)), "aria-label": "Next page" }, "Next ›")));
  const list = table([
    { title: "Name", cell: (t) => [link("/topics/" + enc(t.name), t.name), t.internal ? [" ", h("span", { class: "badge gray" }, "internal")] : null] },
    { title: "Partitions", num: true, cell: (t) => fmtInt(t.partitions) },
    { title: "Records", num: true, cell: (t) => fmtInt(t.records) },
    { title: "End offsets", num: true, cell: (t) => fmtInt(t.end_offset) },
    { title: "Size", num: true, cell: (t) => fmtBytes(t.size_bytes) },
  ], data, q ? empty("No topic matches “" + q + "”", "Try another search.") : empty("No topics yet", "Create one below, or let a producer create it."));
  const nodes = [
    ...header([], "Topics", total === 1 ? "1 topic" : fmtInt(total) + " topics"),
    panel("All topics", h("div", { class: "toolbar" }, search, showInternal), list, data.length ? pager : null),
    createTopicForm(),
  ];
  const deleted = params.get("deleted");
  if (deleted) nodes.splice(2, 0, message("ok", `Topic ${deleted} deleted.`));
  setTimeout(() => {
    if (document.activeElement === document.body && q) {
      search.focus();
      search.setSelectionRange(q.length, q.length);
    }
  }, 0);
  return nodes;
}

function createTopicForm() {
  const out = h("div", {});
  const name = h("input", { name: "name", required: true, placeholder: "orders", "aria-label": "Topic name" });
  const parts = h("input", { name: "partitions", type: "number", min: "1", placeholder: "the broker's num.partitions", "aria-label": "Partitions" });
  const configs = h("input", { name: "configs", placeholder: "cleanup.policy=compact, retention.ms=86400000", "aria-label": "Configs" });
  const form = h("form", { class: "grid", id: "create-topic" },
    h("label", {}, "Name"), name,
    h("label", {}, "Partitions"), parts,
    h("label", {}, "Configs"), configs,
    h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, "Create topic")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { name: name.value.trim() };
    if (parts.value) body.partitions = Number(parts.value);
    if (configs.value.trim()) {
      body.configs = {};
      for (const kv of configs.value.split(",")) {
        const [k, ...v] = kv.split("=");
        if (k.trim()) body.configs[k.trim()] = v.join("=").trim();
      }
    }
    try {
      await api("POST", "/topics", body);
      go("/topics/" + enc(body.name));
    } catch (err) {
      out.replaceChildren(message("error", err.message));
    }
  });
  return panel("Create a topic", null, h("div", { class: "panel-body" }, out, form));
}

async function topic(name) {
  const { data: t } = await api("GET", "/topics/" + enc(name));
  const end = t.partitions.reduce((a, p) => a + p.end_offset, 0);
  const records = t.partitions.reduce((a, p) => a + p.end_offset - p.start_offset, 0);
  const size = t.partitions.reduce((a, p) => a + p.size_bytes, 0);
  const partitions = table([
    { title: "Partition", cell: (p) => link(`/topics/${enc(name)}/partitions/${p.partition}?offset=${p.start_offset}`, String(p.partition)) },
    { title: "Leader", cell: (p) => String(p.leader) },
    { title: "Start offset", num: true, cell: (p) => fmtInt(p.start_offset) },
    { title: "End offset", num: true, cell: (p) => fmtInt(p.end_offset) },
    { title: "Records", num: true, cell: (p) => fmtInt(p.end_offset - p.start_offset) },
    { title: "Size", num: true, cell: (p) => fmtBytes(p.size_bytes) },
  ], t.partitions, empty("No partitions", ""));
  const set = t.configs.filter((c) => c.source === "DYNAMIC_TOPIC_CONFIG");
  const configsBody = h("div", {});
  const showConfigs = (all) => configsBody.replaceChildren(configTable(all ? t.configs : set, all));
  const allBox = h("label", { class: "muted" }, h("input", { type: "checkbox", name: "all-configs", onchange: (e) => showConfigs(e.target.checked) }),
    ` show the defaults too (${t.configs.length} in all)`);
  showConfigs(false);
  return [
    ...header([link("/topics", "Topics")], t.name, `${fmtInt(t.partitions.length)} partitions · ${fmtInt(records)} records · end offsets ${fmtInt(end)} · ${fmtBytes(size)}`,
      t.internal ? h("span", { class: "badge gray" }, "internal topic") : null),
    panel("Partitions", null, partitions),
    t.internal ? null : produceForm(t),
    panel("Configs", allBox, configsBody),
    t.internal ? null : deleteTopicForm(t.name),
  ];
}

function configTable(list, all) {
  return table([
    { title: "Name", cell: (c) => h("span", { class: "mono" }, c.name) },
    { title: "Value", cls: "wrap", cell: (c) => (c.sensitive ? h("span", { class: "muted" }, "(hidden)") : c.value === null ? h("span", { class: "muted" }, "null") : h("span", { class: "mono" }, c.value)) },
    { title: "Source", cell: (c) => h("span", { class: "badge " + (c.source === "DYNAMIC_TOPIC_CONFIG" ? "" : "gray") }, c.source === "DYNAMIC_TOPIC_CONFIG" ? "topic" : c.source.toLowerCase().replace(/_/g, " ")) },
  ], list, all ? empty("No configs", "") : empty("Every config has its default", "Tick “show the defaults too” to see them."));
}

function produceForm(t) {
  const out = h("div", {});
  const part = h("select", { name: "partition", "aria-label": "Partition" },
    h("option", { value: "-1" }, "by key (or any)"), t.partitions.map((p) => h("option", { value: String(p.partition) }, String(p.partition))));
  const key = h("input", { name: "key", placeholder: "optional", "aria-label": "Key" });
  const value = h("textarea", { name: "value", placeholder: '{"hello": "world"}', "aria-label": "Value" });
  const headers = h("input", { name: "headers", placeholder: "source=console, trace=abc", "aria-label": "Headers" });
  const form = h("form", { class: "grid", id: "produce" },
    h("label", {}, "Partition"), part, h("label", {}, "Key"), key, h("label", {}, "Value"), value, h("label", {}, "Headers"), headers,
    h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, "Produce")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { value: value.value };
    if (key.value) body.key = key.value;
    if (part.value !== "-1") body.partition = Number(part.value);
    if (headers.value.trim()) {
      body.headers = headers.value.split(",").filter((s) => s.trim()).map((kv) => {
        const [k, ...v] = kv.split("=");
        return { key: k.trim(), value: v.join("=").trim() };
      });
    }
    try {
      const { data: r } = await api("POST", `/topics/${enc(t.name)}/records`, body);
      out.replaceChildren(message("ok", `Produced to partition ${r.partition} at offset ${r.offset}. `),
        link(`/topics/${enc(t.name)}/partitions/${r.partition}?offset=${r.offset}`, "Show the record"));
      value.value = "";
    } catch (err) {
      out.replaceChildren(message("error", err.message));
    }
  });
  return panel("Produce a record", null, h("div", { class: "panel-body" }, out, form));
}

function deleteTopicForm(name) {
  const out = h("div", {});
  const confirm = h("input", { name: "confirm", placeholder: name, "aria-label": "Type the topic's name to confirm" });
  const button = h("button", { class: "danger", type: "submit", disabled: true }, "Delete topic");
  confirm.addEventListener("input", () => { button.disabled = confirm.value !== name; });
  const form = h("form", { class: "grid", id: "delete-topic" },
    h("label", {}, "Confirm"), confirm, h("div", { class: "actions" }, button, h("span", { class: "muted" }, "Deletes every record of the topic.")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await api("DELETE", "/topics/" + enc(name));
      go("/topics?deleted=" + enc(name));
    } catch (err) {
      out.replaceChildren(message("error", err.message));
    }
  });
  return panel("Delete this topic", null, h("div", { class: "panel-body" }, out, form));
}

// ---- the message browser

const VIEWS = ["text", "json", "hex"];

function decodeField(s, encoding) {
  if (s === null || s === undefined) return null;
  if (encoding !== "base64") return new TextEncoder().encode(s);
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function showBytes(b, view) {
  if (b === null) return h("span", { class: "muted" }, "null");
  if (view === "hex") {
    const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0"));
    return h("span", { class: "mono" }, hex.join(" "));
  }
  let text;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(b);
  } catch (e) {
    // Not UTF-8: shown in hex whatever the view.
    return h("span", {}, h("span", { class: "badge bin" }, "binary"), showBytes(b, "hex"));
  }
  if (view === "json") {
    try { return h("span", { class: "mono" }, JSON.stringify(JSON.parse(text), null, 2)); } catch (e) { /* not JSON: as text */ }
  }
  return h("span", { class: view === "json" ? "mono" : null }, text);
}

async function browser(name, p, params) {
  const view = VIEWS.includes(params.get("view")) ? params.get("view") : "text";
  const limit = Math.min(1000, Math.max(1, Number(params.get("limit") || "50") | 0));
  const { data: t } = await api("GET", "/topics/" + enc(name));
  const part = t.partitions.find((x) => x.partition === Number(p));
  if (!part) throw new APIError(404, `topic "${name}" has no partition ${p}`);
  let q = `limit=${limit}`;
  const ts = params.get("timestamp");
  let offset = params.has("offset") ? Number(params.get("offset")) : part.start_offset;
  if (ts) q += `&timestamp=${enc(ts)}`;
  else q += `&offset=${offset}`;
  const base = `/topics/${enc(name)}/partitions/${p}`;
  const url = (o, v) => `${base}?${new URLSearchParams({ offset: String(o), limit: String(limit), view: v || view })}`;
  let recs = [];
  let err = null;
  try {
    recs = (await api("GET", `${base}/records?${q}`)).data;
    if (ts && recs.length) offset = recs[0].offset;
    else if (ts) offset = part.end_offset;
  } catch (e) {
    err = e;
  }
  const offsetInput = h("input", { type: "number", name: "offset", value: String(offset), min: "0", "aria-label": "Offset" });
  const tsInput = h("input", { type: "datetime-local", name: "timestamp", step: "1", "aria-label": "Timestamp" });
  const seek = h("form", { class: "toolbar", id: "seek" },
    h("label", { class: "muted" }, "Offset"), offsetInput, h("button", { type: "submit" }, "Go"),
    h("label", { class: "muted" }, "or from time (UTC)"), tsInput, h("button", { type: "button", onclick: () => {
      if (tsInput.value) go(`${base}?${new URLSearchParams({ timestamp: String(Date.parse(tsInput.value + "Z")), limit: String(limit), view })}`);
    } }, "Go"));
  seek.addEventListener("submit", (e) => { e.preventDefault(); go(url(offsetInput.value)); });
  const views = h("div", { class: "seg", role: "group", "aria-label": "View" },
    VIEWS.map((v) => h("button", { class: v === view ? "on" : null, type: "button", onclick: () => go(url(offset, v), true) }, v === "json" ? "JSON" : v[0].toUpperCase() + v.slice(1))));
  const rows = recs.map((r) => {
    const enc64 = r.encoding;
    return {
      offset: r.offset, timestamp: r.timestamp,
      key: decodeField(r.key, enc64), value: decodeField(r.value, enc64),
      headers: (r.headers || []).map((hd) => [hd.key, decodeField(hd.value, enc64)]),
    };
  });
  const list = err ? message("error", err.message) : table([
    { title: "Offset", num: true, cell: (r) => fmtInt(r.offset) },
    { title: "Timestamp", cell: (r) => h("span", { class: "mono" }, fmtTime(r.timestamp)) },
    { title: "Key", cls: "wrap", cell: (r) => showBytes(r.key, view) },
    { title: "Value", cls: "wrap", cell: (r) => showBytes(r.value, view) },
    { title: "Headers", cls: "wrap", cell: (r) => (r.headers.length ? r.headers.map(([k, v]) => h("div", {}, h("span", { class: "mono" }, k), ": ", showBytes(v, view))) : h("span", { class: "muted" }, "–")) },
  ], rows, empty(offset >= part.end_offset ? "No records at or after offset " + fmtInt(offset) : "No records", `Partition ${p} holds offsets ${fmtInt(part.start_offset)} to ${fmtInt(part.end_offset - 1)}.`));
  const next = rows.length ? rows[rows.length - 1].offset + 1 : offset;
  const pager = h("div", { class: "pager" },
    h("span", {}, rows.length ? `Offsets ${fmtInt(rows[0].offset)}–${fmtInt(rows[rows.length - 1].offset)} of ${fmtInt(part.start_offset)}–${fmtInt(part.end_offset - 1)}` : ""),
    h("div", { class: "toolbar" },
      h("button", { disabled: offset <= part.start_offset || null, onclick: () => go(url(Math.max(part.start_offset, offset - limit))) }, "‹ Previous"),
      h("button", { disabled: next >= part.end_offset || null, onclick: () => go(url(next)) }, "Next ›")));
  return [
    ...header([link("/topics", "Topics"), link("/topics/" + enc(name), name)], `${name} / partition ${p}`,
      `Offsets ${fmtInt(part.start_offset)} to ${fmtInt(part.end_offset)} (end) · ${fmtBytes(part.size_bytes)}`),
    panel("Records", h("div", { class: "toolbar" }, seek, views), list, err ? null : pager),
  ];
}

// ---- groups

async function groups() {
  const { data } = await api("GET", "/groups");
  data.sort((a, b) => a.group_id.localeCompare(b.group_id));
  return [
    ...header([], "Consumer groups", fmtInt(data.length) + (data.length === 1 ? " group" : " groups")),
    panel("Groups", null, table([
      { title: "Group", cell: (g) => link("/groups/" + enc(g.group_id), g.group_id) },
      { title: "State", cell: (g) => stateBadge(g.state) },
      { title: "Members", num: true, cell: (g) => fmtInt(g.members) },
      { title: "Type", cell: (g) => g.type },
      { title: "Protocol", cell: (g) => g.protocol_type || h("span", { class: "muted" }, "–") },
    ], data, empty("No consumer groups", "Groups appear when a consumer joins one or commits offsets."))),
  ];
}

async function groupPage(id) {
  const { data: g } = await api("GET", "/groups/" + enc(id));
  const members = table([
    { title: "Member", cell: (m) => h("span", { class: "mono" }, m.member_id) },
    { title: "Client", cell: (m) => m.client_id },
    { title: "Host", cell: (m) => m.client_host },
    { title: "Assigned", cls: "wrap", cell: (m) => (m.assignments.length ? m.assignments.map((a) => h("div", {}, link("/topics/" + enc(a.topic), a.topic), ": " + a.partitions.join(", "))) : h("span", { class: "muted" }, "–")) },
  ], g.members, empty("No members", "The group is empty: its offsets can be reset."));
  const maxLag = Math.max(1, ...g.offsets.map((o) => o.lag));
  const offsets = table([
    { title: "Topic", cell: (o) => link("/topics/" + enc(o.topic), o.topic) },
    { title: "Partition", num: true, cell: (o) => String(o.partition) },
    { title: "Committed", num: true, cell: (o) => (o.committed_offset < 0 ? h("span", { class: "muted" }, "none") : fmtInt(o.committed_offset)) },
    { title: "End offset", num: true, cell: (o) => fmtInt(o.end_offset) },
    { title: "Lag", num: true, cell: (o) => fmtInt(o.lag) },
    { title: "", cell: (o) => { const s = h("span", {}); s.style.width = (100 * o.lag / maxLag).toFixed(1) + "%"; return h("div", { class: "bar" }, s); } },
  ], g.offsets, empty("No offsets", "The group has committed nothing."));
  return [
    ...header([link("/groups", "Consumer groups")], g.group_id, `${fmtInt(g.members.length)} ${g.members.length === 1 ? "member" : "members"} · lag ${fmtInt(g.lag)} · protocol ${g.protocol || g.protocol_type || "–"}`, stateBadge(g.state)),
    panel("Members", null, members),
    panel("Offsets and lag", null, offsets),
    resetForm(g),
  ];
}

function resetForm(g) {
  const out = h("div", {});
  const topicsSeen = [...new Set(g.offsets.map((o) => o.topic))];
  const topic = h("input", { name: "topic", list: "group-topics", value: topicsSeen[0] || "", required: true, "aria-label": "Topic" });
  const to = h("select", { name: "to", "aria-label": "Reset to" }, ["earliest", "latest", "offset", "timestamp"].map((v) => h("option", { value: v }, v)));
  const val = h("input", { name: "value", placeholder: "offset, or epoch milliseconds", "aria-label": "Offset or timestamp" });
  const active = g.members.length > 0;
  const form = h("form", { class: "grid", id: "reset-offsets" },
    h("datalist", { id: "group-topics" }, topicsSeen.map((t) => h("option", { value: t }))),
    h("label", {}, "Topic"), topic, h("label", {}, "Reset to"), to, h("label", {}, "Value"), val,
    h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, "Reset offsets"),
      active ? h("span", { class: "muted" }, "Only a group without members can be reset: stop its consumers first.") : null));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { topic: topic.value.trim(), to: to.value };
    if (to.value === "offset") body.offset = Number(val.value);
    if (to.value === "timestamp") body.timestamp = Number(val.value);
    try {
      await api("POST", `/groups/${enc(g.group_id)}/offsets`, body);
      await render();
api("GET", "/overview").then(({ data }) => { document.getElementById("version").textContent = "Strata " + data.version; }, () => {});
      document.getElementById("main").prepend(message("ok", `Offsets of ${body.topic} reset to ${body.to}${val.value && body.to !== "earliest" && body.to !== "latest" ? " " + val.value : ""}.`));
    } catch (err) {
      out.replaceChildren(message("error", err.message));
    }
  });
  return panel("Reset offsets", null, h("div", { class: "panel-body" }, out, form));
}

render();
api("GET", "/overview").then(({ data }) => { document.getElementById("version").textContent = "Strata " + data.version; }, () => {});
