#!/usr/bin/env bash
# pgbench against RustyDB's server and PostgreSQL 15, same machine, same
# run: `pgbench -i -s SCALE` on each and a CHECKPOINT (so neither engine
# is still writing back the load while the first runs are timed), then the
# default TPC-B-like script for PGBENCH_SECONDS at 1, 4 and 16 clients. PostgreSQL runs from Debian's
# packages on a fresh cluster on loopback with its default durability
# (fsync on, synchronous_commit on); RustyDB forces its WAL at every commit.
# Each client count runs PGBENCH_ROUNDS times per engine, alternating which
# engine goes first; prints the median tps per engine, the ratio of the
# medians (RustyDB / PostgreSQL) and each round's ratio, since one 10 s run
# of either engine varies by 15 % or more from run to run on a small machine.
#
# Environment: PGBENCH_SECONDS (default 10), PGBENCH_SCALE (default 1),
# PGBENCH_CLIENTS (default "1 4 16"), PGBENCH_ROUNDS (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${PGBENCH_SECONDS:-10}
scale=${PGBENCH_SCALE:-1}
clients=${PGBENCH_CLIENTS:-1 4 16}
rounds=${PGBENCH_ROUNDS:-3}

pg_bin=$(ls -d /usr/lib/postgresql/15/bin 2>/dev/null || true)
if [ -z "$pg_bin" ] || ! command -v pgbench >/dev/null; then
    echo "installing PostgreSQL 15 (Debian's postgresql package)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq postgresql >/dev/null
    pg_bin=/usr/lib/postgresql/15/bin
fi

# With RUSTYDB_PREBUILT set, use the binary a workspace build already made.
[ -n "${RUSTYDB_PREBUILT:-}" ] || cargo build --release -q -p rustydb-cli --bin rustydb
work=$(mktemp -d)
chmod 777 "$work"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
rusty_port=$(free_port)
pg_port=$(free_port)
rusty_pid=
as_postgres() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
cleanup() {
    [ -n "$rusty_pid" ] && kill -9 "$rusty_pid" 2>/dev/null || true
    as_postgres "$pg_bin/pg_ctl -D $work/pg -m immediate stop" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# PostgreSQL: a fresh cluster, trust authentication on loopback.
mkdir -p "$work/pg" && chown postgres "$work/pg" 2>/dev/null || true
as_postgres "$pg_bin/initdb -D $work/pg -A trust -U postgres" >/dev/null
as_postgres "$pg_bin/pg_ctl -D $work/pg -o '-p $pg_port -k $work -c listen_addresses=127.0.0.1' -l $work/pg.log -w start" >/dev/null

# RustyDB, its superuser created with a password both engines' clients send
# (PostgreSQL's trust authentication ignores it).
export PGPASSWORD=bench-password
RUSTYDB_SUPERUSER_PASSWORD=bench-password target/release/rustydb server --data "$work/rusty" --pg-addr "127.0.0.1:$rusty_port" --http-addr "127.0.0.1:0" >"$work/rusty.log" 2>&1 &
rusty_pid=$!
for _ in $(seq 1 100); do
    psql -h 127.0.0.1 -p "$rusty_port" -U rustydb -Atqc "SELECT 1" >/dev/null 2>&1 && break
    sleep 0.1
done

declare -A user=([rustydb]=rustydb [postgresql]=postgres)
declare -A port=([rustydb]=$rusty_port [postgresql]=$pg_port)
declare -A db=([rustydb]=rustydb [postgresql]=postgres)
tps_of() { sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$1"; }

for engine in rustydb postgresql; do
    pgbench -h 127.0.0.1 -p "${port[$engine]}" -U "${user[$engine]}" -i -s "$scale" "${db[$engine]}" \
        >"$work/init-$engine.log" 2>&1 || { cat "$work/init-$engine.log"; exit 1; }
    echo "pgbench -i -s $scale on $engine: $(tail -1 "$work/init-$engine.log")"
    psql -h 127.0.0.1 -p "${port[$engine]}" -U "${user[$engine]}" -qc CHECKPOINT "${db[$engine]}"
done

# Waits (at most 30 s) until the machine has been nearly idle for a second.
# A vCPU that is kept busy wakes sleeping threads far sooner, which doubles a
# one-client run's tps; background work left by either engine (a checkpoint,
# autovacuum) must not flatter the run after it.
wait_for_quiet() {
    python3 - <<'PY'
import time
def busy_and_total():
    fields = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)
deadline = time.time() + 30
while time.time() < deadline:
    b0, t0 = busy_and_total()
    time.sleep(1)
    b1, t1 = busy_and_total()
    if t1 > t0 and (b1 - b0) / (t1 - t0) < 0.05:
        break
PY
}

median() { python3 -c 'import statistics, sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

echo
printf '%-8s %14s %14s %8s  %s\n' clients "rustydb tps" "postgres tps" ratio "ratio per round"
for c in $clients; do
    declare -A runs=([rustydb]="" [postgresql]="")
    round_ratios=()
    for round in $(seq 1 "$rounds"); do
        # Alternate which engine goes first, so neither always runs on the
        # warmer machine or after the other's history table has grown.
        order="rustydb postgresql"
        (( round % 2 == 0 )) && order="postgresql rustydb"
        declare -A tps=()
        for engine in $order; do
            log=$work/run-$engine-$c-$round.log
            wait_for_quiet
            pgbench -h 127.0.0.1 -p "${port[$engine]}" -U "${user[$engine]}" -T "$seconds" -c "$c" -j "$(( c < 2 ? c : 2 ))" \
                "${db[$engine]}" >"$log" 2>&1 || { cat "$log"; exit 1; }
            grep -q "number of failed transactions: 0 " "$log" || { echo "$engine reported failed transactions:"; cat "$log"; exit 1; }
            tps[$engine]=$(tps_of "$log")
            runs[$engine]+=" ${tps[$engine]}"
        done
        round_ratios+=("$(python3 -c "print(f'{${tps[rustydb]} / ${tps[postgresql]}:.2f}')")")
    done
    # shellcheck disable=SC2086 # the runs are a space-separated list
    ours=$(median ${runs[rustydb]}) theirs=$(median ${runs[postgresql]})
    ratio=$(python3 -c "print(f'{$ours / $theirs:.2f}')")
    printf '%-8s %14.1f %14.1f %8s  %s\n' "$c" "$ours" "$theirs" "$ratio" "${round_ratios[*]}"
done
