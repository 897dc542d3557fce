#!/usr/bin/env bash
# The whole test suite: what CI runs (.ci/run) and what the README's second command runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup.sh

echo "== format"
cargo fmt --all -- --check

echo "== clippy"
cargo clippy -q --workspace --all-targets -- -D warnings

echo "== mender-core builds for a Cortex-M without an allocator"
cargo build -q -p mender-core --no-default-features --target thumbv7em-none-eabihf

echo "== boot-env codecs and the TLS download path build for a Cortex-M too"
cargo build -q -p mender-hal-uboot -p mender-hal-grub -p mender-mcu-net --target thumbv7em-none-eabihf

echo "== core tests without allocator (gzip/none only)"
cargo test -q -p mender-core --no-default-features

echo "== workspace tests (interop with the real mender-artifact, malformed, chunking, codecs)"
cargo test -q --workspace

echo "== release mender for aarch64-musl, armv7-gnueabihf, x86_64-musl and the host (targets/build.sh)"
bash targets/build.sh
cross=${CROSS_TARGET_DIR:-${CARGO_TARGET_DIR:-target}/cross}
case $cross in /*) ;; *) cross="$PWD/$cross" ;; esac

echo "== binary size budgets (memory-budget.md)"
cargo run -q -p mender-size-check -- --dir "$cross"

echo "== standalone tests with the aarch64 musl binary under qemu-aarch64"
MENDER_TEST_BIN="$cross/aarch64-unknown-linux-musl/release/mender" MENDER_TEST_RUNNER=qemu-aarch64 \
  cargo test -q -p mender-tests --test standalone

echo "== standalone tests with the armv7 binary under qemu-arm"
MENDER_TEST_BIN="$cross/armv7-unknown-linux-gnueabihf/release/mender" \
  MENDER_TEST_RUNNER="qemu-arm -L /usr/arm-linux-gnueabihf" \
  cargo test -q -p mender-tests --test standalone

echo "== Cortex-M firmware under QEMU (fw-gzip, fw-plain) and its budgets"
bash tests/mcu-firmware.sh
