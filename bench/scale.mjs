#!/usr/bin/env node
// bench/scale.mjs: does ringbank hold up on a very large bank (1M files),
// and what does it cost? Not a contest between servers (driver.mjs is that):
// this runs ringbank alone, on --io=uring and --io=threads alternately,
// through the real MCP protocol (the official SDK client over stdio), and
// checks every answer against the bank itself (find, grep, the generator's
// manifest) as well as timing it.
//
//   node bench/scale.mjs --bank DIR --ringbank BIN --out FILE
//        [--reps N] [--only w1,w2] [--io uring,threads] [--state-dir DIR]
//        [--truth FILE] [--read-files N] [--info-files N]
//
// Workloads (--only): stats tree_root tree_paged names names_exact info
// search_sub validate validate_job validate_sdk_default read10k read10k_one
//
// Per measurement (a fresh server each): wall time seen by the client,
// server CPU (user + sys of the whole thread group from /proc/PID/stat,
// which keeps the time of exited threads such as io_uring's iou-wrk
// workers), peak RSS (VmHWM), the most file descriptors and threads seen
// (sampled every 100 ms), the largest reply line on the wire, the
// notifications/progress received, and the checks (each: expected, got, ok).
// Run it under `nice -n 19 ionice -c 3`: the servers inherit it.
//
// The truth (file and directory counts, grep counts, name matches) is
// computed once per bank with find and grep and kept in --truth (default
// truth-<bank>.json beside --out): warm cache only, nothing is evicted. Job
// records go to --state-dir (default state/ beside --out), whose growth is
// reported per measurement. Results are never written to bench/results/
// unless --out says so.
//
// Example (the 1M bank is bench/run's: bench/run --files 1000000 makes it):
//   nice -n 19 ionice -c 3 node bench/scale.mjs --bank bench/.banks/bank-1000000-s1 \
//     --ringbank build-bench/ringbank --out /tmp/scale/1m.json --reps 2

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { deserializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

import { listBank, stride, pool } from './bank.mjs';

const CLK_TCK = 100;
const REPLY_LIMIT = 8 * 1048576; // --max-reply-bytes default

// ---------------------------------------------------------------- options
const opt = { reps: 1, io: ['uring', 'threads'], only: null, readFiles: 10000, infoFiles: 10000 };
{
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i++) {
    const val = () => { if (i + 1 >= a.length) throw new Error(`${a[i]} needs a value`); return a[++i]; };
    switch (a[i]) {
      case '--bank': opt.bank = path.resolve(val()); break;
      case '--ringbank': opt.ringbank = path.resolve(val()); break;
      case '--out': opt.out = path.resolve(val()); break;
      case '--reps': opt.reps = +val(); break;
      case '--only': opt.only = val().split(','); break;
      case '--io': opt.io = val().split(','); break;
      case '--state-dir': opt.stateDir = path.resolve(val()); break;
      case '--truth': opt.truth = path.resolve(val()); break;
      case '--read-files': opt.readFiles = +val(); break;
      case '--info-files': opt.infoFiles = +val(); break;
      default: throw new Error(`unknown option ${a[i]}`);
    }
  }
  for (const k of ['bank', 'ringbank', 'out']) if (!opt[k]) throw new Error(`--${k} is required`);
  opt.truth ??= path.join(path.dirname(opt.out), `truth-${path.basename(opt.bank)}.json`);
  opt.stateDir ??= path.join(path.dirname(opt.out), 'state');
}
const log = (...a) => console.error('[scale]', ...a);

// ---------------------------------------------------------------- the truth
const SUB_QUERY = 'stale consumer';
const NAME_PATTERN = '**/*cache*';
const NAME_EXACT = '**/*-cache.md';

function sh(cmd) {
  return execFileSync('bash', ['-c', cmd], { encoding: 'utf8', maxBuffer: 1 << 30 }).trim();
}
function truth() {
  try {
    const t = JSON.parse(fs.readFileSync(opt.truth, 'utf8'));
    if (t.bank === opt.bank) return t;
  } catch { /* compute it */ }
  log(`computing the truth for ${opt.bank} (find, grep)`);
  const q = s => `'${s.replace(/'/g, `'\\''`)}'`;
  const b = q(opt.bank);
  const t = { bank: opt.bank };
  t.files = +sh(`find ${b} -type f | wc -l`);
  t.directories = +sh(`find ${b} -mindepth 1 -type d | wc -l`);
  t.bytes = +sh(`find ${b} -type f -printf '%s\\n' | awk '{s+=$1} END {printf "%.0f", s}'`);
  // search_memory_bank is case-insensitive by default and counts matching lines
  t.grep_lines = +sh(`LC_ALL=C grep -rFic ${q(SUB_QUERY)} ${b} | awk -F: '{s+=$NF} END {printf "%.0f", s}'`);
  t.grep_files = +sh(`LC_ALL=C grep -rFil ${q(SUB_QUERY)} ${b} | wc -l`);
  // minimatch **/*cache*: any file or directory whose last component has "cache"
  t.name_matches = +sh(`find ${b} -mindepth 1 -name '*cache*' | wc -l`);
  t.name_exact_matches = +sh(`find ${b} -mindepth 1 -name '*-cache.md' | wc -l`);
  t.projects = fs.readdirSync(path.join(opt.bank, 'projects')).sort();
  t.root_entries = fs.readdirSync(opt.bank).length;
  try {
    const m = JSON.parse(fs.readFileSync(opt.bank + '.manifest.json', 'utf8'));
    t.manifest = { files: m.files, directories: m.directories, bytes: m.bytes, errors: m.errors, error_total: m.error_total };
  } catch { t.manifest = null; }
  fs.mkdirSync(path.dirname(opt.truth), { recursive: true });
  fs.writeFileSync(opt.truth, JSON.stringify(t, null, 1) + '\n');
  return t;
}

const T = truth();
log(`bank: ${T.files} files, ${T.directories} directories, ${T.projects.length} projects; grep: ${T.grep_lines} lines in ${T.grep_files} files; names: ${T.name_matches} / ${T.name_exact_matches}`);
const bankFiles = listBank(opt.bank);
if (bankFiles.length !== T.files) throw new Error(`the bank changed: ${bankFiles.length} files now, ${T.files} in ${opt.truth}`);
const readSet = stride(bankFiles, opt.readFiles).map(f => path.join(opt.bank, f));
const infoSet = stride(bankFiles, opt.infoFiles).map(f => path.join(opt.bank, f));

// ---------------------------------------------------------------- /proc
function procStat(pid) {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { user: +f[11] / CLK_TCK, sys: +f[12] / CLK_TCK };
}
function procStatus(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = k => { const m = s.match(new RegExp(`^${k}:\\s+(\\d+)`, 'm')); return m ? +m[1] : null; };
  return { hwm_kb: kb('VmHWM'), rss_kb: kb('VmRSS'), threads: kb('Threads') };
}
function fdCount(pid) {
  try { return fs.readdirSync(`/proc/${pid}/fd`).length; } catch { return null; }
}
function dirUsage(dir) {
  let files = 0, bytes = 0;
  try {
    for (const e of fs.readdirSync(dir)) {
      try { const st = fs.statSync(path.join(dir, e)); if (st.isFile()) { files++; bytes += st.size; } } catch { /* gone */ }
    }
  } catch { /* none yet */ }
  return { files, bytes };
}

// ---------------------------------------------------------------- the client
// The SDK's stdio ReadBuffer is quadratic in the size of one message and
// refuses lines over 10 MiB; this one is linear (as in driver.mjs), and it
// records the size of every line the server writes.
class MeasuringReadBuffer {
  constructor(stats) { this.chunks = []; this.stats = stats; }
  append(chunk) { this.chunks.push(chunk); }
  readMessage() {
    for (;;) {
      if (!this.chunks.length) return null;
      const last = this.chunks[this.chunks.length - 1];
      const nl = last.indexOf(10);
      if (nl === -1) return null;
      const head = this.chunks.length === 1 ? last.subarray(0, nl) : Buffer.concat([...this.chunks.slice(0, -1), last.subarray(0, nl)]);
      const rest = last.subarray(nl + 1);
      this.chunks = rest.length ? [rest] : [];
      if (!head.length) continue;
      this.stats.lines++;
      this.stats.bytes += head.length + 1;
      if (head.length > this.stats.max_line) this.stats.max_line = head.length;
      return deserializeMessage(head.toString('utf8'));
    }
  }
  clear() { this.chunks = []; }
}

const live = new Set();
async function startServer(io, budget) {
  const wire = { lines: 0, bytes: 0, max_line: 0 };
  const env = { RINGBANK_TIMEOUT_S: String(budget) };
  const transport = new StdioClientTransport({
    command: opt.ringbank,
    args: ['serve', `--io=${io}`, '--state-dir', opt.stateDir, opt.bank],
    env, stderr: 'pipe', cwd: path.dirname(opt.out),
  });
  transport._readBuffer = new MeasuringReadBuffer(wire);
  let stderr = '';
  transport.stderr?.on('data', d => { stderr = (stderr + d).slice(-4000); });
  const client = new Client({ name: 'ringbank-scale', version: '1.0.0' }, { capabilities: {} });
  await client.connect(transport);
  const pid = transport.pid;
  live.add(pid);
  let exit = null;
  transport._process?.on('exit', (code, sig) => { exit = { code, sig }; live.delete(pid); });
  return { client, transport, pid, wire, stderr: () => stderr, exit: () => exit };
}

const sleep = ms => new Promise(r => setTimeout(r, ms));
function text(res) { return (res.content || []).filter(c => c.type === 'text').map(c => c.text).join('\n'); }
function check(rec, name, expected, got, ok = expected === got) {
  rec.checks.push({ name, expected, got, ok });
}

// ---------------------------------------------------------------- workloads
// run(ctx) -> {files, ...facts}; ctx.call(name, args, options) counts progress.
const LONG = 30 * 60 * 1000;
const WORKLOADS = {
  stats: {
    title: 'bank_stats (whole-bank scan with statx)',
    run: async (ctx, rec) => {
      const r = await ctx.call('bank_stats', { path: opt.bank });
      const s = r.structuredContent || {};
      check(rec, 'not isError', false, !!r.isError);
      check(rec, 'files = find -type f', T.files, s.files);
      check(rec, 'directories = find -mindepth 1 -type d', T.directories, s.directories);
      check(rec, 'bytes = sum of sizes', T.bytes, s.bytes);
      return { files: T.files };
    } },
  tree_root: {
    title: 'directory_tree of the bank root (one reply)',
    run: async (ctx, rec) => {
      const r = await ctx.call('directory_tree', { path: opt.bank });
      const s = r.structuredContent || {};
      const total = T.files + T.directories;
      check(rec, 'not isError', false, !!r.isError);
      check(rec, 'truncated iff entries > 100000', total > 100000, s.truncated);
      check(rec, 'entries = min(files + dirs, 100000)', Math.min(total, 100000), s.entries);
      rec.facts = { entries: s.entries, files: s.files, directories: s.directories, truncated: s.truncated,
        compact: /printed without indentation/.test(text(r)) };
      return { files: s.entries ?? 0 };
    } },
  tree_paged: {
    title: 'directory_tree per project (the whole bank, one call per project, 4 in flight)',
    run: async (ctx, rec) => {
      const top = await ctx.call('list_directory', { path: path.join(opt.bank, 'projects') });
      const projects = text(top).split('\n').filter(l => l.startsWith('[DIR] ')).map(l => l.slice(6));
      check(rec, 'list_directory projects/ = readdir', T.projects.length, projects.length);
      let files = 0, dirs = 0, truncated = 0, errors = 0, calls = 0;
      await pool(projects, 4, async p => {
        const r = await ctx.call('directory_tree', { path: path.join(opt.bank, 'projects', p) });
        calls++;
        if (r.isError) { errors++; return; }
        const s = r.structuredContent || {};
        files += s.files; dirs += s.directories;
        if (s.truncated) truncated++;
      });
      // the bank root holds only projects/ (the generator's layout)
      check(rec, 'no isError', 0, errors);
      check(rec, 'no truncated page', 0, truncated);
      check(rec, 'sum of files = find -type f', T.files, files);
      check(rec, 'sum of dirs + projects + projects/ = find -type d', T.directories, dirs + projects.length + T.root_entries);
      rec.facts = { calls: calls + 1 };
      return { files };
    } },
  names: {
    title: `search_files "${NAME_PATTERN}" (whole bank)`,
    run: async (ctx, rec) => {
      const r = await ctx.call('search_files', { path: opt.bank, pattern: NAME_PATTERN });
      const s = r.structuredContent || {};
      check(rec, 'not isError', false, !!r.isError);
      check(rec, 'matches = min(find -name, 10000)', Math.min(T.name_matches, 10000), s.matches);
      check(rec, 'truncated iff find -name > 10000', T.name_matches > 10000, s.truncated);
      const lines = text(r).split('\n').filter(l => l.startsWith(opt.bank)).length;
      check(rec, 'paths listed = matches', s.matches, lines);
      return { files: T.files };
    } },
  names_exact: {
    title: `search_files "${NAME_EXACT}" (whole bank, under the match cap)`,
    run: async (ctx, rec) => {
      const r = await ctx.call('search_files', { path: opt.bank, pattern: NAME_EXACT });
      const s = r.structuredContent || {};
      check(rec, 'not isError', false, !!r.isError);
      check(rec, 'matches = find -name', T.name_exact_matches, s.matches);
      check(rec, 'not truncated', T.name_exact_matches > 10000, !!s.truncated);
      return { files: T.files };
    } },
  info: {
    title: `get_file_info x ${infoSet.length} (16 in flight)`,
    run: async (ctx, rec) => {
      let bad = 0, errs = 0;
      await pool(infoSet, 16, async p => {
        const r = await ctx.call('get_file_info', { path: p });
        if (r.isError) { errs++; return; }
        if (r.structuredContent?.size !== fs.statSync(p).size) bad++;
      });
      check(rec, 'no isError', 0, errs);
      check(rec, 'every size = stat size', 0, bad);
      return { files: infoSet.length };
    } },
  search_sub: {
    title: `search_memory_bank substring "${SUB_QUERY}" (whole bank)`,
    run: async (ctx, rec) => {
      const r = await ctx.call('search_memory_bank', { path: opt.bank, query: SUB_QUERY });
      const s = r.structuredContent || {};
      check(rec, 'not isError', false, !!r.isError);
      check(rec, 'totalMatches = grep -rFic (lines)', T.grep_lines, s.totalMatches);
      check(rec, 'filesMatched = grep -rFil | wc -l', T.grep_files, s.filesMatched);
      check(rec, 'filesSearched = find -type f', T.files, s.filesSearched);
      rec.facts = { returned: s.returned, truncated: s.truncated, binarySkipped: s.binarySkipped, tooLargeSkipped: s.tooLargeSkipped, errors: s.errors, bytes: s.bytes };
      return { files: T.files };
    } },
  validate: {
    title: 'validate_memory_bank (whole bank, no time budget, progress followed)',
    budget: 0,
    run: async (ctx, rec) => {
      const r = await ctx.call('validate_memory_bank', { path: opt.bank }, { timeout: 60000, resetTimeoutOnProgress: true, maxTotalTimeout: LONG, progress: true });
      checkValidation(rec, r);
      return { files: T.files };
    } },
  validate_job: {
    title: 'validate_memory_bank with the default 20 s budget: it becomes a job, followed with job_status',
    budget: 20,
    run: async (ctx, rec) => {
      const t0 = performance.now();
      const r = await ctx.call('validate_memory_bank', { path: opt.bank });
      rec.facts = { first_answer_s: (performance.now() - t0) / 1000 };
      const id = r.structuredContent?.job_id;
      if (!id) { // finished within its budget (a small bank): the answer is the result
        rec.facts.job = false;
        checkValidation(rec, r);
        return { files: T.files };
      }
      rec.facts.job = true;
      let st, polls = 0;
      for (;;) {
        await sleep(250);
        polls++;
        st = await ctx.call('job_status', { job_id: id, include_result: false });
        const s = st.structuredContent?.status;
        if (s !== 'running' && s !== 'pending') break;
      }
      rec.facts.polls = polls;
      rec.facts.status = st.structuredContent?.status;
      const fin = await ctx.call('job_status', { job_id: id });
      const res = fin.structuredContent?.result;
      check(rec, 'job completed', 'completed', fin.structuredContent?.status);
      if (res) checkValidation(rec, res);
      else check(rec, 'job result present', true, false);
      return { files: T.files };
    } },
  validate_sdk_default: {
    title: 'validate_memory_bank with no budget and the SDK\'s default request options (60 s timeout, no progress)',
    budget: 0,
    run: async (ctx, rec) => {
      const t0 = performance.now();
      try {
        const r = await ctx.call('validate_memory_bank', { path: opt.bank }, { sdkDefault: true });
        rec.facts = { outcome: 'answered' };
        checkValidation(rec, r);
      } catch (e) {
        rec.facts = { outcome: `client error: ${e.message}`, gave_up_s: (performance.now() - t0) / 1000 };
        // the SDK sent notifications/cancelled: the server must stop the work
        // (no more CPU once the ops in flight are back) and live on
        await sleep(1000);
        const a = procStat(ctx.pid);
        await sleep(3000);
        const b = procStat(ctx.pid);
        rec.facts.cpu_s_in_3s_after_cancel = +((b.user + b.sys) - (a.user + a.sys)).toFixed(2);
        check(rec, 'the server stopped working (< 0.1 s CPU in 3 s)', true, rec.facts.cpu_s_in_3s_after_cancel < 0.1);
        const p = await ctx.call('read_text_file', { path: path.join(opt.bank, bankFiles[0]) });
        check(rec, 'the server still answers after the client gave up', false, !!p.isError);
      }
      return { files: T.files };
    } },
  read10k: {
    title: `read_multiple_files, ${readSet.length} files in calls of 500`,
    run: async (ctx, rec) => {
      let sections = 0, chars = 0, cut = 0, fileErrs = 0;
      for (let i = 0; i < readSet.length; i += 500) {
        const paths = readSet.slice(i, i + 500);
        const r = await ctx.call('read_multiple_files', { paths });
        const t = text(r);
        chars += t.length;
        if (/the result reached its size limit/.test(t.slice(-8000))) cut++;
        const c = sectionsIn(t, paths);
        sections += c.ok;
        fileErrs += c.err;
      }
      check(rec, 'no call cut at the size limit', 0, cut);
      check(rec, 'every file has its section', readSet.length, sections + fileErrs);
      check(rec, 'no per-file error', 0, fileErrs);
      rec.facts = { chars };
      return { files: readSet.length };
    } },
  read10k_one: {
    title: `read_multiple_files, ${readSet.length} files in one call (cut at the reply limit)`,
    run: async (ctx, rec) => {
      const r = await ctx.call('read_multiple_files', { paths: readSet });
      const t = text(r);
      const tail = t.slice(-400);
      const c = sectionsIn(t, readSet);
      const shown = c.ok + c.err;
      const m = t.match(/the result reached its size limit \(about 8 MiB\); (\d+) of (\d+) files omitted/);
      const omitted = m ? +m[1] : 0;
      check(rec, 'not isError', false, !!r.isError);
      check(rec, 'files in the reply + files omitted = files asked', readSet.length, shown + omitted);
      check(rec, 'the omitted count is said', true, !!m || shown === readSet.length);
      rec.facts = { files_in_reply: shown, omitted, text_chars: t.length, tail: tail.replace(/\n/g, ' ').slice(-300) };
      return { files: shown };
    } },
};

// Sections come in the order of the paths: "<path>:\n<content>" or
// "<path>: Error - <cause>", separated by "\n---\n"; one forward scan.
function sectionsIn(t, paths) {
  let pos = 0, ok = 0, err = 0;
  for (const p of paths) {
    const at = t.indexOf(p + ':', pos);
    if (at < 0 || (at > 0 && t.slice(at - 5, at) !== '\n---\n')) break;
    const after = t.slice(at + p.length, at + p.length + 10);
    if (after.startsWith(':\n')) ok++;
    else if (after.startsWith(': Error - ')) err++;
    else break;
    pos = at + p.length;
  }
  return { ok, err };
}

function checkValidation(rec, r) {
  const s = r.structuredContent || {};
  check(rec, 'not isError', false, !!r.isError);
  check(rec, 'files_validated = find -type f', T.files, s.files_validated);
  if (T.manifest) {
    check(rec, 'errors = manifest error_total', T.manifest.error_total, s.errors);
    const diff = Object.entries(T.manifest.errors).filter(([k, v]) => (s.by_code?.[k] ?? 0) !== v).map(([k, v]) => `${k} ${s.by_code?.[k] ?? 0} != ${v}`);
    check(rec, 'by_code = manifest errors, class by class', '', diff.join(', '));
  }
  rec.facts = { ...(rec.facts || {}), errors: s.errors, links_checked: s.links_checked, elapsed_s: s.elapsed_s, stats: s.stats };
}

// ---------------------------------------------------------------- one measurement
async function measure(wid, io, rep) {
  const wl = WORKLOADS[wid];
  const rec = { workload: wid, io, rep, ok: false, checks: [] };
  const budget = wl.budget ?? 20;
  const state0 = dirUsage(opt.stateDir);
  let srv;
  try {
    srv = await startServer(io, budget);
  } catch (e) {
    rec.error = `start: ${e.message}`;
    return rec;
  }
  const { client, pid, wire } = srv;
  let progress = 0, calls = 0, maxFds = fdCount(pid) ?? 0, maxThreads = 0;
  const sampler = setInterval(() => {
    const n = fdCount(pid);
    if (n != null && n > maxFds) maxFds = n;
    try { const t = procStatus(pid).threads; if (t > maxThreads) maxThreads = t; } catch { /* gone */ }
  }, 100);
  const ctx = {
    pid,
    call: (name, args, o = {}) => {
      calls++;
      if (o.sdkDefault) return client.callTool({ name, arguments: args });
      const ro = { timeout: o.timeout ?? LONG, maxTotalTimeout: o.maxTotalTimeout ?? LONG };
      if (o.progress) { ro.onprogress = () => { progress++; }; ro.resetTimeoutOnProgress = !!o.resetTimeoutOnProgress; }
      return client.callTool({ name, arguments: args }, undefined, ro);
    },
  };
  try {
    const wire0 = { ...wire };
    const c0 = procStat(pid);
    const t0 = performance.now();
    const r = await wl.run(ctx, rec);
    rec.wall_s = (performance.now() - t0) / 1000;
    const c1 = procStat(pid);
    const st = procStatus(pid);
    Object.assign(rec, r);
    rec.cpu_user_s = +(c1.user - c0.user).toFixed(2);
    rec.cpu_sys_s = +(c1.sys - c0.sys).toFixed(2);
    rec.cpu_s = +(rec.cpu_user_s + rec.cpu_sys_s).toFixed(2);
    rec.hwm_kb = st.hwm_kb;
    rec.rss_end_kb = st.rss_kb;
    rec.max_fds = maxFds;
    rec.max_threads = Math.max(maxThreads, st.threads);
    rec.calls = calls;
    rec.progress_notifications = progress;
    rec.wire = { lines: wire.lines - wire0.lines, bytes: wire.bytes - wire0.bytes, max_line: wire.max_line };
    check(rec, 'every reply line <= 8 MiB', true, wire.max_line <= REPLY_LIMIT);
    rec.ok = rec.checks.every(c => c.ok);
  } catch (e) {
    rec.error = (e.message || String(e)).slice(0, 500);
    const ex = srv.exit();
    if (ex) rec.error += ` (server exited: code ${ex.code} signal ${ex.sig})`;
    rec.stderr_tail = srv.stderr().slice(-800);
  } finally {
    clearInterval(sampler);
    await Promise.race([client.close(), sleep(8000)]).catch(() => {});
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    live.delete(pid);
  }
  const state1 = dirUsage(opt.stateDir);
  rec.state_dir = { files: state1.files, bytes: state1.bytes, added_files: state1.files - state0.files, added_bytes: state1.bytes - state0.bytes };
  return rec;
}

// ---------------------------------------------------------------- main
const runs = [];
function write(aborted) {
  const out = {
    bank: { path: opt.bank, ...T, projects: T.projects.length },
    started: started.toISOString(), finished: new Date().toISOString(), aborted: aborted || undefined,
    ringbank: opt.ringbank, load_start: load0, load_end: fs.readFileSync('/proc/loadavg', 'utf8').trim(),
    settings: { reps: opt.reps, io: opt.io, read_files: readSet.length, info_files: infoSet.length, state_dir: opt.stateDir, sub_query: SUB_QUERY, name_pattern: NAME_PATTERN, name_exact: NAME_EXACT },
    runs,
  };
  fs.mkdirSync(path.dirname(opt.out), { recursive: true });
  fs.writeFileSync(opt.out, JSON.stringify(out, null, 1) + '\n');
}
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    for (const pid of live) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    write(true);
    process.exit(130);
  });
}
const started = new Date();
const load0 = fs.readFileSync('/proc/loadavg', 'utf8').trim();
const ids = Object.keys(WORKLOADS).filter(w => (opt.only ? opt.only.includes(w) : w !== 'validate_sdk_default'));
fs.mkdirSync(opt.stateDir, { recursive: true });
for (const wid of ids) {
  for (let rep = 0; rep < opt.reps; rep++) {
    const order = opt.io.map((_, i) => opt.io[(i + rep) % opt.io.length]);
    for (const io of order) {
      const rec = await measure(wid, io, rep);
      runs.push(rec);
      const bad = rec.checks.filter(c => !c.ok).map(c => `${c.name}: expected ${JSON.stringify(c.expected)} got ${JSON.stringify(c.got)}`);
      log(`${wid} ${io} rep ${rep + 1}: ${rec.error ? 'ERROR ' + rec.error : `${rec.wall_s.toFixed(2)} s, cpu ${rec.cpu_s} s (u ${rec.cpu_user_s} s ${rec.cpu_sys_s}), hwm ${(rec.hwm_kb / 1024).toFixed(1)} MB, fds ${rec.max_fds}, threads ${rec.max_threads}, max reply ${(rec.wire.max_line / 1048576).toFixed(2)} MiB, progress ${rec.progress_notifications}, checks ${rec.checks.length - bad.length}/${rec.checks.length}`}${bad.length ? ' FAILED: ' + bad.join('; ') : ''}${rec.facts ? ' ' + JSON.stringify(rec.facts).slice(0, 400) : ''}`);
      write(false);
    }
  }
}
write(false);
log(`wrote ${opt.out}`);
process.exit(runs.every(r => r.ok) ? 0 : 1);
