# Issue 9, failover: a streaming standby promoted while a background batch runs on the
# primary, the old primary stopped (immediate: whatever the standby had not received
# is lost with it). The new primary's workers finish the batch, and in the surviving
# history every item was applied exactly once (each chunk's effect and its recorded
# result committed together, so a chunk lost with the old primary is lost whole and
# runs again). Before the promotion the standby refuses submissions (25006).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use BatchOpsTAP;

start_watchdog(240);

my $total = 3000;
my $primary = PostgreSQL::Test::Cluster->new('failover_primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', <<'EOF');
shared_preload_libraries = 'batch_ops'
max_worker_processes = 16
log_min_messages = warning
log_line_prefix = '%m [%p] %e %b '
batch_ops.chunk_size = 20
batch_ops.max_items = 10000
EOF
$primary->start;
setup_items($primary, 'postgres', $total, 0.02);
$primary->backup('base');

my $standby = PostgreSQL::Test::Cluster->new('failover_standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);

# The standby is read-only: a submission there is refused with PostgreSQL's 25006.
my ($rc, $out, $err) = $standby->psql('postgres',
	"SELECT batch_ops.batch_execute(" . ids_request(1, 10) . ")",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/25006/, 'the standby refuses a submission with 25006');
is($standby->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'batch_ops executor'"),
	'0', 'no executor runs on the standby');

my $id = submit_batch($primary, 'postgres', 1, $total);
ok($id, "batch $id submitted on the primary");
my $mid = wait_until($primary, 'postgres',
	"SELECT processed >= 200 AND processed < total FROM batch_ops.jobs WHERE job_id = $id",
	't', 60, 'the batch to be part-way on the primary');
ok(defined $mid, 'the batch is part-way on the primary');

# Let the standby receive some of it, then lose the primary.
$primary->wait_for_catchup($standby);
my $seen_before = $standby->safe_psql('postgres',
	"SELECT processed FROM batch_ops.batch WHERE id = $id");
$primary->stop('immediate');
note("primary stopped; the standby had seen $seen_before of $total items processed");

$standby->promote;
my $up = wait_until($standby, 'postgres', 'SELECT NOT pg_is_in_recovery()', 't', 60,
	'the standby to be promoted');
ok(defined $up, 'the standby was promoted');

# Finish faster on the new primary.
$standby->safe_psql('postgres', 'UPDATE app.knob SET delay = 0.002');
my $w = $standby->safe_psql('postgres',
	"SELECT status, total, processed, success_count, failure_count FROM batch_ops.batch_wait($id, '120 s')");
is($w, "succeeded|$total|$total|$total|0",
	'the new primary finished the batch (status|total|processed|success|failure)')
  or diag(slurp_file($standby->logfile));
check_exactly_once($standby, 'postgres', $id, 1, $total, 'after failover');

# Submissions work on the new primary.
my $id2 = submit_batch($standby, 'postgres', 1, 10);
my $w2 = $standby->safe_psql('postgres', "SELECT status FROM batch_ops.batch_wait($id2, '60 s')");
is($w2, 'succeeded', 'a new batch runs on the promoted standby');

$standby->stop;
done_testing();
