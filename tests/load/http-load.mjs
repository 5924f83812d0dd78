#!/usr/bin/env node
// http-load.mjs: load test of `ringbank serve --http` on loopback, not part
// of the default suite (it runs for minutes). For each io backend:
//   - a bank of P projects x F notes (~2 KiB each) is generated on disk;
//   - the server starts (--http 127.0.0.1:0) and N sessions initialize,
//     each also holding its GET stream open like the SDK client does;
//   - every session sends one request at a time for T seconds (or until the
//     request budget is spent): 60% read_text_file of a shared note, 20%
//     search (search_memory_bank in one project, or search_files), 20%
//     write_file of one of its own 4 files (atomic, fsync'ed);
//   - afterwards: every file a session wrote must hold exactly the content
//     of its last acknowledged write (no lost writes), no request may have
//     failed, and the server must exit 0 on SIGTERM;
//   - reported: requests/s, p50/p99 latency (all and per kind), errors,
//     lost writes, server RSS after start-up, after the sessions opened,
//     at the end, and its peak; side by side for the backends.
//
//   node tests/load/http-load.mjs [--sessions 200] [--duration 60] [--io uring,threads]
//        [--bin build/ringbank] [--dir /tmp] [--projects 40] [--files 50]
//        [--max-requests 3000000] [--no-get] [--out results.json]
//
// Bounded: T seconds per backend (plus start-up and checks), at most
// --max-requests requests, loopback only. Exit 0 only if every backend had
// no error and no lost write.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const o = { sessions: 200, duration: 60, io: ['uring', 'threads'], bin: path.resolve(here, '../../build/ringbank'),
    dir: os.tmpdir(), projects: 40, files: 50, maxRequests: 3000000, get: true, out: null };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const v = () => argv[++i];
    if (a === '--sessions') o.sessions = Number(v());
    else if (a === '--duration') o.duration = Number(v());
    else if (a === '--io') o.io = v().split(',');
    else if (a === '--bin') o.bin = path.resolve(v());
    else if (a === '--dir') o.dir = v();
    else if (a === '--projects') o.projects = Number(v());
    else if (a === '--files') o.files = Number(v());
    else if (a === '--max-requests') o.maxRequests = Number(v());
    else if (a === '--no-get') o.get = false;
    else if (a === '--out') o.out = v();
    else { console.error(`http-load: unknown option ${a}`); process.exit(2); }
  }
  if (!(o.sessions >= 1 && o.sessions <= 5000 && o.duration > 0 && o.duration <= 3600)) {
    console.error('http-load: --sessions 1..5000, --duration 1..3600 s'); process.exit(2);
  }
  return o;
}

const opts = parseArgs(process.argv);

// A deterministic pseudo-random generator (runs are comparable).
function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >> 17; x ^= x << 5; x >>>= 0; return x / 4294967296; };
}

function makeBank(dir) {
  const r = rng(42);
  const words = ['memory', 'context', 'pattern', 'decision', 'progress', 'system', 'architecture', 'ring',
    'bank', 'note', 'agent', 'session', 'latency', 'cache', 'index', 'graph'];
  for (let p = 0; p < opts.projects; p++) {
    const pd = path.join(dir, `project-${p}`);
    fs.mkdirSync(pd, { recursive: true });
    for (let f = 0; f < opts.files; f++) {
      let s = `# Note ${f} of project ${p}\n\n`;
      while (s.length < 2048) {
        let line = '';
        for (let w = 0; w < 12; w++) line += words[Math.floor(r() * words.length)] + ' ';
        s += line.trim() + '.\n';
      }
      if (f % 10 === 3) s += 'needle-marker here\n';
      fs.writeFileSync(path.join(pd, `note-${f}.md`), s);
    }
  }
  for (let i = 0; i < opts.sessions; i++) fs.mkdirSync(path.join(dir, 'sessions', `s${i}`), { recursive: true });
}

function startServer(io, root) {
  const child = spawn(opts.bin, ['serve', `--io=${io}`, '--http', '127.0.0.1:0',
    '--http-max-sessions', String(opts.sessions + 16), '--http-max-connections', String(2 * opts.sessions + 256),
    root], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`server did not start: ${log}`)), 10000);
    child.stderr.on('data', (b) => {
      log += b.toString();
      if (log.length > 1 << 20) log = log.slice(-65536);
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(log);
      if (m && t) { clearTimeout(t); resolve({ url: m[1], pid: child.pid, child, exited, log: () => log }); }
    });
  });
}

const HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
  'MCP-Protocol-Version': '2025-11-25' };

// A lean keep-alive HTTP/1.1 client, one connection per session: Node's
// fetch costs ~2 ms of CPU per request here, 40 times what the server
// spends, and would measure itself instead of the server. Responses with
// Content-Length only (what the server sends for JSON answers).
class Conn {
  constructor(port) {
    this.sock = net.connect(port, '127.0.0.1');
    this.sock.setNoDelay(true);
    this.buf = Buffer.alloc(0);
    this.waiter = null;
    this.sock.on('data', (d) => { this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d; this.pump(); });
    this.sock.on('error', (e) => { this.err = e; this.pump(); });
    this.sock.on('close', () => { this.closed = true; this.pump(); });
    this.ready = new Promise((resolve, reject) => { this.sock.once('connect', resolve); this.sock.once('error', reject); });
  }
  pump() {
    if (!this.waiter) return;
    const he = this.buf.indexOf('\r\n\r\n');
    if (he >= 0) {
      const head = this.buf.subarray(0, he).toString('latin1');
      const m = /\r\ncontent-length: *(\d+)/i.exec(head);
      const n = m ? Number(m[1]) : 0;
      if (this.buf.length >= he + 4 + n) {
        const status = Number(head.slice(9, 12));
        const sid = /\r\nmcp-session-id: *([0-9a-f]+)/i.exec(head)?.[1];
        const body = this.buf.subarray(he + 4, he + 4 + n).toString('utf8');
        this.buf = this.buf.subarray(he + 4 + n);
        const w = this.waiter;
        this.waiter = null;
        w.resolve({ status, sid, body });
        return;
      }
    }
    if (this.err || this.closed) {
      const w = this.waiter;
      this.waiter = null;
      w.reject(this.err || new Error('connection closed by the server'));
    }
  }
  request(sid, payload) {
    const body = Buffer.from(JSON.stringify(payload));
    let h = 'POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n';
    for (const [k, v] of Object.entries(HEADERS)) h += `${k}: ${v}\r\n`;
    if (sid) h += `Mcp-Session-Id: ${sid}\r\n`;
    h += `Content-Length: ${body.length}\r\n\r\n`;
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.sock.write(Buffer.concat([Buffer.from(h, 'latin1'), body]));
      this.pump();
    });
  }
  close() { this.sock.destroy(); }
}

async function rpc(conn, sid, id, method, params) {
  const r = await conn.request(sid, { jsonrpc: '2.0', id, method, params });
  const body = JSON.parse(r.body);
  if (r.status !== 200 || body.error) throw new Error(`${method}: HTTP ${r.status} ${r.body.slice(0, 200)}`);
  return { body, sid: r.sid };
}

async function statsOf(url) {
  return (await fetch(url.replace(/\/mcp$/, '/stats'))).json();
}

function peakRssKiB(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch { return 0; }
}

function pct(sorted, p) {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function runOne(io) {
  const root = fs.mkdtempSync(path.join(opts.dir, `rb-load-${io}-`));
  makeBank(root);
  const srv = await startServer(io, root);
  const rssStart = (await statsOf(srv.url)).rss_kib;

  // Sessions: initialize, initialized, and (like the SDK) a GET stream.
  const sessions = [];
  const getStreams = [];
  const port = Number(/:(\d+)\/mcp$/.exec(srv.url)[1]);
  for (let i = 0; i < opts.sessions; i += 50) {
    const batch = await Promise.all(Array.from({ length: Math.min(50, opts.sessions - i) }, async (_, k) => {
      const n = i + k;
      const conn = new Conn(port);
      await conn.ready;
      const { sid } = await rpc(conn, null, 0, 'initialize',
        { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: `load-${n}`, version: '1' } });
      const ack = await conn.request(sid, { jsonrpc: '2.0', method: 'notifications/initialized' });
      if (ack.status !== 202) throw new Error(`initialized: HTTP ${ack.status}`);
      if (opts.get) {
        const ac = new AbortController();
        const g = await fetch(srv.url, { headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': sid,
          'MCP-Protocol-Version': '2025-11-25' }, signal: ac.signal });
        if (g.status !== 200) throw new Error(`GET stream: ${g.status}`);
        getStreams.push({ ac, body: g.body.getReader() });
        getStreams.at(-1).body.read().catch(() => {});
      }
      return { n, sid, conn, r: rng(1000 + n), seq: 0, acked: new Map(), id: 1 };
    }));
    sessions.push(...batch);
  }
  const rssSessions = (await statsOf(srv.url)).rss_kib;

  const lat = { read: [], search: [], write: [] };
  const errors = [];
  let total = 0;
  const t0 = performance.now();
  const deadline = t0 + opts.duration * 1000;

  async function worker(s) {
    while (performance.now() < deadline && total < opts.maxRequests) {
      const x = s.r();
      let kind, params;
      if (x < 0.6) {
        kind = 'read';
        params = { name: 'read_text_file', arguments: {
          path: `project-${Math.floor(s.r() * opts.projects)}/note-${Math.floor(s.r() * opts.files)}.md` } };
      } else if (x < 0.8) {
        kind = 'search';
        params = s.r() < 0.5
          ? { name: 'search_memory_bank', arguments: { path: `project-${Math.floor(s.r() * opts.projects)}`,
            query: 'needle-marker', maxResults: 20 } }
          : { name: 'search_files', arguments: { path: `project-${Math.floor(s.r() * opts.projects)}`, pattern: 'note-1*.md' } };
      } else {
        kind = 'write';
        const file = `sessions/s${s.n}/w${Math.floor(s.r() * 4)}.md`;
        const content = `session ${s.n} write ${++s.seq}\n${'x'.repeat(200 + (s.seq % 1800))}\n`;
        params = { name: 'write_file', arguments: { path: file, content } };
        params.file = file;
      }
      const file = params.file;
      delete params.file;
      const a = performance.now();
      total++;
      try {
        const { body } = await rpc(s.conn, s.sid, s.id++, 'tools/call', params);
        if (body.result.isError) throw new Error(`${params.name}: ${JSON.stringify(body.result.content).slice(0, 200)}`);
        lat[kind].push(performance.now() - a);
        if (kind === 'write') s.acked.set(file, params.arguments.content);
      } catch (e) {
        errors.push(`${kind}: ${e.message}`);
        if (kind === 'write') s.acked.set(file, null); // unknown outcome: not checked
      }
    }
  }
  // Resident memory every 5 s: flat means the second half of the run adds
  // nothing (the file layer's content cache fills to its budget early).
  const rssSamples = [];
  const sampler = setInterval(async () => {
    try { rssSamples.push((await statsOf(srv.url)).rss_kib); } catch { /* the next one */ }
  }, 5000);
  await Promise.all(sessions.map(worker));
  clearInterval(sampler);
  const elapsed = (performance.now() - t0) / 1000;
  const st = await statsOf(srv.url);
  const rssEnd = st.rss_kib;
  const rssPeak = peakRssKiB(srv.pid);

  for (const g of getStreams) g.ac.abort();
  for (const s of sessions) s.conn.close();
  await Promise.all(sessions.map((s) => fetch(srv.url, { method: 'DELETE', headers: { 'Mcp-Session-Id': s.sid } })));
  srv.child.kill('SIGTERM');
  const ex = await srv.exited;

  // No lost writes: what was acknowledged last is what is on disk.
  let checked = 0, lost = 0;
  const lostList = [];
  for (const s of sessions) {
    for (const [file, content] of s.acked) {
      if (content === null) continue;
      checked++;
      let disk;
      try { disk = fs.readFileSync(path.join(root, file), 'utf8'); } catch { disk = undefined; }
      if (disk !== content) { lost++; if (lostList.length < 5) lostList.push(file); }
    }
  }
  fs.rmSync(root, { recursive: true, force: true });

  const all = [...lat.read, ...lat.search, ...lat.write].sort((a, b) => a - b);
  for (const k of Object.keys(lat)) lat[k].sort((a, b) => a - b);
  const ms = (v) => Math.round(v * 100) / 100;
  return {
    io, sessions: opts.sessions, seconds: ms(elapsed), requests: all.length + errors.length,
    rps: Math.round((all.length + errors.length) / elapsed),
    p50_ms: ms(pct(all, 0.5)), p99_ms: ms(pct(all, 0.99)), max_ms: ms(all.at(-1) || 0),
    read_p99_ms: ms(pct(lat.read, 0.99)), search_p99_ms: ms(pct(lat.search, 0.99)), write_p99_ms: ms(pct(lat.write, 0.99)),
    reads: lat.read.length, searches: lat.search.length, writes: lat.write.length,
    errors: errors.length, first_errors: errors.slice(0, 5),
    writes_checked: checked, lost_writes: lost, lost_files: lostList,
    rss_start_kib: rssStart, rss_sessions_kib: rssSessions, rss_end_kib: rssEnd, rss_peak_kib: rssPeak,
    rss_samples_kib: rssSamples,
    rss_mid_kib: rssSamples[Math.floor(rssSamples.length / 2)] ?? rssEnd,
    server_exit: ex, server_stats: st,
  };
}

const results = [];
for (const io of opts.io) {
  process.stderr.write(`http-load: ${io}: ${opts.sessions} sessions for ${opts.duration} s...\n`);
  results.push(await runOne(io));
}

const cols = ['io', 'sessions', 'seconds', 'requests', 'rps', 'p50_ms', 'p99_ms', 'read_p99_ms', 'search_p99_ms',
  'write_p99_ms', 'errors', 'writes_checked', 'lost_writes', 'rss_start_kib', 'rss_sessions_kib', 'rss_mid_kib',
  'rss_end_kib', 'rss_peak_kib'];
console.log(`| ${cols.join(' | ')} |`);
console.log(`|${cols.map(() => '---').join('|')}|`);
for (const r of results) console.log(`| ${cols.map((c) => r[c]).join(' | ')} |`);
for (const r of results) console.log(`${r.io}: rss every 5 s (KiB): ${r.rss_samples_kib.join(' ')}`);
for (const r of results) {
  if (r.errors) console.log(`${r.io}: first errors: ${r.first_errors.join(' / ')}`);
  if (r.lost_writes) console.log(`${r.io}: lost writes in ${r.lost_files.join(', ')}`);
  if (r.server_exit.code !== 0) console.log(`${r.io}: server exit ${JSON.stringify(r.server_exit)}`);
}
if (opts.out) fs.writeFileSync(opts.out, JSON.stringify({ opts, machine: { cpus: os.cpus().length, kernel: os.release() },
  results }, null, 2));
process.exit(results.every((r) => !r.errors && !r.lost_writes && r.server_exit.code === 0) ? 0 : 1);
