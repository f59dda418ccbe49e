# Issue 8, defect 1: control functions racing batch_cleanup must never crash the server.
#
# The attack: a batch user calls batch_status, batch_wait, batch_cancel, batch_retry,
# batch_result and export_data on batches that an admin's looping batch_cleanup deletes
# under it (also from a transaction that holds the delete open while the call blocks on
# the row, then commits), while more batches are submitted. Before the fix the backends
# read row 0 of an empty SPI result and died with signal 11, restarting the cluster.
#
# Checks, after RACE_SECS of it: the postmaster never restarted a backend, every ERROR
# in the log carries an expected SQLSTATE (none of class XX), and the server answers.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use BatchOpsTAP;
use Time::HiRes qw(time);
use POSIX ();

my $race_secs = $ENV{BATCH_OPS_RACE_SECS} // 30;
start_watchdog($race_secs + 120);

my $node = new_batch_node('race', <<'EOF');
batch_ops.chunk_size = 5
batch_ops.max_items = 10000
log_line_prefix = '%m [%p] %e %b '
log_min_error_statement = error
log_min_messages = warning
EOF
setup_items($node, 'postgres', 400, 0);
$node->safe_psql('postgres', <<'EOF');
CREATE ROLE alice LOGIN IN ROLE batch_ops_user;
GRANT USAGE ON SCHEMA app TO alice;
GRANT SELECT, UPDATE ON app.items TO alice;
GRANT INSERT ON app.applied TO alice;
SELECT batch_ops.register_target('export_items', 'app.items');
EOF

# Each client runs its script over and over until the deadline; errors do not stop it.
my $deadline = time() + $race_secs;
my $dir = PostgreSQL::Test::Utils::tempdir();
my $last = "(SELECT coalesce(max(b.id), 1) - (random() * 6)::int FROM batch_ops.batch b)";
my %scripts = (
	submit => [ 'alice', <<"EOF" ],
SELECT batch_ops.batch_execute(${\ids_request(1, 20)});
SELECT batch_ops.batch_execute(jsonb_build_object('operation', 'export', 'target_type', 'export_items',
    'execution', 'background', 'target_ids', '[1,2,3]'::jsonb));
SELECT batch_ops.batch_execute(jsonb_build_object('operation', 'status_update', 'target_type', 'items',
    'execution', 'background', 'target_ids', '[1, 2, 999999]'::jsonb,
    'operation_data', jsonb_build_object('new_status', 'x')));
EOF
	control => [ 'alice', <<"EOF" ],
SELECT batch_ops.batch_status($last);
SELECT batch_ops.batch_result($last);
SELECT batch_ops.batch_cancel($last);
SELECT batch_ops.batch_retry($last);
SELECT * FROM batch_ops.batch_retry(ARRAY[$last, $last]);
SELECT batch_ops.batch_wait($last, '50 ms');
SELECT batch_ops.export_data((SELECT coalesce(max(e.id), 1) FROM batch_ops.export e));
SELECT batch_ops.export_data($last);
SELECT * FROM batch_ops.jobs ORDER BY job_id DESC LIMIT 5;
EOF
	cleanup => [ 'postgres', <<"EOF" ],
SELECT batch_ops.batch_cleanup('0');
BEGIN;
SELECT batch_ops.batch_cleanup('0');
SELECT pg_sleep(0.05);
COMMIT;
BEGIN;
DELETE FROM batch_ops.batch WHERE id = (SELECT max(id) FROM batch_ops.batch);
SELECT pg_sleep(0.05);
COMMIT;
EOF
);
my @pids;
for my $name (sort keys %scripts)
{
	my ($role, $sql) = @{ $scripts{$name} };
	my $file = "$dir/$name.sql";
	open my $fh, '>', $file or die "cannot write $file: $!";
	print $fh $sql;
	close $fh;
	for my $copy (1 .. ($name eq 'control' ? 2 : 1))
	{
		my $pid = fork();
		die "fork failed" unless defined $pid;
		if ($pid == 0)
		{
			open STDOUT, '>', '/dev/null';
			open STDERR, '>', '/dev/null';
			while (time() < $deadline)
			{
				system('psql', '-X', '-q', '-h', $node->host, '-p', $node->port, '-U', $role,
					'-d', 'postgres', '-v', 'ON_ERROR_STOP=0', '-f', $file);
			}
			POSIX::_exit(0);   # not exit: the END blocks of the test modules would stop the node
		}
		push @pids, $pid;
	}
}
waitpid($_, 0) for @pids;

is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server answers after the race');
my $log = slurp_file($node->logfile);
my @crashes = $log =~ /(terminated by signal \d+|was terminated by|server process .* exited with exit code [1-9])/g;
is(scalar(@crashes), 0, 'no backend was lost') or diag(join("\n", @crashes[0 .. ($#crashes < 5 ? $#crashes : 5)]));

my %codes;
my @bad;
my @lines = split /\n/, $log;
for my $i (0 .. $#lines)
{
	my $line = $lines[$i];
	next unless $line =~ /^\S+ \S+ \S+ \[\d+\] (\S+) [^:]*?\b(ERROR|FATAL|PANIC):\s+(.*)/;
	my ($code, $level, $msg) = ($1, $2, $3);
	$codes{$code}++;
	next unless $level ne 'ERROR' || $code =~ /^XX/ || $code eq '00000';
	my ($statement) = grep { /STATEMENT:/ } @lines[ $i + 1 .. ($i + 3 > $#lines ? $#lines : $i + 3) ];
	push @bad, $line . ($statement ? "\n    " . $statement : '');
}
my @errlines = grep { /ERROR/ } split /\n/, $log;
diag(scalar(@errlines) . ' error lines; first: ' . ($errlines[0] // 'none'));
diag('errors by SQLSTATE: ' . join(', ', map { "$_=$codes{$_}" } sort keys %codes));
is(scalar(@bad), 0, 'every error has a fitting SQLSTATE (none of class XX, no FATAL or PANIC)')
  or diag(join("\n", @bad[0 .. ($#bad < 10 ? $#bad : 10)]));
ok(($codes{P0002} // 0) > 0, 'the race was real: some calls found their batch gone (P0002)');

done_testing();
