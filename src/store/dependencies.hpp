// Retries and dependencies between batches, as rows (API.md sections 3 and
// 12): re-queuing a failed batch and re-arming its dependents, the
// UPSTREAM_FAILED cascade, and the reads behind the checks of ops/retry.
#pragma once

#include "pg/spi.hpp"

#include <optional>
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

// batch_retry: the failed and skipped items of batch `id` are pending again,
// its counts and error cleared, and it goes failed -> queued (attempt + 1,
// event "retried" by `actor`); then each dependent that failed because of it
// (UPSTREAM_FAILED) is re-armed the same way (event "re_armed", its attempt
// kept), transitively. Each change is announced.
void requeue_with_dependents(pg::Spi& spi, int64_t id, Oid actor);

// After batch `id` ended failed or cancelled: its queued dependents end
// failed with UPSTREAM_FAILED, their pending items skipped, and theirs, and
// so on; each change is announced.
void cascade_upstream_failure(pg::Spi& spi, int64_t id);

}  // namespace batch_ops::store
