-- batch_ops 0.1.0 -> 0.2.0 (the second release). CREATE EXTENSION batch_ops runs
-- batch_ops--0.1.0.sql and then this file; ALTER EXTENSION batch_ops UPDATE runs this
-- file alone. Sections are grouped by what they fix or add.
\echo Use "ALTER EXTENSION batch_ops UPDATE TO '0.2.0'" to load this file. \quit

-- ---------------------------------------------------------------------------
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
