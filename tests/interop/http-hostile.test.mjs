// http-hostile.test.mjs: clients that misbehave against the Streamable HTTP
// transport, each while well-behaved clients keep being served: a foreign
// Origin or Host (DNS rebinding), a missing or wrong bearer token, oversized
// headers and bodies, garbage, a slowloris connection, too many connections
// and sessions, a client that disconnects mid-response (its call is
// cancelled: permits and fds come back), and an SSE reader that stops
// reading (dropped at the output cap or when its send stalls; memory flat).
// Run: RB_IO=uring|threads node --test
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { tree, rmtree, sleep, fdCount, waitFor, RB_IO } from './lib.mjs';
import { startServer, connectHttp, stats, post, initSession, rawConn, parseResponses, acceptedPeers } from './http-lib.mjs';

// A tree of many empty files: a search over it runs long enough to be cut.
function bigTree(dirs = 100, files = 300) {
  const base = fs.existsSync('/dev/shm') ? fs.mkdtempSync('/dev/shm/rb-hostile-') : tree({});
  const dir = fs.realpathSync(base);
  for (let d = 0; d < dirs; d++) {
    fs.mkdirSync(path.join(dir, `d${d}`));
    for (let f = 0; f < files; f++) fs.writeFileSync(path.join(dir, `d${d}`, `f${f}.md`), '');
  }
  return dir;
}

// Polls fn until it returns something truthy (a deadline that only bounds a hang).
function until(what, fn) {
  return waitFor(what, fn, { every: 50 });
}

// Pings through the SDK every 50 ms while `during` runs; returns the latencies.
async function pingWhile(client, during) {
  const lat = [];
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      const t0 = performance.now();
      await client.ping();
      lat.push(performance.now() - t0);
      await sleep(50);
    }
  })();
  try {
    await during();
  } finally {
    stop = true;
    await loop;
  }
  return lat;
}

function request(method, { sid, headers = {}, body } = {}) {
  let h = `${method} /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json, text/event-stream\r\n`;
  if (sid) h += `Mcp-Session-Id: ${sid}\r\n`;
  for (const [k, v] of Object.entries(headers)) h += `${k}: ${v}\r\n`;
  if (body !== undefined) {
    const b = typeof body === 'string' ? body : JSON.stringify(body);
    return `${h}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`;
  }
  return `${h}\r\n`;
}

describe(`hostile clients (io=${RB_IO})`, () => {
  let root, big, srv, good;

  before(async () => {
    root = tree({ 'a.md': '# a\n' });
    fs.writeFileSync(path.join(root, 'huge.md'), 'z'.repeat(6 * 1024 * 1024));
    big = bigTree();
    srv = await startServer([root, big], ['--max-message-bytes', '65536', '--http-request-timeout', '2',
      '--http-max-output-bytes', '1048576', '--allowed-origin', 'https://bank.example.com']);
    good = await connectHttp(srv.url);
  });
  after(async () => {
    await good.transport.terminateSession();
    await good.client.close();
    const ex = await srv.stop();
    assert.deepEqual(ex, { code: 0, signal: null }, srv.stderr());
    rmtree(root);
    rmtree(big);
  });

  test('a foreign Origin or Host gets 403 (DNS rebinding); localhost and --allowed-origin pass', async () => {
    const sid = await initSession(srv.url);
    const ping = { jsonrpc: '2.0', id: 1, method: 'ping' };
    for (const origin of ['http://evil.example.com', 'http://localhost.evil.com', 'null', 'https://bank.example.com:8443']) {
      const c = rawConn(srv.port);
      await c.ready;
      await c.write(request('POST', { sid, headers: { Origin: origin }, body: ping }));
      const { data } = await c.until((d) => parseResponses(d).length === 1);
      const [r] = parseResponses(data);
      assert.equal(r.status, 403, origin);
      assert.equal(JSON.parse(r.body).error.message, 'Forbidden: Origin not allowed');
      assert.equal(r.headers['access-control-allow-origin'], undefined);
      c.close();
    }
    {
      const c = rawConn(srv.port);
      await c.ready;
      await c.write(request('POST', { sid, body: ping }).replace('Host: 127.0.0.1', 'Host: evil.example.com'));
      const { data } = await c.until((d) => parseResponses(d).length === 1);
      assert.equal(parseResponses(data)[0].status, 403);
      c.close();
    }
    for (const origin of ['http://localhost:6274', 'http://127.0.0.1', 'https://bank.example.com']) {
      const r = await post(srv.url, ping, { 'Mcp-Session-Id': sid, Origin: origin });
      assert.equal(r.status, 200, origin);
      assert.equal(r.headers.get('access-control-allow-origin'), origin);
    }
    assert.ok((await stats(srv)).rejected_origin >= 5);
    assert.deepEqual(await good.client.ping(), {});
  });

  test('oversized headers: 431 and the connection ends; others unaffected', async () => {
    const c = rawConn(srv.port);
    await c.ready;
    await c.write(request('POST', { headers: { 'X-Pad': 'p'.repeat(40000) }, body: {} }));
    const { data, closed } = await c.until(() => false);
    assert.ok(closed, 'closed by the server');
    const [r] = parseResponses(data);
    assert.equal(r.status, 431);
    assert.match(JSON.parse(r.body).error.message, /Header Fields Too Large/);
    assert.deepEqual(await good.client.ping(), {});
  });

  test('oversized bodies: 413, by Content-Length or as chunks arrive', async () => {
    const sid = await initSession(srv.url);
    const huge = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call',
      params: { name: 'write_file', arguments: { path: 'x.md', content: 'x'.repeat(200000) } } });
    const r = await post(srv.url, huge, { 'Mcp-Session-Id': sid });
    assert.equal(r.status, 413);
    assert.match(r.body.error.message, /exceeds 65536 bytes/);
    // A streamed (chunked) body has no length up front: cut when it passes the limit.
    const stream = new ReadableStream({
      start(ctl) {
        for (let i = 0; i < 20; i++) ctl.enqueue(new TextEncoder().encode('y'.repeat(16384)));
        ctl.close();
      },
    });
    const rs = await fetch(srv.url, { method: 'POST', body: stream, duplex: 'half',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'Mcp-Session-Id': sid } })
      .catch((e) => e);
    if (rs instanceof Error) {
      // The server may close while the client still uploads; the status line may be lost then.
      assert.match(String(rs.cause || rs), /other side closed|ECONNRESET|EPIPE|terminated/);
    } else {
      assert.equal(rs.status, 413);
    }
    assert.equal(fs.existsSync(path.join(root, 'x.md')), false);
    assert.ok((await stats(srv)).rejected_limits >= 2);
    assert.deepEqual(await good.client.ping(), {});
  });

  test('garbage and a broken chunked encoding: 400, connection closed', async () => {
    for (const junk of ['\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage-tls-hello\r\n\r\n',
      'POST /mcp HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n',
      'POST /mcp HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n']) {
      const c = rawConn(srv.port);
      await c.ready;
      await c.write(junk);
      const { data, closed } = await c.until(() => false);
      assert.ok(closed);
      assert.equal(parseResponses(data)[0]?.status, 400, JSON.stringify(junk));
    }
    assert.deepEqual(await good.client.ping(), {});
  });

  test('slowloris: headers at 1 byte/s are cut at the request timeout (2 s); others stay fast', async () => {
    const before0 = (await stats(srv)).timeouts;
    const c = rawConn(srv.port);
    await c.ready;
    const head = 'GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nX-Slow: ' + 's'.repeat(50);
    const t0 = Date.now();
    const lat = await pingWhile(good.client, async () => {
      for (let i = 0; i < head.length && !c.closed; i++) {
        await c.write(head[i]).catch(() => {});
        await sleep(1000);
        if (c.closed || c.data) break;
      }
      await c.until(() => false);
    });
    assert.ok(c.closed, 'the slow connection was closed');
    // When the socket closed (not when the loop above looked): not before
    // the 2 s request timeout; the upper bound only says it was not left open.
    const closedAt = c.closedAt - t0;
    assert.ok(closedAt >= 1900 && closedAt < 10000, `closed after ${closedAt} ms`);
    assert.equal(parseResponses(c.data)[0].status, 408);
    assert.equal((await stats(srv)).timeouts, before0 + 1);
    lat.sort((a, b) => a - b);
    console.log(`# slowloris: closed after ${closedAt} ms; ${lat.length} pings meanwhile, p50 ${lat[lat.length >> 1].toFixed(1)} ms, ` +
      `p90 ${lat[Math.floor(lat.length * 0.9)].toFixed(1)} ms, max ${lat.at(-1).toFixed(1)} ms`);
    // Others stay served: pings kept completing while the slow client held
    // its connection (a blocked loop would complete none until the cut).
    // No latency bound here: timing belongs in bench/, and a loaded 2-CPU
    // CI machine moves p90 past any fixed figure.
    assert.ok(lat.length >= 10, `only ${lat.length} pings completed while the slow client was connected`);
  });

  test('a client that disconnects mid-response: its call is cancelled, permits and fds come back', async () => {
    await good.client.callTool({ name: 'list_directory', arguments: { path: '.' } }); // warm lazily opened fds
    const base = fdCount(srv.pid);
    const s0 = await stats(srv);
    const sid = await initSession(srv.url);
    // One search over the big tree, cut off by its client mid-call: in JSON
    // mode as soon as the server counts it in flight (nothing is sent before
    // the result), in SSE mode after the first progress event; the
    // connection is reset, or closed. The whole walk takes only tens of ms,
    // so on a loaded machine the call may finish before the server sees the
    // disconnect (then it was not cut: its result went to a dead socket):
    // such a try is made again, until the server has cancelled one call on
    // close for each cut. Returns how many tries that took.
    async function cut(id, { sse, how }) {
      for (let tries = 1; ; tries++) {
        const before = await stats(srv);
        const c = rawConn(srv.port);
        await c.ready;
        await c.write(request('POST', { sid, body: { jsonrpc: '2.0', id, method: 'tools/call',
          params: { name: 'search_files', arguments: { path: big, pattern: '**/*.nomatch' },
            ...(sse ? { _meta: { progressToken: id } } : {}) } } }));
        if (sse) {
          const { data } = await c.until((d) => d.includes('notifications/progress') || d.includes('"result"'));
          if (data.includes('notifications/progress')) assert.match(data, /text\/event-stream/);
        } else {
          // In flight, or already answered (then the try does not count).
          await waitFor(`call ${id} to start`, async () => c.data.length > 0 || c.closed || (await stats(srv)).calls_in_flight > 0,
            { every: 5 });
        }
        if (how === 'close') c.close(); else c.sock.resetAndDestroy();
        const after = await until(`call ${id} to end`, async () => {
          const x = await stats(srv);
          return x.calls_in_flight === 0 ? x : null;
        });
        if (after.cancelled_on_close > before.cancelled_on_close) return tries;
        assert.ok(tries < 50, `call ${id}: never cancelled on close in ${tries} tries; ${JSON.stringify(after)}`);
      }
    }
    const tries = [];
    for (let i = 0; i < 3; i++) tries.push(await cut(`j${i}`, { how: i === 1 ? 'close' : 'reset' }));
    tries.push(await cut('s', { sse: true, how: 'close' }));
    const s = await until('every call to end', async () => {
      const x = await stats(srv);
      return x.calls_in_flight === 0 && x.permits_used === 0 && x.permits_waiting === 0 ? x : null;
    });
    assert.ok(s.cancelled_on_close >= s0.cancelled_on_close + 4, JSON.stringify(s));
    await until('fds back to the baseline', async () => fdCount(srv.pid) <= base + 1);
    // The session lives on, and the same request id can be used again.
    const r = await post(srv.url, { jsonrpc: '2.0', id: 'j0', method: 'tools/call',
      params: { name: 'search_files', arguments: { path: big, pattern: 'd7/f14?.md' } } }, { 'Mcp-Session-Id': sid });
    assert.equal(r.status, 200);
    assert.equal(r.body.result.content[0].text.split('\n').length, 10);
    assert.deepEqual(await good.client.ping(), {});
    console.log(`# tries per cut (JSON reset, close, reset; SSE close): ${tries.join(', ')}`);
  });

  test('an SSE reader that stops reading is dropped at the output cap; memory stays bounded', async () => {
    const sid = await initSession(srv.url);
    const rss = [];
    // Rounds of 8 readers that never read a 6 MiB answer (over the 1 MiB
    // cap): each is dropped and nothing stays queued. Bounded: had the
    // server kept what they did not read, 4 rounds would hold 192 MiB; it
    // stays under what one round needs while it runs (how much of that
    // glibc hands back between rounds varies, so no finer claim).
    for (let round = 0; round < 4; round++) {
      const s0 = await stats(srv);
      const conns = [];
      for (let i = 0; i < 8; i++) {
        const c = rawConn(srv.port);
        await c.ready;
        c.sock.pause();
        await c.write(request('POST', { sid, body: { jsonrpc: '2.0', id: `big${round}-${i}`, method: 'tools/call',
          params: { name: 'read_text_file', arguments: { path: 'huge.md' }, _meta: { progressToken: `t${i}` } } } }));
        conns.push(c);
      }
      const s = await until('the slow readers to be dropped', async () => {
        const x = await stats(srv);
        return x.dropped_slow >= s0.dropped_slow + 8 && x.calls_in_flight === 0 ? x : null;
      });
      assert.equal(s.unsent_bytes, 0);
      rss.push(s.rss_kib);
      for (const c of conns) c.close();
    }
    // (Not under ASan, whose quarantine holds freed memory on purpose.)
    if (!process.env.ASAN_OPTIONS)
      assert.ok(Math.max(...rss) < 112 * 1024, `rss after each round: ${rss.join(', ')} KiB`);
    assert.deepEqual(await good.client.ping(), {});
    await fetch(srv.url, { method: 'DELETE', headers: { 'Mcp-Session-Id': sid } });
  });
});

describe(`stalled readers and limits (io=${RB_IO})`, () => {
  let root, srv;

  before(async () => {
    root = tree({ 'a.md': '# a\n' });
    fs.writeFileSync(path.join(root, 'huge.md'), 'w'.repeat(7 * 1024 * 1024));
    srv = await startServer([root], ['--http-idle-timeout', '2', '--http-max-connections', '12',
      '--http-max-sessions', '4']);
  });
  after(async () => {
    const ex = await srv.stop();
    assert.deepEqual(ex, { code: 0, signal: null }, srv.stderr());
    rmtree(root);
  });

  test('a reader under the cap whose send stalls is dropped after the idle timeout', async () => {
    const sid = await initSession(srv.url);
    const s0 = await stats(srv);
    const c = rawConn(srv.port);
    await c.ready;
    c.sock.pause();
    const t0 = Date.now();
    await c.write(request('POST', { sid, body: { jsonrpc: '2.0', id: 'stall', method: 'tools/call',
      params: { name: 'read_text_file', arguments: { path: 'huge.md' } } } }));
    const s = await until('the stalled reader to be dropped', async () => {
      const x = await stats(srv);
      return x.dropped_slow > s0.dropped_slow ? x : null;
    });
    const took = Date.now() - t0;
    assert.ok(took >= 1800, `dropped after ${took} ms`);
    assert.equal(s.unsent_bytes, 0);
    c.close();
    await fetch(srv.url, { method: 'DELETE', headers: { 'Mcp-Session-Id': sid } });
  });

  test('connections over the limit get 503; slots free up', async () => {
    // Start from none: keep-alive connections of earlier fetches (stats)
    // hold slots until the server's idle timeout (2 s) closes them.
    await waitFor('earlier connections to close', () => acceptedPeers(srv.pid, srv.port).size === 0,
      { describe: () => `${acceptedPeers(srv.pid, srv.port).size} open` });
    const held = [];
    for (let i = 0; i < 12; i++) {
      const c = rawConn(srv.port);
      await c.ready;
      held.push(c);
    }
    // The kernel completes a connect before the server accepts it: the 12
    // must hold their slots before the 13th comes.
    const acceptedAll = () => {
      const p = acceptedPeers(srv.pid, srv.port);
      return held.every((c) => !c.closed && !c.data && p.has(c.sock.localPort)); // held, not refused
    };
    await waitFor('the server to accept the 12 connections', acceptedAll,
      { describe: () => `${held.filter((c) => acceptedPeers(srv.pid, srv.port).has(c.sock.localPort)).length} accepted` });
    const extra = rawConn(srv.port);
    await extra.ready;
    const { data, closed } = await extra.until(() => false);
    assert.ok(closed);
    const [r] = parseResponses(data);
    assert.equal(r.status, 503);
    assert.match(JSON.parse(r.body).error.message, /12 connections/);
    for (const c of held) c.close();
    await until('a slot', async () => (await fetch(srv.url.replace(/\/mcp$/, '/stats'))).ok);
    assert.ok((await stats(srv)).rejected_connections >= 1);
  });

  test('sessions over the limit get 503; DELETE frees one', async () => {
    const sids = [];
    for (let i = 0; i < 4; i++) sids.push(await initSession(srv.url));
    const r = await post(srv.url, { jsonrpc: '2.0', id: 0, method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '0' } } });
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('retry-after'), '5');
    assert.match(r.body.error.message, /4 sessions/);
    await fetch(srv.url, { method: 'DELETE', headers: { 'Mcp-Session-Id': sids.pop() } });
    sids.push(await initSession(srv.url));
    for (const sid of sids) await fetch(srv.url, { method: 'DELETE', headers: { 'Mcp-Session-Id': sid } });
  });
});

describe(`bearer token (io=${RB_IO})`, () => {
  let root, srv, tokfile;
  const TOKEN = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

  before(async () => {
    root = tree({ 'a.md': '# a\n' });
    tokfile = path.join(root, '..', `${path.basename(root)}.token`);
    fs.writeFileSync(tokfile, `${TOKEN}\n`, { mode: 0o600 });
    srv = await startServer([root], ['--token-file', tokfile]);
  });
  after(async () => {
    const ex = await srv.stop();
    assert.deepEqual(ex, { code: 0, signal: null }, srv.stderr());
    fs.unlinkSync(tokfile);
    rmtree(root);
  });

  test('missing or wrong token: 401 with WWW-Authenticate; the SDK client fails to connect', async () => {
    const init = { jsonrpc: '2.0', id: 0, method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '0' } } };
    const none = await post(srv.url, init);
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="ringbank"');
    for (const auth of [`Bearer ${TOKEN.slice(0, -1)}`, `Bearer ${TOKEN}x`, `Basic ${Buffer.from('u:p').toString('base64')}`,
      'Bearer', `Bearer ${TOKEN.toUpperCase()}`]) {
      const r = await post(srv.url, init, { Authorization: auth });
      assert.equal(r.status, 401, auth);
    }
    const bad = await post(srv.url, init, { Authorization: 'Bearer nope' });
    assert.equal(bad.headers.get('www-authenticate'), 'Bearer realm="ringbank", error="invalid_token"');
    assert.equal((await fetch(srv.url.replace(/\/mcp$/, '/stats'))).status, 401);
    await assert.rejects(connectHttp(srv.url), /401|Unauthorized/);
    await assert.rejects(connectHttp(srv.url, { headers: { Authorization: 'Bearer wrong' } }), /401|Unauthorized/);
  });

  test('the right token: the SDK client works', async () => {
    const { client, transport } = await connectHttp(srv.url, { headers: { Authorization: `Bearer ${TOKEN}` } });
    const r = await client.callTool({ name: 'read_text_file', arguments: { path: 'a.md' } });
    assert.equal(r.content[0].text, '# a\n');
    const s = await stats(srv, { Authorization: `Bearer ${TOKEN}` });
    assert.ok(s.rejected_auth >= 7);
    await transport.terminateSession();
    await client.close();
  });
});
