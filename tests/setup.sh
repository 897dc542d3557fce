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
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "setup: installing ${need_pkgs[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi
for t in mender-artifact openssl xz zstd gzip tar mkenvimage fw_printenv fw_setenv grub-editenv gcc python3; do
  command -v "$t" >/dev/null || { echo "setup: $t is still missing" >&2; exit 1; }
done

if ! rustup target list --installed | grep -qx thumbv7em-none-eabihf; then
  rustup target add thumbv7em-none-eabihf
fi
for c in clippy rustfmt; do
  rustup component list --installed | grep -q "^$c" || rustup component add "$c"
done
