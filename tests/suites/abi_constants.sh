#!/bin/bash
# Every constant, type and prototype of our headers equals memkind 1.14's (diffed live).
exec bash "$ROOT/tests/abi_constants.sh"
