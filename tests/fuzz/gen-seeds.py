#!/usr/bin/env python3
"""gen-seeds.py: writes the seed corpora in tests/fuzz/corpus/<harness>/.

Seeds are realistic: the messages the interop tests send (initialize,
tools/list, a tools/call of every tool with the arguments the SDK client
uses), path forms the escape suite tries, and markdown samples covering
each mdcheck diagnostic. Run it again after adding a tool; the tool order
must match rb_tools_all() (src/tools/registry.c) for the tools harness."""
import json, os, sys

here = os.path.dirname(os.path.abspath(__file__))
TOOLS = ['read_text_file', 'read_file', 'read_media_file', 'read_multiple_files', 'write_file',
         'edit_file', 'create_directory', 'list_directory', 'list_directory_with_sizes', 'directory_tree',
         'move_file', 'search_files', 'get_file_info', 'list_allowed_directories', 'list_projects',
         'list_project_files', 'memory_bank_read', 'memory_bank_write', 'memory_bank_update',
         'search_memory_bank', 'bank_stats', 'validate_memory_bank']

CALLS = [
    ('read_text_file', {'path': 'notes/a.md'}),
    ('read_text_file', {'path': 'notes/a.md', 'head': 2}),
    ('read_text_file', {'path': 'notes/a.md', 'tail': 1}),
    ('read_text_file', {'path': '../outside/secret'}),
    ('read_file', {'path': 'link-a.md'}),
    ('read_media_file', {'path': 'notes/b.txt'}),
    ('read_multiple_files', {'paths': ['notes/a.md', 'proj/x.md', 'missing.md', 'escape/secret']}),
    ('write_file', {'path': 'notes/new.md', 'content': '# New\n\nbody\n'}),
    ('write_file', {'path': 'escape/secret', 'content': 'pwned'}),
    ('edit_file', {'path': 'notes/a.md', 'edits': [{'oldText': 'beta', 'newText': 'BETA'}], 'dryRun': True}),
    ('edit_file', {'path': 'notes/a.md', 'edits': [{'oldText': 'alpha\nbeta', 'newText': 'x'}, {'oldText': 'gamma', 'newText': ''}]}),
    ('create_directory', {'path': 'notes/sub/dir'}),
    ('list_directory', {'path': '.'}),
    ('list_directory_with_sizes', {'path': 'notes', 'sortBy': 'size'}),
    ('directory_tree', {'path': '.', 'excludePatterns': ['**/deep']}),
    ('move_file', {'source': 'notes/a.md', 'destination': 'notes/moved.md'}),
    ('search_files', {'path': '.', 'pattern': '**/*.md', 'excludePatterns': ['proj/**']}),
    ('search_files', {'path': '.', 'pattern': '../**'}),
    ('get_file_info', {'path': 'notes'}),
    ('list_allowed_directories', {}),
    ('list_projects', {}),
    ('list_project_files', {'projectName': 'proj'}),
    ('memory_bank_read', {'projectName': 'proj', 'fileName': 'x.md'}),
    ('memory_bank_write', {'projectName': 'proj', 'fileName': 'new.md', 'content': '# N\n'}),
    ('memory_bank_update', {'projectName': 'proj', 'fileName': 'x.md', 'content': '# X2\n',
                            'expectedVersion': '0' * 64}),
    ('memory_bank_write', {'projectName': '../notes', 'fileName': 'a.md', 'content': 'x'}),
    ('search_memory_bank', {'query': 'alpha', 'caseSensitive': True}),
    ('search_memory_bank', {'query': 'al(p|q)ha', 'regex': True, 'include': ['**/*.md']}),
    ('bank_stats', {'path': '.'}),
    ('validate_memory_bank', {'path': '.', 'rules': {'required_files': ['projectbrief.md'], 'check_links': True}}),
    ('validate_memory_bank', {'path': 'proj', 'rules': {'max_file_bytes': 10}}),
]

def put(harness, name, data):
    d = os.path.join(here, 'corpus', harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data if isinstance(data, bytes) else data.encode())

def line(obj):
    return json.dumps(obj, separators=(',', ':')) + '\n'

init = line({'jsonrpc': '2.0', 'id': 0, 'method': 'initialize', 'params': {
    'protocolVersion': '2025-11-25', 'capabilities': {}, 'clientInfo': {'name': 'fuzz', 'version': '1'}}})
inited = line({'jsonrpc': '2.0', 'method': 'notifications/initialized'})

# ---- mcp ------------------------------------------------------------------
put('mcp', 'lifecycle', init + inited + line({'jsonrpc': '2.0', 'id': 1, 'method': 'ping'}) +
    line({'jsonrpc': '2.0', 'id': 2, 'method': 'tools/list'}) +
    line({'jsonrpc': '2.0', 'id': 3, 'method': 'logging/setLevel', 'params': {'level': 'debug'}}))
put('mcp', 'old-version', init.replace('2025-11-25', '2024-11-05') + inited +
    line({'jsonrpc': '2.0', 'id': 1, 'method': 'tools/call', 'params': {'name': 'list_projects', 'arguments': {}}}))
put('mcp', 'roots', line({'jsonrpc': '2.0', 'id': 0, 'method': 'initialize', 'params': {
    'protocolVersion': '2025-06-18', 'capabilities': {'roots': {'listChanged': True}},
    'clientInfo': {'name': 'fuzz', 'version': '1'}}}) + inited +
    line({'jsonrpc': '2.0', 'id': 0, 'result': {'roots': [{'uri': 'file:///tmp'}, {'uri': 'file://localhost/etc/%2e%2e/tmp'}]}}) +
    line({'jsonrpc': '2.0', 'id': 5, 'method': 'tools/call', 'params': {'name': 'list_allowed_directories'}}) +
    line({'jsonrpc': '2.0', 'method': 'notifications/roots/list_changed'}))
put('mcp', 'cancel', init + inited +
    line({'jsonrpc': '2.0', 'id': 7, 'method': 'tools/call', 'params': {'name': 'validate_memory_bank',
          'arguments': {'path': '.'}, '_meta': {'progressToken': 'p1'}}}) +
    line({'jsonrpc': '2.0', 'method': 'notifications/cancelled', 'params': {'requestId': 7, 'reason': 'x'}}))
put('mcp', 'garbage', init + '{"jsonrpc":"2.0","id":1,"method":\n[1,2]\n\xff\xfe\n{"jsonrpc":"1.0","id":{}}\n'
    '{"jsonrpc":"2.0","id":null,"method":"tools/call"}\n{"jsonrpc":"2.0","result":1,"id":99}\n')
put('mcp', 'before-init', line({'jsonrpc': '2.0', 'id': 1, 'method': 'tools/list'}) + init)
for i, (name, args) in enumerate(CALLS):
    put('mcp', 'call-%02d-%s' % (i, name), init + inited + line({'jsonrpc': '2.0', 'id': 100 + i,
        'method': 'tools/call', 'params': {'name': name, 'arguments': args, '_meta': {'progressToken': i}}}))

# ---- tools ----------------------------------------------------------------
for i, (name, args) in enumerate(CALLS):
    put('tools', 'call-%02d-%s' % (i, name), bytes([TOOLS.index(name)]) + json.dumps(args).encode())

# ---- path -----------------------------------------------------------------
PATHS = ['notes/a.md', '.', '/', '..', '../x', 'a/../../b', 'a/./b//c/', '/tmp', 'notes/../notes/a.md',
         'proj/x.md', 'notes/deep/c.md', '/etc/passwd', 'escape/secret', '/proc/self/root/etc/passwd',
         'a' * 300, ('d' * 200 + '/') * 25, 'trailing/', 'CAPS/A.MD', 'x\x01y', 'x\ny', '....//...',
         'notes/deep/../../..', 'notesX/a.md']
for i, p in enumerate(PATHS):
    for mode in (0, 1, 2, 4, 6):
        put('path', 'p%02d-m%d' % (i, mode), bytes([mode]) + p.encode())

# ---- mdcheck --------------------------------------------------------------
MD = {
    'ok': '# Title\n\nText with [link](other.md#sec) and [self](#title).\n\n## Sec\n\n- a\n- b\n',
    'front': '---\ntitle: x\ntags:\n  - a\n- b\n# c\n---\n# T\n',
    'front-bad': '---\nnot a key line\n---\n# T\n',
    'front-open': '---\ntitle: x\n# T\n',
    'no-title': 'text first\n# Late\n',
    'skip': '# A\n### C\n## B\n#### D\n',
    'fence': '# A\n\n```python\ncode\n',
    'fence-tilde': '# A\n\n~~~~\ncode\n~~~\n',
    'fence-nested': '# A\n\n> ```\n> quoted\n\nafter\n',
    'setext': 'Title\n=====\n\nSub\n---\n',
    'anchor': '# Hello, World!\n## Hello, World!\n[a](#hello-world) [b](#hello-world-1) [c](#nope)\n',
    'links': '# L\n![img](pic%20a.png?x=1#frag) [u](https://x.y) [m](mailto:a@b) [r](../up.md) <a.md>\n[ref]: ref.md#Top\n[r][ref]\n',
    'html': '<!-- comment -->\n# After comment\n<div>\n# not heading\n</div>\n',
    'utf8-bad': '# A\n\xc3\x28 bad\n',
    'utf8-ok': '# Ünïcödé 日本語 ☃\n\n## Émoji 😀\n',
    'table': '# T\n\n| a | b |\n|---|---|\n| [x](y.md) | `#z` |\n',
    'empty': '',
    'spaces': ' \n\t\n  ',
    'entities': '# A &amp; B &copy; <span>x</span> `code`\n',
}
for k, v in MD.items():
    raw = v.encode('latin-1') if k == 'utf8-bad' else v.encode()
    for opt in (1, 0, 2, 4):
        put('mdcheck', '%s-o%d' % (k, opt), bytes([opt | (20 << 3) if opt == 1 else opt]) + raw)
print('seeds written to', os.path.join(here, 'corpus'))
