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

// What a caller is about to do with a target: the lock load_target takes.
struct TargetUse {
    core::Operation operation = core::Operation::Export;
    // false: the request is only checked now (a background submission); the
    // lock is released once the target is read, and every chunk loads the
    // target again under its own.
    bool run_now = true;
    // > 0: the lock is waited for at most this long (dry runs:
    // batch_ops.lock_timeout); then 55P03.
    int lock_timeout_ms = 0;
};

// Loads a target by name for `use`: first the lock its statements take on
// the table (ROW EXCLUSIVE, ACCESS SHARE for an export; the archive table's
// too for archive and restore), then, under it, the table's columns as those
// statements will see them, checked against the registration. Raises 42704
// when it is not registered; 42P01 when its table has gone; 42703
// (column_gone) when its key, owner or soft-delete column has gone; 42804
// when the key column's type no longer reads ids as the type it was
// registered with did (another integer type for an integer key, text for
// varchar, is fine).
TargetInfo load_target(pg::Spi& spi, const std::string& name, const TargetUse& use);

// 42703 `column "x" of target "t" no longer exists`, saying which of the
// target's columns it was (`role`, e.g. "status column") and how to fix it.
[[noreturn]] void column_gone(const std::string& target, const std::string& column, const std::string& role);

}  // namespace batch_ops::ops
