#!/bin/bash
# Build the test VM's kernel + busybox initramfs (NUMA/HMAT, NVDIMM fsdax, devdax -> kmem; see
# run-in-vm.sh for the machine) into a cache dir. Everything comes from Debian packages, which this
# script installs itself with apt-get (as root). Adapted from shared/vm/build-vm.sh; owned by us now.
#
# Usage: tests/vm/build-vm.sh
# Env:   MORSELKIND_VM_CACHE  cache dir (default /var/tmp/morselkind-vm)
# Output: $CACHE/vmlinuz, $CACHE/initramfs.cpio.gz, $CACHE/kernel.version.
# Exit:  0 built or already up to date; 77 the environment cannot provide what the VM needs (no
#        root for apt-get, no network to Debian's archive, no qemu): the message says why; other
#        non-zero: a bug here.
#
# Cached: the kernel (a ~70 MB .deb) is downloaded once and kept, even when linux-image-amd64 later
# moves on (delete $CACHE/kernel-* to take the newer one). The initramfs is rebuilt only when this
# script, guest-init.sh, mapsync_check.c, the kernel or the host packages copied into it change, so
# a cached run takes well under a second and needs no network.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${MORSELKIND_VM_CACHE:-/var/tmp/morselkind-vm}
export DEBIAN_FRONTEND=noninteractive
skip() { echo "build-vm: cannot build the VM: $*" >&2; exit 77; }

# 1. Host tools. ndctl/daxctl/mke2fs/kmod/numactl are copied (with their libraries) into the guest.
NEED="qemu-system-x86 busybox-static ndctl daxctl e2fsprogs kmod cpio gzip gcc libc6-dev numactl"
if ! dpkg -s $NEED >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || skip "packages missing ($NEED) and not root to install them"
  echo "build-vm: installing $NEED" >&2
  if ! apt-get install -y -qq --no-install-recommends $NEED >/dev/null 2>&1; then
    apt-get update -qq >/dev/null 2>&1 || skip "apt-get update failed (no network to Debian's archive?)"
    apt-get install -y -qq --no-install-recommends $NEED >/dev/null 2>&1 ||
      skip "apt-get install $NEED failed (no network to Debian's archive?)"
  fi
fi
command -v qemu-system-x86_64 >/dev/null || skip "no qemu-system-x86_64 after installing qemu-system-x86"

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"; flock 9   # one builder at a time; readers only see files renamed into place

# 2. The kernel: whatever is cached, else the package linux-image-amd64 currently points at.
K=$(ls -d "$CACHE"/kernel-*/ 2>/dev/null | grep -v '\.tmp/$' | sort -V | tail -1 || true)
if [ -z "$K" ]; then
  kpkg() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}'; }
  KPKG=$(kpkg)
  if [ -z "$KPKG" ]; then
    apt-get update -qq >/dev/null 2>&1 || skip "apt-get update failed (no network to Debian's archive?)"
    KPKG=$(kpkg)
  fi
  [ -n "$KPKG" ] || skip "apt-cache knows no linux-image-amd64"
  KVER=${KPKG#linux-image-}
  rm -rf "$CACHE/kernel-$KVER.tmp" "$CACHE"/linux-image-*.deb
  echo "build-vm: downloading $KPKG" >&2
  (cd "$CACHE" && apt-get download "$KPKG" >/dev/null 2>&1) || skip "apt-get download $KPKG failed (no network?)"
  dpkg-deb -x "$CACHE"/"$KPKG"_*.deb "$CACHE/kernel-$KVER.tmp"
  depmod -b "$CACHE/kernel-$KVER.tmp" "$KVER"
  mv "$CACHE/kernel-$KVER.tmp" "$CACHE/kernel-$KVER"
  rm -f "$CACHE"/linux-image-*.deb
  K=$CACHE/kernel-$KVER/
fi
K=${K%/}
KVER=${K##*/kernel-}

# 3. The initramfs, unless the stamp says the one in the cache came from the same inputs.
STAMP=$( { echo "$KVER"; cat "$0" "$HERE/guest-init.sh" "$HERE/mapsync_check.c";
           dpkg-query -W -f='${Package}=${Version}\n' $NEED; } | sha256sum | cut -d' ' -f1)
if [ -f "$CACHE/initramfs.cpio.gz" ] && [ -f "$CACHE/vmlinuz" ] &&
   [ "$(cat "$CACHE/initramfs.stamp" 2>/dev/null)" = "$STAMP" ]; then
  echo "build-vm: up to date: $CACHE/vmlinuz ($KVER) and $CACHE/initramfs.cpio.gz" >&2
  exit 0
fi
R=$CACHE/root.tmp
rm -rf "$R"
mkdir -p "$R"/{bin,proc,sys,dev,tmp,run,mnt/pmem,test,etc}
cp /bin/busybox "$R/bin/busybox"
copy_bin() {  # copy executables plus the shared libraries ldd reports
  for b in "$@"; do
    cp -L "$b" "$R/bin/"
    ldd "$b" | grep -o '/[^ ]*' | while read -r l; do cp -L --parents "$l" "$R"; done
  done
}
copy_bin /usr/bin/ndctl /usr/bin/daxctl /sbin/mke2fs /bin/kmod /usr/bin/numactl
ln -s mke2fs "$R/bin/mkfs.ext4"
for t in modprobe insmod lsmod depmod; do ln -s kmod "$R/bin/$t"; done
echo "root:x:0:0:root:/tmp:/bin/sh" > "$R/etc/passwd"
echo "root:x:0:" > "$R/etc/group"

# Kernel modules (nvdimm, dax, kmem, ext4) plus dependencies, indexed by depmod (-C: ignore host
# modprobe.d, where ndctl installs a libnvdimm "install" hook).
MODS="nfit libnvdimm nd_pmem nd_btt dax_pmem device_dax kmem dax_hmem ext4 crc32c_generic crc32c_intel"
for m in $MODS; do modprobe -C /dev/null -d "$K" -S "$KVER" --show-depends "$m"; done |
  awk '$1=="insmod"{print $2}' | sort -u | while read -r f; do
    (cd "$K" && cp --parents "${f#"$K"/}" "$R")
  done
cp "$K/lib/modules/$KVER"/modules.{order,builtin,builtin.modinfo} "$R/lib/modules/$KVER/"
depmod -b "$R" "$KVER"

# The MAP_SYNC checker (static) and PID 1.
gcc -O2 -static -o "$R/bin/mapsync_check" "$HERE/mapsync_check.c"
install -m 755 "$HERE/guest-init.sh" "$R/init"

(cd "$R" && find . | cpio -o -H newc --quiet | gzip -1) > "$CACHE/initramfs.cpio.gz.tmp"
cp "$K/boot/vmlinuz-$KVER" "$CACHE/vmlinuz.tmp"
mv "$CACHE/vmlinuz.tmp" "$CACHE/vmlinuz"
mv "$CACHE/initramfs.cpio.gz.tmp" "$CACHE/initramfs.cpio.gz"
echo "$KVER" > "$CACHE/kernel.version"
echo "$STAMP" > "$CACHE/initramfs.stamp"
rm -rf "$R"
echo "build-vm: built $CACHE/vmlinuz ($KVER) and $CACHE/initramfs.cpio.gz ($(du -h "$CACHE/initramfs.cpio.gz" | cut -f1))" >&2
