# SIGTERM (pg_terminate_backend) of the executor in the middle of a background batch:
# the executor leaves between chunks, another executor takes the batch over, the batch
# finishes (it is not left 'running') and every item is applied exactly once. After a
# restart no batch is 'running'.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use BatchOpsTAP;

start_watchdog(150);

my $total = 2000;
my ($node, $id, $pid) = start_interruptible_batch('sigterm', $total);
$pid //= 0;

my $log_offset = -s $node->logfile;
is($node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)"),
	't', "pg_terminate_backend($pid) of the executor");

my $gone = wait_until($node, 'postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE pid = $pid", '0', 20,
	"executor $pid to exit");
ok(defined $gone, "the terminated executor $pid exited");

my $at = $node->safe_psql('postgres',
	"SELECT status || ' ' || processed FROM batch_ops.jobs WHERE job_id = $id");
note("after SIGTERM: $at of $total");

$node->safe_psql('postgres', 'UPDATE app.knob SET delay = 0.002');

# Another executor must take the batch over (no new submission, no restart).
my $w = $node->safe_psql('postgres',
	"SELECT status, total, processed, success_count, failure_count "
	  . "FROM batch_ops.batch_wait($id, '30 s')");
my $finished = is($w, "succeeded|$total|$total|$total|0",
	'the batch finished after its executor was terminated, without a restart: succeeded, '
	  . 'processed = total = success_count (status|total|processed|success|failure)');
if (!$finished)
{
	diag("the batch was left as (status|processed|worker_pid|updated_at): "
		  . $node->safe_psql('postgres',
			"SELECT status, processed, worker_pid, updated_at FROM batch_ops.batch WHERE id = $id")
		  . "\nexecutors now: "
		  . $node->safe_psql('postgres',
			"SELECT coalesce(string_agg(pid || ' ' || datname, '; '), 'none') "
			  . "FROM pg_stat_activity WHERE backend_type = 'batch_ops executor'")
		  . "\nserver log since the SIGTERM:\n"
		  . log_excerpt($node, $log_offset));
}

SKIP:
{
	skip 'the batch did not finish before the restart (see above)', 6 unless $finished;
	is($node->safe_psql('postgres',
			"SELECT worker_pid IS DISTINCT FROM $pid FROM batch_ops.batch WHERE id = $id"),
		't', 'the batch was finished by another executor');
	check_exactly_once($node, 'postgres', $id, 1, $total, 'after SIGTERM');
}

# A restart leaves nothing 'running' for good: whatever was left is resumed and ends.
$node->restart;    # pg_ctl's default mode, fast (newer Cluster.pm takes named options only)
my $settled = wait_until($node, 'postgres',
	"SELECT count(*) FROM batch_ops.batch WHERE status IN ('queued', 'running', 'cancelling')",
	'0', 30, "no batch left 'running' after the restart");
ok(defined $settled, "after a restart no batch is 'running'");
is($node->safe_psql('postgres', "SELECT status FROM batch_ops.jobs WHERE job_id = $id"),
	'succeeded', 'the batch is succeeded after the restart');
# No item ran twice, before or after the restart.
check_exactly_once($node, 'postgres', $id, 1, $total, 'after SIGTERM and a restart');

$node->stop;
done_testing();
