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
