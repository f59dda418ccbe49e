# Two executors serving one database take batches from the same queue: 300 small
# background batches committed together all succeed and every item is applied exactly
# once (no batch is run by both executors).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use BatchOpsTAP;

start_watchdog(150);

my $nbatches = 300;
my $per = 3;                      # ids per batch
my $n = $nbatches * $per;         # ids 1..900 for the batches
my $warm_from = $n + 1;           # ids 901.. for the warm-up
my $node = new_batch_node('twoexec', <<'EOF');
batch_ops.max_workers = 2
batch_ops.poll_interval = '100ms'
EOF
setup_items($node, 'postgres', $n + 50, 0.5);

# Warm-up: two executors connected to postgres. While one is busy with a slow batch
# (0.5 s per statement), another submission makes the launcher start a second one.
my @warm;
my $deadline = time() + 30;
my $next = $warm_from;
while (time() < $deadline && $next < $warm_from + 40)
{
	push @warm, submit_batch($node, 'postgres', $next, $next);
	$next++;
	last if executor_pids($node, 'postgres') >= 2;
	usleep(200_000);
}
my @pids = executor_pids($node, 'postgres');
is(scalar(@pids), 2, 'two executors are connected to the database (' . join(', ', @pids) . ')');

$node->safe_psql('postgres', 'UPDATE app.knob SET delay = 0.005');
my $warm_done = wait_until($node, 'postgres',
	"SELECT count(*) FROM batch_ops.batch WHERE status IN ('queued', 'running', 'cancelling')",
	'0', 60, 'the warm-up batches to end');
ok(defined $warm_done, 'the warm-up batches ended');

# 300 batches of 3 ids each, committed in one transaction.
my $first_id = $node->safe_psql('postgres', 'SELECT coalesce(max(id), 0) + 1 FROM batch_ops.batch');
my $submitted = $node->safe_psql('postgres', <<"EOF");
BEGIN;
SELECT count(batch_ops.batch_execute(jsonb_build_object(
         'operation', 'status_update', 'target_type', 'items', 'execution', 'background',
         'target_ids', jsonb_build_array($per * g - 2, $per * g - 1, $per * g),
         'operation_data', jsonb_build_object('new_status', 'done'))) ->> 'operation_id')
  FROM generate_series(1, $nbatches) AS g;
COMMIT;
EOF
is($submitted, $nbatches, "$nbatches batches submitted in one transaction");
my $last_id = $node->safe_psql('postgres', 'SELECT max(id) FROM batch_ops.batch');
is($last_id - $first_id + 1, $nbatches, "batches $first_id..$last_id");

my $range = "id BETWEEN $first_id AND $last_id";
my $done = wait_until($node, 'postgres',
	"SELECT count(*) FROM batch_ops.batch WHERE $range AND status IN ('queued', 'running', 'cancelling')",
	'0', 90, 'every batch to end');
ok(defined $done, 'every batch ended');

# batch_wait on each agrees.
my $waited = $node->safe_psql('postgres',
	"SELECT count(*) FILTER (WHERE (w).status = 'succeeded'), count(*) "
	  . "FROM (SELECT batch_ops.batch_wait(id, '30 s') AS w FROM batch_ops.batch WHERE $range) s");
is($waited, "$nbatches|$nbatches", 'batch_wait: every batch succeeded (succeeded|all)');

is($node->safe_psql('postgres',
		"SELECT count(*) FROM batch_ops.batch WHERE $range AND status = 'succeeded' "
		  . "AND total = $per AND processed = $per AND success_count = $per AND failure_count = 0"),
	$nbatches, 'every batch: succeeded with processed = total = success_count');

my $log = $node->safe_psql('postgres',
	"SELECT count(*), count(DISTINCT id) FROM app.applied WHERE id BETWEEN 1 AND $n");
is($log, "$n|$n", 'every id applied exactly once (count|distinct)');
is($node->safe_psql('postgres',
		"SELECT string_agg(id || ' x' || c, ', ') FROM (SELECT id, count(*) c FROM app.applied "
		  . "WHERE id BETWEEN 1 AND $n GROUP BY id HAVING count(*) > 1 ORDER BY id LIMIT 20) s"),
	'', 'no id applied twice');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM app.items WHERE id BETWEEN 1 AND $n AND status = 'done'"),
	$n, 'every row has the new status');

my $items = $node->safe_psql('postgres',
	"SELECT count(*), count(*) FILTER (WHERE status = 'succeeded'), count(*) FILTER (WHERE attempts = 1) "
	  . "FROM batch_ops.job_items WHERE job_id BETWEEN $first_id AND $last_id");
is($items, "$n|$n|$n", 'job_items: every item succeeded at its first attempt (all|succeeded|attempts=1)');

# Each batch ended once: one terminal event per batch.
my $ends = $node->safe_psql('postgres',
	"SELECT count(*) FROM (SELECT batch_id FROM batch_ops.batch_event WHERE batch_id BETWEEN $first_id AND $last_id "
	  . "AND event IN ('succeeded', 'failed', 'cancelled') GROUP BY batch_id HAVING count(*) = 1) s");
is($ends, $nbatches, 'exactly one terminal event per batch');

# Both executors took part (otherwise this test would not test their race).
my $runners = $node->safe_psql('postgres',
	"SELECT count(DISTINCT pid) FROM app.applied WHERE id BETWEEN 1 AND $n");
cmp_ok($runners, '>=', 2, "the batches were run by $runners executors");
my $split = $node->safe_psql('postgres',
	"SELECT count(*) FROM (SELECT (id + $per - 1) / $per AS b FROM app.applied WHERE id BETWEEN 1 AND $n "
	  . "GROUP BY 1 HAVING count(DISTINCT pid) > 1) s");
is($split, '0', 'no batch had items applied by two executors');

# The warm-up batches too.
my $wn = scalar(@warm);
is($node->safe_psql('postgres',
		"SELECT count(*), count(DISTINCT id) FROM app.applied WHERE id >= $warm_from"),
	"$wn|$wn", 'the warm-up ids were applied exactly once');

$node->stop;
done_testing();
