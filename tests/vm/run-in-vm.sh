#!/bin/bash
# Boot the heterogeneous-memory test VM built by build-vm.sh and run one program in it, as root.
# Adapted from shared/vm/run-in-vm.sh; owned by us now.
#
# Usage: tests/vm/run-in-vm.sh [--env NAME=VALUE]... [--file PATH]... [BINARY [ARGS...]]
#   (no BINARY: just boot and run the built-in MAP_SYNC check)
#   --env NAME=VALUE  export NAME=VALUE to BINARY in the guest (repeatable). LD_LIBRARY_PATH given
#                     this way is also used by the host-side ldd; the files an LD_PRELOAD names are
#                     copied in like --file ones.
#   --file PATH       copy PATH into the guest at the same absolute path (relative PATHs are taken
#                     from the current directory), plus the shared libraries ldd reports for it if
#                     it is an ELF file. A directory is copied whole (libraries of the ELF files in
#                     it too). Symlinks are followed: the guest gets plain files. Repeatable.
#   BINARY            copied to its resolved path (readlink -f; "/bin/sh" becomes /usr/bin/dash),
#                     with its shared libraries (ldd), and run from there. A bare name is looked up
#                     in PATH. It runs with its working directory at the host's current directory
#                     path (created in the guest; it holds only what --file put there).
# Exit status: BINARY's exit status inside the guest; 125 if the guest never reported one (the last
# stderr line then says whether the guest booted far enough to start BINARY).
# Output: BINARY's stdout and stderr both come back on stdout (one serial console), after the VM
# has powered off; the guest's setup evidence ([hetmem] lines) and a timing line go to stderr.
#
# Several programs in ONE boot (a boot costs 10-20 s under TCG): run a shell and give it a script,
# passing every file the script needs with --file, e.g.
#   tests/vm/run-in-vm.sh --file t.sh --file target/release/examples/demo \
#       --file target/release/libmorselkind.so --file /usr/bin/memkind-hbw-nodes \
#       --env LD_LIBRARY_PATH=$PWD/target/release /bin/sh t.sh
# where t.sh runs each program in turn and ends with the status it wants reported (e.g. the number
# of failures). t.sh runs under the host's dash here (/bin/sh resolves to /usr/bin/dash); the
# commands it calls come from PATH=/bin:/sbin:/usr/bin:/usr/sbin, i.e. busybox's applets (grep,
# sed, awk, cat, time, ...) plus numactl, ndctl, daxctl and mkfs.ext4. A script given as BINARY
# itself runs under its #! line: /bin/sh is busybox ash, and there is no bash unless you pass
# /bin/bash as BINARY. An LD_PRELOAD passed with --env applies to the shell and everything it
# starts; to compare allocators in one boot, set LD_PRELOAD/LD_LIBRARY_PATH per command in t.sh.
# For a drop-in check of a program linked against libmemkind.so.0, --file a directory holding a
# libmemkind.so.0 symlink to our libmorselkind.so and point LD_LIBRARY_PATH at it for that program.
#
# Guest: Linux from Debian's linux-image-amd64 (6.1), 2 CPUs, TCG. node0 = 2 CPUs + 1 GiB;
# node1 = 1 GiB, no CPUs, HBM-like (HMAT: 2x latency, 30x bandwidth of node0, 64 MiB memory-side
# cache); NVDIMM 0 -> fsdax /dev/pmem0, ext4 -o dax at $HETMEM_PMEM_DIR (/mnt/pmem);
# NVDIMM 1 (PXM 2) -> devdax -> kmem system-ram, node $HETMEM_KMEM_NODE (2), memory only.
# memkind 1.14 answers: DAX_KMEM=2, HBW=1, HIGHEST_BANDWIDTH_LOCAL=1, REGULAR=0,
# LOWEST_LATENCY_LOCAL=0, HIGHEST_CAPACITY=0. hugetlbfs is mounted at /dev/hugepages (0 pages
# reserved: write /proc/sys/vm/nr_hugepages or the per-node files from the test, it runs as root).
# The guest's files (initramfs + BINARY + --file's) live in RAM, mostly on node0: keep them small.
#
# Env: MORSELKIND_VM_CACHE (/var/tmp/morselkind-vm), MORSELKIND_VM_ACCEL (tcg; "kvm" to try KVM),
#      MORSELKIND_VM_TIMEOUT (seconds for the whole boot+run, default 600),
#      MORSELKIND_VM_APPEND (more kernel command line, e.g. "hugepages=0:8,1:8" for 2 MiB pages
#      reserved on node0 and node1, or "transparent_hugepage=madvise"; the guest's default THP
#      mode is "always"; nokaslr is always on, so node sizes are the same every boot),
#      MORSELKIND_VM_LOG (serial log file; default: a temp file, its tail printed on failure).
set -euo pipefail
CACHE=${MORSELKIND_VM_CACHE:-/var/tmp/morselkind-vm}
die() { echo "run-in-vm: $*" >&2; exit 125; }
usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0" >&2; exit 125; }

ENVS=() FILES=()
while [ $# -gt 0 ]; do
  case $1 in
    --env) [ $# -ge 2 ] || usage; ENVS+=("$2"); shift 2 ;;
    --env=*) ENVS+=("${1#--env=}"); shift ;;
    --file) [ $# -ge 2 ] || usage; FILES+=("$2"); shift 2 ;;
    --file=*) FILES+=("${1#--file=}"); shift ;;
    -h|--help) usage ;;
    --) shift; break ;;
    -*) echo "run-in-vm: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[ -f "$CACHE/initramfs.cpio.gz" ] && [ -f "$CACHE/vmlinuz" ] || die "no VM in $CACHE: run tests/vm/build-vm.sh"
command -v qemu-system-x86_64 >/dev/null || die "no qemu-system-x86_64: run tests/vm/build-vm.sh"

W=$(mktemp -d "$CACHE/run.XXXXXX"); trap 'rm -rf "$W"' EXIT
LOG=${MORSELKIND_VM_LOG:-$W/console.log}
q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }   # single-quote for the guest's sh

LDD_LIBPATH=${LD_LIBRARY_PATH-}
for e in ${ENVS[@]+"${ENVS[@]}"}; do
  [[ $e =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--env wants NAME=VALUE, got '$e'"
  case $e in
    LD_LIBRARY_PATH=*) LDD_LIBPATH=${e#*=} ;;
    LD_PRELOAD=*) for f in ${e#*=}; do [[ $f == /* && -e $f ]] && FILES+=("$f"); done ;;
  esac
done

# The test travels as a second cpio archive appended to the initramfs (the kernel unpacks both).
G=$W/root
mkdir -p "$G/test"
is_elf() { [ -f "$1" ] && [ "$(head -c4 "$1" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; }
copy_libs() {  # shared libraries ldd reports for an ELF file; none for static ones and scripts
  is_elf "$1" || return 0
  LD_LIBRARY_PATH=$LDD_LIBPATH ldd "$1" 2>/dev/null | grep -o '/[^ ]*' | while read -r l; do
    [ -e "$G$l" ] || cp -L --parents "$l" "$G"
  done
}
put() {  # put HOSTPATH GUESTPATH: copy a file or directory tree (following symlinks) + libraries
  mkdir -p "$G$(dirname "$2")"
  cp -rL "$1" "$G$2"
  if [ -d "$1" ]; then
    find -L "$1" -type f | while read -r f; do copy_libs "$f"; done
  else
    copy_libs "$1"
  fi
}
for f in ${FILES[@]+"${FILES[@]}"}; do
  [ -e "$f" ] || die "--file $f: no such file"
  case $f in /*) a=$f ;; *) a=$PWD/$f ;; esac
  a=$(realpath -s "$a")   # absolute and normalised, symlinks kept: the path the caller wrote
  put "$f" "$a"
done

if [ $# -gt 0 ]; then
  b=$1
  case $b in */*) ;; *) b=$(type -P "$1") || die "$1: not found in PATH" ;; esac
  [ -f "$b" ] || die "$b: no such file"
  b=$(readlink -f "$b"); shift
  put "$b" "$b"; chmod +x "$G$b"
  {
    echo '#!/bin/sh'
    for e in ${ENVS[@]+"${ENVS[@]}"}; do echo "export ${e%%=*}=$(q "${e#*=}")"; done
    echo "mkdir -p $(q "$PWD") && cd $(q "$PWD") || cd /test"
    printf 'exec %s' "$(q "$b")"; for a in "$@"; do printf ' %s' "$(q "$a")"; done; echo
  } > "$G/test/run"
  chmod +x "$G/test/run"
fi
cp "$CACHE/initramfs.cpio.gz" "$W/initrd"
if [ -n "$(ls -A "$G/test")" ] || [ "$(ls -A "$G")" != test ]; then
  (cd "$G" && find . -mindepth 1 | cpio -o -H newc --quiet | gzip -1) >> "$W/initrd"
fi

# Fresh, sparse NVDIMM backing files: 1 GiB each after the 128 KiB label area (rounded to 2 MiB).
truncate -s 1026M "$W/nv0" "$W/nv1"
NUMA=(
  -object memory-backend-ram,id=m0,size=1G -object memory-backend-ram,id=m1,size=1G
  -numa node,nodeid=0,memdev=m0,cpus=0-1,initiator=0
  -numa node,nodeid=1,memdev=m1,initiator=0       # memory-only node (HBM-like by HMAT)
  -numa node,nodeid=2,initiator=0                 # empty until NVDIMM 1 is onlined by kmem
)
for t in "0 10 10G" "1 20 300G" "2 80 2G"; do set -- $t
  NUMA+=(-numa "hmat-lb,initiator=0,target=$1,hierarchy=memory,data-type=access-latency,latency=$2"
         -numa "hmat-lb,initiator=0,target=$1,hierarchy=memory,data-type=access-bandwidth,bandwidth=$3")
done
NUMA+=(-numa hmat-cache,node-id=1,size=64M,level=1,associativity=direct,policy=write-back,line=64)
NVDIMM=(
  -object memory-backend-file,id=nv0,share=on,mem-path="$W/nv0",size=1026M,align=2M
  -device nvdimm,id=nvdimm0,memdev=nv0,label-size=128K,node=1
  -object memory-backend-file,id=nv1,share=on,mem-path="$W/nv1",size=1026M,align=2M
  -device nvdimm,id=nvdimm1,memdev=nv1,label-size=128K,node=2
)
# Default TCG. This host's /dev/kvm is kvm_pvm (nested, software): a stock Debian kernel hangs right
# after its decompressor there, so "kvm" is opt-in; -cpu max is TCG's model (no PMU: hardware perf
# counters do not exist in the guest, software ones do).
case ${MORSELKIND_VM_ACCEL:-tcg} in
  kvm) ACCEL=(-accel kvm -cpu host,-arch-capabilities) ;;
  *)   ACCEL=(-accel tcg -cpu max) ;;
esac
start=$(date +%s)
qrc=0
timeout "${MORSELKIND_VM_TIMEOUT:-600}" qemu-system-x86_64 "${ACCEL[@]}" -smp 2 -m 2G,slots=4,maxmem=6G \
  -machine q35,nvdimm=on,hmat=on "${NUMA[@]}" "${NVDIMM[@]}" \
  -nographic -no-reboot -nic none -kernel "$CACHE/vmlinuz" -initrd "$W/initrd" \
  -append "console=ttyS0 quiet panic=-1 nokaslr ${MORSELKIND_VM_APPEND-}" </dev/null >"$LOG" 2>&1 || qrc=$?
tr -d '\r' <"$LOG" >"$W/clean.log"
rc=$(sed -n 's/^HETMEM-VM-EXIT=\([0-9]*\)$/\1/p' "$W/clean.log" | tail -1)
grep -a '^\[hetmem\]' "$W/clean.log" >&2 || true                                 # setup evidence
awk '/^HETMEM-VM-EXIT=/{f=0} f; /^\[hetmem\] --- running test/{f=1}' "$W/clean.log"  # test output
echo "[host] guest ran $(( $(date +%s) - start ))s, exit=${rc:-none}" >&2
if [ -z "$rc" ]; then
  tail -40 "$W/clean.log" >&2
  if grep -aq '^\[hetmem\] --- running test' "$W/clean.log"; then
    why="the test started but never finished"
  else
    why="the guest did not boot far enough to start the test"
  fi
  [ "$qrc" = 124 ] && why="$why (timed out after ${MORSELKIND_VM_TIMEOUT:-600}s)"
  echo "[host] no exit status from the guest: $why; qemu exit status $qrc" >&2
  exit 125
fi
exit "$rc"
