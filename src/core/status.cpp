#include "core/status.hpp"

namespace batch_ops::core {

const char* to_string(BatchStatus s) {
    switch (s) {
        case BatchStatus::Created: return "created";
        case BatchStatus::Queued: return "queued";
        case BatchStatus::Running: return "running";
        case BatchStatus::Cancelling: return "cancelling";
        case BatchStatus::Succeeded: return "succeeded";
        case BatchStatus::Failed: return "failed";
        case BatchStatus::Cancelled: return "cancelled";
    }
    return "unknown";
}

std::optional<BatchStatus> parse_batch_status(const std::string& s) {
    for (int i = 0; i <= static_cast<int>(BatchStatus::Cancelled); ++i) {
        auto st = static_cast<BatchStatus>(i);
        if (s == to_string(st)) return st;
    }
    return std::nullopt;
}

const char* to_string(ItemStatus s) {
    switch (s) {
        case ItemStatus::Pending: return "pending";
        case ItemStatus::Succeeded: return "succeeded";
        case ItemStatus::Failed: return "failed";
        case ItemStatus::Skipped: return "skipped";
        case ItemStatus::Cancelled: return "cancelled";
    }
    return "unknown";
}

std::optional<ItemStatus> item_status_from_code(char c) {
    switch (c) {
        case 'p': return ItemStatus::Pending;
        case 's': return ItemStatus::Succeeded;
        case 'f': return ItemStatus::Failed;
        case 'k': return ItemStatus::Skipped;
        case 'c': return ItemStatus::Cancelled;
        default: return std::nullopt;
    }
}

bool is_terminal(BatchStatus s) {
    return s == BatchStatus::Succeeded || s == BatchStatus::Failed || s == BatchStatus::Cancelled;
}

bool is_in_progress(BatchStatus s) {
    return s == BatchStatus::Queued || s == BatchStatus::Running || s == BatchStatus::Cancelling;
}

bool can_transition(BatchStatus from, BatchStatus to, bool sync) {
    using S = BatchStatus;
    switch (from) {
        case S::Created: return to == S::Queued || to == S::Running || to == S::Cancelled;
        case S::Queued: return to == S::Running || to == S::Cancelled || to == S::Failed;
        case S::Running:
            return to == S::Succeeded || to == S::Failed || to == S::Cancelling || to == S::Queued ||
                   to == S::Cancelled;  // a cancel request the executor found
        case S::Cancelling: return to == S::Cancelled || to == S::Failed || to == S::Succeeded;
        case S::Failed: return to == S::Queued || (sync && to == S::Running);
        // A sync batch is reusable: batch_sync runs it again at once, or queues it.
        case S::Succeeded: return sync && (to == S::Running || to == S::Queued);
        // batch_resume queues a cancelled batch's cancelled items again.
        case S::Cancelled: return to == S::Queued || (sync && to == S::Running);
    }
    return false;
}

}  // namespace batch_ops::core
