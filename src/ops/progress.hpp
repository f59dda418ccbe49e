// Background batches that hit a batch-level error: cancelled when a cancel
// was asked for, retried automatically with backoff when the error is
// transient and attempts are left, else failed. The rows are the store's
// (store/background).
#pragma once

#include "pg/spi.hpp"

#include <optional>
#include <string>

#include "store/notify.hpp"

namespace batch_ops::ops {

// A batch-level error: a batch being cancelled (status cancelling, or a cancel
// request recorded) is cancelled; with `transient` and attempts left, the
// batch goes back to queued with an exponential backoff (next_attempt_at);
// otherwise its pending items fail with the error and the batch ends failed.
// Each status change is announced. nullopt when the batch is gone.
std::optional<store::Progress> fail_or_retry(pg::Spi& spi, int64_t id, const std::string& code,
                                             const std::string& message, bool transient);

}  // namespace batch_ops::ops
