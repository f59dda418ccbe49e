// Status changes of a batch. Every one goes through transition(): the batch
// row is locked, core::can_transition is asked whether its current status
// may become the new one, and the new status, its batch_event row and its
// notification are written together.
#pragma once

#include "pg/spi.hpp"

#include <optional>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "core/status.hpp"
#include "store/notify.hpp"
#include "store/owner.hpp"

namespace batch_ops::store {

struct Transition {
    std::string event;                // the batch_event's event; empty: the new status's name
    Oid actor = InvalidOid;           // the event's actor; InvalidOid: none
    std::optional<core::Json> detail; // the event's detail
    // The vector form: each batch's own detail, in the order of its ids
    // (instead of `detail`; empty: `detail` for all).
    std::vector<core::Json> details;
    // Write the event. Off only for an executor's claim of a queued batch
    // (queued -> running), which has never been recorded as an event (its
    // started_at and worker_pid say it).
    bool record_event = true;
    // Announce the new status (store::announce). Off only where the status
    // is not announced (docs/reference/batches.md, Progress notifications):
    // inline operation batches and the start of an inline sync run.
    bool notify = true;
    // With notify: the executor's throttle, which then counts the
    // announcement (the next progress notification waits its interval).
    Throttle* throttle = nullptr;
};

// Changes the status of batch `id` to `to` as the extension owner, and
// returns its progress as it now is. P0002 when the batch does not exist;
// 55000 when core::can_transition does not allow its current status to
// become `to` (the error undoes what the caller wrote for the change). The
// other columns a change sets (counts, times, errors) are written by the
// store function that calls it: before, when they are to be announced.
Progress transition(pg::Spi& spi, int64_t id, core::BatchStatus to, const Transition& t);
// The same for several batches at once (an executor's claim): the rows are
// locked in id order, each is checked, and each gets its event and its
// announcement. Returns their progress in the order of `ids`. Linear in the
// number of batches (a cascade over thousands of dependents is one call).
std::vector<Progress> transition(pg::Spi& spi, const std::vector<int64_t>& ids, core::BatchStatus to,
                                 const Transition& t);

// The status of batch `id`; nullopt when the batch does not exist (or, with
// ForNoKeyUpdateSkipLocked, another transaction holds its row).
std::optional<core::BatchStatus> batch_status(pg::Spi& spi, int64_t id, RowLock lock);

// The status named by a batch_state value (XX000 for a name core does not know).
core::BatchStatus parse_status(const std::string& name);

// P0002: batch `id` does not exist.
[[noreturn]] void batch_missing(int64_t id);

// An actor as a parameter: the role's OID, or NULL.
pg::Param role_param(Oid role);

}  // namespace batch_ops::store
