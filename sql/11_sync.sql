-- Sync batches (seed page 001): create_sync, batch_sync, history, statistics.
CREATE TABLE app.src_products (id integer PRIMARY KEY, name text, price numeric, qty integer,
                               changed integer NOT NULL DEFAULT 1);
CREATE TABLE app.products (id integer PRIMARY KEY, name text, price numeric, qty integer);
CREATE TABLE app.product_totals (id integer PRIMARY KEY, label text, total numeric);
INSERT INTO app.src_products (id, name, price, qty)
SELECT g, 'product ' || g, g * 1.5, g FROM generate_series(1, 20) AS g;

-- A full sync of a local table into a target with the same columns.
SELECT batch_ops.create_sync('products', 'app.src_products', 'app.products') AS s1 \gset
SELECT status, kind, operation FROM batch_ops.jobs WHERE job_id = :s1;
-- Seed 001, case 1: syncing an existing batch succeeds with the right count.
SELECT r - 'sync_time' - 'batch_id' AS result, (r->>'batch_id')::bigint = :s1 AS same_id,
       (r->>'sync_time') ~ '^\d{4}-\d\d-\d\dT' AS iso_time
  FROM batch_ops.batch_sync(:s1) AS r;
SELECT count(*) AS rows, sum(qty) AS qty FROM app.products;
-- Nothing changed: nothing is counted.
SELECT batch_ops.batch_sync(:s1) - 'sync_time' - 'batch_id';
-- Three rows change, one is new: four are synced.
UPDATE app.src_products SET price = price + 1 WHERE id IN (1, 2, 3);
INSERT INTO app.src_products (id, name, price, qty) VALUES (21, 'new', 1, 1);
SELECT batch_ops.batch_sync(:s1) - 'sync_time' - 'batch_id';
SELECT status, total, success_count FROM batch_ops.batch_status(:s1);

-- Incremental on a watermark column: only rows changed since the last sync.
CREATE TABLE app.products_inc (LIKE app.products INCLUDING ALL);
SELECT batch_ops.create_sync('products_inc', 'app.src_products', 'app.products_inc',
    '{"mode": "incremental", "watermark_column": "changed"}') AS s2 \gset
SELECT batch_ops.batch_sync(:s2)->'records_synced' AS first_run;
UPDATE app.src_products SET qty = qty + 100, changed = 2 WHERE id IN (4, 5, 6);
SELECT batch_ops.batch_sync(:s2) - 'sync_time' - 'batch_id' AS second_run;
SELECT watermark FROM batch_ops.sync WHERE id = :s2;
SELECT id, qty FROM app.products_inc WHERE id IN (4, 5, 6, 7) ORDER BY id;

-- A query source with transform expressions, and delete_missing.
SELECT batch_ops.create_sync('totals',
    'SELECT id, name, price, qty FROM app.src_products WHERE qty < 100', 'app.product_totals',
    '{"columns": {"label": "upper(name)", "total": "price * qty"}, "delete_missing": true}') AS s3 \gset
SELECT batch_ops.batch_sync(:s3) - 'sync_time' - 'batch_id';
SELECT id, label, total FROM app.product_totals WHERE id IN (1, 2, 4) ORDER BY id;
DELETE FROM app.src_products WHERE id IN (20, 21);
SELECT batch_ops.batch_sync(:s3) - 'sync_time' - 'batch_id';
SELECT count(*) AS remaining, max(id) AS max_id FROM app.product_totals;

-- Seed 001, case 2: a batch that does not exist.
SELECT batch_ops.batch_sync(987654);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Seed 001, case 3: the source cannot be read: success false with the reason,
-- nothing loaded, a failed run in the history, and the batch failed.
ALTER TABLE app.src_products RENAME TO src_products_gone;
SELECT r->>'success' AS success, r->>'message' AS message, r->>'records_synced' AS records
  FROM batch_ops.batch_sync(:s1) AS r;
SELECT status, error_message FROM batch_ops.batch_status(:s1);
SELECT success, records_synced, message FROM batch_ops.sync_run WHERE batch_id = :s1 ORDER BY id;
SELECT (s - 'last_sync_time' - 'avg_duration_ms' - 'batch_id') AS statistics,
       jsonb_typeof(s->'avg_duration_ms') AS avg_type
  FROM batch_ops.batch_statistics(:s1) AS s;
-- batch_retry queues the failed sync for the workers, which run it again.
ALTER TABLE app.src_products_gone RENAME TO src_products;
SELECT batch_ops.batch_retry(:s1);
SELECT status, attempt FROM batch_ops.batch_wait(:s1, '60 s');
SELECT success, records_synced FROM batch_ops.sync_run WHERE batch_id = :s1 ORDER BY id DESC LIMIT 1;
SELECT event FROM batch_ops.batch_event WHERE batch_id = :s1 ORDER BY id;

-- Statistics only for sync batches.
SELECT batch_ops.batch_statistics((SELECT min(id) FROM batch_ops.batch WHERE kind = 'operation'));
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- Definitions are checked when they are made.
SELECT app.try($$SELECT batch_ops.create_sync('products', 'app.src_products', 'app.products')$$);
SELECT app.try($$SELECT batch_ops.create_sync('bad name!', 'app.src_products', 'app.products')$$);
SELECT app.try($$SELECT batch_ops.create_sync('x', 'app.no_such_table', 'app.products')$$);
SELECT app.try($$SELECT batch_ops.create_sync('x', 'SELECT 1 AS id; DROP TABLE app.products', 'app.products')$$);
SELECT app.try($$SELECT batch_ops.create_sync('x', 'SELECT * FROM app.src_products FOR UPDATE', 'app.products')$$);
SELECT app.try($$SELECT batch_ops.create_sync('x', 'app.src_products', 'app.products',
    '{"columns": {"name": "upper(name)) FROM pg_authid --"}}')$$);
SELECT app.try($$SELECT batch_ops.create_sync('x', 'app.src_products', 'app.products',
    '{"columns": {"name": "1 AS other"}}')$$);
SELECT app.try($$SELECT batch_ops.create_sync('x', 'app.src_products', 'app.products',
    '{"columns": {"nope": "1"}}')$$);
SELECT app.try($$SELECT batch_ops.create_sync('x', 'app.src_products', 'app.products', '{"mode": "incremental"}')$$);
SELECT app.try($$SELECT batch_ops.create_sync('x', 'app.src_products', 'app.products',
    '{"mode": "incremental", "watermark_column": "changed", "delete_missing": true}')$$);
SELECT app.try($$SELECT batch_ops.create_sync('x', 'app.src_products', 'app.products', '{"colour": 1}')$$);
SELECT app.try($$SELECT batch_ops.create_sync('x', 'app.src_products', 'app.products', '{"key_columns": ["name"]}')$$);
-- Another role's sync, and a role that may not write the target.
GRANT SELECT ON app.src_products TO regress_alice;
SET ROLE regress_alice;
SELECT batch_ops.batch_sync(:s1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT app.try($$SELECT batch_ops.create_sync('alices', 'app.src_products', 'app.products')$$);
RESET ROLE;

-- A remote source: this server itself, over its unix socket, gives the same
-- rows as the source (as a local sync does).
CREATE TABLE app.products_remote (LIKE app.products INCLUDING ALL);
SELECT batch_ops.create_sync('products_remote', 'app.src_products', 'app.products_remote',
    jsonb_build_object('connection', format('host=%s port=%s dbname=%s user=%s',
        split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port'),
        current_database(), current_user))) AS s4 \gset
SELECT r - 'sync_time' - 'batch_id' FROM batch_ops.batch_sync(:s4) AS r;
SELECT count(*) AS differences FROM (
    (SELECT id, name, price, qty FROM app.src_products EXCEPT SELECT * FROM app.products_remote)
    UNION ALL (SELECT * FROM app.products_remote EXCEPT SELECT id, name, price, qty FROM app.src_products)) AS d;
-- A remote query with a transform, incremental.
CREATE TABLE app.totals_remote (LIKE app.product_totals INCLUDING ALL);
SELECT batch_ops.create_sync('totals_remote', 'SELECT id, name, price, qty, changed FROM app.src_products',
    'app.totals_remote',
    jsonb_build_object('connection', format('host=%s port=%s dbname=%s user=%s',
        split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port'),
        current_database(), current_user),
        'columns', jsonb_build_object('label', 'upper(name)', 'total', 'price * qty'),
        'mode', 'incremental', 'watermark_column', 'changed')) AS s5 \gset
SELECT batch_ops.batch_sync(:s5)->'records_synced' AS first_run;
UPDATE app.src_products SET qty = qty + 1, changed = 3 WHERE id IN (1, 2, 3);
SELECT batch_ops.batch_sync(:s5) - 'sync_time' - 'batch_id' AS second_run;
SELECT count(*) AS differences FROM (
    SELECT id, upper(name), price * qty FROM app.src_products
    EXCEPT SELECT id, label, total FROM app.totals_remote) AS d;
SELECT count(*) AS staging_tables_left FROM pg_class WHERE relname LIKE 'sync_stage%';
-- Seed 001, case 3 again, remotely: the source system is unreachable.
SELECT batch_ops.create_sync('unreachable', 'app.src_products', 'app.products_remote',
    '{"connection": "host=127.0.0.1 port=1 connect_timeout=2"}') AS s6 \gset
SELECT r->>'success' AS success, split_part(r->>'message', E'\n', 1) AS message
  FROM batch_ops.batch_sync(:s6) AS r;
SELECT success, split_part(message, E'\n', 1) AS message FROM batch_ops.sync_run WHERE batch_id = :s6;
SELECT status FROM batch_ops.batch_status(:s6);
-- A role that is no admin must give a password in the connection string.
GRANT SELECT, INSERT, UPDATE ON app.products_remote TO regress_alice;
SET ROLE regress_alice;
SELECT app.try($$SELECT batch_ops.create_sync('alice_remote', 'app.src_products', 'app.products_remote',
    '{"connection": "host=127.0.0.1 port=1"}')$$);
RESET ROLE;

-- In the background (batch_sync(id, true)): an incremental sync runs chunk by
-- chunk, committing its watermark with each chunk.
CREATE TABLE app.events_src (id integer PRIMARY KEY, v text, seq bigint NOT NULL);
CREATE TABLE app.events_dst (id integer PRIMARY KEY, v text);
INSERT INTO app.events_src SELECT g, 'v' || g, g FROM generate_series(1, 2500) AS g;
SELECT batch_ops.create_sync('events', 'app.events_src', 'app.events_dst',
    '{"mode": "incremental", "watermark_column": "seq", "chunk_size": 1000}') AS s7 \gset
SELECT r->>'status' AS status, r->>'message' AS message FROM batch_ops.batch_sync(:s7, true) AS r;
SELECT status, total, processed FROM batch_ops.batch_wait(:s7, '60 s');
SELECT event, count(*) FROM batch_ops.batch_event WHERE batch_id = :s7 GROUP BY event ORDER BY min(id);
SELECT success, records_synced, watermark FROM batch_ops.sync_run WHERE batch_id = :s7;
SELECT count(*) AS differences FROM (SELECT id, v FROM app.events_src EXCEPT SELECT * FROM app.events_dst) AS d;
UPDATE app.events_src SET v = 'changed', seq = seq + 10000 WHERE id <= 5;
SELECT r->>'status' AS status FROM batch_ops.batch_sync(:s7, true) AS r;
SELECT status, total FROM batch_ops.batch_wait(:s7, '60 s');
SELECT count(*) AS changed FROM app.events_dst WHERE v = 'changed';
