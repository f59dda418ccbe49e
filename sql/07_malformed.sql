-- Malformed requests: each one fails as a whole with the SQLSTATE of API.md
-- section 8 (22023 malformed, 42704 unknown target, 0A000 unsupported operation,
-- 42501 hard delete or force by a non-admin), names the offending key, and
-- leaves nothing behind. Requests that would otherwise be valid say
-- "execution": "inline", so that a check that is missing shows up as a change.

-- A target without a soft-delete column, a status column or an archive table.
CREATE TABLE app.plain (id integer PRIMARY KEY, v text);
GRANT SELECT, INSERT, UPDATE, DELETE ON app.plain TO PUBLIC;
INSERT INTO app.plain VALUES (1, 'one'), (2, 'two');
SELECT batch_ops.register_target('plain', 'app.plain');

-- What exists before: nothing of it may change.
SELECT count(*) AS batches_before FROM batch_ops.batch \gset
SELECT count(*) AS items_before FROM batch_ops.batch_item \gset
SELECT count(*) AS events_before FROM batch_ops.batch_event \gset
SELECT count(*) AS exports_before FROM batch_ops.export \gset
SELECT coalesce(md5(string_agg(t::text, ',' ORDER BY id)), '') AS letters_before FROM app.letters t \gset
SELECT coalesce(md5(string_agg(t::text, ',' ORDER BY id)), '') AS archive_before FROM app.letters_archive t \gset
SELECT coalesce(md5(string_agg(t::text, ',' ORDER BY code)), '') AS tags_before FROM app.tags t \gset
SELECT coalesce(md5(string_agg(t::text, ',' ORDER BY id)), '') AS plain_before FROM app.plain t \gset

-- The request itself: not an object, unknown keys, operation, target_type.
SELECT name, app.try(format('SELECT batch_ops.batch_execute(%L)', request)) AS result
  FROM (VALUES
    ('array', '[{"operation": "delete", "target_type": "letters", "target_ids": [1]}]'::jsonb),
    ('string', '"delete"'),
    ('number', '42'),
    ('json null', 'null'),
    ('boolean', 'true'),
    ('unknown top-level key', '{"operation": "delete", "target_type": "letters", "target_ids": [1],
        "execution": "inline", "target": "letters"}'),
    ('misspelt top-level key', '{"operation": "delete", "target_type": "letters", "target_ids": [1],
        "execution": "inline", "dryrun": true}'),
    ('operation missing', '{"target_type": "letters", "target_ids": [1], "execution": "inline"}'),
    ('operation null', '{"operation": null, "target_type": "letters", "target_ids": [1], "execution": "inline"}'),
    ('operation unknown', '{"operation": "purge", "target_type": "letters", "target_ids": [1], "execution": "inline"}'),
    ('operation upper case', '{"operation": "DELETE", "target_type": "letters", "target_ids": [1], "execution": "inline"}'),
    ('operation a number', '{"operation": 1, "target_type": "letters", "target_ids": [1], "execution": "inline"}'),
    ('operation an array', '{"operation": ["delete"], "target_type": "letters", "target_ids": [1], "execution": "inline"}'),
    ('target_type missing', '{"operation": "delete", "target_ids": [1], "execution": "inline"}'),
    ('target_type empty', '{"operation": "delete", "target_type": "", "target_ids": [1], "execution": "inline"}'),
    ('target_type a number', '{"operation": "delete", "target_type": 1, "target_ids": [1], "execution": "inline"}'),
    ('target_type with a double quote', '{"operation": "delete", "target_type": "letters\"", "target_ids": [1],
        "execution": "inline"}'),
    ('target_type with a single quote', '{"operation": "delete", "target_type": "letters''", "target_ids": [1],
        "execution": "inline"}'),
    ('target_type with a semicolon', '{"operation": "delete", "target_type": "letters; DROP TABLE app.letters; --",
        "target_ids": [1], "execution": "inline"}')
  ) AS c(name, request);

-- Unknown operation_data keys, for each operation; operation_data not an object.
SELECT name, app.try(format('SELECT batch_ops.batch_execute(%L)', request)) AS result
  FROM (VALUES
    ('delete', '{"operation": "delete", "target_type": "letters", "target_ids": [1],
        "operation_data": {"reason": "x"}, "execution": "inline"}'::jsonb),
    ('update', '{"operation": "update", "target_type": "tags", "target_ids": ["pg"],
        "operation_data": {"fields": {"label": "x"}, "where": "true"}, "execution": "inline"}'),
    ('status_update', '{"operation": "status_update", "target_type": "letters", "target_ids": [1],
        "operation_data": {"new_status": "sent", "status": "sent"}, "execution": "inline"}'),
    ('archive', '{"operation": "archive", "target_type": "letters", "target_ids": [1],
        "operation_data": {"reason": "old"}, "execution": "inline"}'),
    ('restore', '{"operation": "restore", "target_type": "letters", "target_ids": [1],
        "operation_data": {"force": true}, "execution": "inline"}'),
    ('export', '{"operation": "export", "target_type": "letters", "target_ids": [1],
        "operation_data": {"format": "csv"}, "execution": "inline"}'),
    ('bulk_create', '{"operation": "bulk_create", "target_type": "plain", "items": [{"id": 3}],
        "operation_data": {"on_conflict": "ignore"}, "execution": "inline"}'),
    ('operation_data an array', '{"operation": "delete", "target_type": "letters", "target_ids": [1],
        "operation_data": [], "execution": "inline"}'),
    ('operation_data a string', '{"operation": "restore", "target_type": "letters", "target_ids": [1],
        "operation_data": "{}", "execution": "inline"}')
  ) AS c(name, request);

-- target_ids.
SELECT name, app.try(format('SELECT batch_ops.batch_execute(%L)', request)) AS result
  FROM (VALUES
    ('missing', '{"operation": "export", "target_type": "letters", "execution": "inline"}'::jsonb),
    ('null', '{"operation": "export", "target_type": "letters", "target_ids": null, "execution": "inline"}'),
    ('empty', '{"operation": "export", "target_type": "letters", "target_ids": [], "execution": "inline"}'),
    ('a string', '{"operation": "export", "target_type": "letters", "target_ids": "1", "execution": "inline"}'),
    ('a number', '{"operation": "export", "target_type": "letters", "target_ids": 1, "execution": "inline"}'),
    ('an object', '{"operation": "export", "target_type": "letters", "target_ids": {"1": 1}, "execution": "inline"}'),
    ('with a null', '{"operation": "export", "target_type": "letters", "target_ids": [1, null], "execution": "inline"}'),
    ('with a boolean', '{"operation": "export", "target_type": "letters", "target_ids": [true], "execution": "inline"}'),
    ('with a nested array', '{"operation": "export", "target_type": "letters", "target_ids": [1, [2]], "execution": "inline"}'),
    ('with an object', '{"operation": "export", "target_type": "letters", "target_ids": [{"id": 1}], "execution": "inline"}'),
    ('with a float', '{"operation": "export", "target_type": "letters", "target_ids": [1.5], "execution": "inline"}'),
    ('with an integer beyond bigint', '{"operation": "export", "target_type": "letters",
        "target_ids": [99999999999999999999], "execution": "inline"}'),
    ('with an empty string', '{"operation": "export", "target_type": "tags", "target_ids": ["pg", ""], "execution": "inline"}'),
    ('with a newline', '{"operation": "export", "target_type": "tags", "target_ids": ["p\ng"], "execution": "inline"}'),
    ('with a bell character', '{"operation": "export", "target_type": "tags", "target_ids": ["p\u0007g"], "execution": "inline"}'),
    ('with a DEL character', '{"operation": "export", "target_type": "tags", "target_ids": ["p\u007fg"], "execution": "inline"}'),
    ('257 bytes', jsonb_build_object('operation', 'export', 'target_type', 'tags', 'execution', 'inline',
        'target_ids', jsonb_build_array('pg', repeat('x', 257)))),
    ('257 bytes in 129 characters', jsonb_build_object('operation', 'export', 'target_type', 'tags', 'execution', 'inline',
        'target_ids', jsonb_build_array(repeat('é', 128) || 'x'))),
    ('duplicate: "7" and 7', '{"operation": "export", "target_type": "letters", "target_ids": ["7", 7], "execution": "inline"}'),
    ('duplicate: the same string twice', '{"operation": "export", "target_type": "tags", "target_ids": ["pg", "cpp", "pg"],
        "execution": "inline"}'),
    ('duplicate: " 7" and "7" (integer key)', '{"operation": "export", "target_type": "letters", "target_ids": [" 7", "7"],
        "execution": "inline"}'),
    ('duplicate: "07" and 7 (integer key)', '{"operation": "export", "target_type": "letters", "target_ids": ["07", 7],
        "execution": "inline"}'),
    ('1001 ids', jsonb_build_object('operation', 'export', 'target_type', 'letters', 'execution', 'inline',
        'target_ids', (SELECT jsonb_agg(g) FROM generate_series(1, 1001) AS g))),
    ('items instead of target_ids', '{"operation": "delete", "target_type": "letters", "items": [{"id": 1}],
        "execution": "inline"}'),
    ('target_ids and items', '{"operation": "delete", "target_type": "letters", "target_ids": [1], "items": [{"id": 1}],
        "execution": "inline"}')
  ) AS c(name, request);

-- A lowered batch_ops.max_items applies to target_ids and items.
SET batch_ops.max_items = 2;
SELECT name, app.try(format('SELECT batch_ops.batch_execute(%L)', request)) AS result
  FROM (VALUES
    ('3 ids', '{"operation": "export", "target_type": "letters", "target_ids": [1, 2, 3], "execution": "inline"}'::jsonb),
    ('3 items', '{"operation": "bulk_create", "target_type": "plain", "items": [{"id": 3}, {"id": 4}, {"id": 5}],
        "execution": "inline"}')
  ) AS c(name, request);
RESET batch_ops.max_items;

-- bulk_create items.
SELECT name, app.try(format('SELECT batch_ops.batch_execute(%L)', request)) AS result
  FROM (VALUES
    ('items missing', '{"operation": "bulk_create", "target_type": "plain", "execution": "inline"}'::jsonb),
    ('items empty', '{"operation": "bulk_create", "target_type": "plain", "items": [], "execution": "inline"}'),
    ('items an object', '{"operation": "bulk_create", "target_type": "plain", "items": {"id": 3}, "execution": "inline"}'),
    ('item a number', '{"operation": "bulk_create", "target_type": "plain", "items": [{"id": 3}, 4], "execution": "inline"}'),
    ('item an array', '{"operation": "bulk_create", "target_type": "plain", "items": [[3]], "execution": "inline"}'),
    ('item null', '{"operation": "bulk_create", "target_type": "plain", "items": [null], "execution": "inline"}'),
    ('item an empty object', '{"operation": "bulk_create", "target_type": "plain", "items": [{"id": 3}, {}],
        "execution": "inline"}'),
    ('item column with a quote', '{"operation": "bulk_create", "target_type": "plain", "items": [{"id": 3, "v\"": "x"}],
        "execution": "inline"}'),
    ('item column with a semicolon', '{"operation": "bulk_create", "target_type": "plain",
        "items": [{"id": 3, "v; DROP TABLE app.plain": "x"}], "execution": "inline"}'),
    ('1001 items', jsonb_build_object('operation', 'bulk_create', 'target_type', 'plain', 'execution', 'inline',
        'items', (SELECT jsonb_agg(jsonb_build_object('id', g + 100)) FROM generate_series(1, 1001) AS g))),
    ('items and target_ids', '{"operation": "bulk_create", "target_type": "plain", "items": [{"id": 3}],
        "target_ids": [3], "execution": "inline"}'),
    ('target_ids instead of items', '{"operation": "bulk_create", "target_type": "plain", "target_ids": [3],
        "execution": "inline"}'),
    ('continue_on_error a string', '{"operation": "bulk_create", "target_type": "plain", "items": [{"id": 3}],
        "operation_data": {"continue_on_error": "true"}, "execution": "inline"}'),
    ('skip_validation a number', '{"operation": "bulk_create", "target_type": "plain", "items": [{"id": 3}],
        "operation_data": {"skip_validation": 1}, "execution": "inline"}')
  ) AS c(name, request);

-- update: operation_data.fields.
SELECT name, app.try(format('SELECT batch_ops.batch_execute(%L)', request)) AS result
  FROM (VALUES
    ('operation_data missing', '{"operation": "update", "target_type": "tags", "target_ids": ["pg"],
        "execution": "inline"}'::jsonb),
    ('fields missing', '{"operation": "update", "target_type": "tags", "target_ids": ["pg"],
        "operation_data": {}, "execution": "inline"}'),
    ('fields empty', '{"operation": "update", "target_type": "tags", "target_ids": ["pg"],
        "operation_data": {"fields": {}}, "execution": "inline"}'),
    ('fields an array', '{"operation": "update", "target_type": "tags", "target_ids": ["pg"],
        "operation_data": {"fields": [{"label": "x"}]}, "execution": "inline"}'),
    ('fields a string', '{"operation": "update", "target_type": "tags", "target_ids": ["pg"],
        "operation_data": {"fields": "label = ''x''"}, "execution": "inline"}'),
    ('unknown column', '{"operation": "update", "target_type": "tags", "target_ids": ["pg"],
        "operation_data": {"fields": {"label": "x", "nope": 1}}, "execution": "inline"}'),
    ('key column (no updatable_columns)', '{"operation": "update", "target_type": "letters", "target_ids": [7],
        "operation_data": {"fields": {"id": 77}}, "execution": "inline"}'),
    ('key column (updatable_columns)', '{"operation": "update", "target_type": "tags", "target_ids": ["pg"],
        "operation_data": {"fields": {"code": "pgsql"}}, "execution": "inline"}'),
    ('owner column', '{"operation": "update", "target_type": "letters", "target_ids": [7],
        "operation_data": {"fields": {"owner": "regress_bob"}}, "execution": "inline"}'),
    ('column outside updatable_columns', '{"operation": "update", "target_type": "tags", "target_ids": ["pg"],
        "operation_data": {"fields": {"hidden": true}}, "execution": "inline"}'),
    ('column with a double quote', '{"operation": "update", "target_type": "tags", "target_ids": ["pg"],
        "operation_data": {"fields": {"label\" = NULL, \"hits": 1}}, "execution": "inline"}'),
    ('column with a single quote', '{"operation": "update", "target_type": "tags", "target_ids": ["pg"],
        "operation_data": {"fields": {"label''": "x"}}, "execution": "inline"}'),
    ('column with a semicolon', '{"operation": "update", "target_type": "tags", "target_ids": ["pg"],
        "operation_data": {"fields": {"label; DROP TABLE app.tags; --": "x"}}, "execution": "inline"}'),
    ('a value the type rejects', '{"operation": "update", "target_type": "tags", "target_ids": ["pg"],
        "operation_data": {"fields": {"hits": "many"}}, "execution": "inline"}'),
    ('a value out of the type''s range', '{"operation": "update", "target_type": "tags", "target_ids": ["pg"],
        "operation_data": {"fields": {"hits": 99999999999}}, "execution": "inline"}')
  ) AS c(name, request);

-- status_update.
SELECT name, app.try(format('SELECT batch_ops.batch_execute(%L)', request)) AS result
  FROM (VALUES
    ('operation_data missing', '{"operation": "status_update", "target_type": "letters", "target_ids": [7],
        "execution": "inline"}'::jsonb),
    ('new_status missing', '{"operation": "status_update", "target_type": "letters", "target_ids": [7],
        "operation_data": {"reason": "x"}, "execution": "inline"}'),
    ('new_status empty', '{"operation": "status_update", "target_type": "letters", "target_ids": [7],
        "operation_data": {"new_status": ""}, "execution": "inline"}'),
    ('new_status a number', '{"operation": "status_update", "target_type": "letters", "target_ids": [7],
        "operation_data": {"new_status": 1}, "execution": "inline"}'),
    ('new_status not allowed', '{"operation": "status_update", "target_type": "letters", "target_ids": [7],
        "operation_data": {"new_status": "lost"}, "execution": "inline"}'),
    ('new_status 1001 bytes', jsonb_build_object('operation', 'status_update', 'target_type', 'letters',
        'target_ids', jsonb_build_array(7), 'execution', 'inline',
        'operation_data', jsonb_build_object('new_status', repeat('s', 1001)))),
    ('reason 1001 bytes', jsonb_build_object('operation', 'status_update', 'target_type', 'letters',
        'target_ids', jsonb_build_array(7), 'execution', 'inline',
        'operation_data', jsonb_build_object('new_status', 'sent', 'reason', repeat('r', 1001)))),
    ('force a string', '{"operation": "status_update", "target_type": "letters", "target_ids": [7],
        "operation_data": {"new_status": "sent", "force": "true"}, "execution": "inline"}')
  ) AS c(name, request);

-- export.
SELECT name, app.try(format('SELECT batch_ops.batch_execute(%L)', request)) AS result
  FROM (VALUES
    ('export_format unknown', '{"operation": "export", "target_type": "letters", "target_ids": [7],
        "operation_data": {"export_format": "xml"}, "execution": "inline"}'::jsonb),
    ('export_format upper case', '{"operation": "export", "target_type": "letters", "target_ids": [7],
        "operation_data": {"export_format": "CSV"}, "execution": "inline"}'),
    ('export_format a number', '{"operation": "export", "target_type": "letters", "target_ids": [7],
        "operation_data": {"export_format": 1}, "execution": "inline"}'),
    ('include_fields a string', '{"operation": "export", "target_type": "letters", "target_ids": [7],
        "operation_data": {"include_fields": "id"}, "execution": "inline"}'),
    ('include_fields an object', '{"operation": "export", "target_type": "letters", "target_ids": [7],
        "operation_data": {"include_fields": {"id": true}}, "execution": "inline"}'),
    ('include_fields empty', '{"operation": "export", "target_type": "letters", "target_ids": [7],
        "operation_data": {"include_fields": []}, "execution": "inline"}'),
    ('include_fields unknown column', '{"operation": "export", "target_type": "letters", "target_ids": [7],
        "operation_data": {"include_fields": ["id", "nope"]}, "execution": "inline"}'),
    ('include_fields quoted identifier', '{"operation": "export", "target_type": "letters", "target_ids": [7],
        "operation_data": {"include_fields": ["\"id\""]}, "execution": "inline"}'),
    ('include_fields with a semicolon', '{"operation": "export", "target_type": "letters", "target_ids": [7],
        "operation_data": {"include_fields": ["id; DROP TABLE app.letters"]}, "execution": "inline"}'),
    ('include_fields a number', '{"operation": "export", "target_type": "letters", "target_ids": [7],
        "operation_data": {"include_fields": ["id", 2]}, "execution": "inline"}'),
    ('include_fields duplicates', '{"operation": "export", "target_type": "letters", "target_ids": [7],
        "operation_data": {"include_fields": ["id", "body", "id"]}, "execution": "inline"}'),
    ('exclude_fields unknown column', '{"operation": "export", "target_type": "letters", "target_ids": [7],
        "operation_data": {"exclude_fields": ["nope"]}, "execution": "inline"}'),
    ('exclude_fields leaving no columns', '{"operation": "export", "target_type": "tags", "target_ids": ["pg"],
        "operation_data": {"exclude_fields": ["code", "label", "hits", "meta", "hidden"]}, "execution": "inline"}'),
    ('include_fields all excluded', '{"operation": "export", "target_type": "letters", "target_ids": [7],
        "operation_data": {"include_fields": ["id"], "exclude_fields": ["id"]}, "execution": "inline"}')
  ) AS c(name, request);

-- Other top-level keys, and delete_reason.
SELECT name, app.try(format('SELECT batch_ops.batch_execute(%L)', request)) AS result
  FROM (VALUES
    ('dry_run a string', '{"operation": "export", "target_type": "letters", "target_ids": [7],
        "dry_run": "false", "execution": "inline"}'::jsonb),
    ('dry_run a number', '{"operation": "export", "target_type": "letters", "target_ids": [7],
        "dry_run": 0, "execution": "inline"}'),
    ('execution unknown', '{"operation": "export", "target_type": "letters", "target_ids": [7],
        "execution": "now"}'),
    ('execution a boolean', '{"operation": "export", "target_type": "letters", "target_ids": [7],
        "execution": true}'),
    ('priority a string', '{"operation": "export", "target_type": "letters", "target_ids": [7],
        "priority": "high", "execution": "inline"}'),
    ('priority too high', '{"operation": "export", "target_type": "letters", "target_ids": [7],
        "priority": 1000001, "execution": "inline"}'),
    ('priority too low', '{"operation": "export", "target_type": "letters", "target_ids": [7],
        "priority": -1000001, "execution": "inline"}'),
    ('priority a float', '{"operation": "export", "target_type": "letters", "target_ids": [7],
        "priority": 1.5, "execution": "inline"}'),
    ('depends_on a number', '{"operation": "export", "target_type": "letters", "target_ids": [7],
        "depends_on": 1, "execution": "inline"}'),
    ('depends_on negative', '{"operation": "export", "target_type": "letters", "target_ids": [7],
        "depends_on": [-1], "execution": "inline"}'),
    ('depends_on zero', '{"operation": "export", "target_type": "letters", "target_ids": [7],
        "depends_on": [0], "execution": "inline"}'),
    ('depends_on strings', '{"operation": "export", "target_type": "letters", "target_ids": [7],
        "depends_on": ["1"], "execution": "inline"}'),
    ('depends_on a float', '{"operation": "export", "target_type": "letters", "target_ids": [7],
        "depends_on": [1.5], "execution": "inline"}'),
    ('max_attempts 0', '{"operation": "export", "target_type": "letters", "target_ids": [7],
        "max_attempts": 0, "execution": "inline"}'),
    ('max_attempts 101', '{"operation": "export", "target_type": "letters", "target_ids": [7],
        "max_attempts": 101, "execution": "inline"}'),
    ('max_attempts a string', '{"operation": "export", "target_type": "letters", "target_ids": [7],
        "max_attempts": "3", "execution": "inline"}'),
    ('idempotency_key empty', '{"operation": "export", "target_type": "letters", "target_ids": [7],
        "idempotency_key": "", "execution": "inline"}'),
    ('idempotency_key a number', '{"operation": "export", "target_type": "letters", "target_ids": [7],
        "idempotency_key": 17, "execution": "inline"}'),
    ('idempotency_key 201 bytes', jsonb_build_object('operation', 'export', 'target_type', 'letters',
        'target_ids', jsonb_build_array(7), 'execution', 'inline', 'idempotency_key', repeat('k', 201))),
    ('idempotency_key with dry_run', '{"operation": "export", "target_type": "letters", "target_ids": [7],
        "idempotency_key": "k-07", "dry_run": true}'),
    ('delete_reason a number', '{"operation": "delete", "target_type": "letters", "target_ids": [7],
        "operation_data": {"delete_reason": 5}, "execution": "inline"}'),
    ('delete_reason an object', '{"operation": "delete", "target_type": "letters", "target_ids": [7],
        "operation_data": {"delete_reason": {"why": "spam"}}, "execution": "inline"}'),
    ('soft_delete a string', '{"operation": "delete", "target_type": "letters", "target_ids": [7],
        "operation_data": {"soft_delete": "true"}, "execution": "inline"}'),
    ('archive_reason a number', '{"operation": "archive", "target_type": "letters", "target_ids": [7],
        "operation_data": {"archive_reason": 1}, "execution": "inline"}')
  ) AS c(name, request);

-- Unknown target (42704) and operations a target does not support (0A000).
SELECT name, app.try(format('SELECT batch_ops.batch_execute(%L)', request)) AS result
  FROM (VALUES
    ('unknown target', '{"operation": "delete", "target_type": "letterz", "target_ids": [7],
        "execution": "inline"}'::jsonb),
    ('unknown target, bulk_create', '{"operation": "bulk_create", "target_type": "app.letters", "items": [{"id": 7}],
        "execution": "inline"}'),
    ('soft_delete without a soft-delete column', '{"operation": "delete", "target_type": "plain", "target_ids": [1],
        "operation_data": {"soft_delete": true}, "execution": "inline"}'),
    ('archive without an archive table', '{"operation": "archive", "target_type": "tags", "target_ids": ["pg"],
        "execution": "inline"}'),
    ('status_update without a status column', '{"operation": "status_update", "target_type": "tags",
        "target_ids": ["pg"], "operation_data": {"new_status": "x"}, "execution": "inline"}'),
    ('restore without soft delete or archive', '{"operation": "restore", "target_type": "plain", "target_ids": [1],
        "execution": "inline"}')
  ) AS c(name, request);

-- Hard delete and force are for admins only: 42501 for the whole request.
SET ROLE regress_alice;
SELECT name, app.try(format('SELECT batch_ops.batch_execute(%L)', request)) AS result
  FROM (VALUES
    ('hard delete', '{"operation": "delete", "target_type": "letters", "target_ids": [7],
        "operation_data": {"soft_delete": false}, "execution": "inline"}'::jsonb),
    ('hard delete as a dry run', '{"operation": "delete", "target_type": "letters", "target_ids": [7],
        "operation_data": {"soft_delete": false}, "dry_run": true}'),
    ('delete on a target without a soft-delete column', '{"operation": "delete", "target_type": "plain",
        "target_ids": [1], "execution": "inline"}'),
    ('force', '{"operation": "status_update", "target_type": "letters", "target_ids": [7],
        "operation_data": {"new_status": "draft", "force": true}, "execution": "inline"}')
  ) AS c(name, request);
-- A malformed request is still 22023 for a non-admin.
SELECT app.try($$SELECT batch_ops.batch_execute('{"operation": "delete", "target_type": "letters",
    "target_ids": [7], "operation_data": {"soft_delete": false, "why": "x"}, "execution": "inline"}')$$);
RESET ROLE;

-- batch_validate checks the request the same way.
SELECT name, app.try(format('SELECT batch_ops.batch_validate(%L)', request)) AS result
  FROM (VALUES
    ('not an object', '[]'::jsonb),
    ('unknown top-level key', '{"operation": "delete", "target_type": "letters", "target_ids": [7], "verbose": true}'),
    ('target_ids empty', '{"operation": "delete", "target_type": "letters", "target_ids": []}'),
    ('duplicate ids', '{"operation": "delete", "target_type": "letters", "target_ids": [7, "7"]}'),
    ('execution unknown', '{"operation": "delete", "target_type": "letters", "target_ids": [7], "execution": "later"}'),
    ('unknown column', '{"operation": "update", "target_type": "tags", "target_ids": ["pg"],
        "operation_data": {"fields": {"nope": 1}}}'),
    ('unknown target', '{"operation": "delete", "target_type": "letterz", "target_ids": [7]}'),
    ('soft_delete without a soft-delete column', '{"operation": "delete", "target_type": "plain", "target_ids": [1],
        "operation_data": {"soft_delete": true}}')
  ) AS c(name, request);

-- Nothing was kept and nothing changed.
SELECT count(*) = :batches_before AS batches_unchanged FROM batch_ops.batch;
SELECT count(*) = :items_before AS items_unchanged FROM batch_ops.batch_item;
SELECT count(*) = :events_before AS events_unchanged FROM batch_ops.batch_event;
SELECT count(*) = :exports_before AS exports_unchanged FROM batch_ops.export;
SELECT coalesce(md5(string_agg(t::text, ',' ORDER BY id)), '') = :'letters_before' AS letters_unchanged
  FROM app.letters t;
SELECT coalesce(md5(string_agg(t::text, ',' ORDER BY id)), '') = :'archive_before' AS letters_archive_unchanged
  FROM app.letters_archive t;
SELECT coalesce(md5(string_agg(t::text, ',' ORDER BY code)), '') = :'tags_before' AS tags_unchanged
  FROM app.tags t;
SELECT coalesce(md5(string_agg(t::text, ',' ORDER BY id)), '') = :'plain_before' AS plain_unchanged
  FROM app.plain t;
SHOW batch_ops.max_items;

SELECT batch_ops.unregister_target('plain');
DROP TABLE app.plain;
