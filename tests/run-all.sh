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

echo "== boot-env codecs build for a Cortex-M too"
cargo build -q -p mender-hal-uboot -p mender-hal-grub --target thumbv7em-none-eabihf

echo "== core tests without allocator (gzip/none only)"
cargo test -q -p mender-core --no-default-features

echo "== workspace tests (interop with the real mender-artifact, malformed, chunking, codecs)"
cargo test -q --workspace
