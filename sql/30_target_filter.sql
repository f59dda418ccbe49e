-- "target_filter": a request selects its rows with one boolean SQL expression
-- over the target's columns, resolved at submission as the submitter.
CREATE TABLE app.parcels (id integer PRIMARY KEY, region text NOT NULL, weight integer NOT NULL,
                          status text NOT NULL DEFAULT 'new', owner name, deleted_at timestamptz);
CREATE TABLE app.parcels_archive (LIKE app.parcels, archived_at timestamptz);
GRANT SELECT, INSERT, UPDATE, DELETE ON app.parcels, app.parcels_archive TO regress_alice, regress_bob, regress_admin;
INSERT INTO app.parcels (id, region, weight, owner)
SELECT g, CASE WHEN g % 3 = 0 THEN 'south' ELSE 'north' END, g * 10,
       CASE WHEN g <= 6 THEN 'regress_alice' ELSE 'regress_bob' END
  FROM generate_series(1, 12) AS g;
CREATE SEQUENCE app.parcel_seq;
GRANT USAGE ON SEQUENCE app.parcel_seq TO regress_alice;
-- A refusal as SQLSTATE, message and detail (the detail says why).
CREATE FUNCTION app.refusal(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    detail text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN others THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RETURN SQLSTATE || ': ' || SQLERRM || coalesce(' / ' || nullif(detail, ''), '');
END $$;
GRANT EXECUTE ON FUNCTION app.refusal(text) TO PUBLIC;
SELECT batch_ops.register_target('parcels', 'app.parcels', owner_column => 'owner', status_column => 'status',
         soft_delete_column => 'deleted_at', archive_relation => 'app.parcels_archive');

-- 1. The rows the filter selects become the items, in key order.
SELECT * FROM app.results(batch_ops.batch_execute('{"operation": "status_update", "target_type": "parcels",
    "target_filter": "region = ''north'' AND weight >= 50", "operation_data": {"new_status": "heavy"},
    "execution": "inline"}'));
-- Columns may be qualified by the table's name; a trailing comment ends with the filter.
SELECT * FROM app.results(batch_ops.batch_execute('{"operation": "export", "target_type": "parcels",
    "target_filter": "parcels.status = ''heavy'' AND parcels.id < 8 -- the heavy ones",
    "execution": "inline"}'));
-- The stored request keeps the filter and gains the ids it selected.
SELECT request->'target_filter' AS target_filter, request->'target_ids' AS target_ids
  FROM batch_ops.batch ORDER BY id DESC LIMIT 1;

-- 2. The ownership rule: a user's filter selects only her own rows; an admin's all.
SET ROLE regress_alice;
SELECT * FROM app.results(batch_ops.batch_execute('{"operation": "update", "target_type": "parcels",
    "target_filter": "weight > 40", "operation_data": {"fields": {"status": "checked"}}, "execution": "inline"}'));
RESET ROLE;
SET ROLE regress_admin;
SELECT batch_ops.batch_validate('{"operation": "update", "target_type": "parcels",
    "target_filter": "weight > 40", "operation_data": {"fields": {"status": "checked"}}}')->'total_count' AS admin_selects;
RESET ROLE;

-- 3. A filter selects the rows the operation acts on: live rows; for a hard
-- delete soft-deleted ones too; for restore the soft-deleted and archived rows.
SELECT * FROM app.results(batch_ops.batch_execute('{"operation": "delete", "target_type": "parcels",
    "target_filter": "id IN (1, 2)", "execution": "inline"}'));
SELECT * FROM app.results(batch_ops.batch_execute('{"operation": "archive", "target_type": "parcels",
    "target_filter": "id IN (1, 3)", "execution": "inline"}'));
SELECT batch_ops.batch_validate('{"operation": "delete", "target_type": "parcels", "target_filter": "id < 4",
    "operation_data": {"soft_delete": false}}')->'total_count' AS hard_delete_selects;
SELECT * FROM app.results(batch_ops.batch_execute('{"operation": "restore", "target_type": "parcels",
    "target_filter": "id < 5", "execution": "inline"}'));
SELECT id, deleted_at IS NOT NULL AS deleted FROM app.parcels WHERE id < 5 ORDER BY id;

-- 4. Row level security applies: rows the submitter cannot see are not selected.
CREATE TABLE app.vaults (id integer PRIMARY KEY, keeper name NOT NULL, label text);
INSERT INTO app.vaults VALUES (1, 'regress_alice', 'a'), (2, 'regress_bob', 'b'), (3, 'regress_alice', 'c');
ALTER TABLE app.vaults ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_vaults ON app.vaults USING (keeper = current_user);
GRANT SELECT, UPDATE ON app.vaults TO regress_alice;
SELECT batch_ops.register_target('vaults', 'app.vaults', updatable_columns => ARRAY['label']::name[]);
SET ROLE regress_alice;
SELECT * FROM app.results(batch_ops.batch_execute('{"operation": "update", "target_type": "vaults",
    "target_filter": "label IS NOT NULL", "operation_data": {"fields": {"label": "mine"}}, "execution": "inline"}'));
RESET ROLE;
SELECT * FROM app.vaults ORDER BY id;

-- 5. What is not a filter is refused before anything runs (22023, saying why).
SET ROLE regress_alice;
SELECT batch_ops.batch_execute('{"operation": "delete", "target_type": "parcels",
    "target_filter": "1=1; DROP TABLE app.parcels", "execution": "inline"}');
SELECT batch_ops.batch_execute('{"operation": "delete", "target_type": "parcels",
    "target_filter": "id IN (SELECT id FROM app.vaults)", "execution": "inline"}');
SELECT batch_ops.batch_execute('{"operation": "delete", "target_type": "parcels",
    "target_filter": "pg_sleep(10) IS NULL", "execution": "inline"}');
SELECT f AS filter, app.refusal(format('SELECT batch_ops.batch_validate(%L)',
           jsonb_build_object('operation', 'delete', 'target_type', 'parcels', 'target_filter', f))) AS outcome
  FROM unnest(ARRAY[
    '(SELECT true)',
    'EXISTS (SELECT 1 FROM app.vaults)',
    'random() < 0.5',
    'nextval(''app.parcel_seq'') > 0',
    'vaults.id = 1',
    'ctid = ''(0,1)''',
    'parcels IS NOT NULL',
    'count(*) > 0',
    'row_number() OVER () = 1',
    'generate_series(1, 2) = 1',
    'weight',
    '$1 = 1',
    'id = 1) OR (true',
    'true FOR UPDATE',
    'id = 1 UNION SELECT true',
    'nonexistent > 0',
    '',
    '   '
  ]) AS f;
SELECT app.refusal('SELECT batch_ops.batch_validate(''{"operation": "delete", "target_type": "parcels", "target_filter": 1}'')') AS not_a_string;
-- Not with target_ids, nor for bulk_create.
SELECT app.refusal('SELECT batch_ops.batch_validate(''{"operation": "delete", "target_type": "parcels",
    "target_ids": [1], "target_filter": "true"}'')') AS both_keys;
SELECT app.refusal('SELECT batch_ops.batch_validate(''{"operation": "bulk_create", "target_type": "parcels",
    "items": [{"id": 99}], "target_filter": "true"}'')') AS bulk_create;
RESET ROLE;

-- 6. The caller's search_path is not used: only pg_catalog (and names the
-- filter qualifies). An exact-match operator earlier in the path is not taken.
CREATE SCHEMA regress_tf;
CREATE FUNCTION regress_tf.always(integer, integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT true';
CREATE OPERATOR regress_tf.= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = regress_tf.always);
CREATE FUNCTION regress_tf.is_south(text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT $1 = 'south' $$;
SET search_path = regress_tf, pg_catalog, public;
SELECT batch_ops.batch_validate('{"operation": "export", "target_type": "parcels", "target_filter": "id = 6"}')
    ->'total_count' AS exact_match_operator_ignored;
SELECT batch_ops.batch_validate('{"operation": "export", "target_type": "parcels", "target_filter": "is_south(region)"}');
SELECT batch_ops.batch_validate('{"operation": "export", "target_type": "parcels",
    "target_filter": "regress_tf.is_south(region)"}')->'total_count' AS qualified_function;
RESET search_path;

-- 7. At most batch_ops.max_filter_items rows (superuser-set).
SET batch_ops.max_filter_items = 3;
SELECT batch_ops.batch_validate('{"operation": "export", "target_type": "parcels", "target_filter": "id > 4"}');
SELECT batch_ops.batch_validate('{"operation": "export", "target_type": "parcels", "target_filter": "id > 9"}')
    ->'total_count' AS three_is_allowed;
SET ROLE regress_alice;
SET batch_ops.max_filter_items = 100;
RESET ROLE;
RESET batch_ops.max_filter_items;
SHOW batch_ops.max_filter_items;

-- 8. No row selected: a batch of no items that succeeds, inline and in the background.
SET ROLE regress_alice;
SELECT batch_ops.batch_execute('{"operation": "delete", "target_type": "parcels", "target_filter": "weight > 1000",
    "execution": "inline"}') - 'operation_id' - 'created_at' - 'started_at' - 'completed_at' - 'duration_ms' AS inline_none;
SELECT batch_ops.batch_execute('{"operation": "delete", "target_type": "parcels", "target_filter": "weight > 1000"}')
    ->>'operation_id' AS none_bg \gset
SELECT (w).status, (w).total, (w).processed FROM (SELECT batch_ops.batch_wait(:none_bg, '60 s') AS w) AS s;

-- 9. In the background: the ids are fixed at submission; the workers run them.
SELECT batch_ops.batch_execute('{"operation": "export", "target_type": "parcels", "target_filter": "region = ''south''",
    "operation_data": {"export_format": "csv", "include_fields": ["id", "region", "owner"]}}')->>'operation_id' AS bg \gset
RESET ROLE;
INSERT INTO app.parcels (id, region, weight, owner) VALUES (21, 'south', 1, 'regress_alice');
SET ROLE regress_alice;
SELECT (w).status, (w).total, (w).success_count FROM (SELECT batch_ops.batch_wait(:bg, '60 s') AS w) AS s;
SELECT batch_ops.export_data((batch_ops.batch_result(:bg)->>'export_id')::bigint);

-- 10. Idempotency: the same filter and key return the batch, though the rows it
-- selects changed; another filter with that key is refused.
SELECT batch_ops.batch_execute('{"operation": "export", "target_type": "parcels", "target_filter": "weight < 30",
    "idempotency_key": "tf-1"}')->>'operation_id' AS k1 \gset
RESET ROLE;
INSERT INTO app.parcels (id, region, weight, owner) VALUES (22, 'north', 2, 'regress_alice');
SET ROLE regress_alice;
SELECT (batch_ops.batch_execute('{"operation": "export", "target_type": "parcels", "target_filter": "weight < 30",
    "idempotency_key": "tf-1"}')->>'operation_id')::bigint = :k1 AS same_batch;
SELECT regexp_replace(app.refusal('SELECT batch_ops.batch_execute(''{"operation": "export", "target_type": "parcels",
    "target_filter": "weight < 40", "idempotency_key": "tf-1"}'')'), 'Batch \d+', 'Batch N') AS other_filter;
RESET ROLE;
