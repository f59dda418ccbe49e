-- The ownership rule, row level security and table privileges for non-admins.
INSERT INTO app.letters (id, owner, body) VALUES
    (201, 'regress_alice', 'alice 1'), (202, 'regress_alice', 'alice 2'),
    (203, 'regress_bob', 'bob 1'), (204, 'regress_bob', 'bob 2');

SET ROLE regress_alice;
-- Her own rows succeed; Bob's fail with PERMISSION_DENIED.
SELECT * FROM app.results(batch_ops.batch_execute('{"operation": "status_update", "target_type": "letters",
    "target_ids": [201, 203], "operation_data": {"new_status": "sent"}, "execution": "inline"}'));
SELECT * FROM app.results(batch_ops.batch_execute('{"operation": "delete", "target_type": "letters",
    "target_ids": [202, 204], "execution": "inline"}'));
SELECT * FROM app.results(batch_ops.batch_execute('{"operation": "export", "target_type": "letters",
    "target_ids": [201, 203], "execution": "inline"}'));
-- Hard deletes and forced status changes are for admins only: the whole request fails.
SELECT batch_ops.batch_execute('{"operation": "delete", "target_type": "letters",
    "target_ids": [201], "operation_data": {"soft_delete": false}, "execution": "inline"}');
SELECT batch_ops.batch_execute('{"operation": "status_update", "target_type": "letters",
    "target_ids": [201], "operation_data": {"new_status": "draft", "force": true}, "execution": "inline"}');
-- bulk_create fills the owner with the submitter; another owner is refused.
SELECT * FROM app.results(batch_ops.batch_execute('{"operation": "bulk_create", "target_type": "letters",
    "items": [{"id": 205, "body": "mine"}, {"id": 206, "owner": "regress_bob"}, {"id": 207, "owner": "regress_alice"}],
    "operation_data": {"continue_on_error": true}, "execution": "inline"}'));
RESET ROLE;
SELECT id, owner, status, deleted_at IS NOT NULL AS deleted FROM app.letters WHERE id > 200 ORDER BY id;

-- Batches are visible to their submitter only; an admin sees all.
SET ROLE regress_bob;
SELECT count(*) AS bobs_view FROM batch_ops.jobs;
SELECT count(*) AS bobs_items FROM batch_ops.job_items;
SELECT max(job_id) AS alices_batch FROM batch_ops.jobs \gset
RESET ROLE;
SELECT max(id) AS alices_batch FROM batch_ops.batch WHERE submitted_by = 'regress_alice'::regrole \gset
SET ROLE regress_bob;
SELECT * FROM batch_ops.batch_status(:alices_batch);
SELECT batch_ops.batch_result(:alices_batch);
-- Users only read the state tables; every change goes through the functions.
UPDATE batch_ops.batch SET status = 'succeeded';
DELETE FROM batch_ops.batch_item;
INSERT INTO batch_ops.target (name, relation, key_column, created_by) VALUES ('x', 'app.letters', 'id', 'regress_bob');
RESET ROLE;
SET ROLE regress_admin;
SELECT count(*) > 0 AS admin_sees_alices FROM batch_ops.jobs WHERE submitted_by = 'regress_alice';
SELECT (batch_ops.batch_status(:alices_batch)).status;
RESET ROLE;
SET ROLE regress_alice;
SELECT DISTINCT submitted_by FROM batch_ops.jobs;
RESET ROLE;

-- Row level security on the target: rows the submitter cannot see are NOT_FOUND.
CREATE TABLE app.notes (id integer PRIMARY KEY, author name NOT NULL, body text);
INSERT INTO app.notes VALUES (1, 'regress_alice', 'a'), (2, 'regress_bob', 'b'), (3, 'regress_alice', 'locked');
ALTER TABLE app.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY read_all ON app.notes FOR SELECT USING (true);
CREATE POLICY own_only ON app.notes FOR UPDATE USING (author = current_user) WITH CHECK (body <> 'forbidden');
CREATE POLICY hide_bobs ON app.notes AS RESTRICTIVE FOR SELECT USING (author = current_user);
GRANT SELECT, UPDATE ON app.notes TO regress_alice, regress_bob;
SELECT batch_ops.register_target('notes', 'app.notes', updatable_columns => ARRAY['body']::name[]);
SET ROLE regress_alice;
SELECT * FROM app.results(batch_ops.batch_execute('{"operation": "update", "target_type": "notes",
    "target_ids": [1, 2], "operation_data": {"fields": {"body": "edited"}}, "execution": "inline"}'));
-- A WITH CHECK violation fails the item with PERMISSION_DENIED.
SELECT * FROM app.results(batch_ops.batch_execute('{"operation": "update", "target_type": "notes",
    "target_ids": [3], "operation_data": {"fields": {"body": "forbidden"}}, "execution": "inline"}'));
RESET ROLE;
SELECT id, body FROM app.notes ORDER BY id;

-- Without a privilege on the table every item fails with PERMISSION_DENIED.
CREATE TABLE app.secrets (id integer PRIMARY KEY, v text);
INSERT INTO app.secrets VALUES (1, 'x'), (2, 'y');
SELECT batch_ops.register_target('secrets', 'app.secrets');
SET ROLE regress_alice;
SELECT * FROM app.results(batch_ops.batch_execute('{"operation": "update", "target_type": "secrets",
    "target_ids": [1, 2], "operation_data": {"fields": {"v": "z"}}, "execution": "inline"}'));
RESET ROLE;
SELECT * FROM app.secrets ORDER BY id;

-- A role without batch_ops_user cannot call the functions at all.
SET ROLE regress_nobody;
SELECT batch_ops.batch_execute('{"operation": "delete", "target_type": "letters", "target_ids": [1]}');
SELECT * FROM batch_ops.jobs;
RESET ROLE;
