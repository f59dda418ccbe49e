-- The glue of issue 8: a sync run switches to its owner's role (a security
-- restricted operation, search_path pg_catalog, pg_temp) inside a
-- subtransaction. When the run fails, by a PostgreSQL error or by one of
-- ours, the caller is back in its own role and settings for the rest of the
-- transaction, which goes on.
CREATE TABLE app.scope_src (id integer PRIMARY KEY, v integer);
CREATE TABLE app.scope_dst (id integer PRIMARY KEY, v integer);
INSERT INTO app.scope_src VALUES (1, 0), (2, 2);
GRANT SELECT, INSERT, UPDATE ON app.scope_src, app.scope_dst TO regress_bob;
SET ROLE regress_bob;
SELECT batch_ops.create_sync('scope_div', 'app.scope_src', 'app.scope_dst',
                             '{"columns": {"v": "10 / v"}}') AS s \gset
RESET ROLE;

BEGIN;
SET LOCAL search_path = app, public;
SET LOCAL work_mem = '1234kB';
-- 1. A PostgreSQL error in the load (division by zero).
SELECT r->>'success' AS success, r->>'message' AS message FROM batch_ops.batch_sync(:s) AS r;
SELECT current_user = session_user AS caller_again, current_setting('search_path') AS search_path,
       current_setting('work_mem') AS work_mem;
-- Not in a security restricted operation any more: a temporary table can be made.
CREATE TEMP TABLE scope_probe (x integer);
-- 2. An error of ours: the source table no longer resolves.
ALTER TABLE app.scope_src RENAME TO scope_src_gone;
SELECT r->>'success' AS success, r->>'message' AS message FROM batch_ops.batch_sync(:s) AS r;
SELECT current_user = session_user AS caller_again, current_setting('search_path') AS search_path;
INSERT INTO scope_probe VALUES (1);
-- 3. The transaction goes on: the source fixed, the run succeeds.
ALTER TABLE app.scope_src_gone RENAME TO scope_src;
UPDATE app.scope_src SET v = 5 WHERE id = 1;
SELECT r->>'success' AS success, r->>'records_synced' AS records FROM batch_ops.batch_sync(:s) AS r;
SELECT current_user = session_user AS caller_again, current_setting('search_path') AS search_path;
COMMIT;
SELECT id, v FROM app.scope_dst ORDER BY id;
SELECT success, records_synced, message FROM batch_ops.sync_run WHERE batch_id = :s ORDER BY id;
