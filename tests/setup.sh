#!/usr/bin/env bash
# Installs what the build and the tests need when it is missing: Debian tools (the real
# mender-artifact, openssl, compressors) and the Rust targets. Fails loudly when it cannot:
# interop tests must never be skipped silently.
set -euo pipefail

need_pkgs=()
want() { command -v "$1" >/dev/null 2>&1 || need_pkgs+=("$2"); }
want mender-artifact mender-artifact
want openssl openssl
want xz xz-utils
want zstd zstd
want gzip gzip
want tar tar
want mkenvimage u-boot-tools
want fw_printenv libubootenv-tool
want grub-editenv grub-common
want gcc gcc
want python3 python3
# Cross builds (targets/build.sh), their size check and the emulated standalone tests.
want aarch64-linux-gnu-gcc gcc-aarch64-linux-gnu
want arm-linux-gnueabihf-gcc gcc-arm-linux-gnueabihf
want qemu-aarch64 qemu-user
want qemu-arm qemu-user
want qemu-system-arm qemu-system-arm
want size binutils
want readelf binutils
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "setup: installing ${need_pkgs[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi
for t in mender-artifact openssl xz zstd gzip tar mkenvimage fw_printenv fw_setenv grub-editenv gcc python3 \
  aarch64-linux-gnu-gcc aarch64-linux-gnu-ar arm-linux-gnueabihf-gcc arm-linux-gnueabihf-ar \
  qemu-aarch64 qemu-arm size readelf; do
  command -v "$t" >/dev/null || { echo "setup: $t is still missing" >&2; exit 1; }
done
# qemu-arm runs the armv7 (glibc, dynamic) binary against this sysroot (libc6-armhf-cross).
[ -e /usr/arm-linux-gnueabihf/lib/ld-linux-armhf.so.3 ] || {
  echo "setup: /usr/arm-linux-gnueabihf/lib/ld-linux-armhf.so.3 is missing (libc6-armhf-cross)" >&2
  exit 1
}

installed_targets=$(rustup target list --installed)
for t in thumbv7em-none-eabihf aarch64-unknown-linux-musl armv7-unknown-linux-gnueabihf x86_64-unknown-linux-musl; do
  grep -qx "$t" <<<"$installed_targets" || rustup target add "$t"
done
for c in clippy rustfmt; do
  rustup component list --installed | grep -q "^$c" || rustup component add "$c"
done
