#!/bin/bash
# Installs what a clean machine lacks for the tests and benchmarks: the system memkind (the
# reference we compare against), numactl, libnuma, pkg-config, g++, and sqlite3 and python3 (the
# programs of the tiering suite); for the benchmarks only, the system libjemalloc (the plain
# jemalloc baseline of benches/run.sh) and valgrind (callgrind instruction counts).
# Idempotent; needs root.
set -euo pipefail
PKGS="libmemkind-dev libmemkind-progs numactl libnuma-dev pkg-config g++ make sqlite3 python3"
BENCH_PKGS="libjemalloc2 valgrind"
export DEBIAN_FRONTEND=noninteractive
if ! dpkg -s $PKGS >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq $PKGS >/dev/null
fi
# The benchmarks' packages must not fail the tests: where apt cannot install them (a machine
# whose package state is broken by something else), each is fetched and unpacked alone, and
# what still fails is named.
for p in $BENCH_PKGS; do
    dpkg -s "$p" >/dev/null 2>&1 && continue
    if ! apt-get install -y -qq --no-install-recommends "$p" >/dev/null 2>&1; then
        d=$(mktemp -d)
        if ! (cd "$d" && apt-get download -qq "$p" >/dev/null 2>&1 && dpkg -i ./*.deb >/dev/null 2>&1); then
            echo "deps.sh: WARNING: could not install $p (needed by the benchmarks only)" >&2
        fi
        rm -rf "$d"
    fi
done
