#!/usr/bin/env bash
# The fault-injection campaign of issue 13 (daemon/src/test/.../FaultHarness.java) by hand:
# real push and sink daemons on zfs-fuse pools (or, with --guest, on the OpenZFS 2.3 guest: the
# daemons run the guest's zfs, the sender's tree is encrypted and sent raw, interrupted receives
# must be resumed), one fault per iteration, invariants checked after each. Prints per fault a line
# and at the end the figures (faults.injected/survived/failed, per kind, the seed, resumes on the
# guest, and for each failure the command that replays it); also in daemon/target/faults.txt
# (faults-guest.txt).
#
#   scripts/faults.sh [--guest] [--iterations N] [--seed S] [--long-stalls] [--kinds K1,K2] [--minutes M]
#                     [--lanes L]   (L harnesses side by side, each its own pools and daemons)
#   scripts/faults.sh [--guest] --replay ITERATION_SEED --kind KIND   # one printed iteration alone
#
# CI runs the short passes (20 faults on zfs-fuse, every kind twice; 10 on the guest, every kind
# once; fixed seeds) as FaultHarnessIT and FaultHarnessGuestIT within `mvn verify`; here the seed
# is drawn at random unless --seed is given.
# Needs zfs-fuse (scripts/zfs-fuse.sh up) and libfaketime (the clock jumps); --guest starts the
# guest if needed (scripts/zfs-guest.sh start) and runs under its lock, /tmp/zrepl4j-guest.lock
# (one guest test run at a time on this machine).
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
cd "$here"
. scripts/env.sh >/dev/null
props=("-Dfaults.seed=$(od -An -N7 -tu8 /dev/urandom | tr -d ' ')")
test=FaultHarnessIT
report=faults.txt
while [ $# -gt 0 ]; do
  case "$1" in
    --guest) test=FaultHarnessGuestIT; report=faults-guest.txt; shift ;;
    --iterations) props+=("-Dfaults.iterations=$2"); shift 2 ;;
    --seed) props+=("-Dfaults.seed=$2"); shift 2 ;;
    --long-stalls) props+=("-Dfaults.longStalls=true"); shift ;;
    --kinds) props+=("-Dfaults.kinds=$2"); shift 2 ;;
    --minutes) props+=("-Dfaults.minutes=$2"); shift 2 ;;
    --lanes) props+=("-Dfaults.lanes=$2"); shift 2 ;;
    --replay) props+=("-Dfaults.replay=$2"); shift 2 ;;
    --kind) props+=("-Dfaults.kind=$2"); shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "faults.sh: unknown argument $1 (--help)" >&2; exit 2 ;;
  esac
done
scripts/zfs-fuse.sh up >/dev/null
[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 ] ||
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libfaketime) >/dev/null
lock=()
mkdir -p daemon/target
if [ $test = FaultHarnessGuestIT ]; then
  # built first, outside the guest's lock (the locked run below then finds it up to date)
  mvn -B -q -pl daemon -am package -DskipTests -Djacoco.skip=true >daemon/target/faults-build.log 2>&1 ||
    { tail -40 daemon/target/faults-build.log; exit 1; }
  flock /tmp/zrepl4j-guest.lock scripts/zfs-guest.sh start >/dev/null
  guest_env=$(scripts/zfs-guest.sh env)
  eval "$guest_env"
  lock=(flock /tmp/zrepl4j-guest.lock)
fi
mkdir -p daemon/target
rm -f daemon/target/$report
status=0
${lock[@]+"${lock[@]}"} mvn -B -pl daemon -am verify -Djacoco.skip=true -Dtest=NONE -Dsurefire.failIfNoSpecifiedTests=false \
  -Dit.test=$test -Dfailsafe.failIfNoSpecifiedTests=false ${props[@]+"${props[@]}"} \
  >daemon/target/faults-mvn.log 2>&1 || status=$?
if [ -s daemon/target/$report ]; then
  cat daemon/target/$report
else
  tail -60 daemon/target/faults-mvn.log
fi
echo "(maven output: daemon/target/faults-mvn.log)"
exit $status
