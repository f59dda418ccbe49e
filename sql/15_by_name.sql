-- Issue 10: the failed items of a batch (failures), syncs by name (batch_sync(name),
-- drop_sync(name)).
CREATE TABLE app.bn (id integer PRIMARY KEY, v integer NOT NULL DEFAULT 0 CHECK (v < 10));
INSERT INTO app.bn (id) SELECT g FROM generate_series(1, 4) AS g;
GRANT SELECT, UPDATE ON app.bn TO regress_alice, regress_bob;
SELECT batch_ops.register_target('bn', 'app.bn');

SET ROLE regress_alice;
SELECT batch_ops.batch_execute('{"operation": "update", "target_type": "bn", "execution": "inline",
    "target_ids": [1, 2, 3, 99], "operation_data": {"fields": {"v": 1}}}')->>'status' AS status;
SELECT (batch_ops.batch_execute('{"operation": "update", "target_type": "bn", "execution": "inline",
    "target_ids": [1, 2, 3, 99], "operation_data": {"fields": {"v": 11}}}')->>'operation_id')::bigint AS f \gset
-- Every item failed: the CHECK constraint, and a missing row.
SELECT seq, target_id, error_code, attempts FROM batch_ops.failures(:f);
RESET ROLE;
-- Another role's batch: 42501, as batch_status; a batch that does not exist: P0002.
\set VERBOSITY sqlstate
SET ROLE regress_bob;
SELECT * FROM batch_ops.failures(:f);
RESET ROLE;
SELECT * FROM batch_ops.failures(-1);
\set VERBOSITY default

-- Syncs by name.
CREATE TABLE app.bn_src (id integer PRIMARY KEY, v integer);
CREATE TABLE app.bn_dst (id integer PRIMARY KEY, v integer);
INSERT INTO app.bn_src SELECT g, g FROM generate_series(1, 5) AS g;
GRANT SELECT ON app.bn_src TO regress_alice;
GRANT SELECT, INSERT, UPDATE, DELETE ON app.bn_dst TO regress_alice;
SET ROLE regress_alice;
SELECT batch_ops.create_sync('bn_sync', 'app.bn_src', 'app.bn_dst') IS NOT NULL AS created;
SELECT r->>'success' AS success, r->>'records_synced' AS synced FROM batch_ops.batch_sync('bn_sync') AS r;
-- A name that does not exist, or another role's sync (not visible to the caller): P0002.
SELECT batch_ops.batch_sync('no_such_sync');
RESET ROLE;
SET ROLE regress_bob;
SELECT batch_ops.batch_sync('bn_sync');
-- Dropping another role's sync: it does not exist for bob either (P0002).
SELECT batch_ops.drop_sync('bn_sync');
RESET ROLE;
SET ROLE regress_alice;
SELECT batch_ops.drop_sync('no_such_sync');
SELECT batch_ops.drop_sync('bn_sync');
-- The definition is gone; its batch and its run stay until cleanup; the name is free again.
SELECT count(*) AS definitions FROM batch_ops.sync WHERE name = 'bn_sync';
SELECT kind, status FROM batch_ops.jobs WHERE kind = 'sync' AND submitted_by = 'regress_alice'
 ORDER BY job_id DESC LIMIT 1;
SELECT batch_ops.create_sync('bn_sync', 'app.bn_src', 'app.bn_dst') IS NOT NULL AS created_again;
SELECT batch_ops.drop_sync('bn_sync');
RESET ROLE;
