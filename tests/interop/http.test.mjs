// http.test.mjs: the official SDK's StreamableHTTPClientTransport against
// `ringbank serve --http 127.0.0.1:0`, through the same kinds of calls as
// over stdio: lifecycle, tools/list (identical to stdio's), the file tools,
// progress on an SSE response, cancellation with an AbortSignal (permits
// back), many sessions at once, the GET stream, DELETE, and the transport's
// own rules (session ids, protocol-version header, 202s, roots ignored).
// Run: RB_IO=uring|threads node --test
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { connect, tree, rmtree, waitFor, callSeeingProgress, abortAtFirstProgress, RB_IO } from './lib.mjs';
import { startServer, connectHttp, stats, post, initSession } from './http-lib.mjs';

const text = (r) => r.content.map((c) => c.text).join('');

async function ok(client, name, args, opts) {
  const r = await client.callTool({ name, arguments: args }, undefined, opts);
  assert.ok(!r.isError, `${name}: ${text(r)}`);
  return r;
}

// Waits until the server has nothing in flight (calls, permits).
function quiet(srv) {
  return waitFor('the server to have nothing in flight', async () => {
    const s = await stats(srv);
    return s.calls_in_flight === 0 && s.permits_used === 0 && s.permits_waiting === 0 ? s : null;
  }, { every: 50, describe: async () => JSON.stringify(await stats(srv)) });
}

describe(`Streamable HTTP through the SDK client (io=${RB_IO})`, () => {
  let root, big, srv;
  const N = 30000; // files in the big tree: a walk spans many loop turns

  before(async () => {
    root = tree({ 'notes/a.md': '# a\nalpha\n', 'notes/b.md': '# b\nbeta\n', 'proj/activeContext.md': '# ctx\n' });
    const base = fs.existsSync('/dev/shm') ? fs.mkdtempSync('/dev/shm/rb-http-') : tree({});
    big = fs.realpathSync(base);
    for (let d = 0; d < 100; d++) {
      fs.mkdirSync(path.join(big, `d${d}`));
      for (let f = 0; f < N / 100; f++) fs.writeFileSync(path.join(big, `d${d}`, `f${f}.md`), '');
    }
    srv = await startServer([root, big]);
  });
  after(async () => {
    const ex = await srv.stop();
    assert.deepEqual(ex, { code: 0, signal: null }, srv.stderr());
    rmtree(root);
    rmtree(big);
  });

  test('initialize: server info, capabilities, a session id; ping', async () => {
    const { client, transport } = await connectHttp(srv.url);
    try {
      assert.equal(client.getServerVersion().name, 'ringbank');
      assert.deepEqual(client.getServerCapabilities().tools, { listChanged: false });
      assert.deepEqual(client.getServerCapabilities().logging, {});
      assert.match(client.getInstructions(), /list_allowed_directories/);
      assert.match(transport.sessionId, /^[0-9a-f]{32}$/);
      assert.deepEqual(await client.ping(), {});
      await client.setLoggingLevel('info');
    } finally {
      await transport.terminateSession();
      await client.close();
    }
  });

  test('tools/list is the same over HTTP as over stdio', async () => {
    const { client, transport } = await connectHttp(srv.url);
    const s = await connect({ roots: [root] });
    try {
      const h = (await client.listTools()).tools;
      const o = (await s.client.listTools()).tools;
      assert.ok(h.length >= 20);
      assert.deepEqual(h, o);
    } finally {
      await transport.terminateSession();
      await client.close();
      await s.client.close();
    }
  });

  test('file tools: write, read, edit, list, info, search, bank search', async () => {
    const { client, transport } = await connectHttp(srv.url);
    try {
      await ok(client, 'write_file', { path: 'notes/new.md', content: '# new\nline one\n' });
      assert.equal(text(await ok(client, 'read_text_file', { path: 'notes/new.md' })), '# new\nline one\n');
      await ok(client, 'edit_file', { path: 'notes/new.md', edits: [{ oldText: 'line one', newText: 'line 1' }] });
      assert.equal(fs.readFileSync(path.join(root, 'notes/new.md'), 'utf8'), '# new\nline 1\n');
      const ls = text(await ok(client, 'list_directory', { path: 'notes' }));
      assert.match(ls, /\[FILE\] a\.md/);
      assert.match(ls, /\[FILE\] new\.md/);
      const info = await ok(client, 'get_file_info', { path: 'notes/a.md' });
      assert.match(text(info), /size/);
      const found = text(await ok(client, 'search_files', { path: 'notes', pattern: '*.md' }));
      assert.equal(found.split('\n').length, 3);
      const hits = await ok(client, 'search_memory_bank', { path: root, query: 'beta' });
      assert.equal(hits.structuredContent.totalMatches, 1);
      // Outside the roots: refused by the sandbox, over HTTP as over stdio.
      const r = await client.callTool({ name: 'read_text_file', arguments: { path: '/etc/passwd' } });
      assert.equal(r.isError, true);
      assert.match(text(r), /outside/);
      const m = await ok(client, 'read_multiple_files', { paths: ['notes/a.md', 'notes/b.md'] });
      assert.match(text(m), /alpha[\s\S]*beta/);
    } finally {
      await transport.terminateSession();
      await client.close();
    }
  });

  test('progress: a long search answers on an SSE stream with notifications/progress', async () => {
    const { client, transport } = await connectHttp(srv.url);
    try {
      const { r, progress } = await callSeeingProgress(client,
        { name: 'search_files', arguments: { path: big, pattern: '**/*.nomatch' } });
      assert.equal(text(r), 'No matches found');
      assert.ok(progress.length >= 1, 'progress notifications during the walk');
      for (let i = 1; i < progress.length; i++) assert.ok(progress[i].progress > progress[i - 1].progress);
      assert.match(progress[0].message, /entries scanned/);
      // Raw: the same call answers text/event-stream, progress then the result.
      const sid = await initSession(srv.url);
      const raw = await post(srv.url, { jsonrpc: '2.0', id: 'p', method: 'tools/call', params: { name: 'search_files',
        arguments: { path: big, pattern: '**/*.nomatch' }, _meta: { progressToken: 'tok' } } },
        { 'Mcp-Session-Id': sid });
      assert.equal(raw.headers.get('content-type'), 'text/event-stream');
      const events = raw.text.split('\n\n').filter((e) => e.startsWith('event: message'))
        .map((e) => JSON.parse(e.split('\ndata: ')[1]));
      assert.ok(events.length >= 2);
      assert.ok(events.slice(0, -1).every((e) => e.method === 'notifications/progress' && e.params.progressToken === 'tok'));
      assert.equal(events.at(-1).id, 'p');
      // Without a token the same call is plain JSON.
      const plain = await post(srv.url, { jsonrpc: '2.0', id: 'q', method: 'tools/call', params: { name: 'search_files',
        arguments: { path: 'notes', pattern: '*.md' } } }, { 'Mcp-Session-Id': sid });
      assert.equal(plain.headers.get('content-type'), 'application/json');
      assert.equal(plain.body.id, 'q');
      await fetch(srv.url, { method: 'DELETE', headers: { 'Mcp-Session-Id': sid } });
    } finally {
      await transport.terminateSession();
      await client.close();
    }
  });

  test('cancel: an AbortSignal stops a long search; nothing left in flight; the session goes on', async () => {
    const { client, transport } = await connectHttp(srv.url);
    try {
      for (let round = 0; round < 3; round++)
        await abortAtFirstProgress(client, { name: 'search_files', arguments: { path: big, pattern: '**/*.nomatch' } });
      // Without progress (a JSON response): cancelled right after the start.
      // Had this process been held up past the whole call (a loaded
      // machine), the call answers first: then it is made again.
      for (let tries = 1; ; tries++) {
        const ac = new AbortController();
        const call = client.callTool({ name: 'directory_tree', arguments: { path: big } }, undefined, { signal: ac.signal });
        setTimeout(() => ac.abort('test'), 20);
        const answered = await call.then(() => true, () => false);
        if (!answered) break;
        assert.ok(tries < 20, `directory_tree answered before a 20 ms abort ${tries} times`);
      }
      await quiet(srv);
      const r = await ok(client, 'search_files', { path: big, pattern: 'd7/f14?.md' });
      assert.equal(text(r).split('\n').length, 10);
    } finally {
      await transport.terminateSession();
      await client.close();
    }
  });

  test('many sessions at once: 25 SDK clients, each writing and reading its own file', async () => {
    const clients = await Promise.all(Array.from({ length: 25 }, () => connectHttp(srv.url)));
    try {
      assert.equal(new Set(clients.map((c) => c.transport.sessionId)).size, 25);
      await Promise.all(clients.map(async ({ client }, i) => {
        for (let k = 0; k < 5; k++) {
          await ok(client, 'write_file', { path: `notes/s${i}.md`, content: `session ${i} write ${k}\n` });
          assert.equal(text(await ok(client, 'read_text_file', { path: `notes/s${i}.md` })), `session ${i} write ${k}\n`);
        }
      }));
      const s = await stats(srv);
      assert.ok(s.sessions >= 25);
    } finally {
      await Promise.all(clients.map(async ({ client, transport }) => {
        await transport.terminateSession();
        await client.close();
      }));
    }
    for (let i = 0; i < 25; i++) fs.unlinkSync(path.join(root, `notes/s${i}.md`));
  });

  test('DELETE ends the session: later requests get 404 and the SDK reports it', async () => {
    const { client, transport } = await connectHttp(srv.url);
    const sid = transport.sessionId;
    await transport.terminateSession();
    const r = await post(srv.url, { jsonrpc: '2.0', id: 1, method: 'ping' }, { 'Mcp-Session-Id': sid });
    assert.equal(r.status, 404);
    assert.equal(r.body.error.code, -32001);
    await client.close();
  });

  test('the session id and protocol version are checked', async () => {
    const sid = await initSession(srv.url);
    const ping = { jsonrpc: '2.0', id: 1, method: 'ping' };
    assert.equal((await post(srv.url, ping)).status, 400);
    assert.equal((await post(srv.url, ping, { 'Mcp-Session-Id': 'f'.repeat(32) })).status, 404);
    const bad = await post(srv.url, ping, { 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2099-01-01' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /MCP-Protocol-Version/);
    for (const v of ['2025-11-25', '2025-06-18', '2025-03-26']) {
      const r = await post(srv.url, ping, { 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': v });
      assert.equal(r.status, 200, v);
      assert.deepEqual(r.body, { jsonrpc: '2.0', id: 1, result: {} });
    }
    const n = await post(srv.url, { jsonrpc: '2.0', method: 'notifications/initialized' }, { 'Mcp-Session-Id': sid });
    assert.equal(n.status, 202);
    assert.equal(n.text, '');
    // Two calls with one id at once: the second is refused while the first
    // runs. The walk takes only tens of ms: on a loaded machine one may end
    // before the other arrives (both answered, rightly): sent again then.
    for (let tries = 1; ; tries++) {
      const dup = await Promise.all([1, 2].map(() => post(srv.url, { jsonrpc: '2.0', id: 'same', method: 'tools/call',
        params: { name: 'search_files', arguments: { path: big, pattern: '**/*.nomatch' } } }, { 'Mcp-Session-Id': sid })));
      const statuses = dup.map((d) => d.status).sort();
      if (statuses.join() === '200,200') {
        assert.ok(tries < 20, `the two calls never overlapped in ${tries} tries`);
        continue;
      }
      assert.deepEqual(statuses, [200, 400], 'a request id in use is refused');
      break;
    }
    await fetch(srv.url, { method: 'DELETE', headers: { 'Mcp-Session-Id': sid } });
  });

  test('an older client (2025-03-26) works, with no structuredContent', async () => {
    const r = await post(srv.url, { jsonrpc: '2.0', id: 0, method: 'initialize',
      params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'old', version: '0' } } });
    assert.equal(r.body.result.protocolVersion, '2025-03-26');
    const sid = r.headers.get('mcp-session-id');
    await post(srv.url, { jsonrpc: '2.0', method: 'notifications/initialized' }, { 'Mcp-Session-Id': sid });
    const c = await post(srv.url, { jsonrpc: '2.0', id: 1, method: 'tools/call',
      params: { name: 'read_text_file', arguments: { path: 'notes/a.md' } } }, { 'Mcp-Session-Id': sid });
    assert.equal(c.body.result.content[0].text, '# a\nalpha\n');
    assert.equal(c.body.result.structuredContent, undefined);
    await fetch(srv.url, { method: 'DELETE', headers: { 'Mcp-Session-Id': sid } });
  });

  test('a POST body that is a batch (2025-03-26): one array back, JSON or SSE; refused in newer sessions', async () => {
    const r = await post(srv.url, { jsonrpc: '2.0', id: 0, method: 'initialize',
      params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'old', version: '0' } } });
    const sid = r.headers.get('mcp-session-id');
    const h = { 'Mcp-Session-Id': sid };
    const read = (id, p) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'read_text_file', arguments: { path: p } } });
    // Requests, a notification, an invalid element: application/json, the array in element order.
    const b = await post(srv.url, [{ jsonrpc: '2.0', method: 'notifications/initialized' }, read('a', 'notes/a.md'),
      { jsonrpc: '2.0', id: 2, method: 'ping' }, 42, read('b', 'notes/b.md')], h);
    assert.equal(b.status, 200, b.text);
    assert.equal(b.headers.get('content-type'), 'application/json');
    assert.ok(Array.isArray(b.body), b.text);
    assert.deepEqual(b.body.map((e) => e.id), ['a', 2, null, 'b']);
    assert.equal(b.body[0].result.content[0].text, '# a\nalpha\n');
    assert.deepEqual(b.body[1].result, {});
    assert.equal(b.body[2].error.code, -32600);
    assert.equal(b.body[3].result.content[0].text, '# b\nbeta\n');
    // A progress token in it: an SSE stream, progress events, then the array as the last event.
    const sse = await post(srv.url, [{ jsonrpc: '2.0', id: 's', method: 'tools/call', params: { name: 'search_files',
      arguments: { path: big, pattern: '**/*.nomatch' }, _meta: { progressToken: 'bt' } } }, read('c', 'notes/a.md')], h);
    assert.equal(sse.headers.get('content-type'), 'text/event-stream');
    const events = sse.text.split('\n\n').filter((e) => e.startsWith('event: message'))
      .map((e) => JSON.parse(e.split('\ndata: ')[1]));
    assert.ok(events.length >= 2);
    assert.ok(events.slice(0, -1).every((e) => e.method === 'notifications/progress' && e.params.progressToken === 'bt'));
    assert.deepEqual(events.at(-1).map((e) => e.id), ['s', 'c']);
    // Notifications only: 202, no body.
    const n = await post(srv.url, [{ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'nobody' } }], h);
    assert.equal(n.status, 202);
    assert.equal(n.text, '');
    // Its only call cancelled (from another POST, at its first progress): the stream ends with no reply.
    // The walk takes only tens of ms: on a loaded machine it may end before
    // the cancel arrives (then the array comes, rightly), and the try is
    // made again; a cancel that arrives in time must leave no reply.
    const cancelBatch = async (id) => {
      const res = await fetch(srv.url, { method: 'POST', body: JSON.stringify([{ jsonrpc: '2.0', id, method: 'tools/call',
        params: { name: 'search_files', arguments: { path: big, pattern: '**/*.nomatch' }, _meta: { progressToken: 'xt' } } }]),
        headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...h } });
      assert.equal(res.headers.get('content-type'), 'text/event-stream');
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let streamed = '';
      let cancelled = false;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        streamed += dec.decode(value, { stream: true });
        if (!cancelled && streamed.includes('notifications/progress')) {
          cancelled = true;
          const c = await post(srv.url, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id } }, h);
          assert.equal(c.status, 202);
        }
      }
      assert.ok(cancelled, 'cancelled while in flight');
      const xs = streamed.split('\n\n').filter((e) => e.startsWith('event: message')).map((e) => JSON.parse(e.split('\ndata: ')[1]));
      const reply = xs.find((e) => e.method !== 'notifications/progress');
      if (reply) assert.deepEqual(Array.isArray(reply) && reply.map((e) => e.id), [id], JSON.stringify(reply));
      return !reply;
    };
    for (let tries = 1; !(await cancelBatch(`x${tries}`)); tries++)
      assert.ok(tries < 20, `no reply for the cancelled batch: the call always ended before its cancel (${tries} tries)`);
    await quiet(srv);
    await fetch(srv.url, { method: 'DELETE', headers: h });
    await quiet(srv);
    // A 2025-11-25 session: 400 with a -32600 that names the version batches need.
    const sid2 = await initSession(srv.url);
    const no = await post(srv.url, [{ jsonrpc: '2.0', id: 1, method: 'ping' }], { 'Mcp-Session-Id': sid2 });
    assert.equal(no.status, 400);
    assert.equal(no.body.error.code, -32600);
    assert.match(no.body.error.message, /batches are not supported in protocol 2025-11-25.*2025-03-26/);
    await fetch(srv.url, { method: 'DELETE', headers: { 'Mcp-Session-Id': sid2 } });
  });

  test('a session ended under a batch in flight: the batch POST gets an array, an error for each request', async () => {
    const r = await post(srv.url, { jsonrpc: '2.0', id: 0, method: 'initialize',
      params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'old', version: '0' } } });
    const sid = r.headers.get('mcp-session-id');
    const h = { 'Mcp-Session-Id': sid };
    await post(srv.url, { jsonrpc: '2.0', method: 'notifications/initialized' }, h);
    // A live lock on notes/b.md (this process): the writes wait for it (up to 5 s).
    const lock = path.join(root, 'notes/.b.md.lock');
    fs.writeFileSync(lock, JSON.stringify({ pid: process.pid, host: (await import('node:os')).hostname(), time: Date.now() }));
    try {
      const write = (id) => ({ jsonrpc: '2.0', id, method: 'tools/call',
        params: { name: 'write_file', arguments: { path: path.join(root, 'notes/b.md'), content: `never ${id}\n` } } });
      const pending = post(srv.url, [write('w1'), write(7)], h);
      await waitFor('both writes in flight', async () => ((await stats(srv)).calls_in_flight >= 2 ? true : null),
        { every: 20, describe: async () => JSON.stringify(await stats(srv)) });
      const del = await fetch(srv.url, { method: 'DELETE', headers: h });
      assert.equal(del.status, 200);
      const b = await pending;
      assert.equal(b.status, 200, b.text);
      assert.ok(Array.isArray(b.body), b.text);
      assert.deepEqual(b.body.map((e) => e.id), ['w1', 7]);
      for (const e of b.body) {
        assert.equal(e.jsonrpc, '2.0');
        assert.equal(e.error.code, -32000);
        assert.match(e.error.message, /session ended/);
      }
    } finally {
      fs.unlinkSync(lock);
    }
    await quiet(srv);
    assert.equal(fs.readFileSync(path.join(root, 'notes/b.md'), 'utf8'), '# b\nbeta\n', 'no write went through');
  });

  test("a client's roots do not narrow the shared sandbox over HTTP", async () => {
    let asked = 0;
    const { client, transport } = await connectHttp(srv.url, {
      capabilities: { roots: { listChanged: true } },
      setup: (c) => c.setRequestHandler(ListRootsRequestSchema, async () => {
        asked++;
        return { roots: [{ uri: pathToFileURL(path.join(root, 'notes')).href }] };
      }),
    });
    try {
      const dirs = text(await ok(client, 'list_allowed_directories', {}));
      assert.match(dirs, new RegExp(root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
      await ok(client, 'read_text_file', { path: 'proj/activeContext.md' });
      assert.equal(asked, 0, 'roots/list is not asked over HTTP');
    } finally {
      await transport.terminateSession();
      await client.close();
    }
  });

  test('GET opens the stream the SDK listens on; stats count it', async () => {
    const { client, transport } = await connectHttp(srv.url);
    try {
      await client.ping();
      // The SDK opens GET after initialized, asynchronously.
      const s = await waitFor('the GET stream', async () => { const x = await stats(srv); return x.connections >= 2 ? x : null; },
        { describe: async () => JSON.stringify(await stats(srv)) });
      // The ring path really is in use: multishot accept, provided buffers.
      if (RB_IO === 'uring') {
        assert.match(s.accept, /^ring/);
        assert.match(s.recv, /^ring/);
      } else {
        assert.equal(s.recv, 'poll+recv');
      }
    } finally {
      await transport.terminateSession();
      await client.close();
    }
  });
});

describe(`Streamable HTTP shutdown (io=${RB_IO})`, () => {
  test('SIGTERM with clients connected and a call in flight: exit 0 within seconds', async () => {
    const root = tree({ 'a.md': 'a\n' });
    const base = fs.existsSync('/dev/shm') ? fs.mkdtempSync('/dev/shm/rb-http-') : tree({});
    const big = fs.realpathSync(base);
    for (let d = 0; d < 50; d++) {
      fs.mkdirSync(path.join(big, `d${d}`));
      for (let f = 0; f < 400; f++) fs.writeFileSync(path.join(big, `d${d}`, `f${f}.md`), '');
    }
    const srv = await startServer([root, big]);
    const { client } = await connectHttp(srv.url);
    let settled = false;
    const call = client.callTool({ name: 'directory_tree', arguments: { path: big } }).catch((e) => e)
      .finally(() => { settled = true; });
    // In flight (or, on a machine slow to look, already answered).
    await waitFor('the call to start', async () => settled || (await stats(srv)).calls_in_flight > 0, { every: 5 });
    const t0 = Date.now();
    const ex = await srv.stop('SIGTERM');
    assert.deepEqual(ex, { code: 0, signal: null }, srv.stderr());
    // Bounds a hang (the records and output have at most 5 s to go out).
    assert.ok(Date.now() - t0 < 20000, `exit took ${Date.now() - t0} ms`);
    await call;
    await client.close().catch(() => {});
    rmtree(root);
    rmtree(big);
  });
});
