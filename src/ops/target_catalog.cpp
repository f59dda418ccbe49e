#include "ops/target_catalog.hpp"

#include <algorithm>

#include "core/error.hpp"
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

RelColumns read_columns(pg::Spi& spi, Oid relid) {
    pg::Rows rows = spi.query_cached(
        "SELECT a.attname::pg_catalog.text AS name, a.atttypid::pg_catalog.int8 AS type, a.atttypmod AS typmod, "
        "       a.attnotnull AS not_null, "
        "       a.atthasdef OR a.attidentity <> '' AS has_default, "
        "       a.attgenerated <> '' OR a.attidentity = 'a' AS generated "
        "  FROM pg_catalog.pg_attribute a "
        " WHERE a.attrelid OPERATOR(pg_catalog.=) $1 AND a.attnum > 0 AND NOT a.attisdropped "
        " ORDER BY a.attnum",
        {{OIDOID, ObjectIdGetDatum(relid), false}});
    RelColumns out;
    for (pg::Row row : rows) {
        core::Column c;
        ColumnInfo ci;
        c.name = ci.name = row.text("name");
        ci.type = static_cast<Oid>(row.i64("type"));
        ci.typmod = static_cast<int32>(row.i64("typmod"));
        c.kind = kind_of(ci.type);
        c.not_null = row.boolean("not_null");
        c.has_default = row.boolean("has_default");
        c.generated = row.boolean("generated");
        out.columns.push_back(c);
        out.info.push_back(ci);
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

void check_key_column(pg::Spi& spi, const Registration& r, const RelColumns& rc, const std::string& table) {
    require_column(rc, table, "key column", r.key_column);
    Oid key_base = pg::guard([&] { return getBaseType(find_info(rc, r.key_column)->type); });
    if (key_base != INT2OID && key_base != INT4OID && key_base != INT8OID && key_base != TEXTOID &&
        key_base != VARCHAROID && key_base != UUIDOID)
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
void check_archive(pg::Spi& spi, const Registration& r, const RelColumns& rc, const std::string& table) {
    const std::string archive = relation_label(r.archive_relation);
    if (r.archive_relation == r.relation)
        throw Error(sqlstate::invalid_parameter_value, "the archive relation cannot be the target itself");
    require_table(r.archive_relation, "archive relation", archive, nullptr);
    RelColumns ac = read_columns(spi, r.archive_relation);
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
    if (!pg::is_admin(actor))
        throw Error(sqlstate::insufficient_privilege, "permission denied to register batch targets",
                    "Only superusers and members of batch_ops_admin may register targets.");
    check_target_name(r.name);
    const std::string table = relation_label(r.relation);
    require_table(r.relation, "relation", table, "Targets are ordinary or partitioned tables.");
    RelColumns rc = read_columns(spi, r.relation);
    check_key_column(spi, r, rc, table);
    check_role_columns(r, rc, table);
    check_column_rules(r, rc, table);
    if (OidIsValid(r.archive_relation)) check_archive(spi, r, rc, table);
    store::save_target(spi, r, actor);
}

void unregister_target(pg::Spi& spi, const std::string& name) {
    if (!pg::is_admin(pg::current_role()))
        throw Error(sqlstate::insufficient_privilege, "permission denied to unregister batch targets",
                    "Only superusers and members of batch_ops_admin may unregister targets.");
    if (!store::delete_target(spi, name)) throw Error(sqlstate::undefined_object, "batch target " + quoted(name) + " does not exist");
}

std::string target_version(pg::Spi& spi, const std::string& name) {
    return store::target_version(spi, name).value_or("");
}

TargetInfo load_target(pg::Spi& spi, const std::string& name) {
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
    bool exists = pg::guard([&] { return SearchSysCacheExists1(RELOID, ObjectIdGetDatum(t.relid)); });
    if (!exists)
        throw Error("42P01", "the table of batch target " + quoted(name) + " no longer exists", {},
                    "Unregister the target with batch_ops.unregister_target().");
    if (row->status_transitions)
        t.model.transitions = core::parse_transitions(*row->status_transitions, t.model.allowed_statuses);

    t.table = pg::qualified_relation(t.relid);
    t.model.relation = relation_label(t.relid);
    RelColumns rc = read_columns(spi, t.relid);
    t.model.columns = rc.columns;
    t.columns = rc.info;
    const ColumnInfo* key = t.column(t.model.key_column);
    if (!key)
        throw Error(sqlstate::undefined_column, "key column " + quoted(t.model.key_column) + " of batch target " +
                                                    quoted(name) + " no longer exists");
    t.model.key_kind = kind_of(key->type);
    t.key_array_type = array_type_name(key->type);
    if (t.model.soft_delete_column) {
        const ColumnInfo* sd = t.column(*t.model.soft_delete_column);
        if (!sd) throw Error(sqlstate::undefined_column, "soft-delete column of batch target " + quoted(name) + " no longer exists");
        t.model.soft_delete_kind = sd->type == BOOLOID ? core::SoftDeleteKind::Boolean : core::SoftDeleteKind::Timestamp;
    }
    if (OidIsValid(t.archive_relid)) {
        bool aexists = pg::guard([&] { return SearchSysCacheExists1(RELOID, ObjectIdGetDatum(t.archive_relid)); });
        if (aexists) {
            t.model.has_archive = true;
            t.archive_table = pg::qualified_relation(t.archive_relid);
            RelColumns ac = read_columns(spi, t.archive_relid);
            for (const char* extra : {"archived_at", "archive_reason", "archive_location"})
                if (find(ac, extra) && !t.column(extra)) t.archive_extra.push_back(extra);
        }
    }
    return t;
}

}  // namespace batch_ops::ops
