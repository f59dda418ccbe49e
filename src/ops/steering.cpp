#include "ops/steering.hpp"

#include "core/error.hpp"
#include "pg/security.hpp"
#include "store/dependencies.hpp"
#include "store/steering.hpp"
#include "store/transition.hpp"

namespace batch_ops::ops {

using core::BatchStatus;
using store::RowLock;

namespace {

void require_admin(const char* what) {
    if (!pg::is_admin(pg::current_role()))
        throw core::Error(core::sqlstate::insufficient_privilege, std::string("permission denied to ") + what,
                          "Only superusers and members of batch_ops_admin may steer targets.");
}

[[noreturn]] void target_missing(const std::string& name) {
    throw core::Error(core::sqlstate::undefined_object, "batch target " + core::quoted(name) + " does not exist");
}

}  // namespace

bool pause_batch(pg::Spi& spi, int64_t id, Oid actor) {
    // Never wait for an executor: its chunk (or its claim) holds the batch
    // row; then the request waits beside the batch.
    std::optional<store::SteeringState> free_row = store::steering_state(spi, id, RowLock::ForNoKeyUpdateSkipLocked);
    const bool locked = free_row.has_value();
    std::optional<store::SteeringState> st = locked ? free_row : store::steering_state(spi, id, RowLock::None);
    if (!st) store::batch_missing(id);
    if (core::is_terminal(st->status) || st->status == BatchStatus::Cancelling) return false;
    if (locked && st->status != BatchStatus::Running) {
        // queued (or a sync not yet queued): not claimed from now on.
        store::pause_queued(spi, id, actor);
        return true;
    }
    // Running (its executor hands it back before its next chunk), or a
    // claim is taking it (its first chunk does the same).
    store::request_pause(spi, id, actor);
    return true;
}

bool resume_batch(pg::Spi& spi, int64_t id, Oid actor, bool* wake) {
    *wake = false;
    // A request its executor has not carried out yet is withdrawn (the
    // executor skips a request row it cannot lock, and goes on).
    const bool withdrawn = store::withdraw_pause_request(spi, id);
    // A running batch's row is held by its executor while a chunk runs:
    // read it without waiting; lock it only when it is paused or cancelled
    // (then it is held only for moments: a claim looking at it, a cancel),
    // and read it again under the lock.
    std::optional<store::SteeringState> st;
    for (RowLock lock : {RowLock::None, RowLock::ForNoKeyUpdate}) {
        st = store::steering_state(spi, id, lock);
        if (!st) store::batch_missing(id);
        if (!st->paused && st->status != BatchStatus::Cancelled) break;
    }
    if (st->status == BatchStatus::Cancelled) {
        if (!st->sync && st->cancelled_items == 0) return false;
        (void)store::requeue_cancelled(spi, id, actor);
        store::unpause(spi, id, actor, false);
        *wake = true;
        return true;
    }
    if (core::is_terminal(st->status) || st->status == BatchStatus::Cancelling) return false;
    if (st->paused) {
        store::unpause(spi, id, actor, true);
        *wake = st->status == BatchStatus::Queued;
    } else if (withdrawn) {
        store::record_resume(spi, id, actor);
        *wake = st->status == BatchStatus::Queued;
    }
    return true;
}

void set_target_paused(pg::Spi& spi, const std::string& name, bool paused) {
    require_admin(paused ? "pause batch targets" : "resume batch targets");
    if (!store::set_target_paused(spi, name, paused)) target_missing(name);
}

void set_target_limit(pg::Spi& spi, const std::string& name, std::optional<int> limit) {
    require_admin("limit batch targets");
    if (limit && *limit < 1)
        throw core::Error(core::sqlstate::invalid_parameter_value, "max_concurrency must be at least 1",
                          "", "Pass NULL to remove the limit, or pause_target() to stop claiming its batches.");
    if (!store::set_target_limit(spi, name, limit)) target_missing(name);
}

}  // namespace batch_ops::ops
