#!/usr/bin/env bash
# Description: where io_uring is blocked (seccomp, as container profiles do),
# --io=auto says so on stderr and runs on the thread pool with the same
# result, and an explicit --io=uring fails with a clear message.
set -u
noring=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -n "${RB_BIN:-}" ] || fail "RB_BIN not set"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/d/sub"; echo hello > "$tmp/d/a.md"; echo world > "$tmp/d/sub/b.md"; ln -s a.md "$tmp/d/link"

"$noring" true || { [ $? = 77 ] && { echo "SKIP: seccomp unavailable"; exit 77; }; }

want=$("$RB_BIN" scan --io=uring "$tmp/d" 2>/dev/null) || fail "scan --io=uring failed with io_uring allowed"
got=$("$noring" "$RB_BIN" scan --io=auto "$tmp/d" 2>"$tmp/err") || fail "scan --io=auto under seccomp failed: $(cat "$tmp/err")"
grep -q "io_uring unavailable" "$tmp/err" || fail "no fallback note on stderr: $(cat "$tmp/err")"
strip() { sed -E 's/"elapsed_s": *[0-9.e+-]+//; s/"io": *"[a-z]+"//'; }
[ "$(echo "$want" | strip)" = "$(echo "$got" | strip)" ] || fail "results differ: uring=$want fallback=$got"
echo "$got" | grep -q '"io": *"threads"' || fail "fallback did not use the thread pool: $got"
echo "$got" | grep -q '"files": *2' || fail "wrong count: $got"

if "$noring" "$RB_BIN" scan --io=uring "$tmp/d" >"$tmp/out" 2>"$tmp/err"; then
  fail "--io=uring succeeded although io_uring is blocked"
fi
grep -q "io_uring is not available" "$tmp/err" || fail "unclear --io=uring error: $(cat "$tmp/err")"
[ ! -s "$tmp/out" ] || fail "stdout not empty on failure"
echo "ok: fallback and explicit failure"
