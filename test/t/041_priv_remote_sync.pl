# Privilege boundary 5 (API.md sections 5, 9 and 12): a remote sync cannot use the
# database server's own credentials or files.
#
# The attack: the server can reach itself over its socket, where it trusts its own
# superuser (as a default install trusts local connections), and its OS user can read
# files that hold credentials: a password file with the password of a superuser
# (remote_super, who must give it on the socket) and a connection service file with
# the same. A batch user (hostile) and an admin that is no superuser (sync_admin)
# define remote syncs whose connection strings point at them: no password at all;
# a password the trusting socket never asks for (also as a URI, also with sslkey/
# sslcert naming the server's files); passfile= and servicefile= naming the server's
# files, and service= (the server OS user's service file), with no password or an empty
# one; a wrong password besides the server's password file.
# The source query reports whom the remote server ran it as, so a leak shows in the
# target table.
# Expected, for every role that is not a superuser (batch_ops_admin members
# included): create_sync refuses a connection string without a non-empty password
# (42501); batch_sync raises 42501 when the connection did not use that password
# (inline and in the background, where the batch fails); a wrong password is refused
# by the remote server (success false). Nothing is ever loaded as another role.
# Controls: the user's own password works (loaded as remote_user); a superuser may use
# the trusting socket.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use BatchOpsTAP;

start_watchdog(150);
my $node = new_batch_node('remote_priv');
my $socket = $node->host;
my $port = $node->port;
my $data = $node->data_dir;

# remote_super and remote_user authenticate with a password on the socket; everyone
# else is trusted there.
my $hba = "$data/pg_hba.conf";
my $old = PostgreSQL::Test::Utils::slurp_file($hba);
open(my $fh, '>', $hba) or die "could not write $hba: $!";
print $fh "local all remote_super scram-sha-256\nlocal all remote_user scram-sha-256\n" . $old;
close($fh);
$node->reload;

# The server's files: a password file and a service file with the superuser's password.
my $pgpass = "$data/server_pgpass";
my $services = "$data/server_services.conf";
PostgreSQL::Test::Utils::append_to_file($pgpass, "*:*:*:remote_super:superpass\n");
chmod 0600, $pgpass;
PostgreSQL::Test::Utils::append_to_file($services,
	"[rs]\nhost=$socket\nport=$port\ndbname=postgres\nuser=remote_super\npassword=superpass\n");
chmod 0600, $services;

$node->safe_psql('postgres', <<'SQL');
CREATE EXTENSION batch_ops;
CREATE ROLE hostile LOGIN IN ROLE batch_ops_user;
CREATE ROLE sync_admin LOGIN IN ROLE batch_ops_admin;
CREATE ROLE remote_super LOGIN SUPERUSER PASSWORD 'superpass';
CREATE ROLE remote_user LOGIN PASSWORD 'userpass';
CREATE SCHEMA app;
GRANT USAGE ON SCHEMA app TO PUBLIC;
CREATE TABLE app.dst (id integer PRIMARY KEY, v text);
GRANT SELECT, INSERT, UPDATE, DELETE ON app.dst TO hostile, sync_admin;
SQL

# The password file works, for whoever may use it: libpq as the server's OS user reads it.
is($node->safe_psql('postgres', 'SELECT 1',
		extra_params => [ '-d', "host=$socket port=$port dbname=postgres user=remote_super passfile=$pgpass" ]),
	'1', 'the server\'s password file logs remote_super in');

my $source = 'SELECT 1 AS id, current_user::text AS v';
my $base = "host=$socket port=$port dbname=postgres";
my @cases = (
	[ 'trusted socket, no password', "$base user=postgres", 'create refused 42501' ],
	[ 'trusted socket, a password it never asks for', "$base user=postgres password=x", 'sync raised 42501' ],
	[ 'trusted socket as a URI with a password', "postgresql://postgres:x\@/postgres?host=$socket&port=$port",
		'sync raised 42501' ],
	[ 'trusted socket, password, sslkey and sslcert of the server',
		"$base user=postgres password=x sslmode=disable sslkey=$data/server.key sslcert=$data/server.crt",
		'sync raised 42501' ],
	[ 'passfile of the server, no password', "$base user=remote_super passfile=$pgpass", 'create refused 42501' ],
	[ 'passfile of the server, empty password', "$base user=remote_super passfile=$pgpass password=",
		'create refused 42501' ],
	[ 'passfile of the server as a URI', "postgresql:///postgres?host=$socket&port=$port&user=remote_super&passfile=$pgpass",
		'create refused 42501' ],
	[ 'service file of the server, no password', "service=rs servicefile=$services", 'create refused 42501' ],
	[ 'a service of the server\'s OS user, no password', "service=rs", 'create refused 42501' ],
	[ 'passfile of the server, a wrong password', "$base user=remote_super passfile=$pgpass password=wrong",
		'sync failed' ],
	[ 'its own password (control)', "$base user=remote_user password=userpass", 'loaded as remote_user' ],
);

# Runs SQL as ROLE; returns (ok, output, SQLSTATE of the error).
sub run_as
{
	my ($role, $sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$sql",
		extra_params => [ '-U', $role ], timeout => 60);
	my ($state) = $err =~ /ERROR:  ([0-9A-Z]{5}):/;
	return ($ret == 0, $out, $state // ($ret == 0 ? '' : "?($err)"));
}

sub quote_literal { my ($s) = @_; $s =~ s/'/''/g; return "'$s'"; }

# What happens when ROLE defines a sync with CONNECTION and runs it (BACKGROUND: by the
# workers): "create refused S", "sync raised S", "sync failed", or "loaded as R".
my $n = 0;
sub attempt
{
	my ($role, $conn, $background) = @_;
	$n++;
	$node->safe_psql('postgres', 'TRUNCATE app.dst');
	my ($ok, $id, $state) = run_as($role,
		"SELECT batch_ops.create_sync('remote_$n', " . quote_literal($source) . ", 'app.dst', "
		  . "jsonb_build_object('connection', " . quote_literal($conn) . '))');
	return "create refused $state" unless $ok;
	my $result;
	if ($background)
	{
		($ok, my $out, $state) = run_as($role, "SELECT batch_ops.batch_sync($id, true)");
		return "sync raised $state" unless $ok;
		# The error is read after the wait, in a statement of its own: a statement that
		# waits reads the table with the snapshot it began with, from before the failure.
		$node->safe_psql('postgres', "SELECT status FROM batch_ops.batch_wait($id, '60 s')");
		my $end = $node->safe_psql('postgres',
			"SELECT b.status || ' ' || coalesce(b.last_error, '') FROM batch_ops.batch b WHERE b.id = $id");
		$result = $end =~ /^failed .*password is required/s ? 'sync raised 42501'
		  : $end =~ /^failed/ ? 'sync failed' : undef;
	}
	else
	{
		($ok, my $out, $state) = run_as($role, "SELECT batch_ops.batch_sync($id)->>'success'");
		return "sync raised $state" unless $ok;
		$result = 'sync failed' if $out eq 'false';
	}
	my $who = $node->safe_psql('postgres', 'SELECT string_agg(v, \',\') FROM app.dst');
	return $who ne '' ? "loaded as $who" : ($result // "nothing loaded ($background)");
}

for my $role ('hostile', 'sync_admin')
{
	for my $c (@cases)
	{
		my ($what, $conn, $expected) = @$c;
		is(attempt($role, $conn, 0), $expected, "$role: $what: $expected");
	}
	is(attempt($role, "$base user=postgres password=x", 1), 'sync raised 42501',
		"$role: in the background, a password the trusted socket never asks for: the batch fails (42501)");
	is(attempt($role, "$base user=remote_user password=userpass", 1), 'loaded as remote_user',
		"$role: in the background, its own password (control)");
}
is(attempt('postgres', "$base user=postgres", 0), 'loaded as postgres',
	'a superuser may use the trusted socket (control)');

# Nothing ran as the superuser for anyone else: no sync run loaded a superuser's name.
is($node->safe_psql('postgres',
		"SELECT count(*) FROM batch_ops.sync_run r JOIN batch_ops.sync s ON s.id = r.batch_id "
		  . "WHERE s.created_by <> 'postgres'::regrole AND r.success AND r.records_synced > 0 "
		  . "AND s.options->>'connection' !~ 'remote_user'"),
	'0', 'no sync of a role that is no superuser loaded anything through the server\'s credentials');

$node->stop;
done_testing();
