# Upgrades (API.md section 12): a database created with the first release (0.1.0) and
# holding its data is brought to the current version by ALTER EXTENSION batch_ops UPDATE.
# Until then the library refuses the schema (55000, with a hint to update); afterwards
# the database's extension objects (functions with their settings and security, tables,
# columns, constraints, indexes, views, policies, types, comments, privileges, the
# initial privileges pg_dump uses) are identical to those of a fresh CREATE EXTENSION,
# the first release's batches read as they did, can be retried, and new batches run.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use BatchOpsTAP;

start_watchdog(180);

my $node = new_batch_node('upgrade', "batch_ops.chunk_size = 10\n");
my $default_version = $node->safe_psql('postgres',
	"SELECT default_version FROM pg_available_extensions WHERE name = 'batch_ops'");
isnt($default_version, '0.1.0', "the default version ($default_version) is a later release");

# Everything about the extension's objects that must not depend on how they were
# installed, one line per fact, in a stable order (no OIDs).
my $snapshot_sql = <<'EOF';
WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'batch_ops'),
members AS (
    SELECT d.classid, d.objid FROM pg_depend d, ext
     WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'),
rels AS (SELECT c.oid, c.relname FROM pg_class c WHERE c.relnamespace = 'batch_ops'::regnamespace),
facts AS (
    SELECT 'extension ' || e.extversion || ' relocatable ' || e.extrelocatable
           || ' config ' || coalesce(e.extconfig::regclass[]::text, '') || ' ' || coalesce(e.extcondition::text, '')
      FROM pg_extension e WHERE e.extname = 'batch_ops'
    UNION ALL
    SELECT 'schema ' || n.nspname || ' acl ' || coalesce(n.nspacl::text, '') || ' comment '
           || coalesce(obj_description(n.oid, 'pg_namespace'), '')
      FROM pg_namespace n WHERE n.nspname = 'batch_ops'
    UNION ALL
    SELECT 'member ' || pg_describe_object(m.classid, m.objid, 0) FROM members m
    UNION ALL
    SELECT format('function %s (%s) returns %s language %s volatile %s parallel %s strict %s secdef %s '
                  'leakproof %s cost %s rows %s config %s acl %s source %s',
                  p.oid::regprocedure, pg_get_function_arguments(p.oid), pg_get_function_result(p.oid),
                  l.lanname, p.provolatile, p.proparallel, p.proisstrict, p.prosecdef, p.proleakproof,
                  p.procost, p.prorows, p.proconfig, p.proacl,
                  CASE WHEN l.lanname = 'c' THEN p.probin || ':' || p.prosrc ELSE md5(p.prosrc) END)
      FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
     WHERE p.pronamespace = 'batch_ops'::regnamespace
    UNION ALL
    SELECT format('relation %s kind %s persistence %s rls %s force %s options %s acl %s',
                  c.relname, c.relkind, c.relpersistence, c.relrowsecurity, c.relforcerowsecurity,
                  c.reloptions, c.relacl)
      FROM pg_class c WHERE c.relnamespace = 'batch_ops'::regnamespace
    UNION ALL
    SELECT format('column %s.%s #%s %s not null %s default %s identity %s generated %s compression %s acl %s',
                  r.relname, a.attname,
                  row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum),
                  format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid),
                  a.attidentity, a.attgenerated, a.attcompression, a.attacl)
      FROM pg_attribute a JOIN rels r ON r.oid = a.attrelid
      LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
     WHERE a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT format('constraint %s.%s %s deferrable %s deferred %s', r.relname, co.conname,
                  pg_get_constraintdef(co.oid), co.condeferrable, co.condeferred)
      FROM pg_constraint co JOIN rels r ON r.oid = co.conrelid
    UNION ALL
    SELECT format('constraint of type %s.%s %s', t.typname, co.conname, pg_get_constraintdef(co.oid))
      FROM pg_constraint co JOIN pg_type t ON t.oid = co.contypid
     WHERE t.typnamespace = 'batch_ops'::regnamespace
    UNION ALL
    SELECT 'index ' || pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN rels r ON r.oid = i.indrelid
    UNION ALL
    SELECT 'view ' || r.relname || ': ' || pg_get_viewdef(r.oid)
      FROM rels r JOIN pg_class c ON c.oid = r.oid WHERE c.relkind IN ('v', 'm')
    UNION ALL
    SELECT format('policy %s.%s cmd %s permissive %s roles %s using %s check %s', r.relname, po.polname,
                  po.polcmd, po.polpermissive, po.polroles::regrole[], pg_get_expr(po.polqual, po.polrelid),
                  pg_get_expr(po.polwithcheck, po.polrelid))
      FROM pg_policy po JOIN rels r ON r.oid = po.polrelid
    UNION ALL
    SELECT 'trigger ' || pg_get_triggerdef(tg.oid)
      FROM pg_trigger tg JOIN rels r ON r.oid = tg.tgrelid WHERE NOT tg.tgisinternal
    UNION ALL
    SELECT 'rule ' || pg_get_ruledef(ru.oid) FROM pg_rewrite ru JOIN rels r ON r.oid = ru.ev_class
    UNION ALL
    SELECT format('type %s type %s acl %s labels %s', t.typname, t.typtype, t.typacl,
                  (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e
                    WHERE e.enumtypid = t.oid))
      FROM pg_type t WHERE t.typnamespace = 'batch_ops'::regnamespace
    UNION ALL
    SELECT format('sequence %s start %s increment %s min %s max %s cache %s cycle %s', r.relname,
                  s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle)
      FROM pg_sequence s JOIN rels r ON r.oid = s.seqrelid
    UNION ALL
    SELECT format('comment on %s: %s', (pg_identify_object(d.classoid, d.objoid, d.objsubid)).identity,
                  d.description)
      FROM pg_description d
     WHERE (pg_identify_object(d.classoid, d.objoid, d.objsubid)).schema = 'batch_ops'
        OR (d.classoid, d.objoid) IN (SELECT m.classid, m.objid FROM members m)
        OR (d.classoid = 'pg_extension'::regclass AND d.objoid = (SELECT oid FROM ext))
    UNION ALL
    SELECT format('initial privileges of %s: %s %s', pg_describe_object(ip.classoid, ip.objoid, ip.objsubid),
                  ip.privtype, ip.initprivs)
      FROM pg_init_privs ip
     WHERE (ip.classoid, ip.objoid) IN (SELECT m.classid, m.objid FROM members m)
        OR (ip.classoid = 'pg_class'::regclass AND ip.objoid IN (SELECT oid FROM rels))
)
SELECT f FROM facts AS x(f) ORDER BY 1;
EOF

# The database as the first release left it: the 0.1.0 schema.
$node->safe_psql('postgres', 'CREATE DATABASE upgraded');
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
my $app_sql = <<'EOF';
CREATE SCHEMA app;
CREATE TABLE app.items (id integer PRIMARY KEY, status text NOT NULL DEFAULT 'new', note text);
INSERT INTO app.items (id) SELECT g FROM generate_series(1, 40) AS g;
CREATE TABLE app.copy (id integer PRIMARY KEY, status text, note text);
EOF
$node->safe_psql('upgraded', "CREATE EXTENSION batch_ops VERSION '0.1.0';\n$app_sql");
is($node->safe_psql('upgraded', "SELECT extversion FROM pg_extension WHERE extname = 'batch_ops'"),
	'0.1.0', 'the first release is installed');

# The library refuses the first release's schema, with a hint to update.
my ($ret, $out, $err) = $node->psql('upgraded',
	"\\set VERBOSITY verbose\nSELECT batch_ops.batch_health();\n\\echo :LAST_ERROR_SQLSTATE", on_error_stop => 0);
like($out, qr/^55000$/m, 'a call against the 0.1.0 schema raises 55000');
like($err, qr/batch_ops schema version 0\.1\.0 does not match library version \Q$default_version\E/,
	'the error names both versions');
like($err, qr/HINT:  Run ALTER EXTENSION batch_ops UPDATE\./, 'the hint says how to update');

# The first release's data: real batches made by the library in the fresh database
# (a background batch with a failed item, an inline export, a sync and its run),
# copied into the 0.1.0 tables (only the columns the first release had).
$node->safe_psql('fresh', "CREATE EXTENSION batch_ops;\n$app_sql"
	  . "SELECT batch_ops.register_target('items', 'app.items', status_column => 'status');");
my $failed = $node->safe_psql('fresh', <<'EOF');
SELECT batch_ops.batch_execute('{"operation": "status_update", "target_type": "items",
    "target_ids": [1, 2, 3, 999], "execution": "background",
    "operation_data": {"new_status": "done"}}')->>'operation_id';
EOF
is($node->safe_psql('fresh', "SELECT status, success_count, failure_count FROM batch_ops.batch_wait($failed, '60 s')"),
	'failed|3|1', 'a batch of the first release failed one item');
my $export = $node->safe_psql('fresh', <<'EOF');
SELECT batch_ops.batch_execute('{"operation": "export", "target_type": "items",
    "target_ids": [4, 5], "execution": "inline",
    "operation_data": {"export_format": "csv"}}')->>'operation_id';
EOF
my $sync = $node->safe_psql('fresh', "SELECT batch_ops.create_sync('copy', 'app.items', 'app.copy')");
is($node->safe_psql('fresh', "SELECT batch_ops.batch_sync($sync)->>'success'"), 'true', 'a sync ran');

for my $table (qw(target batch batch_item batch_event export sync sync_run))
{
	my $json = $node->safe_psql('fresh', "SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM batch_ops.$table AS t");
	$json =~ s/'/''/g;
	$node->safe_psql('upgraded', <<"EOF");
INSERT INTO batch_ops.$table OVERRIDING SYSTEM VALUE
SELECT * FROM jsonb_populate_recordset(NULL::batch_ops.$table, '$json');
EOF
}
$node->safe_psql('upgraded', <<'EOF');
SELECT setval(pg_get_serial_sequence('batch_ops.' || t, 'id'), (SELECT max(id) FROM batch_ops.batch))
  FROM unnest(ARRAY['batch']) AS t;
SELECT setval(pg_get_serial_sequence('batch_ops.batch_event', 'id'), (SELECT max(id) FROM batch_ops.batch_event));
SELECT setval(pg_get_serial_sequence('batch_ops.export', 'id'), (SELECT max(id) FROM batch_ops.export));
SELECT setval(pg_get_serial_sequence('batch_ops.sync_run', 'id'), (SELECT max(id) FROM batch_ops.sync_run));
UPDATE app.items SET status = 'done' WHERE id IN (1, 2, 3);
INSERT INTO app.copy SELECT * FROM app.items;
EOF
is($node->safe_psql('upgraded', 'SELECT count(*) FROM batch_ops.batch'), '3', 'three batches in the 0.1.0 tables');

diag('executor errors while at 0.1.0: ' . scalar(() = slurp_file($node->logfile) =~ /executor exiting after an error/g));

# The update.
$node->safe_psql('upgraded', 'ALTER EXTENSION batch_ops UPDATE');
is($node->safe_psql('upgraded', "SELECT extversion FROM pg_extension WHERE extname = 'batch_ops'"),
	$default_version, "ALTER EXTENSION batch_ops UPDATE brings it to $default_version");

# Identical objects.
my @fresh = split /\n/, $node->safe_psql('fresh', $snapshot_sql);
my @upgraded = split /\n/, $node->safe_psql('upgraded', $snapshot_sql);
cmp_ok(scalar(@fresh), '>', 150, 'the snapshot of the objects is substantial (' . scalar(@fresh) . ' facts)');
ok((grep { /^function batch_ops\._estimated_remaining.*config \{"search_path=pg_catalog, pg_temp"\}/ } @fresh),
	'the snapshot shows function settings');
my %in_fresh = map { $_ => 1 } @fresh;
my %in_upgraded = map { $_ => 1 } @upgraded;
my @only_fresh = grep { !$in_upgraded{$_} } @fresh;
my @only_upgraded = grep { !$in_fresh{$_} } @upgraded;
ok(!@only_fresh && !@only_upgraded && @fresh == @upgraded,
	'the updated extension has exactly the objects of a fresh CREATE EXTENSION')
  or diag("only after CREATE EXTENSION:\n  " . join("\n  ", @only_fresh)
	  . "\nonly after ALTER EXTENSION UPDATE:\n  " . join("\n  ", @only_upgraded));

# The first release's batches read as they did, through the functions and the views.
for my $id ($failed, $export, $sync)
{
	is($node->safe_psql('upgraded', "SELECT batch_ops.batch_result($id)"),
		$node->safe_psql('fresh', "SELECT batch_ops.batch_result($id)"),
		"batch_result($id) reads the same after the update");
}
is($node->safe_psql('upgraded',
		"SELECT job_id, status, total, success_count, failure_count FROM batch_ops.jobs ORDER BY job_id"),
	$node->safe_psql('fresh',
		"SELECT job_id, status, total, success_count, failure_count FROM batch_ops.jobs ORDER BY job_id"),
	'batch_ops.jobs reads the same');
is($node->safe_psql('upgraded', "SELECT string_agg(target_id || ':' || status || ':' || coalesce(error_code, ''), ',' ORDER BY seq) FROM batch_ops.job_items WHERE job_id = $failed"),
	'1:succeeded:,2:succeeded:,3:succeeded:,999:failed:NOT_FOUND', 'its items are all there');
is($node->safe_psql('upgraded', "SELECT batch_ops.export_data(id) IS NOT NULL FROM batch_ops.export"),
	't', 'the export can be downloaded');
is($node->safe_psql('upgraded', "SELECT (batch_ops.batch_statistics($sync))->>'runs'"), '1', 'the sync history is kept');

# A batch of the first release is retried and run by the workers; new batches run.
is($node->safe_psql('upgraded', "SELECT batch_ops.batch_retry($failed)"), '1', 'the old failed batch is retried');
is($node->safe_psql('upgraded',
		"SELECT status, attempt, success_count, failure_count FROM batch_ops.batch_wait($failed, '60 s')"),
	'failed|2|3|1', 'the workers ran the retry: the missing id failed again, the others stayed succeeded');
my $new = submit_batch($node, 'upgraded', 10, 30);
is($node->safe_psql('upgraded', "SELECT status, success_count FROM batch_ops.batch_wait($new, '60 s')"),
	'succeeded|21', 'a new background batch runs in the updated database');
ok($new > $sync, 'new batch ids follow the old ones');
is($node->safe_psql('upgraded', "SELECT batch_ops.batch_sync($sync)->>'success'"), 'true',
	'the old sync runs again');

my $log = slurp_file($node->logfile);
unlike($log, qr/PANIC|server process .* was terminated/, 'no crash in the server log');

$node->stop;
done_testing();
