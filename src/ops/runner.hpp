// Applies a batch's items to its target: set-based statements per range of
// items, failures isolated by splitting (core/planner.hpp), per-item results.
#pragma once

#include "ops/target_catalog.hpp"

#include <memory>
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

class Runner;

// Runs every item of a request as the current user, inside the caller's
// transaction, in two steps:
//   prepare()  checks everything that concerns the whole request (field values,
//              ids, columns) and raises before anything is written;
//   run()      applies the items. It raises (recording nothing) only on
//              cancellation and, outside a dry run, on transient errors
//              (serialization failure, deadlock, lock not available).
class ItemRun {
public:
    ItemRun(pg::Spi& spi, const TargetInfo& target, const core::Request& request, const core::Actor& actor,
            const RunOptions& options);
    ~ItemRun();
    void prepare();
    RunOutput run();

private:
    std::unique_ptr<Runner> runner_;
};

// Converts a JSON value to a Datum of the column's type through its input
// function. Raises 22023 naming the request key and the column when the value
// does not fit.
Datum input_value(const core::Json& value, const ColumnInfo& column, bool* isnull,
                  const char* key = "operation_data.fields");

}  // namespace batch_ops::ops
