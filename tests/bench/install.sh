#!/usr/bin/env bash
# Benchmark: a real standalone rootfs-image install into a loop device, with our client and
# with the official Go client (Debian mender-client 3.4), using the team's harness in
# ../shared/bench (private mount namespace, pivot_root onto partition A, U-Boot env image).
# Usage: install.sh RUNS ARTIFACT...   (artifacts: ../shared/bench/make-rootfs-artifacts.sh)
# Prints a markdown table of medians: wall s, max RSS KiB, user s, sys s, verified.
set -euo pipefail
cd "$(dirname "$0")/../.."
harness=../shared/bench/go-mender-rootfs.sh
[ -f "$harness" ] || { echo "install.sh: $harness not found" >&2; exit 1; }
runs=${1:?usage: install.sh RUNS ARTIFACT...}; shift
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/bench}
cargo build -q --release -p mender-linux
ours=$(mktemp /tmp/mender-rs.XXXXXX)
cp "$CARGO_TARGET_DIR/release/mender" "$ours"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "| artifact | client | wall s | max RSS KiB | user s | sys s | verified |"
echo "|---|---|---|---|---|---|---|"
for a in "$@"; do
  for client in ours go; do
    args=(-q); [ "$client" = ours ] && args+=(--client "$ours")
    [ "$client" = go ] && [ ! -x /usr/bin/mender ] && { echo "| $(basename "$a") | go | (mender-client not installed) |"; continue; }
    out=$(for _ in $(seq "$runs"); do bash "$harness" "${args[@]}" "$a" | tail -1; done)
    field() { echo "$out" | sed -n "s/.*$1=\([^ ]*\).*/\1/p" | median; }
    ok=$(echo "$out" | grep -c 'verified=yes' || true)
    echo "| $(basename "$a") | $client | $(field wall_s) | $(field max_rss_kb) | $(field user_s) | $(field sys_s) | $ok/$runs |"
  done
done
rm -f "$ours"
