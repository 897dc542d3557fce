#!/usr/bin/env bash
# Size of the official Go client (Debian's `mender-client`) per architecture, so our binary sizes
# in memory-budget.md have a reproducible reference point rather than a number copied by hand.
#
# For each architecture it downloads (never installs) mender-client and the packages of its
# Depends closure with `apt-get download`, unpacks them with `dpkg-deb -x` into a scratch root, and
# measures: the bytes of /usr/bin/mender (and whether `file` calls it stripped), the package's
# Installed-Size, and the shared-library closure the dynamic loader would map (readelf NEEDED,
# followed recursively inside the unpacked root, plus the ELF interpreter) with each file's bytes.
# A foreign architecture it has to add is removed again right after its measurement, and apt's
# lists are refreshed at the end, so dpkg and apt are left as they were found.
#
# Usage (as root): tests/bench/go-client-sizes.sh [ARCH...]    default: amd64 arm64 armhf
# Prints two markdown tables on stdout; progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD

arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=(amd64 arm64 armhf)
pkg=mender-client
for tool in apt-get apt-cache dpkg dpkg-deb readelf file stat; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "needs root (dpkg --add-architecture, apt-get update)" >&2; exit 1; }

native=$(dpkg --print-architecture)
work=$(mktemp -d /tmp/go-client-sizes.XXXXXX)
added=""    # foreign architecture this run has added and not yet removed
touched=no  # whether dpkg's architecture list was changed (then apt's lists need a final update)
failed_idx=""
restore() {
  # Leave dpkg/apt as found: drop only what this run added, then refresh apt's lists to match.
  if [ -n "$added" ]; then
    dpkg --remove-architecture "$added" || echo "could not remove $added" >&2
  fi
  if [ "$touched" = yes ]; then
    apt-get update -qq >&2 || echo "apt-get update after cleanup failed" >&2
  fi
  rm -rf "$work"
}
trap restore EXIT
trap 'exit 130' INT TERM

# refresh: apt-get update. A mirror mid-sync can serve one stale index, and apt then ignores the
# whole suite's new indexes (every architecture), which is why each architecture is added and
# refreshed on its own. Retries, then goes on with what apt has; the tables name every package
# version, and the indexes that failed are listed under them.
refresh() {
  local try log=$work/update.log
  for try in 1 2 3; do
    echo "apt-get update (try $try) ..." >&2
    apt-get update -qq >"$log" 2>&1 && return 0
    sleep 10
  done
  sed -n 's/^E: Failed to fetch \([^ ]*\).*/\1/p' "$log" >>"$work/failed"
  echo "warning: apt-get update failed: $(grep '^E:' "$log" | tr '\n' ' ')" >&2
}

# file_of ROOT PATH: follows symlinks inside the unpacked root (absolute targets are re-rooted,
# since they point into the target system, not the build host) and prints the real file.
file_of() {
  local root=$1 p=$2 t n=0
  while [ -L "$p" ] && [ $n -lt 40 ]; do
    t=$(readlink "$p")
    case $t in
      /*) p=$root$t ;;
      *) p=$(dirname "$p")/$t ;;
    esac
    n=$((n + 1))
  done
  [ -f "$p" ] && echo "$p"
}

# find_lib ROOT SONAME: the loader's default search dirs for a Debian multiarch system.
find_lib() {
  local root=$1 so=$2 d
  for d in "$root"/lib/*-linux-gnu* "$root"/usr/lib/*-linux-gnu* "$root"/lib "$root"/usr/lib; do
    if [ -e "$d/$so" ] || [ -L "$d/$so" ]; then
      file_of "$root" "$d/$so" && return 0
    fi
  done
  return 1
}

needed() { readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }

# Our own stripped sizes (file measured) per Debian arch, from memory-budget.md, for the ratio.
ours_size() {
  local target
  case $1 in
    amd64) target=x86_64-unknown-linux-gnu ;;
    arm64) target=aarch64-unknown-linux-musl ;;
    armhf) target=armv7-unknown-linux-gnueabihf ;;
    *) return 0 ;;
  esac
  [ -f "$repo/memory-budget.md" ] || return 0
  awk -F'|' -v t="$target" '$2 ~ /mender/ && $3 ~ t { gsub(/ /, "", $5); print $5, t; exit }' \
    "$repo/memory-budget.md"
}

# add_row SONAME REAL-PATH KIND: one library of the current arch into the per-library table.
add_row() {
  local rel owner sz
  rel=${2#"$root"}
  owner=$(awk -F'\t' -v f="$rel" '$1 == f { print $2; exit }' "$dir/owners")
  sz=$(stat -c %s "$2")
  lib_total=$((lib_total + sz))
  nlibs=$((nlibs + 1))
  rows+=("| $a | $1 | $3 | ${owner:-?} | $sz |")
}

summary=$work/summary.md
libs=$work/libs.md
: >"$summary"
: >"$libs"

for a in "${arches[@]}"; do
  if [ "$a" != "$native" ] && ! dpkg --print-foreign-architectures | grep -qx "$a"; then
    dpkg --add-architecture "$a"
    added=$a
    touched=yes
  fi
  refresh
  echo "[$a] resolving and downloading ..." >&2
  dir=$work/$a
  root=$dir/root
  mkdir -p "$dir/debs" "$root"
  chmod 755 "$work" "$dir" && chmod 777 "$dir/debs" # lets apt's _apt sandbox user write
  # Depends/Pre-Depends closure only: what `apt-get install --no-install-recommends` would need.
  mapfile -t deps < <(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
    --no-breaks --no-replaces --no-enhances "$pkg:$a" | grep -v '^[ <]' | sort -u)
  [ ${#deps[@]} -gt 0 ] || { echo "[$a] $pkg:$a not found" >&2; exit 1; }
  spec=()
  for d in "${deps[@]}"; do
    case $d in *:*) spec+=("$d") ;; *) spec+=("$d:$a") ;; esac
  done
  (cd "$dir/debs" && apt-get download -qq "${spec[@]}" >&2)

  deps_kib=0
  : >"$dir/owners"
  for deb in "$dir"/debs/*.deb; do
    dpkg-deb -x "$deb" "$root"
    name=$(dpkg-deb -f "$deb" Package)
    ver=$(dpkg-deb -f "$deb" Version)
    kib=$(dpkg-deb -f "$deb" Installed-Size)
    deps_kib=$((deps_kib + kib))
    # path -> "package version", to name the owner of every library found below
    dpkg-deb -c "$deb" | awk -v p="$name $ver" '{ f = $6; sub(/^\./, "", f); print f "\t" p }' \
      >>"$dir/owners"
  done

  main=$(ls "$dir"/debs/"${pkg}"_*.deb)
  ver=$(dpkg-deb -f "$main" Version)
  inst_kib=$(dpkg-deb -f "$main" Installed-Size)
  bin=$root/usr/bin/mender
  bytes=$(stat -c %s "$bin")
  desc=$(file -b "$bin")
  case $desc in
    *"not stripped"*) stripped=no ;;
    *stripped*) stripped=yes ;;
    *) stripped=unknown ;;
  esac
  if [ "$stripped" = no ]; then
    # Compare like with like: measure a stripped copy (llvm-strip handles every target).
    cp "$bin" "$dir/mender.s"
    llvm-strip "$dir/mender.s"
    bytes=$(stat -c %s "$dir/mender.s")
    stripped="no (stripped copy measured)"
  fi

  # Breadth-first NEEDED closure; the interpreter is mapped by the kernel, so add it explicitly.
  direct=$(needed "$bin" | tr '\n' ' ')
  interp=$(readelf -l "$bin" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
  queue=$(needed "$bin")
  seen=" "  # sonames already followed
  mapped=" " # real files already counted (the interpreter is also reachable by soname)
  lib_total=0
  nlibs=0
  rows=()
  if [ -n "$interp" ]; then
    p=$(file_of "$root" "$root$interp") || { echo "[$a] interpreter $interp not found" >&2; exit 1; }
    add_row "$(basename "$interp")" "$p" interpreter
    mapped="$mapped$p "
  fi
  while [ -n "$queue" ]; do
    next=""
    for so in $queue; do
      case $seen in *" $so "*) continue ;; esac
      seen="$seen$so "
      p=$(find_lib "$root" "$so") || { echo "[$a] $so not found in unpacked closure" >&2; exit 1; }
      case $mapped in *" $p "*) continue ;; esac
      mapped="$mapped$p "
      case " $direct " in *" $so "*) kind=direct ;; *) kind=indirect ;; esac
      add_row "$so" "$p" "$kind"
      next="$next $(needed "$p" | tr '\n' ' ')"
    done
    queue=$next
  done
  printf '%s\n' "${rows[@]}" >>"$libs"

  total=$((bytes + lib_total))
  read -r ours target < <(ours_size "$a") || true
  ratio="-"
  if [ -n "${ours:-}" ] && [ "$ours" -gt 0 ] 2>/dev/null; then
    ratio=$(awk -v g="$bytes" -v o="$ours" -v t="$target" 'BEGIN { printf "%.1fx (%s %d)", g / o, t, o }')
  fi
  echo "| $a | $ver | $bytes | $stripped | $inst_kib | ${direct% } | $nlibs | $lib_total | $total | $deps_kib | $ratio |" \
    >>"$summary"
  unset ours target
  if [ -n "$added" ]; then
    dpkg --remove-architecture "$added"
    added=""
  fi
done
if [ "$touched" = yes ]; then
  echo "apt-get update (architectures restored) ..." >&2
  apt-get update -qq >&2 || echo "apt-get update after cleanup failed" >&2
  touched=no
fi
[ ! -f "$work/failed" ] || failed_idx=$(sort -u "$work/failed")

echo "### Official Go client (Debian \`$pkg\`): binary, package and shared libraries"
echo
echo "| arch | version | /usr/bin/mender bytes | stripped | Installed-Size KiB | NEEDED (direct) | libs mapped | libs bytes | binary + libs bytes | Depends closure Installed-Size KiB | Go / ours (memory-budget.md) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
cat "$summary"
echo
echo "### Shared libraries loaded (NEEDED closure + interpreter), from the same-arch Debian packages"
echo
echo "| arch | soname | kind | package version | bytes |"
echo "|---|---|---|---|---|"
cat "$libs"
if [ -n "$failed_idx" ]; then
  echo
  echo "Note: \`apt-get update\` failed for these indexes, so apt ignored that suite for the architecture and its packages came from the other suites (versions above):"
  for u in $failed_idx; do echo "- $u"; done
fi
