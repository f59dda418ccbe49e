-- Steering the queue (issue 10, item 3; API.md sections 3, 4 and 12): batch_pause and
-- batch_resume, not_before, targets paused and limited, batch_retry by error code, the
-- jobs view's new columns and a cancelled batch's progress.
CREATE TABLE app.st (id integer PRIMARY KEY, note text, v integer NOT NULL DEFAULT 0);
INSERT INTO app.st (id) SELECT g FROM generate_series(1, 100) AS g;
GRANT SELECT, UPDATE ON app.st TO regress_alice, regress_bob;
-- Each statement on app.st lasts app.st_delay seconds, and every change is logged
-- (to check that nothing is applied twice).
CREATE TABLE app.st_delay (d float8 NOT NULL);
INSERT INTO app.st_delay VALUES (0);
CREATE TABLE app.st_applied (id integer, note text, at timestamptz DEFAULT clock_timestamp());
GRANT SELECT ON app.st_delay TO regress_alice, regress_bob;
GRANT SELECT, INSERT ON app.st_applied TO regress_alice, regress_bob;
CREATE FUNCTION app.st_slow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.pg_sleep(d) FROM app.st_delay;
    RETURN NULL;
END $$;
CREATE FUNCTION app.st_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO app.st_applied (id, note) VALUES (NEW.id, NEW.note);
    RETURN NULL;
END $$;
CREATE TRIGGER st_slow AFTER UPDATE ON app.st FOR EACH STATEMENT EXECUTE FUNCTION app.st_slow();
CREATE TRIGGER st_log AFTER UPDATE ON app.st FOR EACH ROW EXECUTE FUNCTION app.st_log();
SELECT batch_ops.register_target('st', 'app.st');
-- Waits (up to 60 s) until batch ID satisfies COND (an expression over batch_ops.jobs j).
CREATE FUNCTION app.st_wait(id bigint, cond text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE ok boolean;
BEGIN
    FOR i IN 1..1200 LOOP
        EXECUTE format('SELECT %s FROM batch_ops.jobs j WHERE j.job_id = %s', cond, id) INTO ok;
        IF ok THEN RETURN true; END IF;
        PERFORM pg_catalog.pg_sleep(0.05);
    END LOOP;
    RETURN false;
END $$;
GRANT EXECUTE ON FUNCTION app.st_wait(bigint, text) TO PUBLIC;
-- Runs SQL; on an error, returns its SQLSTATE, message, detail and hint (batch ids masked).
CREATE FUNCTION app.st_try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text; det text; hnt text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN others THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL,
                            hnt = PG_EXCEPTION_HINT;
    RETURN regexp_replace(st || ': ' || msg || coalesce(E'\nDETAIL: ' || nullif(det, ''), '')
                          || coalesce(E'\nHINT: ' || nullif(hnt, ''), ''), '(batch |failures\()\d+', '\1N', 'g');
END $$;
GRANT EXECUTE ON FUNCTION app.st_try(text) TO PUBLIC;

-- The jobs view ends with the columns of the second release.
SELECT attnum, attname, format_type(atttypid, atttypmod)
  FROM pg_attribute WHERE attrelid = 'batch_ops.jobs'::regclass AND attnum > 19 ORDER BY attnum;
SELECT reloptions FROM pg_class WHERE oid = 'batch_ops.jobs'::regclass;

-- A paused target: its queued batches are not claimed (admin only).
SELECT batch_ops.pause_target('st');
SELECT paused, max_concurrency FROM batch_ops.target WHERE name = 'st';
SELECT app.st_try($$SELECT batch_ops.pause_target('nope')$$);
SET ROLE regress_alice;
SELECT app.st_try($$SELECT batch_ops.pause_target('st')$$);
SELECT app.st_try($$SELECT batch_ops.resume_target('st')$$);
SELECT batch_ops.batch_execute('{"operation": "update", "target_type": "st", "target_ids": [1, 2],
    "operation_data": {"fields": {"note": "p1"}}}')->>'operation_id' AS p1 \gset
SELECT pg_sleep(0.5);
SELECT status, paused, started_at IS NULL AS not_started FROM batch_ops.jobs WHERE job_id = :p1;

-- batch_pause of a queued batch: paused at once; not claimed once the target is resumed.
SELECT batch_ops.batch_pause(:p1);
SELECT batch_ops.batch_pause(:p1) AS again;
SELECT status, paused FROM batch_ops.batch_status(:p1);
RESET ROLE;
SELECT batch_ops.resume_target('st');
SELECT pg_sleep(0.5);
SELECT status, paused, started_at IS NULL AS not_started FROM batch_ops.jobs WHERE job_id = :p1;
-- Another role's batch, and one that does not exist.
SET ROLE regress_bob;
SELECT app.st_try(format('SELECT batch_ops.batch_pause(%s)', :p1));
SELECT app.st_try(format('SELECT batch_ops.batch_resume(%s)', :p1));
SELECT app.st_try('SELECT batch_ops.batch_pause(987654)');
SELECT app.st_try('SELECT batch_ops.batch_resume(987654)');
-- batch_resume: it runs.
SET ROLE regress_alice;
SELECT batch_ops.batch_resume(:p1);
SELECT status, success_count, paused FROM batch_ops.batch_wait(:p1, '60 s');
SELECT event, actor FROM batch_ops.batch_event WHERE batch_id = :p1 AND event NOT IN ('chunk') ORDER BY id;
-- An ended batch can be neither paused nor resumed.
SELECT batch_ops.batch_pause(:p1) AS pause_ended, batch_ops.batch_resume(:p1) AS resume_ended;
RESET ROLE;

-- batch_pause of a running batch: it stops at its next chunk boundary, back in the
-- queue, paused, with what it did kept; batch_resume runs the rest, nothing twice.
UPDATE app.st_delay SET d = 0.2;
SET ROLE regress_alice;
SET batch_ops.chunk_size = 2;
SELECT batch_ops.batch_execute('{"operation": "update", "target_type": "st",
    "target_ids": [11, 12, 13, 14, 15, 16, 17, 18, 19, 20],
    "operation_data": {"fields": {"note": "p2"}}}')->>'operation_id' AS p2 \gset
RESET batch_ops.chunk_size;
SELECT app.st_wait(:p2, 'j.status = ''running'' AND j.processed > 0') AS running;
SELECT batch_ops.batch_pause(:p2);
SELECT paused FROM batch_ops.jobs WHERE job_id = :p2;
SELECT app.st_wait(:p2, 'j.status = ''queued''') AS handed_back;
SELECT status, paused, processed > 0 AND processed < total AS part_done, worker_pid IS NULL AS no_worker
  FROM batch_ops.jobs WHERE job_id = :p2;
SELECT processed AS p2_done FROM batch_ops.jobs WHERE job_id = :p2 \gset
SELECT pg_sleep(0.5);
SELECT status, processed = :p2_done AS nothing_more FROM batch_ops.jobs WHERE job_id = :p2;
SELECT count(*) = :p2_done AS items_kept FROM batch_ops.job_items WHERE job_id = :p2 AND status = 'succeeded';
RESET ROLE;
UPDATE app.st_delay SET d = 0;
SET ROLE regress_alice;
SELECT batch_ops.batch_resume(:p2);
SELECT status, total, processed, success_count, paused FROM batch_ops.batch_wait(:p2, '60 s');
SELECT count(*) AS applied, count(DISTINCT id) AS distinct_ids FROM app.st_applied WHERE note = 'p2';
SELECT event FROM batch_ops.batch_event WHERE batch_id = :p2 AND event IN ('pause_requested', 'paused', 'resumed')
 ORDER BY id;
RESET ROLE;

-- not_before: a background batch is not claimed before then (an idle executor
-- sleeps no longer than until that moment).
SET ROLE regress_alice;
SELECT batch_ops.batch_execute(jsonb_build_object('operation', 'update', 'target_type', 'st',
    'target_ids', jsonb_build_array(21), 'operation_data', '{"fields": {"note": "nb"}}'::jsonb,
    'not_before', to_char(clock_timestamp() + interval '2 s', 'YYYY-MM-DD"T"HH24:MI:SS.USOF')))
    ->>'operation_id' AS nb \gset
SELECT status, not_before > created_at AS later FROM batch_ops.jobs WHERE job_id = :nb;
SELECT pg_sleep(0.5);
SELECT status FROM batch_ops.jobs WHERE job_id = :nb;
SELECT status FROM batch_ops.batch_wait(:nb, '60 s');
SELECT started_at >= not_before AS not_before_honoured, started_at < not_before + interval '4 s' AS soon_after
  FROM batch_ops.jobs WHERE job_id = :nb;
-- ISO 8601 only; background only.
SELECT app.st_try($$SELECT batch_ops.batch_execute('{"operation": "update", "target_type": "st",
    "target_ids": [21], "operation_data": {"fields": {"note": "x"}}, "not_before": "tomorrow"}')$$);
SELECT app.st_try($$SELECT batch_ops.batch_execute('{"operation": "update", "target_type": "st",
    "target_ids": [21], "operation_data": {"fields": {"note": "x"}}, "not_before": "2026-02-30T10:00:00Z"}')$$);
SELECT app.st_try($$SELECT batch_ops.batch_execute('{"operation": "update", "target_type": "st",
    "target_ids": [21], "operation_data": {"fields": {"note": "x"}}, "execution": "inline",
    "not_before": "2026-01-20T10:00:00Z"}')$$);
-- A time zone offset is honoured; without one, the session's TimeZone applies.
SET TimeZone = 'UTC';
BEGIN;
SELECT (batch_ops.batch_execute('{"operation": "update", "target_type": "st", "target_ids": [22],
    "operation_data": {"fields": {"note": "x"}}, "not_before": "2999-01-20T10:00:00+02:00"}')->>'operation_id')::bigint AS z1 \gset
SELECT (batch_ops.batch_execute('{"operation": "update", "target_type": "st", "target_ids": [22],
    "operation_data": {"fields": {"note": "x"}}, "not_before": "2999-01-20 10:00"}')->>'operation_id')::bigint AS z2 \gset
SELECT job_id = :z1 AS is_z1, not_before FROM batch_ops.jobs WHERE job_id IN (:z1, :z2) ORDER BY job_id;
ROLLBACK;
RESET TimeZone;
RESET ROLE;

-- A target's max_concurrency: at most that many of its batches run at once.
SELECT app.st_try($$SELECT batch_ops.set_target_limit('st', 0)$$);
SELECT app.st_try($$SELECT batch_ops.set_target_limit('nope', 1)$$);
SET ROLE regress_alice;
SELECT app.st_try($$SELECT batch_ops.set_target_limit('st', 1)$$);
RESET ROLE;
SELECT batch_ops.set_target_limit('st', 1);
SELECT max_concurrency FROM batch_ops.target WHERE name = 'st';
UPDATE app.st_delay SET d = 0.1;
SET ROLE regress_alice;
SET batch_ops.chunk_size = 1;
BEGIN;
SELECT count(batch_ops.batch_execute(jsonb_build_object('operation', 'update', 'target_type', 'st',
    'target_ids', jsonb_build_array(30 + g, 40 + g, 50 + g),
    'operation_data', jsonb_build_object('fields', jsonb_build_object('note', 'lim')))))
  FROM generate_series(1, 3) AS g;
COMMIT;
RESET batch_ops.chunk_size;
SELECT max(job_id) - 2 AS l1, max(job_id) AS l3 FROM batch_ops.jobs \gset
SELECT string_agg((w).status, ', ') FROM (SELECT batch_ops.batch_wait(g, '60 s') AS w
  FROM generate_series(:l1, :l3) AS g) s;
-- No two of them ran at the same time.
SELECT count(*) AS overlapping FROM batch_ops.jobs a, batch_ops.jobs b
 WHERE a.job_id BETWEEN :l1 AND :l3 AND b.job_id BETWEEN :l1 AND :l3 AND a.job_id < b.job_id
   AND a.started_at < b.finished_at AND b.started_at < a.finished_at;
RESET ROLE;
UPDATE app.st_delay SET d = 0;
SELECT batch_ops.set_target_limit('st', NULL);
SELECT max_concurrency FROM batch_ops.target WHERE name = 'st';
-- register_target again keeps the target's pause and limit.
SELECT batch_ops.set_target_limit('st', 3);
SELECT batch_ops.register_target('st', 'app.st');
SELECT paused, max_concurrency FROM batch_ops.target WHERE name = 'st';
SELECT batch_ops.set_target_limit('st', NULL);

-- batch_retry(id, error_codes): only the failed items with one of those codes run
-- again; the others keep their result.
ALTER TABLE app.st ADD CONSTRAINT st_not_two CHECK (id <> 2 OR note IS DISTINCT FROM 'rc');
SET ROLE regress_alice;
SELECT batch_ops.batch_execute('{"operation": "update", "target_type": "st", "target_ids": [1, 2, 999],
    "operation_data": {"fields": {"note": "rc"}}}')->>'operation_id' AS rc \gset
SELECT status, success_count, failure_count FROM batch_ops.batch_wait(:rc, '60 s');
SELECT seq, target_id, status, error_code FROM batch_ops.job_items WHERE job_id = :rc ORDER BY seq;
SELECT app.st_try(format('SELECT batch_ops.batch_retry(%s, ARRAY[''LOCK_TIMEOUT''])', :rc));
SELECT app.st_try(format('SELECT batch_ops.batch_retry(%s, ARRAY[''LOCK_TIMEOUT'', ''VALIDATION_FAILED''])', :rc));
SELECT app.st_try(format('SELECT batch_ops.batch_retry(%s, ARRAY[]::text[])', :rc));
SELECT app.st_try(format('SELECT batch_ops.batch_retry(%s, ARRAY[NULL]::text[])', :rc));
-- Nothing changed.
SELECT status, attempt FROM batch_ops.jobs WHERE job_id = :rc;
RESET ROLE;
ALTER TABLE app.st DROP CONSTRAINT st_not_two;
SET ROLE regress_alice;
SELECT batch_ops.batch_retry(:rc, ARRAY['CONSTRAINT_VIOLATION']);
SELECT status, attempt, total, processed, success_count, failure_count FROM batch_ops.batch_wait(:rc, '60 s');
SELECT seq, target_id, status, error_code, attempts FROM batch_ops.job_items WHERE job_id = :rc ORDER BY seq;
SELECT count(*) AS applied FROM app.st_applied WHERE note = 'rc';
-- Without codes (the one-argument call, as before): every failed item.
SELECT batch_ops.batch_retry(:rc);
SELECT status, attempt, failure_count FROM batch_ops.batch_wait(:rc, '60 s');
SELECT detail->>'requeued_items' AS requeued FROM batch_ops.batch_event WHERE batch_id = :rc AND event = 'retried'
 ORDER BY id;
RESET ROLE;
-- batch_retry(bigint, text[]) replaced batch_retry(bigint): still granted to users, with
-- its search_path pinned and a comment; batch_retry(bigint[]) is still there.
SELECT p.oid::regprocedure, pg_get_function_arguments(p.oid), p.proconfig, p.proisstrict,
       has_function_privilege('batch_ops_user', p.oid, 'EXECUTE') AS users,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public,
       obj_description(p.oid, 'pg_proc') IS NOT NULL AS commented
  FROM pg_proc p WHERE p.pronamespace = 'batch_ops'::regnamespace AND p.proname = 'batch_retry' ORDER BY 1::text;
SELECT p.oid::regprocedure, p.proconfig,
       has_function_privilege('batch_ops_user', p.oid, 'EXECUTE') AS users,
       has_function_privilege('batch_ops_admin', p.oid, 'EXECUTE') AS admins,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public
  FROM pg_proc p WHERE p.pronamespace = 'batch_ops'::regnamespace
   AND p.proname IN ('batch_pause', 'batch_resume', 'pause_target', 'resume_target', 'set_target_limit')
 ORDER BY 1::text;

-- A cancelled batch: its progress is what was processed; batch_resume queues its
-- cancelled items again.
SELECT batch_ops.pause_target('st');
SET ROLE regress_alice;
SELECT batch_ops.batch_execute('{"operation": "update", "target_type": "st", "target_ids": [61, 62, 63],
    "operation_data": {"fields": {"note": "cr"}}}')->>'operation_id' AS cr \gset
SELECT batch_ops.batch_cancel(:cr);
SELECT status, progress, processed, cancelled_count FROM batch_ops.jobs WHERE job_id = :cr;
SELECT progress FROM batch_ops.batch_status(:cr);
SELECT batch_ops.batch_resume(:cr);
SELECT status, progress, processed, cancelled_count, paused FROM batch_ops.jobs WHERE job_id = :cr;
SELECT status, count(*) FROM batch_ops.job_items WHERE job_id = :cr GROUP BY status;
RESET ROLE;
SELECT batch_ops.resume_target('st');
SET ROLE regress_alice;
SELECT status, success_count, cancelled_count FROM batch_ops.batch_wait(:cr, '60 s');
SELECT event, detail->>'requeued_items' AS requeued FROM batch_ops.batch_event WHERE batch_id = :cr
   AND event IN ('cancelled', 'resumed', 'succeeded') ORDER BY id;
-- It has ended (succeeded): there is nothing to resume.
SELECT batch_ops.batch_resume(:cr);
RESET ROLE;

-- The UPSTREAM_FAILED cascade over a chain is one status change for all its
-- batches: each dependent's event names the batch it was reached through.
-- batch_resume of the cancelled head re-arms the chain, each batch's event
-- with its own count of items.
SELECT batch_ops.pause_target('st');
SET ROLE regress_alice;
SELECT batch_ops.batch_execute('{"operation": "update", "target_type": "st", "target_ids": [71],
    "operation_data": {"fields": {"note": "ch"}}}')->>'operation_id' AS ch_a \gset
SELECT batch_ops.batch_execute(jsonb_build_object('operation', 'update', 'target_type', 'st',
    'target_ids', jsonb_build_array(72, 73), 'depends_on', jsonb_build_array(:ch_a),
    'operation_data', jsonb_build_object('fields', jsonb_build_object('note', 'ch'))))->>'operation_id' AS ch_b \gset
SELECT batch_ops.batch_execute(jsonb_build_object('operation', 'update', 'target_type', 'st',
    'target_ids', jsonb_build_array(74, 75, 76), 'depends_on', jsonb_build_array(:ch_b),
    'operation_data', jsonb_build_object('fields', jsonb_build_object('note', 'ch'))))->>'operation_id' AS ch_c \gset
SELECT batch_ops.batch_cancel(:ch_a);
SELECT job_id - :ch_a AS n, status, skipped_count FROM batch_ops.jobs WHERE job_id IN (:ch_a, :ch_b, :ch_c) ORDER BY 1;
SELECT batch_id - :ch_a AS n, event, (detail->>'upstream')::bigint - :ch_a AS upstream
  FROM batch_ops.batch_event WHERE batch_id IN (:ch_b, :ch_c) AND event = 'failed' ORDER BY batch_id;
SELECT batch_ops.batch_resume(:ch_a);
SELECT batch_id - :ch_a AS n, event, detail->>'requeued_items' AS requeued, (detail->>'by_batch')::bigint - :ch_a AS by_batch
  FROM batch_ops.batch_event WHERE batch_id IN (:ch_a, :ch_b, :ch_c) AND event IN ('resumed', 're_armed') ORDER BY batch_id;
SELECT job_id - :ch_a AS n, status, processed, skipped_count FROM batch_ops.jobs WHERE job_id IN (:ch_a, :ch_b, :ch_c) ORDER BY 1;
RESET ROLE;
SELECT batch_ops.resume_target('st');
SET ROLE regress_alice;
SELECT status, success_count FROM batch_ops.batch_wait(:ch_c, '60 s');
SELECT id, note FROM app.st WHERE id BETWEEN 71 AND 76 ORDER BY id;
RESET ROLE;
