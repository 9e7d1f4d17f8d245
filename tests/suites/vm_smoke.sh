#!/bin/bash
# The emulated heterogeneous machine boots and memkind gives its known answers there.
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export ROOT
out=$(bash "$ROOT/tests/vm/smoke.sh" 2>&1); rc=$?
echo "$out" | tail -20
if echo "$out" | grep -q "^SKIP: vm:"; then exit 77; fi
exit $rc
