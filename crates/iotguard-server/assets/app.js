// iotguard dashboard: live flows, alerts and the model, over one Server-Sent Events stream
// (/api/v1/live) and the JSON API. Plain JavaScript of our own, no libraries: charts are
// canvas and SVG. The server samples flows before sending them; this page redraws at most a
// few times a second whatever the rate, and keeps bounded buffers.
'use strict';

const MAX_FLOWS = 400;      // flows kept for the table and the drill-down
const SHOWN_FLOWS = 60;     // rows drawn in the live table
const MAX_ALERTS = 500;     // alerts kept (for the top hosts)
const SHOWN_ALERTS = 100;   // rows drawn in the alert list
const RATE_POINTS = 120;    // seconds of history in the rate chart
const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'];

const state = {
  flows: [],                 // newest first
  alerts: new Map(),         // id -> alert document (insertion order = first seen)
  hostStats: new Map(),      // origin host -> duration statistics over the flows received
  rates: [],                 // {t, flows, alerts} per stats tick
  lastTick: null,
  severity: {},
  selected: null,
  verdicts: new Map(),       // alert id -> its latest analyst verdict (from the store, or given here)
  status: '',                // the alert list's filter: '', 'open' or 'acknowledged'
  streamDown: false,         // the event stream is reconnecting
  filter: null,              // null: the live list; else {query, alerts, cursor}: pages from the store
  dirty: { flows: false, alerts: false, charts: false },
};

const $ = (id) => document.getElementById(id);

// ---- the API token ----
// Off loopback the server wants its token on every API read. The page takes it once, from
// ?token= on first load (then removed from the address bar) or from a prompt after a 401, and
// keeps it in sessionStorage (this tab only, gone when it closes). Requests send it as a
// bearer header; the live stream and the report iframe, which cannot, as ?token=.
const TOKEN_KEY = 'iotguard-token';
(function takeTokenFromUrl() {
  const u = new URL(window.location.href);
  const t = u.searchParams.get('token');
  if (t === null) return;
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  u.searchParams.delete('token');
  window.history.replaceState(null, '', u.pathname + u.search + u.hash);
}());
const apiToken = () => sessionStorage.getItem(TOKEN_KEY);
let asking = null;
// Asks for the token once for all the requests refused at the same time; true when given.
function askToken() {
  if (!asking) {
    asking = new Promise((resolve) => setTimeout(() => {
      const t = (window.prompt('This iotguard server needs its API token:') ?? '').trim();
      if (t) sessionStorage.setItem(TOKEN_KEY, t);
      asking = null;
      resolve(Boolean(t));
    }, 0));
  }
  return asking;
}
async function api(path) {
  const t = apiToken();
  const r = await fetch(path, t ? { headers: { Authorization: `Bearer ${t}` } } : {});
  if (r.status === 401 && await askToken()) return api(path);
  return r;
}
// A write (an analyst's verdict): always needs the token, so it is asked for first when the
// page has none (and again after a 401, a wrong one).
async function apiPost(path, body) {
  if (!apiToken() && !await askToken()) return new Response(JSON.stringify({ message: 'no API token given' }), { status: 401 });
  const t = apiToken();
  const headers = { 'Content-Type': 'application/json' };
  if (t) headers.Authorization = `Bearer ${t}`;
  const r = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body) });
  if (r.status === 401 && await askToken()) return apiPost(path, body);
  return r;
}
// A same-origin URL with the token as a query parameter, for what cannot send headers.
function withToken(url) {
  const t = apiToken();
  return t ? `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(t)}` : url;
}
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const num = (v, d = 0) => (v == null || Number.isNaN(v) ? '' : Number(v).toLocaleString(undefined, { maximumFractionDigits: d, minimumFractionDigits: 0 }));
const fix = (v, d = 3) => (v == null || !Number.isFinite(v) ? '' : Number(v).toFixed(d));
// Every time on the page is a full date and time with its zone (captures span days): UTC.
const timeOf = (t) => { if (t == null) return ''; const d = new Date(typeof t === 'number' ? t * 1000 : t); return Number.isNaN(d.getTime()) ? String(t) : `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`; };
const sevBadge = (s) => (s ? `<span class="sev ${esc(s)}">${esc(s)}</span>` : '');

// ---- field access: flows (ScoredFlow) and alerts (ECS documents) ----

const F = {
  src: (f) => f.orig_h, dst: (f) => f.resp_h,
  pkts: (f) => (f.orig_pkts ?? 0) + (f.resp_pkts ?? 0),
  bytes: (f) => (f.orig_bytes ?? 0) + (f.resp_bytes ?? 0),
  dur: (f) => f.duration,
  flags: (f) => [f.conn_state, f.history].filter(Boolean).join(' '),
};

const A = {
  id: (a) => a.event?.id,
  severity: (a) => a.iotguard?.severity,
  risk: (a) => a.event?.risk_score,
  src: (a) => a.source?.ip, dst: (a) => a.destination?.ip,
  dport: (a) => a.destination?.port,
  attack: (a) => String(a.iotguard?.attack_type ?? '').replace(/_/g, ' '),
  flows: (a) => a.iotguard?.counts?.flows ?? 1,
  start: (a) => a.event?.start, end: (a) => a.event?.end ?? a['@timestamp'],
  explanation: (a) => a.iotguard?.features ?? [],
  reasons: (a) => a.iotguard?.reasons ?? [],
};

// ---- the seeds' columns: per origin host, duration statistics over the flows received ----

function hostStat(f) {
  const h = F.src(f);
  let s = state.hostStats.get(h);
  if (!s) {
    if (state.hostStats.size > 5000) state.hostStats.clear();
    s = { n: 0, sum: 0, min: Infinity, max: -Infinity, mean: 0, m2: 0 };
    state.hostStats.set(h, s);
  }
  const d = F.dur(f) ?? 0;
  s.n += 1; s.sum += d; s.min = Math.min(s.min, d); s.max = Math.max(s.max, d);
  const delta = d - s.mean; s.mean += delta / s.n; s.m2 += delta * (d - s.mean);
  return { mean: s.mean, stddev: s.n > 1 ? Math.sqrt(s.m2 / (s.n - 1)) : 0, sum: s.sum, min: s.min, max: s.max };
}

const FLOW_COLUMNS = [
  ['time', (f) => timeOf(f.ts)],
  ['sensor', (f) => esc(f.sensor ?? '')],
  ['source', (f) => esc(`${F.src(f) ?? ''}:${f.orig_p ?? ''}`)],
  ['destination', (f) => esc(`${F.dst(f) ?? ''}:${f.resp_p ?? ''}`)],
  ['flags', (f) => esc(F.flags(f))],
  ['proto', (f) => esc(f.proto ?? '')],
  ['pkts', (f) => num(F.pkts(f)), 'num'],
  ['bytes', (f) => num(F.bytes(f)), 'num'],
  ['dur', (f) => fix(F.dur(f)), 'num'],
  ['mean', (f) => fix(f.seed.mean), 'num'],
  ['stddev', (f) => fix(f.seed.stddev), 'num'],
  ['sum', (f) => fix(f.seed.sum), 'num'],
  ['min', (f) => fix(f.seed.min), 'num'],
  ['max', (f) => fix(f.seed.max), 'num'],
  ['rate', (f) => fix(F.dur(f) > 0 ? F.pkts(f) / F.dur(f) : 0, 1), 'num'],
  ['prediction', (f) => (f.is_alert ? 'attack' : 'normal')],
  ['score', (f) => fix(f.score), 'num'],
  ['severity', (f) => sevBadge(f.severity)],
];
const HEAD_TITLES = {
  mean: 'mean flow duration (s) of this source host over the flows shown so far',
  stddev: 'standard deviation of those durations', sum: 'total of those durations',
  min: 'shortest of those durations', max: 'longest of those durations',
  rate: 'packets per second of this flow', flags: 'Zeek conn_state and history',
};
function flowHead() {
  return FLOW_COLUMNS.map(([n, , c]) => `<th class="${c ?? ''}" title="${esc(HEAD_TITLES[n] ?? '')}">${n}</th>`).join('');
}
function flowRow(f) {
  return `<tr class="${f.is_alert ? 'attack' : ''}">${FLOW_COLUMNS.map(([, get, c]) => `<td class="${c ?? ''}">${get(f)}</td>`).join('')}</tr>`;
}

// ---- incoming data ----

function addFlow(f) {
  f.seed = hostStat(f);
  state.flows.unshift(f);
  if (state.flows.length > MAX_FLOWS) state.flows.length = MAX_FLOWS;
  state.dirty.flows = true;
}

function addAlert(a) {
  const id = A.id(a);
  if (id == null) return;
  state.alerts.delete(id);          // re-insert: an updated incident moves to the top
  state.alerts.set(id, a);
  // Alerts from the store carry their verdict; the live stream's never do (the page keeps it).
  if (a.iotguard?.feedback) state.verdicts.set(id, a.iotguard.feedback);
  while (state.alerts.size > MAX_ALERTS) state.alerts.delete(state.alerts.keys().next().value);
  state.dirty.alerts = true;
  if (state.selected === id) showDetail(id);
}

function addTick(t) {
  const prev = state.lastTick;
  state.lastTick = t;
  $('flows-total').textContent = num(t.flows_total);
  $('alerts-total').textContent = num(t.alerts_total);
  if (t.severity) { state.severity = t.severity; }
  if (prev && t.t > prev.t) {
    const dt = t.t - prev.t;
    const point = { t: t.t, flows: Math.max(0, (t.flows_total - prev.flows_total) / dt), alerts: Math.max(0, (t.alert_updates_total - prev.alert_updates_total) / dt) };
    state.rates.push(point);
    if (state.rates.length > RATE_POINTS) state.rates.shift();
    $('flows-rate').textContent = num(point.flows);
  }
  state.dirty.charts = true;
}

// The server's last two minutes of totals, sent first on every (re)connection: the rate chart
// has its history on page load.
function addHistory(points) {
  if (!Array.isArray(points) || points.length < 2 || state.rates.length) return;
  for (let i = 1; i < points.length; i++) {
    const [p, q] = [points[i - 1], points[i]];
    const dt = q.t - p.t;
    if (!(dt > 0)) continue;
    state.rates.push({ t: q.t, flows: Math.max(0, (q.flows_total - p.flows_total) / dt), alerts: Math.max(0, (q.alert_updates_total - p.alert_updates_total) / dt) });
  }
  while (state.rates.length > RATE_POINTS) state.rates.shift();
  state.dirty.charts = true;
}

// ---- drawing (at most every 250 ms) ----

function drawFlows() {
  $('flows').innerHTML = state.flows.slice(0, SHOWN_FLOWS).map(flowRow).join('');
}

const VERDICTS = [['true_positive', 'TP', 'a real attack'], ['false_positive', 'FP', 'not an attack: the model was wrong'], ['benign_activity', 'benign', 'real but expected activity']];

// The triage cell: the alert's verdict (who, when) and one button per verdict.
function verdictCell(id) {
  const v = state.verdicts.get(id);
  const title = v ? `${v.verdict} by ${v.analyst} at ${v.at}${v.note ? ': ' + v.note : ''}` : 'open: no verdict yet';
  return `<td class="triage" title="${esc(title)}">${VERDICTS.map(([key, label, what]) =>
    `<button type="button" class="verdict ${v?.verdict === key ? 'on' : ''}" data-verdict="${key}" title="${esc(what)}">${label}</button>`).join('')}</td>`;
}

function drawAlerts() {
  const rows = [];
  const list = [...state.alerts.values()].reverse();
  // Filtered: the pages the store gave (it applied every filter, the status included).
  const shown = state.filter ? state.filter.alerts
    : list.filter((a) => !state.status || (state.status === 'open') !== state.verdicts.has(A.id(a))).slice(0, SHOWN_ALERTS);
  for (const a of shown) {
    const id = A.id(a);
    rows.push(`<tr data-id="${esc(id)}" class="${state.selected === id ? 'sel' : ''}"><td>${timeOf(A.end(a))}</td><td>${sevBadge(A.severity(a))}</td>`
      + `<td class="num">${num(A.risk(a))}</td><td>${esc(A.attack(a))}</td><td>${esc(A.src(a))}</td>`
      + `<td>${esc(A.dst(a) ?? '')}${A.dport(a) != null ? ':' + esc(A.dport(a)) : ''}</td><td class="num">${num(A.flows(a))}</td>${verdictCell(id)}</tr>`);
  }
  $('alerts').innerHTML = rows.join('') || `<tr><td class="muted" colspan="8">${state.filter ? 'no alert in the store matches these filters' : 'no alert yet'}</td></tr>`;
  drawTopHosts(list);
}

// Gives a verdict on an alert (POST /api/v1/alerts/{id}/feedback), then refreshes the model
// panel's live precision.
async function triage(id, verdict) {
  const analyst = $('analyst').value.trim();
  const body = analyst ? { verdict, analyst } : { verdict };
  try {
    const r = await apiPost(`/api/v1/alerts/${encodeURIComponent(id)}/feedback`, body);
    const answer = await r.json();
    if (!r.ok) { window.alert(`verdict not recorded: ${answer.message ?? r.status}`); return; }
    state.verdicts.set(id, answer.feedback);
    state.dirty.alerts = true;
    loadModel();
  } catch (e) {
    window.alert(`verdict not recorded: ${e}`);
  }
}

// The list's filter: the page's alerts are filtered by their verdict, and the store is asked for
// the matching ones the page has not seen (judged alerts from before it opened, say).
async function setStatus(status) {
  state.status = status;
  state.dirty.alerts = true;
  if (!status) return;
  try {
    const r = await api(`/api/v1/alerts?status=${status}&limit=200`);
    if (r.ok) {
      const page = await r.json();
      for (const a of (page.alerts ?? []).reverse()) if (!state.alerts.has(A.id(a))) addAlert(a);
    }
  } catch (_) { /* the page's own alerts are filtered anyway */ }
}

// ---- filters: severity, type, host, time range and status, answered by the store, in pages ----

function filterQuery() {
  const p = new URLSearchParams();
  for (const [id, key] of [['f-severity', 'severity'], ['f-type', 'attack_type'], ['f-host', 'host']]) {
    const v = $(id).value.trim();
    if (v) p.set(key, v);
  }
  // The time inputs are read as UTC, as every time on the page is shown.
  for (const [id, key] of [['f-since', 'since'], ['f-until', 'until']]) {
    const v = $(id).value;
    if (v) p.set(key, `${v.length === 16 ? v + ':00' : v}Z`);
  }
  return p;
}

// ---- incidents over time: /api/v1/alerts/timeline under the alert filters ----

async function loadTimeline() {
  const p = filterQuery();
  if (state.status) p.set('status', state.status);
  try {
    const r = await api(`/api/v1/alerts/timeline?${p}`);
    const t = await r.json();
    if (!r.ok) { state.timeline = null; $('timeline-note').textContent = t.message ?? `HTTP ${r.status}`; }
    else state.timeline = t;
  } catch (e) {
    state.timeline = null;
    $('timeline-note').textContent = `the store could not be asked: ${e}`;
  }
  drawTimeline();
}

function bucketLabel(t, withDay) {
  const d = new Date(t);
  const hm = d.toISOString().slice(11, 16);
  return withDay ? `${d.toISOString().slice(5, 10)} ${hm}` : hm;
}

function drawTimeline() {
  const c = $('timeline');
  const dpr = window.devicePixelRatio || 1;
  const w = c.clientWidth, h = c.clientHeight;
  if (c.width !== w * dpr) { c.width = w * dpr; c.height = h * dpr; }
  const g = c.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  const t = state.timeline;
  const buckets = t?.buckets ?? [];
  c.dataset.buckets = String(buckets.length);
  c.dataset.total = String(buckets.reduce((n, b) => n + b.total, 0));
  // The width the bars were drawn with (the automatic width grows with the alerts' time span).
  c.dataset.bucketSecs = String(t?.bucket_secs ?? 0);
  g.fillStyle = '#8494a7'; g.font = '11px system-ui';
  if (!buckets.length) { g.textAlign = 'left'; g.fillText('no alert in the store under these filters', 8, h / 2); state.timelineBars = []; return; }
  const left = 56, right = 12, top = 8, bottom = 18;
  const pw = w - left - right, ph = h - top - bottom;
  const max = niceMax(Math.max(1, ...buckets.map((b) => b.total)));
  g.strokeStyle = '#2a3542'; g.lineWidth = 1;
  for (let i = 0; i <= 2; i++) {
    const y = top + (ph * i) / 2;
    g.beginPath(); g.moveTo(left, y); g.lineTo(left + pw, y); g.stroke();
    g.textAlign = 'right'; g.fillText(num(max * (1 - i / 2)), left - 6, y + 4);
  }
  const css = getComputedStyle(document.documentElement);
  const bw = pw / buckets.length;
  const multiDay = buckets[0].start.slice(0, 10) !== buckets[buckets.length - 1].start.slice(0, 10);
  state.timelineBars = [];
  buckets.forEach((b, i) => {
    const x = left + i * bw;
    let y = top + ph;
    // Least severe at the bottom, critical on top.
    for (const s of [...SEVERITIES].reverse()) {
      const n = b.by_severity?.[s] ?? 0;
      if (!n) continue;
      const bh = (n / max) * ph;
      g.fillStyle = css.getPropertyValue(`--${s}`).trim() || '#888';
      g.fillRect(x + 0.5, y - bh, Math.max(1, bw - 1), bh);
      y -= bh;
    }
    state.timelineBars.push({ x, w: bw, start: b.start });
  });
  g.fillStyle = '#8494a7'; g.textAlign = 'left';
  g.fillText(bucketLabel(buckets[0].start, multiDay), left, h - 4);
  g.textAlign = 'right';
  g.fillText(`${bucketLabel(buckets[buckets.length - 1].start, multiDay)} UTC, ${num(t.bucket_secs / 60)} min per bar`, left + pw, h - 4);
}

// A bar's time range becomes the from/to filters: the list shows that bucket's alerts.
function timelineClick(e) {
  const t = state.timeline;
  const bars = state.timelineBars ?? [];
  const x = e.offsetX;
  const bar = bars.find((b) => x >= b.x && x < b.x + b.w);
  if (!bar || !t) return;
  const from = new Date(bar.start);
  const to = new Date(from.getTime() + t.bucket_secs * 1000);
  const local = (d) => d.toISOString().slice(0, 19);
  $('f-since').value = local(from);
  $('f-until').value = local(to);
  applyFilters();
}

async function applyFilters() {
  loadTimeline();
  const query = filterQuery();
  $('f-clear').hidden = ![...query.keys()].length;
  if (![...query.keys()].length) {
    state.filter = null;
    $('alerts-more').hidden = true;
    $('filter-note').textContent = '';
    state.dirty.alerts = true;
    return;
  }
  if (state.status) query.set('status', state.status);
  state.filter = { query, alerts: [], cursor: null };
  await loadFilteredPage();
}

async function loadFilteredPage() {
  const f = state.filter;
  if (!f) return;
  const p = new URLSearchParams(f.query);
  p.set('limit', '100');
  if (f.cursor) p.set('cursor', f.cursor);
  try {
    const r = await api(`/api/v1/alerts?${p}`);
    const page = await r.json();
    if (state.filter !== f) return;   // the filters changed meanwhile
    if (!r.ok) { $('filter-note').textContent = page.message ?? `HTTP ${r.status}`; f.alerts = []; state.dirty.alerts = true; return; }
    for (const a of page.alerts ?? []) {
      f.alerts.push(a);
      if (a.iotguard?.feedback) state.verdicts.set(A.id(a), a.iotguard.feedback);
    }
    f.cursor = page.next_cursor ?? null;
    $('alerts-more').hidden = !f.cursor;
    $('filter-note').textContent = `${num(f.alerts.length)} matching alert(s) from the store${f.cursor ? ', more on the next page' : ''}`;
    state.dirty.alerts = true;
  } catch (e) {
    $('filter-note').textContent = `the store could not be asked: ${e}`;
  }
}

// A host's page: its incidents (the host filter) and its recent flows (the drill-down).
function showHost(host) {
  $('f-host').value = host;
  applyFilters();
}

// ---- the live state: what /health says the pipeline's source is doing ----

const SOURCE_STATES = {
  reading: ['live', 'on'], waiting: ['live, waiting for flows', 'on'], starting: ['starting', 'off'],
  ended: ['input ended: not live', 'off'], stopped: ['stopped: not live', 'off'], failed: ['source failed', 'off'],
};
async function loadLiveState() {
  try {
    const r = await fetch('/health');
    const h = await r.json();
    const [text, cls] = h.source ? (SOURCE_STATES[h.source.state] ?? [h.source.state, 'off'])
      : ['alert store only: not live', 'off'];
    $('conn').textContent = state.streamDown ? 'reconnecting' : text;
    $('conn').className = `pill ${state.streamDown ? 'off' : cls}`;
  } catch (_) {
    $('conn').textContent = 'server unreachable'; $('conn').className = 'pill off';
  }
}

function drawTopHosts(list) {
  const count = (key) => {
    const m = new Map();
    for (const a of list) {
      const h = key(a);
      if (!h) continue;
      const e = m.get(h) ?? { alerts: 0, flows: 0 };
      e.alerts += 1; e.flows += A.flows(a);
      m.set(h, e);
    }
    return [...m].sort((x, y) => y[1].flows - x[1].flows).slice(0, 5)
      .map(([h, e]) => `<tr><td><a href="#" class="host" data-host="${esc(h)}">${esc(h)}</a></td><td class="num">${num(e.alerts)}</td><td class="num">${num(e.flows)}</td></tr>`).join('');
  };
  $('top-src').innerHTML = count(A.src);
  $('top-dst').innerHTML = count(A.dst);
}

function drawSeverity() {
  const counts = state.severity ?? {};
  const max = Math.max(1, ...SEVERITIES.map((s) => counts[s] ?? 0));
  $('severity').innerHTML = SEVERITIES.map((s) => {
    const n = counts[s] ?? 0;
    return `<div class="bar-row"><span>${sevBadge(s)}</span><div class="bar" style="width:${(100 * n) / max}%;background:var(--${s})"></div><span class="num">${num(n)}</span></div>`;
  }).join('');
}

function drawRates() {
  const c = $('rates');
  const dpr = window.devicePixelRatio || 1;
  const w = c.clientWidth, h = c.clientHeight;
  if (c.width !== w * dpr) { c.width = w * dpr; c.height = h * dpr; }
  const g = c.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  const pts = state.rates;
  const left = 56, right = 48, top = 8, bottom = 18;
  const pw = w - left - right, ph = h - top - bottom;
  const maxF = niceMax(Math.max(1, ...pts.map((p) => p.flows)));
  const maxA = niceMax(Math.max(1, ...pts.map((p) => p.alerts)));
  g.strokeStyle = '#2a3542'; g.fillStyle = '#8494a7'; g.font = '11px system-ui'; g.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = top + (ph * i) / 4;
    g.beginPath(); g.moveTo(left, y); g.lineTo(left + pw, y); g.stroke();
    g.textAlign = 'right'; g.fillText(num(maxF * (1 - i / 4)), left - 6, y + 4);
    g.textAlign = 'left'; g.fillText(num(maxA * (1 - i / 4), 1), left + pw + 6, y + 4);
  }
  g.textAlign = 'center'; g.fillText('now', left + pw, h - 4); g.fillText(`-${RATE_POINTS}s`, left, h - 4);
  const line = (key, max, color) => {
    const xy = pts.map((p, i) => [left + pw - ((pts.length - 1 - i) * pw) / (RATE_POINTS - 1), top + ph - (p[key] / max) * ph]);
    g.strokeStyle = color; g.fillStyle = color; g.lineWidth = 2; g.beginPath();
    xy.forEach(([x, y], i) => { if (i === 0) g.moveTo(x, y); else g.lineTo(x, y); });
    g.stroke();
    // The newest point is marked, so a chart with a single point still shows it.
    if (xy.length) { const [x, y] = xy[xy.length - 1]; g.beginPath(); g.arc(x, y, 3, 0, 2 * Math.PI); g.fill(); }
  };
  c.dataset.points = String(pts.length);
  line('flows', maxF, '#4aa3ff');
  line('alerts', maxA, '#ff6b5e');
}

function niceMax(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function frame() {
  if (state.dirty.flows) { drawFlows(); state.dirty.flows = false; }
  if (state.dirty.alerts) { drawAlerts(); state.dirty.alerts = false; }
  if (state.dirty.charts) { drawRates(); drawSeverity(); state.dirty.charts = false; }
}

// ---- alert drill-down ----

async function showDetail(id) {
  state.selected = id;
  // The stream re-sends an incident as it grows, so the page's copy is the latest; the store is
  // asked only for alerts the page has not seen. (It may not have committed an alert the stream
  // just delivered: asking for that one would be a 404.)
  let a = state.alerts.get(id);
  if (!a) {
    try {
      const r = await api(`/api/v1/alerts/${encodeURIComponent(id)}`);
      if (r.ok) a = await r.json();
    } catch (_) { /* nothing to show */ }
  }
  if (!a) return;
  $('detail').hidden = false;
  $('alerts-card').className = 'card wide';
  $('detail-title').innerHTML = `${sevBadge(A.severity(a))} ${esc(A.attack(a) ?? '')}`;
  const facts = [
    ['id', A.id(a)], ['source', A.src(a)], ['destination', `${A.dst(a) ?? ''}${A.dport(a) != null ? ':' + A.dport(a) : ''}`],
    ['first seen', timeOf(A.start(a))], ['last seen', timeOf(A.end(a))], ['flows', num(A.flows(a))], ['risk score', num(A.risk(a))],
    ['model score', fix(a.iotguard?.score)], ['threshold', fix(a.iotguard?.threshold)], ['rule', a.rule?.name],
    ['sensor', a.observer?.name], ['uids', (a.iotguard?.uids ?? []).slice(0, 8).join(' ')], ['message', a.message],
  ];
  $('detail-facts').innerHTML = facts.filter(([, v]) => v != null && v !== '').map(([k, v]) => `<dt>${esc(k)}</dt><dd>${k === 'source' ? `<a href="#" class="host" data-host="${esc(v)}" title="this host's incidents">${esc(v)}</a>` : esc(v)}</dd>`).join('');
  $('reasons').innerHTML = reasonsList(A.reasons(a));
  $('explanation').innerHTML = explanationSvg(A.explanation(a));
  const host = A.src(a);
  const flows = state.flows.filter((f) => F.src(f) === host || F.dst(f) === host);
  $('host-flows-head').innerHTML = flowHead();
  $('host-flows').innerHTML = flows.length ? flows.slice(0, 40).map(flowRow).join('')
    : `<tr><td class="muted" colspan="${FLOW_COLUMNS.length}">no flow of ${esc(host)} among the sampled flows received</td></tr>`;
  state.dirty.alerts = true;
  loadIncidentFlows(id);
}

// The flows behind the alert, as the store kept them (its first and last ones): there under
// `serve` and for yesterday's alerts, when the page's sample of the stream has none.
async function loadIncidentFlows(id) {
  $('incident-flows-head').innerHTML = flowHead();
  $('incident-flows').innerHTML = '';
  $('incident-flows-note').textContent = '';
  try {
    const r = await api(`/api/v1/alerts/${encodeURIComponent(id)}/flows`);
    if (state.selected !== id) return;
    if (!r.ok) { $('incident-flows-note').textContent = r.status === 404 ? '(not in the store yet)' : `(HTTP ${r.status})`; return; }
    const kept = await r.json();
    // The duration statistics are the incident's own here.
    const durs = kept.flows.map((f) => F.dur(f) ?? 0);
    const n = durs.length, sum = durs.reduce((a, b) => a + b, 0), mean = n ? sum / n : 0;
    const seed = { mean, sum, min: n ? Math.min(...durs) : 0, max: n ? Math.max(...durs) : 0,
      stddev: n > 1 ? Math.sqrt(durs.reduce((a, d) => a + (d - mean) ** 2, 0) / (n - 1)) : 0 };
    $('incident-flows').innerHTML = kept.flows.length
      ? kept.flows.map((f) => flowRow({ ...f, seed })).join('')
      : `<tr><td class="muted" colspan="${FLOW_COLUMNS.length}">the store kept no flow of this alert</td></tr>`;
    $('incident-flows-note').textContent = kept.total > kept.flows.length
      ? `(the first ${kept.kept_each_end} and the last ${kept.kept_each_end} of ${num(kept.total)} flows)`
      : `(all ${num(kept.total)})`;
  } catch (e) {
    $('incident-flows-note').textContent = `(the store could not be asked: ${e})`;
  }
}

function reasonsList(items) {
  if (!items.length) return '';
  return items.map((r) => `<li>${esc(r)}</li>`).join('');
}

function explanationSvg(items) {
  if (!items.length) return '<p class="muted">no explanation in this alert</p>';
  const rows = items.slice(0, 12).map((e) => ({ name: e.name, value: e.value, c: Number(e.contribution ?? 0) }));
  const max = Math.max(...rows.map((r) => Math.abs(r.c)), 1e-9);
  const rowH = 20, labelW = 250, barW = 300, w = labelW + barW + 70, h = rows.length * rowH + 4;
  const mid = labelW + barW / 2;
  const bars = rows.map((r, i) => {
    const len = (Math.abs(r.c) / max) * (barW / 2);
    const x = r.c >= 0 ? mid : mid - len;
    const y = i * rowH + 2;
    const color = r.c >= 0 ? '#ff6b5e' : '#4aa3ff';
    return `<g class="contribution"><text x="${labelW - 6}" y="${y + 13}" text-anchor="end">${esc(r.name)} = ${r.value == null ? 'missing' : esc(fix(r.value, 2))}</text>`
      + `<rect x="${x}" y="${y + 3}" width="${Math.max(len, 1)}" height="${rowH - 6}" fill="${color}"></rect>`
      + `<text x="${labelW + barW + 6}" y="${y + 13}">${r.c >= 0 ? '+' : ''}${fix(r.c, 3)}</text></g>`;
  }).join('');
  return `<svg id="explanation-chart" viewBox="0 0 ${w} ${h}" width="100%" style="max-width:${w}px">`
    + `<line x1="${mid}" y1="0" x2="${mid}" y2="${h}" stroke="#8494a7"></line>${bars}</svg>`
    + '<p class="muted">red pushes towards attack, blue towards normal (model output units)</p>';
}

// ---- the model panel ----

async function loadModel() {
  try {
    const r = await api('/api/v1/models');
    if (!r.ok) { $('model').innerHTML = `<p class="muted">no model information (${r.status})</p>`; return; }
    const m = await r.json();
    const act = m.active ?? {};
    $('model-kind').textContent = act.kind ?? '-';
    const ooc = act.metrics?.out_of_capture;
    const metrics = ooc?.pooled ?? act.metrics?.validation ?? {};
    const keys = ['precision', 'recall', 'f1', 'false_alert_rate', 'mcc', 'pr_auc'];
    $('model').innerHTML = `<p><b>${esc(act.kind)}</b> from <code>${esc(act.path ?? '')}</code>, threshold ${fix(act.threshold)}, `
      + `trained on ${num(act.training?.rows)} flows (${num(act.training?.malicious)} malicious).</p>`
      + augmentHtml(act.training?.augment)
      + (act.lineage ? `<p id="model-lineage">retrained from ${esc(act.lineage.parent?.kind)} <code>${esc(act.lineage.parent?.id)}</code> (${esc(act.lineage.parent?.version)}) on analyst verdicts: ${esc(act.lineage.reason)}</p>` : '')
      + (act.shadow ? `<p id="model-shadow">on trial as a shadow since ${esc(act.shadow.since)}: <code>${esc(act.shadow.model?.path ?? act.shadow.model?.id)}</code>, `
        + `${num(act.shadow.counts?.flows)} flows scored beside this model, it would have added ${num(act.shadow.counts?.shadow_only)} alerts and dropped ${num(act.shadow.counts?.active_only)} (it raises none)</p>` : '')
      + impliedHtml(act.implied, act.threshold_method)
      + `<table class="compact"><thead><tr>${keys.map((k) => `<th class="num">${k}</th>`).join('')}</tr></thead>`
      + `<tbody><tr>${keys.map((k) => `<td class="num">${fix(metrics[k])}</td>`).join('')}</tr></tbody></table>`
      + confusionHtml(metrics)
      + (ooc ? oocHtml(ooc, act.threshold)
        : act.metrics?.baseline ? `<p class="muted" id="model-baseline">${esc(act.metrics.baseline.description)}</p>`
        : '<p class="muted">metrics on a random share of the training captures\' own rows: they say little about another network (retrain with this version for an out-of-capture estimate)</p>')
      + labelChecksHtml(act.metrics?.label_checks)
      + explorationHtml(m.exploration, act.training?.inputs ?? []);
    $('live-performance').innerHTML = performanceHtml(act, m.performance);
    $('versions').innerHTML = versionsHtml(m.versions);
    $('comparison').innerHTML = comparisonHtml(m.comparison, m.comparison_html);
  } catch (e) {
    $('model').innerHTML = `<p class="muted">model information unavailable: ${esc(e)}</p>`;
  }
}

// Training-only inputs (`train --augment-sim`, `--augment`): rows the model was fitted on that
// no out-of-capture figure below counts.
function augmentHtml(augment) {
  if (!augment?.length) return '';
  return `<p id="model-augment" class="muted">also fitted on training-only rows, never held out (the figures below are from the real inputs alone): ${augment.map((a) => `<code>${esc(a)}</code>`).join(', ')}</p>`;
}

// The flows `train`'s label checks set aside as probably mislabeled before training, rule by
// rule, and the findings they only reported (kept as labeled, each saying why).
function labelChecksHtml(lc) {
  const applied = lc?.applied ?? [];
  const reported = lc?.reported ?? [];
  if (!applied.length && !reported.length) return '';
  const flows = applied.reduce((n, a) => n + (a.flows ?? 0), 0);
  const items = applied.map((a) => `<li><b>${num(a.flows)}</b> ${esc(a.rule?.label ?? '')} flows of <code>${esc(a.rule?.input ?? '')}</code>: ${esc(String(a.rule?.reason ?? '').split('. ')[0])}</li>`).join('');
  const kept = reported.map((r) => `<li class="muted"><b>${num(r.flows)}</b> flows of <code>${esc(String(r.input ?? '').split('/').pop())}</code> kept as labeled: ${esc(r.summary ?? '')} (${esc(r.kept ?? '')})</li>`).join('');
  const also = reported.length ? `; ${reported.length} finding${reported.length === 1 ? '' : 's'} reported, kept as labeled` : '';
  return `<details id="model-label-checks"><summary>label checks set aside ${num(flows)} probably mislabeled flows before training (${applied.length} rule${applied.length === 1 ? '' : 's'}${also})</summary><ul>${items}${kept}</ul></details>`;
}

// Every model file of the server's models directory, newest first: its lineage (retrained from
// which model, on what trigger, promoted or not and why) and a button to make it the active model.
function versionsHtml(versions) {
  if (!versions?.length) return '';
  const rows = versions.map((v) => `<tr class="${v.active ? '' : 'muted'}" data-file="${esc(v.file)}">`
    + `<td><code>${esc(v.file)}</code>${v.active ? ' <b>(active)</b>' : ''}</td><td>${esc(v.kind ?? '')}</td><td>${esc(v.version ?? '')}</td>`
    + `<td class="num">${fix(v.threshold)}</td><td>${v.parent ? `<code>${esc(v.parent)}</code>` : ''}</td><td>${esc(v.trigger ?? '')}</td>`
    + `<td>${esc(v.error ?? v.reason ?? '')}</td>`
    + `<td>${v.active || v.error ? '' : '<button class="activate" type="button">activate</button>'}</td></tr>`).join('');
  return '<h3>Model versions</h3><table class="compact" id="model-versions"><thead><tr><th>file</th><th>kind</th><th>created</th><th class="num">threshold</th>'
    + `<th>retrained from</th><th>trigger</th><th>why (not) promoted</th><th></th></tr></thead><tbody>${rows}</tbody></table><p class="muted" id="activate-result"></p>`;
}

// Makes another model version the active one (behind the token), then shows the panel again.
async function activateVersion(file) {
  if (!window.confirm(`Make ${file} the active model? Detection switches between two flows.`)) return;
  const r = await apiPost('/api/v1/models/activate', { path: file });
  const body = await r.json().catch(() => ({}));
  await loadModel();
  const note = $('activate-result');
  if (note) note.textContent = r.ok ? `${file} is now the active model` : `not activated: ${body.message ?? r.status}`;
}

// Live precision from analyst verdicts: the active model's, per attack type, and every model
// version's (precision = TP / (TP + FP); benign activity apart, and in "with benign" as not a TP).
function performanceHtml(act, perf) {
  if (!perf) return '<p class="muted">no live precision: the server has no alert store</p>';
  const head = '<th class="num">TP</th><th class="num">FP</th><th class="num">benign</th><th class="num">precision</th><th class="num">with benign</th>';
  const cells = (c) => `<td class="num">${num(c.true_positive)}</td><td class="num">${num(c.false_positive)}</td><td class="num">${num(c.benign_activity)}</td>`
    + `<td class="num">${fix(c.precision)}</td><td class="num">${fix(c.precision_with_benign)}</td>`;
  const mine = (r) => r.model_id === act.id && r.model_version === act.version;
  const types = perf.by_attack_type.filter(mine).map((r) => `<tr><td>${esc(String(r.attack_type).replace(/_/g, ' '))}</td>${cells(r)}</tr>`).join('');
  const versions = perf.by_model.map((r) => `<tr class="${mine(r) ? '' : 'muted'}"><td>${esc(r.model_id)} ${esc(r.model_version)}${mine(r) ? ' (active)' : ''}</td>${cells(r)}</tr>`).join('');
  if (!versions) return '<h3>Live precision</h3><p class="muted" id="live-precision">no verdicts yet: triage alerts (TP / FP / benign) to measure it</p>';
  return `<h3>Live precision from analyst verdicts</h3><p id="live-precision">active model: ${act.live ? `<b>${fix(act.live.precision)}</b> (${num(act.live.true_positive)} TP, ${num(act.live.false_positive)} FP, ${num(act.live.benign_activity)} benign)` : '<span class="muted">no verdicts on its alerts yet</span>'}</p>`
    + (types ? `<table class="compact" id="live-by-attack"><thead><tr><th>attack type</th>${head}</tr></thead><tbody>${types}</tbody></table>` : '')
    + `<table class="compact" id="live-by-model"><thead><tr><th>model version</th>${head}</tr></thead><tbody>${versions}</tbody></table>`;
}

// What the threshold in use implies (expected false-alert rate and recall at it, from the curve
// the model file records) and how it was set.
function impliedHtml(imp, method) {
  if (!imp) return '';
  const how = method?.kind === 'fixed' ? 'set by hand' : method?.kind ? `chosen by ${esc(method.kind.replaceAll('_', ' '))}` : '';
  const pct = (v) => (v === null || v === undefined ? '–' : `${(100 * Number(v)).toFixed(2)} %`);
  return `<p id="model-threshold">threshold <b>${fix(imp.threshold)}</b> (${how}): expected false-alert rate at most ${pct(imp.false_alert_rate)}, `
    + `recall ${pct(imp.recall)} <span class="muted">(${esc(imp.source)}; change it with POST /api/v1/models/threshold)</span></p>`;
}

// The out-of-capture estimate the model file records: how the held-out scores were made, the
// objective, and each held-out capture at the model's threshold.
function oocHtml(o, threshold) {
  const rows = (o.units ?? []).map((u) => `<tr><td>${esc(String(u.unit).split(/[\\/]/).pop())}</td>`
    + `<td class="num">${num(u.metrics?.n)}</td><td class="num">${fix(u.metrics?.recall)}</td>`
    + `<td class="num">${fix(u.metrics?.false_alert_rate)}</td></tr>`).join('');
  const note = Math.abs(Number(threshold) - Number(o.threshold)) > 1e-9
    ? ` The threshold in use (${fix(threshold)}) was set by the operator; these figures are at the chosen ${fix(o.threshold)}.` : '';
  return `<p class="muted" id="model-ooc">out-of-capture estimate, pooled over held-out captures: ${esc(o.description)}; `
    + `threshold chosen for ${esc(o.objective)} (${esc(o.rule)} of the held-out captures).${note}</p>`
    + `<table class="compact" id="model-ooc-units"><thead><tr><th>held out</th><th class="num">flows</th><th class="num">recall</th><th class="num">false_alert_rate</th></tr></thead><tbody>${rows}</tbody></table>`;
}

// The active model's confusion matrix on its validation rows (counts from the model file).
function confusionHtml(m) {
  if (m.tp === undefined) return '';
  // Tints, not fills: the cell keeps the theme's text colour, so the counts stay readable.
  const cell = (v, bad) => `<td class="num" style="background:${bad ? 'rgba(229,72,77,0.22)' : 'rgba(48,164,108,0.22)'}">${num(v)}</td>`;
  return '<table class="compact" id="model-confusion" style="width:auto;min-width:22em"><thead><tr><th></th><th class="num">flagged</th><th class="num">not flagged</th></tr></thead><tbody>'
    + `<tr><th>malicious</th>${cell(m.tp, false)}${cell(m.fn_, true)}</tr>`
    + `<tr><th>benign</th>${cell(m.fp, true)}${cell(m.tn, false)}</tr></tbody></table>`;
}

// The link to the exploration of the training data (iotguard explore), saying whether it covers
// the inputs the model was trained on.
function explorationHtml(ex, trained) {
  if (!ex) return '<p class="muted">no exploration of its training data (iotguard explore --out DIR INPUTS, then --explore DIR)</p>';
  const base = (p) => String(p).split(/[\\/]/).pop();
  const want = trained.map(base).sort().join('\n');
  const same = want !== '' && want === [...ex.inputs].sort().join('\n');
  const note = same ? `its ${num(ex.inputs.length)} training input(s)` : `explored: ${ex.inputs.map(esc).join(', ') || '?'}; not the inputs the model was trained on`;
  return `<p><a id="model-explore" href="${esc(withToken(ex.html))}" target="_blank" rel="noopener">the exploration of its training data</a> <span class="muted">(${note})</span></p>`;
}

function comparisonHtml(report, htmlUrl) {
  if (!report) return '<p class="muted">no comparison report (start with --report DIR, a folder written by iotguard compare)</p>';
  const keys = ['precision', 'recall', 'f1', 'false_alert_rate', 'mcc', 'roc_auc', 'pr_auc'];
  const rows = (report.models ?? []).map((m) => {
    const p = m.pooled ?? m.metrics ?? {};
    return `<tr><td>${esc(m.kind ?? m.name)}</td>${keys.map((k) => `<td class="num">${fix(p[k])}</td>`).join('')}<td class="num">${fix(m.train_secs, 1)}</td></tr>`;
  });
  // report.json holds the baseline as {pooled, per_class}; older reports held the metrics.
  const base = report.baseline?.pooled ?? report.baseline;
  if (base) rows.push(`<tr class="muted"><td>majority baseline</td>${keys.map((k) => `<td class="num">${fix(base[k])}</td>`).join('')}<td></td></tr>`);
  const plots = htmlUrl ? `<p><a href="${esc(withToken(htmlUrl))}" target="_blank" rel="noopener">the full report with its plots</a></p><iframe title="comparison report" src="${esc(withToken(`${htmlUrl}?theme=dark`))}" style="width:100%;height:520px;border:0"></iframe>` : '';
  const split = { loco: 'leave one capture out', kfold: 'stratified k-fold', time: 'time-ordered' }[report.split?.mode ?? 'loco'] ?? report.split?.mode;
  return `<h3>Comparison (${esc(split)}) over ${num((report.inputs ?? []).length)} captures, ${num(report.rows)} flows</h3>`
    + `<table class="compact"><thead><tr><th>model</th>${keys.map((k) => `<th class="num">${k}</th>`).join('')}<th class="num">train s</th></tr></thead><tbody>${rows.join('')}</tbody></table>${plots}`;
}

// ---- the drift panel: /api/v1/drift, polled (a window closes every few thousand flows) ----

const DRIFT_SHOWN = 12;     // features shown, largest PSI first
function driftBadge(status) {
  const cls = { ok: 'low', warn: 'medium', drift: 'critical' }[status] ?? 'info';
  return `<span class="sev ${cls}">${esc(status)}</span>`;
}
function driftSince(f) { return f.since ? timeOf(f.since) : 'start'; }
async function loadDrift() {
  try {
    const r = await api('/api/v1/drift');
    if (r.status === 503) { $('drift').innerHTML = '<p class="muted">no drift monitors here (they run inside iotguard detect --serve)</p>'; return; }
    if (!r.ok) return;
    const d = await r.json();
    if (!d.enabled) { $('drift').innerHTML = `<p class="muted">${esc(d.reason ?? 'drift monitors off')}</p>`; return; }
    if (!d.windows) { $('drift').innerHTML = '<p class="muted">waiting for the first window</p>'; return; }
    const feats = [...(d.features ?? [])].sort((a, b) => (b.psi ?? 0) - (a.psi ?? 0));
    const moved = feats.filter((f) => f.status !== 'ok').length;
    const row = (f) => `<tr><td>${esc(f.name)}</td><td>${driftBadge(f.status)}</td><td class="num">${fix(f.psi)}</td>`
      + `<td class="num">${fix(f.missing, 3)}</td><td class="num">${fix(f.reference_missing, 3)}</td><td>${esc(driftSince(f))}</td></tr>`;
    const det = (name, s) => `<tr><td>${name}</td><td>${driftBadge(s.state === 'stable' ? 'ok' : 'drift')} ${esc(s.state)}</td>`
      + `<td class="num">${fix(s.observed, 4)}</td><td class="num">${fix(s.expected, 4)}</td><td class="num">${num(s.changes)}</td></tr>`;
    $('drift-note').textContent = `${num(d.windows)} windows of ${num(d.window_flows)} flows, ${num(d.events)} drift events`;
    $('drift').innerHTML = `<p>${d.drift_detected ? driftBadge('drift') + ' the last window drifted' : driftBadge('ok') + ' the last window looks like training'}; `
      + `${num(moved)} of ${num(feats.length)} features moved; score PSI ${fix(d.score?.psi)} ${driftBadge(d.score?.status ?? 'ok')}</p>`
      + '<div class="detail-grid"><div><table class="compact" id="drift-detectors"><thead><tr><th>Page-Hinkley</th><th>state</th><th class="num">last window</th><th class="num">training</th><th class="num">changes</th></tr></thead><tbody>'
      + det('alert rate', d.alert_rate) + det('mean score', d.mean_score) + '</tbody></table></div>'
      + '<div class="scroll short"><table class="compact" id="drift-features"><thead><tr><th>feature</th><th>status</th><th class="num">PSI</th><th class="num">missing</th><th class="num">training missing</th><th>since</th></tr></thead><tbody>'
      + feats.slice(0, DRIFT_SHOWN).map(row).join('') + '</tbody></table></div></div>';
  } catch (e) {
    $('drift').innerHTML = `<p class="muted">drift state unavailable: ${esc(e)}</p>`;
  }
}

// ---- start ----

async function start() {
  $('flows-head').innerHTML = flowHead();
  $('alerts').addEventListener('click', (e) => {
    const tr = e.target.closest('tr[data-id]');
    if (!tr) return;
    const button = e.target.closest('button[data-verdict]');
    if (button) triage(tr.dataset.id, button.dataset.verdict);
    else showDetail(tr.dataset.id);
  });
  // The analyst's name is remembered in this browser (it is not a secret).
  $('analyst').value = localStorage.getItem('iotguard-analyst') ?? '';
  $('analyst').addEventListener('change', () => localStorage.setItem('iotguard-analyst', $('analyst').value.trim()));
  $('alert-status').addEventListener('change', () => { setStatus($('alert-status').value); if (state.filter) applyFilters(); else loadTimeline(); });
  for (const id of ['f-severity', 'f-type', 'f-host', 'f-since', 'f-until']) $(id).addEventListener('change', applyFilters);
  $('f-clear').addEventListener('click', () => {
    for (const id of ['f-severity', 'f-type', 'f-host', 'f-since', 'f-until']) $(id).value = '';
    applyFilters();
  });
  $('alerts-more').addEventListener('click', loadFilteredPage);
  for (const id of ['top-src', 'top-dst', 'detail-facts']) {
    $(id).addEventListener('click', (e) => {
      const a = e.target.closest('a.host');
      if (a) { e.preventDefault(); showHost(a.dataset.host); }
    });
  }
  $('detail-close').addEventListener('click', () => {
    $('detail').hidden = true;
    $('alerts-card').className = 'card full';
    state.selected = null;
    state.dirty.alerts = true;
  });
  $('versions').addEventListener('click', (e) => {
    const button = e.target.closest('button.activate');
    if (button) activateVersion(button.closest('tr[data-file]').dataset.file);
  });
  loadModel();
  loadDrift();
  setInterval(loadDrift, 5000);
  $('timeline').addEventListener('click', timelineClick);
  loadTimeline();
  setInterval(loadTimeline, 15000);
  try {
    const r = await api('/api/v1/alerts?limit=200');
    if (r.ok) { const page = await r.json(); for (const a of (page.alerts ?? []).reverse()) addAlert(a); }
  } catch (_) { /* the stream will bring them */ }
  const es = new EventSource(withToken('/api/v1/live'));
  // The badge says "live" only while the pipeline's source reads (/health), not because the
  // stream is open: `serve` and an ended replay have nothing live.
  es.onopen = () => { state.streamDown = false; loadLiveState(); };
  es.onerror = () => { state.streamDown = true; loadLiveState(); };
  loadLiveState();
  setInterval(loadLiveState, 3000);
  es.addEventListener('flow', (e) => addFlow(JSON.parse(e.data)));
  es.addEventListener('alert', (e) => addAlert(JSON.parse(e.data)));
  es.addEventListener('history', (e) => addHistory(JSON.parse(e.data)));
  es.addEventListener('stats', (e) => addTick(JSON.parse(e.data)));
  es.addEventListener('model', () => loadModel());
  setInterval(frame, 250);
  window.addEventListener('resize', () => { state.dirty.charts = true; drawTimeline(); });
}

start();
