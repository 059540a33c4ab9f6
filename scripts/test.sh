#!/usr/bin/env bash
# The README's test command: installs what the tests need, starts real ZFS (zfs-fuse on files and
# the OpenZFS 2.x guest), then runs every unit and integration test with Maven.
# Environment: CI=true (set by CI) makes missing infrastructure fatal instead of a loud warning.
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
cd "$here"
. scripts/env.sh
echo "test.sh: JDK $JAVA_HOME"

# --- real ZFS, generation 1: zfs-fuse pools on sparse files (every run) -----------------------
# (scripts/zfs-fuse.sh exports nothing; integration tests create and destroy their own pools)
scripts/zfs-fuse.sh up
# --- sshd for the ssh+stdinserver integration test (it starts its own on 127.0.0.1) ------------
[ -x /usr/sbin/sshd ] || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server) >/dev/null
# --- rsyslogd for the syslog log outlet test (LogOutletsIT starts its own with its own config,
# socket and output file in a temporary directory; the system's syslog is neither needed nor touched)
[ -x /usr/sbin/rsyslogd ] || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rsyslog) >/dev/null
# --- libfaketime for the fault harness's clock jumps (FaultHarnessIT moves a daemon's wall clock)
[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 ] ||
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libfaketime) >/dev/null
# --- PostgreSQL and MariaDB for the database hook tests (DatabaseHooksIT starts its own servers on
# 127.0.0.1 in temporary directories; the packages' own services are neither needed nor touched)
{ compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && [ -x /usr/sbin/mariadbd ]; } ||
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql mariadb-server) >/dev/null
# --- tmux: the live `zrepl4j status` view runs in a real terminal (StatusViewIT, its own server)
command -v tmux >/dev/null ||
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tmux) >/dev/null

# --- the package test (PackageIT builds the .deb, installs it with dpkg -i, runs
# `systemd-analyze verify` on its unit and `man zrepl4j`; PID 1 need not be systemd)
{ command -v systemd-analyze >/dev/null && command -v man >/dev/null; } ||
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd man-db) >/dev/null

# --- Prometheus for the monitoring tests (PrometheusIT starts its own server on 127.0.0.1 with its
# own config and storage in a temporary directory, and runs promtool on examples/prometheus-alerts.yml)
{ [ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ]; } ||
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus) >/dev/null

# --- syncoid (Debian's sanoid): what bench/run peers compares zrepl4j with (its smoke pass below)
command -v syncoid >/dev/null ||
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends sanoid) >/dev/null

# --- real ZFS, generation 2: OpenZFS 2.x in a qemu guest (every run; image cached) -------------
scripts/zfs-guest.sh start
# in CI, power the guest off at the end; developers keep it running for the next run
if [ "${CI:-}" = true ]; then trap 'scripts/zfs-guest.sh stop || true' EXIT; fi
guest_env=$(scripts/zfs-guest.sh env)   # (an assignment, so that set -e sees a failure)
eval "$guest_env"

# --- all tests: unit (surefire), integration on real ZFS (failsafe), formatting and static checks
mvn -B verify "$@"

# --- benchmarks: a short smoke pass so they cannot rot (figures are not checked here) ----------
bench/run --smoke all
