# batch_ops without shared_preload_libraries: the library is loaded by CREATE EXTENSION,
# LOAD or the first call in a session. No session may die for it (it used to end with
# FATAL "cannot create PGC_POSTMASTER variables after startup"); inline batches and
# inline syncs work; whatever needs the workers (a background submission, batch_retry,
# batch_sync(id, true)) raises 55000 with a hint to preload the library, and the session
# goes on.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use BatchOpsTAP;

start_watchdog(120);

my $node = PostgreSQL::Test::Cluster->new('no_preload');
$node->init;
# batch_ops.max_workers is only defined when preloaded; a line for it must not make
# every session that loads the library warn.
$node->append_conf('postgresql.conf', <<'EOF');
log_min_messages = log
log_line_prefix = '%m [%p] %b '
batch_ops.max_workers = 3
batch_ops.chunk_size = 50
EOF
$node->start;

is($node->safe_psql('postgres', 'SHOW shared_preload_libraries'), '', 'nothing is preloaded');

# Runs SQL in one psql session, not stopping at errors; returns (exit code, stdout, stderr).
sub session
{
	my ($db, $sql) = @_;
	my ($ret, $out, $err) = $node->psql($db, $sql, on_error_stop => 0, timeout => 60);
	return ($ret, $out, $err);
}

my ($ret, $out, $err) = session('postgres', <<'EOF');
CREATE EXTENSION batch_ops;
SELECT 'after create extension';
EOF
is($ret, 0, 'CREATE EXTENSION batch_ops succeeds');
like($out, qr/after create extension/, 'the session that created the extension goes on');
unlike($err, qr/FATAL|server closed the connection/, 'CREATE EXTENSION does not end the session');

($ret, $out, $err) = session('postgres', <<'EOF');
LOAD 'batch_ops';
SHOW batch_ops.chunk_size;
SHOW batch_ops.statement_timeout;
SELECT 'after load';
EOF
is($ret, 0, 'LOAD batch_ops succeeds');
is($out, "50\n5min\nafter load",
	'after LOAD, the settings exist (postgresql.conf applies; statement_timeout is 5 min by default)');
unlike($err, qr/WARNING|FATAL/, 'no warning or FATAL at LOAD') or diag($err);

$node->safe_psql('postgres', <<'EOF');
CREATE SCHEMA app;
CREATE TABLE app.items (id integer PRIMARY KEY, status text NOT NULL DEFAULT 'new');
INSERT INTO app.items (id) SELECT g FROM generate_series(1, 10) AS g;
CREATE TABLE app.copy (id integer PRIMARY KEY, status text);
EOF

# The first call in a fresh session loads the library: an inline batch works.
($ret, $out, $err) = session('postgres', <<'EOF');
SELECT batch_ops.register_target('items', 'app.items', status_column => 'status');
SELECT r->>'status', r->>'success_count', r->>'failure_count'
  FROM batch_ops.batch_execute('{"operation": "status_update", "target_type": "items",
        "target_ids": [1, 2, 3], "execution": "inline",
        "operation_data": {"new_status": "done"}}') AS r;
SELECT count(*) FROM app.items WHERE status = 'done';
EOF
is($ret, 0, 'an inline batch runs without preloading');
like($out, qr/^succeeded\|3\|0\n3$/m, 'the inline batch succeeded and changed the rows') or diag($out);

# What needs the workers raises 55000 with a hint, and the session survives each error.
($ret, $out, $err) = session('postgres', <<'EOF');
\set VERBOSITY verbose
SELECT batch_ops.batch_execute('{"operation": "status_update", "target_type": "items",
        "target_ids": [4], "execution": "background",
        "operation_data": {"new_status": "done"}}');
\echo background :LAST_ERROR_SQLSTATE
SELECT (batch_ops.batch_execute('{"operation": "status_update", "target_type": "items",
        "target_ids": [5, 999], "execution": "inline",
        "operation_data": {"new_status": "done"}}')->>'operation_id')::bigint AS failed_id \gset
SELECT status FROM batch_ops.jobs WHERE job_id = :failed_id;
SELECT batch_ops.batch_retry(:failed_id);
\echo retry :LAST_ERROR_SQLSTATE
SELECT * FROM batch_ops.batch_retry(ARRAY[:failed_id]::bigint[]);
\echo retry_many :LAST_ERROR_SQLSTATE
SELECT batch_ops.create_sync('copy', 'app.items', 'app.copy') AS sync_id \gset
SELECT batch_ops.batch_sync(:sync_id, true);
\echo background_sync :LAST_ERROR_SQLSTATE
SELECT r->>'success', r->>'records_synced' FROM batch_ops.batch_sync(:sync_id) AS r;
SELECT status, workers->>'preloaded', workers->>'max_workers'
  FROM (SELECT r->>'status' AS status, r->'workers' AS workers FROM batch_ops.batch_health() AS r) h;
SELECT count(*) FROM batch_ops.batch WHERE status = 'queued';
SELECT 'still alive';
EOF
like($out, qr/^background 55000$/m, 'a background submission raises 55000');
like($out, qr/^failed$/m, 'an inline batch with a missing id failed');
like($out, qr/^retry 55000$/m, 'batch_retry(id) raises 55000');
like($out, qr/^retry_many 55000$/m, 'batch_retry(ids) raises 55000');
like($out, qr/^background_sync 55000$/m, 'batch_sync(id, true) raises 55000');
like($out, qr/^true\|10$/m, 'an inline sync runs without preloading');
like($out, qr/^degraded\|false\|0$/m, 'batch_health: degraded, not preloaded, no workers');
like($out, qr/^0\nstill alive$/m, 'nothing was queued, and the session survived every error');
is(() = $err =~ /HINT:  Add batch_ops to shared_preload_libraries and restart the server/g,
	4, 'each of the four errors hints at shared_preload_libraries') or diag($err);
like($err, qr/background execution needs batch_ops in shared_preload_libraries/,
	'the background submission says why');
like($err, qr/retries need batch_ops in shared_preload_libraries/, 'batch_retry says why');
like($err, qr/background syncs need batch_ops in shared_preload_libraries/, 'batch_sync(id, true) says why');

# The prefix is not reserved without preloading (as for pg_prewarm): the config line for
# the postmaster-only setting stays a plain placeholder.
is($node->safe_psql('postgres', "LOAD 'batch_ops'; SHOW batch_ops.max_workers"),
	'3', 'batch_ops.max_workers from postgresql.conf stays readable as a placeholder');

# DROP and CREATE again in one session, after the library is loaded.
($ret, $out, $err) = session('postgres', <<'EOF');
SELECT batch_ops.batch_health()->>'status';
DROP EXTENSION batch_ops;
CREATE EXTENSION batch_ops;
SELECT 'recreated';
EOF
is($ret, 0, 'DROP and CREATE EXTENSION in a session that has the library loaded');
like($out, qr/recreated/, 'the session goes on');

my $log = slurp_file($node->logfile);
unlike($log, qr/FATAL|PANIC|server process .* was terminated|cannot create PGC_POSTMASTER/,
	'no FATAL, PANIC or crash in the server log')
  or diag(join("\n", grep { /FATAL|PANIC|terminated/ } split /\n/, $log));
unlike($log, qr/WARNING:  invalid configuration parameter name/,
	'no warning about batch_ops settings of postgresql.conf');

$node->stop;
done_testing();
