# Mixed load (issue 8, defect 6): 2,000 background batches from 8 concurrent clients
# (pgbench), over overlapping ids, mixing update, status_update, soft delete and
# restore, in small chunks (5-20 items), some of them cancelled while they run by
# concurrent batch_cancel calls; three executors. Afterwards:
#   - every batch has ended (none stuck), and its counts add up;
#   - every item was applied exactly once, by the transaction that recorded it: an audit
#     trigger logs (transaction, row) for every change of the target, and the log must
#     equal the succeeded items (less those that succeed without a change) grouped by
#     the transaction that wrote their chunk row (0 applied twice, 0 lost, 0 ghosts);
#   - no item has a code that cannot happen on this table (it has no row level security,
#     no owner column and no status transitions): no PERMISSION_DENIED, no
#     INVALID_TRANSITION.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use BatchOpsTAP;

start_watchdog(170);

my $clients = 8;
my $per_client = 250;
my $batches = $clients * $per_client;

my $node = new_batch_node('mixed_load', <<'EOF');
batch_ops.max_workers = 3
batch_ops.default_max_attempts = 5
batch_ops.retry_backoff = '100ms'
batch_ops.lock_timeout = '2s'
batch_ops.notify_interval = '1s'
batch_ops.poll_interval = '500ms'
max_connections = 40
EOF
$node->safe_psql('postgres', <<'EOF');
CREATE EXTENSION batch_ops;
CREATE SCHEMA app;
CREATE TABLE app.items (id integer PRIMARY KEY, status text NOT NULL DEFAULT 'new', note text,
                        deleted_at timestamptz);
INSERT INTO app.items (id) SELECT g FROM generate_series(1, 600) AS g;
-- One row per change of an item: the transaction (32-bit, as xmin) and the row.
CREATE TABLE app.audit (xid bigint NOT NULL, id integer NOT NULL);
CREATE FUNCTION app.audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO app.audit (xid, id)
    VALUES (pg_catalog.txid_current() OPERATOR(pg_catalog.%) 4294967296, NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER items_audit AFTER UPDATE ON app.items FOR EACH ROW EXECUTE FUNCTION app.audit();
SELECT batch_ops.register_target('items', 'app.items', status_column => 'status',
                                 soft_delete_column => 'deleted_at');

-- One submission: by R (1..100), an update (35%), a status_update (35%), a soft delete
-- (15%) or a restore (15%) of ids FIRST .. FIRST + N - 1 in chunks of CS; now and then
-- a cancel of one of the last batches submitted (by any client), which may be queued,
-- running or ended.
CREATE FUNCTION app.submit(r integer, first integer, n integer, cs integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    op integer := CASE WHEN r <= 35 THEN 1 WHEN r <= 70 THEN 2 WHEN r <= 85 THEN 3 ELSE 4 END;
    req jsonb;
    bid bigint;
BEGIN
    PERFORM pg_catalog.set_config('batch_ops.chunk_size', cs::text, true);
    req := jsonb_build_object('target_type', 'items', 'execution', 'background',
               'target_ids', (SELECT jsonb_agg(g) FROM generate_series(first, first + n - 1) AS g))
        || CASE op
             WHEN 1 THEN jsonb_build_object('operation', 'update',
                             'operation_data', jsonb_build_object('fields', jsonb_build_object('note', 'n' || first)))
             WHEN 2 THEN jsonb_build_object('operation', 'status_update',
                             'operation_data', jsonb_build_object('new_status', (ARRAY['new', 'done', 'hold'])[1 + first % 3]))
             WHEN 3 THEN jsonb_build_object('operation', 'delete',
                             'operation_data', jsonb_build_object('soft_delete', true))
             ELSE jsonb_build_object('operation', 'restore')
           END;
    bid := (batch_ops.batch_execute(req)->>'operation_id')::bigint;
    IF random() < 0.08 THEN
        PERFORM batch_ops.batch_cancel(c.id)
           FROM (SELECT b.id FROM batch_ops.batch AS b WHERE b.id > bid - 40 ORDER BY random() LIMIT 1) AS c;
    END IF;
    RETURN bid;
END $$;
EOF

my $t0 = time();
$node->pgbench(
	"-n -c $clients -j $clients -t $per_client",
	0,
	[qr{processed: $batches/$batches}],
	[],
	"$clients clients submit $batches batches",
	{
		'014_mixed_load_submit' => q{
\set r random(1, 100)
\set first random(1, 560)
\set n random(5, 40)
\set cs random(5, 20)
SELECT app.submit(:r, :first, :n, :cs);
}
	});
my $submitted = time() - $t0;

my $left = wait_until($node, 'postgres',
	"SELECT count(*) FROM batch_ops.batch WHERE status NOT IN ('succeeded', 'failed', 'cancelled')",
	'0', 120, 'every batch to end');
my $ran = time() - $t0;
is($left, '0', 'every batch has ended: none stuck queued, running or cancelling')
  or diag($node->safe_psql('postgres',
		"SELECT status, count(*), min(updated_at), max(updated_at) FROM batch_ops.batch GROUP BY 1"));
note(sprintf('submitted in %.1f s, all ended after %.1f s', $submitted, $ran));
note($node->safe_psql('postgres',
		"SELECT string_agg(status || ' ' || n, ', ' ORDER BY status) FROM "
		  . "(SELECT status, count(*) AS n FROM batch_ops.batch GROUP BY status) s"));
note('item codes: ' . $node->safe_psql('postgres',
		"SELECT string_agg(COALESCE(error_code, status::text) || ' ' || n, ', ' ORDER BY n DESC) FROM "
		  . "(SELECT error_code, status, count(*) AS n FROM batch_ops.job_items GROUP BY 1, 2) s"));

is($node->safe_psql('postgres', 'SELECT count(*) FROM batch_ops.batch'), $batches, "$batches batches");
is($node->safe_psql('postgres',
		"SELECT count(*) FROM batch_ops.batch WHERE processed <> total "
		  . "OR success_count + failure_count + skipped_count + cancelled_count <> total"),
	'0', 'the counts of every batch add up to its total');
is($node->safe_psql('postgres', "SELECT count(*) FROM batch_ops.job_items WHERE status = 'pending'"),
	'0', 'no item is left pending');
cmp_ok($node->safe_psql('postgres',
		"SELECT count(*) FROM batch_ops.batch_event WHERE event IN ('cancel_requested', 'cancelled')"),
	'>', 0, 'some batches were cancelled');

# Exactly once: the audit log against the succeeded items, per writing transaction.
my $audit = $node->safe_psql('postgres', <<'EOF');
WITH expected AS (
    SELECT c.xmin::text::bigint AS xid, c.target_ids[s.n]::integer AS id, count(*) AS k
      FROM batch_ops.batch_item AS c
     CROSS JOIN LATERAL unnest(string_to_array(c.statuses, NULL)) WITH ORDINALITY AS s(st, n)
     WHERE s.st = 's' AND COALESCE(c.messages[s.n], '') NOT IN ('already deleted', 'not deleted')
     GROUP BY 1, 2),
actual AS (SELECT xid, id, count(*) AS k FROM app.audit GROUP BY 1, 2)
SELECT count(*) FILTER (WHERE e.k IS NULL) || '|' ||
       count(*) FILTER (WHERE a.k IS NULL) || '|' ||
       count(*) FILTER (WHERE a.k <> e.k) || '|' ||
       (SELECT count(*) FROM app.audit)
  FROM expected AS e FULL JOIN actual AS a USING (xid, id)
EOF
my ($ghost, $lost, $twice, $changes) = split /\|/, $audit;
note("$changes changes audited");
cmp_ok($changes, '>', 1000, 'the batches changed many rows');
is($ghost, '0', 'no change without a succeeded item recorded by the same transaction (none applied twice)');
is($lost, '0', 'no succeeded item without its change (none lost)');
is($twice, '0', 'as many changes as succeeded items, per transaction and row');

# No misattributed codes. Known defect, reported (src/ops/runner.cpp, not the workers):
# an item the chunk's UPDATE did not change is explained by a query with a newer
# snapshot; when a concurrent batch restored the row in between, the explanation finds
# a live row it cannot account for and falls through to PERMISSION_DENIED ("row level
# security does not allow this change") or, for a status_update, INVALID_TRANSITION.
my $bad = $node->safe_psql('postgres',
	"SELECT count(*) FROM batch_ops.job_items WHERE error_code IN ('PERMISSION_DENIED', 'INVALID_TRANSITION')");
TODO:
{
	local $TODO = 'runner.cpp explains unchanged items with a newer snapshot than its statement';
	is($bad, '0', 'no PERMISSION_DENIED or INVALID_TRANSITION on a table without RLS, owner or transitions')
	  or diag($node->safe_psql('postgres',
			"SELECT error_code, message, count(*) FROM batch_ops.job_items "
			  . "WHERE error_code IN ('PERMISSION_DENIED', 'INVALID_TRANSITION') GROUP BY 1, 2"));
}

my $log = slurp_file($node->logfile);
my $crashes = () = $log =~ /was terminated by signal|PANIC/g;
is($crashes, 0, 'no crash');
cmp_ok($ran, '<', 120, sprintf('the whole load ran in %.0f s', $ran));

$node->stop;
done_testing();
