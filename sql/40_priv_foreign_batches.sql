-- Privilege boundary 1 (API.md sections 9 and 12): another role's batches.
--
-- The attack: regress_bob (a batch_ops_user) knows or guesses the ids of
-- regress_alice's batches, exports and syncs, and tries every function on them
-- (batch_status, batch_result, batch_wait with and without a timeout,
-- batch_cancel, batch_retry(id), batch_retry(ids[]), export_data of her export,
-- batch_statistics and batch_sync of her sync, inline and in the background),
-- names them in depends_on, reuses her idempotency key, reads every view and
-- table of the extension (also with a leaky function in WHERE, which would see
-- rows before row level security filtered them if the policies were not
-- security barriers), and writes to the tables directly.
-- Expected: 42501 from status, result, wait, cancel, retry, batch_sync and
-- batch_statistics; PERMISSION_DENIED rows from batch_retry(ids[]); a refusal
-- from export_data (API.md does not pin its SQLSTATE: 42501 or P0002) that
-- carries none of the content; only his own rows in every view and table;
-- nothing of hers changes. An admin sees and reads all of it.

-- Errors with batch and export ids masked (ids depend on the tests before this one).
CREATE OR REPLACE FUNCTION app.p_try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN others THEN
    RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '\d+', 'N', 'g');
END $$;
GRANT EXECUTE ON FUNCTION app.p_try(text) TO PUBLIC;

CREATE TABLE app.p40 (id integer PRIMARY KEY, owner name, status text NOT NULL DEFAULT 'new', note text);
INSERT INTO app.p40 (id, owner, note)
SELECT g, CASE WHEN g <= 5 THEN 'regress_alice' ELSE 'regress_bob' END, 'alice-secret-' || g
  FROM generate_series(1, 10) AS g;
GRANT SELECT, INSERT, UPDATE, DELETE ON app.p40 TO regress_alice, regress_bob;
SELECT batch_ops.register_target('p40', 'app.p40', owner_column => 'owner', status_column => 'status');
CREATE TABLE app.p40_src (id integer PRIMARY KEY, note text);
INSERT INTO app.p40_src VALUES (1, 'alice-secret-src');
CREATE TABLE app.p40_dst (id integer PRIMARY KEY, note text);
GRANT SELECT ON app.p40_src TO regress_alice, regress_bob;
GRANT SELECT, INSERT, UPDATE, DELETE ON app.p40_dst TO regress_alice;

-- Alice's batches: succeeded, failed (row 6 is Bob's), an export, a sync that
-- ran, a sync that never ran (status created: a batch that has not ended).
SET ROLE regress_alice;
SELECT batch_ops.batch_execute('{"operation": "status_update", "target_type": "p40", "target_ids": [1, 2],
    "operation_data": {"new_status": "done"}, "execution": "inline", "idempotency_key": "alice-key"}')->>'operation_id' AS a_ok \gset
SELECT batch_ops.batch_execute('{"operation": "update", "target_type": "p40", "target_ids": [3, 6],
    "operation_data": {"fields": {"note": "changed"}}, "execution": "inline"}')->>'operation_id' AS a_failed \gset
SELECT r->>'operation_id' AS a_export, r->>'export_id' AS a_export_id
  FROM batch_ops.batch_execute('{"operation": "export", "target_type": "p40", "target_ids": [1, 4],
    "execution": "inline"}') AS r \gset
SELECT batch_ops.create_sync('p40_alice', 'app.p40_src', 'app.p40_dst') AS a_sync \gset
SELECT (batch_ops.batch_sync(:a_sync))->>'success' AS alice_sync_ran;
SELECT batch_ops.create_sync('p40_alice_idle', 'app.p40_src', 'app.p40_dst') AS a_idle \gset
SELECT status FROM batch_ops.jobs WHERE job_id IN (:a_ok, :a_failed, :a_export, :a_sync, :a_idle) ORDER BY job_id;
RESET ROLE;

-- What there is of Alice's before the attack (all of it, as the superuser sees it).
CREATE TEMP TABLE p40_alice_ids AS SELECT id FROM batch_ops.batch WHERE submitted_by = 'regress_alice'::regrole;
CREATE TEMP VIEW p40_alice_state AS
SELECT md5(string_agg(x, E'\n' ORDER BY x)) AS digest FROM (
    SELECT b::text AS x FROM batch_ops.batch b WHERE b.id IN (SELECT id FROM p40_alice_ids)
    UNION ALL SELECT i::text FROM batch_ops.batch_item i WHERE i.batch_id IN (SELECT id FROM p40_alice_ids)
    UNION ALL SELECT e::text FROM batch_ops.batch_event e WHERE e.batch_id IN (SELECT id FROM p40_alice_ids)
    UNION ALL SELECT x::text FROM batch_ops.export x WHERE x.batch_id IN (SELECT id FROM p40_alice_ids)
    UNION ALL SELECT s::text FROM batch_ops.sync s WHERE s.id IN (SELECT id FROM p40_alice_ids)
    UNION ALL SELECT r::text FROM batch_ops.sync_run r WHERE r.batch_id IN (SELECT id FROM p40_alice_ids)
    UNION ALL SELECT t::text FROM app.p40 t UNION ALL SELECT t::text FROM app.p40_dst t) AS s;
SELECT digest AS alice_before FROM p40_alice_state \gset

CREATE TABLE app.p40_others AS SELECT id FROM batch_ops.batch WHERE submitted_by <> 'regress_bob'::regrole;
GRANT SELECT ON app.p40_others TO regress_bob;

-- The attack, function by function, on each of her batches.
SET ROLE regress_bob;
SELECT f AS function, app.p_try(format(f, id)) AS result
  FROM unnest(ARRAY[:a_ok, :a_failed, :a_export, :a_sync, :a_idle]::bigint[]) AS id,
       unnest(ARRAY['SELECT batch_ops.batch_status(%s)',
                    'SELECT batch_ops.batch_result(%s)',
                    'SELECT batch_ops.batch_wait(%s)',
                    'SELECT batch_ops.batch_wait(%s, ''10 ms'')',
                    'SELECT batch_ops.batch_cancel(%s)',
                    'SELECT batch_ops.batch_retry(%s)',
                    'SELECT batch_ops.batch_statistics(%s)',
                    'SELECT batch_ops.batch_sync(%s)',
                    'SELECT batch_ops.batch_sync(%s, true)']) WITH ORDINALITY AS fs(f, n)
 GROUP BY f, n, app.p_try(format(f, id))
 ORDER BY n, 2;
-- The same refusal for every one of her batches, whatever its kind and status
-- (the error tells nothing about the batch but that it is not his).
SELECT count(DISTINCT app.p_try(format('SELECT batch_ops.batch_statistics(%s)', id))) AS statistics_answers,
       count(DISTINCT app.p_try(format('SELECT batch_ops.batch_sync(%s)', id))) AS sync_answers
  FROM unnest(ARRAY[:a_ok, :a_failed, :a_export, :a_sync, :a_idle]::bigint[]) AS id;
-- Many at once: one PERMISSION_DENIED row per id, nothing retried.
SELECT r.id = ANY (ARRAY[:a_ok, :a_failed, :a_export, :a_sync, :a_idle]::bigint[]) AS hers, r.status, r.error_code,
       regexp_replace(r.error_msg, '\d+', 'N', 'g') AS error_msg
  FROM batch_ops.batch_retry(ARRAY[:a_failed, :a_ok, :a_failed, :a_sync, :a_idle]::bigint[]) AS r;
-- Her export: refused (42501 or P0002, API.md does not pin which), and the
-- message carries none of its content.
SELECT CASE WHEN r ~ '^(42501|P0002): ' THEN 'refused' ELSE r END AS export_data,
       r LIKE '%alice-secret%' AS leaks_content
  FROM app.p_try(format('SELECT batch_ops.export_data(%s)', :a_export_id)) AS r;
-- Her batch as a dependency: as if it did not exist.
SELECT app.p_try(format('SELECT batch_ops.batch_execute(''{"operation": "status_update", "target_type": "p40",
    "target_ids": [7], "operation_data": {"new_status": "done"}, "depends_on": [%s]}'')', :a_ok)) AS depends_on_hers;
-- Her idempotency key is hers: his request with the same key makes his own batch.
SELECT (r->>'operation_id')::bigint <> :a_ok AS own_batch, r->>'status' AS status
  FROM batch_ops.batch_execute('{"operation": "status_update", "target_type": "p40", "target_ids": [1, 2],
    "operation_data": {"new_status": "done"}, "execution": "inline", "idempotency_key": "alice-key"}') AS r;
-- The views and tables show only his own rows (app.p40_others: every batch
-- that is not his, listed by the superuser).
SELECT 'jobs' AS relation, count(*) FILTER (WHERE job_id IN (:a_ok, :a_failed, :a_export, :a_sync, :a_idle)) AS hers,
       count(*) FILTER (WHERE job_id IN (SELECT id FROM app.p40_others)) AS not_his
  FROM batch_ops.jobs
UNION ALL SELECT 'job_items', count(*) FILTER (WHERE job_id IN (:a_ok, :a_failed, :a_export, :a_sync, :a_idle)),
       count(*) FILTER (WHERE job_id IN (SELECT id FROM app.p40_others)) FROM batch_ops.job_items
UNION ALL SELECT 'batch', count(*) FILTER (WHERE id IN (:a_ok, :a_failed, :a_export, :a_sync, :a_idle)),
       count(*) FILTER (WHERE id IN (SELECT id FROM app.p40_others)) FROM batch_ops.batch
UNION ALL SELECT 'batch_item', count(*) FILTER (WHERE batch_id IN (:a_ok, :a_failed, :a_export, :a_sync, :a_idle)),
       count(*) FILTER (WHERE batch_id IN (SELECT id FROM app.p40_others)) FROM batch_ops.batch_item
UNION ALL SELECT 'batch_event', count(*) FILTER (WHERE batch_id IN (:a_ok, :a_failed, :a_export, :a_sync, :a_idle)),
       count(*) FILTER (WHERE batch_id IN (SELECT id FROM app.p40_others)) FROM batch_ops.batch_event
UNION ALL SELECT 'export', count(*) FILTER (WHERE batch_id IN (:a_ok, :a_failed, :a_export, :a_sync, :a_idle)),
       count(*) FILTER (WHERE batch_id IN (SELECT id FROM app.p40_others) OR content LIKE '%alice-secret%')
  FROM batch_ops.export
UNION ALL SELECT 'sync', count(*) FILTER (WHERE id IN (:a_ok, :a_failed, :a_export, :a_sync, :a_idle)),
       count(*) FILTER (WHERE id IN (SELECT id FROM app.p40_others)) FROM batch_ops.sync
UNION ALL SELECT 'sync_run', count(*) FILTER (WHERE batch_id IN (:a_ok, :a_failed, :a_export, :a_sync, :a_idle)),
       count(*) FILTER (WHERE batch_id IN (SELECT id FROM app.p40_others)) FROM batch_ops.sync_run;
RESET ROLE;

-- A leaky function in WHERE sees only the rows the policies let through: it
-- writes every row it is shown into a table of Bob's.
CREATE TABLE app.p40_seen (relation text, batch_id bigint, row_text text);
GRANT INSERT ON app.p40_seen TO regress_bob;
CREATE FUNCTION app.p40_leak(relation text, batch_id bigint, row_text text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE COST 0.0001 AS $$
BEGIN
    INSERT INTO app.p40_seen VALUES (relation, batch_id, row_text);
    RETURN true;
END $$;
GRANT EXECUTE ON FUNCTION app.p40_leak(text, bigint, text) TO regress_bob;
SET ROLE regress_bob;
SELECT count(*) >= 0 AS done FROM batch_ops.batch t WHERE app.p40_leak('batch', t.id, t::text);
SELECT count(*) >= 0 AS done FROM batch_ops.batch_item t WHERE app.p40_leak('batch_item', t.batch_id, t::text);
SELECT count(*) >= 0 AS done FROM batch_ops.batch_event t WHERE app.p40_leak('batch_event', t.batch_id, t::text);
SELECT count(*) >= 0 AS done FROM batch_ops.export t WHERE app.p40_leak('export', t.batch_id, t::text);
SELECT count(*) >= 0 AS done FROM batch_ops.sync t WHERE app.p40_leak('sync', t.id, t::text);
SELECT count(*) >= 0 AS done FROM batch_ops.sync_run t WHERE app.p40_leak('sync_run', t.batch_id, t::text);
SELECT count(*) >= 0 AS done FROM batch_ops.jobs t WHERE app.p40_leak('jobs', t.job_id, t::text);
SELECT count(*) >= 0 AS done FROM batch_ops.job_items t WHERE app.p40_leak('job_items', t.job_id, t::text);
RESET ROLE;
SELECT count(*) > 0 AS leak_function_ran,
       count(*) FILTER (WHERE batch_id IN (SELECT id FROM p40_alice_ids) OR row_text ~ '(regress_alice|alice-secret)') AS rows_of_alice_seen
  FROM app.p40_seen;

-- Direct writes: refused by PostgreSQL (users have SELECT only).
SET ROLE regress_bob;
SELECT t AS relation, app.p_try(format('UPDATE batch_ops.%I SET batch_id = batch_id', t)) AS "update",
       app.p_try(format('DELETE FROM batch_ops.%I', t)) AS "delete",
       app.p_try(format('TRUNCATE batch_ops.%I', t)) AS "truncate"
  FROM unnest(ARRAY['batch_item', 'batch_event', 'export', 'sync_run']) AS t;
SELECT app.p_try('UPDATE batch_ops.batch SET status = ''succeeded''') AS update_batch,
       app.p_try('UPDATE batch_ops.sync SET created_by = ''regress_bob''') AS update_sync,
       app.p_try('INSERT INTO batch_ops.batch (operation, request, status, submitted_by) VALUES (''delete'', ''{}'', ''queued'', ''regress_alice'')') AS insert_batch,
       app.p_try('UPDATE batch_ops.jobs SET status = ''failed''') AS update_jobs;
RESET ROLE;

-- Nothing of Alice's changed.
SELECT digest = :'alice_before' AS alice_unchanged FROM p40_alice_state;

-- An admin reads, waits for and cancels any role's batch.
SET ROLE regress_admin;
SELECT status FROM batch_ops.batch_status(:a_ok);
SELECT (batch_ops.batch_result(:a_failed))->>'status' AS result_status;
SELECT (batch_ops.batch_wait(:a_export, '1 s')).status AS waited;
SELECT length(batch_ops.export_data(:a_export_id)) > 0 AS admin_reads_export;
SELECT (batch_ops.batch_statistics(:a_sync))->>'runs' AS runs;
SELECT count(*) FILTER (WHERE submitted_by = 'regress_alice') > 0 AS admin_sees_hers FROM batch_ops.jobs;
SELECT batch_ops.batch_cancel(:a_idle) AS admin_cancels_hers;
RESET ROLE;
