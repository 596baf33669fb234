// The Hazwatch console: one page over the public API and the WebSocket stream. Every text comes
// from the message catalogs in i18n/; nothing here decides what a user may see or do (the API
// does), the page only hides buttons the user's permissions would refuse.

const API = "/api/v1";
const PRIO = { urgent: 0, high: 1, medium: 2, low: 3 };
const S = { lang: localStorage.getItem("hz.lang") || "zh", L: {}, me: null, sensors: new Map(),
            alarms: new Map(), ws: null, trend: null, floods: [] };

// -- text ----------------------------------------------------------------------------------------
function t(key, p = {}) {
  const s = S.L[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => (p[k] ?? `{${k}}`));
}
const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const when = (iso) => (iso ? new Date(iso).toLocaleString(S.lang === "zh" ? "zh-CN" : "en-GB") : "");

async function setLang(lang) {
  S.lang = lang;
  localStorage.setItem("hz.lang", lang);
  S.L = await (await fetch(`i18n/${lang}.json`)).json();
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.title = t("app.title");
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  document.getElementById("lang").textContent = t("nav.lang");
  if (S.me) { whoAmI(); route(); }
}

// -- the API -------------------------------------------------------------------------------------
class ApiError extends Error { constructor(status, detail) { super(detail); this.status = status; } }

async function api(path, { method = "GET", json, form, raw } = {}) {
  const headers = { Authorization: `Bearer ${sessionStorage.getItem("hz.token")}` };
  let body;
  if (json !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(json); }
  if (form) body = new URLSearchParams(form);
  let r = await fetch(API + path, { method, headers, body });
  if (r.status === 401 && sessionStorage.getItem("hz.refresh") && !form) {
    if (await refresh()) return api(path, { method, json, form, raw });
  }
  if (!r.ok) {
    let detail = r.statusText;
    try { detail = (await r.json()).detail; } catch { /* not JSON */ }
    if (r.status === 401) logout();
    throw new ApiError(r.status, detail);
  }
  return raw ? r : r.json();
}

async function refresh() {
  const r = await fetch(`${API}/auth/token`, { method: "POST", body: new URLSearchParams({
    grant_type: "refresh_token", refresh_token: sessionStorage.getItem("hz.refresh") }) });
  if (!r.ok) return false;
  const tok = await r.json();
  sessionStorage.setItem("hz.token", tok.access_token);
  sessionStorage.setItem("hz.refresh", tok.refresh_token);
  return true;
}

const can = (perm) => S.me && S.me.permissions.includes(perm);

// -- log in and out ------------------------------------------------------------------------------
async function login(ev) {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const r = await fetch(`${API}/auth/token`, { method: "POST", body: new URLSearchParams({
    grant_type: "password", username: f.get("username"), password: f.get("password") }) });
  const out = await r.json();
  if (!r.ok) { document.getElementById("login-error").textContent = t("login.failed", { detail: out.detail }); return; }
  sessionStorage.setItem("hz.token", out.access_token);
  sessionStorage.setItem("hz.refresh", out.refresh_token);
  await start();
}

function logout() {
  sessionStorage.clear();
  if (S.ws) S.ws.close();
  S.me = null;
  document.getElementById("app").hidden = true;
  document.getElementById("login").hidden = false;
}

function whoAmI() {
  document.getElementById("who").textContent = t("who", { name: S.me.name, role: S.me.role });
}

async function start() {
  try { S.me = await api("/auth/me"); } catch { logout(); return; }
  document.getElementById("login").hidden = true;
  document.getElementById("app").hidden = false;
  whoAmI();
  S.sensors = new Map((await api("/sensors")).items.map((s) => [s.tag, s]));
  await reloadAlarms();
  S.wasLive = false;
  connect();
  floods();
  setInterval(floods, 30000);
  if (!location.hash) location.hash = "#/alarms";
  route();
}

// -- live updates --------------------------------------------------------------------------------
function connect() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}${API}/stream?batch=true&token=${encodeURIComponent(sessionStorage.getItem("hz.token"))}`);
  S.ws = ws;
  ws.onopen = async () => {
    document.body.dataset.live = "1";
    if (S.wasLive) await reloadAlarms();  // after a reconnect: what changed while the stream was down
    S.wasLive = true;
  };
  const one = (msg) => {
    if (msg.type === "alarm") onAlarm(msg.event, msg.alarm);
    else if (msg.type === "values") onValues(msg);
  };
  ws.onmessage = (m) => {  // batch=true: what came since the last frame (at most ten a second in a flood), in one frame
    const msg = JSON.parse(m.data);
    if (msg.type === "batch") msg.messages.forEach(one);
    else one(msg);
  };
  ws.onclose = () => {
    document.body.dataset.live = "0";
    if (S.me && S.ws === ws) setTimeout(connect, 2000);
  };
}

async function reloadAlarms() {
  const [active, unack] = await Promise.all([api("/alarms?state=active"), api("/alarms?state=unacknowledged")]);
  S.alarms = new Map([...active.items, ...unack.items].map((a) => [a.id, a]));
  if (current() === "alarms") renderAlarmRows();
}

function onAlarm(event, a) {
  S.alarms.set(a.id, a);
  if (event === "raised" && (a.priority === "urgent" || a.priority === "high")) {
    cue(t("alarms.new", { priority: t(`priority.${a.priority}`), what: `${a.sensor || a.rule || a.process_unit || a.device} ${a.condition}` }));
  }
  if (current() === "alarms") renderAlarmRows();
  if (current() === "overview") viewOverview();
}

function onValues(msg) {
  msg.sensor.forEach((tag, i) => {
    const s = S.sensors.get(tag);
    if (!s) return;
    s.last_value = msg.value[i];
    s.last_ts = new Date(msg.ts[i] * 1000).toISOString();
    const cell = document.getElementById(`v-${tag}`);
    if (cell) { cell.textContent = fmt(s.last_value); cell.className = `value ${band(s, s.last_value)}`; }
  });
  followTrend(msg);
}

// A trend of raw readings that ends now keeps moving: new readings from the stream are appended
// and the window slides with them. Zoomed or aggregated views stay still.
function followTrend(msg) {
  const c = S.trendCtx;
  if (!c || !c.follow || !S.trend || current() !== "trend") return;
  let added = false;
  msg.sensor.forEach((tag, i) => {
    const k = c.tags.indexOf(tag);
    if (k < 0 || msg.ts[i] <= c.data[0][c.data[0].length - 1]) return;
    c.data[0].push(msg.ts[i]);
    c.data.slice(1).forEach((col, j) => col.push(j === k ? msg.value[i] : null));
    added = true;
  });
  if (!added) return;
  const now = Date.now() / 1000;
  c.start = now - (c.end - c.start);
  c.end = now;
  S.trend.setData(c.data);
  document.getElementById("trend-info").dataset.points = String(c.data[0].length);
}

let cueTimer;
function cue(text) {
  const el = document.getElementById("cue");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(cueTimer);
  cueTimer = setTimeout(() => { el.hidden = true; }, 8000);
  try {  // a short tone where the browser allows sound
    const ctx = new AudioContext();
    const o = ctx.createOscillator();
    o.frequency.value = 880;
    o.connect(ctx.destination);
    o.start();
    o.stop(ctx.currentTime + 0.25);
  } catch { /* no audio: the visual cue stays */ }
}

async function floods() {
  try { S.floods = (await api("/floods")).items.filter((f) => f.active); } catch { S.floods = []; }
  const el = document.getElementById("flood");
  el.hidden = !S.floods.length;
  el.textContent = S.floods.map((f) => t("alarms.flood", { org: f.enterprise, n: f.alarms, since: when(f.started_at) })).join(" ");
}

// -- routing -------------------------------------------------------------------------------------
const VIEWS = { alarms: viewAlarms, overview: viewOverview, live: viewLive, trend: viewTrend, packs: viewPacks,
                incidents: viewIncidents, hidden: viewHidden, reports: viewReports, ledger: viewLedger };
const current = () => (location.hash.slice(2).split(/[/?]/)[0] || "alarms");
const view = () => document.getElementById("view");

function route() {
  if (!S.me) return;
  const name = current();
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("on", a.getAttribute("href") === `#/${name}`);
  (VIEWS[name] || viewAlarms)().catch((e) => { view().innerHTML = `<p class="error">${esc(t("common.error", { detail: e.message }))}</p>`; });
}

// -- alarm console -------------------------------------------------------------------------------
const shown = (a) => (a.active || !a.acknowledged) && !a.shelved_until && !a.out_of_service;
const source = (a) => a.sensor || a.rule || a.process_unit || a.device;
const fmt = (v) => (v === null || v === undefined ? "" : Number(v).toFixed(Math.abs(v) >= 100 ? 1 : 2));

async function viewAlarms() {
  view().innerHTML = `<h1>${esc(t("alarms.title"))}</h1>
    ${can("alarms:operate") ? "" : `<p class="muted" id="readonly">${esc(t("alarms.readonly"))}</p>`}
    <table id="alarms"><thead><tr><th>${esc(t("alarms.priority"))}</th><th>${esc(t("alarms.time"))}</th>
    <th>${esc(t("alarms.source"))}</th><th>${esc(t("alarms.enterprise"))}</th><th>${esc(t("alarms.condition"))}</th>
    <th>${esc(t("alarms.value"))}</th><th>${esc(t("alarms.state"))}</th><th>${esc(t("alarms.actions"))}</th></tr></thead>
    <tbody></tbody></table><div id="journal"></div>`;
  renderAlarmRows();
}

function renderAlarmRows() {
  const body = document.querySelector("#alarms tbody");
  if (!body) return;
  const rows = [...S.alarms.values()].filter(shown)
    .sort((x, y) => (PRIO[x.priority] - PRIO[y.priority]) || String(y.raised_at).localeCompare(String(x.raised_at)));
  const operate = can("alarms:operate");
  // A push re-renders the table while an operator may be typing a comment: keep the open dialog
  // (its node, so the typed text and focus survive) under its alarm's new row.
  const dialog = body.querySelector(".dialog-row");
  const focused = dialog && dialog.contains(document.activeElement) ? document.activeElement : null;
  dialog?.remove();
  body.innerHTML = rows.length ? rows.map((a) => `<tr class="clickable prio-${a.priority} ${a.acknowledged ? "" : "unack"}"
      data-id="${a.id}" data-enterprise="${esc(a.enterprise)}" data-state="${esc(a.state)}">
    <td><span class="badge ${a.priority}">${esc(t(`priority.${a.priority}`))}</span></td><td>${esc(when(a.raised_at))}</td>
    <td>${esc(source(a))} <span class="muted">${esc(a.sensor_name || "")}</span></td><td>${esc(a.enterprise)}</td>
    <td>${esc(a.condition)}</td><td>${esc(fmt(a.value))} ${esc(a.unit || "")}</td>
    <td class="state">${esc(t(`state.${a.state}`))}</td>
    <td>${operate && !a.acknowledged ? `<button type="button" data-act="ack">${esc(t("alarms.ack"))}</button>` : ""}
        ${operate ? `<button type="button" data-act="shelve">${esc(t("alarms.shelve"))}</button>` : ""}</td></tr>`).join("")
    : `<tr><td colspan="8" class="muted">${esc(t("alarms.none"))}</td></tr>`;
  for (const tr of body.querySelectorAll("tr[data-id]")) {
    tr.onclick = (ev) => {
      const act = ev.target.dataset.act;
      if (act) { ev.stopPropagation(); command(tr, Number(tr.dataset.id), act); } else journal(Number(tr.dataset.id));
    };
  }
  const owner = dialog && body.querySelector(`tr[data-id="${dialog.dataset.for}"]`);
  if (owner) { owner.after(dialog); focused?.focus(); }
}

function command(tr, id, act) {
  document.querySelector(".dialog-row")?.remove();
  const row = document.createElement("tr");
  row.className = "dialog-row";
  row.dataset.for = String(id);
  row.innerHTML = `<td colspan="8"><form class="dialog">
    <label>${esc(t("alarms.comment"))} <input name="comment" maxlength="2000" ${act === "shelve" ? "required" : ""}></label>
    ${act === "shelve" ? `<label>${esc(t("alarms.minutes"))} <input name="minutes" type="number" min="1" value="60" required></label>` : ""}
    <button type="submit">${esc(t("alarms.confirm"))}</button><button type="button" data-cancel>${esc(t("alarms.cancel"))}</button>
    <span class="error"></span></form></td>`;
  tr.after(row);
  const form = row.querySelector("form");
  form.querySelector("[data-cancel]").onclick = () => row.remove();
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    const json = act === "ack" ? { comment: f.get("comment") || null }
                               : { reason: f.get("comment"), minutes: Number(f.get("minutes")) };
    try {
      const a = await api(`/alarms/${id}/${act}`, { method: "POST", json });
      S.alarms.set(a.id, a);
      row.remove();
      renderAlarmRows();
    } catch (e) { form.querySelector(".error").textContent = e.message; }
  };
  form.querySelector("input").focus();
}

async function journal(id) {
  const a = S.alarms.get(id);
  const j = await api(`/alarms/${id}/journal`);
  const tags = a.sensor ? [a.sensor] : [...new Set([...j.items.map((e) => e.comment || "").join(" ").matchAll(/[A-Z][A-Z0-9]*-[A-Z0-9-]+/g)]
    .map((m) => m[0]).filter((x) => S.sensors.has(x)))];
  document.getElementById("journal").innerHTML = `<div class="panel"><h2>${esc(t("alarms.journal", { id }))}</h2>
    ${tags.length ? `<p>${esc(a.sensor ? "" : t("alarms.contributing") + ": ")}${tags.map((x) => `<a href="#/trend/${encodeURIComponent(x)}">${esc(x)}</a>`).join(", ")}
      <a href="#/trend/${tags.map(encodeURIComponent).join(",")}">${esc(t("alarms.trend"))}</a></p>` : ""}
    <table><tbody>${j.items.map((e) => `<tr><td>${esc(when(e.ts))}</td><td>${esc(e.event)}</td><td>${esc(e.actor)}</td>
      <td>${esc(t(`state.${e.state}`))}</td><td>${esc(fmt(e.value))}</td><td>${esc(e.comment || "")}</td></tr>`).join("")}</tbody></table></div>`;
}

// -- supervision ---------------------------------------------------------------------------------
async function viewOverview() {
  const [orgs, overview, cat] = await Promise.all([api("/orgs"), api("/risk/overview").catch(() => ({ items: [] })),
                                                   api("/catalog").catch(() => ({}))]);
  const colour = new Map(overview.items.map((e) => [e.enterprise, e]));
  const count = new Map(), byDevice = new Map();
  for (const a of S.alarms.values()) {
    if (!a.active) continue;
    count.set(a.enterprise, (count.get(a.enterprise) || 0) + 1);
    if (a.device) byDevice.set(a.device, (byDevice.get(a.device) || 0) + 1);
  }
  const devices = cat.devices || [], sources = cat.hazard_sources || [];
  const dev = (d) => `<li data-device="${esc(d.code)}">${esc(d.name)} <span class="muted">${esc(d.code)}</span>
    ${byDevice.get(d.code) ? `<span class="badge urgent">${esc(t("overview.alarms", { n: byDevice.get(d.code) }))}</span>` : ""}</li>`;
  const assets = (org) => {  // enterprise ▸ hazard source ▸ device
    const hs = sources.filter((h) => h.org === org);
    const loose = devices.filter((d) => d.org === org && !d.hazard_source);
    const items = hs.map((h) => `<li data-hazard-source="${esc(h.code)}">⚠ ${esc(h.name)} <span class="muted">${esc(h.code)}</span>
      <ul>${devices.filter((d) => d.hazard_source === h.code).map(dev).join("")}</ul></li>`).join("") + loose.map(dev).join("");
    return items ? `<ul>${items}</ul>` : "";
  };
  const kids = new Map();
  for (const o of orgs.items) { const k = o.parent ?? "root"; if (!kids.has(k)) kids.set(k, []); kids.get(k).push(o); }
  const ids = new Set(orgs.items.map((o) => o.id));
  const tops = orgs.items.filter((o) => o.parent === null || !ids.has(o.parent));
  const node = (o) => {
    const c = colour.get(o.code);
    const n = count.get(o.code) || 0;
    return `<li data-org="${esc(o.code)}">${c ? `<span class="badge ${c.colour}" title="${esc(c.reasons.map((r) => r.detail).join("; "))}">${esc(t(`colour.${c.colour}`))}</span> ` : ""}
      ${esc(o.name)} <span class="muted">${esc(o.code)}</span> ${n ? `<span class="badge urgent">${esc(t("overview.alarms", { n }))}</span>` : ""}
      ${(kids.get(o.id) || []).length ? `<ul>${kids.get(o.id).map(node).join("")}</ul>` : ""}
      ${o.kind === "enterprise" ? assets(o.code) : ""}</li>`;
  };
  const placed = [...S.sensors.values()].filter((s) => s.longitude != null && s.latitude != null);
  let plan = `<p class="muted">${esc(t("overview.noplan"))}</p>`;
  if (placed.length) {
    const xs = placed.map((s) => s.longitude), ys = placed.map((s) => s.latitude);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const sx = (x) => 20 + 960 * ((x - x0) / ((x1 - x0) || 1)), sy = (y) => 580 - 560 * ((y - y0) / ((y1 - y0) || 1));
    const alarmed = new Set([...S.alarms.values()].filter((a) => a.active && a.sensor).map((a) => a.sensor));
    plan = `<svg viewBox="0 0 1000 600" role="img">${placed.map((s) => `<a href="#/trend/${encodeURIComponent(s.tag)}">
      <circle cx="${sx(s.longitude).toFixed(1)}" cy="${sy(s.latitude).toFixed(1)}" r="${alarmed.has(s.tag) ? 7 : 4}"
      class="${alarmed.has(s.tag) ? "alarm" : ""}"><title>${esc(s.tag)} ${esc(s.name)}</title></circle></a>`).join("")}</svg>`;
  }
  view().innerHTML = `<h1>${esc(t("overview.title"))}</h1><div class="split">
    <div class="panel tree"><h2>${esc(t("overview.tree"))}</h2><ul>${tops.map(node).join("")}</ul></div>
    <div class="panel plan"><h2>${esc(t("overview.plan"))}</h2>${plan}</div></div>`;
}

// -- live values ---------------------------------------------------------------------------------
function band(s, v) {
  const l = s.limits || {};
  if (v == null) return "";
  if (l.HH != null && v >= l.HH) return "hh";
  if (l.LL != null && v <= l.LL) return "ll";
  if (l.H != null && v >= l.H) return "h";
  if (l.L != null && v <= l.L) return "l";
  return "";
}

async function viewLive() {
  view().innerHTML = `<h1>${esc(t("live.title"))}</h1><div class="toolbar"><input id="filter" placeholder="${esc(t("live.filter"))}"></div>
    <table id="live"><thead><tr><th>${esc(t("live.sensor"))}</th><th>${esc(t("alarms.enterprise"))}</th><th>${esc(t("live.value"))}</th>
    <th>${esc(t("live.limits"))}</th><th>${esc(t("live.time"))}</th></tr></thead><tbody></tbody></table>`;
  const render = (q = "") => {
    const rows = [...S.sensors.values()].filter((s) => !q || s.tag.toLowerCase().includes(q) || (s.name || "").toLowerCase().includes(q));
    document.querySelector("#live tbody").innerHTML = rows.map((s) => {
      const l = s.limits || {};
      return `<tr><td><a href="#/trend/${encodeURIComponent(s.tag)}">${esc(s.tag)}</a> <span class="muted">${esc(s.name)}</span></td>
        <td>${esc(s.enterprise)}</td><td id="v-${esc(s.tag)}" class="value ${band(s, s.last_value)}">${esc(fmt(s.last_value))}</td>
        <td class="muted">${["LL", "L", "H", "HH"].map((k) => (l[k] ?? "–")).join(" / ")} ${esc(s.unit || "")}</td><td class="muted">${esc(when(s.last_ts))}</td></tr>`;
    }).join("");
  };
  render();
  document.getElementById("filter").oninput = (e) => render(e.target.value.trim().toLowerCase());
}

// -- pack dashboards: each installed pack's panels, its own sensors live against their limits ---------
async function viewPacks() {
  const orgs = [...new Set([...S.sensors.values()].map((s) => s.enterprise))].sort();
  const installs = (await Promise.all(orgs.map((org) => api(`/packs/installs?org=${encodeURIComponent(org)}`))))
    .flatMap((r) => r.items.map((i) => ({ ...i, org: r.org })));
  const row = (tag) => {
    const s = S.sensors.get(tag);
    if (!s) return "";
    const l = s.limits || {};
    return `<tr><td><a href="#/trend/${encodeURIComponent(tag)}">${esc(tag)}</a> <span class="muted">${esc(s.name)}</span></td>
      <td id="v-${esc(tag)}" class="value ${band(s, s.last_value)}">${esc(fmt(s.last_value))}</td>
      <td class="muted">${["LL", "L", "H", "HH"].map((k) => (l[k] ?? "–")).join(" / ")} ${esc(s.unit || "")}</td></tr>`;
  };
  const panel = (p) => `<section class="panel"><h3>${esc(p.title)}
      ${p.tags.length ? `<a class="muted" href="#/trend/${p.tags.slice(0, 6).map(encodeURIComponent).join(",")}">${esc(t("packs.trend"))}</a>` : ""}</h3>
    <table><thead><tr><th>${esc(t("live.sensor"))}</th><th>${esc(t("live.value"))}</th><th>${esc(t("live.limits"))}</th></tr></thead>
    <tbody>${p.tags.map(row).join("")}</tbody></table></section>`;
  const detectors = (i) => (i.detectors.length ? `<p class="muted">${esc(t("packs.detectors"))}: ${i.detectors.map((d) =>
    `${esc(d.code)} (${esc(t(d.fitted ? "packs.fitted" : "packs.unfitted"))})`).join(", ")}</p>` : "");
  view().innerHTML = `<h1>${esc(t("packs.title"))}</h1>` + (installs.length ? installs.map((i) => `<div class="pack" data-pack="${esc(i.pack)}" data-org="${esc(i.org)}">
      <h2>${esc(i.org)} · ${esc(i.pack)} ${esc(i.version)}</h2>${detectors(i)}${i.dashboard.map(panel).join("")}</div>`).join("")
    : `<p class="muted">${esc(t("packs.none"))}</p>`);
}

// -- trends --------------------------------------------------------------------------------------
const RANGES = { "15m": 900, "1h": 3600, "6h": 21600, "1d": 86400, "7d": 604800, "30d": 2592000 };
const MAX_POINTS = 1500;

async function viewTrend() {
  const [path, query] = location.hash.slice(2).split("?");
  const tags = decodeURIComponent(path.split("/")[1] || "").split(",").filter(Boolean);
  const params = new URLSearchParams(query || "");
  const now = Date.now() / 1000;
  const span = RANGES[params.get("range") || "1h"] || 3600;
  const end = Number(params.get("end")) || now, start = Number(params.get("start")) || end - span;
  view().innerHTML = `<h1>${esc(t("trend.title"))}</h1><div class="toolbar">
    <form id="trend-add"><input name="tag" list="tags" placeholder="${esc(t("trend.pick"))}" size="32"><button>${esc(t("trend.add"))}</button></form>
    <datalist id="tags">${[...S.sensors.keys()].map((x) => `<option value="${esc(x)}">`).join("")}</datalist>
    <span>${esc(t("trend.range"))}:</span>${Object.keys(RANGES).map((r) => `<button type="button" data-range="${r}">${r}</button>`).join("")}
    </div><p class="muted">${esc(t("trend.zoomhint"))}</p><div id="chart"></div>
    <p id="trend-info" class="muted" data-start="${start}" data-end="${end}"></p>`;
  const go = (p) => { location.hash = `#/trend/${tags.map(encodeURIComponent).join(",")}?${new URLSearchParams(p)}`; };
  for (const b of document.querySelectorAll("[data-range]")) b.onclick = () => go({ range: b.dataset.range });
  document.getElementById("trend-add").onsubmit = (ev) => {
    ev.preventDefault();
    const tag = new FormData(ev.target).get("tag").trim();
    if (tag && !tags.includes(tag)) { tags.push(tag); go(Object.fromEntries(params)); }
  };
  if (!tags.length) return;
  const stepS = end - start <= MAX_POINTS ? 0 : Math.ceil((end - start) / MAX_POINTS);
  const q = (tag) => `/sensors/${encodeURIComponent(tag)}/series?start=${start}&end=${end}${stepS ? `&step=${stepS}` : ""}&limit=200000`;
  const series = await Promise.all(tags.map((tag) => api(q(tag))));
  const xs = [...new Set(series.flatMap((s) => s.ts))].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const data = [xs, ...series.map((s) => {
    const ys = new Array(xs.length).fill(null);
    const col = s.value || s.avg;
    s.ts.forEach((x, i) => { ys[at.get(x)] = col[i]; });
    return ys;
  })];
  S.trendCtx = { tags: series.map((s) => s.sensor), data, start, end,
                 follow: !stepS && !params.get("end") && xs.length > 0 };
  const colours = ["#2f7fd1", "#e0431a", "#4a8f5a", "#8e44ad", "#e8a317", "#16a085"];
  const units = [...new Set(series.map((s) => s.unit || ""))];  // one y scale per unit: left, then right
  const el = document.getElementById("chart");
  if (S.trend) S.trend.destroy();
  S.trend = new uPlot({
    width: Math.max(600, el.clientWidth || 900), height: 420,
    series: [{}, ...series.map((s, i) => ({ label: `${s.sensor} (${s.unit || ""})`, scale: s.unit || "",
                                            stroke: colours[i % colours.length], width: 1.5, spanGaps: false }))],
    axes: [{}, ...units.slice(0, 2).map((u, i) => ({ scale: u, label: u, size: 60, side: i ? 1 : 3, grid: { show: !i } }))],
    scales: { x: { time: true, range: () => [S.trendCtx.start, S.trendCtx.end] } },
    cursor: { drag: { x: true, y: false }, bind: { dblclick: () => () => { go({ range: params.get("range") || "1h" }); return null; } } },
    hooks: { setSelect: [(u) => {
      if (u.select.width < 5) return;
      const a = u.posToVal(u.select.left, "x"), b = u.posToVal(u.select.left + u.select.width, "x");
      go({ range: params.get("range") || "1h", start: a.toFixed(3), end: b.toFixed(3) });
    }] },
  }, data, el);
  document.getElementById("trend-info").textContent = `${when(new Date(start * 1000).toISOString())} – ${when(new Date(end * 1000).toISOString())}; `
    + (stepS ? t("trend.step", { points: xs.length, step: `${stepS} s` }) : `${xs.length} ${t("trend.raw")}`);
  document.getElementById("trend-info").dataset.step = String(stepS);
  document.getElementById("trend-info").dataset.points = String(xs.length);
}

// -- incidents, hidden dangers, reports ----------------------------------------------------------
async function viewIncidents() {
  const list = await api("/incidents?state=open");
  view().innerHTML = `<h1>${esc(t("incidents.title"))}</h1>${list.items.length ? `<table id="incidents"><thead><tr>
    <th>#</th><th>${esc(t("alarms.priority"))}</th><th>${esc(t("alarms.enterprise"))}</th><th></th><th>${esc(t("incidents.state"))}</th>
    <th>${esc(t("incidents.tier"))}</th><th>${esc(t("incidents.opened"))}</th></tr></thead><tbody>${list.items.map((i) => `
    <tr class="clickable prio-${i.priority}" data-id="${i.id}"><td>${i.id}</td><td><span class="badge ${i.priority}">${esc(t(`priority.${i.priority}`))}</span></td>
    <td>${esc(i.enterprise)}</td><td>${esc(i.title)}</td><td>${esc(i.state)}</td><td>${esc(i.tier || "")}
    ${i.escalate_at ? `<span class="muted">(${esc(t("incidents.due", { at: when(i.escalate_at) }))})</span>` : ""}</td><td>${esc(when(i.opened_at))}</td></tr>`).join("")}
    </tbody></table><div id="incident"></div>` : `<p class="muted">${esc(t("incidents.none"))}</p>`}`;
  for (const tr of document.querySelectorAll("#incidents tr[data-id]")) {
    tr.onclick = async () => {
      const i = await api(`/incidents/${tr.dataset.id}`);
      document.getElementById("incident").innerHTML = `<div class="panel"><h2>#${i.id} ${esc(i.title)}</h2>
        <h2>${esc(t("incidents.tasks"))}</h2><ul>${(i.tasks || []).map((k) => `<li>${esc(k.title || k.text || "")} <span class="muted">${esc(k.role || "")} ${esc(k.state || "")}
          ${k.due_at ? esc(t("incidents.due", { at: when(k.due_at) })) : ""}</span></li>`).join("")}</ul>
        <h2>${esc(t("incidents.clocks"))}</h2><ul>${(i.clocks || []).map((c) => `<li>${esc(c.level)}: ${esc(t("incidents.due", { at: when(c.due_at) }))} ${esc(c.state || "")}</li>`).join("")}</ul>
        <h2>${esc(t("incidents.timeline"))}</h2><table><tbody>${(i.timeline || []).map((e) => `<tr><td>${esc(when(e.ts))}</td><td>${esc(e.kind)}</td>
          <td>${esc(e.actor)}</td><td>${esc(e.detail)}</td></tr>`).join("")}</tbody></table></div>`;
    };
  }
}

async function viewHidden() {
  const list = await api("/hidden-dangers");
  const now = Date.now();
  view().innerHTML = `<h1>${esc(t("hidden.title"))}</h1>${list.items.length ? `<table><thead><tr><th>#</th><th></th><th>${esc(t("hidden.grade"))}</th>
    <th>${esc(t("alarms.enterprise"))}</th><th>${esc(t("hidden.state"))}</th><th>${esc(t("hidden.deadline"))}</th></tr></thead><tbody>${list.items.map((h) => `
    <tr><td>${h.id}</td><td>${esc(h.title)}</td><td>${esc(h.grade)}</td><td>${esc(h.enterprise)}</td><td>${esc(h.state)}</td>
    <td>${esc(when(h.deadline))} ${h.deadline && Date.parse(h.deadline) < now && !["accepted", "closed"].includes(h.state) ? `<span class="badge urgent">${esc(t("hidden.overdue"))}</span>` : ""}</td></tr>`).join("")}
    </tbody></table>` : `<p class="muted">${esc(t("hidden.none"))}</p>`}`;
}

async function viewReports() {
  const list = await api("/reports");
  view().innerHTML = `<h1>${esc(t("reports.title"))}</h1>${list.items.length ? `<table><thead><tr><th>${esc(t("reports.scope"))}</th>
    <th>${esc(t("reports.period"))}</th><th></th><th>${esc(t("reports.download"))}</th></tr></thead><tbody>${list.items.map((r) => `
    <tr><td>${esc(r.scope)}</td><td>${esc(r.kind)} ${esc(r.period)}</td><td>${esc(r.lang)}</td><td>
    <button type="button" data-get="${r.id}/pdf" data-name="${esc(r.name)}.pdf">PDF</button>
    <button type="button" data-get="${r.id}/html" data-name="${esc(r.name)}.html">HTML</button></td></tr>`).join("")}</tbody></table>`
    : `<p class="muted">${esc(t("reports.none"))}</p>`}`;
  for (const b of document.querySelectorAll("[data-get]")) {
    b.onclick = async () => {  // the API needs the token, so the file comes through fetch
      const blob = await (await api(`/reports/${b.dataset.get}`, { raw: true })).blob();
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = b.dataset.name;
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    };
  }
}

// -- the ledger ----------------------------------------------------------------------------------
async function viewLedger() {
  let st;
  try { st = await api("/ledger/status"); } catch (e) {
    if (e.status === 404) { view().innerHTML = `<h1>${esc(t("ledger.title"))}</h1><p class="muted">${esc(t("ledger.off"))}</p>`; return; }
    throw e;
  }
  view().innerHTML = `<h1>${esc(t("ledger.title"))}</h1>
    <p>${esc(t("ledger.size", { size: st.size, published: st.published_size, quorum: st.quorum }))}</p>
    <div class="panel"><h2>${esc(t("ledger.checkpoint"))}</h2><pre id="checkpoint">${esc(st.checkpoint || t("common.empty"))}</pre></div>
    <div class="panel"><h2>${esc(t("ledger.verify"))}</h2><form class="dialog" id="verify">
      <label>${esc(t("ledger.alarm"))} <input name="alarm" type="number" min="1" required></label>
      <label>${esc(t("ledger.row"))} <input name="row" type="number" min="1" required></label>
      <button>${esc(t("ledger.go"))}</button></form><p id="verdict"></p><pre id="record"></pre></div>`;
  document.getElementById("verify").onsubmit = async (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const out = document.getElementById("verdict");
    out.className = "";
    try {
      const text = await (await api(`/alarms/${f.get("alarm")}/journal/${f.get("row")}/proof`, { raw: true })).text();
      const v = await verifyProof(text, st);
      out.textContent = t("ledger.ok", { index: v.index, size: v.size, cosigners: v.cosigners.join(", ") || "–" });
      document.getElementById("record").textContent = JSON.stringify(v.record, null, 2);
    } catch (e) {
      out.className = "error";
      out.textContent = t("ledger.bad", { why: e.message });
    }
  };
}

// RFC 9162 inclusion, the log's Ed25519 note signature and the witnesses' cosignatures, in the browser
const enc = new TextEncoder();
const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const hex = (u) => [...u].map((x) => x.toString(16).padStart(2, "0")).join("");
const cat = (...parts) => { const o = new Uint8Array(parts.reduce((n, p) => n + p.length, 0)); let i = 0; for (const p of parts) { o.set(p, i); i += p.length; } return o; };
const sha = async (u) => new Uint8Array(await crypto.subtle.digest("SHA-256", u));
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
function canon(v) {  // RFC 8785: ECMAScript's own number and string forms, keys in UTF-16 order
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canon).join(",")}]`;
  return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canon(v[k])}`).join(",")}}`;
}

async function verifyNoteSig(text, line, vkey, cosig) {
  const [name, id, key] = vkey.split(/\+(.*?)\+(.*)/s).filter(Boolean);
  const raw = b64(line.split(" ")[2]);
  if (line.split(" ")[1] !== name || hex(raw.slice(0, 4)) !== id) return null;
  const pub = await crypto.subtle.importKey("raw", b64(key).slice(1), { name: "Ed25519" }, false, ["verify"]);
  let msg = enc.encode(text), sig = raw.slice(4);
  if (cosig) {
    const ts = new DataView(sig.buffer, sig.byteOffset, 8).getBigUint64(0);
    msg = cat(enc.encode(`cosignature/v1\ntime ${ts}\n`), msg);
    sig = sig.slice(8);
  }
  if (!(await crypto.subtle.verify({ name: "Ed25519" }, pub, sig, msg))) throw new Error(`signature of ${name} does not verify`);
  return name;
}

async function verifyProof(text, st) {
  const [head, ...rest] = text.split("\n\n");
  const note = rest.join("\n\n");
  const lines = head.split("\n");
  const extra = JSON.parse(new TextDecoder().decode(b64(lines[1].slice(6))));
  const index = Number(lines[2].slice(6));
  const path = lines.slice(3).map(b64);
  const body = note.slice(0, note.lastIndexOf("\n\n") + 1);
  const sigs = note.slice(body.length + 1).split("\n").filter(Boolean);
  const [, size, root] = body.split("\n");
  if (!(await Promise.all(sigs.map((l) => verifyNoteSig(body, l, st.log_vkey, false)))).includes(st.origin)) throw new Error("no valid log signature");
  const cosigners = [];
  for (const w of st.witnesses) for (const l of sigs) { const n = await verifyNoteSig(body, l, w.vkey, true); if (n) cosigners.push(n); }
  if (cosigners.length < st.quorum) throw new Error(`${cosigners.length} of ${st.quorum} witness cosignatures`);
  let leaf = enc.encode(extra.entry);
  if (extra.salt) {  // format 2: the log holds {"c": SHA-256(salt ‖ entry), "v": 2}, not the entry
    const salt = new Uint8Array(extra.salt.match(/../g).map((h) => parseInt(h, 16)));
    leaf = enc.encode(`{"c":"${hex(await sha(cat(salt, leaf)))}","v":2}`);
  }
  let fn = index, sn = Number(size) - 1, r = await sha(cat(new Uint8Array([0]), leaf));
  for (const p of path) {
    if (sn === 0) throw new Error("inclusion proof too long");
    if ((fn & 1) || fn === sn) { r = await sha(cat(new Uint8Array([1]), p, r)); while (!(fn & 1) && fn !== 0) { fn >>= 1; sn >>= 1; } }
    else r = await sha(cat(new Uint8Array([1]), r, p));
    fn >>= 1; sn >>= 1;
  }
  if (sn !== 0 || !same(r, b64(root))) throw new Error("the entry is not under the checkpoint's root");
  const entry = JSON.parse(extra.entry);
  if (hex(await sha(enc.encode(canon(extra.record)))) !== entry.sha256) throw new Error("the record does not match its sealed digest");
  return { index, size: Number(size), cosigners, record: extra.record };
}

// -- wiring --------------------------------------------------------------------------------------
document.getElementById("login-form").onsubmit = login;
document.getElementById("logout").onclick = logout;
document.getElementById("lang").onclick = () => setLang(S.lang === "zh" ? "en" : "zh");
for (const b of document.querySelectorAll("[data-lang]")) b.onclick = () => setLang(b.dataset.lang);
window.addEventListener("hashchange", route);
await setLang(S.lang);
if (sessionStorage.getItem("hz.token")) await start(); else logout();
