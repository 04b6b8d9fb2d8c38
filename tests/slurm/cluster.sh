#!/usr/bin/env bash
# A real single-node SLURM cluster for the test suite: munge + MariaDB + slurmdbd + slurmctld + slurmd, all
# started by hand (no systemd), state in one folder, torn down without a trace.
#
#   tests/slurm/cluster.sh start DIR     prints `export SLURM_CONF=DIR/etc/slurm.conf` when the node is idle
#   tests/slurm/cluster.sh stop DIR      stops every daemon it started (by pid file) and cancels jobs
#
# Needs Debian's munge slurmctld slurmd slurm-client slurmdbd mariadb-server (`make slurm` installs them) and root.
# The node advertises more CPUs than the machine has (SlurmdParameters=config_overrides) and two GPUs that are
# stand-ins (gres.conf names /dev/null and /dev/zero as their devices), so GPU requests schedule and show in the job's environment.
# KillWait=60: a signalled job gets a minute to finish its step and save last.ckpt before SIGKILL (as on real clusters).
set -euo pipefail

cmd=${1:?usage: cluster.sh start|stop DIR}
DIR=$(realpath -m "${2:?usage: cluster.sh start|stop DIR}")
CPUS=${SLURM_TEST_CPUS:-8}
NODE=$(hostname -s)
ETC=$DIR/etc
export SLURM_CONF=$ETC/slurm.conf

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
log() { echo "[cluster] $*" >&2; }
wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2; shift 2
  for _ in $(seq $((limit * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  log "timed out waiting for $what"; tail -n 30 "$DIR"/log/*.log >&2 || true; return 1
}
stop_pidfiles() {  # stop_pidfiles FILE...: SIGTERM to all at once, up to 10 s to exit, then SIGKILL
  local pids=() f pid
  for f in "$@"; do
    [[ -f $f ]] && pid=$(cat "$f" 2>/dev/null) && [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && pids+=("$pid")
    rm -f "$f"
  done
  ((${#pids[@]})) || return 0
  kill "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 100); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || return 0
    sleep 0.1
  done
  kill -9 "${pids[@]}" 2>/dev/null || true
}

start() {
  for bin in munged mungekey mariadbd mariadb-install-db slurmdbd slurmctld slurmd sacctmgr sinfo; do
    command -v "$bin" >/dev/null || { log "missing $bin: run 'make slurm' (apt-get install munge slurmctld slurmd slurm-client slurmdbd mariadb-server)"; exit 3; }
  done
  [[ $(id -u) == 0 ]] || { log "the test cluster runs its daemons as root"; exit 3; }
  mkdir -p "$ETC" "$DIR"/{state,spool,log,run,db}
  local db_port dbd_port ctld_port d_port
  db_port=$(free_port); dbd_port=$(free_port); ctld_port=$(free_port); d_port=$(free_port)

  # munge: slurmdbd only talks to the default socket under /run/munge. A munged already serving it (the
  # system's) is used as it is and left running; otherwise ours runs with its own key (root-owned, mode 600).
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    log "using the munged already running on /run/munge"
  else
    mkdir -p /run/munge && chmod 755 /run/munge
    mungekey --create --force --keyfile="$ETC/munge.key" && chmod 600 "$ETC/munge.key"
    munged --force --key-file="$ETC/munge.key" --pid-file="$DIR/run/munged.pid" --log-file="$DIR/log/munged.log" \
      --seed-file="$DIR/run/munge.seed"
    wait_for 10 munged bash -c "munge -n | unmunge"
  fi

  # MariaDB with its own datadir, on a free TCP port of 127.0.0.1
  mariadb-install-db --user=root --datadir="$DIR/db" --auth-root-authentication-method=normal \
    --skip-test-db >"$DIR/log/mariadb-install.log" 2>&1
  mariadbd --user=root --datadir="$DIR/db" --socket="$DIR/run/mysqld.sock" --pid-file="$DIR/run/mysqld.pid" \
    --bind-address=127.0.0.1 --port="$db_port" --skip-name-resolve --log-error="$DIR/log/mariadb.log" \
    --innodb-buffer-pool-size=16M --performance-schema=OFF >/dev/null 2>&1 &
  wait_for 30 MariaDB mariadb --socket="$DIR/run/mysqld.sock" -uroot -e 'select 1'
  mariadb --socket="$DIR/run/mysqld.sock" -uroot -e \
    "CREATE USER 'slurm'@'%' IDENTIFIED BY 'slurm'; GRANT ALL ON slurm_acct_db.* TO 'slurm'@'%'; FLUSH PRIVILEGES;"

  cat >"$ETC/slurmdbd.conf" <<EOF
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$dbd_port
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$db_port
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
LogFile=$DIR/log/slurmdbd.log
PidFile=$DIR/run/slurmdbd.pid
EOF
  chmod 600 "$ETC/slurmdbd.conf"

  cat >"$SLURM_CONF" <<EOF
ClusterName=provetest
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/builtin
SchedulerParameters=batch_sched_delay=0,sched_min_interval=100
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
KillWait=60
InactiveLimit=0
MinJobAge=600
JobRequeue=1
GresTypes=gpu
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$dbd_port
AccountingStorageTRES=gres/gpu
JobAcctGatherType=jobacct_gather/none
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=16000 Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  cat >"$ETC/gres.conf" <<EOF
AutoDetect=off
NodeName=$NODE Name=gpu File=/dev/null
NodeName=$NODE Name=gpu File=/dev/zero
EOF

  slurmdbd
  wait_for 30 slurmdbd sacctmgr -n list cluster
  sacctmgr -i add cluster provetest >/dev/null
  slurmctld
  wait_for 30 slurmctld scontrol ping
  slurmd -N "$NODE"
  wait_for 30 "node idle" bash -c "sinfo -h -N -o %T | grep -qx idle"
  log "up: $(sinfo -h -o '%P %a %D %T %C')"
  echo "export SLURM_CONF=$SLURM_CONF"
}

stop() {
  if [[ -f $SLURM_CONF && -f $DIR/run/slurmctld.pid ]] && [[ -n $(squeue -h 2>/dev/null) ]]; then
    scancel --full --quiet 2>/dev/null || true
  fi
  stop_pidfiles "$DIR"/run/{slurmd,slurmctld,slurmdbd,mysqld}.pid
  stop_pidfiles "$DIR/run/munged.pid"
  log "down"
}

case $cmd in
  start) start ;;
  stop) stop ;;
  *) echo "usage: cluster.sh start|stop DIR" >&2; exit 2 ;;
esac
