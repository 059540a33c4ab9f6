#!/usr/bin/env bash
# The README's first command: runs zrepl4j's main job on this machine.
# For now (issue 2) that is a demonstration of the RPC layer over TCP on 127.0.0.1; it becomes a
# real push/sink replication between zfs-fuse pools on files with the daemon issue.
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
. "$here/scripts/env.sh"
"$here/zrepl4j" version
exec "$here/zrepl4j" demo "$@"
