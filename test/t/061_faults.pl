# Issue 9, faults. Background batches under fault injection, each fault while chunks
# are in flight:
#   A. kill -9 of an executor at 20 random moments;
#   B. immediate shutdown of the server, 5 times;
#   C. a chunk hitting batch_ops.statement_timeout;
#   D. the disk of pg_wal filled (a small tmpfs; needs BATCH_OPS_WAL_DISK, which
#      test/check provides when it runs as root) and freed.
# After each part every batch ends (succeeded, or failed cleanly) and the audit trigger
# shows 0 items lost or doubled: an item was applied exactly once if its result says
# succeeded, and never otherwise.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use BatchOpsTAP;
use Time::HiRes qw(usleep time);

start_watchdog(400);
srand($ENV{BATCH_OPS_FAULT_SEED} // 20261205);

my $wal_disk = $ENV{BATCH_OPS_WAL_DISK};
my $node = PostgreSQL::Test::Cluster->new('faults');
$node->init($wal_disk ? (extra => [ '--waldir', "$wal_disk/pg_wal" ]) : ());
$node->append_conf('postgresql.conf', <<'EOF');
shared_preload_libraries = 'batch_ops'
max_worker_processes = 16
restart_after_crash = on
log_min_messages = warning
log_line_prefix = '%m [%p] %e %b '
batch_ops.chunk_size = 20
batch_ops.max_items = 10000
batch_ops.max_workers = 2
max_wal_size = 64MB
min_wal_size = 32MB
EOF
$node->start;
setup_items($node, 'postgres', 12000, 0.01);

# The audit: per item, applications (app.applied) against the recorded result.
sub audit
{
	my ($label, @ids) = @_;
	my $list = join(',', @ids);
	my $terminal = $node->safe_psql('postgres',
		"SELECT count(*) FILTER (WHERE status IN ('succeeded', 'failed', 'cancelled')), count(*) "
		  . "FROM batch_ops.batch WHERE id IN ($list)");
	my ($done, $all) = split /\|/, $terminal;
	is($done, $all, "$label: every batch ended ($done of $all)");
	my $bad = $node->safe_psql('postgres', <<"EOF");
WITH r AS (
    SELECT i.target_id::integer AS id, i.status
      FROM batch_ops.job_items i WHERE i.job_id IN ($list)),
a AS (SELECT id, count(*) AS n FROM app.applied GROUP BY id)
SELECT count(*) FILTER (WHERE r.status = 'succeeded' AND coalesce(a.n, 0) <> 1) AS lost_or_doubled,
       count(*) FILTER (WHERE r.status <> 'succeeded' AND coalesce(a.n, 0) <> 0) AS applied_not_recorded
  FROM r LEFT JOIN a USING (id)
EOF
	is($bad, '0|0', "$label: 0 items lost or doubled (succeeded but not applied once | applied but not succeeded)");
	my $stuck = $node->safe_psql('postgres',
		"SELECT count(*) FROM batch_ops.job_items WHERE job_id IN ($list) AND status = 'pending'");
	is($stuck, '0', "$label: no item left pending");
	return;
}

sub wait_all
{
	my ($secs, @ids) = @_;
	my $list = join(',', @ids);
	return wait_until($node, 'postgres',
		"SELECT count(*) FROM batch_ops.batch WHERE id IN ($list) AND status NOT IN ('succeeded', 'failed', 'cancelled')",
		'0', $secs, 'the batches to end');
}

sub wait_up
{
	my $up = wait_until($node, 'postgres', 'SELECT 1', '1', 60, 'the server to accept connections');
	return defined $up;
}

# ---- A: kill -9 of an executor at 20 random moments --------------------------------
my @a = map { submit_batch($node, 'postgres', 1 + ($_ - 1) * 1000, $_ * 1000) } 1 .. 4;
my $kills = 0;
for my $k (1 .. 20)
{
	usleep(int(200_000 + rand(600_000)));
	my $pids = $node->safe_psql('postgres',
		"SELECT string_agg(pid::text, ' ') FROM pg_stat_activity WHERE backend_type = 'batch_ops executor'");
	my @pids = split ' ', ($pids // '');
	next unless @pids;
	my $victim = $pids[ int(rand(@pids)) ];
	$kills++ if kill('KILL', $victim);
	usleep(300_000);
	wait_up() or last;
}
note("A: $kills executors killed");
ok($kills >= 15, "A: executors were killed mid-batch ($kills times)");
$node->safe_psql('postgres', 'UPDATE app.knob SET delay = 0');
ok(defined wait_all(120, @a), 'A: the batches ended after the kills');
audit('A', @a);

# ---- B: immediate shutdown, 5 times ------------------------------------------------
$node->safe_psql('postgres', 'UPDATE app.knob SET delay = 0.05');
my @b = map { submit_batch($node, 'postgres', 4001 + ($_ - 1) * 1000, 4000 + $_ * 1000) } 1 .. 3;
for my $round (1 .. 5)
{
	wait_until($node, 'postgres',
		"SELECT count(*) > 0 FROM batch_ops.batch WHERE status = 'running'", 't', 30, 'a running batch');
	usleep(int(100_000 + rand(400_000)));
	$node->stop('immediate');
	$node->start;
}
$node->safe_psql('postgres', 'UPDATE app.knob SET delay = 0');
ok(defined wait_all(120, @b), 'B: the batches ended after 5 immediate shutdowns');
audit('B', @b);

# ---- C: a chunk hitting batch_ops.statement_timeout --------------------------------
$node->safe_psql('postgres', "ALTER SYSTEM SET batch_ops.statement_timeout = '200ms'");
$node->reload;
$node->safe_psql('postgres', 'UPDATE app.knob SET delay = 1');
my $c = submit_batch($node, 'postgres', 7001, 7040);
ok(defined wait_all(60, $c), 'C: the batch whose chunks exceed statement_timeout ended');
my $cs = $node->safe_psql('postgres', "SELECT status, success_count FROM batch_ops.batch WHERE id = $c");
is($cs, 'failed|0', 'C: it failed cleanly, nothing succeeded');
like($node->safe_psql('postgres',
	"SELECT string_agg(DISTINCT coalesce(message, ''), ' / ') FROM batch_ops.job_items WHERE job_id = $c"),
	qr/statement timeout|57014/, 'C: the items say the statement timed out');
audit('C', $c);
$node->safe_psql('postgres', 'ALTER SYSTEM RESET batch_ops.statement_timeout');
$node->reload;
$node->safe_psql('postgres', 'UPDATE app.knob SET delay = 0.01');

# ---- D: pg_wal's disk filled, then freed ---------------------------------------------
SKIP:
{
	skip 'BATCH_OPS_WAL_DISK not set (test/check sets it when it can mount a small tmpfs as root)', 5
	  unless $wal_disk;
	$node->safe_psql('postgres', 'UPDATE app.knob SET delay = 0.05; CREATE TABLE app.wal_filler (x text)');
	my @d = map { submit_batch($node, 'postgres', 8001 + ($_ - 1) * 1000, 8000 + $_ * 1000) } 1 .. 2;
	wait_until($node, 'postgres',
		"SELECT count(*) > 0 FROM batch_ops.batch WHERE status = 'running'", 't', 30, 'a running batch');
	# Fill the disk: a filler file takes what is left.
	my $filler = "$wal_disk/filler";
	system("dd if=/dev/zero of=$filler bs=1M 2>/dev/null");
	note('D: pg_wal disk filled: ' . `df -h $wal_disk | tail -1`);
	# Preallocated WAL segments still take writes: write more WAL than they hold.
	$node->psql('postgres', "INSERT INTO app.wal_filler SELECT repeat(md5(g::text), 60) FROM generate_series(1, 200000) AS g",
		timeout => 60);
	# The server stops writing (PANIC, then the startup process cannot finish): wait for it.
	my $stopped = 0;
	my $deadline = time() + 60;
	while (time() < $deadline)
	{
		my $log = slurp_file($node->logfile);
		if ($log =~ /No space left on device/) { $stopped = 1; last; }
		usleep(200_000);
	}
	ok($stopped, 'D: the server ran out of space for WAL');
	unlink $filler;
	# Start it again if the failed recovery left it down.
	sleep 3;
	$node->_update_pid(-1);
	$node->start(fail_ok => 1) unless defined $node->{_pid};
	ok(wait_up(), 'D: the server is back once the disk is freed');
	$node->safe_psql('postgres', 'UPDATE app.knob SET delay = 0');
	ok(defined wait_all(120, @d), 'D: the batches ended');
	audit('D', @d);
}

$node->stop;
done_testing();
