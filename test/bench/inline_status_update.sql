-- Benchmark (not a test): status_update of N random ids of a 1,000,000-row
-- table, inline through batch_execute, against the same work as
--   plain      UPDATE ... WHERE id = ANY($ids)
--   returning  the same with RETURNING id
--   loop       a PL/pgSQL loop with one BEGIN ... EXCEPTION block per id
-- Runs are interleaved (the order rotates each round) and every run starts
-- from a vacuumed table; bench_run() times the work alone, server side.
-- Driven by test/bench/run, which prints medians and ratios.
CREATE EXTENSION IF NOT EXISTS batch_ops;
CREATE SCHEMA IF NOT EXISTS bench;
DROP TABLE IF EXISTS bench.t;
SET client_min_messages = warning;
CREATE TABLE bench.t (id integer PRIMARY KEY, status text NOT NULL);
INSERT INTO bench.t SELECT g, 'new' FROM generate_series(1, 1000000) AS g;
SELECT batch_ops.register_target('bench', 'bench.t', status_column => 'status');

CREATE OR REPLACE FUNCTION bench.run(method text, ids integer[], new_status text) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
    request jsonb;
    t0 timestamptz;
    n bigint;
    i integer;
BEGIN
    IF method = 'batch_ops' THEN
        request := jsonb_build_object('operation', 'status_update', 'target_type', 'bench',
            'execution', 'inline', 'target_ids', to_jsonb(ids),
            'operation_data', jsonb_build_object('new_status', new_status));
        t0 := clock_timestamp();
        n := (batch_ops.batch_execute(request)->>'success_count')::bigint;
    ELSIF method = 'plain' THEN
        t0 := clock_timestamp();
        UPDATE bench.t SET status = new_status WHERE id = ANY (ids);
        GET DIAGNOSTICS n = ROW_COUNT;
    ELSIF method = 'returning' THEN
        t0 := clock_timestamp();
        WITH u AS (UPDATE bench.t SET status = new_status WHERE id = ANY (ids) RETURNING id)
        SELECT count(*) INTO n FROM u;
    ELSIF method = 'loop' THEN
        t0 := clock_timestamp();
        n := 0;
        FOREACH i IN ARRAY ids LOOP
            BEGIN
                UPDATE bench.t SET status = new_status WHERE id = i;
                IF FOUND THEN n := n + 1; END IF;
            EXCEPTION WHEN others THEN
                NULL;
            END;
        END LOOP;
    ELSE
        RAISE EXCEPTION 'unknown method %', method;
    END IF;
    IF n <> cardinality(ids) THEN
        RAISE EXCEPTION '% changed % rows, expected %', method, n, cardinality(ids);
    END IF;
    RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END $$;

CREATE TABLE IF NOT EXISTS bench.results (size integer, method text, round integer, ms float8);
TRUNCATE bench.results;
