# test/t/BatchOpsTAP.pm: helpers shared by the TAP tests of batch_ops (test/t/*.pl).
#
# Each test makes its own node with batch_ops preloaded, a target table app.items whose
# updates are logged by a trigger into app.applied (one row per application of an item,
# so "exactly once" is checkable), and an optional per-statement delay (app.knob.delay,
# seconds) that makes every chunk last long enough to interrupt it.
package BatchOpsTAP;

use strict;
use warnings;

use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);

our @EXPORT = qw(
  start_watchdog new_batch_node setup_items submit_batch ids_request psql_value
  wait_until executor_pids executor_of_batch check_exactly_once log_excerpt
  start_interruptible_batch wait_succeeded slow_down_sql
);

# Ends the test (and, through PostgreSQL::Test::Cluster's END block, its nodes) if it
# runs longer than SECS: every test must end by itself.
sub start_watchdog
{
	my ($secs) = @_;
	$SIG{ALRM} = sub { die "watchdog: the test ran longer than $secs s\n" };
	alarm $secs;
	return;
}

# A started node with batch_ops preloaded and EXTRA configuration lines.
sub new_batch_node
{
	my ($name, $extra) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', <<"EOF");
shared_preload_libraries = 'batch_ops'
max_worker_processes = 16
log_min_messages = log
log_line_prefix = '%m [%p] %b '
${\($extra // '')}
EOF
	$node->start;
	return $node;
}

# SQL making the per-statement delay: the table app.knob (delay, seconds) and the trigger
# function app.slow_down() that sleeps that long; the schema app must exist.
sub slow_down_sql
{
	my ($delay) = @_;
	return <<"EOF";
CREATE TABLE app.knob (delay float8 NOT NULL);
INSERT INTO app.knob VALUES ($delay);
CREATE FUNCTION app.slow_down() RETURNS trigger LANGUAGE plpgsql AS \$\$
DECLARE d float8;
BEGIN
    SELECT k.delay INTO d FROM app.knob AS k;
    IF d > 0 THEN PERFORM pg_catalog.pg_sleep(d); END IF;
    RETURN NULL;
END \$\$;
EOF
}

# In DB: the extension, app.items (ids 1..N, status 'new'), the log app.applied filled by
# an AFTER UPDATE row trigger, the per-statement delay app.knob, and the target 'items'.
sub setup_items
{
	my ($node, $db, $n, $delay) = @_;
	$delay //= 0;
	$node->safe_psql($db, <<"EOF");
CREATE EXTENSION batch_ops;
CREATE SCHEMA app;
CREATE TABLE app.items (id integer PRIMARY KEY, status text NOT NULL DEFAULT 'new', note text);
INSERT INTO app.items (id) SELECT g FROM generate_series(1, $n) AS g;
CREATE TABLE app.applied (id integer NOT NULL, pid integer NOT NULL DEFAULT pg_backend_pid(),
                          at timestamptz NOT NULL DEFAULT clock_timestamp());
${\slow_down_sql($delay)}
CREATE FUNCTION app.log_applied() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    INSERT INTO app.applied (id) VALUES (NEW.id);
    RETURN NULL;
END \$\$;
CREATE TRIGGER items_applied AFTER UPDATE ON app.items FOR EACH ROW EXECUTE FUNCTION app.log_applied();
CREATE TRIGGER items_slow AFTER UPDATE ON app.items FOR EACH STATEMENT EXECUTE FUNCTION app.slow_down();
SELECT batch_ops.register_target('items', 'app.items', status_column => 'status');
EOF
	return;
}

# SQL for a background status_update request of the ids FROM..TO (a jsonb expression).
sub ids_request
{
	my ($from, $to, $status) = @_;
	$status //= 'done';
	return "jsonb_build_object('operation', 'status_update', 'target_type', 'items', "
	  . "'execution', 'background', "
	  . "'target_ids', (SELECT jsonb_agg(g ORDER BY g) FROM generate_series($from, $to) AS g), "
	  . "'operation_data', jsonb_build_object('new_status', '$status'))";
}

# Submits a background status_update of ids FROM..TO in DB; returns the batch id.
sub submit_batch
{
	my ($node, $db, $from, $to) = @_;
	my $id = $node->safe_psql($db,
		"SELECT batch_ops.batch_execute(" . ids_request($from, $to) . ")->>'operation_id'");
	die "batch_execute returned no operation_id" unless $id =~ /^\d+$/;
	return $id;
}

# One value (first line of output) of SQL in DB, or undef if the query failed.
sub psql_value
{
	my ($node, $db, $sql) = @_;
	my ($ret, $out, $err) = $node->psql($db, $sql, timeout => 30);
	return undef if $ret != 0;
	return $out;
}

# Runs SQL in DB every 100 ms until its output matches EXPECTED (a string, or a qr//) or
# SECS pass. Returns the last output on success, undef (with a diagnostic) on timeout.
sub wait_until
{
	my ($node, $db, $sql, $expected, $secs, $what) = @_;
	my $deadline = time() + $secs;
	my ($ret, $out, $err) = (undef, '', '');
	while (1)
	{
		($ret, $out, $err) = eval { $node->psql($db, $sql, timeout => 30) };
		$out //= '';
		$err //= $@ // '';
		if (defined $ret && $ret == 0)
		{
			return $out
			  if ref($expected) ? $out =~ $expected : $out eq $expected;
		}
		last if time() >= $deadline;
		usleep(100_000);
	}
	diag("timed out after $secs s waiting for $what\nquery: $sql\n"
		  . "last output: $out\nlast stderr: $err");
	return undef;
}

# Pids of the batch_ops executors connected to DB (sorted).
sub executor_pids
{
	my ($node, $db) = @_;
	my $out = psql_value($node, 'postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'batch_ops executor' "
		  . "AND datname = '$db' ORDER BY pid");
	return () unless defined $out && $out ne '';
	return split /\n/, $out;
}

# The pid of the executor running batch ID (its worker_pid, checked against
# pg_stat_activity), or undef.
sub executor_of_batch
{
	my ($node, $db, $id) = @_;
	my $out = psql_value($node, $db,
		"SELECT a.pid FROM batch_ops.batch b JOIN pg_stat_activity a ON a.pid = b.worker_pid "
		  . "WHERE b.id = $id AND a.backend_type = 'batch_ops executor' AND a.datname = current_database()"
	);
	return (defined $out && $out =~ /^\d+$/) ? $out : undef;
}

# Checks that batch ID of ids FROM..TO was applied exactly once per item and that its
# items are all succeeded (none pending).
sub check_exactly_once
{
	my ($node, $db, $id, $from, $to, $label) = @_;
	my $n = $to - $from + 1;
	my $log = $node->safe_psql($db,
		"SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE id BETWEEN $from AND $to) "
		  . "FROM app.applied WHERE id BETWEEN $from AND $to");
	is($log, "$n|$n|$n",
		"$label: every id applied exactly once (log: count|distinct|in range)");
	my $twice = $node->safe_psql($db,
		"SELECT string_agg(id || ' x' || c, ', ') FROM (SELECT id, count(*) AS c FROM app.applied "
		  . "WHERE id BETWEEN $from AND $to GROUP BY id HAVING count(*) > 1 ORDER BY id LIMIT 20) s");
	is($twice, '', "$label: no id applied twice");
	my $missing = $node->safe_psql($db,
		"SELECT string_agg(g::text, ', ') FROM (SELECT g FROM generate_series($from, $to) g "
		  . "WHERE NOT EXISTS (SELECT 1 FROM app.applied a WHERE a.id = g) ORDER BY g LIMIT 20) s");
	is($missing, '', "$label: no id left unapplied");
	my $rows = $node->safe_psql($db,
		"SELECT count(*) FROM app.items WHERE id BETWEEN $from AND $to AND status = 'done'");
	is($rows, $n, "$label: every row has the new status");
	my $items = $node->safe_psql($db,
		"SELECT count(*), count(*) FILTER (WHERE status = 'pending'), "
		  . "count(*) FILTER (WHERE status = 'succeeded'), count(DISTINCT seq) "
		  . "FROM batch_ops.job_items WHERE job_id = $id");
	is($items, "$n|0|$n|$n",
		"$label: job_items: all items, none pending, all succeeded (total|pending|succeeded|distinct seq)"
	);
	return;
}

# Lines of the server log (from OFFSET) matching a pattern, for diagnostics.
sub log_excerpt
{
	my ($node, $offset, $re) = @_;
	my $log = PostgreSQL::Test::Utils::slurp_file($node->logfile, $offset // 0);
	$re //= qr/batch_ops|terminated|PANIC|FATAL|ERROR|WARNING/;
	my @lines = grep { $_ =~ $re } split /\n/, $log;
	@lines = @lines[-40 .. -1] if @lines > 40;
	return join("\n", @lines);
}


# A node NAME (EXTRA configuration lines added) whose background batch 1..TOTAL over
# app.items, in chunks of 20 lasting 20 ms each (about 2 s for 2000 items, long enough
# to interrupt), is running part-way. Returns the node, the batch id and the pid of its
# executor (undef when none is seen); three ok() checks on the way.
sub start_interruptible_batch
{
	my ($name, $total, $extra) = @_;
	my $node = new_batch_node($name,
		"batch_ops.chunk_size = 20\nbatch_ops.max_items = 10000\n" . ($extra // ''));
	setup_items($node, 'postgres', $total, 0.02);

	my $id = submit_batch($node, 'postgres', 1, $total);
	ok($id, "background batch $id submitted");

	my $mid = wait_until($node, 'postgres',
		"SELECT processed > 0 AND processed < total FROM batch_ops.jobs WHERE job_id = $id",
		't', 30, 'the batch to be part-way (0 < processed < total)');
	ok(defined $mid, 'the batch is running part-way');

	my $pid = executor_of_batch($node, 'postgres', $id);
	ok(defined $pid, 'the executor running the batch is in pg_stat_activity')
	  or diag(log_excerpt($node));
	return ($node, $id, $pid);
}

# Waits (up to 90 s) for batch ID of TOTAL items and checks that it succeeded with
# every item a success; on failure shows the server log from LOG_OFFSET.
sub wait_succeeded
{
	my ($node, $id, $total, $log_offset) = @_;
	my $w = $node->safe_psql('postgres',
		"SELECT status, total, processed, success_count, failure_count "
		  . "FROM batch_ops.batch_wait($id, '90 s')");
	my $ok = is($w, "succeeded|$total|$total|$total|0",
		'batch_wait: succeeded, processed = total = success_count (status|total|processed|success|failure)'
	) or diag("server log:\n" . log_excerpt($node, $log_offset));
	return $ok;
}

1;
