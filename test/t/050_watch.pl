# batch_ops_watch (src/watch, docs/watch.md): --job follows one batch and exits with its
# outcome (0 succeeded, 1 failed, 2 cancelled; 4 for a batch the role may not see, 3 when
# the connection is gone for good), also for a batch that ended before it started; plain
# lines without escape codes when stdout is not a terminal; --json lines that parse;
# --all shows only the role's own batches (row level security); a server restart is
# survived; and in a real terminal (tmux) --all redraws one line per batch in place until
# its bar reaches 100 %.
use strict;
use warnings;

use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use BatchOpsTAP;

start_watchdog(300);

# 400 items in chunks of 20, each chunk at least 0.1 s: about 2 s per batch.
my $node = new_batch_node('watch', <<'EOF');
batch_ops.chunk_size = 20
batch_ops.max_items = 10000
EOF
setup_items($node, 'postgres', 400, 0.1);
$node->safe_psql('postgres', <<'EOF');
CREATE ROLE alice LOGIN IN ROLE batch_ops_user;
CREATE ROLE bob LOGIN;
GRANT USAGE ON SCHEMA app TO alice;
GRANT SELECT, UPDATE ON app.items TO alice;
GRANT SELECT ON app.knob TO alice;
GRANT INSERT ON app.applied TO alice;
EOF

my $watch = $node->config_data('--bindir') . '/batch_ops_watch';
ok(-x $watch, "batch_ops_watch is installed in the bindir ($watch)");
my $connstr = $node->connstr('postgres');

# Submits a background status_update of ids FROM..TO (ids above 400 do not exist) as
# ROLE (default the superuser); returns its id.
sub submit
{
	my ($from, $to, $status, $role) = @_;
	my $sql = ($role ? "SET ROLE $role; " : '')
	  . "SELECT batch_ops.batch_execute(" . ids_request($from, $to, $status) . ")->>'operation_id'";
	my $id = $node->safe_psql('postgres', $sql);
	die "batch_execute returned no operation_id" unless $id =~ /^\d+$/;
	return $id;
}

# Runs batch_ops_watch with ARGS to its end (at most SECS); returns exit code, stdout,
# stderr and the seconds it took.
sub run_watch
{
	my ($args, $secs) = @_;
	my ($out, $err) = ('', '');
	my $t0 = time();
	IPC::Run::run([ $watch, @$args ], '<', \undef, '>', \$out, '2>', \$err,
		IPC::Run::timeout($secs // 60));
	my $rc = $? >> 8;
	return ($rc, $out, $err, time() - $t0);
}

# Starts batch_ops_watch with ARGS in the background: the harness and references to its
# stdout and stderr.
sub start_watch
{
	my ($args) = @_;
	my ($out, $err) = (\(my $o = ''), \(my $e = ''));
	my $h = IPC::Run::start([ $watch, @$args ], '<', \undef, '>', $out, '2>', $err,
		IPC::Run::timeout(120));
	return ($h, $out, $err);
}

# Pumps H until its stdout matches RE or SECS pass; true on a match.
sub pump_watch
{
	my ($h, $out, $re, $secs) = @_;
	my $deadline = time() + $secs;
	while (time() < $deadline)
	{
		$h->pump_nb;
		return 1 if $$out =~ $re;
		usleep(50_000);
	}
	return 0;
}

sub lines_of { return grep { $_ ne '' } split /\n/, $_[0]; }

# The plain line of batch ID ended STATUS with OK succeeded and FAIL failed items, its
# bar at PCT percent.
sub final_line_re
{
	my ($id, $pct, $ok, $fail, $status) = @_;
	my $hashes = int($pct * 20 / 100);
	my $bar = ('#' x $hashes) . ('-' x (20 - $hashes));
	return qr/^\s*$id  status_update  items\s+\[\Q$bar\E\]\s+\Q$pct\E%.*\bin  \d+:\d\d:\d\d  ok $ok  fail $fail  $status\b/;
}

# --- a batch that succeeds, followed from before it runs --------------------------------
my $ok_id = submit(1, 400, 'done');
my ($rc, $out, $err, $took) = run_watch([ '-d', $connstr, '--job', $ok_id ]);
is($rc, 0, "--job $ok_id: exit 0 for a succeeded batch") or diag("stderr: $err\nstdout: $out");
my @lines = lines_of($out);
like($lines[-1], final_line_re($ok_id, '100.0', 400, 0, 'succeeded'),
	'the last line: full bar, 100.0%, ok 400, succeeded');
ok(@lines >= 2, scalar(@lines) . ' lines: the batch was seen before it ended')
  or diag($out);
ok((grep { /\b(queued|running)$/ } @lines[ 0 .. $#lines - 1 ]), 'a line shows it queued or running');
unlike($out, qr/\e/, 'stdout is not a terminal: no escape codes');
my @pcts = map { /\]\s+([\d.]+)%/ ? $1 : () } @lines;
is_deeply([ sort { $a <=> $b } @pcts ], \@pcts, 'the percentage never goes down');
is($err, '', 'nothing on stderr');

# --- a batch that fails (ids 381..420: 20 of them do not exist) ---------------------------
my $fail_id = submit(381, 420, 'failing');
($rc, $out, $err) = run_watch([ '-d', $connstr, '--job', $fail_id ]);
is($rc, 1, "--job $fail_id: exit 1 for a failed batch") or diag("stderr: $err\nstdout: $out");
@lines = lines_of($out);
like($lines[-1], final_line_re($fail_id, '100.0', 20, 20, 'failed'), 'the last line: ok 20, fail 20, failed');
like($lines[-1], qr/NOT_FOUND/, 'the last line names the error code');

# Seconds each chunk of 20 items lasts at least (app.knob, read by every statement).
sub set_delay
{
	$node->safe_psql('postgres', "UPDATE app.knob SET delay = $_[0]");
}

# --- a batch that is cancelled while watched ------------------------------------------------
set_delay(0.5);    # 10 s for the batch: time to cancel it part-way
my $cancel_id = submit(1, 400, 'cancelled');
my ($h, $hout, $herr) = start_watch([ '-d', $connstr, '--job', $cancel_id ]);
ok(pump_watch($h, $hout, qr/ok [1-9]\d*  fail 0  running/, 30), 'the watch shows the batch running part-way')
  or diag($$hout);
is($node->safe_psql('postgres', "SELECT batch_ops.batch_cancel($cancel_id)"), 't', 'batch_cancel');
$h->finish;
is($h->result(0), 2, "--job $cancel_id: exit 2 for a cancelled batch") or diag("stderr: $$herr\nstdout: $$hout");
set_delay(0.1);
@lines = lines_of($$hout);
like($lines[-1], qr/^\s*$cancel_id  status_update .*  cancelled$/, 'the last line: cancelled');
if ($lines[-1] =~ /\]\s+([\d.]+)%.* ok (\d+)  fail 0/)
{
	cmp_ok($1, '<', 100, 'a cancelled batch shows the share that ran, not 100 %');
	is($1, sprintf('%.1f', 100 * $2 / 400), 'that share is what succeeded');
}
else
{
	fail('the cancelled line has a percentage and counts') for 1 .. 2;
}

# --- batches that ended before the watch started: reported at once -------------------------
for my $case ([ $ok_id, 0, 'succeeded' ], [ $fail_id, 1, 'failed' ], [ $cancel_id, 2, 'cancelled' ])
{
	my ($id, $code, $status) = @$case;
	($rc, $out, $err, $took) = run_watch([ '-d', $connstr, '--job', $id ]);
	is($rc, $code, "an ended batch ($status): exit $code");
	@lines = lines_of($out);
	is(scalar(@lines), 1, "one line for the ended batch $id");
	like($lines[0], qr/^\s*$id  .*  \Q$status\E\b/, "it says $status");
	cmp_ok($took, '<', 5, sprintf('it exits at once (%.1f s)', $took));
}

# --- batches that are not there or not visible; connection errors --------------------------
($rc, $out, $err) = run_watch([ '-d', $connstr, '--job', 999999 ]);
is($rc, 4, 'no such batch: exit 4');
like($err, qr/batch 999999 does not exist or role "postgres" may not see it/, 'no such batch: the message');
($rc, $out, $err) =
  run_watch([ '-h', $node->host, '-p', $node->port, '-U', 'alice', '-d', 'postgres', '--job', $ok_id ]);
is($rc, 4, "another role's batch (alice watching the superuser's): exit 4");
like($err, qr/batch $ok_id does not exist or role "alice" may not see it/, 'not visible: the message');
($rc, $out, $err) = run_watch([ '-d', "$connstr user=bob", '--job', $ok_id ]);
is($rc, 4, 'a role outside batch_ops_user: exit 4');
like($err, qr/permission denied.*\n.*needs to be a member of batch_ops_user/,
	'not a member: the message and what to do');
($rc, $out, $err) = run_watch([ '-h', $node->host, '-p', 1, '-d', 'postgres', '--job', $ok_id ]);
is($rc, 3, 'no server there: exit 3');
like($err, qr/could not connect/, 'no server: the message');
($rc, $out, $err) = run_watch([ '--job', 'x' ]);
is($rc, 5, 'a bad batch id: exit 5 (usage)');

# --- --json: one object per line, built by PostgreSQL ---------------------------------------
my $json_id = submit(1, 400, 'json');
($rc, $out, $err) = run_watch([ '-d', $connstr, '--job', $json_id, '--json' ]);
is($rc, 0, '--json --job: exit 0');
my @docs;
my $bad = 0;
for my $line (lines_of($out))
{
	my $doc = eval { decode_json($line) };
	if ($doc) { push @docs, $doc; }
	else { $bad++; diag("not JSON: $line ($@)"); }
}
is($bad, 0, 'every --json line parses');
ok(@docs >= 2, scalar(@docs) . ' JSON objects');
is(scalar(grep { $_->{job_id} != $json_id } @docs), 0, 'all of them are of the batch');
my $last = $docs[-1] // {};
is($last->{status}, 'succeeded', 'the last object: succeeded');
ok($last->{ended}, 'the last object: ended is true');
is(join('/', map { $_ // 'null' } @$last{qw(processed total success_count)}), '400/400/400', 'the last object: counts');
ok(defined $last->{items_per_second} && $last->{items_per_second} > 0, 'the last object: items_per_second');
ok(exists $last->{progress} && exists $last->{started_at} && exists $last->{observed_at},
	'the last object has the columns of batch_ops.jobs');
ok(@docs && !$docs[0]{ended}, 'the first object: not ended yet');

# --- --all --json as alice: her batches only ----------------------------------------------
($h, $hout, $herr) =
  start_watch([ '-h', $node->host, '-p', $node->port, '-U', 'alice', '-d', 'postgres', '--all', '--json' ]);
usleep(500_000);
my $su_id = submit(1, 200, 'su');
my $alice_id = submit(201, 400, 'alice', 'alice');
ok(pump_watch($h, $hout, qr/"job_id":$alice_id,.*"status":"succeeded"/, 60),
	"--all shows alice's batch $alice_id until it succeeds")
  or diag("stdout: $$hout\nstderr: $$herr");
wait_until($node, 'postgres', "SELECT status FROM batch_ops.jobs WHERE job_id = $su_id",
	'succeeded', 60, "the superuser's batch to end");
usleep(1_500_000);    # a refresh or two after that
$h->signal('TERM');
$h->finish;
is($h->result(0), 0, '--all: exit 0 on SIGTERM');
my %ids;
for my $line (lines_of($$hout))
{
	my $doc = eval { decode_json($line) };
	$ids{ $doc ? $doc->{job_id} : 'not json' }++;
}
is_deeply([ sort keys %ids ], [$alice_id], "--all as alice: only alice's batch (not the superuser's $su_id)");

# --- a server restart while watching: reconnect, re-read, exit with the outcome ---------------
set_delay(0.3);    # 6 s: the restart comes part-way
my $restart_id = submit(1, 400, 'restart');
($h, $hout, $herr) = start_watch([ '-d', $connstr, '--job', $restart_id ]);
ok(pump_watch($h, $hout, qr/running/, 30), 'watching the batch run') or diag($$hout);
$node->restart;
$h->finish;
is($h->result(0), 0, 'after a server restart: exit 0 when the batch succeeds')
  or diag("stdout: $$hout\nstderr: $$herr");
like($$herr, qr/connection lost.*reconnecting.*\n.*reconnected/s, 'it said it lost the connection and reconnected');
like((lines_of($$hout))[-1], qr/  succeeded$/, 'the last line: succeeded');

my $gone_id = submit(1, 400, 'gone');
($h, $hout, $herr) = start_watch([ '-d', $connstr, '--job', $gone_id, '--reconnect-timeout', '2' ]);
ok(pump_watch($h, $hout, qr/running/, 30), 'watching another batch run') or diag($$hout);
$node->stop('fast');
$h->finish;
is($h->result(0), 3, 'the server stays down: exit 3 after --reconnect-timeout');
like($$herr, qr/giving up after \d+ attempts?/, 'it said it gave up');
$node->start;
set_delay(0.1);

# --- a real terminal: tmux runs --all; one line per batch, redrawn in place -----------------
SKIP:
{
	my ($tmux) = grep { -x $_ } map { "$_/tmux" } split /:/, ($ENV{PATH} // '');
	skip 'tmux is not installed (test/lib.sh ensure_deps installs it as root when it can): '
	  . 'the terminal test is skipped', 6
	  unless $tmux;
	my $sock = "$PostgreSQL::Test::Utils::tmp_check/tmux.sock";
	my @tmux = ($tmux, '-S', $sock);
	my $cmd = sprintf("PGHOST='%s' PGPORT='%s' PGDATABASE=postgres '%s' --all; echo WATCH_EXIT=\$?; sleep 60",
		$node->host, $node->port, $watch);
	IPC::Run::run([ @tmux, 'new-session', '-d', '-s', 'watch', '-x', '160', '-y', '40', $cmd ])
	  or die "tmux new-session failed";
	my $capture = sub {
		my $screen = '';
		IPC::Run::run([ @tmux, 'capture-pane', '-p', '-t', 'watch' ], '>', \$screen);
		return $screen;
	};
	my $wait_screen = sub {
		my ($re, $secs) = @_;
		my $deadline = time() + $secs;
		my $screen = '';
		while (time() < $deadline)
		{
			$screen = $capture->();
			return $screen if $screen =~ $re;
			usleep(100_000);
		}
		diag("screen:\n$screen");
		return undef;
	};
	ok(defined $wait_screen->(qr/batch_ops_watch: 0 active batches/, 20), 'the terminal shows the header');
	my $tty_id = submit(1, 400, 'tty');
	my $mid = $wait_screen->(qr/^\s*$tty_id  status_update\s+items\s+\[#+-+\]\s+\d+\.\d%.*running$/m, 30);
	ok(defined $mid, 'a partial bar while the batch runs');
	my @seen = grep { /^\s*$tty_id  / } split /\n/, ($mid // '');
	is(scalar(@seen), 1, 'one line for the batch (redrawn in place, not appended)');
	my $end = $wait_screen->(qr/^\s*$tty_id  status_update\s+items\s+\[#{40}\]\s+100\.0%.*succeeded$/m, 30);
	ok(defined $end, 'the bar reaches 100 % and the batch is shown succeeded');
	@seen = grep { /^\s*$tty_id  / } split /\n/, ($end // '');
	is(scalar(@seen), 1, 'still one line for the batch');
	IPC::Run::run([ @tmux, 'send-keys', '-t', 'watch', 'C-c' ]);
	ok(defined $wait_screen->(qr/WATCH_EXIT=0/, 10), 'Ctrl-C ends it with exit 0');
	IPC::Run::run([ @tmux, 'kill-server' ]);
}

$node->stop;
done_testing();
