-- Retry (seed pages 000, 002, 004): one batch, many at once, and dependencies.
CREATE TABLE app.rt (id integer PRIMARY KEY, v integer NOT NULL DEFAULT 0, note text);
CREATE TABLE app.rt_applied (id integer, note text);
INSERT INTO app.rt (id) SELECT g FROM generate_series(1, 10) AS g;
-- Counts how often each item is applied.
CREATE FUNCTION app.rt_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO app.rt_applied VALUES (NEW.id, NEW.note);
    RETURN NEW;
END $$;
CREATE TRIGGER rt_count AFTER UPDATE ON app.rt FOR EACH ROW EXECUTE FUNCTION app.rt_count();
-- The cause of the failures, removed later: notes may not be set on row 3.
ALTER TABLE app.rt ADD CONSTRAINT not_on_three CHECK (id <> 3 OR note IS NULL);
SELECT batch_ops.register_target('rt', 'app.rt');

-- Seed 000, case 1: a failed batch is retried; batch_retry returns 1.
SELECT batch_ops.batch_execute('{"operation": "update", "target_type": "rt", "target_ids": [1, 2, 3, 4],
    "operation_data": {"fields": {"note": "a"}}}')->>'operation_id' AS a \gset
SELECT status, success_count, failure_count, attempt FROM batch_ops.batch_wait(:a, '60 s');
SELECT target_id, status, error_code FROM batch_ops.job_items WHERE job_id = :a ORDER BY seq;
ALTER TABLE app.rt DROP CONSTRAINT not_on_three;
SELECT batch_ops.batch_retry(:a);
SELECT attempt FROM batch_ops.batch_status(:a);
SELECT status, success_count, failure_count, attempt FROM batch_ops.batch_wait(:a, '60 s');
-- Succeeded items were not applied again: every id once.
SELECT id, count(*) AS applied FROM app.rt_applied WHERE note = 'a' GROUP BY id ORDER BY id;
SELECT target_id, status, attempts FROM batch_ops.job_items WHERE job_id = :a ORDER BY seq;
SELECT event, actor FROM batch_ops.batch_event WHERE batch_id = :a ORDER BY id;

-- Seed 000, case 2: only a failed batch may be retried (a succeeded one is not).
SELECT batch_ops.batch_retry(:a);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- A cancelled batch cannot be retried either.
BEGIN;
SELECT batch_ops.batch_execute('{"operation": "update", "target_type": "rt", "target_ids": [5],
    "operation_data": {"fields": {"note": "c"}}}')->>'operation_id' AS c \gset
SELECT batch_ops.batch_cancel(:c);
COMMIT;
SELECT batch_ops.batch_retry(:c);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Seed 000, case 3: a batch that does not exist.
SELECT batch_ops.batch_retry(987654);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Another role's batch.
SET ROLE regress_bob;
SELECT batch_ops.batch_retry(:a);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;

-- Seed 002: bulk retry answers each id once, and one bad id fails no other.
ALTER TABLE app.rt ADD CONSTRAINT not_on_seven CHECK (id <> 7 OR note IS NULL);
SELECT batch_ops.batch_execute('{"operation": "update", "target_type": "rt", "target_ids": [6, 7],
    "operation_data": {"fields": {"note": "b"}}}')->>'operation_id' AS b \gset
SELECT (batch_ops.batch_wait(:b, '60 s')).status;
ALTER TABLE app.rt DROP CONSTRAINT not_on_seven;
SELECT r.id = :b AS is_b, r.id = :a AS is_a, r.id = :c AS is_c, r.status, r.error_code, r.error_msg IS NOT NULL AS has_msg
  FROM batch_ops.batch_retry(ARRAY[:b, :a, 987654, :b, :c]) AS r;
SELECT status, success_count, attempt FROM batch_ops.batch_wait(:b, '60 s');

-- Seed 004: a three-level graph (top -> middle -> bottom) whose middle fails.
ALTER TABLE app.rt ADD CONSTRAINT not_on_nine CHECK (id <> 9 OR note IS NULL);
SELECT batch_ops.batch_execute('{"operation": "update", "target_type": "rt", "target_ids": [8],
    "operation_data": {"fields": {"note": "top"}}}')->>'operation_id' AS top \gset
SELECT batch_ops.batch_execute(jsonb_build_object('operation', 'update', 'target_type', 'rt',
    'target_ids', jsonb_build_array(9), 'depends_on', jsonb_build_array(:top),
    'operation_data', jsonb_build_object('fields', jsonb_build_object('note', 'middle'))))->>'operation_id' AS middle \gset
SELECT batch_ops.batch_execute(jsonb_build_object('operation', 'update', 'target_type', 'rt',
    'target_ids', jsonb_build_array(10), 'depends_on', jsonb_build_array(:middle),
    'operation_data', jsonb_build_object('fields', jsonb_build_object('note', 'bottom'))))->>'operation_id' AS bottom \gset
SELECT (batch_ops.batch_wait(:top, '60 s')).status AS top, (batch_ops.batch_wait(:middle, '60 s')).status AS middle,
       (batch_ops.batch_wait(:bottom, '60 s')).status AS bottom;
SELECT job_id = :bottom AS is_bottom, last_error_code, last_error IS NOT NULL AS has_error
  FROM batch_ops.jobs WHERE job_id IN (:middle, :bottom) ORDER BY job_id;
SELECT target_id, status, message IS NOT NULL AS has_message FROM batch_ops.job_items WHERE job_id = :bottom;
-- The bottom cannot be retried while its upstream is failed.
SELECT batch_ops.batch_retry(:bottom);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Fix the cause and retry the middle: the bottom is re-armed and runs after it.
ALTER TABLE app.rt DROP CONSTRAINT not_on_nine;
SELECT batch_ops.batch_retry(:middle);
SELECT (batch_ops.batch_wait(:middle, '60 s')).status AS middle, (batch_ops.batch_wait(:bottom, '60 s')).status AS bottom;
SELECT (SELECT finished_at FROM batch_ops.batch WHERE id = :top) < (SELECT finished_at FROM batch_ops.batch WHERE id = :middle)
       AND (SELECT finished_at FROM batch_ops.batch WHERE id = :middle) < (SELECT started_at FROM batch_ops.batch WHERE id = :bottom)
       AS in_order;
SELECT note, count(*) FROM app.rt_applied WHERE note IN ('top', 'middle', 'bottom') GROUP BY note ORDER BY note;
-- depends_on must name batches that exist and are the submitter's.
SET ROLE regress_alice;
SELECT app.try(format($$SELECT batch_ops.batch_execute('{"operation": "update", "target_type": "rt",
    "target_ids": [1], "operation_data": {"fields": {"v": 1}}, "depends_on": [%s]}')$$, :top));
RESET ROLE;
SELECT app.try($$SELECT batch_ops.batch_execute('{"operation": "update", "target_type": "rt",
    "target_ids": [1], "operation_data": {"fields": {"v": 1}}, "depends_on": [987654]}')$$);
-- An inline batch cannot wait for a dependency that has not succeeded.
SELECT app.try(format($$SELECT batch_ops.batch_execute('{"operation": "update", "target_type": "rt",
    "target_ids": [1], "operation_data": {"fields": {"v": 1}}, "execution": "inline", "depends_on": [%s]}')$$, :c));

-- A transient error (here a serialization failure raised by a trigger, once)
-- is retried automatically with backoff; the attempts show in the status
-- and the events.
ALTER SYSTEM SET batch_ops.retry_backoff = '20ms';
SELECT pg_reload_conf();
CREATE SEQUENCE app.flaky_calls;
CREATE FUNCTION app.flaky() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF nextval('app.flaky_calls') = 1 THEN
        RAISE EXCEPTION 'simulated serialization failure' USING ERRCODE = 'serialization_failure';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER flaky BEFORE UPDATE ON app.rt FOR EACH ROW WHEN (NEW.note = 'flaky') EXECUTE FUNCTION app.flaky();
SELECT batch_ops.batch_execute('{"operation": "update", "target_type": "rt", "target_ids": [4],
    "operation_data": {"fields": {"note": "flaky"}}, "max_attempts": 3}')->>'operation_id' AS f \gset
SELECT status, attempt, success_count FROM batch_ops.batch_wait(:f, '60 s');
SELECT event, detail->>'error_code' AS error_code, detail->>'attempt' AS attempt
  FROM batch_ops.batch_event WHERE batch_id = :f ORDER BY id;
ALTER SYSTEM RESET batch_ops.retry_backoff;
SELECT pg_reload_conf();
