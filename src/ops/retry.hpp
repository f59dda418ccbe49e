// Retries and dependencies between batches (API.md sections 3 and 12).
//
//  * batch_retry re-queues what did not succeed (failed and skipped items);
//    succeeded items never run again; attempt + 1.
//  * A batch waits (queued) until every batch it depends on succeeded.
//  * When a batch ends failed or cancelled, its queued dependents end failed
//    with UPSTREAM_FAILED and their items skipped, transitively.
//  * Retrying the failed batch re-arms those dependents (whoever owns them).
#pragma once

#include "pg/spi.hpp"

#include <optional>
#include <string>
#include <vector>

#include "core/status.hpp"

namespace batch_ops::ops {

// Why a batch cannot be retried, as batch_retry(bigint[]) reports it.
struct RetryRefusal {
    std::string code;     // NOT_FOUND, INVALID_STATE, PERMISSION_DENIED
    std::string sqlstate; // P0002, 55000, 42501
    std::string message;
    std::string detail;
    std::string hint;
};

// Checks whether `actor` may retry batch `id` now; locks the batch row.
std::optional<RetryRefusal> check_retry(pg::Spi& spi, int64_t id, Oid actor);

// Submission: every dependency must exist and be visible to the submitter
// (22023 otherwise). Returns the first dependency that failed or was
// cancelled, if any, and whether all have succeeded.
struct DependencyState {
    bool all_succeeded = true;
    std::optional<std::pair<int64_t, core::BatchStatus>> broken;  // id, status
};
DependencyState check_dependencies(pg::Spi& spi, const std::vector<int64_t>& ids, Oid submitter, bool admin);

}  // namespace batch_ops::ops
