// The launcher: one per cluster, connected to no database. It keeps a slot
// per connectable database and starts executors (at most
// batch_ops.max_workers) where there is work. Plain PostgreSQL code in C++
// syntax: it owns no destructible objects.
#include "workers/executor.hpp"

#include "pg/settings.hpp"
#include "workers/shared.hpp"

extern "C" {
#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_database.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/snapmgr.h"
#include "utils/wait_event.h"
}

namespace batch_ops::workers {

namespace {

BackgroundWorkerHandle* g_handles[kMaxExecutors];

void launcher_exit(int, Datum) {
    Shared* sh = shared();
    LWLockAcquire(sh->lock, LW_EXCLUSIVE);
    if (sh->launcher_pid == MyProcPid) {
        sh->launcher_pid = 0;
        sh->launcher_latch = nullptr;
    }
    LWLockRelease(sh->lock);
}

// Brings the database slots in line with pg_database: connectable, non-template
// databases get a slot (new ones marked pending so an executor looks once).
void scan_databases(bool first) {
    Oid seen[kMaxDatabases];
    int n = 0;
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    PushActiveSnapshot(GetTransactionSnapshot());
    Relation rel = table_open(DatabaseRelationId, AccessShareLock);
    TableScanDesc scan = table_beginscan_catalog(rel, 0, nullptr);
    HeapTuple tup;
    while ((tup = heap_getnext(scan, ForwardScanDirection)) != nullptr && n < kMaxDatabases) {
        Form_pg_database db = (Form_pg_database)GETSTRUCT(tup);
        if (!db->datallowconn || db->datistemplate) continue;
        seen[n++] = db->oid;
    }
    table_endscan(scan);
    table_close(rel, AccessShareLock);
    PopActiveSnapshot();
    CommitTransactionCommand();

    Shared* sh = shared();
    LWLockAcquire(sh->lock, LW_EXCLUSIVE);
    for (auto& d : sh->dbs) {
        if (!OidIsValid(d.dboid)) continue;
        bool present = false;
        for (int i = 0; i < n; ++i) present = present || seen[i] == d.dboid;
        if (!present && d.blocked == 0) memset(&d, 0, sizeof d);
    }
    for (int i = 0; i < n; ++i) {
        DatabaseSlot* slot = nullptr;
        DatabaseSlot* free_slot = nullptr;
        for (auto& d : sh->dbs) {
            if (d.dboid == seen[i]) slot = &d;
            if (!OidIsValid(d.dboid) && !free_slot) free_slot = &d;
        }
        if (!slot && free_slot) {
            memset(free_slot, 0, sizeof *free_slot);
            free_slot->dboid = seen[i];
            free_slot->pending = true;
        } else if (slot && first) {
            slot->pending = true;
        }
    }
    LWLockRelease(sh->lock);
}

// Frees the slots of executors that stopped before claiming them.
void reap() {
    Shared* sh = shared();
    for (int i = 0; i < kMaxExecutors; ++i) {
        if (!g_handles[i]) continue;
        pid_t pid;
        if (GetBackgroundWorkerPid(g_handles[i], &pid) != BGWH_STOPPED) continue;
        LWLockAcquire(sh->lock, LW_EXCLUSIVE);
        if (sh->executors[i].pid == -1) memset(&sh->executors[i], 0, sizeof sh->executors[i]);
        LWLockRelease(sh->lock);
        pfree(g_handles[i]);
        g_handles[i] = nullptr;
    }
}

bool start_executor(int slot, Oid dboid) {
    BackgroundWorker w;
    memset(&w, 0, sizeof w);
    w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    w.bgw_start_time = BgWorkerStart_RecoveryFinished;
    w.bgw_restart_time = BGW_NEVER_RESTART;
    snprintf(w.bgw_library_name, BGW_MAXLEN, "batch_ops");
    snprintf(w.bgw_function_name, BGW_MAXLEN, "batch_ops_executor_main");
    snprintf(w.bgw_name, BGW_MAXLEN, "batch_ops executor");
    snprintf(w.bgw_type, BGW_MAXLEN, "batch_ops executor");
    w.bgw_main_arg = Int32GetDatum(slot);
    memcpy(w.bgw_extra, &dboid, sizeof(Oid));
    w.bgw_notify_pid = MyProcPid;
    return RegisterDynamicBackgroundWorker(&w, &g_handles[slot]);
}

// A database whose executors are all busy while it has more work: after this
// long, an idle executor of another database steps aside for it.
constexpr int kStepAsideMs = 500;

// Starts executors where work waits, within batch_ops.max_workers; wakes idle
// ones; asks an idle executor elsewhere to make room when all slots are taken.
// Returns how long the launcher may sleep before it must look again (a
// database waiting for kStepAsideMs to pass), or -1.
long dispatch() {
    Shared* sh = shared();
    int to_start[kMaxExecutors];
    int starts = 0;
    long next_ms = -1;
    TimestampTz now = GetCurrentTimestamp();
    const int limit = settings::max_workers < kMaxExecutors ? settings::max_workers : kMaxExecutors;
    LWLockAcquire(sh->lock, LW_EXCLUSIVE);
    int total = 0;
    for (auto& e : sh->executors) total += e.pid != 0;
    for (auto& d : sh->dbs) {
        if (!OidIsValid(d.dboid) || d.blocked > 0) continue;
        bool due = d.pending || (d.wake_at != 0 && d.wake_at <= now);
        if (!due) {
            d.pending_since = 0;
            continue;
        }
        if (d.pending_since == 0) d.pending_since = now;
        int mine = 0, idle = -1;
        for (int i = 0; i < kMaxExecutors; ++i) {
            ExecutorSlot& e = sh->executors[i];
            if (e.pid == 0 || e.dboid != d.dboid || e.leave) continue;
            ++mine;
            if (e.idle && e.latch) idle = i;
        }
        if (idle >= 0) {
            SetLatch(sh->executors[idle].latch);
            d.pending = false;
            d.wake_at = 0;
            d.pending_since = 0;
            continue;
        }
        if (total < limit) {
            for (int i = 0; i < kMaxExecutors; ++i)
                if (sh->executors[i].pid == 0) {
                    sh->executors[i].pid = -1;  // reserved until the executor claims it
                    sh->executors[i].dboid = d.dboid;
                    to_start[starts++] = i;
                    ++total;
                    break;
                }
            d.pending = false;
            d.wake_at = 0;
            d.pending_since = 0;
            continue;
        }
        // All slots are taken. A database without an executor gets one at
        // once; one whose executors are all busy gets another when its work
        // has waited kStepAsideMs (its executors may take it meanwhile:
        // then one of them goes idle and clears pending). Either way an idle
        // executor of another database steps aside; the slot it frees is
        // filled at a later pass.
        long waited = (long)((now - d.pending_since) / 1000);
        if (mine > 0 && waited < kStepAsideMs) {
            long left = kStepAsideMs - waited;
            if (next_ms < 0 || left < next_ms) next_ms = left;
            continue;
        }
        for (auto& e : sh->executors)
            if (e.pid > 0 && e.dboid != d.dboid && e.idle && !e.leave) {
                e.leave = true;
                if (e.latch) SetLatch(e.latch);
                break;
            }
    }
    LWLockRelease(sh->lock);
    for (int k = 0; k < starts; ++k) {
        int slot = to_start[k];
        Oid dboid = sh->executors[slot].dboid;
        if (!start_executor(slot, dboid)) {
            ereport(LOG, (errmsg("batch_ops launcher could not start an executor"),
                          errhint("Raise max_worker_processes.")));
            LWLockAcquire(sh->lock, LW_EXCLUSIVE);
            memset(&sh->executors[slot], 0, sizeof sh->executors[slot]);
            for (auto& d : sh->dbs)
                if (d.dboid == dboid) d.pending = true;
            LWLockRelease(sh->lock);
        }
    }
    return next_ms;
}

}  // namespace

void register_launcher() {
    BackgroundWorker w;
    memset(&w, 0, sizeof w);
    w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    // Not on a hot standby: it starts once recovery has finished (promotion).
    w.bgw_start_time = BgWorkerStart_RecoveryFinished;
    w.bgw_restart_time = 5;
    snprintf(w.bgw_library_name, BGW_MAXLEN, "batch_ops");
    snprintf(w.bgw_function_name, BGW_MAXLEN, "batch_ops_launcher_main");
    snprintf(w.bgw_name, BGW_MAXLEN, "batch_ops launcher");
    snprintf(w.bgw_type, BGW_MAXLEN, "batch_ops launcher");
    RegisterBackgroundWorker(&w);
}

}  // namespace batch_ops::workers

extern "C" void batch_ops_launcher_main(Datum) {
    using namespace batch_ops::workers;
    pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    BackgroundWorkerUnblockSignals();
    BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);
    pgstat_report_appname("batch_ops launcher");

    Shared* sh = shared();
    LWLockAcquire(sh->lock, LW_EXCLUSIVE);
    sh->launcher_pid = MyProcPid;
    sh->launcher_latch = MyLatch;
    // Executors of a previous launcher are gone with it after a crash; a
    // slot still reserved (-1) was never claimed.
    for (auto& e : sh->executors)
        if (e.pid == -1) memset(&e, 0, sizeof e);
    LWLockRelease(sh->lock);
    before_shmem_exit(launcher_exit, 0);

    TimestampTz next_scan = 0;
    bool first = true;
    while (!ShutdownRequestPending) {
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
        }
        TimestampTz now = GetCurrentTimestamp();
        if (now >= next_scan) {
            scan_databases(first);
            first = false;
            next_scan = TimestampTzPlusMilliseconds(now, batch_ops::settings::poll_interval_ms > 1000 ? batch_ops::settings::poll_interval_ms : 1000);
        }
        reap();
        long sleep_ms = batch_ops::settings::poll_interval_ms;
        if (batch_ops::settings::enabled) {
            long next_ms = dispatch();
            if (next_ms >= 0 && next_ms < sleep_ms) sleep_ms = next_ms > 10 ? next_ms : 10;
        }
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, sleep_ms, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
    }
    proc_exit(0);
}
