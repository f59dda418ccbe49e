#include "store/targets.hpp"

#include "pg/jsonb.hpp"
#include "pg/security.hpp"
#include "store/owner.hpp"

namespace batch_ops::store {

namespace {

pg::Param optional_text(const std::optional<std::string>& s) {
    return s ? pg::text_param(*s) : pg::null_param(TEXTOID);
}

pg::Param optional_relation(Oid relid) {
    return OidIsValid(relid) ? pg::Param{OIDOID, ObjectIdGetDatum(relid), false} : pg::null_param(OIDOID);
}

// A text[] column of a row (nulls left out); nullopt when the column is null.
std::optional<std::vector<std::string>> text_array(const pg::Row& row, const char* col) {
    bool isnull;
    Datum d = row.copy_datum(col, &isnull);
    if (isnull) return std::nullopt;
    std::vector<std::string> out;
    Datum* elems;
    bool* nulls;
    int n;
    pg::guard([&] {
        deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
    });
    for (int i = 0; i < n; ++i)
        if (!nulls[i]) out.push_back(pg::guard([&] { return text_to_cstring(DatumGetTextPP(elems[i])); }));
    return out;
}

}  // namespace

void save_target(pg::Spi& spi, const TargetRecord& r, Oid actor) {
    std::vector<pg::Param> params = {
        pg::text_param(r.name),
        {OIDOID, ObjectIdGetDatum(r.relation), false},
        pg::text_param(r.key_column),
        optional_text(r.owner_column),
        optional_text(r.status_column),
        optional_text(r.soft_delete_column),
        optional_relation(r.archive_relation),
        r.allowed_statuses ? pg::text_array_param(*r.allowed_statuses) : pg::null_param(TEXTARRAYOID),
        r.updatable_columns ? pg::text_array_param(*r.updatable_columns) : pg::null_param(TEXTARRAYOID),
        r.status_transitions ? pg::jsonb_text_param(r.status_transitions->dump()) : pg::null_param(JSONBOID),
        {OIDOID, ObjectIdGetDatum(actor), false},
    };
    execute(spi,
            "INSERT INTO batch_ops.target AS t (name, relation, key_column, owner_column, status_column, "
            "  soft_delete_column, archive_relation, allowed_statuses, updatable_columns, status_transitions, created_by) "
            "VALUES ($1, $2::pg_catalog.regclass, $3, $4, $5, $6, $7::pg_catalog.regclass, $8, $9::pg_catalog.name[], $10, "
            "        $11::pg_catalog.regrole) "
            "ON CONFLICT (name) DO UPDATE SET relation = excluded.relation, key_column = excluded.key_column, "
            "  owner_column = excluded.owner_column, status_column = excluded.status_column, "
            "  soft_delete_column = excluded.soft_delete_column, archive_relation = excluded.archive_relation, "
            "  allowed_statuses = excluded.allowed_statuses, updatable_columns = excluded.updatable_columns, "
            "  status_transitions = excluded.status_transitions, created_at = pg_catalog.now(), "
            "  created_by = excluded.created_by",
            params);
}

bool delete_target(pg::Spi& spi, const std::string& name) {
    return execute(spi, "DELETE FROM batch_ops.target WHERE name OPERATOR(pg_catalog.=) $1", {pg::text_param(name)}) >
           0;
}

std::optional<std::string> target_version(pg::Spi& spi, const std::string& name) {
    pg::Rows rows = query(spi,
            "SELECT t.xmin::pg_catalog.text || '/' || c.xmin::pg_catalog.text || '/' || c.oid::pg_catalog.text "
            "       AS version "
            "  FROM batch_ops.target t JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) t.relation "
            " WHERE t.name OPERATOR(pg_catalog.=) $1",
            {pg::text_param(name)});
    std::optional<pg::Row> row = rows.maybe_one();
    if (!row) return std::nullopt;
    return row->text("version");
}

std::optional<TargetRecord> find_target(pg::Spi& spi, const std::string& name) {
    pg::Rows rows = query(spi,
            "SELECT relation::pg_catalog.oid::pg_catalog.int8 AS relation, key_column::pg_catalog.text AS key_column, "
            "       owner_column::pg_catalog.text AS owner_column, status_column::pg_catalog.text AS status_column, "
            "       soft_delete_column::pg_catalog.text AS soft_delete_column, "
            "       archive_relation::pg_catalog.oid::pg_catalog.int8 AS archive_relation, allowed_statuses, "
            "       updatable_columns::pg_catalog.text[] AS updatable_columns, "
            "       status_transitions::pg_catalog.text AS status_transitions "
            "  FROM batch_ops.target WHERE name OPERATOR(pg_catalog.=) $1",
            {pg::text_param(name)});
    std::optional<pg::Row> row = rows.maybe_one();
    if (!row) return std::nullopt;
    TargetRecord t;
    t.name = name;
    t.relation = static_cast<Oid>(row->i64("relation"));
    t.key_column = row->text("key_column");
    t.owner_column = row->opt_text("owner_column");
    t.status_column = row->opt_text("status_column");
    t.soft_delete_column = row->opt_text("soft_delete_column");
    if (auto v = row->opt_i64("archive_relation")) t.archive_relation = static_cast<Oid>(*v);
    t.allowed_statuses = text_array(*row, "allowed_statuses");
    t.updatable_columns = text_array(*row, "updatable_columns");
    if (auto transitions = row->opt_text("status_transitions")) t.status_transitions = pg::from_jsonb_text(*transitions);
    return t;
}

}  // namespace batch_ops::store
