-- Privilege boundary 4 (API.md section 9): no search_path trick reaches a
-- privileged context.
--
-- The attack: regress_bob plants objects with the names the extension uses,
-- in his own schema p43_evil and in public (CREATE granted there, as on
-- many older installations): the pg_catalog functions the extension calls
-- (now, clock_timestamp, count, min, max, sum, avg, jsonb_agg, array_agg,
-- to_jsonb, to_json, unnest, string_to_array, strpos, length, translate,
-- replace, round, floor, cardinality, set_config, format_type,
-- jsonb_populate_recordset, pg_get_serial_sequence, setval, pg_has_role,
-- current_setting, pg_notify), operators on the types it compares (=, <>, <,
-- <=, >, >=, +, -, *, /, ||, ->>, ~~ over text, name, integer, bigint, oid,
-- regrole, timestamptz, interval, jsonb, numeric), and, in his session's
-- pg_temp, tables, views and a type named like the extension's (batch,
-- batch_item, batch_event, export, sync, sync_run, target, jobs, job_items,
-- job_status). Every planted object leaves a mark (a NOTICE and a row in
-- app.p43_marks) when it runs. Then, with p43_evil and public before
-- pg_catalog on the search_path, he and an admin call every function of the
-- extension (inline, dry run, background, syncs inline and in the background),
-- and read its views.
-- Expected: no mark at all: the owner paths (statements run as the owner of
-- the extension's tables), the workers and the extension's own statements in
-- inline work never resolve a name through the caller's search_path or pg_temp.

-- Runs SQL with search_path PATH (for that statement only) and returns its
-- first value, or its SQLSTATE and message; every name in it is qualified.
CREATE FUNCTION app.p43_run(sql text, path text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    saved text := pg_catalog.current_setting('search_path');
    v text;
BEGIN
    PERFORM pg_catalog.set_config('search_path', path, true);
    BEGIN
        EXECUTE sql INTO v;
    EXCEPTION WHEN others THEN
        v := SQLSTATE OPERATOR(pg_catalog.||) ': '
             OPERATOR(pg_catalog.||) pg_catalog.regexp_replace(SQLERRM, '\d+', 'N', 'g');
    END;
    PERFORM pg_catalog.set_config('search_path', saved, true);
    RETURN coalesce(v, 'NULL');
END $$;
GRANT EXECUTE ON FUNCTION app.p43_run(text, text) TO PUBLIC;

CREATE SCHEMA p43_evil AUTHORIZATION regress_bob;
GRANT USAGE ON SCHEMA p43_evil TO PUBLIC;
GRANT CREATE ON SCHEMA public TO regress_bob;
CREATE TABLE app.p43_marks (what text, cur name, sess name);
GRANT SELECT, INSERT ON app.p43_marks TO PUBLIC;
-- The table a user's batches and syncs work on.
CREATE TABLE app.p43 (id integer PRIMARY KEY, owner name, status text NOT NULL DEFAULT 'new',
                      deleted_at timestamptz, note text);
CREATE TABLE app.p43_archive (LIKE app.p43, archived_at timestamptz);
INSERT INTO app.p43 (id, owner) SELECT g, 'regress_bob' FROM generate_series(1, 20) AS g;
CREATE TABLE app.p43_src (id integer PRIMARY KEY, note text, changed integer);
INSERT INTO app.p43_src SELECT g, 'src ' || g, g FROM generate_series(1, 5) AS g;
CREATE TABLE app.p43_dst (id integer PRIMARY KEY, note text);
GRANT SELECT, INSERT, UPDATE, DELETE ON app.p43, app.p43_archive, app.p43_src, app.p43_dst
    TO regress_bob, regress_admin;
SELECT batch_ops.register_target('p43', 'app.p43', owner_column => 'owner', status_column => 'status',
    soft_delete_column => 'deleted_at', archive_relation => 'app.p43_archive');

SET ROLE regress_bob;
CREATE FUNCTION p43_evil.mark(what text) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RAISE NOTICE 'hijacked: % ran as %', what, current_user;
    INSERT INTO app.p43_marks VALUES (what, current_user, session_user);
    RETURN true;
END $$;
-- The planted functions and operators, in p43_evil and in public: each marks
-- and returns NULL (a result no caller expects).
DO $plant$
DECLARE
    f record;
    s text;
    op text;
    t text;
BEGIN
    FOREACH s IN ARRAY ARRAY['p43_evil', 'public'] LOOP
        FOR f IN
            SELECT DISTINCT p.proname, pg_catalog.oidvectortypes(p.proargtypes) AS args,
                   pg_catalog.format_type(p.prorettype, NULL) AS ret, p.prokind, p.proretset
              FROM pg_catalog.pg_proc p
             WHERE p.pronamespace = 'pg_catalog'::regnamespace
               AND p.proname IN ('now', 'clock_timestamp', 'to_jsonb', 'to_json', 'unnest', 'string_to_array',
                                 'strpos', 'length', 'translate', 'replace', 'round', 'floor', 'cardinality',
                                 'set_config', 'format_type', 'jsonb_populate_recordset', 'pg_get_serial_sequence',
                                 'setval', 'pg_has_role', 'current_setting', 'pg_notify', 'jsonb_build_object',
                                 'quote_ident', 'lower', 'upper', 'coalesce', 'concat', 'format')
               AND p.prokind = 'f'
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(p.proargtypes) AS a(t)
                                WHERE a.t IN ('internal'::regtype, 'cstring'::regtype, '"any"'::regtype))
               AND p.prorettype NOT IN ('internal'::regtype, 'record'::regtype, 'cstring'::regtype)
        LOOP
            EXECUTE pg_catalog.format(
                'CREATE FUNCTION %I.%I(%s) RETURNS %s%s LANGUAGE plpgsql VOLATILE AS $f$ BEGIN '
                'PERFORM p43_evil.mark(%L); %s END $f$',
                s, f.proname, f.args, CASE WHEN f.proretset THEN 'SETOF ' ELSE '' END, f.ret,
                s || '.' || f.proname || '(' || f.args || ')',
                CASE WHEN f.proretset OR f.ret = 'void' THEN 'RETURN;' ELSE 'RETURN NULL;' END);
        END LOOP;
        -- Aggregates: count(*), count(x), min, max, sum, avg, jsonb_agg, array_agg.
        EXECUTE pg_catalog.format('CREATE FUNCTION %I.agg_step(bigint, anyelement) RETURNS bigint '
            'LANGUAGE plpgsql AS $f$ BEGIN PERFORM p43_evil.mark(%L); RETURN 0; END $f$', s, s || ' aggregate');
        EXECUTE pg_catalog.format('CREATE FUNCTION %I.agg_step0(bigint) RETURNS bigint '
            'LANGUAGE plpgsql AS $f$ BEGIN PERFORM p43_evil.mark(%L); RETURN 0; END $f$', s, s || ' count(*)');
        EXECUTE pg_catalog.format('CREATE AGGREGATE %I.count(*) (SFUNC = %I.agg_step0, STYPE = bigint)', s, s);
        FOREACH op IN ARRAY ARRAY['count', 'min', 'max', 'sum', 'avg', 'jsonb_agg', 'array_agg'] LOOP
            EXECUTE pg_catalog.format('CREATE AGGREGATE %I.%I(anyelement) (SFUNC = %I.agg_step, STYPE = bigint)',
                                      s, op, s);
        END LOOP;
        -- Operators.
        FOREACH t IN ARRAY ARRAY['text', 'name', 'integer', 'bigint', 'oid', 'regrole', 'timestamptz', 'interval',
                                 'jsonb', 'numeric', 'boolean', 'batch_ops.batch_state', 'regclass'] LOOP
            EXECUTE pg_catalog.format('CREATE FUNCTION %I.op_%s(%s, %s) RETURNS boolean LANGUAGE plpgsql AS '
                '$f$ BEGIN PERFORM p43_evil.mark(%L); RETURN NULL; END $f$',
                s, pg_catalog.md5(t), t, t, s || ' operator on ' || t);
            IF t <> 'text' THEN
                EXECUTE pg_catalog.format('CREATE FUNCTION %I.op_%s(%s, text) RETURNS boolean LANGUAGE plpgsql AS '
                    '$f$ BEGIN PERFORM p43_evil.mark(%L); RETURN NULL; END $f$',
                    s, pg_catalog.md5(t), t, s || ' operator on ' || t || ', text');
            END IF;
            FOREACH op IN ARRAY ARRAY['=', '<>', '<', '<=', '>', '>=', '+', '-', '*', '/', '||', '->>', '~~'] LOOP
                EXECUTE pg_catalog.format('CREATE OPERATOR %I.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = %I.op_%s)',
                                          s, op, t, t, s, pg_catalog.md5(t));
                IF t <> 'text' THEN
                    EXECUTE pg_catalog.format('CREATE OPERATOR %I.%s (LEFTARG = %s, RIGHTARG = text, FUNCTION = %I.op_%s)',
                                              s, op, t, s, pg_catalog.md5(t));
                END IF;
            END LOOP;
        END LOOP;
        -- Relations named like the extension's (the schema comes before batch_ops? it
        -- cannot, names are qualified; but nothing may read these).
        FOREACH t IN ARRAY ARRAY['batch', 'batch_item', 'batch_event', 'export', 'sync', 'sync_run', 'target',
                                 'jobs', 'job_items'] LOOP
            EXECUTE pg_catalog.format('CREATE VIEW %I.%I AS SELECT * FROM pg_catalog.pg_class WHERE p43_evil.mark(%L)',
                                      s, t, s || '.' || t);
        END LOOP;
    END LOOP;
END
$plant$;
RESET ROLE;
SELECT count(*) > 100 AS planted FROM pg_proc WHERE pronamespace IN ('p43_evil'::regnamespace, 'public'::regnamespace);

-- The planted objects are real: with this search_path they win over pg_catalog's.
BEGIN;
SET LOCAL ROLE regress_bob;
SET LOCAL search_path = p43_evil, pg_catalog;
SELECT now() IS NULL AS planted_now_wins, 1 = 1 AS planted_eq_is_null;
ROLLBACK;
TRUNCATE app.p43_marks;

-- What each role runs: every function of the extension, with the hostile
-- search_path set and, in Bob's session, pg_temp objects named like the
-- extension's relations and type.
CREATE TABLE app.p43_calls (n integer PRIMARY KEY, sql text);
-- Every name and operator of the calls themselves is qualified (only the
-- extension is under test); "max(job_id)" is the caller's latest batch on app.p43.
INSERT INTO app.p43_calls VALUES
 (1, $$SELECT batch_ops.batch_execute('{"operation": "status_update", "target_type": "p43", "target_ids": [1, 2, 99],
      "operation_data": {"new_status": "done"}, "execution": "inline"}') OPERATOR(pg_catalog.->>) 'status'$$),
 (2, $$SELECT batch_ops.batch_execute('{"operation": "update", "target_type": "p43", "target_ids": [3],
      "operation_data": {"fields": {"note": "n"}}, "execution": "inline"}') OPERATOR(pg_catalog.->>) 'status'$$),
 (3, $$SELECT batch_ops.batch_execute('{"operation": "delete", "target_type": "p43", "target_ids": [4],
      "execution": "inline"}') OPERATOR(pg_catalog.->>) 'status'$$),
 (4, $$SELECT batch_ops.batch_execute('{"operation": "restore", "target_type": "p43", "target_ids": [4],
      "execution": "inline"}') OPERATOR(pg_catalog.->>) 'status'$$),
 (5, $$SELECT batch_ops.batch_execute('{"operation": "archive", "target_type": "p43", "target_ids": [5],
      "execution": "inline"}') OPERATOR(pg_catalog.->>) 'status'$$),
 (6, $$SELECT batch_ops.batch_execute('{"operation": "export", "target_type": "p43", "target_ids": [6, 7],
      "execution": "inline", "operation_data": {"export_format": "csv"}}') OPERATOR(pg_catalog.->>) 'status'$$),
 (7, $$SELECT batch_ops.batch_execute('{"operation": "bulk_create", "target_type": "p43", "items": [{"id": 100}],
      "operation_data": {"continue_on_error": true}, "execution": "inline"}') OPERATOR(pg_catalog.->>) 'status'$$),
 (8, $$SELECT batch_ops.batch_validate('{"operation": "update", "target_type": "p43", "target_ids": [8],
      "operation_data": {"fields": {"note": "dry"}}}') OPERATOR(pg_catalog.->>) 'status'$$),
 (9, $$SELECT batch_ops.batch_execute('{"operation": "status_update", "target_type": "p43", "target_ids": [9, 10, 98],
      "operation_data": {"new_status": "done"}}') OPERATOR(pg_catalog.->>) 'total_count'$$),
 (10, $$SELECT (batch_ops.batch_wait(pg_catalog.max(job_id), '60 s')).status FROM batch_ops.jobs
      WHERE target_type OPERATOR(pg_catalog.=) 'p43' AND submitted_by OPERATOR(pg_catalog.=) current_user::pg_catalog.text$$),
 (11, $$SELECT (batch_ops.batch_status(pg_catalog.max(job_id))).status FROM batch_ops.jobs
      WHERE target_type OPERATOR(pg_catalog.=) 'p43' AND submitted_by OPERATOR(pg_catalog.=) current_user::pg_catalog.text$$),
 (12, $$SELECT batch_ops.batch_result(pg_catalog.max(job_id)) OPERATOR(pg_catalog.->>) 'status' FROM batch_ops.jobs
      WHERE target_type OPERATOR(pg_catalog.=) 'p43' AND submitted_by OPERATOR(pg_catalog.=) current_user::pg_catalog.text$$),
 (13, $$SELECT batch_ops.batch_cancel(pg_catalog.max(job_id)) FROM batch_ops.jobs
      WHERE target_type OPERATOR(pg_catalog.=) 'p43' AND submitted_by OPERATOR(pg_catalog.=) current_user::pg_catalog.text$$),
 (14, $$SELECT batch_ops.batch_retry(pg_catalog.max(job_id)) FROM batch_ops.jobs
      WHERE target_type OPERATOR(pg_catalog.=) 'p43' AND submitted_by OPERATOR(pg_catalog.=) current_user::pg_catalog.text
        AND status OPERATOR(pg_catalog.=) 'failed'$$),
 (15, $$SELECT (batch_ops.batch_wait(pg_catalog.max(job_id), '60 s')).status FROM batch_ops.jobs
      WHERE target_type OPERATOR(pg_catalog.=) 'p43' AND submitted_by OPERATOR(pg_catalog.=) current_user::pg_catalog.text$$),
 (16, $$SELECT pg_catalog.count(*) FROM batch_ops.batch_retry(ARRAY(SELECT job_id FROM batch_ops.jobs
      WHERE target_type OPERATOR(pg_catalog.=) 'p43' AND submitted_by OPERATOR(pg_catalog.=) current_user::pg_catalog.text
        AND status OPERATOR(pg_catalog.=) 'failed'))$$),
 (17, $$SELECT pg_catalog.count(*) FILTER (WHERE (batch_ops.batch_wait(job_id, '60 s')).status
        OPERATOR(pg_catalog.=) ANY ('{succeeded,failed}'::pg_catalog.text[])) OPERATOR(pg_catalog.=) pg_catalog.count(*)
      FROM batch_ops.jobs
      WHERE target_type OPERATOR(pg_catalog.=) 'p43' AND submitted_by OPERATOR(pg_catalog.=) current_user::pg_catalog.text$$),
 (18, $$SELECT pg_catalog.length(batch_ops.export_data(pg_catalog.max(x.id))) OPERATOR(pg_catalog.>) 0
      FROM batch_ops.export x$$),
 (19, $$SELECT batch_ops.create_sync(pg_catalog.textcat('p43_', current_user::pg_catalog.text), 'app.p43_src',
      'app.p43_dst', '{"mode": "incremental", "watermark_column": "changed", "columns": {"note": "upper(note)"}}')
      OPERATOR(pg_catalog.>) 0$$),
 (20, $$SELECT batch_ops.batch_sync(id) OPERATOR(pg_catalog.->>) 'success' FROM batch_ops.sync
      WHERE name OPERATOR(pg_catalog.=) pg_catalog.textcat('p43_', current_user::pg_catalog.text)$$),
 (21, $$SELECT batch_ops.batch_statistics(id) OPERATOR(pg_catalog.->>) 'runs' FROM batch_ops.sync
      WHERE name OPERATOR(pg_catalog.=) pg_catalog.textcat('p43_', current_user::pg_catalog.text)$$),
 (22, $$SELECT batch_ops.batch_sync(id, true) OPERATOR(pg_catalog.->>) 'status' FROM batch_ops.sync
      WHERE name OPERATOR(pg_catalog.=) pg_catalog.textcat('p43_', current_user::pg_catalog.text)$$),
 (23, $$SELECT (batch_ops.batch_wait(id, '60 s')).status FROM batch_ops.sync
      WHERE name OPERATOR(pg_catalog.=) pg_catalog.textcat('p43_', current_user::pg_catalog.text)$$),
 (24, $$SELECT batch_ops.create_sync(pg_catalog.textcat('p43_q_', current_user::pg_catalog.text),
      'SELECT id, note FROM app.p43_src', 'app.p43_dst') OPERATOR(pg_catalog.>) 0$$),
 (25, $$SELECT batch_ops.batch_sync(id) OPERATOR(pg_catalog.->>) 'success' FROM batch_ops.sync
      WHERE name OPERATOR(pg_catalog.=) pg_catalog.textcat('p43_q_', current_user::pg_catalog.text)$$),
 (26, $$SELECT batch_ops.batch_health() OPERATOR(pg_catalog.->>) 'status'$$),
 (27, $$SELECT pg_catalog.count(*) OPERATOR(pg_catalog.>=) 0 FROM batch_ops.jobs$$),
 (28, $$SELECT pg_catalog.count(*) OPERATOR(pg_catalog.>=) 0 FROM batch_ops.job_items$$),
 (29, $$SELECT batch_ops.is_admin()$$),
 (30, $$SELECT batch_ops.register_target('p43_again', 'app.p43', owner_column => 'owner')$$),
 (31, $$SELECT batch_ops.unregister_target('p43_again')$$),
 (32, $$SELECT batch_ops.batch_cleanup('100 years')$$);
GRANT SELECT ON app.p43_calls TO PUBLIC;

-- Bob, in his own session, with pg_temp objects of his.
SELECT current_user AS superuser_name \gset
\c - regress_bob
DO $temp$
DECLARE t text;
BEGIN
    -- Views with the columns of the extension's relations (so that a statement
    -- that resolved to them would run), and INSTEAD OF triggers for writes.
    CREATE FUNCTION p43_evil.temp_marks() RETURNS trigger LANGUAGE plpgsql AS $f$
    BEGIN PERFORM p43_evil.mark('pg_temp.' || TG_TABLE_NAME || ' ' || TG_OP); RETURN NULL; END $f$;
    FOREACH t IN ARRAY ARRAY['batch', 'batch_item', 'batch_event', 'export', 'sync', 'sync_run', 'target',
                             'jobs', 'job_items'] LOOP
        EXECUTE format('CREATE TEMP VIEW %I AS SELECT * FROM batch_ops.%I WHERE p43_evil.mark(%L)',
                       t, t, 'pg_temp.' || t || ' read');
        EXECUTE format('CREATE TRIGGER mark INSTEAD OF INSERT OR UPDATE OR DELETE ON pg_temp.%I '
                       'FOR EACH ROW EXECUTE FUNCTION p43_evil.temp_marks()', t);
    END LOOP;
END
$temp$;
CREATE TYPE pg_temp.job_status AS (job_id bigint);
CREATE TYPE pg_temp.batch_state AS ENUM ('queued', 'failed');
CREATE TYPE pg_temp.item_state AS ENUM ('pending');
-- One statement (one transaction) per call, so that the workers see what a call
-- submitted before the next one waits for it.
\t on
SELECT format('SELECT %s AS n, app.p43_run(%L, %L) AS result', n, sql, 'p43_evil, public, pg_temp, pg_catalog')
  FROM app.p43_calls ORDER BY n \gexec
\t off
\c - :superuser_name

-- The admin, with the hostile schemas first on its search_path.
SET ROLE regress_admin;
\t on
SELECT format('SELECT %s AS n, app.p43_run(%L, %L) AS result', n, sql, 'p43_evil, public, pg_catalog')
  FROM app.p43_calls ORDER BY n \gexec
\t off
-- Bob's syncs, run inline by the admin: they run as Bob, never as the admin,
-- whatever the admin's search_path (API.md section 5).
SELECT name, app.p43_run(format('SELECT batch_ops.batch_sync(%s) OPERATOR(pg_catalog.->>) ''success''', id),
                         'p43_evil, public, pg_catalog') AS admin_runs_bobs_sync
  FROM batch_ops.sync WHERE name IN ('p43_regress_bob', 'p43_q_regress_bob') ORDER BY name;
RESET ROLE;

SET client_min_messages = warning;
DROP SCHEMA p43_evil CASCADE;
DO $$
DECLARE o record;
BEGIN
    FOR o IN SELECT p.proname, p.prokind, pg_catalog.pg_get_function_identity_arguments(p.oid) AS args
               FROM pg_catalog.pg_proc p
              WHERE p.pronamespace OPERATOR(pg_catalog.=) 'public'::regnamespace
                AND p.proowner OPERATOR(pg_catalog.=) 'regress_bob'::regrole
              ORDER BY p.prokind DESC LOOP
        EXECUTE pg_catalog.format('DROP %s IF EXISTS public.%I(%s) CASCADE',
                                  CASE o.prokind WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END, o.proname,
                                  CASE WHEN o.prokind OPERATOR(pg_catalog.=) 'a' AND o.args OPERATOR(pg_catalog.=) ''
                                       THEN '*' ELSE o.args END);
    END LOOP;
END $$;
DROP VIEW IF EXISTS public.batch, public.batch_item, public.batch_event, public.export, public.sync, public.sync_run,
    public.target, public.jobs, public.job_items;
RESET client_min_messages;
REVOKE CREATE ON SCHEMA public FROM regress_bob;
SELECT count(*) AS planted_left FROM pg_proc WHERE pronamespace = 'public'::regnamespace AND proowner = 'regress_bob'::regrole;

-- The workers ran Bob's and the admin's background batches, retries and syncs
-- (calls 9, 14, 16 and 22): every one of them ended.
SELECT count(*) FILTER (WHERE status IN ('queued', 'running')) AS unfinished
  FROM batch_ops.batch b WHERE b.submitted_by IN ('regress_bob'::regrole, 'regress_admin'::regrole)
   AND (b.target_type = 'p43' OR b.id IN (SELECT id FROM batch_ops.sync WHERE name LIKE 'p43%'));

-- No planted object ran, anywhere (read once they are gone).
SELECT what, cur, sess, count(*) FROM app.p43_marks GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
