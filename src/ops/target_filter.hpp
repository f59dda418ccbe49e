// A request's target_filter (API.md section 4): one boolean SQL expression
// over the target's columns, resolved at submission to the ids of the rows it
// selects, which then become the batch's items.
#pragma once

#include "ops/target_catalog.hpp"

#include <string>
#include <vector>

#include "core/request.hpp"
#include "core/target.hpp"

namespace batch_ops::ops {

// The keys (as text, in key order) of the rows the request's target_filter
// selects, among those its operation acts on: live rows (soft-deleted ones too
// for a hard delete; for restore, soft-deleted rows and the rows of the
// archive table), of the caller's own where the target has an owner column
// and the caller is no admin. The filter is checked first (ops/sql_text) and
// runs as the current user, so the table privileges and row level security
// of the caller apply, with search_path pinned to pg_catalog, pg_temp. More
// than max_rows rows: 22023. A filter that is not valid: 22023 naming why.
std::vector<std::string> resolve_target_filter(pg::Spi& spi, const TargetInfo& target, const core::Request& request,
                                               const core::Actor& actor, int max_rows);

}  // namespace batch_ops::ops
