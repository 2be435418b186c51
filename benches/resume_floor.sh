#!/usr/bin/env bash
# Issue 11's resume floor: CartPole killed with SIGKILL at 60 s, 45 s, 75 s into each life,
# resumed with --resume each time; the last life runs 8 minutes; then 20 greedy episodes.
set -u
cd "$(dirname "$0")/.."
#     PYTHON=.venv/bin/python benches/resume_floor.sh /tmp/resume_run   # about 11 minutes
D=${1:-/tmp/resume_run}
if [ -e "$D" ]; then echo "$D exists; give a new run directory" >&2; exit 2; fi
M="${PYTHON:-python} -m mzero"
life() {  # life N SECONDS ARGS...
  local n=$1 secs=$2; shift 2
  setsid $M train "$@" --no-progress > "$D.life$n.log" 2>&1 &
  local pid=$!
  sleep "$secs"
  kill -9 -- -"$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  echo "life $n killed after $secs s; latest snapshot: $(ls "$D/snapshots" | tail -1)"
}
life 1 60 cartpole --seed 0 --run-dir "$D" --max-minutes 30
life 2 45 --resume "$D"
life 3 75 --resume "$D"
echo "life 4: 8 minutes"
$M train --resume "$D" --max-minutes 8 --no-progress > "$D.life4.log" 2>&1
echo "life 4 exit $?"
$M eval "$D" --episodes 20 --seed 4242
