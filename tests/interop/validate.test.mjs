// validate.test.mjs: validate_memory_bank driven by the official MCP SDK
// client (which also checks structuredContent against the outputSchema).
// The accuracy test generates a bank with rb-genbank (RB_VALIDATE_FILES
// files, default 10000) and requires the validator's by_code and its
// (path, code) pairs to equal the manifest exactly, on BOTH io backends
// whatever RB_IO says. Then the failure paths (missing bank, outside the
// root, malformed markdown, a binary file, a 2 GiB sparse file refused
// without being read) and cancellation through an AbortSignal.
//
// Environment: RB_BIN, RB_GENBANK (default: rb-genbank beside RB_BIN).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

import { tree, rmtree, RB_BIN, RB_IO, fdCount, peakRss, cpuMs, waitFor } from './lib.mjs';

const GENBANK = process.env.RB_GENBANK || path.join(path.dirname(RB_BIN), 'rb-genbank');
const FILES = Number(process.env.RB_VALIDATE_FILES || 10000);
const TOOL = 'validate_memory_bank';

async function serve(io, roots) {
  const transport = new StdioClientTransport({ command: RB_BIN, args: ['serve', `--io=${io}`, ...roots], stderr: 'pipe' });
  let log = '';
  transport.stderr?.on('data', (b) => { log += b.toString(); });
  const client = new Client({ name: 'ringbank-validate', version: '1.0.0' }, { capabilities: {} });
  await client.connect(transport);
  return { client, pid: transport.pid, stderr: () => log };
}

function text(res) {
  return res.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');
}

function pairs(sc) {
  const out = [];
  for (const f of sc.files) for (const d of f.diagnostics) out.push(`${f.path} ${d.code}`);
  return out.sort();
}

describe('validate_memory_bank agrees with the generator', () => {
  let dir, manifest;
  before(() => {
    dir = tree({});
    execFileSync(GENBANK, ['-q', '--seed', '7', '--files', String(FILES), '--manifest', path.join(dir, 'manifest.json'),
      path.join(dir, 'bank')]);
    manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  });
  after(() => rmtree(dir));

  for (const io of ['uring', 'threads']) {
    test(`${io}: by_code and every (path, code) equal the manifest`, async (t) => {
      const s = await serve(io, [dir]);
      try {
        const progress = [];
        const r = await s.client.callTool({ name: TOOL, arguments: { path: path.join(dir, 'bank'), max_reported: 20000 } },
          undefined, { onprogress: (p) => progress.push(p), timeout: 300000 });
        assert.ok(!r.isError, text(r));
        const sc = r.structuredContent;
        assert.equal(sc.files_validated, manifest.files);
        assert.equal(sc.truncated, false);
        assert.equal(sc.warnings, 0);
        assert.equal(sc.errors, manifest.error_total);
        for (const [code, n] of Object.entries(sc.by_code)) assert.equal(n, manifest.errors[code] ?? 0, `by_code.${code}`);
        for (const code of Object.keys(manifest.errors)) assert.ok(code in sc.by_code, `${code} reported`);
        assert.deepEqual(pairs(sc), manifest.error_files.map((e) => `${e.path} ${e.error}`).sort());
        // The text is a summary plus the first 50 diagnostics, not the whole list again.
        const lines = text(r).split('\n');
        assert.match(lines[0], new RegExp(`^Validated ${manifest.files} markdown files in .* ${manifest.error_total} errors, 0 warnings\\.$`));
        assert.ok(lines.length <= 50 + 4, `${lines.length} text lines`);
        assert.ok(progress.length >= 1, 'progress notifications');
        assert.match(progress[0].message, /^\d+ markdown files validated$/);
        t.diagnostic(`${io}: ${sc.files_validated} files in ${sc.elapsed_s.toFixed(2)} s, peak RSS ${(peakRss(s.pid) / 1048576).toFixed(1)} MiB`);
      } finally {
        await s.client.close();
      }
    });
  }

  test('cancelled through an AbortSignal; fds return; the server still answers', async () => {
    const s = await serve(RB_IO, [dir]);
    try {
      await s.client.callTool({ name: TOOL, arguments: { path: path.join(dir, 'bank/projects'), rules: { required_files: [] } } });
      const base = fdCount(s.pid);
      const ac = new AbortController();
      let progressed = 0;
      const call = s.client.callTool({ name: TOOL, arguments: { path: path.join(dir, 'bank') } }, undefined,
        { signal: ac.signal, onprogress: () => { if (++progressed === 1) ac.abort('test'); } });
      await assert.rejects(call);
      assert.equal(progressed, 1);
      await waitFor(`the fd count back to the baseline (${base})`, () => fdCount(s.pid) <= base,
        { describe: () => `${fdCount(s.pid)} fds` });
      const r = await s.client.callTool({ name: TOOL, arguments: { path: path.join(dir, 'bank/projects'), rules: { required_files: [] } } });
      assert.ok(!r.isError);
    } finally {
      await s.client.close();
    }
  });
});

describe('validate_memory_bank failure paths', () => {
  let dir, s;
  before(async () => {
    dir = tree({
      'bank/projectbrief.md': '# Brief\n\n## Goals\n',
      'bank/notes/bad.md': 'no title\n\n# Late\n\n### Skipped\n\n```c\nint x;\n',
      'bank/notes/links.md': '# Links\n\n[a](../projectbrief.md#goals) [b](../projectbrief.md#nope) [c](gone.md)\n',
      'bank/notes/binary.md': Buffer.from([0x23, 0x20, 0x54, 0x0a, 0xff, 0xfe, 0x00, 0x01]),
      'outside/x.md': '# X\n',
    });
    fs.writeFileSync(path.join(dir, 'bank/huge.md'), '');
    fs.truncateSync(path.join(dir, 'bank/huge.md'), 2 ** 31); // sparse: 2 GiB, no blocks
    s = await serve(RB_IO, [path.join(dir, 'bank')]);
  });
  after(async () => {
    await s.client.close();
    rmtree(dir);
  });

  test('listed with input and output schemas', async () => {
    const { tools } = await s.client.listTools();
    const t = tools.find((x) => x.name === TOOL);
    assert.ok(t);
    assert.deepEqual(t.inputSchema.required, ['path']);
    assert.ok(t.outputSchema.properties.by_code);
    assert.equal(t.annotations?.readOnlyHint, true);
  });

  test('malformed markdown, broken links, a binary file and a 2 GiB sparse file', async () => {
    // Reading 2 GiB (page cache for the holes, then the markdown scan) would
    // cost seconds of CPU; CPU time, not wall time, so that a loaded machine
    // does not fail it.
    const cpu0 = cpuMs(s.pid);
    const r = await s.client.callTool({ name: TOOL, arguments: { path: path.join(dir, 'bank') } });
    assert.ok(!r.isError, text(r));
    const cpu = cpuMs(s.pid) - cpu0;
    assert.ok(cpu < 1000, `the sparse file is not read through (${cpu} ms of the server's CPU)`);
    const got = {};
    for (const f of r.structuredContent.files) got[f.path] = f.diagnostics.map((d) => `${d.line} ${d.code}`);
    assert.deepEqual(got, {
      'huge.md': ['0 too_large'],
      'notes/bad.md': ['1 no_title', '5 skipped_heading', '7 unclosed_fence'],
      'notes/binary.md': ['2 invalid_utf8'],
      'notes/links.md': ['3 broken_link', '3 broken_anchor'],
      'activeContext.md': ['0 missing_core_file'],
      'productContext.md': ['0 missing_core_file'],
      'progress.md': ['0 missing_core_file'],
      'systemPatterns.md': ['0 missing_core_file'],
      'techContext.md': ['0 missing_core_file'],
    });
    assert.equal(r.structuredContent.files_validated, 5);
    assert.match(text(r), /notes\/bad\.md:7: error unclosed_fence: code fence opened on line 7 is never closed/);
  });

  test('a missing bank and a path outside the root are tool errors naming the path', async () => {
    let r = await s.client.callTool({ name: TOOL, arguments: { path: path.join(dir, 'bank/nope') } });
    assert.equal(r.isError, true);
    assert.match(text(r), /bank\/nope: no such file or directory/);
    r = await s.client.callTool({ name: TOOL, arguments: { path: path.join(dir, 'outside') } });
    assert.equal(r.isError, true);
    assert.match(text(r), /outside: outside the allowed directories/);
    r = await s.client.callTool({ name: TOOL, arguments: { path: path.join(dir, 'bank'), rules: { check_links: 'yes' } } });
    assert.equal(r.isError, true);
    assert.match(text(r), /rules\.check_links: expected true or false/);
  });
});
