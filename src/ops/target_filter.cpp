#include "ops/target_filter.hpp"

#include "core/error.hpp"
#include "ops/sql_text.hpp"
#include "pg/security.hpp"

namespace batch_ops::ops {

namespace {

const char* const kFilterHint =
    "A filter is one boolean SQL expression over the target's columns, such as status = 'draft', without "
    "subqueries or volatile functions; functions outside pg_catalog are named with their schema.";

[[noreturn]] void invalid_filter(const std::string& detail) {
    throw core::request_error("\"target_filter\" is not a valid filter", detail, kFilterHint);
}

// One relation the filter runs over, and the operation's own condition on it.
struct Source {
    std::string table;      // quoted, schema-qualified
    std::string condition;  // " AND ..." over the alias
};

// The filter must be one expression, then valid over each relation.
void check_filter(const std::string& where, const std::vector<Source>& sources, const std::string& alias) {
    std::optional<std::string> problem;
    try {
        problem = expression_problem(where);
    } catch (const pg::PgError& e) {
        invalid_filter(e.what());
    }
    if (problem) invalid_filter("The filter: " + *problem + ".");
    for (const auto& s : sources) {
        try {
            problem = filter_problem(s.table, alias, where);
        } catch (const pg::PgError& e) {
            invalid_filter(e.what());
        }
        if (problem) invalid_filter("The filter: " + *problem + ".");
    }
}

}  // namespace

std::vector<std::string> resolve_target_filter(pg::Spi& spi, const TargetInfo& t, const core::Request& r,
                                               const core::Actor& actor, int max_rows) {
    const core::Target& m = t.model;
    // Columns are named as in the table: the alias is the table's own name.
    const char* relname = pg::guard([&] { return get_rel_name(t.relid); });
    if (!relname)
        throw core::Error("42P01", "the table of batch target " + core::quoted(m.name) + " no longer exists");
    const std::string alias = pg::ident(relname);
    auto column = [&](const std::string& c) { return alias + "." + pg::ident(c); };

    std::string owner, live, deleted;
    if (m.owner_column && !actor.admin)
        owner = " AND " + column(*m.owner_column) + "::pg_catalog.text OPERATOR(pg_catalog.=) $2";
    if (m.soft_delete_column) {
        const bool boolean = m.soft_delete_kind == core::SoftDeleteKind::Boolean;
        live = " AND " + column(*m.soft_delete_column) + (boolean ? " IS NOT TRUE" : " IS NULL");
        deleted = " AND " + column(*m.soft_delete_column) + (boolean ? " IS TRUE" : " IS NOT NULL");
    }
    // The rows the operation acts on, as its statement in ops/runner selects them.
    std::vector<Source> sources;
    switch (r.operation) {
        case core::Operation::Delete:
            sources.push_back({t.table, (core::effective_soft_delete(r, m) ? live : std::string()) + owner});
            break;
        case core::Operation::Restore:
            if (m.soft_delete_column) sources.push_back({t.table, deleted + owner});
            if (m.has_archive) sources.push_back({t.archive_table, owner});
            break;
        default:
            sources.push_back({t.table, live + owner});
            break;
    }
    if (sources.empty()) return {};  // check_supported refused the request already

    const std::string& where = *r.target_filter;
    std::string selects;
    for (const auto& s : sources) {
        if (!selects.empty()) selects += " UNION ";
        selects += "SELECT " + column(m.key_column) + " AS k FROM " + s.table + " AS " + alias + " WHERE " +
                   filter_clause(where) + " AND " + column(m.key_column) + " IS NOT NULL" + s.condition;
    }
    const std::string sql = "SELECT s.k::pg_catalog.text AS k FROM (" + selects + ") AS s ORDER BY s.k LIMIT $1";

    // As the caller, with a search_path that only names pg_catalog: the
    // filter sees no object of the caller's schemas unless it names them.
    return pg::with_setting("search_path", "pg_catalog, pg_temp", [&] {
        check_filter(where, sources, alias);
        pg::Rows rows = spi.query(sql, {pg::int8_param(static_cast<int64_t>(max_rows) + 1), pg::text_param(actor.role)},
                                  true);
        if (rows.size() > static_cast<uint64_t>(max_rows))
            throw core::request_error("\"target_filter\" selects more than " + std::to_string(max_rows) + " rows",
                                      "batch_ops.max_filter_items is " + std::to_string(max_rows) + ".",
                                      "Narrow the filter (for example to a range of keys) and submit several "
                                      "batches, or ask an administrator to raise batch_ops.max_filter_items.");
        std::vector<std::string> ids;
        ids.reserve(rows.size());
        for (pg::Row row : rows) ids.push_back(row.text("k"));
        return ids;
    });
}

}  // namespace batch_ops::ops
