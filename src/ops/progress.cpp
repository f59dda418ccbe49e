#include "ops/progress.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "pg/settings.hpp"
#include "store/background.hpp"

namespace batch_ops::ops {

std::optional<store::Progress> fail_or_retry(pg::Spi& spi, int64_t id, const std::string& code,
                                             const std::string& message, bool transient) {
    std::optional<store::RetryBudget> budget = store::retry_budget(spi, id);
    if (!budget) return std::nullopt;
    if (budget->cancelling) {
        // A cancel arrived meanwhile: it wins over a retry or a failure.
        store::cancel_pending(spi, id);
        return store::finish_background(spi, id, true);
    }
    // max_attempts bounds the automatic attempts of one run (batch_retry
    // starts a new run).
    const int automatic = budget->automatic_attempts;
    if (transient && automatic < budget->max_attempts) {
        // Exponential backoff with jitter: base * 2^(n-1) * [0.5, 1.5), at most an hour.
        static std::mt19937_64 rng(static_cast<uint64_t>(MyProcPid) * 7919u + static_cast<uint64_t>(GetCurrentTimestamp()));
        double factor = std::ldexp(1.0, std::min(automatic - 1, 20)) *
                        (0.5 + std::uniform_real_distribution<double>(0, 1)(rng));
        double delay = std::min(static_cast<double>(settings::retry_backoff_ms) * factor, 3600.0 * 1000.0);
        return store::schedule_retry(spi, id, code, message, static_cast<int64_t>(delay));
    }
    store::fail_pending(spi, id, code, message);
    return store::finish_background(spi, id, false, InvalidOid, true);
}

}  // namespace batch_ops::ops
