#!/usr/bin/env bash
# Workers benchmark (not a test), run by test/bench/run against its cluster (issue 8):
#   cancel  batch_cancel of a running batch while its chunk holds its locks (the chunk's
#           statement sleeps 2 s), from one warm client session: the time batch_cancel
#           takes (measured in the server, from the statement before it), median and
#           maximum of N, and the time from the request until the batch has ended cancelled
#   wait    a batch_wait of WAIT_SECONDS on a batch that keeps committing chunks and does
#           not end: VmRSS, RssAnon (its own memory) and RssShmem (shared buffers it has
#           touched, which grows as the batch row moves to new pages) of the waiting
#           backend near its start and its end
set -euo pipefail
CANCEL_SAMPLES=${CANCEL_SAMPLES:-15}
WAIT_SECONDS=${WAIT_SECONDS:-60}

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d postgres "$@"; }

q <<'SQL'
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench.w, bench.w_knob, bench.w_results;
CREATE TABLE bench.w (id integer PRIMARY KEY, status text NOT NULL);
INSERT INTO bench.w SELECT g, 'new' FROM generate_series(1, 100000) AS g;
CREATE TABLE bench.w_knob (delay float8 NOT NULL);
INSERT INTO bench.w_knob VALUES (2);
CREATE OR REPLACE FUNCTION bench.w_slow() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE d float8;
BEGIN
    SELECT k.delay INTO d FROM bench.w_knob AS k;
    IF d > 0 THEN PERFORM pg_catalog.pg_sleep(d); END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER w_slow AFTER UPDATE ON bench.w FOR EACH STATEMENT EXECUTE FUNCTION bench.w_slow();
SELECT batch_ops.register_target('bench_w', 'bench.w', status_column => 'status');
CREATE TABLE bench.w_results (what text, n integer, ms float8);
CREATE OR REPLACE FUNCTION bench.w_submit(first integer, n integer, cs integer) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.set_config('batch_ops.chunk_size', cs::text, true);
    RETURN (batch_ops.batch_execute(jsonb_build_object('operation', 'status_update', 'target_type', 'bench_w',
        'target_ids', (SELECT jsonb_agg(g) FROM generate_series(first, first + n - 1) AS g),
        'operation_data', jsonb_build_object('new_status', 'done')))->>'operation_id')::bigint;
END $$;
-- Waits (at most 30 s) until a chunk of batch BID sleeps in its statement.
CREATE OR REPLACE FUNCTION bench.w_in_chunk(bid bigint) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE deadline timestamptz := clock_timestamp() + interval '30 s';
BEGIN
    LOOP
        IF EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'batch_ops executor'
                     AND query LIKE 'batch_ops: batch ' || bid || ', chunk %' AND wait_event = 'PgSleep') THEN
            RETURN true;
        END IF;
        IF clock_timestamp() > deadline THEN RETURN false; END IF;
        PERFORM pg_sleep(0.01);
        PERFORM pg_stat_clear_snapshot();  -- pg_stat_activity is read once per transaction otherwise
    END LOOP;
END $$;
SQL

echo "== cancel: $CANCEL_SAMPLES running batches cancelled while a chunk sleeps 2 s holding its row locks"
echo "   (one client session, as from a pool: its first call warms it up)"
{
    echo "SELECT batch_ops.batch_cancel(bench.w_submit(99001, 1, 1)) \\g /dev/null"
    for ((i = 0; i < CANCEL_SAMPLES; i++)); do
        echo "SELECT bench.w_submit($((i * 100 + 1)), 30, 10) AS id \\gset"
        echo "SELECT bench.w_in_chunk(:id) AS in_chunk \\gset"
        printf '%s\n' '\if :in_chunk' '\else' '\echo batch :id never ran a chunk' '\quit' '\endif'
        echo "SELECT clock_timestamp() AS t0 \\gset"
        echo "SELECT batch_ops.batch_cancel(:id) \\g /dev/null"
        echo "INSERT INTO bench.w_results SELECT 'batch_cancel', $i, extract(epoch FROM clock_timestamp() - :'t0') * 1000;"
        echo "SELECT (batch_ops.batch_wait(:id, '30 s')).status \\g /dev/null"
        echo "INSERT INTO bench.w_results
              SELECT 'until cancelled', $i, extract(epoch FROM b.finished_at - e.at) * 1000
                FROM batch_ops.batch b JOIN batch_ops.batch_event e ON e.batch_id = b.id AND e.event = 'cancel_requested'
               WHERE b.id = :id AND b.status = 'cancelled';"
    done
} | q
q -F ' ' <<'SQL'
SELECT what || ': median ' || round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1) || ' ms, max ' ||
       round(max(ms)::numeric, 1) || ' ms (' || count(*) || ' samples)'
  FROM bench.w_results GROUP BY what ORDER BY what;
SQL

echo "== wait: batch_wait of $WAIT_SECONDS s on a batch that commits a chunk every ~10 ms and does not end"
q -c "UPDATE bench.w_knob SET delay = 0.01"
q -c "ALTER SYSTEM SET batch_ops.max_items = 100000" -c "SELECT pg_reload_conf()" >/dev/null
long=$(q -c "SELECT bench.w_submit(50001, 50000, 1)")
psql -X -q -At -d postgres -c "SELECT status, timed_out FROM batch_ops.batch_wait($long, '$WAIT_SECONDS s')" \
    >"${TMPDIR:-/tmp}/bo_bench_wait.out" &
waiter=$!
pid=""
for _ in $(seq 1 50); do
    pid=$(q -c "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT status, timed_out FROM batch_ops.batch_wait(%' AND pid <> pg_backend_pid()")
    [[ -n "$pid" ]] && break
    sleep 0.1
done
[[ -n "$pid" ]] || { echo "the waiting backend was not found" >&2; exit 1; }
kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
sleep 2
rss0=$(kb "$pid" VmRSS) anon0=$(kb "$pid" RssAnon) shm0=$(kb "$pid" RssShmem) chunks0=$(q -c "SELECT processed FROM batch_ops.batch WHERE id = $long")
sleep $((WAIT_SECONDS - 4))
rss1=$(kb "$pid" VmRSS) anon1=$(kb "$pid" RssAnon) shm1=$(kb "$pid" RssShmem) chunks1=$(q -c "SELECT processed FROM batch_ops.batch WHERE id = $long")
wait "$waiter"
echo "backend $pid over $((WAIT_SECONDS - 4)) s: VmRSS ${rss0} -> ${rss1} kB ($((rss1 - rss0)) kB), RssAnon ${anon0} -> ${anon1} kB ($((anon1 - anon0)) kB), RssShmem ${shm0} -> ${shm1} kB (shared buffers it touched); $((chunks1 - chunks0)) chunks committed meanwhile"
echo "batch_wait returned: $(cat "${TMPDIR:-/tmp}/bo_bench_wait.out") (status|timed_out)"
q -c "SELECT batch_ops.batch_cancel($long)" >/dev/null
q -c "SELECT (batch_ops.batch_wait($long, '30 s')).status" >/dev/null
