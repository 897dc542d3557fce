#!/usr/bin/env bash
# The Cortex-M firmware under emulation (CI step): builds both variants of
# targets/mcu-firmware for thumbv7em-none-eabihf (profile `firmware`), runs them on QEMU's
# mps2-an386 (Cortex-M4F) with semihosting against Artifacts that the real mender-artifact
# makes now, and checks what they leave in the slot and boot-environment files:
#   * uncompressed (both variants) and gzip (fw-gzip) Artifacts install into the inactive slot,
#     byte for byte, and switch the boot environment; a second install waits for the commit;
#     after the commit the next update goes to the other slot;
#   * a wrong device type, a corrupted payload, a truncated Artifact, a format 2 Artifact, one
#     with a state script, a gzip Artifact on fw-plain and (last) an augmented module Artifact
#     fail with exit status 1 and their error text, and leave the boot environment untouched;
#   * the firmware's own memcpy, memmove, memset and memcmp (assembly, src/mem.rs) match a
#     byte-by-byte reference at every alignment and length up to 40 (fw-memtest);
#   * every run's printed stack_peak is collected and size-check holds flash, static RAM,
#     stack peak and RAM to the "Cortex-M firmware" table of memory-budget.md.
#
#   bash tests/mcu-firmware.sh            # check
#   bash tests/mcu-firmware.sh --update   # also write the measured columns into the table
set -euo pipefail
cd "$(dirname "$0")/.."
update=()
case "${1:-}" in
  "") ;;
  --update) update=(--update) ;;
  *) echo "usage: bash tests/mcu-firmware.sh [--update]" >&2; exit 2 ;;
esac

for tool in qemu-system-arm mender-artifact python3 size cmp; do
  command -v "$tool" >/dev/null 2>&1 || { bash tests/setup.sh; break; }
done

target=${CARGO_TARGET_DIR:-target}
case $target in /*) ;; *) target="$PWD/$target" ;; esac
elf_dir="$target/thumbv7em-none-eabihf/firmware"

echo "== firmware: build fw-gzip, fw-plain and fw-memtest (thumbv7em-none-eabihf, profile firmware)"
cargo build -q -p mender-mcu-firmware --features firmware --bins \
  --target thumbv7em-none-eabihf --profile firmware
for v in fw-gzip fw-plain fw-memtest; do
  [ -f "$elf_dir/$v" ] || { echo "mcu-firmware: cargo succeeded but $elf_dir/$v is missing" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Semihosting arguments are split at spaces and QEMU's option parser splits at commas.
case $work in *[,\ ]*) echo "mcu-firmware: temp dir '$work' has a space or comma" >&2; exit 1 ;; esac
stack_file="$elf_dir/stack-peaks.txt"
: >"$stack_file"

fail() {
  echo "mcu-firmware: FAIL: $*" >&2
  [ -f "$work/out" ] && sed 's/^/  | /' "$work/out" >&2
  exit 1
}

echo "== fw-memtest: the firmware's own memcpy/memmove/memset/memcmp against a byte-by-byte reference"
set +e
timeout 120 qemu-system-arm -M mps2-an386 -nographic -monitor none -serial none \
  -kernel "$elf_dir/fw-memtest" -semihosting-config enable=on,target=native >"$work/out" 2>&1
rc=$?
set -e
[ "$rc" -eq 0 ] && grep -qx "mem ok" "$work/out" || fail "fw-memtest exited with status $rc"

# The Artifacts. The image is not a whole number of flash sectors and half of it is random.
(
  cd "$work"
  head -c 61440 /dev/urandom >rootfs.img
  head -c 40007 /dev/zero >>rootfs.img
  log=mender-artifact.log
  w() { mender-artifact write rootfs-image -f rootfs.img -n fw-v2 "$@" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }; }
  w -t mps2-an386 --compression none -o plain.mender
  # Signed for a fleet with a key: the firmware has none (core without `verify`) and installs
  # it as the official client does without a key.
  openssl ecparam -genkey -name prime256v1 -noout -out sign.key 2>"$log" || { cat "$log" >&2; exit 1; }
  w -t mps2-an386 --compression none -k sign.key -o signed.mender
  w -t mps2-an386 -o gzip.mender
  w -t other-board --compression none -o wrong.mender
  w -t mps2-an386 --compression none -v 2 -o format2.mender
  printf '#!/bin/sh\nexit 0\n' >ArtifactInstall_Enter_00
  w -t mps2-an386 --compression none -s ArtifactInstall_Enter_00 -o scripts.mender
  mender-artifact write module-image -T single-file -t mps2-an386 -n aug -f rootfs.img \
    --compression none --augment-type single-file --augment-provides extra.key:v \
    -o augmented.mender >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
  size=$(stat -c %s plain.mender)
  head -c $((size * 2 / 3)) plain.mender >truncated.mender
  # Flip one bit inside the image's random part as it sits in the uncompressed Artifact.
  python3 - <<'PY'
data = open("plain.mender", "rb").read()
at = data.find(open("rootfs.img", "rb").read()[4000:4064])
assert at > 0, "image bytes not found in plain.mender"
corrupt = bytearray(data)
corrupt[at + 10] ^= 1
open("corrupt.mender", "wb").write(corrupt)
PY
)
image_len=$(stat -c %s "$work/rootfs.img")

# A board: two 256 KiB slot chips holding old content, and an erased two-sector env chip.
new_board() {
  head -c 262144 /dev/urandom >"$work/slot2"
  head -c 262144 /dev/urandom >"$work/slot3"
  head -c 8192 /dev/zero | tr '\0' '\377' >"$work/env"
}

# fw VARIANT WORD...: runs the firmware with the words as its command line; sets $rc, keeps the
# output in $work/out and records the stack peak it printed.
fw() {
  local variant=$1
  shift
  local args="arg=mender-fw" word
  for word in "$@"; do args="$args,arg=$word"; done
  set +e
  timeout 120 qemu-system-arm -M mps2-an386 -nographic -monitor none -serial none \
    -kernel "$elf_dir/$variant" -semihosting-config "enable=on,target=native,$args" \
    >"$work/out" 2>&1
  rc=$?
  set -e
  local peak
  peak=$(sed -n 's/^stack_peak=\([0-9]*\) .*/\1/p' "$work/out")
  [ -n "$peak" ] || fail "$variant $*: no stack_peak line (exit status $rc)"
  echo "$variant $peak" >>"$stack_file"
}

expect() { # expect RC TEXT: the last run exited with RC and printed TEXT
  [ "$rc" -eq "$1" ] || fail "expected exit status $1, got $rc"
  grep -qF -- "$2" "$work/out" || fail "output lacks '$2'"
}

install() { fw "$1" install "$work/$2" "$work/slot2" "$work/slot3" "$work/env"; }

refuse() { # refuse VARIANT ARTIFACT TEXT: a fresh board, exit status 1, env untouched
  new_board
  cp "$work/env" "$work/env.before"
  install "$1" "$2"
  expect 1 "$3"
  cmp -s "$work/env" "$work/env.before" || fail "$1 $2: the boot environment changed"
}

slot_holds_image() {
  cmp -s -n "$image_len" "$work/slot$1" "$work/rootfs.img" || fail "slot $1 does not hold the image"
}

for variant in fw-plain fw-gzip; do
  artifacts=(plain signed)
  [ "$variant" = fw-gzip ] && artifacts+=(gzip)
  for a in "${artifacts[@]}"; do
    echo "== $variant: $a.mender installs, waits for commit, commits, updates the other slot"
    new_board
    cp "$work/slot2" "$work/slot2.before"
    fw "$variant" status "$work/env"
    expect 0 "mender_boot_part=unset upgrade_available=0"
    install "$variant" "$a.mender"
    expect 0 "mender-fw: installed slot=3 artifact_bytes=$(stat -c %s "$work/$a.mender") image_bytes=$image_len"
    slot_holds_image 3
    cmp -s "$work/slot2" "$work/slot2.before" || fail "the running slot 2 was written"
    fw "$variant" status "$work/env"
    expect 0 "mender_boot_part=3 upgrade_available=1"
    cp "$work/env" "$work/env.before"
    install "$variant" "$a.mender"
    expect 1 "mender-fw: error: an update waits for commit (upgrade_available=1): commit or roll back first"
    cmp -s "$work/env" "$work/env.before" || fail "a refused install changed the boot environment"
    fw "$variant" commit "$work/env"
    expect 0 "mender-fw: committed slot=3"
    fw "$variant" status "$work/env"
    expect 0 "mender_boot_part=3 upgrade_available=0"
    install "$variant" "$a.mender"
    expect 0 "mender-fw: installed slot=2"
    slot_holds_image 2
  done

  echo "== $variant: bad Artifacts fail cleanly and leave the boot environment alone"
  # The firmware prints each error's brief (mender_core::text::Brief), not its long text.
  refuse "$variant" wrong.mender "mender-fw: error: device type not compatible: Artifact is for: other-board"
  refuse "$variant" corrupt.mender "mender-fw: error: payload checksum mismatch: rootfs.img"
  refuse "$variant" truncated.mender "mender-fw: error: unexpected end of Artifact"
  # The firmware's core is built without the features `format-v2`, `scripts` and `augment`.
  refuse "$variant" format2.mender \
    "mender-fw: error: reader: Artifact format version 2 is not supported by this build"
  refuse "$variant" scripts.mender \
    "mender-fw: error: reader: Artifacts with state scripts are not supported by this build"
  if [ "$variant" = fw-plain ]; then
    refuse "$variant" gzip.mender "mender-fw: error: compressed member, but no decode workspace: header.tar.gz"
  fi
  fw "$variant" flash-everything
  expect 2 "usage: mender-fw install"
done

echo "== firmware: flash and RAM budgets (memory-budget.md, Cortex-M firmware)"
sort -k1,1 -k2,2n "$stack_file" | awk '{max[$1]=$2} END {for (v in max) print "  " v " stack_peak max " max[v]}'
cargo run -q -p mender-size-check -- --firmware --elf-dir "$elf_dir" --stack "$stack_file" "${update[@]}"

# Last, so that the budgets above are checked whatever happens here: an augmented Artifact
# must be refused with an error that says why, and leave the boot environment alone.
for variant in fw-plain fw-gzip; do
  echo "== $variant: an augmented Artifact is refused cleanly"
  refuse "$variant" augmented.mender \
    "mender-fw: error: reader: augmented Artifacts (manifest-augment) are not supported by this build"
done
