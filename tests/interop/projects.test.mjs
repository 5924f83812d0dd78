// projects.test.mjs: the memory-bank-mcp project tools (list_projects,
// list_project_files, memory_bank_read, memory_bank_write,
// memory_bank_update) and bank_stats, driven by the official MCP SDK client
// against the real binary (RB_IO=uring|threads picks the backend): the
// schemas users of @allpepper/memory-bank-mcp rely on, result texts, files
// on disk, every failure path (missing project or file, bad names, overwrite
// refusal, version conflict, a 2 GiB sparse file refused without reading
// it), no lock file left behind, and MEMORY_BANK_ROOT naming the root.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

import { connect, tree, rmtree, cpuMs, RB_BIN, RB_IO } from './lib.mjs';

const PROJECT_TOOLS = ['list_projects', 'list_project_files', 'memory_bank_read', 'memory_bank_write',
  'memory_bank_update'];

function text(res) {
  return res.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');
}

async function ok(client, name, args) {
  const res = await client.callTool({ name, arguments: args });
  assert.ok(!res.isError, `${name} ${JSON.stringify(args)} failed: ${text(res)}`);
  return res;
}

async function fails(client, name, args, re) {
  const res = await client.callTool({ name, arguments: args });
  assert.equal(res.isError, true, `${name} ${JSON.stringify(args)} should fail, got: ${text(res).slice(0, 200)}`);
  assert.match(text(res), re);
  return text(res);
}

const sha = (s) => crypto.createHash('sha256').update(s).digest('hex');

function lockFiles(dir) {
  return fs.readdirSync(dir, { recursive: true }).filter((n) => /\.lock(\.reap)?$|\.tmp$/.test(n));
}

describe('project tools', () => {
  let dir, s;
  before(async () => {
    dir = tree({ 'alpha/projectbrief.md': '# Alpha\n', 'alpha/notes.md': 'n\n', 'beta/': '', 'loose.md': 'x' });
    s = await connect({ roots: [dir] });
  });
  after(async () => {
    await s.client.close();
    rmtree(dir);
  });

  test('tools/list has the original names, parameters and required fields', async () => {
    const { tools } = await s.client.listTools(); // the SDK then validates structuredContent
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    for (const n of PROJECT_TOOLS) assert.ok(byName[n], `${n} listed`);
    assert.deepEqual(byName.list_projects.inputSchema.required ?? [], []);
    assert.deepEqual(byName.list_project_files.inputSchema.required, ['projectName']);
    assert.deepEqual(byName.memory_bank_read.inputSchema.required, ['projectName', 'fileName']);
    assert.deepEqual(byName.memory_bank_write.inputSchema.required, ['projectName', 'fileName', 'content']);
    assert.deepEqual(byName.memory_bank_update.inputSchema.required, ['projectName', 'fileName', 'content']);
    assert.equal(byName.list_projects.description, 'List all projects in the memory bank');
    assert.equal(byName.list_project_files.description, 'List all files within a specific project');
    assert.match(byName.memory_bank_read.description, /^Read a memory bank file for a specific project/);
    assert.match(byName.memory_bank_write.description, /^Create a new memory bank file for a specific project/);
    assert.match(byName.memory_bank_update.description, /^Update an existing memory bank file for a specific project/);
    assert.ok(byName.bank_stats && byName.search_memory_bank);
  });

  test('list_projects and list_project_files', async () => {
    let r = await ok(s.client, 'list_projects', {});
    assert.equal(text(r), '["alpha","beta"]'); // directories only, sorted, as a JSON array text
    assert.deepEqual(r.structuredContent.projects, ['alpha', 'beta']);
    r = await ok(s.client, 'list_project_files', { projectName: 'alpha' });
    assert.deepEqual(JSON.parse(text(r)), ['notes.md', 'projectbrief.md']);
    r = await ok(s.client, 'list_project_files', { projectName: 'beta' });
    assert.equal(text(r), '[]');
    await fails(s.client, 'list_project_files', { projectName: 'gamma' }, /^Project 'gamma' not found$/);
    await fails(s.client, 'list_project_files', { projectName: 'loose.md' }, /^Project 'loose.md' not found$/);
  });

  test('write creates (and its project), refuses to overwrite; read returns the text and version', async () => {
    let r = await ok(s.client, 'memory_bank_write', { projectName: 'gamma', fileName: 'activeContext.md', content: 'ctx ü\n' });
    assert.equal(text(r), 'File activeContext.md written successfully to project gamma');
    assert.equal(r.structuredContent.version, sha('ctx ü\n'));
    assert.equal(fs.readFileSync(path.join(dir, 'gamma/activeContext.md'), 'utf8'), 'ctx ü\n');
    await fails(s.client, 'memory_bank_write', { projectName: 'gamma', fileName: 'activeContext.md', content: 'other' },
      /^File 'activeContext.md' already exists in project 'gamma'.*memory_bank_update/);
    assert.equal(fs.readFileSync(path.join(dir, 'gamma/activeContext.md'), 'utf8'), 'ctx ü\n');
    r = await ok(s.client, 'memory_bank_read', { projectName: 'gamma', fileName: 'activeContext.md' });
    assert.equal(text(r), 'ctx ü\n');
    assert.equal(r.structuredContent.version, sha('ctx ü\n'));
    assert.equal(r.structuredContent.bytes, Buffer.byteLength('ctx ü\n'));
  });

  test('update replaces, checks expectedVersion, and fails on a missing file or project', async () => {
    const v1 = sha('ctx ü\n');
    let r = await ok(s.client, 'memory_bank_update', { projectName: 'gamma', fileName: 'activeContext.md', content: 'v2\n', expectedVersion: v1 });
    assert.equal(text(r), 'File activeContext.md updated successfully in project gamma');
    assert.equal(r.structuredContent.version, sha('v2\n'));
    const msg = await fails(s.client, 'memory_bank_update',
      { projectName: 'gamma', fileName: 'activeContext.md', content: 'stale\n', expectedVersion: v1 },
      /changed since it was read \(version conflict\): current version ([0-9a-f]{64})/);
    assert.ok(msg.includes(sha('v2\n')), 'the message names the current version');
    assert.equal(fs.readFileSync(path.join(dir, 'gamma/activeContext.md'), 'utf8'), 'v2\n');
    r = await ok(s.client, 'memory_bank_update', { projectName: 'gamma', fileName: 'activeContext.md', content: 'v3\n' });
    assert.equal(fs.readFileSync(path.join(dir, 'gamma/activeContext.md'), 'utf8'), 'v3\n');
    await fails(s.client, 'memory_bank_update', { projectName: 'gamma', fileName: 'missing.md', content: 'x' },
      /^File 'missing.md' not found in project 'gamma'$/);
    assert.ok(!fs.existsSync(path.join(dir, 'gamma/missing.md')), 'update does not create');
    await fails(s.client, 'memory_bank_update', { projectName: 'delta', fileName: 'a.md', content: 'x' },
      /^Project 'delta' not found$/);
    await fails(s.client, 'memory_bank_read', { projectName: 'delta', fileName: 'a.md' }, /^Project 'delta' not found$/);
    await fails(s.client, 'memory_bank_read', { projectName: 'gamma', fileName: 'nope.md' },
      /^File 'nope.md' not found in project 'gamma'$/);
    await fails(s.client, 'memory_bank_update',
      { projectName: 'gamma', fileName: 'activeContext.md', content: 'x', expectedVersion: 'abc' },
      /expectedVersion: expected the 64-hex-digit version/);
    assert.deepEqual(lockFiles(dir), []);
  });

  test('update reports long names whole (names of 250 bytes: the message is over 512 bytes)', async () => {
    const proj = 'p'.repeat(250);
    const file = `${'f'.repeat(247)}.md`;
    await ok(s.client, 'memory_bank_write', { projectName: proj, fileName: file, content: 'one\n' });
    const r = await ok(s.client, 'memory_bank_update', { projectName: proj, fileName: file, content: 'two\n' });
    assert.equal(text(r), `File ${file} updated successfully in project ${proj}`);
    assert.equal(fs.readFileSync(path.join(dir, proj, file), 'utf8'), 'two\n');
    fs.rmSync(path.join(dir, proj), { recursive: true });
  });

  test('names with separators, dot-dot, or empty are refused with a clear message', async () => {
    for (const bad of ['a/b', '..', '.', '', '../alpha', '/etc', 'a\u0000b']) {
      await fails(s.client, 'memory_bank_read', { projectName: bad, fileName: 'a.md' },
        /^projectName: invalid project name '.*': it must be one path component, not empty, without '\/' and not '\.' or '\.\.'$/);
      await fails(s.client, 'memory_bank_write', { projectName: 'alpha', fileName: bad, content: 'x' },
        /^fileName: invalid file name/);
      await fails(s.client, 'memory_bank_update', { projectName: 'alpha', fileName: bad, content: 'x' },
        /^fileName: invalid file name/);
      await fails(s.client, 'list_project_files', { projectName: bad }, /^projectName: invalid project name/);
    }
    await fails(s.client, 'memory_bank_write', { projectName: 'alpha', fileName: 'x.md' }, /^content: required argument missing/);
    assert.ok(!fs.existsSync(path.join(dir, 'etc')));
    assert.deepEqual(fs.readdirSync(dir).sort(), ['alpha', 'beta', 'gamma', 'loose.md']);
  });

  test('a 2 GiB sparse file is refused without being read; a symlink out of the root is refused', async () => {
    const big = path.join(dir, 'alpha/huge.md');
    const fd = fs.openSync(big, 'w');
    fs.ftruncateSync(fd, 2 * 1024 ** 3);
    fs.closeSync(fd);
    // Not read: reading 2 GiB (page cache for the holes) costs seconds of
    // CPU; the server spends a few ms. CPU time, not wall time, so that a
    // loaded machine does not fail it.
    const cpu0 = cpuMs(s.pid);
    await fails(s.client, 'memory_bank_read', { projectName: 'alpha', fileName: 'huge.md' }, /too large|size limit/);
    const cpu = cpuMs(s.pid) - cpu0;
    assert.ok(cpu < 500, `refused using ${cpu} ms of the server's CPU`);
    fs.unlinkSync(big);
    fs.symlinkSync('/etc/passwd', path.join(dir, 'alpha/passwd.md'));
    await fails(s.client, 'memory_bank_read', { projectName: 'alpha', fileName: 'passwd.md' }, /outside/);
    fs.unlinkSync(path.join(dir, 'alpha/passwd.md'));
  });

  test('bank_stats counts the bank', async () => {
    const r = await ok(s.client, 'bank_stats', {});
    const sc = r.structuredContent;
    assert.equal(sc.files, 4); // projectbrief, notes, activeContext, loose.md
    assert.equal(sc.directories, 3);
    assert.equal(sc.bytes, '# Alpha\n'.length + 2 + 3 + 1);
    assert.equal(sc.tokensEstimate, Math.floor(sc.bytes / 4));
    assert.equal(sc.largest[0].path, 'alpha/projectbrief.md');
    assert.match(text(r), /^Bank: .*\nFiles: 4 \(4 markdown\), directories: 3/);
    await fails(s.client, 'bank_stats', { path: '/etc' }, /outside/);
  });
});

describe('MEMORY_BANK_ROOT', () => {
  test('names the root when none is given, as in memory-bank-mcp', async () => {
    const dir = tree({ 'p/a.md': 'hello\n' });
    const transport = new StdioClientTransport({
      command: RB_BIN, args: ['serve', `--io=${RB_IO}`],
      env: { ...process.env, MEMORY_BANK_ROOT: dir }, stderr: 'pipe',
    });
    const client = new Client({ name: 'mbr', version: '1' });
    await client.connect(transport);
    const r = await client.callTool({ name: 'memory_bank_read', arguments: { projectName: 'p', fileName: 'a.md' } });
    assert.equal(text(r), 'hello\n');
    await client.close();
    rmtree(dir);
  });
});
