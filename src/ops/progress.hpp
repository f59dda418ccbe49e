// Progress of background batches: counters per chunk, cancellation, the end
// of a batch, automatic retries of transient failures, and NOTIFY payloads.
#pragma once

#include "pg/spi.hpp"

#include <string>
#include <unordered_map>

#include "core/results.hpp"

namespace batch_ops::ops {

struct ProgressRow {
    int64_t id = 0;
    std::string status;
    int64_t total = 0, processed = 0, success = 0, failure = 0;
};

// At most one progress NOTIFY per batch per batch_ops.notify_interval.
class Throttle {
public:
    bool allow(int64_t id, bool force);
    void forget(int64_t id) { last_.erase(id); }

private:
    std::unordered_map<int64_t, TimestampTz> last_;
};

// Adds a chunk's results to the batch counters (with a "chunk" event).
ProgressRow add_progress(pg::Spi& spi, int64_t id, const core::Counts& delta, const std::string& current_item);
// Marks every pending item cancelled and counts them.
void cancel_pending(pg::Spi& spi, int64_t id);
// Ends a batch whose items are all done: its final status from its counters,
// last_error from its first failed item (cleared when it succeeds), and the
// terminal event (its actor: `actor`, else for a cancel whoever requested it,
// else the submitter); a pending cancel request (batch_cancel_request) is
// removed; `failed`: the batch itself failed
// (also when it has no items, like a sync). A failed or cancelled batch fails its
// queued dependents (UPSTREAM_FAILED).
ProgressRow finish_background(pg::Spi& spi, int64_t id, bool cancelling, Oid actor = InvalidOid,
                              bool failed = false);
// A batch-level error: a batch being cancelled (status cancelling, or a cancel
// request recorded) is cancelled; with `transient` and attempts left, the
// batch goes back to queued with an exponential backoff (next_attempt_at);
// otherwise its pending items fail with the error and the batch ends failed.
ProgressRow fail_or_retry(pg::Spi& spi, int64_t id, const std::string& code, const std::string& message,
                          bool transient);

// The NOTIFY payload of API.md section 7 (ids and counts only).
std::string progress_payload(const ProgressRow& p);
// The batch's current progress row.
ProgressRow progress_of(pg::Spi& spi, int64_t id);
// Announces a status change of the batch (always sent: never throttled).
void announce(pg::Spi& spi, int64_t id);

// Sends it on batch_ops.notify_channel, inside the current transaction,
// unless throttled (never for a status change: force) or the server's
// notification queue is over half full (then it is skipped with a log line).
void notify_progress(const ProgressRow& p, bool force, Throttle& throttle);

}  // namespace batch_ops::ops
