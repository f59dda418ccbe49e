# Issue 9, memory: 10,000 batches through one executor leave its memory flat. The
# executor's private resident memory (RssAnon; VmRSS also counts the shared buffers it
# touches, which grow with the table) is read after a first 1,000 batches (warmed up:
# plans cached, catalogs loaded) and after 10,000; it may not grow by more than 8 MB.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use BatchOpsTAP;

start_watchdog(300);

my $node = new_batch_node('memory', "batch_ops.max_workers = 1\nlog_min_messages = warning\n");
setup_items($node, 'postgres', 100, 0);

sub rss_kb
{
	my ($pid) = @_;
	open my $fh, '<', "/proc/$pid/status" or return undef;
	while (<$fh>) { return $1 if /^RssAnon:\s+(\d+)\s+kB/; }
	return undef;
}

# N one-item batches, committed together; waits until all have ended.
sub run_batches
{
	my ($n) = @_;
	$node->safe_psql('postgres', <<"EOF");
SELECT batch_ops.batch_execute(jsonb_build_object('operation', 'status_update', 'target_type', 'items',
    'execution', 'background', 'target_ids', jsonb_build_array(1 + g % 100),
    'operation_data', jsonb_build_object('new_status', 's' || g % 7)))
  FROM generate_series(1, $n) AS g;
EOF
	return wait_until($node, 'postgres',
		"SELECT count(*) FROM batch_ops.batch WHERE status NOT IN ('succeeded', 'failed')",
		'0', 240, 'the batches to end');
}

ok(defined run_batches(1000), 'the first 1,000 batches ended');
my $pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'batch_ops executor'");
ok($pid =~ /^\d+$/, "one executor ($pid)");
my $start = rss_kb($pid);
for (1 .. 9) { defined(run_batches(1000)) or last; }
my $same = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'batch_ops executor'");
is($same, $pid, 'the same executor ran all of them');
my $end = rss_kb($pid);
my $n = $node->safe_psql('postgres', "SELECT count(*) FROM batch_ops.batch WHERE status = 'succeeded'");
is($n, '10000', '10,000 batches succeeded');
diag("executor RssAnon after 1,000 batches: $start kB; after 10,000: $end kB; growth " . ($end - $start) . " kB");
ok($end - $start < 8192, 'the executor\'s memory stayed flat (growth under 8 MB)');

$node->stop;
done_testing();
