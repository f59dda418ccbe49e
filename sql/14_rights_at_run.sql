-- Issue 8, defects 1b and 6: what a batch may do is fixed when it is submitted and
-- checked again when it runs. A user's soft delete fails; an admin registers the target
-- again without its soft-delete column; the user retries. Before: the worker crashed
-- (signal 11, three times) or, after the crash was fixed, hard-deleted the row.
-- Now the retried batch fails with a clear error and the row is kept.
CREATE TABLE app.sd (id integer PRIMARY KEY, deleted_at timestamptz, note text);
INSERT INTO app.sd (id) SELECT g FROM generate_series(1, 3) AS g;
GRANT SELECT, UPDATE, DELETE ON app.sd TO regress_alice;
-- Row 2 refuses to be soft-deleted while app.sd_block has a row.
CREATE TABLE app.sd_block (on_id integer);
GRANT SELECT ON app.sd_block TO PUBLIC;
INSERT INTO app.sd_block VALUES (2);
CREATE FUNCTION app.sd_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM app.sd_block b WHERE b.on_id = NEW.id) THEN
        RAISE EXCEPTION 'row % is blocked', NEW.id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER sd_refuse BEFORE UPDATE ON app.sd FOR EACH ROW EXECUTE FUNCTION app.sd_refuse();
SELECT batch_ops.register_target('sd', 'app.sd', soft_delete_column => 'deleted_at');

SET ROLE regress_alice;
SELECT batch_ops.batch_execute('{"operation": "delete", "target_type": "sd", "target_ids": [1, 2]}')->>'operation_id' AS d \gset
-- The decision is recorded with the batch.
SELECT request->'operation_data' AS recorded FROM batch_ops.batch WHERE id = :d;
SELECT status, success_count, failure_count FROM batch_ops.batch_wait(:d, '60 s');
RESET ROLE;

-- The admin registers the target again, without the soft-delete column.
DELETE FROM app.sd_block;
SELECT batch_ops.unregister_target('sd');
SELECT batch_ops.register_target('sd', 'app.sd');

SET ROLE regress_alice;
SELECT batch_ops.batch_retry(:d);
SELECT status, failure_count, error_message FROM batch_ops.batch_wait(:d, '60 s');
RESET ROLE;
SELECT last_error_code, last_error FROM batch_ops.batch WHERE id = :d;
-- Row 2 is still there (not hard-deleted); row 1 was soft-deleted by the first run.
SELECT id, deleted_at IS NOT NULL AS soft_deleted FROM app.sd ORDER BY id;

-- The same request submitted now, by a user, is a hard delete: refused (42501).
SET ROLE regress_alice;
SELECT batch_ops.batch_execute('{"operation": "delete", "target_type": "sd", "target_ids": [2]}');
RESET ROLE;
-- An admin's hard delete is checked again when it runs: the admin loses the role in the
-- transaction that submits it, so the worker refuses it (42501) and the row is kept.
BEGIN;
SET ROLE regress_admin;
SELECT batch_ops.batch_execute('{"operation": "delete", "target_type": "sd", "target_ids": [3],
    "execution": "background"}')->>'operation_id' AS h \gset
RESET ROLE;
SELECT request->'operation_data' AS recorded FROM batch_ops.batch WHERE id = :h;
REVOKE batch_ops_admin FROM regress_admin;
COMMIT;
SELECT status, error_message FROM batch_ops.batch_wait(:h, '60 s');
SELECT last_error_code FROM batch_ops.batch WHERE id = :h;
SELECT count(*) AS row_3_kept FROM app.sd WHERE id = 3;
GRANT batch_ops_admin TO regress_admin;
