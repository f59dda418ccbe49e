# batch_ops on a Citus cluster (issue 11, API.md section 13): a coordinator and two
# workers on this machine, shared_preload_libraries = 'citus,batch_ops' everywhere, the
# extension created on the coordinator only.
#
# Every operation runs against a distributed table (app.orders, with its colocated
# archive) and, with the same request, against a local twin on the coordinator
# (app.orders_local): results, export contents and the rows left must be the same.
# Then background batches, retry, dependencies, syncs (local and remote sources) into a
# distributed table, reference and single-shard targets, and a worker node restarted
# while a background batch runs: the batch finishes with every item applied once
# (a BEFORE UPDATE trigger counts the applications of each row in its column version).
#
# Skipped when Citus is not installed (test/check citus builds it).
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use BatchOpsTAP;
use CitusTAP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

if (my $why = citus_missing())
{
	plan skip_all => $why;
}

start_watchdog(400);

my ($coord, $w1, $w2) = new_citus_cluster('citus',
	"batch_ops.retry_backoff = '200ms'\nbatch_ops.max_items = 100000\n");
my $host = $coord->host;

sub cq { my ($sql) = @_; return $coord->safe_psql('postgres', $sql); }

# ---------------------------------------------------------------------------------------
# The extension on the coordinator; what Citus does with it on the workers.
cq('CREATE EXTENSION batch_ops');
is(cq("SELECT count(*) FROM pg_dist_partition WHERE logicalrelid::regclass::text LIKE 'batch_ops.%'"),
	'0', "the extension's tables are not Citus tables: local to the coordinator");

for my $w ($w1, $w2)
{
	is($w->safe_psql('postgres', "SELECT count(*) FROM pg_extension WHERE extname = 'batch_ops'"),
		'1', 'Citus propagates CREATE EXTENSION batch_ops to worker ' . $w->name);
}
my ($ret, $out, $err) = $w1->psql('postgres', 'DROP EXTENSION batch_ops');
like($err, qr/operation is not allowed on this node/,
	'a worker refuses extension commands: Citus sends them to the coordinator');

# ---------------------------------------------------------------------------------------
# The targets: app.orders distributed by its key, with a colocated archive, and a local
# twin of both; the same rows in each.
my $ddl = <<'EOF';
CREATE TABLE app.%T (
    id bigint PRIMARY KEY,
    status text NOT NULL DEFAULT 'new',
    note text,
    qty integer NOT NULL DEFAULT 1,
    deleted_at timestamptz,
    version integer NOT NULL DEFAULT 0,
    CONSTRAINT %T_forbidden CHECK (note IS DISTINCT FROM 'forbidden' OR id % 7 <> 0));
CREATE TABLE app.%T_archive (
    id bigint PRIMARY KEY, status text, note text, qty integer, deleted_at timestamptz,
    version integer, archived_at timestamptz, archive_reason text, archive_location text);
%DISTRIBUTE%
CREATE TRIGGER %T_version BEFORE UPDATE ON app.%T FOR EACH ROW EXECUTE FUNCTION app.bump();
INSERT INTO app.%T (id) SELECT g FROM generate_series(1, 400) AS g;
SELECT batch_ops.register_target('%T', 'app.%T', status_column => 'status',
    soft_delete_column => 'deleted_at', archive_relation => 'app.%T_archive',
    allowed_statuses => '{new,paid,shipped}',
    status_transitions => '{"new": ["paid"], "paid": ["shipped"]}');
EOF
cq(<<'EOF');
CREATE SCHEMA app;
CREATE FUNCTION app.bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := OLD.version + 1;
    RETURN NEW;
END $$;
EOF
for my $t (qw(orders orders_local))
{
	(my $sql = $ddl) =~ s/%T/$t/g;
	my $distribute = $t ne 'orders' ? '' : <<'EOF';
SELECT create_distributed_table('app.orders', 'id');
SELECT create_distributed_table('app.orders_archive', 'id', colocate_with => 'app.orders');
EOF
	$sql =~ s/%DISTRIBUTE%/$distribute/;
	cq($sql);
}
is(cq("SELECT string_agg(logicalrelid::text || ':' || partmethod::text, ' ' ORDER BY logicalrelid::text) "
		  . "FROM pg_dist_partition WHERE logicalrelid::text LIKE 'app.%'"),
	'app.orders:h app.orders_archive:h', 'app.orders and its archive are hash-distributed');
is(cq("SELECT count(DISTINCT colocationid) FROM pg_dist_partition "
		  . "WHERE logicalrelid IN ('app.orders'::regclass, 'app.orders_archive'::regclass)"),
	'1', 'the archive is colocated with the target');

# The rows of a twin, and of its archive, as text (the same for both twins when every
# operation did the same).
sub rows_of
{
	my ($t) = @_;
	return cq("SELECT string_agg(format('%s|%s|%s|%s|%s|%s', id, status, note, qty, "
		  . "deleted_at IS NOT NULL, version), E'\\n' ORDER BY id) FROM app.$t")
	  . "\n--archive--\n"
	  . cq("SELECT string_agg(format('%s|%s|%s|%s|%s|%s', id, status, note, version, archive_reason, "
		  . "archive_location), E'\\n' ORDER BY id) FROM app.${t}_archive");
}

# The response of REQUEST (a jsonb expression; %T stands for the target) without what
# differs from run to run (ids, timestamps, durations, export ids, the target's name).
sub response_of
{
	my ($t, $request, $fn) = @_;
	$fn //= 'batch_execute';
	(my $r = $request) =~ s/%T/$t/g;
	my ($ret, $out, $err) = $coord->psql('postgres',
		"SELECT batch_ops.$fn($r) - '{operation_id,started_at,completed_at,duration_ms,"
		  . "export_id,target_type,created_at}'::text[]",
		timeout => 120);
	return $ret == 0 ? $out : "ERROR: " . ($err =~ s/^.*?ERROR:\s+//sr =~ s/\n.*//sr);
}

# Runs REQUEST against both twins and checks that the responses and the rows agree.
# Returns the response of the distributed one.
sub same_on_both
{
	my ($what, $request, $fn) = @_;
	# Messages name the relation: Citus reports a shard (orders_102010, orders_pkey_102008).
	my $dist = response_of('orders', $request, $fn) =~ s/\b(orders\w*?)_1\d{5}\b/$1/gr;
	my $local = response_of('orders_local', $request, $fn) =~ s/orders_local/orders/gr;
	is($dist, $local, "$what: the same response as on the local table");
	is(rows_of('orders'), rows_of('orders_local'), "$what: the same rows as on the local table");
	return $dist;
}

sub ids { my ($from, $to, @more) = @_; return '(SELECT jsonb_agg(g) FROM generate_series(' . "$from, $to) g)" . join('', map { " || '$_'::jsonb" } @more); }

sub inline
{
	my ($op, $ids, $data, %extra) = @_;
	my $more = join('', map { ", '$_', $extra{$_}" } sort keys %extra);
	return "jsonb_build_object('operation', '$op', 'target_type', '%T', 'execution', 'inline', "
	  . "'target_ids', $ids, 'operation_data', '$data'::jsonb$more)";
}

my $r;
$r = same_on_both('update', inline('update', ids(1, 50, 100000), '{"fields": {"note": "hello", "qty": 3}}'));
like($r, qr/"success_count": 50/, 'update: 50 rows updated, the missing id failed');

$r = same_on_both('update with failing items',
	inline('update', ids(1, 60), '{"fields": {"note": "forbidden"}}'));
like($r, qr/"failure_count": 8\b(?=.*CONSTRAINT_VIOLATION)|CONSTRAINT_VIOLATION.*"failure_count": 8\b/s,
	'update: the 8 ids that the check constraint refuses fail alone (CONSTRAINT_VIOLATION)');

same_on_both('status_update new -> paid', inline('status_update', ids(1, 40), '{"new_status": "paid"}'));
$r = same_on_both('status_update paid -> shipped, some still new',
	inline('status_update', ids(30, 50), '{"new_status": "shipped"}'));
like($r, qr/INVALID_TRANSITION/, 'status_update: items in a status without that transition fail');

same_on_both('soft delete', inline('delete', ids(60, 80), '{"delete_reason": "test"}'));
$r = same_on_both('soft delete again', inline('delete', ids(60, 65, 81), '{}'));
like($r, qr/already deleted/, 'soft delete of soft-deleted rows succeeds without change');
$r = same_on_both('update of soft-deleted rows', inline('update', ids(60, 62), '{"fields": {"qty": 9}}'));
like($r, qr/row is deleted/, 'soft-deleted rows are NOT_FOUND for other operations');
same_on_both('restore soft-deleted rows', inline('restore', ids(60, 70), '{}'));

same_on_both('archive',
	inline('archive', ids(100, 130), '{"archive_reason": "old", "archive_location": "shelf 3"}'));
$r = same_on_both('archive again', inline('archive', ids(100, 105), '{}'));
like($r, qr/NOT_FOUND/, 'archived rows are gone from the target');
same_on_both('restore from the archive', inline('restore', ids(100, 110), '{}'));

same_on_both('hard delete', inline('delete', ids(200, 220), '{"soft_delete": false}'));

for my $format (qw(json csv ndjson))
{
	my $req = inline('export', ids(1, 30, 9999, 205),
		qq({"export_format": "$format", "exclude_fields": ["deleted_at"]}));
	my %content;
	for my $t (qw(orders orders_local))
	{
		(my $x = $req) =~ s/%T/$t/g;
		$content{$t} = cq("SELECT batch_ops.export_data((batch_ops.batch_execute($x)->>'export_id')::bigint)");
	}
	is($content{orders}, $content{orders_local}, "export $format: the same content");
	like($content{orders}, qr/hello/, "export $format: has the rows");
}

my $bulk = "jsonb_build_object('operation', 'bulk_create', 'target_type', '%T', 'execution', 'inline', "
  . "'items', (SELECT jsonb_agg(jsonb_build_object('id', g, 'note', CASE WHEN g = 5005 THEN 'forbidden' END)) "
  . "FROM generate_series(5000, 5020) g) || '[{\"id\": 1}]'::jsonb, "
  . "'operation_data', jsonb_build_object('continue_on_error', %C))";
$r = same_on_both('bulk_create, continue_on_error', $bulk =~ s/%C/true/r);
like($r, qr/"success_count": 20/, 'bulk_create: 20 rows created, the duplicate and the refused item failed');
$r = same_on_both('bulk_create, all or nothing', ($bulk =~ s/%C/false/r) =~ s/5000, 5020/6000, 6020/r);
like($r, qr/"success_count": 0/, 'bulk_create all or nothing: nothing created');

$r = same_on_both('dry run (batch_validate)',
	"jsonb_build_object('operation', 'delete', 'target_type', '%T', 'target_ids', " . ids(1, 100)
	  . ", 'operation_data', '{\"soft_delete\": false}'::jsonb)", 'batch_validate');
like($r, qr/"dry_run": true/, 'dry run: reported as such, and nothing changed (rows compared above)');

$r = same_on_both('a request error', inline('status_update', ids(1, 3), '{"new_status": "lost"}'));
like($r, qr/^ERROR: /, 'a request error is the same error');


# ---------------------------------------------------------------------------------------
# Shard-aware chunks: with the key as distribution column, every statement of a batch is
# a single-shard (router) statement. citus.multi_task_query_log_level = error makes any
# statement that Citus splits over several shards fail, inline and in the executors.
cq(<<'EOF');
CREATE TABLE app.routed (id bigint PRIMARY KEY, status text NOT NULL DEFAULT 'new', qty integer,
                         deleted_at timestamptz);
CREATE TABLE app.routed_archive (id bigint PRIMARY KEY, status text, qty integer, deleted_at timestamptz);
SELECT create_distributed_table('app.routed', 'id');
SELECT create_distributed_table('app.routed_archive', 'id', colocate_with => 'app.routed');
INSERT INTO app.routed (id) SELECT g FROM generate_series(1, 2000) AS g;
SELECT batch_ops.register_target('routed', 'app.routed', status_column => 'status',
    soft_delete_column => 'deleted_at', archive_relation => 'app.routed_archive');
EOF
cq("ALTER SYSTEM SET citus.multi_task_query_log_level = 'error'; SELECT pg_reload_conf()");
my $multi = "SET citus.multi_task_query_log_level = 'error'; ";
my ($mret, $mout, $merr) = $coord->psql('postgres',
	$multi . "UPDATE app.orders SET note = note WHERE id = ANY ('{1,2,3,4,5,6,7,8,9}')");
like($merr, qr/multi-task query about to be executed/, 'a multi-shard statement fails under this setting');
for my $case (
	[ 'update', '{"fields": {"qty": 4}}' ],
	[ 'status_update', '{"new_status": "paid"}' ],
	[ 'delete', '{}' ],
	[ 'restore', '{}' ],
	[ 'archive', '{}' ],
	[ 'restore', '{}' ],
	[ 'export', '{"export_format": "json"}' ],)
{
	my ($op, $data) = @$case;
	my $req = inline($op, ids(1, 40, 88888), $data) =~ s/%T/routed/r;
	is(cq($multi . "SELECT batch_ops.batch_execute($req) ->> 'failure_count'"), '1',
		"$op inline: single-shard statements only (only the missing id failed)");
	my $bg = background($op, ids(41, 80, 88888), $data) =~ s/%T/routed/r;
	my $id = cq("SET batch_ops.chunk_size = 15; SELECT batch_ops.batch_execute($bg)->>'operation_id'");
	is(cq("SELECT failure_count FROM batch_ops.batch_wait($id, '60 s')"), '1',
		"$op in the background: single-shard statements only");
}
is(cq($multi . "SELECT batch_ops.batch_validate(" . inline('delete', ids(81, 120), '{"soft_delete": false}') =~ s/%T/routed/r
		  . ") ->> 'success_count'"),
	'40', 'dry run: single-shard statements only');
cq("ALTER SYSTEM RESET citus.multi_task_query_log_level; SELECT pg_reload_conf()");
is(cq("SELECT count(*) FILTER (WHERE status = 'paid' AND qty = 4 AND deleted_at IS NULL), count(*) "
		  . "FROM app.routed WHERE id <= 120"),
	'80|120', 'the router-only operations did their work (1-80 back from the archive, paid, qty 4)');

# A chunk that touches one worker node commits without two-phase commit: Citus records
# every two-phase commit in pg_dist_transaction (kept here: recovery runs only when the
# test calls it).
my $w1_ids = cq("SELECT jsonb_agg(g) FROM (SELECT g FROM generate_series(201, 2000) g JOIN pg_dist_placement p "
	  . "ON p.shardid = get_shard_id_for_distribution_column('app.routed', g) "
	  . "JOIN pg_dist_node n USING (groupid) WHERE n.nodeport = ${\$w1->port} ORDER BY g LIMIT 60) s");
my $twopc = "SELECT count(*) FROM pg_dist_transaction";
my $before = cq($twopc);
my $one = cq("SET batch_ops.chunk_size = 20; SELECT batch_ops.batch_execute(jsonb_build_object("
	  . "'operation', 'status_update', 'target_type', 'routed', 'target_ids', '$w1_ids'::jsonb, "
	  . "'operation_data', '{\"new_status\": \"paid\"}'::jsonb))->>'operation_id'");
is(cq("SELECT status || ' ' || success_count FROM batch_ops.batch_wait($one, '60 s')"), 'succeeded 60',
	'a background batch of ids on one worker node');
cq("SELECT batch_ops.batch_execute(jsonb_build_object('operation', 'update', 'target_type', 'routed', "
	  . "'execution', 'inline', 'target_ids', '$w1_ids'::jsonb, 'operation_data', '{\"fields\": {\"qty\": 8}}'::jsonb))");
is(cq($twopc), $before, 'its three chunks, and an inline batch on that node, committed without 2PC');
my $two = cq("SET batch_ops.chunk_size = 20; SELECT batch_ops.batch_execute(jsonb_build_object("
	  . "'operation', 'status_update', 'target_type', 'routed', 'target_ids', " . ids(1001, 1060)
	  . ", 'operation_data', '{\"new_status\": \"paid\"}'::jsonb))->>'operation_id'");
cq("SELECT batch_ops.batch_wait($two, '60 s')");
ok(cq($twopc) > $before, 'chunks that touch both worker nodes commit with 2PC');
cq("SELECT recover_prepared_transactions()");

# A role that is not a superuser: its batches run as itself, on the worker nodes too
# (Citus propagates the role and the grants).
cq(<<'EOF');
CREATE ROLE regress_alice LOGIN;
GRANT batch_ops_user TO regress_alice;
GRANT USAGE ON SCHEMA app TO regress_alice;
GRANT SELECT, UPDATE ON app.routed TO regress_alice;
EOF
my $alice = cq("SET ROLE regress_alice; SET batch_ops.chunk_size = 25; SELECT batch_ops.batch_execute("
	  . background('status_update', ids(1501, 1600), '{"new_status": "alice"}') =~ s/%T/routed/r
	  . ")->>'operation_id'");
is(cq("SELECT status || ' ' || success_count FROM batch_ops.batch_wait($alice, '60 s')"), 'succeeded 100',
	'a background batch of a role that is not a superuser');
is(cq("SET ROLE regress_alice; SELECT batch_ops.batch_execute("
		  . inline('status_update', ids(1601, 1650), '{"new_status": "alice"}') =~ s/%T/routed/r
		  . ")->>'success_count'"),
	'50', 'an inline batch of that role');
is(cq("SELECT count(*) FROM app.routed WHERE status = 'alice'"), '150', 'its rows changed');

# The extension on a worker node: Citus created it there; batches are refused (they run
# on the coordinator) and no executor serves it.
my ($wret, $wout, $werr) = $w1->psql('postgres',
	"SELECT batch_ops.batch_execute(jsonb_build_object('operation', 'export', 'target_type', 'orders', "
	  . "'execution', 'inline', 'target_ids', '[1]'::jsonb))");
like($werr, qr/batch_execute\(\) is not available on a Citus worker node.*HINT:\s+Connect to the coordinator/s,
	'batch_execute on a worker node is refused, with a hint to the coordinator');
($wret, $wout, $werr) = $w2->psql('postgres', "SELECT batch_ops.create_sync('x', 'pg_class', 'app.orders')");
like($werr, qr/create_sync\(\) is not available on a Citus worker node/, 'create_sync too');
for my $w ($w1, $w2)
{
	ok(defined wait_until($w, 'postgres',
			"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'batch_ops executor'", '0', 30,
			'no executor on ' . $w->name),
		'no batch_ops executor runs on worker ' . $w->name);
}

# ---------------------------------------------------------------------------------------
# Background batches: several chunks each, through the executors of the coordinator.

# Submits REQUEST (execution background) for target T in chunks of 10; returns the id.
sub submit_bg
{
	my ($t, $request) = @_;
	(my $r = $request) =~ s/%T/$t/g;
	return cq("SET batch_ops.chunk_size = 10; SELECT batch_ops.batch_execute($r)->>'operation_id'");
}

# Waits for batch ID to end; its batch_result without what differs run to run.
sub result_of
{
	my ($id, $t) = @_;
	cq("SELECT (batch_ops.batch_wait($id, '120 s')).status");
	my $r = cq("SELECT batch_ops.batch_result($id) - '{operation_id,started_at,completed_at,duration_ms,"
		  . "export_id,target_type,created_at}'::text[]");
	$r =~ s/upstream batch \d+/upstream batch N/g;
	return $t eq 'orders' ? $r =~ s/\b(orders\w*?)_1\d{5}\b/$1/gr : $r =~ s/orders_local/orders/gr;
}

sub background
{
	my ($op, $ids, $data, %extra) = @_;
	return inline($op, $ids, $data, %extra) =~ s/'execution', 'inline'/'execution', 'background'/r;
}

# Runs REQUEST in the background against both twins at once and compares the results and
# the rows; returns the two batch ids (distributed, local).
sub bg_on_both
{
	my ($what, $request, $no_wait) = @_;
	my %id = map { $_ => submit_bg($_, $request) } qw(orders orders_local);
	return ($id{orders}, $id{orders_local}) if $no_wait;
	my $d = result_of($id{orders}, 'orders');
	is($d, result_of($id{orders_local}, 'orders_local'), "$what: the same batch_result as on the local table");
	is(rows_of('orders'), rows_of('orders_local'), "$what: the same rows as on the local table");
	return ($id{orders}, $id{orders_local}, $d);
}

my @ids;
@ids = bg_on_both('background status_update', background('status_update', ids(140, 199), '{"new_status": "paid"}'));
like($ids[2], qr/"status": "succeeded"/, 'background status_update succeeded');
@ids = bg_on_both('background soft delete and restore', background('delete', ids(150, 160), '{}'));
@ids = bg_on_both('background archive', background('archive', ids(161, 170), '{"archive_reason": "bg"}'));
@ids = bg_on_both('background restore', background('restore', ids(150, 170), '{}'));
@ids = bg_on_both('background export',
	background('export', ids(140, 175), '{"export_format": "csv", "include_fields": ["id", "status"]}'));
is(cq("SELECT batch_ops.export_data(e.id) FROM batch_ops.export e WHERE e.batch_id = $ids[0]"),
	cq("SELECT batch_ops.export_data(e.id) FROM batch_ops.export e WHERE e.batch_id = $ids[1]"),
	'background export: the same content');
@ids = bg_on_both('background dry run',
	background('delete', ids(1, 40), '{"soft_delete": false}', dry_run => 'true'));
like($ids[2], qr/"dry_run": true/, 'background dry run kept as a dry-run batch; rows unchanged (compared)');
@ids = bg_on_both('background bulk_create',
	"jsonb_build_object('operation', 'bulk_create', 'target_type', '%T', 'execution', 'background', "
	  . "'items', (SELECT jsonb_agg(jsonb_build_object('id', g, 'qty', g % 5)) FROM generate_series(7000, 7034) g), "
	  . "'operation_data', '{\"continue_on_error\": true}'::jsonb)");

# Retry and dependencies: A fails on the check constraint for some items; B depends on A
# and ends UPSTREAM_FAILED; with the constraint gone, retrying A runs only its failed
# items (the others are not applied again: version) and re-arms B.
my @a = bg_on_both('a failing background update', background('update', ids(300, 330), '{"fields": {"note": "forbidden"}}'));
like($a[2], qr/"status": "failed".*CONSTRAINT_VIOLATION/s, 'the batch failed on its refused items');
my %b;
for my $i (0, 1)
{
	my $t = $i ? 'orders_local' : 'orders';
	my $req = background('status_update', ids(300, 330), '{"new_status": "paid"}',
		depends_on => "jsonb_build_array($a[$i])");
	$b{$t} = submit_bg($t, $req);
}
is(result_of($b{orders}, 'orders'), result_of($b{orders_local}, 'orders_local'),
	'a dependent of a failed batch: the same result');
is(cq("SELECT status || ' ' || last_error_code FROM batch_ops.batch WHERE id = $b{orders}"),
	'failed UPSTREAM_FAILED', 'the dependent failed with UPSTREAM_FAILED');
cq('ALTER TABLE app.orders DROP CONSTRAINT orders_forbidden; '
	  . 'ALTER TABLE app.orders_local DROP CONSTRAINT orders_local_forbidden');
is(cq("SELECT batch_ops.batch_retry($a[0]) + batch_ops.batch_retry($a[1])"), '2', 'batch_retry of both');
is(result_of($a[0], 'orders'), result_of($a[1], 'orders_local'), 'the retried batch: the same result');
is(result_of($b{orders}, 'orders'), result_of($b{orders_local}, 'orders_local'),
	'the re-armed dependent: the same result');
is(rows_of('orders'), rows_of('orders_local'), 'after retry and dependent: the same rows');
is(cq("SELECT string_agg(DISTINCT version::text, ',') FROM app.orders WHERE id BETWEEN 300 AND 330"),
	'2', 'every row of the retried batch was updated once by it and once by its dependent');
is(cq("SELECT status FROM batch_ops.batch WHERE id = $b{orders}"), 'succeeded', 'the dependent succeeded');

# ---------------------------------------------------------------------------------------
# Other layouts: a reference table, a single-shard distributed table whose key is not a
# distribution column, and a local table of the coordinator.
cq(<<'EOF');
CREATE TABLE app.regions (code text PRIMARY KEY, status text NOT NULL DEFAULT 'new');
SELECT create_reference_table('app.regions');
INSERT INTO app.regions SELECT 'r' || g, 'new' FROM generate_series(1, 50) AS g;
SELECT batch_ops.register_target('regions', 'app.regions', 'code', status_column => 'status');
CREATE TABLE app.notes (id bigint PRIMARY KEY, code text NOT NULL UNIQUE, status text NOT NULL DEFAULT 'new');
SELECT create_distributed_table('app.notes', NULL);
INSERT INTO app.notes SELECT g, 'n' || g, 'new' FROM generate_series(1, 50) AS g;
SELECT batch_ops.register_target('notes', 'app.notes', 'code', status_column => 'status');
CREATE TABLE app.plain (id bigint PRIMARY KEY, status text NOT NULL DEFAULT 'new');
INSERT INTO app.plain SELECT g, 'new' FROM generate_series(1, 50) AS g;
SELECT batch_ops.register_target('plain', 'app.plain', status_column => 'status');
EOF
for my $t (qw(regions notes plain))
{
	my $key = $t eq 'regions' ? "'r' || g" : $t eq 'notes' ? "'n' || g" : 'g';
	my $req = "jsonb_build_object('operation', 'status_update', 'target_type', '$t', 'execution', '%E', "
	  . "'target_ids', (SELECT jsonb_agg($key) FROM generate_series(%F, %L) g), "
	  . "'operation_data', '{\"new_status\": \"done\"}'::jsonb)";
	my $inline = cq("SELECT batch_ops.batch_execute(" . ($req =~ s/%E/inline/r =~ s/%F/1/r =~ s/%L/20/r)
		  . ")->>'success_count'");
	is($inline, '20', "$t: inline status_update");
	my $id = cq("SET batch_ops.chunk_size = 7; SELECT batch_ops.batch_execute("
		  . ($req =~ s/%E/background/r =~ s/%F/21/r =~ s/%L/50/r) . ")->>'operation_id'");
	is(cq("SELECT status || ' ' || success_count FROM batch_ops.batch_wait($id, '60 s')"),
		'succeeded 30', "$t: background status_update");
	my $table = "app.$t";
	is(cq("SELECT count(*) FROM $table WHERE status = 'done'"), '50', "$t: every row changed");
}

# bulk_create into a distributed table whose key comes from a sequence: items without the
# key are inserted one per statement, so that each result names the row of its own item.
cq(<<'EOF');
CREATE TABLE app.tickets (id bigserial PRIMARY KEY, note text NOT NULL);
SELECT create_distributed_table('app.tickets', 'id');
SELECT batch_ops.register_target('tickets', 'app.tickets');
EOF
my $made = cq("SELECT batch_ops.batch_execute(jsonb_build_object('operation', 'bulk_create', "
	  . "'target_type', 'tickets', 'execution', 'inline', "
	  . "'items', (SELECT jsonb_agg(jsonb_build_object('note', 'item ' || g) ORDER BY g) FROM generate_series(1, 12) g)))"
	  . "->'results'");
is(cq("SELECT string_agg((t.note = 'item ' || r.n)::text, ',') FROM jsonb_array_elements('$made') WITH ORDINALITY AS r(v, n) "
		  . "JOIN app.tickets t ON t.id = (r.v->>'target_id')::bigint"),
	join(',', ('true') x 12), 'bulk_create without keys: each result names the row created from its item');

# ---------------------------------------------------------------------------------------
# Syncs into a distributed table: from a local table, and from a remote server (a plain
# database on worker 1), inline and, after a failure, retried by the executors.
$w1->safe_psql('postgres', 'CREATE DATABASE ext');
$w1->safe_psql('ext', <<'EOF');
CREATE TABLE rsrc (id bigint PRIMARY KEY, note text);
INSERT INTO rsrc SELECT g, 'remote ' || g FROM generate_series(1, 200) AS g;
EOF
cq(<<'EOF');
CREATE TABLE app.src (id bigint PRIMARY KEY, note text, qty integer);
INSERT INTO app.src SELECT g, 'local ' || g, g FROM generate_series(1, 200) AS g;
CREATE TABLE app.synced (id bigint PRIMARY KEY, note text, qty integer CHECK (qty < 1000));
SELECT create_distributed_table('app.synced', 'id');
INSERT INTO app.synced VALUES (9999, 'stale', 1);
CREATE TABLE app.rsynced (id bigint PRIMARY KEY, note text);
SELECT create_distributed_table('app.rsynced', 'id');
EOF
my $conn = "host=$host port=${\$w1->port} dbname=ext";
my $sid = cq("SELECT batch_ops.create_sync('s_local', 'app.src', 'app.synced', '{\"delete_missing\": true}')");
my $rid = cq("SELECT batch_ops.create_sync('s_remote', 'SELECT id, note FROM rsrc', 'app.rsynced', "
	  . "jsonb_build_object('connection', '$conn'))");
like(cq("SELECT batch_ops.batch_sync($sid)"), qr/^(?=.*"deleted": 1,)(?=.*"inserted": 200,)(?=.*"success": true)/,
	'local sync into a distributed table: 200 inserted, the stale row deleted');
is(cq("SELECT count(*), sum(qty) FROM app.synced"), '200|20100', 'the distributed table has the source rows');
like(cq("SELECT batch_ops.batch_sync($rid)"), qr/^(?=.*"inserted": 200,)(?=.*"success": true)/,
	'remote sync into a distributed table');
is(cq("SELECT count(*) FROM app.rsynced WHERE note LIKE 'remote %'"), '200', 'the remote rows arrived');
cq("UPDATE app.src SET qty = 5000 WHERE id = 7");
my $sync = cq("SELECT batch_ops.batch_sync($sid)");
like($sync, qr/"success": false/, 'a sync refused by the distributed table fails');
is(cq("SELECT status FROM batch_ops.batch WHERE id = $sid"), 'failed', 'the sync batch is failed');
cq("UPDATE app.src SET qty = 7, note = 'changed' WHERE id = 7");
is(cq("SELECT batch_ops.batch_retry($sid)"), '1', 'batch_retry queues the sync for the executors');
ok(wait_until($coord, 'postgres', "SELECT count(*) FROM app.synced WHERE note = 'changed'", '1', 60,
		'the retried sync to run in the background'),
	'the failed sync, retried, ran in the background');


# ---------------------------------------------------------------------------------------
# A worker node restarted while a background batch runs: the chunk in flight fails (the
# node's connections are gone), the batch backs off and resumes, and every item is
# applied exactly once. Each statement on a shard lasts 10 ms more (a statement trigger),
# so that the batch lasts a few seconds.
cq(<<'EOF');
CREATE TABLE app.slow (id bigint PRIMARY KEY, status text NOT NULL DEFAULT 'new',
                       version integer NOT NULL DEFAULT 0);
SELECT create_distributed_table('app.slow', 'id');
CREATE FUNCTION app.pause() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.pg_sleep(0.01);
    RETURN NULL;
END $$;
CREATE TRIGGER slow_version BEFORE UPDATE ON app.slow FOR EACH ROW EXECUTE FUNCTION app.bump();
CREATE TRIGGER slow_pause AFTER UPDATE ON app.slow FOR EACH STATEMENT EXECUTE FUNCTION app.pause();
INSERT INTO app.slow (id) SELECT g FROM generate_series(1, 3000) AS g;
SELECT batch_ops.register_target('slow', 'app.slow', status_column => 'status');
EOF

sub slow_request
{
	my ($status) = @_;
	return "jsonb_build_object('operation', 'status_update', 'target_type', 'slow', "
	  . "'target_ids', (SELECT jsonb_agg(g) FROM generate_series(1, 3000) g), 'max_attempts', 20, "
	  . "'operation_data', jsonb_build_object('new_status', '$status'))";
}

my $slow = cq("SET batch_ops.chunk_size = 50; SELECT batch_ops.batch_execute(" . slow_request('done') . ")->>'operation_id'");
ok(wait_until($coord, 'postgres',
		"SELECT processed BETWEEN 300 AND 2000 FROM batch_ops.jobs WHERE job_id = $slow", 't', 60,
		'the slow batch to be part-way'),
	'the background batch is part-way');
my $log_offset = -s $coord->logfile;
$w2->restart;    # fast: the node's sessions are terminated
note('after the restart of worker 2: '
	  . cq("SELECT status || ' ' || processed || ' of ' || total FROM batch_ops.jobs WHERE job_id = $slow"));
# A chunk whose two-phase commit was cut short between PREPARE and COMMIT PREPARED is
# finished by Citus' recovery: run it while waiting.
my $end = wait_until($coord, 'postgres',
	"SELECT recover_prepared_transactions() >= 0 AND status IN ('succeeded', 'failed', 'cancelled') "
	  . "FROM batch_ops.batch WHERE id = $slow", 't', 180, 'the batch to end after the restart');
cq('SELECT recover_prepared_transactions()');
is(cq("SELECT status || ' ' || success_count || ' ' || failure_count FROM batch_ops.batch WHERE id = $slow"),
	'succeeded 3000 0', 'the batch finished after the worker restart, every item a success')
  or diag(log_excerpt($coord, $log_offset));
note('its events: '
	  . cq("SELECT string_agg(event || COALESCE(' ' || (detail->>'error_code'), ''), ', ' ORDER BY id) "
		  . "FROM batch_ops.batch_event WHERE batch_id = $slow"));
ok(cq("SELECT count(*) FROM batch_ops.batch_event WHERE batch_id = $slow AND event = 'retry_scheduled'") > 0,
	'the restart interrupted the batch: a chunk failed on the lost connection and was retried');
is(cq("SELECT count(*), min(version), max(version) FROM app.slow WHERE status = 'done'"), '3000|1|1',
	'every row changed exactly once (version 1)');
is(cq("SELECT count(*) FILTER (WHERE status = 'succeeded'), count(DISTINCT seq) FROM batch_ops.job_items "
		  . "WHERE job_id = $slow"),
	'3000|3000', 'job_items: 3000 distinct items, all succeeded');

# Cancel, as on one node: the chunk in flight is rolled back, the rest cancelled.
my $c = cq("SET batch_ops.chunk_size = 50; SELECT batch_ops.batch_execute(" . slow_request('again') . ")->>'operation_id'");
ok(wait_until($coord, 'postgres',
		"SELECT processed BETWEEN 100 AND 2000 FROM batch_ops.jobs WHERE job_id = $c", 't', 60,
		'the second slow batch to be part-way'),
	'a second batch is part-way');
is(cq("SELECT batch_ops.batch_cancel($c)"), 't', 'batch_cancel');
is(cq("SELECT status FROM batch_ops.batch_wait($c, '60 s')"), 'cancelled', 'the batch ends cancelled');
my ($done, $cancelled) = split /\|/, cq("SELECT success_count, cancelled_count FROM batch_ops.batch WHERE id = $c");
ok($done > 0 && $cancelled > 0 && $done + $cancelled == 3000,
	"cancelled part-way: $done done, $cancelled cancelled");
is(cq("SELECT count(*) FILTER (WHERE status = 'again' AND version = 2), "
		  . "count(*) FILTER (WHERE status = 'done' AND version = 1) FROM app.slow"),
	"$done|$cancelled", 'the done items were applied once, the cancelled ones not at all');

done_testing();
