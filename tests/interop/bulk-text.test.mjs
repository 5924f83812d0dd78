// bulk-text.test.mjs: read_multiple_files writes its result's text straight
// into the reply (src/tools/jsonout.c, one escaping pass) instead of handing
// a string to the JSON writer. What the client decodes must still be exactly
// what the official server sends: each file as Node decodes it
// (fs.readFile(p, 'utf-8'): invalid UTF-8 becomes U+FFFD per maximal invalid
// subpart), "path:\n<content>\n" sections joined by "\n---\n". The files
// hold what a JSON string has to escape or must not: every byte value,
// controls and NUL, quotes and backslashes, U+2028/2029, astral characters,
// each kind of invalid UTF-8, long runs across the escaper's 16-byte blocks,
// and paths with quotes, backslashes and non-ASCII letters.
// With RB_OFFICIAL_FS=/path/to/server-filesystem/dist/index.js the same
// call also goes to the official server and the texts are compared.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

import { connect, raw, tree, rmtree } from './lib.mjs';

const OFFICIAL = process.env.RB_OFFICIAL_FS;

function text(res) {
  return res.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');
}

// Deterministic pseudo-random bytes (xorshift), so a failure reproduces.
function bytes(n, seed) {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const invalid = Buffer.concat([
  Buffer.from('lone continuation '), Buffer.from([0x80, 0xbf]),
  Buffer.from(' overlong '), Buffer.from([0xc0, 0xaf, 0xe0, 0x80, 0xaf, 0xf0, 0x80, 0x80, 0xaf]),
  Buffer.from(' surrogate '), Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from(' above U+10FFFF '), Buffer.from([0xf4, 0x90, 0x80, 0x80, 0xf5]),
  Buffer.from(' truncated '), Buffer.from([0xe2, 0x82]), Buffer.from(' x '), Buffer.from([0xf0, 0x9f, 0x98]),
  Buffer.from('\n'),
]);
const files = {
  'all-bytes.bin': allBytes,
  'controls.txt': 'NUL\0 SOH\x01 BS\b TAB\t LF\n VT\x0b FF\f CR\r US\x1f DEL\x7f end',
  'quotes.md': 'say "hi" \\ and \\" and \\\\n (not a newline)\r\n',
  'unicode.md': 'café – “quotes” U+2028[\u2028] U+2029[\u2029] astral 😀𝄞 BOM\ufeff\n',
  'invalid.txt': invalid,
  'ends-mid-sequence.txt': Buffer.from([0x61, 0x62, 0xf0, 0x9f, 0x98]),
  'empty.md': '',
  'long-lines.md': `${'x'.repeat(100)}"${'y'.repeat(31)}\\${'z'.repeat(15)}é${'w'.repeat(17)}\n`.repeat(50),
  'random-1.bin': bytes(5000, 1),
  'random-2.bin': bytes(777, 2),
  'dir with "quotes" and \\ back/naïve ünïcode 名前.md': 'name test\n',
};

describe('read_multiple_files: the text survives the one-pass escaper', () => {
  let dir, s;
  const paths = Object.keys(files);
  before(async () => {
    dir = tree(files);
    s = await connect({ roots: [dir] });
  });
  after(async () => {
    await s.client.close();
    rmtree(dir);
  });

  const expected = (list) => list.map((p) => `${p}:\n${fs.readFileSync(path.join(dir, p), 'utf-8')}\n`).join('\n---\n');

  test('every file decoded as Node decodes it, in order', async () => {
    const r = await s.client.callTool({ name: 'read_multiple_files', arguments: { paths } });
    assert.ok(!r.isError, text(r).slice(0, 300));
    assert.equal(r.content.length, 1);
    assert.equal(text(r), expected(paths));
  });

  test('absolute paths, repeated files and an error section among them', async () => {
    const list = [path.join(dir, 'invalid.txt'), 'missing.md', 'controls.txt', 'controls.txt'];
    const r = await s.client.callTool({ name: 'read_multiple_files', arguments: { paths: list } });
    assert.ok(!r.isError, text(r).slice(0, 300));
    const want = [
      `${list[0]}:\n${fs.readFileSync(list[0], 'utf-8')}\n`,
      'missing.md: Error - no such file or directory',
      `controls.txt:\n${fs.readFileSync(path.join(dir, 'controls.txt'), 'utf-8')}\n`,
      `controls.txt:\n${fs.readFileSync(path.join(dir, 'controls.txt'), 'utf-8')}\n`,
    ].join('\n---\n');
    assert.equal(text(r), want);
  });

  // On the wire: one line, a valid JSON text, whose result is the same
  // object the SDK saw (the text is a raw value inside the reply).
  test('the reply is one well-formed JSON line on the wire', async () => {
    const r = raw([dir]);
    await r.initialize();
    r.send({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'read_multiple_files', arguments: { paths } } });
    const m = await r.response(7);
    assert.deepEqual(Object.keys(m.result.content[0]), ['type', 'text']);
    assert.equal(m.result.content[0].text, expected(paths));
    await r.close();
  });

  test('the same text as the official server', { skip: !OFFICIAL && 'set RB_OFFICIAL_FS to its dist/index.js' }, async () => {
    const theirs = new Client({ name: 'parity', version: '1.0.0' });
    await theirs.connect(new StdioClientTransport({ command: process.execPath, args: [OFFICIAL, dir], stderr: 'pipe' }));
    try {
      const a = await s.client.callTool({ name: 'read_multiple_files', arguments: { paths } });
      const b = await theirs.callTool({ name: 'read_multiple_files', arguments: { paths } });
      assert.ok(!a.isError && !b.isError, `ours: ${text(a).slice(0, 200)}\ntheirs: ${text(b).slice(0, 200)}`);
      assert.equal(text(a), text(b));
    } finally {
      await theirs.close();
    }
  });
});
