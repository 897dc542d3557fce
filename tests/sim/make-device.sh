#!/usr/bin/env bash
# Creates a simulated A/B device in a directory: two rootfs "partitions" (regular files), a Mender
# boot environment made with the real Debian tools, a data dir, artifact_info and a mender.conf.
# boot.sh in the same directory then plays the bootloader on it. See README.md next to this file.
#
# Usage: make-device.sh DIR uboot|grub [--part-size MiB] [--device-type NAME] [--artifact-name NAME]
set -euo pipefail

prog=make-device.sh
usage() {
    echo "usage: $prog DIR uboot|grub [--part-size MiB] [--device-type NAME] [--artifact-name NAME]" >&2
    exit 2
}
die() {
    echo "$prog: $*" >&2
    exit 1
}
need_tool() { # NAME PACKAGE
    command -v "$1" >/dev/null 2>&1 || die "$1 not found in PATH (Debian: apt-get install -y $2)"
}
# A value that ends up in a key=value file must be one printable line.
check_name() { # OPTION VALUE
    case $2 in
    '' | *[![:print:]]*) die "$1 must be non-empty printable text on one line" ;;
    esac
}
# JSON string body: escape backslash and double quote (control characters were rejected).
json_escape() {
    local s=${1//\\/\\\\}
    printf '%s' "${s//\"/\\\"}"
}

[ $# -ge 2 ] || usage
dir=$1
kind=$2
shift 2
part_size=64
device_type=sim-device
artifact_name=sim-base
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || usage
    case $1 in
    --part-size) part_size=$2 ;;
    --device-type) device_type=$2 ;;
    --artifact-name) artifact_name=$2 ;;
    *) usage ;;
    esac
    shift 2
done

case $kind in
uboot | grub) ;;
*) usage ;;
esac
case $part_size in
'' | *[!0-9]*) die "--part-size must be a whole number of MiB" ;;
esac
part_size=$((10#$part_size))
[ "$part_size" -ge 1 ] && [ "$part_size" -le 65536 ] || die "--part-size must be 1..65536 MiB"
check_name --device-type "$device_type"
check_name --artifact-name "$artifact_name"

if [ "$kind" = uboot ]; then
    need_tool mkenvimage u-boot-tools
    need_tool fw_printenv libubootenv-tool
else
    need_tool grub-editenv grub-common
    need_tool sha256sum coreutils
fi

mkdir -p -- "$dir"
dir=$(cd -- "$dir" && pwd -P)
# fw_env.config fields are whitespace-separated, so the paths must not contain blanks.
case $dir in
*[[:space:]]* | *[![:print:]]*) die "the directory path must not contain blanks or control characters: $dir" ;;
esac
[ ! -e "$dir/mender.conf" ] || die "$dir already holds a device (mender.conf exists); use a fresh directory"

# Partitions: sparse regular files of the requested size. A carries a recognisable header, B is
# blank like a freshly erased partition.
for img in rootfs-a.p2 rootfs-b.p3; do
    rm -f -- "$dir/$img"
    truncate -s "${part_size}M" "$dir/$img"
done
printf 'MENDER-SIM ROOTFS A\nartifact_name=%s\ndevice_type=%s\n' "$artifact_name" "$device_type" |
    dd of="$dir/rootfs-a.p2" conv=notrunc status=none

if [ "$kind" = uboot ]; then
    # The Mender defaults of meta-mender's env_mender.h (A = partition 2), plus the canary that
    # mender_setup would have saved on the first boot.
    cat >"$dir/uboot-env.txt" <<'EOF'
bootlimit=1
bootcount=0
upgrade_available=0
mender_boot_part=2
mender_boot_part_hex=2
mender_check_saveenv_canary=1
mender_saveenv_canary=1
EOF
    # `mkenvimage -r` makes one redundant copy with flag byte 1. Flashing that same image to both
    # locations is what a factory does: both CRCs are valid, the flags tie, and the tools (and
    # U-Boot) take copy 1 as current and write copy 2 next with flag 2.
    mkenvimage -r -s 0x4000 -o "$dir/uboot-env-1.bin" "$dir/uboot-env.txt"
    cp -- "$dir/uboot-env-1.bin" "$dir/uboot-env-2.bin"
    chmod 0644 "$dir/uboot-env-1.bin" "$dir/uboot-env-2.bin"
    # Sizes in fw_env.config are always hex; offsets are decimal unless prefixed 0x.
    cat >"$dir/fw_env.config" <<EOF
# Simulated redundant U-Boot environment: two copies of 0x4000 bytes, one per file.
$dir/uboot-env-1.bin 0x0 0x4000
$dir/uboot-env-2.bin 0x0 0x4000
EOF
    # Read it back with the real tool; -f names a file that does not exist, so libubootenv cannot
    # substitute a default environment for a broken one.
    got=$(fw_printenv -c "$dir/fw_env.config" -f "$dir/.no-default-env" -n mender_boot_part) ||
        die "fw_printenv cannot read the new environment"
    [ "$got" = 2 ] || die "fw_printenv reads mender_boot_part=$got, expected 2"
    env_keys="\"UbootEnvConfig\": \"$(json_escape "$dir/fw_env.config")\""
else
    # grub-mender-grubenv layout: two copies, each an env block, a lock block and the lock's
    # checksum in its editing=0 state (used by the Linux tools, never by GRUB itself).
    for n in 1 2; do
        d=$dir/grubenv/mender_grubenv$n
        mkdir -p -- "$d"
        grub-editenv "$d/env" create
        grub-editenv "$d/env" set bootcount=0 mender_boot_part=2 upgrade_available=0
        grub-editenv "$d/lock" create
        grub-editenv "$d/lock" set editing=0
        (cd -- "$d" && sha256sum lock >lock.sha256sum)
        (cd -- "$d" && sha256sum -c --status lock.sha256sum) || die "lock checksum of copy $n does not verify"
        got=$(grub-editenv "$d/env" list | sed -n 's/^mender_boot_part=//p')
        [ "$got" = 2 ] || die "grub-editenv reads mender_boot_part=$got in copy $n, expected 2"
    done
    env_keys="\"GrubEnvDir\": \"$(json_escape "$dir/grubenv")\""
fi

mkdir -p -- "$dir/data" "$dir/etc"
printf 'device_type=%s\n' "$device_type" >"$dir/data/device_type"
printf 'artifact_name=%s\n' "$artifact_name" >"$dir/etc/artifact_info"

cat >"$dir/mender.conf" <<EOF
{
  "RootfsPartA": "$(json_escape "$dir/rootfs-a.p2")",
  "RootfsPartB": "$(json_escape "$dir/rootfs-b.p3")",
  "DeviceTypeFile": "$(json_escape "$dir/data/device_type")",
  "ArtifactInfoFile": "$(json_escape "$dir/etc/artifact_info")",
  "BootEnvironment": "$kind",
  $env_keys
}
EOF

# The simulated machine is powered on and runs A until boot.sh says otherwise.
echo 'A 2' >"$dir/active"
echo "created $kind device in $dir (partitions of $part_size MiB, running A = partition 2)"
