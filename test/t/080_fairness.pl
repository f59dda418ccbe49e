# Fairness between submitting roles (issue 9, item 1; API.md section 6): priority orders a
# role's own batches; between roles with queued work the executors take turns.
#   1. Role A queues 200 small batches at the highest priority; role B's one batch,
#      submitted once A's have started, starts within 2 s (started_at - created_at),
#      ahead of most of A's, and all of them succeed.
#   2. One executor (max_workers = 1) runs A's one long batch; B's batch starts within
#      2 s, between two chunks of A's, and both succeed, every item applied once.
#   3. Both executors run long batches of A; B's batch starts within 2 s.
#   4. An idle executor of another database steps aside for a database whose executors
#      are all busy (max_workers reached): A's second batch starts within 2 s.
#   5. The UPSTREAM_FAILED cascade is linear: a failing head with 8,000 chained
#      dependents fails them all in well under a few seconds (it took 18 s); retrying
#      the head re-arms them as fast, and cancelling it fails them again.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use BatchOpsTAP;

start_watchdog(400);

my $node = new_batch_node('fairness', <<'EOF');
batch_ops.max_workers = 2
batch_ops.poll_interval = '500ms'
batch_ops.max_items = 10000
EOF
setup_items($node, 'postgres', 12000, 0.04);
$node->safe_psql('postgres', <<'EOF');
CREATE ROLE role_a LOGIN;
CREATE ROLE role_b LOGIN;
GRANT batch_ops_user TO role_a, role_b;
GRANT USAGE ON SCHEMA app TO role_a, role_b;
GRANT SELECT, UPDATE ON app.items TO role_a, role_b;
GRANT SELECT ON app.knob TO role_a, role_b;
GRANT INSERT ON app.applied TO role_a, role_b;
EOF

# A background status_update of ids FROM..TO as ROLE (priority PRIO, chunks of CHUNK).
sub submit_as
{
	my ($role, $from, $to, $prio, $chunk) = @_;
	$chunk //= 1000;
	my $id = $node->safe_psql('postgres', <<"EOF");
SET ROLE $role;
SET batch_ops.chunk_size = $chunk;
SELECT batch_ops.batch_execute(${\ids_request($from, $to)} || jsonb_build_object('priority', $prio))->>'operation_id';
EOF
	die "no batch id" unless $id =~ /^\d+$/;
	return $id;
}

# Waits until every batch has ended; returns true if so.
sub all_ended
{
	my ($secs, $what) = @_;
	return defined wait_until($node, 'postgres',
		"SELECT count(*) FROM batch_ops.batch WHERE status NOT IN ('succeeded', 'failed', 'cancelled')",
		'0', $secs, $what);
}

# Seconds from B's submission to its start.
sub start_delay
{
	my ($id) = @_;
	return $node->safe_psql('postgres',
		"SELECT round(extract(epoch FROM started_at - created_at)::numeric, 2) FROM batch_ops.batch WHERE id = $id");
}

# ---------------------------------------------------------------------------
# 1. 200 small batches of A at the highest priority, then B's one batch.
my $first = $node->safe_psql('postgres', 'SELECT coalesce(max(id), 0) + 1 FROM batch_ops.batch');
$node->safe_psql('postgres', <<"EOF");
SET ROLE role_a;
SELECT count(batch_ops.batch_execute(jsonb_build_object(
         'operation', 'status_update', 'target_type', 'items', 'execution', 'background',
         'target_ids', jsonb_build_array(g), 'priority', 1000000,
         'operation_data', jsonb_build_object('new_status', 'done'))))
  FROM generate_series(1, 200) AS g;
EOF
ok(defined wait_until($node, 'postgres',
		"SELECT count(*) > 0 FROM batch_ops.batch WHERE id >= $first AND status = 'succeeded'",
		't', 30, "A's batches to start"),
	"A's 200 batches are being run");
my $b1 = submit_as('role_b', 1001, 1001, 0);
ok(all_ended(120, 'every batch of case 1 to end'), 'case 1: every batch ended');
my $d1 = start_delay($b1);
note("case 1: B's batch started $d1 s after its submission");
cmp_ok($d1, '<', 2, "case 1: B's batch started within 2 s ($d1 s) behind A's 200 batches");
my $after = $node->safe_psql('postgres',
	"SELECT count(*) FROM batch_ops.batch a, batch_ops.batch b WHERE b.id = $b1 AND a.id BETWEEN $first AND $b1 - 1 "
	  . "AND a.started_at > b.started_at");
cmp_ok($after, '>', 0, "case 1: $after of A's batches started after B's (B did not wait for A's backlog)");
is($node->safe_psql('postgres',
		"SELECT count(*) FILTER (WHERE status = 'succeeded'), count(*) FROM batch_ops.batch WHERE id >= $first"),
	'201|201', 'case 1: all 201 batches succeeded');
check_exactly_once($node, 'postgres', $b1, 1001, 1001, 'case 1, B');

# ---------------------------------------------------------------------------
# 2. One executor: A's long batch (150 chunks of 20 ids, 40 ms each), then B's.
$node->append_conf('postgresql.conf', "batch_ops.max_workers = 1\n");
$node->restart;
my $a2 = submit_as('role_a', 2001, 5000, 1000000, 20);
ok(defined wait_until($node, 'postgres',
		"SELECT processed >= 100 FROM batch_ops.batch WHERE id = $a2", 't', 60, "A's long batch to run"),
	"case 2: A's long batch is running");
my $b2 = submit_as('role_b', 1002, 1002, 0);
ok(defined wait_until($node, 'postgres',
		"SELECT status FROM batch_ops.batch WHERE id = $b2", 'succeeded', 60, "B's batch to succeed"),
	"case 2: B's batch succeeded");
my $d2 = start_delay($b2);
note("case 2: B's batch started $d2 s after its submission");
cmp_ok($d2, '<', 2, "case 2: B's batch started within 2 s ($d2 s) beside A's long batch (one executor)");
is($node->safe_psql('postgres', "SELECT status FROM batch_ops.batch WHERE id = $a2"),
	'running', "case 2: A's batch was still running when B's ended (B did not wait for it)");
ok(all_ended(120, 'A\'s long batch to end'), "case 2: A's long batch ended");
check_exactly_once($node, 'postgres', $a2, 2001, 5000, "case 2, A's long batch");
check_exactly_once($node, 'postgres', $b2, 1002, 1002, 'case 2, B');

# ---------------------------------------------------------------------------
# 3. Two executors, each with a long batch of A; then B's batch.
$node->append_conf('postgresql.conf', "batch_ops.max_workers = 2\n");
$node->restart;
my $a3 = submit_as('role_a', 5001, 7000, 1000000, 20);
ok(defined wait_until($node, 'postgres',
		"SELECT processed > 0 FROM batch_ops.batch WHERE id = $a3", 't', 60, "A's first long batch to run"),
	"case 3: A's first long batch is running");
my $a3b = submit_as('role_a', 7001, 9000, 1000000, 20);
ok(defined wait_until($node, 'postgres',
		"SELECT count(DISTINCT worker_pid) FROM batch_ops.batch WHERE id IN ($a3, $a3b) AND status = 'running' "
		  . "AND processed > 0", '2', 60, "A's two long batches to run in two executors"),
	"case 3: two executors run A's two long batches");
my $b3 = submit_as('role_b', 1003, 1003, 0);
ok(defined wait_until($node, 'postgres',
		"SELECT status FROM batch_ops.batch WHERE id = $b3", 'succeeded', 60, "B's batch to succeed"),
	"case 3: B's batch succeeded");
my $d3 = start_delay($b3);
note("case 3: B's batch started $d3 s after its submission");
cmp_ok($d3, '<', 2, "case 3: B's batch started within 2 s ($d3 s) while both executors run A's long batches");
ok(all_ended(120, 'every batch of case 3 to end'), 'case 3: every batch ended');
is($node->safe_psql('postgres', "SELECT string_agg(status::text, ',' ORDER BY id) FROM batch_ops.batch WHERE id IN ($a3, $a3b, $b3)"),
	'succeeded,succeeded,succeeded', 'case 3: all three succeeded');
check_exactly_once($node, 'postgres', $a3, 5001, 7000, "case 3, A's first");
check_exactly_once($node, 'postgres', $a3b, 7001, 9000, "case 3, A's second");

# ---------------------------------------------------------------------------
# 4. An idle executor serves another database that has work. Database "other" keeps
# an idle executor; in postgres, one executor runs A's long batch when A submits a
# second batch (the same role: that executor finishes its own first). With both slots
# of max_workers = 2 taken, the idle executor of "other" steps aside and the second
# batch starts in another executor of postgres within 2 s.
$node->safe_psql('postgres', 'CREATE DATABASE other');
setup_items($node, 'other', 10, 0);
my $o1 = submit_batch($node, 'other', 1, 1);
ok(defined wait_until($node, 'other', "SELECT status FROM batch_ops.batch WHERE id = $o1", 'succeeded', 60,
		"other's batch"), 'case 4: a batch of database other ran');
ok(defined wait_until($node, 'postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'batch_ops executor' AND datname = 'other' "
		  . "AND wait_event = 'Extension'", '1', 30, "other's executor to be idle"),
	'case 4: an executor of other waits, idle');
my $a4 = submit_as('role_a', 9001, 11000, 1000000, 20);
ok(defined wait_until($node, 'postgres',
		"SELECT processed > 0 FROM batch_ops.batch WHERE id = $a4", 't', 60, "A's long batch to run"),
	"case 4: A's long batch is running");
is(scalar(executor_pids($node, 'postgres')) + scalar(executor_pids($node, 'other')), 2,
	'case 4: both executors of max_workers are taken (one per database)');
my $s4 = submit_as('role_a', 1005, 1005, 0);
ok(defined wait_until($node, 'postgres',
		"SELECT status FROM batch_ops.batch WHERE id = $s4", 'succeeded', 60, "A's second batch to succeed"),
	"case 4: A's second batch succeeded");
my $d4 = start_delay($s4);
note("case 4: A's second batch started $d4 s after its submission");
cmp_ok($d4, '<', 2, "case 4: A's second batch started within 2 s ($d4 s): other's idle executor stepped aside");
is($node->safe_psql('postgres', "SELECT status FROM batch_ops.batch WHERE id = $a4"),
	'running', 'case 4: the long batch was still running then');
ok(all_ended(120, "case 4's batches to end"), "case 4: every batch of postgres ended");
# "other" is served again once an executor is free.
my $o2 = submit_batch($node, 'other', 2, 2);
ok(defined wait_until($node, 'other', "SELECT status FROM batch_ops.batch WHERE id = $o2", 'succeeded', 60,
		"other's second batch"), 'case 4: database other is served again');

# ---------------------------------------------------------------------------
# 5. The UPSTREAM_FAILED cascade: a head that fails (its id does not exist) and 8,000
# batches chained behind it, all committed together.
$node->safe_psql('postgres', 'UPDATE app.knob SET delay = 0');
my $chain = 8000;
my $head = $node->safe_psql('postgres', <<"EOF");
CREATE TEMP TABLE h (id bigint);
DO \$\$
DECLARE prev bigint; first bigint;
BEGIN
  first := (batch_ops.batch_execute('{"operation": "status_update", "target_type": "items",
             "target_ids": [999999], "operation_data": {"new_status": "x"}}') ->> 'operation_id')::bigint;
  prev := first;
  FOR i IN 1..$chain LOOP
    prev := (batch_ops.batch_execute(jsonb_build_object('operation', 'status_update', 'target_type', 'items',
               'target_ids', jsonb_build_array(11000), 'operation_data', jsonb_build_object('new_status', 'y'),
               'depends_on', jsonb_build_array(prev))) ->> 'operation_id')::bigint;
  END LOOP;
  INSERT INTO h VALUES (first);
END \$\$;
SELECT id FROM h;
EOF
ok(defined wait_until($node, 'postgres',
		"SELECT count(*) FROM batch_ops.batch WHERE id > $head AND status = 'failed' "
		  . "AND last_error_code = 'UPSTREAM_FAILED'", $chain, 120, 'the cascade'),
	"case 5: the head failed and so did its $chain dependents, with UPSTREAM_FAILED");
my $cascade = $node->safe_psql('postgres',
	"SELECT round(extract(epoch FROM max(d.finished_at) - h.finished_at)::numeric, 3) "
	  . "FROM batch_ops.batch h, batch_ops.batch d WHERE h.id = $head AND d.id > $head GROUP BY h.finished_at");
note("case 5: the cascade over $chain chained dependents took $cascade s (in the executor's transaction)");
cmp_ok($cascade, '<', 3, "case 5: the cascade over $chain dependents took $cascade s");
is($node->safe_psql('postgres',
		"SELECT count(*), sum(skipped_count), sum(processed) FROM batch_ops.batch WHERE id > $head"),
	"$chain|$chain|$chain", 'case 5: every dependent has its item skipped and counted');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM batch_ops.job_items WHERE job_id > $head AND status = 'skipped' "
		  . "AND error_code = 'UPSTREAM_FAILED' AND message = 'upstream batch ' || (job_id - 1) || ' did not succeed'"),
	$chain, 'case 5: each skipped item names the batch just upstream');

# Retrying the head re-arms the chain (the workers paused, so that nothing runs).
$node->safe_psql('postgres', "ALTER SYSTEM SET batch_ops.enabled = off; SELECT pg_reload_conf();");
usleep(500_000);
my $t0 = time();
$node->safe_psql('postgres', "SELECT batch_ops.batch_retry($head)");
my $rearm = sprintf('%.3f', time() - $t0);
note("case 5: batch_retry re-armed $chain dependents in $rearm s");
cmp_ok($rearm, '<', 3, "case 5: batch_retry re-armed the chain in $rearm s");
is($node->safe_psql('postgres',
		"SELECT count(*) FROM batch_ops.batch WHERE id >= $head AND status = 'queued' AND processed = 0"),
	$chain + 1, 'case 5: the head and every dependent are queued again');
$t0 = time();
is($node->safe_psql('postgres', "SELECT batch_ops.batch_cancel($head)"), 't', 'case 5: the head is cancelled');
my $recancel = sprintf('%.3f', time() - $t0);
note("case 5: batch_cancel failed $chain dependents in $recancel s");
cmp_ok($recancel, '<', 3, "case 5: batch_cancel failed the chain again in $recancel s");
is($node->safe_psql('postgres',
		"SELECT count(*) FROM batch_ops.batch WHERE id > $head AND status = 'failed' "
		  . "AND last_error_code = 'UPSTREAM_FAILED'"),
	$chain, 'case 5: every dependent failed again');

$node->stop;
done_testing();
