#!/usr/bin/env bash
# Sync benchmark (not a test), run by test/bench/run against its cluster:
# 1,000,000 source rows, into an empty target and again after 10% changed,
#   local:  batch_sync of a local table   vs  INSERT ... SELECT ... ON CONFLICT DO UPDATE
#   remote: batch_sync of a remote table  vs  psql COPY ... TO STDOUT | psql COPY ... FROM STDIN
#           (this server over its unix socket)   into a staging table, then the same upsert
set -euo pipefail
ROUNDS=${SYNC_ROUNDS:-3}
ROWS=${SYNC_ROWS:-1000000}
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d postgres "$@"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

q <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench.sync_src, bench.sync_dst, bench.sync_base, bench.sync_stage, bench.sync_results;
CREATE TABLE bench.sync_src (id integer PRIMARY KEY, name text NOT NULL, price numeric NOT NULL, qty integer NOT NULL);
INSERT INTO bench.sync_src SELECT g, 'item ' || g, g % 1000 + 0.5, g % 97 FROM generate_series(1, $ROWS) AS g;
CREATE TABLE bench.sync_dst (LIKE bench.sync_src INCLUDING ALL);
CREATE TABLE bench.sync_base (LIKE bench.sync_src INCLUDING ALL);
CREATE UNLOGGED TABLE bench.sync_stage (LIKE bench.sync_src);
CREATE TABLE bench.sync_results (what text, round integer, ms float8);
VACUUM ANALYZE bench.sync_src;
SELECT batch_ops.create_sync('bench_local', 'bench.sync_src', 'bench.sync_dst');
SELECT batch_ops.create_sync('bench_remote', 'bench.sync_src', 'bench.sync_dst',
    jsonb_build_object('connection', format('host=%s port=%s dbname=%s user=%s',
        split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port'),
        current_database(), current_user)));
SQL

upsert="INSERT INTO bench.sync_base AS t SELECT * FROM SOURCE ON CONFLICT (id) DO UPDATE
        SET name = EXCLUDED.name, price = EXCLUDED.price, qty = EXCLUDED.qty"
timed_sql() {  # what round sql
    q -c "DO \$\$ DECLARE t0 timestamptz := clock_timestamp(); BEGIN $3;
          INSERT INTO bench.sync_results VALUES ('$1', $2, extract(epoch FROM clock_timestamp() - t0) * 1000); END \$\$"
}
baseline() {  # kind phase round: the hand-written way to do the same sync
    if [[ $1 == local ]]; then
        timed_sql "local_$2_baseline" "$3" "${upsert//SOURCE/bench.sync_src}"
    else
        local t0; t0=$(now_ms)
        q -c "TRUNCATE bench.sync_stage"
        psql -X -q -d postgres -c "COPY (SELECT * FROM bench.sync_src) TO STDOUT" |
            psql -X -q -d postgres -c "COPY bench.sync_stage FROM STDIN"
        q -c "${upsert//SOURCE/bench.sync_stage}"
        q -c "INSERT INTO bench.sync_results VALUES ('remote_$2_baseline', $3, $(( $(now_ms) - t0 )))"
    fi
}
sync_id() { q -c "SELECT id FROM batch_ops.sync WHERE name = '$1'"; }
LOCAL=$(sync_id bench_local)
REMOTE=$(sync_id bench_remote)

for ((r = 1; r <= ROUNDS; r++)); do
    for kind in local remote; do
        id=$LOCAL; [[ $kind == remote ]] && id=$REMOTE
        q -c "TRUNCATE bench.sync_dst, bench.sync_base" -c "CHECKPOINT"
        # empty target
        timed_sql "${kind}_empty_batch_ops" $r "PERFORM batch_ops.batch_sync($id)"
        baseline $kind empty $r
        # 10% of the source changed
        q -c "UPDATE bench.sync_src SET qty = qty + 1 WHERE id % 10 = $r" -c "VACUUM ANALYZE bench.sync_src" -c "CHECKPOINT"
        timed_sql "${kind}_changed_batch_ops" $r "PERFORM batch_ops.batch_sync($id)"
        baseline $kind changed $r
        # both targets must equal the source
        q -c "SELECT CASE WHEN (SELECT count(*) FROM (SELECT * FROM bench.sync_src EXCEPT SELECT * FROM bench.sync_dst) d) = 0
                THEN 'ok' ELSE 'TARGET DIFFERS' END" | grep -q ok || { echo "sync target differs from source" >&2; exit 1; }
    done
done

echo
psql -X -d postgres <<'SQL'
\pset footer off
WITH m AS (SELECT what, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms FROM bench.sync_results GROUP BY what)
SELECT s.case_ AS sync_of_1m_rows, round(b.ms::numeric) AS batch_ops_ms, round(base.ms::numeric) AS baseline_ms,
       round((b.ms / base.ms)::numeric, 2) AS ratio, s.target
  FROM (VALUES ('local_empty', 'local, empty target', '<= 1.3'), ('local_changed', 'local, 10% changed', '<= 1.3'),
               ('remote_empty', 'remote, empty target', '<= 1.2'), ('remote_changed', 'remote, 10% changed', '<= 1.2'))
         AS s(key, case_, target)
  JOIN m b ON b.what = s.key || '_batch_ops' JOIN m base ON base.what = s.key || '_baseline';
SQL
