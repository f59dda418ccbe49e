-- Dry runs change nothing and keep nothing, and report what a real run would.
SELECT count(*) AS batches_before FROM batch_ops.batch \gset

-- A constraint failure is reported exactly; the table is untouched.
CREATE TABLE app.snapshot AS SELECT * FROM app.letters;
SELECT app.stable(batch_ops.batch_execute('{"operation": "update", "target_type": "letters",
    "target_ids": [1, 2, 3], "operation_data": {"fields": {"body": "far too long for the check constraint"}},
    "dry_run": true}'));
SELECT app.stable(batch_ops.batch_validate('{"operation": "update", "target_type": "letters",
    "target_ids": [1, 2, 996], "operation_data": {"fields": {"body": "fits"}}}'));
SELECT count(*) AS changed_rows
  FROM (SELECT * FROM app.letters EXCEPT SELECT * FROM app.snapshot) AS d;
SELECT count(*) - :batches_before AS batches_kept FROM batch_ops.batch;

-- Deferred constraints are checked at once, so the dry run sees them.
CREATE TABLE app.parents (id integer PRIMARY KEY);
CREATE TABLE app.children (id integer PRIMARY KEY,
    parent integer REFERENCES app.parents (id) DEFERRABLE INITIALLY DEFERRED);
INSERT INTO app.parents VALUES (1), (2);
INSERT INTO app.children VALUES (10, 1), (20, 2);
SELECT batch_ops.register_target('parents', 'app.parents');
SELECT * FROM app.results(batch_ops.batch_validate('{"operation": "delete", "target_type": "parents",
    "target_ids": [1, 3]}'));
SELECT id FROM app.parents ORDER BY id;

-- Items see each other's effects, as in a real run.
SELECT * FROM app.results(batch_ops.batch_validate('{"operation": "bulk_create", "target_type": "parents",
    "items": [{"id": 5}, {"id": 5}, {"id": 6}], "operation_data": {"continue_on_error": true}}'));
SELECT count(*) FROM app.parents WHERE id IN (5, 6);

-- Triggers fire in the dry run, and their errors are reported per item.
CREATE FUNCTION app.no_sevens() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id % 10 = 7 THEN RAISE EXCEPTION 'sevens are not allowed: %', NEW.id; END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER no_sevens BEFORE INSERT ON app.parents FOR EACH ROW EXECUTE FUNCTION app.no_sevens();
SELECT * FROM app.results(batch_ops.batch_validate('{"operation": "bulk_create", "target_type": "parents",
    "items": [{"id": 7}, {"id": 8}, {"id": 17}], "operation_data": {"continue_on_error": true}}'));

-- A row locked by another transaction is reported as LOCK_TIMEOUT (see the
-- isolation test dry_run_lock_timeout); dry runs in the background are in
-- 09_background.

-- A dry run of a real-looking request with an idempotency key is refused.
SELECT batch_ops.batch_execute('{"operation": "delete", "target_type": "parents",
    "target_ids": [1], "dry_run": true, "idempotency_key": "k1"}');
