# A remote sync stays cancellable: pg_cancel_backend of the session that runs
# it inline interrupts it while it waits on the remote server (libpq is only
# ever waited for with WaitLatchOrSocket), nothing of the load is kept, and the
# remote connection is closed.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use BatchOpsTAP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

start_watchdog(150);
# The remote side notices a closed connection while its query runs.
my $node = new_batch_node('sync_cancel', "client_connection_check_interval = '100ms'");
my $socket = $node->host;
my $port = $node->port;

$node->safe_psql('postgres', <<"SQL");
CREATE EXTENSION batch_ops;
CREATE TABLE public.src (id integer PRIMARY KEY, v text);
INSERT INTO public.src SELECT g, 'v' || g FROM generate_series(1, 100) AS g;
CREATE TABLE public.dst (id integer PRIMARY KEY, v text);
-- The remote query sleeps 60 s before it returns anything.
SELECT batch_ops.create_sync('slow', 'SELECT id, v FROM public.src WHERE pg_catalog.pg_sleep(60) IS NOT NULL',
    'public.dst', jsonb_build_object('connection', 'host=$socket port=$port dbname=postgres'));
SQL
my $id = $node->safe_psql('postgres', "SELECT id FROM batch_ops.sync WHERE name = 'slow'");

# Run it in a session of its own, and cancel that session once it waits.
my ($stdout, $stderr) = ('', '');
my $h = IPC::Run::start(
	[ 'psql', '-X', '-A', '-t', '-d', $node->connstr('postgres'), '-c', "SELECT batch_ops.batch_sync($id)" ],
	'>', \$stdout, '2>', \$stderr);

my $runner = '';
my $deadline = time + 30;
while (time < $deadline)
{
	$runner = $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT batch_ops.batch_sync(%' AND pid <> pg_backend_pid()");
	my $remote = $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE application_name = 'batch_ops sync' AND state = 'active'");
	last if $runner ne '' && $remote > 0;
	usleep(50_000);
}
ok($runner ne '', 'the sync is running and its remote query is active');

my $cancelled_at = time;
$node->safe_psql('postgres', "SELECT pg_cancel_backend($runner)");
$h->finish;
my $took = time - $cancelled_at;
like($stderr, qr/canceling statement due to user request/, 'the sync was interrupted by pg_cancel_backend');
cmp_ok($took, '<', 10, sprintf('it stopped at once (%.1f s after the cancel), not after the remote query', $took));

is($node->safe_psql('postgres', 'SELECT count(*) FROM public.dst'), '0', 'nothing of the load is kept');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_class WHERE relname LIKE 'sync_stage%'"),
	'0', 'no staging table is left');

# The connection was closed by the cancelled side: the remote session ends
# (client_connection_check_interval lets it notice in the middle of its query).
my $gone = 0;
$deadline = time + 30;
while (time < $deadline)
{
	$gone = $node->safe_psql('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'batch_ops sync'") eq 't';
	last if $gone;
	usleep(200_000);
}
ok($gone, 'no remote session is left behind');

# The sync can run again (without the sleep) and succeeds.
$node->safe_psql('postgres',
	"UPDATE batch_ops.sync SET source = 'SELECT id, v FROM public.src' WHERE id = $id");
is($node->safe_psql('postgres', "SELECT batch_ops.batch_sync($id)->>'records_synced'"), '100',
	'after the cancel the sync runs again and loads every row');

$node->stop;
done_testing();
