-- Registering targets, and every check register_target makes.
SELECT batch_ops.register_target('letters', 'app.letters',
    owner_column => 'owner', status_column => 'status', soft_delete_column => 'deleted_at',
    archive_relation => 'app.letters_archive',
    allowed_statuses => ARRAY['draft', 'sent', 'archived'],
    status_transitions => '{"draft": ["sent"], "sent": ["archived"], "archived": ["draft"]}');
SELECT name, relation, key_column, owner_column, status_column, soft_delete_column, archive_relation,
       allowed_statuses, updatable_columns, status_transitions
  FROM batch_ops.target;

-- Registering again replaces the definition.
SELECT batch_ops.register_target('letters', 'app.letters',
    owner_column => 'owner', status_column => 'status', soft_delete_column => 'deleted_at',
    archive_relation => 'app.letters_archive',
    allowed_statuses => ARRAY['draft', 'sent', 'archived'],
    status_transitions => '{"draft": ["sent"], "sent": ["archived"], "archived": ["draft"]}');
SELECT count(*) FROM batch_ops.target;

-- Validation errors.
CREATE TABLE app.nokey (id integer, label text);
CREATE TABLE app.floats (id float8 PRIMARY KEY);
CREATE VIEW app.letters_view AS SELECT * FROM app.letters;
CREATE TABLE app.thin_archive (id integer);
\set VERBOSITY default
SELECT batch_ops.register_target('nokey', 'app.nokey');
SELECT batch_ops.register_target('nokey', 'app.nokey', key_column => 'label');
SELECT batch_ops.register_target('floats', 'app.floats');
SELECT batch_ops.register_target('view', 'app.letters_view');
SELECT batch_ops.register_target('missing', 'app.does_not_exist');
SELECT batch_ops.register_target('bad', 'app.letters', key_column => 'nope');
SELECT batch_ops.register_target('bad', 'app.letters', owner_column => 'nope');
SELECT batch_ops.register_target('bad', 'app.letters', owner_column => 'id');
SELECT batch_ops.register_target('bad', 'app.letters', status_column => 'deleted_at');
SELECT batch_ops.register_target('bad', 'app.letters', soft_delete_column => 'body');
SELECT batch_ops.register_target('bad', 'app.letters', archive_relation => 'app.thin_archive');
SELECT batch_ops.register_target('bad', 'app.letters', archive_relation => 'app.letters');
SELECT batch_ops.register_target('bad', 'app.letters', updatable_columns => ARRAY['id']::name[]);
SELECT batch_ops.register_target('bad', 'app.letters', updatable_columns => ARRAY['nope']::name[]);
SELECT batch_ops.register_target('bad', 'app.letters', allowed_statuses => ARRAY['a']);
SELECT batch_ops.register_target('bad', 'app.letters', status_column => 'status', allowed_statuses => ARRAY['a'],
                                 status_transitions => '{"a": ["b"]}');
SELECT batch_ops.register_target('bad', 'app.letters', status_column => 'status', status_transitions => '["a"]');
SELECT batch_ops.register_target('bad name', 'app.letters');
SELECT batch_ops.register_target('x"; drop table app.letters; --', 'app.letters');
SELECT batch_ops.register_target(NULL, 'app.letters');

-- Only admins register targets.
SET ROLE regress_alice;
SELECT batch_ops.register_target('mine', 'app.letters');
SELECT batch_ops.unregister_target('letters');
RESET ROLE;
SET ROLE regress_nobody;
SELECT batch_ops.register_target('mine', 'app.letters');
RESET ROLE;
-- A member of batch_ops_admin may.
SET ROLE regress_admin;
SELECT batch_ops.register_target('admins_letters', 'app.letters', status_column => 'status');
SELECT batch_ops.unregister_target('admins_letters');
RESET ROLE;

SELECT batch_ops.unregister_target('nope');
SELECT name FROM batch_ops.target ORDER BY 1;

-- A second target: text keys, boolean soft delete, updatable columns.
CREATE TABLE app.tags (code varchar(20) PRIMARY KEY, label text NOT NULL, hits integer DEFAULT 0,
                       meta jsonb, hidden boolean NOT NULL DEFAULT false);
GRANT SELECT, INSERT, UPDATE, DELETE ON app.tags TO PUBLIC;
SELECT batch_ops.register_target('tags', 'app.tags', key_column => 'code', soft_delete_column => 'hidden',
                                 updatable_columns => ARRAY['label', 'hits', 'meta']::name[]);
