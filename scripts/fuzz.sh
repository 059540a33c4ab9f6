#!/usr/bin/env bash
# The long fuzzing run: every parser that takes outside input, fuzzed coverage-guided by Jazzer for
# SECONDS each (default 60), one JVM after the other, niced. Prints, per parser:
#   fuzz.<parser>.inputs N      inputs tried (corpus replay included)
#   fuzz.<parser>.failures N    inputs that broke the property (Jazzer stops at the first)
# Parsers: frame, header-json, pem (rpc); zfs-list, zfs-get, resume-token (zfs); config (daemon).
# A failing input is saved next to the corpus (src/test/resources/.../<Test>Inputs/<method>/crash-*)
# and then replays as a regression test in every `mvn verify`.
# The corpus Jazzer grows is kept in <module>/.cifuzz-corpus (not committed) for the next run.
# Usage: scripts/fuzz.sh [SECONDS] [TEST-PATTERN]    e.g. scripts/fuzz.sh 300 FrameFuzzTest
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
cd "$here"
. scripts/env.sh
secs=${1:-60}
pattern=${2:-*FuzzTest}
case $secs in '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS] [TEST-PATTERN]" >&2; exit 2 ;; esac
rm -rf rpc/target/fuzz zfs/target/fuzz daemon/target/fuzz
mkdir -p target
log=target/fuzz.log
echo "fuzz.sh: ${secs}s per parser ($pattern), log in $log" >&2
start=$(date +%s)
status=0
nice -n 10 mvn -B -pl rpc,zfs,daemon -am test -Dfuzz.seconds="$secs" -Dtest="$pattern" \
  -Dsurefire.failIfNoSpecifiedTests=false -Dmaven.test.failure.ignore=true >"$log" 2>&1 || status=$?
cat rpc/target/fuzz/*.txt zfs/target/fuzz/*.txt daemon/target/fuzz/*.txt 2>/dev/null || true
echo "fuzz.seconds $(($(date +%s) - start))"
if [ "$status" -ne 0 ]; then
  echo "fuzz.sh: maven failed (exit $status), see $log" >&2
  exit "$status"
fi
if grep -h '\.failures ' rpc/target/fuzz/*.txt zfs/target/fuzz/*.txt daemon/target/fuzz/*.txt 2>/dev/null | grep -vq ' 0$'; then
  echo "fuzz.sh: some parser failed the property; the input is in its corpus directory as crash-*" >&2
  grep -h 'FuzzTestFinding\|AssertionError: fuzz\.' "$log" | sort -u >&2 || true
  exit 1
fi
