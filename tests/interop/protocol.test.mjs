// protocol.test.mjs: the MCP protocol layer of ringbank against the official
// SDK client (and raw pipes for what no well-behaved client sends):
// lifecycle and version negotiation, ping, tools/list, errors and bad input
// that must never kill the session, pipelining, logging, roots, shutdown.
// Run: RB_IO=uring|threads node --test
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { McpError, ListRootsRequestSchema, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { connect, raw, tree, rmtree, fdCount, fdSettle, peakRss, sleep, waitFor, callSeeingProgress, RB_IO } from './lib.mjs';

const LATEST = '2025-11-25';
let root;

before(() => {
  root = tree({ 'notes/a.md': '# a\n', 'sub/b.md': 'b\n', 'with space/c.md': 'c\n', 'other/d.md': 'd\n' });
});
after(() => rmtree(root));

describe(`lifecycle (io=${RB_IO})`, () => {
  test('initialize through the SDK: server info, capabilities, instructions', async () => {
    const { client } = await connect({ roots: [root] });
    try {
      const info = client.getServerVersion();
      assert.equal(info.name, 'ringbank');
      assert.match(info.version, /^\d+\.\d+\.\d+/);
      const caps = client.getServerCapabilities();
      assert.deepEqual(caps.tools, { listChanged: false });
      assert.deepEqual(caps.logging, {});
      assert.match(client.getInstructions(), /list_allowed_directories/);
      assert.deepEqual(await client.ping(), {});
    } finally {
      await client.close();
    }
  });

  test('version negotiation: supported versions echoed, unknown -> latest', async () => {
    for (const [asked, want] of [
      ['2025-11-25', '2025-11-25'], ['2025-06-18', '2025-06-18'], ['2025-03-26', '2025-03-26'],
      ['2024-11-05', '2024-11-05'], ['1999-01-01', LATEST], ['2030-01-01', LATEST],
    ]) {
      const s = raw([root]);
      const r = await s.initialize(asked);
      assert.equal(r.result.protocolVersion, want, `asked ${asked}`);
      assert.equal(r.result.serverInfo.name, 'ringbank');
      assert.equal((await s.close()).code, 0);
    }
  });

  test('before initialize: ping is answered, other requests refused, then initialize works', async () => {
    const s = raw([root]);
    s.send({ jsonrpc: '2.0', id: 1, method: 'ping' });
    assert.deepEqual((await s.response(1)).result, {});
    s.send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    const r = await s.response(2);
    assert.equal(r.error.code, -32600);
    assert.match(r.error.message, /not initialized/);
    s.send({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'list_allowed_directories' } });
    assert.equal((await s.response(3)).error.code, -32600);
    const init = await s.initialize();
    assert.equal(init.result.protocolVersion, LATEST);
    s.send({ jsonrpc: '2.0', id: 4, method: 'tools/list' });
    assert.ok(Array.isArray((await s.response(4)).result.tools));
    // A second initialize is refused; the session goes on.
    s.send({ jsonrpc: '2.0', id: 5, method: 'initialize',
      params: { protocolVersion: LATEST, capabilities: {}, clientInfo: { name: 'x', version: '1' } } });
    assert.equal((await s.response(5)).error.code, -32600);
    s.send({ jsonrpc: '2.0', id: 6, method: 'ping' });
    assert.deepEqual((await s.response(6)).result, {});
    assert.equal((await s.close()).code, 0);
  });

  test('initialize with bad params: -32602 naming the field', async () => {
    const s = raw([root]);
    s.send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { capabilities: {} } });
    const r = await s.response(1);
    assert.equal(r.error.code, -32602);
    assert.match(r.error.message, /protocolVersion/);
    assert.equal((await s.initialize()).result.protocolVersion, LATEST);
    await s.close();
  });
});

describe(`tools (io=${RB_IO})`, () => {
  let c;
  before(async () => { c = await connect({ roots: [root] }); });
  after(async () => { await c.client.close(); });

  test('tools/list: schemas and annotations', async () => {
    const { tools } = await c.client.listTools();
    assert.ok(tools.length >= 1);
    const names = new Set();
    for (const t of tools) {
      assert.ok(!names.has(t.name), `duplicate tool ${t.name}`);
      names.add(t.name);
      assert.match(t.name, /^[a-z_]+$/);
      assert.ok(t.description.length > 20, `${t.name} has a description`);
      assert.equal(t.inputSchema.type, 'object', `${t.name} inputSchema`);
      if (t.outputSchema) assert.equal(t.outputSchema.type, 'object', `${t.name} outputSchema`);
      for (const h of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'])
        assert.equal(typeof t.annotations[h], 'boolean', `${t.name} ${h}`);
      assert.equal(t.annotations.title, t.title);
    }
    const lad = tools.find((t) => t.name === 'list_allowed_directories');
    assert.ok(lad);
    assert.equal(lad.annotations.readOnlyHint, true);
    assert.deepEqual(lad.outputSchema.required, ['content', 'directories']);
  });

  test('list_allowed_directories: official text, structured list', async () => {
    const r = await c.client.callTool({ name: 'list_allowed_directories', arguments: {} });
    assert.equal(r.isError, undefined);
    assert.equal(r.content[0].text, `Allowed directories:\n${root}`);
    assert.deepEqual(r.structuredContent.directories, [root]);
  });

  test('unknown tool: JSON-RPC -32602 "Unknown tool: X"', async () => {
    await assert.rejects(c.client.callTool({ name: 'no_such_tool', arguments: {} }), (e) => {
      assert.ok(e instanceof McpError);
      assert.equal(e.code, -32602);
      assert.match(e.message, /Unknown tool: no_such_tool/);
      return true;
    });
    assert.deepEqual(await c.client.ping(), {});
  });

  test('200 pipelined requests, all answered with the right result', async () => {
    const ps = [];
    for (let i = 0; i < 200; i++) {
      ps.push(i % 2
        ? c.client.ping().then((r) => assert.deepEqual(r, {}))
        : c.client.callTool({ name: 'list_allowed_directories', arguments: {} })
          .then((r) => assert.deepEqual(r.structuredContent.directories, [root])));
    }
    await Promise.all(ps);
  });

  test('logging/setLevel accepts every level', async () => {
    for (const l of ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'])
      assert.deepEqual(await c.client.setLoggingLevel(l), {});
  });
});

describe(`result shaping (io=${RB_IO})`, () => {
  test('before 2025-06-18: no outputSchema, no structuredContent (folded into text)', async () => {
    const s = raw([root]);
    assert.equal((await s.initialize('2025-03-26')).result.protocolVersion, '2025-03-26');
    s.send({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    const { tools } = (await s.response(1)).result;
    assert.ok(tools.every((t) => t.outputSchema === undefined));
    s.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'list_allowed_directories', arguments: {} } });
    const r = (await s.response(2)).result;
    assert.equal(r.structuredContent, undefined);
    assert.equal(r.content[0].text, `Allowed directories:\n${root}`);
    await s.close();
  });

  test('a result over the reply limit becomes an isError result saying so', async () => {
    const big = tree({ 'big.md': 'x'.repeat(20000) + '\n', 'small.md': 'y\n' });
    const s = raw([big], ['--max-reply-bytes', '8192']);
    try {
      await s.initialize();
      s.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'list_allowed_directories', arguments: {} } });
      assert.deepEqual((await s.response(1)).result.structuredContent.directories, [big]);
      s.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'read_text_file', arguments: { path: 'big.md' } } });
      const r = await s.response(2);
      assert.equal(r.result.isError, true);
      assert.match(r.result.content[0].text, /read_text_file: the result was \d+ bytes, over the 8192-byte reply limit; page with head\/tail/);
      assert.ok(JSON.stringify(r).length < 8192);
      s.send({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'read_text_file', arguments: { path: 'small.md' } } });
      assert.equal((await s.response(3)).result.content[0].text, 'y\n');
      assert.equal((await s.close()).code, 0);
    } finally {
      rmtree(big);
    }
  });
});

describe(`bad input never kills the session (io=${RB_IO})`, () => {
  test('garbage, non-objects, wrong jsonrpc, bad ids, unknown method, bad params', async () => {
    const s = raw([root]);
    await s.initialize();
    const cases = [
      ['this is not json\n', null, -32700, /Parse error/],
      ['{"jsonrpc":"2.0","id":1,"method":"ping"\n', null, -32700, /Parse error/],
      ['[{"jsonrpc":"2.0","id":1,"method":"ping"}]\n', null, -32600, /batch/],
      ['42\n', null, -32600, /object/],
      ['"str"\n', null, -32600, /object/],
      ['{"jsonrpc":"1.0","id":7,"method":"ping"}\n', 7, -32600, /jsonrpc/],
      ['{"id":8,"method":"ping"}\n', 8, -32600, /jsonrpc/],
      ['{"jsonrpc":"2.0","id":1.5,"method":"ping"}\n', null, -32600, /id/],
      ['{"jsonrpc":"2.0","id":[1],"method":"ping"}\n', null, -32600, /id/],
      ['{"jsonrpc":"2.0","id":9,"method":7}\n', 9, -32600, /method/],
      ['{"jsonrpc":"2.0","id":10}\n', 10, -32600, /method/],
      ['{"jsonrpc":"2.0","id":11,"method":"resources/list"}\n', 11, -32601, /resources\/list/],
      ['{"jsonrpc":"2.0","id":12,"method":"tools/call","params":[1]}\n', 12, -32602, /params/],
      ['{"jsonrpc":"2.0","id":13,"method":"tools/call","params":{}}\n', 13, -32602, /params\.name/],
      ['{"jsonrpc":"2.0","id":14,"method":"tools/call","params":{"name":"list_allowed_directories","arguments":[]}}\n',
        14, -32602, /params\.arguments/],
      ['{"jsonrpc":"2.0","id":15,"method":"logging/setLevel","params":{"level":"loud"}}\n', 15, -32602, /params\.level/],
      ['{"jsonrpc":"2.0","id":"s16","method":"no/such/method"}\n', 's16', -32601, /no\/such\/method/],
    ];
    let n = 100;
    for (const [line, id, code, re] of cases) {
      s.write(line);
      const m = await s.reply();
      assert.equal(m.jsonrpc, '2.0');
      assert.equal(m.id, id, line);
      assert.equal(m.error?.code, code, line);
      assert.match(m.error.message, re, line);
      // ... and the session is still alive.
      s.send({ jsonrpc: '2.0', id: ++n, method: 'ping' });
      assert.deepEqual((await s.response(n)).result, {});
    }
    // Empty lines and stray notifications get no answer at all.
    s.write('\n\r\n   \n{"jsonrpc":"2.0","method":"notifications/whatever"}\n');
    s.send({ jsonrpc: '2.0', id: 'last', method: 'ping' });
    const m = await s.reply();
    assert.equal(m.id, 'last');
    assert.equal((await s.close()).code, 0);
  });

  test('invalid UTF-8 is refused with a clear -32700', async () => {
    const s = raw([root]);
    await s.initialize();
    const head = '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"';
    s.write(Buffer.concat([
      Buffer.from(head),
      Buffer.from([0xc3, 0x28, 0xff]),
      Buffer.from('"}}\n'),
    ]));
    const m = await s.reply();
    assert.equal(m.id, null);
    assert.equal(m.error.code, -32700);
    assert.match(m.error.message, new RegExp(`invalid UTF-8 at byte ${head.length}\\b`));
    s.send({ jsonrpc: '2.0', id: 2, method: 'ping' });
    assert.deepEqual((await s.response(2)).result, {});
    // Valid multi-byte UTF-8 goes through untouched.
    s.send({ jsonrpc: '2.0', id: 'é€😀', method: 'ping' });
    assert.deepEqual((await s.response('é€😀')).result, {});
    await s.close();
  });

  test('an oversized line is refused and skipped without being buffered', async () => {
    const s = raw([root], ['--max-message-bytes', '4096']);
    await s.initialize();
    const base = peakRss(s.pid);
    // Exactly the limit passes the framing (and is a parse error of its own).
    s.write('x'.repeat(4096) + '\n');
    let m = await s.reply();
    assert.equal(m.error.code, -32700);
    // 64 MiB in one line, written in pieces.
    const chunk = Buffer.alloc(1 << 20, 0x61);
    const head = '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"';
    s.write(head);
    for (let i = 0; i < 64; i++) s.write(chunk);
    s.write('"}}\n');
    m = await s.reply(30000);
    assert.equal(m.id, null);
    assert.equal(m.error.code, -32600);
    const total = head.length + 64 * (1 << 20) + 3;
    assert.equal(m.error.message, `message of ${total} bytes exceeds the limit of 4096 bytes`);
    s.send({ jsonrpc: '2.0', id: 2, method: 'ping' });
    assert.deepEqual((await s.response(2)).result, {});
    // The 64 MiB line never sat in memory.
    assert.ok(peakRss(s.pid) - base < 16 << 20, `peak RSS grew by ${(peakRss(s.pid) - base) >> 20} MiB`);
    assert.equal((await s.close()).code, 0);
  });

  test('the default limit is 16 MiB', async () => {
    const s = raw([root]);
    await s.initialize();
    s.write('{"pad":"' + 'b'.repeat(16 << 20) + '"}\n');
    const m = await s.reply(30000);
    assert.equal(m.error.code, -32600);
    assert.match(m.error.message, /exceeds the limit of 16777216 bytes/);
    s.send({ jsonrpc: '2.0', id: 1, method: 'ping' });
    assert.deepEqual((await s.response(1)).result, {});
    await s.close();
  });

  test('a client that stops reading replies: the server stops reading too, memory stays flat', async () => {
    const s = raw([root]);
    await s.initialize();
    s.child.stdout.pause();
    const N = 200000;
    let batch = '';
    for (let i = 0; i < N; i++) batch += `{"jsonrpc":"2.0","id":${i},"method":"ping"}\n`;
    s.write(batch); // ~8 MiB in, ~7 MiB of replies
    await sleep(1500);
    // What the server has not read is still buffered on our side: it
    // stopped reading once its queued replies passed its limit.
    const unread = s.child.stdin.writableLength;
    s.child.stdout.resume();
    for (let i = 0; i < N; i++) assert.equal((await s.reply()).id, i);
    assert.ok(unread > batch.length / 2, `the server read ${batch.length - unread} of ${batch.length} bytes while its replies were not read`);
    assert.equal((await s.close()).code, 0);
  });

  test('200 requests in one write are all answered', async () => {
    const s = raw([root]);
    await s.initialize();
    let batch = '';
    for (let i = 0; i < 200; i++) {
      batch += JSON.stringify(i % 2
        ? { jsonrpc: '2.0', id: i, method: 'ping' }
        : { jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'list_allowed_directories', arguments: {} } }) + '\n';
    }
    s.write(batch);
    const seen = new Map();
    while (seen.size < 200) {
      const m = await s.reply();
      assert.ok(!seen.has(m.id), `duplicate reply ${m.id}`);
      seen.set(m.id, m);
    }
    for (let i = 0; i < 200; i++) {
      const m = seen.get(i);
      if (i % 2) assert.deepEqual(m.result, {});
      else assert.deepEqual(m.result.structuredContent.directories, [root]);
    }
    await s.close();
  });
});

describe(`roots and logging (io=${RB_IO})`, () => {
  test('roots narrow the allowed directories and follow list_changed', async () => {
    let roots = [{ uri: pathToFileURL(path.join(root, 'sub')).href, name: 'sub' }];
    const msgs = [];
    const c = await connect({
      roots: [root],
      capabilities: { roots: { listChanged: true } },
      setup(client) {
        client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots }));
        client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => msgs.push(n.params));
      },
    });
    const dirs = async () =>
      (await c.client.callTool({ name: 'list_allowed_directories', arguments: {} })).structuredContent.directories;
    try {
      // The first call waits for the roots answer: no race with the narrowing.
      assert.deepEqual(await dirs(), [path.join(root, 'sub')]);

      // A percent-encoded root, and one outside the served roots (dropped).
      await c.client.setLoggingLevel('info');
      roots = [{ uri: pathToFileURL(path.join(root, 'with space')).href }, { uri: 'file:///etc' }];
      await c.client.sendRootsListChanged();
      assert.deepEqual(await dirs(), [path.join(root, 'with space')]);
      assert.ok(msgs.some((m) => m.level === 'info' && /narrowed/.test(m.data)), JSON.stringify(msgs));

      // None within ours: keep the current ones and warn.
      roots = [{ uri: 'file:///etc' }, { uri: 'https://example.com/x' }];
      await c.client.sendRootsListChanged();
      assert.deepEqual(await dirs(), [path.join(root, 'with space')]);
      assert.ok(msgs.some((m) => m.level === 'warning' && /keeping/.test(m.data)), JSON.stringify(msgs));

      // At level error, info lines are no longer sent.
      await c.client.setLoggingLevel('error');
      const before = msgs.length;
      roots = [{ uri: pathToFileURL(root).href }];
      await c.client.sendRootsListChanged();
      assert.deepEqual(await dirs(), [root]);
      assert.equal(msgs.length, before);
    } finally {
      await c.client.close();
    }
  });

  test('a client without roots keeps the command-line roots', async () => {
    const other = path.join(root, 'other');
    const c = await connect({ roots: [root, other] });
    try {
      const r = await c.client.callTool({ name: 'list_allowed_directories', arguments: {} });
      assert.deepEqual(r.structuredContent.directories, [root, other]);
    } finally {
      await c.client.close();
    }
  });
});

describe(`shutdown (io=${RB_IO})`, () => {
  test('stdin EOF: exit 0, fds and output clean', async () => {
    const s = raw([root]);
    await s.initialize();
    s.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'list_allowed_directories' } });
    s.child.stdin.end();
    // The reply to a request sent just before EOF still comes out.
    assert.ok((await s.response(1)).result);
    const t0 = Date.now();
    const ex = await s.exited;
    assert.deepEqual(ex, { code: 0, signal: null });
    assert.ok(Date.now() - t0 < 5000);
    assert.match(s.stderr(), /stdin closed/);
  });

  test('SIGTERM: graceful exit 0', async () => {
    const s = raw([root]);
    await s.initialize();
    s.send({ jsonrpc: '2.0', id: 1, method: 'ping' });
    await s.response(1);
    const t0 = Date.now();
    const ex = await s.kill('SIGTERM');
    assert.deepEqual(ex, { code: 0, signal: null });
    assert.ok(Date.now() - t0 < 5000);
    assert.match(s.stderr(), /shutting down/);
  });

  test('SDK client close: the server exits on its own (no SIGTERM needed)', async () => {
    const c = await connect({ roots: [root] });
    const pid = c.pid;
    await c.client.ping();
    await c.client.close();
    // StdioClientTransport ends stdin, waits 2 s for the exit, then sends
    // SIGTERM. The server ended on the EOF: it says so, and it never got to
    // the signal, which it would have logged ("Terminated: shutting down")
    // had its loop still been running. (Not a timing: a loaded machine may
    // take longer than those 2 s to run the exit.)
    assert.match(c.stderr(), /stdin closed/);
    assert.doesNotMatch(c.stderr(), /shutting down/);
    assert.throws(() => fdCount(pid)); // /proc/PID is gone: close() waited for the exit
  });

  test('the client closes our stdout: quiet exit 0', async () => {
    const s = raw([root]);
    await s.initialize();
    s.child.stdout.destroy();
    for (let i = 0; i < 50; i++) s.send({ jsonrpc: '2.0', id: i, method: 'ping' });
    const ex = await s.exited;
    assert.deepEqual(ex, { code: 0, signal: null });
    assert.doesNotMatch(s.stderr(), /warning|error/);
  });

  test('SIGTERM while the client reads nothing: output dropped after 5 s, exit 0', async () => {
    const s = raw([root]);
    await s.initialize();
    s.child.stdout.pause();
    // Written in pieces, so that what the server has taken shows in
    // writableLength (a piece counts until all of it is in the socket).
    let total = 0;
    for (let i = 0; i < 100000; i += 100) {
      let piece = '';
      for (let k = i; k < i + 100; k++) piece += `{"jsonrpc":"2.0","id":${k},"method":"ping"}\n`;
      s.write(piece);
      total += piece.length;
    }
    // The server stops reading once its replies back up (nobody reads them):
    // wait for that, rather than for a fixed time, before the signal.
    let taken = -1, still = 0;
    await waitFor('the server to stop reading', () => {
      const now = total - s.child.stdin.writableLength;
      still = now > 0 && now === taken ? still + 1 : 0;
      taken = now;
      return still >= 5;
    }, { every: 100, describe: () => `${taken} bytes taken` });
    const t0 = Date.now();
    s.child.kill('SIGTERM');
    assert.deepEqual(await s.exited, { code: 0, signal: null });
    const took = Date.now() - t0;
    // Not before the 5 s it gives the client; the upper bound only catches a hang.
    assert.ok(took >= 4500 && took < 30000, `exit took ${took} ms`);
    assert.match(s.stderr(), /did not read \d+ bytes of replies/);
  });

  test('SIGTERM cancels calls held for roots: no reply, exit 0 at once', async () => {
    // The client declares roots but never answers roots/list, so tools/call
    // requests stay held (up to 5 s) when the signal comes.
    const s = raw([root]);
    await s.initialize(LATEST, { roots: {} });
    const ask = await s.next();
    assert.equal(ask.method, 'roots/list');
    for (let i = 1; i <= 3; i++)
      s.send({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'list_allowed_directories' } });
    s.send({ jsonrpc: '2.0', id: 'p', method: 'ping' });
    assert.deepEqual((await s.response('p')).result, {}); // the held calls arrived before this
    const t0 = Date.now();
    s.child.kill('SIGTERM');
    assert.deepEqual(await s.exited, { code: 0, signal: null });
    // At once, not when the hold ends (which it would log: "roots/list: no
    // answer from the client in 5000 ms; running held calls ..."); the time
    // bound only catches a hang.
    assert.doesNotMatch(s.stderr(), /roots\/list: no answer/);
    assert.ok(Date.now() - t0 < 20000, `exit took ${Date.now() - t0} ms`);
    await assert.rejects(s.next(200)); // no reply for the cancelled calls
  });

  test('roots/list unanswered: held calls run after the timeout with the command-line roots', async () => {
    const s = raw([root]);
    await s.initialize(LATEST, { roots: {} });
    assert.equal((await s.next()).method, 'roots/list');
    const t0 = Date.now();
    s.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'list_allowed_directories' } });
    const r = await s.response(1);
    assert.ok(Date.now() - t0 >= 4000, `answered after ${Date.now() - t0} ms`);
    assert.deepEqual(r.result.structuredContent.directories, [root]);
    await s.close();
  });

  test('a missing root is a clear start-up error', async () => {
    const s = raw([path.join(root, 'does-not-exist')]);
    const ex = await s.exited;
    assert.equal(ex.code, 1);
    assert.match(s.stderr(), /does-not-exist/);
  });

  test('no root and no MEMORY_BANK_ROOT: usage error', async () => {
    const s = raw([]);
    const ex = await s.exited;
    assert.equal(ex.code, 1);
    assert.match(s.stderr(), /MEMORY_BANK_ROOT/);
  });
});

// Tools from the files module (when it is linked in): replies out of order,
// progress, cancellation with fds back to baseline.
describe(`concurrency with the file tools (io=${RB_IO})`, () => {
  let big, c, names;
  before(async () => {
    const files = {};
    for (let d = 0; d < 40; d++)
      for (let f = 0; f < 100; f++) files[`d${d}/n${f}.md`] = `# note ${d}/${f}\nsome text\n`;
    big = tree(files);
    c = await connect({ roots: [big] });
    names = new Set((await c.client.listTools()).tools.map((t) => t.name));
  });
  after(async () => { await c.client.close(); rmtree(big); });

  test('replies go out as calls finish: pings sent after a search are answered before it', async (t) => {
    if (!names.has('search_files')) return t.skip('search_files is not built in yet');
    // One write: the server reads all of it in one turn; pings are answered
    // in that turn, the search needs ring round trips, so its reply (sent
    // first) must come last.
    const s = raw([big]);
    await s.initialize();
    let batch = JSON.stringify({ jsonrpc: '2.0', id: 'search', method: 'tools/call',
      params: { name: 'search_files', arguments: { path: big, pattern: '**/*.md' } } }) + '\n';
    for (let i = 0; i < 20; i++) batch += JSON.stringify({ jsonrpc: '2.0', id: i, method: 'ping' }) + '\n';
    s.write(batch);
    const order = [];
    while (order.length < 21) order.push((await s.reply()).id);
    assert.equal(order[20], 'search', order.join(','));
    assert.deepEqual(order.slice(0, 20), [...Array(20).keys()]);
    await s.close();
  });

  test('progress notifications increase and end at the total', async (t) => {
    if (!names.has('search_files')) return t.skip('search_files is not built in yet');
    const { progress: seen } = await callSeeingProgress(c.client, { name: 'search_files', arguments: { path: big, pattern: '**/*.md' } });
    assert.ok(seen.length >= 1, 'progress was reported');
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i].progress > seen[i - 1].progress);
  });

  test('notifications/cancelled: the call stops and gets no reply', async (t) => {
    if (!names.has('search_files')) return t.skip('search_files is not built in yet');
    const s = raw([big]);
    await s.initialize();
    const base = fdCount(s.pid);
    // One write: the cancel is read in the same turn the search starts.
    s.write(JSON.stringify({ jsonrpc: '2.0', id: 'slow', method: 'tools/call',
      params: { name: 'search_files', arguments: { path: big, pattern: '**/*.md' } } }) + '\n' +
      JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'slow', reason: 'test' } }) + '\n' +
      JSON.stringify({ jsonrpc: '2.0', id: 'p', method: 'ping' }) + '\n');
    assert.equal((await s.reply()).id, 'p');
    await assert.rejects(s.reply(500)); // nothing for 'slow'
    // <= : start-up work (job recovery) may still hold an fd when base is taken.
    assert.ok(await fdSettle(s.pid, base) <= base);
    // Cancelling an unknown or finished request is ignored.
    s.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'slow' } });
    s.send({ jsonrpc: '2.0', id: 'q', method: 'ping' });
    assert.equal((await s.reply()).id, 'q');
    assert.equal((await s.close()).code, 0);
  });

  test('stdin EOF with a long call in flight: its reply still comes, then exit 0', async (t) => {
    if (!names.has('search_files')) return t.skip('search_files is not built in yet');
    const s = raw([big]);
    await s.initialize();
    s.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'search_files', arguments: { path: big, pattern: '**/*.md' } } });
    s.child.stdin.end();
    const r = await s.response(1, 30000);
    assert.ok(!r.result.isError);
    assert.match(r.result.content[0].text, /n99\.md/);
    assert.deepEqual(await s.exited, { code: 0, signal: null });
  });

  test('SIGTERM in a burst of searches: exit 0 promptly', async (t) => {
    if (!names.has('search_files')) return t.skip('search_files is not built in yet');
    const s = raw([big]);
    await s.initialize();
    for (let i = 1; i <= 8; i++)
      s.send({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'search_files', arguments: { path: big, pattern: '**/*.md' } } });
    const t0 = Date.now();
    s.child.kill('SIGTERM');
    assert.deepEqual(await s.exited, { code: 0, signal: null });
    assert.ok(Date.now() - t0 < 5000, `exit took ${Date.now() - t0} ms`);
  });

  test('cancelling a long search: no reply, fds back to baseline', async (t) => {
    if (!names.has('search_files')) return t.skip('search_files is not built in yet');
    const base = fdCount(c.pid);
    for (let i = 0; i < 5; i++) {
      const ac = new AbortController();
      const p = c.client.callTool({ name: 'search_files', arguments: { path: big, pattern: '**/*.md' } }, undefined,
        { signal: ac.signal });
      setTimeout(() => ac.abort('test'), 5 * i);
      await assert.rejects(p).catch(() => {}); // it may also have finished first
    }
    assert.deepEqual(await c.client.ping(), {});
    assert.ok(await fdSettle(c.pid, base) <= base);
  });
});

// JSON-RPC batches: MCP 2025-03-26 allowed them (a line may be an array of
// requests and notifications, or of responses), 2025-06-18 removed them.
// The SDK client never sends one, so these drive the real server over raw
// pipes. A batch is answered with ONE array line once every element is done.
describe(`JSON-RPC batches in a 2025-03-26 session (io=${RB_IO})`, () => {
  let big;
  const V = '2025-03-26';
  const req = (id, method, params) => ({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) });
  const call = (id, name, args, meta) => req(id, 'tools/call', { name, arguments: args, ...(meta ? { _meta: meta } : {}) });
  const search = (id, meta) => call(id, 'search_files', { path: big, pattern: '**/*.md' }, meta);
  before(() => {
    const files = {};
    for (let d = 0; d < 40; d++)
      for (let f = 0; f < 100; f++) files[`d${d}/n${f}.md`] = `# note ${d}/${f}\n`;
    big = tree(files);
  });
  after(() => rmtree(big));

  test('requests, a notification and tool calls: one array, in element order, after the calls', async () => {
    const s = raw([root, big]);
    await s.initialize(V);
    s.send([
      req(1, 'ping'),
      { jsonrpc: '2.0', method: 'notifications/roots/list_changed' },
      search('s'),
      call('r', 'read_text_file', { path: 'notes/a.md' }),
      req(2, 'no/such'),
      req('list', 'tools/list'),
    ]);
    const r = await s.reply(30000);
    assert.ok(Array.isArray(r), JSON.stringify(r).slice(0, 200));
    assert.deepEqual(r.map((e) => e.id), [1, 's', 'r', 2, 'list']);
    assert.deepEqual(r[0].result, {});
    assert.match(r[1].result.content[0].text, /n99\.md/); // the search finished before the array left
    assert.equal(r[2].result.content[0].text, '# a\n');
    assert.equal(r[3].error.code, -32601);
    assert.ok(r[4].result.tools.some((t) => t.name === 'read_text_file'));
    // Pipelined after it: a plain request still gets a plain reply.
    s.send(req(3, 'ping'));
    assert.deepEqual((await s.reply()).id, 3);
    assert.equal((await s.close()).code, 0);
  });

  test('notifications only: no reply; [] and invalid elements; initialize inside refused', async () => {
    const s = raw([root]);
    await s.initialize(V);
    s.send([{ jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'nobody' } }]);
    s.send(req('after', 'ping'));
    assert.equal((await s.reply()).id, 'after'); // the batch had no reply
    s.write('[]\n');
    let r = await s.reply();
    assert.ok(!Array.isArray(r));
    assert.equal(r.id, null);
    assert.equal(r.error.code, -32600);
    assert.match(r.error.message, /empty batch/);
    s.write('[1,{"jsonrpc":"2.0","id":5,"method":"ping"},{"foo":"boo"},{"jsonrpc":"2.0","id":6}]\n');
    r = await s.reply();
    assert.equal(r.length, 4);
    assert.deepEqual(r.map((e) => e.id), [null, 5, null, 6]);
    assert.deepEqual(r.map((e) => e.error?.code), [-32600, undefined, -32600, -32600]);
    s.send([req(7, 'initialize', { protocolVersion: V, capabilities: {}, clientInfo: { name: 'x', version: '1' } }),
      req(8, 'ping')]);
    r = await s.reply();
    assert.equal(r[0].id, 7);
    assert.equal(r[0].error.code, -32600);
    assert.match(r[0].error.message, /initialize must not be part of a JSON-RPC batch/);
    assert.deepEqual(r[1], { jsonrpc: '2.0', id: 8, result: {} });
    assert.equal((await s.close()).code, 0);
  });

  test('refused before initialize and in 2025-06-18 sessions, with a message naming 2025-03-26', async () => {
    const s = raw([root]);
    s.send([req(1, 'ping')]);
    let r = await s.reply();
    assert.equal(r.error.code, -32600);
    assert.match(r.error.message, /before initialization.*2025-03-26/);
    await s.close();
    const t = raw([root]);
    await t.initialize('2025-06-18');
    t.send([req(1, 'ping'), req(2, 'ping')]);
    r = await t.reply();
    assert.ok(!Array.isArray(r));
    assert.equal(r.error.code, -32600);
    assert.match(r.error.message, /not supported in protocol 2025-06-18.*need protocol 2025-03-26/);
    t.send(req(3, 'ping'));
    assert.equal((await t.reply()).id, 3); // the session goes on
    await t.close();
  });

  test('progress of a call in a batch flows before the array', async () => {
    const s = raw([big]);
    await s.initialize(V);
    s.send([search('s', { progressToken: 'tok' }), req('p', 'ping')]);
    const progress = [];
    let m;
    while (!Array.isArray(m = await s.next(30000))) {
      if (m.method === 'notifications/progress') progress.push(m.params);
    }
    assert.ok(progress.length >= 1, 'progress was reported');
    assert.ok(progress.every((p) => p.progressToken === 'tok'));
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i].progress > progress[i - 1].progress);
    assert.deepEqual(m.map((e) => e.id), ['s', 'p']);
    assert.equal((await s.close()).code, 0);
  });

  test('cancelling a call of a batch: no entry for it; a batch whose calls are all cancelled has no reply', async () => {
    const s = raw([big]);
    await s.initialize(V);
    const base = fdCount(s.pid);
    // One write: the cancel is read in the same turn the search starts.
    s.write(JSON.stringify([search('slow'), call('r', 'read_text_file', { path: 'd0/n0.md' })]) + '\n' +
      JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'slow' } }) + '\n');
    const r = await s.reply(30000);
    assert.deepEqual(r.map((e) => e.id), ['r']);
    assert.equal(r[0].result.content[0].text, '# note 0/0\n');
    s.write(JSON.stringify([search('x'), search('y')]) + '\n' +
      JSON.stringify([{ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'x' } },
        { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'y' } }]) + '\n' +
      JSON.stringify(req('q', 'ping')) + '\n');
    assert.equal((await s.reply()).id, 'q');
    await assert.rejects(s.reply(500)); // nothing for the cancelled batch
    assert.ok(await fdSettle(s.pid, base) <= base);
    assert.equal((await s.close()).code, 0);
  });

  test('the reply cap holds for the whole array: late entries become errors that say why', async () => {
    const dir = tree({ 'a.md': 'x'.repeat(3000), 'b.md': 'y\n' });
    const s = raw([dir], ['--max-reply-bytes', '8192']);
    try {
      await s.initialize(V);
      s.send([0, 1, 2, 3].map((i) => call(i, 'read_text_file', { path: 'a.md' })));
      const r = await s.reply();
      assert.ok(JSON.stringify(r).length <= 8192);
      assert.deepEqual(r.map((e) => e.id).sort(), [0, 1, 2, 3]);
      const dropped = r.filter((e) => e.error);
      assert.equal(dropped.length, 2, JSON.stringify(r.map((e) => e.error?.message ?? 'ok')));
      for (const e of dropped) {
        assert.equal(e.error.code, -32000);
        assert.match(e.error.message, /Batch reply too large.*8192-byte reply limit/);
      }
      // Too many to answer even with short errors: refused, nothing run.
      s.send(Array.from({ length: 100 }, (_, i) => call(i, 'write_file', { path: `w${i}.md`, content: 'z' })));
      const e = await s.reply();
      assert.equal(e.error.code, -32600);
      assert.match(e.error.message, /nothing was run/);
      s.send(call('ls', 'list_directory', { path: dir }));
      assert.doesNotMatch((await s.reply()).result.content[0].text, /w0\.md/);
      assert.equal((await s.close()).code, 0);
    } finally {
      rmtree(dir);
    }
  });
});
