-- batch_ops 0.1.0 -> 0.2.0 (the second release). CREATE EXTENSION batch_ops runs
-- batch_ops--0.1.0.sql and then this file; ALTER EXTENSION batch_ops UPDATE runs this
-- file alone. Sections are grouped by what they fix or add.
\echo Use "ALTER EXTENSION batch_ops UPDATE TO '0.2.0'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- Issue 8, install and schema: every SQL function pins its search_path
-- (API.md section 9).
--
-- The first release's SQL functions took the caller's search_path. A SQL
-- function without SET is inlined into the query that calls it and its body
-- is parsed there, so an operator that needs no cast on a schema earlier in
-- the reader's search_path won over pg_catalog's: with alice./(float8,
-- integer) visible, a reader of batch_ops.jobs ran alice's function with its
-- own privileges. With SET the body always sees pg_catalog first (pg_temp is
-- never searched for functions or operators) and is no longer inlined; every
-- name in it is qualified as well. sql/01_install.sql checks that no SQL
-- function of the extension lacks it; sql/12_hijack.sql replays the attack.
CREATE OR REPLACE FUNCTION batch_ops.is_admin() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT pg_catalog.pg_has_role(CURRENT_USER, 'batch_ops_admin', 'USAGE') $$;

CREATE OR REPLACE FUNCTION batch_ops._estimated_remaining(status text, started_at timestamptz, processed integer, total integer)
    RETURNS interval LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT CASE
        WHEN status OPERATOR(pg_catalog.=) ANY ('{succeeded,failed,cancelled}'::pg_catalog.text[])
            THEN '0'::pg_catalog.interval
        WHEN status OPERATOR(pg_catalog.=) ANY ('{running,cancelling}'::pg_catalog.text[])
             AND processed OPERATOR(pg_catalog.>) 0 AND started_at IS NOT NULL
            THEN pg_catalog.date_trunc('millisecond',
                 (pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) started_at)
                 OPERATOR(pg_catalog.*) ((total OPERATOR(pg_catalog.-) processed)::pg_catalog.float8
                                         OPERATOR(pg_catalog./) processed::pg_catalog.float8))
        ELSE NULL
    END
    $$;

-- The policies call is_admin() once per query (an InitPlan) rather than once
-- per row, now that it is no longer inlined.
ALTER POLICY own_batches ON batch_ops.batch
    USING (submitted_by OPERATOR(pg_catalog.=) current_user::regrole OR (SELECT batch_ops.is_admin()));
ALTER POLICY own_syncs ON batch_ops.sync
    USING (created_by OPERATOR(pg_catalog.=) current_user::regrole OR (SELECT batch_ops.is_admin()));

-- The C functions that run no code of the caller's (no inline batch, sync
-- or filter) pin it too, so that nothing they run internally as the caller
-- can resolve a name to a schema of the caller's search_path. batch_execute,
-- batch_validate, create_sync and batch_sync keep the caller's search_path:
-- inline work on the target runs as the caller, with its search_path
-- (docs/reference.md, Functions); their own statements are schema-qualified
-- and run as the owner of the extension's tables with a pinned search_path.
ALTER FUNCTION batch_ops.register_target(text, regclass, name, name, name, name, regclass, text[], name[], jsonb)
    SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION batch_ops.unregister_target(text) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION batch_ops.batch_status(bigint) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION batch_ops.batch_result(bigint) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION batch_ops.batch_wait(bigint, interval) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION batch_ops.batch_cancel(bigint) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION batch_ops.batch_retry(bigint) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION batch_ops.batch_retry(bigint[]) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION batch_ops.batch_statistics(bigint) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION batch_ops.batch_health() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION batch_ops.batch_cleanup(interval) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION batch_ops.export_data(bigint) SET search_path = pg_catalog, pg_temp;

-- ---------------------------------------------------------------------------
-- Issue 10, psql that reads well: a description of every object, so that
-- \dx+ batch_ops, \d+ and \df+ explain themselves. (sql/13_comments.sql checks
-- that every member of the extension has one and a reference entry.)
-- ---------------------------------------------------------------------------
COMMENT ON SCHEMA batch_ops IS
    'batch_ops: batch operations on registered tables, run inline or by background workers, with per-item results';
COMMENT ON TYPE batch_ops.batch_state IS
    'status of a batch: created (a sync not yet run), queued, running, cancelling, succeeded, failed, cancelled';
COMMENT ON TYPE batch_ops.item_state IS
    'status of an item: pending, succeeded, failed, skipped (upstream failed), cancelled';
COMMENT ON TYPE batch_ops.job_status IS
    'the record batch_status() and batch_wait() return';

COMMENT ON TABLE batch_ops.target IS
    'registered targets: a table batches may act on, with its key, owner, status and soft-delete columns (admin: register_target)';
COMMENT ON COLUMN batch_ops.target.name IS 'the name requests use as "target_type"';
COMMENT ON COLUMN batch_ops.target.relation IS 'the table';
COMMENT ON COLUMN batch_ops.target.key_column IS 'the unique column that "target_ids" name';
COMMENT ON COLUMN batch_ops.target.owner_column IS 'a role name per row: users act on their own rows only';
COMMENT ON COLUMN batch_ops.target.status_column IS 'the column status_update changes';
COMMENT ON COLUMN batch_ops.target.soft_delete_column IS 'timestamptz or boolean column a soft delete sets';
COMMENT ON COLUMN batch_ops.target.archive_relation IS 'where archive moves rows (restore moves them back)';
COMMENT ON COLUMN batch_ops.target.allowed_statuses IS 'the statuses status_update may set (NULL: any)';
COMMENT ON COLUMN batch_ops.target.updatable_columns IS 'the columns update may set (NULL: all but the key and the owner)';
COMMENT ON COLUMN batch_ops.target.status_transitions IS '{"from": ["to", ...]}: allowed status changes (NULL: any)';

COMMENT ON TABLE batch_ops.batch IS
    'one row per batch: its request, status, counts, attempts and last error (users see their own)';
COMMENT ON COLUMN batch_ops.batch.kind IS 'operation, or sync (a sync batch, see batch_ops.sync)';
COMMENT ON COLUMN batch_ops.batch.operation IS 'delete, update, status_update, export, archive, restore, bulk_create or sync';
COMMENT ON COLUMN batch_ops.batch.request IS 'the request as submitted, with what was decided then (a delete records whether it is soft)';
COMMENT ON COLUMN batch_ops.batch.status IS 'queued, running, cancelling, succeeded, failed, cancelled (created: a sync not yet run)';
COMMENT ON COLUMN batch_ops.batch.execution IS 'inline (ran in the caller''s transaction) or background (run by the workers)';
COMMENT ON COLUMN batch_ops.batch.dry_run IS 'true: nothing was changed; the results say what would have happened';
COMMENT ON COLUMN batch_ops.batch.priority IS 'higher runs first among the submitter''s own batches';
COMMENT ON COLUMN batch_ops.batch.depends_on IS 'batches that must succeed before this one runs';
COMMENT ON COLUMN batch_ops.batch.submitted_by IS 'the role the batch runs as';
COMMENT ON COLUMN batch_ops.batch.processed IS 'items that reached a final state';
COMMENT ON COLUMN batch_ops.batch.attempt IS 'the run: 1, then + 1 per retry (batch_retry or automatic)';
COMMENT ON COLUMN batch_ops.batch.max_attempts IS 'automatic attempts after transient errors (serialization failure, deadlock, lock not available)';
COMMENT ON COLUMN batch_ops.batch.automatic_attempts IS 'automatic attempts made in the current run';
COMMENT ON COLUMN batch_ops.batch.next_attempt_at IS 'while backing off after a transient error: when it runs again';
COMMENT ON COLUMN batch_ops.batch.last_error IS 'why the batch failed (cleared when it succeeds)';
COMMENT ON COLUMN batch_ops.batch.last_error_code IS 'the item code or SQLSTATE of last_error';
COMMENT ON COLUMN batch_ops.batch.current_item IS 'the last target id of the latest committed chunk';
COMMENT ON COLUMN batch_ops.batch.worker_pid IS 'the executor running the batch (pg_stat_activity.pid)';
COMMENT ON COLUMN batch_ops.batch.idempotency_key IS 'the same key from the same role returns this batch instead of a new one';

COMMENT ON TABLE batch_ops.batch_item IS
    'item results, one row per chunk (read them per item through batch_ops.job_items)';
COMMENT ON TABLE batch_ops.batch_event IS
    'history of every batch: submitted, started, chunk, succeeded, failed, retried, cancelled, synced ...';
COMMENT ON COLUMN batch_ops.batch_event.actor IS 'the role that caused the event';
COMMENT ON TABLE batch_ops.export IS
    'export results (download with batch_ops.export_data(id))';
COMMENT ON TABLE batch_ops.sync IS
    'sync definitions (create_sync): a source query or table, the target, options';
COMMENT ON COLUMN batch_ops.sync.source IS 'a table or view name, or one SELECT; with options.connection, on a remote server';
COMMENT ON COLUMN batch_ops.sync.created_by IS 'the owner: the sync always runs as this role';
COMMENT ON COLUMN batch_ops.sync.watermark IS 'incremental syncs: the last committed watermark value';
COMMENT ON TABLE batch_ops.sync_run IS
    'one row per execution of a sync: when, success, rows inserted, updated and deleted';

COMMENT ON VIEW batch_ops.jobs IS
    'batches with progress, duration and estimated time remaining (a user sees its own)';
COMMENT ON VIEW batch_ops.job_items IS
    'every item of every batch with its status, error code, message and attempts (a user sees its own)';

COMMENT ON FUNCTION batch_ops.is_admin() IS
    'true when the current role is a superuser or a member of batch_ops_admin';
COMMENT ON FUNCTION batch_ops._estimated_remaining(text, timestamptz, integer, integer) IS
    'internal: the estimated time left of a running batch, from its rate so far';
COMMENT ON FUNCTION batch_ops.register_target(text, regclass, name, name, name, name, regclass, text[], name[], jsonb) IS
    'admin: make a table a target that batches may act on';
COMMENT ON FUNCTION batch_ops.unregister_target(text) IS
    'admin: remove a target (its batches stay)';
COMMENT ON FUNCTION batch_ops.batch_execute(jsonb) IS
    'submit a batch: runs inline or is queued for the workers; returns the response';
COMMENT ON FUNCTION batch_ops.batch_validate(jsonb) IS
    'dry run of a request: what would happen to each item; nothing changed, nothing kept';
COMMENT ON FUNCTION batch_ops.batch_status(bigint) IS
    'status, progress and counts of a batch';
COMMENT ON FUNCTION batch_ops.batch_result(bigint) IS
    'the response of a batch, with its per-item results, at any time';
COMMENT ON FUNCTION batch_ops.batch_wait(bigint, interval) IS
    'wait until a batch ends or the timeout passes; returns what batch_status returns';
COMMENT ON FUNCTION batch_ops.batch_cancel(bigint) IS
    'cancel a batch: queued ones at once, a running one at once with its chunk in flight rolled back';
COMMENT ON FUNCTION batch_ops.batch_retry(bigint) IS
    'run a failed batch again: only its failed and skipped items; its dependents are re-armed';
COMMENT ON FUNCTION batch_ops.batch_retry(bigint[]) IS
    'retry many batches; one row per id, never fails as a whole for one bad id';
COMMENT ON FUNCTION batch_ops.create_sync(text, text, regclass, jsonb) IS
    'define a sync from a table, view or query (local or remote) into a table';
COMMENT ON FUNCTION batch_ops.batch_sync(bigint, boolean) IS
    'run a sync now (inline), or queue it for the workers (background = true)';
COMMENT ON FUNCTION batch_ops.batch_statistics(bigint) IS
    'runs, successes, failures, records synced and average duration of a sync';
COMMENT ON FUNCTION batch_ops.batch_health() IS
    'workers, active and queued batches, supported operations and targets';
COMMENT ON FUNCTION batch_ops.batch_cleanup(interval) IS
    'admin: delete batches that ended before now() - older_than, with their items, events and exports';
COMMENT ON FUNCTION batch_ops.export_data(bigint) IS
    'download an export (its id is in the response of the export batch)';
COMMENT ON SEQUENCE batch_ops.batch_id_seq IS 'batch ids (identity of batch_ops.batch.id)';
COMMENT ON SEQUENCE batch_ops.batch_event_id_seq IS 'event ids (identity of batch_ops.batch_event.id)';
COMMENT ON SEQUENCE batch_ops.export_id_seq IS 'export ids (identity of batch_ops.export.id)';
COMMENT ON SEQUENCE batch_ops.sync_run_id_seq IS 'sync run ids (identity of batch_ops.sync_run.id)';

-- ---------------------------------------------------------------------------
-- Issue 10: failures(id), syncs by name (batch_sync(name), drop_sync(name)).
-- ---------------------------------------------------------------------------
CREATE FUNCTION batch_ops.failures(id bigint)
    RETURNS TABLE (seq integer, target_id text, error_code text, message text, attempts integer)
    LANGUAGE plpgsql STABLE STRICT
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    -- The batch exists and is the caller's (or the caller is an admin): else P0002 / 42501.
    PERFORM batch_ops.batch_status(failures.id);
    RETURN QUERY
        SELECT i.seq, i.target_id, i.error_code, i.message, i.attempts
          FROM batch_ops.job_items AS i
         WHERE i.job_id OPERATOR(pg_catalog.=) failures.id
           AND i.status OPERATOR(pg_catalog.=) 'failed'::batch_ops.item_state
         ORDER BY i.seq;
END
$$;
COMMENT ON FUNCTION batch_ops.failures(bigint) IS
    'the failed items of a batch, with their error code, message and attempts';

CREATE FUNCTION batch_ops.batch_sync(name text, background boolean DEFAULT false)
    RETURNS jsonb
    LANGUAGE plpgsql VOLATILE STRICT
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    sync_id bigint;
BEGIN
    -- Row level security shows the caller its own syncs (an admin all of them).
    SELECT s.id INTO sync_id FROM batch_ops.sync AS s WHERE s.name OPERATOR(pg_catalog.=) batch_sync.name;
    IF sync_id IS NULL THEN
        RAISE EXCEPTION 'sync "%" does not exist', batch_sync.name
            USING ERRCODE = 'no_data_found',
                  HINT = 'The syncs you may run are listed in batch_ops.sync.';
    END IF;
    RETURN batch_ops.batch_sync(sync_id, batch_sync.background);
END
$$;
COMMENT ON FUNCTION batch_ops.batch_sync(text, boolean) IS
    'run a sync by its name now (inline), or queue it for the workers (background = true)';

CREATE FUNCTION batch_ops.drop_sync(name text)
    RETURNS void
    AS 'MODULE_PATHNAME', 'batch_ops_drop_sync' LANGUAGE C STRICT VOLATILE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION batch_ops.drop_sync(text) IS
    'its owner or an admin: remove a sync definition (its batch, runs and events stay until cleanup)';

REVOKE ALL ON FUNCTION batch_ops.failures(bigint), batch_ops.batch_sync(text, boolean),
    batch_ops.drop_sync(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION batch_ops.failures(bigint), batch_ops.batch_sync(text, boolean),
    batch_ops.drop_sync(text) TO batch_ops_user;
-- Issue 8: background workers (liveness, batch_cancel, batch_wait, crashes).
-- ---------------------------------------------------------------------------

-- A cancel request for a batch whose chunk is in flight. batch_cancel never
-- waits for the executor, which holds the batch row's lock while a chunk runs:
-- it records the request here (the foreign key takes only KEY SHARE on the
-- batch row, which does not conflict with that lock) and interrupts the
-- chunk. The executor cancels the batch; the row goes when the batch ends.
CREATE TABLE batch_ops.batch_cancel_request (
    batch_id     bigint PRIMARY KEY REFERENCES batch_ops.batch (id) ON DELETE CASCADE,
    requested_by regrole NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
REVOKE ALL ON batch_ops.batch_cancel_request FROM PUBLIC;
-- Not granted to anyone; row level security without a policy all the same.
ALTER TABLE batch_ops.batch_cancel_request ENABLE ROW LEVEL SECURITY;
COMMENT ON TABLE batch_ops.batch_cancel_request IS
    'batch_cancel requests not yet carried out by an executor (internal)';

-- Whether a batch is paused (API.md section 12; false until batches can be paused).
ALTER TABLE batch_ops.batch ADD COLUMN IF NOT EXISTS paused boolean NOT NULL DEFAULT false;

-- The record of batch_status() and batch_wait() gains, at its end (API.md
-- section 12): skipped_count, cancelled_count, dry_run, paused, and timed_out
-- (batch_wait returned because its timeout passed; false from batch_status).
ALTER TYPE batch_ops.job_status
    ADD ATTRIBUTE skipped_count integer,
    ADD ATTRIBUTE cancelled_count integer,
    ADD ATTRIBUTE dry_run boolean,
    ADD ATTRIBUTE paused boolean,
    ADD ATTRIBUTE timed_out boolean;

-- ---------------------------------------------------------------------------
-- Issue 10, items 4 to 6: target_filter (no schema change: the filter and the
-- ids it selected are kept in batch.request), exports written to files, and
-- errors that teach.
-- ---------------------------------------------------------------------------

-- The lines of an export, without their line ends, in order: psql writes
-- them back byte for byte with
--   SELECT * FROM batch_ops.export_lines(7) \g (format=unaligned tuples_only=on) out.csv
-- (each row followed by a newline; the file then has exactly the bytes of
-- export_data(7), every document ending with a line end). \copy is not the
-- tool: COPY's text format escapes backslashes, tabs and carriage returns.
-- export_data does the checks (P0002 for a missing or another role's export,
-- 55000 while its batch runs).
CREATE FUNCTION batch_ops.export_lines(export_id bigint)
    RETURNS SETOF text
    LANGUAGE sql STABLE STRICT
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT l.line
      FROM (SELECT pg_catalog.string_to_array(batch_ops.export_data(export_lines.export_id), E'\n') AS a) AS d,
           pg_catalog.unnest(d.a) WITH ORDINALITY AS l(line, n)
     -- the empty string after the last line end is no line
     WHERE NOT (l.n OPERATOR(pg_catalog.=) pg_catalog.cardinality(d.a) AND l.line OPERATOR(pg_catalog.=) '')
     ORDER BY l.n
    $$;
COMMENT ON FUNCTION batch_ops.export_lines(bigint) IS
    'the lines of an export in order, for psql to write a byte-exact file: SELECT * FROM batch_ops.export_lines(id) \g (format=unaligned tuples_only=on) file';
REVOKE ALL ON FUNCTION batch_ops.export_lines(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION batch_ops.export_lines(bigint) TO batch_ops_user;

-- The admin functions are executable by batch_ops_user too: each checks that
-- its caller is an admin and otherwise raises 42501 with a hint to ask for
-- batch_ops_admin, which PostgreSQL's own "permission denied for function"
-- cannot carry. A role that is no batch_ops_user still gets PostgreSQL's error.
GRANT EXECUTE ON FUNCTION
    batch_ops.register_target(text, regclass, name, name, name, name, regclass, text[], name[], jsonb),
    batch_ops.unregister_target(text),
    batch_ops.batch_cleanup(interval)
    TO batch_ops_user;

-- ---------------------------------------------------------------------------
-- Issue 8, defect 12c: the key column's type, recorded at registration.
-- ---------------------------------------------------------------------------

-- Every statement of a batch is built under the lock it takes on the table,
-- after the table's columns are read again; a key column whose type no
-- longer reads ids as the registered one did (integer became text, say)
-- fails the batch's items with 42804 (never 42883) until the target is
-- registered again. Targets registered before 0.2.0 take
-- the type their key column has now.
ALTER TABLE batch_ops.target ADD COLUMN IF NOT EXISTS key_type regtype;
UPDATE batch_ops.target t
   SET key_type = a.atttypid
  FROM pg_catalog.pg_attribute a
 WHERE a.attrelid OPERATOR(pg_catalog.=) t.relation
   AND a.attname OPERATOR(pg_catalog.=) t.key_column
   AND NOT a.attisdropped
   AND t.key_type IS NULL;
COMMENT ON COLUMN batch_ops.target.key_type IS
    'the key column''s type when the target was registered (a change to another kind of type fails batches until it is registered again)';

-- ---------------------------------------------------------------------------
-- Issues 9 and 10: fairness between roles, and steering the queue (pause and
-- resume, not_before, targets paused or limited, retry by error code).
-- ---------------------------------------------------------------------------

-- Fairness (API.md section 6): between submitting roles with queued work the
-- executors take turns. A claim takes the roles with ready batches in turn
-- order (fewest batches running, then served least recently: this table),
-- one batch each, round after round; priority orders a role's own batches. An
-- executor running long batches takes on another role's waiting batch
-- between its chunks (src/workers/README.md, "Taking turns").
CREATE TABLE batch_ops.submitter_turn (
    submitter regrole PRIMARY KEY,
    served_at timestamptz NOT NULL
);
REVOKE ALL ON batch_ops.submitter_turn FROM PUBLIC;
-- Internal: not granted to anyone; row level security without a policy all the same.
ALTER TABLE batch_ops.submitter_turn ENABLE ROW LEVEL SECURITY;
COMMENT ON TABLE batch_ops.submitter_turn IS
    'when the workers last claimed a batch of each submitting role: the least recently served role goes first (internal)';

-- The queue per role, in claiming order: the claim finds the roles with
-- queued batches by skipping through it (one probe per role) and takes each
-- one's best batches. It replaces batch_queue_idx (the queue as a whole).
CREATE INDEX batch_role_queue_idx ON batch_ops.batch (submitted_by, priority DESC, id) WHERE status = 'queued';
DROP INDEX batch_ops.batch_queue_idx;

-- not_before (API.md section 4): a background batch is not claimed before
-- this time.
ALTER TABLE batch_ops.batch ADD COLUMN not_before timestamptz;
COMMENT ON COLUMN batch_ops.batch.not_before IS
    'not claimed before this time (request key "not_before")';
COMMENT ON COLUMN batch_ops.batch.paused IS
    'paused by batch_pause: not claimed until batch_resume (a running batch stops at its next chunk boundary)';

-- batch_pause of a batch whose row an executor holds (a chunk in flight, or a
-- claim): the request waits here (its foreign key takes only KEY SHARE on the
-- batch row, as batch_cancel_request does) and the executor hands the batch
-- back at its next chunk boundary. batch_resume removes it.
CREATE TABLE batch_ops.batch_pause_request (
    batch_id     bigint PRIMARY KEY REFERENCES batch_ops.batch (id) ON DELETE CASCADE,
    requested_by regrole NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
REVOKE ALL ON batch_ops.batch_pause_request FROM PUBLIC;
GRANT SELECT ON batch_ops.batch_pause_request TO batch_ops_user;
ALTER TABLE batch_ops.batch_pause_request ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_pause_requests ON batch_ops.batch_pause_request FOR SELECT
    USING (batch_id IN (SELECT b.id FROM batch_ops.batch b));
COMMENT ON TABLE batch_ops.batch_pause_request IS
    'batch_pause requests of running batches not yet carried out by their executor (a user sees its own)';

-- Targets an admin paused (their queued batches are not claimed) or limited
-- (at most max_concurrency of their batches running at once).
ALTER TABLE batch_ops.target ADD COLUMN paused boolean NOT NULL DEFAULT false;
ALTER TABLE batch_ops.target ADD COLUMN max_concurrency integer CHECK (max_concurrency > 0);
COMMENT ON COLUMN batch_ops.target.paused IS
    'paused by pause_target: its queued batches are not claimed until resume_target';
COMMENT ON COLUMN batch_ops.target.max_concurrency IS
    'at most this many batches of the target run at once (NULL: no limit; set_target_limit)';

-- The jobs view gains, at its end (API.md section 12): skipped_count,
-- cancelled_count, dry_run, priority, paused (also while a pause request
-- waits for the batch's executor), not_before, next_attempt_at and
-- worker_pid. A cancelled batch's progress is what was processed before the
-- cancel, not 100 %.
CREATE OR REPLACE VIEW batch_ops.jobs WITH (security_invoker = true) AS
SELECT b.id AS job_id,
       b.kind,
       b.operation,
       b.target_type,
       b.status::text AS status,
       CASE WHEN b.status = 'cancelled' AND b.total > 0
                THEN pg_catalog.round(100.0 * (b.processed - b.cancelled_count) / b.total, 2)
            WHEN b.status = 'cancelled' THEN 0.00
            WHEN b.total > 0 THEN pg_catalog.round(100.0 * b.processed / b.total, 2)
            WHEN b.status IN ('succeeded', 'failed') THEN 100.00
            ELSE 0.00 END::numeric(5,2) AS progress,
       b.total,
       b.processed,
       b.success_count,
       b.failure_count,
       b.attempt,
       b.submitted_by::text AS submitted_by,
       b.created_at,
       b.started_at,
       b.finished_at,
       b.finished_at - b.started_at AS duration,
       batch_ops._estimated_remaining(b.status::text, b.started_at, b.processed, b.total) AS estimated_remaining,
       b.last_error_code,
       b.last_error,
       b.skipped_count,
       b.cancelled_count,
       b.dry_run,
       b.priority,
       b.paused OR EXISTS (SELECT 1 FROM batch_ops.batch_pause_request p WHERE p.batch_id = b.id) AS paused,
       b.not_before,
       b.next_attempt_at,
       b.worker_pid
  FROM batch_ops.batch b;
COMMENT ON COLUMN batch_ops.jobs.progress IS
    'percent of the items processed (a cancelled batch: those processed before the cancel)';
COMMENT ON COLUMN batch_ops.jobs.paused IS
    'paused by batch_pause (a running batch: until its executor reaches the next chunk boundary, then queued)';

-- Steering (API.md section 3).
CREATE FUNCTION batch_ops.batch_pause(id bigint)
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'batch_ops_batch_pause' LANGUAGE C STRICT VOLATILE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION batch_ops.batch_pause(bigint) IS
    'pause a batch: not claimed until batch_resume; a running one stops at its next chunk boundary; nothing is lost';

CREATE FUNCTION batch_ops.batch_resume(id bigint)
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'batch_ops_batch_resume' LANGUAGE C STRICT VOLATILE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION batch_ops.batch_resume(bigint) IS
    'resume a paused batch; a cancelled batch has its cancelled items queued again';

CREATE FUNCTION batch_ops.pause_target(name text)
    RETURNS void
    AS 'MODULE_PATHNAME', 'batch_ops_pause_target' LANGUAGE C STRICT VOLATILE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION batch_ops.pause_target(text) IS
    'admin: the queued batches of a target are not claimed until resume_target (running ones go on)';

CREATE FUNCTION batch_ops.resume_target(name text)
    RETURNS void
    AS 'MODULE_PATHNAME', 'batch_ops_resume_target' LANGUAGE C STRICT VOLATILE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION batch_ops.resume_target(text) IS
    'admin: the batches of a paused target are claimed again';

CREATE FUNCTION batch_ops.set_target_limit(name text, max_concurrency integer)
    RETURNS void
    AS 'MODULE_PATHNAME', 'batch_ops_set_target_limit' LANGUAGE C CALLED ON NULL INPUT VOLATILE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION batch_ops.set_target_limit(text, integer) IS
    'admin: at most max_concurrency batches of the target run at once (NULL: no limit)';

REVOKE ALL ON FUNCTION batch_ops.batch_pause(bigint), batch_ops.batch_resume(bigint),
    batch_ops.pause_target(text), batch_ops.resume_target(text), batch_ops.set_target_limit(text, integer)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION batch_ops.batch_pause(bigint), batch_ops.batch_resume(bigint) TO batch_ops_user;
GRANT EXECUTE ON FUNCTION batch_ops.pause_target(text), batch_ops.resume_target(text),
    batch_ops.set_target_limit(text, integer) TO batch_ops_admin;

-- batch_retry(id, error_codes text[] DEFAULT NULL) replaces batch_retry(id):
-- with error_codes, only the failed items with one of those codes run again.
-- Both cannot exist side by side (a call with one argument would be
-- ambiguous), so the old one is dropped; the new one gets its privileges
-- (the extension's, and any a DBA granted since), its pinned search_path and
-- a comment.
DO $retry$
DECLARE
    acl pg_catalog.aclitem[];
    g record;
BEGIN
    SELECT p.proacl INTO acl FROM pg_catalog.pg_proc p
     WHERE p.oid OPERATOR(pg_catalog.=) 'batch_ops.batch_retry(bigint)'::pg_catalog.regprocedure;
    DROP FUNCTION batch_ops.batch_retry(bigint);
    CREATE FUNCTION batch_ops.batch_retry(id bigint, error_codes text[] DEFAULT NULL)
        RETURNS integer
        AS 'MODULE_PATHNAME', 'batch_ops_batch_retry' LANGUAGE C CALLED ON NULL INPUT VOLATILE
        SET search_path = pg_catalog, pg_temp;
    REVOKE ALL ON FUNCTION batch_ops.batch_retry(bigint, text[]) FROM PUBLIC;
    FOR g IN SELECT a.grantee, a.is_grantable
               FROM pg_catalog.aclexplode(acl) AS a
              WHERE a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
                AND a.grantee OPERATOR(pg_catalog.<>) a.grantor
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION batch_ops.batch_retry(bigint, text[]) TO %s%s',
                                  CASE WHEN g.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                                       -- regrole's output is quoted where needed
                                       ELSE g.grantee::pg_catalog.regrole::pg_catalog.text END,
                                  CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
END
$retry$;
GRANT EXECUTE ON FUNCTION batch_ops.batch_retry(bigint, text[]) TO batch_ops_user;
COMMENT ON FUNCTION batch_ops.batch_retry(bigint, text[]) IS
    'run a failed batch again: only its failed and skipped items (with error_codes: only those with one of these codes); its dependents are re-armed';
