#!/usr/bin/env bash
# The README's first command: build the client, create a simulated A/B device (U-Boot
# environment, two partition files), install the bundled demo Artifact (made by the real
# mender-artifact), "reboot" with the simulated bootloader, commit, and show what is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup.sh
cargo build -q --release -p mender-linux
bin=$PWD/target/release/mender
artifact=tests/fixtures/demo/demo.mender
work=$(mktemp -d /tmp/mender-demo.XXXXXX)
dev=$work/device
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

bash tests/sim/make-device.sh "$dev" uboot --part-size 4 --device-type demo-device
m() { "$bin" --config "$dev/mender.conf" --data "$dev/data" "$@"; }
step "$bin" inspect "$artifact"
step m show-artifact
step m install "$artifact"
step bash tests/sim/boot.sh "$dev"
step m commit
step m show-artifact
step m show-provides
step bash tests/sim/boot.sh "$dev"
echo
echo "binary: $(stat -c %s "$bin") bytes ($bin); simulated device left in $dev"
