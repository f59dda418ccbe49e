#include "ops/retry.hpp"

#include "core/error.hpp"
#include "pg/security.hpp"
#include "store/dependencies.hpp"

namespace batch_ops::ops {

using core::BatchStatus;

namespace {

// The first upstream batch of `id` that failed or was cancelled, as a refusal
// to retry `id`.
std::optional<RetryRefusal> broken_upstream(pg::Spi& spi, int64_t id) {
    std::optional<store::Upstream> up = store::broken_upstream(spi, id);
    if (!up) return std::nullopt;
    const std::string sid = std::to_string(id);
    const std::string uid = std::to_string(up->id);
    const std::string status = core::to_string(up->status);
    return RetryRefusal{"INVALID_STATE", core::sqlstate::object_not_in_state,
                        "batch " + sid + " cannot be retried: its upstream batch " + uid + " is " + status,
                        "A batch runs only after every batch it depends on succeeded.",
                        up->status == BatchStatus::Cancelled
                            ? "A cancelled batch cannot be retried: submit this work again without it."
                            : "Retry batch " + uid + " first; its dependents are re-armed with it."};
}

}  // namespace

std::optional<RetryRefusal> check_retry(pg::Spi& spi, int64_t id, Oid actor) {
    std::optional<store::RetryCandidate> c = store::retry_candidate(spi, id);
    const std::string sid = std::to_string(id);
    if (!c) return RetryRefusal{"NOT_FOUND", core::sqlstate::no_data_found, "batch " + sid + " does not exist", "", ""};
    if (c->submitted_by != actor && !pg::is_admin(actor))
        return RetryRefusal{"PERMISSION_DENIED", core::sqlstate::insufficient_privilege,
                            "permission denied for batch " + sid, "The batch was submitted by another role.", ""};
    if (c->status != BatchStatus::Failed)
        return RetryRefusal{"INVALID_STATE", core::sqlstate::object_not_in_state,
                            "batch " + sid + " cannot be retried: its status is " + core::to_string(c->status),
                            "Only failed batches can be retried.", ""};
    if (c->has_dependencies) return broken_upstream(spi, id);
    return std::nullopt;
}

DependencyState check_dependencies(pg::Spi& spi, const std::vector<int64_t>& ids, Oid submitter, bool admin) {
    DependencyState st;
    if (ids.empty()) return st;
    for (const store::Dependency& d : store::dependencies(spi, ids)) {
        if (!d.status || (!admin && d.submitted_by != submitter))
            throw core::request_error("\"depends_on\" names batch " + std::to_string(d.id) + ", which does not exist",
                                      "A batch may depend on batches its submitter can see.");
        if (*d.status != BatchStatus::Succeeded) st.all_succeeded = false;
        if ((*d.status == BatchStatus::Failed || *d.status == BatchStatus::Cancelled) && !st.broken)
            st.broken = std::make_pair(d.id, *d.status);
    }
    return st;
}

}  // namespace batch_ops::ops
