#!/usr/bin/env node
// bench/driver.mjs: runs every workload against every contender through the
// real MCP protocol (the official SDK Client over stdio pipes), alternating
// contenders within each repetition, and writes one JSON file of results.
//
// Normally started by bench/run, which builds what is needed, generates the
// bank and installs the peers. Options (all required ones are passed by run):
//   --mode quick|full   --bank DIR   --scratch DIR   --out FILE
//   --ringbank BIN      --sync BIN   --reps N        --cold (also cold runs)
//   --only a,b          (workloads)  --contenders a,b  --no-count
//   --read-files N      --info-files N   --writes N   --call-timeout S
//   --rb-budget S       (RINGBANK_TIMEOUT_S for the ringbank servers: 0 lets a
//                        whole-bank call of a 1M-file bank run to its end
//                        instead of turning into a background job at 20 s)
//
// Server CPU is read from /proc: per-task schedstat (ns, every thread of the
// process: the loop, pool threads, libuv threads and io_uring's iou-wrk
// workers, which are threads of the server's thread group) sampled right
// after `initialize` and right after the last response; when a thread
// vanished between the two samples (iou-wrk workers exit when idle) the
// thread-group totals of /proc/PID/stat are used instead (10 ms ticks, but
// they keep the time of exited threads).

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { deserializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import { spawn, execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import { listBank, stride, pool } from './bank.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CLK_TCK = 100;

// ---------------------------------------------------------------- options
function parseArgs(argv) {
  const o = { mode: 'quick', reps: 5, cold: false, count: true, only: null, contenders: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--mode': o.mode = val(); break;
      case '--bank': o.bank = path.resolve(val()); break;
      case '--scratch': o.scratch = path.resolve(val()); break;
      case '--out': o.out = path.resolve(val()); break;
      case '--ringbank': o.ringbank = path.resolve(val()); break;
      case '--sync': o.sync = path.resolve(val()); break;
      case '--reps': o.reps = +val(); break;
      case '--cold': o.cold = true; break;
      case '--cold-method': o.coldMethod = val(); break;
      case '--no-count': o.count = false; break;
      case '--only': o.only = val().split(','); break;
      case '--contenders': o.contenders = val().split(','); break;
      case '--read-files': o.readFiles = +val(); break;
      case '--info-files': o.infoFiles = +val(); break;
      case '--writes': o.writes = +val(); break;
      case '--call-timeout': o.callTimeout = +val() * 1000; break;
      case '--seed': o.seed = +val(); break;
      case '--bank-files': o.bankFiles = +val(); break;
      case '--rb-budget': o.rbBudget = val(); break;
      default: throw new Error(`unknown option ${a}`);
    }
  }
  for (const k of ['bank', 'scratch', 'out', 'sync']) if (!o[k]) throw new Error(`--${k} is required`);
  const quick = o.mode === 'quick';
  o.readFiles ??= 10000;
  o.infoFiles ??= quick ? 1000 : 10000;
  o.writes ??= quick ? 500 : 1000;
  o.smallCalls ??= quick ? 300 : 1000;
  o.callTimeout ??= (quick ? 60 : 900) * 1000;
  o.batch = 500;         // paths per read_multiple_files call
  o.conc = 16;           // requests in flight for per-file workloads (info)
  o.writeConc = 8;       // writes in flight
  return o;
}

const opt = parseArgs(process.argv.slice(2));
const log = (...a) => console.error('[driver]', ...a);

// ---------------------------------------------------------------- /proc sampling
function readStat(p) {
  const s = fs.readFileSync(p, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  // after ") ": field 3 (state) is index 0; utime is field 14 -> index 11
  return { utime: +f[11] / CLK_TCK, stime: +f[12] / CLK_TCK };
}

function sampleProc(pid) {
  const out = { tg: null, tasks: new Map() };
  try { out.tg = readStat(`/proc/${pid}/stat`); } catch { return out; }
  let tids = [];
  try { tids = fs.readdirSync(`/proc/${pid}/task`); } catch { /* gone */ }
  for (const tid of tids) {
    try {
      const ss = fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ');
      const st = readStat(`/proc/${pid}/task/${tid}/stat`);
      const comm = fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      out.tasks.set(tid, { ns: +ss[0], comm, ...st });
    } catch { /* thread exited meanwhile */ }
  }
  return out;
}

function cpuDelta(a, b, pid) {
  // per-task precise sum (and by kind), and the thread-group tick total
  let ns = 0, iouNs = 0, mainNs = 0, vanished = 0;
  const kinds = {};
  for (const [tid, t] of b.tasks) {
    const before = a.tasks.get(tid);
    const d = t.ns - (before ? before.ns : 0);
    ns += d;
    const kind = t.comm.startsWith('iou-wrk') ? 'iou-wrk' : t.comm.startsWith('iou-sqp') ? 'iou-sqp'
      : tid === String(pid) ? 'main' : 'threads';
    kinds[kind] = (kinds[kind] || 0) + d / 1e9;
    if (kind === 'iou-wrk') iouNs += d;
    if (kind === 'main') mainNs += d;
  }
  for (const tid of a.tasks.keys()) if (!b.tasks.has(tid)) vanished++;
  const tick = a.tg && b.tg ? (b.tg.utime + b.tg.stime) - (a.tg.utime + a.tg.stime) : NaN;
  const user = a.tg && b.tg ? b.tg.utime - a.tg.utime : NaN;
  const sys = a.tg && b.tg ? b.tg.stime - a.tg.stime : NaN;
  const precise = ns / 1e9;
  // Threads that came and went between the samples only show in the ticks.
  const slack = 0.02 + 0.01 * b.tasks.size;
  const useTicks = vanished > 0 || tick > precise + slack;
  return {
    cpu_s: useTicks ? tick : precise, cpu_source: useTicks ? 'stat-ticks' : 'schedstat',
    cpu_user_s: user, cpu_sys_s: sys, cpu_ticks_s: tick, cpu_sched_s: precise,
    iouwrk_cpu_s: iouNs / 1e9, threads: b.tasks.size, cpu_by_kind: kinds,
    iouwrk_threads: [...b.tasks.values()].filter(t => t.comm.startsWith('iou-wrk')).length,
  };
}

// System-wide busy CPU seconds (all CPUs), to tell how much else ran on the
// machine during a measurement: busy - server - client = other load.
function sysBusy() {
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3] + (f[4] || 0);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return (total - idle) / CLK_TCK;
  } catch { return NaN; }
}

function readStatus(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = k => { const m = s.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm')); return m ? +m[1] : null; };
    return { hwm_kb: kb('VmHWM'), rss_kb: kb('VmRSS') };
  } catch { return { hwm_kb: null, rss_kb: null }; }
}

// ---------------------------------------------------------------- helpers
const sleep = ms => new Promise(r => setTimeout(r, ms));
class Timeout extends Error {}
function withTimeout(p, ms, what) {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Timeout(`${what}: timed out after ${(ms / 1000).toFixed(0)} s`)), ms); })])
    .finally(() => clearTimeout(t));
}
function pct(sorted, p) {
  if (!sorted.length) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1));
  return sorted[i];
}
function median(xs) {
  const v = xs.filter(x => x != null && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}
function textOf(res) {
  let n = 0, head = '';
  for (const c of res.content || []) if (c.type === 'text') { n += c.text.length; if (head.length < 400) head += c.text.slice(0, 400 - head.length); }
  return { n, head };
}
function checked(res, what) {
  if (res && res.isError) {
    const { head } = textOf(res);
    throw new Error(`${what} returned isError: ${head.slice(0, 300)}`);
  }
  // a server that turns a long call into a background job (ringbank's smart
  // async) answers early: that is not the work done, so refuse to time it
  const t = textOf(res);
  if (t.n < 2000 && /\bjob[ _-]?id\b|"jobId"|started in the background/i.test(t.head)) {
    throw new Error(`${what} returned a background job instead of its result: ${t.head.slice(0, 200)}`);
  }
  return res;
}

// ---------------------------------------------------------------- the bank

log(`listing ${opt.bank}`);
const bankFiles = listBank(opt.bank);
const fileSize = rel => { try { return fs.statSync(path.join(opt.bank, rel)).size; } catch { return 0; } };
const readSet = stride(bankFiles, opt.readFiles);
const infoSet = stride(bankFiles, opt.infoFiles);
const readBytes = readSet.reduce((s, f) => s + fileSize(f), 0);
const coreFiles = bankFiles.filter(f => /^projects\/[^/]+\/[^/]+\.md$/.test(f)).map(f => {
  const [, proj, name] = f.split('/');
  return { rel: f, proj, name };
}).filter(c => fileSize(c.rel) < 64 * 1024);
if (!coreFiles.length) throw new Error('no core files (projects/*/x.md) in the bank');
log(`bank: ${bankFiles.length} files; read set ${readSet.length} (${(readBytes / 1048576).toFixed(1)} MiB), info set ${infoSet.length}, ${coreFiles.length} core files`);

fs.mkdirSync(opt.scratch, { recursive: true });
const listFile = path.join(opt.scratch, 'read-list.txt');
fs.writeFileSync(listFile, readSet.join('\n') + '\n');
const infoListFile = path.join(opt.scratch, 'info-list.txt');
fs.writeFileSync(infoListFile, infoSet.join('\n') + '\n');
// memory-bank-mcp takes one root of project directories and refuses '/' in
// names: its root is a scratch directory holding symlinks to the bank's
// projects (for reads) and the per-run write directory.
const mbRoot = path.join(opt.scratch, 'mbroot');
fs.mkdirSync(mbRoot, { recursive: true });
for (const p of fs.readdirSync(path.join(opt.bank, 'projects'))) {
  const l = path.join(mbRoot, p);
  fs.rmSync(l, { force: true });
  fs.symlinkSync(path.join(opt.bank, 'projects', p), l);
}
const writeDir = path.join(mbRoot, 'bench-writes');

const SUB_QUERY = 'stale consumer';
const RE_QUERY = 'canary (after|before) [a-z]+';
const NAME_PATTERN = '**/*cache*';

function writeContent(i, rep, who) {
  let s = `# Bench note ${i}\n\nRepetition ${rep}, ${who}. This note is rewritten by the write workload.\n\n`;
  const words = ['ring', 'queue', 'bank', 'memory', 'fsync', 'rename', 'atomic', 'latency', 'batch', 'cache'];
  let k = i;
  while (s.length < 2048) { s += words[k % words.length] + ((k % 13) === 0 ? '.\n' : ' '); k = (k * 7 + 3) % 1009; }
  return s;
}
// The targets exist before every run (all contenders overwrite: the atomic
// path of server-filesystem, and memory_bank_update needs an existing file).
// They are created once and left in place: deleting 1000 freshly fsynced files
// before every run cost seconds of journal work that no contender should see.
function prepareWrites(n) {
  fs.mkdirSync(writeDir, { recursive: true });
  const have = new Set(fs.readdirSync(writeDir));
  for (let i = 0; i < n; i++) {
    const name = `note-${String(i).padStart(4, '0')}.md`;
    if (!have.has(name)) fs.writeFileSync(path.join(writeDir, name), 'old\n');
  }
  for (const f of have) if (!/^note-\d{4}\.md$/.test(f)) fs.rmSync(path.join(writeDir, f), { force: true }); // leftover temp files
}

// ---------------------------------------------------------------- contenders
const nodeBin = process.execPath;
const NM = path.join(HERE, 'node_modules');
const pkgVersion = name => { try { return JSON.parse(fs.readFileSync(path.join(NM, name, 'package.json'), 'utf8')).version; } catch { return null; } };

// ringbank's time budget (RINGBANK_TIMEOUT_S), only when asked for: a call
// that outlives it answers with a job id, which checked() refuses to time.
const rbEnv = opt.rbBudget != null ? { RINGBANK_TIMEOUT_S: String(opt.rbBudget) } : undefined;
const ALL_CONTENDERS = [
  { id: 'rb-uring', family: 'rb', kind: 'mcp', label: 'ringbank io_uring',
    command: opt.ringbank, args: ['serve', '--io=uring', opt.bank, mbRoot], env: rbEnv },
  { id: 'rb-threads4', family: 'rb', kind: 'mcp', label: 'ringbank threads (4)',
    command: opt.ringbank, args: ['serve', '--io=threads', '--threads', '4', opt.bank, mbRoot], env: rbEnv },
  { id: 'rb-threads16', family: 'rb', kind: 'mcp', label: 'ringbank threads (16)',
    command: opt.ringbank, args: ['serve', '--io=threads', '--threads', '16', opt.bank, mbRoot], env: rbEnv },
  { id: 'sync-c', family: 'sync', kind: 'proc', label: 'sync C loop (floor)', command: opt.sync },
  { id: 'fs-official', family: 'fs', kind: 'mcp', label: 'server-filesystem (Node)',
    command: nodeBin, args: [path.join(NM, '@modelcontextprotocol/server-filesystem/dist/index.js'), opt.bank, mbRoot] },
  { id: 'mb-mcp', family: 'mb', kind: 'mcp', label: 'memory-bank-mcp (Node)',
    command: nodeBin, args: [path.join(NM, '@allpepper/memory-bank-mcp/dist/main/index.js')], env: { MEMORY_BANK_ROOT: mbRoot } },
];
let contenders = ALL_CONTENDERS.filter(c => !opt.contenders || opt.contenders.includes(c.id));
if (!opt.ringbank || !fs.existsSync(opt.ringbank)) {
  log('no ringbank binary: ringbank contenders are skipped');
  contenders = contenders.filter(c => c.family !== 'rb');
}

// ---------------------------------------------------------------- workloads
// Each workload: id, title, unit, count(), cold-eligible, and per family a
// tool list (for n/a detection) plus run(client, ctx) or a sync-read command.
const smallArgs = (fam, k) => {
  const c = coreFiles[k % coreFiles.length];
  return fam === 'mb' ? { name: 'memory_bank_read', arguments: { projectName: c.proj, fileName: c.name } }
    : { name: 'read_text_file', arguments: { path: path.join(opt.bank, c.rel) } };
};

async function readBatches(client, ctx) {
  let bytes = 0;
  for (let i = 0; i < readSet.length; i += opt.batch) {
    const paths = readSet.slice(i, i + opt.batch).map(f => path.join(opt.bank, f));
    const r = checked(await ctx.call({ name: 'read_multiple_files', arguments: { paths } }), 'read_multiple_files');
    bytes += textOf(r).n;
    if (/the result reached its size limit/.test(r.content?.[0]?.text?.slice(-4000) ?? '')) throw new Error('read_multiple_files result was cut at its size limit');
  }
  return { files: readSet.length, resp_chars: bytes };
}

// Small sequential read_text_file calls on the same connection while the
// long work runs: the server has to interleave them. `longCalls` are issued
// one after another (each waits for the previous); every small call issued
// before the last one finished is a sample.
async function mixed(client, ctx, longCalls, files) {
  const lat = [];
  let done = false, longErr = null, chars = 0, head = '';
  const tl0 = performance.now();
  const longP = (async () => {
    for (const c of longCalls) {
      const r = checked(await ctx.call(c), c.name);
      const t = textOf(r);
      chars += t.n;
      if (!head) head = t.head.slice(0, 200);
      if (c.name === 'read_multiple_files' && /the result reached its size limit/.test(r.content?.[0]?.text?.slice(-4000) ?? '')) throw new Error('read_multiple_files result was cut at its size limit');
    }
  })().catch(e => { longErr = e; }).finally(() => { done = true; });
  let k = 0;
  await sleep(2); // let the long call reach the server first
  while (!done) {
    const t0 = performance.now();
    checked(await ctx.call(smallArgs(ctx.family, k++)), 'read_text_file');
    // the one that ends after the long work counts too: for a server that
    // answers in order, it waited for the whole long call
    lat.push(performance.now() - t0);
  }
  await longP;
  if (longErr) throw longErr;
  return { files, lat, long_s: (performance.now() - tl0) / 1000, resp_chars: chars, head };
}

// The read set in calls of at most ~6 MiB each (ringbank cuts a reply at
// about 8 MiB, the SDK client at 10 MiB by default).
const readChunks = [];
{
  let cur = [], bytes = 0;
  for (const f of readSet) {
    const b = fileSize(f) + f.length + opt.bank.length + 8;
    if (cur.length && bytes + b > 6 * 1048576) { readChunks.push(cur); cur = []; bytes = 0; }
    cur.push(path.join(opt.bank, f)); bytes += b;
  }
  if (cur.length) readChunks.push(cur);
  // quick mode streams half of the read set under the small calls
  if (opt.mode === 'quick' && readChunks.length > 1) readChunks.length = Math.ceil(readChunks.length / 2);
}
const mixedReadFiles = readChunks.reduce((n, c) => n + c.length, 0);

// What a ringbank search answered (recorded with the run, to check the counts).
function searchFacts(r) {
  const sc = r.structuredContent;
  return sc && typeof sc.totalMatches === 'number'
    ? { totalMatches: sc.totalMatches, filesMatched: sc.filesMatched, filesSearched: sc.filesSearched } : undefined;
}

const WORKLOADS = [
  { id: 'tree', title: 'directory_tree (whole bank)', unit: 'files', cold: true,
    tools: { rb: ['directory_tree'], fs: ['directory_tree'] },
    sync: () => ['walk', opt.bank],
    run: async (client, ctx) => {
      const r = checked(await ctx.call({ name: 'directory_tree', arguments: { path: opt.bank } }), 'directory_tree');
      // ringbank stops after 100000 entries (a bank of 100k files or more):
      // count the entries it walked, not the bank's files
      const sc = r.structuredContent;
      const facts = sc && typeof sc.entries === 'number' ? { entries: sc.entries, files: sc.files, directories: sc.directories, truncated: !!sc.truncated } : undefined;
      return { files: facts?.truncated ? facts.entries : bankFiles.length, resp_chars: textOf(r).n, facts };
    } },
  { id: 'info', title: `get_file_info x ${infoSet.length} (${opt.conc} in flight)`, unit: 'files',
    tools: { rb: ['get_file_info'], fs: ['get_file_info'] },
    sync: () => ['stat', opt.bank, infoListFile],
    run: async (client, ctx) => {
      await pool(infoSet, opt.conc, async f => { checked(await ctx.call({ name: 'get_file_info', arguments: { path: path.join(opt.bank, f) } }), 'get_file_info'); });
      return { files: infoSet.length };
    } },
  { id: 'read', title: `read_multiple_files, ${readSet.length} files in calls of ${opt.batch}`, unit: 'files', cold: true,
    tools: { rb: ['read_multiple_files'], fs: ['read_multiple_files'] },
    sync: () => ['read', opt.bank, listFile],
    run: readBatches },
  { id: 'small', title: `${opt.smallCalls} single-file reads, one call each, sequential`, unit: 'calls',
    tools: { rb: ['read_text_file'], fs: ['read_text_file'], mb: ['memory_bank_read'] },
    run: async (client, ctx) => {
      const lat = [];
      for (let k = 0; k < opt.smallCalls; k++) {
        const t0 = performance.now();
        checked(await ctx.call(smallArgs(ctx.family, k)), 'small read');
        lat.push(performance.now() - t0);
      }
      return { files: opt.smallCalls, lat };
    } },
  { id: 'validate', title: 'validate_memory_bank (whole bank)', unit: 'files', cold: true,
    tools: { rb: ['validate_memory_bank'] },
    run: async (client, ctx) => {
      const r = checked(await ctx.call({ name: 'validate_memory_bank', arguments: { path: opt.bank } }), 'validate_memory_bank');
      const sc = r.structuredContent;
      const facts = sc ? { files_validated: sc.files_validated, errors: sc.errors, links_checked: sc.links_checked } : undefined;
      return { files: bankFiles.length, resp_chars: textOf(r).n, head: textOf(r).head.slice(0, 200), facts };
    } },
  { id: 'search_sub', title: `search_memory_bank substring "${SUB_QUERY}"`, unit: 'files', cold: true,
    tools: { rb: ['search_memory_bank'] },
    sync: () => ['grep', opt.bank, SUB_QUERY],
    run: async (client, ctx) => {
      const r = checked(await ctx.call({ name: 'search_memory_bank', arguments: { path: opt.bank, query: SUB_QUERY, regex: false } }), 'search_memory_bank');
      return { files: bankFiles.length, resp_chars: textOf(r).n, facts: searchFacts(r) };
    } },
  { id: 'search_re', title: `search_memory_bank regex /${RE_QUERY}/`, unit: 'files',
    tools: { rb: ['search_memory_bank'] },
    run: async (client, ctx) => {
      const r = checked(await ctx.call({ name: 'search_memory_bank', arguments: { path: opt.bank, query: RE_QUERY, regex: true } }), 'search_memory_bank');
      return { files: bankFiles.length, resp_chars: textOf(r).n, facts: searchFacts(r) };
    } },
  { id: 'search_names', title: `search_files "${NAME_PATTERN}" (names)`, unit: 'files',
    tools: { rb: ['search_files'], fs: ['search_files'] },
    run: async (client, ctx) => {
      const r = checked(await ctx.call({ name: 'search_files', arguments: { path: opt.bank, pattern: NAME_PATTERN } }), 'search_files');
      const sc = r.structuredContent;
      return { files: bankFiles.length, resp_chars: textOf(r).n, facts: sc ? { matches: sc.matches, truncated: !!sc.truncated } : undefined };
    } },
  { id: 'write', title: `${opt.writes} atomic overwrites of 2 KiB (${opt.writeConc} in flight)`, unit: 'writes',
    tools: { rb: ['write_file'], fs: ['write_file'], mb: ['memory_bank_update'] },
    prepare: () => prepareWrites(opt.writes),
    run: async (client, ctx) => {
      const idx = Array.from({ length: opt.writes }, (_, i) => i);
      await pool(idx, opt.writeConc, async i => {
        const name = `note-${String(i).padStart(4, '0')}.md`;
        const content = writeContent(i, ctx.rep, ctx.who);
        const call = ctx.family === 'mb'
          ? { name: 'memory_bank_update', arguments: { projectName: 'bench-writes', fileName: name, content } }
          : { name: 'write_file', arguments: { path: path.join(writeDir, name), content } };
        checked(await ctx.call(call), call.name);
      });
      // verify a sample
      for (const i of [0, opt.writes >> 1, opt.writes - 1]) {
        const got = fs.readFileSync(path.join(writeDir, `note-${String(i).padStart(4, '0')}.md`), 'utf8');
        if (got !== writeContent(i, ctx.rep, ctx.who)) throw new Error(`write ${i} not on disk as sent`);
      }
      return { files: opt.writes };
    } },
  { id: 'mixed', title: 'read_text_file latency while validate_memory_bank runs (same session)', unit: 'files',
    tools: { rb: ['validate_memory_bank', 'read_text_file'] },
    run: (client, ctx) => mixed(client, ctx, [{ name: 'validate_memory_bank', arguments: { path: opt.bank } }], bankFiles.length) },
  { id: 'mixed_read', title: `read_text_file latency while ${mixedReadFiles} files of the read set stream in ${readChunks.length} read_multiple_files calls of <= 6 MiB (same session)`, unit: 'files',
    tools: { rb: ['read_multiple_files', 'read_text_file'], fs: ['read_multiple_files', 'read_text_file'] },
    run: (client, ctx) => mixed(client, ctx, readChunks.map(paths => ({ name: 'read_multiple_files', arguments: { paths } })), mixedReadFiles) },
];
const workloads = WORKLOADS.filter(w => !opt.only || opt.only.includes(w.id));

// ---------------------------------------------------------------- cache control
let dropMethod = opt.coldMethod === 'fadvise' ? 'fadvise' : null;
function dropCaches() {
  spawnSync('sync');
  if (dropMethod !== 'fadvise') {
    try {
      fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
      dropMethod = 'drop_caches';
      return;
    } catch (e) {
      log(`drop_caches refused (${e.code}); using posix_fadvise(DONTNEED) on every file`);
      dropMethod = 'fadvise';
    }
  }
  spawnSync(opt.sync, ['evict', opt.bank]);
}
function warmUp() {
  spawnSync(opt.sync, ['grep', opt.bank, 'x'], { stdio: 'ignore' });
  spawnSync(opt.sync, ['walk', opt.bank], { stdio: 'ignore' });
}

// ---------------------------------------------------------------- syscall counting
const PERF_EVENTS = ['raw_syscalls:sys_enter', 'syscalls:sys_enter_io_uring_enter',
  'io_uring:io_uring_submit_req', 'io_uring:io_uring_queue_async_work', 'context-switches'];
let counter = null; // 'perf' | 'strace' | null
function detectCounter() {
  if (!opt.count) return null;
  const p = spawnSync('perf', ['stat', '-x,', '-e', PERF_EVENTS.join(','), '--', 'true'], { encoding: 'utf8' });
  if (p.status === 0 && /raw_syscalls:sys_enter/.test(p.stderr) && !/not supported|<not counted>/.test(p.stderr.split('\n').find(l => l.includes('raw_syscalls')) || '')) return 'perf';
  const s = spawnSync('strace', ['-f', '-c', '-o', '/dev/null', 'true']);
  if (s.status === 0) return 'strace';
  return null;
}
function parsePerf(file) {
  const out = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const f = line.split(',');
    if (f.length < 3) continue;
    const ev = f[2];
    if (PERF_EVENTS.includes(ev) && /^\d+$/.test(f[0])) out[ev] = +f[0];
  }
  return { syscalls: out['raw_syscalls:sys_enter'] ?? null, io_uring_enter: out['syscalls:sys_enter_io_uring_enter'] ?? null,
    sqes: out['io_uring:io_uring_submit_req'] ?? null, iowq_punts: out['io_uring:io_uring_queue_async_work'] ?? null,
    ctx_switches: out['context-switches'] ?? null };
}
function parseStrace(file) {
  let total = null, enter = 0;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[f.length - 1] === 'total') total = +f[3];
    else if (f[f.length - 1] === 'io_uring_enter') enter = +f[3];
  }
  return { syscalls: total, io_uring_enter: enter, sqes: null, iowq_punts: null, ctx_switches: null };
}
async function startCounter(pid, file) {
  const args = counter === 'perf'
    ? ['stat', '-x,', '-o', file, '-e', PERF_EVENTS.join(','), '-p', String(pid)]
    : ['-f', '-c', '-o', file, '-p', String(pid)];
  const child = spawn(counter === 'perf' ? 'perf' : 'strace', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', d => { err += d; });
  const exited = new Promise(r => child.on('exit', r));
  await sleep(counter === 'perf' ? 250 : 500); // let it attach to every thread
  return { child, exited, errText: () => err };
}
async function stopCounter(c, file) {
  c.child.kill('SIGINT');
  await withTimeout(c.exited, 10000, 'counter exit').catch(() => c.child.kill('SIGKILL'));
  try { return counter === 'perf' ? parsePerf(file) : parseStrace(file); }
  catch (e) { return { error: `counter output unreadable: ${e.message} ${c.errText().slice(0, 200)}` }; }
}

// ---------------------------------------------------------------- one run
const STARTUP_TIMEOUT = 30000;
const livePids = new Set();

// The SDK's stdio ReadBuffer refuses messages over 10 MiB (a 500-file
// read_multiple_files answer can pass that when it holds a large file) and
// re-concatenates its whole buffer on every 64 KiB pipe chunk, which is
// quadratic in the size of one message: 40 MiB costs the client seconds of
// CPU, on the same two cores as the server. This drop-in keeps the SDK's
// message parsing (deserializeMessage: JSON.parse + its zod schema) and only
// replaces the buffering with a linear one; every contender gets the same.
class LinearReadBuffer {
  constructor() { this.chunks = []; this.size = 0; }
  append(chunk) { this.chunks.push(chunk); this.size += chunk.length; }
  readMessage() {
    // Invariant: only the last chunk can hold a newline (processReadBuffer
    // drains every complete message after each append).
    for (;;) {
      if (!this.chunks.length) return null;
      const last = this.chunks[this.chunks.length - 1];
      const nl = last.indexOf(10);
      if (nl === -1) return null;
      const head = this.chunks.length === 1 ? last.subarray(0, nl) : Buffer.concat([...this.chunks.slice(0, -1), last.subarray(0, nl)]);
      const rest = last.subarray(nl + 1);
      this.chunks = rest.length ? [rest] : [];
      this.size = rest.length;
      const line = head.toString('utf8').replace(/\r$/, '');
      if (!line) continue;
      return deserializeMessage(line);
    }
  }
  clear() { this.chunks = []; this.size = 0; }
}
function makeTransport(cont) {
  const t = new StdioClientTransport({ command: cont.command, args: cont.args, env: { ...(cont.env || {}) }, stderr: 'pipe', cwd: opt.scratch });
  t._readBuffer = new LinearReadBuffer();
  return t;
}

async function runMcp(cont, wl, { rep, cold, count }) {
  const rec = { contender: cont.id, workload: wl.id, rep, cache: cold ? 'cold' : 'warm', ok: false };
  wl.prepare?.();
  let stderrTail = '';
  const transport = makeTransport(cont);
  transport.stderr?.on('data', d => { stderrTail = (stderrTail + d).slice(-2000); });
  const client = new Client({ name: 'ringbank-bench', version: '1.0.0' }, { capabilities: {} });
  let pid = null, exitInfo = null, counterH = null;
  const countFile = path.join(opt.scratch, `count-${cont.id}-${wl.id}.txt`);
  const kill = () => { if (pid) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } };
  try {
    await withTimeout(client.connect(transport), STARTUP_TIMEOUT, 'initialize');
    pid = transport.pid;
    livePids.add(pid);
    transport._process?.on('exit', (code, sig) => { exitInfo = { code, sig }; livePids.delete(pid); });
    rec.server = client.getServerVersion();
    if (cold) dropCaches();
    if (count) counterH = await startCounter(pid, countFile);
    const ctx = {
      rep, family: cont.family, who: cont.id,
      call: (params) => client.callTool(params, undefined, { timeout: opt.callTimeout, maxTotalTimeout: opt.callTimeout }),
    };
    const s0 = sampleProc(pid);
    const c0 = process.cpuUsage();
    const b0 = sysBusy();
    const t0 = performance.now();
    const r = await withTimeout(wl.run(client, ctx), opt.callTimeout + 5000, `${wl.id}`);
    const wall = (performance.now() - t0) / 1000;
    const c1 = process.cpuUsage(c0);
    const b1 = sysBusy();
    const s1 = sampleProc(pid);
    if (counterH) rec.counts = await stopCounter(counterH, countFile);
    Object.assign(rec, cpuDelta(s0, s1, pid), readStatus(pid));
    rec.wall_s = wall;
    rec.files = r.files;
    rec.client_cpu_s = (c1.user + c1.system) / 1e6;
    rec.other_cpu_s = Math.max(0, (b1 - b0) - rec.cpu_s - rec.client_cpu_s);
    if (r.lat) rec.lat_ms = r.lat;
    if (r.resp_chars != null) rec.resp_chars = r.resp_chars;
    if (r.long_s != null) rec.long_s = r.long_s;
    if (r.head) rec.head = r.head;
    if (r.facts) rec.facts = r.facts;
    rec.ok = true;
  } catch (e) {
    rec.error = (e instanceof Timeout ? 'timeout: ' : '') + (e.message || String(e)).slice(0, 500);
    if (exitInfo) rec.error += ` (server exited: code ${exitInfo.code} signal ${exitInfo.sig})`;
    if (stderrTail) rec.stderr_tail = stderrTail.slice(-600);
    if (counterH) counterH.child.kill('SIGKILL');
    kill();
  } finally {
    // The figures are taken: no need for a graceful exit (some servers
    // ignore the end of stdin and would cost the SDK's 2 s grace period).
    kill();
    await withTimeout(client.close(), 5000, 'close').catch(() => {});
  }
  return rec;
}

async function runSync(cont, wl, { rep, cold, count }) {
  const rec = { contender: cont.id, workload: wl.id, rep, cache: cold ? 'cold' : 'warm', ok: false };
  let args = wl.sync();
  if (cold) dropCaches();
  let cmd = cont.command;
  const countFile = path.join(opt.scratch, `count-${cont.id}-${wl.id}.txt`);
  if (count) {
    args = counter === 'perf' ? ['stat', '-x,', '-o', countFile, '-e', PERF_EVENTS.join(','), '--', cmd, ...args]
      : ['-f', '-c', '-o', countFile, '--', cmd, ...args];
    cmd = counter === 'perf' ? 'perf' : 'strace';
  }
  const b0 = sysBusy(), t0 = performance.now();
  const p = spawnSync(cmd, args, { encoding: 'utf8', timeout: opt.callTimeout, killSignal: 'SIGKILL' });
  const b1 = sysBusy(), outer = (performance.now() - t0) / 1000;
  if (p.status !== 0) {
    rec.error = p.error ? p.error.message : `exit ${p.status} signal ${p.signal}: ${(p.stderr || '').slice(0, 300)}`;
    return rec;
  }
  try {
    const j = JSON.parse(p.stdout.trim().split('\n').pop());
    Object.assign(rec, { ok: true, wall_s: j.wall_s, files: wl.id === 'tree' || wl.id === 'search_sub' ? bankFiles.length : j.files,
      cpu_s: j.user_s + j.sys_s, cpu_user_s: j.user_s, cpu_sys_s: j.sys_s, cpu_source: 'getrusage', hwm_kb: j.hwm_kb, threads: 1,
      sync: j, other_cpu_s: Math.max(0, (b1 - b0) - j.user_s - j.sys_s - Math.max(0, outer - j.wall_s) * 1.0) });
    if (count) rec.counts = counter === 'perf' ? parsePerf(countFile) : parseStrace(countFile);
  } catch (e) {
    rec.error = `bad output: ${e.message}`;
  }
  return rec;
}

// ---------------------------------------------------------------- probing
async function probe(cont) {
  if (cont.kind !== 'mcp') return { tools: null, ok: true };
  const transport = makeTransport(cont);
  let err = '';
  transport.stderr?.on('data', d => { err = (err + d).slice(-1000); });
  const client = new Client({ name: 'ringbank-bench-probe', version: '1.0.0' }, { capabilities: {} });
  try {
    await withTimeout(client.connect(transport), STARTUP_TIMEOUT, 'initialize');
    const tl = await withTimeout(client.listTools(), 10000, 'tools/list');
    return { ok: true, server: client.getServerVersion(), tools: tl.tools.map(t => t.name) };
  } catch (e) {
    return { ok: false, error: `${e.message} ${err.slice(-300)}` };
  } finally {
    await withTimeout(client.close(), 5000, 'close').catch(() => { try { process.kill(transport.pid, 'SIGKILL'); } catch { /* */ } });
  }
}

function availability(cont, wl, probeRes) {
  if (cont.family === 'sync') return wl.sync ? null : 'n/a';
  const need = wl.tools[cont.family];
  if (!need) return 'n/a';
  if (!probeRes.ok) return `failed to start: ${probeRes.error}`;
  const missing = need.filter(t => !probeRes.tools.includes(t));
  return missing.length ? `n/a (tool missing: ${missing.join(', ')})` : null;
}

// ---------------------------------------------------------------- summary
function summarize(runs, na) {
  const out = [];
  const keys = new Set(runs.map(r => `${r.workload}|${r.cache}|${r.contender}`));
  for (const k of keys) {
    const [workload, cache, contender] = k.split('|');
    const rs = runs.filter(r => r.workload === workload && r.cache === cache && r.contender === contender && !r.counting);
    const ok = rs.filter(r => r.ok);
    const cnt = runs.find(r => r.workload === workload && r.contender === contender && r.counting && r.ok);
    const stat = f => {
      const v = ok.map(f).filter(x => x != null && Number.isFinite(x));
      return v.length ? { median: median(v), min: Math.min(...v), max: Math.max(...v) } : null;
    };
    const s = {
      workload, cache, contender, reps: rs.length, ok_reps: ok.length,
      errors: rs.filter(r => !r.ok).map(r => r.error),
      files: ok[0]?.files ?? null,
      wall_s: stat(r => r.wall_s),
      files_per_s: stat(r => r.files / r.wall_s),
      cpu_s: stat(r => r.cpu_s),
      cpu_ms_per_1k: stat(r => r.cpu_s / r.files * 1e6),
      iouwrk_cpu_s: stat(r => r.iouwrk_cpu_s),
      rss_peak_mb: stat(r => (r.hwm_kb ?? NaN) / 1024),
      client_cpu_s: stat(r => r.client_cpu_s),
      other_load: stat(r => r.other_cpu_s / r.wall_s),
      threads: stat(r => r.threads),
      cpu_sources: [...new Set(ok.map(r => r.cpu_source))],
    };
    const lat = ok.flatMap(r => r.lat_ms || []).sort((a, b) => a - b);
    if (lat.length) s.latency_ms = { n: lat.length, p50: pct(lat, 50), p95: pct(lat, 95), p99: pct(lat, 99), max: lat[lat.length - 1] };
    if (cnt && cnt.counts && cache === 'warm') {
      const c = cnt.counts, n = cnt.files || 1;
      s.counts = { source: counter, ...c,
        syscalls_per_file: c.syscalls != null ? c.syscalls / n : null,
        io_uring_enter_per_file: c.io_uring_enter != null ? c.io_uring_enter / n : null,
        sqes_per_file: c.sqes != null ? c.sqes / n : null,
        iowq_punts_per_file: c.iowq_punts != null ? c.iowq_punts / n : null,
        ctx_switches_per_file: c.ctx_switches != null ? c.ctx_switches / n : null };
    }
    out.push(s);
  }
  // ratios to rb-uring of the same workload and cache state
  for (const s of out) {
    const ref = out.find(x => x.workload === s.workload && x.cache === s.cache && x.contender === 'rb-uring');
    if (!ref) continue;
    const r = (a, b) => (a != null && b != null && b !== 0 ? a / b : null);
    s.ratio_to_rb_uring = {
      wall_s: r(s.wall_s?.median, ref.wall_s?.median),
      files_per_s: r(s.files_per_s?.median, ref.files_per_s?.median),
      cpu_s: r(s.cpu_s?.median, ref.cpu_s?.median),
      rss_peak_mb: r(s.rss_peak_mb?.median, ref.rss_peak_mb?.median),
      syscalls_per_file: r(s.counts?.syscalls_per_file, ref.counts?.syscalls_per_file),
      latency_p50: r(s.latency_ms?.p50, ref.latency_ms?.p50),
      latency_p95: r(s.latency_ms?.p95, ref.latency_ms?.p95),
      latency_p99: r(s.latency_ms?.p99, ref.latency_ms?.p99),
    };
  }
  for (const [k, why] of Object.entries(na)) {
    const [workload, contender] = k.split('|');
    out.push({ workload, cache: 'warm', contender, na: why });
  }
  return out;
}

// ---------------------------------------------------------------- machine
function machine() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const mem = fs.readFileSync('/proc/meminfo', 'utf8').match(/^MemTotal:\s+(\d+) kB/m);
  let fsType = null;
  try { fsType = execFileSync('findmnt', ['-n', '-o', 'FSTYPE,SOURCE', '-T', opt.bank], { encoding: 'utf8' }).trim().replace(/\s+/, ' on '); } catch { /* */ }
  let debian = null;
  try { debian = fs.readFileSync('/etc/debian_version', 'utf8').trim(); } catch { /* */ }
  let liburing = null;
  try { liburing = execFileSync('pkg-config', ['--modversion', 'liburing'], { encoding: 'utf8' }).trim(); } catch { /* */ }
  let uringSysctl = null;
  try { uringSysctl = fs.readFileSync('/proc/sys/kernel/io_uring_disabled', 'utf8').trim(); } catch { /* */ }
  return {
    nproc: os.availableParallelism ? os.availableParallelism() : os.cpus().length,
    model_name: (cpuinfo.match(/^model name\s*:\s*(.*)$/m) || [])[1] || null,
    mem_total_kb: mem ? +mem[1] : null,
    kernel: os.release(), debian, fs_type: fsType, liburing, io_uring_disabled: uringSysctl,
  };
}

// ---------------------------------------------------------------- main
const state = { started: new Date(), probes: {}, runs: [], na: {}, load0: fs.readFileSync('/proc/loadavg', 'utf8').trim(),
  rbVersion: null, gitRev: null, gitDirty: null };

function writeResult(aborted) {
  const { runs, na, probes } = state;
  const pkgs = {};
  for (const n of ['@modelcontextprotocol/sdk', '@modelcontextprotocol/server-filesystem', '@allpepper/memory-bank-mcp']) pkgs[n] = pkgVersion(n);
  let manifest = null;
  try {
    const m = JSON.parse(fs.readFileSync(path.join(path.dirname(opt.bank), path.basename(opt.bank) + '.manifest.json'), 'utf8'));
    manifest = { seed: m.seed, files: m.files, directories: m.directories, bytes: m.bytes, projects: m.projects, large_files: m.large_files, error_total: m.error_total };
  } catch { /* */ }
  const result = {
    format: 1,
    mode: opt.mode,
    aborted: aborted || undefined,
    started: state.started.toISOString(),
    finished: new Date().toISOString(),
    machine: { ...machine(), loadavg_start: state.load0, loadavg_end: fs.readFileSync('/proc/loadavg', 'utf8').trim(),
      other_load_median: median(runs.filter(r => r.ok && r.other_cpu_s != null && r.wall_s > 0.05).map(r => r.other_cpu_s / r.wall_s)) },
    versions: { ringbank: state.rbVersion, ringbank_build: process.env.RB_BENCH_BUILD || null, ringbank_git: state.gitRev, ringbank_src_dirty: state.gitDirty, node: process.version, packages: pkgs,
      servers: Object.fromEntries(Object.entries(probes).map(([k, v]) => [k, v.server ?? null])) },
    bank: { path: opt.bank, files: bankFiles.length, manifest, read_set: readSet.length, read_set_bytes: readBytes, info_set: infoSet.length, core_files: coreFiles.length },
    settings: { reps: opt.reps, cold: opt.cold, cache_drop: opt.cold ? dropMethod : null, batch: opt.batch, info_concurrency: opt.conc,
      write_concurrency: opt.writeConc, writes: opt.writes, small_calls: opt.smallCalls, call_timeout_s: opt.callTimeout / 1000,
      syscall_counter: counter, sub_query: SUB_QUERY, re_query: RE_QUERY, name_pattern: NAME_PATTERN,
      fsync: { rb: 'temp file + fsync + rename + directory fsync (design)', fs: 'no fsync (fs.writeFile to a temp file + rename)', mb: 'no fsync, no rename (fs.writeFile in place)' } },
    contenders: contenders.map(c => ({ id: c.id, label: c.label, family: c.family, command: [path.basename(c.command), ...(c.args || []).map(a => a.startsWith('/') ? path.basename(a) : a)].join(' ') })),
    workloads: workloads.map(w => ({ id: w.id, title: w.title, unit: w.unit, cold: !!w.cold })),
    probes,
    summary: summarize(runs, na),
    runs: runs.map(r => { const { lat_ms, ...rest } = r; return lat_ms ? { ...rest, lat_n: lat_ms.length } : rest; }),
  };
  fs.mkdirSync(path.dirname(opt.out), { recursive: true });
  fs.writeFileSync(opt.out, JSON.stringify(result, null, 1) + '\n');
  log(`wrote ${opt.out}${aborted ? ' (partial: aborted)' : ''}`);
}

// Stopped from outside (bench/run's overall timeout, ^C): keep what was
// measured, and take the servers down with us.
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    log(`${sig}: writing the partial result`);
    for (const pid of livePids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    try { writeResult(true); } catch (e) { log(`could not write: ${e.message}`); }
    process.exit(130);
  });
}

async function main() {
  const { probes, runs, na } = state;
  counter = detectCounter();
  log(`syscall counter: ${counter ?? 'none'}`);
  for (const c of contenders) {
    probes[c.id] = await probe(c);
    log(`probe ${c.id}: ${probes[c.id].ok ? `${probes[c.id].server?.name ?? ''} ${probes[c.id].server?.version ?? ''} ${probes[c.id].tools ? probes[c.id].tools.length + ' tools' : ''}` : 'FAILED ' + probes[c.id].error}`);
  }
  if (opt.ringbank && fs.existsSync(opt.ringbank)) {
    const v = spawnSync(opt.ringbank, ['--version'], { encoding: 'utf8', timeout: 5000 });
    state.rbVersion = (v.stdout || v.stderr || '').trim().split('\n')[0] || null;
  }
  try { state.gitRev = execFileSync('git', ['-C', HERE, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(); } catch { /* */ }
  try { state.gitDirty = execFileSync('git', ['-C', HERE, 'status', '--porcelain', '--', '../src', '../include'], { encoding: 'utf8' }).trim().length > 0; } catch { /* */ }

  const phases = opt.cold ? ['cold', 'warm'] : ['warm'];
  warmUp();
  for (const wl of workloads) {
    const active = [];
    for (const c of contenders) {
      const why = availability(c, wl, probes[c.id]);
      if (why) na[`${wl.id}|${c.id}`] = why; else active.push(c);
    }
    if (!active.length) continue;
    const failures = new Map(); // contender -> timeouts/crashes in this workload
    const skip = c => (failures.get(c.id) || 0) >= 2;
    for (const phase of phases) {
      if (phase === 'cold' && !wl.cold) continue;
      if (phase === 'warm' && opt.cold && wl.cold) warmUp();
      for (let rep = 0; rep < opt.reps; rep++) {
        // alternate: rotate the order every repetition
        const order = active.map((_, i) => active[(i + rep) % active.length]);
        for (const c of order) {
          if (skip(c)) {
            runs.push({ contender: c.id, workload: wl.id, rep, cache: phase, ok: false, error: 'skipped: failed twice in this workload' });
            continue;
          }
          const fn = c.kind === 'mcp' ? runMcp : runSync;
          const tr0 = performance.now();
          const rec = await fn(c, wl, { rep, cold: phase === 'cold', count: false });
          rec.run_s = (performance.now() - tr0) / 1000;
          if (!rec.ok) failures.set(c.id, (failures.get(c.id) || 0) + 1);
          runs.push(rec);
          log(`${wl.id} ${phase} rep ${rep + 1}/${opt.reps} ${c.id}: ${rec.ok ? `${rec.wall_s.toFixed(3)} s, cpu ${rec.cpu_s?.toFixed(3)} s, ${(rec.files / rec.wall_s).toFixed(0)} ${wl.unit}/s${rec.lat_ms ? `, n=${rec.lat_ms.length}` : ''}` : 'ERROR ' + rec.error}`);
        }
      }
    }
    if (counter) {
      if (opt.cold) warmUp();
      // quick mode counts ringbank and the floor only (the Node peers' counts,
      // ~20-60 syscalls per file, are in --full runs)
      for (const c of active.filter(c => !skip(c) && (opt.mode !== 'quick' || c.family === 'rb' || c.family === 'sync'))) {
        const fn = c.kind === 'mcp' ? runMcp : runSync;
        const rec = await fn(c, wl, { rep: -1, cold: false, count: true });
        rec.counting = true;
        runs.push(rec);
        log(`${wl.id} count ${c.id}: ${rec.ok ? JSON.stringify(rec.counts) : 'ERROR ' + rec.error}`);
      }
    }
  }
  writeResult(false);
}

main().then(() => process.exit(0), e => { console.error('[driver] fatal:', e); try { writeResult(true); } catch { /* */ } process.exit(1); });
