# Privilege boundary 6 (API.md section 7): NOTIFY payloads carry no row data.
#
# The attack: any role can LISTEN on batch_ops_progress, so a listener learns whatever
# the payloads carry about other roles' batches. A batch user (owner) runs batches whose
# rows, keys, update values, export content, item error messages (a trigger raises with
# the row's secret), bulk_create items, idempotency key and sync source all contain a
# secret string; batches succeed, fail, are cancelled, retried, fail upstream, and a sync
# runs inline and in the background. Another role (spy, no batch_ops rights at all)
# LISTENs throughout.
# Expected: the spy receives the progress notifications (the channel is public), and
# every payload is a JSON object with only the documented keys (job_id, status, progress,
# processed, total, success_count, failure_count); none contains the secret, a target id
# or any other text of the rows.
use strict;
use warnings;

use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use BatchOpsTAP;

start_watchdog(180);

my $secret = 'S3cr3t-7f1c';
my $node = new_batch_node('notify_priv', <<'EOF');
batch_ops.chunk_size = 5
batch_ops.notify_interval = 0
EOF
$node->safe_psql('postgres', <<"EOF");
CREATE EXTENSION batch_ops;
CREATE ROLE owner LOGIN IN ROLE batch_ops_user;
CREATE ROLE spy LOGIN;
CREATE SCHEMA app;
GRANT USAGE ON SCHEMA app TO owner;
CREATE TABLE app.secrets (k text PRIMARY KEY, status text NOT NULL DEFAULT 'new', note text);
INSERT INTO app.secrets SELECT '$secret-key-' || g, 'new', '$secret note ' || g FROM generate_series(1, 30) AS g;
-- Rows whose key ends in 3 refuse to change, with their secret in the message.
CREATE FUNCTION app.refuse() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    IF NEW.k LIKE '%3' THEN
        RAISE EXCEPTION 'row % (%) refuses', NEW.k, NEW.note;
    END IF;
    RETURN NEW;
END \$\$;
CREATE TRIGGER refuse BEFORE UPDATE ON app.secrets FOR EACH ROW EXECUTE FUNCTION app.refuse();
CREATE TABLE app.secret_src (id integer PRIMARY KEY, v text, seq integer NOT NULL);
INSERT INTO app.secret_src SELECT g, '$secret sync ' || g, g FROM generate_series(1, 12) AS g;
CREATE TABLE app.secret_dst (id integer PRIMARY KEY, v text);
GRANT SELECT, INSERT, UPDATE, DELETE ON app.secrets, app.secret_src, app.secret_dst TO owner;
SELECT batch_ops.register_target('secrets', 'app.secrets', key_column => 'k', status_column => 'status');
EOF

# The spy: psql reading its commands from a pipe, LISTENing.
my ($in, $out, $err) = ('', '', '');
my $timer = IPC::Run::timer(60);
my $listener = IPC::Run::start(
	[ ($node->can('installed_command') ? $node->installed_command('psql') : 'psql'),
		'-XAtq', '-d', $node->connstr('postgres'), '-U', 'spy', '-f', '-' ],
	'<', \$in, '>', \$out, '2>', \$err, $timer);
my $marks = 0;
sub listener_run
{
	my ($sql) = @_;
	my $mark = 'listener_done_' . ++$marks;
	$out = '';
	$in .= "$sql\n\\echo $mark\n";
	$timer->start(30);
	$listener->pump until $out =~ /^$mark$/m || $timer->is_expired;
	die "the listener did not answer within 30 s (stderr: $err)" if $timer->is_expired;
	(my $got = $out) =~ s/^$mark\n//m;
	return $got;
}
listener_run('LISTEN batch_ops_progress;');
is($err, '', 'the spy (no batch_ops rights) LISTENs on batch_ops_progress');

sub as_owner { my ($sql) = @_; return $node->safe_psql('postgres', $sql, extra_params => [ '-U', 'owner' ]); }
my $ids = "(SELECT jsonb_agg(k ORDER BY k) FROM app.secrets WHERE k LIKE '$secret-key-%')";
my @batches;
push @batches, as_owner("SELECT batch_ops.batch_execute(jsonb_build_object('operation', 'status_update',
    'target_type', 'secrets', 'target_ids', $ids, 'operation_data', jsonb_build_object('new_status', 'seen'),
    'idempotency_key', '$secret idempotency'))->>'operation_id'");
push @batches, as_owner("SELECT batch_ops.batch_execute(jsonb_build_object('operation', 'update',
    'target_type', 'secrets', 'target_ids', $ids,
    'operation_data', jsonb_build_object('fields', jsonb_build_object('note', '$secret updated'))))->>'operation_id'");
push @batches, as_owner("SELECT batch_ops.batch_execute(jsonb_build_object('operation', 'export',
    'target_type', 'secrets', 'target_ids', $ids))->>'operation_id'");
push @batches, as_owner("SELECT batch_ops.batch_execute(jsonb_build_object('operation', 'bulk_create',
    'target_type', 'secrets', 'items', jsonb_build_array(jsonb_build_object('k', '$secret-new-1', 'note', '$secret new'),
        jsonb_build_object('k', '$secret-new-2', 'note', '$secret new'))))->>'operation_id'");
for my $id (@batches)
{
	like(as_owner("SELECT status FROM batch_ops.batch_wait($id, '60 s')"), qr/^(succeeded|failed)$/,
		"batch $id ended");
}
my $failed = as_owner("SELECT min(job_id) FROM batch_ops.jobs WHERE status = 'failed'");
ok($failed, "batch $failed failed (its items' messages hold the secret)");
like(as_owner("SELECT message FROM batch_ops.job_items WHERE job_id = $failed AND status = 'failed' LIMIT 1"),
	qr/\Q$secret\E/, 'an item message holds the secret');
# A dependent of the failed batch fails upstream; a batch cancelled while queued.
my $dependent = as_owner("SELECT batch_ops.batch_execute(jsonb_build_object('operation', 'export',
    'target_type', 'secrets', 'target_ids', jsonb_build_array('$secret-key-1'),
    'depends_on', jsonb_build_array($failed)))->>'operation_id'");
my $cancelled = as_owner("BEGIN;
SELECT batch_ops.batch_execute(jsonb_build_object('operation', 'export', 'target_type', 'secrets',
    'target_ids', jsonb_build_array('$secret-key-2')))->>'operation_id' AS id \\gset
SELECT batch_ops.batch_cancel(:id);
COMMIT;
SELECT :id;");
($cancelled) = $cancelled =~ /(\d+)\s*$/;
# The failed batch retried (it fails again), then its dependent retried with it.
as_owner("SELECT batch_ops.batch_retry($failed)");
as_owner("SELECT status FROM batch_ops.batch_wait($failed, '60 s')");
# A sync, inline and in the background.
my $sync = as_owner("SELECT batch_ops.create_sync('secret_sync', 'SELECT id, v, seq FROM app.secret_src',
    'app.secret_dst', '{\"mode\": \"incremental\", \"watermark_column\": \"seq\", \"chunk_size\": 5}')");
as_owner("SELECT batch_ops.batch_sync($sync)");
as_owner("UPDATE app.secret_src SET v = v || ' again', seq = seq + 100");
as_owner("SELECT batch_ops.batch_sync($sync, true)");
is(as_owner("SELECT status FROM batch_ops.batch_wait($sync, '60 s')"), 'succeeded', 'the background sync succeeded');
my $last = as_owner("SELECT batch_ops.batch_execute(jsonb_build_object('operation', 'export',
    'target_type', 'secrets', 'target_ids', jsonb_build_array('$secret-key-4')))->>'operation_id'");
is(as_owner("SELECT status FROM batch_ops.batch_wait($last, '60 s')"), 'succeeded', 'the last batch succeeded');

# Collect until the last batch's terminal payload has arrived.
my $text = listener_run('SELECT 1;');
my $deadline = time() + 15;
while ($text !~ /"job_id": ?$last\b[^\n]*"status": ?"succeeded"|"status": ?"succeeded"[^\n]*"job_id": ?$last\b/
	&& time() < $deadline)
{
	select(undef, undef, undef, 0.2);
	$text .= listener_run('SELECT 1;');
}
$in .= "\\q\n";
$listener->finish;

my @payloads;
for my $line (split /\n/, $text)
{
	next unless $line =~ /^Asynchronous notification "([^"]+)" with payload "(.*)" received from server process with PID (\d+)\.$/;
	push @payloads, $2 if $1 eq 'batch_ops_progress';
}
note("payloads:\n" . join("\n", @payloads));
cmp_ok(scalar(@payloads), '>=', 10, scalar(@payloads) . ' payloads received by the spy')
  or diag("listener output:\n$text\nstderr: $err");

my %allowed = map { $_ => 1 } qw(job_id status progress processed total success_count failure_count);
my (@not_json, @foreign_keys, @with_text, %statuses, %jobs);
for my $p (@payloads)
{
	push @with_text, $p if $p =~ /\Q$secret\E|key-|note|sync |updated/i;
	my $d = eval { decode_json($p) };
	if (!$d || ref $d ne 'HASH') { push @not_json, $p; next; }
	push @foreign_keys, grep { !$allowed{$_} } sort keys %$d;
	for my $k (keys %$d)
	{
		next if $k eq 'status';
		push @with_text, "$k: $d->{$k}" unless defined $d->{$k} && $d->{$k} =~ /^-?\d+(\.\d+)?$/;
	}
	$statuses{ $d->{status} // '' }++;
	$jobs{ $d->{job_id} // '' }++;
}
is(join("\n", @not_json), '', 'every payload is a JSON object');
is(join(', ', @foreign_keys), '', 'payloads have only the documented keys');
is(join("\n", @with_text), '', 'no payload carries the secret, a key or any row text; every value but status is a number');
is(join(',', grep { !/^(queued|running|cancelling|succeeded|failed|cancelled|created)$/ } sort keys %statuses), '',
	'status is always a batch status');
for my $id (@batches, $dependent, $cancelled, $sync, $last)
{
	ok($jobs{$id}, "payloads about batch $id were received");
}
diag(scalar(@payloads) . ' payloads; statuses: ' . join(', ', map { "$_ $statuses{$_}" } sort keys %statuses));
ok($statuses{cancelled}, 'the cancelled batch was announced');
ok($statuses{failed}, 'failures were announced');

$node->stop;
done_testing();
