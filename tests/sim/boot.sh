#!/usr/bin/env bash
# One power-on of a device made by make-device.sh: runs the bootloader's Mender logic on the boot
# environment with the real Debian tools (fw_printenv/fw_setenv, grub-editenv), records the
# partition it booted in DIR/active and prints one line such as `booted 3 (rootfs-b.p3)` or
# `rolled back: booted 2 (rootfs-a.p2)`.
#
# Usage: boot.sh DIR [--fail]
#   --fail  the chosen kernel does not come up (the machine resets before anything can commit);
#           DIR/active becomes "none" and the next boot.sh call continues from there.
# Exit status: 0 booted (or failed as requested), 1 the device does not boot, 2 usage error.
set -euo pipefail

prog=boot.sh
usage() {
    echo "usage: $prog DIR [--fail]" >&2
    exit 2
}
[ $# -ge 1 ] && [ $# -le 2 ] || usage
dir=$1
fail=
if [ $# -eq 2 ]; then
    [ "$2" = --fail ] || usage
    fail=1
fi
[ -f "$dir/mender.conf" ] || {
    echo "$prog: $dir is not a simulated device (no mender.conf); run make-device.sh first" >&2
    exit 2
}

errf=$(mktemp)
trap 'rm -f -- "$errf"' EXIT

# Bootloader console output goes to stderr so stdout stays one line.
console() { echo "[$kind] $*" >&2; }
# The machine stays dark: nothing runs, and the caller sees why.
no_boot() {
    echo none >"$dir/active"
    echo "$prog: device does not boot: $*" >&2
    exit 1
}

if [ -f "$dir/fw_env.config" ] && [ ! -d "$dir/grubenv" ]; then
    kind=uboot
elif [ -d "$dir/grubenv" ] && [ ! -f "$dir/fw_env.config" ]; then
    kind=grub
else
    echo "$prog: $dir holds neither exactly one of fw_env.config and grubenv/" >&2
    exit 2
fi

rolled_back=

# ---------------------------------------------------------------------------------------------
# U-Boot: bootcount_env.c + autoboot.c + meta-mender's mender_setup/mender_altbootcmd.
# ---------------------------------------------------------------------------------------------
conf=$dir/fw_env.config
# A file that never exists: without -f libubootenv would substitute /etc/u-boot-initial-env for a
# broken environment, hiding exactly the failure this simulator must report.
nodef=$dir/.no-default-env
declare -A env=()

uboot_load() {
    local out line
    out=$(fw_printenv -c "$conf" -f "$nodef" 2>"$errf") ||
        no_boot "fw_printenv cannot read the U-Boot environment in $conf ($(tr '\n' ' ' <"$errf")); real U-Boot would fall back to its built-in defaults"
    env=()
    while IFS= read -r line; do
        case $line in
        *=*) env[${line%%=*}]=${line#*=} ;;
        esac
    done <<<"$out"
}
# saveenv: one fw_setenv call, so the redundant-copy rules (write the other copy, flag+1) apply.
uboot_save() { # NAME=VALUE...
    printf '%s\n' "$@" | fw_setenv -c "$conf" -f "$nodef" -s - 2>"$errf" ||
        no_boot "fw_setenv cannot save the U-Boot environment ($(tr '\n' ' ' <"$errf"))"
    local kv
    for kv in "$@"; do env[${kv%%=*}]=${kv#*=}; done
}
# env_get_ulong(name, 10, 0): unset is 0, otherwise the leading decimal digits (none -> 0).
ulong() {
    local v=${1%%[!0-9]*}
    v=${v:0:18}
    echo $((10#${v:-0}))
}

uboot_boot() {
    uboot_load
    # bootcount_inc(): count boots only while an upgrade is pending, saving at once.
    local upgrade bootcount=0 bootlimit part hex
    upgrade=$(ulong "${env[upgrade_available]-}")
    if [ "$upgrade" -ne 0 ]; then
        bootcount=$(($(ulong "${env[bootcount]-}") + 1))
        uboot_save "bootcount=$bootcount"
    fi
    # autoboot: bootcount > bootlimit runs altbootcmd = mender_altbootcmd; run bootcmd.
    bootlimit=$(ulong "${env[bootlimit]-}")
    if [ "$bootlimit" -ne 0 ] && [ "$bootcount" -gt "$bootlimit" ]; then
        console "Warning: Bootlimit ($bootlimit) exceeded. Using altbootcmd."
        if [ "${env[mender_boot_part]-}" = 2 ]; then part=3; else part=2; fi
        uboot_save "mender_boot_part=$part" "mender_boot_part_hex=$part" upgrade_available=0
        rolled_back=1
    fi
    # mender_setup: the first boot saves the canary that proves Linux sees the same env.
    if [ "${env[mender_saveenv_canary]-}" != 1 ]; then
        uboot_save mender_saveenv_canary=1
    fi
    # The kernel is loaded from partition _hex, the root fs is mounted from mender_boot_part:
    # they have to agree or the machine boots a kernel with the wrong root.
    part=${env[mender_boot_part]-}
    hex=${env[mender_boot_part_hex]-}
    case $hex in
    '' | *[!0-9a-fA-F]*) no_boot "mender_boot_part_hex='$hex' is not a hex partition number" ;;
    esac
    [ "${#hex}" -le 8 ] && [ "$part" = "$((16#$hex))" ] ||
        no_boot "mender_boot_part='$part' and mender_boot_part_hex='$hex' name different partitions"
    boot_part=$part
}

# ---------------------------------------------------------------------------------------------
# GRUB: grub-mender-grubenv's mender_check_and_restore_env, mender_load_env(_with_rollback) and
# mender_save_env, with GRUB's load_env/save_env semantics.
# ---------------------------------------------------------------------------------------------
genv=$dir/grubenv
env1=$genv/mender_grubenv1/env
lock1=$genv/mender_grubenv1/lock
env2=$genv/mender_grubenv2/env
lock2=$genv/mender_grubenv2/lock
whitelist=(bootcount mender_boot_part upgrade_available mender_systemd_machine_id)
# GRUB variables: a key is present iff the variable is set.
declare -A var=()

# load_env --skip-sig --file FILE NAMES: sets the listed names found in the block; a missing or
# invalid block sets nothing. (grub-editenv would create a missing file, GRUB does not.)
grub_load() { # FILE NAME...
    local file=$1 out line name want
    shift
    if [ ! -f "$file" ]; then
        console "error: file '$file' not found"
        return 0
    fi
    if ! out=$(grub-editenv "$file" list 2>"$errf"); then
        console "error: $file: $(tr '\n' ' ' <"$errf")"
        return 0
    fi
    while IFS= read -r line; do
        case $line in *=*) ;; *) continue ;; esac
        name=${line%%=*}
        for want in "$@"; do
            if [ "$name" = "$want" ]; then var[$name]=${line#*=}; fi
        done
    done <<<"$out"
}
# save_env --file FILE NAMES: rewrites the existing block, setting the listed names that are set
# and deleting those that are not; it never creates or grows a file, and a failure is only printed.
grub_save() { # FILE NAME...
    local file=$1 name
    local -a to_set=() to_unset=()
    shift
    if [ ! -f "$file" ]; then
        console "error: file '$file' not found"
        return 0
    fi
    for name in "$@"; do
        if [ -n "${var[$name]+x}" ]; then to_set+=("$name=${var[$name]}"); else to_unset+=("$name"); fi
    done
    if [ ${#to_set[@]} -gt 0 ] && ! grub-editenv "$file" set "${to_set[@]}" 2>"$errf"; then
        console "error: $file: $(tr '\n' ' ' <"$errf")"
        return 0
    fi
    if [ ${#to_unset[@]} -gt 0 ] && ! grub-editenv "$file" unset "${to_unset[@]}" 2>"$errf"; then
        console "error: $file: $(tr '\n' ' ' <"$errf")"
    fi
    return 0
}

one_of() { # VALUE ALLOWED...
    local v=$1 a
    shift
    for a in "$@"; do
        if [ "$v" = "$a" ]; then return 0; fi
    done
    return 1
}

grub_boot() {
    # Restore: a copy whose lock says it was being edited is rebuilt from the other copy.
    var[editing]=invalid
    grub_load "$lock2" editing
    if [ "${var[editing]}" != 0 ]; then
        console "copy 2 was being edited: restoring it from copy 1"
        grub_load "$env1" "${whitelist[@]}"
        grub_save "$env2" "${whitelist[@]}"
        var[editing]=0
        grub_save "$lock2" editing
    else
        var[editing]=invalid
        grub_load "$lock1" editing
        if [ "${var[editing]}" != 0 ]; then
            console "copy 1 was being edited: restoring it from copy 2"
            grub_load "$env2" "${whitelist[@]}"
            grub_save "$env1" "${whitelist[@]}"
            var[editing]=0
            grub_save "$lock1" editing
        fi
    fi

    # Load copy 1 (on top of whatever the restore loaded, as GRUB does) and validate it.
    grub_load "$env1" "${whitelist[@]}"
    local part=${var[mender_boot_part]-} count=${var[bootcount]-} upgrade=${var[upgrade_available]-}
    if ! one_of "$part" 2 3 || ! one_of "$count" 0 1 || ! one_of "$upgrade" 0 1; then
        no_boot "the GRUB environment is unreadable or invalid (mender_boot_part='$part' bootcount='$count' upgrade_available='$upgrade'); real GRUB would warn and guess a partition"
    fi

    # Rollback decision, then the two-copy save (lock2, env2, lock2, lock1, env1, lock1).
    if [ "$upgrade" = 1 ]; then
        if [ "$count" != 0 ]; then
            console "Rolling back..."
            if [ "$part" = 2 ]; then var[mender_boot_part]=3; else var[mender_boot_part]=2; fi
            var[upgrade_available]=0
            var[bootcount]=0
            rolled_back=1
        else
            console "Booting new update..."
            var[bootcount]=1
        fi
        local copy env lock
        for copy in 2 1; do
            if [ "$copy" = 2 ]; then env=$env2 lock=$lock2; else env=$env1 lock=$lock1; fi
            var[editing]=1
            grub_save "$lock" editing
            grub_save "$env" "${whitelist[@]}"
            var[editing]=0
            grub_save "$lock" editing
        done
    fi
    boot_part=${var[mender_boot_part]}
}

# ---------------------------------------------------------------------------------------------
"${kind}_boot"

case $boot_part in
2) img=rootfs-a.p2 letter=A ;;
3) img=rootfs-b.p3 letter=B ;;
*) no_boot "mender_boot_part='$boot_part' is not a partition of this device (A = 2, B = 3)" ;;
esac
[ -s "$dir/$img" ] || no_boot "partition $boot_part ($img) is missing or empty: there is no kernel to load"

line="booted $boot_part ($img)"
[ -z "$rolled_back" ] || line="rolled back: $line"
if [ -n "$fail" ]; then
    # The kernel never reaches userspace: no client runs, so nothing commits; the bootloader's
    # recovery resets the machine and the next power-on decides again.
    echo none >"$dir/active"
    echo "$line, but the kernel failed to come up (simulated); the machine resets"
else
    echo "$letter $boot_part" >"$dir/active"
    echo "$line"
fi
