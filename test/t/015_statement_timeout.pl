# batch_ops.statement_timeout bounds every chunk of a worker, not the transaction that
# runs the first chunks of a whole bundle (issue 8, defect 5): three batches whose single
# chunk takes 0.6 s each, claimed together under a 1 s timeout, all succeed without an
# error; a chunk that takes longer than the timeout fails its batch with the timeout
# (57014, not retried), and so does a background sync whose source is too slow.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use BatchOpsTAP;

start_watchdog(120);

my $node = new_batch_node('statement_timeout', <<'EOF');
batch_ops.statement_timeout = '1s'
batch_ops.poll_interval = '500ms'
EOF
setup_items($node, 'postgres', 100, 0.6);
my $log_offset = -s $node->logfile;

# Three batches in one transaction: one claim takes them as a bundle.
my $out = $node->safe_psql('postgres',
	"BEGIN;\n"
	  . join('', map { "SELECT batch_ops.batch_execute(" . ids_request($_ * 10 + 1, $_ * 10 + 5) . ")->>'operation_id';\n" } 0 .. 2)
	  . "COMMIT;");
my @ids = grep { /^\d+$/ } split /\n/, $out;
is(scalar(@ids), 3, 'three batches submitted together');
for my $id (@ids)
{
	is($node->safe_psql('postgres', "SELECT status, attempt FROM batch_ops.batch_wait($id, '30 s')"),
		'succeeded|1', "batch $id succeeded at its first attempt (each chunk had its own 1 s)");
}
my $log = slurp_file($node->logfile, $log_offset);
unlike($log, qr/statement timeout|failed together/, 'no statement timeout, no failed bundle');

# One chunk longer than the timeout.
$node->safe_psql('postgres', 'UPDATE app.knob SET delay = 1.5');
my $slow = submit_batch($node, 'postgres', 50, 55);
is($node->safe_psql('postgres',
		"SELECT status, attempt FROM batch_ops.batch_wait($slow, '30 s')"),
	'failed|1', 'a chunk longer than batch_ops.statement_timeout fails its batch, without a retry');
like($node->safe_psql('postgres', "SELECT last_error FROM batch_ops.batch WHERE id = $slow"),
	qr/statement timeout/, 'last_error names the statement timeout');
is($node->safe_psql('postgres', 'SELECT count(*) FROM app.applied WHERE id BETWEEN 50 AND 55'),
	'0', 'nothing of it was applied');

# A background sync whose source query outlasts the timeout.
$node->safe_psql('postgres', <<'EOF');
CREATE TABLE app.src (id integer PRIMARY KEY, v text);
INSERT INTO app.src SELECT g, 'v' || g FROM generate_series(1, 10) AS g;
CREATE TABLE app.dst (id integer PRIMARY KEY, v text);
EOF
my $sync = $node->safe_psql('postgres',
	"SELECT batch_ops.create_sync('slow', 'SELECT id, v FROM app.src WHERE pg_catalog.pg_sleep(0.3) IS NOT NULL', 'app.dst')"
);
$node->safe_psql('postgres', "SELECT batch_ops.batch_sync($sync, true)");
is($node->safe_psql('postgres', "SELECT status FROM batch_ops.batch_wait($sync, '30 s')"),
	'failed', 'a background sync slower than the timeout fails');
like($node->safe_psql('postgres', "SELECT last_error FROM batch_ops.batch WHERE id = $sync"),
	qr/statement timeout/, 'with the statement timeout as its error');
is($node->safe_psql('postgres', 'SELECT count(*) FROM app.dst'), '0', 'and loads nothing');

$node->stop;
done_testing();
