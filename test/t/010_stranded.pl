# Liveness of claimed batches (issue 8, defect 1): no batch stays `running` without a live
# executor working on it.
#
# 1. Two batches claimed in one bundle whose shared first-chunk transaction fails (a lock
#    timeout on a row another session holds): both go on, one at a time; the blocked one
#    is retried with backoff (an event and a log line), and both end succeeded. Before
#    the fix both stayed `running` forever, with no event and no log line.
# 2. The executor holds an advisory lock per batch it owns, visible in pg_locks.
# 3. A batch `running` under the pid of a live executor that does not own it (its lock is
#    free) is an orphan: the next claim resumes it, with a `resumed` event.
# 4. A batch that succeeds after an automatic retry keeps no last_error (defect 5).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use BatchOpsTAP;

start_watchdog(150);

my $node = new_batch_node('stranded', <<'EOF');
batch_ops.lock_timeout = '300ms'
batch_ops.retry_backoff = '500ms'
batch_ops.poll_interval = '500ms'
EOF
setup_items($node, 'postgres', 200, 0);
my $log_offset = -s $node->logfile;

# --- 1. a bundle whose first-chunk transaction fails on a row lock -------------------
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN');
$locker->query_safe('SELECT 1 FROM app.items WHERE id = 2 FOR UPDATE');

# Both batches commit together, so that one claim takes them as one bundle.
# max_attempts 10: the lock is held for a few attempts.
sub request_of
{
	my ($id) = @_;
	return "'{\"operation\": \"status_update\", \"target_type\": \"items\", \"target_ids\": [$id], "
	  . "\"operation_data\": {\"new_status\": \"done\"}, \"max_attempts\": 10}'::jsonb";
}
my $out = $node->safe_psql('postgres',
	"BEGIN;\n"
	  . "SELECT batch_ops.batch_execute(" . request_of(1) . ")->>'operation_id';\n"
	  . "SELECT batch_ops.batch_execute(" . request_of(2) . ")->>'operation_id';\n"
	  . "COMMIT;");
my ($a, $b) = grep { /^\d+$/ } split /\n/, $out;
ok($a && $b, "two batches submitted in one transaction ($a, $b)");

# The batch whose row is free must not wait for the other one.
my $a_done = wait_until($node, 'postgres', "SELECT status FROM batch_ops.batch WHERE id = $a",
	'succeeded', 20, "batch $a to succeed while batch $b is blocked");
is($a_done, 'succeeded', 'the batch whose row is free succeeded although its bundle failed')
  or diag(log_excerpt($node, $log_offset));

# The blocked one is retried with backoff: an event says so.
my $retry = wait_until($node, 'postgres',
	"SELECT count(*) > 0 FROM batch_ops.batch_event WHERE batch_id = $b AND event = 'retry_scheduled' "
	  . "AND detail->>'error_code' = 'LOCK_TIMEOUT'",
	't', 20, "a retry_scheduled event of batch $b");
is($retry, 't', 'the blocked batch has a retry_scheduled event (LOCK_TIMEOUT)')
  or diag(log_excerpt($node, $log_offset));

my $stuck = $node->safe_psql('postgres',
	"SELECT count(*) FROM batch_ops.batch WHERE id IN ($a, $b) AND status = 'running' "
	  . "AND next_attempt_at IS NULL AND worker_pid IS NOT NULL "
	  . "AND updated_at < clock_timestamp() - interval '3 s'");
is($stuck, '0', 'no batch of the bundle is left running without progress');

$locker->query_safe('COMMIT');
$locker->quit;

my $w = $node->safe_psql('postgres',
	"SELECT status, attempt >= 2, error_message IS NULL FROM batch_ops.batch_wait($b, '30 s')");
is($w, 'succeeded|t|t',
	'the blocked batch succeeded on a later attempt, with no error message left (status|attempt >= 2|no error)'
) or diag(log_excerpt($node, $log_offset));
is($node->safe_psql('postgres', "SELECT last_error IS NULL AND last_error_code IS NULL FROM batch_ops.batch WHERE id = $b"),
	't', 'last_error and last_error_code are cleared when the batch succeeds');

my $log = slurp_file($node->logfile, $log_offset);
like($log, qr/first chunks of 2 batches failed together/,
	'a log line reports the failed bundle');
like($log, qr/batch $b .*will be retried/, 'a log line reports the retry of the blocked batch');
is($node->safe_psql('postgres', 'SELECT count(*), count(DISTINCT id) FROM app.applied WHERE id IN (1, 2)'),
	'2|2', 'each item applied exactly once');

# --- 2. the executor's lock on a batch it owns ------------------------------------------
# One chunk whose statement sleeps 2 s.
$node->safe_psql('postgres', 'UPDATE app.knob SET delay = 2');
my $c = submit_batch($node, 'postgres', 10, 40);
my $running = wait_until($node, 'postgres',
	"SELECT status FROM batch_ops.batch WHERE id = $c", 'running', 20, "batch $c to run");
is($running, 'running', "batch $c is running");
my $lock = $node->safe_psql('postgres', <<"EOF");
SELECT count(*) FROM pg_locks l JOIN batch_ops.batch b ON b.worker_pid = l.pid
 WHERE b.id = $c AND l.locktype = 'advisory' AND l.granted AND l.objsubid = 16961
   AND l.classid = (${c}::bigint >> 32)::oid AND l.objid = (${c}::bigint & 4294967295)::oid
   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
EOF
is($lock, '1', 'its executor holds the advisory lock of the batch (pg_locks)')
  or diag($node->safe_psql('postgres',
	"SELECT l.pid, l.database, l.classid, l.objid, l.objsubid, l.mode, l.granted, b.worker_pid, b.status "
	  . "FROM pg_locks l, batch_ops.batch b WHERE l.locktype = 'advisory' AND b.id = $c"));
$node->safe_psql('postgres', 'UPDATE app.knob SET delay = 0');
is($node->safe_psql('postgres', "SELECT status FROM batch_ops.batch_wait($c, '30 s')"),
	'succeeded', "batch $c succeeded");
my $left = wait_until($node, 'postgres',
	"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 16961 AND objid = $c",
	'0', 10, 'the lock to be released');
is($left, '0', 'the lock is released once the batch has ended');

# --- 3. a batch running under a live executor's pid but owned by nobody -----------------
$node->safe_psql('postgres', 'ALTER SYSTEM SET batch_ops.enabled = off');
$node->reload;
sleep 1;
my $d = submit_batch($node, 'postgres', 50, 60);
my @pids = executor_pids($node, 'postgres');
ok(@pids > 0, 'an executor is connected');
$node->safe_psql('postgres',
	"UPDATE batch_ops.batch SET status = 'running', started_at = now(), worker_pid = $pids[0] WHERE id = $d");
$log_offset = -s $node->logfile;
$node->safe_psql('postgres', 'ALTER SYSTEM RESET batch_ops.enabled');
$node->reload;
is($node->safe_psql('postgres', "SELECT status FROM batch_ops.batch_wait($d, '30 s')"),
	'succeeded', 'a running batch whose lock is free is resumed by the next claim')
  or diag(log_excerpt($node, $log_offset));
is($node->safe_psql('postgres',
		"SELECT count(*) FROM batch_ops.batch_event WHERE batch_id = $d AND event = 'resumed'"),
	'1', 'with a resumed event');
like(slurp_file($node->logfile, $log_offset), qr/resuming batch $d/, 'and a log line');
check_exactly_once($node, 'postgres', $d, 50, 60, 'resumed orphan');

$node->stop;
done_testing();
