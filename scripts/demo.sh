#!/usr/bin/env bash
# The README's first command: runs zrepl4j's main job for real on this machine.
#   - installs/starts zfs-fuse (scripts/zfs-fuse.sh) and makes two pools on sparse files:
#     zrepl4j-demo-prod (a small dataset tree with files) and zrepl4j-demo-backup
#   - starts a sink daemon and a push daemon on 127.0.0.1 (TCP), each with a zrepl-format config
#     (examples/demo-sink.yml and examples/demo-push.yml, paths filled in)
#   - waits for the push job's first run (snapshot + replication + pruning), changes a file,
#     takes another snapshot and runs `zrepl4j signal wakeup push` for an incremental
#   - shows the received tree, the files compared, and `zrepl4j status`
#   - stops both daemons (SIGTERM) and destroys the demo pools (keep them with --keep)
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
. "$here/scripts/env.sh"
keep=false; [ "${1:-}" = --keep ] && keep=true

"$here/scripts/zfs-fuse.sh" up
"$here/zrepl4j" version --show client

work=/var/tmp/zrepl4j-demo
prod=zrepl4j-demo-prod
backup=zrepl4j-demo-backup
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "$keep" = false ]; then
    for pool in $prod $backup; do zpool destroy -f $pool 2>/dev/null || true; done
    rm -rf "$work"
  fi
}
trap cleanup EXIT

# a fresh start: old demo pools and files go
for pool in $prod $backup; do zpool destroy -f $pool 2>/dev/null || true; done
rm -rf "$work"; mkdir -p "$work"; chmod 700 "$work"
for pool in $prod $backup; do
  truncate -s 512M "$work/$pool.img"
  zpool create -m "$work/mnt/$pool" $pool "$work/$pool.img"
done
zfs create $prod/home; zfs create $prod/home/alice; zfs create $prod/home/bob; zfs create $prod/scratch
zfs create $backup/sink
head -c 3000000 /dev/urandom > "$work/mnt/$prod/home/alice/thesis.pdf"
head -c 1000000 /dev/urandom > "$work/mnt/$prod/home/bob/photos.tar"
echo "hello from zrepl4j" > "$work/mnt/$prod/home/README"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -e "s|@WORK@|$work|g" -e "s|@PORT@|$port|g" -e "s|@PROD@|$prod|g" -e "s|@BACKUP@|$backup|g" \
  "$here/examples/demo-sink.yml" > "$work/sink.yml"
sed -e "s|@WORK@|$work|g" -e "s|@PORT@|$port|g" -e "s|@PROD@|$prod|g" -e "s|@BACKUP@|$backup|g" \
  "$here/examples/demo-push.yml" > "$work/push.yml"

echo; echo "== configcheck"
"$here/zrepl4j" configcheck --config "$work/sink.yml"
"$here/zrepl4j" configcheck --config "$work/push.yml"

echo; echo "== starting the sink and the push daemon (logs: $work/*.log)"
"$here/zrepl4j" daemon --config "$work/sink.yml" > "$work/sink.log" 2>&1 & pids+=($!)
"$here/zrepl4j" daemon --config "$work/push.yml" > "$work/push.log" 2>&1 & pids+=($!)

runs() { "$here/zrepl4j" status --json --job push --config "$work/push.yml" 2>/dev/null \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["jobs"][0]["runs"])' 2>/dev/null || echo 0; }
wait_runs() {
  for _ in $(seq 1 120); do [ "$(runs)" -ge "$1" ] && return 0; sleep 1; done
  echo "demo: the push job did not finish run $1; logs:" >&2; tail -n 30 "$work"/*.log >&2; exit 1
}
wait_runs 1
echo "first run done (full replication)"

echo; echo "== a change, a snapshot, signal wakeup (incremental)"
echo "second draft" >> "$work/mnt/$prod/home/alice/notes.txt"
zfs snapshot -r $prod/home@zrepl_demo_$(date -u +%Y%m%d_%H%M%S)
"$here/zrepl4j" signal wakeup push --config "$work/push.yml"
wait_runs 2

echo; echo "== on the backup pool"
zfs list -r -o name,used $backup/sink
echo "placeholders (parents created so the tree has its shape; not data):"
"$here/zrepl4j" test placeholder --all | grep -E "^IS_|$backup"
zfs list -t snapshot -r -o name,userrefs $backup/sink | head -n 20

echo; echo "== files compared"
ok=true
for fs in home home/alice home/bob; do
  dst=$backup/sink/demo-client/$prod/$fs
  zfs set readonly=on "$dst"; zfs set mountpoint="$work/check/$fs" "$dst"
  zfs mount "$dst" 2>/dev/null || true
  if diff -r -x .zfs "$work/mnt/$prod/$fs" "$work/check/$fs" >/dev/null; then echo "  $fs: identical"
  else echo "  $fs: DIFFERENT"; ok=false; fi
  zfs umount "$dst" || true
done

echo; echo "== zrepl4j status (push daemon)"
"$here/zrepl4j" status --config "$work/push.yml"
echo; echo "== zrepl4j prune --job push --dry-run"
"$here/zrepl4j" prune --job push --dry-run --config "$work/push.yml"
[ "$ok" = true ] || { echo "demo: replicated files differ" >&2; exit 1; }
echo; echo "demo: done"
