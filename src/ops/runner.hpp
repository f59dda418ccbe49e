// Applies a batch's items to its target: set-based statements per range of
// items, failures isolated by splitting (core/planner.hpp), per-item results.
#pragma once

#include "ops/target_catalog.hpp"

#include <optional>
#include <string>
#include <vector>

#include "core/request.hpp"
#include "core/results.hpp"

namespace batch_ops::ops {

struct RunOptions {
    bool dry_run = false;
    int lock_timeout_ms = 0;  // dry run only; 0 keeps the session's setting
};

struct RunOutput {
    std::vector<core::ItemResult> items;  // request order
    std::string success_message;
    // export only
    std::optional<std::string> export_content;
    int64_t export_rows = 0;
    std::size_t statements = 0;  // set-based attempts run (each in a subtransaction)
};

// Runs every item of the request as the current user, inside the caller's
// transaction. Raises (without recording anything) on errors that concern the
// whole request: bad field values, cancellation, and transient errors
// (serialization failure, deadlock) outside a dry run.
RunOutput run_items(pg::Spi& spi, const TargetInfo& target, const core::Request& request, const core::Actor& actor,
                    const RunOptions& options);

// Converts a JSON value to a Datum of the column's type through its input
// function. Raises 22023 naming the column when the value does not fit.
Datum input_value(const core::Json& value, const ColumnInfo& column, bool* isnull);

}  // namespace batch_ops::ops
