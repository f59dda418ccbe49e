# Issue 9, item 4: a hostile SQL corpus. Every function of the batch_ops schema (read from
# pg_proc, so functions added later are covered too) is called at least 1,000 times with
# generated malformed or hostile arguments: wrong types and arities, named notation with
# wrong names, NULL in every argument, huge sizes, deep nesting, odd unicode (RTL marks,
# combining marks, noncharacters, astral code points; never NUL), quotes, semicolons,
# comment markers, dollar quotes, names that need quoting (schema, table, columns, a role
# called `Wéird "Role"; --`), ids of another role's batches, exports and syncs, huge and
# negative numbers, intervals at their limits ('infinity', '-infinity', 178000000 years,
# -1 s), connection strings that point at the server's own socket and files.
#
# The generator is deterministic (its own xorshift32 PRNG, seed below; set
# BATCH_OPS_CORPUS_SEED to try another one, BATCH_OPS_CORPUS_CALLS for another number of
# calls per function). The calls run through psql -f, one statement each, as the attacker
# (hostile_user, a batch_ops_user) and then as an admin (hostile_admin, a member of
# batch_ops_admin, no superuser). After each call the script records ERROR and
# LAST_ERROR_SQLSTATE and the row counts of the extension's tables (read by a SECURITY
# DEFINER helper, so row level security hides nothing) with the session's backend pid.
#
# The attacker makes at least 1,000 calls of every function it may execute (50 of the
# admin-only ones: PostgreSQL's own 42501), the admin 1,000 of the admin-only functions
# and 100 of the others; the admin's batch_cleanup and unregister_target calls come last.
# The workers are paused (batch_ops.enabled = off) while the corpus runs, so that only
# the calls change the extension's tables; batch_wait gets a bounded timeout unless its
# batch cannot be running or queued.
#
# Checks: every call ends in success or in an error of SQLSTATE class 22, 42, 0A, 55 or
# P0 (API.md section 8; or 3F000 from PostgreSQL's input of a regclass argument, before
# batch_ops runs), never XX or 58; a failing call leaves no rows behind (counts and
# highest ids of batch, batch_item, batch_event, export, sync, sync_run and target
# unchanged); the session is never lost (psql exits 0, the pid never changes), the
# postmaster never restarts and its log has no crash; the attacker changes nothing of the
# victim's batches, syncs, exports or rows. A self-test feeds the checks an output with
# each kind of failure. Runs in about a minute on an idle 2-core machine.
use strict;
use warnings;
use utf8;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use BatchOpsTAP;
use Time::HiRes qw(time);

start_watchdog(600);

my $SEED = $ENV{BATCH_OPS_CORPUS_SEED} // 90409;
my $PER_FUNCTION = $ENV{BATCH_OPS_CORPUS_CALLS} // 1000;
my %ALLOWED_CLASS = map { $_ => 1 } qw(22 42 0A 55 P0);

# PostgreSQL's own input of a regclass argument, before batch_ops is called: a literal
# that reads as a qualified name of a schema that does not exist ('PT0.001S', an
# interval the corpus put there: schema "pt0") is 3F000. batch_ops raises no 3F000.
sub argument_input_error
{
	my ($fn, $state, $msg) = @_;
	return $state eq '3F000' && $fn =~ /\bregclass\b/ && $msg =~ /^schema ".*" does not exist/;
}

# ---------------------------------------------------------------------------------------
# The deterministic generator: xorshift32 (the same sequence on every platform).
my $rng = 1;
sub rseed { $rng = ($_[0] & 0xFFFFFFFF) || 1; return; }

sub rnd
{
	my $x = $rng;
	$x ^= ($x << 13) & 0xFFFFFFFF;
	$x ^= $x >> 17;
	$x ^= ($x << 5) & 0xFFFFFFFF;
	$rng = $x;
	return $x;
}
sub rint { my ($n) = @_; return $n <= 1 ? 0 : rnd() % $n; }
sub pick { return $_[ rint(scalar @_) ]; }
sub chance { my ($p) = @_; return rint(1_000_000) < $p * 1_000_000 ? 1 : 0; }
rseed($SEED);

# ---------------------------------------------------------------------------------------
# The node: UTF8, workers on while the fixtures are made, then batch_ops.enabled = off so
# that nothing but the corpus changes the extension's tables.
my $node = PostgreSQL::Test::Cluster->new('hostile');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
$node->append_conf('postgresql.conf', <<'EOF');
shared_preload_libraries = 'batch_ops'
max_worker_processes = 16
log_min_messages = log
log_line_prefix = '%m [%p] %e %b '
batch_ops.retention = 0
EOF
$node->start;
my $socket_dir = $node->host;
my $port = $node->port;

$node->safe_psql('postgres', <<'EOF');
CREATE EXTENSION batch_ops;
CREATE ROLE hostile_user LOGIN IN ROLE batch_ops_user;
CREATE ROLE victim LOGIN IN ROLE batch_ops_user;
CREATE ROLE "Wéird ""Role""; --" LOGIN IN ROLE batch_ops_user;
CREATE ROLE hostile_admin LOGIN IN ROLE batch_ops_admin;

CREATE SCHEMA app;
GRANT USAGE ON SCHEMA app TO PUBLIC;
CREATE TABLE app.items (id integer PRIMARY KEY, owner name, status text NOT NULL DEFAULT 'new',
                        deleted_at timestamptz, note text CHECK (length(note) < 500));
CREATE TABLE app.items_archive (LIKE app.items, archived_at timestamptz, archive_reason text,
                                archive_location text);
INSERT INTO app.items (id, owner, note)
SELECT g, (ARRAY['hostile_user', 'victim', 'Wéird "Role"; --'])[g % 3 + 1], 'note ' || g
  FROM generate_series(1, 300) AS g;

CREATE SCHEMA "Ho""stile; --";
GRANT USAGE ON SCHEMA "Ho""stile; --" TO PUBLIC;
CREATE TABLE "Ho""stile; --"."tab/*le*/" ("Id Key" bigint PRIMARY KEY, "ownér" text, "stat;us" text DEFAULT 'new',
    "del--" boolean DEFAULT false, "a""b" text, "select" integer, "$1" text, "ü̈" text);
CREATE TABLE "Ho""stile; --"."arch$$ive" (LIKE "Ho""stile; --"."tab/*le*/", archived_at timestamptz);
INSERT INTO "Ho""stile; --"."tab/*le*/" ("Id Key", "ownér", "a""b", "select")
SELECT g, (ARRAY['hostile_user', 'victim', 'Wéird "Role"; --'])[g % 3 + 1], 'ab' || g, g
  FROM generate_series(1, 100) AS g;

CREATE TABLE app.tkeys (k text PRIMARY KEY, v text, "Ünï" text);
INSERT INTO app.tkeys (k, v) SELECT 'k' || g, 'v' || g FROM generate_series(1, 50) AS g;
INSERT INTO app.tkeys (k, v) VALUES ('''', 'quote'), (';', 'semicolon'), ('--', 'comment'), ('$$', 'dollar'),
    ('é', 'e acute'), (E'\u202Eevil', 'rlo'), ('a' || repeat(E'\u0301', 20), 'combining');
CREATE TABLE app.uuids (u uuid PRIMARY KEY, v integer);
INSERT INTO app.uuids VALUES ('00000000-0000-0000-0000-000000000001', 1), ('ffffffff-ffff-ffff-ffff-ffffffffffff', 2);
CREATE TABLE app.plain (id bigint PRIMARY KEY, v text);
INSERT INTO app.plain SELECT g, 'v' || g FROM generate_series(1, 50) AS g;
CREATE TABLE app.sync_src (id integer PRIMARY KEY, v text, n integer, changed integer NOT NULL DEFAULT 1);
INSERT INTO app.sync_src SELECT g, 'v' || g, g, g FROM generate_series(1, 30) AS g;
CREATE TABLE app.sync_dst (id integer PRIMARY KEY, v text, n integer);
CREATE TABLE app.victim_dst (id integer PRIMARY KEY, v text, n integer);
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA app TO PUBLIC;
REVOKE ALL ON app.victim_dst FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON app.victim_dst TO victim;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "Ho""stile; --" TO PUBLIC;

SELECT batch_ops.register_target('items', 'app.items', owner_column => 'owner', status_column => 'status',
    soft_delete_column => 'deleted_at', archive_relation => 'app.items_archive',
    allowed_statuses => ARRAY['new', 'done', 'held', 'wéird "st"; --'],
    status_transitions => '{"new": ["done", "held", "wéird \"st\"; --"], "held": ["new"], "done": ["new"]}');
SELECT batch_ops.register_target('weird.tgt-1', '"Ho""stile; --"."tab/*le*/"', key_column => 'Id Key',
    owner_column => 'ownér', status_column => 'stat;us', soft_delete_column => 'del--',
    archive_relation => '"Ho""stile; --"."arch$$ive"');
SELECT batch_ops.register_target('tkeys', 'app.tkeys', key_column => 'k');
SELECT batch_ops.register_target('uuids', 'app.uuids', key_column => 'u');
SELECT batch_ops.register_target('plain', 'app.plain');

-- The harness: true counts whoever asks (SECURITY DEFINER, so row level security hides
-- nothing), with the highest ids and the backend pid.
CREATE SCHEMA harness;
GRANT USAGE ON SCHEMA harness TO PUBLIC;
CREATE FUNCTION harness.counts() RETURNS text LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$
SELECT concat_ws(',',
    (SELECT count(*) || '/' || coalesce(max(id), 0) FROM batch_ops.batch),
    (SELECT count(*) FROM batch_ops.batch_item),
    (SELECT count(*) || '/' || coalesce(max(id), 0) FROM batch_ops.batch_event),
    (SELECT count(*) || '/' || coalesce(max(id), 0) FROM batch_ops.export),
    (SELECT count(*) FROM batch_ops.sync),
    (SELECT count(*) || '/' || coalesce(max(id), 0) FROM batch_ops.sync_run),
    (SELECT count(*) FROM batch_ops.target),
    pg_backend_pid())
$$;
GRANT EXECUTE ON FUNCTION harness.counts() TO PUBLIC;
EOF

# Runs SQL as ROLE (a fresh session); returns its output, dies on error.
sub as_role
{
	my ($role, $sql) = @_;
	utf8::encode($role);    # an argument of psql's command line
	return $node->safe_psql('postgres', $sql, extra_params => [ '-U', $role ]);
}
sub one_id { my ($json) = @_; die "no operation_id in $json" unless $json =~ /^(\d+)$/; return $1; }

my $inline = q{"execution": "inline"};
my %fix;
# The victim's batches: succeeded, failed (retryable), an export, a background batch, a sync.
$fix{v_ok} = one_id(as_role('victim', qq{SELECT batch_ops.batch_execute('{"operation": "status_update",
    "target_type": "items", "target_ids": [1, 4], "operation_data": {"new_status": "held"}, $inline}')->>'operation_id'}));
$fix{v_fail} = one_id(as_role('victim', qq{SELECT batch_ops.batch_execute('{"operation": "update",
    "target_type": "items", "target_ids": [7, 3], "operation_data": {"fields": {"note": "secret of victim"}}, $inline}')->>'operation_id'}));
my $v_exp = as_role('victim', qq{SELECT r->>'operation_id', r->>'export_id' FROM batch_ops.batch_execute('{"operation": "export",
    "target_type": "items", "target_ids": [1, 4, 10], $inline}') AS r});
($fix{v_exp}, $fix{v_export_id}) = split /\|/, $v_exp;
$fix{v_bg} = one_id(as_role('victim', q{SELECT batch_ops.batch_execute('{"operation": "status_update",
    "target_type": "items", "target_ids": [10, 13], "operation_data": {"new_status": "done"}}')->>'operation_id'}));
$fix{v_sync} = one_id(as_role('victim', q{SELECT batch_ops.create_sync('victim_sync', 'app.sync_src', 'app.victim_dst')}));
as_role('victim', "SELECT batch_ops.batch_sync($fix{v_sync})");
# The attacker's own: succeeded (twice), failed, an export, a sync never run.
$fix{a_ok} = one_id(as_role('hostile_user', qq{SELECT batch_ops.batch_execute('{"operation": "status_update",
    "target_type": "items", "target_ids": [3, 6], "operation_data": {"new_status": "held"}, $inline}')->>'operation_id'}));
$fix{a_ok2} = one_id(as_role('hostile_user', q{SELECT batch_ops.batch_execute('{"operation": "update",
    "target_type": "plain", "target_ids": [1, 2], "operation_data": {"fields": {"v": "x"}}}')->>'operation_id'}));
$fix{a_fail} = one_id(as_role('hostile_user', qq{SELECT batch_ops.batch_execute('{"operation": "update",
    "target_type": "items", "target_ids": [9, 1], "operation_data": {"fields": {"note": "n"}}, $inline}')->>'operation_id'}));
my $a_exp = as_role('hostile_user', qq{SELECT r->>'operation_id', r->>'export_id' FROM batch_ops.batch_execute('{"operation": "export",
    "target_type": "items", "target_ids": [3, 6], $inline}') AS r});
($fix{a_exp}, $fix{a_export_id}) = split /\|/, $a_exp;
# A role whose name needs quoting: its batch is another role's too.
$fix{w_ok} = one_id(as_role('Wéird "Role"; --', qq{SELECT batch_ops.batch_execute('{"operation": "status_update",
    "target_type": "items", "target_ids": [2, 5], "operation_data": {"new_status": "held"}, $inline}')->>'operation_id'}));
$fix{a_sync} = one_id(as_role('hostile_user', q{SELECT batch_ops.create_sync('hostile_sync', 'app.sync_src', 'app.sync_dst')}));
$fix{adm_ok} = one_id(as_role('hostile_admin', qq{SELECT batch_ops.batch_execute('{"operation": "export",
    "target_type": "plain", "target_ids": [3, 4], $inline}')->>'operation_id'}));

for my $b (qw(v_bg a_ok2))
{
	my $st = $node->safe_psql('postgres', "SELECT status FROM batch_ops.batch_wait($fix{$b}, '60 s')");
	is($st, 'succeeded', "fixture batch $b ($fix{$b}) succeeded");
}
my $fixture_status = $node->safe_psql('postgres',
	"SELECT string_agg(id || ':' || status, ' ' ORDER BY id) FROM batch_ops.batch");
note("fixtures: $fixture_status");
is( $node->safe_psql('postgres',
		"SELECT status FROM batch_ops.batch WHERE id IN ($fix{v_fail}, $fix{a_fail}) GROUP BY status"),
	'failed', 'the failed fixtures failed');

# From here on the workers claim nothing: only the corpus changes the tables.
$node->safe_psql('postgres', "ALTER SYSTEM SET batch_ops.enabled = off; SELECT pg_reload_conf();");
ok(wait_until($node, 'postgres', 'SHOW batch_ops.enabled', 'off', 30, 'batch_ops.enabled = off'),
	'claiming is paused');
sleep 1;    # every executor has processed the reload
$fix{v_queued} = one_id(as_role('victim', q{SELECT batch_ops.batch_execute('{"operation": "status_update",
    "target_type": "items", "target_ids": [16], "operation_data": {"new_status": "done"}}')->>'operation_id'}));
sleep 1;
is($node->safe_psql('postgres', "SELECT status FROM batch_ops.batch WHERE id = $fix{v_queued}"),
	'queued', 'the victim\'s queued batch stays queued');
note(join(', ', map { "$_=$fix{$_}" } sort keys %fix));

# ---------------------------------------------------------------------------------------
# Value pools.
my @STR = (
	'', ' ', "\t", "\n", "\r\n", 'x', 'null', 'NULL', 'true', '0', '-1', '1e400', '١٢٣', '１', '½',
	"'", "''", '"', '\\', '\\\\', '\\"', ';', '; DROP TABLE app.items; --', "'; DROP TABLE app.items; --",
	'"; DROP TABLE app.items; --', '--', '-- comment', '/*', '*/', '/* x */', '/* /* nested */', '$$', '$q$',
	'$$; DROP TABLE app.items; $$', '$_$x$_$', "E'\\x41'", '%s%s%s%n', '%', '_', '${HOME}', ':foo', ":'foo'",
	':"foo"', '\\x00', '\\u0000', '\\.', 'items', 'Items', 'ITEMS', ' items', 'items ', "items\n", 'items;',
	'"items"', 'app.items', 'batch_ops.batch', 'weird.tgt-1', 'tkeys', 'plain', 'uuids', 'pg_catalog.pg_authid',
	'pg_authid', 'public', 'pg_temp', "\x{202E}smeti", "items\x{200F}", "\x{200E}items", "ite\x{200D}ms",
	"\x{FEFF}items", "items\x{FEFF}", "e\x{0301}\x{0301}\x{0301}\x{0301}", 'a' . ("\x{0301}" x 300),
	"\x{FFFF}", "\x{FFFE}", "\x{10FFFF}", "\x{1F4A9}", "\x{FDD0}", "\x{1FFFE}", "\x{E000}", "\x{F8FF}",
	"\x{0627}\x{0644}\x{0639}\x{0631}\x{0628}\x{064A}\x{0629}", "\x{05E9}\x{05DC}\x{05D5}\x{05DD} items",
	"\x{2028}\x{2029}", "\x{00A0}", "\x{3000}", "\x{FF49}\x{FF54}\x{FF45}\x{FF4D}\x{FF53}", "\x{0130}",
	"\x{00DF}", "\x{FB01}", "\x{1D11E}", "\x{7F}", "\x{80}", "\x{85}", "\x{9F}", "\x{FFFD}",
	"\x{0663}", 'wéird "st"; --', 'Wéird "Role"; --', 'hostile_user', 'victim', 'postgres', 'batch_ops_admin',
	'current_user', 'session_user', 'new', 'done', 'held', 'x' x 63, 'x' x 64, "\x{00E9}" x 32,
	"\x{00E9}" x 40, 'Id Key', 'ownér', 'stat;us', 'del--', 'a"b', 'select', '$1', "ü̈", 'owner', 'note',
	'status', 'deleted_at', 'id', 'k', 'v', 'u', 'n', 'changed', "\x{0430}pp.items",
	'host=/var/run/postgresql', 'passfile=/etc/passwd', 'SELECT 1', 'SELECT 1; SELECT 2',
);
my @HUGE_STR = ('x' x 100_000, "\x{1F4A9}" x 20_000, "'" x 10_000, ';--' x 5_000, "\x{0301}" x 30_000,
	('$$' x 3_000), ('/*' x 4_000));
sub hstr { return chance(0.01) ? pick(@HUGE_STR) : pick(@STR); }

my @NUM = ('0', '-0', '1', '-1', '2', '3', '7', '1.5', '-1.5', '1e3', '1E3', '1e400', '-1e400', '1e-400',
	'2147483647', '2147483648', '-2147483648', '-2147483649', '9223372036854775807', '9223372036854775808',
	'-9223372036854775808', '-9223372036854775809', '99999999999999999999999999999999', '0.000001', '100000',
	'1000', '1001', '0.0', '4294967295', '4294967296');
my @BAD_JSON = ('{', '}', '{"a":}', "{'a': 1}", '{"operation": "delete",}', 'NaN', 'Infinity', '-Infinity',
	'[1, 2', '{"a": 1}}', '', ' ', '{"a": "\\u0000"}', '{"a": "\\ud800"}', '{"a": "\\udc00\\ud800"}',
	'{"a": "\\uZZZZ"}', '{"a": 1e999999}', '"\\x"', '{"a" 1}', '01', '[,]', '{"a": tru}', "\"a\nb\"",
	'{"operation": "delete" "target_type": "items"}', '/* c */ {}', '{} -- c', '{"a": 1}; SELECT 1');

my @TARGET_NAMES = ('items', 'weird.tgt-1', 'tkeys', 'uuids', 'plain');
my %TARGET = (
	'items' => { cols => [ 'owner', 'status', 'deleted_at', 'note', 'id' ], ids => [ 1 .. 310 ] },
	'weird.tgt-1' => { cols => [ 'Id Key', 'ownér', 'stat;us', 'del--', 'a"b', 'select', '$1', "ü̈" ], ids => [ 1 .. 105 ] },
	'tkeys' => { cols => [ 'k', 'v', 'Ünï' ],
		ids => [ (map { "k$_" } 1 .. 55), "'", ';', '--', '$$', 'é', "\x{202E}evil", 'a' . ("\x{0301}" x 20) ] },
	'uuids' => { cols => [ 'u', 'v' ],
		ids => [ '00000000-0000-0000-0000-000000000001', 'ffffffff-ffff-ffff-ffff-ffffffffffff',
			'{00000000-0000-0000-0000-000000000001}', '00000000000000000000000000000001', 'not-a-uuid' ] },
	'plain' => { cols => [ 'id', 'v' ], ids => [ 1 .. 55 ] },
);
my @OPS = qw(delete update status_update export archive restore bulk_create);

# JSON values: plain Perl strings are JSON strings; RAW is literal JSON text; an object is
# an ordered list of pairs (duplicates allowed), an array an ARRAY ref.
sub raw { my ($t) = @_; return bless \$t, 'RAW'; }
sub obj { return bless [@_], 'OBJ'; }

sub js_string
{
	my ($s) = @_;
	$s =~ s/(["\\])/\\$1/g;
	$s =~ s/([\x00-\x1f])/sprintf('\\u%04x', ord $1)/ge;
	if (chance(0.15))    # non-ASCII as \u escapes, astral code points as surrogate pairs
	{
		$s =~ s/([^\x00-\x7f])/u_escape(ord $1)/ge;
	}
	return '"' . $s . '"';
}

sub u_escape
{
	my ($o) = @_;
	return sprintf('\\u%04x', $o) if $o <= 0xFFFF;
	my $v = $o - 0x10000;
	return sprintf('\\u%04x\\u%04x', 0xD800 + ($v >> 10), 0xDC00 + ($v & 0x3FF));
}

sub js
{
	my ($v) = @_;
	return 'null' unless defined $v;
	my $r = ref $v;
	return $$v if $r eq 'RAW';
	if ($r eq 'OBJ')
	{
		my @p = @$v;
		my @parts;
		while (@p) { my ($k, $x) = splice(@p, 0, 2); push @parts, js_string($k) . ': ' . js($x); }
		return '{' . join(', ', @parts) . '}';
	}
	return '[' . join(', ', map { js($_) } @$v) . ']' if $r eq 'ARRAY';
	return js_string($v);
}

sub deep
{
	my ($depth, $inner) = @_;
	return raw(pick(
		('[' x $depth) . js($inner) . (']' x $depth),
		('{"a": ' x $depth) . js($inner) . ('}' x $depth),
		('[{"x": ' x ($depth / 2)) . js($inner) . ('}]' x ($depth / 2))));
}

sub hval
{
	my ($lvl) = @_;
	$lvl //= 0;
	my $k = rint($lvl > 2 ? 4 : 8);
	return hstr() if $k == 0 || $k == 1;
	return raw(pick(@NUM)) if $k == 2;
	return raw(pick('true', 'false', 'null')) if $k == 3;
	return [ map { hval($lvl + 1) } 1 .. rint(4) ] if $k == 4 || $k == 5;
	return obj(map { (hstr(), hval($lvl + 1)) } 1 .. rint(4)) if $k == 6;
	return deep(pick(2, 50, 500, 5000), hval(3));
}

# Ids: plausible ones of the target (as numbers or strings), and hostile ones.
sub an_id
{
	my ($t) = @_;
	my $ids = ($TARGET{$t} // $TARGET{items})->{ids};
	my $id = pick(@$ids);
	my $k = rint(20);
	if ($k < 17) { return (($id =~ /^\d+$/ && chance(0.6)) ? raw($id) : "$id"); }
	return raw(pick(@NUM)) if $k == 17;
	return hstr() if $k == 18;
	return hval(2);
}

sub id_list
{
	my ($t) = @_;
	my $k = rint(40);
	if ($k == 0) { return [ map { raw($_) } 1 .. 1001 ]; }
	if ($k == 1) { return [ map { raw($_) } 1 .. (chance(0.5) ? 1000 : 250) ]; }
	if ($k == 2) { return [ map { "$_" } 1 .. 5000 ]; }
	if ($k == 3) { return []; }
	if ($k == 4) { my $i = an_id($t); return [ $i, $i ]; }
	if ($k == 5) { return hval(1); }
	return [ map { an_id($t) } 1 .. 1 + rint(5) ];
}

sub fields_for
{
	my ($t) = @_;
	my @cols = @{ ($TARGET{$t} // $TARGET{items})->{cols} };
	return obj(map { (chance(0.8) ? pick(@cols) : hstr(), chance(0.5) ? hstr() : hval(1)) } 1 .. 1 + rint(3));
}

sub operation_data
{
	my ($op, $t) = @_;
	my @cols = @{ ($TARGET{$t} // $TARGET{items})->{cols} };
	my $b = sub { chance(0.8) ? raw(pick('true', 'false')) : hval(2) };
	my $s = sub { chance(0.5) ? pick('new', 'done', 'held', 'wéird "st"; --') : hstr() };
	return obj('soft_delete', $b->(), 'delete_reason', hstr()) if $op eq 'delete';
	return obj('fields', fields_for($t)) if $op eq 'update';
	return obj('new_status', $s->(), 'reason', hstr(), ('force', $b->()) x chance(0.3)) if $op eq 'status_update';
	return obj('archive_reason', hstr(), 'archive_location', hstr()) if $op eq 'archive';
	return obj() if $op eq 'restore';
	return obj('export_format', chance(0.7) ? pick('json', 'ndjson', 'csv') : hstr(),
		('include_fields', [ map { chance(0.8) ? pick(@cols) : hstr() } 0 .. rint(3) ]) x chance(0.4),
		('exclude_fields', [ map { chance(0.8) ? pick(@cols) : hstr() } 0 .. rint(3) ]) x chance(0.3))
	  if $op eq 'export';
	return obj('skip_validation', $b->(), 'continue_on_error', $b->()) if $op eq 'bulk_create';
	return hval(1);
}

my ($own_ids, $foreign_ids);    # set per role below
sub request
{
	my $t = chance(0.93) ? pick(@TARGET_NAMES) : hstr();
	my $op = chance(0.93) ? pick(@OPS) : hstr();
	my @p = ('operation', $op, 'target_type', $t);
	if ($op eq 'bulk_create')
	{
		push @p, 'items', chance(0.9) ? [ map { fields_for($t) } 1 .. 1 + rint(3) ] : hval(1);
	}
	else { push @p, 'target_ids', id_list($t); }
	push @p, 'operation_data', operation_data($op, $t) if chance(0.7);
	push @p, 'execution', chance(0.9) ? pick('inline', 'inline', 'inline', 'background') : hstr() if chance(0.9);
	push @p, 'dry_run', chance(0.7) ? raw(pick('true', 'false')) : hval(2) if chance(0.15);
	push @p, 'priority', chance(0.7) ? raw(pick(@NUM)) : hval(2) if chance(0.1);
	push @p, 'max_attempts', chance(0.7) ? raw(pick(@NUM)) : hval(2) if chance(0.1);
	push @p, 'idempotency_key', hstr() if chance(0.1);
	push @p, 'not_before', pick('2026-01-01T00:00:00Z', 'infinity', '-infinity', 'epoch', 'now', '294277-01-01',
		'4714-11-24 BC', 'garbage', '2026-13-45', hstr()) if chance(0.08);
	push @p, 'target_filter', pick('true', 'id = 1', 'id = 1; DROP TABLE app.items', '1=1) OR (1=1', '/*',
		hstr()) if chance(0.05);
	push @p, 'depends_on', chance(0.8) ? [ map { raw(pick(@$own_ids, @$foreign_ids, @NUM)) } 1 .. 1 + rint(3) ] : hval(1)
	  if chance(0.1);
	for (1 .. (chance(0.6) ? rint(4) : 0))
	{
		my $m = rint(10);
		if ($m <= 2 && @p) { my $i = 2 * rint(@p / 2); $p[ $i + 1 ] = hval(1); }
		elsif ($m == 3 && @p) { my $i = 2 * rint(@p / 2); splice(@p, $i, 2); }
		elsif ($m == 4) { push @p, hstr(), hval(1); }
		elsif ($m == 5 && @p) { my $i = 2 * rint(@p / 2); push @p, $p[$i], hval(1); }
		elsif ($m == 6 && @p)
		{
			# nesting, up to about the deepest jsonb PostgreSQL's parser accepts (15,000)
			my $i = 2 * rint(@p / 2);
			$p[ $i + 1 ] = chance(0.2) ? deep(12000, raw('1')) : deep(pick(10, 1000, 3000), $p[ $i + 1 ]);
		}
	}
	return raw(pick(@BAD_JSON)) if chance(0.03);
	return hval(0) if chance(0.04);
	return obj(@p);
}

sub sync_options
{
	my $conn = pick(
		"host=127.0.0.1 port=1 connect_timeout=2 password=x",
		"host=127.0.0.1 port=1 connect_timeout=2",
		"host=$socket_dir port=$port dbname=postgres user=postgres",
		"host=$socket_dir port=$port dbname=postgres user=postgres password=x",
		"host=$socket_dir port=$port dbname=postgres password=x passfile=/etc/passwd",
		"host=$socket_dir port=$port sslkey=/etc/ssl/private/ssl-cert-snakeoil.key sslmode=disable password=x",
		"host=/var/run/postgresql password=x",
		"postgresql://postgres:x\@127.0.0.1:1/postgres?connect_timeout=2",
		"host=127.0.0.1 port=1 password=x options='-c statement_timeout=0'",
		"host='a b' port=1 password=x", "service=nonexistent password=x", "=", "password=", "password=''",
		"host=127.0.0.1 port=1 password=x application_name='; DROP TABLE app.items; --'",
		hstr());
	my @p;
	push @p, 'connection', chance(0.9) ? $conn : hval(1) if chance(0.3);
	push @p, 'key_columns', chance(0.7) ? [ map { pick('id', 'v', 'n', hstr()) } 0 .. rint(2) ] : hval(1) if chance(0.2);
	push @p, 'columns', chance(0.7) ? obj(map { (pick('id', 'v', 'n', hstr()), pick('v', 'upper(v)',
		'n * 2', '1) FROM pg_authid --', '(SELECT 1)', 'pg_read_file(\'/etc/passwd\')', "\$\$x\$\$", hstr())) } 1 .. 1 + rint(2))
	  : hval(1) if chance(0.3);
	push @p, 'mode', chance(0.8) ? pick('full', 'incremental') : hstr() if chance(0.3);
	push @p, 'watermark_column', chance(0.7) ? pick('changed', 'n', 'id') : hstr() if chance(0.3);
	push @p, 'delete_missing', chance(0.8) ? raw(pick('true', 'false')) : hval(2) if chance(0.2);
	push @p, pick('chunk_size', 'connect_timeout', 'statement_timeout'), chance(0.8) ? raw(pick(@NUM)) : hval(2)
	  if chance(0.3);
	push @p, hstr(), hval(1) if chance(0.1);
	return raw(pick(@BAD_JSON)) if chance(0.03);
	return hval(0) if chance(0.05);
	return obj(@p);
}

sub transitions
{
	return raw(pick(@BAD_JSON)) if chance(0.05);
	return hval(0) if chance(0.3);
	return obj(map { (pick('new', 'done', 'held', hstr()), chance(0.8) ? [ map { pick('new', 'done', hstr()) } 0 .. rint(3) ] : hval(2)) }
		  0 .. rint(3));
}

# ---------------------------------------------------------------------------------------
# SQL text of values. Literals are single-quoted (standard_conforming_strings is on),
# sometimes dollar-quoted or E'' strings.
sub lit
{
	my ($s) = @_;
	my $k = rint(10);
	if ($k == 0 && $s !~ /\$/) { return '$hq$' . $s . '$hq$'; }
	if ($k == 1)
	{
		(my $e = $s) =~ s/\\/\\\\/g;
		$e =~ s/'/\\'/g;
		return "E'$e'";
	}
	(my $t = $s) =~ s/'/''/g;
	return "'$t'";
}

sub jsonb_sql
{
	my ($v) = @_;
	my $t = js($v);
	my $k = rint(40);
	return lit($t) if $k < 4;                           # an unknown-type literal
	return lit($t) . '::json' if $k == 4;               # wrong types
	return lit($t) . '::text' if $k == 5;
	return lit($t) . '::jsonb' . ($k == 6 ? '::text::jsonb' : '');
}

sub id_sql
{
	my ($pool) = @_;
	my $k = rint(30);
	return pick(@$pool) if $k < 14;
	return pick('0', '-1', '9223372036854775807', '(-9223372036854775807 - 1)', '1000000000000', '2147483648',
		'-2147483649', '(SELECT max(id) FROM batch_ops.batch)', '(SELECT min(job_id) FROM batch_ops.jobs)',
		'(SELECT max(batch_id) FROM batch_ops.batch_event)', '+1', '- -1', '(1)', '1::smallint', '1::integer')
	  if $k < 20;
	return pick('NULL', 'NULL::bigint', 'NULL::text', 'NULL::numeric') if $k < 22;
	return pick(map { lit($_) } ('7', ' 7 ', '07', '+7', '-0', '0x10', '1e3', '1.0', '9223372036854775808',
		'-9223372036854775809', 'NaN', 'infinity', '', '١', '１', '7; DROP TABLE app.items', '7 -- x', '7/*')) if $k < 26;
	return pick('9223372036854775808', '1.5', '1e30', "'7'::text", 'true', 'ARRAY[1]', "'{1}'", "'7'::jsonb",
		'7::oid', "'7'::regclass", 'now()', "interval '1 s'") if $k < 28;
	return lit(hstr());
}

sub id_array_sql
{
	my ($pool) = @_;
	my $k = rint(30);
	return 'ARRAY[' . join(', ', map { id_sql($pool) } 1 .. rint(5)) . ']' if $k < 10;
	return 'ARRAY[' . join(', ', map { pick(@$pool) } 1 .. 1 + rint(6)) . ']::bigint[]' if $k < 16;
	return pick(lit('{}') . '::bigint[]', lit('{NULL}'), lit('{1,2,NULL}'), lit('{{1,2},{3,4}}') . '::bigint[]',
		'ARRAY[]::bigint[]', lit('[-3:-1]={1,2,3}') . '::bigint[]', lit('{a}'), lit('{1,2}') . '::int[]',
		lit('{1,2}') . '::text[]', lit('{9223372036854775808}'), 'array_fill(7::bigint, ARRAY[3], ARRAY[-5])',
		'(SELECT array_agg(g) FROM generate_series(-2, ' . pick(50, 2000) . ') g)', 'NULL::bigint[]',
		'(SELECT array_agg(id) FROM batch_ops.batch)', "'{}'", '7', lit('7')) if $k < 27;
	return 'ARRAY[' . join(', ', map { lit(hstr()) } 1 .. 1 + rint(3)) . ']';
}

my @INTERVALS = ("'-1 s'", "'0'", "'1 ms'", "'10 ms'", "'178000000 years'", "'-178000000 years'", "'infinity'",
	"'-infinity'", "'1 s'", "'1 day'", "'24 hours'", "'1000000 hours'", "'@ 1 minute ago'", "'1 mon'", "'-1 mon'",
	"'2147483647 days'", "'-2147483648 days'", "'2147483647 days 2147483647 s'", "'P1Y2M'", "'PT0.001S'",
	"'garbage'", "'1 s'::text", '1', 'NULL', 'NULL::interval', "interval '178000000 years' * 2",
	"'9223372036854775807 microseconds'", "'1 s; DROP TABLE app.items'", "'1 s -- x'", "'\x{0661} s'",
	"'1 week 2 days'", "'-0'", "'1e10 s'", "'0.5 microseconds'");
my @BOUNDED_INTERVALS = ("'0'", "'1 ms'", "'10 ms'", "'-1 s'", "'-178000000 years'", "'@ 1 minute ago'", "'garbage'",
	"'infinity'", "'-infinity'", "'PT0.001S'", "'-1 mon'", "'1 s'::text", '1', "'1 s -- x'");
my @BOOLS = ('true', 'false', 'NULL', 'NULL::boolean', "'t'", "'yes'", "'on'", "'1'", "'maybe'", '1', "'true'::text",
	"''", "' true '", "'TRUE'", '(1 = 1)');
my @TIMESTAMPS = ("'infinity'", "'-infinity'", "'epoch'", "'294276-12-31 23:59:59+00'", "'4714-11-24 00:00:00+00 BC'",
	'now()', "now() - interval '1 hour'", "'garbage'", "'2026-02-30'", 'NULL', "'allballs'", '1', "'now'::text",
	'clock_timestamp()');
my @INTS = ('0', '1', '-1', '2', '1000', '2147483647', '-2147483648', "'2147483648'", 'NULL', '1.5', "'x'", '10',
	'(2147483647 + 0)', '9223372036854775807', "'１'");
my @REGCLASSES = (
	map({ lit($_) } 'app.items', 'app.sync_dst', 'app.sync_src', 'app.victim_dst', 'app.plain', 'app.tkeys',
		'"Ho""stile; --"."tab/*le*/"', '"Ho""stile; --"."arch$$ive"', 'app.items_archive', 'app.nonexistent',
		'"', '""', 'app.', 'pg_catalog.pg_authid', 'pg_authid', 'batch_ops.batch', 'batch_ops.jobs',
		'app.items; DROP TABLE app.items', 'harness.counts', 'APP.ITEMS', '"app"."items"', 'pg_class',
		'information_schema.tables', "app.\x{202E}smeti", ''),
	"'app.items'::regclass", '0', '1', '1259', '4294967295', '-1', '99999999', 'NULL', 'NULL::regclass',
	"'app.items'::text", "'app.items'::name");
my @COLUMN_NAMES = ('id', 'owner', 'status', 'deleted_at', 'note', 'Id Key', 'ownér', 'stat;us', 'del--', 'a"b',
	'select', '$1', "ü̈", 'k', 'v', 'u', 'nope', 'ctid', 'xmin', 'tableoid', 'oid', '', '"id"', 'id; --',
	'x' x 64, "\x{00E9}" x 40, 'ID');

sub name_sql
{
	my $k = rint(10);
	return lit(pick(@COLUMN_NAMES)) if $k < 6;
	return pick('NULL', 'NULL::name', "'id'::name", "'id'::text", '1', "'id'::varchar") if $k < 8;
	return lit(hstr());
}

sub text_array_sql
{
	my $k = rint(10);
	return 'ARRAY[' . join(', ', map { lit(chance(0.5) ? pick('new', 'done', 'held', @COLUMN_NAMES) : hstr()) } 0 .. rint(4)) . ']'
	  if $k < 5;
	return pick("'{}'", "'{NULL}'", "ARRAY[NULL]::text[]", "'{{a},{b}}'", "'{\"a,b\",\"c\\\"d\"}'", "'{a'", 'NULL',
		"ARRAY['new']::name[]", "ARRAY['id']::text[]", "'[0:1]={a,b}'", "ARRAY[1, 2]", "'new'", "ARRAY[]::text[]")
	  if $k < 9;
	return '(SELECT array_agg(g::text) FROM generate_series(1, ' . pick(100, 5000) . ') g)';
}

# A value of a type (by its format_type name), for any argument.
sub typed_sql
{
	my ($type, $ids, $arrays) = @_;
	return id_sql($ids) if $type eq 'bigint';
	return id_array_sql($ids) if $type eq 'bigint[]';
	return pick(@INTS) if $type eq 'integer' || $type eq 'smallint';
	return jsonb_sql(hval(0)) if $type eq 'jsonb' || $type eq 'json';
	return pick(@INTERVALS) if $type eq 'interval';
	return pick(@BOOLS) if $type eq 'boolean';
	return pick(@REGCLASSES) if $type eq 'regclass';
	return pick(@TIMESTAMPS) if $type =~ /^timestamp/;
	return name_sql() if $type eq 'name';
	return text_array_sql() if $type eq 'text[]' || $type eq 'name[]';
	return lit(hstr()) . (chance(0.2) ? "::$type" : '') unless $type eq 'text';
	return chance(0.05) ? pick('NULL', 'NULL::text', '1', 'ARRAY[\'a\']') : lit(hstr());
}
my @ANY_TYPES = ('bigint', 'bigint[]', 'integer', 'jsonb', 'interval', 'boolean', 'regclass', 'timestamptz', 'name',
	'text[]', 'text');

# A value for argument NAME of function FN (by what the argument means), else by type.
my $sync_names = 0;
sub arg_sql
{
	my ($fn, $name, $type, $ids) = @_;
	return jsonb_sql(request()) if $name eq 'request';
	return jsonb_sql(sync_options()) if $fn eq 'create_sync' && $name eq 'options';
	return jsonb_sql(transitions()) if $name eq 'status_transitions';
	if ($fn eq 'create_sync' && $name eq 'name')
	{
		return chance(0.5) ? lit('hs_' . $sync_names++) : chance(0.2) ? pick("'hostile_sync'", "'victim_sync'") : typed_sql('text');
	}
	if ($fn eq 'create_sync' && $name eq 'source')
	{
		return lit(pick('app.sync_src', 'SELECT id, v, n FROM app.sync_src', 'SELECT id, v, n, changed FROM app.sync_src',
			'app.sync_src; DROP TABLE app.items', 'SELECT 1 AS id; DROP TABLE app.items', '"app"."sync_src"',
			'SELECT * FROM app.sync_src /*', 'SELECT $$x$$ AS v, 1 AS id', 'TABLE app.sync_src', 'VALUES (1, 2, 3)',
			'SELECT 1 AS id INTO app.x', 'SELECT * FROM app.sync_src FOR UPDATE', 'COPY app.sync_src TO STDOUT',
			'WITH d AS (DELETE FROM app.items RETURNING id) SELECT id, NULL::text AS v, 1 AS n FROM d',
			'SELECT id, pg_read_file(\'/etc/passwd\') AS v, 1 AS n FROM app.sync_src', 'pg_catalog.pg_authid',
			'SELECT rolname AS v, 1 AS id, 1 AS n FROM pg_authid', 'app.victim_dst', 'SELECT 1; COMMIT',
			'SELECT id, v, n FROM app.sync_src -- ', 'nosuch.sync_src', 'SELECT id, v, n FROM nosuch.sync_src', 'select/**/id,v,n/**/from/**/app.sync_src', "\x{0430}pp.sync_src",
			'x' x 100_001, hstr()));
	}
	return pick(@REGCLASSES) if $fn eq 'create_sync' && $name eq 'target';
	if (($fn eq 'register_target' || $fn eq 'unregister_target') && $name eq 'name')
	{
		return chance(0.5) ? lit(pick('t_' . rint(30), 'x', 'X.y-z', '_', 'a' x 63, 'a' x 64, @TARGET_NAMES))
		  : typed_sql('text');
	}
	return pick(@REGCLASSES) if $name eq 'relation' || $name eq 'archive_relation';
	return typed_sql($type, $ids);
}

# ---------------------------------------------------------------------------------------
# The functions of the schema, from the catalog.
my $catalog = $node->safe_psql('postgres', <<'EOF');
SELECT p.oid::regprocedure::text, p.proname, p.pronargs, p.pronargdefaults,
       coalesce(array_to_string((p.proargnames)[1:p.pronargs], ','), ''),
       array_to_string(ARRAY(SELECT format_type(t, NULL) FROM unnest(p.proargtypes) WITH ORDINALITY AS a(t, n)
                             ORDER BY n), ';'),
       has_function_privilege('hostile_user', p.oid, 'EXECUTE')
  FROM pg_proc p
 WHERE p.pronamespace = 'batch_ops'::regnamespace
 ORDER BY 1
EOF
my @functions;
for my $line (split /\n/, $catalog)
{
	my ($sig, $name, $nargs, $ndefaults, $argnames, $argtypes, $user_may) = split /\|/, $line, -1;
	my @types = $nargs ? split(/;/, $argtypes, -1) : ();
	my @names = split /,/, $argnames, -1;
	push @functions, { sig => $sig, name => $name, nargs => $nargs, ndefaults => $ndefaults,
		argnames => [ map { $names[$_] // "a$_" } 0 .. $nargs - 1 ], types => \@types, user => $user_may eq 't' };
}
my %have = map { $_->{name} => 1 } @functions;
for my $f (qw(register_target unregister_target batch_execute batch_validate batch_status batch_result batch_wait
	batch_cancel batch_retry create_sync batch_sync batch_statistics export_data batch_health batch_cleanup))
{
	ok($have{$f}, "function batch_ops.$f exists and is in the corpus");
}
note('functions: ' . join(', ', map { $_->{sig} } @functions));

# One call of function F with hostile arguments. IDS: the ids to use; WAIT_SAFE: the ids
# batch_wait may wait on without a bound (batches that stay ended whatever the corpus
# does, other roles' batches, missing ones): with any other id its timeout is bounded,
# and its id is never replaced by a value of another type (an integer would do).
sub call_sql
{
	my ($f, $ids, $wait_safe) = @_;
	my $fn = $f->{name};
	my $wait = $fn eq 'batch_wait';
	my $pool = $wait ? $wait_safe : $ids;
	my @args = map { arg_sql($fn, $f->{argnames}[$_], $f->{types}[$_], $pool) } 0 .. $f->{nargs} - 1;
	my $mode = rint(100);
	if ($wait)
	{
		my %safe = map { $_ => 1 } @$wait_safe;
		if (!$safe{ $args[0] } || chance(0.3))
		{
			$args[0] = id_sql($ids) if chance(0.5);
			$args[1] = pick(@BOUNDED_INTERVALS);
			$mode = 0;    # positional, both arguments given
		}
	}
	my @parts;
	if ($mode < 70) { @parts = @args; }
	elsif ($mode < 80 && $f->{nargs} > 0)
	{
		# named notation, in a shuffled order, sometimes with a wrong name
		my @idx = 0 .. $f->{nargs} - 1;
		for my $i (reverse 1 .. $#idx) { my $j = rint($i + 1); @idx[ $i, $j ] = @idx[ $j, $i ]; }
		@parts = map {
			(chance(0.1) ? pick('ids', 'idd', '"id"', 'request', 'x', 'older_than', 'name') : $f->{argnames}[$_])
			  . ' => ' . $args[$_]
		} @idx;
	}
	elsif ($mode < 86) { @parts = @args[ 0 .. $f->{nargs} - 1 - rint($f->{nargs} + 1) ]; }    # fewer
	elsif ($mode < 91) { @parts = (@args, typed_sql(pick(@ANY_TYPES), $pool)); }              # one more
	elsif ($mode < 97 && $f->{nargs} > 0)
	{
		@parts = @args;    # one argument of another type
		my $i = $wait ? $#parts : rint(scalar @parts);
		$parts[$i] = typed_sql(pick(@ANY_TYPES), $pool);
	}
	else { @parts = map { 'NULL' } @args; }
	my $callee = chance(0.05) ? "\"batch_ops\".\"$fn\"" : "batch_ops.$fn";
	my $call = "$callee(" . join(', ', @parts) . ')';
	return chance(0.7) ? "SELECT $call" : "SELECT * FROM $call";
}

# ---------------------------------------------------------------------------------------
# The calls, as the attacker and as the admin.
my @fixed_own = ($fix{a_ok}, $fix{a_ok2}, $fix{a_fail}, $fix{a_exp}, $fix{a_sync});
my @fixed_foreign = ($fix{v_ok}, $fix{v_fail}, $fix{v_exp}, $fix{v_bg}, $fix{v_sync}, $fix{v_queued}, $fix{adm_ok},
	$fix{w_ok});
my $max_id = $node->safe_psql('postgres', 'SELECT max(id) FROM batch_ops.batch');
my @missing = ('123456789', '999999999999', '-5');
my %calls_for;    # role -> [ {fn, sql} ]
my $t_gen = time();
rseed($SEED);
for my $role ('hostile_user', 'hostile_admin')
{
	my $attacker = $role eq 'hostile_user';
	$own_ids = $attacker ? \@fixed_own : [ $fix{adm_ok} ];
	$foreign_ids = $attacker ? \@fixed_foreign : [ @fixed_own, @fixed_foreign ];
	my @ids = (@$own_ids, @$foreign_ids, @missing, $fix{v_export_id}, $fix{a_export_id},
		map { $_ } 1 .. $max_id + 60);
	# Ids batch_wait may wait on without a bound: batches that stay ended whatever the
	# corpus does (succeeded operation batches), another role's (refused at once), none.
	my @wait_safe = (@missing, $attacker
		? ($fix{a_ok}, $fix{a_ok2}, $fix{a_exp}, @fixed_foreign)
		: ($fix{a_ok}, $fix{a_ok2}, $fix{a_exp}, $fix{v_ok}, $fix{v_exp}, $fix{v_bg}, $fix{adm_ok}, $fix{w_ok}));
	my (@calls, @last);
	for my $f (@functions)
	{
		my $n = ($f->{user} xor $attacker) ? int($PER_FUNCTION / ($attacker ? 20 : 10)) : $PER_FUNCTION;
		my @pool = $f->{name} eq 'export_data'
		  ? ($fix{v_export_id}, $fix{a_export_id}, @missing, 1 .. 20) : @ids;
		for (1 .. $n)
		{
			my $c = { fn => $f->{sig}, sql => call_sql($f, \@pool, \@wait_safe) };
			# The admin's cleanups and unregistrations last, so that the rest meets batches and targets.
			if (!$attacker && $f->{name} =~ /^(batch_cleanup|unregister_target)$/) { push @last, $c; }
			else { push @calls, $c; }
		}
	}
	# Interleave the functions (a shuffle), so that calls meet the state others left.
	for my $i (reverse 1 .. $#calls) { my $j = rint($i + 1); @calls[ $i, $j ] = @calls[ $j, $i ]; }
	$calls_for{$role} = [ @calls, @last ];
}

# ---------------------------------------------------------------------------------------
# Running a role's calls: one psql -f, ON_ERROR_STOP off, markers on stdout.
diag(sprintf('generated %d + %d calls in %.1f s (%.1f s since the start)', scalar @{ $calls_for{hostile_user} },
	scalar @{ $calls_for{hostile_admin} }, time() - $t_gen, time() - $^T));
my $dir = PostgreSQL::Test::Utils::tempdir();
my $psql = $node->can('installed_command') ? $node->installed_command('psql') : 'psql';
my (%per_fn, %classes, @bad, @leaks, @lost);

# Reads the psql output OUT of ROLE's CALLS into SINK (per_fn, classes, bad, leaks,
# lost); returns how many calls were answered. A failing call must have an allowed
# SQLSTATE class and leave the counts as they were before it; after every call the
# counts must come back, from the same backend.
sub check_output
{
	my ($role, $calls, $out, $sink) = @_;
	my @lines = split /\n/, $out;
	my ($prev, $pid0, $cur, $res, $msg, $seen) = (undef, undef, undef, undef, '', 0);
	my $finish = sub {
		my ($counts) = @_;
		return unless defined $cur;
		my $c = $calls->[$cur];
		my $fn = $c->{fn};
		$sink->{per_fn}{$fn}{$role}++;
		$seen++;
		if (!defined $res) { push @{ $sink->{lost} }, "$role #$cur $fn: no result line"; }
		else
		{
			my ($error, $state) = @$res;
			my $class = $error eq 'true' ? substr($state, 0, 2) : 'ok';
			$sink->{classes}{$fn}{$class eq 'ok' ? 'ok' : $state}++;
			if ($class ne 'ok' && !$ALLOWED_CLASS{$class} && !argument_input_error($fn, $state, $msg))
			{
				push @{ $sink->{bad} }, "$role #$cur $fn: SQLSTATE $state: $msg\n    " . substr($c->{sql}, 0, 400);
			}
			if ($class ne 'ok' && defined $counts && defined $prev && $counts ne $prev)
			{
				push @{ $sink->{leaks} }, "$role #$cur $fn (SQLSTATE $state): counts $prev -> $counts\n    " . substr($c->{sql}, 0, 400);
			}
		}
		if (!defined $counts) { push @{ $sink->{lost} }, "$role #$cur $fn: no counts after the call"; }
		else
		{
			my ($pid) = $counts =~ /,(\d+)$/;
			push @{ $sink->{lost} }, "$role #$cur $fn: the session changed (pid $pid0 -> $pid)" if defined $pid0 && $pid ne $pid0;
		}
		($cur, $res, $msg) = (undef, undef, '');
	};
	my $in_msg = 0;
	for my $l (@lines)
	{
		if ($l =~ /^\@\@C (.*)$/)
		{
			my $counts = $1;
			$finish->($counts);
			$pid0 //= ($counts =~ /,(\d+)$/)[0];
			$prev = $counts;
			$in_msg = 0;
		}
		elsif ($l =~ /^\@\@N (\d+)$/)
		{
			$finish->(undef) if defined $cur;
			$cur = $1;
			$in_msg = 0;
		}
		elsif ($l =~ /^\@\@R (\S+) (\S+) ?(.*)$/) { $res = [ $1, $2 ]; $msg = $3; $in_msg = 1; }
		elsif ($in_msg) { $msg .= " / $l"; }
	}
	$finish->(undef) if defined $cur;
	return $seen;
}

sub run_calls
{
	my ($role, $calls) = @_;
	my $script = "$dir/$role.sql";
	open my $fh, '>:raw', $script or die "$script: $!";
	my $head = "\\set ON_ERROR_STOP 0\nSET statement_timeout = '20s';\n\\o /dev/null\n"
	  . "SELECT harness.counts() AS bo_counts \\gset\n\\echo \@\@C :bo_counts\n";
	$head .= "\\timing on\n" if $ENV{BATCH_OPS_CORPUS_DUMP};
	print $fh $head;
	for my $i (0 .. $#$calls)
	{
		my $sql = $calls->[$i]{sql};
		utf8::encode($sql);
		print $fh "\\echo \@\@N $i\n$sql;\n\\echo \@\@R :ERROR :LAST_ERROR_SQLSTATE :LAST_ERROR_MESSAGE\n"
		  . "SELECT harness.counts() AS bo_counts \\gset\n\\echo \@\@C :bo_counts\n";
	}
	print $fh "\\echo \@\@END\n";
	close $fh;
	my ($out, $err) = ('', '');
	my $t0 = time();
	my $ok = IPC::Run::run([ $psql, '-X', '-q', '-v', 'ON_ERROR_STOP=0', '-d', $node->connstr('postgres'),
			'-U', $role, '-f', $script ], '<', \undef, '>', \$out, '2>', \$err);
	my $rc = $? >> 8;
	diag(sprintf('%s: %d calls in %.1f s', $role, scalar @$calls, time() - $t0));
	is($rc, 0, "$role: psql ran the whole script without losing its connection");
	like($out, qr/^\@\@END$/m, "$role: psql reached the end of the script");

	if (my $keep = $ENV{BATCH_OPS_CORPUS_DUMP})    # for debugging: keep the script and its output
	{
		PostgreSQL::Test::Utils::system_log('cp', $script, "$keep/$role.sql");
		open my $o, '>:raw', "$keep/$role.out" or die "$keep/$role.out: $!";
		print $o $out;
		close $o;
	}
	utf8::decode($out);
	my $sink = { per_fn => \%per_fn, classes => \%classes, bad => \@bad, leaks => \@leaks, lost => \@lost };
	my $seen = check_output($role, $calls, $out, $sink);
	is($seen, scalar @$calls, "$role: every call was run and answered");
	return;
}

# The checks can fail: a synthetic output with a crash class, a leak, a changed session
# and a call without counts.
{
	my %t = (per_fn => {}, classes => {}, bad => [], leaks => [], lost => []);
	my @fake = map { { fn => 'f', sql => "SELECT $_" } } 0 .. 3;
	my $n = check_output('selftest', \@fake, join("\n",
			'@@C 1/1,0,0/0,0/0,0,0/0,5,100',
			'@@N 0', '@@R true XX000 boom', '@@C 1/1,0,0/0,0/0,0,0/0,5,100',
			'@@N 1', '@@R true 22023 bad request', '@@C 2/2,1,0/0,0/0,0,0/0,5,100',
			'@@N 2', '@@R false 22023 ', '@@C 2/2,1,0/0,0/0,0,0/0,5,101',
			'@@N 3', '@@R true 42501 denied'), \%t);
	is($n, 4, 'self-test: every call is counted');
	is(scalar @{ $t{bad} }, 1, 'self-test: an XX error is reported');
	is(scalar @{ $t{leaks} }, 1, 'self-test: a failing call that changed the counts is reported');
	is(scalar @{ $t{lost} }, 2, 'self-test: a new backend and a call without counts are reported');
}

my $victim_sql = <<'EOF';
SELECT md5(string_agg(x, E'\n' ORDER BY x)) FROM (
    SELECT b::text AS x FROM batch_ops.batch b WHERE b.submitted_by = 'victim'::regrole
    UNION ALL SELECT i::text FROM batch_ops.batch_item i JOIN batch_ops.batch b ON b.id = i.batch_id
     WHERE b.submitted_by = 'victim'::regrole
    UNION ALL SELECT e::text FROM batch_ops.batch_event e JOIN batch_ops.batch b ON b.id = e.batch_id
     WHERE b.submitted_by = 'victim'::regrole
    UNION ALL SELECT x::text FROM batch_ops.export x JOIN batch_ops.batch b ON b.id = x.batch_id
     WHERE b.submitted_by = 'victim'::regrole
    UNION ALL SELECT s::text FROM batch_ops.sync s WHERE s.created_by = 'victim'::regrole
    UNION ALL SELECT r::text FROM batch_ops.sync_run r JOIN batch_ops.batch b ON b.id = r.batch_id
     WHERE b.submitted_by = 'victim'::regrole
    UNION ALL SELECT t::text FROM app.items t WHERE t.owner = 'victim'
    UNION ALL SELECT t::text FROM app.items_archive t WHERE t.owner = 'victim'
    UNION ALL SELECT t::text FROM "Ho""stile; --"."tab/*le*/" t WHERE t."ownér" = 'victim'
    UNION ALL SELECT t::text FROM app.victim_dst t) AS s
EOF
my $start_time = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');
my $log_offset = -s $node->logfile;
my $victim_before = $node->safe_psql('postgres', $victim_sql);

run_calls('hostile_user', $calls_for{hostile_user});
is($node->safe_psql('postgres', $victim_sql), $victim_before,
	"the attacker changed none of the victim's batches, items, events, exports, syncs, runs or rows");
is($node->safe_psql('postgres', 'SELECT count(*) FROM app.items WHERE id <= 300 AND owner IN (\'victim\', \'Wéird "Role"; --\')'),
	'200', 'the rows of other owners are all still there');
run_calls('hostile_admin', $calls_for{hostile_admin});

# ---------------------------------------------------------------------------------------
is(join("\n", @bad), '', 'every failing call ended with SQLSTATE class 22, 42, 0A, 55 or P0')
  or diag(scalar(@bad) . " call(s) with another SQLSTATE:\n" . join("\n", @bad[ 0 .. ($#bad < 40 ? $#bad : 39) ]));
is(join("\n", @leaks), '', 'no failing call left rows behind (counts and highest ids unchanged)')
  or diag(join("\n", @leaks[ 0 .. ($#leaks < 40 ? $#leaks : 39) ]));
is(join("\n", @lost), '', 'the session survived every call')
  or diag(join("\n", @lost[ 0 .. ($#lost < 40 ? $#lost : 39) ]));
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server answers');
is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'), $start_time, 'the postmaster never restarted');
my $log = PostgreSQL::Test::Utils::slurp_file($node->logfile, $log_offset);
my @crash = grep { /terminated by signal|was terminated|PANIC|TRAP:|server process .* exited with exit code [^0]/ }
  split /\n/, $log;
is(join("\n", @crash), '', 'no backend crashed (server log)');

for my $f (@functions)
{
	my $n = ($per_fn{ $f->{sig} }{hostile_user} // 0) + ($per_fn{ $f->{sig} }{hostile_admin} // 0);
	cmp_ok($n, '>=', $PER_FUNCTION, "$f->{sig}: at least $PER_FUNCTION calls");
}

my @summary = sprintf('%-75s %6s %6s  %s', 'function', 'user', 'admin', 'outcomes (ok, or SQLSTATE: count)');
for my $f (@functions)
{
	my $c = $classes{ $f->{sig} } // {};
	push @summary, sprintf('%-75s %6d %6d  %s', $f->{sig}, $per_fn{ $f->{sig} }{hostile_user} // 0,
		$per_fn{ $f->{sig} }{hostile_admin} // 0,
		join(' ', map { "$_:$c->{$_}" } sort { $c->{$b} <=> $c->{$a} || $a cmp $b } keys %$c));
}
my %by_class;
for my $fn (keys %classes) { $by_class{ $_ eq 'ok' ? 'ok' : substr($_, 0, 2) } += $classes{$fn}{$_} for keys %{ $classes{$fn} }; }
push @summary, 'SQLSTATE classes seen: ' . join(', ', map { "$_: $by_class{$_}" } sort keys %by_class);
diag("hostile corpus, seed $SEED:\n" . join("\n", @summary));

diag(sprintf('%.1f s in all', time() - $^T));
$node->stop;
done_testing();
