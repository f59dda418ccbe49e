// The batch state machine (API.md section 2).
//
//   created ──> queued ──> running ──> succeeded
//      │          │  ^        │ │ └──> failed ──> queued (batch_retry)
//      │          │  └────────┘ │        ^
//      │          │ (backoff,   └──> cancelling ──> cancelled
//      │          │  crash)                 └─────> failed / succeeded (ended first)
//      │          ├──> cancelled (batch_cancel while queued)
//      │          └──> failed (UPSTREAM_FAILED, role gone)
//      └──> running (batch_sync runs a sync at once)
//
// A sync batch may run again once it ended: succeeded, failed or cancelled
// -> running (batch_sync) or -> queued (batch_sync in the background).
// running -> cancelled: batch_cancel found a chunk in flight and recorded a
// request beside the batch (batch_cancel_request) instead of setting
// cancelling; the executor then cancels the batch at once.
//
// Inline batches are written as running and end in the same transaction.
#pragma once

#include <optional>
#include <string>

namespace batch_ops::core {

enum class BatchStatus { Created, Queued, Running, Cancelling, Succeeded, Failed, Cancelled };
enum class ItemStatus : char { Pending = 'p', Succeeded = 's', Failed = 'f', Skipped = 'k', Cancelled = 'c' };

const char* to_string(BatchStatus s);
std::optional<BatchStatus> parse_batch_status(const std::string& s);
const char* to_string(ItemStatus s);
std::optional<ItemStatus> item_status_from_code(char c);

bool is_terminal(BatchStatus s);
// queued, running or cancelling: the batch has work ahead or under way.
bool is_in_progress(BatchStatus s);
// sync: a sync batch may be run again by batch_sync after it ended.
// Every status change is checked with it (store::transition).
bool can_transition(BatchStatus from, BatchStatus to, bool sync = false);

}  // namespace batch_ops::core
