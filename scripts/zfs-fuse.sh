#!/usr/bin/env bash
# Real ZFS for the integration tests, without a kernel module: zfs-fuse (pool version 23).
# Adapted from ../shared/zfs/zfs-fuse-pools.sh. Needs root and /dev/fuse. Creates no pools: every
# integration test creates (and destroys) its own pool on a sparse file (see FusePools.java).
#
#   scripts/zfs-fuse.sh up       install zfs-fuse if missing, start its daemon if not running, wait
#                                until `zpool list` answers
#   scripts/zfs-fuse.sh down     destroy pools left over by tests (zrepl4j-it-*) and their files
#                                (the daemon stays running)
#   scripts/zfs-fuse.sh status   daemon and pools
#
# What zfs-fuse lacks compared with OpenZFS 2.x: `zfs list -p` (read numbers with `zfs get -Hp`),
# bookmarks, resumable send/recv, send -w/-c/-L/-e/-n, recv -s/-A/-o/-x, multi-snapshot
# `zfs snapshot a@x b@x`, comma-destroy, `zfs holds` (read the `userrefs` property instead).
set -euo pipefail

cmd=${1:-status}
it_dir=/var/tmp/zrepl4j-it

daemon_running() { pgrep -x zfs-fuse >/dev/null 2>&1; }

ensure_daemon() {
  if ! command -v zfs-fuse >/dev/null 2>&1; then
    echo "zfs-fuse.sh: installing zfs-fuse" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zfs-fuse) >&2
  fi
  [ -e /dev/fuse ] || { echo "zfs-fuse.sh: /dev/fuse missing" >&2; exit 1; }
  if ! daemon_running; then
    echo "zfs-fuse.sh: starting zfs-fuse daemon" >&2
    # A machine restored from an image (or a daemon killed hard) leaves the pidfile, the control
    # socket and the lock behind; zfs-fuse then exits 1 without a word. No daemon runs (checked
    # above), so they are stale: remove them.
    rm -f /var/run/zfs-fuse.pid /var/run/zfs/zfs_socket /var/lock/zfs/zfs_lock
    mkdir -p /var/run/zfs /var/lock/zfs
    if ! zfs-fuse --pidfile /var/run/zfs-fuse.pid; then
      echo "zfs-fuse.sh: zfs-fuse failed to start (exit $?); /var/log/syslog or 'zfs-fuse -n' shows why" >&2
      exit 1
    fi
  fi
  for _ in $(seq 1 100); do zpool list >/dev/null 2>&1 && break; sleep 0.2; done
  zpool list >/dev/null 2>&1 || { echo "zfs-fuse.sh: zfs-fuse daemon does not answer" >&2; exit 1; }
  echo "zfs-fuse.sh: zfs-fuse up" >&2
}

case "$cmd" in
  up) ensure_daemon ;;
  down)
    if daemon_running; then
      for p in $(zpool list -H -o name 2>/dev/null | grep '^zrepl4j-it-' || true); do
        zpool destroy -f "$p" || true
      done
    fi
    rm -rf "$it_dir"
    ;;
  status)
    if daemon_running; then echo "zfs-fuse: running"; zpool list; else echo "zfs-fuse: not running"; fi
    ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
