// The executor: a background worker connected to one database that claims
// queued batches and runs them chunk by chunk, one transaction per chunk, as
// the submitting role.
#include "workers/executor.hpp"

#include <algorithm>
#include <atomic>
#include <unordered_map>

#include "core/error.hpp"
#include "core/results.hpp"
#include "ops/batch_store.hpp"
#include "ops/citus.hpp"
#include "ops/progress.hpp"
#include "ops/retry.hpp"
#include "ops/runner.hpp"
#include "ops/sync.hpp"
#include "ops/target_catalog.hpp"
#include "pg/jsonb.hpp"
#include "pg/security.hpp"
#include "pg/spi.hpp"
#include "pg/settings.hpp"
#include "workers/shared.hpp"

extern "C" {
#include "commands/extension.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"
#include "utils/wait_event.h"
}

namespace batch_ops::workers {

using ops::add_progress;
using ops::cancel_pending;
using ops::fail_or_retry;
using ops::finish_background;
using ops::notify_progress;
using ops::ProgressRow;
using ops::Throttle;

namespace {

volatile sig_atomic_t g_sigterm = 0;
int g_slot = -1;
bool g_busy = false;  // holding claimed batches that are not finished

void on_sigterm(SIGNAL_ARGS) {
    int save_errno = errno;
    g_sigterm = 1;
    SetLatch(MyLatch);
    errno = save_errno;
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
    }
    if (sh->launcher_latch) SetLatch(sh->launcher_latch);
    LWLockRelease(sh->lock);
}

// Why the executor stops looking for work.
enum class Stop { None, Sigterm, Leave, NoExtension };

// The SQLSTATE of a caught exception.
std::string sqlstate_of(const std::exception& e) {
    if (auto* pe = dynamic_cast<const pg::PgError*>(&e)) return pe->sqlstate();
    if (auto* ce = dynamic_cast<const core::Error*>(&e)) return ce->sqlstate();
    return core::sqlstate::internal_error;
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

    Stop check_stop();
    bool extension_usable(pg::Spi& spi);
    std::vector<int64_t> claim(pg::Spi& spi, int max);
    // Runs the next chunk of a claimed batch; false once the batch has ended.
    bool run_chunk(pg::Spi& spi, int64_t id);
    void end_batch(pg::Spi& spi, int64_t id, bool cancelling);
    void fail_batch(int64_t id, const std::string& code, const std::string& message, bool transient);
    void go_idle();
    void cleanup_expired();

    const core::Request& request_of(pg::Spi& spi, int64_t id, Oid* submitter, bool* dry_run, bool* cancelling,
                                    std::string* status);

    int slot_;
    Oid dboid_;
    MemoryContext cxt_;
    std::unordered_map<int64_t, core::Request> requests_;
    // Targets already loaded, with the version they were loaded at: reused
    // while the registration and the table are unchanged.
    std::unordered_map<std::string, std::pair<std::string, ops::TargetInfo>> targets_;
    std::unordered_map<int64_t, int> next_chunk_;  // where a running batch goes on
    std::unordered_map<int64_t, int64_t> sync_runs_;  // sync batch -> its sync_run row in progress
    Throttle throttle_;
    int bundle_ = 32;  // batches claimed at once; 1 after an error, to isolate it
    TimestampTz last_cleanup_ = 0;
    int64_t wait_ms_ = -1;  // until the earliest next_attempt_at, when known
    TimestampTz next_due_ = 0;  // that moment, handed to the launcher when leaving
};

template <typename F>
void Executor::transaction(const char* activity, F&& body) {
    pg::guard([&] {
        SetCurrentStatementStartTimestamp();
        StartTransactionCommand();
        // batch_ops.lock_timeout and batch_ops.statement_timeout bound every
        // worker transaction (a client statement gets its statement_timeout
        // from the protocol loop, which workers do not have).
        if (settings::lock_timeout_ms > 0) {
            char v[32];
            snprintf(v, sizeof v, "%d", settings::lock_timeout_ms);
            (void)set_config_option("lock_timeout", v, PGC_SUSET, PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
        }
        if (settings::statement_timeout_ms > 0) enable_timeout_after(STATEMENT_TIMEOUT, settings::statement_timeout_ms);
        PushActiveSnapshot(GetTransactionSnapshot());
        pgstat_report_activity(STATE_RUNNING, activity);
    });
    try {
        {
            pg::Spi spi;
            body(spi);
        }
        pg::guard([] {
            disable_timeout(STATEMENT_TIMEOUT, false);
            PopActiveSnapshot();
            CommitTransactionCommand();
            pgstat_report_activity(STATE_IDLE, nullptr);
        });
        MemoryContextSwitchTo(cxt_);
    } catch (...) {
        // A PostgreSQL error was caught and flushed by the guard: clean up the
        // transaction (locks, buffers, SPI) the way the error would have.
        disable_timeout(STATEMENT_TIMEOUT, false);
        AbortCurrentTransaction();
        next_chunk_.clear();  // what this transaction did is undone: look again from the start
        sync_runs_.clear();
        MemoryContextSwitchTo(cxt_);
        throw;
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

std::vector<int64_t> Executor::claim(pg::Spi& spi, int max) {
    pid_t pids[kMaxExecutors];
    int n = live_executor_pids(pids, kMaxExecutors);
    std::vector<std::string> live;
    for (int i = 0; i < n; ++i) live.push_back(std::to_string(pids[i]));
    pg::AsOwner owner;
    // A batch submitted while its upstream was still running may have
    // committed after that upstream failed (and missed its cascade): fail such
    // batches now (batch_waiting_idx keeps this cheap).
    spi.execute_cached(
        "SELECT DISTINCT d.id FROM batch_ops.batch b "
        "  JOIN batch_ops.batch d ON d.id OPERATOR(pg_catalog.=) ANY (b.depends_on) "
        " WHERE b.status OPERATOR(pg_catalog.=) 'queued' AND b.depends_on IS NOT NULL "
        "   AND d.status IN ('failed', 'cancelled')",
        {});
    std::vector<int64_t> broken;
    for (uint64_t i = 0; i < spi.rows(); ++i) broken.push_back(spi.i64(i, 0));
    for (int64_t up : broken) ops::cascade_upstream_failure(spi, up);

    // Batches left running by an executor that is gone (crash, kill,
    // restart) first: they resume from their first pending item.
    std::vector<int64_t> ids;
    spi.execute_cached(
        "WITH c AS (SELECT b.id FROM batch_ops.batch b "
        "  WHERE b.status IN ('running', 'cancelling') "
        "    AND (b.worker_pid IS NULL OR b.worker_pid OPERATOR(pg_catalog.<>) ALL ($1::pg_catalog.int4[])) "
        "  ORDER BY b.id LIMIT $2 FOR UPDATE SKIP LOCKED) "
        "UPDATE batch_ops.batch b SET worker_pid = $3, updated_at = pg_catalog.clock_timestamp() "
        "  FROM c WHERE b.id OPERATOR(pg_catalog.=) c.id RETURNING b.id",
        {pg::text_array_param(live), pg::int4_param(max), pg::int4_param(MyProcPid)});
    for (uint64_t i = 0; i < spi.rows(); ++i) ids.push_back(spi.i64(i, 0));

    // Then queued batches whose time has come and whose dependencies
    // succeeded, in priority order (batch_queue_idx: no sort).
    const int room = max - static_cast<int>(ids.size());
    if (room > 0) {
        spi.execute_cached(
            "WITH c AS (SELECT b.id FROM batch_ops.batch b "
            "  WHERE b.status OPERATOR(pg_catalog.=) 'queued' "
            "    AND (b.next_attempt_at IS NULL OR b.next_attempt_at OPERATOR(pg_catalog.<=) pg_catalog.now()) "
            "    AND (b.depends_on IS NULL OR NOT EXISTS (SELECT 1 FROM batch_ops.batch d "
            "          WHERE d.id OPERATOR(pg_catalog.=) ANY (b.depends_on) "
            "            AND d.status OPERATOR(pg_catalog.<>) 'succeeded')) "
            "  ORDER BY b.priority DESC, b.id LIMIT $1 FOR UPDATE SKIP LOCKED) "
            "UPDATE batch_ops.batch b SET status = 'running', "
            "       started_at = COALESCE(b.started_at, pg_catalog.clock_timestamp()), "
            "       worker_pid = $2, updated_at = pg_catalog.clock_timestamp() "
            "  FROM c WHERE b.id OPERATOR(pg_catalog.=) c.id "
            "RETURNING b.id, b.status::pg_catalog.text, b.total, b.processed, b.success_count, b.failure_count",
            {pg::int4_param(room), pg::int4_param(MyProcPid)});
        std::vector<ProgressRow> started;
        for (uint64_t i = 0; i < spi.rows(); ++i) {
            ids.push_back(spi.i64(i, 0));
            started.push_back({spi.i64(i, 0), spi.str(i, 1), spi.i64(i, 2), spi.i64(i, 3), spi.i64(i, 4), spi.i64(i, 5)});
        }
        // queued -> running is a status change: always announced.
        for (const auto& p : started) notify_progress(p, true, throttle_);
    }
    if (ids.empty()) {
        // Nothing to do now: sleep no longer than until the next backoff ends.
        spi.execute_cached(
            "SELECT (EXTRACT(epoch FROM pg_catalog.min(next_attempt_at) - pg_catalog.clock_timestamp()) * 1000)"
            "::pg_catalog.int8 FROM batch_ops.batch "
            " WHERE status OPERATOR(pg_catalog.=) 'queued' AND next_attempt_at IS NOT NULL",
            {});
        wait_ms_ = spi.is_null(0, 0) ? -1 : std::max<int64_t>(1, spi.i64(0, 0));
        next_due_ = wait_ms_ > 0 ? TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms_) : 0;
    }
    return ids;
}

const core::Request& Executor::request_of(pg::Spi& spi, int64_t id, Oid* submitter, bool* dry_run, bool* cancelling,
                                          std::string* status) {
    {
        pg::AsOwner owner;
        spi.execute_cached(
            "SELECT submitted_by::pg_catalog.oid::pg_catalog.int8, dry_run, status::pg_catalog.text "
            "  FROM batch_ops.batch WHERE id OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE",
            {pg::int8_param(id)});
    }
    if (spi.rows() == 0) throw core::Error(core::sqlstate::no_data_found, "batch " + std::to_string(id) + " is gone");
    *submitter = static_cast<Oid>(spi.i64(0, 0));
    *dry_run = spi.boolean(0, 1);
    *status = spi.str(0, 2);
    *cancelling = *status == "cancelling";
    auto it = requests_.find(id);
    if (it != requests_.end()) return it->second;
    // The request is read and parsed once per batch, not once per chunk.
    Jsonb* jb;
    {
        pg::AsOwner owner;
        spi.execute_cached("SELECT request FROM batch_ops.batch WHERE id OPERATOR(pg_catalog.=) $1",
                           {pg::int8_param(id)});
        bool isnull;
        Datum d = spi.datum(0, 0, &isnull);
        jb = pg::guard([&] { return DatumGetJsonbP(d); });
    }
    core::Limits limits;
    limits.max_items = 1000000;  // checked at submission
    core::Request r = core::parse_request(pg::from_jsonb(jb), limits);
    return requests_.emplace(id, std::move(r)).first->second;
}

void Executor::end_batch(pg::Spi& spi, int64_t id, bool cancelling) {
    ProgressRow p = finish_background(spi, id, cancelling);
    notify_progress(p, true, throttle_);
    requests_.erase(id);
    next_chunk_.erase(id);
    throttle_.forget(id);
}

bool Executor::run_chunk(pg::Spi& spi, int64_t id) {
    {
        pg::AsOwner owner;
        spi.execute_cached("SELECT kind, submitted_by::pg_catalog.oid::pg_catalog.int8, status::pg_catalog.text "
                           "  FROM batch_ops.batch WHERE id OPERATOR(pg_catalog.=) $1",
                           {pg::int8_param(id)});
    }
    if (spi.rows() > 0 && spi.str(0, 0) == "sync") {
        // A sync queued by batch_retry: run it as its owner; it records its
        // own run, status and notification.
        Oid owner_role = static_cast<Oid>(spi.i64(0, 1));
        const bool cancelling = spi.str(0, 2) == "cancelling";
        std::string activity = "batch_ops: sync batch " + std::to_string(id);
        pg::guard([&] { pgstat_report_activity(STATE_RUNNING, activity.c_str()); });
        ops::SyncDef def = ops::load_sync(spi, id, owner_role);
        if (cancelling) {
            // batch_cancel while running: stop at this chunk boundary.
            ProgressRow p = finish_background(spi, id, true);
            notify_progress(p, true, throttle_);
            sync_runs_.erase(id);
            return false;
        }
        if (!def.options.incremental || def.options.connection) {
            // A full sync has no point to resume from (and delete_missing
            // needs the whole source): one transaction.
            pg::AsRole as(owner_role, true);
            (void)ops::run_sync(spi, def);
            return false;
        }
        // Incremental: chunk by chunk, the watermark committed with each.
        auto run = sync_runs_.find(id);
        if (run == sync_runs_.end()) run = sync_runs_.emplace(id, ops::begin_sync_run(spi, id)).first;
        int chunk = def.options.chunk_size > 0 ? def.options.chunk_size : settings::chunk_size;
        ops::SyncStep step;
        {
            pg::AsRole as(owner_role, true);
            step = ops::run_sync_chunk(spi, def, chunk);
        }
        const bool last = !step.result.success || !step.more;
        ops::record_sync_chunk(spi, id, run->second, step, last);
        ProgressRow p = ops::progress_of(spi, id);
        notify_progress(p, last, throttle_);
        if (last) {
            sync_runs_.erase(id);
            throttle_.forget(id);
            if (p.status == "failed") ops::cascade_upstream_failure(spi, id);
        }
        return !last;
    }
    Oid submitter;
    bool dry_run, cancelling;
    std::string status;
    const core::Request& req = request_of(spi, id, &submitter, &dry_run, &cancelling, &status);
    if (status != "running" && status != "cancelling") {
        requests_.erase(id);
        return false;  // ended meanwhile (cancelled while queued, say)
    }
    if (cancelling) {
        cancel_pending(spi, id);
        end_batch(spi, id, true);
        return false;
    }
    auto nc = next_chunk_.find(id);
    auto chunk = ops::first_pending_chunk(spi, id, nc == next_chunk_.end() ? 0 : nc->second);
    if (!chunk) {
        end_batch(spi, id, false);
        return false;
    }
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
            pg::AsRole as(submitter, true);
            std::string version = ops::target_version(spi, sub.target_type);
            auto t = targets_.find(sub.target_type);
            if (t == targets_.end() || t->second.first != version || version.empty())
                t = targets_.insert_or_assign(sub.target_type,
                                              std::make_pair(version, ops::load_target(spi, sub.target_type)))
                        .first;
            ops::ItemRun run(spi, t->second.second, sub, actor, opts);
            run.prepare();
            ops::RunOutput out = run.run();
            results = std::move(out.items);
            success_message = out.success_message;
            if (out.export_content && !dry_run)
                ops::append_export(spi, id, sub.export_format, *out.export_content, out.export_rows);
        } catch (const core::Error& e) {
            // The request no longer fits its target (unregistered, table gone):
            // every remaining item fails with the reason.
            fail_all(e.what());
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
    ops::store_chunk(spi, id, *chunk);
    next_chunk_[id] = chunk->number + 1;
    std::string current = chunk->items[positions.back()].target_id;
    ProgressRow p = add_progress(spi, id, delta, current);
    if (p.processed >= p.total) {
        end_batch(spi, id, false);
        return false;
    }
    notify_progress(p, false, throttle_);
    return true;
}

void Executor::fail_batch(int64_t id, const std::string& code, const std::string& message, bool transient) {
    transaction("batch_ops: recording a failure", [&](pg::Spi& spi) {
        ProgressRow p = fail_or_retry(spi, id, code, message, transient);
        notify_progress(p, true, throttle_);
    });
    requests_.erase(id);
    next_chunk_.erase(id);
    throttle_.forget(id);
}

void Executor::cleanup_expired() {
    // batch_ops.retention: remove ended batches in bounded steps, at most
    // once a minute, while idle; one short transaction per step.
    if (settings::retention_s <= 0) return;
    TimestampTz now = GetCurrentTimestamp();
    if (last_cleanup_ != 0 && !TimestampDifferenceExceeds(last_cleanup_, now, 60 * 1000)) return;
    last_cleanup_ = now;
    std::string older = std::to_string(settings::retention_s);
    for (int step = 0; step < 20; ++step) {
        uint64_t removed = 0;
        try {
            transaction("batch_ops: removing expired batches", [&](pg::Spi& spi) {
                pg::AsOwner owner;
                removed = spi.execute_cached(
                    "DELETE FROM batch_ops.batch WHERE id IN (SELECT id FROM batch_ops.batch "
                    "  WHERE kind OPERATOR(pg_catalog.=) 'operation' AND finished_at OPERATOR(pg_catalog.<) pg_catalog.now() - $1::pg_catalog.int8 * interval '1 second' "
                    "    AND status IN ('succeeded', 'failed', 'cancelled') LIMIT 500)",
                    {pg::text_param(older)});
            });
        } catch (const std::exception&) {
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
    int rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, timeout, PG_WAIT_EXTENSION);
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
        CHECK_FOR_INTERRUPTS();
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
        }
        if (check_stop() != Stop::None) return;
        if (!settings::enabled || RecoveryInProgress()) {
            go_idle();
            continue;
        }
        std::vector<int64_t> claimed;
        bool gone = false;
        try {
            transaction("batch_ops: claiming", [&](pg::Spi& spi) {
                if (!extension_usable(spi)) {
                    gone = true;
                    return;
                }
                claimed = claim(spi, bundle_);
            });
        } catch (const std::exception& e) {
            std::string what = e.what();
            pg::guard([&] { ereport(LOG, (errmsg("batch_ops executor could not claim work: %s", what.c_str()))); });
            go_idle();
            continue;
        }
        if (gone) return;  // DROP EXTENSION: nothing to serve here any more
        if (claimed.empty()) {
            go_idle();
            continue;
        }
        g_busy = true;
        // A full bundle: more is probably waiting; let the launcher add an
        // executor here if batch_ops.max_workers allows.
        if (static_cast<int>(claimed.size()) >= bundle_ && bundle_ > 1) wake_database(dboid_);
        // First chunk of every claimed batch, together in one transaction
        // (small batches share a commit); then the rest, one chunk per transaction.
        std::vector<int64_t> more;
        try {
            transaction("batch_ops: running batches", [&](pg::Spi& spi) {
                more.clear();
                for (int64_t id : claimed)
                    if (run_chunk(spi, id)) more.push_back(id);
            });
            bundle_ = 32;
        } catch (const std::exception& e) {
            if (claimed.size() > 1) {
                // Claims rolled back too: take them again one at a time to find the culprit.
                bundle_ = 1;
                continue;
            }
            std::string state = sqlstate_of(e);
            auto c = core::classify_sqlstate(state);
            fail_batch(claimed[0], c.transient ? c.error_code : core::item_error::error,
                       core::item_error_message(c, state, e.what()), c.transient);
            continue;
        }
        for (int64_t id : more) {
            bool again = true;
            while (again) {
                if (check_stop() != Stop::None) return;  // the batch resumes from its next chunk
                CHECK_FOR_INTERRUPTS();
                try {
                    transaction("batch_ops: running a batch", [&](pg::Spi& spi) { again = run_chunk(spi, id); });
                } catch (const std::exception& e) {
                    std::string state = sqlstate_of(e);
                    auto c = core::classify_sqlstate(state);
                    fail_batch(id, c.transient ? c.error_code : core::item_error::error,
                               core::item_error_message(c, state, e.what()), c.transient);
                    again = false;
                }
            }
        }
    }
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
    pqsignal(SIGTERM, on_sigterm);
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    BackgroundWorkerUnblockSignals();

    Shared* sh = shared();
    LWLockAcquire(sh->lock, LW_EXCLUSIVE);
    ExecutorSlot& e = sh->executors[g_slot];
    e.pid = MyProcPid;
    e.dboid = dboid;
    e.latch = MyLatch;
    e.idle = false;
    LWLockRelease(sh->lock);
    before_shmem_exit(release_slot, 0);

    BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
    pgstat_report_appname("batch_ops executor");

    // Errors are caught per transaction inside; anything that escapes ends the
    // process (the launcher starts another one when there is work).
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
    if (failed) ereport(LOG, (errmsg("batch_ops executor exiting after an error: %s", message)));
    proc_exit(0);
}
}
