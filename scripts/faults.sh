#!/usr/bin/env bash
# The fault-injection campaign of issue 13 (daemon/src/test/.../FaultHarness.java) by hand:
# real push and sink daemons on zfs-fuse pools, one fault per iteration, invariants checked after
# each. Prints per fault a line and at the end the figures (faults.injected/survived/failed, per
# kind, the seed, and for each failure the command that replays it); also in daemon/target/faults.txt.
#
#   scripts/faults.sh [--iterations N] [--seed S] [--long-stalls] [--kinds K1,K2] [--minutes M]
#                     [--lanes L]   (L harnesses side by side, each its own pools and daemons)
#   scripts/faults.sh --replay ITERATION_SEED --kind KIND      # one printed iteration alone
#
# CI runs the short pass (20 faults, every kind twice, a fixed seed) as FaultHarnessIT within
# `mvn verify`; here the seed is drawn at random unless --seed is given.
# Needs zfs-fuse (scripts/zfs-fuse.sh up) and libfaketime (the clock jumps).
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
cd "$here"
. scripts/env.sh >/dev/null
props=("-Dfaults.seed=$(od -An -N7 -tu8 /dev/urandom | tr -d ' ')")
while [ $# -gt 0 ]; do
  case "$1" in
    --iterations) props+=("-Dfaults.iterations=$2"); shift 2 ;;
    --seed) props+=("-Dfaults.seed=$2"); shift 2 ;;
    --long-stalls) props+=("-Dfaults.longStalls=true"); shift ;;
    --kinds) props+=("-Dfaults.kinds=$2"); shift 2 ;;
    --minutes) props+=("-Dfaults.minutes=$2"); shift 2 ;;
    --lanes) props+=("-Dfaults.lanes=$2"); shift 2 ;;
    --replay) props+=("-Dfaults.replay=$2"); shift 2 ;;
    --kind) props+=("-Dfaults.kind=$2"); shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "faults.sh: unknown argument $1 (--help)" >&2; exit 2 ;;
  esac
done
scripts/zfs-fuse.sh up >/dev/null
[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 ] ||
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libfaketime) >/dev/null
mkdir -p daemon/target
rm -f daemon/target/faults.txt
status=0
mvn -B -pl daemon -am verify -Djacoco.skip=true -Dtest=NONE -Dsurefire.failIfNoSpecifiedTests=false \
  -Dit.test=FaultHarnessIT -Dfailsafe.failIfNoSpecifiedTests=false ${props[@]+"${props[@]}"} \
  >daemon/target/faults-mvn.log 2>&1 || status=$?
if [ -s daemon/target/faults.txt ]; then
  cat daemon/target/faults.txt
else
  tail -60 daemon/target/faults-mvn.log
fi
echo "(maven output: daemon/target/faults-mvn.log)"
exit $status
