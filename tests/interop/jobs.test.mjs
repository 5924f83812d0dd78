// jobs.test.mjs: long work that never blocks anyone (issue 5), through the
// official SDK client on RB_IO (uring|threads):
//  - a 50k-file validation past its time budget comes back as a job id;
//    job_status shows progress advancing, then completed with the same
//    by_code as a synchronous run;
//  - cancel_job mid-way answers within its bounded wait, and the fd count
//    and the cap's bulk permits are back to baseline;
//  - kill -9 mid-job, restart on the same state dir: the job is
//    interrupted, an earlier completed job intact;
//  - truncated and garbled job files are reported and set aside;
//  - two servers on one state dir see each other's jobs;
//  - MCP tasks (2025-11-25): capability, execution.taskSupport, a task
//    round trip through the SDK's callToolStream, tasks/list, tasks/cancel;
//  - prune_jobs, and bad job arguments.
// The 50k bank is generated once with rb-genbank into the build directory
// (beside RB_BIN) and reused by later runs (both backends).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CreateTaskResultSchema, CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';

import { tree, rmtree, raw, RB_BIN, RB_IO, fdCount, sleep, waitFor } from './lib.mjs';

const GENBANK = process.env.RB_GENBANK || path.join(path.dirname(RB_BIN), 'rb-genbank');
const FILES = 50000;
const ID = /^[0-9a-f]{16}$/;
const VALIDATE = 'validate_memory_bank';

// The 50k bank, cached beside the binary: generating it costs ~10 s.
function bigBank() {
  const dir = process.env.RB_JOBS_BANK || path.join(path.dirname(RB_BIN), `jobs-bank-${FILES}`);
  if (!fs.existsSync(path.join(dir, '.complete'))) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    execFileSync(GENBANK, ['-q', '--seed', '11', '--files', String(FILES), path.join(dir, 'bank')]);
    fs.writeFileSync(path.join(dir, '.complete'), '');
  }
  return fs.realpathSync(dir);
}

const live = new Set();
after(() => { for (const pid of live) try { process.kill(pid, 'SIGKILL'); } catch {} });

async function serve(roots, { state, env = {}, args = [] } = {}) {
  const transport = new StdioClientTransport({
    command: RB_BIN,
    args: ['serve', `--io=${RB_IO}`, '--state-dir', state, ...args, ...roots],
    env: { ...process.env, ...env },
    stderr: 'pipe',
  });
  let log = '';
  transport.stderr?.on('data', (b) => { log += b.toString(); });
  const client = new Client({ name: 'ringbank-jobs', version: '1.0.0' }, { capabilities: {} });
  // Resolves once the process has exited and been reaped (its stdio closed):
  // until then its pid still exists, so it would still count as a live owner.
  const gone = new Promise((resolve) => { client.onclose = resolve; });
  await client.connect(transport);
  const pid = transport.pid;
  live.add(pid);
  await client.listTools(); // the SDK then checks structuredContent against outputSchema
  return {
    client, pid, stderr: () => log,
    async call(name, args2 = {}, opts = {}) {
      return client.callTool({ name, arguments: args2 }, undefined, { timeout: 120000, ...opts });
    },
    async close() { await client.close(); live.delete(pid); },
    async kill9() { process.kill(pid, 'SIGKILL'); live.delete(pid); await gone; },
  };
}

function text(r) {
  return r.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');
}

async function status(s, id, includeResult = false) {
  const r = await s.call('job_status', { job_id: id, include_result: includeResult });
  assert.ok(!r.isError, text(r));
  return r.structuredContent;
}

// Polls job_status until pred(view) holds; returns the views seen. Another
// process's new job shows up once its owner has written its first record
// (the owner answers with the job id without waiting for that write).
async function until(s, id, pred, ms = 60000, every = 40) {
  const seen = [];
  const end = Date.now() + ms;
  for (;;) {
    const r = await s.call('job_status', { job_id: id, include_result: false });
    if (r.isError && /no such job/.test(text(r)) && Date.now() < end) {
      await sleep(every);
      continue;
    }
    assert.ok(!r.isError, text(r));
    const v = r.structuredContent;
    seen.push(v);
    if (pred(v)) return seen;
    if (Date.now() > end) throw new Error(`job ${id}: condition not met in ${ms} ms; last ${JSON.stringify(v)}\n${s.stderr()}`);
    await sleep(every);
  }
}

const ended = (v) => ['completed', 'failed', 'cancelled', 'interrupted'].includes(v.status);

// A job's record on disk, or null while there is none yet (it is replaced
// by rename, so it is never seen half-written).
function record(state, id) {
  try {
    return JSON.parse(fs.readFileSync(path.join(state, `${id}.json`), 'utf8'));
  } catch (e) {
    if (e.code === 'ENOENT') return null;
    throw e;
  }
}

// Waits until the record on disk satisfies pred, and returns it. The owner
// writes a record after the change it records (one write in flight per
// job, each with fsyncs), so on a loaded machine the file may lag its
// owner's memory by a while: this never times out in practice.
function recordUntil(state, id, what, pred) {
  return waitFor(`job ${id}'s record on disk: ${what}`, () => { const r = record(state, id); return r && pred(r) ? r : null; },
    { describe: () => JSON.stringify(record(state, id)) });
}

describe(`jobs (io=${RB_IO})`, () => {
  let big, small, work;
  before(() => {
    big = bigBank();
    work = tree({});
    small = tree({ 'bank/projectbrief.md': '# Brief\n', 'bank/notes.md': '# Notes\n\nSee [brief](projectbrief.md).\n' });
  });
  after(() => { rmtree(work); rmtree(small); });

  const stateDir = (name) => {
    const d = path.join(work, name);
    fs.mkdirSync(d, { recursive: true });
    return d;
  };

  test('past its budget a 50k-file validation becomes a job; progress advances; same result as a synchronous run', async (t) => {
    const state = stateDir('budget');
    // The synchronous run: the reference result, and how long this machine takes.
    const sync = await serve([big], { state });
    const ref = await sync.call(VALIDATE, { path: path.join(big, 'bank'), max_reported: 1 });
    await sync.close();
    assert.ok(!ref.isError, text(ref));
    assert.equal(ref.structuredContent.files_validated, FILES);
    // A 1 s budget; on a machine that validates 50k files in under 3 s the
    // budget is a third of that, so the job still has work left to show.
    const budget = Math.min(1, ref.structuredContent.elapsed_s / 3);
    const s = await serve([big], { state, env: { RINGBANK_TIMEOUT_VALIDATE_MEMORY_BANK_S: String(budget) } });
    try {
      const t0 = Date.now();
      const r = await s.call(VALIDATE, { path: path.join(big, 'bank'), max_reported: 1, job_label: 'nightly' });
      const waited = Date.now() - t0;
      assert.ok(!r.isError, text(r));
      const h = r.structuredContent;
      assert.match(h.job_id, ID);
      assert.equal(h.status, 'running');
      assert.match(h.message, /continues in the background as job/);
      // Answered at the budget, not when the work was done: the handle says
      // running, and progress still advances after it (below). The upper
      // bound only catches an answer that waited for something else.
      assert.ok(waited >= budget * 1000 - 50 && waited < budget * 1000 + 20000, `answered after ${waited} ms`);
      const seen = await until(s, h.job_id, ended);
      const running = seen.filter((v) => v.status === 'running').map((v) => v.progress.current);
      assert.ok(new Set(running).size >= 2, `progress advanced while running: ${running.join(', ')}`);
      for (let i = 1; i < running.length; i++) assert.ok(running[i] >= running[i - 1], 'progress never goes back');
      const done = await status(s, h.job_id, true);
      assert.equal(done.status, 'completed');
      assert.equal(done.label, 'nightly');
      assert.equal(done.origin, 'budget');
      assert.equal(done.tool, VALIDATE);
      for (const k of ['created', 'started', 'completed']) assert.match(done[k], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.equal(done.result.structuredContent.files_validated, FILES);
      assert.deepEqual(done.result.structuredContent.by_code, ref.structuredContent.by_code);
      assert.equal(done.result.structuredContent.errors, ref.structuredContent.errors);
      // On disk: one record, written atomically, saying the same (once the
      // final write, which job_status does not wait for, has landed).
      const rec = await recordUntil(state, h.job_id, 'ended', ended);
      assert.equal(rec.status, 'completed');
      assert.equal(rec.owner.pid, s.pid);
      t.diagnostic(`budget ${budget.toFixed(2)} s: answered in ${waited} ms; ${running.length} running polls, progress ${running[0]} -> ${running.at(-1)}; job took ${done.elapsed_s.toFixed(2)} s`);
    } finally {
      await s.close();
    }
  });

  test('every tool has a budget (RINGBANK_TIMEOUT_S): small tools past it become jobs too', async () => {
    const dir = path.join(work, 'wide');
    fs.mkdirSync(dir);
    for (let i = 0; i < 20000; i++) fs.writeFileSync(path.join(dir, `f${i}.md`), '');
    const s = await serve([work], { state: stateDir('global'), env: { RINGBANK_TIMEOUT_S: '0.001' } });
    try {
      // No output schema: the job handle is a normal result.
      const r = await s.call('list_directory', { path: dir });
      assert.ok(!r.isError, text(r));
      assert.match(r.structuredContent.job_id, ID);
      const v = await until(s, r.structuredContent.job_id, ended);
      assert.equal(v.at(-1).status, 'completed');
      const done = await status(s, r.structuredContent.job_id, true);
      assert.match(done.result.content[0].text, /\[FILE\] f19999\.md/);
      // A strict output schema (list_directory_with_sizes) is kept as it is:
      // the handle comes as an isError result naming the job, and in _meta.
      const w = await s.call('list_directory_with_sizes', { path: dir });
      assert.equal(w.isError, true);
      const h = w._meta['io.github.ringbank/job'];
      assert.match(h.job_id, ID);
      assert.match(text(w), new RegExp(`as job ${h.job_id}`));
      await until(s, h.job_id, ended);
      const ws = await status(s, h.job_id, true);
      assert.equal(ws.status, 'completed');
      assert.equal(ws.result.structuredContent.totalFiles, 20000);
      // Job tools never become jobs.
      assert.ok(!(await s.call('list_jobs')).structuredContent.job_id);
    } finally {
      await s.close();
    }
  });

  test('cancel_job mid-way answers within its bounded wait; fds and permits back to baseline', async (t) => {
    const s = await serve([big], { state: stateDir('cancel') });
    try {
      await s.call('list_jobs');
      const base = fdCount(s.pid);
      const r = await s.call(VALIDATE, { path: path.join(big, 'bank'), async_mode: true });
      assert.ok(!r.isError, text(r));
      const id = r.structuredContent.job_id;
      assert.match(id, ID);
      await until(s, id, (v) => v.status === 'running' && v.progress.current > 0, 30000, 20);
      const during = fdCount(s.pid);
      const t0 = Date.now();
      const c = await s.call('cancel_job', { job_id: id });
      const took = Date.now() - t0;
      assert.ok(!c.isError, text(c));
      assert.equal(c.structuredContent.cancelled, true);
      assert.equal(c.structuredContent.stopped, true, text(c));
      // Within its bounded wait (default 5000 ms), by the server's clock; the
      // client's clock adds the round trips, which a loaded machine stretches.
      assert.ok(c.structuredContent.waited_ms <= 5000, `cancel_job waited ${c.structuredContent.waited_ms} ms`);
      assert.ok(took < 30000, `cancel_job took ${took} ms`);
      assert.equal((await status(s, id)).status, 'cancelled');
      // A cancelled job stays cancelled; cancelling again changes nothing.
      const again = await s.call('cancel_job', { job_id: id });
      assert.equal(again.structuredContent.cancelled, false);
      const l = await s.call('list_jobs');
      assert.equal(l.structuredContent.server.permits_bulk, 0);
      assert.equal(l.structuredContent.server.jobs_running, 0);
      // The job's own fds are closed when it stops; the final write of its
      // record may still hold the state dir open for a moment.
      await waitFor('the fd count back to the baseline', () => fdCount(s.pid) <= base, { describe: () => `${fdCount(s.pid)} fds` });
      assert.equal(fdCount(s.pid), base, `fds: ${base} before, ${during} during, ${fdCount(s.pid)} after`);
      t.diagnostic(`cancelled after progress; cancel_job answered in ${took} ms; fds ${base} -> ${during} -> ${fdCount(s.pid)}`);
    } finally {
      await s.close();
    }
  });

  test('kill -9 mid-job, restart on the same state dir: interrupted, and the earlier completed job intact', async () => {
    const state = stateDir('kill');
    const a = await serve([big, small], { state });
    const first = await a.call(VALIDATE, { path: path.join(small, 'bank'), async_mode: true, job_label: 'small' });
    const firstId = first.structuredContent.job_id;
    await until(a, firstId, ended);
    const firstView = await status(a, firstId, true);
    assert.equal(firstView.status, 'completed');
    const r = await a.call(VALIDATE, { path: path.join(big, 'bank'), async_mode: true });
    const id = r.structuredContent.job_id;
    await until(a, id, (v) => v.progress.current > 0, 30000, 20);
    // The record on disk says running (a status change is written at once,
    // but behind the pending record's write, which may still be landing).
    const onDisk = await recordUntil(state, id, 'past pending', (x) => x.status !== 'pending');
    assert.equal(onDisk.status, 'running');
    await a.kill9(); // and reaped: the pid is gone
    const b = await serve([big, small], { state });
    try {
      const v = await status(b, id);
      assert.equal(v.status, 'interrupted');
      assert.match(v.error, new RegExp(`pid ${a.pid}`));
      // Rewritten on disk by the new process.
      const rewritten = await recordUntil(state, id, 'not running', (x) => x.status !== 'running');
      assert.equal(rewritten.status, 'interrupted');
      const w = await status(b, firstId, true);
      assert.equal(w.status, 'completed');
      assert.deepEqual(w.result, firstView.result);
      const l = await b.call('list_jobs');
      assert.deepEqual(l.structuredContent.jobs.map((j) => j.job_id), [id, firstId]);
      assert.deepEqual(l.structuredContent.warnings, []);
    } finally {
      await b.close();
    }
  });

  test('a truncated or garbled job file is reported and set aside; the server lives on', async () => {
    const state = stateDir('corrupt');
    // Three jobs, ended and on disk, from a first server. Its own jobs stay
    // in its memory (which wins over their files) until the final write has
    // landed, directory fsync included, which a loaded machine stretches at
    // will; so the damaged files are read by a second server on the same
    // state dir, which has them only on disk. Its start-up sweep ran before
    // the damage (serve() waits for tools/list).
    const ids = [];
    const first = await serve([small], { state });
    try {
      for (let i = 0; i < 3; i++) {
        const r = await first.call(VALIDATE, { path: path.join(small, 'bank'), async_mode: true });
        ids.push(r.structuredContent.job_id);
      }
      for (const id of ids) await until(first, id, ended);
      // The final writes: a write still in flight would replace the damaged file.
      for (const id of ids) await recordUntil(state, id, 'ended', ended);
    } finally {
      await first.close();
    }
    const s = await serve([small], { state });
    try {
      const [trunc, garbled, good] = ids;
      const f = (id) => path.join(state, `${id}.json`);
      const full = fs.readFileSync(f(trunc));
      fs.writeFileSync(f(trunc), full.subarray(0, full.length >> 1));
      fs.writeFileSync(f(garbled), '\u0000\u0001 not a job {{{');
      const r = await s.call('job_status', { job_id: trunc });
      assert.equal(r.isError, true);
      assert.match(text(r), /corrupt/);
      assert.match(text(r), /moved aside/);
      await waitFor('the truncated file to be set aside', () => fs.existsSync(`${f(trunc)}.corrupt`));
      assert.ok(fs.existsSync(`${f(trunc)}.corrupt`) && !fs.existsSync(f(trunc)), 'truncated file set aside');
      const l = await s.call('list_jobs');
      assert.ok(!l.isError, text(l));
      assert.deepEqual(l.structuredContent.jobs.map((j) => j.job_id), [good]);
      assert.equal(l.structuredContent.warnings.length, 1);
      assert.match(l.structuredContent.warnings[0], new RegExp(`${garbled}.*corrupt`));
      await waitFor('the garbled file to be set aside', () => fs.existsSync(`${f(garbled)}.corrupt`));
      assert.ok(fs.existsSync(`${f(garbled)}.corrupt`), 'garbled file set aside');
      // Reported once: the next listing is clean.
      const l2 = await s.call('list_jobs');
      assert.deepEqual(l2.structuredContent.warnings, []);
      const gone = await s.call('job_status', { job_id: garbled });
      assert.equal(gone.isError, true);
      assert.match(text(gone), /no such job/);
      assert.deepEqual(await s.client.ping(), {});
    } finally {
      await s.close();
    }
  });

  test('two servers on one state dir list each other\'s jobs; only the owner cancels', async () => {
    const state = stateDir('shared');
    // a runs one job at a time: its second job waits as pending meanwhile.
    const a = await serve([big, small], { state, args: ['--max-jobs', '1'] });
    const b = await serve([big, small], { state });
    try {
      const rb = await b.call(VALIDATE, { path: path.join(small, 'bank'), async_mode: true, job_label: 'from-b' });
      const ib = rb.structuredContent.job_id;
      await until(b, ib, ended);
      const ia = (await a.call(VALIDATE, { path: path.join(big, 'bank'), async_mode: true, job_label: 'from-a' })).structuredContent.job_id;
      const ia2 = (await a.call(VALIDATE, { path: path.join(big, 'bank'), async_mode: true })).structuredContent.job_id;
      // b reads a's records from the directory: running with progress, and pending.
      const seen = await until(b, ia, (v) => ended(v) || v.progress.current > 0, 30000, 20);
      assert.equal(seen.at(-1).status, 'running', JSON.stringify(seen.at(-1)));
      assert.equal(seen.at(-1).owner.pid, a.pid);
      assert.equal((await until(b, ia2, () => true)).at(-1).status, 'pending');
      const refused = await b.call('cancel_job', { job_id: ia2 });
      assert.equal(refused.isError, true);
      assert.match(text(refused), new RegExp(`another ringbank process \\(pid ${a.pid}`));
      for (const s of [a, b]) {
        const l = await s.call('list_jobs');
        const byId = Object.fromEntries(l.structuredContent.jobs.map((j) => [j.job_id, j]));
        assert.ok(byId[ia] && byId[ia2] && byId[ib], `${s.pid} sees all three: ${Object.keys(byId)}`);
        assert.equal(byId[ia].label, 'from-a');
        assert.equal(byId[ib].label, 'from-b');
        assert.equal(byId[ia].owner.pid, a.pid);
        assert.equal(byId[ib].owner.pid, b.pid);
      }
      const c = await a.call('cancel_job', { job_id: ia2 });
      assert.equal(c.structuredContent.cancelled, true);
      await a.call('cancel_job', { job_id: ia });
      // b sees it once a's write of the record has landed.
      assert.equal((await until(b, ia2, ended, 30000)).at(-1).status, 'cancelled');
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('MCP tasks: capability, taskSupport, a task round trip, tasks/list, tasks/cancel', async () => {
    const s = await serve([big, small], { state: stateDir('tasks') });
    try {
      const caps = s.client.getServerCapabilities();
      assert.deepEqual(caps.tasks, { list: {}, cancel: {}, requests: { tools: { call: {} } } });
      const { tools } = await s.client.listTools();
      const byName = Object.fromEntries(tools.map((x) => [x.name, x]));
      assert.equal(byName[VALIDATE].execution?.taskSupport, 'optional');
      assert.equal(byName.job_status.execution, undefined);
      assert.ok(byName[VALIDATE].inputSchema.properties.async_mode);
      assert.ok(byName[VALIDATE].inputSchema.properties.job_label);
      assert.equal(byName.read_text_file.inputSchema.properties.async_mode, undefined);

      // Round trip through the SDK: taskCreated, statuses, then the result.
      const progress = [];
      const msgs = [];
      const stream = s.client.experimental.tasks.callToolStream(
        { name: VALIDATE, arguments: { path: path.join(small, 'bank') } }, CallToolResultSchema,
        { task: { ttl: 60000 }, onprogress: (p) => progress.push(p) });
      for await (const m of stream) msgs.push(m);
      const kinds = msgs.map((m) => m.type);
      assert.equal(kinds[0], 'taskCreated', JSON.stringify(msgs));
      assert.equal(kinds.at(-1), 'result', JSON.stringify(msgs.at(-1)));
      const taskId = msgs[0].task.taskId;
      assert.match(taskId, ID);
      const result = msgs.at(-1).result;
      assert.equal(result.structuredContent.files_validated, 2);
      assert.equal(result._meta['io.modelcontextprotocol/related-task'].taskId, taskId);
      const got = await s.client.experimental.tasks.getTask(taskId);
      assert.equal(got.status, 'completed');
      assert.equal(got.ttl, null);
      assert.ok(got.createdAt && got.lastUpdatedAt);
      // The job table is the task table.
      assert.equal((await status(s, taskId)).origin, 'task');

      // A long task, cancelled: tasks/cancel answers cancelled; tasks/result says so.
      const created = await s.client.request({ method: 'tools/call',
        params: { name: VALIDATE, arguments: { path: path.join(big, 'bank') }, task: {} } }, CreateTaskResultSchema);
      const longId = created.task.taskId;
      assert.equal(created.task.status, 'working');
      await until(s, longId, (v) => v.progress.current > 0, 30000, 20);
      const cancelled = await s.client.experimental.tasks.cancelTask(longId);
      assert.equal(cancelled.status, 'cancelled');
      const res = await s.client.experimental.tasks.getTaskResult(longId, CallToolResultSchema);
      assert.equal(res.isError, true);
      assert.match(res.content[0].text, /cancelled/);
      await assert.rejects(s.client.experimental.tasks.cancelTask(longId), /terminal status: cancelled/);
      await assert.rejects(s.client.experimental.tasks.getTask('0123456789abcdef'), /not found/i);

      const list = await s.client.experimental.tasks.listTasks();
      assert.deepEqual(list.tasks.map((x) => x.taskId).slice(0, 2), [longId, taskId]);
      // Job tools cannot be tasks.
      await assert.rejects(s.client.request({ method: 'tools/call',
        params: { name: 'list_jobs', arguments: {}, task: {} } }, CreateTaskResultSchema), /does not support task/);
    } finally {
      await s.close();
    }
  });

  test('MCP tasks on the wire: progress keeps its token after CreateTaskResult, status notifications, tasks/result blocks', async () => {
    const s = raw([big], ['--state-dir', stateDir('tasks-raw')]);
    try {
      await s.initialize('2025-11-25');
      s.send({ jsonrpc: '2.0', id: 'call', method: 'tools/call', params: { name: VALIDATE,
        arguments: { path: path.join(big, 'bank'), max_reported: 1 }, task: { ttl: 1000 }, _meta: { progressToken: 'tok' } } });
      const created = await s.response('call');
      const taskId = created.result.task.taskId;
      assert.match(taskId, ID);
      assert.equal(created.result.task.status, 'working');
      assert.equal(created.result.task.ttl, null);
      assert.equal(created.result.task.pollInterval, 1000);
      assert.match(created.result._meta['io.modelcontextprotocol/model-immediate-response'], new RegExp(taskId));
      // Asked at once: answered only when the task has ended.
      s.send({ jsonrpc: '2.0', id: 'res', method: 'tasks/result', params: { taskId } });
      const seen = [];
      let answer;
      while (!answer) {
        const m = await s.next(60000);
        if (m.id === 'res') answer = m;
        else seen.push(m);
      }
      const progress = seen.filter((m) => m.method === 'notifications/progress');
      assert.ok(progress.length >= 2, `${progress.length} progress notifications`);
      for (const p of progress) assert.equal(p.params.progressToken, 'tok');
      const statuses = seen.filter((m) => m.method === 'notifications/tasks/status').map((m) => m.params);
      assert.ok(statuses.every((t) => t.taskId === taskId));
      assert.equal(statuses.at(-1).status, 'completed');
      assert.equal(answer.result.structuredContent.files_validated, FILES);
      assert.deepEqual(answer.result._meta, { 'io.modelcontextprotocol/related-task': { taskId } });
      // Unknown ids and bad params are JSON-RPC errors -32602.
      s.send({ jsonrpc: '2.0', id: 'g', method: 'tasks/get', params: { taskId: 'ffffffffffffffff' } });
      assert.equal((await s.response('g')).error.code, -32602);
      s.send({ jsonrpc: '2.0', id: 'l', method: 'tasks/list', params: { cursor: 'nonsense' } });
      assert.equal((await s.response('l')).error.code, -32602);
    } finally {
      assert.equal((await s.close()).code, 0);
    }
  });

  test('before 2025-11-25 there are no tasks: params.task is ignored, tasks/get is unknown', async () => {
    const s = raw([small], ['--state-dir', stateDir('tasks-old')]);
    try {
      const init = await s.initialize('2025-06-18');
      assert.equal(init.result.capabilities.tasks, undefined);
      s.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: VALIDATE,
        arguments: { path: path.join(small, 'bank') }, task: {} } });
      const r = await s.response(1);
      assert.equal(r.result.structuredContent.files_validated, 2);
      s.send({ jsonrpc: '2.0', id: 2, method: 'tasks/get', params: { taskId: '0123456789abcdef' } });
      assert.equal((await s.response(2)).error.code, -32601);
    } finally {
      assert.equal((await s.close()).code, 0);
    }
  });

  test('prune_jobs keeps the newest, never touches running jobs; bad job arguments are refused', async () => {
    const state = stateDir('prune');
    const s = await serve([big, small], { state });
    try {
      const ids = [];
      for (let i = 0; i < 4; i++) {
        const r = await s.call(VALIDATE, { path: path.join(small, 'bank'), async_mode: true });
        ids.push(r.structuredContent.job_id);
        await until(s, r.structuredContent.job_id, ended);
      }
      const run = await s.call(VALIDATE, { path: path.join(big, 'bank'), async_mode: true });
      const runId = run.structuredContent.job_id;
      await until(s, runId, (v) => v.status === 'running' || ended(v));
      const p = await s.call('prune_jobs', { keep_completed: 1 });
      assert.ok(!p.isError, text(p));
      assert.deepEqual([...p.structuredContent.deleted].sort(), ids.slice(0, 3).sort());
      for (const id of ids.slice(0, 3)) assert.ok(!fs.existsSync(path.join(state, `${id}.json`)), `${id} removed`);
      const listed = (await s.call('list_jobs')).structuredContent.jobs;
      assert.deepEqual(listed.map((j) => j.job_id), [runId, ids[3]], JSON.stringify(listed));
      const p2 = await s.call('prune_jobs', { keep_completed: 0, max_age_hours: 0 });
      assert.deepEqual(p2.structuredContent.deleted, [ids[3]]);
      await s.call('cancel_job', { job_id: runId });

      const bad = await s.call(VALIDATE, { path: path.join(small, 'bank'), async_mode: 'yes' });
      assert.equal(bad.isError, true);
      assert.match(text(bad), /async_mode: expected a boolean/);
      const badId = await s.call('job_status', { job_id: '../../etc/passwd' });
      assert.equal(badId.isError, true);
      assert.match(text(badId), /job_id: expected/);
    } finally {
      await s.close();
    }
  });
});
