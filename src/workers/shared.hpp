// Shared memory of the background workers (see README.md beside this file).
//
// One launcher per cluster starts executors, each connected to one database,
// at most batch_ops.max_workers of them. Submissions wake them through
// latches kept here; the ProcessUtility hook asks the executors of a database
// to leave before DROP DATABASE and friends.
#pragma once

#include "pg/postgres.hpp"

extern "C" {
#include "storage/latch.h"
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
};

struct ExecutorSlot {
    pid_t pid;           // 0: free
    Oid dboid;
    Latch* latch;
    bool idle;           // waiting for work
    bool leave;          // asked to exit (another database needs the slot, or a blocked database)
};

struct Shared {
    LWLock* lock;
    pid_t launcher_pid;
    Latch* launcher_latch;
    DatabaseSlot dbs[kMaxDatabases];
    ExecutorSlot executors[kMaxExecutors];
};

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

// Pids of the live executors (for the sweep of batches left running).
int live_executor_pids(pid_t* out, int max);

}  // namespace batch_ops::workers
