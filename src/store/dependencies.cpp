#include "store/dependencies.hpp"

#include <string>

#include "core/json.hpp"
#include "pg/security.hpp"
#include "store/owner.hpp"
#include "store/transition.hpp"

namespace batch_ops::store {

using core::BatchStatus;

namespace {

// Resets the failed and skipped items of a batch to pending and its counts
// and error; `retry` counts an attempt (batch_retry), a re-armed dependent
// keeps its attempt count. Returns the attempt and the items re-queued.
const char* const kRequeue =
    "WITH c AS (UPDATE batch_ops.batch_item SET "
    "    error_codes = ARRAY(SELECT CASE WHEN l IN ('f', 'k') THEN NULL ELSE error_codes[g] END "
    "        FROM pg_catalog.unnest(pg_catalog.string_to_array(statuses, NULL)) WITH ORDINALITY AS x(l, g) "
    "        ORDER BY g), "
    "    messages = ARRAY(SELECT CASE WHEN l IN ('f', 'k') THEN NULL ELSE messages[g] END "
    "        FROM pg_catalog.unnest(pg_catalog.string_to_array(statuses, NULL)) WITH ORDINALITY AS x(l, g) "
    "        ORDER BY g), "
    "    attempts = ARRAY(SELECT COALESCE(attempts[g], CASE WHEN l OPERATOR(pg_catalog.=) 'p' THEN 0 ELSE 1 END) "
    "        FROM pg_catalog.unnest(pg_catalog.string_to_array(statuses, NULL)) WITH ORDINALITY AS x(l, g) "
    "        ORDER BY g), "
    "    statuses = pg_catalog.translate(statuses, 'fk', 'pp'), updated_at = pg_catalog.clock_timestamp() "
    "  WHERE batch_id OPERATOR(pg_catalog.=) $1 "
    "    AND (pg_catalog.strpos(statuses, 'f') > 0 OR pg_catalog.strpos(statuses, 'k') > 0)) "
    "UPDATE batch_ops.batch b SET processed = b.success_count, failure_count = 0, "
    "    skipped_count = 0, attempt = b.attempt + CASE WHEN $2 THEN 1 ELSE 0 END, next_attempt_at = NULL, "
    "    automatic_attempts = 1, "
    "    finished_at = NULL, worker_pid = NULL, last_error = NULL, last_error_code = NULL, "
    "    updated_at = pg_catalog.clock_timestamp() "
    "  WHERE b.id OPERATOR(pg_catalog.=) $1 "
    "  RETURNING b.attempt, b.total OPERATOR(pg_catalog.-) b.processed AS requeued";

// failed -> queued, with the event "retried" (batch_retry) or "re_armed"
// (by the retry of upstream batch `by_batch`).
void requeue(pg::Spi& spi, int64_t id, bool retry, Oid actor, int64_t by_batch) {
    pg::Rows rows = query(spi, kRequeue, {pg::int8_param(id), pg::bool_param(retry)});
    std::optional<pg::Row> row = rows.maybe_one();
    if (!row) batch_missing(id);
    core::Json detail = core::Json::object();
    detail.set("attempt", core::Json::number(row->i64("attempt")));
    detail.set("requeued_items", core::Json::number(row->i64("requeued")));
    detail.set("by_batch", core::Json::number(by_batch));
    Transition t;
    t.event = retry ? "retried" : "re_armed";
    t.actor = actor;
    t.detail = std::move(detail);
    transition(spi, id, BatchStatus::Queued, t);
}

// Batch d, queued behind `up`, ends failed with UPSTREAM_FAILED, its pending
// items skipped.
void fail_dependent(pg::Spi& spi, int64_t d, int64_t up) {
    std::string message = "upstream batch " + std::to_string(up) + " did not succeed";
    uint64_t n = execute(spi,
            "WITH n AS (SELECT COALESCE(pg_catalog.sum(pg_catalog.length(statuses) - "
            "             pg_catalog.length(pg_catalog.replace(statuses, 'p', ''))), 0)::pg_catalog.int4 AS pending "
            "             FROM batch_ops.batch_item WHERE batch_id OPERATOR(pg_catalog.=) $1), "
            "c AS (UPDATE batch_ops.batch_item SET "
            "        error_codes = ARRAY(SELECT CASE WHEN l OPERATOR(pg_catalog.=) 'p' THEN 'UPSTREAM_FAILED' "
            "            ELSE error_codes[g] END "
            "            FROM pg_catalog.unnest(pg_catalog.string_to_array(statuses, NULL)) WITH ORDINALITY AS x(l, g) "
            "            ORDER BY g), "
            "        messages = ARRAY(SELECT CASE WHEN l OPERATOR(pg_catalog.=) 'p' THEN $2 ELSE messages[g] END "
            "            FROM pg_catalog.unnest(pg_catalog.string_to_array(statuses, NULL)) WITH ORDINALITY AS x(l, g) "
            "            ORDER BY g), "
            "        statuses = pg_catalog.translate(statuses, 'p', 'k'), updated_at = pg_catalog.clock_timestamp() "
            "      WHERE batch_id OPERATOR(pg_catalog.=) $1 AND pg_catalog.strpos(statuses, 'p') > 0) "
            "UPDATE batch_ops.batch b SET processed = b.processed + n.pending, "
            "       skipped_count = b.skipped_count + n.pending, last_error_code = 'UPSTREAM_FAILED', "
            "       last_error = $2, finished_at = pg_catalog.clock_timestamp(), "
            "       updated_at = pg_catalog.clock_timestamp() "
            "  FROM n WHERE b.id OPERATOR(pg_catalog.=) $1",
            {pg::int8_param(d), pg::text_param(message)});
    if (n == 0) batch_missing(d);
    core::Json detail = core::Json::object();
    detail.set("error_code", core::Json::string("UPSTREAM_FAILED"));
    detail.set("upstream", core::Json::number(up));
    Transition t;
    t.detail = std::move(detail);
    transition(spi, d, BatchStatus::Failed, t);
}

// The dependents of `id` in `status` (only those that failed because of an
// upstream with `upstream_failed_only`), locked.
std::vector<int64_t> dependents(pg::Spi& spi, int64_t id, BatchStatus status, bool upstream_failed_only) {
    pg::Rows rows = query(spi,
            "SELECT b.id FROM batch_ops.batch b WHERE $1 OPERATOR(pg_catalog.=) ANY (b.depends_on) "
            "   AND b.status OPERATOR(pg_catalog.=) $2::batch_ops.batch_state "
            "   AND (NOT $3 OR b.last_error_code IS NOT DISTINCT FROM 'UPSTREAM_FAILED') "
            " ORDER BY b.id FOR UPDATE",
            {pg::int8_param(id), pg::text_param(core::to_string(status)), pg::bool_param(upstream_failed_only)});
    std::vector<int64_t> out;
    for (pg::Row row : rows) out.push_back(row.i64("id"));
    return out;
}

// Calls visit(dependent, upstream) for each dependent of `id` in `status`
// (locked), then for theirs, transitively.
template <typename F>
void for_each_dependent(pg::Spi& spi, int64_t id, BatchStatus status, bool upstream_failed_only, F&& visit) {
    std::vector<int64_t> frontier = {id};
    while (!frontier.empty()) {
        int64_t up = frontier.back();
        frontier.pop_back();
        for (int64_t d : dependents(spi, up, status, upstream_failed_only)) {
            visit(d, up);
            frontier.push_back(d);
        }
    }
}

}  // namespace

std::optional<RetryCandidate> retry_candidate(pg::Spi& spi, int64_t id) {
    std::optional<BatchStatus> seen = batch_status(spi, id, RowLock::None);
    pg::Rows rows = query(spi,
                          "SELECT status::pg_catalog.text AS status, "
                          "       submitted_by::pg_catalog.oid::pg_catalog.int8 AS submitted_by, "
                          "       depends_on IS NOT NULL AS has_dependencies "
                          "  FROM batch_ops.batch WHERE id OPERATOR(pg_catalog.=) $1" +
                              lock_clause(seen == BatchStatus::Failed ? RowLock::ForUpdate : RowLock::None),
                          {pg::int8_param(id)});
    std::optional<pg::Row> row = rows.maybe_one();
    if (!row) return std::nullopt;
    RetryCandidate c;
    c.status = parse_status(row->text("status"));
    c.submitted_by = static_cast<Oid>(row->i64("submitted_by"));
    c.has_dependencies = row->boolean("has_dependencies");
    return c;
}

std::optional<Upstream> broken_upstream(pg::Spi& spi, int64_t id) {
    pg::Rows rows = query(spi,
            "SELECT d.id, d.status::pg_catalog.text AS status FROM batch_ops.batch b "
            "  JOIN batch_ops.batch d ON d.id OPERATOR(pg_catalog.=) ANY (b.depends_on) "
            " WHERE b.id OPERATOR(pg_catalog.=) $1 AND d.status IN ('failed', 'cancelled') ORDER BY d.id LIMIT 1",
            {pg::int8_param(id)});
    std::optional<pg::Row> row = rows.maybe_one();
    if (!row) return std::nullopt;
    return Upstream{row->i64("id"), parse_status(row->text("status"))};
}

std::vector<Dependency> dependencies(pg::Spi& spi, const std::vector<int64_t>& ids) {
    std::vector<std::string> text;
    for (auto i : ids) text.push_back(std::to_string(i));
    pg::Rows rows = query(spi,
            "SELECT x.id, b.status::pg_catalog.text AS status, "
            "       b.submitted_by::pg_catalog.oid::pg_catalog.int8 AS submitted_by "
            "  FROM pg_catalog.unnest($1::pg_catalog.int8[]) WITH ORDINALITY AS x(id, n) "
            "  LEFT JOIN batch_ops.batch b ON b.id OPERATOR(pg_catalog.=) x.id ORDER BY x.n",
            {pg::text_array_param(text)});
    std::vector<Dependency> out;
    for (pg::Row row : rows) {
        Dependency d;
        d.id = row.i64("id");
        if (std::optional<std::string> status = row.opt_text("status")) {
            d.status = parse_status(*status);
            d.submitted_by = static_cast<Oid>(row.i64("submitted_by"));
        }
        out.push_back(d);
    }
    return out;
}

void requeue_with_dependents(pg::Spi& spi, int64_t id, Oid actor) {
    requeue(spi, id, true, actor, id);
    // Re-arm the dependents that failed because of this batch, transitively.
    for_each_dependent(spi, id, BatchStatus::Failed, true, [&](int64_t d, int64_t) { requeue(spi, d, false, actor, id); });
}

void cascade_upstream_failure(pg::Spi& spi, int64_t id) {
    for_each_dependent(spi, id, BatchStatus::Queued, false, [&](int64_t d, int64_t up) { fail_dependent(spi, d, up); });
}

}  // namespace batch_ops::store
