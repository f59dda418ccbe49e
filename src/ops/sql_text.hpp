// The places where request text becomes SQL: a sync's source query and column
// expressions (API.md section 5) and a request's target_filter (section 4).
// Each text is parsed first and must be exactly one SELECT or exactly one
// expression; a filter is also analyzed against its table and may use only
// that table's columns and functions that change nothing.
#pragma once

#include "pg/spi.hpp"

#include <optional>
#include <string>

namespace batch_ops::ops {

// Why `query` is not exactly one SELECT (without INTO or locking clauses), or
// nullopt when it is. A syntax error is raised as the pg::PgError of the parser.
std::optional<std::string> query_problem(const std::string& query);

// Why `expr` is not exactly one expression (it is parsed as the target list
// of "SELECT <expr>": one entry, without AS, and nothing after it), or
// nullopt when it is. A syntax error is raised as the pg::PgError of the parser.
std::optional<std::string> expression_problem(const std::string& expr);

// Why `where` (one expression, as expression_problem checked it) cannot be a
// filter over the relation: it is analyzed as the WHERE clause of
//   SELECT FROM <relation> AS <alias> WHERE (<where>)
// with the current search_path and must use only that relation's columns, no
// system column or whole-row reference, no subquery, and no volatile function
// (a filter selects rows; it changes nothing). Aggregates, window and
// set-returning functions, and a result that is not boolean, are refused by
// PostgreSQL itself (its pg::PgError is raised). nullopt when it can be one.
std::optional<std::string> filter_problem(const std::string& relation, const std::string& alias,
                                          const std::string& where);

// The text of a filter as it is placed in a statement: on lines of its own, so
// that a trailing "--" comment ends with it.
std::string filter_clause(const std::string& where);

}  // namespace batch_ops::ops
