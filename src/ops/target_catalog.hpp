// Registered targets: register_target's checks, and loading a target with the
// catalog facts the operations need (types, quoted names).
#pragma once

#include "pg/spi.hpp"

#include <optional>
#include <string>
#include <vector>

#include "core/target.hpp"
#include "store/targets.hpp"

namespace batch_ops::ops {

struct ColumnInfo {
    std::string name;
    Oid type = InvalidOid;
    int32 typmod = -1;
};

struct TargetInfo {
    core::Target model;
    Oid relid = InvalidOid;
    std::string table;  // quoted, schema-qualified
    Oid archive_relid = InvalidOid;
    std::string archive_table;
    std::vector<std::string> archive_extra;  // archived_at, archive_reason, archive_location present
    std::vector<ColumnInfo> columns;         // table order, as in model.columns
    std::string key_array_type;              // e.g. pg_catalog.int4[]

    const ColumnInfo* column(const std::string& name) const;
};

// One registration (register_target's arguments).
using Registration = store::TargetRecord;

// Checks everything and inserts or replaces the row of batch_ops.target.
void register_target(pg::Spi& spi, const Registration& r, Oid actor);
// Removes it; raises 42704 when it does not exist.
void unregister_target(pg::Spi& spi, const std::string& name);

// A token that changes when the registration or the table's pg_class row
// changes (ALTER TABLE, re-registration); empty when the target is gone.
std::string target_version(pg::Spi& spi, const std::string& name);

// Loads a target by name; raises 42704 when it is not registered, and a clear
// error when its table has gone.
TargetInfo load_target(pg::Spi& spi, const std::string& name);

}  // namespace batch_ops::ops
