#include "ops/retry.hpp"

#include "core/error.hpp"
#include "pg/security.hpp"
#include "ops/progress.hpp"

namespace batch_ops::ops {

namespace {

// Resets the failed and skipped items of a batch to pending and the batch to
// queued. `retry` counts an attempt (batch_retry); a re-armed dependent keeps
// its attempt count.
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
    "    AND (pg_catalog.strpos(statuses, 'f') > 0 OR pg_catalog.strpos(statuses, 'k') > 0)), "
    "u AS (UPDATE batch_ops.batch b SET status = 'queued', processed = b.success_count, failure_count = 0, "
    "    skipped_count = 0, attempt = b.attempt + CASE WHEN $2 THEN 1 ELSE 0 END, next_attempt_at = NULL, "
    "    automatic_attempts = 1, "
    "    finished_at = NULL, worker_pid = NULL, last_error = NULL, last_error_code = NULL, "
    "    updated_at = pg_catalog.clock_timestamp() "
    "  WHERE b.id OPERATOR(pg_catalog.=) $1 "
    "  RETURNING b.id, b.attempt, b.total OPERATOR(pg_catalog.-) b.processed AS requeued) "
    "INSERT INTO batch_ops.batch_event (batch_id, event, actor, detail) "
    "SELECT u.id, CASE WHEN $2 THEN 'retried' ELSE 're_armed' END, $3::pg_catalog.regrole, "
    "       pg_catalog.jsonb_build_object('attempt', u.attempt, 'requeued_items', u.requeued, 'by_batch', $4) "
    "  FROM u";

void requeue(pg::Spi& spi, int64_t id, bool retry, Oid actor, int64_t by_batch) {
    spi.execute_cached(kRequeue, {pg::int8_param(id), pg::bool_param(retry), {OIDOID, ObjectIdGetDatum(actor), false},
                                  pg::int8_param(by_batch)});
    announce(spi, id);
}

std::vector<int64_t> dependents(pg::Spi& spi, int64_t id, const char* status, bool upstream_failed_only) {
    pg::Rows rows = spi.query_cached(
        "SELECT b.id FROM batch_ops.batch b WHERE $1 OPERATOR(pg_catalog.=) ANY (b.depends_on) "
        "   AND b.status OPERATOR(pg_catalog.=) $2::batch_ops.batch_state "
        "   AND (NOT $3 OR b.last_error_code IS NOT DISTINCT FROM 'UPSTREAM_FAILED') "
        " ORDER BY b.id FOR UPDATE",
        {pg::int8_param(id), pg::text_param(status), pg::bool_param(upstream_failed_only)});
    std::vector<int64_t> out;
    for (pg::Row row : rows) out.push_back(row.i64("id"));
    return out;
}

// Calls visit(dependent, upstream) for each dependent of `id` in `status`
// (locked), then for theirs, transitively.
template <typename F>
void for_each_dependent(pg::Spi& spi, int64_t id, const char* status, bool upstream_failed_only, F&& visit) {
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

// The first upstream batch of `id` that failed or was cancelled, as a refusal
// to retry `id`.
std::optional<RetryRefusal> broken_upstream(pg::Spi& spi, int64_t id) {
    pg::Rows rows = spi.query_cached(
        "SELECT d.id, d.status::pg_catalog.text AS status FROM batch_ops.batch b "
        "  JOIN batch_ops.batch d ON d.id OPERATOR(pg_catalog.=) ANY (b.depends_on) "
        " WHERE b.id OPERATOR(pg_catalog.=) $1 AND d.status IN ('failed', 'cancelled') ORDER BY d.id LIMIT 1",
        {pg::int8_param(id)});
    std::optional<pg::Row> row = rows.maybe_one();
    if (!row) return std::nullopt;
    const std::string sid = std::to_string(id);
    std::string up = std::to_string(row->i64("id"));
    std::string up_status = row->text("status");
    return RetryRefusal{"INVALID_STATE", core::sqlstate::object_not_in_state,
                        "batch " + sid + " cannot be retried: its upstream batch " + up + " is " + up_status,
                        "A batch runs only after every batch it depends on succeeded.",
                        up_status == "cancelled"
                            ? "A cancelled batch cannot be retried: submit this work again without it."
                            : "Retry batch " + up + " first; its dependents are re-armed with it."};
}

}  // namespace

std::optional<RetryRefusal> check_retry(pg::Spi& spi, int64_t id, Oid actor) {
    return pg::as_owner([&]() -> std::optional<RetryRefusal> {
        // A running batch's row is locked by its executor during each chunk:
        // answer from a plain read first, and lock only a batch that is failed
        // (then read again under the lock: a concurrent retry may have won).
        std::optional<pg::Row> seen = spi.query_cached(
            "SELECT status::pg_catalog.text AS status FROM batch_ops.batch WHERE id OPERATOR(pg_catalog.=) $1",
            {pg::int8_param(id)}).maybe_one();
        bool lock = seen && seen->text("status") == "failed";
        const std::string read =
            "SELECT status::pg_catalog.text AS status, "
            "       submitted_by::pg_catalog.oid::pg_catalog.int8 AS submitted_by, "
            "       depends_on::pg_catalog.text AS depends_on "
            "  FROM batch_ops.batch WHERE id OPERATOR(pg_catalog.=) $1";
        pg::Rows rows = spi.query_cached(lock ? read + " FOR UPDATE" : read, {pg::int8_param(id)});
        const std::string sid = std::to_string(id);
        std::optional<pg::Row> row = rows.maybe_one();
        if (!row)
            return RetryRefusal{"NOT_FOUND", core::sqlstate::no_data_found, "batch " + sid + " does not exist", "", ""};
        std::string status = row->text("status");
        Oid submitter = static_cast<Oid>(row->i64("submitted_by"));
        bool has_deps = !row->is_null("depends_on");
        if (submitter != actor && !pg::is_admin(actor))
            return RetryRefusal{"PERMISSION_DENIED", core::sqlstate::insufficient_privilege,
                                "permission denied for batch " + sid, "The batch was submitted by another role.", ""};
        if (status != "failed")
            return RetryRefusal{"INVALID_STATE", core::sqlstate::object_not_in_state,
                                "batch " + sid + " cannot be retried: its status is " + status,
                                "Only failed batches can be retried.", ""};
        if (has_deps) return broken_upstream(spi, id);
        return std::nullopt;
    });
}

void retry_batch(pg::Spi& spi, int64_t id, Oid actor) {
    pg::as_owner([&] {
        requeue(spi, id, true, actor, id);
        // Re-arm the dependents that failed because of this batch, transitively.
        for_each_dependent(spi, id, "failed", true, [&](int64_t d, int64_t) { requeue(spi, d, false, actor, id); });
    });
}

DependencyState check_dependencies(pg::Spi& spi, const std::vector<int64_t>& ids, Oid submitter, bool admin) {
    DependencyState st;
    if (ids.empty()) return st;
    std::vector<std::string> text;
    for (auto i : ids) text.push_back(std::to_string(i));
    pg::Rows rows = pg::as_owner([&] {
        return spi.query_cached(
            "SELECT x.id, b.status::pg_catalog.text AS status, "
            "       b.submitted_by::pg_catalog.oid::pg_catalog.int8 AS submitted_by "
            "  FROM pg_catalog.unnest($1::pg_catalog.int8[]) WITH ORDINALITY AS x(id, n) "
            "  LEFT JOIN batch_ops.batch b ON b.id OPERATOR(pg_catalog.=) x.id ORDER BY x.n",
            {pg::text_array_param(text)});
    });
    for (pg::Row row : rows) {
        int64_t id = row.i64("id");
        bool missing = row.is_null("status") || (!admin && static_cast<Oid>(row.i64("submitted_by")) != submitter);
        if (missing)
            throw core::request_error("\"depends_on\" names batch " + std::to_string(id) + ", which does not exist",
                                      "A batch may depend on batches its submitter can see.");
        std::string status = row.text("status");
        if (status != "succeeded") st.all_succeeded = false;
        if ((status == "failed" || status == "cancelled") && !st.broken) st.broken = std::make_pair(id, status);
    }
    return st;
}

namespace {

// Batch d, queued behind `up`, ends failed with UPSTREAM_FAILED, its pending
// items skipped.
void fail_dependent(pg::Spi& spi, int64_t d, int64_t up) {
    std::string message = "upstream batch " + std::to_string(up) + " did not succeed";
    spi.execute_cached(
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
        "      WHERE batch_id OPERATOR(pg_catalog.=) $1 AND pg_catalog.strpos(statuses, 'p') > 0), "
        "u AS (UPDATE batch_ops.batch b SET status = 'failed', processed = b.processed + n.pending, "
        "       skipped_count = b.skipped_count + n.pending, last_error_code = 'UPSTREAM_FAILED', "
        "       last_error = $2, finished_at = pg_catalog.clock_timestamp(), "
        "       updated_at = pg_catalog.clock_timestamp() "
        "  FROM n WHERE b.id OPERATOR(pg_catalog.=) $1 RETURNING b.id) "
        "INSERT INTO batch_ops.batch_event (batch_id, event, detail) "
        "SELECT u.id, 'failed', pg_catalog.jsonb_build_object('error_code', 'UPSTREAM_FAILED', 'upstream', $3) "
        "  FROM u",
        {pg::int8_param(d), pg::text_param(message), pg::int8_param(up)});
    announce(spi, d);
}

}  // namespace

void cascade_upstream_failure(pg::Spi& spi, int64_t id) {
    pg::as_owner([&] {
        for_each_dependent(spi, id, "queued", false, [&](int64_t d, int64_t up) { fail_dependent(spi, d, up); });
    });
}

}  // namespace batch_ops::ops
