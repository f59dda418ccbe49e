// Sync batch definitions (API.md sections 5 and 12): the options of
// create_sync, parsed and checked without the catalog.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/json.hpp"

namespace batch_ops::core {

struct SyncOptions {
    std::optional<std::string> connection;       // libpq connection string: a remote source
    std::vector<std::string> key_columns;         // empty: the target's primary key
    std::vector<std::pair<std::string, std::string>> columns;  // target column -> SQL expression
    bool incremental = false;
    std::optional<std::string> watermark_column;
    bool delete_missing = false;
    int chunk_size = 0;                           // 0: batch_ops.chunk_size
    int connect_timeout_s = 10;
    int statement_timeout_ms = 0;
};

// Throws core::Error 22023 naming the offending key.
SyncOptions parse_sync_options(const Json& options);

// A source is a query when it starts with SELECT, WITH, VALUES or TABLE (after
// blanks and an opening parenthesis); otherwise it names a table or view.
bool source_is_query(const std::string& source);

// A sync's name: 1 to 63 bytes, letters, digits, '_', '.', '-'.
bool is_valid_sync_name(const std::string& name);

}  // namespace batch_ops::core
