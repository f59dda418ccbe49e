-- Each error of API.md section 8, with its SQLSTATE.
-- psql's LAST_ERROR_SQLSTATE shows the SQLSTATE of the error just raised.
-- malformed request: 22023
SELECT batch_ops.batch_execute('{"operation": "delete", "target_type": "letters", "target_ids": []}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- unknown target: 42704
SELECT batch_ops.batch_execute('{"operation": "delete", "target_type": "letterz", "target_ids": [1]}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- operation not supported for the target: 0A000, with a hint
SELECT batch_ops.batch_execute('{"operation": "archive", "target_type": "tags", "target_ids": ["pg"], "execution": "inline"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT batch_ops.batch_execute('{"operation": "status_update", "target_type": "tags", "target_ids": ["pg"],
    "operation_data": {"new_status": "x"}, "execution": "inline"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- batch does not exist: P0002
SELECT * FROM batch_ops.batch_status(999999);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT batch_ops.batch_result(999999);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- not allowed: 42501
SELECT max(id) AS some_batch FROM batch_ops.batch WHERE submitted_by = 'postgres'::regrole \gset
SET ROLE regress_bob;
SELECT * FROM batch_ops.batch_status(:some_batch);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
-- submission in a read-only transaction (as on a standby): 25006
BEGIN TRANSACTION READ ONLY;
SELECT batch_ops.batch_execute('{"operation": "delete", "target_type": "letters", "target_ids": [1], "execution": "inline"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
-- wrong state: 55000, here a schema the library does not know
UPDATE pg_extension SET extversion = '0.0.1' WHERE extname = 'batch_ops';
SELECT * FROM batch_ops.batch_status(1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE pg_extension SET extversion = '0.2.0' WHERE extname = 'batch_ops';
