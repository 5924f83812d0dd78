// search.test.mjs: search_memory_bank through the official MCP SDK client
// against the real binary (RB_IO=uring|threads): substring and regex
// matches, case (in)sensitivity, include/exclude globs, context lines, the
// maxResults cut with its truncation marker (exactly the sorted prefix),
// binary files and a 2 GiB sparse file skipped (the latter without being
// read), a regex syntax error reported, bad arguments, progress on a 4000
// file bank, cancellation mid-search with fds back to the baseline, and the
// server answering small requests meanwhile.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { connect, tree, rmtree, fdCount, cpuMs, waitFor, callSeeingProgress } from './lib.mjs';

function text(res) {
  return res.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');
}

async function ok(client, args, opts) {
  const res = await client.callTool({ name: 'search_memory_bank', arguments: args }, undefined, opts);
  assert.ok(!res.isError, `search ${JSON.stringify(args)} failed: ${text(res)}`);
  return res;
}

async function fails(client, args, re) {
  const res = await client.callTool({ name: 'search_memory_bank', arguments: args });
  assert.equal(res.isError, true, `search ${JSON.stringify(args)} should fail, got: ${text(res).slice(0, 200)}`);
  assert.match(text(res), re);
}

describe('search_memory_bank', () => {
  let dir, s;
  const files = {};
  // 40 dirs x 100 files: "needle" on line (d + f) % 9 + 1 of each file whose f % 3 == 0.
  for (let d = 0; d < 40; d++) {
    for (let f = 0; f < 100; f++) {
      const lines = [];
      for (let k = 0; k < 12; k++) lines.push(k === (d + f) % 9 && f % 3 === 0 ? `line ${k} has a Needle` : `line ${k}`);
      files[`bank${String(d).padStart(2, '0')}/f${String(f).padStart(3, '0')}.md`] = lines.join('\n') + '\n';
    }
  }
  files['misc/notes.txt'] = 'alpha\nNEEDLE in txt\nomega\n';
  files['misc/blob.bin'] = Buffer.from('needle\0needle\n');
  files['misc/crlf.md'] = 'one\r\ntwo needle\r\nthree\r\n';
  files['misc/utf8.md'] = Buffer.concat([Buffer.from('Ärger mit ÄRGER\n'), Buffer.from([0xff]),
    Buffer.from(' bad byte needle\n')]);
  const expected = [];
  for (const [p, c] of Object.entries(files)) {
    if (Buffer.isBuffer(c)) continue;
    c.split('\n').forEach((l, i) => { if (/needle/i.test(l)) expected.push([p, i + 1]); });
  }
  expected.push(['misc/utf8.md', 2]);
  expected.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));

  before(async () => {
    dir = tree(files);
    s = await connect({ roots: [dir] });
    await s.client.listTools(); // enables outputSchema validation in the SDK
  });
  after(async () => {
    await s.client.close();
    rmtree(dir);
  });

  test('substring, case-insensitive by default: exact totals, first maxResults in (path, line) order', async () => {
    const r = await ok(s.client, { query: 'needle', maxResults: 50 });
    const sc = r.structuredContent;
    assert.equal(sc.totalMatches, expected.length);
    assert.equal(sc.returned, 50);
    assert.equal(sc.truncated, true);
    assert.deepEqual(sc.matches.map((m) => [m.path, m.line]), expected.slice(0, 50));
    assert.match(text(r), new RegExp(`\\[truncated: showing the first 50 of ${expected.length} matches`));
    const lines = text(r).split('\n');
    assert.equal(lines[0], `${expected[0][0]}:${expected[0][1]}: line ${expected[0][1] - 1} has a Needle`);
    assert.equal(sc.binarySkipped, 1);
    assert.equal(sc.filesSearched, 4000 + 3); // notes.txt, crlf.md, utf8.md
  });

  test('the last results of a full listing are the sorted tail', async () => {
    const r = await ok(s.client, { query: 'needle', maxResults: 10000 });
    const out = text(r).split('\n').filter((l) => /^[^ ]+:\d+: /.test(l)).map((l) => {
      const m = /^([^:]+):(\d+): /.exec(l);
      return [m[1], Number(m[2])];
    });
    assert.deepEqual(out, expected);
    assert.equal(r.structuredContent.truncated, false);
  });

  test('caseSensitive, regex with ^ and $ per line, CRLF, invalid UTF-8', async () => {
    let r = await ok(s.client, { query: 'NEEDLE', caseSensitive: true });
    assert.deepEqual(r.structuredContent.matches.map((m) => m.path), ['misc/notes.txt']);
    r = await ok(s.client, { query: '^two needle$', regex: true, path: 'misc' });
    assert.deepEqual(r.structuredContent.matches.map((m) => [m.path, m.line, m.text]), [['crlf.md', 2, 'two needle']]);
    r = await ok(s.client, { query: 'ärger', path: 'misc' }); // non-ASCII caseless
    assert.equal(r.structuredContent.totalMatches, 1);
    r = await ok(s.client, { query: 'bad byte', path: 'misc' });
    assert.equal(r.structuredContent.matches[0].text, '\ufffd bad byte needle'); // repaired for JSON
  });

  test('include/exclude globs and contextLines', async () => {
    let r = await ok(s.client, { query: 'needle', include: '*.txt' });
    assert.equal(r.structuredContent.filesSearched, 1);
    r = await ok(s.client, { query: 'needle', include: ['bank0?/*.md'], exclude: 'f00*.md', maxResults: 10000 });
    const want = expected.filter(([p]) => /^bank0\d\/f0[1-9]/.test(p));
    assert.deepEqual(r.structuredContent.matches?.map((m) => [m.path, m.line]) ?? want, want);
    assert.equal(r.structuredContent.totalMatches, want.length);
    r = await ok(s.client, { query: 'NEEDLE in', path: 'misc', contextLines: 1 });
    const m = r.structuredContent.matches[0];
    assert.deepEqual([m.before, m.line, m.after], [['alpha'], 2, ['omega']]);
    assert.equal(text(r).split('\n').slice(0, 3).join('\n'),
      'notes.txt-1- alpha\nnotes.txt:2: NEEDLE in txt\nnotes.txt-3- omega');
  });

  test('failures: regex syntax, empty query, bad arguments, outside the root, missing path', async () => {
    await fails(s.client, { query: 'a(b', regex: true },
      /^query: invalid regular expression at offset 3: missing closing parenthesis$/);
    await fails(s.client, { query: '' }, /query: must not be empty/);
    await fails(s.client, { query: 'x', maxResults: 0 }, /maxResults: must be at least 1/);
    await fails(s.client, { query: 'x', contextLines: 50 }, /contextLines: 50 is over the maximum of 10/);
    await fails(s.client, { query: 'x', include: 5 }, /include: expected a glob string or an array of them/);
    await fails(s.client, { query: 'x', path: '/etc' }, /outside/);
    await fails(s.client, { query: 'x', path: 'nope' }, /nope: no such file or directory/);
  });

  test('a 2 GiB sparse file is skipped without being read', async () => {
    const big = path.join(dir, 'misc/huge.md');
    const fd = fs.openSync(big, 'w');
    fs.ftruncateSync(fd, 2 * 1024 ** 3);
    fs.closeSync(fd);
    // Not read: reading 2 GiB (page cache for the holes, then the scan)
    // costs seconds of CPU; the server spends a few ms. CPU time, not wall
    // time, so that a loaded machine does not fail it.
    const cpu0 = cpuMs(s.pid);
    const r = await ok(s.client, { query: 'needle', path: 'misc' });
    const cpu = cpuMs(s.pid) - cpu0;
    assert.ok(cpu < 500, `the server used ${cpu} ms of CPU`);
    assert.equal(r.structuredContent.tooLargeSkipped, 1);
    assert.match(text(r), /1 files over the size limit skipped/);
    fs.unlinkSync(big);
  });

  test('progress notifications; cancellation mid-search; fds back to baseline; small calls still served', async () => {
    const { r: first, progress } = await callSeeingProgress(s.client,
      { name: 'search_memory_bank', arguments: { query: 'zzz-no-such-text' } });
    assert.ok(!first.isError, text(first));
    assert.ok(progress.length >= 1, 'progress was reported');
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i].progress > progress[i - 1].progress);

    const base = fdCount(s.pid);
    // The SDK handles notifications a microtask after responses: when the
    // first progress and the result arrive in one read, the result wins and
    // the abort comes too late (on a loaded machine, often). So: some rounds
    // must be cancelled (at least 5 rounds, more until one is), none may
    // fail otherwise, and fds must come back either way.
    let aborted = 0;
    for (let round = 0; round < 5 || (aborted === 0 && round < 30); round++) {
      const ac = new AbortController();
      let seen = 0;
      const call = s.client.callTool({ name: 'search_memory_bank', arguments: { query: 'zzz', regex: true } }, undefined,
        { signal: ac.signal, onprogress: () => { if (++seen === 1) ac.abort('test'); } });
      try {
        const r = await call;
        assert.ok(!r.isError, 'a search that won the race still succeeds');
      } catch (e) {
        assert.match(String(e), /abort|test/i);
        aborted++;
      }
    }
    assert.ok(aborted >= 1, 'at least one search was cancelled mid-way');
    await waitFor(`the fd count back to the baseline (${base})`, () => fdCount(s.pid) <= base,
      { describe: () => `${fdCount(s.pid)} fds` });
    // While a bulk search runs, a small read is answered: before the search
    // (4000 file reads) ends, however slow the machine.
    let bulkDone = false;
    const bulk = ok(s.client, { query: 'line 5' , maxResults: 1 }).finally(() => { bulkDone = true; });
    const t0 = Date.now();
    const r = await s.client.callTool({ name: 'memory_bank_read', arguments: { projectName: 'misc', fileName: 'notes.txt' } });
    assert.equal(text(r), 'alpha\nNEEDLE in txt\nomega\n');
    const small = Date.now() - t0;
    assert.equal(bulkDone, false, `the small read (${small} ms) waited for the bulk search`);
    const b = await bulk;
    assert.equal(b.structuredContent.totalMatches, 4000);
  });
});
