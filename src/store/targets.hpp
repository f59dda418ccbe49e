// Registered targets as rows of batch_ops.target. The checks of a
// registration and the catalog facts of a target are in ops/target_catalog.
#pragma once

#include "pg/spi.hpp"

#include <optional>
#include <string>
#include <vector>

#include "core/json.hpp"

namespace batch_ops::store {

// One registration (register_target's arguments).
struct TargetRecord {
    std::string name;
    Oid relation = InvalidOid;
    std::string key_column = "id";
    std::optional<std::string> owner_column;
    std::optional<std::string> status_column;
    std::optional<std::string> soft_delete_column;
    Oid archive_relation = InvalidOid;
    std::optional<std::vector<std::string>> allowed_statuses;
    std::optional<std::vector<std::string>> updatable_columns;
    std::optional<core::Json> status_transitions;
};

// Inserts or replaces the row of target r.name, created by `actor`.
void save_target(pg::Spi& spi, const TargetRecord& r, Oid actor);
// Removes it; false when there was none.
bool delete_target(pg::Spi& spi, const std::string& name);
// A token that changes when the registration or the table's pg_class row
// changes; nullopt when the target is not registered (or its table is gone).
std::optional<std::string> target_version(pg::Spi& spi, const std::string& name);
// The registration of target `name`; nullopt when there is none.
std::optional<TargetRecord> find_target(pg::Spi& spi, const std::string& name);

}  // namespace batch_ops::store
