#include "store/background.hpp"

#include "core/error.hpp"
#include "pg/jsonb.hpp"
#include "pg/security.hpp"
#include "store/dependencies.hpp"
#include "store/owner.hpp"

namespace batch_ops::store {

using core::BatchStatus;

namespace {

// The column cancel_requested of a statement over batch_ops.batch b: whether
// a cancel request waits for the batch.
constexpr const char* kCancelRequested =
    "EXISTS (SELECT 1 FROM batch_ops.batch_cancel_request r "
    "         WHERE r.batch_id OPERATOR(pg_catalog.=) b.id) AS cancel_requested ";

}  // namespace

std::optional<BatchState> batch_state(pg::Spi& spi, int64_t id, RowLock lock) {
    pg::Rows rows = query(spi,
                          "SELECT b.kind, b.submitted_by::pg_catalog.oid::pg_catalog.int8 AS submitted_by, b.dry_run, "
                          "       b.status::pg_catalog.text AS status, " + std::string(kCancelRequested) + ", "
                          "       b.paused OR EXISTS (SELECT 1 FROM batch_ops.batch_pause_request p "
                          "                WHERE p.batch_id OPERATOR(pg_catalog.=) b.id) AS pause_requested "
                          "  FROM batch_ops.batch b WHERE b.id OPERATOR(pg_catalog.=) $1" + lock_clause(lock, "b"),
                          {pg::int8_param(id)});
    std::optional<pg::Row> row = rows.maybe_one();
    if (!row) return std::nullopt;
    BatchState s;
    s.kind = row->text("kind");
    s.submitted_by = static_cast<Oid>(row->i64("submitted_by"));
    s.dry_run = row->boolean("dry_run");
    s.status = parse_status(row->text("status"));
    s.cancel_requested = row->boolean("cancel_requested");
    s.pause_requested = row->boolean("pause_requested");
    return s;
}

core::Json batch_request(pg::Spi& spi, int64_t id) {
    pg::Rows rows = query(spi, "SELECT request FROM batch_ops.batch WHERE id OPERATOR(pg_catalog.=) $1",
                                {pg::int8_param(id)});
    std::optional<pg::Row> row = rows.maybe_one();
    if (!row) batch_missing(id);
    bool isnull = true;
    Datum d = row->copy_datum("request", &isnull);
    if (isnull) throw core::Error(core::sqlstate::internal_error, "batch " + std::to_string(id) + " has no request");
    Jsonb* jb = pg::guard([&] { return DatumGetJsonbP(d); });
    return pg::from_jsonb(jb);
}

Progress add_progress(pg::Spi& spi, int64_t id, const core::Counts& d, const std::string& current_item) {
    pg::Rows rows = query(spi,
            std::string("WITH u AS (UPDATE batch_ops.batch AS b SET processed = b.processed + $2, "
                        "  success_count = b.success_count + $3, failure_count = b.failure_count + $4, "
                        "  skipped_count = b.skipped_count + $5, cancelled_count = b.cancelled_count + $6, "
                        "  current_item = $7, updated_at = pg_catalog.clock_timestamp() "
                        "WHERE b.id OPERATOR(pg_catalog.=) $1 RETURNING ") +
                kProgressColumns +
                "), e AS (INSERT INTO batch_ops.batch_event (batch_id, event, detail) "
                "  SELECT u.id, 'chunk', pg_catalog.jsonb_build_object('processed', u.processed, 'total', u.total) "
                "    FROM u WHERE u.processed OPERATOR(pg_catalog.<) u.total) "
                "SELECT * FROM u",
            {pg::int8_param(id), pg::int4_param(static_cast<int32_t>(d.processed)),
             pg::int4_param(static_cast<int32_t>(d.success)), pg::int4_param(static_cast<int32_t>(d.failure)),
             pg::int4_param(static_cast<int32_t>(d.skipped)), pg::int4_param(static_cast<int32_t>(d.cancelled)),
             pg::text_param(current_item)});
    std::optional<pg::Row> row = rows.maybe_one();
    if (!row) batch_missing(id);
    return read_progress(*row);
}

void cancel_pending(pg::Spi& spi, int64_t id) {
    execute(spi,
            "WITH n AS (SELECT COALESCE(pg_catalog.sum(pg_catalog.length(statuses) - "
            "             pg_catalog.length(pg_catalog.replace(statuses, 'p', ''))), 0)::pg_catalog.int4 AS pending "
            "             FROM batch_ops.batch_item WHERE batch_id OPERATOR(pg_catalog.=) $1), "
            "c AS (UPDATE batch_ops.batch_item SET statuses = pg_catalog.translate(statuses, 'p', 'c'), "
            "        updated_at = pg_catalog.clock_timestamp() "
            "      WHERE batch_id OPERATOR(pg_catalog.=) $1 AND pg_catalog.strpos(statuses, 'p') > 0) "
            "UPDATE batch_ops.batch b SET processed = b.processed + n.pending, "
            "       cancelled_count = b.cancelled_count + n.pending, updated_at = pg_catalog.clock_timestamp() "
            "  FROM n WHERE b.id OPERATOR(pg_catalog.=) $1",
            {pg::int8_param(id)});
}

void fail_pending(pg::Spi& spi, int64_t id, const std::string& code, const std::string& message) {
    execute(spi,
            "WITH n AS (SELECT COALESCE(pg_catalog.sum(pg_catalog.length(statuses) - "
            "             pg_catalog.length(pg_catalog.replace(statuses, 'p', ''))), 0)::pg_catalog.int4 AS pending "
            "             FROM batch_ops.batch_item WHERE batch_id OPERATOR(pg_catalog.=) $1), "
            "c AS (UPDATE batch_ops.batch_item SET "
            "        error_codes = ARRAY(SELECT CASE WHEN l OPERATOR(pg_catalog.=) 'p' THEN $2 ELSE error_codes[g] END "
            "            FROM pg_catalog.unnest(pg_catalog.string_to_array(statuses, NULL)) WITH ORDINALITY AS x(l, g) "
            "            ORDER BY g), "
            "        messages = ARRAY(SELECT CASE WHEN l OPERATOR(pg_catalog.=) 'p' THEN $3 ELSE messages[g] END "
            "            FROM pg_catalog.unnest(pg_catalog.string_to_array(statuses, NULL)) WITH ORDINALITY AS x(l, g) "
            "            ORDER BY g), "
            "        statuses = pg_catalog.translate(statuses, 'p', 'f'), updated_at = pg_catalog.clock_timestamp() "
            "      WHERE batch_id OPERATOR(pg_catalog.=) $1 AND pg_catalog.strpos(statuses, 'p') > 0) "
            "UPDATE batch_ops.batch b SET processed = b.processed + n.pending, "
            "       failure_count = b.failure_count + n.pending, last_error = $3, last_error_code = $2 "
            "  FROM n WHERE b.id OPERATOR(pg_catalog.=) $1",
            {pg::int8_param(id), pg::text_param(code), pg::text_param(message)});
}

std::optional<Progress> finish_background(pg::Spi& spi, int64_t id, bool cancelling, Oid actor, bool failed) {
    pg::Rows rows = query(spi,
            "SELECT kind, submitted_by::pg_catalog.oid::pg_catalog.int8 AS submitted_by, total, processed, "
            "       success_count, failure_count, skipped_count, cancelled_count "
            "  FROM batch_ops.batch WHERE id OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE",
            {pg::int8_param(id)});
    std::optional<pg::Row> row = rows.maybe_one();
    if (!row) return std::nullopt;
    const bool sync = row->text("kind") == "sync";
    const Oid submitter = static_cast<Oid>(row->i64("submitted_by"));
    core::Counts c;
    c.total = row->i64("total");
    c.processed = row->i64("processed");
    c.success = row->i64("success_count");
    c.failure = row->i64("failure_count");
    c.skipped = row->i64("skipped_count");
    c.cancelled = row->i64("cancelled_count");
    const BatchStatus to = cancelling ? BatchStatus::Cancelled
                           : failed   ? BatchStatus::Failed
                                      : core::final_status(c, false);
    // The first failed item is looked up only when there is one (the
    // correlated subqueries in CASE run only for that branch). A batch that
    // succeeds keeps no error of an earlier attempt. A pending cancel
    // request ends with the batch (its requester is the actor of a cancel).
    pg::Rows ended = query(spi,
            "WITH r AS (DELETE FROM batch_ops.batch_cancel_request "
            "  WHERE batch_id OPERATOR(pg_catalog.=) $1 RETURNING requested_by), "
            "pr AS (DELETE FROM batch_ops.batch_pause_request WHERE batch_id OPERATOR(pg_catalog.=) $1) "
            "UPDATE batch_ops.batch AS b SET "
            "  last_error = CASE WHEN $2 THEN NULL "
            "    WHEN b.failure_count > 0 THEN COALESCE((SELECT b.failure_count || ' of ' || "
            "      b.total || ' items failed; first: ' || i.target_id || ': ' || i.message "
            "      FROM batch_ops.job_items i WHERE i.job_id OPERATOR(pg_catalog.=) b.id "
            "       AND i.status OPERATOR(pg_catalog.=) 'failed' ORDER BY i.seq LIMIT 1), b.last_error) "
            "    ELSE b.last_error END, "
            "  last_error_code = CASE WHEN $2 THEN NULL "
            "    WHEN b.failure_count > 0 THEN COALESCE((SELECT i.error_code "
            "      FROM batch_ops.job_items i WHERE i.job_id OPERATOR(pg_catalog.=) b.id "
            "       AND i.status OPERATOR(pg_catalog.=) 'failed' ORDER BY i.seq LIMIT 1), b.last_error_code) "
            "    ELSE b.last_error_code END, "
            "  finished_at = pg_catalog.clock_timestamp(), updated_at = pg_catalog.clock_timestamp(), "
            "  next_attempt_at = NULL, paused = false "
            "WHERE b.id OPERATOR(pg_catalog.=) $1 "
            "RETURNING (SELECT r.requested_by::pg_catalog.oid::pg_catalog.int8 FROM r LIMIT 1) AS requested_by",
            {pg::int8_param(id), pg::bool_param(to == BatchStatus::Succeeded)});
    std::optional<Oid> requester;
    if (std::optional<pg::Row> e = ended.maybe_one())
        if (std::optional<int64_t> r = e->opt_i64("requested_by")) requester = static_cast<Oid>(*r);
    Transition t;
    t.actor = OidIsValid(actor)                              ? actor
              : to == BatchStatus::Cancelled && requester    ? *requester
                                                             : submitter;
    core::Json detail = core::Json::object();
    detail.set("total", core::Json::number(c.total));
    detail.set("success_count", core::Json::number(c.success));
    detail.set("failure_count", core::Json::number(c.failure));
    detail.set("skipped_count", core::Json::number(c.skipped));
    detail.set("cancelled_count", core::Json::number(c.cancelled));
    t.detail = std::move(detail);
    Progress p = transition(spi, id, to, t);
    if (sync) {
        // A sync run the batch left open ends with it.
        execute(spi,
                "UPDATE batch_ops.sync_run SET finished_at = pg_catalog.clock_timestamp(), "
                "  success = $2 OPERATOR(pg_catalog.=) 'succeeded', "
                "  message = CASE WHEN $2 OPERATOR(pg_catalog.=) 'succeeded' THEN 'synced' "
                "                 ELSE COALESCE((SELECT b.last_error FROM batch_ops.batch b "
                "                                 WHERE b.id OPERATOR(pg_catalog.=) $1), $2) END "
                " WHERE batch_id OPERATOR(pg_catalog.=) $1 AND finished_at IS NULL",
                {pg::int8_param(id), pg::text_param(core::to_string(to))});
    }
    if (to == BatchStatus::Failed || to == BatchStatus::Cancelled) cascade_upstream_failure(spi, id);
    return p;
}

std::optional<RetryBudget> retry_budget(pg::Spi& spi, int64_t id) {
    pg::Rows rows = query(spi,
            "SELECT b.automatic_attempts, b.max_attempts, b.status::pg_catalog.text AS status, " +
                std::string(kCancelRequested) +
            "  FROM batch_ops.batch b WHERE b.id OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE OF b",
            {pg::int8_param(id)});
    std::optional<pg::Row> row = rows.maybe_one();
    if (!row) return std::nullopt;
    RetryBudget b;
    b.automatic_attempts = static_cast<int>(row->i64("automatic_attempts"));
    b.max_attempts = static_cast<int>(row->i64("max_attempts"));
    b.cancelling = parse_status(row->text("status")) == BatchStatus::Cancelling || row->boolean("cancel_requested");
    return b;
}

Progress schedule_retry(pg::Spi& spi, int64_t id, const std::string& code, const std::string& message,
                        int64_t delay_ms) {
    pg::Rows rows = query(spi,
            "UPDATE batch_ops.batch AS b SET attempt = b.attempt + 1, "
            "  automatic_attempts = b.automatic_attempts + 1, "
            "  next_attempt_at = pg_catalog.clock_timestamp() + $4::pg_catalog.int8 * interval '1 millisecond', "
            "  worker_pid = NULL, last_error = $3, last_error_code = $2, "
            "  updated_at = pg_catalog.clock_timestamp() "
            "WHERE b.id OPERATOR(pg_catalog.=) $1 "
            "RETURNING b.attempt, pg_catalog.to_jsonb(b.next_attempt_at) #>> '{}' AS next_attempt_at",
            {pg::int8_param(id), pg::text_param(code), pg::text_param(message), pg::int8_param(delay_ms)});
    std::optional<pg::Row> row = rows.maybe_one();
    if (!row) batch_missing(id);
    core::Json detail = core::Json::object();
    detail.set("attempt", core::Json::number(row->i64("attempt")));
    detail.set("next_attempt_at", core::Json::string(row->text("next_attempt_at")));
    detail.set("error_code", core::Json::string(code));
    detail.set("error", core::Json::string(message));
    Transition t;
    t.event = "retry_scheduled";
    t.detail = std::move(detail);
    return transition(spi, id, BatchStatus::Queued, t);
}

namespace {

std::vector<int64_t> ids_of(const pg::Rows& rows) {
    std::vector<int64_t> out;
    for (pg::Row row : rows) out.push_back(row.i64("id"));
    return out;
}

}  // namespace

std::vector<int64_t> broken_upstreams(pg::Spi& spi) {
    // batch_waiting_idx keeps this cheap.
    return ids_of(query(spi,
            "SELECT DISTINCT d.id FROM batch_ops.batch b "
            "  JOIN batch_ops.batch d ON d.id OPERATOR(pg_catalog.=) ANY (b.depends_on) "
            " WHERE b.status OPERATOR(pg_catalog.=) 'queued' AND b.depends_on IS NOT NULL "
            "   AND d.status IN ('failed', 'cancelled')",
            {}));
}

std::vector<int64_t> active_batches(pg::Spi& spi, const std::vector<int64_t>* among) {
    if (among)
        return ids_of(query(spi,
                            "SELECT id FROM batch_ops.batch WHERE id OPERATOR(pg_catalog.=) ANY ($1) "
                            "   AND status IN ('running', 'cancelling') ORDER BY id",
                            {pg::int8_array_param(*among)}));
    return ids_of(query(spi, "SELECT id FROM batch_ops.batch WHERE status IN ('running', 'cancelling') ORDER BY id"));
}

std::vector<int64_t> adopt(pg::Spi& spi, const std::vector<int64_t>& ids, int pid) {
    return ids_of(query(spi,
            "WITH c AS (SELECT b.id FROM batch_ops.batch b "
            "  WHERE b.id OPERATOR(pg_catalog.=) ANY ($1) AND b.status IN ('running', 'cancelling') "
            "  FOR NO KEY UPDATE SKIP LOCKED) "
            "UPDATE batch_ops.batch b SET worker_pid = $2, updated_at = pg_catalog.clock_timestamp() "
            "  FROM c WHERE b.id OPERATOR(pg_catalog.=) c.id RETURNING b.id",
            {pg::int8_array_param(ids), pg::int4_param(pid)}));
}

void record_resumed(pg::Spi& spi, const std::vector<int64_t>& ids, int pid) {
    execute(spi,
            "INSERT INTO batch_ops.batch_event (batch_id, event, detail) "
            "SELECT r.id, 'resumed', pg_catalog.jsonb_build_object('worker_pid', $2) "
            "  FROM pg_catalog.unnest($1::pg_catalog.int8[]) AS r(id)",
            {pg::int8_array_param(ids), pg::int4_param(pid)});
}

std::vector<Candidate> candidates(pg::Spi& spi, int per_role, const std::vector<Oid>& skip) {
    std::vector<int64_t> skipped(skip.begin(), skip.end());
    // Ready: queued, not paused (nor asked to be), due (next_attempt_at,
    // not_before), every batch it depends on succeeded, its target neither
    // paused nor at its max_concurrency. Roles come from skipping through
    // batch_role_queue_idx (its whole key in ORDER BY, so that no other index
    // with submitted_by first is taken, which would walk the batch history);
    // each one's batches from the same index, in order. The planner's
    // estimate for this statement (a subquery per role) is far above
    // jit_above_cost: JIT compilation would cost more than the statement, at
    // every claim, so it runs without.
    pg::Rows rows = pg::with_setting("jit", "off", [&] {
        return query(spi,
            "WITH RECURSIVE roles(r) AS ( "
            "    (SELECT b.submitted_by::pg_catalog.oid FROM batch_ops.batch b "
            "      WHERE b.status OPERATOR(pg_catalog.=) 'queued' "
            "      ORDER BY b.submitted_by::pg_catalog.oid, b.priority DESC, b.id LIMIT 1) "
            "  UNION ALL "
            "    SELECT (SELECT b.submitted_by::pg_catalog.oid FROM batch_ops.batch b "
            "             WHERE b.status OPERATOR(pg_catalog.=) 'queued' "
            "               AND b.submitted_by::pg_catalog.oid OPERATOR(pg_catalog.>) roles.r "
            "             ORDER BY b.submitted_by::pg_catalog.oid, b.priority DESC, b.id LIMIT 1) "
            "      FROM roles WHERE roles.r IS NOT NULL), "
            "busy AS (SELECT a.submitted_by::pg_catalog.oid AS r, pg_catalog.count(*) AS n FROM batch_ops.batch a "
            "          WHERE a.status IN ('running', 'cancelling') GROUP BY 1) "
            "SELECT c.id, roles.r::pg_catalog.int8 AS role, c.kind, c.target_type, c.max_concurrency, c.target_active, "
            "       c.waited_ms "
            "  FROM roles "
            "  LEFT JOIN busy ON busy.r OPERATOR(pg_catalog.=) roles.r "
            "  LEFT JOIN batch_ops.submitter_turn t ON t.submitter::pg_catalog.oid OPERATOR(pg_catalog.=) roles.r "
            " CROSS JOIN LATERAL (SELECT q.id, q.kind, q.priority, q.target_type, g.max_concurrency, "
            "       CASE WHEN g.max_concurrency IS NOT NULL THEN (SELECT pg_catalog.count(*) FROM batch_ops.batch a "
            "         WHERE a.status IN ('running', 'cancelling') AND a.kind OPERATOR(pg_catalog.=) 'operation' "
            "           AND a.target_type OPERATOR(pg_catalog.=) q.target_type) END AS target_active, "
            "       (EXTRACT(epoch FROM pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) "
            "          GREATEST(q.updated_at, q.not_before, q.next_attempt_at)) * 1000)::pg_catalog.int8 AS waited_ms "
            "     FROM batch_ops.batch q "
            "     LEFT JOIN batch_ops.target g ON q.kind OPERATOR(pg_catalog.=) 'operation' "
            "                                 AND g.name OPERATOR(pg_catalog.=) q.target_type "
            "    WHERE q.status OPERATOR(pg_catalog.=) 'queued' "
            "      AND q.submitted_by::pg_catalog.oid OPERATOR(pg_catalog.=) roles.r "
            "      AND NOT q.paused "
            "      AND (q.next_attempt_at IS NULL OR q.next_attempt_at OPERATOR(pg_catalog.<=) pg_catalog.now()) "
            "      AND (q.not_before IS NULL OR q.not_before OPERATOR(pg_catalog.<=) pg_catalog.now()) "
            "      AND (q.depends_on IS NULL OR NOT EXISTS (SELECT 1 FROM batch_ops.batch d "
            "            WHERE d.id OPERATOR(pg_catalog.=) ANY (q.depends_on) "
            "              AND d.status OPERATOR(pg_catalog.<>) 'succeeded')) "
            "      AND NOT EXISTS (SELECT 1 FROM batch_ops.batch_pause_request p "
            "                       WHERE p.batch_id OPERATOR(pg_catalog.=) q.id) "
            "      AND NOT COALESCE(g.paused, false) "
            "      AND (g.max_concurrency IS NULL OR (SELECT pg_catalog.count(*) FROM batch_ops.batch a "
            "            WHERE a.status IN ('running', 'cancelling') AND a.kind OPERATOR(pg_catalog.=) 'operation' "
            "              AND a.target_type OPERATOR(pg_catalog.=) q.target_type) "
            "            OPERATOR(pg_catalog.<) g.max_concurrency) "
            "    ORDER BY q.priority DESC, q.id LIMIT $1) c "
            " WHERE roles.r IS NOT NULL "
            "   AND NOT (roles.r::pg_catalog.int8 OPERATOR(pg_catalog.=) ANY ($2::pg_catalog.int8[])) "
            " ORDER BY COALESCE(busy.n, 0), t.served_at NULLS FIRST, roles.r, c.priority DESC, c.id",
            {pg::int4_param(per_role), pg::int8_array_param(skipped)});
    });
    std::vector<Candidate> out;
    for (pg::Row row : rows)
        out.push_back({row.i64("id"), static_cast<Oid>(row.i64("role")), row.text("kind") == "sync",
                       row.opt_text("target_type").value_or(""), row.opt_i64("max_concurrency").value_or(-1),
                       row.opt_i64("target_active").value_or(0), row.opt_i64("waited_ms").value_or(0)});
    return out;
}

std::vector<int64_t> lock_queued(pg::Spi& spi, const std::vector<int64_t>& ids) {
    return ids_of(query(spi,
            "SELECT b.id FROM batch_ops.batch b WHERE b.id OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.int8[]) "
            "   AND b.status OPERATOR(pg_catalog.=) 'queued' AND NOT b.paused "
            "   FOR NO KEY UPDATE OF b SKIP LOCKED",
            {pg::int8_array_param(ids)}));
}

void record_served(pg::Spi& spi, const std::vector<Oid>& roles) {
    if (roles.empty()) return;
    std::vector<int64_t> r(roles.begin(), roles.end());
    execute(spi,
            "INSERT INTO batch_ops.submitter_turn AS t (submitter, served_at) "
            "SELECT r::pg_catalog.oid::pg_catalog.regrole, pg_catalog.clock_timestamp() "
            "  FROM pg_catalog.unnest($1::pg_catalog.int8[]) AS u(r) "
            "ON CONFLICT (submitter) DO UPDATE SET served_at = excluded.served_at",
            {pg::int8_array_param(r)});
}

std::vector<std::pair<int64_t, Oid>> submitters(pg::Spi& spi, const std::vector<int64_t>& ids) {
    pg::Rows rows = query(spi,
            "SELECT id, submitted_by::pg_catalog.oid::pg_catalog.int8 AS role FROM batch_ops.batch "
            " WHERE id OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.int8[])",
            {pg::int8_array_param(ids)});
    std::vector<std::pair<int64_t, Oid>> out;
    for (pg::Row row : rows) out.emplace_back(row.i64("id"), static_cast<Oid>(row.i64("role")));
    return out;
}

std::vector<Progress> start_batches(pg::Spi& spi, const std::vector<int64_t>& ids, int pid, Throttle& throttle) {
    if (ids.empty()) return {};
    execute(spi,
            "UPDATE batch_ops.batch b SET started_at = COALESCE(b.started_at, pg_catalog.clock_timestamp()), "
            "       worker_pid = $2 "
            " WHERE b.id OPERATOR(pg_catalog.=) ANY ($1)",
            {pg::int8_array_param(ids), pg::int4_param(pid)});
    Transition t;
    t.record_event = false;
    t.throttle = &throttle;
    return transition(spi, ids, BatchStatus::Running, t);
}

std::optional<int64_t> next_due_in_ms(pg::Spi& spi) {
    pg::Rows rows = query(spi,
            "SELECT (EXTRACT(epoch FROM pg_catalog.min(GREATEST(next_attempt_at, not_before)) "
            "          OPERATOR(pg_catalog.-) pg_catalog.clock_timestamp()) * 1000)::pg_catalog.int8 AS ms "
            "  FROM batch_ops.batch "
            " WHERE status OPERATOR(pg_catalog.=) 'queued' AND NOT paused "
            "   AND (next_attempt_at IS NOT NULL OR not_before IS NOT NULL) "
            "   AND GREATEST(next_attempt_at, not_before) OPERATOR(pg_catalog.>) pg_catalog.clock_timestamp()",
            {});
    std::optional<pg::Row> row = rows.maybe_one();
    return row ? row->opt_i64("ms") : std::nullopt;
}

void mark_cancelling(pg::Spi& spi, int64_t id, Oid actor) {
    Transition t;
    t.event = "cancel_requested";
    t.actor = actor;
    transition(spi, id, BatchStatus::Cancelling, t);
}

void request_cancel(pg::Spi& spi, int64_t id, Oid actor) {
    execute(spi,
            "WITH r AS (INSERT INTO batch_ops.batch_cancel_request (batch_id, requested_by) VALUES ($1, $2) "
            "  ON CONFLICT (batch_id) DO NOTHING RETURNING batch_id) "
            "INSERT INTO batch_ops.batch_event (batch_id, event, actor) "
            "SELECT r.batch_id, 'cancel_requested', $2::pg_catalog.regrole FROM r",
            {pg::int8_param(id), role_param(actor)});
}

std::vector<int64_t> cancel_requested(pg::Spi& spi, const std::vector<int64_t>& ids) {
    return ids_of(query(spi,
            "SELECT b.id FROM batch_ops.batch b WHERE b.id OPERATOR(pg_catalog.=) ANY ($1) "
            "   AND b.status IN ('running', 'cancelling') "
            "   AND (b.status OPERATOR(pg_catalog.=) 'cancelling' OR EXISTS (SELECT 1 "
            "        FROM batch_ops.batch_cancel_request r WHERE r.batch_id OPERATOR(pg_catalog.=) b.id)) "
            "   FOR NO KEY UPDATE OF b SKIP LOCKED",
            {pg::int8_array_param(ids)}));
}

}  // namespace batch_ops::store
