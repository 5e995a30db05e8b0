#!/usr/bin/env bash
# Stop the single-node SLURM that scripts/slurm/up.sh started (`make slurm-down`).
# Stops only the daemons named by their pid files, and only when the configuration
# is the one up.sh wrote (never a real cluster's).
set -euo pipefail

MARKER="# Written by ance-bundle scripts/slurm/up.sh"
CONF=/etc/slurm/slurm.conf
RUN_DIR=/run/slurm

say() { echo "slurm-down: $*"; }

if [[ ! -f $CONF ]]; then
    say "no $CONF: nothing to stop"
    exit 0
fi
if ! grep -qF "$MARKER" "$CONF"; then
    echo "slurm-down: error: $CONF was not written by scripts/slurm/up.sh; not stopping a real cluster" >&2
    exit 1
fi

stop_by_pidfile() {
    local name=$1 pidfile=$2 pid
    if [[ ! -f $pidfile ]] || ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        say "$name not running"
        return 0
    fi
    pid=$(cat "$pidfile")
    kill "$pid"
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || { say "stopped $name (pid $pid)"; return 0; }
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    say "killed $name (pid $pid) after 10s"
}

stop_by_pidfile slurmd "$RUN_DIR/slurmd.pid"
stop_by_pidfile slurmctld "$RUN_DIR/slurmctld.pid"
stop_by_pidfile munged /run/munge/munged.pid
