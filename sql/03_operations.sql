-- Each of the seven operations inline, with items that succeed and items that fail.
INSERT INTO app.letters (id, status, owner, body)
SELECT g, 'draft', 'postgres', 'letter ' || g FROM generate_series(1, 20) AS g;

-- status_update: allowed transition, disallowed transition, unknown id, invalid key.
UPDATE app.letters SET status = 'sent' WHERE id = 3;
SELECT app.stable(batch_ops.batch_execute('{"operation": "status_update", "target_type": "letters",
    "target_ids": [1, 2, "3", 99, "x"], "operation_data": {"new_status": "sent", "reason": "mailed"},
    "execution": "inline"}'));
SELECT id, status FROM app.letters WHERE id <= 3 ORDER BY id;
-- A status outside allowed_statuses fails the whole request.
SELECT batch_ops.batch_execute('{"operation": "status_update", "target_type": "letters",
    "target_ids": [1], "operation_data": {"new_status": "lost"}, "execution": "inline"}');
-- force skips the transition rules (admins only).
SELECT * FROM app.results(batch_ops.batch_execute('{"operation": "status_update", "target_type": "letters",
    "target_ids": [1, 4], "operation_data": {"new_status": "archived", "force": true}, "execution": "inline"}'));

-- update: a check constraint fails one item (letter 1 is no draft); the others are updated.
SELECT * FROM app.results(batch_ops.batch_execute('{"operation": "update", "target_type": "letters",
    "target_ids": [5, 1, 7, 404], "operation_data": {"fields": {"body": null}}, "execution": "inline"}'));
SELECT id, status, body FROM app.letters WHERE id IN (1, 5, 7) ORDER BY id;
-- Values go through the column type's input function; JSON null is SQL NULL.
SELECT * FROM app.results(batch_ops.batch_execute('{"operation": "update", "target_type": "tags",
    "target_ids": ["none"], "operation_data": {"fields": {"hits": "12", "meta": {"a": [1, 2]}}}, "execution": "inline"}'));
INSERT INTO app.tags (code, label) VALUES ('pg', 'PostgreSQL'), ('cpp', 'C++');
SELECT * FROM app.results(batch_ops.batch_execute('{"operation": "update", "target_type": "tags",
    "target_ids": ["pg", "cpp", "rust"], "operation_data": {"fields": {"hits": 12, "meta": {"a": [1, 2]}, "label": "x"}},
    "execution": "inline"}'));
SELECT code, label, hits, meta FROM app.tags ORDER BY code;
SELECT * FROM app.results(batch_ops.batch_execute('{"operation": "update", "target_type": "tags",
    "target_ids": ["pg"], "operation_data": {"fields": {"meta": null}}, "execution": "inline"}'));
SELECT code, meta IS NULL AS meta_is_null FROM app.tags WHERE code = 'pg';
-- A value the column type rejects fails the request, naming the column.
SELECT batch_ops.batch_execute('{"operation": "update", "target_type": "tags",
    "target_ids": ["pg"], "operation_data": {"fields": {"hits": "many"}}, "execution": "inline"}');
-- Columns outside updatable_columns are refused.
SELECT batch_ops.batch_execute('{"operation": "update", "target_type": "tags",
    "target_ids": ["pg"], "operation_data": {"fields": {"hidden": true}}, "execution": "inline"}');

-- delete: soft by default when the target has a soft-delete column.
SELECT * FROM app.results(batch_ops.batch_execute('{"operation": "delete", "target_type": "letters",
    "target_ids": [8, 9, 999], "operation_data": {"delete_reason": "spam"}, "execution": "inline"}'));
SELECT id, deleted_at IS NOT NULL AS deleted FROM app.letters WHERE id IN (8, 9) ORDER BY id;
-- Soft-deleting again succeeds without change; other operations treat the row as gone.
SELECT * FROM app.results(batch_ops.batch_execute('{"operation": "delete", "target_type": "letters",
    "target_ids": [8], "execution": "inline"}'));
SELECT * FROM app.results(batch_ops.batch_execute('{"operation": "update", "target_type": "letters",
    "target_ids": [8], "operation_data": {"fields": {"body": "x"}}, "execution": "inline"}'));
-- Hard delete (admins only): a foreign key keeps one row.
CREATE TABLE app.replies (id serial PRIMARY KEY, letter_id integer REFERENCES app.letters (id));
INSERT INTO app.replies (letter_id) VALUES (11);
SELECT * FROM app.results(batch_ops.batch_execute('{"operation": "delete", "target_type": "letters",
    "target_ids": [10, 11, 12], "operation_data": {"soft_delete": false}, "execution": "inline"}'));
SELECT id FROM app.letters WHERE id BETWEEN 10 AND 12 ORDER BY id;
-- Boolean soft-delete column.
SELECT * FROM app.results(batch_ops.batch_execute('{"operation": "delete", "target_type": "tags",
    "target_ids": ["cpp", "zig"], "execution": "inline"}'));
SELECT code, hidden FROM app.tags ORDER BY code;

-- archive: moves rows to the archive table with the reason and location.
SELECT * FROM app.results(batch_ops.batch_execute('{"operation": "archive", "target_type": "letters",
    "target_ids": [13, 14, 9, 998], "operation_data": {"archive_reason": "old", "archive_location": "shelf 2"},
    "execution": "inline"}'));
SELECT id, status, archive_reason, archive_location, archived_at IS NOT NULL AS stamped
  FROM app.letters_archive ORDER BY id;
SELECT count(*) FROM app.letters WHERE id IN (13, 14);
-- Archiving a target without an archive table is not supported.
SELECT batch_ops.batch_execute('{"operation": "archive", "target_type": "tags",
    "target_ids": ["pg"], "execution": "inline"}');

-- restore: moves archived rows back and clears the soft-delete column.
SELECT * FROM app.results(batch_ops.batch_execute('{"operation": "restore", "target_type": "letters",
    "target_ids": [13, 8, 15, 997], "execution": "inline"}'));
SELECT id, deleted_at IS NOT NULL AS deleted FROM app.letters WHERE id IN (8, 13, 15) ORDER BY id;
SELECT id FROM app.letters_archive ORDER BY id;
-- A row that exists in both places cannot be moved back.
INSERT INTO app.letters (id, owner, body) VALUES (14, 'postgres', 'again');
SELECT * FROM app.results(batch_ops.batch_execute('{"operation": "restore", "target_type": "letters",
    "target_ids": [14], "execution": "inline"}'));

-- export: json, ndjson and csv, include and exclude fields.
SELECT app.stable(batch_ops.batch_execute('{"operation": "export", "target_type": "letters",
    "target_ids": [2, 1, 996], "operation_data": {"export_format": "json", "include_fields": ["id", "status"]},
    "execution": "inline"}')) AS response \gset
SELECT :'response'::jsonb - 'export_id' AS response, (:'response'::jsonb ? 'export_id') AS has_export_id;
SELECT batch_ops.export_data((:'response'::jsonb->>'export_id')::bigint);
SELECT batch_ops.export_data((batch_ops.batch_execute('{"operation": "export", "target_type": "letters",
    "target_ids": [1, 2], "operation_data": {"export_format": "ndjson", "exclude_fields": ["deleted_at", "owner"]},
    "execution": "inline"}')->>'export_id')::bigint);
UPDATE app.letters SET body = 'a, "quoted"' WHERE id = 2;
SELECT batch_ops.export_data((batch_ops.batch_execute('{"operation": "export", "target_type": "letters",
    "target_ids": [1, 2], "operation_data": {"export_format": "csv", "include_fields": ["id", "body", "deleted_at"]},
    "execution": "inline"}')->>'export_id')::bigint);
SELECT batch_ops.export_data(123456);

-- bulk_create: each item stands alone with continue_on_error.
SELECT * FROM app.results(batch_ops.batch_execute('{"operation": "bulk_create", "target_type": "letters",
    "items": [{"id": 100, "body": "new"}, {"id": 101, "body": "this body is far too long"},
              {"id": "abc"}, {"id": 100, "body": "duplicate"}, {"id": 102, "nope": 1}, {"id": 103, "status": "sent"}],
    "operation_data": {"continue_on_error": true}, "execution": "inline"}'));
SELECT id, status, owner, body FROM app.letters WHERE id >= 100 ORDER BY id;
-- Without it, the first failure fails the batch and nothing is created.
SELECT app.stable(batch_ops.batch_execute('{"operation": "bulk_create", "target_type": "letters",
    "items": [{"id": 110, "body": "a"}, {"id": 111, "body": "this body is far too long"}, {"id": 112}],
    "execution": "inline"}'));
SELECT count(*) FROM app.letters WHERE id >= 110;
-- skip_validation skips the extension's checks, never the table's constraints.
SELECT * FROM app.results(batch_ops.batch_execute('{"operation": "bulk_create", "target_type": "tags",
    "items": [{"code": "go"}, {"code": "c", "label": "C"}],
    "operation_data": {"continue_on_error": true}, "execution": "inline"}'));
SELECT * FROM app.results(batch_ops.batch_execute('{"operation": "bulk_create", "target_type": "tags",
    "items": [{"code": "go"}, {"code": "ada", "label": "Ada"}],
    "operation_data": {"continue_on_error": true, "skip_validation": true}, "execution": "inline"}'));
SELECT code, label FROM app.tags ORDER BY code;
