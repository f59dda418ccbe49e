-- Every status change goes through store::transition: the status, its event
-- (name, actor, detail) and its checks. The events each change writes, with
-- their details, and the sync transitions core::can_transition lists.
CREATE TABLE app.ev (id integer PRIMARY KEY, note text, CONSTRAINT no_bad CHECK (note IS DISTINCT FROM 'bad' OR id > 2));
INSERT INTO app.ev (id) SELECT g FROM generate_series(1, 4) AS g;
GRANT SELECT, UPDATE ON app.ev TO regress_alice;
SELECT batch_ops.register_target('ev', 'app.ev');
SET ROLE regress_alice;

-- An inline batch: submitted, then its final status with the counts, by the caller.
SELECT batch_ops.batch_execute('{"operation": "update", "target_type": "ev", "target_ids": [1, 3],
    "execution": "inline", "operation_data": {"fields": {"note": "bad"}}}')->>'operation_id' AS a \gset
SELECT status, last_error_code FROM batch_ops.jobs WHERE job_id = :a;
SELECT event, actor::text, detail FROM batch_ops.batch_event WHERE batch_id = :a ORDER BY id;

-- A background batch behind the failed one fails at once (UPSTREAM_FAILED),
-- its item skipped; the event names the upstream and no actor.
SELECT batch_ops.batch_execute(jsonb_build_object('operation', 'update', 'target_type', 'ev',
    'target_ids', jsonb_build_array(4), 'execution', 'background', 'depends_on', jsonb_build_array(:a),
    'operation_data', jsonb_build_object('fields', jsonb_build_object('note', 'after'))))->>'operation_id' AS d \gset
SELECT status, last_error_code FROM batch_ops.jobs WHERE job_id = :d;
SELECT target_id, status, error_code FROM batch_ops.job_items WHERE job_id = :d;
SELECT event, actor::text, detail - 'upstream' AS detail, (detail->>'upstream')::bigint = :a AS names_upstream
  FROM batch_ops.batch_event WHERE batch_id = :d ORDER BY id;

-- The cause goes; retrying the upstream re-queues it (retried, attempt 2)
-- and re-arms its dependent (re_armed, its attempt kept); both then run.
RESET ROLE;
ALTER TABLE app.ev DROP CONSTRAINT no_bad;
SET ROLE regress_alice;
-- In one transaction, so that no executor claims the batch between the retry
-- and the look at its status.
BEGIN;
SELECT batch_ops.batch_retry(:a);
SELECT job_id = :a AS is_a, status, attempt FROM batch_ops.jobs WHERE job_id IN (:a, :d) ORDER BY job_id;
COMMIT;
SELECT batch_id = :a AS is_a, event, actor::text, detail - 'by_batch' AS detail, (detail->>'by_batch')::bigint = :a AS by_a
  FROM batch_ops.batch_event WHERE batch_id IN (:a, :d) AND event IN ('retried', 're_armed') ORDER BY id;
SELECT (batch_ops.batch_wait(:a, '60 s')).status AS a, (batch_ops.batch_wait(:d, '60 s')).status AS d;
SELECT id, note FROM app.ev ORDER BY id;
RESET ROLE;

-- Syncs. created -> running -> succeeded inline: created, started and
-- synced, by the caller.
CREATE TABLE app.ev_src (id integer PRIMARY KEY, v integer);
CREATE TABLE app.ev_dst (id integer PRIMARY KEY, v integer);
INSERT INTO app.ev_src SELECT g, g FROM generate_series(1, 3) AS g;
GRANT SELECT ON app.ev_src TO regress_alice;
GRANT SELECT, INSERT, UPDATE ON app.ev_dst TO regress_alice;
SET ROLE regress_alice;
SELECT batch_ops.create_sync('ev_sync', 'app.ev_src', 'app.ev_dst') AS s \gset
SELECT (batch_ops.batch_sync(:s))->'records_synced' AS synced;
SELECT event, actor::text, detail FROM batch_ops.batch_event WHERE batch_id = :s ORDER BY id;

-- succeeded -> queued (batch_sync in the background) -> cancelled (batch_cancel
-- before it ran) -> running (a cancelled sync runs again) -> succeeded.
BEGIN;
SELECT (batch_ops.batch_sync(:s, true))->>'status' AS queued;
SELECT status FROM batch_ops.jobs WHERE job_id = :s;
SELECT batch_ops.batch_cancel(:s);
COMMIT;
SELECT status FROM batch_ops.jobs WHERE job_id = :s;
RESET ROLE;
INSERT INTO app.ev_src VALUES (4, 4);
SET ROLE regress_alice;
SELECT (batch_ops.batch_sync(:s))->'records_synced' AS synced;
SELECT status FROM batch_ops.jobs WHERE job_id = :s;
-- cancelled -> queued also: a cancelled sync is queued again, and runs.
BEGIN;
SELECT (batch_ops.batch_sync(:s, true))->>'status' AS queued;
SELECT batch_ops.batch_cancel(:s);
COMMIT;
RESET ROLE;
INSERT INTO app.ev_src VALUES (5, 5);
SET ROLE regress_alice;
SELECT (batch_ops.batch_sync(:s, true))->>'status' AS queued;
SELECT (batch_ops.batch_wait(:s, '60 s')).status;
SELECT count(*) AS rows FROM app.ev_dst;
SELECT event, actor::text FROM batch_ops.batch_event WHERE batch_id = :s ORDER BY id;
RESET ROLE;
SELECT batch_ops.drop_sync('ev_sync');
SELECT batch_ops.unregister_target('ev');
