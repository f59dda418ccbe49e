#include "ops/retry.hpp"

#include <algorithm>
#include <deque>
#include <unordered_map>

#include "core/error.hpp"
#include "pg/security.hpp"
#include "ops/progress.hpp"

namespace batch_ops::ops {

namespace {

// Re-queues, in one statement, the items of the batches $1 whose status
// letter is in $2 (f failed, k skipped, c cancelled) and, when $3 is not
// NULL, whose error code is one of $3 (a cancelled item's code is
// CANCELLED); their counts go back, and the batches become queued. $4: the
// run counts as an attempt (batch_retry); $5 the event, $6 its actor, $7 the
// batch that caused it. Returns the progress rows of the batches.
const char* const kRequeue =
    "WITH x AS (SELECT i.batch_id, i.chunk, s.l, s.g, i.error_codes[s.g] AS code, i.messages[s.g] AS msg, "
    "    COALESCE(i.attempts[s.g], CASE WHEN s.l OPERATOR(pg_catalog.=) 'p' THEN 0 ELSE 1 END) AS att, "
    "    (pg_catalog.strpos($2, s.l) OPERATOR(pg_catalog.>) 0 AND ($3::pg_catalog.text[] IS NULL OR "
    "      COALESCE(i.error_codes[s.g], CASE WHEN s.l OPERATOR(pg_catalog.=) 'c' THEN 'CANCELLED' END) "
    "        OPERATOR(pg_catalog.=) ANY ($3::pg_catalog.text[]))) AS again "
    "    FROM batch_ops.batch_item i "
    "   CROSS JOIN LATERAL pg_catalog.unnest(pg_catalog.string_to_array(i.statuses, NULL)) WITH ORDINALITY AS s(l, g) "
    "   WHERE i.batch_id OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.int8[]) "
    "     AND pg_catalog.length(pg_catalog.translate(i.statuses, $2, '')) OPERATOR(pg_catalog.<) "
    "         pg_catalog.length(i.statuses)), "
    "ch AS (SELECT x.batch_id, x.chunk, "
    "    pg_catalog.string_agg(CASE WHEN x.again THEN 'p' ELSE x.l END, '' ORDER BY x.g) AS statuses, "
    "    pg_catalog.array_agg(CASE WHEN x.again THEN NULL ELSE x.code END ORDER BY x.g) AS codes, "
    "    pg_catalog.array_agg(CASE WHEN x.again THEN NULL ELSE x.msg END ORDER BY x.g) AS msgs, "
    "    pg_catalog.array_agg(x.att ORDER BY x.g) AS atts "
    "    FROM x GROUP BY x.batch_id, x.chunk HAVING pg_catalog.bool_or(x.again)), "
    "n AS (SELECT x.batch_id, "
    "    pg_catalog.count(*) FILTER (WHERE x.again AND x.l OPERATOR(pg_catalog.=) 'f')::pg_catalog.int4 AS f, "
    "    pg_catalog.count(*) FILTER (WHERE x.again AND x.l OPERATOR(pg_catalog.=) 'k')::pg_catalog.int4 AS k, "
    "    pg_catalog.count(*) FILTER (WHERE x.again AND x.l OPERATOR(pg_catalog.=) 'c')::pg_catalog.int4 AS c "
    "    FROM x GROUP BY x.batch_id), "
    "c AS (UPDATE batch_ops.batch_item i SET statuses = ch.statuses, error_codes = ch.codes, messages = ch.msgs, "
    "    attempts = ch.atts, updated_at = pg_catalog.clock_timestamp() "
    "    FROM ch WHERE i.batch_id OPERATOR(pg_catalog.=) ch.batch_id AND i.chunk OPERATOR(pg_catalog.=) ch.chunk), "
    "m AS (SELECT r.id, COALESCE(n.f, 0) AS f, COALESCE(n.k, 0) AS k, COALESCE(n.c, 0) AS c "
    "    FROM pg_catalog.unnest($1::pg_catalog.int8[]) AS r(id) "
    "    LEFT JOIN n ON n.batch_id OPERATOR(pg_catalog.=) r.id), "
    "u AS (UPDATE batch_ops.batch b SET status = 'queued', "
    "    processed = b.processed OPERATOR(pg_catalog.-) (m.f OPERATOR(pg_catalog.+) m.k OPERATOR(pg_catalog.+) m.c), "
    "    failure_count = b.failure_count OPERATOR(pg_catalog.-) m.f, "
    "    skipped_count = b.skipped_count OPERATOR(pg_catalog.-) m.k, "
    "    cancelled_count = b.cancelled_count OPERATOR(pg_catalog.-) m.c, "
    "    attempt = b.attempt OPERATOR(pg_catalog.+) CASE WHEN $4 THEN 1 ELSE 0 END, next_attempt_at = NULL, "
    "    automatic_attempts = 1, finished_at = NULL, worker_pid = NULL, last_error = NULL, last_error_code = NULL, "
    "    updated_at = pg_catalog.clock_timestamp() "
    "  FROM m WHERE b.id OPERATOR(pg_catalog.=) m.id "
    "  RETURNING b.id, b.status::pg_catalog.text AS status, b.total, b.processed, b.success_count, b.failure_count, "
    "    b.attempt, m.f OPERATOR(pg_catalog.+) m.k OPERATOR(pg_catalog.+) m.c AS requeued), "
    "e AS (INSERT INTO batch_ops.batch_event (batch_id, event, actor, detail) "
    "  SELECT u.id, $5, $6::pg_catalog.regrole, "
    "         pg_catalog.jsonb_build_object('attempt', u.attempt, 'requeued_items', u.requeued, 'by_batch', $7) "
    "    FROM u) "
    "SELECT u.id, u.status, u.total, u.processed, u.success_count, u.failure_count, u.requeued FROM u ORDER BY u.id";

// Announces each batch of a statement that returned progress columns (id,
// status, total, processed, success_count, failure_count): a status change.
void announce_rows(const pg::Rows& rows) {
    Throttle once;
    std::vector<ProgressRow> ps;
    for (pg::Row row : rows)
        ps.push_back({row.i64("id"), row.text("status"), row.i64("total"), row.i64("processed"),
                      row.i64("success_count"), row.i64("failure_count")});
    for (const auto& p : ps) notify_progress(p, true, once);
}

// Re-queues the given batches (see kRequeue); returns the items re-queued
// per batch, in the order of the ids.
int64_t requeue(pg::Spi& spi, const std::vector<int64_t>& ids, const char* letters,
                const std::optional<std::vector<std::string>>& codes, bool retry, const char* event, Oid actor,
                int64_t by_batch) {
    if (ids.empty()) return 0;
    pg::Rows rows = spi.query_cached(
        kRequeue, {pg::int8_array_param(ids), pg::text_param(letters),
                   codes ? pg::text_array_param(*codes) : pg::null_param(TEXTARRAYOID), pg::bool_param(retry),
                   pg::text_param(event), {OIDOID, ObjectIdGetDatum(actor), false}, pg::int8_param(by_batch)});
    int64_t requeued = 0;
    for (pg::Row row : rows) requeued += row.i64("requeued");
    announce_rows(rows);
    return requeued;
}

// Every batch that depends on one of `roots`, directly or through others, in
// `status` (with UPSTREAM_FAILED as its last error code if
// `upstream_failed_only`), with the batch through which the walk reached it.
// The edges of the candidates are read in one statement and walked in
// memory, so a chain of n dependents costs O(n) (a query per dependent, each
// scanning the queue, made it O(n^2)). Then locks them (those still in
// `status`), lowest id first.
struct Dependents {
    std::vector<int64_t> ids, ups;
};
enum class Waiting { Queued, UpstreamFailed };
Dependents dependents(pg::Spi& spi, const std::vector<int64_t>& roots, Waiting which) {
    Dependents out;
    const char* status = which == Waiting::Queued ? "queued" : "failed";
    // Constant predicates, so that even a generic plan uses the partial index
    // batch_waiting_idx for the queue.
    pg::Rows edges = spi.query_cached(
        which == Waiting::Queued
            ? "SELECT b.id, e.up FROM batch_ops.batch b "
              " CROSS JOIN LATERAL pg_catalog.unnest(b.depends_on) AS e(up) "
              " WHERE b.status OPERATOR(pg_catalog.=) 'queued' AND b.depends_on IS NOT NULL "
              " ORDER BY e.up, b.id"
            : "SELECT b.id, e.up FROM batch_ops.batch b "
              " CROSS JOIN LATERAL pg_catalog.unnest(b.depends_on) AS e(up) "
              " WHERE b.status OPERATOR(pg_catalog.=) 'failed' AND b.depends_on IS NOT NULL "
              "   AND b.last_error_code OPERATOR(pg_catalog.=) 'UPSTREAM_FAILED' "
              " ORDER BY e.up, b.id");
    if (edges.empty()) return out;
    std::unordered_map<int64_t, std::vector<int64_t>> below;  // upstream -> its dependents
    for (pg::Row row : edges) below[row.i64("up")].push_back(row.i64("id"));
    std::unordered_map<int64_t, int64_t> reached;  // dependent -> the upstream it was reached through
    std::deque<int64_t> frontier(roots.begin(), roots.end());
    while (!frontier.empty()) {
        int64_t up = frontier.front();
        frontier.pop_front();
        auto it = below.find(up);
        if (it == below.end()) continue;
        for (int64_t d : it->second)
            if (reached.emplace(d, up).second) frontier.push_back(d);
    }
    std::vector<int64_t> found;
    for (const auto& r : reached) found.push_back(r.first);
    std::sort(found.begin(), found.end());
    std::vector<int64_t> ups;
    for (int64_t id : found) ups.push_back(reached[id]);
    if (found.empty()) return out;
    pg::Rows locked = spi.query_cached(
        "SELECT b.id FROM batch_ops.batch b WHERE b.id OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.int8[]) "
        "   AND b.status OPERATOR(pg_catalog.=) $2::batch_ops.batch_state ORDER BY b.id FOR NO KEY UPDATE",
        {pg::int8_array_param(found), pg::text_param(status)});
    std::size_t k = 0;  // both lists are in id order
    for (pg::Row row : locked) {
        int64_t id = row.i64("id");
        while (k < found.size() && found[k] < id) ++k;
        if (k < found.size() && found[k] == id) {
            out.ids.push_back(id);
            out.ups.push_back(ups[k]);
        }
    }
    return out;
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

int64_t retry_batch(pg::Spi& spi, int64_t id, Oid actor, const std::optional<std::vector<std::string>>& codes) {
    return pg::as_owner([&] {
        int64_t requeued = requeue(spi, {id}, "fk", codes, true, "retried", actor, id);
        // Re-arm the dependents that failed because of this batch, transitively.
        rearm_dependents(spi, id, actor);
        return requeued;
    });
}

void rearm_dependents(pg::Spi& spi, int64_t id, Oid actor) {
    pg::as_owner([&] {
        Dependents d = dependents(spi, {id}, Waiting::UpstreamFailed);
        (void)requeue(spi, d.ids, "fk", std::nullopt, false, "re_armed", actor, id);
    });
}

int64_t requeue_cancelled(pg::Spi& spi, int64_t id, Oid actor) {
    return pg::as_owner([&] {
        int64_t requeued = requeue(spi, {id}, "c", std::nullopt, false, "resumed", actor, id);
        rearm_dependents(spi, id, actor);
        return requeued;
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

// The batches `d.ids`, queued behind `d.ups`, end failed with
// UPSTREAM_FAILED, their pending items skipped: one statement for all.
void fail_dependents(pg::Spi& spi, const Dependents& d) {
    pg::Rows rows = spi.query_cached(
        "WITH x AS (SELECT * FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]), "
        "  pg_catalog.unnest($2::pg_catalog.int8[])) AS x(id, up)), "
        "n AS (SELECT x.id, x.up, COALESCE(pg_catalog.sum(pg_catalog.length(i.statuses) OPERATOR(pg_catalog.-) "
        "             pg_catalog.length(pg_catalog.replace(i.statuses, 'p', ''))), 0)::pg_catalog.int4 AS pending "
        "        FROM x LEFT JOIN batch_ops.batch_item i ON i.batch_id OPERATOR(pg_catalog.=) x.id "
        "       GROUP BY x.id, x.up), "
        "c AS (UPDATE batch_ops.batch_item i SET "
        "        error_codes = ARRAY(SELECT CASE WHEN l OPERATOR(pg_catalog.=) 'p' THEN 'UPSTREAM_FAILED' "
        "            ELSE i.error_codes[g] END "
        "            FROM pg_catalog.unnest(pg_catalog.string_to_array(i.statuses, NULL)) WITH ORDINALITY AS s(l, g) "
        "            ORDER BY g), "
        "        messages = ARRAY(SELECT CASE WHEN l OPERATOR(pg_catalog.=) 'p' "
        "            THEN 'upstream batch ' OPERATOR(pg_catalog.||) x.up::pg_catalog.text "
        "                 OPERATOR(pg_catalog.||) ' did not succeed' "
        "            ELSE i.messages[g] END "
        "            FROM pg_catalog.unnest(pg_catalog.string_to_array(i.statuses, NULL)) WITH ORDINALITY AS s(l, g) "
        "            ORDER BY g), "
        "        statuses = pg_catalog.translate(i.statuses, 'p', 'k'), updated_at = pg_catalog.clock_timestamp() "
        "      FROM x WHERE i.batch_id OPERATOR(pg_catalog.=) x.id AND pg_catalog.strpos(i.statuses, 'p') > 0), "
        "pr AS (DELETE FROM batch_ops.batch_pause_request p USING x WHERE p.batch_id OPERATOR(pg_catalog.=) x.id), "
        "u AS (UPDATE batch_ops.batch b SET status = 'failed', paused = false, "
        "       processed = b.processed OPERATOR(pg_catalog.+) n.pending, "
        "       skipped_count = b.skipped_count OPERATOR(pg_catalog.+) n.pending, last_error_code = 'UPSTREAM_FAILED', "
        "       last_error = 'upstream batch ' OPERATOR(pg_catalog.||) n.up::pg_catalog.text "
        "                    OPERATOR(pg_catalog.||) ' did not succeed', "
        "       finished_at = pg_catalog.clock_timestamp(), updated_at = pg_catalog.clock_timestamp() "
        "  FROM n WHERE b.id OPERATOR(pg_catalog.=) n.id "
        "  RETURNING b.id, b.status::pg_catalog.text AS status, b.total, b.processed, b.success_count, "
        "    b.failure_count, n.up), "
        "e AS (INSERT INTO batch_ops.batch_event (batch_id, event, detail) "
        "  SELECT u.id, 'failed', pg_catalog.jsonb_build_object('error_code', 'UPSTREAM_FAILED', 'upstream', u.up) "
        "    FROM u) "
        "SELECT u.id, u.status, u.total, u.processed, u.success_count, u.failure_count FROM u ORDER BY u.id",
        {pg::int8_array_param(d.ids), pg::int8_array_param(d.ups)});
    announce_rows(rows);
}

}  // namespace

void cascade_upstream_failure(pg::Spi& spi, int64_t id) {
    pg::as_owner([&] {
        Dependents d = dependents(spi, {id}, Waiting::Queued);
        if (!d.ids.empty()) fail_dependents(spi, d);
    });
}

}  // namespace batch_ops::ops
