#!/usr/bin/env bash
# Start a real single-node SLURM on this machine for the launcher's tests and CI
# (`make slurm-up`). Installs Debian's slurm-wlm and munge when they are missing,
# writes /etc/slurm/slurm.conf for this machine (CPUs from nproc, memory from
# /proc/meminfo less headroom), starts munged, slurmctld and slurmd, and waits
# until sinfo shows the node idle. Idempotent: when the node already answers,
# it returns at once.
#
# It never touches a slurm.conf that it did not write: on a real cluster it stops
# with a message instead.
set -euo pipefail

MARKER="# Written by ance-bundle scripts/slurm/up.sh"
CONF_DIR=/etc/slurm
CONF="$CONF_DIR/slurm.conf"
LOG_DIR=/var/log/slurm
STATE_DIR=/var/spool/slurmctld
SPOOL_DIR=/var/spool/slurmd
RUN_DIR=/run/slurm
WAIT_SECONDS=${SLURM_UP_WAIT:-60}

say() { echo "slurm-up: $*"; }
die() { echo "slurm-up: error: $*" >&2; exit 1; }

node_state() {
    # The node's state as sinfo reports it ("idle", "mix", "alloc", "down*", ...), empty if no answer.
    timeout 10 sinfo --noheader --node="$NODE" --format=%T 2>/dev/null | head -n1 || true
}

node_ready() {
    case "$(node_state)" in
        idle | mixed | allocated | completing) return 0 ;;
        *) return 1 ;;
    esac
}

NODE=$(hostname -s)

# --- configuration -----------------------------------------------------------------
if [[ -f $CONF ]] && ! grep -qF "$MARKER" "$CONF"; then
    die "$CONF exists and was not written by this script; refusing to replace a real cluster's configuration"
fi

cpus=$(nproc)
mem_total_mb=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024))
# Headroom for the OS and the daemons: 10% of memory, at least 1 GiB.
headroom_mb=$((mem_total_mb / 10 > 1024 ? mem_total_mb / 10 : 1024))
node_mem_mb=$((mem_total_mb - headroom_mb))

new_conf=$(
    cat <<EOF
$MARKER: a single-node cluster for tests and CI.
ClusterName=ance-local
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# cred_expire also delays a requeued job's restart (default 120 s); tests requeue on purpose.
AuthInfo=cred_expire=10
CredType=cred/munge
MpiDefault=none
# Containers without systemd/cgroup delegation: track processes by parent pid, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
# No slurmdbd: sacct has nothing to read; finished jobs are written to a text file instead.
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$LOG_DIR/jobcomp.log
SchedulerType=sched/backfill
# Look for startable jobs every 5 s (defaults: 60 s main loop, 30 s backfill), so requeued jobs restart promptly.
SchedulerParameters=sched_interval=5,bf_interval=5
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# A node that was down comes back as soon as slurmd registers again.
ReturnToService=2
# Seconds between SIGTERM and SIGKILL when a job is cancelled or hits its limit.
KillWait=10
StateSaveLocation=$STATE_DIR
SlurmdSpoolDir=$SPOOL_DIR
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$node_mem_mb State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
)

# --- quick path: already running with this configuration ------------------------------
if command -v sinfo >/dev/null 2>&1 && [[ -f $CONF ]] && [[ "$(cat "$CONF")" == "$new_conf" ]] && node_ready; then
    say "already running (node $NODE: $(node_state))"
    exit 0
fi

[[ $(id -u) -eq 0 ]] || die "needs root to install and start SLURM (run: sudo make slurm-up)"

# --- install -----------------------------------------------------------------------
missing=()
for binary in munged slurmctld slurmd sbatch; do
    command -v "$binary" >/dev/null 2>&1 || missing+=("$binary")
done
if ((${#missing[@]})); then
    command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get to install slurm-wlm and munge"
    say "installing slurm-wlm and munge (missing: ${missing[*]})"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

mkdir -p "$CONF_DIR" "$LOG_DIR" "$STATE_DIR" "$SPOOL_DIR" "$RUN_DIR"
conf_changed=0
if [[ ! -f $CONF ]] || [[ "$(cat "$CONF")" != "$new_conf" ]]; then
    printf '%s\n' "$new_conf" >"$CONF.tmp" && mv "$CONF.tmp" "$CONF"
    conf_changed=1
    say "wrote $CONF (node $NODE: $cpus CPUs, ${node_mem_mb} MB)"
fi

# --- daemons -------------------------------------------------------------------------
pid_alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_by_pidfile() {
    local pidfile=$1 pid
    pid_alive "$pidfile" || return 0
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
}

# munge: the package creates the key; a copied image may lack it.
if [[ ! -s /etc/munge/munge.key ]]; then
    mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
fi
mkdir -p /run/munge /var/lib/munge /var/log/munge
chown munge:munge /run/munge /var/lib/munge /var/log/munge
if ! pid_alive /run/munge/munged.pid; then
    say "starting munged"
    rm -f /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
    runuser -u munge -- munged
fi

if ((conf_changed)); then
    stop_by_pidfile "$RUN_DIR/slurmd.pid"
    stop_by_pidfile "$RUN_DIR/slurmctld.pid"
fi
if ! pid_alive "$RUN_DIR/slurmctld.pid"; then
    say "starting slurmctld"
    slurmctld
fi
if ! pid_alive "$RUN_DIR/slurmd.pid"; then
    say "starting slurmd"
    slurmd
fi

# --- wait until the node takes jobs --------------------------------------------------
deadline=$((SECONDS + WAIT_SECONDS))
resumed=0
until node_ready; do
    state=$(node_state)
    # A node left down/drained by an earlier run (e.g. the machine restarted under it).
    if [[ $resumed -eq 0 && $state =~ ^(down|drain|drained|draining) ]]; then
        scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true
        resumed=1
    fi
    if ((SECONDS >= deadline)); then
        echo "slurm-up: node $NODE not idle after ${WAIT_SECONDS}s (state: ${state:-no answer})" >&2
        tail -n 5 "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log" >&2 2>/dev/null || true
        exit 1
    fi
    sleep 1
done
say "ready (node $NODE: $(node_state))"
