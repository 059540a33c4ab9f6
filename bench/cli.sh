#!/usr/bin/env bash
# The `cli` suite of bench/run: start-up cost of a short command against a running daemon.
# Starts a daemon (one snap job on a zfs-fuse pool made here, its control socket in a temporary
# directory), then runs `zrepl4j status --json` N times per variant and prints, per variant,
#   cli.status.<variant>.wall  median wall time of one run, ms
#   cli.status.<variant>.cpu   mean user+sys CPU time of one run (the child's, from bash's
#                              `times`, i.e. getrusage(RUSAGE_CHILDREN)), ms
# Variants: jar (the repository launcher's `java -jar daemon/target/zrepl4j.jar`, default JVM
# options), jar.cliflags (plus the package's options for short commands: C1 only, serial GC),
# jar.aot (plus an AOT cache trained here on the shaded jar), and, when packaging/build has made
# zrepl4j-*-linux-amd64.tar.gz (target/package, or PackageIT's), package (its /usr/bin/zrepl4j: jlink runtime,
# separate jars, the AOT cache built into it) and package.noaot (the same, -XX:AOTMode=off).
# Also cli.daemon.rss (VmRSS of the idle daemon, started with the package's daemon options,
# MiB). Usage: bench/cli.sh [--smoke]  (--smoke: 2 runs per variant; otherwise 20).
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
. "$here/scripts/env.sh"
runs=20
[ "${1:-}" = --smoke ] && runs=2
"$here/zrepl4j" version --show client >/dev/null # builds the jar if it is missing or stale (no daemon runs yet)
jar="$here/daemon/target/zrepl4j.jar"
"$here/scripts/zfs-fuse.sh" up >/dev/null 2>&1

tmp=$(mktemp -d /var/tmp/zrepl4j-bench-cli.XXXXXX)
pool="zrepl4j-it-benchcli-$(basename "$tmp" | cut -d. -f2 | tr 'A-Z' 'a-z')"
dpid=
cleanup() {
  local rc=$?
  # (set -e holds in a trap too: the daemon's exit status 143 from `wait` ended the script there,
  # with status 143 and the pool left behind)
  if [ -n "$dpid" ]; then
    kill "$dpid" 2>/dev/null || true
    wait "$dpid" 2>/dev/null || true
  fi
  # zfs-fuse may call the pool busy for a moment after its daemon exited
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    zpool list -H -o name "$pool" >/dev/null 2>&1 || break
    zpool destroy -f "$pool" 2>/dev/null || sleep 1
  done
  rm -rf "$tmp" 2>/dev/null || true
  exit "$rc"
}
trap cleanup EXIT
truncate -s 128M "$tmp/pool.img"
zpool create -m "$tmp/mnt" "$pool" "$tmp/pool.img" 2>/dev/null
zfs create "$pool/data"
mkdir -m 700 "$tmp/run"
cat > "$tmp/zrepl.yml" <<YML
global:
  logging: [{type: stdout, level: warn, format: human}]
  control: {sockpath: $tmp/run/control}
  serve: {stdinserver: {sockdir: $tmp/run/stdinserver}}
jobs:
  - name: snap
    type: snap
    filesystems: {"$pool/data<": true}
    snapshotting: {type: periodic, prefix: zrepl_, interval: 10m}
    pruning:
      keep: [{type: last_n, count: 10}]
YML

# the newest tarball of packaging/build (by hand: target/package; PackageIT: daemon/target/package-it)
tgz=$(ls -t "$here"/target/package/zrepl4j-*-linux-amd64.tar.gz "$here"/daemon/target/package-it/zrepl4j-*-linux-amd64.tar.gz 2>/dev/null | head -1 || true)
pkg=
if [ -n "$tgz" ]; then
  tar -xzf "$tgz" -C "$tmp"
  pkg=$(ls -d "$tmp"/zrepl4j-*/usr/bin/zrepl4j | head -1)
fi
# the daemon: the package's launcher (its daemon options) when there is one, else the jar
# with the same options
daemon_opts="-XX:+UseSerialGC -Xms16m -Xmx128m -XX:MinHeapFreeRatio=10 -XX:MaxHeapFreeRatio=30 -XX:TrimNativeHeapInterval=60000 -XX:MaxMetaspaceSize=128m -XX:ReservedCodeCacheSize=64m -XX:MaxDirectMemorySize=128m"
if [ -n "$pkg" ]; then
  "$pkg" daemon --config "$tmp/zrepl.yml" > "$tmp/daemon.log" 2>&1 &
else
  # shellcheck disable=SC2086
  "$JAVA_HOME/bin/java" $daemon_opts -jar "$jar" daemon --config "$tmp/zrepl.yml" > "$tmp/daemon.log" 2>&1 &
fi
dpid=$!
for _ in $(seq 600); do [ -S "$tmp/run/control" ] && break; sleep 0.1; done
[ -S "$tmp/run/control" ] || { cat "$tmp/daemon.log" >&2; echo "bench/cli.sh: daemon did not start" >&2; exit 1; }

cliflags="-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xmx256m --enable-native-access=ALL-UNNAMED"
# an AOT cache for the shaded jar (one training run)
# shellcheck disable=SC2086
"$JAVA_HOME/bin/java" $cliflags -XX:AOTCacheOutput="$tmp/jar.aot" -jar "$jar" status --json --config "$tmp/zrepl.yml" \
  > /dev/null 2> "$tmp/aot.log" || { cat "$tmp/aot.log" >&2; exit 1; }

# measure NAME CMD...: runs CMD $runs times (after one warm-up run: page cache), prints the figures
measure() {
  local name=$1; shift
  "$@" > /dev/null || { echo "bench/cli.sh: $name: $* failed" >&2; exit 1; }
  local walls=() t0 t1 c0 c1
  child_cpu_ms > "$tmp/c0"
  for _ in $(seq "$runs"); do
    t0=$(date +%s%N)
    "$@" > "$tmp/out.json"
    t1=$(date +%s%N)
    walls+=($(( (t1 - t0) / 1000000 )))
  done
  child_cpu_ms > "$tmp/c1"
  c0=$(cat "$tmp/c0") c1=$(cat "$tmp/c1")
  grep -q '"jobs"' "$tmp/out.json" || { echo "bench/cli.sh: $name printed no status" >&2; exit 1; }
  local median
  median=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}')
  echo "cli.status.$name.wall $median ms"
  echo "cli.status.$name.cpu $(( (c1 - c0) / runs )) ms"
}
# user+sys of all waited-for children so far, in ms (bash's `times`: second line, children)
child_cpu_ms() {
  times > "$tmp/times" # (not in a pipe: a subshell would report its own children)
  tail -1 "$tmp/times" | awk '{
    split($1, u, "m"); split($2, s, "m");
    sub("s", "", u[2]); sub("s", "", s[2]);
    printf "%d\n", (u[1] * 60 + u[2] + s[1] * 60 + s[2]) * 1000 }'
}

status=(status --json --config "$tmp/zrepl.yml")
measure jar "$JAVA_HOME/bin/java" -jar "$jar" "${status[@]}"
# shellcheck disable=SC2086
measure jar.cliflags "$JAVA_HOME/bin/java" $cliflags -jar "$jar" "${status[@]}"
# shellcheck disable=SC2086
measure jar.aot "$JAVA_HOME/bin/java" $cliflags -XX:AOTCache="$tmp/jar.aot" -jar "$jar" "${status[@]}"
if [ -n "$pkg" ]; then
  measure package "$pkg" "${status[@]}"
  ZREPL4J_JAVA_OPTS=-XX:AOTMode=off measure package.noaot "$pkg" "${status[@]}"
fi
echo "cli.daemon.rss $(( $(awk '/^VmRSS/ {print $2}' "/proc/$dpid/status") / 1024 )) MiB"
