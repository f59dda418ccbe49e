-- Sync security (issue 8): remote passwords for every role that is not a
-- superuser, one remote query per statement, syncs run as their owner,
-- actors of sync events, no probing of other roles' syncs and exports,
-- DETAIL kept in failure messages.

-- Like app.try, with the ids in the message masked (they depend on the order
-- of the tests).
CREATE FUNCTION app.try_masked(sql text) RETURNS text LANGUAGE sql
    AS $$ SELECT regexp_replace(app.try(sql), '(batch|export) \d+', '\1 N', 'g') $$;
GRANT EXECUTE ON FUNCTION app.try_masked(text) TO PUBLIC;

-- This server over its unix socket, as the superuser postgres (trust).
SELECT format('host=%s port=%s dbname=%s user=postgres',
              split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port'),
              current_database()) AS loopback \gset

-- 1. batch_ops_admin is no superuser: it too must give a password, and the
-- connection must use it. Otherwise an admin's sync could read pg_authid as
-- postgres over a trusted socket.
CREATE TABLE app.authid_copy (id integer PRIMARY KEY, who text);
GRANT SELECT, INSERT, UPDATE ON app.authid_copy TO regress_admin;
SET ROLE regress_admin;
SELECT batch_ops.create_sync('admin_authid', 'SELECT oid::integer AS id, rolpassword AS who FROM pg_authid',
    'app.authid_copy', jsonb_build_object('connection', :'loopback'));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- With a password in the string the definition is accepted; the trusted
-- socket does not ask for it, so the connection never uses it: the run raises.
SELECT batch_ops.create_sync('admin_authid', 'SELECT oid::integer AS id, rolpassword AS who FROM pg_authid',
    'app.authid_copy', jsonb_build_object('connection', :'loopback' || ' password=unused')) AS admin_sync \gset
SELECT batch_ops.batch_sync(:admin_sync);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT count(*) AS rows_read FROM app.authid_copy;
SELECT status FROM batch_ops.batch_status(:admin_sync);
-- A superuser's own sync needs no password (as dblink).
SELECT batch_ops.create_sync('su_authid', 'SELECT oid::integer AS id, rolname::text AS who FROM pg_authid',
    'app.authid_copy', jsonb_build_object('connection', :'loopback')) AS su_sync \gset
SELECT r->>'success' AS success, (r->>'records_synced')::integer > 0 AS rows_synced
  FROM batch_ops.batch_sync(:su_sync) AS r;

-- 2. No statement smuggling into a remote source. Our parser reads this
-- source as one SELECT of two string literals; a remote session with
-- standard_conforming_strings = off would read 'x\' AS id, $$' as one string
-- and run three statements, the second one ALTER ROLE.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regress_dba') THEN
        CREATE ROLE regress_dba NOLOGIN;
    END IF;
END
$$;
CREATE TABLE app.smuggled (id text PRIMARY KEY, y text);
SELECT batch_ops.create_sync('smuggler',
    $src$SELECT 'x\' AS id, $$' AS id) AS s LIMIT 0; ALTER ROLE regress_dba SUPERUSER; SELECT 1 --$$ AS y$src$,
    'app.smuggled',
    jsonb_build_object('connection', :'loopback' || ' options=''-c standard_conforming_strings=off''')) AS smuggler \gset
SELECT r->>'success' AS success, r->>'records_synced' AS records FROM batch_ops.batch_sync(:smuggler) AS r;
-- The remote server ran the one SELECT, read as our parser read it.
SELECT id, y FROM app.smuggled;
SELECT rolsuper AS dba_is_superuser FROM pg_roles WHERE rolname = 'regress_dba';
-- The remote session reads strings as our parser does, whatever the
-- connection string's options ask for: '\\' is two backslashes.
SELECT batch_ops.create_sync('escape_strings', $src$SELECT '\\' AS id, 'b' AS y$src$, 'app.smuggled',
    jsonb_build_object('connection', :'loopback' || ' options=''-c standard_conforming_strings=off''')) AS esc \gset
SELECT r->>'success' AS success FROM batch_ops.batch_sync(:esc) AS r;
SELECT id, y FROM app.smuggled ORDER BY id;

-- 3. A sync runs as its owner, in a security restricted operation, whoever
-- starts it. regress_alice's source calls a SECURITY INVOKER function that
-- records who runs it and tries to make her a superuser.
CREATE TABLE app.spy_src (id integer PRIMARY KEY);
INSERT INTO app.spy_src VALUES (1);
CREATE TABLE app.spy_dst (id integer PRIMARY KEY, n integer);
CREATE TABLE app.spy_log (seen text, escalated boolean);
GRANT SELECT ON app.spy_src TO regress_alice;
GRANT SELECT, INSERT, UPDATE ON app.spy_dst TO regress_alice;
GRANT INSERT ON app.spy_log TO PUBLIC;
CREATE FUNCTION app.spy() RETURNS integer LANGUAGE plpgsql SECURITY INVOKER AS $$
BEGIN
    BEGIN
        ALTER ROLE regress_alice SUPERUSER;
        INSERT INTO app.spy_log VALUES (current_user, true);
    EXCEPTION WHEN others THEN
        INSERT INTO app.spy_log VALUES (current_user, false);
    END;
    RETURN 1;
END $$;
ALTER FUNCTION app.spy() OWNER TO regress_alice;
SET ROLE regress_alice;
SELECT batch_ops.create_sync('alice_spy', 'SELECT id, app.spy() AS n FROM app.spy_src', 'app.spy_dst') AS spy \gset
RESET ROLE;
TRUNCATE app.spy_log;
-- A superuser runs it inline: the function runs as regress_alice.
SELECT r->>'success' AS success, r->>'records_synced' AS records FROM batch_ops.batch_sync(:spy) AS r;
SELECT seen, escalated FROM app.spy_log;
SELECT rolsuper AS alice_is_superuser FROM pg_roles WHERE rolname = 'regress_alice';
-- An admin runs it inline, then in the background: regress_alice again.
TRUNCATE app.spy_log;
UPDATE app.spy_dst SET n = 0;
SET ROLE regress_admin;
SELECT r->>'success' AS success, r->>'records_synced' AS records FROM batch_ops.batch_sync(:spy) AS r;
SELECT r->>'status' AS status FROM batch_ops.batch_sync(:spy, true) AS r;
RESET ROLE;
SELECT status FROM batch_ops.batch_wait(:spy, '60 s');
SELECT seen, escalated, count(*) FROM app.spy_log GROUP BY 1, 2;
SELECT rolsuper AS alice_is_superuser FROM pg_roles WHERE rolname = 'regress_alice';

-- 4. The actor of a sync's events is who started it: regress_admin inline
-- and for the queueing; the owner for the run in the background.
SELECT event, actor FROM batch_ops.batch_event WHERE batch_id = :spy ORDER BY id;

-- 5. Another role's batch answers 42501 for every batch function, syncs
-- included, and tells nothing more (not even whether it is a sync); another
-- role's export does not exist.
CREATE TABLE app.sec_items (id integer PRIMARY KEY, v text);
INSERT INTO app.sec_items VALUES (1, 'one');
SELECT batch_ops.register_target('sec_items', 'app.sec_items');
SELECT (batch_ops.batch_execute('{"operation": "export", "target_type": "sec_items", "target_ids": [1],
    "execution": "inline", "operation_data": {"export_format": "json"}}')->>'operation_id')::bigint AS export_batch \gset
SELECT id AS export_id FROM batch_ops.export WHERE batch_id = :export_batch \gset
SELECT max(id) + 1000 AS no_export FROM batch_ops.export \gset
SET ROLE regress_bob;
SELECT app.try_masked(format('SELECT batch_ops.batch_status(%s)', :export_batch)) AS operation_batch_status,
       app.try_masked(format('SELECT batch_ops.batch_statistics(%s)', :export_batch)) AS operation_batch_statistics,
       app.try_masked(format('SELECT batch_ops.batch_sync(%s)', :export_batch)) AS operation_batch_sync;
SELECT app.try_masked(format('SELECT batch_ops.batch_statistics(%s)', :su_sync)) AS sync_statistics,
       app.try_masked(format('SELECT batch_ops.batch_sync(%s)', :su_sync)) AS sync_run;
SELECT app.try_masked(format('SELECT batch_ops.export_data(%s)', :export_id)) AS another_roles_export,
       app.try_masked(format('SELECT batch_ops.export_data(%s)', :no_export)) AS no_such_export;
RESET ROLE;
SELECT batch_ops.export_data(:export_id) IS NOT NULL AS own_export_readable;
SET ROLE regress_admin;
SELECT batch_ops.export_data(:export_id) IS NOT NULL AS admin_reads_export;
RESET ROLE;

-- 6. A failed run keeps PostgreSQL's DETAIL, in the response, the run and
-- the batch.
CREATE TABLE app.detail_src (id integer PRIMARY KEY, n integer);
INSERT INTO app.detail_src VALUES (1, 5), (2, -5);
CREATE TABLE app.detail_dst (id integer PRIMARY KEY, n integer CHECK (n >= 0));
SELECT batch_ops.create_sync('detail', 'app.detail_src', 'app.detail_dst') AS detail \gset
SELECT r->>'success' AS success, r->>'message' AS message FROM batch_ops.batch_sync(:detail) AS r;
SELECT message FROM batch_ops.sync_run WHERE batch_id = :detail;
SELECT error_message FROM batch_ops.batch_status(:detail);
-- A remote error's DETAIL too.
CREATE FUNCTION app.fails_with_detail() RETURNS integer LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the source refuses' USING DETAIL = 'Some detail of the source.', ERRCODE = '22023';
END $$;
SELECT batch_ops.create_sync('detail_remote', 'SELECT id, app.fails_with_detail() AS n FROM app.detail_src',
    'app.detail_dst', jsonb_build_object('connection', :'loopback')) AS detail_remote \gset
SELECT r->>'success' AS success, r->>'message' AS message FROM batch_ops.batch_sync(:detail_remote) AS r;
