#!/bin/bash
# Installs what a clean machine lacks for the tests and benchmarks: the system memkind (the
# reference we compare against), numactl, libnuma, pkg-config, g++, and sqlite3 and python3 (the
# programs of the tiering suite). Idempotent; needs root.
set -euo pipefail
PKGS="libmemkind-dev libmemkind-progs numactl libnuma-dev pkg-config g++ make sqlite3 python3"
if dpkg -s $PKGS >/dev/null 2>&1; then exit 0; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq $PKGS >/dev/null
