// Shared memory of the background workers (see README.md beside this file).
//
// One launcher per cluster starts executors, each connected to one database,
// at most batch_ops.max_workers of them. Submissions wake them through
// latches kept here; the ProcessUtility hook asks the executors of a database
// to leave before DROP DATABASE and friends.
#pragma once

#include "pg/postgres.hpp"

extern "C" {
#include "storage/condition_variable.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "storage/lwlock.h"
}

namespace batch_ops::workers {

inline constexpr int kMaxDatabases = 256;
inline constexpr int kMaxExecutors = 64;

struct DatabaseSlot {
    Oid dboid;
    bool pending;        // work was submitted (or may exist): an executor should look
    bool no_extension;   // the last executor found no batch_ops there
    int blocked;         // > 0 while a command needs the database free of our workers
    TimestampTz wake_at; // earliest next_attempt_at of a waiting batch (0: none)
    TimestampTz pending_since;  // the launcher first saw it pending, unserved (0: not pending); launcher only
};

struct ExecutorSlot {
    pid_t pid;           // 0: free
    Oid dboid;
    Latch* latch;
    bool idle;           // waiting for work
    bool leave;          // asked to exit (another database needs the slot, or a blocked database)
    // Cancellation (batch_cancel, see README.md "Cancelling a running batch"):
    int64_t batch;           // the batch whose chunk is in flight (0: none); set by the executor
    int64_t cancel_inflight; // batch_cancel interrupted the chunk of this batch: cancel it
    uint32_t cancel_signals; // SIGINTs batch_cancel sent to this executor (a counter)
    bool cancel_check;       // a cancel request for one of its batches may be waiting
};

struct Shared {
    LWLock* lock;
    pid_t launcher_pid;
    Latch* launcher_latch;
    // Broadcast whenever an executor commits a change of a batch (a chunk, an
    // end, a retry): batch_wait sleeps on it.
    ConditionVariable batch_changed;
    DatabaseSlot dbs[kMaxDatabases];
    ExecutorSlot executors[kMaxExecutors];
};

// The advisory lock an executor holds (session level) on every batch it owns:
// field4 of the lock tag, shown as pg_locks.objsubid (classid and objid are
// the high and low 32 bits of the batch id). A `running` or `cancelling`
// batch whose lock is free has no live executor: the next claim resumes it.
inline constexpr uint16 kBatchLockField4 = 16961;
// A claim's lock (transaction level, field1 the database, field2 and 3 zero):
// one claim at a time per database, so that the turn order between roles and
// a target's max_concurrency hold between executors.
inline constexpr uint16 kClaimLockField4 = 16962;
void batch_locktag(LOCKTAG* tag, Oid dboid, int64_t id);

// Called from _PG_init when loaded by shared_preload_libraries.
void install_hooks();
// Registers the launcher (shared_preload_libraries only).
void register_launcher();

Shared* shared();  // nullptr unless preloaded
bool preloaded();

// Marks this database as having work, at the commit of the current transaction
// (nothing happens if it aborts).
void wake_at_commit();
// Wakes the executors of a database (and the launcher) now.
void wake_database(Oid dboid);

// Asks every executor of the database to leave and waits (up to `timeout_ms`)
// until they have; while blocked, the launcher starts none there.
void block_database(Oid dboid, int timeout_ms);
// look_again: have an executor look at the database afterwards (not after
// it was dropped).
void unblock_database(Oid dboid, bool look_again);

// Pids of the live executors.
int live_executor_pids(pid_t* out, int max);

// What the executors could do for more work in a database (fairness, see
// README.md "Taking turns"): idle executors of that database other than slot
// `self`, and executors of the cluster (started or starting) against
// batch_ops.max_workers.
struct Capacity {
    int idle_here;
    int executors;
    int limit;
};
Capacity capacity(Oid dboid, int self);

// batch_cancel of a running batch: tells the executors of the database to
// look for cancel requests and, with `interrupt`, interrupts (SIGINT) the
// executor whose chunk in flight belongs to the batch. Returns true if a
// chunk was interrupted.
bool request_cancel(Oid dboid, int64_t id, bool interrupt);
// The same once the current transaction commits (its cancel request is then
// visible to the executors).
void request_cancel_at_commit(int64_t id);

// Wakes batch_wait callers: a batch changed (now, or when the current
// transaction commits).
void batch_changed();
void batch_changed_at_commit();

}  // namespace batch_ops::workers
