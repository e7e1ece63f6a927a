#!/usr/bin/env bash
# Waits until the machine is quiet (1-minute load average below MAX_LOAD, default 2.0, on two polls
# 30 s apart), then runs bench/hardware/run.sh with the given part. Gives up after MAX_WAIT seconds
# (default 7200) and runs anyway, noting it. Latency results are only comparable on a quiet machine.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
part="${1:-lut}"
max_load="${MAX_LOAD:-2.0}"
max_wait="${MAX_WAIT:-7200}"
start=$(date +%s); calm=0
while :; do
  l=$(cut -d' ' -f1 /proc/loadavg)
  if awk -v l="$l" -v m="$max_load" 'BEGIN{exit !(l < m)}'; then calm=$((calm + 1)); else calm=0; fi
  [ "$calm" -ge 2 ] && { echo "quiet (load $l) after $(( $(date +%s) - start )) s"; break; }
  [ $(( $(date +%s) - start )) -ge "$max_wait" ] && { echo "not quiet after ${max_wait} s (load $l): running anyway"; break; }
  sleep 30
done
exec "$here/run.sh" "$part"
