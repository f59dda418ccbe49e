-- Background batches: the workers run them as the submitter, chunk by chunk.
CREATE TABLE app.bg (id integer PRIMARY KEY, status text NOT NULL DEFAULT 'new', owner name,
                     note text, deleted_at timestamptz, changed_by name);
CREATE TABLE app.bg_archive (LIKE app.bg, archived_at timestamptz, archive_reason text);
INSERT INTO app.bg (id, owner) SELECT g, 'regress_alice' FROM generate_series(1, 40) AS g;
GRANT SELECT, INSERT, UPDATE, DELETE ON app.bg, app.bg_archive TO regress_alice;
-- Records who changed a row: the submitter, as current_user.
CREATE FUNCTION app.bg_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.changed_by := current_user;
    RETURN NEW;
END $$;
CREATE TRIGGER bg_stamp BEFORE INSERT OR UPDATE ON app.bg FOR EACH ROW EXECUTE FUNCTION app.bg_stamp();
SELECT batch_ops.register_target('bg', 'app.bg', owner_column => 'owner', status_column => 'status',
                                 soft_delete_column => 'deleted_at', archive_relation => 'app.bg_archive');

SET ROLE regress_alice;
SELECT batch_ops.batch_execute('{"operation": "status_update", "target_type": "bg", "target_ids": [1, 2, 999],
    "operation_data": {"new_status": "done"}}') - 'created_at' - 'operation_id' AS response;
SELECT max(job_id) AS b1 FROM batch_ops.jobs \gset
SELECT batch_ops.batch_execute('{"operation": "update", "target_type": "bg", "target_ids": [3, 4],
    "operation_data": {"fields": {"note": "hello"}}}')->>'operation_id' AS b2 \gset
SELECT batch_ops.batch_execute('{"operation": "delete", "target_type": "bg", "target_ids": [5, 6]}')
    ->>'operation_id' AS b3 \gset
SELECT batch_ops.batch_execute('{"operation": "archive", "target_type": "bg", "target_ids": [7, 8],
    "operation_data": {"archive_reason": "old"}}')->>'operation_id' AS b4 \gset
SELECT batch_ops.batch_execute('{"operation": "export", "target_type": "bg", "target_ids": [9, 10],
    "operation_data": {"export_format": "csv", "include_fields": ["id", "status"]}}')->>'operation_id' AS b5 \gset
SELECT batch_ops.batch_execute('{"operation": "bulk_create", "target_type": "bg",
    "items": [{"id": 100}, {"id": 1}], "operation_data": {"continue_on_error": true}}')->>'operation_id' AS b6 \gset
SELECT (w).status, (w).total, (w).processed, (w).success_count, (w).failure_count
  FROM (SELECT batch_ops.batch_wait(b, '60 s') AS w
          FROM unnest(ARRAY[:b1, :b2, :b3, :b4, :b5, :b6]::bigint[]) WITH ORDINALITY AS t(b, n) ORDER BY n) AS s;
-- restore runs after the delete and the archive it undoes.
SELECT batch_ops.batch_execute('{"operation": "restore", "target_type": "bg", "target_ids": [5, 7, 11]}')
    ->>'operation_id' AS b7 \gset
SELECT (batch_ops.batch_wait(:b7, '60 s')).status;
SELECT job_id - :b1 + 1 AS n, seq, target_id, status, error_code, message, attempts
  FROM batch_ops.job_items WHERE job_id BETWEEN :b1 AND :b7 ORDER BY job_id, seq;
SELECT batch_ops.export_data((batch_ops.batch_result(:b5)->>'export_id')::bigint);
RESET ROLE;
-- The rows were changed by the submitter (current_user inside the worker).
SELECT id, status, note, deleted_at IS NOT NULL AS deleted, changed_by FROM app.bg
 WHERE id <= 11 OR id = 100 ORDER BY id;
SELECT id, archive_reason FROM app.bg_archive ORDER BY id;
-- Every batch recorded who submitted it and how it went.
SELECT operation, status, submitted_by, started_at >= created_at AS started_after_submission,
       finished_at >= started_at AS finished_after_start
  FROM batch_ops.jobs WHERE job_id BETWEEN :b1 AND :b7 ORDER BY job_id;

-- A submitter without the privilege: every item fails with PERMISSION_DENIED.
CREATE TABLE app.bg_locked (id integer PRIMARY KEY, v text);
INSERT INTO app.bg_locked VALUES (1, 'a'), (2, 'b');
SELECT batch_ops.register_target('bg_locked', 'app.bg_locked');
SET ROLE regress_alice;
SELECT batch_ops.batch_execute('{"operation": "update", "target_type": "bg_locked", "target_ids": [1, 2],
    "operation_data": {"fields": {"v": "z"}}}')->>'operation_id' AS b8 \gset
SELECT (batch_ops.batch_wait(:b8, '60 s')).status;
SELECT target_id, status, error_code, message FROM batch_ops.job_items WHERE job_id = :b8 ORDER BY seq;
RESET ROLE;
SELECT * FROM app.bg_locked ORDER BY id;

-- A dry run in the background keeps its results and changes nothing.
SELECT batch_ops.batch_execute('{"operation": "status_update", "target_type": "bg", "target_ids": [20, 21],
    "operation_data": {"new_status": "done"}, "dry_run": true, "execution": "background"}')->>'operation_id' AS b9 \gset
SELECT (batch_ops.batch_wait(:b9, '60 s')).status;
SELECT target_id, status, message FROM batch_ops.job_items WHERE job_id = :b9 ORDER BY seq;
SELECT id, status FROM app.bg WHERE id IN (20, 21) ORDER BY id;

-- Cancel: a queued batch is cancelled at once (here it is still in this
-- transaction, so no worker can have claimed it).
BEGIN;
SELECT batch_ops.batch_execute('{"operation": "status_update", "target_type": "bg", "target_ids": [30, 31],
    "operation_data": {"new_status": "done"}}')->>'operation_id' AS b10 \gset
SELECT batch_ops.batch_cancel(:b10) AS cancelled;
-- batch_wait refuses a batch submitted in its own open transaction.
SELECT * FROM batch_ops.batch_wait(:b10, '1 s');
ROLLBACK;
BEGIN;
SELECT batch_ops.batch_execute('{"operation": "status_update", "target_type": "bg", "target_ids": [30, 31],
    "operation_data": {"new_status": "done"}}')->>'operation_id' AS b10 \gset
SELECT batch_ops.batch_cancel(:b10) AS cancelled;
COMMIT;
SELECT status, processed, success_count, failure_count FROM batch_ops.batch_status(:b10);
SELECT target_id, status, error_code, message FROM batch_ops.job_items WHERE job_id = :b10 ORDER BY seq;
SELECT batch_ops.batch_cancel(:b10) AS cancel_again;
SELECT batch_ops.batch_cancel(:b1) AS cancel_ended;
SELECT id, status FROM app.bg WHERE id IN (30, 31) ORDER BY id;

-- A batch submitted in a transaction that rolls back never runs.
SELECT count(*) AS before FROM batch_ops.batch \gset
BEGIN;
SELECT batch_ops.batch_execute('{"operation": "status_update", "target_type": "bg", "target_ids": [32],
    "operation_data": {"new_status": "done"}}') IS NOT NULL AS submitted;
ROLLBACK;
SELECT count(*) - :before AS batches_kept FROM batch_ops.batch;
SELECT status FROM app.bg WHERE id = 32;

-- Health.
SELECT jsonb_object_keys(batch_ops.batch_health()) AS key ORDER BY 1;
SELECT h->>'status' AS status, h->'workers'->>'preloaded' AS preloaded, h->'workers'->>'launcher' AS launcher,
       h->'supported_operations' AS operations
  FROM batch_ops.batch_health() AS h;

-- Cleanup: admins only; removes ended batches with their items and events.
SET ROLE regress_alice;
SELECT batch_ops.batch_cleanup('0 seconds');
RESET ROLE;
SELECT batch_ops.batch_cleanup('1 day') AS removed_recent;
SELECT batch_ops.batch_cleanup('0 seconds') > 0 AS removed_all;
SELECT count(*) AS batches, (SELECT count(*) FROM batch_ops.batch_item) AS item_rows,
       (SELECT count(*) FROM batch_ops.batch_event) AS events
  FROM batch_ops.batch WHERE status IN ('succeeded', 'failed', 'cancelled');
