// Item results and their accounting: counts that add up, the error codes of
// API.md section 4, the mapping from SQLSTATEs to them, and the JSON response.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "core/request.hpp"
#include "core/status.hpp"

namespace batch_ops::core {

namespace item_error {
inline constexpr const char* not_found = "NOT_FOUND";
inline constexpr const char* permission_denied = "PERMISSION_DENIED";
inline constexpr const char* invalid_transition = "INVALID_TRANSITION";
inline constexpr const char* constraint_violation = "CONSTRAINT_VIOLATION";
inline constexpr const char* validation_failed = "VALIDATION_FAILED";
inline constexpr const char* lock_timeout = "LOCK_TIMEOUT";
inline constexpr const char* cancelled = "CANCELLED";
inline constexpr const char* upstream_failed = "UPSTREAM_FAILED";
inline constexpr const char* error = "ERROR";
}  // namespace item_error

struct ItemResult {
    std::string target_id;
    ItemStatus status = ItemStatus::Pending;
    std::string error_code;  // empty unless failed
    std::string message;
    int attempts = 0;
};

// The result of an item that ran once and failed with CODE (one of item_error),
// or succeeded.
ItemResult failed_item(const std::string& id, const char* code, std::string message);
ItemResult succeeded_item(const std::string& id, std::string message);

struct Counts {
    int64_t total = 0;
    int64_t processed = 0;  // no longer pending
    int64_t success = 0;
    int64_t failure = 0;
    int64_t skipped = 0;
    int64_t cancelled = 0;
    bool adds_up() const { return success + failure + skipped + cancelled == processed && processed <= total; }
};

Counts count(const std::vector<ItemResult>& items);

// The status a batch ends with once no item is pending.
BatchStatus final_status(const Counts& c, bool cancel_requested);

// How a PostgreSQL error raised while applying items is reported.
struct Classified {
    const char* error_code;  // one of item_error
    bool transient;          // worth an automatic retry (never reported per item inline)
};
Classified classify_sqlstate(const std::string& sqlstate);

// Errors that end the whole call instead of failing items: cancellation,
// shutdown, resource exhaustion, internal and connection errors.
bool aborts_batch(const std::string& sqlstate);

// Errors that concern particular rows (constraints, data, row level security,
// triggers): worth splitting a chunk to isolate them. A missing table privilege
// or an undefined object fails every item alike.
bool is_item_specific(const std::string& sqlstate);

// The message kept for an item that failed with a PostgreSQL error:
// the error's message, plus its SQLSTATE for the catch-all code.
std::string item_error_message(const Classified& c, const std::string& sqlstate, const std::string& message);

// Results listed in a response: all of them, or only the ones that did not
// succeed when there are more than `limit` (API.md section 12).
struct ResponseOptions {
    std::size_t limit = 1000;
};

// Builds the "results" array (and sets results_truncated) into `response`.
void add_results(Json& response, const std::vector<ItemResult>& items, const ResponseOptions& opts = {});

// The success message of an operation ("deleted", "updated", ...).
const char* success_message(Operation op, bool soft_delete);

}  // namespace batch_ops::core
