// Sync batches (API.md section 5): a source (table, view or one SELECT, of
// this database or of a remote PostgreSQL) loaded into a target table:
// extract, transform (column expressions), load (upsert on the key, optional
// delete of rows gone from the source), full or incremental on a watermark.
#pragma once

#include "pg/spi.hpp"

#include <optional>
#include <string>

#include "core/json.hpp"
#include "core/sync.hpp"
#include "store/syncs.hpp"

namespace batch_ops::ops {

struct SyncDef {
    int64_t id = 0;
    std::string name;
    std::string source;
    bool is_query = false;
    Oid target = InvalidOid;
    core::SyncOptions options;
    Oid owner = InvalidOid;
    std::optional<std::string> watermark;  // last committed (incremental)
};

// Checks everything (names, privileges, the query and expressions, key and
// columns) and records the sync batch (status created). Returns its id.
int64_t create_sync(pg::Spi& spi, const std::string& name, const std::string& source, Oid target,
                    const core::Json& options, Oid actor);

// Loads a sync batch the actor may run: P0002, 42501, or 22023 for a batch
// that is not a sync.
SyncDef load_sync(pg::Spi& spi, int64_t id, Oid actor);

// success, message and the counts of inserted, updated and deleted rows.
struct SyncResult : store::SyncOutcome {
    std::string sync_time;  // ISO 8601
};

// Runs the sync now, as the current user, inside the current transaction: the
// load runs in a subtransaction; a source or load error rolls it back and is
// reported (success false), never raised. Records a sync_run row, events, the
// batch status and (incremental) the new watermark.
SyncResult run_sync(pg::Spi& spi, const SyncDef& def);

// Chunk by chunk, for the workers (incremental syncs of local sources): each
// chunk loads the rows after the committed watermark, up to chunk_size rows
// (all rows of its last watermark value), and commits the new watermark with
// them, so a sync interrupted by a crash resumes where it was.
struct SyncStep {
    SyncResult result;
    std::optional<std::string> watermark;
    bool more = false;
};
int64_t begin_sync_run(pg::Spi& spi, int64_t id);
SyncStep run_sync_chunk(pg::Spi& spi, const SyncDef& def, int chunk_size);
// Adds a chunk to the run and the batch; `last` ends both (status, events).
void record_sync_chunk(pg::Spi& spi, int64_t id, int64_t run_id, const SyncStep& step, bool last);

// {batch_id, runs (finished ones: interrupted runs are not counted), successes, failures, records_synced, last_sync_time, avg_duration_ms}
core::Json sync_statistics(pg::Spi& spi, int64_t id, Oid actor);

}  // namespace batch_ops::ops
