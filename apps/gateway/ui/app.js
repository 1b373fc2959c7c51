// The admin UI: polls GET /api/ every second, renders the tables and the traffic chart, and sends
// changes (routes, filter rules, settings, DNS cache flush, reboot, arming the path trace) with fetch; the browser asks for the admin
// password (HTTP Basic) on the first 401. Plain JavaScript, no build step.
'use strict';

const $ = (sel) => document.querySelector(sel);
const POLL_MS = 1000;

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function fillTable(id, rows) {
  const body = $(`#${id} tbody`);
  if (rows.length === 0) {
    const td = el('td', 'none', 'muted empty');
    td.colSpan = $(`#${id} thead tr`).children.length;
    const tr = el('tr');
    tr.append(td);
    body.replaceChildren(tr);
    return;
  }
  body.replaceChildren(
    ...rows.map((cells) => {
      const tr = el('tr');
      for (const c of cells) {
        const td = el('td');
        if (c instanceof Node) td.append(c);
        else td.textContent = c === null || c === undefined ? '' : String(c);
        tr.append(td);
      }
      return tr;
    }),
  );
}

function duration(ms) {
  const s = Math.floor(ms / 1000);
  return `up ${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m ${s % 60}s`;
}

function say(text, bad) {
  const m = $('#message');
  m.textContent = text;
  m.className = bad ? 'down' : '';
}

async function change(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) say(`${method} ${path}: ${res.status} ${data.error ?? ''}`, true);
  else say(`${method} ${path}: ${res.status}`);
  poll();
  return res.ok;
}

function delButton(path) {
  const b = el('button', '×');
  b.title = 'delete';
  b.addEventListener('click', () => change('DELETE', path));
  return b;
}

function drawChart(samples) {
  const c = $('#chart');
  const ctx = c.getContext('2d');
  // Draw at the size the canvas is shown at (CSS pixels times the device pixel ratio), so the text
  // and lines are not stretched when the page is wider or narrower than the canvas's default size.
  const dpr = window.devicePixelRatio || 1;
  const cssW = Math.max(1, Math.round(c.clientWidth)),
    cssH = Math.max(1, Math.round(c.clientHeight));
  if (c.width !== Math.round(cssW * dpr) || c.height !== Math.round(cssH * dpr)) {
    c.width = Math.round(cssW * dpr);
    c.height = Math.round(cssH * dpr);
  }
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  const w = cssW - 4,
    h = cssH,
    pad = 28;
  ctx.clearRect(0, 0, cssW, cssH);
  const max = Math.max(10, ...samples.map((s) => Math.max(s.rxFps, s.txFps)));
  ctx.strokeStyle = '#e3e6ec';
  ctx.fillStyle = '#6b7385';
  ctx.font = '11px system-ui';
  for (let i = 0; i <= 4; i++) {
    const y = pad / 2 + ((h - pad) * i) / 4;
    ctx.beginPath();
    ctx.moveTo(pad, y);
    ctx.lineTo(w, y);
    ctx.stroke();
    ctx.fillText(String(Math.round(max * (1 - i / 4))), 0, y + 4);
  }
  const n = 120;
  const x = (i) => pad + ((w - pad) * (i + n - samples.length)) / (n - 1);
  const y = (v) => pad / 2 + (h - pad) * (1 - v / max);
  for (const [key, color] of [
    ['rxFps', '#2a7de1'],
    ['txFps', '#e1792a'],
  ]) {
    ctx.strokeStyle = color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    samples.forEach((s, i) => (i === 0 ? ctx.moveTo(x(i), y(s[key])) : ctx.lineTo(x(i), y(s[key]))));
    ctx.stroke();
  }
}

// The link cell: up / down / reconnecting from the device connection (when the API gives one), with
// the attempts and the last error of a reconnection beside it.
function linkCell(i) {
  const c = i.connection;
  const state = c ? c.state : i.link;
  const cell = document.createDocumentFragment();
  const badge = el('span', state, state);
  cell.append(badge);
  if (c && c.state !== 'up' && (c.attempts > 0 || c.lastError)) {
    cell.append(el('small', ` attempt ${c.attempts}${c.lastError ? ` · ${c.lastError}` : ''}`, 'muted'));
  }
  if (c && c.counters && c.counters.disconnects > 0)
    badge.title = `disconnects ${c.counters.disconnects}, reconnects ${c.counters.reconnects}, re-HELLOs ${c.counters.reHellos}, attempts ${c.counters.reconnectAttempts}`;
  return cell;
}

function render(s) {
  $('#uptime').textContent = duration(s.uptimeMs);
  fillTable(
    'interfaces',
    s.interfaces.map((i) => [
      i.name,
      linkCell(i),
      i.addresses.join(' '),
      i.mac,
      i.mtu,
      i.driver.rxFrames,
      i.driver.txFrames,
      i.counters.rxDroppedFcs +
        i.counters.rxDroppedRingFull +
        i.counters.rxDroppedOversize +
        i.counters.txDroppedDriver,
      i.counters.interrupts,
    ]),
  );
  fillTable(
    'arp',
    s.arp.map((a) => [a.interface, a.ip, a.mac ?? '(incomplete)', a.state]),
  );
  fillTable(
    'routes',
    s.routes.map((r) => [
      r.to,
      r.via ?? 'on-link',
      r.interface,
      r.kind,
      r.metric,
      r.kind === 'static' ? delButton(`/api/routes/${r.to}`) : '',
    ]),
  );
  $('#firewall').textContent = s.filter.enabled ? 'firewall on' : 'firewall off (rules are not evaluated)';
  fillTable(
    'rules',
    s.filter.rules.map((r) => {
      const m =
        [
          r.protocol,
          r.src && `from ${r.src}`,
          r.dst && `to ${r.dst}`,
          r.dstPort && `port ${r.dstPort}`,
          r.comment && `# ${r.comment}`,
        ]
          .filter(Boolean)
          .join(' ') || 'all';
      return [r.id, r.chain, m, r.action, r.packets, r.bytes, delButton(`/api/filter/rules/${r.id}`)];
    }),
  );
  $('#tcp-summary').textContent = `${s.tcp.connectionCount} connections, ${s.tcp.timeWait} in TIME-WAIT`;
  fillTable(
    'tcp',
    s.tcp.connections.map((c) => [`${c.localAddress}:${c.localPort}`, `${c.remoteAddress}:${c.remotePort}`, c.state]),
  );
  fillTable(
    'http',
    Object.entries(s.http.byStatus).map(([k, v]) => [k, v]),
  );
  fillTable(
    'irq',
    s.scheduler.irq.map((l) => [l.name, l.raised, l.handled, l.latencyMaxMs.toFixed(2)]),
  );
  const d = s.scheduler.deferred;
  $('#deferred').textContent =
    `bottom-half polls ${d.runs}, budget exhaustions ${d.budgetExhaustions}, items ${d.items}; tasklets ${s.scheduler.taskletsRun}; timers fired ${s.scheduler.timersFired}; errors ${s.scheduler.errors}`;
  if (document.activeElement !== $('#forwarding')) $('#forwarding').checked = s.settings.forwarding;
  if (document.activeElement !== $('#firewall-on')) $('#firewall-on').checked = s.settings.firewall;
  renderLan(s.lan);
  renderNat(s.nat);
  drawChart(s.traffic);
}

const DNS_TYPES = {
  1: 'A',
  2: 'NS',
  5: 'CNAME',
  6: 'SOA',
  12: 'PTR',
  15: 'MX',
  16: 'TXT',
  28: 'AAAA',
  33: 'SRV',
  65: 'HTTPS',
};
const RCODES = { 0: 'NOERROR', 3: 'NXDOMAIN' };

// DHCP leases and clients, the DNS forwarder's cache (GET /api/ carries them as `lan`).
function renderLan(lan) {
  const servers = lan ? lan.dhcpServers : [];
  $('#dhcp-summary').textContent =
    servers.map((d) => `${d.interface} ${d.range}, ${d.leaseSeconds} s`).join('; ') || 'no DHCP server';
  fillTable(
    'dhcp-leases',
    servers.flatMap((d) =>
      d.leases.map((l) => [
        d.interface,
        l.ip,
        l.mac === '00:00:00:00:00:00' ? '(set aside)' : l.mac,
        l.hostname,
        l.expired ? 'expired' : l.state,
        new Date(l.expires).toLocaleString(),
      ]),
    ),
  );
  fillTable(
    'dhcp-clients',
    (lan ? lan.dhcpClients : []).map((c) => [
      c.interface,
      c.state,
      c.lease?.address,
      c.lease?.router,
      c.lease?.dnsServers.join(' '),
      c.lease ? new Date(c.lease.expires).toLocaleString() : '',
    ]),
  );
  const dns = lan ? lan.dns : null;
  $('#dns-summary').textContent = dns
    ? `on ${dns.listen.join(', ')}; upstream ${dns.upstream.join(', ') || 'none yet'}; ${dns.inFlight} in flight; ` +
      `TCP on ${dns.tcpListen.join(', ') || 'no address yet'} (${dns.tcpConnections} open)`
    : 'no DNS forwarder';
  fillTable(
    'dns-cache',
    (dns ? dns.cache : []).map((e) => [
      e.name,
      DNS_TYPES[e.type] ?? e.type,
      RCODES[e.rcode] ?? e.rcode,
      e.answers,
      e.ttl,
    ]),
  );
}

// NAT rules and the mapping table (GET /api/ carries them as `nat`).
function renderNat(nat) {
  const rules = nat
    ? [
        ...nat.rules.map((r) => `${r.type} out ${r.out}`),
        ...nat.portForwards.map((f) => `${f.protocol} ${f.in}:${f.port} -> ${f.to}`),
      ]
    : [];
  const c = nat ? nat.counters : {};
  $('#nat-summary').textContent =
    nat && nat.enabled
      ? `${rules.join('; ')}; ${nat.mappings.length} mappings of ${nat.maxMappings}; dropped: table full ${c.tableFull}, no mapping ${c.noMapping}`
      : 'no NAT';
  fillTable(
    'nat-mappings',
    (nat ? nat.mappings : []).map((m) => [
      m.protocol,
      m.interface,
      m.internal,
      m.externalPort,
      m.kind,
      m.tcpState ?? '',
      m.remotes.join(' '),
      m.expiresIn === null ? 'never' : `${Math.round(m.expiresIn / 1000)} s`,
      `${m.packets[0]}/${m.packets[1]}`,
    ]),
  );
}

// The path trace (/api/trace): the last captured request, one row per layer step.
async function pollTrace() {
  const res = await fetch('/api/trace', { cache: 'no-store' });
  if (!res.ok) return;
  const t = await res.json();
  const c = t.capture;
  $('#trace-state').textContent =
    t.state !== 'idle'
      ? `${t.state}…`
      : c
        ? `${c.complete ? 'answered' : 'incomplete'} in ${c.marks.at(-1)?.atUs ?? 0} µs`
        : 'nothing traced yet';
  const marks = c?.marks ?? [];
  fillTable(
    'trace',
    marks.map((m, i) => [m.atUs.toFixed(1), i === 0 ? '' : (m.atUs - marks[i - 1].atUs).toFixed(1), m.layer, m.what]),
  );
}

let inFlight = false;
async function poll() {
  if (inFlight) return;
  inFlight = true;
  const badge = $('#conn');
  try {
    const res = await fetch('/api/', { cache: 'no-store' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    render(await res.json());
    await pollTrace().catch(() => undefined);
    badge.textContent = 'live';
    badge.className = 'badge ok';
  } catch (err) {
    badge.textContent = `offline (${err.message})`;
    badge.className = 'badge bad';
  } finally {
    inFlight = false;
  }
}

$('#route-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  change('POST', '/api/routes', { to: f.get('to'), via: f.get('via') });
});
$('#rule-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const rule = { chain: f.get('chain'), action: f.get('action') };
  for (const k of ['protocol', 'src', 'dst', 'dstPort']) if (f.get(k)) rule[k] = f.get(k);
  change('POST', '/api/filter/rules', rule);
});
$('#forwarding').addEventListener('change', (e) => change('PUT', '/api/settings', { forwarding: e.target.checked }));
$('#firewall-on').addEventListener('change', (e) => change('PUT', '/api/settings', { firewall: e.target.checked }));
$('#dns-flush').addEventListener('click', () => change('DELETE', '/api/lan/dns-cache'));
$('#nat-flush').addEventListener('click', () => change('DELETE', '/api/nat/mappings'));
$('#trace-arm').addEventListener('click', () => change('POST', '/api/trace'));
$('#reboot').addEventListener('click', () => {
  if (confirm('Reboot the gateway?')) change('POST', '/api/reboot');
});

poll();
setInterval(poll, POLL_MS);
