# A background incremental sync whose executor is killed with SIGKILL mid-way resumes
# after the crash restart from its committed watermark (no new call needed) and ends
# with the target identical to the source, every source row loaded exactly once.
# Then a full background sync with delete_missing: deleted source rows leave the target.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use BatchOpsTAP;

start_watchdog(240);

my $total = 20000;
my $chunk = 200;    # 100 chunks, one transaction each
my $node = new_batch_node('syncresume', <<'EOF');
restart_after_crash = on
EOF

# app.dst is slowed down by a statement-level BEFORE INSERT trigger (app.knob.delay
# seconds per chunk). Two row triggers log what the sync does to it:
#   app.proposed: BEFORE INSERT, every row the sync's INSERT proposes (committed chunks
#     only), so a resumed run that started again from scratch would propose rows twice
#     (the upsert skips identical rows, so app.applied alone would not see that);
#   app.applied: AFTER INSERT OR UPDATE, every row actually written.
# Workers run with search_path = pg_catalog, pg_temp: every name is qualified.
$node->safe_psql('postgres', <<"EOF");
CREATE EXTENSION batch_ops;
CREATE SCHEMA app;
CREATE TABLE app.src (id integer PRIMARY KEY, payload text, seq bigint NOT NULL);
INSERT INTO app.src SELECT g, 'payload ' || g, g FROM generate_series(1, $total) AS g;
CREATE TABLE app.dst (id integer PRIMARY KEY, payload text);
${\slow_down_sql(0.05)}
CREATE TABLE app.proposed (id integer NOT NULL, pid integer NOT NULL DEFAULT pg_backend_pid());
CREATE TABLE app.applied (id integer NOT NULL, op text NOT NULL,
                          pid integer NOT NULL DEFAULT pg_backend_pid());
CREATE FUNCTION app.log_proposed() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    INSERT INTO app.proposed (id) VALUES (NEW.id);
    RETURN NEW;
END \$\$;
CREATE FUNCTION app.log_applied() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    INSERT INTO app.applied (id, op) VALUES (NEW.id, TG_OP);
    RETURN NULL;
END \$\$;
CREATE TRIGGER dst_slow BEFORE INSERT ON app.dst FOR EACH STATEMENT EXECUTE FUNCTION app.slow_down();
CREATE TRIGGER dst_proposed BEFORE INSERT ON app.dst FOR EACH ROW EXECUTE FUNCTION app.log_proposed();
CREATE TRIGGER dst_applied AFTER INSERT OR UPDATE ON app.dst FOR EACH ROW EXECUTE FUNCTION app.log_applied();
EOF

# Rows that differ between app.src and TARGET, both ways (0 when identical).
sub differences
{
	my ($target) = @_;
	return $node->safe_psql('postgres', <<"EOF");
SELECT count(*) FROM (
    (SELECT id, payload FROM app.src EXCEPT SELECT id, payload FROM $target)
    UNION ALL
    (SELECT id, payload FROM $target EXCEPT SELECT id, payload FROM app.src)) AS d
EOF
}

# ---------------------------------------------------------------------------------------
# 1. The incremental sync, queued for the workers.
my $id = $node->safe_psql('postgres',
	"SELECT batch_ops.create_sync('src_inc', 'app.src', 'app.dst', "
	  . "'{\"mode\": \"incremental\", \"watermark_column\": \"seq\", \"chunk_size\": $chunk}')");
like($id, qr/^\d+$/, "incremental sync $id created");
my $queued = $node->safe_psql('postgres',
	"SELECT r->>'status' FROM batch_ops.batch_sync($id, true) AS r");
is($queued, 'queued', 'batch_sync(id, true) queues the sync');

# 2. Wait until some chunks are committed, not all.
my $phase = wait_until($node, 'postgres',
	"SELECT CASE WHEN watermark IS NULL THEN 'none' WHEN watermark::bigint < $total THEN 'mid' "
	  . "ELSE 'end' END FROM batch_ops.sync WHERE id = $id",
	qr/^(mid|end)$/, 90, 'the sync to commit its first chunk (a watermark in batch_ops.sync)');
is($phase, 'mid', 'the sync has committed some chunks but not all (0 < watermark < total)')
  or diag("the sync ended (or never started) before it could be killed; server log:\n"
	  . log_excerpt($node));
my $wm_before = $node->safe_psql('postgres',
	"SELECT watermark FROM batch_ops.sync WHERE id = $id");

# 3. Kill the executor running it.
my $pid = executor_of_batch($node, 'postgres', $id);
ok(defined $pid, 'the executor running the sync is in pg_stat_activity')
  or diag(log_excerpt($node));
note("killing executor " . ($pid // '?') . " at watermark $wm_before of $total");

my $log_offset = -s $node->logfile;
SKIP:
{
	skip 'no executor to kill', 1 unless defined $pid;
	ok(kill('KILL', $pid), "SIGKILL sent to executor $pid");
}

my $reinit = eval {
	my $deadline = time() + 60;
	while (time() < $deadline)
	{
		my $log = slurp_file($node->logfile, $log_offset);
		return 1 if $log =~ /all server processes terminated; reinitializing/;
		usleep(100_000);
	}
	0;
};
ok($reinit, 'the postmaster restarted every backend after the kill')
  or diag(log_excerpt($node, $log_offset));

my $up = wait_until($node, 'postgres', 'SELECT 1', '1', 60,
	'the server to accept connections again');
ok(defined $up, 'the server answers again after the crash restart');

my $wm_after = $node->safe_psql('postgres',
	"SELECT watermark FROM batch_ops.sync WHERE id = $id");
note("watermark after the crash restart: $wm_after");
ok($wm_after ne '' && $wm_after >= $wm_before,
	"the watermark survived the crash ($wm_after >= $wm_before recorded before the kill)");

# Finish faster now.
$node->safe_psql('postgres', 'UPDATE app.knob SET delay = 0');

# 4. It resumes by itself (the crash sweep claims the batch left running).
my $w = $node->safe_psql('postgres',
	"SELECT status, total, processed FROM batch_ops.batch_wait($id, '120 s')");
is($w, "succeeded|$total|$total",
	'batch_wait: the killed sync resumed by itself and succeeded (status|total|processed)')
  or diag("server log:\n" . log_excerpt($node, $log_offset));

# 5. Checks.
is(differences('app.dst'), '0', 'the target is identical to the source');
is($node->safe_psql('postgres', "SELECT watermark FROM batch_ops.sync WHERE id = $id"),
	"$total", "the final watermark is $total");

is($node->safe_psql('postgres',
		'SELECT count(*), count(DISTINCT id), min(id), max(id) FROM app.proposed'),
	"$total|$total|1|$total",
	'every source row proposed to the target exactly once: the resumed run did not start '
	  . 'again from scratch (count|distinct|min|max)');
is($node->safe_psql('postgres',
		"SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE op = 'INSERT') FROM app.applied"),
	"$total|$total|$total", 'every row written exactly once, by an insert (count|distinct|inserts)');
my $twice = $node->safe_psql('postgres',
	"SELECT string_agg(id || ' x' || c, ', ') FROM (SELECT id, count(*) AS c FROM app.proposed "
	  . "GROUP BY id HAVING count(*) > 1 ORDER BY id LIMIT 20) s");
is($twice, '', 'no row proposed twice');

# The history: the killed run (its committed chunks up to the watermark at the kill)
# and the resumed run (the rest, from that watermark on).
my $runs = $node->safe_psql('postgres',
	"SELECT id, success, records_synced, watermark, message, finished_at IS NOT NULL "
	  . "FROM batch_ops.sync_run WHERE batch_id = $id ORDER BY id");
note("sync_run rows (id|success|records_synced|watermark|message|finished):\n$runs");
my @runs = map { [ split /\|/ ] } split /\n/, $runs;
is(scalar(@runs), 2, 'two runs in sync_run: the killed one and the resumed one');
SKIP:
{
	skip 'not two runs', 6 unless @runs == 2;
	my ($killed, $resumed) = @runs;
	my $wm_kill = $killed->[3];
	ok($wm_kill ne '' && $wm_kill >= $wm_before && $wm_kill < $total,
		"the killed run had committed up to watermark $wm_kill "
		  . "(>= $wm_before recorded before the kill, < $total)");
	is($killed->[2], $wm_kill, 'the killed run counted the rows of its committed chunks');
	is($resumed->[1], 't', 'the resumed run succeeded');
	is($resumed->[3], "$total", "the resumed run ended at watermark $total");
	is($resumed->[2], $total - $wm_kill,
		"the resumed run synced only the rows after watermark $wm_kill");
	ok($resumed->[2] < $total, "the resumed run synced fewer than $total rows");
}

is($node->safe_psql('postgres',
		"SELECT count(*) FROM batch_ops.batch_event WHERE batch_id = $id AND event = 'synced'"),
	'1', 'one synced event');
note('batch_statistics after the resumed sync: '
	  . $node->safe_psql('postgres', "SELECT batch_ops.batch_statistics($id)"));

# ---------------------------------------------------------------------------------------
# 6. A full background sync (one transaction) with delete_missing.
$node->safe_psql('postgres', <<'EOF');
CREATE TABLE app.dst_full (id integer PRIMARY KEY, payload text);
INSERT INTO app.dst_full VALUES (-1, 'not in the source'), (5, 'stale');
EOF
my $full = $node->safe_psql('postgres',
	"SELECT batch_ops.create_sync('src_full', 'app.src', 'app.dst_full', '{\"delete_missing\": true}')");
like($full, qr/^\d+$/, "full sync $full created");
is($node->safe_psql('postgres', "SELECT r->>'status' FROM batch_ops.batch_sync($full, true) AS r"),
	'queued', 'the full sync is queued');
is($node->safe_psql('postgres',
		"SELECT status, total FROM batch_ops.batch_wait($full, '120 s')"),
	'succeeded|' . ($total + 1),
	'the full sync succeeded: every source row and the extra target row (status|total)')
  or diag("server log:\n" . log_excerpt($node, $log_offset));
is(differences('app.dst_full'), '0', 'full sync: the target is identical to the source');

$node->safe_psql('postgres', <<'EOF');
DELETE FROM app.src WHERE id % 100 = 0;
UPDATE app.src SET payload = 'changed' WHERE id <= 10;
EOF
is($node->safe_psql('postgres', "SELECT r->>'status' FROM batch_ops.batch_sync($full, true) AS r"),
	'queued', 'the full sync is queued again');
my $t0 = time();
is($node->safe_psql('postgres',
		"SELECT status, total FROM batch_ops.batch_wait($full, '120 s')"),
	'succeeded|210', 'the second full sync succeeded: 200 deletes and 10 updates (status|total)')
  or diag("server log:\n" . log_excerpt($node, $log_offset));
note(sprintf('the second full sync (delete_missing over %d target rows) took %.1f s',
		$total, time() - $t0));
is(differences('app.dst_full'), '0', 'full sync: the target is identical to the source again');
is($node->safe_psql('postgres',
		'SELECT count(*), count(*) FILTER (WHERE id % 100 = 0) FROM app.dst_full'),
	'19800|0', 'the rows deleted from the source are gone from the target');
is($node->safe_psql('postgres',
		"SELECT success, inserted, updated, deleted FROM batch_ops.sync_run "
		  . "WHERE batch_id = $full ORDER BY id"),
	"t|19999|1|1\nt|0|10|200",
	'full sync history (success|inserted|updated|deleted): first run, then the deletes');

$node->stop;
done_testing();
