// Sync batches as rows: batch_ops.sync (the definitions), batch_ops.sync_run
// (their runs) and their batch rows and events. The checks and the work of a
// sync are in ops/sync.
#pragma once

#include "pg/spi.hpp"

#include <optional>
#include <string>

#include "core/json.hpp"
#include "core/status.hpp"

namespace batch_ops::store {

// A new sync: its batch row (created), its definition and its "created" event.
struct NewSync {
    std::string name;
    std::string source;      // as stored: a local table schema-qualified
    bool is_query = false;
    Oid target = InvalidOid;
    std::string target_name; // the target as regclass text (the batch's target_type)
    core::Json request;      // the batch's request (no secrets)
    core::Json options;      // the definition's options
    Oid owner = InvalidOid;  // its creator, as which it runs
};
// Records it and returns its id; nullopt when a sync of that name exists.
std::optional<int64_t> insert_sync(pg::Spi& spi, const NewSync& s);

// A definition restored by pg_dump (its batch history is not dumped): its
// batch row comes back (created), with the same id and `request`.
void restore_sync_batch(pg::Spi& spi, int64_t id, const core::Json& request);

// Batch `id` as a sync: the definition and the batch (either may be missing).
struct SyncRecord {
    bool has_batch = false, has_sync = false;
    std::optional<std::string> kind;  // of the batch
    Oid owner = InvalidOid;           // the sync's creator, else the batch's submitter
    // The definition (has_sync):
    std::string name, source;
    bool is_query = false;
    Oid target = InvalidOid;
    std::string options;  // JSON text
    std::optional<std::string> watermark;
};
// nullopt when there is neither a batch nor a sync with that id.
std::optional<SyncRecord> find_sync(pg::Spi& spi, int64_t id);

// The sync named `name` (its definition row locked), for drop_sync.
struct NamedSync {
    int64_t id = 0;
    Oid owner = InvalidOid;
    std::optional<core::BatchStatus> status;  // of its batch, if it has one
};
std::optional<NamedSync> lock_sync_by_name(pg::Spi& spi, const std::string& name);
// Removes the definition, with a "sync dropped" event by `actor`; its batch,
// runs and events stay until cleanup.
void drop_sync(pg::Spi& spi, int64_t id, Oid actor);

// batch_sync(id, true): the sync's counts, times and error are reset and it
// goes to queued (event "queued" by `actor`, announced).
void queue_sync(pg::Spi& spi, int64_t id, Oid actor);

// A run starts: the batch is running (it is already when a worker claimed
// it), started now, with a "started" event by `actor` (not announced).
void mark_sync_started(pg::Spi& spi, int64_t id, Oid actor);

// The committed watermark of an incremental sync.
void save_watermark(pg::Spi& spi, int64_t id, const std::string& watermark);

// What a run, or a chunk of one, did.
struct SyncOutcome {
    bool success = false;
    std::string message;
    int64_t inserted = 0, updated = 0, deleted = 0;
};

// The end of a run in one transaction, started by `actor` `elapsed_us` ago:
// its sync_run row (with `watermark`), the batch's counts, and its status
// (succeeded or failed, event "synced" or "sync_failed", announced).
void record_sync_run(pg::Spi& spi, int64_t id, const SyncOutcome& run, const std::optional<std::string>& watermark,
                     Oid actor, int64_t elapsed_us);

// Chunk by chunk (workers): a run opened by begin_sync_run (closing one left
// open by an executor that died), then one record_sync_chunk per chunk.
int64_t begin_sync_run(pg::Spi& spi, int64_t id);
// Adds the chunk (the watermark after it) to the run and the batch (event
// "chunk"); `last` ends both: the batch succeeded or failed (event "synced"
// or "sync_failed", announced).
void record_sync_chunk(pg::Spi& spi, int64_t id, int64_t run_id, const SyncOutcome& chunk,
                       const std::optional<std::string>& watermark, bool last);

// Over the finished runs of sync batch `id`.
struct SyncStatistics {
    int64_t runs = 0, successes = 0, failures = 0, records_synced = 0;
    std::optional<std::string> last_sync_time;  // ISO 8601
    std::optional<int64_t> avg_duration_ms;
};
SyncStatistics sync_statistics(pg::Spi& spi, int64_t id);

}  // namespace batch_ops::store
