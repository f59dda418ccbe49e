// The extension's own state: batch rows, compact item results, events,
// exports. Every statement runs as the extension owner (pg::as_owner); every
// read on behalf of a user checks that the batch is theirs (or they are an
// admin). Status changes go through store::transition.
#pragma once

#include "pg/spi.hpp"

#include <optional>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "core/export.hpp"
#include "core/request.hpp"
#include "core/results.hpp"
#include "core/status.hpp"

namespace batch_ops::store {

struct NewBatch {
    const core::Request* request = nullptr;
    Datum request_jsonb = (Datum)0;
    Oid submitter = InvalidOid;
    core::BatchStatus status = core::BatchStatus::Queued;  // queued or running
    int max_attempts = 3;
};

// Inserts the batch row and its "submitted" event; returns its id. With an idempotency key, returns
// the id of the caller's existing batch with that key instead (existing=true),
// or raises 22023 when that batch was submitted with another request body.
int64_t insert_batch(pg::Spi& spi, const NewBatch& b, bool* existing);


// Stores results as rows of `chunk_size` items (chunk 0, 1, ...).
void store_items(pg::Spi& spi, int64_t batch_id, const std::vector<core::ItemResult>& items,
                 const std::string& success_message, int chunk_size);

// One stored chunk of results: items[first_seq - 1 .. first_seq - 1 + items.size()).
struct Chunk {
    int number = 0;
    int first_seq = 1;
    std::vector<core::ItemResult> items;
    std::string success_message;
};

// Inserts or replaces one chunk row.
void store_chunk(pg::Spi& spi, int64_t batch_id, const Chunk& chunk);

// The first chunk (numbered from_chunk or later) of the batch that still has
// pending items, if any.
std::optional<Chunk> first_pending_chunk(pg::Spi& spi, int64_t batch_id, int from_chunk = 0);


int64_t store_export(pg::Spi& spi, int64_t batch_id, const char* format, const std::string& content, int64_t rows);
// Adds one chunk's export to the batch's export (created by the first chunk).
void append_export(pg::Spi& spi, int64_t batch_id, core::ExportFormat format, const std::string& content, int64_t rows);
// Who submitted the batch of export `export_id`; nullopt when there is no such export.
std::optional<Oid> export_submitter(pg::Spi& spi, int64_t export_id);
// The content of export `export_id` (text, copied out of SPI's memory); nullopt when it is gone.
std::optional<Datum> export_content(pg::Spi& spi, int64_t export_id);

struct BatchRow {
    int64_t id = 0;
    std::string kind, operation, target_type;
    core::BatchStatus status = core::BatchStatus::Created;
    bool dry_run = false;
    Oid submitted_by = InvalidOid;
    std::string created_at, started_at, finished_at, updated_at;  // ISO 8601, empty when null
    int64_t total = 0, processed = 0, success = 0, failure = 0, skipped = 0, cancelled = 0;
    int attempt = 1;
    std::optional<std::string> last_error, last_error_code, current_item;
    std::optional<int64_t> duration_ms;
    std::optional<int64_t> export_id;
};

// Loads a batch the current user may see: P0002 when it does not exist,
// 42501 when it belongs to another role and the caller is no admin.
BatchRow load_batch(pg::Spi& spi, int64_t id);

std::vector<core::ItemResult> load_items(pg::Spi& spi, int64_t id);

// The batch_ops.job_status record of a batch (batch_status, batch_wait),
// copied out of SPI's memory; load_batch first for the checks. `timed_out`:
// batch_wait returned because its timeout passed. P0002 if the batch is gone.
Datum job_status_record(pg::Spi& spi, int64_t id, bool timed_out = false);

// Writes the counts and the final status of an inline batch that has ended,
// with an event naming the actor; returns the row as it now is. A failed batch
// fails its queued dependents (UPSTREAM_FAILED).
BatchRow finish_batch(pg::Spi& spi, int64_t batch_id, const std::vector<core::ItemResult>& items,
                      core::BatchStatus status, Oid actor);

// An event that is no status change (such as "quarantined"), as the owner.
void add_event(pg::Spi& spi, int64_t id, const std::string& event, Oid actor, const core::Json& detail);

// The transaction that last wrote the batch row (its xmin); nullopt when the
// batch does not exist.
std::optional<TransactionId> batch_xmin(pg::Spi& spi, int64_t id);

// Removes ended operation batches (succeeded, failed, cancelled) that
// finished more than `older_than` ago, at most `limit` of them when given;
// returns how many.
int64_t remove_ended_batches(pg::Spi& spi, const Interval& older_than, std::optional<int64_t> limit);

// What batch_health reports of the batches and targets.
struct Summary {
    int64_t active = 0;               // running or cancelling
    int64_t queued = 0;
    int64_t oldest_queued_age_s = 0;  // 0 without queued batches
    std::string targets;              // a JSON array of the registered targets' names
    std::string now;                  // ISO 8601
};
Summary batch_summary(pg::Spi& spi);

// The response of API.md section 4 for a batch that has ended or is running.
core::Json response_for(const BatchRow& b, const std::vector<core::ItemResult>& items);

}  // namespace batch_ops::store
