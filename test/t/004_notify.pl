# Progress notifications: a client LISTENing on batch_ops_progress receives JSON payloads
# for a background batch (ids and counts only), processed never goes down, and the last
# payload carries the terminal status with processed = total.
use strict;
use warnings;

use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use BatchOpsTAP;

start_watchdog(120);

my $total = 200;
my $node = new_batch_node('notify', <<'EOF');
batch_ops.chunk_size = 20
batch_ops.notify_interval = 0
EOF
# 10 ms per chunk: ten chunk commits spread over about 0.1 s.
setup_items($node, 'postgres', $total, 0.01);

# The listener: psql reading its commands from a pipe. It prints the notifications it
# has received after the next command it runs.
my ($in, $out, $err) = ('', '', '');
my $timer = IPC::Run::timer(60);
my $listener = IPC::Run::start(
	[ ($node->can('installed_command') ? $node->installed_command('psql') : 'psql'), '-XAtq', '-d', $node->connstr('postgres'), '-f', '-' ],
	'<', \$in, '>', \$out, '2>', \$err, $timer);

# Sends SQL to the listener and returns its output once a marker comes back.
my $marks = 0;
sub listener_run
{
	my ($sql) = @_;
	my $mark = 'listener_done_' . ++$marks;
	$out = '';
	$in .= "$sql\n\\echo $mark\n";
	$timer->start(30);
	$listener->pump until $out =~ /^$mark$/m || $timer->is_expired;
	die "the listener did not answer within 30 s (stderr: $err)" if $timer->is_expired;
	(my $got = $out) =~ s/^$mark\n//m;
	return $got;
}

listener_run('LISTEN batch_ops_progress;');
is($err, '', 'the listener is LISTENing on batch_ops_progress');

my $id = submit_batch($node, 'postgres', 1, $total);
ok($id, "background batch $id submitted");

my $w = $node->safe_psql('postgres',
	"SELECT status, processed, total FROM batch_ops.batch_wait($id, '60 s')");
is($w, "succeeded|$total|$total", 'the batch succeeded');

# Notifications of the last chunk are sent at its commit; let the listener pick them up.
my $text = listener_run('SELECT 1;');
my $deadline = time() + 10;
while ($text !~ /"status": ?"succeeded"/ && time() < $deadline)
{
	select(undef, undef, undef, 0.2);
	$text .= listener_run('SELECT 1;');
}
$in .= "\\q\n";
$listener->finish;

my @payloads;
for my $line (split /\n/, $text)
{
	next unless $line =~ /^Asynchronous notification "([^"]+)" with payload "(.*)" received from server process with PID (\d+)\.$/;
	next unless $1 eq 'batch_ops_progress';
	push @payloads, $2;
}
note("payloads:\n" . join("\n", @payloads));
ok(@payloads >= 1, scalar(@payloads) . ' progress payload(s) received')
  or diag("listener output:\n$text\nstderr: $err");

my @docs;
my $bad_json = 0;
for my $p (@payloads)
{
	my $doc = eval { decode_json($p) };
	if (!$doc || ref($doc) ne 'HASH') { $bad_json++; diag("not a JSON object: $p"); next; }
	push @docs, $doc;
}
is($bad_json, 0, 'every payload is a JSON object');

my %allowed = map { $_ => 1 }
  qw(job_id status progress processed total success_count failure_count);
my (@foreign, @other_job, @missing);
for my $d (@docs)
{
	push @foreign, grep { !$allowed{$_} } sort keys %$d;
	push @other_job, $d->{job_id} // 'null' if ($d->{job_id} // -1) != $id;
	push @missing, grep { !exists $d->{$_} } sort keys %allowed;
}
is(join(',', @foreign), '', 'payloads carry only ids and counts (no other keys)');
is(join(',', @missing), '', 'payloads carry job_id, status, progress, processed, total, success_count, failure_count');
is(join(',', @other_job), '', "every payload is about batch $id");

my ($prev, $decreasing) = (-1, 0);
for my $d (@docs)
{
	my $p = $d->{processed} // -1;
	$decreasing++ if $p < $prev;
	$prev = $p;
}
is($decreasing, 0, 'processed never decreases from one payload to the next');

my $last = $docs[-1] // {};
is($last->{status} // '', 'succeeded', 'the last payload has the terminal status succeeded');
is($last->{processed} // -1, $total, 'the last payload has processed = total');
is($last->{total} // -1, $total, 'the last payload has total');
is($last->{success_count} // -1, $total, 'the last payload has success_count = total');
my $counts_ok = grep {
	($_->{success_count} // 0) + ($_->{failure_count} // 0) <= ($_->{processed} // 0)
	  && ($_->{processed} // 0) <= ($_->{total} // 0)
} @docs;
is($counts_ok, scalar(@docs), 'success + failure <= processed <= total in every payload');

$node->stop;
done_testing();
