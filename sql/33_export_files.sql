-- Exports written to files with psql: byte for byte what export_data returns,
-- in every format, whatever the values hold; export ids in the responses;
-- export_data says what is wrong when given a batch id or too early.
CREATE TABLE app.odd (id integer PRIMARY KEY, note text, n numeric, owner name);
GRANT SELECT ON app.odd TO regress_alice;
INSERT INTO app.odd VALUES
    (1, 'plain', 1.5, 'regress_alice'),
    (2, E'back\\slash and "quotes", commas', NULL, 'regress_alice'),
    (3, E'tab\there\nnew line\r\ncarriage return', -2, 'regress_alice'),
    (4, ' edge spaces ', 0, 'regress_alice'),
    (5, 'ünïcödé ✓', 3, 'regress_alice'),
    (6, '', 4, 'regress_alice'),
    (7, NULL, 5, 'regress_alice');
SELECT batch_ops.register_target('odd', 'app.odd', owner_column => 'owner');
-- An error as SQLSTATE, message, detail and hint, numbers masked (ids vary).
CREATE FUNCTION app.error_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    detail text;
    hint text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN others THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    RETURN regexp_replace(SQLSTATE || ': ' || SQLERRM || coalesce(E'\nDETAIL: ' || nullif(detail, ''), '')
                          || coalesce(E'\nHINT: ' || nullif(hint, ''), ''), '(?<=[ (])\d+', 'N', 'g');
END $$;
GRANT EXECUTE ON FUNCTION app.error_of(text) TO PUBLIC;
-- The file psql writes: a fresh name per session, removed at the end.
SELECT '/tmp/batch_ops_regress_export_' || pg_backend_pid() AS file \gset
\setenv BATCH_OPS_EXPORT_FILE :file

SET ROLE regress_alice;
-- 1. Inline exports in each format; each written with export_lines and \g.
SELECT batch_ops.batch_execute('{"operation": "export", "target_type": "odd", "target_ids": [1, 2, 3, 4, 5, 6, 7],
    "operation_data": {"export_format": "csv", "exclude_fields": ["owner"]}, "execution": "inline"}')
    ->>'export_id' AS csv_export \gset
SELECT * FROM batch_ops.export_lines(:csv_export) \g (format=unaligned tuples_only=on) :file
RESET ROLE;
SELECT pg_read_binary_file(:'file') = convert_to(batch_ops.export_data(:csv_export), 'UTF8') AS csv_byte_exact;
SELECT pg_read_file(:'file') AS csv_file;
SET ROLE regress_alice;

SELECT batch_ops.batch_execute('{"operation": "export", "target_type": "odd", "target_ids": [1, 2, 3, 4, 5, 6, 7],
    "operation_data": {"export_format": "json", "include_fields": ["id", "note"]}, "execution": "inline"}')
    ->>'export_id' AS json_export \gset
SELECT * FROM batch_ops.export_lines(:json_export) \g (format=unaligned tuples_only=on) :file
RESET ROLE;
SELECT pg_read_binary_file(:'file') = convert_to(batch_ops.export_data(:json_export), 'UTF8') AS json_byte_exact;
SELECT pg_read_file(:'file')::jsonb -> 2 ->> 'note' = E'tab\there\nnew line\r\ncarriage return' AS json_file_parses;
SELECT pg_read_file(:'file') AS json_file;
SET ROLE regress_alice;

SELECT batch_ops.batch_execute('{"operation": "export", "target_type": "odd", "target_ids": [2, 3, 7],
    "operation_data": {"export_format": "ndjson", "include_fields": ["id", "note"]}, "execution": "inline"}')
    ->>'export_id' AS ndjson_export \gset
SELECT * FROM batch_ops.export_lines(:ndjson_export) \g (format=unaligned tuples_only=on) :file
RESET ROLE;
SELECT pg_read_binary_file(:'file') = convert_to(batch_ops.export_data(:ndjson_export), 'UTF8') AS ndjson_byte_exact;
SELECT count(*) AS ndjson_lines, bool_and(l::jsonb ? 'note') AS each_line_parses
  FROM regexp_split_to_table(rtrim(pg_read_file(:'file'), E'\n'), E'\n') AS l;
SET ROLE regress_alice;

-- An export without rows: an empty ndjson file, a csv file with its header.
SELECT batch_ops.batch_execute('{"operation": "export", "target_type": "odd", "target_ids": [99],
    "operation_data": {"export_format": "ndjson"}, "execution": "inline"}')->>'export_id' AS empty_export \gset
SELECT * FROM batch_ops.export_lines(:empty_export) \g (format=unaligned tuples_only=on) :file
RESET ROLE;
SELECT pg_read_binary_file(:'file') AS empty_ndjson_file;
SET ROLE regress_alice;
SELECT * FROM batch_ops.export_lines((batch_ops.batch_execute('{"operation": "export", "target_type": "odd",
    "target_ids": [99], "operation_data": {"export_format": "csv"}, "execution": "inline"}')->>'export_id')::bigint);
SELECT batch_ops.export_data((batch_ops.batch_execute('{"operation": "export", "target_type": "odd",
    "target_ids": [99], "execution": "inline"}')->>'export_id')::bigint) AS empty_json;

-- 2. In the background: the response carries the export id; the export is
-- complete when its batch has ended (55000 before, with a hint).
BEGIN;
SELECT batch_ops.batch_execute('{"operation": "export", "target_type": "odd", "target_ids": [5, 1],
    "operation_data": {"export_format": "csv", "include_fields": ["id", "note"]}}') AS response \gset
SELECT :'response'::jsonb ? 'export_id' AS response_has_export_id;
SELECT (:'response'::jsonb->>'export_id')::bigint AS bg_export, (:'response'::jsonb->>'operation_id')::bigint AS bg_batch
\gset
SELECT (batch_ops.batch_result(:bg_batch)->>'export_id')::bigint = :bg_export AS batch_result_has_it;
SELECT app.error_of(format('SELECT batch_ops.export_data(%s)', :bg_export)) AS too_early;
COMMIT;
SELECT (batch_ops.batch_wait(:bg_batch, '60 s')).status;
SELECT batch_ops.export_data(:bg_export);
SELECT * FROM batch_ops.export_lines(:bg_export) \g (format=unaligned tuples_only=on) :file
RESET ROLE;
SELECT pg_read_binary_file(:'file') = convert_to(batch_ops.export_data(:bg_export), 'UTF8') AS background_byte_exact;
SET ROLE regress_alice;

-- 3. A batch id given to export_data: the hint names the batch's export;
-- for an id that is no batch of the caller's either, how to find one.
SELECT app.error_of(format('SELECT batch_ops.export_data(%s)', :bg_batch)) AS batch_id_given;
SELECT app.error_of('SELECT batch_ops.export_data(987654321)') AS no_such_id;
RESET ROLE;

\! rm -f "$BATCH_OPS_EXPORT_FILE"
