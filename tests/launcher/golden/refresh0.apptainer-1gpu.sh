#!/bin/bash
#SBATCH --job-name=ance.refresh0.s0
#SBATCH --output="/scratch/u/runs/_jobs/20240101-000000-abcd/logs/refresh0.s0-%j.out"
#SBATCH --open-mode=append
#SBATCH --chdir="/home/u/ance-bundle"
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=8
#SBATCH --mem=128G
#SBATCH --time=12:00:00
#SBATCH --gres=gpu:a100:1
#SBATCH --partition=gpu
#SBATCH --account=proj-ir
#SBATCH --qos=normal
#SBATCH --constraint=a100|a40
#SBATCH --signal=B:USR1@300
#SBATCH --requeue
export ANCE_GPUS=1
# ance-launch job refresh0.s0: refresh 0 of seed 0 (encode and rank with the start checkpoint), shared by the strategies.
set -uo pipefail  # no -e: the exit status of the stage decides what happens next
export PYTHONUNBUFFERED=1
export ANCE_RUNS=/scratch/u/runs
# Compute nodes are offline: models come from the cache the pre-flight checked (ance_core.hub).
export HF_HUB_OFFLINE=1
ANCE_JOB_DIR=/scratch/u/runs/_jobs/20240101-000000-abcd
ANCE_JOB_KEY=refresh0.s0
ANCE_REQUEUE=1
ANCE_MAX_REQUEUES=20

ance_log() { printf '[%s] ance-launch: %s\n' "$(date '+%Y-%m-%d %H:%M:%S')" "$*" >&2; }

# Seconds since the epoch, with microseconds where bash has them (records order jobs by it).
ance_now() {
    if [[ -n ${EPOCHREALTIME:-} ]]; then printf '%s' "${EPOCHREALTIME/,/.}"; else date +%s; fi
}

# --- where this runs: SLURM, or `ance-launch --executor local` --------------------------
if [[ ${ANCE_EXECUTOR:-slurm} == local ]]; then
    ANCE_JOB_ID=${ANCE_JOB_ID:?the local executor sets ANCE_JOB_ID}
    ANCE_TASK=${ANCE_ARRAY_TASK_ID:-}
    ANCE_RESTARTS=${ANCE_RESTART_COUNT:-0}
else
    ANCE_EXECUTOR=slurm
    ANCE_JOB_ID=${SLURM_JOB_ID:?not inside a SLURM job: submit with sbatch or run ance-launch submit --executor local}
    ANCE_TASK=${SLURM_ARRAY_TASK_ID:-}
    ANCE_RESTARTS=${SLURM_RESTART_COUNT:-0}
fi
ANCE_RECORD=$ANCE_JOB_DIR/records/$ANCE_JOB_KEY${ANCE_TASK:+_$ANCE_TASK}.json
ANCE_STARTED=$(ance_now)

# --- job record: start, end, exit code, host; `ance-launch status` reads it after SLURM forgets the job
ance_json_string() {
    local s=${1//\\/\\\\}
    s=${s//\"/\\\"}
    s=${s//$'\n'/\\n}
    s=${s//$'\r'/\\r}
    s=${s//$'\t'/\\t}
    printf '"%s"' "$s"
}
ance_json_number() {
    if [[ $1 =~ ^[0-9]+(\.[0-9]+)?$ ]]; then printf '%s' "$1"; else printf 'null'; fi
}
ance_record() {  # STATE EXIT_CODE|null END|null; written to a temp file and renamed (atomic)
    local tmp=$ANCE_RECORD.$$.tmp
    mkdir -p "${ANCE_RECORD%/*}" 2>/dev/null
    {
        printf '{"key": %s, "job_id": %s, "array_task": %s, "executor": %s, "state": %s, "exit_code": %s, ' \
            "$(ance_json_string "$ANCE_JOB_KEY")" "$(ance_json_string "$ANCE_JOB_ID")" \
            "$(ance_json_number "$ANCE_TASK")" "$(ance_json_string "$ANCE_EXECUTOR")" \
            "$(ance_json_string "$1")" "$(ance_json_number "$2")"
        printf '"host": %s, "pid": %s, "restart_count": %s, "start": %s, "end": %s}\n' \
            "$(ance_json_string "$(hostname)")" "$$" "$(ance_json_number "$ANCE_RESTARTS")" \
            "$(ance_json_number "$ANCE_STARTED")" "$(ance_json_number "$3")"
    } >"$tmp" && mv -f "$tmp" "$ANCE_RECORD" || ance_log "could not write the job record $ANCE_RECORD"
}

# --- signals: USR1 = checkpoint soon (time limit, preemption); TERM = stop now (scancel) ----
ance_pids=()
ance_sigs=()     # the signal that asks each process to checkpoint
ance_signalled=0
ance_terminated=0
ance_traps=0     # counts trap runs, so ance_wait can tell an interrupted wait from an exit
ance_forward() {
    local i
    for i in "${!ance_pids[@]}"; do
        kill -s "${1:-${ance_sigs[$i]}}" "${ance_pids[$i]}" 2>/dev/null
    done
}
ance_on_usr1() {
    ance_traps=$((ance_traps + 1))
    ance_signalled=1
    ance_log "USR1: asking the stage to checkpoint"
    ance_forward
}
ance_on_term() {
    ance_traps=$((ance_traps + 1))
    ance_terminated=1
    ance_log "TERM: stopping the stage"
    ance_forward TERM
}
trap ance_on_usr1 USR1
trap ance_on_term TERM

ance_start() {  # SIGNAL COMMAND...: run COMMAND in the background; SIGNAL asks it to checkpoint
    local signal=$1
    shift
    "$@" &
    ance_pids+=("$!")
    ance_sigs+=("$signal")
    if ((ance_signalled)); then kill -s "$signal" "$!" 2>/dev/null; fi  # USR1 came before it started
}

ance_wait() {  # PID -> its exit status, once it has really exited
    local pid=$1 rc seen again
    while :; do
        seen=$ance_traps
        wait "$pid"
        rc=$?
        if ((rc > 128 && ance_traps != seen)); then
            # A trap interrupted `wait`: the process may still run, or have exited meanwhile.
            if kill -0 "$pid" 2>/dev/null; then continue; fi
            wait "$pid" 2>/dev/null
            again=$?
            ((again != 127)) && rc=$again
        fi
        return "$rc"
    done
}

ance_requeue() {  # EXIT_CODE: the stage checkpointed and asks to run again
    if ((!ANCE_REQUEUE)); then
        ance_record failed "$1" "$(ance_now)"
        ance_log "checkpointed, but resources.requeue is false: submit again to resume"
        exit "$1"
    fi
    if ((ANCE_RESTARTS >= ANCE_MAX_REQUEUES)); then
        ance_record failed "$1" "$(ance_now)"
        ance_log "the stage asked for a requeue after $ANCE_RESTARTS restarts already: giving up"
        exit "$1"
    fi
    ance_record requeued "$1" "$(ance_now)"
    if [[ $ANCE_EXECUTOR == local ]]; then
        ance_log "checkpointed: the local executor runs the job again"
        exit 99
    fi
    ance_log "checkpointed: requeueing job $ANCE_JOB_ID"
    if scontrol requeue "$ANCE_JOB_ID"; then
        exit 0  # SLURM ends this run and starts the job again; the stage resumes from its checkpoint
    fi
    ance_record failed "$1" "$(ance_now)"
    ance_log "scontrol requeue $ANCE_JOB_ID failed: submit again to resume"
    exit "$1"
}

# EXIT_CODE [VIA_LAUNCHER]: record the outcome and leave. VIA_LAUNCHER=1 when the stage ran under
# torchrun, which reports any worker exit as 1: after a USR1, a non-zero exit then means "checkpointed".
ance_finish() {
    local rc=$1 via_launcher=${2:-0}
    if ((ance_terminated)); then
        # Cancelled, whatever the stage answered (99 included): 143 = killed by TERM, never requeued.
        ance_record cancelled "$rc" "$(ance_now)"
        ance_log "stopped by SIGTERM (the stage exited $rc)"
        exit 143
    fi
    if ((rc == 99)) || ((ance_signalled && via_launcher && rc != 0)); then
        ance_requeue "$rc"
    fi
    if ((rc == 0)); then
        ance_record completed 0 "$(ance_now)"
    else
        ance_record failed "$rc" "$(ance_now)"
        ance_log "the stage failed (exit $rc)"
    fi
    exit "$rc"
}

# --- how stages run: natively, or inside the image with the host paths bound in place ----
module load cuda/12.1
ance_runtime=( apptainer exec --nv \
    --bind /data/msmarco \
    --bind /scratch/u/runs \
    --bind /scratch/u/hf-cache \
    /containers/ance.sif )

ance_log "job $ANCE_JOB_ID ($ANCE_JOB_KEY) on $(hostname), restart $ANCE_RESTARTS, executor $ANCE_EXECUTOR"
ance_record running null null

ance_stage=( ance refresh0 --config /scratch/u/runs/_jobs/20240101-000000-abcd/experiments/top20.yaml --seed 0 )
ance_start USR1 ${ance_runtime[@]+"${ance_runtime[@]}"} "${ance_stage[@]}"
ance_wait "${ance_pids[0]}"
ance_finish $?
