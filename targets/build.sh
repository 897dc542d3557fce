#!/usr/bin/env bash
# Release builds of `mender` for the device targets, next to the host's own, so their sizes can
# be held to memory-budget.md and the standalone tests can run them under qemu-user.
#
#   bash targets/build.sh            # builds every target below
#
# Output: $DIR/<triple>/release/mender, DIR = ${CROSS_TARGET_DIR:-${CARGO_TARGET_DIR:-target}/cross}
# (a relative DIR is taken from the workspace root). The cross builds keep a target dir of
# their own so they never invalidate the host's test build. Linkers and C compilers (ring has C
# and assembly parts) are given per target through CARGO_TARGET_<TRIPLE>_LINKER, CC_<triple>
# and AR_<triple>: the workspace has no .cargo/config. A missing Rust target or tool is an
# error, never a skipped target.
set -euo pipefail
cd "$(dirname "$0")/.."

host=$(rustc -vV | sed -n 's/^host: //p')
[ -n "$host" ] || { echo "targets/build.sh: cannot read the host triple from rustc -vV" >&2; exit 1; }
# The toolchain table below (Debian's cross gcc, the host cc for x86_64 musl) assumes this host.
[ "$host" = x86_64-unknown-linux-gnu ] || {
  echo "targets/build.sh: written for an x86_64-unknown-linux-gnu host, not $host" >&2
  exit 1
}

# triple, then the tool prefix of its C toolchain ("" = the host's cc/ar).
# x86_64 musl links with the host cc: rustc's musl targets are self-contained (crt objects and
# libc.a ship with the Rust target), so no musl-gcc is needed.
targets=(
  "$host" ""
  aarch64-unknown-linux-musl aarch64-linux-gnu-
  armv7-unknown-linux-gnueabihf arm-linux-gnueabihf-
  x86_64-unknown-linux-musl ""
)

out=${CROSS_TARGET_DIR:-${CARGO_TARGET_DIR:-target}/cross}
case $out in /*) ;; *) out="$PWD/$out" ;; esac

sysroot=$(rustc --print sysroot)
missing=()
args=()
names=()
for ((i = 0; i < ${#targets[@]}; i += 2)); do
  triple=${targets[i]}
  prefix=${targets[i + 1]}
  # Works with and without rustup: an installed target has its std under the sysroot.
  if [ ! -d "$sysroot/lib/rustlib/$triple/lib" ]; then
    missing+=("Rust target $triple (rustup target add $triple)")
  fi
  cc="${prefix}gcc"
  ar="${prefix}ar"
  [ -n "$prefix" ] || { cc=cc; ar=ar; }
  for tool in "$cc" "$ar"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool for $triple (bash tests/setup.sh installs it)")
  done
  if [ "$triple" != "$host" ]; then
    env_triple=$(echo "$triple" | tr 'a-z-' 'A-Z_')
    export "CARGO_TARGET_${env_triple}_LINKER=$cc"
    export "CC_${triple//-/_}=$cc"
    export "AR_${triple//-/_}=$ar"
  fi
  args+=(--target "$triple")
  names+=("$triple")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "targets/build.sh: missing:" >&2
  printf '  %s\n' "${missing[@]}" >&2
  exit 1
fi

echo "targets/build.sh: release mender for ${names[*]} into $out" >&2
CARGO_TARGET_DIR="$out" cargo build -q --release -p mender-linux --bin mender "${args[@]}"

for ((i = 0; i < ${#targets[@]}; i += 2)); do
  bin="$out/${targets[i]}/release/mender"
  [ -f "$bin" ] || { echo "targets/build.sh: cargo succeeded but $bin is missing" >&2; exit 1; }
  printf '%-32s %10d bytes  %s\n' "${targets[i]}" "$(stat -c %s "$bin")" "$bin"
done
