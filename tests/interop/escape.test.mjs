// escape.test.mjs: every way out of the root, tried through every
// path-taking tool, with the official MCP SDK client against the real
// binary (RB_IO=uring|threads picks the backend).
//
// Layout: a container C holds the root C/root (the only root given to the
// server) and C/outside, whose files hold a random marker. Attempts:
// `..` in every position, absolute paths outside, symlinks out (direct,
// relative, chained, to the parent, to an outside directory, dangling),
// /proc/self/root and /proc/self/fd magic links, very long paths and
// components, NUL bytes and control characters, trailing slashes, case
// tricks, project and file names with separators and dot-dot, glob
// patterns that climb; then a racing child process flipping symlinks
// between inside targets and /etc/passwd (reads) or an outside decoy file
// and directory (writes) thousands of times while the server works
// through them.
//
// An escape is: outside content (the marker, or /etc/passwd's) in any
// result, or any change outside the root (C except C/root, /etc/passwd).
// Each refusal must be an isError result with a clear sentence (never a
// JSON-RPC error, a crash or a hang), and every path that points outside
// must be refused. The server must still answer and hold no extra fd
// afterwards. The counts are printed.
//
// Hard links are the one documented exception: a hard link inside the
// root to an outside file IS the same inode inside the root (the kernel
// cannot tell, and making one needs write access inside the root and the
// same file system), so reading it returns that content; writing through
// it replaces the link (atomic rename) and never modifies the outside file.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';

import { connect, fdCount, waitFor, RB_IO } from './lib.mjs';

const hex = crypto.randomBytes(6).toString('hex');
const MARK = `OUTSIDE-SECRET-${hex}`;      // content of every outside file
const LISTMARK = `outlistmark${hex}`;      // a name only an outside listing shows
const HARDMARK = `HARDLINKED-${hex}`;      // content of the hard-linked outside file
const PASSWD_RE = /root:[^:\n]*:0:0:/;     // /etc/passwd content

const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');

// ---- the tree ---------------------------------------------------------------

// On a tmpfs when there is one: the flipper then makes tens of thousands
// of swaps a second instead of hundreds (overlay metadata is slow).
function tmpBase() {
  try {
    fs.accessSync('/dev/shm', fs.constants.W_OK);
    return '/dev/shm';
  } catch {
    return os.tmpdir();
  }
}

function build() {
  const C = fs.realpathSync(fs.mkdtempSync(path.join(tmpBase(), 'rb-escape-')));
  const R = path.join(C, 'root');
  const O = path.join(C, 'outside');
  fs.mkdirSync(R);
  fs.mkdirSync(path.join(O, 'sub'), { recursive: true });
  for (const f of ['secret.txt', 'victim.txt', 'a.md', 'x.md', `${LISTMARK}.txt`, 'sub/deep.txt'])
    fs.writeFileSync(path.join(O, f), `${MARK} ${f}\n`);
  fs.writeFileSync(path.join(O, 'hard-src.txt'), `${HARDMARK}\n`);
  fs.mkdirSync(path.join(O, 'proj'));
  fs.writeFileSync(path.join(O, 'proj', 'x.md'), `${MARK} proj\n`);
  return { C, R, O };
}

// The inside tree; recreated before every attempt (a move may take it away).
function ensureInside(R, O) {
  const files = {
    'notes/a.md': '# A\n\nINSIDE alpha\n',
    'notes/b.md': '# B\n\nINSIDE beta\n',
    'proj/x.md': '# X\n\nINSIDE project file\n',
    'race-inside.md': 'INSIDE-RACE\n',
    'wrace-inside.md': 'INSIDE-WRACE\n',
  };
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(R, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    try {
      if (fs.lstatSync(p).isFile()) continue;
      fs.rmSync(p, { recursive: true, force: true });
    } catch { /* missing */ }
    fs.writeFileSync(p, content);
  }
  fs.mkdirSync(path.join(R, 'mv'), { recursive: true });
  const links = {
    'ln-direct': path.join(O, 'secret.txt'),
    'ln-rel': '../outside/secret.txt',
    'ln-chain1': 'ln-chain2',
    'ln-chain2': 'ln-chain3',
    'ln-chain3': path.join(O, 'secret.txt'),
    'ln-parent': '..',
    'ln-dir': O,
    'ln-dir-rel': '../outside',
    'ln-dangling': path.join(O, 'does-not-exist.md'),
    'ln-dangling-rel': '../outside/created-through-link.md',
    'notes/ln-up': '../../outside',
    'ln-via-inside': 'notes/ln-up/secret.txt',
    'ln-procroot': '/proc/self/root/etc/passwd',
    'ln-procroot-rel': '../../../../../../../../proc/self/root/etc/passwd',
    'ln-procfd': '/proc/self/fd/0',
    'ln-proccwd': '/proc/self/cwd',
    'ln-self': 'ln-self',
    'ln-inside': 'notes/a.md',
  };
  for (const [rel, target] of Object.entries(links)) {
    const p = path.join(R, rel);
    let cur = null;
    try { cur = fs.readlinkSync(p); } catch { /* missing or not a link */ }
    if (cur === target) continue;
    fs.rmSync(p, { recursive: true, force: true });
    fs.symlinkSync(target, p);
  }
  const hard = path.join(R, 'hard.md');
  try {
    if (fs.statSync(hard).ino !== fs.statSync(path.join(O, 'hard-src.txt')).ino) throw new Error();
  } catch {
    fs.rmSync(hard, { force: true });
    fs.linkSync(path.join(O, 'hard-src.txt'), hard);
  }
}

// Everything outside the root that a write could reach: C except C/root,
// and /etc/passwd.
function snapshot(C) {
  const out = {};
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (p === path.join(C, 'root')) continue;
      const st = fs.lstatSync(p);
      if (e.isDirectory()) {
        out[p] = `dir ${st.mode}`;
        walk(p);
      } else if (e.isSymbolicLink()) {
        out[p] = `link ${fs.readlinkSync(p)}`;
      } else {
        out[p] = `file ${st.mode} ${st.size} ${sha(fs.readFileSync(p))}`;
      }
    }
  };
  walk(C);
  const pw = fs.statSync('/etc/passwd');
  out['/etc/passwd'] = `${pw.size} ${pw.mtimeMs} ${sha(fs.readFileSync('/etc/passwd'))}`;
  return out;
}

function diffSnap(a, b) {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => a[k] !== b[k]).map((k) => `${k}: ${a[k] ?? '(none)'} -> ${b[k] ?? '(none)'}`);
}

// ---- hostile paths -------------------------------------------------------------

// [class, path, mustRefuse]: mustRefuse when the path names something
// outside the root (or is not a valid path at all).
function hostilePaths(R, O, C) {
  const L = [];
  const add = (cls, p, refuse = true) => L.push([cls, p, refuse]);
  // .. in every position
  for (const p of ['..', '../', '../outside/secret.txt', 'notes/../../outside/secret.txt', 'notes/../..',
    './../outside', 'notes/./../../outside/secret.txt', '..//outside//secret.txt', '../root/notes/a.md',
    `${'../'.repeat(20)}etc/passwd`, `notes/${'../'.repeat(40)}etc/passwd`, 'notes/..//../outside',
    '.../outside', `${R}/../outside/secret.txt`, `${R}/notes/../../outside/secret.txt`, `${R}/..`,
    'notes/deep/../../../outside/x.md'])
    add('dotdot', p, p !== '.../outside');
  add('dotdot-inside', 'notes/../notes/a.md', false);
  add('dotdot-inside', `${R}/notes/../proj/x.md`, false);
  // absolute paths outside
  for (const p of ['/etc/passwd', '/etc', '/', `${O}/secret.txt`, O, C, '//etc/passwd', '/./etc/passwd',
    `${R}x/notes/a.md`, `${R}-sibling`, path.dirname(C), `${O}/sub/deep.txt`, '/tmp', '/root', '/dev/zero',
    '/dev/null'])
    add('absolute', p);
  // symlinks out
  for (const p of ['ln-direct', 'ln-rel', 'ln-chain1', 'ln-parent', 'ln-parent/outside/secret.txt',
    'ln-dir', 'ln-dir/', 'ln-dir/secret.txt', 'ln-dir/sub/deep.txt', 'ln-dir-rel/secret.txt', 'ln-dangling',
    'ln-dangling-rel', 'notes/ln-up', 'notes/ln-up/secret.txt', 'ln-via-inside', 'ln-parent/root/notes/a.md',
    'ln-self'])
    add('symlink', p);
  add('symlink-inside', 'ln-inside', false);
  // /proc magic links
  for (const p of ['/proc/self/root/etc/passwd', `/proc/self/root${R}/notes/a.md`, '/proc/self/fd/0',
    '/proc/self/cwd', '/proc/self/exe', 'ln-procroot', 'ln-procroot-rel', 'ln-procfd', 'ln-proccwd',
    'ln-proccwd/etc/passwd', `/proc/${process.pid}/root/etc/passwd`])
    add('proc', p);
  // very long
  add('long', `${'a/'.repeat(2100)}x.md`);
  add('long', `${'z'.repeat(200)}/`.repeat(30) + 'x.md');
  add('long', `${'x'.repeat(256)}.md`);
  add('long', `notes/${'y'.repeat(300)}`);
  add('long', `${R}/${'q'.repeat(5000)}`);
  add('long-ok', `notes/${'y'.repeat(255)}`, false); // a valid name that does not exist
  // NUL and control characters
  add('nul', 'notes/a.md\u0000../../outside/secret.txt');
  add('nul', '\u0000');
  add('nul', 'ln-direct\u0000');
  add('nul', `${O}/secret.txt\u0000`);
  add('nul', 'notes/\u0000/a.md');
  for (const p of ['notes/\u0001\u0002.md', 'notes/a\nb.md', 'notes/\u001b[31mred.md', 'notes/\u007f.md',
    '\ttab.md', ' ', 'notes/\r.md', 'notes/\u2028.md'])
    add('control', p, false);
  add('empty', '', true);
  // trailing slashes
  for (const p of ['notes/a.md/', 'notes/a.md/.', 'notes/a.md/..', 'ln-direct/', 'ln-parent/', '../outside/',
    'notes//', 'ln-dir-rel/'])
    add('slash', p, !p.startsWith('notes'));
  // case tricks (the file system is case-sensitive; the root's own case is matched exactly)
  add('case', R.toUpperCase() + '/notes/a.md');
  add('case', `${C}/ROOT/notes/a.md`);
  add('case', 'NOTES/A.MD', false);
  add('case', 'LN-DIR/secret.txt', false);
  // other spellings that are not special on Linux
  for (const p of ['~', '~/x', '$HOME/x', '%2e%2e/outside/secret.txt', 'file:///etc/passwd',
    '..\\outside\\secret.txt', '\u2025/outside/secret.txt', '\uff0e\uff0e/outside/secret.txt'])
    add('spelling', p, false);
  return L;
}

const BAD_PROJECT = ['..', '.', '../outside', 'proj/../../outside', '/etc', 'ln-dir', 'ln-dir-rel', 'ln-parent',
  'notes/ln-up', 'a/b', '', 'proj\u0000x', 'x'.repeat(300), 'proj/', '..\u0000', 'ln-direct'];
const BAD_FILE = ['../../outside/secret.txt', '../x.md', '/etc/passwd', '.', '..', 'a/b.md', '', 'x'.repeat(300),
  'f\u0000.md', '../../../../etc/passwd', 'x.md/', '../proj/x.md'];

// ---- results ------------------------------------------------------------------------

function textOf(res) {
  const t = (res.content || []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');
  return t + (res.structuredContent ? `\n${JSON.stringify(res.structuredContent)}` : '');
}

function leaks(s) {
  return s.includes(MARK) || s.includes(LISTMARK) || PASSWD_RE.test(s);
}

// A clear sentence: says something, no placeholders, no raw numbers for errno.
function clear(s) {
  return s.trim().length > 3 && !/\(null\)|undefined|Unknown error|unknown error|-1000\d\d|\bNaN\b/.test(s);
}

const PATH_FIELDS = ['path', 'paths', 'source', 'destination', 'projectName', 'fileName'];

function defaultFor(name, schema, n) {
  switch (name) {
    case 'path': return '.';
    case 'paths': return ['notes/a.md'];
    case 'source': return `mv/src-${n}.md`;
    case 'destination': return `mv/dst-${n}.md`;
    case 'projectName': return 'proj';
    case 'fileName': return `f-${n}.md`;
    case 'content': return `ESCAPED-CONTENT-${n}`;
    case 'query': return 'OUTSIDE-SECRET';
    case 'pattern': return '**/*';
    case 'edits': return [{ oldText: 'OUTSIDE', newText: 'ESCAPED' }];
    default:
      switch (schema?.type) {
        case 'string': return 'x';
        case 'array': return [];
        case 'boolean': return false;
        case 'integer': case 'number': return 1;
        case 'object': return {};
        default: return 'x';
      }
  }
}

// ---- the suite -------------------------------------------------------------------------

describe(`escape suite (${RB_IO})`, () => {
  let C, R, O, s, tools, base, fd0;
  const counts = { attempts: 0, refused: 0, allowed: 0, escapes: 0, raceReads: 0, raceWrites: 0, flips: 0 };
  const escapes = [];
  let n = 0;

  before(async () => {
    ({ C, R, O } = build());
    ensureInside(R, O);
    base = snapshot(C);
    s = await connect({ roots: [R] });
    ({ tools } = await s.client.listTools());
    await s.client.callTool({ name: 'list_allowed_directories', arguments: {} });
    fd0 = fdCount(s.pid);
  });

  after(async () => {
    if (s) await s.client.close();
    if (C) fs.rmSync(C, { recursive: true, force: true });
    console.log(`# escape (${RB_IO}): ${counts.attempts} attempts, ${counts.refused} refused, ` +
      `${counts.allowed} allowed (inside), ${counts.escapes} escapes; race: ${counts.flips} link flips, ` +
      `${counts.raceReads} reads, ${counts.raceWrites} writes`);
  });

  // One call: never a JSON-RPC error, never outside content; a refusal is
  // isError with a clear sentence. Returns the result.
  async function attempt(tool, args, mustRefuse, label, keep = false) {
    n++;
    counts.attempts++;
    if (!keep) ensureInside(R, O);
    if ('source' in args && args.source === `mv/src-${n}.md`) fs.writeFileSync(path.join(R, args.source), 'mv\n');
    let res;
    try {
      res = await s.client.callTool({ name: tool, arguments: args });
    } catch (e) {
      throw new Error(`${tool} ${label}: a JSON-RPC error instead of an isError result: ${e.message}`);
    }
    const t = textOf(res);
    if (leaks(t)) {
      counts.escapes++;
      escapes.push(`${tool} ${label}: outside content in the result: ${t.slice(0, 300)}`);
    }
    // read_multiple_files answers per file: "<path>: Error - <why>".
    const refused = res.isError || (tool === 'read_multiple_files' && / Error - \S/.test(t));
    if (refused) {
      counts.refused++;
      assert.ok(clear(t), `${tool} ${label}: unclear refusal: ${JSON.stringify(t)}`);
    } else {
      counts.allowed++;
      if (mustRefuse)
        escapes.push(`${tool} ${label}: not refused: ${t.slice(0, 300)}`);
    }
    return res;
  }

  function checkOutside(what) {
    const d = diffSnap(base, snapshot(C));
    if (d.length) {
      counts.escapes += d.length;
      escapes.push(`${what}: changed outside the root:\n  ${d.join('\n  ')}`);
    }
  }

  test('every path-taking tool is covered', () => {
    const pt = tools.filter((t) => PATH_FIELDS.some((f) => t.inputSchema?.properties?.[f]));
    const names = pt.map((t) => t.name).sort();
    for (const must of ['read_text_file', 'write_file', 'edit_file', 'move_file', 'search_files',
      'read_multiple_files', 'create_directory', 'list_directory', 'directory_tree', 'get_file_info',
      'memory_bank_read', 'memory_bank_write', 'memory_bank_update', 'list_project_files',
      'validate_memory_bank'])
      assert.ok(names.includes(must), `${must} takes a path`);
  });

  test('hostile paths through every path-taking tool', async () => {
    escapes.length = 0;
    const paths = hostilePaths(R, O, C);
    for (const tool of tools) {
      const props = tool.inputSchema?.properties || {};
      const fields = PATH_FIELDS.filter((f) => props[f] && f !== 'projectName' && f !== 'fileName');
      for (const field of fields) {
        for (const [cls, p, refuse] of paths) {
          const args = {};
          for (const k of tool.inputSchema.required || []) args[k] = defaultFor(k, props[k], n + 1);
          args[field] = field === 'paths' ? [p] : p;
          // Moving a symlink that lies inside the root moves the link
          // itself (renameat on its parent and its name, never through
          // it): not an escape, so not necessarily refused.
          const linkItself = tool.name === 'move_file' && field === 'source' && /^(notes\/)?ln-[^/]*\/?$/.test(p);
          await attempt(tool.name, args, refuse && !linkItself,
            `${field}=${JSON.stringify(p).slice(0, 80)} [${cls}]`);
        }
      }
      checkOutside(tool.name);
    }
    assert.deepEqual(escapes, []);
  });

  test('project and file names with separators and dot-dot', async () => {
    escapes.length = 0;
    for (const tool of tools) {
      const props = tool.inputSchema?.properties || {};
      if (!props.projectName) continue;
      for (const pn of BAD_PROJECT) {
        const args = {};
        for (const k of tool.inputSchema.required || []) args[k] = defaultFor(k, props[k], n + 1);
        args.projectName = pn;
        await attempt(tool.name, args, true, `projectName=${JSON.stringify(pn).slice(0, 60)}`);
      }
      if (props.fileName) {
        for (const fnm of BAD_FILE) {
          const args = {};
          for (const k of tool.inputSchema.required || []) args[k] = defaultFor(k, props[k], n + 1);
          args.fileName = fnm;
          await attempt(tool.name, args, true, `fileName=${JSON.stringify(fnm).slice(0, 60)}`);
        }
        // A project that is a symlink to an outside directory.
        for (const pn of ['ln-dir', 'ln-dir-rel']) {
          const args = {};
          for (const k of tool.inputSchema.required || []) args[k] = defaultFor(k, props[k], n + 1);
          args.projectName = pn;
          args.fileName = 'secret.txt';
          await attempt(tool.name, args, true, `projectName=${pn} fileName=secret.txt`);
        }
      }
      checkOutside(tool.name);
    }
    assert.deepEqual(escapes, []);
  });

  test('glob patterns and listings that try to climb', async () => {
    escapes.length = 0;
    const pats = ['../**', '../*', '**/../**', '../outside/*', '/etc/*', '**/secret.txt', '**/*.txt',
      `../outside/${LISTMARK}.txt`, '**/..', '..', '/**', '**/ln-dir/**', '{..,.}/**', '[.][.]/**', '.*/**'];
    for (const pattern of pats) {
      for (const p of ['.', 'notes', R]) {
        await attempt('search_files', { path: p, pattern }, false, `path=${p} pattern=${pattern}`);
        await attempt('search_files', { path: p, pattern: '**/*', excludePatterns: [pattern] }, false,
          `excludePatterns=[${pattern}]`);
      }
      await attempt('directory_tree', { path: '.', excludePatterns: [pattern] }, false, `tree exclude ${pattern}`);
      if (tools.some((t) => t.name === 'search_memory_bank')) {
        await attempt('search_memory_bank', { query: 'OUTSIDE-SECRET', include: [pattern] }, false, `include=${pattern}`);
        await attempt('search_memory_bank', { query: 'OUTSIDE', include: pattern }, false, `include=${pattern}`);
        await attempt('search_memory_bank', { query: 'OUTSIDE.*', regex: true, include: pattern }, false,
          `regex include=${pattern}`);
      }
    }
    for (const t of ['list_directory', 'list_directory_with_sizes', 'directory_tree', 'bank_stats',
      'validate_memory_bank', 'list_projects', 'list_project_files', 'search_memory_bank']) {
      const tool = tools.find((x) => x.name === t);
      if (!tool) continue;
      const args = {};
      for (const k of tool.inputSchema.required || []) args[k] = defaultFor(k, tool.inputSchema.properties[k], n);
      if (tool.inputSchema.properties?.path) args.path = '.';
      await attempt(t, args, false, 'of the root (symlinks out must not be followed)');
    }
    checkOutside('globs');
    assert.deepEqual(escapes, []);
  });

  test('hard links: inside the root by design; writes replace the link, never the outside file', async () => {
    escapes.length = 0;
    const r = await attempt('read_text_file', { path: 'hard.md' }, false, 'hard link read');
    assert.ok(!r.isError && textOf(r).includes(HARDMARK), 'a hard link reads as the file it is');
    const before = fs.readFileSync(path.join(O, 'hard-src.txt'), 'utf8');
    await attempt('write_file', { path: 'hard.md', content: 'REPLACED' }, false, 'hard link write', true);
    await attempt('edit_file', { path: 'hard.md', edits: [{ oldText: 'REPLACED', newText: 'EDITED' }] }, false,
      'hard link edit', true);
    assert.equal(fs.readFileSync(path.join(O, 'hard-src.txt'), 'utf8'), before, 'the outside file is untouched');
    assert.equal(fs.readFileSync(path.join(R, 'hard.md'), 'utf8'), 'EDITED');
    assert.equal(fs.statSync(path.join(O, 'hard-src.txt')).nlink, 1, 'the link was replaced, not written through');
    fs.rmSync(path.join(R, 'hard.md'));
    checkOutside('hard links');
    assert.deepEqual(escapes, []);
  });

  test('symlinks swapped between check and use (racing process)', async () => {
    escapes.length = 0;
    const rounds = Number(process.env.RB_ESCAPE_ROUNDS || 2000);
    // The flipper: atomically replaces each link (symlink to a temp name,
    // rename over) in a tight loop, alternating inside and outside targets.
    const flipper = `
      const fs = require('fs'), path = require('path');
      const R = process.argv[1];
      const sets = [
        ['race.md', ['race-inside.md', '/etc/passwd', '../outside/secret.txt', 'race-inside.md']],
        ['race-dir', ['notes', '${O}', '../outside', 'notes']],
        ['wrace.md', ['wrace-inside.md', '${O}/victim.txt', '../outside/victim.txt']],
        ['wrace-dir', ['mv', '${O}', '../outside/sub']],
      ];
      let flips = 0, stop = false; const bad = {};
      process.on('SIGTERM', () => { stop = true; });
      function burst() {
        for (let i = 0; i < 200 && !stop; i++) {
          for (const [name, targets] of sets) {
            const t = targets[flips % targets.length];
            const tmp = path.join(R, '.flip-' + name + '-' + process.pid);
            try { fs.unlinkSync(tmp); } catch {}
            fs.symlinkSync(t, tmp);
            try {
              fs.renameSync(tmp, path.join(R, name));
            } catch (e) {
              // Something replaced the link with a directory: report it once.
              if (!bad[name]) {
                bad[name] = 1;
                const st = fs.lstatSync(path.join(R, name));
                process.stderr.write('flipper: ' + name + ' is no longer a link (' + e.code + ', mode ' +
                  st.mode.toString(8) + ', entries ' + JSON.stringify(fs.readdirSync(path.join(R, name)).slice(0, 5)) + ')\\n');
              }
            }
          }
          flips++;
        }
        if (stop) { process.stdout.write(String(flips) + '\\n'); process.exit(0); }
        if (flips === 200) process.stdout.write('ready\\n');
        setImmediate(burst);
      }
      burst();`;
    ensureInside(R, O);
    fs.writeFileSync(path.join(R, 'notes', 'a.md'), '# A\n\nINSIDE alpha\n');
    const child = spawn(process.execPath, ['-e', flipper, R], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let ready;
    const isReady = new Promise((res) => { ready = res; });
    child.stdout.on('data', (b) => {
      out += b;
      if (out.includes('ready\n')) ready();
    });
    const exited = new Promise((res) => child.on('exit', res));
    await Promise.race([isReady, exited]); // every link exists before the first call
    const reads = [
      () => ({ name: 'read_text_file', arguments: { path: 'race.md' } }),
      () => ({ name: 'read_file', arguments: { path: 'race-dir/a.md' } }),
      () => ({ name: 'read_multiple_files', arguments: { paths: ['race.md', 'race-dir/a.md'] } }),
      () => ({ name: 'get_file_info', arguments: { path: 'race.md' } }),
      () => ({ name: 'list_directory', arguments: { path: 'race-dir' } }),
      () => ({ name: 'search_files', arguments: { path: 'race-dir', pattern: '**/*' } }),
      () => ({ name: 'memory_bank_read', arguments: { projectName: 'race-dir', fileName: 'a.md' } }),
    ];
    let k = 0;
    const raced = { inside: 0, refused: 0 };
    const writes = [
      () => ({ name: 'write_file', arguments: { path: 'wrace.md', content: `W-${k}` } }),
      () => ({ name: 'write_file', arguments: { path: 'wrace-dir/new.md', content: `W-${k}` } }),
      () => ({ name: 'create_directory', arguments: { path: `wrace-dir/d-${k}` } }),
      () => ({ name: 'edit_file', arguments: { path: 'wrace.md', edits: [{ oldText: 'OUTSIDE', newText: 'ESCAPED' }] } }),
      () => ({ name: 'move_file', arguments: { source: `mv/m-${k}.md`, destination: `wrace-dir/moved-${k}.md` } }),
      () => ({ name: 'memory_bank_write', arguments: { projectName: 'wrace-dir', fileName: `p-${k}.md`, content: 'P' } }),
      () => ({ name: 'memory_bank_update', arguments: { projectName: 'wrace-dir', fileName: 'upd.md', content: `U-${k}` } }),
    ];
    const one = async (mk, isWrite) => {
      const req = mk();
      if (req.name === 'move_file') fs.writeFileSync(path.join(R, req.arguments.source), 'm\n');
      let res;
      try {
        res = await s.client.callTool(req);
      } catch (e) {
        escapes.push(`race ${req.name}: JSON-RPC error ${e.message}`);
        return;
      }
      const t = textOf(res);
      if (leaks(t)) {
        counts.escapes++;
        escapes.push(`race ${req.name} ${JSON.stringify(req.arguments)}: outside content: ${t.slice(0, 200)}`);
      }
      if (req.name === 'read_text_file') {
        if (res.isError) raced.refused++;
        else if (t.startsWith('INSIDE-RACE')) raced.inside++;
      }
      if (res.isError && !clear(t)) escapes.push(`race ${req.name}: unclear error ${JSON.stringify(t)}`);
      if (isWrite) counts.raceWrites++; else counts.raceReads++;
    };
    try {
      for (k = 0; k < rounds; k++) {
        const batch = [];
        batch.push(one(reads[k % reads.length], false));
        batch.push(one(reads[(k + 3) % reads.length], false));
        batch.push(one(writes[k % writes.length], true));
        await Promise.all(batch);
      }
    } finally {
      child.kill('SIGTERM');
      await exited;
      counts.flips = Number(out.replace('ready\n', '').trim()) || 0;
    }
    assert.ok(counts.flips > 0, 'the flipper ran');
    // The race was real: some reads met the link pointing in, some out.
    assert.ok(raced.inside > 0 && raced.refused > 0, `reads inside ${raced.inside}, refused ${raced.refused}`);
    for (const f of fs.readdirSync(R)) if (f.startsWith('.flip-')) fs.rmSync(path.join(R, f), { force: true });
    checkOutside('race');
    assert.deepEqual(escapes, []);
  });

  // MCP roots narrow the command-line roots. Paths under a narrowed root
  // resolve beneath an fd of the allowed directory (src/fs/fs.c), so a
  // symlink inside it cannot reach the rest of the command-line root.
  // (Regression: the narrowing used to be checked on the path's text only.)
  test('MCP roots narrowing is not bypassed by a symlink inside it',
    async () => {
      ensureInside(R, O);
      fs.mkdirSync(path.join(R, 'private'), { recursive: true });
      fs.writeFileSync(path.join(R, 'private', 'p.md'), `${MARK} private\n`);
      fs.rmSync(path.join(R, 'notes', 'ln-side'), { force: true });
      fs.symlinkSync('../private', path.join(R, 'notes', 'ln-side'));
      const narrowed = await connect({
        roots: [R],
        capabilities: { roots: {} },
        setup(client) {
          client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: `file://${R}/notes` }] }));
        },
      });
      try {
        const list = textOf(await narrowed.client.callTool({ name: 'list_allowed_directories', arguments: {} }));
        assert.match(list, /\/notes/);
        const direct = await narrowed.client.callTool({ name: 'read_text_file', arguments: { path: `${R}/private/p.md` } });
        assert.equal(direct.isError, true, 'outside the narrowing: refused');
        for (const [name, args] of [
          ['read_text_file', { path: `${R}/notes/ln-side/p.md` }],
          ['list_directory', { path: `${R}/notes/ln-side` }],
          ['write_file', { path: `${R}/notes/ln-side/new.md`, content: 'ESCAPED' }],
        ]) {
          const res = await narrowed.client.callTool({ name, arguments: args });
          counts.attempts++;
          assert.equal(res.isError, true, `${name} through a symlink out of the MCP root: ${textOf(res).slice(0, 120)}`);
        }
        assert.ok(!fs.existsSync(path.join(R, 'private', 'new.md')), 'no write beyond the MCP root');
      } finally {
        await narrowed.client.close();
        fs.rmSync(path.join(R, 'private'), { recursive: true, force: true });
        fs.rmSync(path.join(R, 'notes', 'ln-side'), { force: true });
      }
    });

  test('the server still answers, with no fd left behind', async () => {
    const r = await s.client.callTool({ name: 'read_text_file', arguments: { path: 'notes/b.md' } });
    assert.ok(!r.isError);
    assert.match(textOf(r), /INSIDE beta/);
    await waitFor(`the server's fds back to the baseline (${fd0})`, () => fdCount(s.pid) <= fd0,
      { describe: () => `${fdCount(s.pid)} fds` });
    assert.equal(counts.escapes, 0);
    assert.ok(counts.attempts >= 1000, `only ${counts.attempts} attempts`);
  });
});
