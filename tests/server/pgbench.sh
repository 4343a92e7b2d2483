#!/usr/bin/env bash
# The server under pgbench, unmodified:
#   1. a fresh data directory; `pgbench -i -s 1`; `pgbench -T 10 -c 4` in
#      each query mode (simple, extended, prepared) with zero failed
#      transactions;
#   2. SIGKILL of the server in the middle of a run, a restart on the same
#      directory, and pgbench's balance invariant: the account, teller and
#      branch balances and the history deltas all sum to the same value;
#   3. `psql -c` against the restarted server, in plaintext and over TLS
#      verified against the test CA (tests/data/tls);
#   4. SIGTERM: the server shuts down cleanly (exit 0) and restarts again.
# Installs pgbench and psql (Debian's postgresql-client) if missing.
# Environment: PGBENCH_SECONDS (default 10) for the timed runs.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${PGBENCH_SECONDS:-10}
if ! command -v pgbench >/dev/null || ! command -v psql >/dev/null; then
    echo "installing postgresql-client (pgbench, psql)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq postgresql-client >/dev/null
fi

# .ci/run builds every binary once, in its test step; run alone, build here.
[ -n "${RUSTYDB_PREBUILT:-}" ] || cargo build --release -q -p rustydb-cli --bin rustydb
bin=$PWD/target/release/rustydb
work=$(mktemp -d)
data=$work/data
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=rustydb PGDATABASE=rustydb
# The superuser is created with this password on first start; psql and
# pgbench log in with it (SCRAM-SHA-256).
export RUSTYDB_SUPERUSER_PASSWORD=pgbench-test-password PGPASSWORD=pgbench-test-password
# The server offers TLS; the runs below stay in plaintext unless asked.
export PGSSLMODE=disable
tls=tests/data/tls

fail() { echo "FAIL: $*"; echo "--- server log"; tail -50 "$work/server.log"; exit 1; }

start_server() {
    "$bin" server --data "$data" --pg-addr "127.0.0.1:$port" --http-addr "127.0.0.1:0" \
        --tls-cert "$tls/server.crt" --tls-key "$tls/server.key" >>"$work/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do
        psql -Atqc "SELECT 1" >/dev/null 2>&1 && return 0
        kill -0 "$server_pid" 2>/dev/null || fail "server exited during startup"
        sleep 0.1
    done
    fail "server did not accept connections within 10 s"
}

check_run() { # a pgbench log: zero failed transactions, some processed
    grep -q "number of failed transactions: 0 " "$1" || fail "pgbench reported failures: $(cat "$1")"
    grep -q "number of transactions actually processed: [1-9]" "$1" || fail "pgbench processed nothing: $(cat "$1")"
    grep -E "^tps|number of transactions actually" "$1" | sed 's/^/    /'
}

start_server
echo "== pgbench -i -s 1"
pgbench -i -s 1 >"$work/init.log" 2>&1 || fail "pgbench -i: $(cat "$work/init.log")"
tail -1 "$work/init.log" | sed 's/^/    /'

for mode in simple extended prepared; do
    echo "== pgbench -T $seconds -c 4 -M $mode"
    pgbench -T "$seconds" -c 4 -M "$mode" >"$work/run-$mode.log" 2>&1 || fail "pgbench -M $mode: $(cat "$work/run-$mode.log")"
    check_run "$work/run-$mode.log"
done

# Every run truncates pgbench_history, so the invariant is checked on a
# freshly initialised database and a single (killed) run.
echo "== pgbench -i -s 1 again, then SIGKILL in the middle of pgbench -T $seconds -c 4"
pgbench -i -s 1 >"$work/init2.log" 2>&1 || fail "pgbench -i: $(cat "$work/init2.log")"
pgbench -T "$seconds" -c 4 >"$work/killed.log" 2>&1 &
bench_pid=$!
# Kill once transactions are committing: at least 100 in the history (or
# half the run, whichever comes first).
for _ in $(seq 1 $(( seconds * 5 / 2 + 1 ))); do
    sleep 0.2
    [ "$(psql -Atc 'SELECT count(*) >= 100 FROM pgbench_history' 2>/dev/null)" = t ] && break
done
kill -9 "$server_pid"
wait "$server_pid" 2>/dev/null || true
wait "$bench_pid" 2>/dev/null || true
echo "    server killed; pgbench saw: $(grep -m1 -iE "error|abort|lost" "$work/killed.log" || echo nothing)"

start_server
echo "== balance invariant after restart"
sums=$(psql -Atc "SELECT (SELECT sum(abalance) FROM pgbench_accounts), (SELECT sum(tbalance) FROM pgbench_tellers),
                         (SELECT sum(bbalance) FROM pgbench_branches), (SELECT coalesce(sum(delta), 0) FROM pgbench_history),
                         (SELECT count(*) FROM pgbench_history)")
IFS='|' read -r accounts tellers branches deltas history <<<"$sums"
echo "    accounts=$accounts tellers=$tellers branches=$branches history deltas=$deltas ($history rows)"
[ "$accounts" = "$tellers" ] && [ "$tellers" = "$branches" ] && [ "$branches" = "$deltas" ] || fail "balances disagree: $sums"
[ "$history" -gt 0 ] || fail "no committed transaction survived"

echo "== psql -c"
psql -c "SELECT count(*) AS accounts FROM pgbench_accounts" | sed 's/^/    /'
[ "$(psql -Atc 'SELECT count(*) FROM pgbench_accounts')" = 100000 ] || fail "pgbench_accounts lost rows"
echo "== psql \\d pgbench_accounts (psql's catalog queries)"
described=$(psql -c '\d pgbench_accounts') || fail "psql \\d failed"
echo "$described" | sed 's/^/    /'
grep -q '"pgbench_accounts_pkey" PRIMARY KEY, btree (aid)' <<< "$described" || fail "\\d shows no primary key"
grep -q 'abalance *| integer' <<< "$described" || fail "\\d shows no columns"
echo "== psql over TLS (sslmode=verify-full)"
secure="host=localhost sslmode=verify-full sslrootcert=$tls/ca.crt"
[ "$(psql "$secure" -Atc 'SELECT count(*) FROM pgbench_accounts')" = 100000 ] || fail "psql over TLS"
psql "$secure" -c '\conninfo' | grep -q "SSL connection" || fail "psql did not use TLS"
echo "    verified TLS connection"

echo "== a second server on the same data directory is refused"
if "$bin" server --data "$data" --pg-addr "127.0.0.1:0" --http-addr "127.0.0.1:0" >"$work/second.log" 2>&1; then
    fail "a second server started on the same data directory"
fi
grep -q "in use by another rustydb server" "$work/second.log" || fail "unexpected refusal: $(cat "$work/second.log")"

echo "== SIGTERM: clean shutdown"
kill -TERM "$server_pid"
status=0
wait "$server_pid" || status=$?
server_pid=
[ "$status" = 0 ] || fail "server exited with $status on SIGTERM"
start_server
[ "$(psql -Atc 'SELECT count(*) FROM pgbench_history')" = "$history" ] || fail "history changed across a clean restart"
echo "pgbench: all checks passed"
