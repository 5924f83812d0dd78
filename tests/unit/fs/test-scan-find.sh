#!/usr/bin/env bash
# Description: `ringbank scan` against find(1). Builds a tree with nested
# directories, files of many sizes, odd names (spaces, newline, non-UTF-8,
# 255 bytes), symlinks to files, directories, outside and nowhere, a fifo and
# empty directories, then checks that `ringbank scan --io=uring` and
# `--io=threads` print exactly find's counts: files (-type f), directories
# (-mindepth 1 -type d), symlinks (-type l), other (the rest), bytes (sum of
# -printf %s over -type f), errors 0; that the output is one JSON object on
# one line with the documented keys; and that a missing directory exits 1
# with "ringbank scan: DIR: no such file or directory". Needs RB_BIN.
set -euo pipefail

bin=${RB_BIN:?RB_BIN must point at the ringbank binary}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rbscan.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
t="$tmp/tree"
mkdir -p "$t"

fail() { echo "FAIL: $*" >&2; exit 1; }

# The tree.
for d in $(seq 1 20); do
  mkdir -p "$t/proj$d/notes/deep/er"
  for f in $(seq 1 $((d * 3))); do
    head -c $(((d * 131 + f * 17) % 5000)) /dev/zero > "$t/proj$d/notes/n$f.md"
  done
  echo "x$d" > "$t/proj$d/notes/deep/er/leaf.md"
done
mkdir -p "$t/empty/also" "$t/odd"
printf 'a' > "$t/odd/with space.md"
printf 'bb' > "$t/odd/new
line.md"
printf 'ccc' > "$t/odd/$(printf 'caf\xe9\xff').md"
printf 'dddd' > "$t/odd/$(head -c 255 /dev/zero | tr '\0' L)"
ln -s ../proj1/notes/n1.md "$t/odd/link-file"
ln -s ../proj2 "$t/odd/link-dir"
ln -s /etc "$t/odd/link-outside"
ln -s nowhere "$t/odd/link-dangling"
mkfifo "$t/odd/fifo"
p="$t/chain"; for i in $(seq 1 60); do p="$p/c$i"; done
mkdir -p "$p"; echo deep > "$p/bottom.md"

# -printf 'x\n' so that a name with a newline still counts once.
want_files=$(find "$t" -type f -printf 'x\n' | wc -l)
want_dirs=$(find "$t" -mindepth 1 -type d -printf 'x\n' | wc -l)
want_links=$(find "$t" -type l -printf 'x\n' | wc -l)
want_all=$(find "$t" -mindepth 1 -printf 'x\n' | wc -l)
want_other=$((want_all - want_files - want_dirs - want_links))
want_bytes=$(find "$t" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')

field() { # field NAME JSON
  local v
  v=$(printf '%s' "$2" | sed -n "s/.*\"$1\": \([^,}]*\).*/\1/p")
  [ -n "$v" ] || fail "no \"$1\" in: $2"
  printf '%s' "$v"
}

for io in uring threads; do
  out=$("$bin" scan --io=$io "$t" 2>"$tmp/err") || {
    if [ $io = uring ] && grep -q "io_uring is not available" "$tmp/err"; then
      echo "note: io_uring unavailable, uring skipped" >&2; continue
    fi
    cat "$tmp/err" >&2; fail "scan --io=$io exited non-zero"
  }
  [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || fail "--io=$io: more than one line: $out"
  case "$out" in "{"*"}") ;; *) fail "--io=$io: not a JSON object: $out" ;; esac
  [ "$(field files "$out")" = "$want_files" ] || fail "--io=$io files: $(field files "$out") != $want_files"
  [ "$(field directories "$out")" = "$want_dirs" ] || fail "--io=$io directories: $(field directories "$out") != $want_dirs"
  [ "$(field symlinks "$out")" = "$want_links" ] || fail "--io=$io symlinks: $(field symlinks "$out") != $want_links"
  [ "$(field other "$out")" = "$want_other" ] || fail "--io=$io other: $(field other "$out") != $want_other"
  [ "$(field bytes "$out")" = "$want_bytes" ] || fail "--io=$io bytes: $(field bytes "$out") != $want_bytes"
  [ "$(field errors "$out")" = 0 ] || fail "--io=$io errors: $(field errors "$out")"
  [ "$(field io "$out")" = "\"$io\"" ] || fail "--io=$io: io is $(field io "$out")"
  field elapsed_s "$out" | grep -Eq '^[0-9]+\.[0-9]+$' || fail "--io=$io: elapsed_s: $out"
  [ ! -s "$tmp/err" ] || fail "--io=$io: unexpected stderr (not a tty): $(cat "$tmp/err")"
  echo "--io=$io: $out" >&2
done

# Errors.
if "$bin" scan "$tmp/missing" >"$tmp/out" 2>"$tmp/err"; then fail "missing dir: exit 0"; fi
grep -qx "ringbank scan: $tmp/missing: no such file or directory" "$tmp/err" || fail "missing dir message: $(cat "$tmp/err")"
[ ! -s "$tmp/out" ] || fail "missing dir: stdout not empty"
if "$bin" scan "$t/odd/with space.md" >"$tmp/out" 2>"$tmp/err"; then fail "file as DIR: exit 0"; fi
grep -q "^ringbank scan: $t/odd/with space.md: " "$tmp/err" || fail "file message: $(cat "$tmp/err")"
if "$bin" scan >"$tmp/out" 2>"$tmp/err"; then fail "no DIR: exit 0"; fi
grep -q "usage" "$tmp/err" || fail "no DIR: no usage"
echo "ok: files=$want_files dirs=$want_dirs symlinks=$want_links other=$want_other bytes=$want_bytes" >&2
