# Remote sync sources and passwords (issue 8, API.md sections 5 and 12): every
# role that is not a superuser, batch_ops_admin members included, must
# authenticate the remote connection with the password of its connection
# string, and the connection must actually use it (PQconnectionUsedPassword,
# as dblink). The owner of the sync is the role whose superuser-ness counts.
# And whatever options the connection string carries, the remote server runs
# exactly the one query of each step.
#
# The node's pg_hba.conf asks regress_remote for a SCRAM password on the unix
# socket and trusts everyone else there.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use BatchOpsTAP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

start_watchdog(150);
my $node = new_batch_node('sync_remote_auth');
my $socket = $node->host;
my $port = $node->port;

# regress_remote authenticates with a password; the rest stays trusted.
my $hba = $node->data_dir . '/pg_hba.conf';
my $old = PostgreSQL::Test::Utils::slurp_file($hba);
open(my $fh, '>', $hba) or die "could not write $hba: $!";
print $fh "local all regress_remote scram-sha-256\n" . $old;
close($fh);
$node->reload;

$node->safe_psql('postgres', <<'SQL');
CREATE EXTENSION batch_ops;
CREATE ROLE regress_admin LOGIN;
GRANT batch_ops_admin TO regress_admin;
CREATE ROLE regress_remote LOGIN PASSWORD 'secret';
CREATE ROLE regress_owner LOGIN SUPERUSER;
CREATE SCHEMA app;
GRANT USAGE, CREATE ON SCHEMA app TO regress_remote;
GRANT USAGE ON SCHEMA app TO regress_admin, regress_owner;
CREATE TABLE app.src (id integer PRIMARY KEY, v text);
INSERT INTO app.src SELECT g, 'v' || g FROM generate_series(1, 10) AS g;
GRANT SELECT ON app.src TO regress_remote;
CREATE TABLE app.dst (id integer PRIMARY KEY, v text);
GRANT SELECT, INSERT, UPDATE ON app.dst TO regress_admin, regress_owner;
CREATE TABLE app.smuggled (id text PRIMARY KEY, y text);
GRANT SELECT, INSERT, UPDATE ON app.smuggled TO regress_admin;
SQL

my $as_postgres = "host=$socket port=$port dbname=postgres user=postgres";
my $as_remote = "host=$socket port=$port dbname=postgres user=regress_remote";

# SQL of create_sync NAME SOURCE TARGET CONNECTION as ROLE, returning the id.
sub create_sync_sql
{
	my ($role, $name, $source, $target, $conn) = @_;
	my $q = sub { my $s = shift; $s =~ s/'/''/g; return "'$s'" };
	return "SET ROLE $role; SELECT batch_ops.create_sync(" . $q->($name) . ', ' . $q->($source) . ', '
	  . $q->($target) . ", jsonb_build_object('connection', " . $q->($conn) . '))';
}

# 1. An admin without a password in the string: refused when the sync is made.
my ($ret, $out, $err) = $node->psql('postgres',
	create_sync_sql('regress_admin', 'no_password', 'app.src', 'app.dst', $as_postgres));
isnt($ret, 0, 'create_sync: an admin that is no superuser needs a password');
like($err, qr/ERROR:  password is required in "options.connection"/, '... with the password error');

# 2. A password that the trusted socket never asks for: the run raises 42501
# before any query is sent; nothing of pg_authid is read.
my $unused = $node->safe_psql('postgres',
	create_sync_sql('regress_admin', 'unused_password',
		'SELECT oid::integer AS id, rolname::text AS v FROM pg_catalog.pg_authid',
		'app.dst', "$as_postgres password=unused"));
($ret, $out, $err) = $node->psql('postgres',
	"SET ROLE regress_admin; \\set VERBOSITY verbose\nSELECT batch_ops.batch_sync($unused)");
isnt($ret, 0, 'batch_sync: a password that was not used is refused');
like($err, qr/ERROR:  42501: password is required to connect to the sync source/,
	'... with 42501, as dblink refuses it');
is($node->safe_psql('postgres', 'SELECT count(*) FROM app.dst'), '0', 'nothing was read');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE application_name = 'batch_ops sync'"), '0',
	'no remote session is left behind');

# The same in the background: the worker runs it as its owner, which fails the batch.
$node->safe_psql('postgres', "SET ROLE regress_admin; SELECT batch_ops.batch_sync($unused, true)");
is($node->safe_psql('postgres',
	"SELECT status, error_message ~ 'password is required' FROM batch_ops.batch_wait($unused, '60 s')"),
	'failed|t', 'in the background the run fails with the password error');
is($node->safe_psql('postgres', 'SELECT count(*) FROM app.dst'), '0', 'still nothing was read');

# 3. The right password over the SCRAM line: the admin's sync runs.
my $scram = $node->safe_psql('postgres',
	create_sync_sql('regress_admin', 'scram', 'app.src', 'app.dst', "$as_remote password=secret"));
is($node->safe_psql('postgres',
	"SET ROLE regress_admin; SELECT r->>'success', r->>'records_synced' FROM batch_ops.batch_sync($scram) AS r"),
	'true|10', 'with a password that was used the sync runs');

# A wrong password: a failed run (the source could not be reached), not a raise.
my $wrong = $node->safe_psql('postgres',
	create_sync_sql('regress_admin', 'wrong', 'app.src', 'app.dst', "$as_remote password=wrong"));
like($node->safe_psql('postgres',
	"SET ROLE regress_admin; SELECT (r->>'success') || ' ' || (r->>'message') FROM batch_ops.batch_sync($wrong) AS r"),
	qr/^false sync failed: could not connect to the sync source: .*password authentication failed/,
	'a wrong password fails the run');

# 4. The owner's superuser-ness counts, when the sync runs. A superuser's sync
# without a password runs, also when an admin starts it ...
$node->safe_psql('postgres', 'TRUNCATE app.dst');
my $owned = $node->safe_psql('postgres',
	create_sync_sql('regress_owner', 'owner_trust', 'app.src', 'app.dst', $as_postgres));
is($node->safe_psql('postgres',
	"SET ROLE regress_admin; SELECT r->>'success', r->>'records_synced' FROM batch_ops.batch_sync($owned) AS r"),
	'true|10', "a superuser's sync runs without a password, whoever starts it");
# ... and no more once its owner is no superuser: the string has no password
# (one from the server's environment or password file must not stand in for it).
$node->safe_psql('postgres', 'ALTER ROLE regress_owner NOSUPERUSER');
($ret, $out, $err) = $node->psql('postgres', "SELECT batch_ops.batch_sync($owned)");
isnt($ret, 0, 'once its owner is no superuser, even a superuser cannot run it without a password');
like($err, qr/ERROR:  password is required to connect to the sync source/, '... with the password error');

# 5. No statement smuggling, for a role that is no superuser with a password:
# with standard_conforming_strings = off a remote session would read this
# source (one SELECT of two strings for our parser) as three statements.
my $source = q{SELECT 'x\' AS id, $$' AS id) AS s LIMIT 0; CREATE TABLE app.smuggled_t (x int); SELECT 1 --$$ AS y};
my $smuggler = $node->safe_psql('postgres',
	create_sync_sql('regress_admin', 'smuggler', $source, 'app.smuggled',
		"$as_remote password=secret options='-c standard_conforming_strings=off'"));
is($node->safe_psql('postgres',
	"SET ROLE regress_admin; SELECT r->>'success', r->>'records_synced' FROM batch_ops.batch_sync($smuggler) AS r"),
	'true|1', 'the sync ran its one query');
is($node->safe_psql('postgres', 'SELECT id FROM app.smuggled'), 'x\\',
	'the remote server read the text as our parser did');
is($node->safe_psql('postgres', "SELECT to_regclass('app.smuggled_t') IS NULL"), 't',
	'the smuggled statement did not run');

done_testing();
