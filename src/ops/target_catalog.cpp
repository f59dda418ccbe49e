#include "ops/target_catalog.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "pg/relation.hpp"
#include "pg/security.hpp"

extern "C" {
#include "catalog/pg_class.h"
}

namespace batch_ops::ops {

using core::Error;
using core::quoted;
namespace sqlstate = core::sqlstate;

namespace {


core::TypeKind kind_of(Oid type) {
    Oid base = pg::guard([&] { return getBaseType(type); });
    switch (base) {
        case INT2OID:
        case INT4OID:
        case INT8OID: return core::TypeKind::Integer;
        case NUMERICOID:
        case FLOAT4OID:
        case FLOAT8OID: return core::TypeKind::Numeric;
        case BOOLOID: return core::TypeKind::Boolean;
        case TEXTOID:
        case VARCHAROID:
        case BPCHAROID:
        case NAMEOID: return core::TypeKind::Text;
        case UUIDOID: return core::TypeKind::Uuid;
        case TIMESTAMPOID:
        case TIMESTAMPTZOID:
        case DATEOID: return core::TypeKind::Timestamp;
        case JSONOID:
        case JSONBOID: return core::TypeKind::Json;
        default: return core::TypeKind::Other;
    }
}

bool is_enum(Oid type) {
    return pg::guard([&] { return type_is_enum(getBaseType(type)); });
}

std::string relation_label(Oid relid) {
    char* s = pg::guard([&] { return DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(relid))); });
    return s;
}

struct RelColumns {
    std::vector<core::Column> columns;
    std::vector<ColumnInfo> info;
};

// The columns of a relation the caller has locked (pg::lock_relation), from
// the relation cache: what a statement run under that lock sees, whatever
// the transaction's snapshot.
RelColumns read_columns(Oid relid) {
    RelColumns out;
    for (pg::Attribute& a : pg::relation_columns(relid)) {
        core::Column c;
        ColumnInfo ci;
        c.name = ci.name = a.name;
        ci.type = a.type;
        ci.typmod = a.typmod;
        c.kind = kind_of(ci.type);
        c.not_null = a.not_null;
        c.has_default = a.has_default;
        c.generated = a.generated;
        out.columns.push_back(std::move(c));
        out.info.push_back(std::move(ci));
    }
    return out;
}

const core::Column* find(const RelColumns& rc, const std::string& name) {
    for (const auto& c : rc.columns)
        if (c.name == name) return &c;
    return nullptr;
}

const ColumnInfo* find_info(const RelColumns& rc, const std::string& name) {
    for (const auto& c : rc.info)
        if (c.name == name) return &c;
    return nullptr;
}

bool has_unique_index_on(pg::Spi& spi, Oid relid, const std::string& column) {
    return spi.execute(
        "SELECT 1 FROM pg_catalog.pg_index i "
        "  JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) i.indrelid "
        "   AND a.attnum OPERATOR(pg_catalog.=) i.indkey[0] "
        " WHERE i.indrelid OPERATOR(pg_catalog.=) $1 AND i.indisunique AND i.indisvalid AND i.indimmediate "
        "   AND i.indpred IS NULL AND i.indexprs IS NULL AND i.indnkeyatts = 1 "
        "   AND a.attname OPERATOR(pg_catalog.=) $2::pg_catalog.name",
        {{OIDOID, ObjectIdGetDatum(relid), false}, pg::text_param(column)}, true) > 0;
}

char relkind_of(Oid relid) {
    return pg::guard([&] { return get_rel_relkind(relid); });
}

void require_column(const RelColumns& rc, const std::string& table, const std::string& role, const std::string& name) {
    if (!find(rc, name))
        throw Error(sqlstate::undefined_column,
                    "column " + quoted(name) + " of relation " + table + " does not exist",
                    "It was given as the " + role + ".");
}

std::string array_type_name(Oid type) {
    Oid arr = pg::guard([&] { return get_array_type(getBaseType(type)); });
    if (!OidIsValid(arr)) throw Error(sqlstate::datatype_mismatch, "key column type has no array type");
    char* s = pg::guard([&] { return format_type_be_qualified(arr); });
    return s;
}

}  // namespace

const ColumnInfo* TargetInfo::column(const std::string& name) const {
    for (const auto& c : columns)
        if (c.name == name) return &c;
    return nullptr;
}

namespace {

[[noreturn]] void invalid_target_name(const std::string& name, const char* detail) {
    throw Error(sqlstate::invalid_parameter_value, "invalid target name " + quoted(name), detail);
}

void check_target_name(const std::string& name) {
    const char* rule = "Target names start with a letter or underscore and contain letters, digits, "
                       "underscores, dots and hyphens.";
    if (name.empty() || !core::is_safe_identifier(name, 63)) invalid_target_name(name, rule);
    for (char c : name)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'))
            invalid_target_name(name, rule);
    if (std::isdigit(static_cast<unsigned char>(name[0])) || name[0] == '.' || name[0] == '-')
        invalid_target_name(name, "Target names start with a letter or underscore.");
}

// An ordinary or partitioned table; `what` names it in the error.
void require_table(Oid relid, const std::string& what, const std::string& label, const char* detail) {
    char kind = relkind_of(relid);
    if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE)
        throw Error(sqlstate::invalid_parameter_value, what + " " + label + " is not a table", detail ? detail : "");
}

// smallint, integer, bigint, text, varchar or uuid, or a domain over one.
bool supported_key_type(Oid type) {
    Oid base = pg::guard([&] { return getBaseType(type); });
    return base == INT2OID || base == INT4OID || base == INT8OID || base == TEXTOID || base == VARCHAROID ||
           base == UUIDOID;
}

void check_key_column(pg::Spi& spi, const Registration& r, const RelColumns& rc, const std::string& table) {
    require_column(rc, table, "key column", r.key_column);
    if (!supported_key_type(find_info(rc, r.key_column)->type))
        throw Error(sqlstate::datatype_mismatch, "key column " + quoted(r.key_column) + " has an unsupported type",
                    "Key columns are of type smallint, integer, bigint, text, varchar or uuid.");
    if (!has_unique_index_on(spi, r.relation, r.key_column))
        throw Error(sqlstate::invalid_object_definition,
                    "key column " + quoted(r.key_column) + " of relation " + table + " is not unique",
                    "A target's key column needs a primary key or an immediate unique index on that column alone.",
                    "Add one with ALTER TABLE ... ADD PRIMARY KEY or CREATE UNIQUE INDEX.");
}

// The owner, status and soft-delete columns.
void check_role_columns(const Registration& r, const RelColumns& rc, const std::string& table) {
    if (r.owner_column) {
        require_column(rc, table, "owner column", *r.owner_column);
        if (find(rc, *r.owner_column)->kind != core::TypeKind::Text)
            throw Error(sqlstate::datatype_mismatch, "owner column " + quoted(*r.owner_column) + " must be of type name or text",
                        "The owner column holds a role name.");
        if (*r.owner_column == r.key_column)
            throw Error(sqlstate::invalid_parameter_value, "the owner column cannot be the key column");
    }
    if (r.status_column) {
        require_column(rc, table, "status column", *r.status_column);
        const ColumnInfo* ci = find_info(rc, *r.status_column);
        if (find(rc, *r.status_column)->kind != core::TypeKind::Text && !is_enum(ci->type))
            throw Error(sqlstate::datatype_mismatch, "status column " + quoted(*r.status_column) + " must be of a text or enum type");
    }
    if (r.soft_delete_column) {
        require_column(rc, table, "soft-delete column", *r.soft_delete_column);
        const ColumnInfo* ci = find_info(rc, *r.soft_delete_column);
        if (ci->type != TIMESTAMPTZOID && ci->type != TIMESTAMPOID && ci->type != BOOLOID)
            throw Error(sqlstate::datatype_mismatch,
                        "soft-delete column " + quoted(*r.soft_delete_column) + " must be of type timestamptz, timestamp or boolean");
        if (find(rc, *r.soft_delete_column)->not_null && ci->type != BOOLOID)
            throw Error(sqlstate::invalid_object_definition,
                        "soft-delete column " + quoted(*r.soft_delete_column) + " must allow nulls",
                        "A null soft-delete timestamp marks a live row.");
    }
}

// The labels of an enum type (or of a domain over one), in order.
std::vector<std::string> enum_labels(pg::Spi& spi, Oid type) {
    Oid base = pg::guard([&] { return getBaseType(type); });
    pg::Rows rows = spi.query(
        "SELECT enumlabel::pg_catalog.text AS label FROM pg_catalog.pg_enum "
        " WHERE enumtypid OPERATOR(pg_catalog.=) $1 ORDER BY enumsortorder",
        {{OIDOID, ObjectIdGetDatum(base), false}});
    std::vector<std::string> out;
    for (pg::Row row : rows) out.push_back(row.text("label"));
    return out;
}

// The statuses of an enum status column must be labels of its type: a status
// that is not would fail every status_update to it, at run time.
void check_enum_statuses(pg::Spi& spi, const Registration& r, const RelColumns& rc) {
    if (!r.status_column) return;
    const ColumnInfo* ci = find_info(rc, *r.status_column);
    if (!ci || !is_enum(ci->type)) return;
    const std::vector<std::string> labels = enum_labels(spi, ci->type);
    std::vector<std::pair<std::string, const char*>> named;  // status, where it is named
    if (r.allowed_statuses)
        for (const auto& s : *r.allowed_statuses) named.emplace_back(s, "allowed_statuses");
    if (r.status_transitions)
        for (const auto& [from, to] : core::parse_transitions(*r.status_transitions, r.allowed_statuses)) {
            named.emplace_back(from, "status_transitions");
            for (const auto& s : to) named.emplace_back(s, "status_transitions");
        }
    for (const auto& [status, where] : named) {
        if (std::find(labels.begin(), labels.end(), status) != labels.end()) continue;
        Oid base = pg::guard([&] { return getBaseType(ci->type); });
        const std::string type = pg::guard([&] { return format_type_be(base); });
        std::string list;
        for (const auto& l : labels) list += (list.empty() ? "" : ", ") + l;
        throw Error(sqlstate::invalid_parameter_value,
                    "status " + quoted(status) + " in " + where + " is not a label of enum type " + type,
                    "Status column " + quoted(*r.status_column) + " is of type " + type + ", whose labels are: " +
                        list + ".",
                    "Name only those labels, or add this one with ALTER TYPE " + type + " ADD VALUE.");
    }
}

// The updatable columns, the allowed statuses and the status transitions.
void check_column_rules(const Registration& r, const RelColumns& rc, const std::string& table) {
    if (r.updatable_columns) {
        for (const auto& c : *r.updatable_columns) {
            require_column(rc, table, "updatable column", c);
            if (c == r.key_column)
                throw Error(sqlstate::invalid_parameter_value, "the key column cannot be updatable");
            if (find(rc, c)->generated)
                throw Error(sqlstate::invalid_parameter_value, "generated column " + quoted(c) + " cannot be updatable");
        }
    }
    if (r.allowed_statuses) {
        if (!r.status_column)
            throw Error(sqlstate::invalid_parameter_value, "allowed_statuses needs a status_column");
        if (r.allowed_statuses->empty())
            throw Error(sqlstate::invalid_parameter_value, "allowed_statuses must not be empty");
    }
    if (r.status_transitions) {
        if (!r.status_column)
            throw Error(sqlstate::invalid_parameter_value, "status_transitions needs a status_column");
        (void)core::parse_transitions(*r.status_transitions, r.allowed_statuses);
    }
}

// The archive table has every stored column of the target.
void check_archive(const Registration& r, const RelColumns& rc, const std::string& table) {
    const std::string archive = relation_label(r.archive_relation);
    if (r.archive_relation == r.relation)
        throw Error(sqlstate::invalid_parameter_value, "the archive relation cannot be the target itself");
    require_table(r.archive_relation, "archive relation", archive, nullptr);
    if (!pg::lock_relation(r.archive_relation, AccessShareLock))
        throw Error("42P01", "archive relation " + archive + " does not exist", "It was dropped meanwhile.");
    RelColumns ac = read_columns(r.archive_relation);
    for (const auto& c : rc.columns) {
        if (c.generated) continue;
        if (!find(ac, c.name))
            throw Error(sqlstate::invalid_object_definition,
                        "archive relation " + archive + " lacks column " + quoted(c.name) + " of " + table,
                        "An archive table has every column of its target, and may add archived_at, "
                        "archive_reason and archive_location.");
    }
}

}  // namespace

void register_target(pg::Spi& spi, const Registration& r, Oid actor) {
    pg::require_admin(actor, "register batch targets",
                      "Only superusers and members of batch_ops_admin may register targets.");
    check_target_name(r.name);
    const std::string table = relation_label(r.relation);
    require_table(r.relation, "relation", table, "Targets are ordinary or partitioned tables.");
    // Read under a lock, so that the key type recorded is the one checked.
    if (!pg::lock_relation(r.relation, AccessShareLock))
        throw Error("42P01", "relation " + table + " does not exist", "It was dropped meanwhile.");
    RelColumns rc = read_columns(r.relation);
    check_key_column(spi, r, rc, table);
    check_role_columns(r, rc, table);
    check_column_rules(r, rc, table);
    check_enum_statuses(spi, r, rc);
    if (OidIsValid(r.archive_relation)) check_archive(r, rc, table);
    Registration recorded = r;
    recorded.key_type = find_info(rc, r.key_column)->type;
    store::save_target(spi, recorded, actor);
}

void unregister_target(pg::Spi& spi, const std::string& name) {
    pg::require_admin(pg::current_role(), "unregister batch targets",
                      "Only superusers and members of batch_ops_admin may unregister targets.");
    if (!store::delete_target(spi, name)) throw Error(sqlstate::undefined_object, "batch target " + quoted(name) + " does not exist");
}

void column_gone(const std::string& target, const std::string& column, const std::string& role) {
    throw Error(sqlstate::undefined_column,
                "column " + quoted(column) + " of target " + quoted(target) + " no longer exists",
                "It is the target's " + role + ".",
                "Register the target again with batch_ops.register_target(), or restore the column.");
}

namespace {

// The lock the statements of `op` take on the target's table.
LOCKMODE table_lock(core::Operation op) {
    return op == core::Operation::Export ? AccessShareLock : RowExclusiveLock;
}

// Locks a table of target `name` for `use` (see TargetUse); false when it no
// longer exists. A dry run's wait is bounded by batch_ops.lock_timeout.
bool lock_table(Oid relid, LOCKMODE mode, const std::string& name, const TargetUse& use) {
    if (use.lock_timeout_ms <= 0) return pg::lock_relation(relid, mode);
    bool exists = false;
    std::optional<pg::PgError> failure =
        pg::subtransaction([&] { exists = pg::lock_relation(relid, mode, use.lock_timeout_ms); });
    if (!failure) return exists;
    if (failure->sqlstate() != "55P03") throw *failure;
    throw Error("55P03", "could not lock the table of batch target " + quoted(name),
                "Another transaction holds a conflicting lock on it for longer than batch_ops.lock_timeout ("
                    + std::to_string(use.lock_timeout_ms) + " ms).",
                "Try again when that transaction has ended.");
}

// "???" for a type dropped since.
std::string type_name(Oid type) {
    char* s = pg::guard([&] { return format_type_extended(type, -1, FORMAT_TYPE_ALLOW_INVALID); });
    return s;
}

// Whether a key column of type `now` still reads the ids of a target
// registered with a key of type `registered` as they were checked: the same
// type, or another supported key type of the same kind (smallint, integer
// and bigint; text and varchar), whose canonical ids are the same.
bool same_key_kind(Oid registered, Oid now) {
    if (registered == now) return true;
    bool exists = pg::guard([&] { return SearchSysCacheExists1(TYPEOID, ObjectIdGetDatum(registered)); });
    return exists && supported_key_type(now) && kind_of(registered) == kind_of(now);
}

// The columns the statements name, checked against the registration.
void check_shape(const TargetInfo& t, const store::TargetRecord& row) {
    const std::string& name = t.model.name;
    const ColumnInfo* key = t.column(t.model.key_column);
    if (!key) column_gone(name, t.model.key_column, "key column");
    if (OidIsValid(row.key_type) && !same_key_kind(row.key_type, key->type))
        throw Error(sqlstate::datatype_mismatch,
                    "key column " + quoted(t.model.key_column) + " of batch target " + quoted(name) +
                        " changed type from " + type_name(row.key_type) + " to " + type_name(key->type) +
                        " since it was registered",
                    "A key column may change only to a type that reads ids the same way: smallint, integer and "
                    "bigint among themselves, text and varchar among themselves.",
                    "Register the target again with batch_ops.register_target() to use the new type, then retry "
                    "the batch.");
    if (t.model.owner_column && !t.column(*t.model.owner_column))
        column_gone(name, *t.model.owner_column, "owner column");
    if (t.model.soft_delete_column && !t.column(*t.model.soft_delete_column))
        column_gone(name, *t.model.soft_delete_column, "soft-delete column");
}

// The archive table of t: locked as the target for archive and restore, which
// write it, and its columns read; for other operations only whether it exists.
void load_archive(TargetInfo& t, const std::string& name, const TargetUse& use) {
    const bool writes = use.operation == core::Operation::Archive || use.operation == core::Operation::Restore;
    bool exists;
    if (writes && use.run_now) exists = lock_table(t.archive_relid, RowExclusiveLock, name, use);
    else if (writes) exists = pg::lock_relation(t.archive_relid, AccessShareLock);
    else exists = pg::guard([&] { return SearchSysCacheExists1(RELOID, ObjectIdGetDatum(t.archive_relid)); });
    if (exists) {
        t.model.has_archive = true;
        t.archive_table = pg::qualified_relation(t.archive_relid);
        if (writes) {
            RelColumns ac = read_columns(t.archive_relid);
            for (const char* extra : {"archived_at", "archive_reason", "archive_location"})
                if (find(ac, extra) && !t.column(extra)) t.archive_extra.push_back(extra);
        }
    }
    if (writes && !use.run_now) pg::unlock_relation(t.archive_relid, AccessShareLock);
}

}  // namespace

TargetInfo load_target(pg::Spi& spi, const std::string& name, const TargetUse& requested) {
    // Only a lock kept for the statements waits at most lock_timeout (in a
    // subtransaction, whose locks pass to the transaction: not released early).
    TargetUse use = requested;
    if (!use.run_now) use.lock_timeout_ms = 0;
    std::optional<store::TargetRecord> row = store::find_target(spi, name);
    if (!row)
        throw Error(sqlstate::undefined_object, "batch target " + quoted(name) + " does not exist", {},
                    "An admin registers targets with batch_ops.register_target().");
    TargetInfo t;
    t.model.name = name;
    t.relid = row->relation;
    t.model.key_column = row->key_column;
    t.model.owner_column = row->owner_column;
    t.model.status_column = row->status_column;
    t.model.soft_delete_column = row->soft_delete_column;
    t.archive_relid = row->archive_relation;
    t.model.allowed_statuses = row->allowed_statuses;
    t.model.updatable_columns = row->updatable_columns;
    // The statement's lock first: no ALTER TABLE can change the columns read
    // below before the statement runs (issue 8, defect 12c). A check that
    // only asks for the request is made under ACCESS SHARE, released after.
    const LOCKMODE mode = use.run_now ? table_lock(use.operation) : AccessShareLock;
    if (!lock_table(t.relid, mode, name, use))
        throw Error("42P01", "the table of batch target " + quoted(name) + " no longer exists", {},
                    "Unregister the target with batch_ops.unregister_target().");
    if (row->status_transitions)
        t.model.transitions = core::parse_transitions(*row->status_transitions, t.model.allowed_statuses);

    t.table = pg::qualified_relation(t.relid);
    t.model.relation = relation_label(t.relid);
    RelColumns rc = read_columns(t.relid);
    if (!use.run_now) pg::unlock_relation(t.relid, mode);
    t.model.columns = rc.columns;
    t.columns = rc.info;
    check_shape(t, *row);
    const ColumnInfo* key = t.column(t.model.key_column);
    t.model.key_kind = kind_of(key->type);
    t.key_array_type = array_type_name(key->type);
    // The status column is checked by status_update only (ops/runner).
    if (t.model.soft_delete_column) {
        const ColumnInfo* sd = t.column(*t.model.soft_delete_column);
        t.model.soft_delete_kind = sd->type == BOOLOID ? core::SoftDeleteKind::Boolean : core::SoftDeleteKind::Timestamp;
    }
    if (OidIsValid(t.archive_relid)) load_archive(t, name, use);
    return t;
}

}  // namespace batch_ops::ops
