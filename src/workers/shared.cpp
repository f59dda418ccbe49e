// Shared memory, the submission wake-up at commit, and the ProcessUtility hook
// that keeps our workers from blocking DROP DATABASE and friends.
//
// This file is plain PostgreSQL code in C++ syntax: it owns no destructible
// objects, so PostgreSQL errors may pass through it.
#include "workers/shared.hpp"

#include "pg/settings.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "nodes/parsenodes.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "storage/procsignal.h"
#include "storage/shmem.h"
#include "utils/wait_event.h"
#include "tcop/utility.h"
#include "utils/lsyscache.h"
}

#include <csignal>

namespace batch_ops::workers {

namespace {

Shared* g_shared = nullptr;
bool g_preloaded = false;
bool g_wake_at_commit = false;
bool g_changed_at_commit = false;
// Batches whose cancel was requested in the current transaction (a few are
// remembered one by one; beyond that, every executor of the database looks).
constexpr int kCancelsAtCommit = 16;
int64_t g_cancels_at_commit[kCancelsAtCommit];
int g_ncancels_at_commit = 0;
bool g_cancel_overflow = false;
shmem_request_hook_type prev_shmem_request = nullptr;
shmem_startup_hook_type prev_shmem_startup = nullptr;
ProcessUtility_hook_type prev_utility = nullptr;

void shmem_request() {
    if (prev_shmem_request) prev_shmem_request();
    RequestAddinShmemSpace(MAXALIGN(sizeof(Shared)));
    RequestNamedLWLockTranche("batch_ops", 1);
}

void shmem_startup() {
    if (prev_shmem_startup) prev_shmem_startup();
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found;
    g_shared = static_cast<Shared*>(ShmemInitStruct("batch_ops", sizeof(Shared), &found));
    if (!found) {
        memset(g_shared, 0, sizeof(Shared));
        g_shared->lock = &(GetNamedLWLockTranche("batch_ops"))->lock;
        ConditionVariableInit(&g_shared->batch_changed);
    }
    LWLockRelease(AddinShmemInitLock);
}

DatabaseSlot* find_db(Oid dboid, bool create) {
    DatabaseSlot* free_slot = nullptr;
    for (auto& d : g_shared->dbs) {
        if (d.dboid == dboid) return &d;
        if (!OidIsValid(d.dboid) && !free_slot) free_slot = &d;
    }
    if (create && free_slot) {
        memset(free_slot, 0, sizeof(*free_slot));
        free_slot->dboid = dboid;
    }
    return create ? free_slot : nullptr;
}

// Wakes an idle executor of the database, else the launcher (which starts one).
void wake_locked(Oid dboid) {
    DatabaseSlot* d = find_db(dboid, true);
    if (d) {
        d->pending = true;
        d->no_extension = false;
    }
    bool woke = false;
    for (auto& e : g_shared->executors)
        if (e.pid != 0 && e.dboid == dboid && e.idle && !e.leave && e.latch) {
            SetLatch(e.latch);
            woke = true;
            break;
        }
    if (!woke && g_shared->launcher_latch) SetLatch(g_shared->launcher_latch);
}

void xact_callback(XactEvent event, void*) {
    if (event == XACT_EVENT_COMMIT) {
        if (g_wake_at_commit) {
            g_wake_at_commit = false;
            wake_database(MyDatabaseId);
        }
        if (g_ncancels_at_commit > 0 || g_cancel_overflow) {
            // The request is visible now: the executors look for it (the
            // chunk in flight was interrupted when it was made).
            for (int i = 0; i < g_ncancels_at_commit; ++i)
                (void)request_cancel(MyDatabaseId, g_cancels_at_commit[i], false);
            if (g_cancel_overflow) (void)request_cancel(MyDatabaseId, 0, false);
            g_ncancels_at_commit = 0;
            g_cancel_overflow = false;
        }
        if (g_changed_at_commit) {
            g_changed_at_commit = false;
            batch_changed();
        }
    } else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT) {
        g_wake_at_commit = false;
        g_changed_at_commit = false;
        g_ncancels_at_commit = 0;
        g_cancel_overflow = false;
    }
}

Oid database_oid_of(const char* name) { return get_database_oid(name, true); }

// Which database a utility statement needs free of other sessions, if any.
Oid database_needing_exclusive_use(Node* stmt) {
    switch (nodeTag(stmt)) {
        case T_DropdbStmt:
            return database_oid_of(castNode(DropdbStmt, stmt)->dbname);
        case T_RenameStmt: {
            RenameStmt* r = castNode(RenameStmt, stmt);
            if (r->renameType == OBJECT_DATABASE) return database_oid_of(r->subname);
            return InvalidOid;
        }
        case T_CreatedbStmt: {
            CreatedbStmt* c = castNode(CreatedbStmt, stmt);
            ListCell* lc;
            foreach (lc, c->options) {
                DefElem* opt = lfirst_node(DefElem, lc);
                if (strcmp(opt->defname, "template") == 0 && opt->arg)
                    return database_oid_of(defGetString(opt));
            }
            return InvalidOid;
        }
        case T_AlterDatabaseStmt: {
            // ALTER DATABASE ... ALLOW_CONNECTIONS false / IS_TEMPLATE: let it
            // through untouched; the launcher notices at its next scan.
            return InvalidOid;
        }
        case T_DropStmt: {
            DropStmt* d = castNode(DropStmt, stmt);
            if (d->removeType != OBJECT_EXTENSION) return InvalidOid;
            ListCell* lc;
            foreach (lc, d->objects) {
                Node* obj = static_cast<Node*>(lfirst(lc));
                if (IsA(obj, String) && strcmp(strVal(obj), "batch_ops") == 0) return MyDatabaseId;
            }
            return InvalidOid;
        }
        default:
            return InvalidOid;
    }
}

void utility_hook(PlannedStmt* pstmt, const char* query, bool read_only_tree, ProcessUtilityContext context,
                  ParamListInfo params, QueryEnvironment* env, DestReceiver* dest, QueryCompletion* qc) {
    Oid dboid = g_shared ? database_needing_exclusive_use(pstmt->utilityStmt) : InvalidOid;
    if (OidIsValid(dboid)) {
        PG_TRY();
        {
            block_database(dboid, 10000);
            if (prev_utility)
                prev_utility(pstmt, query, read_only_tree, context, params, env, dest, qc);
            else
                standard_ProcessUtility(pstmt, query, read_only_tree, context, params, env, dest, qc);
        }
        PG_CATCH();
        {
            unblock_database(dboid, true);
            PG_RE_THROW();
        }
        PG_END_TRY();
        // After a DROP DATABASE there is nothing left to look at.
        unblock_database(dboid, !IsA(pstmt->utilityStmt, DropdbStmt));
        return;
    }
    if (prev_utility)
        prev_utility(pstmt, query, read_only_tree, context, params, env, dest, qc);
    else
        standard_ProcessUtility(pstmt, query, read_only_tree, context, params, env, dest, qc);
    // CREATE EXTENSION batch_ops: have an executor look at this database once
    // the transaction commits.
    if (g_shared && IsA(pstmt->utilityStmt, CreateExtensionStmt) &&
        strcmp(castNode(CreateExtensionStmt, pstmt->utilityStmt)->extname, "batch_ops") == 0)
        g_wake_at_commit = true;
}

}  // namespace

Shared* shared() { return g_shared; }
bool preloaded() { return g_preloaded && g_shared != nullptr; }

void install_hooks() {
    g_preloaded = true;
    prev_shmem_request = shmem_request_hook;
    shmem_request_hook = shmem_request;
    prev_shmem_startup = shmem_startup_hook;
    shmem_startup_hook = shmem_startup;
    prev_utility = ProcessUtility_hook;
    ProcessUtility_hook = utility_hook;
    RegisterXactCallback(xact_callback, nullptr);
}

void wake_at_commit() { g_wake_at_commit = true; }

void wake_database(Oid dboid) {
    if (!g_shared) return;
    LWLockAcquire(g_shared->lock, LW_EXCLUSIVE);
    wake_locked(dboid);
    LWLockRelease(g_shared->lock);
}

void block_database(Oid dboid, int timeout_ms) {
    LWLockAcquire(g_shared->lock, LW_EXCLUSIVE);
    DatabaseSlot* d = find_db(dboid, true);
    if (d) d->blocked++;
    for (auto& e : g_shared->executors)
        if (e.pid != 0 && e.dboid == dboid) {
            e.leave = true;
            if (e.latch) SetLatch(e.latch);
        }
    LWLockRelease(g_shared->lock);
    // Wait until they are gone; an executor in the middle of a chunk finishes
    // it first (it commits or rolls back, never leaves half a chunk).
    for (int waited = 0; waited < timeout_ms; waited += 10) {
        bool any = false;
        LWLockAcquire(g_shared->lock, LW_SHARED);
        for (auto& e : g_shared->executors)
            if (e.pid != 0 && e.dboid == dboid) any = true;
        LWLockRelease(g_shared->lock);
        if (!any) return;
        CHECK_FOR_INTERRUPTS();
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
    }
}

void unblock_database(Oid dboid, bool look_again) {
    LWLockAcquire(g_shared->lock, LW_EXCLUSIVE);
    DatabaseSlot* d = find_db(dboid, false);
    if (d && d->blocked > 0) d->blocked--;
    if (d && look_again) d->pending = true;  // the extension may be back, or gone
    if (d && !look_again && d->blocked == 0) memset(d, 0, sizeof *d);
    if (g_shared->launcher_latch) SetLatch(g_shared->launcher_latch);
    LWLockRelease(g_shared->lock);
}

void batch_locktag(LOCKTAG* tag, Oid dboid, int64_t id) {
    const uint64 v = static_cast<uint64>(id);
    SET_LOCKTAG_ADVISORY(*tag, dboid, static_cast<uint32>(v >> 32), static_cast<uint32>(v), kBatchLockField4);
}

bool request_cancel(Oid dboid, int64_t id, bool interrupt) {
    if (!g_shared) return false;
    bool interrupted = false;
    LWLockAcquire(g_shared->lock, LW_EXCLUSIVE);
    for (auto& e : g_shared->executors) {
        if (e.pid <= 0 || e.dboid != dboid) continue;
        e.cancel_check = true;
        // Interrupt only the statement of the chunk of this very batch: the
        // executor sets `batch` under this lock before the chunk and clears it
        // after, so the signal is meant for that chunk. (It may still arrive
        // just after the chunk committed; the executor counts the signals and
        // treats such a late one as spurious.)
        if (interrupt && id != 0 && e.batch == id) {
            e.cancel_inflight = id;
            e.cancel_signals++;
            if (kill(e.pid, SIGINT) == 0) interrupted = true;
        }
        if (e.latch) SetLatch(e.latch);
    }
    LWLockRelease(g_shared->lock);
    return interrupted;
}

void request_cancel_at_commit(int64_t id) {
    for (int i = 0; i < g_ncancels_at_commit; ++i)
        if (g_cancels_at_commit[i] == id) return;
    if (g_ncancels_at_commit < kCancelsAtCommit)
        g_cancels_at_commit[g_ncancels_at_commit++] = id;
    else
        g_cancel_overflow = true;
}

void batch_changed() {
    if (g_shared) ConditionVariableBroadcast(&g_shared->batch_changed);
}

void batch_changed_at_commit() { g_changed_at_commit = true; }

int live_executor_pids(pid_t* out, int max) {
    int n = 0;
    if (!g_shared) return 0;
    LWLockAcquire(g_shared->lock, LW_SHARED);
    for (auto& e : g_shared->executors)
        if (e.pid != 0 && n < max) out[n++] = e.pid;
    LWLockRelease(g_shared->lock);
    return n;
}

}  // namespace batch_ops::workers

namespace batch_ops::workers {

Capacity capacity(Oid dboid, int self) {
    Capacity c = {0, 0, 0};
    if (!g_shared) return c;
    c.limit = settings::max_workers < kMaxExecutors ? settings::max_workers : kMaxExecutors;
    LWLockAcquire(g_shared->lock, LW_SHARED);
    for (int i = 0; i < kMaxExecutors; ++i) {
        const ExecutorSlot& e = g_shared->executors[i];
        if (e.pid == 0) continue;
        ++c.executors;
        if (i != self && e.pid > 0 && e.dboid == dboid && e.idle && !e.leave) ++c.idle_here;
    }
    LWLockRelease(g_shared->lock);
    return c;
}

}  // namespace batch_ops::workers
