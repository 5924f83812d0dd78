#!/usr/bin/env python3
"""gen-http-seeds.py: writes the seed corpus of fuzz_http in
tests/fuzz/corpus/http/ (see the header of fuzz_http.c for the format:
byte 0 = flags, then bytes to send, cut at "~~X" with X = '0'..'2' switch
connection, '3'..'5' switch to connection 0..2 without waiting for answers, 'c' client EOF, 'C' client EOF right after the piece, 'w' wait ~60 ms, other = plain cut; "@SID@" is
the last Mcp-Session-Id the server sent). One seed per feature of the
transport: sessions, SSE (POST and GET), DELETE, chunked bodies,
100-continue, pipelining, partial reads, every refusal, the bearer token,
Origin/Host checks, limits and timeouts. Run it again after changing them."""
import json, os, shutil

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, 'corpus', 'http')

TOKEN, ORIGIN, SMALL_OUT, ONE_SESSION, SERVER_FIRST, SHORT, TWO_CONNS = 1, 2, 4, 8, 16, 32, 64
ACCEPT = 'application/json, text/event-stream'


def msg(id_, method, params=None):
    m = {'jsonrpc': '2.0', 'method': method}
    if id_ is not None:
        m['id'] = id_
    if params is not None:
        m['params'] = params
    return json.dumps(m, separators=(',', ':'))


INIT = msg(1, 'initialize', {'protocolVersion': '2025-11-25', 'capabilities': {'roots': {}},
                             'clientInfo': {'name': 'fuzz', 'version': '1'}})
INITIALIZED = msg(None, 'notifications/initialized')


INIT_0326 = msg(1, 'initialize', {'protocolVersion': '2025-03-26', 'capabilities': {},
                                  'clientInfo': {'name': 'fuzz', 'version': '1'}})


def session_0326():
    """A session on protocol 2025-03-26, the one with JSON-RPC batches."""
    return [post(INIT_0326, sid=False), '~~.', post(INITIALIZED), '~~.']


def batch(*msgs):
    return '[' + ','.join(msgs) + ']'


def call(id_, name, args, token=None):
    p = {'name': name, 'arguments': args}
    if token is not None:
        p['_meta'] = {'progressToken': token}
    return msg(id_, 'tools/call', p)


def post(body, sid=True, extra='', accept=ACCEPT, ctype='application/json', version='HTTP/1.1',
         host='127.0.0.1', path='/mcp'):
    h = f'POST {path} {version}\r\nHost: {host}\r\n'
    if ctype:
        h += f'Content-Type: {ctype}\r\n'
    if accept:
        h += f'Accept: {accept}\r\n'
    if sid:
        h += 'Mcp-Session-Id: @SID@\r\n'
    h += extra
    return h + f'Content-Length: {len(body.encode())}\r\n\r\n' + body


def chunked(body, sizes, sid=True, extra=''):
    h = ('POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n'
         f'Accept: {ACCEPT}\r\n' + ('Mcp-Session-Id: @SID@\r\n' if sid else '') + extra +
         'Transfer-Encoding: chunked\r\n\r\n')
    parts, i = [], 0
    for s in sizes:
        piece = body[i:i + s]
        i += s
        if piece:
            parts.append(f'{len(piece):x}\r\n{piece}\r\n')
    if i < len(body):
        parts.append(f'{len(body) - i:x}\r\n{body[i:]}\r\n')
    return h, parts + ['0\r\n\r\n']


def get(sid=True, extra='', accept='text/event-stream', path='/mcp', version='HTTP/1.1'):
    return (f'GET {path} {version}\r\nHost: localhost\r\n' + (f'Accept: {accept}\r\n' if accept else '') +
            ('Mcp-Session-Id: @SID@\r\n' if sid else '') + extra + '\r\n')


def delete(extra=''):
    return 'DELETE /mcp HTTP/1.1\r\nHost: localhost\r\nMcp-Session-Id: @SID@\r\n' + extra + '\r\n'


def session(extra=''):
    """initialize, then initialized on the session it created (two pieces)."""
    return [post(INIT, sid=False, extra=extra), '~~.', post(INITIALIZED, extra=extra), '~~.']


SEEDS = {
    # Sessions and the plain JSON path.
    'init-post': (0, [post(INIT, sid=False)]),
    'session-tools': (0, session() + [post(msg(2, 'tools/list')), '~~.',
                                      post(call(3, 'read_text_file', {'path': 'notes/a.md'})), '~~.',
                                      post(msg(4, 'ping'), extra='MCP-Protocol-Version: 2025-06-18\r\n')]),
    'session-write': (0, session() + [post(call(5, 'write_file', {'path': 'notes/new.md', 'content': '# N\n'})),
                                      '~~.', post(call(6, 'edit_file', {'path': 'notes/a.md', 'edits': [
                                          {'oldText': 'beta', 'newText': 'BETA'}]}))]),
    'response-and-bad-message': (0, session() + [post('{"jsonrpc":"2.0","id":99,"result":{}}'), '~~.',
                                                 post('{"jsonrpc":"2.0","id":{},"method":"ping"}'), '~~.',
                                                 post('{"jsonrpc":"2.0","id":1,'), '~~.',
                                                 post('[{"jsonrpc":"2.0","id":1,"method":"ping"}]')]),
    'init-again-and-bad-init': (0, session() + [post(INIT), '~~.',
                                                post(msg(1, 'initialize', {}), sid=False)]),
    # SSE: a POST with a progressToken, a GET stream, DELETE ending both.
    'sse-post-progress': (0, session() + [post(call('s1', 'search_files', {'path': '.', 'pattern': '**/*.md'},
                                                    token='p1')), '~~.',
                                          post(msg(2, 'ping'), accept='text/event-stream')]),
    'sse-get-then-delete': (0, session() + ['~~1', get(), '~~0', post(call(7, 'list_directory', {'path': '.'})),
                                            '~~2', get(extra='MCP-Protocol-Version: 2025-11-25\r\n'),
                                            '~~0', delete()]),
    'delete': (0, session() + [delete(), '~~.', delete(), '~~.', post(msg(2, 'ping'))]),
    'cancel-other-conn': (0, session() + ['~~1', post(call(9, 'validate_memory_bank', {'path': '.'}, token='v')),
                                          '~~0', post(msg(None, 'notifications/cancelled',
                                                          {'requestId': 9, 'reason': 'fuzz'}))]),
    'cancel-in-flight': (0, session() + ['~~1', post(call(9, 'validate_memory_bank', {'path': '.'})), '~~3',
                                         post(msg(None, 'notifications/cancelled', {'requestId': 9}))]),
    'cancel-in-flight-string-id': (0, session() + ['~~1', post(call(9, 'validate_memory_bank', {'path': '.'})),
                                                   '~~3', post(msg(None, 'notifications/cancelled',
                                                                   {'requestId': '9'}))]),
    'cancel-in-flight-sse': (0, session() + ['~~1', post(call('v', 'search_files', {'path': '.', 'pattern': '**'},
                                                              token='p')), '~~3',
                                             post(msg(None, 'notifications/cancelled', {'requestId': 'v'}))]),
    'duplicate-id-in-flight': (0, session() + ['~~1', post(call(5, 'validate_memory_bank', {'path': '.'})),
                                               '~~5', post(call(5, 'bank_stats', {'path': '.'}))]),
    'delete-in-flight': (0, session() + ['~~1', post(call(5, 'validate_memory_bank', {'path': '.'})),
                                         '~~5', delete()]),
    'duplicate-id': (0, session() + ['~~1', post(call(5, 'search_memory_bank', {'query': 'alpha'})),
                                     '~~2', post(call(5, 'bank_stats', {'path': '.'}))]),
    # Batches (protocol 2025-03-26 only).
    'batch': (0, session_0326() + [post(batch(msg(2, 'ping'), call(3, 'read_text_file', {'path': 'notes/a.md'}),
                                              msg(None, 'notifications/initialized'))), '~~.',
                                   post(batch(msg(None, 'notifications/initialized'), '{"jsonrpc":"2.0","id":9,'
                                              '"result":{}}')), '~~.', post('[]'), '~~.', post('[1,2]')]),
    'batch-sse-progress': (0, session_0326() + [post(batch(call(4, 'search_files', {'path': '.', 'pattern': '**'},
                                                               token='b4'), msg(5, 'tools/list')))]),
    'batch-duplicate-ids': (0, session_0326() + [post(batch(msg(2, 'ping'), msg(2, 'ping'))), '~~.',
                                                 '~~1', post(call(6, 'validate_memory_bank', {'path': '.'})), '~~3',
                                                 post(batch(msg(6, 'ping'), msg(7, 'ping')))]),
    'batch-cancel-in-flight': (0, session_0326() + ['~~1', post(batch(call(8, 'validate_memory_bank', {'path': '.'}),
                                                                    call(9, 'bank_stats', {'path': '.'}))), '~~3',
                                                    post(batch(msg(None, 'notifications/cancelled',
                                                                   {'requestId': 8}),
                                                               msg(None, 'notifications/cancelled',
                                                                   {'requestId': 9})))]),
    'batch-eof-in-flight': (0, session_0326() + [post(batch(call(8, 'validate_memory_bank', {'path': '.'}),
                                                            msg(9, 'ping'))), '~~C']),
    'batch-on-2025-11-25': (0, session() + [post(batch(msg(2, 'ping')))]),
    # Framing: chunked bodies, 100-continue, pipelining, partial reads.
    'chunked': (0, session() + [chunked(msg(11, 'ping'), [17, 7])[0] +
                                ''.join(chunked(msg(11, 'ping'), [17, 7])[1])]),
    'chunked-split': (0, session() + [chunked(msg(12, 'ping'), [5, 9])[0], '~~.'] +
                      [x for p in chunked(msg(12, 'ping'), [5, 9])[1] for x in (p[:2], '~~.', p[2:], '~~.')]),
    'chunked-ext-trailer': (0, session() + [
        'POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nMcp-Session-Id: @SID@\r\n'
        'Transfer-Encoding: chunked\r\n\r\n' + f'{len(msg(13, "ping")):x};ext=1\r\n' + msg(13, 'ping') +
        '\r\n0\r\nX-Trailer: t\r\n\r\n']),
    'expect-100': (0, session() + [
        post(msg(14, 'ping'), extra='Expect: 100-continue\r\n').split('\r\n\r\n')[0] + '\r\n\r\n', '~~.',
        msg(14, 'ping')]),
    'pipelined': (0, session() + [post(msg(21, 'ping')) + post(call(22, 'search_files', {'path': '.',
                                  'pattern': '**/*.md'})) + post(msg(23, 'ping')) + get(accept='text/html')]),
    'pipelined-then-close': (0, session() + [post(msg(24, 'ping')) + post(msg(25, 'ping'),
                                                                         extra='Connection: close\r\n') +
                                             post(msg(26, 'ping'))]),
    'byte-split': (0, [x for ch in post(INIT, sid=False)[:80] for x in (ch, '~~.')] + [post(INIT, sid=False)[80:]]),
    'http10': (0, [post(INIT, sid=False, version='HTTP/1.0'), '~~.',
                   post(call(3, 'list_projects', {}, token=3), version='HTTP/1.0')]),
    'keepalive-10-and-get-10': (0, session() + [post(msg(2, 'ping'), version='HTTP/1.0',
                                                     extra='Connection: keep-alive\r\n'), '~~.',
                                                get(version='HTTP/1.0')]),
    # Refusals.
    'garbage': (0, ['GARBAGE\r\n\r\n']),
    'bad-headers': (0, ['POST /mcp HTTP/1.1\r\nHost localhost\r\nBad Header: x\r\n\r\n']),
    'huge-header': (0, ['GET /mcp HTTP/1.1\r\nHost: localhost\r\nX-Big: ' + 'a' * 2100 + '\r\n\r\n']),
    'huge-url': (0, ['GET /mcp?' + 'q' * 2100 + ' HTTP/1.1\r\nHost: localhost\r\n\r\n']),
    'bad-content-length': (0, ['POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n'
                               'Content-Length: 12abc\r\n\r\n{}', '~~.',
                               'POST /mcp HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}']),
    'cl-and-te': (0, ['POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n'
                      'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n']),
    'body-too-large': (0, ['POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n'
                           'Content-Length: 100000\r\n\r\n{', '~~.', 'more']),
    'chunked-too-large': (0, session() + [chunked('x' * 5000, [2500, 2500])[0]] +
                          [p + '~~.' for p in chunked('x' * 5000, [2500, 2500])[1]]),
    'origin-bad-good': (ORIGIN, session() + [post(msg(2, 'ping'), extra='Origin: http://evil.example.com\r\n'),
                                             '~~.', post(msg(3, 'ping'), extra='Origin: http://localhost:6274\r\n'),
                                             '~~.', post(msg(4, 'ping'), extra='Origin: https://app.example\r\n'),
                                             '~~.', post(msg(5, 'ping'), extra='Origin: null\r\n')]),
    'host-bad': (0, [post(INIT, sid=False, host='evil.example.com:80'), '~~.',
                     post(INIT, sid=False, host='[::1]:8765'), '~~.', get(sid=False).replace('localhost', 'x:y')]),
    'options-stats-404-405': (0, ['OPTIONS /mcp HTTP/1.1\r\nHost: localhost\r\nOrigin: http://localhost:6274\r\n'
                                  'Access-Control-Request-Method: POST\r\n\r\n', '~~.',
                                  'GET /stats HTTP/1.1\r\nHost: localhost\r\n\r\n', '~~.',
                                  'GET /other HTTP/1.1\r\nHost: localhost\r\n\r\n', '~~.',
                                  'PUT /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n', '~~.',
                                  'HEAD /mcp HTTP/1.1\r\nHost: localhost\r\n\r\n']),
    'media-accept-session': (0, [post(INIT, sid=False, ctype='text/plain'), '~~.',
                                 post(INIT, sid=False, accept='text/html'), '~~.',
                                 post(msg(1, 'ping'), sid=False), '~~.',
                                 post(msg(1, 'ping')).replace('@SID@', '0123456789abcdef0123456789abcdef'), '~~.',
                                 get(accept='text/html')]),
    'bad-protocol-version': (0, session() + [post(msg(2, 'ping'), extra='MCP-Protocol-Version: 2030-01-01\r\n')]),
    'bearer-missing-wrong-right': (TOKEN, [post(INIT, sid=False), '~~.',
                                           post(INIT, sid=False, extra='Authorization: Bearer wrong\r\n'), '~~.',
                                           post(INIT, sid=False, extra='Authorization: Basic dXNlcjpwYXNz\r\n'),
                                           '~~.'] + session('Authorization: Bearer fuzz-token-0123456789abcdef\r\n') +
                                          [post(msg(2, 'ping'),
                                                extra='Authorization: bearer   fuzz-token-0123456789abcdef\r\n')]),
    'upgrade': (0, ['GET /mcp HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'
                    'after the upgrade']),
    # Limits and timeouts.
    'one-session': (ONE_SESSION, session() + [post(INIT, sid=False), '~~.', delete(), '~~.',
                                              post(INIT, sid=False)]),
    'conn-limit': (TWO_CONNS, ['~~0', get(sid=False), '~~1', get(sid=False), '~~2',
                               'GET /stats HTTP/1.1\r\nHost: localhost\r\n\r\n']),
    'request-timeout': (SHORT, ['POST /mcp HTTP/1.1\r\nHost: localhost\r\nCont', '~~w', 'ent-Type: x\r\n\r\n']),
    'idle-and-session-timeout': (SHORT, session() + ['~~w', '~~1', post(msg(2, 'ping'))]),
    'small-output': (SMALL_OUT, session() + [post(msg(2, 'tools/list'))]),
    'client-eof-mid-request': (0, session() + [post(call(3, 'directory_tree', {'path': '.'}))[:60], '~~c']),
    'client-eof-pending': (0, session() + [post(call(3, 'validate_memory_bank', {'path': '.'})), '~~C']),
    'client-eof-pending-sse': (0, session() + ['~~1', get(), '~~0',
                                               post(call(4, 'search_files', {'path': '.', 'pattern': '**'},
                                                         token=4)), '~~C', '~~2', delete()]),
    'server-shutdown-streams': (SERVER_FIRST, session() + ['~~1', get(), '~~2',
                                                           post(call(8, 'search_files', {'path': '.',
                                                                'pattern': '**'}, token='t8')), '~~0',
                                                           post(msg(9, 'ping'))[:50]]),
}


def main():
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    for name, (flags, pieces) in SEEDS.items():
        with open(os.path.join(out, name), 'wb') as f:
            f.write(bytes([flags]) + ''.join(pieces).encode())
    print(f'{len(SEEDS)} seeds in {out}')


if __name__ == '__main__':
    main()
