-- Operator hijacking (CVE-2018-1058 style): a role that can create objects in a
-- schema on a reader's search_path must not get its functions run by the
-- extension's SQL functions with the reader's privileges. Before 0.2.0,
-- batch_ops._estimated_remaining (inlined into batch_ops.jobs) divided a float8 by
-- an integer: no such operator exists in pg_catalog, so regress_hijack./(float8,
-- integer) won even with pg_catalog first on the path. Every hijack function
-- below leaves a mark (a NOTICE and the setting regress.hijacked); none may appear.
CREATE SCHEMA regress_hijack AUTHORIZATION regress_nobody;
GRANT USAGE ON SCHEMA regress_hijack TO PUBLIC;
SET ROLE regress_nobody;
CREATE FUNCTION regress_hijack.mark(what text) RETURNS void LANGUAGE plpgsql STABLE AS $$
BEGIN
    RAISE NOTICE 'hijacked: % ran as %', what, current_user;
    PERFORM pg_catalog.set_config('regress.hijacked',
        pg_catalog.concat(pg_catalog.current_setting('regress.hijacked', true), ' ', what), false);
END $$;
-- Operators that need no cast for the body's arguments: / wins whatever the path;
-- the others win over pg_catalog's when the schema comes first on the path.
CREATE FUNCTION regress_hijack.div(float8, integer) RETURNS float8 LANGUAGE plpgsql STABLE
    AS $$ BEGIN PERFORM regress_hijack.mark('/(float8,integer)'); RETURN $1 OPERATOR(pg_catalog./) $2; END $$;
CREATE OPERATOR regress_hijack./ (LEFTARG = float8, RIGHTARG = integer, FUNCTION = regress_hijack.div);
CREATE FUNCTION regress_hijack.div8(float8, float8) RETURNS float8 LANGUAGE plpgsql STABLE
    AS $$ BEGIN PERFORM regress_hijack.mark('/(float8,float8)'); RETURN $1 OPERATOR(pg_catalog./) $2; END $$;
CREATE OPERATOR regress_hijack./ (LEFTARG = float8, RIGHTARG = float8, FUNCTION = regress_hijack.div8);
CREATE FUNCTION regress_hijack.eq(text, text) RETURNS boolean LANGUAGE plpgsql STABLE
    AS $$ BEGIN PERFORM regress_hijack.mark('=(text,text)'); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE OPERATOR regress_hijack.= (LEFTARG = text, RIGHTARG = text, FUNCTION = regress_hijack.eq);
CREATE FUNCTION regress_hijack.gt(integer, integer) RETURNS boolean LANGUAGE plpgsql STABLE
    AS $$ BEGIN PERFORM regress_hijack.mark('>(integer,integer)'); RETURN $1 OPERATOR(pg_catalog.>) $2; END $$;
CREATE OPERATOR regress_hijack.> (LEFTARG = integer, RIGHTARG = integer, FUNCTION = regress_hijack.gt);
CREATE FUNCTION regress_hijack.minus(integer, integer) RETURNS integer LANGUAGE plpgsql STABLE
    AS $$ BEGIN PERFORM regress_hijack.mark('-(integer,integer)'); RETURN $1 OPERATOR(pg_catalog.-) $2; END $$;
CREATE OPERATOR regress_hijack.- (LEFTARG = integer, RIGHTARG = integer, FUNCTION = regress_hijack.minus);
CREATE FUNCTION regress_hijack.since(timestamptz, timestamptz) RETURNS interval LANGUAGE plpgsql STABLE
    AS $$ BEGIN PERFORM regress_hijack.mark('-(timestamptz,timestamptz)'); RETURN $1 OPERATOR(pg_catalog.-) $2; END $$;
CREATE OPERATOR regress_hijack.- (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = regress_hijack.since);
CREATE FUNCTION regress_hijack.times(interval, float8) RETURNS interval LANGUAGE plpgsql STABLE
    AS $$ BEGIN PERFORM regress_hijack.mark('*(interval,float8)'); RETURN $1 OPERATOR(pg_catalog.*) $2; END $$;
CREATE OPERATOR regress_hijack.* (LEFTARG = interval, RIGHTARG = float8, FUNCTION = regress_hijack.times);
-- Functions the bodies call, by name (they are schema-qualified: never these).
CREATE FUNCTION regress_hijack.pg_has_role(name, text, text) RETURNS boolean LANGUAGE plpgsql STABLE
    AS $$ BEGIN PERFORM regress_hijack.mark('pg_has_role'); RETURN true; END $$;
CREATE FUNCTION regress_hijack.date_trunc(text, interval) RETURNS interval LANGUAGE plpgsql STABLE
    AS $$ BEGIN PERFORM regress_hijack.mark('date_trunc'); RETURN $2; END $$;
CREATE FUNCTION regress_hijack.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql STABLE
    AS $$ BEGIN PERFORM regress_hijack.mark('clock_timestamp'); RETURN pg_catalog.now(); END $$;
RESET ROLE;

-- The planted operator is real: a query of the reader's own uses it.
BEGIN;
SET LOCAL ROLE regress_admin;
SET LOCAL search_path = regress_hijack;
SELECT 7.0::float8 / 2 AS planted;
ROLLBACK;

-- A running batch (uncommitted, so no worker sees it) whose estimated_remaining
-- runs the division; an admin reads it through batch_ops.jobs, batch_status and
-- the policies, with the hijacking schema on its search_path.
BEGIN;
INSERT INTO batch_ops.batch (id, operation, target_type, request, status, submitted_by, total, processed,
                             success_count, started_at)
VALUES (-12, 'delete', 'letters', '{}', 'running', 'regress_admin'::regrole, 40, 10, 10,
        clock_timestamp() - interval '1 minute');
SET LOCAL ROLE regress_admin;
-- The usual kind of path ("$user", then a shared schema; pg_catalog implicitly first).
SET LOCAL search_path = "$user", regress_hijack;
SELECT job_id, status, estimated_remaining > interval '0' AS has_estimate FROM batch_ops.jobs WHERE job_id = -12;
SELECT count(*) > 0 AS sees_batches FROM batch_ops.batch;
SELECT status, estimated_remaining > interval '0' AS has_estimate FROM batch_ops.batch_status(-12);
-- The hijacking schema even before pg_catalog.
SET LOCAL search_path = regress_hijack, pg_catalog;
SELECT job_id, status, estimated_remaining > interval '0' AS has_estimate FROM batch_ops.jobs WHERE job_id = -12;
SELECT count(*) > 0 AS sees_batches FROM batch_ops.batch;
SELECT batch_ops.is_admin() AS admin, batch_ops._estimated_remaining('running', now(), 1, 2) IS NOT NULL AS estimate;
SELECT status, estimated_remaining > interval '0' AS has_estimate FROM batch_ops.batch_status(-12);
-- A plain user, as the policies see it.
SET LOCAL ROLE regress_alice;
SELECT count(*) AS sees_admins_batch FROM batch_ops.jobs WHERE job_id = -12;
SELECT batch_ops.is_admin() AS alice_is_admin;
RESET search_path;
SELECT coalesce(current_setting('regress.hijacked', true), '') AS hijacked;
ROLLBACK;

SET client_min_messages = warning;
DROP SCHEMA regress_hijack CASCADE;
RESET client_min_messages;
