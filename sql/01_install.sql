-- Installing the extension: schema, roles, privileges.
CREATE EXTENSION batch_ops;

SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname IN ('batch_ops_user', 'batch_ops_admin') ORDER BY 1;
SELECT pg_has_role('batch_ops_admin', 'batch_ops_user', 'MEMBER') AS admin_is_user;

-- Tables and views of the schema.
SELECT c.relname, c.relkind, c.relrowsecurity
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'batch_ops' AND c.relkind IN ('r', 'v')
 ORDER BY 1;

-- Views run with the caller's privileges, so row level security applies.
SELECT relname, reloptions FROM pg_class
 WHERE relname IN ('jobs', 'job_items') AND relnamespace = 'batch_ops'::regnamespace ORDER BY 1;

-- Nothing is executable by PUBLIC.
SELECT p.proname
  FROM pg_proc p
 WHERE p.pronamespace = 'batch_ops'::regnamespace
   AND has_function_privilege('public', p.oid, 'EXECUTE')
 ORDER BY 1;

-- The target registry is dumped with the database.
SELECT c.relname FROM pg_extension e, unnest(e.extconfig) AS cfg(oid) JOIN pg_class c ON c.oid = cfg.oid
 WHERE e.extname = 'batch_ops' ORDER BY 1;

-- Test roles and tables used by the following tests.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regress_alice') THEN
        CREATE ROLE regress_alice LOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regress_bob') THEN
        CREATE ROLE regress_bob LOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regress_admin') THEN
        CREATE ROLE regress_admin LOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regress_nobody') THEN
        CREATE ROLE regress_nobody LOGIN;
    END IF;
END
$$;
GRANT batch_ops_user TO regress_alice, regress_bob;
GRANT batch_ops_admin TO regress_admin;

CREATE SCHEMA app;
GRANT USAGE ON SCHEMA app TO PUBLIC;

CREATE TABLE app.letters (
    id         integer PRIMARY KEY,
    status     text NOT NULL DEFAULT 'draft',
    owner      name,
    body       text CHECK (length(body) < 20),
    deleted_at timestamptz,
    CONSTRAINT sent_letters_have_a_body CHECK (body IS NOT NULL OR status = 'draft')
);
CREATE TABLE app.letters_archive (LIKE app.letters, archived_at timestamptz, archive_reason text, archive_location text);
GRANT SELECT, INSERT, UPDATE, DELETE ON app.letters, app.letters_archive TO PUBLIC;

-- Strips what changes from run to run (times, batch ids) out of a batch response.
CREATE FUNCTION app.stable(r jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE
    AS $$ SELECT r - '{created_at,started_at,completed_at,duration_ms,operation_id}'::text[] $$;
GRANT EXECUTE ON FUNCTION app.stable(jsonb) TO PUBLIC;

-- One line per result: target_id, success, error_code, message.
CREATE FUNCTION app.results(r jsonb) RETURNS TABLE (target_id text, success boolean, error_code text, message text)
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT e->>'target_id', (e->>'success')::boolean, e->>'error_code', e->>'message'
            FROM jsonb_array_elements(r->'results') AS e $$;
GRANT EXECUTE ON FUNCTION app.results(jsonb) TO PUBLIC;

-- Runs a statement and shows its SQLSTATE and message instead of raising.
CREATE FUNCTION app.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN others THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
GRANT EXECUTE ON FUNCTION app.try(text) TO PUBLIC;

-- Every SQL or PL/pgSQL function of the extension pins its search_path (API.md
-- section 9): none is missing (test 12_hijack shows why it matters).
SELECT count(*) > 0 AS has_sql_functions
  FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid JOIN pg_language l ON l.oid = p.prolang
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'batch_ops')
   AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e' AND l.lanname <> 'c';
SELECT p.oid::regprocedure AS function_without_search_path, l.lanname
  FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid JOIN pg_language l ON l.oid = p.prolang
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'batch_ops')
   AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e' AND l.lanname <> 'c'
   AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) AS c(setting) WHERE c.setting LIKE 'search\_path=%')
 ORDER BY 1;
-- The C functions that run none of the caller's code pin it too; the others
-- (inline batches and syncs) keep the caller's search_path on purpose.
SELECT p.oid::regprocedure AS c_function_without_search_path
  FROM pg_proc p
 WHERE p.pronamespace = 'batch_ops'::regnamespace
   AND p.proname IN ('register_target', 'unregister_target', 'batch_status', 'batch_result', 'batch_wait',
                     'batch_cancel', 'batch_retry', 'batch_statistics', 'batch_health', 'batch_cleanup',
                     'export_data')
   AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) AS c(setting) WHERE c.setting LIKE 'search\_path=%')
 ORDER BY 1;
-- A pinned search_path names only schemas no user can write to.
SELECT DISTINCT c.setting AS search_path_setting
  FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid, unnest(p.proconfig) AS c(setting)
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'batch_ops')
   AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e' AND c.setting LIKE 'search\_path=%'
 ORDER BY 1;

-- Worker transactions are bounded by default (0 would disable it); max_workers
-- needs a restart (it exists because this server preloads batch_ops).
SELECT name, boot_val, unit, context FROM pg_settings
 WHERE name IN ('batch_ops.statement_timeout', 'batch_ops.max_workers') ORDER BY 1;
