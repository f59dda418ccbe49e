#!/usr/bin/env bash
# Background benchmark (not a test), run by test/bench/run against its cluster:
#   latency     enqueue-to-start of a one-item batch on an idle server
#               (created_at of the submission to started_at of the executor), median of N
#   throughput  10,000 one-item batches committed in one transaction, drained by the
#               workers with the default settings; batches per second
#   large       one 100,000-item background batch (status_update) on a 1,000,000-row table
#               (as the inline benchmark) against the plain
#               set-based UPDATE ... WHERE id = ANY(...) of the same ids
set -euo pipefail
LATENCY_SAMPLES=${LATENCY_SAMPLES:-60}
THROUGHPUT_BATCHES=${THROUGHPUT_BATCHES:-10000}
LARGE_ROUNDS=${LARGE_ROUNDS:-3}

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d postgres "$@"; }

q <<'SQL'
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench.bg;
CREATE TABLE bench.bg (id integer PRIMARY KEY, status text NOT NULL);
INSERT INTO bench.bg SELECT g, 'new' FROM generate_series(1, 1000000) AS g;
SELECT batch_ops.register_target('bench_bg', 'bench.bg', status_column => 'status');
VACUUM ANALYZE bench.bg;
CREATE TABLE IF NOT EXISTS bench.bg_results (what text, n integer, ms float8);
TRUNCATE bench.bg_results;
SQL

echo "== latency: $LATENCY_SAMPLES one-item batches on an idle server (one client session, as from a pool)"
{
    for ((i = 1; i <= LATENCY_SAMPLES; i++)); do
        echo "SELECT batch_ops.batch_execute(jsonb_build_object('operation', 'status_update',
               'target_type', 'bench_bg', 'target_ids', jsonb_build_array($i),
               'operation_data', jsonb_build_object('new_status', 'l$i')))->>'operation_id' AS id \\gset"
        echo "SELECT (batch_ops.batch_wait(:id, '30 s')).status \\g /dev/null"
        echo "INSERT INTO bench.bg_results SELECT 'latency', $i,
                extract(epoch FROM started_at - created_at) * 1000 FROM batch_ops.batch WHERE id = :id;"
        echo "SELECT pg_sleep(0.05) \\g /dev/null"
    done
} | q

echo "== throughput: $THROUGHPUT_BATCHES one-item batches committed together"
q <<SQL
BEGIN;
SELECT count(batch_ops.batch_execute(jsonb_build_object('operation', 'status_update',
       'target_type', 'bench_bg', 'target_ids', jsonb_build_array(1000 + g),
       'operation_data', jsonb_build_object('new_status', 't'))))
  FROM generate_series(1, $THROUGHPUT_BATCHES) AS g;
CREATE TEMP TABLE mark AS SELECT max(id) AS last_id FROM batch_ops.batch;
COMMIT;
SQL
deadline=$((SECONDS + 300))
while :; do
    left=$(q -c "SELECT count(*) FROM batch_ops.batch WHERE status IN ('queued', 'running')")
    [[ $left -eq 0 ]] && break
    (( SECONDS > deadline )) && { echo "throughput run did not finish" >&2; exit 1; }
    sleep 0.2
done
q -c "INSERT INTO bench.bg_results
      SELECT 'throughput', count(*), extract(epoch FROM max(finished_at) - min(started_at)) * 1000
        FROM batch_ops.batch WHERE operation = 'status_update' AND target_type = 'bench_bg' AND total = 1
         AND id > (SELECT max(id) - $THROUGHPUT_BATCHES FROM batch_ops.batch)"
q -c "SELECT 'failed batches: ' || count(*) FROM batch_ops.batch WHERE status <> 'succeeded'"

echo "== large: 100,000-item background batch vs plain UPDATE, $LARGE_ROUNDS rounds"
q -c "ALTER SYSTEM SET batch_ops.max_items = 1000000" -c "SELECT pg_reload_conf()" >/dev/null
for ((r = 1; r <= LARGE_ROUNDS; r++)); do
    q -c "DROP TABLE IF EXISTS bench.bg_ids; CREATE TABLE bench.bg_ids AS
          SELECT array_agg(id) AS ids FROM (SELECT id FROM bench.bg ORDER BY random() LIMIT 100000) s"
    q -c "VACUUM bench.bg"
    id=$(q -c "SELECT batch_ops.batch_execute(jsonb_build_object('operation', 'status_update',
               'target_type', 'bench_bg', 'target_ids', to_jsonb(ids),
               'operation_data', jsonb_build_object('new_status', 'b$r'))) ->>'operation_id' FROM bench.bg_ids")
    q -c "SELECT (batch_ops.batch_wait($id, '300 s')).status" >/dev/null
    q -c "INSERT INTO bench.bg_results SELECT 'large_batch_ops', $r,
            extract(epoch FROM finished_at - started_at) * 1000 FROM batch_ops.batch WHERE id = $id"
    q -c "VACUUM bench.bg"
    q <<SQL
DO \$\$
DECLARE t0 timestamptz; ids integer[];
BEGIN
    SELECT b.ids INTO ids FROM bench.bg_ids b;
    t0 := clock_timestamp();
    UPDATE bench.bg SET status = 'p$r' WHERE id = ANY (ids);
    INSERT INTO bench.bg_results VALUES ('large_plain', $r, extract(epoch FROM clock_timestamp() - t0) * 1000);
END \$\$;
SQL
done

echo
psql -X -d postgres <<'SQL'
\pset footer off
SELECT 'enqueue-to-start latency (ms)' AS measure,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2) AS median,
       round(percentile_cont(0.9) WITHIN GROUP (ORDER BY ms)::numeric, 2) AS p90,
       count(*) AS samples, 'target <= 3 ms (graphile-worker ~6 ms)' AS reference
  FROM bench.bg_results WHERE what = 'latency'
UNION ALL
SELECT 'throughput (batches/s)', round((n / (ms / 1000))::numeric, 0), NULL, n,
       'ratio to graphile-worker 2,900/s: ' || round((n / (ms / 1000) / 2900)::numeric, 2)
  FROM bench.bg_results WHERE what = 'throughput'
UNION ALL
SELECT '100k background batch (ms)', round(percentile_cont(0.5) WITHIN GROUP (ORDER BY b.ms)::numeric, 1), NULL,
       count(*), 'vs plain UPDATE median ' ||
       round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM bench.bg_results
               WHERE what = 'large_plain')::numeric, 1) || ' ms: ratio ' ||
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY b.ms) /
              (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM bench.bg_results
                WHERE what = 'large_plain'))::numeric, 2) || ' (target <= 1.5)'
  FROM bench.bg_results b WHERE b.what = 'large_batch_ops';
SQL
