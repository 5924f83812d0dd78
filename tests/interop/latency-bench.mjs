// latency-bench.mjs: how long small requests wait while a bulk job runs
// (issue 5). Not part of the suite (no .test.): run it by hand.
//
//   node latency-bench.mjs [--files 100000] [--reads 1000] [--io uring,threads] [--rounds 1]
//
// For each io backend, in one run: a server (the official SDK client over
// stdio) gets 1000 sequential read_text_file calls of small notes, first
// idle, then while validate_memory_bank of a 100k-file bank runs as a
// background job (async_mode) on the same session. Prints p50/p90/p99/max
// of the client-measured latency, and how many reads overlapped the job.
// The bank is generated once with rb-genbank beside RB_BIN and reused.
//
// Environment: RB_BIN (default ../../build/ringbank), RB_GENBANK.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const RB_BIN = path.resolve(here, process.env.RB_BIN || '../../build/ringbank');
const GENBANK = process.env.RB_GENBANK || path.join(path.dirname(RB_BIN), 'rb-genbank');

function opt(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
}
const FILES = Number(opt('files', 100000));
const READS = Number(opt('reads', 1000));
const IOS = opt('io', 'uring,threads').split(',');
const ROUNDS = Number(opt('rounds', 1));

function bank() {
  const dir = path.join(path.dirname(RB_BIN), `jobs-bank-${FILES}`);
  if (!fs.existsSync(path.join(dir, '.complete'))) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    process.stderr.write(`generating a ${FILES}-file bank in ${dir}...\n`);
    execFileSync(GENBANK, ['-q', '--seed', '5', '--files', String(FILES), path.join(dir, 'bank')]);
    fs.writeFileSync(path.join(dir, '.complete'), '');
  }
  return fs.realpathSync(dir);
}

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function stats(ms) {
  const s = [...ms].sort((a, b) => a - b);
  return { n: s.length, p50: pct(s, 50), p90: pct(s, 90), p99: pct(s, 99), max: s.at(-1) };
}

const fmt = (x) => x.toFixed(3).padStart(8);

async function one(io, big, notes, state) {
  const transport = new StdioClientTransport({
    command: RB_BIN, args: ['serve', `--io=${io}`, '--state-dir', state, big, notes], stderr: 'pipe' });
  const client = new Client({ name: 'latency-bench', version: '1' }, { capabilities: {} });
  await client.connect(transport);
  await client.listTools();
  const read = async (i) => {
    const t0 = process.hrtime.bigint();
    const r = await client.callTool({ name: 'read_text_file', arguments: { path: path.join(notes, `n${i % 100}.md`) } });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.isError) throw new Error(r.content[0].text);
    return ms;
  };
  const status = async (id) => (await client.callTool({ name: 'job_status', arguments: { job_id: id, include_result: false } })).structuredContent;

  // Warm-up and the idle baseline.
  for (let i = 0; i < 100; i++) await read(i);
  const idle = [];
  for (let i = 0; i < READS; i++) idle.push(await read(i));

  // The background job, then the reads while it runs.
  const t0 = Date.now();
  const r = await client.callTool({ name: 'validate_memory_bank', arguments: { path: path.join(big, 'bank'), async_mode: true, max_reported: 1 } });
  const id = r.structuredContent.job_id;
  for (;;) {
    const v = await status(id);
    if (v.progress.current > 0 || v.status !== 'running') break;
    await new Promise((res) => setTimeout(res, 5));
  }
  const busy = [];
  let during = 0;
  for (let i = 0; i < READS; i++) {
    busy.push(await read(i));
    if (i % 50 === 49 || i === READS - 1) {
      const v = await status(id);
      if (v.status === 'running') during = i + 1;
    }
  }
  let v;
  while ((v = await status(id)).status === 'running') await new Promise((res) => setTimeout(res, 50));
  const res = await client.callTool({ name: 'job_status', arguments: { job_id: id } });
  const sc = res.structuredContent.result?.structuredContent;
  await client.close();
  return { idle: stats(idle), busy: stats(busy), during, job: { status: v.status, files: sc?.files_validated, elapsed_s: sc?.elapsed_s, wall_s: (Date.now() - t0) / 1000 } };
}

const big = bank();
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rb-latency-'));
const notes = path.join(work, 'notes');
fs.mkdirSync(notes);
for (let i = 0; i < 100; i++) fs.writeFileSync(path.join(notes, `n${i}.md`), `# Note ${i}\n\n${'Some text of a small note. '.repeat(40)}\n`);
console.log(`${READS} sequential read_text_file calls (1 KiB notes), idle and during validate_memory_bank of ${FILES} files (async_mode); ms, client-measured`);
console.log(`${'backend'.padEnd(8)} ${'phase'.padEnd(6)} ${'p50'.padStart(8)} ${'p90'.padStart(8)} ${'p99'.padStart(8)} ${'max'.padStart(8)}  notes`);
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const io of IOS) {
      const state = fs.mkdtempSync(path.join(work, 'state-'));
      const out = await one(io, big, notes, state);
      console.log(`${io.padEnd(8)} ${'idle'.padEnd(6)} ${fmt(out.idle.p50)} ${fmt(out.idle.p90)} ${fmt(out.idle.p99)} ${fmt(out.idle.max)}`);
      console.log(`${io.padEnd(8)} ${'busy'.padEnd(6)} ${fmt(out.busy.p50)} ${fmt(out.busy.p90)} ${fmt(out.busy.p99)} ${fmt(out.busy.max)}  ` +
        `${out.during}/${READS} reads ran while the job was running; job ${out.job.status}, ${out.job.files} files in ${out.job.elapsed_s?.toFixed(2)} s`);
    }
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
