// http-lib.mjs: helpers for the Streamable HTTP interop tests. One server
// process per suite (`ringbank serve --http 127.0.0.1:0`), the URL read from
// its stderr line "ringbank: listening on http://127.0.0.1:PORT/mcp"; the
// official SDK client (StreamableHTTPClientTransport) for well-behaved
// traffic, node:net for what no well-behaved client sends.
//
// Environment: RB_BIN, RB_IO as in lib.mjs.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import net from 'node:net';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

import { RB_BIN, RB_IO, PATIENCE_MS } from './lib.mjs';

// Starts a server; resolves {url, port, pid, child, stderr(), stop(), exited}.
export function startServer(roots, extra = [], env = {}) {
  const child = spawn(RB_BIN, ['serve', `--io=${RB_IO}`, '--http', '127.0.0.1:0', ...extra, ...roots],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let log = '';
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no "listening on" line in ${PATIENCE_MS} ms; stderr:\n${log}`)), PATIENCE_MS);
    child.stderr.on('data', (b) => {
      log += b.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:(\d+)\/mcp)/.exec(log);
      if (m && t) {
        clearTimeout(t);
        resolve({
          url: m[1], port: Number(m[2]), pid: child.pid, child, exited,
          stderr: () => log,
          async stop(sig = 'SIGTERM') { child.kill(sig); return exited; },
        });
      }
    });
    child.on('exit', (code) => { clearTimeout(t); reject(new Error(`server exited (${code}); stderr:\n${log}`)); });
  });
}

// The official SDK client over Streamable HTTP. opts: headers (extra
// request headers), capabilities, setup(client).
export async function connectHttp(url, opts = {}) {
  const { headers = {}, capabilities = {}, setup } = opts;
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  const client = new Client({ name: 'ringbank-http-interop', version: '1.0.0' }, { capabilities });
  if (setup) setup(client);
  await client.connect(transport);
  return { client, transport };
}

export async function stats(srv, headers = {}) {
  const r = await fetch(srv.url.replace(/\/mcp$/, '/stats'), { headers });
  return r.json();
}

const JSON_HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };

// POSTs one JSON-RPC message with fetch; returns {status, headers, body, text}.
export async function post(url, msg, headers = {}) {
  const r = await fetch(url, { method: 'POST', headers: { ...JSON_HEADERS, ...headers },
    body: typeof msg === 'string' ? msg : JSON.stringify(msg) });
  const text = await r.text();
  let body;
  try { body = JSON.parse(text); } catch { body = undefined; }
  return { status: r.status, headers: r.headers, body, text };
}

// A fresh session by hand: returns its id.
export async function initSession(url, headers = {}) {
  const r = await post(url, { jsonrpc: '2.0', id: 0, method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } }, headers);
  if (r.status !== 200) throw new Error(`initialize: HTTP ${r.status} ${r.text}`);
  const sid = r.headers.get('mcp-session-id');
  await post(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, { ...headers, 'Mcp-Session-Id': sid });
  return sid;
}

// A raw TCP connection: write(), read everything until the server closes
// or `ms` passes. Resolves {data, closed, error}. closedAt: Date.now() when
// the socket closed (0 while open), so a test can time the close itself
// rather than when it looked.
export function rawConn(port) {
  const sock = net.connect(port, '127.0.0.1');
  let data = '';
  let closed = false;
  let closedAt = 0;
  let error;
  const waiters = [];
  sock.setEncoding('latin1');
  sock.on('data', (s) => { data += s; for (const w of waiters.splice(0)) w(); });
  sock.on('error', (e) => { error = e; });
  sock.on('close', () => { closed = true; closedAt = Date.now(); for (const w of waiters.splice(0)) w(); });
  const ready = new Promise((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
  return {
    sock, ready,
    get data() { return data; },
    get closed() { return closed; },
    get closedAt() { return closedAt; },
    get error() { return error; },
    write(s) { return new Promise((resolve) => sock.write(s, 'latin1', () => resolve())); },
    // Waits until pred(data) or the socket closes or ms pass.
    async until(pred, ms = PATIENCE_MS) {
      const end = Date.now() + ms;
      while (!pred(data) && !closed && Date.now() < end) {
        await new Promise((r) => { const t = setTimeout(r, Math.max(1, end - Date.now())); waiters.push(() => { clearTimeout(t); r(); }); });
      }
      return { data, closed, error };
    },
    close() { sock.destroy(); },
  };
}

// The client-side ports of the connections a server process has accepted on
// `port` (sockets in its fd table, from /proc/net/tcp{,6}): a connect
// completes in the kernel before the server accepts it, so this tells when
// the server really holds a connection.
export function acceptedPeers(pid, port) {
  const inodes = new Set();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let l;
    try { l = readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { continue; } // closed meanwhile
    const m = /^socket:\[(\d+)\]$/.exec(l);
    if (m) inodes.add(m[1]);
  }
  const peers = new Set();
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let lines;
    try { lines = readFileSync(f, 'utf8').split('\n').slice(1); } catch { continue; }
    for (const line of lines) {
      const c = line.trim().split(/\s+/);
      if (c.length < 10) continue;
      const local = parseInt(c[1].split(':')[1], 16), remote = parseInt(c[2].split(':')[1], 16);
      if (local === port && c[3] !== '0A' && inodes.has(c[9])) peers.add(remote);
    }
  }
  return peers;
}

// HTTP/1.1 responses in a raw byte string: [{status, headers, body}] (Content-Length and chunked bodies).
export function parseResponses(s) {
  const out = [];
  let i = 0;
  while (i < s.length) {
    const he = s.indexOf('\r\n\r\n', i);
    if (he < 0) break;
    const lines = s.slice(i, he).split('\r\n');
    const status = Number(lines[0].split(' ')[1]);
    const headers = {};
    for (const l of lines.slice(1)) { const k = l.indexOf(':'); headers[l.slice(0, k).toLowerCase()] = l.slice(k + 1).trim(); }
    i = he + 4;
    let body = '';
    if (headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        const le = s.indexOf('\r\n', i);
        if (le < 0) { i = s.length; break; }
        const n = parseInt(s.slice(i, le), 16);
        i = le + 2;
        if (n === 0) { i += 2; break; }
        body += s.slice(i, i + n);
        i += n + 2;
      }
    } else {
      const n = Number(headers['content-length'] || 0);
      body = s.slice(i, i + n);
      i += n;
    }
    if (status !== 100) out.push({ status, headers, body });
  }
  return out;
}

export { RB_IO };
