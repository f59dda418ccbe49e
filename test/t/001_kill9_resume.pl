# A background batch whose executor is killed with SIGKILL in the middle resumes after
# the crash restart from its first unfinished item: every item applied exactly once.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use BatchOpsTAP;

start_watchdog(150);

my $total = 2000;
my ($node, $id, $pid) = start_interruptible_batch('kill9', $total, "restart_after_crash = on");
my $before = $node->safe_psql('postgres',
	"SELECT processed FROM batch_ops.jobs WHERE job_id = $id");
note("killing executor $pid at processed = $before of $total");

my $log_offset = -s $node->logfile;
SKIP:
{
	skip 'no executor to kill', 1 unless defined $pid;
	ok(kill('KILL', $pid), "SIGKILL sent to executor $pid");
}

# The postmaster notices, terminates every backend and reinitializes.
my $reinit = eval {
	my $deadline = time() + 30;
	while (time() < $deadline)
	{
		my $log = slurp_file($node->logfile, $log_offset);
		return 1 if $log =~ /all server processes terminated; reinitializing/;
		select(undef, undef, undef, 0.1);
	}
	0;
};
ok($reinit, 'the postmaster restarted every backend after the kill');

my $up = wait_until($node, 'postgres', 'SELECT 1', '1', 30,
	'the server to accept connections again');
ok(defined $up, 'the server answers again after the crash restart');

# Finish faster now.
$node->safe_psql('postgres', 'UPDATE app.knob SET delay = 0.002');

wait_succeeded($node, $id, $total, $log_offset);

my $status = $node->safe_psql('postgres',
	"SELECT status, processed, total, success_count FROM batch_ops.jobs WHERE job_id = $id");
is($status, "succeeded|$total|$total|$total", 'jobs view agrees');

check_exactly_once($node, 'postgres', $id, 1, $total, 'after kill -9');

my $resumed = $node->safe_psql('postgres',
	"SELECT worker_pid <> $pid FROM batch_ops.batch WHERE id = $id") if defined $pid;
is($resumed // 't', 't', 'another executor finished the batch');

$node->stop;
done_testing();
