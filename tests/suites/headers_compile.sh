#!/bin/bash
# Our C and C++ headers compile cleanly in every language standard we support.
exec bash "$ROOT/tests/cxx/headers_compile.sh"
