# batch_wait waits without polling (issue 8, defect 4): a long wait on a batch that does
# not end keeps the waiting backend's memory flat, returns timed_out = true at its
# timeout, and a batch that ends wakes its waiter at once. A timeout too large for the
# wait raises 22023.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use BatchOpsTAP;

start_watchdog(150);

my $wait_s = 12;

my $node = new_batch_node('wait_memory', <<'EOF');
batch_ops.chunk_size = 1
batch_ops.max_items = 10000
batch_ops.notify_interval = 0
EOF
# One item per chunk, each chunk 20 ms: a chunk commits (and wakes waiters) ~40 times a second.
setup_items($node, 'postgres', 3000, 0.02);
my $id = submit_batch($node, 'postgres', 1, 3000);
ok(defined wait_until($node, 'postgres', "SELECT processed > 0 FROM batch_ops.batch WHERE id = $id",
		't', 30, 'the batch to start'), 'the long batch is running');

# kB of a /proc/PID/status field.
sub proc_kb
{
	my ($pid, $field) = @_;
	open my $fh, '<', "/proc/$pid/status" or return undef;
	while (<$fh>) { return $1 if /^$field:\s+(\d+)\s+kB/; }
	return undef;
}

my $waiter = $node->background_psql('postgres');
my $pid = $waiter->query_safe('SELECT pg_backend_pid()');
like($pid, qr/^\d+$/, "the waiting backend is $pid");
# Warm up the backend (plans, catalog caches) with a short wait first.
$waiter->query_safe("SELECT status FROM batch_ops.batch_wait($id, '200 ms')");
$waiter->query_until(qr/waiting/,
	"\\echo waiting\nSELECT status, clock_timestamp() FROM batch_ops.batch_wait($id, '$wait_s s');\n\\echo waited\n");
sleep 1;
my ($rss0, $anon0) = (proc_kb($pid, 'VmRSS'), proc_kb($pid, 'RssAnon'));
my $t0 = time();
sleep($wait_s - 3);
my ($rss1, $anon1) = (proc_kb($pid, 'VmRSS'), proc_kb($pid, 'RssAnon'));
my $t1 = time();
my $out = $waiter->query_until(qr/waited/, '');
note(sprintf('batch_wait backend over %.1f s: VmRSS %d -> %d kB, RssAnon %d -> %d kB',
		$t1 - $t0, $rss0, $rss1, $anon0, $anon1));
like($out, qr/^running\|/m, 'batch_wait returned at its timeout: status running');
cmp_ok($rss1 - $rss0, '<', 2048, "VmRSS of the waiting backend grew less than 2 MB ($rss0 -> $rss1 kB)");
cmp_ok($anon1 - $anon0, '<', 1024, "its anonymous memory grew less than 1 MB ($anon0 -> $anon1 kB)");
is($waiter->query_safe("SELECT status, timed_out FROM batch_ops.batch_wait($id, '100 ms')"),
	'running|t', 'a wait that reached its timeout says timed_out = true');
my $chunks = $node->safe_psql('postgres', "SELECT processed FROM batch_ops.batch WHERE id = $id");
cmp_ok($chunks, '>', 50, "the batch kept committing chunks meanwhile ($chunks)");

# A batch that ends wakes its waiter at once.
$node->safe_psql('postgres', "SELECT batch_ops.batch_cancel($id)");
$node->safe_psql('postgres', "SELECT status FROM batch_ops.batch_wait($id, '30 s')");
$node->safe_psql('postgres', 'UPDATE app.knob SET delay = 1');
my $short = submit_batch($node, 'postgres', 1, 1);
my $r = $waiter->query_safe(
	"SELECT w.status, w.timed_out, clock_timestamp() FROM batch_ops.batch_wait($short, '30 s') AS w");
my ($st, $to, $returned) = split /\|/, $r;
my $lag = $node->safe_psql('postgres',
	"SELECT extract(epoch FROM '$returned'::timestamptz - finished_at) FROM batch_ops.batch WHERE id = $short");
is("$st|$to", 'succeeded|f', 'batch_wait of a batch that ends: succeeded, timed_out false');
cmp_ok($lag, '<', 0.5, "the waiter woke up right after the batch ended ($lag s)");

# batch_status has the same record, timed_out false.
is($node->safe_psql('postgres',
		"SELECT skipped_count, cancelled_count, dry_run, paused, timed_out FROM batch_ops.batch_status($id)"),
	'0|' . $node->safe_psql('postgres', "SELECT cancelled_count FROM batch_ops.batch WHERE id = $id") . '|f|f|f',
	'batch_status: skipped_count, cancelled_count, dry_run, paused, timed_out at the end of the record');

# A timeout the wait cannot represent raises 22023 instead of returning at once.
my ($ret, $stdout, $stderr) = $node->psql('postgres',
	"SELECT status FROM batch_ops.batch_wait($short, '100000000 years')");
isnt($ret, 0, 'batch_wait with a timeout of 100000000 years fails');
like($stderr, qr/timeout .*out of range/, 'with a timeout out of range error');
($ret, $stdout, $stderr) = $node->psql('postgres',
	"\\set VERBOSITY verbose\nSELECT status FROM batch_ops.batch_wait($short, '100000000 years')");
like($stderr, qr/22023/, 'SQLSTATE 22023');
# A large timeout that fits is accepted (the batch has ended: it returns at once).
is($node->safe_psql('postgres', "SELECT timed_out FROM batch_ops.batch_wait($short, '1000 years')"),
	'f', 'a timeout of 1000 years is accepted');

$waiter->quit;
$node->stop;
done_testing();
