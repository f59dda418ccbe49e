-- Errors that say how to fix what is wrong: enum labels at registration, the
-- admin functions for a user who is no admin, a target whose column vanished.
\set VERBOSITY default

-- 1. allowed_statuses and status_transitions are checked against the labels
-- of an enum status column (22023 naming them).
CREATE TYPE app.ticket_state AS ENUM ('open', 'pending', 'closed');
CREATE TABLE app.tickets (id integer PRIMARY KEY, state app.ticket_state NOT NULL DEFAULT 'open',
                          owner name, deleted_at timestamptz, title text);
GRANT SELECT, UPDATE ON app.tickets TO regress_alice;
INSERT INTO app.tickets (id, owner, title) VALUES (1, 'regress_alice', 'one'), (2, 'regress_alice', 'two');
SELECT batch_ops.register_target('tickets', 'app.tickets', status_column => 'state',
         allowed_statuses => ARRAY['open', 'done']);
SELECT batch_ops.register_target('tickets', 'app.tickets', status_column => 'state',
         status_transitions => '{"open": ["pending", "resolved"]}');
SELECT batch_ops.register_target('tickets', 'app.tickets', owner_column => 'owner', status_column => 'state',
         soft_delete_column => 'deleted_at', allowed_statuses => ARRAY['open', 'pending', 'closed'],
         status_transitions => '{"open": ["pending", "closed"], "pending": ["closed"]}');

-- 2. The admin functions, called by a user who is no admin: 42501 with a hint
-- (batch_ops_user may execute them; they check for an admin themselves).
SET ROLE regress_alice;
SELECT batch_ops.register_target('mine', 'app.tickets');
SELECT batch_ops.unregister_target('tickets');
SELECT batch_ops.batch_cleanup('1 day');
RESET ROLE;
-- A role that is no batch_ops_user gets PostgreSQL's own error (it has no USAGE on
-- the schema).
SET ROLE regress_nobody;
SELECT batch_ops.register_target('mine', 'app.tickets');
RESET ROLE;
SELECT p.proname, has_function_privilege('batch_ops_user', p.oid, 'EXECUTE') AS user_may_call
  FROM pg_proc p
 WHERE p.pronamespace = 'batch_ops'::regnamespace
   AND p.proname IN ('register_target', 'unregister_target', 'batch_cleanup')
 ORDER BY 1;

-- 3. A target whose column vanished says which, and how to fix it.
ALTER TABLE app.tickets DROP COLUMN owner;
SET ROLE regress_alice;
SELECT batch_ops.batch_validate('{"operation": "update", "target_type": "tickets", "target_ids": [1],
    "operation_data": {"fields": {"title": "x"}}}');
RESET ROLE;
ALTER TABLE app.tickets ADD COLUMN owner name;
SELECT batch_ops.register_target('tickets', 'app.tickets', owner_column => 'owner', status_column => 'state',
         soft_delete_column => 'deleted_at', updatable_columns => ARRAY['title', 'owner']::name[]);
ALTER TABLE app.tickets DROP COLUMN deleted_at;
SELECT batch_ops.batch_validate('{"operation": "delete", "target_type": "tickets", "target_ids": [1]}');
ALTER TABLE app.tickets ADD COLUMN deleted_at timestamptz;
ALTER TABLE app.tickets DROP COLUMN state;
SELECT batch_ops.batch_validate('{"operation": "status_update", "target_type": "tickets", "target_ids": [1],
    "operation_data": {"new_status": "closed"}}');
ALTER TABLE app.tickets ADD COLUMN state app.ticket_state NOT NULL DEFAULT 'open';
ALTER TABLE app.tickets DROP COLUMN title;
SELECT batch_ops.batch_validate('{"operation": "update", "target_type": "tickets", "target_ids": [1],
    "operation_data": {"fields": {"title": "x"}}}');
ALTER TABLE app.tickets RENAME COLUMN id TO ticket_id;
SELECT batch_ops.batch_validate('{"operation": "export", "target_type": "tickets", "target_ids": [1]}');
-- Registered again, it works.
SELECT batch_ops.register_target('tickets', 'app.tickets', key_column => 'ticket_id');
SELECT batch_ops.batch_validate('{"operation": "export", "target_type": "tickets", "target_ids": [1]}')->'status'
    AS registered_again;
-- In the background, the items of a batch whose target lost a column fail
-- with that message.
SELECT batch_ops.register_target('tickets', 'app.tickets', key_column => 'ticket_id', owner_column => 'owner');
BEGIN;
SELECT batch_ops.batch_execute('{"operation": "export", "target_type": "tickets", "target_ids": [1, 2]}')
    ->>'operation_id' AS gone_bg \gset
ALTER TABLE app.tickets DROP COLUMN owner;
COMMIT;
SELECT (batch_ops.batch_wait(:gone_bg, '60 s')).status;
SELECT seq, target_id, error_code, message FROM batch_ops.failures(:gone_bg);
