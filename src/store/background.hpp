// The bookkeeping of background batches, as rows: what an executor reads
// before a chunk, the counters it adds, the end of a batch, automatic
// retries, claims, and cancel requests. The decisions (when to retry, with
// what backoff; what to claim) are the executor's and ops/progress's.
#pragma once

#include "pg/spi.hpp"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/json.hpp"
#include "core/results.hpp"
#include "core/status.hpp"
#include "store/notify.hpp"
#include "store/transition.hpp"

namespace batch_ops::store {

// A batch as an executor finds it before a chunk.
struct BatchState {
    std::string kind;  // operation or sync
    Oid submitted_by = InvalidOid;
    bool dry_run = false;
    core::BatchStatus status = core::BatchStatus::Created;
    bool cancel_requested = false;  // batch_cancel recorded a request (batch_cancel_request)
    // batch_pause: paused, or a request waits (batch_pause_request).
    bool pause_requested = false;
    // Its cancel has been asked for: it is cancelling, or a request waits.
    bool cancelling() const { return status == core::BatchStatus::Cancelling || cancel_requested; }
};
// nullopt when the batch does not exist (or, with a SKIP LOCKED lock, is locked).
std::optional<BatchState> batch_state(pg::Spi& spi, int64_t id, RowLock lock);
// The request the batch was submitted with; P0002 when it is gone.
core::Json batch_request(pg::Spi& spi, int64_t id);

// Adds a chunk's results to the batch's counters, with a "chunk" event
// unless it was the last; returns the progress.
Progress add_progress(pg::Spi& spi, int64_t id, const core::Counts& delta, const std::string& current_item);
// Every pending item of the batch is cancelled, and counted.
void cancel_pending(pg::Spi& spi, int64_t id);
// Every pending item of the batch fails with `code` and `message`, counted;
// the batch's last error is that.
void fail_pending(pg::Spi& spi, int64_t id, const std::string& code, const std::string& message);

// Ends a batch whose items are all done: cancelled with `cancelling`, else
// failed (`failed`: the batch itself failed, also without items, like a
// sync) or when an item did not succeed, else succeeded; last_error from
// its first failed item (cleared when it succeeds); the terminal event (its
// actor: `actor`, else for a cancel whoever requested it, else the
// submitter) and its announcement. A pending cancel request is removed; a
// sync run the batch left open ends with it; a failed or cancelled batch
// fails its queued dependents (UPSTREAM_FAILED). nullopt when the batch is
// gone.
std::optional<Progress> finish_background(pg::Spi& spi, int64_t id, bool cancelling, Oid actor = InvalidOid,
                                          bool failed = false);

// What decides an automatic retry, read with the row locked (FOR NO KEY
// UPDATE: a cancel request being inserted does not wait for it, nor it for
// the request). nullopt when the batch is gone.
struct RetryBudget {
    int automatic_attempts = 0;  // of this run
    int max_attempts = 0;
    bool cancelling = false;     // cancelling, or a cancel request waits
};
std::optional<RetryBudget> retry_budget(pg::Spi& spi, int64_t id);
// running -> queued for an automatic retry in `delay_ms` (attempt + 1), with
// a "retry_scheduled" event and its announcement.
Progress schedule_retry(pg::Spi& spi, int64_t id, const std::string& code, const std::string& message,
                        int64_t delay_ms);

// Claims. The upstream batches (failed or cancelled) of queued batches that
// missed their cascade.
std::vector<int64_t> broken_upstreams(pg::Spi& spi);
// The batches that are running or cancelling (among `ids` when given), by id.
std::vector<int64_t> active_batches(pg::Spi& spi, const std::vector<int64_t>* among = nullptr);
// Of `ids` (running or cancelling), those whose rows are free: their
// worker_pid becomes `pid`. Returns them.
std::vector<int64_t> adopt(pg::Spi& spi, const std::vector<int64_t>& ids, int pid);
// A "resumed" event for each of `ids`, taken over by executor `pid`.
void record_resumed(pg::Spi& spi, const std::vector<int64_t>& ids, int pid);
// A queued batch that may be claimed now, as the claim weighs it.
struct Candidate {
    int64_t id = 0;
    Oid role = InvalidOid;     // its submitter
    bool sync = false;
    std::string target;        // its target_type
    int64_t limit = -1;        // the target's max_concurrency, -1 for none
    int64_t active = 0;        // batches of the target running now (when limited)
    int64_t waited_ms = 0;     // since it became ready
};
// The claimable batches of each submitting role with some (roles in `skip`
// left out), at most `per_role` each: queued, not paused (nor asked to be),
// due (next_attempt_at, not_before), every batch it depends on succeeded, its
// target neither paused nor at its max_concurrency. Roles in turn order
// (fewest batches running, then least recently served: submitter_turn),
// each role's batches by priority, then id.
std::vector<Candidate> candidates(pg::Spi& spi, int per_role, const std::vector<Oid>& skip);
// Of `ids`, those still queued and not paused whose rows are free, locked
// (SKIP LOCKED).
std::vector<int64_t> lock_queued(pg::Spi& spi, const std::vector<int64_t>& ids);
// The roles just served go to the back of the turn order.
void record_served(pg::Spi& spi, const std::vector<Oid>& roles);
// The submitter of each of `ids` that exists.
std::vector<std::pair<int64_t, Oid>> submitters(pg::Spi& spi, const std::vector<int64_t>& ids);
// queued -> running for executor `pid` (announced, counted by `throttle`);
// their progress in the order of `ids`.
std::vector<Progress> start_batches(pg::Spi& spi, const std::vector<int64_t>& ids, int pid, Throttle& throttle);
// Milliseconds until the earliest automatic retry or not_before of a queued
// batch that is not paused, if any is still to come.
std::optional<int64_t> next_due_in_ms(pg::Spi& spi);

// batch_cancel of a running batch whose row is free: running -> cancelling,
// with a "cancel_requested" event by `actor`, announced.
void mark_cancelling(pg::Spi& spi, int64_t id, Oid actor);
// batch_cancel of a batch whose chunk is in flight: the request is recorded
// beside the batch (taking KEY SHARE on its row, which does not conflict with
// the executor's lock), with a "cancel_requested" event by `actor`, once.
void request_cancel(pg::Spi& spi, int64_t id, Oid actor);
// Of `ids`, the batches whose cancel has been asked for and whose rows are
// free, locked.
std::vector<int64_t> cancel_requested(pg::Spi& spi, const std::vector<int64_t>& ids);

}  // namespace batch_ops::store
