#!/usr/bin/env bash
# Builds a realistic rootfs image of SIZE MiB (about 60% files from /usr as a tar stream, the
# rest zeros, like a filled ext4 image) and rootfs-image Artifacts of it with the real
# mender-artifact, gzip and lzma (xz preset 9, 64 MiB dictionary, as mender-artifact writes).
# Usage: make-artifacts.sh OUTDIR [SIZE_MIB]   (default 256)
set -euo pipefail
out=${1:?usage: make-artifacts.sh OUTDIR [SIZE_MIB]}
size=${2:-256}
mkdir -p "$out"
img="$out/rootfs-${size}M.img"
if [ ! -f "$img" ]; then
  fill=$((size * 1024 * 1024 * 6 / 10))
  { tar -cf - --sort=name /usr/lib /usr/share 2>/dev/null | head -c "$fill"; } > "$img"
  truncate -s "${size}M" "$img"
fi
for c in gzip lzma; do
  a="$out/rootfs-${size}M-$c.mender"
  [ -f "$a" ] || mender-artifact write rootfs-image -f "$img" -t bench-device -n bench-$c \
      --compression "$c" -o "$a" >/dev/null
done
ls -l "$out"
