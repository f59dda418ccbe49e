// Steering the queue, as rows (API.md section 3): a batch's pause and its
// request, its resumption, and a target's pause and max_concurrency. The
// decisions (who may, what a status allows) are ops/steering's; the claim
// that honours them is store::candidates (store/background).
#pragma once

#include "pg/spi.hpp"

#include <optional>
#include <string>

#include "core/status.hpp"
#include "store/notify.hpp"
#include "store/owner.hpp"

namespace batch_ops::store {

// A batch as batch_pause and batch_resume find it.
struct SteeringState {
    core::BatchStatus status = core::BatchStatus::Created;
    bool paused = false;
    bool sync = false;
    int64_t cancelled_items = 0;
};
// nullopt when the batch does not exist (or, with SkipLocked, its row is
// held: by its executor during a chunk, or by a claim).
std::optional<SteeringState> steering_state(pg::Spi& spi, int64_t id, RowLock lock);

// A queued batch (its row locked) is paused, with a "paused" event by
// `actor` (once: a paused batch stays as it is).
void pause_queued(pg::Spi& spi, int64_t id, Oid actor);
// A batch whose row its executor holds: the pause request waits beside it
// (taking KEY SHARE on the batch row, which does not conflict with the
// executor's lock), with a "pause_requested" event by `actor`, once.
void request_pause(pg::Spi& spi, int64_t id, Oid actor);
// batch_resume: withdraws a pause request its executor has not carried out
// yet; true if there was one.
bool withdraw_pause_request(pg::Spi& spi, int64_t id);
// The batch is no longer paused; with a "resumed" event by `actor` when
// `record`.
void unpause(pg::Spi& spi, int64_t id, Oid actor, bool record);
// A "resumed" event by `actor` (a request withdrawn before it was carried out).
void record_resume(pg::Spi& spi, int64_t id, Oid actor);

// The executor, at a chunk boundary of a running batch with a pause asked
// for: running -> queued, paused, worker_pid cleared, with a "paused" event
// (its actor: who asked; detail: processed and total) announced (counted by
// `throttle`); the request row goes. nullopt when the batch is no longer
// running or the request was withdrawn meanwhile (batch_resume was faster,
// holding the request's row): then the batch goes on.
std::optional<Progress> hand_back_paused(pg::Spi& spi, int64_t id, Throttle& throttle);

// pause_target / resume_target: false when no target has that name.
bool set_target_paused(pg::Spi& spi, const std::string& name, bool paused);
// set_target_limit: nullopt removes the limit; false when no target has that name.
bool set_target_limit(pg::Spi& spi, const std::string& name, std::optional<int> limit);

}  // namespace batch_ops::store
