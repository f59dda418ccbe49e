# test/t/CitusTAP.pm: a Citus cluster for the citus suite (test/t/07*_citus*.pl): a
# coordinator and two workers, PostgreSQL::Test::Cluster nodes on this machine, each with
# shared_preload_libraries = 'citus,batch_ops'. The nodes talk over their unix sockets
# (the node name Citus stores is the socket directory, which libpq takes as a host).
package CitusTAP;

use strict;
use warnings;

use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(citus_missing new_citus_cluster worker_of_shard);

# Why the Citus tests cannot run here, or undef when they can: Citus must be installed
# into the tree of the pg_config first in PATH (test/check citus does that).
sub citus_missing
{
	my $sharedir = `pg_config --sharedir`;
	my $pkglibdir = `pg_config --pkglibdir`;
	return 'pg_config not found' unless defined $sharedir && defined $pkglibdir;
	chomp($sharedir, $pkglibdir);
	return "Citus is not installed (no $sharedir/extension/citus.control; "
	  . "test/check citus builds it from ../shared/vendor)"
	  unless -f "$sharedir/extension/citus.control" && -f "$pkglibdir/citus.so";
	return undef;
}

# Three started nodes (coordinator, worker 1, worker 2) named PREFIX_coord, PREFIX_w1,
# PREFIX_w2, with EXTRA configuration lines; Citus created in database postgres of each,
# the coordinator registered, the workers added. Returns the three nodes.
sub new_citus_cluster
{
	my ($prefix, $extra) = @_;
	my @nodes;
	for my $role (qw(coord w1 w2))
	{
		my $node = PostgreSQL::Test::Cluster->new("${prefix}_$role");
		$node->init;
		my $host = $node->host;
		$node->append_conf('postgresql.conf', <<"EOF");
shared_preload_libraries = 'citus,batch_ops'
max_worker_processes = 24
max_connections = 100
max_prepared_transactions = 40
# Loopback only: the nodes reach each other over their unix sockets.
citus.node_conninfo = 'sslmode=disable'
citus.local_hostname = '$host'
# No distributed deadlock detection or 2PC recovery on their own schedule: the tests
# call recover_prepared_transactions() where they need it.
citus.recover_2pc_interval = -1
citus.enable_unsafe_triggers = on
citus.shard_count = 8
log_min_messages = log
log_line_prefix = '%m [%p] %b '
${\($extra // '')}
EOF
		$node->start;
		$node->safe_psql('postgres', 'SET client_min_messages = warning; CREATE EXTENSION citus;');
		push @nodes, $node;
	}
	my ($coord, $w1, $w2) = @nodes;
	my $host = $coord->host;
	$coord->safe_psql('postgres',
		"SELECT citus_set_coordinator_host('$host', ${\$coord->port});\n"
		  . "SELECT citus_add_node('$host', ${\$w1->port});\n"
		  . "SELECT citus_add_node('$host', ${\$w2->port});");
	return @nodes;
}

# The port of the worker node that holds the shard of KEY in TABLE.
sub worker_of_shard
{
	my ($coord, $table, $key) = @_;
	return $coord->safe_psql('postgres',
		"SELECT p.nodeport FROM pg_dist_placement pl JOIN pg_dist_node p USING (groupid) "
		  . "WHERE pl.shardid = get_shard_id_for_distribution_column('$table', $key)");
}

1;
