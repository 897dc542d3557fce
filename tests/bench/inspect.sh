#!/usr/bin/env bash
# Benchmark: `mender inspect` against `mender-artifact read` on the same Artifacts: wall time,
# MiB/s of payload, peak RSS, and (ours) peak heap from the counting allocator.
# Usage: inspect.sh ARTIFACT...   (make them with tests/bench/make-artifacts.sh)
# Prints a markdown table; best of 3 runs each.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/bench}
cargo build -q --release -p mender-linux --features heap-stats
ours="$CARGO_TARGET_DIR/release/mender"
best() { # prints "seconds max_rss_kb" of the fastest of 3 runs of "$@"
  local b="" line t
  t=$(mktemp)
  for _ in 1 2 3; do
    /usr/bin/time -o "$t" -f "%e %M" "$@" >/dev/null 2>&1
    line=$(tail -1 "$t")
    if [ -z "$b" ] || awk -v a="${line%% *}" -v c="${b%% *}" 'BEGIN{exit !(a<c)}'; then b=$line; fi
  done
  rm -f "$t"
  echo "$b"
}
echo "| artifact | tool | wall s | payload MiB/s | peak RSS KiB | peak heap KiB |"
echo "|---|---|---|---|---|---|"
for a in "$@"; do
  payload=$("$ours" inspect --json "$a" 2>/dev/null | sed -n 's/.*"size":\([0-9]*\).*/\1/p')
  heap=$("$ours" inspect "$a" 2>&1 >/dev/null | sed -n 's/^peak_heap_bytes=//p')
  read -r s rss < <(best "$ours" inspect "$a")
  mibs=$(awk -v p="$payload" -v s="$s" 'BEGIN{printf "%.0f", p/1048576/(s>0?s:0.01)}')
  echo "| $(basename "$a") | mender inspect | $s | $mibs | $rss | $((heap / 1024)) |"
  read -r s rss < <(best mender-artifact read --no-progress "$a")
  mibs=$(awk -v p="$payload" -v s="$s" 'BEGIN{printf "%.0f", p/1048576/(s>0?s:0.01)}')
  echo "| $(basename "$a") | mender-artifact read 3.9 | $s | $mibs | $rss | - |"
done
