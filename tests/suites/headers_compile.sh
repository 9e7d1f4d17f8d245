#!/bin/bash
# Our C and C++ headers compile cleanly in every language standard we support.
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export ROOT
exec bash "$ROOT/tests/cxx/headers_compile.sh"
