// A registered target as the core sees it (read from batch_ops.target and the
// catalog by src/ops/target_catalog.cpp), and the checks that need it: which
// operations it supports, which columns a request may name, how ids are
// canonicalised, which status transitions are allowed, who may do what.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "core/request.hpp"

namespace batch_ops::core {

// What the core needs to know of a column's type.
enum class TypeKind { Integer, Numeric, Boolean, Text, Uuid, Timestamp, Json, Other };

struct Column {
    std::string name;
    TypeKind kind = TypeKind::Other;
    bool not_null = false;
    bool has_default = false;  // DEFAULT, identity or serial
    bool generated = false;    // GENERATED ALWAYS AS (expr) STORED, or identity ALWAYS
};

enum class SoftDeleteKind { None, Timestamp, Boolean };

struct Target {
    std::string name;
    std::string relation;  // for messages only
    std::vector<Column> columns;
    std::string key_column;
    TypeKind key_kind = TypeKind::Text;
    std::optional<std::string> owner_column;
    std::optional<std::string> status_column;
    std::optional<std::string> soft_delete_column;
    SoftDeleteKind soft_delete_kind = SoftDeleteKind::None;
    bool has_archive = false;
    std::optional<std::vector<std::string>> allowed_statuses;
    std::optional<std::vector<std::string>> updatable_columns;
    std::optional<std::map<std::string, std::vector<std::string>>> transitions;

    const Column* column(const std::string& name) const;
};

// Who is asking.
struct Actor {
    std::string role;
    bool admin = false;  // superuser or member of batch_ops_admin
};

// Throws 0A000 (with a hint naming what to register) when the target cannot
// run the operation.
void check_supported(const Request& r, const Target& t);

// Throws 42501 for the whole request when a non-admin asks for a hard delete
// or a forced status change.
void check_request_privilege(const Request& r, const Target& t, const Actor& actor);

// The effective soft_delete flag of a delete request.
bool effective_soft_delete(const Request& r, const Target& t);

// The canonical text of an id for the key's type (as the type's output
// function prints it), or nullopt when the id cannot be a key of that type.
std::optional<std::string> canonical_key(const std::string& id, TypeKind key_kind);

// update: checks every field names an updatable column (by default every
// column but the key and the owner column). Throws 22023.
void check_update_fields(const Request& r, const Target& t);

// status_update: throws 22023 when new_status is not allowed. Returns the
// statuses from which new_status may be reached, or nullopt when any status
// may (no transitions configured, or force). The new status itself is always
// included (setting a row to its own status is a no-op that succeeds).
std::optional<std::vector<std::string>> allowed_from_statuses(const Request& r, const Target& t);

// export: the columns to export, in table order.
std::vector<std::string> export_columns(const Request& r, const Target& t);

// bulk_create: the extension's own checks of one item (skipped with
// skip_validation, except what is needed to build the statement: unknown and
// generated columns). Returns {error_code, message} when the item is invalid.
struct ItemProblem {
    std::string error_code;
    std::string message;
};
std::optional<ItemProblem> check_bulk_item(const Json& item, const Target& t, const Actor& actor,
                                           bool skip_validation);

// The status_transitions object of register_target, checked and parsed.
std::map<std::string, std::vector<std::string>> parse_transitions(const Json& j,
                                                                  const std::optional<std::vector<std::string>>& allowed);

}  // namespace batch_ops::core
