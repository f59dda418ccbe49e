# A background batch interrupted by a fast restart of the server resumes after it from
# its first unfinished item: every item applied exactly once.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use BatchOpsTAP;

start_watchdog(150);

my $total = 2000;
my ($node, $id, $pid) = start_interruptible_batch('restart', $total);

my $log_offset = -s $node->logfile;
$node->restart;    # pg_ctl's default mode, fast (newer Cluster.pm takes named options only)
my $after = $node->safe_psql('postgres',
	"SELECT status || ' ' || processed FROM batch_ops.jobs WHERE job_id = $id");
note("after the restart: $after of $total");
my ($st, $done) = split / /, $after;
ok($done < $total, "the restart interrupted the batch (processed $done of $total)");

$node->safe_psql('postgres', 'UPDATE app.knob SET delay = 0.002');

wait_succeeded($node, $id, $total, $log_offset);

check_exactly_once($node, 'postgres', $id, 1, $total, 'after a fast restart');

is($node->safe_psql('postgres',
		"SELECT count(*) FROM batch_ops.batch WHERE status IN ('queued', 'running', 'cancelling')"),
	'0', 'no batch left queued or running');

$node->stop;
done_testing();
