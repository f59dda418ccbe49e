#!/usr/bin/env bash
# test/bench/citus.sh: benchmark (not a test) of batch_ops on a Citus cluster: a
# coordinator and two workers on this machine (unix sockets), shared_preload_libraries =
# 'citus,batch_ops', a 1,000,000-row table hash-distributed by its key (32 shards, the
# Citus default). Each round draws 100,000 random ids and runs, in a rotating order:
#   plain       UPDATE bench.t SET status = ... WHERE id = ANY (ids), then COMMIT
#   background  a background status_update batch of the ids (started_at to finished_at:
#               100 chunk transactions through the coordinator's executor)
#   inline      an inline status_update batch (batch_execute, then COMMIT)
# The plain and inline runs are timed server side, in a procedure, from just before the
# statement to just after its COMMIT (the two-phase commit of the workers included).
# Prints the medians and the ratios to plain.
#
#   test/bench/citus.sh                 5 rounds
#   ROUNDS=7 test/bench/citus.sh
# Needs Citus in PG_CONFIG's tree (built from ../shared/vendor like test/check citus).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../lib.sh
source test/lib.sh

ROUNDS=${ROUNDS:-5}
ROWS=${ROWS:-1000000}
IDS=${IDS:-100000}

ensure_deps
build_install
rc=0
ensure_citus || rc=$?
if ((rc)); then
  bo_warn "no Citus to benchmark with (see docs/scale-out.md)"
  exit 1
fi

bo_mktemp citus_bench DIR
PORTS=()
for n in 0 1 2; do
  port="$(_bo_free_port)"
  # two nodes must not draw the same free port
  while [[ " ${PORTS[*]} " == *" $port "* ]]; do port="$(_bo_free_port)"; done
  PORTS+=("$port")
  (cd "$DIR" && as_pg initdb -D "$DIR/n$n" -U postgres --auth=trust --encoding=UTF8 \
     --locale="$(_bo_locale)" >"$DIR/initdb$n.log" 2>&1) || { cat "$DIR/initdb$n.log"; exit 1; }
  cat >>"$DIR/n$n/postgresql.conf" <<EOF
port = $port
listen_addresses = ''
unix_socket_directories = '$DIR'
shared_preload_libraries = 'citus,batch_ops'
max_worker_processes = 24
max_prepared_transactions = 64
citus.node_conninfo = 'sslmode=disable'
citus.local_hostname = '$DIR'
shared_buffers = 256MB
log_min_messages = warning
EOF
  (cd "$DIR" && as_pg pg_ctl -D "$DIR/n$n" -l "$DIR/n$n.log" -w -t 120 start >/dev/null)
done
export PGHOST="$DIR" PGUSER=postgres PGDATABASE=postgres
unset PGHOSTADDR PGSERVICE PGDATA PGPASSWORD PGOPTIONS PGPORT
for n in 0 1 2; do
  psql -X -q -p "${PORTS[$n]}" -c "SET client_min_messages = warning; CREATE EXTENSION citus"
done
q() { psql -X -q -At -v ON_ERROR_STOP=1 -p "${PORTS[0]}" "$@"; }
q -c "SELECT citus_set_coordinator_host('$DIR', ${PORTS[0]})" \
  -c "SELECT citus_add_node('$DIR', ${PORTS[1]})" -c "SELECT citus_add_node('$DIR', ${PORTS[2]})" >/dev/null

echo "== setup: bench.t, $ROWS rows hash-distributed by id over 2 workers (32 shards)"
q <<SQL
SET client_min_messages = warning;
CREATE EXTENSION batch_ops;
ALTER SYSTEM SET batch_ops.max_items = 1000000;
SELECT pg_reload_conf() \g /dev/null
CREATE SCHEMA bench;
CREATE TABLE bench.t (id integer PRIMARY KEY, status text NOT NULL);
SELECT create_distributed_table('bench.t', 'id');
INSERT INTO bench.t SELECT g, 'new' FROM generate_series(1, $ROWS) AS g;
VACUUM ANALYZE bench.t;
SELECT batch_ops.register_target('bench', 'bench.t', status_column => 'status');
CREATE TABLE bench.ids (ids integer[]);
CREATE TABLE bench.results (method text, round integer, ms float8);
-- plain and inline: from just before the statement to just after its COMMIT.
CREATE PROCEDURE bench.timed(method text, round integer, new_status text) LANGUAGE plpgsql AS \$\$
DECLARE
    ids integer[];
    t0 timestamptz;
    n bigint;
BEGIN
    SELECT b.ids INTO ids FROM bench.ids b;
    t0 := clock_timestamp();
    IF method = 'plain' THEN
        UPDATE bench.t SET status = new_status WHERE id = ANY (ids);
        GET DIAGNOSTICS n = ROW_COUNT;
    ELSE
        n := (batch_ops.batch_execute(jsonb_build_object('operation', 'status_update',
                'target_type', 'bench', 'execution', 'inline', 'target_ids', to_jsonb(ids),
                'operation_data', jsonb_build_object('new_status', new_status)))->>'success_count')::bigint;
    END IF;
    COMMIT;
    INSERT INTO bench.results VALUES (method, round, extract(epoch FROM clock_timestamp() - t0) * 1000);
    IF n <> cardinality(ids) THEN
        RAISE EXCEPTION '% changed % rows, expected %', method, n, cardinality(ids);
    END IF;
    COMMIT;
END \$\$;
SQL

methods=(plain background inline)
echo "== $ROUNDS rounds of $IDS random ids (+1 warm-up round), methods in a rotating order"
for ((r = 0; r <= ROUNDS; r++)); do
  q -c "TRUNCATE bench.ids; INSERT INTO bench.ids SELECT array_agg(id) FROM
        (SELECT g AS id FROM generate_series(1, $ROWS) g ORDER BY random() LIMIT $IDS) s"
  for ((m = 0; m < ${#methods[@]}; m++)); do
    method=${methods[$(((m + r) % ${#methods[@]}))]}
    q -c "VACUUM bench.t" -c "CHECKPOINT" >/dev/null
    status="r${r}m$m"
    if [[ $method == background ]]; then
      id=$(q -c "SELECT batch_ops.batch_execute(jsonb_build_object('operation', 'status_update',
                   'target_type', 'bench', 'target_ids', to_jsonb(ids),
                   'operation_data', jsonb_build_object('new_status', '$status')))->>'operation_id'
                   FROM bench.ids")
      st=$(q -c "SELECT status FROM batch_ops.batch_wait($id, '900 s')")
      [[ $st == succeeded ]] || { bo_warn "background batch $id ended $st"; exit 1; }
      q -c "INSERT INTO bench.results SELECT 'background', $r,
              extract(epoch FROM finished_at - started_at) * 1000 FROM batch_ops.batch WHERE id = $id"
    else
      q -c "CALL bench.timed('$method', $r, '$status')"
    fi
    printf '   round %d %-10s %8.1f ms\n' "$r" "$method" \
      "$(q -c "SELECT ms FROM bench.results WHERE round = $r AND method = '$method'")"
  done
done
q -c "DELETE FROM bench.results WHERE round = 0"

echo
psql -X -p "${PORTS[0]}" -v ON_ERROR_STOP=1 <<'SQL'
\pset footer off
WITH med AS (
    SELECT method, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS median_ms,
           min(ms) AS min_ms, max(ms) AS max_ms, count(*) AS runs
      FROM bench.results GROUP BY method
)
SELECT m.method, m.runs, round(m.median_ms::numeric, 1) AS median_ms,
       round(m.min_ms::numeric, 1) AS min_ms, round(m.max_ms::numeric, 1) AS max_ms,
       round((m.median_ms / p.median_ms)::numeric, 2) AS vs_plain,
       CASE m.method WHEN 'plain' THEN '' ELSE 'target <= 1.5' END AS target
  FROM med m CROSS JOIN (SELECT median_ms FROM med WHERE method = 'plain') p
 ORDER BY CASE m.method WHEN 'plain' THEN 0 WHEN 'background' THEN 1 ELSE 2 END;
SQL
