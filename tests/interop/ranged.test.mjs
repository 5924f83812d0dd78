// ranged.test.mjs: read_text_file's head/tail on files too big to read whole,
// driven by the official MCP SDK client over stdio (RB_IO=uring|threads).
//
// Two servers share one tree: `whole` with the default limits (files up to
// 8 MiB are read whole for head/tail, so their result carries the version)
// and `ranged` with --max-file-bytes 1048576, where the same 3 MiB files are
// over the limit and head/tail read them by ranges (forward for head,
// backward from the end for tail). Both must give byte-identical text, equal
// to a reference written here from the official server's semantics (tail
// converts CRLF, counts a final newline as an empty last line; head drops
// one final newline), for lines of varying length, multi-byte characters,
// CRLF (with a "\r\n" split exactly across the first tail range), no final
// newline, N larger than the file's line count, and N = 0 (no head/tail:
// the whole file, refused when over the limit). A 70 MiB sparse log checks
// the default limit itself. Results over the 8 MiB reply limit are refused
// with the same sentence as before. With RB_OFFICIAL_FS set, the official
// server's answers for the same calls are compared too.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

import { connect, tree, rmtree, fdSettle, fdCount } from './lib.mjs';

const MIB = 1024 * 1024;
const FIRST_RANGE = 64 * 1024; // src/tools/files.c RTF_CHUNK

function text(res) {
  return res.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');
}

function sha(data) {
  return createHash('sha256').update(data).digest('hex');
}

// A deterministic generator (the same files on every run).
function rng(seed) {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 4294967296;
  };
}

// About `size` bytes of lines of varying length (empty, short, a few of
// 100 KiB so that lines span ranges), with multi-byte characters.
function lines(size, eol, seed) {
  const r = rng(seed);
  const words = ['alpha', 'beta', 'γάμμα', 'delta', 'ε', '日本語', '🙂', 'zeta', '', 'x'];
  const parts = [];
  let n = 0;
  for (let i = 0; n < size; i++) {
    let line;
    const k = r();
    if (k < 0.05) line = '';
    else if (k < 0.052) line = 'L'.repeat(100 * 1024 + Math.floor(r() * 1000));
    else {
      const w = [];
      for (let j = Math.floor(r() * 40); j >= 0; j--) w.push(words[Math.floor(r() * words.length)]);
      line = `${i}: ${w.join(' ')}`;
    }
    parts.push(line + eol);
    n += Buffer.byteLength(line) + eol.length;
  }
  return Buffer.from(parts.join(''));
}

// The reference semantics (docs/PARITY.md), on bytes.
function refHead(buf, n) {
  let at = -1;
  for (let seen = 0; seen < n; seen++) {
    at = buf.indexOf(0x0a, at + 1);
    if (at < 0) break;
  }
  if (at >= 0) return buf.subarray(0, at).toString('utf8');
  return (buf.length && buf[buf.length - 1] === 0x0a ? buf.subarray(0, buf.length - 1) : buf).toString('utf8');
}

function refTail(buf, n) {
  const s = buf.toString('latin1').replace(/\r\n/g, '\n');
  return Buffer.from(s.split('\n').slice(-n).join('\n'), 'latin1').toString('utf8');
}

describe('read_text_file head/tail past the whole-read limit', () => {
  let dir, whole, ranged;
  const files = {};
  before(async () => {
    files['big.md'] = lines(3 * MIB, '\n', 1);
    // CRLF, no final newline, a lone "\r" and a "\r\r\n", and a "\r\n"
    // split across the first tail range: "\r" its last byte before it,
    // "\n" its first.
    let crlf = Buffer.concat([Buffer.from('lone\rcr\r\r\n'), lines(3 * MIB, '\r\n', 2)]);
    crlf = crlf.subarray(0, crlf.length - 2);
    const j = crlf.indexOf(0x0a, crlf.length - FIRST_RANGE); // a line end in the last range
    assert.ok(j > 0);
    crlf = Buffer.concat([crlf, Buffer.alloc(j + FIRST_RANGE - crlf.length, 'z')]); // moved to its first byte
    assert.equal(crlf[crlf.length - FIRST_RANGE], 0x0a);
    assert.equal(crlf[crlf.length - FIRST_RANGE - 1], 0x0d);
    files['crlf.md'] = crlf;
    // Three long lines: any N above 3 reaches the start/end of the file.
    files['few.md'] = Buffer.from(['a'.repeat(MIB), 'b'.repeat(MIB), 'c'.repeat(MIB)].join('\n') + '\n');
    // One 2 MiB line without a newline.
    files['one-line.md'] = Buffer.from('é'.repeat(MIB));
    dir = tree(files);
    whole = await connect({ roots: [dir] });
    ranged = await connect({ roots: [dir], args: ['--max-file-bytes', '1048576'] });
    await whole.client.listTools(); // the SDK then validates structuredContent against outputSchema
    await ranged.client.listTools();
  });
  after(async () => {
    await whole?.client.close();
    await ranged?.client.close();
    if (dir) rmtree(dir);
  });

  const cases = [];
  for (const name of ['big.md', 'crlf.md', 'few.md', 'one-line.md']) {
    for (const n of [1, 2, 4, 100, 20000, 1000000]) {
      cases.push([name, 'head', n]);
      cases.push([name, 'tail', n]);
    }
  }

  test('the same text as the whole-file path and the reference, {size} without a version', async () => {
    const base = fdCount(ranged.pid);
    for (const [name, kind, n] of cases) {
      const args = { path: name, [kind]: n };
      const want = kind === 'head' ? refHead(files[name], n) : refTail(files[name], n);
      const a = await whole.client.callTool({ name: 'read_text_file', arguments: args });
      const b = await ranged.client.callTool({ name: 'read_text_file', arguments: args });
      const what = `${JSON.stringify(args)}`;
      assert.ok(!a.isError, `whole ${what}: ${text(a).slice(0, 200)}`);
      assert.ok(!b.isError, `ranged ${what}: ${text(b).slice(0, 200)}`);
      assert.ok(text(a) === want, `whole ${what}: differs from the reference`);
      assert.ok(text(b) === want, `ranged ${what}: differs from the reference`);
      // Within 8 MiB the whole path gives the version; past the limit there is none.
      assert.deepEqual(a.structuredContent, { size: files[name].length, version: sha(files[name]) }, what);
      assert.deepEqual(b.structuredContent, { size: files[name].length }, what);
    }
    assert.ok(await fdSettle(ranged.pid, base) <= base, 'no fd left open by the ranged reads');
  });

  test('N = 0 is no head/tail (the whole file): refused past the limit, pointing to head/tail', async () => {
    for (const kind of ['head', 'tail']) {
      const a = await whole.client.callTool({ name: 'read_text_file', arguments: { path: 'big.md', [kind]: 0 } });
      assert.ok(!a.isError);
      assert.ok(text(a) === files['big.md'].toString('utf8'));
      const b = await ranged.client.callTool({ name: 'read_text_file', arguments: { path: 'big.md', [kind]: 0 } });
      assert.equal(b.isError, true);
      assert.match(text(b), /^big\.md: too large to read whole \(over the server's limit of 1048576 bytes, --max-file-bytes\): read part of it with head or tail$/);
    }
  });

  test('a result over the 8 MiB reply limit is refused, whichever path read it', async () => {
    fs.writeFileSync(path.join(dir, 'wide.md'), Buffer.concat([Buffer.alloc(9 * MIB, 'w'), Buffer.from('\nend\n')]));
    for (const srv of [whole, ranged]) {
      const r = await srv.client.callTool({ name: 'read_text_file', arguments: { path: 'wide.md', head: 1 } });
      assert.equal(r.isError, true);
      // Stopped early ("more than"), or at the end of the file (the length).
      assert.match(text(r), /^wide\.md: too large to return in one reply \((more than \d+|9437184) bytes; the limit is about 8 MiB\): (ask for fewer lines|read part of it with head or tail)$/);
      const t = await srv.client.callTool({ name: 'read_text_file', arguments: { path: 'wide.md', tail: 2 } });
      assert.ok(!t.isError, text(t));
      assert.equal(text(t), 'end\n');
    }
    // Within the whole-read limit the length is known: the old sentence.
    fs.writeFileSync(path.join(dir, 'wide7.md'), Buffer.concat([Buffer.alloc(7 * MIB, '"'), Buffer.from('\n')]));
    const w = await whole.client.callTool({ name: 'read_text_file', arguments: { path: 'wide7.md', head: 1 } });
    assert.equal(w.isError, true);
    assert.match(text(w), /^wide7\.md: too large to return in one reply \(7340032 bytes; the limit is about 8 MiB\): read part of it with head or tail$/);
  });

  test('not a regular file, missing, outside: the same errors on the ranged path', async () => {
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.symlinkSync('/etc/passwd', path.join(dir, 'out-link'));
    for (const kind of ['head', 'tail']) {
      for (const [p, re] of [['sub', /^sub: not a regular file$/], ['nope.md', /^nope\.md: no such file or directory$/],
        ['out-link', /^out-link: outside the allowed directories$/]]) {
        const r = await ranged.client.callTool({ name: 'read_text_file', arguments: { path: p, [kind]: 3 } });
        assert.equal(r.isError, true);
        assert.match(text(r), re);
      }
    }
  });
});

describe('a 70 MiB log, default limits', () => {
  let dir, s;
  const head = 'first line\nsecond line\nthird\n';
  const tail = 'tail 1\r\ntail 2\r\nlast, no newline';
  before(async () => {
    dir = tree({});
    // Sparse: only the ends hold data, so the test writes a few bytes.
    const fd = fs.openSync(path.join(dir, 'app.log'), 'w');
    fs.writeSync(fd, head, 0);
    fs.writeSync(fd, tail, 70 * MIB - Buffer.byteLength(tail));
    fs.closeSync(fd);
    s = await connect({ roots: [dir] });
  });
  after(async () => {
    await s?.client.close();
    if (dir) rmtree(dir);
  });

  test('head and tail work; the whole file is refused', async () => {
    let r = await s.client.callTool({ name: 'read_text_file', arguments: { path: 'app.log', head: 2 } });
    assert.ok(!r.isError, text(r));
    assert.equal(text(r), 'first line\nsecond line');
    assert.deepEqual(r.structuredContent, { size: 70 * MIB });
    r = await s.client.callTool({ name: 'read_text_file', arguments: { path: 'app.log', tail: 2 } });
    assert.ok(!r.isError, text(r));
    assert.equal(text(r), 'tail 2\nlast, no newline');
    r = await s.client.callTool({ name: 'read_text_file', arguments: { path: 'app.log' } });
    assert.equal(r.isError, true);
    assert.match(text(r), /^app\.log: too large to read whole \(over the server's limit of 67108864 bytes, --max-file-bytes\): read part of it with head or tail$/);
    // The NUL-filled middle is one 70 MiB line: past the reply limit.
    r = await s.client.callTool({ name: 'read_text_file', arguments: { path: 'app.log', head: 4 } });
    assert.equal(r.isError, true);
    assert.match(text(r), /too large to return in one reply \(more than \d+ bytes/);
  });
});

// ---- parity with the official server on the big files ----------------------
const OFFICIAL = process.env.RB_OFFICIAL_FS;

describe('ranged head/tail: parity with @modelcontextprotocol/server-filesystem', { skip: !OFFICIAL && 'set RB_OFFICIAL_FS to its dist/index.js' }, () => {
  let dir, ours, theirs;
  const files = {};
  before(async () => {
    files['big.md'] = lines(3 * MIB, '\n', 3);
    files['crlf.md'] = lines(3 * MIB, '\r\n', 4);
    dir = tree(files);
    ours = await connect({ roots: [dir], args: ['--max-file-bytes', '1048576'] });
    theirs = new Client({ name: 'parity', version: '1.0.0' });
    await theirs.connect(new StdioClientTransport({ command: process.execPath, args: [OFFICIAL, dir], stderr: 'pipe' }));
  });
  after(async () => {
    await ours?.client.close();
    await theirs?.close();
    if (dir) rmtree(dir);
  });

  test('same text for head and tail', async () => {
    for (const name of Object.keys(files)) {
      for (const n of [1, 5, 333, 5000, 1000000]) {
        for (const kind of ['head', 'tail']) {
          const args = { path: name, [kind]: n };
          const a = await ours.client.callTool({ name: 'read_text_file', arguments: args });
          const b = await theirs.callTool({ name: 'read_text_file', arguments: args });
          assert.ok(!a.isError && !b.isError, `${JSON.stringify(args)}: ours ${text(a).slice(0, 100)} theirs ${text(b).slice(0, 100)}`);
          assert.ok(text(a) === text(b), `${JSON.stringify(args)}: texts differ`);
        }
      }
    }
  });
});
