# The executors never block DROP DATABASE, ALTER DATABASE ... RENAME or
# CREATE DATABASE ... TEMPLATE of a database they serve: idle ones leave (quickly).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use BatchOpsTAP;

start_watchdog(150);

my $node = new_batch_node('dropdb', '');

# Makes DB a served database: the extension, one background batch run to completion, and
# an executor left connected (idle) there. Returns true once an executor is seen there.
sub serve
{
	my ($db) = @_;
	setup_items($node, $db, 50, 0);
	my $id = submit_batch($node, $db, 1, 50);
	my $w = $node->safe_psql($db, "SELECT status FROM batch_ops.batch_wait($id, '60 s')");
	is($w, 'succeeded', "$db: a background batch ran to completion");
	return wait_for_executor($db);
}

sub wait_for_executor
{
	my ($db) = @_;
	return defined wait_until($node, 'postgres',
		"SELECT count(*) > 0 FROM pg_stat_activity "
		  . "WHERE backend_type = 'batch_ops executor' AND datname = '$db'",
		't', 20, "a batch_ops executor connected to $db");
}

# Runs a database command from postgres; returns (exit code, stderr, seconds taken).
sub timed
{
	my ($sql) = @_;
	my $t0 = time();
	my ($ret, $out, $err) = $node->psql('postgres', $sql, timeout => 60);
	return ($ret, $err, time() - $t0);
}

$node->safe_psql('postgres', 'CREATE DATABASE db2');
ok(serve('db2'), 'an executor is connected to db2 after its batch')
  or diag(log_excerpt($node));

my $log_offset = -s $node->logfile;
my ($ret, $err, $secs) = timed('DROP DATABASE db2');
is($ret, 0, 'DROP DATABASE db2 succeeds while an executor served it')
  or diag("stderr: $err\nserver log:\n" . log_excerpt($node, $log_offset));
cmp_ok($secs, '<', 15, sprintf('DROP DATABASE db2 is quick (%.2f s)', $secs));
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_database WHERE datname = 'db2'"),
	'0', 'db2 is gone');

# ALTER DATABASE ... RENAME of a served database.
$node->safe_psql('postgres', 'CREATE DATABASE db3');
ok(serve('db3'), 'an executor is connected to db3 after its batch');
$log_offset = -s $node->logfile;
($ret, $err, $secs) = timed('ALTER DATABASE db3 RENAME TO db3_renamed');
is($ret, 0, 'ALTER DATABASE db3 RENAME succeeds while an executor served it')
  or diag("stderr: $err\nserver log:\n" . log_excerpt($node, $log_offset));
cmp_ok($secs, '<', 15, sprintf('ALTER DATABASE ... RENAME is quick (%.2f s)', $secs));

# The renamed database is still served: a new batch there runs.
my $id = submit_batch($node, 'db3_renamed', 1, 50);
is($node->safe_psql('db3_renamed', "SELECT status FROM batch_ops.batch_wait($id, '60 s')"),
	'succeeded', 'a batch submitted in the renamed database runs');
ok(wait_for_executor('db3_renamed'), 'an executor is connected to db3_renamed');

# CREATE DATABASE ... TEMPLATE of a served database.
$log_offset = -s $node->logfile;
($ret, $err, $secs) = timed('CREATE DATABASE db4 TEMPLATE db3_renamed');
is($ret, 0, 'CREATE DATABASE ... TEMPLATE of a served database succeeds')
  or diag("stderr: $err\nserver log:\n" . log_excerpt($node, $log_offset));
cmp_ok($secs, '<', 15, sprintf('CREATE DATABASE ... TEMPLATE is quick (%.2f s)', $secs));
is($node->safe_psql('db4', "SELECT count(*) FROM app.items WHERE status = 'done'"),
	'50', 'the copy has the template\'s data');

# The template is served again afterwards.
$id = submit_batch($node, 'db3_renamed', 1, 50);
is($node->safe_psql('db3_renamed', "SELECT status FROM batch_ops.batch_wait($id, '60 s')"),
	'succeeded', 'the template database is served again afterwards');

# And a served database can still be dropped after all that.
ok(wait_for_executor('db3_renamed'), 'an executor is connected to db3_renamed again');
($ret, $err, $secs) = timed('DROP DATABASE db3_renamed');
is($ret, 0, 'DROP DATABASE db3_renamed succeeds');
cmp_ok($secs, '<', 15, sprintf('DROP DATABASE db3_renamed is quick (%.2f s)', $secs));

# No executor is started for a dropped database afterwards (it would die at once with
# FATAL "database N does not exist" in the server log).
sleep 2;
my $log = slurp_file($node->logfile);
my @fatal = grep { /FATAL/ && /database .* does not exist/ } split /\n/, $log;
is(scalar(@fatal), 0,
	'no executor was started for a dropped database (no FATAL "database N does not exist" in the log)')
  or diag(join("\n", @fatal[0 .. ($#fatal < 9 ? $#fatal : 9)]));

$node->stop;
done_testing();
