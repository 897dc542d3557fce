#!/usr/bin/env bash
# The README's first command: build the client and inspect the bundled demo Artifact
# (made by the real mender-artifact), as text and as JSON.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p mender-linux
bin=target/release/mender
artifact=tests/fixtures/demo/demo.mender
echo "\$ mender inspect $artifact"
"$bin" inspect "$artifact"
echo
echo "\$ mender inspect --json - < $artifact"
"$bin" inspect --json - < "$artifact"
echo
echo "binary: $(stat -c %s "$bin") bytes ($bin)"
