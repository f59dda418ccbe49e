-- Privilege boundary 3 (API.md sections 6 and 9): the submitter's triggers and
-- functions run as the submitter, inline and in the background; the worker
-- never lends its superuser rights.
--
-- The attack: regress_bob owns the functions of his table app.p42: a column
-- default, a CHECK constraint, a row level security policy and triggers. The
-- statement trigger tries, in the background, to get out of his role and to
-- use the superuser session of the executor: SET ROLE / RESET ROLE /
-- set_config('role') / SET SESSION AUTHORIZATION, reading server files,
-- pg_authid, COPY TO PROGRAM, ALTER ROLE ... SUPERUSER, a temporary table,
-- terminating the executor, calling the admin-only batch_cleanup, reading
-- other roles' batches. Each attempt runs in its own subtransaction and is
-- logged with its outcome, with current_user and session_user.
-- Expected: in the background current_user is regress_bob in every function
-- (session_user is the executor's own role, the bootstrap superuser: documented),
-- and every attempt fails (42501); inline the same functions run as the caller.

CREATE SCHEMA p42_bob AUTHORIZATION regress_bob;
GRANT USAGE ON SCHEMA p42_bob TO PUBLIC;
CREATE TABLE app.p42_log (n bigserial, phase text, what text, cur name, sess_is_bootstrap boolean, outcome text);
-- The launcher's pid, for the trigger to try to terminate it.
CREATE TABLE app.p42_pids AS SELECT pid AS launcher FROM pg_stat_activity WHERE backend_type = 'batch_ops launcher';
GRANT SELECT ON app.p42_pids TO PUBLIC;
GRANT SELECT, INSERT ON app.p42_log TO PUBLIC;
GRANT USAGE ON SEQUENCE app.p42_log_n_seq TO PUBLIC;

SET ROLE regress_bob;
-- The background is where session_user is not current_user (inline runs in a
-- session of Bob's own, below).
CREATE FUNCTION p42_bob.log(what text, outcome text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO app.p42_log (phase, what, cur, sess_is_bootstrap, outcome)
    VALUES (CASE WHEN session_user <> current_user THEN 'background' ELSE 'inline' END,
            what, current_user, session_user = (SELECT rolname FROM pg_catalog.pg_roles
                                                                       WHERE oid = 10), outcome);
    RETURN true;
END $$;
CREATE FUNCTION p42_bob.stamp() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM p42_bob.log('column default', 'ran');
    RETURN current_user;
END $$;
CREATE FUNCTION p42_bob.check_ok(id integer) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    RETURN p42_bob.log('check constraint', 'ran');
END $$;
CREATE FUNCTION p42_bob.policy_ok() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    RETURN p42_bob.log('policy', 'ran');
END $$;
CREATE FUNCTION p42_bob.row_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM p42_bob.log('row trigger', 'ran');
    RETURN NEW;
END $$;
-- Each attempt in its own subtransaction; its outcome is ok or its SQLSTATE.
CREATE FUNCTION p42_bob.try(what text, sql text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        EXECUTE sql;
        PERFORM p42_bob.log(what, 'ok');
    EXCEPTION WHEN others THEN
        PERFORM p42_bob.log(what, SQLSTATE);
    END;
END $$;
CREATE FUNCTION p42_bob.escape() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    background boolean := session_user <> current_user;
BEGIN
    PERFORM p42_bob.try('SET ROLE regress_admin', 'SET LOCAL ROLE regress_admin');
    PERFORM p42_bob.try('SET ROLE to the session user', pg_catalog.format('SET LOCAL ROLE %I', session_user));
    PERFORM p42_bob.try('RESET ROLE', 'RESET ROLE');
    PERFORM p42_bob.try('set_config(role)', 'SELECT pg_catalog.set_config(''role'', session_user, true)');
    PERFORM p42_bob.try('SET SESSION AUTHORIZATION DEFAULT', 'SET LOCAL SESSION AUTHORIZATION DEFAULT');
    PERFORM p42_bob.try('SET SESSION AUTHORIZATION regress_admin', 'SET LOCAL SESSION AUTHORIZATION regress_admin');
    PERFORM p42_bob.try('pg_read_file', 'SELECT pg_catalog.pg_read_file(''postmaster.pid'')');
    PERFORM p42_bob.try('read pg_authid', 'SELECT pg_catalog.count(*) FROM pg_catalog.pg_authid');
    PERFORM p42_bob.try('COPY TO PROGRAM', 'COPY (SELECT 1) TO PROGRAM ''true''');
    PERFORM p42_bob.try('ALTER ROLE SUPERUSER', 'ALTER ROLE regress_bob SUPERUSER');
    PERFORM p42_bob.try('batch_cleanup', 'SELECT batch_ops.batch_cleanup(''0'')');
    PERFORM p42_bob.try('register_target', 'SELECT batch_ops.register_target(''p42_evil'', ''app.p42'')');
    PERFORM p42_bob.try('sees only its own batches (ok: none of others)',
        'DO $d$ BEGIN IF EXISTS (SELECT 1 FROM batch_ops.batch WHERE submitted_by OPERATOR(pg_catalog.<>) '
        'current_user::pg_catalog.regrole) THEN RAISE EXCEPTION USING ERRCODE = ''XX001''; END IF; END $d$');
    PERFORM p42_bob.try('current_user is no superuser (ok: it is not)',
        'DO $d$ BEGIN IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN '
        'RAISE EXCEPTION USING ERRCODE = ''XX002''; END IF; END $d$');
    IF background THEN
        PERFORM p42_bob.try('CREATE TEMP TABLE', 'CREATE TEMP TABLE p42_tmp (a integer)');
        PERFORM p42_bob.try('terminate the executor', 'SELECT pg_catalog.pg_terminate_backend(pg_catalog.pg_backend_pid())');
        PERFORM p42_bob.try('terminate the launcher',
            'SELECT pg_catalog.pg_terminate_backend(launcher) FROM app.p42_pids');
    END IF;
    PERFORM p42_bob.log('statement trigger, after the attempts', 'ran');
    RETURN NULL;
END $$;
RESET ROLE;

CREATE TABLE app.p42 (id integer PRIMARY KEY, status text NOT NULL DEFAULT 'new',
                      stamp text DEFAULT p42_bob.stamp(), CHECK (p42_bob.check_ok(id)));
ALTER TABLE app.p42 OWNER TO regress_bob;
SET ROLE regress_bob;
INSERT INTO app.p42 (id) SELECT g FROM generate_series(1, 4) AS g;
ALTER TABLE app.p42 ENABLE ROW LEVEL SECURITY;
ALTER TABLE app.p42 FORCE ROW LEVEL SECURITY;
CREATE POLICY p42_all ON app.p42 USING (p42_bob.policy_ok()) WITH CHECK (p42_bob.policy_ok());
CREATE TRIGGER p42_row BEFORE UPDATE ON app.p42 FOR EACH ROW EXECUTE FUNCTION p42_bob.row_trigger();
CREATE TRIGGER p42_escape AFTER UPDATE ON app.p42 FOR EACH STATEMENT EXECUTE FUNCTION p42_bob.escape();
RESET ROLE;
SELECT batch_ops.register_target('p42', 'app.p42', status_column => 'status');
TRUNCATE app.p42_log;

-- In the background, as regress_bob.
SET ROLE regress_bob;
SELECT batch_ops.batch_execute('{"operation": "status_update", "target_type": "p42", "target_ids": [1, 2],
    "operation_data": {"new_status": "done"}}')->>'operation_id' AS bg \gset
SELECT batch_ops.batch_execute('{"operation": "bulk_create", "target_type": "p42", "items": [{"id": 10}]}')->>'operation_id' AS bg_create \gset
SELECT status, success_count, failure_count FROM batch_ops.batch_wait(:bg, '60 s');
SELECT status, success_count, failure_count FROM batch_ops.batch_wait(:bg_create, '60 s');
SELECT job_id = :bg AS status_update, target_id, status, error_code, message
  FROM batch_ops.job_items WHERE job_id IN (:bg, :bg_create) ORDER BY job_id, seq;
RESET ROLE;
SELECT phase, count(*) FROM app.p42_log GROUP BY 1 ORDER BY 1;
SELECT what, cur, sess_is_bootstrap, outcome
  FROM app.p42_log WHERE phase = 'background'
 GROUP BY what, cur, sess_is_bootstrap, outcome ORDER BY what;
SELECT id, status, stamp FROM app.p42 ORDER BY id;
-- The launcher is still the same process.
SELECT count(*) AS same_launcher FROM pg_stat_activity
 WHERE backend_type = 'batch_ops launcher' AND pid IN (SELECT launcher FROM app.p42_pids);
SELECT rolsuper AS bob_is_superuser FROM pg_roles WHERE rolname = 'regress_bob';
TRUNCATE app.p42_log;

-- Inline, in a session of regress_bob's own: the same functions run as the caller.
SELECT current_user AS superuser_name \gset
\c - regress_bob
SELECT r.target_id, r.success, r.error_code
  FROM app.results(batch_ops.batch_execute('{"operation": "status_update", "target_type": "p42",
    "target_ids": [3], "operation_data": {"new_status": "done"}, "execution": "inline"}')) AS r;
SELECT r.message FROM app.results(batch_ops.batch_validate('{"operation": "status_update", "target_type": "p42",
    "target_ids": [3], "operation_data": {"new_status": "done"}}')) AS r;
SELECT current_user, session_user;
\c - :superuser_name
SELECT what, cur, outcome
  FROM app.p42_log WHERE phase = 'inline'
 GROUP BY what, cur, outcome ORDER BY what;
