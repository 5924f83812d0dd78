// lock-opts.test.mjs: --lock-wait-ms and --lock-stale-ms, the writers'
// lock settings, through the official SDK client over stdio and over
// Streamable HTTP, and on the `ringbank call` command line. A lock is held
// "from outside" the way another writer holds it: a lock file beside the
// target naming a live process (this test's) on this host. A write under
// it waits for --lock-wait-ms (at least: no upper bound is asserted), then
// fails with isError saying how long it waited and naming the option,
// having written nothing and left the holder's lock alone; a lock older than
// --lock-stale-ms is taken over. Bad values are usage errors (exit 2).
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { connect, tree, rmtree, RB_BIN, RB_IO } from './lib.mjs';
import { startServer, connectHttp } from './http-lib.mjs';

function text(res) {
  return res.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');
}

// "<who>: another writer held the bank lock for X.Y s (--lock-wait-ms N), so
// nothing was written (holder: pid P on host H, ...)": returns X.Y.
function lockedOut(res, who, waitMs) {
  assert.ok(res.isError, `expected a lock timeout, got ${JSON.stringify(res)}`);
  const re = new RegExp(`^${who.replace(/[.]/g, '\\.')}: another writer held the bank lock for (\\d+\\.\\d) s ` +
    `\\(--lock-wait-ms ${waitMs}\\), so nothing was written \\(holder: pid ${process.pid} on host `);
  const m = re.exec(text(res));
  assert.ok(m, `message: ${text(res)}`);
  return Number(m[1]);
}

// Holds the lock of dir/rel as a live writer (this process) that took it
// ageMs ago; returns the lock file's path and content.
function hold(dir, rel, ageMs = 0) {
  const lock = path.join(dir, path.dirname(rel), `.${path.basename(rel)}.lock`);
  const body = JSON.stringify({ pid: process.pid, host: os.hostname(), time: Date.now() - ageMs });
  fs.writeFileSync(lock, body);
  return { lock, body };
}

const WRITERS = [
  ['write_file', { path: 'a.md', content: 'new\n' }, 'a.md', 'a.md'],
  ['edit_file', { path: 'a.md', edits: [{ oldText: 'old', newText: 'new' }] }, 'a.md', 'a.md'],
  ['memory_bank_update', { projectName: 'p', fileName: 'f.md', content: 'new\n' }, 'p/f.md', 'p/f.md'],
];

describe(`lock settings (io=${RB_IO})`, () => {
  const dirs = [];
  const bank = () => {
    const d = tree({ 'a.md': 'old\n', 'p/f.md': 'old\n' });
    dirs.push(d);
    return d;
  };
  after(() => dirs.forEach(rmtree));

  test('--lock-wait-ms 400: every writer waits at least that long, then says so', async () => {
    const dir = bank();
    const s = await connect({ roots: [dir], args: ['--lock-wait-ms', '400'] });
    for (const [name, args, who, target] of WRITERS) {
      const { lock, body } = hold(dir, target);
      const t0 = Date.now();
      const r = await s.client.callTool({ name, arguments: args });
      const ms = Date.now() - t0;
      const waited = lockedOut(r, who, 400);
      assert.ok(ms >= 400, `${name} gave up after ${ms} ms`);
      assert.ok(waited >= 0.4, `${name} says it waited ${waited} s`);
      assert.equal(fs.readFileSync(path.join(dir, target), 'utf8'), 'old\n', 'nothing written');
      assert.equal(fs.readFileSync(lock, 'utf8'), body, 'the holder\'s lock is untouched');
      fs.unlinkSync(lock);
    }
    // Released: the write goes through.
    const r = await s.client.callTool({ name: 'write_file', arguments: { path: 'a.md', content: 'new\n' } });
    assert.ok(!r.isError, text(r));
    assert.equal(fs.readFileSync(path.join(dir, 'a.md'), 'utf8'), 'new\n');
    await s.client.close();
  });

  test('--lock-wait-ms 0 fails at once; --lock-stale-ms takes an old lock over', async () => {
    const dir = bank();
    const s = await connect({ roots: [dir], args: ['--lock-wait-ms', '0'] });
    // Held 3 s ago: not stale by default (60 s).
    for (const [name, args, who, target] of WRITERS) {
      const { lock, body } = hold(dir, target, 3000);
      lockedOut(await s.client.callTool({ name, arguments: args }), who, 0);
      assert.equal(fs.readFileSync(path.join(dir, target), 'utf8'), 'old\n');
      assert.equal(fs.readFileSync(lock, 'utf8'), body);
      fs.unlinkSync(lock);
    }
    await s.client.close();

    // The same 3-s-old locks with --lock-stale-ms 1000: taken over.
    const t = await connect({ roots: [dir], args: ['--lock-wait-ms', '0', '--lock-stale-ms', '1000'] });
    for (const [name, args, , target] of WRITERS) {
      fs.writeFileSync(path.join(dir, target), 'old\n');
      const { lock } = hold(dir, target, 3000);
      const r = await t.client.callTool({ name, arguments: args });
      assert.ok(!r.isError, `${name}: ${text(r)}`);
      assert.equal(fs.readFileSync(path.join(dir, target), 'utf8'), 'new\n');
      assert.ok(!fs.existsSync(lock), 'the stale lock was reaped and ours released');
    }
    assert.match(t.stderr(), /reaping a stale lock/);
    await t.client.close();
  });

  test('over Streamable HTTP the server\'s --lock-wait-ms applies to every session', async () => {
    const dir = bank();
    const srv = await startServer([dir], ['--lock-wait-ms', '0', '--state-dir', '']);
    try {
      const a = await connectHttp(srv.url);
      const b = await connectHttp(srv.url);
      const { lock } = hold(dir, 'p/f.md');
      for (const c of [a, b]) {
        const r = await c.client.callTool({ name: 'memory_bank_update', arguments: WRITERS[2][1] });
        lockedOut(r, 'p/f.md', 0);
      }
      fs.unlinkSync(lock);
      const r = await a.client.callTool({ name: 'memory_bank_update', arguments: WRITERS[2][1] });
      assert.ok(!r.isError, text(r));
      await a.client.close();
      await b.client.close();
    } finally {
      await srv.stop();
    }
  });

  test('ringbank call takes them too', () => {
    const dir = bank();
    const { lock } = hold(dir, 'a.md');
    const p = spawnSync(RB_BIN, ['call', 'write_file', JSON.stringify({ path: 'a.md', content: 'x' }), '--root', dir,
      `--io=${RB_IO}`, '--lock-wait-ms=0'], { encoding: 'utf8' });
    assert.equal(p.status, 1, p.stderr);
    lockedOut(JSON.parse(p.stdout), 'a.md', 0);
    fs.unlinkSync(lock);
    assert.equal(fs.readFileSync(path.join(dir, 'a.md'), 'utf8'), 'old\n');
  });

  test('bad values are usage errors (exit 2) that say what is expected', () => {
    const dir = bank();
    const cases = [
      ['--lock-wait-ms', '-1', /--lock-wait-ms expects a number from 0 to 600000, got '-1'/],
      ['--lock-wait-ms', 'soon', /--lock-wait-ms expects a number from 0 to 600000, got 'soon'/],
      ['--lock-wait-ms', '600001', /--lock-wait-ms expects a number from 0 to 600000, got '600001'/],
      ['--lock-wait-ms', '18446744073709551616', /--lock-wait-ms expects a number from 0 to 600000/],
      ['--lock-wait-ms', '', /--lock-wait-ms expects a number from 0 to 600000, got ''/],
      ['--lock-stale-ms', '0', /--lock-stale-ms expects a number from 1000 to 86400000, got '0'/],
      ['--lock-stale-ms', '5s', /--lock-stale-ms expects a number from 1000 to 86400000, got '5s'/],
    ];
    for (const [opt, v, want] of cases) {
      for (const argv of [['serve', `${opt}=${v}`, dir],
        ['call', 'write_file', '{"path":"a.md","content":"x"}', '--root', dir, opt, v]]) {
        const p = spawnSync(RB_BIN, argv, { encoding: 'utf8', input: '' });
        assert.equal(p.status, 2, `${argv.join(' ')}: exit ${p.status}, stderr ${p.stderr}`);
        assert.match(p.stderr, want, argv.join(' '));
        assert.equal(p.stdout, '', 'nothing on stdout');
      }
    }
    assert.equal(fs.readFileSync(path.join(dir, 'a.md'), 'utf8'), 'old\n');
  });
});
