#!/bin/bash
# Every constant, type and prototype of our headers equals memkind 1.14's (diffed live).
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export ROOT
exec bash "$ROOT/tests/abi_constants.sh"
