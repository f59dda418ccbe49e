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
    spi.execute_cached(
        "SELECT b.id FROM batch_ops.batch b WHERE $1 OPERATOR(pg_catalog.=) ANY (b.depends_on) "
        "   AND b.status OPERATOR(pg_catalog.=) $2::batch_ops.batch_state "
        "   AND (NOT $3 OR b.last_error_code IS NOT DISTINCT FROM 'UPSTREAM_FAILED') "
        " ORDER BY b.id FOR UPDATE",
        {pg::int8_param(id), pg::text_param(status), pg::bool_param(upstream_failed_only)});
    std::vector<int64_t> out;
    for (uint64_t i = 0; i < spi.rows(); ++i) out.push_back(spi.i64(i, 0));
    return out;
}

}  // namespace

std::optional<RetryRefusal> check_retry(pg::Spi& spi, int64_t id, Oid actor) {
    pg::AsOwner owner;
    // A running batch's row is locked by its executor during each chunk:
    // answer from a plain read first, and lock only a batch that is failed
    // (then read again under the lock: a concurrent retry may have won).
    spi.execute_cached(
        "SELECT status::pg_catalog.text FROM batch_ops.batch WHERE id OPERATOR(pg_catalog.=) $1",
        {pg::int8_param(id)});
    bool lock = spi.rows() > 0 && spi.str(0, 0) == "failed";
    spi.execute_cached(
        lock ? "SELECT status::pg_catalog.text, submitted_by::pg_catalog.oid::pg_catalog.int8, "
               "       depends_on::pg_catalog.text "
               "  FROM batch_ops.batch WHERE id OPERATOR(pg_catalog.=) $1 FOR UPDATE"
             : "SELECT status::pg_catalog.text, submitted_by::pg_catalog.oid::pg_catalog.int8, "
               "       depends_on::pg_catalog.text "
               "  FROM batch_ops.batch WHERE id OPERATOR(pg_catalog.=) $1",
        {pg::int8_param(id)});
    const std::string sid = std::to_string(id);
    if (spi.rows() == 0)
        return RetryRefusal{"NOT_FOUND", core::sqlstate::no_data_found, "batch " + sid + " does not exist", "", ""};
    std::string status = spi.str(0, 0);
    Oid submitter = static_cast<Oid>(spi.i64(0, 1));
    bool has_deps = !spi.is_null(0, 2);
    if (submitter != actor && !pg::is_admin(actor))
        return RetryRefusal{"PERMISSION_DENIED", core::sqlstate::insufficient_privilege,
                            "permission denied for batch " + sid, "The batch was submitted by another role.", ""};
    if (status != "failed")
        return RetryRefusal{"INVALID_STATE", core::sqlstate::object_not_in_state,
                            "batch " + sid + " cannot be retried: its status is " + status,
                            "Only failed batches can be retried.", ""};
    if (has_deps) {
        spi.execute_cached(
            "SELECT d.id, d.status::pg_catalog.text FROM batch_ops.batch b "
            "  JOIN batch_ops.batch d ON d.id OPERATOR(pg_catalog.=) ANY (b.depends_on) "
            " WHERE b.id OPERATOR(pg_catalog.=) $1 AND d.status IN ('failed', 'cancelled') ORDER BY d.id LIMIT 1",
            {pg::int8_param(id)});
        if (spi.rows() > 0) {
            std::string up = std::to_string(spi.i64(0, 0));
            std::string up_status = spi.str(0, 1);
            return RetryRefusal{"INVALID_STATE", core::sqlstate::object_not_in_state,
                                "batch " + sid + " cannot be retried: its upstream batch " + up + " is " + up_status,
                                "A batch runs only after every batch it depends on succeeded.",
                                up_status == "cancelled"
                                    ? "A cancelled batch cannot be retried: submit this work again without it."
                                    : "Retry batch " + up + " first; its dependents are re-armed with it."};
        }
    }
    return std::nullopt;
}

void retry_batch(pg::Spi& spi, int64_t id, Oid actor) {
    pg::AsOwner owner;
    requeue(spi, id, true, actor, id);
    // Re-arm the dependents that failed because of this batch, transitively.
    std::vector<int64_t> frontier = {id};
    while (!frontier.empty()) {
        int64_t up = frontier.back();
        frontier.pop_back();
        for (int64_t d : dependents(spi, up, "failed", true)) {
            requeue(spi, d, false, actor, id);
            frontier.push_back(d);
        }
    }
}

DependencyState check_dependencies(pg::Spi& spi, const std::vector<int64_t>& ids, Oid submitter, bool admin) {
    DependencyState st;
    if (ids.empty()) return st;
    std::vector<std::string> text;
    for (auto i : ids) text.push_back(std::to_string(i));
    {
        pg::AsOwner owner;
        spi.execute_cached(
            "SELECT x.id, b.status::pg_catalog.text, b.submitted_by::pg_catalog.oid::pg_catalog.int8 "
            "  FROM pg_catalog.unnest($1::pg_catalog.int8[]) WITH ORDINALITY AS x(id, n) "
            "  LEFT JOIN batch_ops.batch b ON b.id OPERATOR(pg_catalog.=) x.id ORDER BY x.n",
            {pg::text_array_param(text)});
    }
    for (uint64_t i = 0; i < spi.rows(); ++i) {
        int64_t id = spi.i64(i, 0);
        bool missing = spi.is_null(i, 1) || (!admin && static_cast<Oid>(spi.i64(i, 2)) != submitter);
        if (missing)
            throw core::request_error("\"depends_on\" names batch " + std::to_string(id) + ", which does not exist",
                                      "A batch may depend on batches its submitter can see.");
        std::string status = spi.str(i, 1);
        if (status != "succeeded") st.all_succeeded = false;
        if ((status == "failed" || status == "cancelled") && !st.broken) st.broken = std::make_pair(id, status);
    }
    return st;
}

void cascade_upstream_failure(pg::Spi& spi, int64_t id) {
    pg::AsOwner owner;
    std::vector<int64_t> frontier = {id};
    while (!frontier.empty()) {
        int64_t up = frontier.back();
        frontier.pop_back();
        for (int64_t d : dependents(spi, up, "queued", false)) {
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
            frontier.push_back(d);
        }
    }
}

}  // namespace batch_ops::ops
