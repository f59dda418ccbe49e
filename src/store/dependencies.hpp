// Retries and dependencies between batches, as rows (API.md sections 3 and
// 12): re-queuing a failed batch and re-arming its dependents, the
// UPSTREAM_FAILED cascade, and the reads behind the checks of ops/retry.
#pragma once

#include "pg/spi.hpp"

#include <optional>
#include <string>
#include <vector>

#include "core/status.hpp"

namespace batch_ops::store {

// What a retry of a batch is checked against.
struct RetryCandidate {
    core::BatchStatus status = core::BatchStatus::Created;
    Oid submitted_by = InvalidOid;
    bool has_dependencies = false;
};
// The batch as a retry finds it: read without a lock, and read again locked
// (FOR UPDATE) when it is failed (a running batch's row is locked by its
// executor during each chunk; a concurrent retry may have won). nullopt when
// it does not exist.
std::optional<RetryCandidate> retry_candidate(pg::Spi& spi, int64_t id);

// A batch that another depends on, and its status.
struct Upstream {
    int64_t id = 0;
    core::BatchStatus status = core::BatchStatus::Created;
};
// The first batch `id` depends on that failed or was cancelled.
std::optional<Upstream> broken_upstream(pg::Spi& spi, int64_t id);

// The batches named by a submission's depends_on, in its order: status
// nullopt for a batch that does not exist.
struct Dependency {
    int64_t id = 0;
    std::optional<core::BatchStatus> status;
    Oid submitted_by = InvalidOid;
};
std::vector<Dependency> dependencies(pg::Spi& spi, const std::vector<int64_t>& ids);

// batch_retry: the failed and skipped items of batch `id` (with `codes`,
// only those whose error code is one of them) are pending again, their
// counts taken back and its error cleared, and it goes failed -> queued
// (attempt + 1, event "retried" by `actor`); then each dependent that failed
// because of it (UPSTREAM_FAILED) is re-armed the same way (event
// "re_armed", its attempt kept), transitively. Each change is announced.
// Returns the number of items of `id` queued again (0 with `codes` that no
// item has: the caller raises, undoing the change).
int64_t requeue_with_dependents(pg::Spi& spi, int64_t id, Oid actor,
                                const std::optional<std::vector<std::string>>& codes = std::nullopt);

// batch_resume of a cancelled batch: its cancelled items are pending again
// (counts taken back), it goes cancelled -> queued (event "resumed" by
// `actor`), and its UPSTREAM_FAILED dependents are re-armed. Returns the
// number of items queued again.
int64_t requeue_cancelled(pg::Spi& spi, int64_t id, Oid actor);

// The error codes of the failed and skipped items of batch `id`, with their
// numbers ("DEADLOCK (2), NOT_FOUND (1)"); nullopt when it has none.
std::optional<std::string> failed_item_codes(pg::Spi& spi, int64_t id);

// After batch `id` ended failed or cancelled: its queued dependents end
// failed with UPSTREAM_FAILED, their pending items skipped, and theirs, and
// so on; each change is announced. In a few set-based statements whatever
// their number: the queue's dependency edges are read once and walked in
// memory, and one statement fails them all.
void cascade_upstream_failure(pg::Spi& spi, int64_t id);

}  // namespace batch_ops::store
