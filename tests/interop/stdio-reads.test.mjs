// stdio-reads.test.mjs: how the stdio transport reads its input. A read that
// returns less than it asked for took everything there was, so the server
// goes back to waiting (a poll on --io=threads, a ring read on uring)
// instead of reading again: on a pipe that second read only said EAGAIN (a
// syscall per request for nothing), and on an input that cannot be made
// non-blocking, such as a terminal, it blocked the whole loop until the next
// line was typed: no reply to the line already read ever went out.
// Run: RB_IO=uring|threads node --test
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

import { RB_BIN, RB_IO, raw, rawChild, tree, rmtree, sleep } from './lib.mjs';

let root;
before(() => {
  root = tree({ 'note.md': '# note\nline two\n' });
});
after(() => rmtree(root));

// python3 gives the server a pseudo-terminal as stdin (node cannot open
// one): it copies its own stdin to the terminal and lets the server write
// straight to its stdout, our pipe. The terminal is raw (no echo, bytes as
// they come) and stays blocking: the server only sets O_NONBLOCK on pipes
// and sockets, as a terminal's description is usually shared with the shell.
const PTY_HELPER = `
import os, pty, subprocess, sys, tty
m, s = pty.openpty()
tty.setraw(s)
p = subprocess.Popen(sys.argv[1:], stdin=s)
os.close(s)
while True:
    d = os.read(0, 65536)
    if not d:
        break
    os.write(m, d)
os.close(m)
sys.exit(p.wait())
`;

function havePython() {
  return spawnSync('python3', ['-c', 'import pty, tty'], { stdio: 'ignore' }).status === 0;
}

// noring (tests/unit/loop) runs a command with io_uring blocked by seccomp,
// so --io=auto falls back to the epoll engine; found beside RB_BIN in a
// build directory, else the test that needs it is skipped.
const NORING = path.join(path.dirname(RB_BIN), 'tests/unit/loop/noring');

// A server (argv: the command) whose stdin is a terminal (lib.mjs's raw
// server: send(obj), response(id), close()).
function onTerminal(argv) {
  return rawChild(spawn('python3', ['-c', PTY_HELPER, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] }));
}

// initialize, ping and a tool call, each sent only once the answer to the
// one before is in: the server must not sit in a second read of the
// terminal. The tool call completes through the io backend (on threads: a
// pool thread wakes the loop) while the terminal has nothing to read.
async function terminalSession(argv) {
  const s = onTerminal(argv);
  try {
    s.send({ jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'tty', version: '0' } } });
    assert.equal((await s.response(1)).result.serverInfo.name, 'ringbank');
    s.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    s.send({ jsonrpc: '2.0', id: 2, method: 'ping' });
    assert.deepEqual((await s.response(2)).result, {});
    s.send({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'read_text_file', arguments: { path: 'note.md' } } });
    const r = await s.response(3);
    assert.equal(r.result.isError, undefined);
    assert.equal(r.result.content[0].text, '# note\nline two\n');
    assert.equal((await s.close()).code, 0);
  } finally {
    s.kill();
  }
}

describe(`stdio input (io=${RB_IO})`, () => {
  test('stdin a terminal: each line is answered while the terminal stays open', async (t) => {
    if (!havePython()) {
      t.skip('python3 with the pty module is needed to give the server a terminal');
      return;
    }
    await terminalSession([RB_BIN, 'serve', `--io=${RB_IO}`, root]);
  });

  test('stdin a terminal on the epoll engine (io_uring blocked: --io=auto falls back)', async (t) => {
    if (RB_IO !== 'threads') {
      t.skip('runs once, with the threads suite: the fallback is the thread pool whatever RB_IO says');
      return;
    }
    if (!havePython() || !existsSync(NORING)) {
      t.skip(`needs python3 (pty) and ${NORING} (a build directory's tests/unit/loop/noring)`);
      return;
    }
    await terminalSession([NORING, RB_BIN, 'serve', '--io=auto', root]);
  });

  test('requests that arrive in pieces (short reads) are all answered', async () => {
    const s = raw([root]);
    await s.initialize();
    s.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    const call = (id) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call',
      params: { name: 'read_text_file', arguments: { path: 'note.md' } } }) + '\n';
    // One request a few bytes at a time, paced so most pieces are read on
    // their own; then two requests and half of a third in one write, the
    // rest of the third later.
    const one = call(10);
    for (let i = 0; i < one.length; i += 7) {
      s.write(one.slice(i, i + 7));
      await sleep(1);
    }
    const more = call(11) + call(12) + call(13);
    const cut = more.length - 40;
    s.write(more.slice(0, cut));
    await sleep(5);
    s.write(more.slice(cut));
    const ids = [];
    for (let k = 0; k < 4; k++) {
      const r = await s.reply(); // pipelined calls may finish in any order
      assert.equal(r.result.content[0].text, '# note\nline two\n');
      ids.push(r.id);
    }
    assert.deepEqual(ids.sort((a, b) => a - b), [10, 11, 12, 13]);
    s.child.stdin.end();
    assert.equal((await s.exited).code, 0);
  });
});
