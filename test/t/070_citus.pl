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
like($r, qr/"failure_count": 8,.*CONSTRAINT_VIOLATION/s,
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

done_testing();
