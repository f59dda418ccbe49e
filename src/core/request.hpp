// The batch request model: what batch_execute(jsonb) accepts (API.md section 4),
// parsed and checked for shape without touching the catalog. Target-dependent
// checks (columns, statuses, ownership) are in target.hpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/json.hpp"

namespace batch_ops::core {

enum class Operation { Delete, Update, StatusUpdate, Export, Archive, Restore, BulkCreate };
enum class Execution { Background, Inline };
enum class ExportFormat { Json, Ndjson, Csv };

const char* to_string(Operation op);
std::optional<Operation> parse_operation(const std::string& s);
const char* to_string(Execution e);
const char* to_string(ExportFormat f);
// Every operation name, in the order of the contract.
const std::vector<std::string>& operation_names();

struct Limits {
    int max_items = 1000;              // batch_ops.max_items
    std::size_t max_id_length = 256;   // bytes of one target id
    std::size_t max_text_length = 1000;  // reasons, locations, statuses
    std::size_t max_key_length = 200;  // idempotency_key
    std::size_t max_identifier_length = 63;  // NAMEDATALEN - 1
    int max_depends_on = 100;
    std::size_t max_filter_length = 10000;  // bytes of target_filter
};

// Where a request comes from: a caller (batch_execute, batch_validate), or
// batch_ops.batch.request as recorded at submission, where a target_filter
// has gained the ids it selected ("target_ids", possibly empty).
enum class Origin { Submitted, Stored };

struct Request {
    Operation operation = Operation::Delete;
    std::string target_type;
    std::vector<std::string> target_ids;  // as given; integers in decimal
    // A boolean SQL expression over the target's columns, instead of
    // target_ids: resolved to ids at submission (ops/target_filter.hpp).
    std::optional<std::string> target_filter;
    std::vector<Json> items;              // bulk_create: one object per row

    // operation_data
    std::optional<bool> soft_delete;
    std::string delete_reason;
    std::vector<Json::Member> fields;  // update: column -> value
    std::string new_status;
    std::string reason;
    bool force = false;
    std::string archive_reason;
    std::string archive_location;
    ExportFormat export_format = ExportFormat::Json;
    std::optional<std::vector<std::string>> include_fields;
    std::vector<std::string> exclude_fields;
    bool skip_validation = false;
    bool continue_on_error = false;

    bool dry_run = false;
    Execution execution = Execution::Background;
    int priority = 0;
    std::vector<int64_t> depends_on;
    std::optional<int> max_attempts;
    std::optional<std::string> idempotency_key;
    // Background only: not claimed before this time. An ISO 8601 timestamp,
    // as given (PostgreSQL reads it as timestamptz at submission; without an
    // offset, in the session's TimeZone).
    std::optional<std::string> not_before;

    std::size_t item_count() const {
        return operation == Operation::BulkCreate ? items.size() : target_ids.size();
    }
};

// Parses and checks a request. Throws core::Error (22023, "invalid batch
// request: ...", naming the offending key) on any malformed input. A submitted
// target_filter leaves target_ids empty (the caller resolves it); a stored one
// comes with the ids it was resolved to.
Request parse_request(const Json& request, const Limits& limits, Origin origin = Origin::Submitted);

// The same request restricted to some of its items (indices into target_ids,
// or into items for bulk_create), in the order given: what a worker runs for
// one chunk. Copies only those items.
Request slice(const Request& r, const std::vector<std::size_t>& indices);

// True for an ISO 8601 date or date and time, as "not_before" takes it:
// YYYY-MM-DD, optionally followed by T (or a space) and HH:MM, :SS, a
// fraction of a second (1 to 6 digits), and a zone: Z, +HH, +HH:MM or +HHMM
// (or -). Every field in range (the day within its month, leap years counted).
bool is_iso8601_timestamp(const std::string& s);

// True for a name that is a plain SQL identifier as the catalog would store it:
// no quotes, no semicolons, no control characters, at most max_len bytes.
bool is_safe_identifier(const std::string& s, std::size_t max_len);

}  // namespace batch_ops::core
