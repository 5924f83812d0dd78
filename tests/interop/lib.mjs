// lib.mjs: helpers for the interop suite. The official MCP SDK client
// (StdioClientTransport) drives the real ringbank binary; for what a
// well-behaved client never sends (garbage, invalid UTF-8, oversized lines)
// `raw()` spawns the server with plain pipes and reads its stdout lines.
//
// Environment: RB_BIN (default ../../build/ringbank), RB_IO (uring|threads,
// default uring).
import { spawn } from 'node:child_process';
import { after } from 'node:test';
import { mkdtempSync, mkdirSync, writeFileSync, readdirSync, readFileSync, rmSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const RB_BIN = path.resolve(here, process.env.RB_BIN || '../../build/ringbank');
export const RB_IO = process.env.RB_IO || 'uring';

// Servers still running when a test file ends (a test failed before it
// closed them) are killed, so a failure never leaves the runner waiting.
const live = new Set();
after(() => {
  for (const child of live) child.kill('SIGKILL');
});

function serveArgs(roots, extra = []) {
  return ['serve', `--io=${RB_IO}`, ...extra, ...roots];
}

// Connects the SDK client to a fresh server. opts: roots (dirs passed on
// the command line), args (extra serve options), capabilities (the
// client's), setup(client) to install handlers before connecting.
// Returns {client, transport, pid, stderr()} (stderr: what the server logged).
export async function connect(opts = {}) {
  const { roots = [], args = [], capabilities = {}, setup } = opts;
  const transport = new StdioClientTransport({
    command: RB_BIN,
    args: serveArgs(roots, args),
    env: { ...process.env },
    stderr: 'pipe',
  });
  let log = '';
  transport.stderr?.on('data', (b) => { log += b.toString(); });
  const client = new Client({ name: 'ringbank-interop', version: '1.0.0' }, { capabilities });
  if (setup) setup(client);
  const handle = { kill: (sig) => { try { if (transport.pid) process.kill(transport.pid, sig); } catch {} } };
  live.add(handle);
  transport.onclose = () => live.delete(handle); // set before connect: the client chains it
  await client.connect(transport);
  return { client, transport, pid: transport.pid, stderr: () => log };
}

// How long a wait for something that must happen may take before the test
// gives up: it only bounds a hang (CI's 2-core machine can be loaded for
// seconds at a time), so no expected event is ever timed out in practice.
export const PATIENCE_MS = 30000;

// A raw server: write bytes, read JSON lines. next() resolves with the next
// parsed stdout message (rejects after ms); exited resolves {code, signal}.
export function raw(roots, extra = []) {
  return rawChild(spawn(RB_BIN, serveArgs(roots, extra), { stdio: ['pipe', 'pipe', 'pipe'] }));
}

// The same for a server started some other way (child: spawned with three
// pipes; its stdout carries the server's messages).
export function rawChild(child) {
  live.add(child);
  const queue = [];
  const waiters = [];
  let buf = '';
  let log = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (s) => {
    buf += s;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const msg = JSON.parse(line); // every line the server writes must be JSON
      if (waiters.length) waiters.shift()(msg);
      else queue.push(msg);
    }
  });
  child.stderr.on('data', (b) => { log += b.toString(); });
  child.stdin.on('error', () => {});
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => {
    live.delete(child);
    resolve({ code, signal });
  }));
  return {
    child,
    pid: child.pid,
    exited,
    stderr: () => log,
    write(data) { child.stdin.write(data); },
    send(obj) { child.stdin.write(JSON.stringify(obj) + '\n'); },
    next(ms = PATIENCE_MS) {
      if (queue.length) return Promise.resolve(queue.shift());
      return new Promise((resolve, reject) => {
        const w = (m) => { clearTimeout(t); resolve(m); };
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1); // a later message must not go to this dead waiter
          reject(new Error(`no message from the server in ${ms} ms; stderr:\n${log}`));
        }, ms);
        waiters.push(w);
      });
    },
    // The next response (skips notifications such as log messages).
    async reply(ms = PATIENCE_MS) {
      for (;;) {
        const m = await this.next(ms);
        if (!m.method) return m;
      }
    },
    // Skips notifications until the response with this id.
    async response(id, ms = PATIENCE_MS) {
      for (;;) {
        const m = await this.next(ms);
        if (m.id === id && !m.method) return m;
      }
    },
    async initialize(version = '2025-11-25', capabilities = {}) {
      this.send({ jsonrpc: '2.0', id: 'init', method: 'initialize',
        params: { protocolVersion: version, capabilities, clientInfo: { name: 'raw', version: '0' } } });
      const r = await this.response('init');
      this.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      return r;
    },
    close() { child.stdin.end(); return exited; },
    kill(sig = 'SIGKILL') { child.kill(sig); return exited; },
  };
}

// A temp tree from {relpath: content}; returns its real path.
export function tree(files = {}) {
  const dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'rb-interop-')));
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(dir, rel);
    mkdirSync(path.dirname(p), { recursive: true });
    if (rel.endsWith('/')) mkdirSync(p, { recursive: true });
    else writeFileSync(p, content);
  }
  return dir;
}

export function rmtree(dir) {
  rmSync(dir, { recursive: true, force: true });
}

// Open fds of a process.
export function fdCount(pid) {
  return readdirSync(`/proc/${pid}/fd`).length;
}

// Waits (up to ms) for a process's fd count to come back to base, since
// cancelled ops close their fds as their completions arrive; returns the
// last count.
export async function fdSettle(pid, base, ms = PATIENCE_MS) {
  let n = fdCount(pid);
  for (const end = Date.now() + ms; n > base && Date.now() < end; n = fdCount(pid)) await sleep(20);
  return n;
}

// Peak resident memory of a process, in bytes.
export function peakRss(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

// CPU time a process has used so far (user + system, all its threads), in
// ms: what a piece of work costs it, whatever the load on the machine (a
// wall-clock bound on the same work fails when the machine is busy).
const CLK_TCK = 100; // USER_HZ, what /proc reports in: 100 on Linux (x86, arm)
export function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK; // fields 14 utime, 15 stime
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// callTool through the SDK, collecting progress, made again (up to `tries`
// times) until some progress came through. The SDK hands a notification to
// its handler a microtask after reading it but settles a response at once:
// when the last progress and the result arrive in one read (a loaded
// machine, a short call), that progress is dropped, all of it for a call
// that short. What the server sends is checked on the wire elsewhere.
// Returns {r, progress, tries}.
export async function callSeeingProgress(client, params, { tries = 10, ...opts } = {}) {
  for (let i = 1; ; i++) {
    const progress = [];
    const r = await client.callTool(params, undefined, { ...opts, onprogress: (p) => progress.push(p) });
    if (progress.length || i >= tries) return { r, progress, tries: i };
  }
}

// callTool aborted (AbortSignal) at its first progress notification; made
// again, up to `tries` times, when the call answered instead (its progress
// was dropped by the SDK: see callSeeingProgress). Resolves once a call was
// aborted while in flight (the SDK rejects it with -32001); throws when
// every try answered, or when progress came after the abort.
export async function abortAtFirstProgress(client, params, { tries = 10 } = {}) {
  for (let i = 1; i <= tries; i++) {
    const ac = new AbortController();
    let progressed = 0;
    const call = client.callTool(params, undefined,
      { signal: ac.signal, onprogress: () => { if (++progressed === 1) ac.abort('test'); } });
    const answered = await call.then(() => true, () => false);
    if (!answered) {
      if (progressed !== 1) throw new Error(`aborted while in flight: ${progressed} progress notifications seen`);
      return;
    }
  }
  throw new Error(`the call answered before its first progress reached the SDK's handler ${tries} times`);
}

// Polls fn() (sync or async) every `every` ms until it returns something
// truthy, and returns that. Throws "timed out waiting for <what>" (with
// describe(), if given, for the last state) only after ms: use it instead of
// a fixed sleep before checking what another process or thread does, so a
// slow machine only makes the test slower, never failing.
export async function waitFor(what, fn, { ms = PATIENCE_MS, every = 20, describe } = {}) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() >= end) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}${describe ? `; last: ${await describe()}` : ''}`);
    }
    await sleep(every);
  }
}
