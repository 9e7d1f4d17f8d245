# Shared helpers for the shell suites in tests/suites/. Source it: `. "$ROOT/tests/lib.sh"`.
#
# Gives: ROOT, REL (target/release), CC, CXX, a private scratch directory $WORK (removed on
# exit), and helpers to build C programs against the system memkind ("theirs") and against
# libmorselkind ("ours"), to make and check PMEM directories, and to end a suite with a
# summary line.

ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
export ROOT
REL="$ROOT/target/release"
CC="${CC:-gcc}"
CXX="${CXX:-g++}"
CFLAGS_COMMON=(-std=gnu11 -O1 -g -Wall -Wextra -Werror -Wno-unused-parameter -Wno-deprecated-declarations)

# The suite's name, for messages: tests/suites/foo.sh -> foo.
SUITE="${SUITE:-$(basename "${0%.sh}")}"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/morselkind-$SUITE.XXXXXX")"
_lib_cleanup() { rm -rf "$WORK"; }
trap _lib_cleanup EXIT

say() { echo "$SUITE: $*"; }
die() { echo "$SUITE: FAIL: $*" >&2; exit 1; }
# skip REASON: exits 77 after saying why, loudly.
skip() { echo "$SUITE: SKIPPED: $*" >&2; echo "$SUITE: SKIPPED: $*"; exit 77; }

# need_ours: the release library must be built, with the libmorselkind.so.0 link that programs
# load it by (ffi/build.rs makes it; the suites do not, so a build tree without it fails here).
need_ours() {
    [[ -f "$REL/libmorselkind.so" ]] || die "$REL/libmorselkind.so is missing: run cargo build --release"
    [[ -f "$REL/libmorselkind.a" ]] || die "$REL/libmorselkind.a is missing: run cargo build --release"
    [[ "$(readlink "$REL/libmorselkind.so.0")" == libmorselkind.so ]] ||
        die "$REL/libmorselkind.so.0 is not a link to libmorselkind.so (ffi/build.rs makes it)"
}

# need_theirs: the system memkind (headers and library) must be installed.
need_theirs() {
    [[ -f /usr/include/memkind.h ]] ||
        skip "memkind's headers are not installed (apt-get install libmemkind-dev, or bash tests/deps.sh)"
    echo 'int main(void){return 0;}' >"$WORK/probe.c"
    "$CC" "$WORK/probe.c" -o "$WORK/probe" -lmemkind 2>/dev/null ||
        skip "cannot link against the system libmemkind (apt-get install libmemkind-dev)"
}

# build_theirs OUT SRC... [-- EXTRA LDFLAGS]: compiled against /usr/include and -lmemkind.
build_theirs() {
    local out="$1"; shift
    "$CC" "${CFLAGS_COMMON[@]}" -DDIFF_SIDE_THEIRS "$@" -o "$out" -lmemkind -lpthread
}

# build_ours OUT SRC...: compiled against include/ and linked with libmorselkind.so (rpath).
build_ours() {
    local out="$1"; shift
    "$CC" "${CFLAGS_COMMON[@]}" -DDIFF_SIDE_OURS -I "$ROOT/include" "$@" -o "$out" \
        -L "$REL" -lmorselkind -Wl,-rpath,"$REL" -lpthread
}

# new_pmem_dir NAME: an empty directory for PMEM kinds, on the disk filesystem.
new_pmem_dir() {
    local d="$WORK/pmem-$1"
    mkdir -p "$d"
    echo "$d"
}

# check_empty_dir DIR: nothing may be left in a PMEM directory.
check_empty_dir() {
    local left
    left=$(find "$1" -mindepth 1 | head -5)
    [[ -z "$left" ]] || die "PMEM directory $1 is not empty: $left"
}

# need_vm: the emulated machine of tests/vm, built if needed (tests/vm/build-vm.sh); skips,
# saying why, where it cannot be built here, and fails where the build script itself fails.
need_vm() {
    local out rc
    out=$(bash "$ROOT/tests/vm/build-vm.sh" 2>&1); rc=$?
    case $rc in
        0) ;;
        77) skip "the VM cannot be built here: $(echo "$out" | tail -1)" ;;
        *) echo "$out" | tail -20; die "tests/vm/build-vm.sh failed with status $rc" ;;
    esac
}

# run_vm DIR ARGS...: one boot, tests/vm/run-in-vm.sh ARGS run from DIR; the guest's output goes
# to $VM_OUT, the VM's log to $WORK/vm.stderr and the guest's exit status to $VM_RC. Skips when
# the guest did not boot; fails when it booted but never reported an exit status.
run_vm() {
    local dir="$1"; shift
    VM_OUT=$(cd "$dir" && bash "$ROOT/tests/vm/run-in-vm.sh" "$@" 2>"$WORK/vm.stderr")
    VM_RC=$?
    if [ "$VM_RC" = 125 ]; then
        tail -20 "$WORK/vm.stderr"
        grep -q 'did not boot far enough' "$WORK/vm.stderr" && skip "the VM did not boot: $(tail -1 "$WORK/vm.stderr")"
        die "the guest booted but never reported an exit status: $(tail -1 "$WORK/vm.stderr")"
    fi
}
