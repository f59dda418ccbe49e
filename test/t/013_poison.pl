# A batch whose chunk crashes its worker (issue 8, defect 2) is failed and quarantined
# after the FIRST crash, with the reason recorded (last_error, a `quarantined` event, a
# log line), instead of crashing the server again and again. A batch that shared the
# crashed transaction is resumed and succeeds.
#
# The crash is real: a trigger on the target makes the executor send itself SIGSEGV
# (COPY ... TO PROGRAM 'kill -SEGV <pid>'; the submitter is a superuser here) in the
# middle of chunk 0, and the postmaster restarts every backend.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use BatchOpsTAP;

start_watchdog(150);

my $node = new_batch_node('poison', <<'EOF');
restart_after_crash = on
batch_ops.chunk_size = 5
batch_ops.poll_interval = '500ms'
EOF
setup_items($node, 'postgres', 100, 0);
$node->safe_psql('postgres', <<'EOF');
UPDATE app.items SET note = 'crash' WHERE id = 3;
CREATE FUNCTION app.crash() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.note IS NOT DISTINCT FROM 'crash' THEN
        EXECUTE pg_catalog.format('COPY (SELECT 1) TO PROGRAM %L',
                                  'kill -SEGV ' || pg_catalog.pg_backend_pid());
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER items_crash BEFORE UPDATE ON app.items FOR EACH ROW EXECUTE FUNCTION app.crash();
TRUNCATE app.applied;
EOF

my $log_offset = -s $node->logfile;
# The poison batch (ids 1..10, id 3 in chunk 0) and an innocent one, committed together so
# that their first chunks share the transaction that crashes.
my $out = $node->safe_psql('postgres',
	"BEGIN;\n"
	  . "SELECT batch_ops.batch_execute(" . ids_request(1, 10) . ")->>'operation_id';\n"
	  . "SELECT batch_ops.batch_execute(" . ids_request(50, 60) . ")->>'operation_id';\n"
	  . "COMMIT;");
my ($poison, $innocent) = grep { /^\d+$/ } split /\n/, $out;
ok($poison && $innocent, "poison batch $poison and innocent batch $innocent submitted");

my $crashed = eval {
	my $deadline = time() + 30;
	while (time() < $deadline)
	{
		my $log = slurp_file($node->logfile, $log_offset);
		return 1 if $log =~ /all server processes terminated; reinitializing/;
		usleep(100_000);
	}
	0;
};
ok($crashed, 'the chunk crashed the executor and the postmaster restarted the backends');

my $st = wait_until($node, 'postgres',
	"SELECT status FROM batch_ops.batch WHERE id = $poison", qr/^(failed|succeeded|cancelled)$/, 60,
	"the poison batch $poison to end");
is($st, 'failed', 'the poison batch ended failed') or diag(log_excerpt($node, $log_offset));
is($node->safe_psql('postgres', "SELECT status FROM batch_ops.batch_wait($innocent, '60 s')"),
	'succeeded', 'the innocent batch of the same transaction was resumed and succeeded')
  or diag(log_excerpt($node, $log_offset));

my ($last_error, $code) = split /\|/, $node->safe_psql('postgres',
	"SELECT last_error, last_error_code FROM batch_ops.batch WHERE id = $poison");
like($last_error, qr/terminated by signal 11 \(Segmentation fault\).*quarantined/,
	'last_error gives the signal and says the batch is quarantined');
is($code, 'ERROR', 'last_error_code ERROR');
is($node->safe_psql('postgres',
		"SELECT detail->>'chunk', detail->>'signal' FROM batch_ops.batch_event "
		  . "WHERE batch_id = $poison AND event = 'quarantined'"),
	'0|11', 'a quarantined event names chunk 0 and signal 11');
is($node->safe_psql('postgres',
		"SELECT count(*) FILTER (WHERE status = 'failed' AND error_code = 'ERROR'), count(*) "
		  . "FROM batch_ops.job_items WHERE job_id = $poison"),
	'10|10', 'every item of the poison batch failed with ERROR');
is($node->safe_psql('postgres', 'SELECT count(*) FROM app.applied WHERE id BETWEEN 1 AND 10'),
	'0', 'nothing of the poison batch was applied');
check_exactly_once($node, 'postgres', $innocent, 50, 60, 'innocent batch');

# Still one crash a little later: the batch never ran again.
sleep 2;
my $log = slurp_file($node->logfile, $log_offset);
my $signals = () = $log =~ /\(PID \d+\) was terminated by signal 11/g;
is($signals, 1, 'exactly one process died of signal 11');
my $restarts = () = $log =~ /all server processes terminated; reinitializing/g;
is($restarts, 1, 'the postmaster restarted the backends once');
like($log, qr/batch $poison crashed its worker and was failed and quarantined/, 'a log line says so');
opendir(my $dh, $node->data_dir . '/pg_batch_ops') or die "no pg_batch_ops directory: $!";
my @left = grep { !/^\./ } readdir($dh);
closedir($dh);
is(scalar(@left), 0, 'the crash record was removed once handled') or diag("left: @left");

# The executor serves on.
$node->safe_psql('postgres',
	'ALTER TABLE app.items DISABLE TRIGGER items_crash; UPDATE app.items SET note = NULL WHERE id = 3');
my $after = submit_batch($node, 'postgres', 70, 80);
is($node->safe_psql('postgres', "SELECT status FROM batch_ops.batch_wait($after, '30 s')"),
	'succeeded', 'a later batch succeeds');

$node->stop;
done_testing();
