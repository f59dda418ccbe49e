# batch_cancel of a running batch returns at once (issue 8, defect 3): it never waits for
# the chunk in flight, which is interrupted and rolled back within a second; that chunk's
# items and the remaining ones end `cancelled`, none of them applied. Also for a batch of
# one chunk (which used to answer false and end succeeded).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use BatchOpsTAP;

start_watchdog(150);

my $node = new_batch_node('cancel_now', <<'EOF');
batch_ops.chunk_size = 10
batch_ops.poll_interval = '500ms'
EOF
# Every chunk's statement sleeps 3 s after its rows are updated (and logged in app.applied).
setup_items($node, 'postgres', 200, 3);
$node->safe_psql('postgres', <<'EOF');
CREATE FUNCTION app.timed_cancel(bid bigint, OUT cancelled boolean, OUT ms float8,
                                 OUT at timestamptz) LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
    cancelled := batch_ops.batch_cancel(bid);
    ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
    at := clock_timestamp();
END $$;
EOF

# Waits until the executor sleeps in the statement of a chunk of batch ID.
sub wait_in_chunk
{
	my ($id) = @_;
	return wait_until($node, 'postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'batch_ops executor' "
		  . "AND query LIKE 'batch_ops: batch $id, chunk %' AND wait_event = 'PgSleep'",
		'1', 30, "a chunk of batch $id to be in flight");
}

sub round
{
	my ($label, $from, $to) = @_;
	my $total = $to - $from + 1;
	my $id = submit_batch($node, 'postgres', $from, $to);
	ok(defined wait_in_chunk($id), "$label: a chunk of batch $id is in flight (sleeping)");
	my $log_offset = -s $node->logfile;

	my $t0 = time();
	my ($cancelled, $ms, $at) = split /\|/,
	  $node->safe_psql('postgres', "SELECT * FROM app.timed_cancel($id)");
	my $client = time() - $t0;
	is($cancelled, 't', "$label: batch_cancel returns true");
	cmp_ok($ms, '<', 100, "$label: batch_cancel returned in under 100 ms (server side: ${ms} ms)");
	note(sprintf('%s: batch_cancel took %.1f ms in the server, %.0f ms with psql', $label, $ms, $client * 1000));

	my $w = $node->safe_psql('postgres',
		"SELECT status, total, processed, success_count, cancelled_count FROM batch_ops.batch_wait($id, '20 s')");
	is($w, "cancelled|$total|$total|0|$total",
		"$label: the batch ended cancelled, every item cancelled (status|total|processed|success|cancelled)")
	  or diag(log_excerpt($node, $log_offset));
	my $late = $node->safe_psql('postgres',
		"SELECT extract(epoch FROM finished_at - '$at'::timestamptz) FROM batch_ops.batch WHERE id = $id");
	cmp_ok($late, '<', 1.0, "$label: it ended within a second of the cancel ($late s)");
	is($node->safe_psql('postgres', "SELECT count(*) FROM app.applied WHERE id BETWEEN $from AND $to"),
		'0', "$label: no item applied (the interrupted chunk was rolled back)");
	is($node->safe_psql('postgres',
			"SELECT count(*) FROM app.items WHERE id BETWEEN $from AND $to AND status <> 'new'"),
		'0', "$label: no row changed");
	is($node->safe_psql('postgres',
			"SELECT count(*) FILTER (WHERE status = 'cancelled'), count(*) FROM batch_ops.job_items WHERE job_id = $id"),
		"$total|$total", "$label: job_items: every item cancelled");
	is($node->safe_psql('postgres',
			"SELECT string_agg(event, ',' ORDER BY id) FILTER (WHERE event IN ('cancel_requested', 'cancelled')) "
			  . "FROM batch_ops.batch_event WHERE batch_id = $id"),
		'cancel_requested,cancelled', "$label: cancel_requested then cancelled events");
	is($node->safe_psql('postgres', "SELECT batch_ops.batch_cancel($id)"),
		'f', "$label: batch_cancel of the ended batch returns false");
	return;
}

round('three chunks', 1, 30);
round('one chunk', 41, 45);

# The executor is still serving: a batch submitted now succeeds.
$node->safe_psql('postgres', 'UPDATE app.knob SET delay = 0');
my $id = submit_batch($node, 'postgres', 100, 120);
is($node->safe_psql('postgres', "SELECT status FROM batch_ops.batch_wait($id, '30 s')"),
	'succeeded', 'a later batch succeeds');

$node->stop;
done_testing();
