-- What users read back: batch_status, batch_result, the views, events,
-- large batches, idempotency, and transactions.

-- batch_result returns the response batch_execute returned.
SELECT batch_ops.batch_execute('{"operation": "status_update", "target_type": "letters",
    "target_ids": [15, 16, 995], "operation_data": {"new_status": "sent"}, "execution": "inline"}') AS r \gset
SELECT app.stable(:'r'::jsonb) = app.stable(batch_ops.batch_result((:'r'::jsonb->>'operation_id')::bigint))
    AS same_response;
SELECT job_id = (:'r'::jsonb->>'operation_id')::bigint AS same_id, status, progress, current_item,
       estimated_remaining, error_message, total, processed, success_count, failure_count, attempt
  FROM batch_ops.batch_status((:'r'::jsonb->>'operation_id')::bigint);
SELECT seq, target_id, status, error_code, message, attempts
  FROM batch_ops.job_items WHERE job_id = (:'r'::jsonb->>'operation_id')::bigint ORDER BY seq;
SELECT kind, operation, target_type, status, progress, total, processed, success_count, failure_count, attempt,
       submitted_by, finished_at >= started_at AS ordered, duration >= interval '0' AS has_duration,
       estimated_remaining, last_error_code, last_error
  FROM batch_ops.jobs WHERE job_id = (:'r'::jsonb->>'operation_id')::bigint;
SELECT event, actor, detail FROM batch_ops.batch_event
 WHERE batch_id = (:'r'::jsonb->>'operation_id')::bigint ORDER BY id;
-- Timestamps are ISO 8601 with a time zone; duration_ms is an integer.
SELECT (:'r'::jsonb->>'started_at') ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d(:\d\d)?$' AS iso_started,
       (:'r'::jsonb->>'completed_at') ~ '^\d{4}-\d\d-\d\dT' AS iso_completed,
       jsonb_typeof(:'r'::jsonb->'duration_ms') AS duration_type,
       (:'r'::jsonb->>'duration_ms') ~ '^\d+$' AS whole_ms;

-- More than 1,000 items: results list only the items that did not succeed.
CREATE TABLE app.many (id bigint PRIMARY KEY, state text NOT NULL DEFAULT 'new');
INSERT INTO app.many SELECT g FROM generate_series(1, 1200) AS g;
SELECT batch_ops.register_target('many', 'app.many', status_column => 'state');
SET batch_ops.max_items = 1500;
SELECT batch_ops.batch_execute(jsonb_build_object(
    'operation', 'status_update', 'target_type', 'many', 'execution', 'inline',
    'operation_data', jsonb_build_object('new_status', 'done'),
    'target_ids', (SELECT jsonb_agg(g ORDER BY g) FROM generate_series(3, 1202) AS g))) AS big \gset
SELECT :'big'::jsonb->'results' AS results, :'big'::jsonb->'results_truncated' AS truncated,
       :'big'::jsonb->'total_count' AS total, :'big'::jsonb->'success_count' AS succeeded;
SELECT count(*) AS items, count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
       min(seq) AS first_seq, max(seq) AS last_seq
  FROM batch_ops.job_items WHERE job_id = (:'big'::jsonb->>'operation_id')::bigint;
-- Stored compactly: one row per chunk of batch_ops.chunk_size items.
SELECT chunk, first_seq, cardinality(target_ids) AS ids, length(statuses) AS statuses
  FROM batch_ops.batch_item WHERE batch_id = (:'big'::jsonb->>'operation_id')::bigint ORDER BY chunk;
SELECT count(*) FILTER (WHERE state = 'done') AS done, count(*) FILTER (WHERE state = 'new') AS untouched
  FROM app.many;
RESET batch_ops.max_items;
-- Only superusers raise the limit.
SET ROLE regress_alice;
SET batch_ops.max_items = 5000;
RESET ROLE;

-- Idempotency: the same key from the same role returns the existing batch.
SELECT count(*) AS before FROM batch_ops.batch \gset
SELECT batch_ops.batch_execute('{"operation": "status_update", "target_type": "many", "target_ids": [1],
    "operation_data": {"new_status": "once"}, "execution": "inline", "idempotency_key": "order-42"}') AS first \gset
UPDATE app.many SET state = 'changed by hand' WHERE id = 1;
SELECT batch_ops.batch_execute('{"operation": "status_update", "target_type": "many", "target_ids": [1],
    "operation_data": {"new_status": "once"}, "execution": "inline", "idempotency_key": "order-42"}') AS second \gset
SELECT (:'first'::jsonb->'operation_id') = (:'second'::jsonb->'operation_id') AS same_batch,
       app.stable(:'first'::jsonb) = app.stable(:'second'::jsonb) AS same_response;
SELECT state FROM app.many WHERE id = 1;
SELECT count(*) - :before AS new_batches FROM batch_ops.batch;
-- The same key with another request body is an error.
SELECT app.try($$SELECT batch_ops.batch_execute('{"operation": "status_update", "target_type": "many",
    "target_ids": [2], "operation_data": {"new_status": "once"}, "execution": "inline",
    "idempotency_key": "order-42"}')$$);
-- Another role has its own keys.
GRANT SELECT, UPDATE ON app.many TO regress_alice;
SET ROLE regress_alice;
SELECT (batch_ops.batch_execute('{"operation": "status_update", "target_type": "many", "target_ids": [1],
    "operation_data": {"new_status": "once"}, "execution": "inline", "idempotency_key": "order-42"}')->'operation_id')
    <> (:'first'::jsonb->'operation_id') AS own_batch;
RESET ROLE;

-- An inline batch is part of the caller's transaction: a rollback undoes the
-- changes and the batch record alike.
SELECT count(*) AS before FROM batch_ops.batch \gset
BEGIN;
SELECT batch_ops.batch_execute('{"operation": "delete", "target_type": "many", "target_ids": [5, 6],
    "operation_data": {"soft_delete": false}, "execution": "inline"}')->'success_count' AS deleted;
ROLLBACK;
SELECT count(*) AS rows_kept FROM app.many WHERE id IN (5, 6);
SELECT count(*) - :before AS batches_kept FROM batch_ops.batch;

-- Counts add up for every batch that has ended.
SELECT count(*) AS inconsistent FROM batch_ops.batch
 WHERE status IN ('succeeded', 'failed', 'cancelled')
   AND (success_count + failure_count + skipped_count + cancelled_count <> total OR processed <> total);
SELECT count(*) AS item_mismatch
  FROM batch_ops.batch b
 WHERE b.total <> (SELECT count(*) FROM batch_ops.job_items i WHERE i.job_id = b.id);
