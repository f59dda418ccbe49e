// The executor: a background worker connected to one database that claims
// queued batches and runs them chunk by chunk, one transaction per chunk, as
// the submitting role.
#include "workers/executor.hpp"

#include <algorithm>
#include <atomic>
#include <deque>
#include <cstdio>
#include <cstring>
#include <set>
#include <unordered_map>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "core/error.hpp"
#include "core/results.hpp"
#include "ops/citus.hpp"
#include "ops/progress.hpp"
#include "ops/runner.hpp"
#include "ops/sync.hpp"
#include "ops/target_catalog.hpp"
#include "pg/jsonb.hpp"
#include "pg/security.hpp"
#include "pg/spi.hpp"
#include "pg/settings.hpp"
#include "store/background.hpp"
#include "store/batch_store.hpp"
#include "store/dependencies.hpp"
#include "store/steering.hpp"
#include "workers/shared.hpp"

extern "C" {
#include "commands/extension.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"
#include "utils/wait_event.h"
}

namespace batch_ops::workers {

using core::BatchStatus;
using ops::fail_or_retry;
using store::Candidate;
using store::cancel_pending;
using store::finish_background;
using store::Progress;
using store::RowLock;
using store::Throttle;

namespace {

volatile sig_atomic_t g_sigterm = 0;
int g_slot = -1;
bool g_busy = false;  // holding claimed batches that are not finished
Oid g_dboid = InvalidOid;
// The chunk in flight, for the fatal-signal handler (plain data only).
volatile int64_t g_inflight_batch = 0;
volatile int32_t g_inflight_chunk = -1;

// Crash records of batches whose chunk killed its executor, relative to the
// data directory (every backend's working directory): one file per crash,
// crash.<database oid>.<batch id>.<pid>, holding "<chunk> <signal>".
constexpr const char* kCrashDir = "pg_batch_ops";
constexpr const char* kCrashPrefix = "crash.";

void on_sigterm(SIGNAL_ARGS) {
    int save_errno = errno;
    g_sigterm = 1;
    SetLatch(MyLatch);
    errno = save_errno;
}

// Async-signal-safe decimal output.
char* put_decimal(char* p, uint64_t v) {
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0) *p++ = tmp[--n];
    return p;
}

// SIGSEGV, SIGBUS, SIGILL, SIGABRT: the process is about to die and the
// postmaster to restart every backend. Shared memory does not survive that
// restart, so the batch whose chunk was in flight is recorded in a file
// (open/write/close are async-signal-safe), then the process dies of the same
// signal (SA_RESETHAND restored the default action). The next claim fails the
// batch instead of running the chunk again (Executor::claim).
void on_fatal_signal(int signo) {
    const int64_t batch = g_inflight_batch;
    if (batch > 0) {
        char path[128];
        char* p = path;
        for (const char* c = kCrashDir; *c; ++c) *p++ = *c;
        *p++ = '/';
        for (const char* c = kCrashPrefix; *c; ++c) *p++ = *c;
        p = put_decimal(p, g_dboid);
        *p++ = '.';
        p = put_decimal(p, static_cast<uint64_t>(batch));
        *p++ = '.';
        p = put_decimal(p, static_cast<uint64_t>(MyProcPid));
        *p = '\0';
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            char line[48];
            char* q = line;
            const int32_t chunk = g_inflight_chunk;
            q = put_decimal(q, chunk < 0 ? 0 : static_cast<uint64_t>(chunk));
            *q++ = ' ';
            q = put_decimal(q, static_cast<uint64_t>(signo));
            *q++ = '\n';
            ssize_t written = write(fd, line, static_cast<size_t>(q - line));
            (void)written;
            close(fd);
        }
    }
    raise(signo);
}

void install_fatal_signal_handlers() {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sa.sa_flags = SA_RESETHAND | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (int signo : {SIGSEGV, SIGBUS, SIGILL, SIGABRT}) sigaction(signo, &sa, nullptr);
}

struct CrashRecord {
    int64_t batch = 0;
    int chunk = 0;
    int signo = 0;
    long pid = 0;
    std::string path;
};

// The crash records of this database.
std::vector<CrashRecord> crash_records(Oid dboid) {
    std::vector<CrashRecord> out;
    DIR* dir = opendir(kCrashDir);
    if (!dir) return out;
    const std::string prefix = std::string(kCrashPrefix) + std::to_string(dboid) + ".";
    while (struct dirent* de = readdir(dir)) {
        const char* name = de->d_name;
        if (strncmp(name, prefix.c_str(), prefix.size()) != 0) continue;
        unsigned long long batch = 0;
        long pid = 0;
        if (sscanf(name + prefix.size(), "%llu.%ld", &batch, &pid) != 2) continue;
        CrashRecord r;
        r.batch = static_cast<int64_t>(batch);
        r.pid = pid;
        r.path = std::string(kCrashDir) + "/" + name;
        if (FILE* f = fopen(r.path.c_str(), "r")) {
            if (fscanf(f, "%d %d", &r.chunk, &r.signo) != 2) r.chunk = r.signo = 0;
            fclose(f);
        }
        out.push_back(std::move(r));
    }
    closedir(dir);
    return out;
}

void release_slot(int, Datum) {
    Shared* sh = shared();
    if (!sh || g_slot < 0) return;
    LWLockAcquire(sh->lock, LW_EXCLUSIVE);
    ExecutorSlot& e = sh->executors[g_slot];
    if (g_busy) {
        // Leaving in the middle of batches (SIGTERM): another executor must
        // take them over, so the database has work.
        for (auto& d : sh->dbs)
            if (d.dboid == e.dboid) d.pending = true;
    }
    if (e.pid == MyProcPid) {
        e.pid = 0;
        e.latch = nullptr;
        e.idle = false;
        e.leave = false;
        e.batch = 0;
        e.cancel_inflight = 0;
        e.cancel_check = false;
    }
    if (sh->launcher_latch) SetLatch(sh->launcher_latch);
    LWLockRelease(sh->lock);
}

// Why the executor stops looking for work.
enum class Stop { None, Sigterm, Leave, NoExtension };

// What a query cancel (57014) that ended a transaction means.
enum class Interrupt {
    None,      // not a query cancel, or a real one (pg_cancel_backend, statement timeout): an error
    Cancel,    // batch_cancel interrupted the chunk in flight: cancel that batch
    Spurious,  // a SIGINT of batch_cancel meant for a chunk that had already ended: run it again
};

// The SQLSTATE of a caught exception.
std::string sqlstate_of(const std::exception& e) {
    if (auto* pe = dynamic_cast<const pg::PgError*>(&e)) return pe->sqlstate();
    if (auto* ce = dynamic_cast<const core::Error*>(&e)) return ce->sqlstate();
    return core::sqlstate::internal_error;
}

void log_line(const std::string& message) {
    const char* m = message.c_str();
    pg::guard([&] { ereport(LOG, (errmsg_internal("%s", m))); });
}

class Executor {
public:
    Executor(int slot, Oid dboid) : slot_(slot), dboid_(dboid) {
        cxt_ = AllocSetContextCreate(TopMemoryContext, "batch_ops executor", ALLOCSET_DEFAULT_SIZES);
    }
    void run();

private:
    // Runs body in a transaction of its own with SPI connected; commits.
    // A PostgreSQL error aborts the transaction and is rethrown.
    template <typename F>
    void transaction(const char* activity, F&& body);
    // A bookkeeping transaction: run again after a spurious interrupt; any
    // other error is logged. False if it did not commit.
    template <typename F>
    bool bookkeeping(const char* activity, F&& body);

    Stop check_stop();
    bool extension_usable(pg::Spi& spi);
    std::vector<int64_t> claim(pg::Spi& spi, int max);
    // Queued batches whose time has come, at most `room`, of the roles in
    // turn order (not those of `skip`), one each round after round; they
    // become running, owned by this executor. Claims of a database are
    // serialized (a lock of our own).
    std::vector<int64_t> claim_queued(pg::Spi& spi, int room, const std::vector<Oid>& skip);
    void learn_roles(pg::Spi& spi, const std::vector<int64_t>& ids);
    // Fairness between chunks: another role's batch has waited and no idle
    // executor here can take it: claim it and run it beside ours.
    void take_turns();
    void enqueue(const std::vector<int64_t>& ids);
    // Runs the owned batches chunk by chunk, one lane per role in turn.
    // False when the executor must stop (SIGTERM, leave).
    bool run_lanes();
    void quarantine(pg::Spi& spi, int64_t id, const CrashRecord& crash);
    // Runs the next chunk of a claimed batch; false once the batch has ended.
    bool run_chunk(pg::Spi& spi, int64_t id);
    void end_batch(pg::Spi& spi, int64_t id, bool cancelling);
    // A paused running batch goes back to the queue (paused), its progress
    // kept; false if the pause was withdrawn meanwhile (the batch goes on).
    bool hand_back(pg::Spi& spi, int64_t id);
    // One chunk of a batch in a transaction of its own, every error handled:
    // false once the batch is no longer this executor's (ended, cancelled,
    // failed, queued for a retry, or left to the next claim).
    bool step(int64_t id);
    // The first chunks of claimed batches, together; those with chunks left go to `more`.
    void run_bundle(std::vector<int64_t> todo, std::vector<int64_t>* more);
    void fail_batch(int64_t id, const std::exception& e);
    void cancel_batch(int64_t id);
    void process_cancel_requests();
    Interrupt interrupt_of(const std::exception& e);
    void absorb_interrupts();
    void set_inflight(int64_t id);
    void clear_inflight();
    bool try_own(int64_t id);
    void disown(int64_t id);
    void disown_all(bool report);
    void forget(int64_t id);
    void go_idle();
    void cleanup_expired();

    // The batch's request (parsed once per batch) and its state, its row locked.
    const core::Request& request_of(pg::Spi& spi, int64_t id, store::BatchState* state);

    int slot_;
    Oid dboid_;
    MemoryContext cxt_;
    std::unordered_map<int64_t, core::Request> requests_;
    std::unordered_map<int64_t, int> next_chunk_;  // where a running batch goes on
    std::unordered_map<int64_t, int64_t> sync_runs_;  // sync batch -> its sync_run row in progress
    Throttle throttle_;
    static constexpr int kBundle = 32;  // batches claimed at once
    TimestampTz last_cleanup_ = 0;
    int64_t wait_ms_ = -1;  // until the earliest next_attempt_at, when known
    TimestampTz next_due_ = 0;  // that moment, handed to the launcher when leaving
    // Batches this executor owns: it holds their advisory lock (session level).
    std::set<int64_t> owned_;
    int64_t inflight_ = 0;          // the batch whose chunk runs now
    uint32_t handled_signals_ = 0;  // batch_cancel's SIGINTs accounted for (one per query cancel)
    std::vector<int64_t> quarantined_;       // failed by the last claim: disowned after its commit
    std::vector<std::string> crash_files_;   // crash records handled by the last claim
    // Fairness: the role of each owned batch, and the batches with chunks
    // left, one lane per role (run in turn, chunk by chunk; a lane's batches
    // one after the other, in claiming order).
    std::unordered_map<int64_t, Oid> role_of_;
    struct Lane {
        Oid role;
        std::deque<int64_t> batches;
    };
    std::vector<Lane> lanes_;
    TimestampTz last_turn_check_ = 0;
    static constexpr int kTurnCheckMs = 100;  // how often a busy executor looks for other roles' work
    std::set<int64_t> limited_;  // owned batches of a target with max_concurrency: their end wakes the others
    bool more_waiting_ = false;  // the last claim left claimable batches behind
};

template <typename F>
void Executor::transaction(const char* activity, F&& body) {
    pg::guard([&] {
        SetCurrentStatementStartTimestamp();
        StartTransactionCommand();
        // batch_ops.lock_timeout bounds every worker transaction;
        // batch_ops.statement_timeout is armed here and again for every
        // chunk (run_chunk): a client statement gets its statement_timeout
        // from the protocol loop, which workers do not have.
        if (settings::lock_timeout_ms > 0) {
            char v[32];
            snprintf(v, sizeof v, "%d", settings::lock_timeout_ms);
            (void)set_config_option("lock_timeout", v, PGC_SUSET, PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
        }
        if (settings::statement_timeout_ms > 0) enable_timeout_after(STATEMENT_TIMEOUT, settings::statement_timeout_ms);
        PushActiveSnapshot(GetTransactionSnapshot());
        pgstat_report_activity(STATE_RUNNING, activity);
    });
    std::exception_ptr failure;
    try {
        pg::with_spi([&](pg::Spi& spi) { body(spi); });
        pg::guard([] {
            disable_timeout(STATEMENT_TIMEOUT, false);
            PopActiveSnapshot();
            CommitTransactionCommand();
            pgstat_report_activity(STATE_IDLE, nullptr);
            // batch_wait callers look again.
            batch_changed();
        });
        MemoryContextSwitchTo(cxt_);
    } catch (...) {
        failure = std::current_exception();  // cleaned up below, outside the handler
    }
    if (!failure) return;
    // A PostgreSQL error was caught and flushed by the guard: clean up the
    // transaction (locks, buffers, SPI) the way the error would have. This
    // frame owns nothing that a longjmp could skip (the exception is held in
    // an exception_ptr, rethrown after).
    disable_timeout(STATEMENT_TIMEOUT, false);  // pg-boundary: only cancels a timer
    AbortCurrentTransaction();  // pg-boundary: the abort after a caught error; FATAL at worst
    next_chunk_.clear();  // what this transaction did is undone: look again from the start
    sync_runs_.clear();
    MemoryContextSwitchTo(cxt_);
    std::rethrow_exception(failure);
}

template <typename F>
bool Executor::bookkeeping(const char* activity, F&& body) {
    for (int attempt = 0;; ++attempt) {
        try {
            transaction(activity, body);
            return true;
        } catch (const std::exception& e) {
            if (interrupt_of(e) == Interrupt::Spurious && attempt < 3) continue;
            log_line(std::string("batch_ops executor: ") + activity + " failed: " + e.what());
            return false;
        }
    }
}

Stop Executor::check_stop() {
    if (g_sigterm) return Stop::Sigterm;
    Shared* sh = shared();
    LWLockAcquire(sh->lock, LW_EXCLUSIVE);
    bool leave = sh->executors[slot_].leave;
    // Stepping aside with a retry still to come: the launcher starts an
    // executor here again when it is due.
    if (leave && next_due_ != 0)
        for (auto& d : sh->dbs)
            if (d.dboid == dboid_ && (d.wake_at == 0 || d.wake_at > next_due_)) d.wake_at = next_due_;
    LWLockRelease(sh->lock);
    return leave ? Stop::Leave : Stop::None;
}

bool Executor::extension_usable(pg::Spi& spi) {
    Oid ext = pg::guard([] { return get_extension_oid("batch_ops", true); });
    if (!OidIsValid(ext)) return false;
    // On a Citus worker node the extension exists because Citus propagates
    // CREATE EXTENSION; batches run on the coordinator only.
    if (ops::citus::is_worker_node(spi)) return false;
    pg::check_schema_version();
    return true;
}

bool Executor::try_own(int64_t id) {
    if (owned_.count(id)) return true;
    LOCKTAG tag;
    batch_locktag(&tag, dboid_, id);
    LockAcquireResult r = pg::guard([&] { return LockAcquire(&tag, ExclusiveLock, true, true); });
    if (r == LOCKACQUIRE_NOT_AVAIL) return false;
    owned_.insert(id);
    return true;
}

void Executor::disown(int64_t id) {
    if (owned_.erase(id) == 0) return;
    LOCKTAG tag;
    batch_locktag(&tag, dboid_, id);
    pg::guard([&] { (void)LockRelease(&tag, ExclusiveLock, true); });
}

void Executor::disown_all(bool report) {
    std::vector<int64_t> ids(owned_.begin(), owned_.end());
    for (int64_t id : ids) {
        if (report)
            log_line("batch_ops executor released batch " + std::to_string(id) +
                     " before it ended; the next claim resumes it");
        disown(id);
        forget(id);
    }
    // Session-level advisory locks a target's code may have left behind in
    // this process go too.
    pg::guard([] { LockReleaseSession(USER_LOCKMETHOD); });
}

void Executor::forget(int64_t id) {
    requests_.erase(id);
    next_chunk_.erase(id);
    sync_runs_.erase(id);
    throttle_.forget(id);
    role_of_.erase(id);
    // A batch of a target at its max_concurrency has ended: another one of
    // that target may run now, maybe in an idle executor.
    if (limited_.erase(id)) wake_database(dboid_);
}

void Executor::set_inflight(int64_t id) {
    Shared* sh = shared();
    LWLockAcquire(sh->lock, LW_EXCLUSIVE);
    ExecutorSlot& s = sh->executors[slot_];
    s.batch = id;
    if (s.cancel_inflight != id) s.cancel_inflight = 0;
    LWLockRelease(sh->lock);
    inflight_ = id;
    g_inflight_batch = id;
    g_inflight_chunk = -1;
}

void Executor::clear_inflight() {
    Shared* sh = shared();
    LWLockAcquire(sh->lock, LW_EXCLUSIVE);
    ExecutorSlot& s = sh->executors[slot_];
    s.batch = 0;
    s.cancel_inflight = 0;
    LWLockRelease(sh->lock);
    inflight_ = 0;
    g_inflight_batch = 0;
    g_inflight_chunk = -1;
}

Interrupt Executor::interrupt_of(const std::exception& e) {
    if (sqlstate_of(e) != "57014") return Interrupt::None;  // query_canceled
    const bool timeout = strstr(e.what(), "statement timeout") != nullptr;
    Shared* sh = shared();
    Interrupt k = Interrupt::None;
    LWLockAcquire(sh->lock, LW_EXCLUSIVE);
    ExecutorSlot& s = sh->executors[slot_];
    // Each SIGINT of batch_cancel accounts for at most one query cancel (two
    // that arrive together make one: the surplus only lets a later real
    // cancel run its transaction once more).
    const bool unaccounted = s.cancel_signals != handled_signals_;
    if (unaccounted) ++handled_signals_;
    if (inflight_ != 0 && s.cancel_inflight == inflight_)
        k = Interrupt::Cancel;
    else if (!timeout && unaccounted)
        k = Interrupt::Spurious;
    LWLockRelease(sh->lock);
    return k;
}

void Executor::absorb_interrupts() {
    // Between transactions a query cancel (a late SIGINT of batch_cancel, or
    // pg_cancel_backend) has nothing to cancel.
    try {
        pg::guard([] { CHECK_FOR_INTERRUPTS(); });
    } catch (const std::exception& e) {
        (void)interrupt_of(e);
    }
}

void Executor::quarantine(pg::Spi& spi, int64_t id, const CrashRecord& crash) {
    const char* signame = pg::guard([&] { return pg_strsignal(crash.signo); });
    std::string reason = "the worker process running chunk " + std::to_string(crash.chunk) +
                         " of this batch was terminated by signal " + std::to_string(crash.signo) + " (" +
                         (signame ? signame : "unknown") +
                         "); the batch is quarantined: it does not run again unless retried";
    core::Json detail = core::Json::object();
    detail.set("chunk", core::Json::number(crash.chunk));
    detail.set("signal", core::Json::number(crash.signo));
    detail.set("worker_pid", core::Json::number(static_cast<int64_t>(crash.pid)));
    detail.set("reason", core::Json::string(reason));
    store::add_event(spi, id, "quarantined", InvalidOid, detail);
    (void)fail_or_retry(spi, id, core::item_error::error, reason, false);  // announced
    const char* r = reason.c_str();
    pg::guard([&] {
        ereport(LOG, (errmsg("batch_ops: batch %lld crashed its worker and was failed and quarantined",
                                 static_cast<long long>(id)),
                          errdetail_internal("%s", r)));
    });
}

std::vector<int64_t> Executor::claim(pg::Spi& spi, int max) {
    more_waiting_ = false;
    quarantined_.clear();
    crash_files_.clear();
    // A batch submitted while its upstream was still running may have
    // committed after that upstream failed (and missed its cascade): fail such
    // batches now.
    for (int64_t up : store::broken_upstreams(spi)) store::cascade_upstream_failure(spi, up);

    // Batches running or cancelling whose advisory lock is free have no live
    // executor (a crash, a kill, a restart, an executor that gave them up):
    // they resume from their first pending item, without a status change.
    std::vector<int64_t> ids;
    std::vector<int64_t> orphans;
    for (int64_t id : store::active_batches(spi)) {
        if (static_cast<int>(orphans.size()) >= max) break;
        if (try_own(id)) orphans.push_back(id);
    }
    if (!orphans.empty()) {
        std::vector<int64_t> adopted = store::adopt(spi, orphans, MyProcPid);
        std::set<int64_t> taken(adopted.begin(), adopted.end());
        std::vector<CrashRecord> crashes = crash_records(dboid_);
        std::vector<int64_t> resumed;
        for (int64_t id : orphans) {
            if (!taken.count(id)) {
                disown(id);  // an inline sync, or a cancel, holds its row: later
                continue;
            }
            auto crash = std::find_if(crashes.begin(), crashes.end(),
                                      [&](const CrashRecord& c) { return c.batch == id; });
            if (crash != crashes.end()) {
                // Its chunk killed the executor: fail it rather than crash the
                // server again.
                quarantine(spi, id, *crash);
                quarantined_.push_back(id);
                for (const auto& c : crashes)
                    if (c.batch == id) crash_files_.push_back(c.path);
                continue;
            }
            resumed.push_back(id);
            ids.push_back(id);
        }
        if (!resumed.empty()) {
            store::record_resumed(spi, resumed, MyProcPid);
            for (int64_t id : resumed)
                log_line("batch_ops: resuming batch " + std::to_string(id) +
                         ", left running without a live executor");
        }
        // Records of batches that no longer run are stale.
        std::vector<int64_t> recorded;
        for (const auto& c : crashes) recorded.push_back(c.batch);
        if (!recorded.empty()) {
            std::vector<int64_t> still = store::active_batches(spi, &recorded);
            std::set<int64_t> live(still.begin(), still.end());
            for (const auto& c : crashes)
                if (!live.count(c.batch)) crash_files_.push_back(c.path);
        }
    }

    // Then queued batches of the role whose turn it is.
    const int room = max - static_cast<int>(ids.size());
    if (room > 0) {
        std::vector<int64_t> queued = claim_queued(spi, room, {});
        ids.insert(ids.end(), queued.begin(), queued.end());
    }
    learn_roles(spi, ids);
    if (ids.empty()) {
        // Nothing to do now: sleep no longer than until the next backoff
        // ends or the next not_before comes.
        std::optional<int64_t> due = store::next_due_in_ms(spi);
        wait_ms_ = due ? std::max<int64_t>(1, *due) : -1;
        next_due_ = wait_ms_ > 0 ? TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms_) : 0;
    }
    return ids;
}

void Executor::learn_roles(pg::Spi& spi, const std::vector<int64_t>& ids) {
    std::vector<int64_t> unknown;
    for (int64_t id : ids)
        if (!role_of_.count(id)) unknown.push_back(id);
    if (unknown.empty()) return;
    for (const auto& [id, role] : store::submitters(spi, unknown)) role_of_[id] = role;
}

std::vector<int64_t> Executor::claim_queued(pg::Spi& spi, int room, const std::vector<Oid>& skip) {
    // One claim at a time in a database (a lock of our own, held until the
    // claim commits): the turn order and the targets' max_concurrency are
    // read and acted upon without a race between executors.
    LOCKTAG tag;
    SET_LOCKTAG_ADVISORY(tag, dboid_, 0, 0, kClaimLockField4);
    pg::guard([&] { (void)LockAcquire(&tag, ExclusiveLock, false, false); });

    more_waiting_ = false;
    std::vector<Candidate> cands = store::candidates(spi, room, skip);
    // Roles in turn order, each with its candidates in claiming order.
    std::vector<std::vector<const Candidate*>> roles;
    for (const auto& c : cands) {
        if (roles.empty() || roles.back().front()->role != c.role) roles.emplace_back();
        roles.back().push_back(&c);
    }
    // The bundle takes the roles in turn, one batch each, round after round,
    // so that every role waiting (up to the room) gets a batch into it and
    // one role's backlog cannot fill it. A role's batches keep their order:
    // a role whose next batch cannot go now (a sync: it goes alone, first;
    // a target at its limit) gives no more batches to this bundle.
    std::vector<const Candidate*> pick;
    std::unordered_map<std::string, int64_t> taken;  // per limited target
    std::vector<std::size_t> next(roles.size(), 0);
    std::vector<bool> done(roles.size(), false);
    bool alone = false;
    for (bool progress = true; progress && !alone && static_cast<int>(pick.size()) < room;) {
        progress = false;
        for (std::size_t r = 0; r < roles.size() && !alone && static_cast<int>(pick.size()) < room; ++r) {
            if (done[r] || next[r] >= roles[r].size()) continue;
            const Candidate* c = roles[r][next[r]];
            if (c->sync) {
                // A sync may run long in one transaction: it goes alone.
                if (pick.empty()) {
                    pick.push_back(c);
                    alone = true;
                } else {
                    done[r] = true;
                }
                continue;
            }
            if (c->limit >= 0) {
                if (c->active + taken[c->target] >= c->limit) {
                    done[r] = true;
                    continue;
                }
                ++taken[c->target];
            }
            pick.push_back(c);
            ++next[r];
            progress = true;
        }
    }
    if (pick.empty()) return {};
    std::vector<int64_t> ids;
    for (const Candidate* c : pick) ids.push_back(c->id);
    std::vector<int64_t> free_ids = store::lock_queued(spi, ids);
    std::set<int64_t> free_rows(free_ids.begin(), free_ids.end());
    std::vector<int64_t> mine;
    std::vector<Oid> served;
    for (const Candidate* c : pick) {  // in turn order
        // Not free: another claim took it meanwhile, or an executor is still letting it go.
        if (!free_rows.count(c->id) || !try_own(c->id)) continue;
        mine.push_back(c->id);
        role_of_[c->id] = c->role;
        if (c->limit >= 0) limited_.insert(c->id);
        if (std::find(served.begin(), served.end(), c->role) == served.end()) served.push_back(c->role);
    }
    if (mine.empty()) return {};
    more_waiting_ = cands.size() > mine.size();
    // queued -> running, announced, in turn order.
    std::vector<int64_t> started;
    for (const Progress& p : store::start_batches(spi, mine, MyProcPid, throttle_)) started.push_back(p.id);
    // The roles served go to the back of the turn order.
    store::record_served(spi, served);
    return started;
}

const core::Request& Executor::request_of(pg::Spi& spi, int64_t id, store::BatchState* state) {
    std::optional<store::BatchState> found = store::batch_state(spi, id, RowLock::ForNoKeyUpdate);
    if (!found) store::batch_missing(id);
    *state = *found;
    auto it = requests_.find(id);
    if (it != requests_.end()) return it->second;
    // The request is read and parsed once per batch, not once per chunk.
    core::Limits limits;
    limits.max_items = 1000000;  // checked at submission
    core::Request r = core::parse_request(store::batch_request(spi, id), limits, core::Origin::Stored);
    return requests_.emplace(id, std::move(r)).first->second;
}

bool Executor::hand_back(pg::Spi& spi, int64_t id) {
    // batch_resume withdrew the request meanwhile: go on.
    if (!store::hand_back_paused(spi, id, throttle_)) return false;  // announced
    requests_.erase(id);
    next_chunk_.erase(id);
    sync_runs_.erase(id);
    throttle_.forget(id);
    log_line("batch_ops: batch " + std::to_string(id) + " paused: it waits, queued, for batch_resume");
    return true;
}

void Executor::end_batch(pg::Spi& spi, int64_t id, bool cancelling) {
    (void)finish_background(spi, id, cancelling);  // announced
    requests_.erase(id);
    next_chunk_.erase(id);
    throttle_.forget(id);
}

bool Executor::run_chunk(pg::Spi& spi, int64_t id) {
    // Whose chunk is in flight: for batch_cancel (shared memory) and for the
    // crash handler. Every chunk gets the whole batch_ops.statement_timeout.
    set_inflight(id);
    if (settings::statement_timeout_ms > 0)
        pg::guard([] { enable_timeout_after(STATEMENT_TIMEOUT, settings::statement_timeout_ms); });
    std::optional<store::BatchState> seen = store::batch_state(spi, id, RowLock::None);
    if (!seen) return false;  // removed meanwhile (batch_cleanup)
    if (seen->kind == "sync") {
        // A sync queued by batch_retry: run it as its owner; it records its
        // own run, status and notification.
        Oid owner_role = seen->submitted_by;
        const bool cancelling = seen->cancelling();
        std::string activity = "batch_ops: sync batch " + std::to_string(id);
        pg::guard([&] { pgstat_report_activity(STATE_RUNNING, activity.c_str()); });
        ops::SyncDef def = ops::load_sync(spi, id, owner_role);
        if (cancelling) {
            // batch_cancel while running: stop at this chunk boundary (announced).
            (void)finish_background(spi, id, true);
            sync_runs_.erase(id);
            return false;
        }
        // batch_pause: the sync stops at this chunk boundary (a cancel wins).
        if (seen->pause_requested && seen->status == BatchStatus::Running && hand_back(spi, id)) return false;
        if (!def.options.incremental || def.options.connection) {
            // A full sync has no point to resume from (and delete_missing
            // needs the whole source): one transaction.
            pg::as_role(owner_role, true, [&] { (void)ops::run_sync(spi, def); });
            return false;
        }
        // Incremental: chunk by chunk, the watermark committed with each.
        auto run = sync_runs_.find(id);
        if (run == sync_runs_.end()) run = sync_runs_.emplace(id, ops::begin_sync_run(spi, id)).first;
        int chunk = def.options.chunk_size > 0 ? def.options.chunk_size : settings::chunk_size;
        ops::SyncStep step = pg::as_role(owner_role, true, [&] { return ops::run_sync_chunk(spi, def, chunk); });
        const bool last = !step.result.success || !step.more;
        ops::record_sync_chunk(spi, id, run->second, step, last);  // the last one announced
        if (!last) {
            store::notify(store::progress_of(spi, id), false, throttle_);
            return true;
        }
        sync_runs_.erase(id);
        throttle_.forget(id);
        if (!step.result.success) store::cascade_upstream_failure(spi, id);
        return false;
    }
    store::BatchState state;
    const core::Request& req = request_of(spi, id, &state);
    const Oid submitter = state.submitted_by;
    const bool dry_run = state.dry_run;
    if (state.status != BatchStatus::Running && state.status != BatchStatus::Cancelling) {
        requests_.erase(id);
        return false;  // ended meanwhile (cancelled while queued, say)
    }
    if (state.cancelling()) {
        cancel_pending(spi, id);
        end_batch(spi, id, true);
        return false;
    }
    // batch_pause, read again under the row's lock.
    if (state.pause_requested && state.status == BatchStatus::Running && hand_back(spi, id)) return false;
    auto nc = next_chunk_.find(id);
    auto chunk = store::first_pending_chunk(spi, id, nc == next_chunk_.end() ? 0 : nc->second);
    if (!chunk) {
        end_batch(spi, id, false);
        return false;
    }
    g_inflight_chunk = chunk->number;
    std::vector<std::size_t> positions, indices;
    for (std::size_t i = 0; i < chunk->items.size(); ++i)
        if (chunk->items[i].status == core::ItemStatus::Pending) {
            positions.push_back(i);
            indices.push_back(static_cast<std::size_t>(chunk->first_seq - 1) + i);
        }
    std::string activity = "batch_ops: batch " + std::to_string(id) + ", chunk " + std::to_string(chunk->number);
    pg::guard([&] { pgstat_report_activity(STATE_RUNNING, activity.c_str()); });

    std::vector<core::ItemResult> results;
    std::string success_message;
    auto fail_all = [&](const std::string& message) {  // every pending item of the chunk
        results.clear();
        for (std::size_t pos : positions)
            results.push_back(core::failed_item(chunk->items[pos].target_id, core::item_error::error, message));
    };
    if (!pg::role_exists(submitter)) {
        fail_all("role no longer exists");
    } else {
        core::Request sub = core::slice(req, indices);
        core::Actor actor{pg::role_name(submitter), pg::is_admin(submitter)};
        ops::RunOptions opts;
        opts.dry_run = dry_run;
        opts.lock_timeout_ms = settings::lock_timeout_ms;
        try {
            pg::as_role(submitter, true, [&] {
                // Loaded anew for every chunk, under the lock its statement
                // takes: an ALTER TABLE between chunks is seen (issue 8, 12c).
                ops::TargetUse use;
                use.operation = sub.operation;
                const ops::TargetInfo target = ops::load_target(spi, sub.target_type, use);
                ops::ItemRun run(spi, target, sub, actor, opts);
                run.prepare();
                ops::RunOutput out = run.run();
                results = std::move(out.items);
                success_message = out.success_message;
                if (out.export_content && !dry_run)
                    store::append_export(spi, id, sub.export_format, *out.export_content, out.export_rows);
            });
        } catch (const core::Error& e) {
            // The request no longer fits its target (unregistered, table or
            // column gone, key type changed): every item of the chunk fails
            // with the reason, its SQLSTATE and what to do.
            fail_all(std::string(e.what()) + " (SQLSTATE " + e.sqlstate() + ")" +
                     (e.hint().empty() ? std::string() : ". " + e.hint()));
        }
    }
    core::Counts delta = core::count(results);
    for (std::size_t k = 0; k < positions.size(); ++k) {
        core::ItemResult& dst = chunk->items[positions[k]];
        int attempts = dst.attempts + 1;
        // A bulk_create item keeps "#n" unless it created a row.
        if (req.operation != core::Operation::BulkCreate || results[k].status == core::ItemStatus::Succeeded)
            dst.target_id = results[k].target_id;
        dst.status = results[k].status;
        dst.error_code = results[k].error_code;
        dst.message = results[k].message;
        dst.attempts = attempts;
    }
    if (!success_message.empty()) chunk->success_message = success_message;
    store::store_chunk(spi, id, *chunk);
    next_chunk_[id] = chunk->number + 1;
    std::string current = chunk->items[positions.back()].target_id;
    Progress p = store::add_progress(spi, id, delta, current);
    if (p.processed >= p.total) {
        end_batch(spi, id, false);
        return false;
    }
    store::notify(p, false, throttle_);
    return true;
}

bool Executor::step(int64_t id) {
    for (int attempt = 0;; ++attempt) {
        bool again = false;
        try {
            transaction("batch_ops: running a batch", [&](pg::Spi& spi) { again = run_chunk(spi, id); });
            clear_inflight();
            if (!again) {
                disown(id);
                forget(id);
            }
            return again;
        } catch (const std::exception& e) {
            Interrupt k = interrupt_of(e);
            clear_inflight();
            if (k == Interrupt::Spurious && attempt < 3) continue;  // nothing committed: run it again
            if (k == Interrupt::Cancel) {
                cancel_batch(id);
                return false;
            }
            fail_batch(id, e);
            return false;
        }
    }
}

void Executor::run_bundle(std::vector<int64_t> todo, std::vector<int64_t>* more) {
    for (int attempt = 0; !todo.empty(); ++attempt) {
        if (todo.size() == 1) {
            if (step(todo[0])) more->push_back(todo[0]);
            return;
        }
        // First chunk of every claimed batch, together in one transaction
        // (small batches share a commit).
        std::vector<int64_t> going, ended;
        try {
            transaction("batch_ops: running batches", [&](pg::Spi& spi) {
                going.clear();
                ended.clear();
                for (int64_t id : todo) (run_chunk(spi, id) ? going : ended).push_back(id);
            });
            clear_inflight();
            for (int64_t id : ended) {
                disown(id);
                forget(id);
            }
            more->insert(more->end(), going.begin(), going.end());
            return;
        } catch (const std::exception& e) {
            const int64_t culprit = inflight_;
            Interrupt k = interrupt_of(e);
            clear_inflight();
            if (k == Interrupt::Spurious && attempt < 3) continue;
            if (k == Interrupt::Cancel) {
                // batch_cancel interrupted one of them: cancel it, run the others again.
                cancel_batch(culprit);
                todo.erase(std::remove(todo.begin(), todo.end(), culprit), todo.end());
                continue;
            }
            // Nothing of the bundle committed, and the claims stand: run each
            // batch alone, so that only the one that fails is retried or failed.
            log_line("batch_ops: the first chunks of " + std::to_string(todo.size()) +
                     " batches failed together (batch " + std::to_string(culprit) + ", " + sqlstate_of(e) + ": " +
                     e.what() + "); running them one at a time");
            for (int64_t id : todo)
                if (step(id)) more->push_back(id);
            return;
        }
    }
}

void Executor::fail_batch(int64_t id, const std::exception& e) {
    const std::string state = sqlstate_of(e);
    const auto c = core::classify_sqlstate(state);
    const std::string code = c.transient ? c.error_code : core::item_error::error;
    const std::string message = core::item_error_message(c, state, e.what());
    std::optional<Progress> p;
    const bool recorded = bookkeeping("batch_ops: recording a failure", [&](pg::Spi& spi) {
        p = fail_or_retry(spi, id, code, message, c.transient);  // announced
    });
    forget(id);
    disown(id);
    std::string what = "batch_ops: batch " + std::to_string(id);
    if (!recorded)
        what += " hit an error that could not be recorded (" + state + ": " + e.what() +
                "); the next claim resumes it";
    else if (!p)
        what += " no longer exists (" + state + ": " + e.what() + ")";
    else if (p->status == BatchStatus::Queued)
        what += " will be retried after a transient error (" + state + ": " + e.what() + ")";
    else if (p->status == BatchStatus::Cancelled)
        what += " was cancelled (its cancel was requested; the chunk failed with " + state + ": " + e.what() + ")";
    else
        what += " failed (" + state + ": " + e.what() + ")";
    log_line(what);
}

void Executor::cancel_batch(int64_t id) {
    bool done = false;
    const bool recorded = bookkeeping("batch_ops: cancelling a batch", [&](pg::Spi& spi) {
        done = false;
        std::optional<BatchStatus> status = store::batch_status(spi, id, RowLock::ForNoKeyUpdate);
        if (!status || (*status != BatchStatus::Running && *status != BatchStatus::Cancelling)) return;
        cancel_pending(spi, id);
        (void)finish_background(spi, id, true);  // announced
        done = true;
    });
    forget(id);
    disown(id);
    if (!recorded)
        log_line("batch_ops: the cancel of batch " + std::to_string(id) +
                 " could not be recorded; the next claim resumes it and cancels it");
    else if (done)
        log_line("batch_ops: batch " + std::to_string(id) +
                 " cancelled: its chunk in flight was interrupted and rolled back");
}

void Executor::process_cancel_requests() {
    Shared* sh = shared();
    LWLockAcquire(sh->lock, LW_EXCLUSIVE);
    const bool check = sh->executors[slot_].cancel_check;
    sh->executors[slot_].cancel_check = false;
    LWLockRelease(sh->lock);
    if (!check || owned_.empty()) return;
    std::vector<int64_t> ids(owned_.begin(), owned_.end());
    std::vector<int64_t> cancelled;
    (void)bookkeeping("batch_ops: cancelling batches", [&](pg::Spi& spi) {
        cancelled.clear();
        for (int64_t id : store::cancel_requested(spi, ids)) {
            cancel_pending(spi, id);
            (void)finish_background(spi, id, true);  // announced
            cancelled.push_back(id);
        }
    });
    for (int64_t id : cancelled) {
        forget(id);
        disown(id);
        log_line("batch_ops: batch " + std::to_string(id) + " cancelled before its next chunk");
    }
}

void Executor::cleanup_expired() {
    // batch_ops.retention: remove ended batches in bounded steps, at most
    // once a minute, while idle; one short transaction per step.
    if (settings::retention_s <= 0) return;
    TimestampTz now = GetCurrentTimestamp();
    if (last_cleanup_ != 0 && !TimestampDifferenceExceeds(last_cleanup_, now, 60 * 1000)) return;
    last_cleanup_ = now;
    Interval older{};
    older.time = static_cast<TimeOffset>(settings::retention_s) * USECS_PER_SEC;
    for (int step = 0; step < 20; ++step) {
        int64_t removed = 0;
        try {
            transaction("batch_ops: removing expired batches",
                        [&](pg::Spi& spi) { removed = store::remove_ended_batches(spi, older, 500); });
        } catch (const std::exception& e) {
            (void)interrupt_of(e);
            return;
        }
        if (removed < 500) return;
    }
}

void Executor::go_idle() {
    g_busy = false;
    cleanup_expired();
    Shared* sh = shared();
    LWLockAcquire(sh->lock, LW_EXCLUSIVE);
    sh->executors[slot_].idle = true;
    LWLockRelease(sh->lock);
    long timeout = settings::poll_interval_ms;
    if (wait_ms_ > 0 && wait_ms_ < timeout) timeout = static_cast<long>(wait_ms_);
    wait_ms_ = -1;
    int rc = pg::guard([&] {
        return WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, timeout, PG_WAIT_EXTENSION);
    });
    (void)rc;
    ResetLatch(MyLatch);
    LWLockAcquire(sh->lock, LW_EXCLUSIVE);
    sh->executors[slot_].idle = false;
    for (auto& d : sh->dbs)
        if (d.dboid == dboid_) d.pending = false;
    LWLockRelease(sh->lock);
}

void Executor::run() {
    MemoryContextSwitchTo(cxt_);
    bool usable = false;
    transaction("batch_ops: starting", [&](pg::Spi& spi) { usable = extension_usable(spi); });
    if (!usable) {
        Shared* sh = shared();
        LWLockAcquire(sh->lock, LW_EXCLUSIVE);
        for (auto& d : sh->dbs)
            if (d.dboid == dboid_) d.no_extension = true, d.pending = false;
        LWLockRelease(sh->lock);
        return;
    }
    while (true) {
        absorb_interrupts();
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            pg::guard([] { ProcessConfigFile(PGC_SIGHUP); });
        }
        if (check_stop() != Stop::None) return;
        // Back to claiming: this executor owns nothing any more. A batch it
        // still held (a path that neither ended it nor queued it) becomes an
        // orphan, which the claim below, or another executor's, resumes.
        disown_all(true);
        if (!settings::enabled || RecoveryInProgress()) {
            go_idle();
            continue;
        }
        std::vector<int64_t> claimed;
        bool gone = false, claimed_ok = false;
        for (int attempt = 0; attempt < 3 && !claimed_ok; ++attempt) {
            try {
                transaction("batch_ops: claiming", [&](pg::Spi& spi) {
                    if (!extension_usable(spi)) {
                        gone = true;
                        return;
                    }
                    claimed = claim(spi, kBundle);
                });
                claimed_ok = true;
            } catch (const std::exception& e) {
                claimed.clear();
                disown_all(false);  // the claims were rolled back
                if (interrupt_of(e) == Interrupt::Spurious) continue;
                log_line(std::string("batch_ops executor could not claim work: ") + e.what());
                break;
            }
        }
        if (!claimed_ok) {
            go_idle();
            continue;
        }
        if (gone) return;  // DROP EXTENSION: nothing to serve here any more
        // Quarantined batches have ended: their crash records can go.
        for (int64_t id : quarantined_) disown(id);
        for (const auto& path : crash_files_) (void)unlink(path.c_str());
        quarantined_.clear();
        crash_files_.clear();
        if (claimed.empty()) {
            go_idle();
            continue;
        }
        g_busy = true;
        // A full bundle, or batches left behind (another role's, or more
        // than this role's share): let the launcher add an executor here if
        // batch_ops.max_workers allows (or an idle one elsewhere steps aside).
        if (static_cast<int>(claimed.size()) >= kBundle || more_waiting_) wake_database(dboid_);
        // The first chunks together; then the rest, one chunk per transaction,
        // the roles' lanes in turn.
        std::vector<int64_t> more;
        run_bundle(claimed, &more);
        enqueue(more);
        if (!run_lanes()) return;  // the batches resume from their next chunk
    }
}

void Executor::enqueue(const std::vector<int64_t>& ids) {
    for (int64_t id : ids) {
        auto r = role_of_.find(id);
        const Oid role = r == role_of_.end() ? InvalidOid : r->second;
        auto lane = std::find_if(lanes_.begin(), lanes_.end(), [&](const Lane& l) { return l.role == role; });
        if (lane == lanes_.end()) lane = lanes_.insert(lanes_.end(), Lane{role, {}});
        lane->batches.push_back(id);
    }
}

bool Executor::run_lanes() {
    std::size_t turn = 0;
    while (!lanes_.empty()) {
        if (check_stop() != Stop::None) {
            lanes_.clear();
            return false;
        }
        absorb_interrupts();
        process_cancel_requests();
        if (turn >= lanes_.size()) turn = 0;
        Lane& lane = lanes_[turn];
        const int64_t id = lane.batches.front();
        // Not owned any more: cancelled meanwhile.
        const bool again = owned_.count(id) && step(id);
        if (!again) lane.batches.pop_front();
        if (lane.batches.empty())
            lanes_.erase(lanes_.begin() + static_cast<std::ptrdiff_t>(turn));
        else
            ++turn;
        take_turns();
    }
    return true;
}

void Executor::take_turns() {
    if (lanes_.empty()) return;  // the next claim serves whoever is next
    const TimestampTz now = GetCurrentTimestamp();
    if (last_turn_check_ != 0 && !TimestampDifferenceExceeds(last_turn_check_, now, kTurnCheckMs)) return;
    last_turn_check_ = now;
    // An idle executor of this database is woken by the submission; with
    // room under batch_ops.max_workers the launcher starts one: give them
    // time first.
    const Capacity cap = capacity(dboid_, slot_);
    if (cap.idle_here > 0 || !settings::enabled) return;
    const int64_t grace_ms = cap.executors < cap.limit ? 1000 : 200;
    std::vector<Oid> mine;
    for (const auto& lane : lanes_) mine.push_back(lane.role);
    bool due = false;
    try {
        transaction("batch_ops: looking for other roles' work", [&](pg::Spi& spi) {
            std::vector<Candidate> cands = store::candidates(spi, 1, mine);
            due = std::any_of(cands.begin(), cands.end(), [&](const Candidate& c) { return c.waited_ms >= grace_ms; });
        });
    } catch (const std::exception& e) {
        (void)interrupt_of(e);
        return;
    }
    if (!due) return;
    const std::set<int64_t> before = owned_;
    std::vector<int64_t> claimed;
    try {
        transaction("batch_ops: claiming", [&](pg::Spi& spi) { claimed = claim_queued(spi, kBundle, mine); });
    } catch (const std::exception& e) {
        (void)interrupt_of(e);
        // The claim was rolled back: let go of what it took, keep the rest.
        std::vector<int64_t> taken;
        for (int64_t id : owned_)
            if (!before.count(id)) taken.push_back(id);
        for (int64_t id : taken) {
            disown(id);
            forget(id);
        }
        log_line(std::string("batch_ops executor could not claim another role's work: ") + e.what());
        return;
    }
    if (claimed.empty()) return;
    if (more_waiting_) wake_database(dboid_);
    std::vector<int64_t> more;
    run_bundle(claimed, &more);
    enqueue(more);
}

}  // namespace

}  // namespace batch_ops::workers

extern "C" {

PGDLLEXPORT void batch_ops_executor_main(Datum arg);

void batch_ops_executor_main(Datum arg) {
    using namespace batch_ops::workers;
    g_slot = DatumGetInt32(arg);
    Oid dboid;
    memcpy(&dboid, MyBgworkerEntry->bgw_extra, sizeof(Oid));
    g_dboid = dboid;
    pqsignal(SIGTERM, on_sigterm);
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    install_fatal_signal_handlers();
    BackgroundWorkerUnblockSignals();

    Shared* sh = shared();
    LWLockAcquire(sh->lock, LW_EXCLUSIVE);
    ExecutorSlot& e = sh->executors[g_slot];
    e.pid = MyProcPid;
    e.dboid = dboid;
    e.latch = MyLatch;
    e.idle = false;
    e.batch = 0;
    e.cancel_inflight = 0;
    e.cancel_signals = 0;
    e.cancel_check = false;
    LWLockRelease(sh->lock);
    before_shmem_exit(release_slot, 0);  // pg-boundary: worker main, no C++ object alive here

    // Where crash records go (see on_fatal_signal).
    if (MakePGDirectory(kCrashDir) < 0 && errno != EEXIST)  // pg-boundary: worker main, no C++ object alive here
        ereport(LOG, (errcode_for_file_access(), errmsg("batch_ops could not create directory \"%s\": %m", kCrashDir)));  // pg-boundary: worker main, no C++ object alive here

    BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);  // pg-boundary: worker main, no C++ object alive here
    pgstat_report_appname("batch_ops executor");  // pg-boundary: worker main, no C++ object alive here

    // Errors are caught per transaction inside; anything that escapes ends the
    // process (the launcher starts another one when there is work; the batches
    // it owned are resumed by the next claim, their locks being released).
    bool failed = false;
    char message[1024] = "";
    try {
        Executor ex(g_slot, dboid);
        ex.run();
    } catch (const std::exception& ex) {
        failed = true;
        strlcpy(message, ex.what(), sizeof message);
    } catch (...) {
        failed = true;
        strlcpy(message, "unexpected exception", sizeof message);
    }
    if (failed) ereport(LOG, (errmsg("batch_ops executor exiting after an error: %s", message)));  // pg-boundary: worker main, no C++ object alive here
    proc_exit(0);
}
}
