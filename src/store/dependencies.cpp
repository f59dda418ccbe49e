#include "store/dependencies.hpp"

#include <algorithm>
#include <deque>
#include <string>
#include <unordered_map>

#include "core/error.hpp"
#include "core/json.hpp"
#include "pg/security.hpp"
#include "store/owner.hpp"
#include "store/transition.hpp"

namespace batch_ops::store {

using core::BatchStatus;

namespace {

// Re-queues, in one statement, the items of the batches $1 whose status
// letter is in $2 (f failed, k skipped, c cancelled) and, when $3 is not
// NULL, whose error code is one of $3 (a cancelled item's code is
// CANCELLED); their counts go back, and the batches' errors are cleared. $4:
// the run counts as an attempt (batch_retry). Returns, per batch, its
// attempt and the items re-queued. The status change is the caller's
// (store::transition).
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
    "    LEFT JOIN n ON n.batch_id OPERATOR(pg_catalog.=) r.id) "
    "UPDATE batch_ops.batch b SET "
    "    processed = b.processed OPERATOR(pg_catalog.-) (m.f OPERATOR(pg_catalog.+) m.k OPERATOR(pg_catalog.+) m.c), "
    "    failure_count = b.failure_count OPERATOR(pg_catalog.-) m.f, "
    "    skipped_count = b.skipped_count OPERATOR(pg_catalog.-) m.k, "
    "    cancelled_count = b.cancelled_count OPERATOR(pg_catalog.-) m.c, "
    "    attempt = b.attempt OPERATOR(pg_catalog.+) CASE WHEN $4 THEN 1 ELSE 0 END, next_attempt_at = NULL, "
    "    automatic_attempts = 1, finished_at = NULL, worker_pid = NULL, last_error = NULL, last_error_code = NULL, "
    "    updated_at = pg_catalog.clock_timestamp() "
    "  FROM m WHERE b.id OPERATOR(pg_catalog.=) m.id "
    "  RETURNING b.id, b.attempt, m.f OPERATOR(pg_catalog.+) m.k OPERATOR(pg_catalog.+) m.c AS requeued";

// Re-queues the given batches (see kRequeue) and changes them to queued
// with `event` by `actor` (detail: attempt, requeued_items, by_batch).
// Returns the items re-queued, over all the batches.
int64_t requeue(pg::Spi& spi, const std::vector<int64_t>& ids, const char* letters,
                const std::optional<std::vector<std::string>>& codes, bool retry, const char* event, Oid actor,
                int64_t by_batch) {
    if (ids.empty()) return 0;
    pg::Rows rows = query(spi, kRequeue,
                          {pg::int8_array_param(ids), pg::text_param(letters),
                           codes ? pg::text_array_param(*codes) : pg::null_param(TEXTARRAYOID),
                           pg::bool_param(retry)});
    std::unordered_map<int64_t, core::Json> details;
    int64_t requeued = 0;
    for (pg::Row row : rows) {
        core::Json detail = core::Json::object();
        detail.set("attempt", core::Json::number(row.i64("attempt")));
        detail.set("requeued_items", core::Json::number(row.i64("requeued")));
        detail.set("by_batch", core::Json::number(by_batch));
        requeued += row.i64("requeued");
        details.emplace(row.i64("id"), std::move(detail));
    }
    Transition t;
    t.event = event;
    t.actor = actor;
    for (int64_t id : ids) {
        auto it = details.find(id);
        if (it == details.end()) batch_missing(id);
        t.details.push_back(it->second);
    }
    transition(spi, ids, BatchStatus::Queued, t);
    return requeued;
}

// Every batch that depends on one of `roots`, directly or through others,
// waiting in `which` state, with the batch through which the walk reached it.
// The edges of the candidates are read in one statement and walked in
// memory, so a chain of n dependents costs O(n) (a query per dependent, each
// scanning the queue, made it O(n^2)). Then locks them (those still in that
// state), lowest id first.
struct Dependents {
    std::vector<int64_t> ids, ups;
};
enum class Waiting { Queued, UpstreamFailed };
Dependents dependents(pg::Spi& spi, const std::vector<int64_t>& roots, Waiting which) {
    Dependents out;
    // Constant predicates, so that even a generic plan uses the partial index
    // batch_waiting_idx for the queue.
    pg::Rows edges = query(spi,
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
    if (reached.empty()) return out;
    std::vector<int64_t> found;
    for (const auto& r : reached) found.push_back(r.first);
    std::sort(found.begin(), found.end());
    pg::Rows locked = query(spi,
        which == Waiting::Queued
            ? "SELECT b.id FROM batch_ops.batch b WHERE b.id OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.int8[]) "
              "   AND b.status OPERATOR(pg_catalog.=) 'queued' ORDER BY b.id FOR NO KEY UPDATE"
            : "SELECT b.id FROM batch_ops.batch b WHERE b.id OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.int8[]) "
              "   AND b.status OPERATOR(pg_catalog.=) 'failed' ORDER BY b.id FOR NO KEY UPDATE",
        {pg::int8_array_param(found)});
    for (pg::Row row : locked) {
        const int64_t id = row.i64("id");
        out.ids.push_back(id);
        out.ups.push_back(reached[id]);
    }
    return out;
}

// The dependents of `id` that failed with UPSTREAM_FAILED, transitively, are
// queued again ("re_armed" events, actor `actor`).
void rearm_dependents(pg::Spi& spi, int64_t id, Oid actor) {
    Dependents d = dependents(spi, {id}, Waiting::UpstreamFailed);
    (void)requeue(spi, d.ids, "fk", std::nullopt, false, "re_armed", actor, id);
}

// The batches `d.ids`, queued behind `d.ups`, end failed with
// UPSTREAM_FAILED, their pending items skipped (a pause asked of them goes):
// one statement for all, then their status change.
void fail_dependents(pg::Spi& spi, const Dependents& d) {
    pg::Rows rows = query(spi,
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
        "pr AS (DELETE FROM batch_ops.batch_pause_request p USING x WHERE p.batch_id OPERATOR(pg_catalog.=) x.id) "
        "UPDATE batch_ops.batch b SET paused = false, "
        "       processed = b.processed OPERATOR(pg_catalog.+) n.pending, "
        "       skipped_count = b.skipped_count OPERATOR(pg_catalog.+) n.pending, last_error_code = 'UPSTREAM_FAILED', "
        "       last_error = 'upstream batch ' OPERATOR(pg_catalog.||) n.up::pg_catalog.text "
        "                    OPERATOR(pg_catalog.||) ' did not succeed', "
        "       finished_at = pg_catalog.clock_timestamp(), updated_at = pg_catalog.clock_timestamp() "
        "  FROM n WHERE b.id OPERATOR(pg_catalog.=) n.id RETURNING b.id",
        {pg::int8_array_param(d.ids), pg::int8_array_param(d.ups)});
    if (rows.size() != d.ids.size())
        throw core::Error(core::sqlstate::internal_error, "the UPSTREAM_FAILED cascade found " +
                                                              std::to_string(rows.size()) + " of " +
                                                              std::to_string(d.ids.size()) + " dependents");
    Transition t;
    for (int64_t up : d.ups) {
        core::Json detail = core::Json::object();
        detail.set("error_code", core::Json::string("UPSTREAM_FAILED"));
        detail.set("upstream", core::Json::number(up));
        t.details.push_back(std::move(detail));
    }
    transition(spi, d.ids, BatchStatus::Failed, t);
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

int64_t requeue_with_dependents(pg::Spi& spi, int64_t id, Oid actor,
                                const std::optional<std::vector<std::string>>& codes) {
    const int64_t requeued = requeue(spi, {id}, "fk", codes, true, "retried", actor, id);
    // Re-arm the dependents that failed because of this batch, transitively.
    rearm_dependents(spi, id, actor);
    return requeued;
}

int64_t requeue_cancelled(pg::Spi& spi, int64_t id, Oid actor) {
    const int64_t requeued = requeue(spi, {id}, "c", std::nullopt, false, "resumed", actor, id);
    rearm_dependents(spi, id, actor);
    return requeued;
}

std::optional<std::string> failed_item_codes(pg::Spi& spi, int64_t id) {
    pg::Rows rows = query(spi,
        "SELECT pg_catalog.string_agg(c.code OPERATOR(pg_catalog.||) ' (' "
        "         OPERATOR(pg_catalog.||) c.n::pg_catalog.text OPERATOR(pg_catalog.||) ')', ', ' ORDER BY c.code) "
        "       AS codes "
        "  FROM (SELECT COALESCE(i.error_code, '') AS code, pg_catalog.count(*) AS n "
        "          FROM batch_ops.job_items i WHERE i.job_id OPERATOR(pg_catalog.=) $1 "
        "           AND i.status IN ('failed', 'skipped') GROUP BY 1) c",
        {pg::int8_param(id)});
    return rows.one().opt_text("codes");
}

void cascade_upstream_failure(pg::Spi& spi, int64_t id) {
    Dependents d = dependents(spi, {id}, Waiting::Queued);
    if (!d.ids.empty()) fail_dependents(spi, d);
}

}  // namespace batch_ops::store
