# Cancelling a running background batch: batch_cancel returns true, the batch ends
# 'cancelled', its counts add up, no item stays pending, exactly the succeeded items were
# applied (once each) and no cancelled item was applied. Two rounds: slow chunks (the
# cancel waits for the chunk in flight) and fast ones (the cancel races chunk commits).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use BatchOpsTAP;

start_watchdog(150);

my $per_round = 3000;
my $node = new_batch_node('cancel', <<'EOF');
batch_ops.chunk_size = 10
batch_ops.max_items = 10000
EOF
setup_items($node, 'postgres', 2 * $per_round, 0);

# Waits in the server (no client round trips) until batch ID has processed >= MIN items
# or has ended, at most 30 s; returns its processed count then.
$node->safe_psql('postgres', <<'EOF');
CREATE FUNCTION app.wait_processed(bid bigint, min integer) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    p integer;
    s text;
    deadline timestamptz := clock_timestamp() + interval '30 s';
BEGIN
    LOOP
        SELECT b.processed, b.status INTO p, s FROM batch_ops.batch AS b WHERE b.id = bid;
        EXIT WHEN p >= min OR s NOT IN ('queued', 'running') OR clock_timestamp() > deadline;
        PERFORM pg_sleep(0.001);
    END LOOP;
    RETURN p;
END $$;
EOF

sub round
{
	my ($label, $from, $to, $delay, $min) = @_;
	my $total = $to - $from + 1;
	$node->safe_psql('postgres', "UPDATE app.knob SET delay = $delay");
	my $id = submit_batch($node, 'postgres', $from, $to);
	ok($id, "$label: background batch $id of $total ids submitted");

	my $log_offset = -s $node->logfile;
	# The wait and the cancel in one session, back to back.
	my $out = $node->safe_psql('postgres',
		"SELECT app.wait_processed($id, $min);\n"
		  . "SELECT status FROM batch_ops.batch WHERE id = $id;\n"
		  . "SELECT batch_ops.batch_cancel($id);");
	my ($seen, $st, $cancel) = split /\n/, $out;
	note("$label: batch_cancel at processed >= $seen (status $st)");
	ok($seen > 0 && $seen < $total && $st eq 'running',
		"$label: the batch was running part-way when cancelled (processed $seen, status $st)");
	is($cancel, 't', "$label: batch_cancel of the running batch returns true");

	my $w = $node->safe_psql('postgres',
		"SELECT status, total, processed FROM batch_ops.batch_wait($id, '60 s')");
	is($w, "cancelled|$total|$total",
		"$label: batch_wait: cancelled, processed = total (status|total|processed)")
	  or diag("server log:\n" . log_excerpt($node, $log_offset));

	my ($succ, $fail, $canc, $skip, $processed) = split /\|/, $node->safe_psql('postgres',
		"SELECT success_count, failure_count, cancelled_count, skipped_count, processed "
		  . "FROM batch_ops.batch WHERE id = $id");
	note("$label: success $succ, failure $fail, cancelled $canc, skipped $skip, processed $processed");
	is($succ + $fail + $canc, $total, "$label: success_count + failure_count + cancelled_count = total");
	is($processed, $total, "$label: processed = total");
	cmp_ok($succ, '>', 0, "$label: some items succeeded before the cancel");
	cmp_ok($canc, '>', 0, "$label: some items were cancelled");
	is($fail, '0', "$label: no item failed");

	my $items = $node->safe_psql('postgres',
		"SELECT count(*), count(*) FILTER (WHERE status = 'pending'), "
		  . "count(*) FILTER (WHERE status = 'succeeded'), count(*) FILTER (WHERE status = 'cancelled') "
		  . "FROM batch_ops.job_items WHERE job_id = $id");
	is($items, "$total|0|$succ|$canc",
		"$label: job_items: no pending item; succeeded and cancelled match the counts (all|pending|succeeded|cancelled)"
	);

	# The log holds exactly the succeeded items, once each.
	my $range = "id BETWEEN $from AND $to";
	is($node->safe_psql('postgres',
			"SELECT count(*) - count(DISTINCT id) FROM app.applied WHERE $range"),
		'0', "$label: no item applied twice");
	my $diff = $node->safe_psql('postgres', <<"EOF");
WITH s AS (SELECT target_id::int AS id FROM batch_ops.job_items WHERE job_id = $id AND status = 'succeeded'),
     a AS (SELECT DISTINCT id FROM app.applied WHERE $range)
SELECT (SELECT count(*) FROM s WHERE id NOT IN (SELECT id FROM a)) || '|' ||
       (SELECT count(*) FROM a WHERE id NOT IN (SELECT id FROM s))
EOF
	is($diff, '0|0',
		"$label: the applied log is exactly the set of succeeded items (succeeded not applied|applied not succeeded)"
	);
	is($node->safe_psql('postgres',
			"SELECT count(*) FROM batch_ops.job_items i JOIN app.applied a ON a.id = i.target_id::int "
			  . "WHERE i.job_id = $id AND i.status = 'cancelled'"),
		'0', "$label: no cancelled item was applied");
	my $rows = $node->safe_psql('postgres', <<"EOF");
SELECT count(*) FILTER (WHERE i.status = 'succeeded' AND t.status = 'done') || '|' ||
       count(*) FILTER (WHERE i.status = 'cancelled' AND t.status = 'new')
  FROM batch_ops.job_items i JOIN app.items t ON t.id = i.target_id::int WHERE i.job_id = $id
EOF
	is($rows, "$succ|$canc", "$label: rows of succeeded items changed, rows of cancelled items untouched");

	is($node->safe_psql('postgres', "SELECT batch_ops.batch_cancel($id)"),
		'f', "$label: batch_cancel of the ended batch returns false");
	return;
}

# Slow chunks (10 ms each): the cancel comes while a chunk is in flight.
round('slow chunks', 1, $per_round, 0.01, 1);
# Fast chunks: the cancel races the chunk commits, a few hundred items in.
round('fast chunks', $per_round + 1, 2 * $per_round, 0, 200);

$node->stop;
done_testing();
