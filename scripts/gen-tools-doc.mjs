#!/usr/bin/env node
// gen-tools-doc.mjs: writes docs/TOOLS.md, the reference of every tool the
// server lists, from what the real binary answers to tools/list (so the
// document cannot drift from the code: rerun it after changing a tool).
//
// It starts `ringbank serve TMPDIR` through tests/interop/lib.mjs (the
// official MCP SDK client, protocol 2025-11-25), pages through tools/list
// and renders, per tool: name, title, description, parameters from
// inputSchema (type, required, default, constraints, description; nested
// object and array-of-object properties flattened as `a.b` / `a[].b`),
// annotations, and whether the result carries structuredContent (the
// outputSchema's fields, rendered the same way).
//
//   node scripts/gen-tools-doc.mjs            rewrite docs/TOOLS.md
//   node scripts/gen-tools-doc.mjs --check    exit 1 if docs/TOOLS.md is stale
//   node scripts/gen-tools-doc.mjs --stdout   print instead of writing
// Options: --bin PATH (default $RB_BIN, else build/ringbank), --out PATH.
// Needs tests/interop/node_modules (cd tests/interop && npm ci).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);
const repo = path.resolve(path.dirname(self), '..');

// lib.mjs registers a node:test `after` hook (it kills servers a failed test
// left running), which makes node print a TAP report on stdout at exit. Run
// ourselves again with that report sent to /dev/null, so --stdout is clean.
if (!process.env.RB_GEN_TOOLS_DOC_CHILD) {
  // A temp file, not /dev/null: Node 22.23 fsyncs the reporter's stream at
  // close, and fsync(/dev/null) is EINVAL, an unhandled error (exit 1).
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gen-tools-doc-'));
  const r = spawnSync(process.execPath,
    ['--test-reporter=tap', `--test-reporter-destination=${path.join(tmp, 'tap')}`, self, ...process.argv.slice(2)],
    { stdio: 'inherit', env: { ...process.env, RB_GEN_TOOLS_DOC_CHILD: '1' } });
  fs.rmSync(tmp, { recursive: true, force: true });
  process.exit(r.status ?? 1);
}

function parseArgs(argv) {
  const o = { bin: process.env.RB_BIN || path.join(repo, 'build/ringbank'), out: path.join(repo, 'docs/TOOLS.md'),
    check: false, stdout: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--check') o.check = true;
    else if (a === '--stdout') o.stdout = true;
    else if (a === '--bin') o.bin = argv[++i];
    else if (a === '--out') o.out = argv[++i];
    else if (a === '-h' || a === '--help') {
      console.log('usage: node scripts/gen-tools-doc.mjs [--bin PATH] [--out PATH] [--check | --stdout]');
      process.exit(0);
    } else {
      console.error(`gen-tools-doc: unknown argument ${a}`);
      process.exit(2);
    }
  }
  o.bin = path.resolve(o.bin);
  return o;
}

// ---- schema rendering ---------------------------------------------------------

// Prose from the server as Markdown text: code spans (`x`) kept, elsewhere
// the characters Markdown would act on escaped (so **/*.md stays literal;
// '_' is left alone: GFM does not emphasise inside words like read_text_file).
function md(s) {
  return String(s ?? '').split(/(`[^`\n]+`)/).map((part, i) => (i % 2 ? part
    : part.replace(/[\\`*<>]/g, (c) => (c === '<' ? '&lt;' : c === '>' ? '&gt;' : '\\' + c)))).join('');
}
// The same, inside a table cell: also no '|' or line breaks.
const cell = (s) => md(s).replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>');
const code = (s) => '`' + String(s).replace(/`/g, 'ˋ') + '`';

// A short type for a schema: string, integer, "name" | "size", string[],
// object[], string | string[], entry (a $ref).
function typeOf(s) {
  if (!s || typeof s !== 'object') return 'any';
  if (s.$ref) return s.$ref.replace(/^#\/(\$defs|definitions)\//, '');
  const alt = s.anyOf || s.oneOf;
  if (alt) return alt.map(typeOf).join(' \\| ');
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  if (s.const !== undefined) return JSON.stringify(s.const);
  const t = Array.isArray(s.type) ? s.type : [s.type ?? (s.properties ? 'object' : 'any')];
  return t.map((x) => {
    if (x !== 'array') return x;
    const it = s.items ? typeOf(s.items) : 'any';
    return /\s/.test(it) ? `(${it})[]` : `${it}[]`;
  }).join(' \\| ');
}

// Constraints worth a reader's attention.
function constraints(s) {
  const c = [];
  if (s.minimum !== undefined) c.push(`≥ ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) c.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined) c.push(`≤ ${s.maximum}`);
  if (s.exclusiveMaximum !== undefined) c.push(`< ${s.exclusiveMaximum}`);
  if (s.minLength !== undefined) c.push(`length ≥ ${s.minLength}`);
  if (s.maxLength !== undefined) c.push(`length ≤ ${s.maxLength}`);
  if (s.minItems !== undefined) c.push(`≥ ${s.minItems} items`);
  if (s.maxItems !== undefined) c.push(`≤ ${s.maxItems} items`);
  if (s.pattern !== undefined) c.push(`pattern ${code(s.pattern)}`);
  if (s.format !== undefined) c.push(`format ${s.format}`);
  return c.join(', ');
}

// The object whose properties a schema's children are: the schema itself
// (object), or its items (array of objects). null when it has none.
function childObject(s) {
  if (s?.properties) return { obj: s, suffix: '' };
  if (s?.items?.properties) return { obj: s.items, suffix: '[]' };
  return null;
}

// Rows {name, type, required, def, cons, desc} for an object schema's
// properties, nested ones flattened. required: of the property within its
// parent object.
function rows(obj, prefix = '', depth = 0) {
  const out = [];
  const req = new Set(obj.required || []);
  for (const [name, s] of Object.entries(obj.properties || {})) {
    const full = prefix + name;
    out.push({
      name: full,
      type: typeOf(s),
      required: req.has(name),
      def: s.default !== undefined ? JSON.stringify(s.default) : '',
      cons: constraints(s),
      desc: s.description || '',
    });
    const child = childObject(s);
    if (child && depth < 4) out.push(...rows(child.obj, `${full}${child.suffix}.`, depth + 1));
    // Maps: {"additionalProperties": {schema}}.
    if (s.additionalProperties && typeof s.additionalProperties === 'object' && !s.properties)
      out.push({ name: `${full}.<key>`, type: typeOf(s.additionalProperties), required: false, def: '',
        cons: '', desc: s.additionalProperties.description || '' });
  }
  return out;
}

function paramTable(schema) {
  const r = rows(schema);
  if (!r.length) return '_No parameters._\n';
  const lines = ['| Parameter | Type | Required | Default | Constraints | Description |',
    '|---|---|---|---|---|---|'];
  for (const x of r)
    lines.push(`| ${code(x.name)} | ${x.type} | ${x.required ? 'yes' : 'no'} | ${x.def ? code(x.def) : ''} | ` +
      `${cell(x.cons)} | ${cell(x.desc)} |`);
  let note = '';
  if (schema.additionalProperties === false)
    note = '\nThe schema says `additionalProperties: false`; other arguments are ignored.\n';
  return lines.join('\n') + '\n' + note;
}

function resultSection(t) {
  const out = t.outputSchema;
  if (!out)
    return '**Result:** content blocks only (no `outputSchema`, no `structuredContent`).\n';
  const r = rows(out);
  const lines = ['**Result:** content blocks plus `structuredContent` matching this `outputSchema`:', '',
    '| Field | Type | Always present | Description |', '|---|---|---|---|'];
  for (const x of r)
    lines.push(`| ${code(x.name)} | ${x.type} | ${x.required ? 'yes' : 'no'} | ${cell(x.desc)} |`);
  const defs = out.$defs || out.definitions;
  if (defs) {
    for (const [name, d] of Object.entries(defs)) {
      lines.push('', `\`${name}\` (referenced above):`, '', '| Field | Type | Always present | Description |', '|---|---|---|---|');
      for (const x of rows(d))
        lines.push(`| ${code(x.name)} | ${x.type} | ${x.required ? 'yes' : 'no'} | ${cell(x.desc)} |`);
    }
  }
  return lines.join('\n') + '\n';
}

const HINTS = ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'];

function annotationsLine(a = {}) {
  const parts = HINTS.filter((h) => a[h] !== undefined).map((h) => `${h}: ${a[h]}`);
  for (const [k, v] of Object.entries(a))
    if (k !== 'title' && !HINTS.includes(k)) parts.push(`${k}: ${JSON.stringify(v)}`);
  return parts.length ? `**Annotations:** ${parts.map(code).join(', ')}\n` : '**Annotations:** none\n';
}

const yes = (b) => (b ? 'yes' : '');

function render(tools, server) {
  const L = [];
  L.push('# ringbank tools', '');
  L.push('<!-- Generated by scripts/gen-tools-doc.mjs from the server\'s own tools/list. Do not edit by hand:');
  L.push('     rerun `node scripts/gen-tools-doc.mjs` (after `ninja -C build`) when a tool changes. -->', '');
  L.push(`Every tool \`${server?.name ?? 'ringbank'} ${server?.version ?? ''}\` lists, as \`tools/list\` returns it ` +
    `(protocol 2025-11-25), in the server's order: ${tools.length} tools.`, '');
  L.push('Notes that hold for all of them:', '');
  L.push('- Paths are absolute or relative to the first allowed directory, and must lie within the allowed');
  L.push('  directories (`list_allowed_directories`).');
  L.push('- A failure is a result with `isError: true` and one text block naming the path and the cause,');
  L.push('  not a JSON-RPC error. Results with `isError` carry no `structuredContent`.');
  L.push('- "Structured" below means the tool declares an `outputSchema` and its successful results carry');
  L.push('  `structuredContent` (the content text keeps its own format). With a client that negotiates a');
  L.push('  protocol older than 2025-06-18, no tool has an `outputSchema`, and a result whose only payload was');
  L.push('  `structuredContent` gets it as a JSON text block instead.');
  L.push('- Nested parameters and fields are flattened: `a.b` is property `b` of object `a`, `a[].b` property');
  L.push('  `b` of each item of array `a`; "required" / "always present" is relative to that parent.');
  L.push('- The file tools keep the names, parameters and text formats of the official');
  L.push('  `@modelcontextprotocol/server-filesystem`; see [PARITY.md](PARITY.md) for the differences.');
  L.push('');
  L.push('| Tool | Title | Read-only | Destructive | Idempotent | Structured |');
  L.push('|---|---|---|---|---|---|');
  for (const t of tools) {
    const a = t.annotations || {};
    L.push(`| [${code(t.name)}](#${t.name.replace(/[^a-z0-9_-]/gi, '').toLowerCase()}) | ${cell(t.title ?? a.title ?? '')} | ` +
      `${yes(a.readOnlyHint)} | ${yes(a.destructiveHint)} | ${yes(a.idempotentHint)} | ${yes(!!t.outputSchema)} |`);
  }
  L.push('');
  for (const t of tools) {
    L.push(`## ${t.name}`, '');
    const title = t.title ?? t.annotations?.title;
    if (title) L.push(`**${md(title)}**`, '');
    L.push(t.description ? md(t.description) : '_No description._', '');
    L.push('**Parameters:**', '');
    L.push(paramTable(t.inputSchema || {}));
    L.push(annotationsLine(t.annotations));
    L.push(resultSection(t));
    // 2025-11-25: execution.taskSupport says whether the call can run as an MCP task.
    if (t.execution)
      L.push(`**Execution:** ${Object.entries(t.execution).map(([k, v]) => code(`${k}: ${JSON.stringify(v)}`)).join(', ')}`, '');
  }
  return L.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd() + '\n';
}

// ---- main -----------------------------------------------------------------------

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(o.bin)) {
    console.error(`gen-tools-doc: no server binary at ${o.bin} (build it: meson setup build && ninja -C build, or pass --bin)`);
    process.exit(2);
  }
  process.env.RB_BIN = o.bin; // lib.mjs reads it when imported
  let lib;
  try {
    lib = await import('../tests/interop/lib.mjs');
  } catch (e) {
    console.error(`gen-tools-doc: cannot load tests/interop/lib.mjs (${e.message}); run: cd tests/interop && npm ci`);
    process.exit(2);
  }
  const dir = lib.tree({});
  let s;
  try {
    s = await lib.connect({ roots: [dir] });
    const tools = [];
    let cursor;
    do {
      const page = await s.client.listTools(cursor ? { cursor } : undefined);
      tools.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor);
    const md = render(tools, s.client.getServerVersion());
    if (o.stdout) {
      process.stdout.write(md);
    } else if (o.check) {
      const cur = fs.existsSync(o.out) ? fs.readFileSync(o.out, 'utf8') : '';
      if (cur !== md) {
        console.error(`gen-tools-doc: ${path.relative(repo, o.out)} is out of date: rerun node scripts/gen-tools-doc.mjs`);
        process.exitCode = 1;
      } else {
        console.log(`gen-tools-doc: ${path.relative(repo, o.out)} is up to date (${tools.length} tools)`);
      }
    } else {
      fs.writeFileSync(o.out, md);
      console.log(`gen-tools-doc: wrote ${path.relative(repo, o.out)} (${tools.length} tools)`);
    }
  } finally {
    if (s) await s.client.close();
    lib.rmtree(dir);
  }
}

main().catch((e) => {
  console.error(`gen-tools-doc: ${e.stack || e}`);
  process.exit(1);
});
