#include "store/steering.hpp"

#include "core/json.hpp"
#include "pg/security.hpp"
#include "store/transition.hpp"

namespace batch_ops::store {

using core::BatchStatus;

std::optional<SteeringState> steering_state(pg::Spi& spi, int64_t id, RowLock lock) {
    pg::Rows rows = query(spi,
                          "SELECT status::pg_catalog.text AS status, paused, kind, cancelled_count "
                          "  FROM batch_ops.batch WHERE id OPERATOR(pg_catalog.=) $1" + lock_clause(lock),
                          {pg::int8_param(id)});
    std::optional<pg::Row> row = rows.maybe_one();
    if (!row) return std::nullopt;
    SteeringState s;
    s.status = parse_status(row->text("status"));
    s.paused = row->boolean("paused");
    s.sync = row->text("kind") == "sync";
    s.cancelled_items = row->i64("cancelled_count");
    return s;
}

void pause_queued(pg::Spi& spi, int64_t id, Oid actor) {
    execute(spi,
            "WITH u AS (UPDATE batch_ops.batch SET paused = true, updated_at = pg_catalog.clock_timestamp() "
            "  WHERE id OPERATOR(pg_catalog.=) $1 AND NOT paused RETURNING id) "
            "INSERT INTO batch_ops.batch_event (batch_id, event, actor) "
            "SELECT u.id, 'paused', $2::pg_catalog.regrole FROM u",
            {pg::int8_param(id), role_param(actor)});
}

void request_pause(pg::Spi& spi, int64_t id, Oid actor) {
    execute(spi,
            "WITH r AS (INSERT INTO batch_ops.batch_pause_request (batch_id, requested_by) VALUES ($1, $2) "
            "  ON CONFLICT (batch_id) DO NOTHING RETURNING batch_id) "
            "INSERT INTO batch_ops.batch_event (batch_id, event, actor) "
            "SELECT r.batch_id, 'pause_requested', $2::pg_catalog.regrole FROM r",
            {pg::int8_param(id), role_param(actor)});
}

bool withdraw_pause_request(pg::Spi& spi, int64_t id) {
    return execute(spi, "DELETE FROM batch_ops.batch_pause_request WHERE batch_id OPERATOR(pg_catalog.=) $1",
                   {pg::int8_param(id)}) > 0;
}

void unpause(pg::Spi& spi, int64_t id, Oid actor, bool record) {
    execute(spi,
            "WITH u AS (UPDATE batch_ops.batch SET paused = false, updated_at = pg_catalog.clock_timestamp() "
            "  WHERE id OPERATOR(pg_catalog.=) $1 AND paused RETURNING id) "
            "INSERT INTO batch_ops.batch_event (batch_id, event, actor) "
            "SELECT u.id, 'resumed', $2::pg_catalog.regrole FROM u WHERE $3",
            {pg::int8_param(id), role_param(actor), pg::bool_param(record)});
}

void record_resume(pg::Spi& spi, int64_t id, Oid actor) {
    execute(spi,
            "INSERT INTO batch_ops.batch_event (batch_id, event, actor) VALUES ($1, 'resumed', $2::pg_catalog.regrole)",
            {pg::int8_param(id), role_param(actor)});
}

std::optional<Progress> hand_back_paused(pg::Spi& spi, int64_t id, Throttle& throttle) {
    // The request row is taken only if batch_resume is not removing it right
    // now (then the batch goes on).
    pg::Rows rows = query(spi,
            "WITH r AS (DELETE FROM batch_ops.batch_pause_request WHERE batch_id IN ( "
            "    SELECT q.batch_id FROM batch_ops.batch_pause_request q "
            "     WHERE q.batch_id OPERATOR(pg_catalog.=) $1 FOR UPDATE SKIP LOCKED) RETURNING requested_by) "
            "UPDATE batch_ops.batch b SET paused = true, worker_pid = NULL "
            " WHERE b.id OPERATOR(pg_catalog.=) $1 AND b.status OPERATOR(pg_catalog.=) 'running' "
            "   AND (b.paused OR EXISTS (SELECT 1 FROM r)) "
            "RETURNING (SELECT r.requested_by::pg_catalog.oid::pg_catalog.int8 FROM r LIMIT 1) AS requested_by, "
            "  b.processed, b.total",
            {pg::int8_param(id)});
    std::optional<pg::Row> row = rows.maybe_one();
    if (!row) return std::nullopt;
    Transition t;
    t.event = "paused";
    if (std::optional<int64_t> by = row->opt_i64("requested_by")) t.actor = static_cast<Oid>(*by);
    core::Json detail = core::Json::object();
    detail.set("processed", core::Json::number(row->i64("processed")));
    detail.set("total", core::Json::number(row->i64("total")));
    t.detail = std::move(detail);
    t.throttle = &throttle;
    return transition(spi, id, BatchStatus::Queued, t);
}

bool set_target_paused(pg::Spi& spi, const std::string& name, bool paused) {
    return execute(spi, "UPDATE batch_ops.target SET paused = $2 WHERE name OPERATOR(pg_catalog.=) $1",
                   {pg::text_param(name), pg::bool_param(paused)}) > 0;
}

bool set_target_limit(pg::Spi& spi, const std::string& name, std::optional<int> limit) {
    return execute(spi, "UPDATE batch_ops.target SET max_concurrency = $2 WHERE name OPERATOR(pg_catalog.=) $1",
                   {pg::text_param(name), limit ? pg::int4_param(*limit) : pg::null_param(INT4OID)}) > 0;
}

}  // namespace batch_ops::store
