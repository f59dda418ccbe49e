-- Privilege boundary 2 (API.md sections 4, 9 and 12): rows and columns the
-- submitter lacks.
--
-- The attack: regress_bob may read some columns of app.p41 and update two of
-- them (status, public_note); a row level security policy hides rows 5 and 6
-- from him; rows 9 to 12 belong to regress_alice (the owner column). He submits
-- every operation, inline, as a dry run (batch_validate) and in the background:
-- updates of the column he may not update (secret) or may not even read, alone
-- and mixed with one he may; soft deletes (the soft-delete column is not his to
-- update), archives (no DELETE), restores and bulk_creates (no INSERT), exports
-- of all columns (he may not read secret) and of his columns only, status
-- updates; each over his own rows, hidden rows, Alice's rows and a missing id.
-- Expected, per item: PERMISSION_DENIED for a missing table or column
-- privilege (every item of the request) and for Alice's rows, NOT_FOUND for a
-- hidden row exactly as for a missing one (same message: its existence is not
-- revealed); the export holds no secret and no hidden row; the background gives
-- the same codes as inline; nothing changes but what he may change. An admin
-- acts on Alice's rows, but table privileges and row level security bind it too.

CREATE OR REPLACE FUNCTION app.p_try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN others THEN
    RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '\d+', 'N', 'g');
END $$;
GRANT EXECUTE ON FUNCTION app.p_try(text) TO PUBLIC;

CREATE TABLE app.p41 (id integer PRIMARY KEY, owner name NOT NULL, status text NOT NULL DEFAULT 'new',
                      deleted_at timestamptz, public_note text, secret text, hidden boolean NOT NULL DEFAULT false);
CREATE TABLE app.p41_archive (LIKE app.p41 INCLUDING DEFAULTS, archived_at timestamptz, archive_reason text);
INSERT INTO app.p41 (id, owner, public_note, secret, hidden)
SELECT g, CASE WHEN g <= 8 THEN 'regress_bob' ELSE 'regress_alice' END, 'note ' || g, 'secret-' || g, g IN (5, 6)
  FROM generate_series(1, 12) AS g;
INSERT INTO app.p41_archive (id, owner, status, public_note, secret) VALUES (7, 'regress_bob', 'new', 'archived 7', 'secret-7a');
ALTER TABLE app.p41 ENABLE ROW LEVEL SECURITY;
CREATE POLICY p41_not_hidden ON app.p41 USING (NOT hidden);
GRANT SELECT (id, owner, status, deleted_at, public_note, hidden) ON app.p41 TO regress_bob, regress_admin;
GRANT UPDATE (status, public_note) ON app.p41 TO regress_bob, regress_admin;
GRANT SELECT, INSERT ON app.p41_archive TO regress_bob, regress_admin;
SELECT batch_ops.register_target('p41', 'app.p41', owner_column => 'owner', status_column => 'status',
    soft_delete_column => 'deleted_at', archive_relation => 'app.p41_archive');
CREATE TEMP VIEW p41_rows AS
SELECT 'p41' AS t, id, owner, status, deleted_at IS NOT NULL AS deleted, public_note, secret FROM app.p41
UNION ALL SELECT 'archive', id, owner, status, deleted_at IS NOT NULL, public_note, secret FROM app.p41_archive;

-- The requests: for each, the ids 1 (his), 5 (hidden from him), 9 (Alice's), 99 (missing),
-- and for restore 7 (his, archived).
CREATE TABLE app.p41_requests (n integer PRIMARY KEY, what text, request jsonb);
INSERT INTO app.p41_requests VALUES
 (1, 'update a column without UPDATE', '{"operation": "update", "operation_data": {"fields": {"secret": "x"}}}'),
 (2, 'update, one column without UPDATE', '{"operation": "update", "operation_data": {"fields": {"public_note": "x", "secret": "y"}}}'),
 (3, 'update his column', '{"operation": "update", "operation_data": {"fields": {"public_note": "bob was here"}}}'),
 (4, 'status_update', '{"operation": "status_update", "operation_data": {"new_status": "done"}}'),
 (5, 'soft delete (no UPDATE on deleted_at)', '{"operation": "delete"}'),
 (6, 'archive (no DELETE)', '{"operation": "archive", "operation_data": {"archive_reason": "x"}}'),
 (7, 'restore (no DELETE)', '{"operation": "restore"}'),
 (8, 'export of every column (no SELECT on secret)', '{"operation": "export"}'),
 (9, 'export of his columns', '{"operation": "export", "operation_data": {"include_fields": ["id", "owner", "public_note"]}}'),
 (10, 'bulk_create (no INSERT)', '{"operation": "bulk_create"}');
UPDATE app.p41_requests
   SET request = request || '{"target_type": "p41"}'
                 || CASE WHEN request->>'operation' = 'bulk_create'
                         THEN '{"items": [{"id": 20, "public_note": "new"}, {"id": 21, "owner": "regress_alice"}]}'::jsonb
                         WHEN request->>'operation' = 'restore' THEN '{"target_ids": [1, 5, 7, 9, 99]}'::jsonb
                         ELSE '{"target_ids": [1, 5, 9, 99]}'::jsonb END;
GRANT SELECT ON app.p41_requests TO regress_bob, regress_admin;

-- Inline.
SET ROLE regress_bob;
SELECT q.n, q.what, r.target_id, r.success, r.error_code, r.message
  FROM app.p41_requests q,
       app.results(batch_ops.batch_execute(q.request || '{"execution": "inline"}')) AS r
 ORDER BY q.n, r.target_id;
-- The export of his columns holds his visible row only, no secret.
SELECT batch_ops.export_data((batch_ops.batch_execute(request || '{"execution": "inline"}')->>'export_id')::bigint) AS content
  FROM app.p41_requests WHERE n = 9;
-- As a dry run: the same outcomes, nothing kept.
SELECT q.n, r.target_id, r.success, r.error_code
  FROM app.p41_requests q, app.results(batch_ops.batch_validate(q.request)) AS r
 WHERE q.n IN (1, 3, 5, 8)
 ORDER BY q.n, r.target_id;
-- A hidden row and a missing one cannot be told apart.
SELECT count(DISTINCT (r.error_code, r.message)) AS answers
  FROM app.p41_requests q, app.results(batch_ops.batch_validate(q.request)) AS r
 WHERE r.target_id IN ('5', '99') AND q.n IN (3, 4, 9);

-- In the background: the same requests, run by the workers as regress_bob.
SELECT array_agg((batch_ops.batch_execute(request || '{"execution": "background"}')->>'operation_id')::bigint
                 ORDER BY n) AS bg
  FROM app.p41_requests \gset
SELECT count(*) FILTER (WHERE w.status IN ('succeeded', 'failed')) AS ended
  FROM unnest(:'bg'::bigint[]) AS b(id), batch_ops.batch_wait(b.id, '60 s') AS w;
SELECT q.n, i.target_id, i.status, i.error_code, i.message
  FROM unnest(:'bg'::bigint[]) WITH ORDINALITY AS b(id, n)
  JOIN app.p41_requests q ON q.n = b.n
  JOIN batch_ops.job_items i ON i.job_id = b.id
 ORDER BY q.n, i.target_id;
-- Inline and background agree, item by item.
SELECT count(*) AS differences FROM (
    SELECT q.n, r.target_id, r.error_code
      FROM app.p41_requests q, app.results(batch_ops.batch_validate(q.request)) AS r
    EXCEPT
    SELECT b.n, i.target_id, i.error_code
      FROM unnest(:'bg'::bigint[]) WITH ORDINALITY AS b(id, n) JOIN batch_ops.job_items i ON i.job_id = b.id) AS d;
RESET ROLE;

-- What changed: row 1 (his, visible), through requests 3 and 4 (public_note
-- and status). Nothing else, not even in the archive.
SELECT * FROM p41_rows ORDER BY t, id;

-- An admin acts on Alice's rows, within its table privileges and row level security.
SET ROLE regress_admin;
SELECT r.target_id, r.success, r.error_code, r.message
  FROM app.results(batch_ops.batch_execute('{"operation": "update", "target_type": "p41", "target_ids": [9, 5, 99],
    "operation_data": {"fields": {"public_note": "admin"}}, "execution": "inline"}')) AS r ORDER BY 1;
SELECT r.target_id, r.success, r.error_code, r.message
  FROM app.results(batch_ops.batch_execute('{"operation": "update", "target_type": "p41", "target_ids": [9],
    "operation_data": {"fields": {"secret": "admin"}}, "execution": "inline"}')) AS r ORDER BY 1;
RESET ROLE;
SELECT id, public_note, secret FROM app.p41 WHERE id IN (5, 9) ORDER BY id;
