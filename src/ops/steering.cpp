#include "ops/steering.hpp"

#include "core/error.hpp"
#include "ops/retry.hpp"
#include "pg/security.hpp"

namespace batch_ops::ops {

namespace {

bool ended(const std::string& status) {
    return status == "succeeded" || status == "failed" || status == "cancelled";
}

pg::Param role_param(Oid role) { return {OIDOID, ObjectIdGetDatum(role), false}; }

[[noreturn]] void batch_missing(int64_t id) {
    throw core::Error(core::sqlstate::no_data_found, "batch " + std::to_string(id) + " does not exist");
}

void require_admin(const char* what) {
    if (!pg::is_admin(pg::current_role()))
        throw core::Error(core::sqlstate::insufficient_privilege, std::string("permission denied to ") + what,
                          "Only superusers and members of batch_ops_admin may steer targets.");
}

}  // namespace

bool pause_batch(pg::Spi& spi, int64_t id, Oid actor) {
    return pg::as_owner([&] {
        // Never wait for an executor: its chunk (or its claim) holds the
        // batch row; then the request waits beside the batch.
        pg::Rows free_row = spi.query_cached(
            "SELECT status::pg_catalog.text AS status FROM batch_ops.batch WHERE id OPERATOR(pg_catalog.=) $1 "
            "FOR NO KEY UPDATE SKIP LOCKED",
            {pg::int8_param(id)});
        std::optional<pg::Row> row = free_row.maybe_one();
        const bool locked = row.has_value();
        std::string status;
        if (locked) {
            status = row->text("status");
        } else {
            pg::Rows seen = spi.query_cached(
                "SELECT status::pg_catalog.text AS status FROM batch_ops.batch WHERE id OPERATOR(pg_catalog.=) $1",
                {pg::int8_param(id)});
            std::optional<pg::Row> s = seen.maybe_one();
            if (!s) batch_missing(id);
            status = s->text("status");
        }
        if (ended(status) || status == "cancelling") return false;
        if (locked && status != "running") {
            // queued (or a sync not yet queued): not claimed from now on.
            pg::Rows done = spi.query_cached(
                "WITH u AS (UPDATE batch_ops.batch SET paused = true, updated_at = pg_catalog.clock_timestamp() "
                "  WHERE id OPERATOR(pg_catalog.=) $1 AND NOT paused RETURNING id) "
                "INSERT INTO batch_ops.batch_event (batch_id, event, actor) "
                "SELECT u.id, 'paused', $2::pg_catalog.regrole FROM u RETURNING batch_id",
                {pg::int8_param(id), role_param(actor)});
            (void)done;
            return true;
        }
        // Running (its executor hands it back before its next chunk), or a
        // claim is taking it (its first chunk does the same).
        spi.execute_cached(
            "WITH r AS (INSERT INTO batch_ops.batch_pause_request (batch_id, requested_by) VALUES ($1, $2) "
            "  ON CONFLICT (batch_id) DO NOTHING RETURNING batch_id) "
            "INSERT INTO batch_ops.batch_event (batch_id, event, actor) "
            "SELECT r.batch_id, 'pause_requested', $2::pg_catalog.regrole FROM r",
            {pg::int8_param(id), role_param(actor)});
        return true;
    });
}

bool resume_batch(pg::Spi& spi, int64_t id, Oid actor, bool* wake) {
    *wake = false;
    return pg::as_owner([&] {
        // A request its executor has not carried out yet is withdrawn (the
        // executor skips a request row it cannot lock, and goes on).
        const bool withdrawn =
            spi.execute_cached("DELETE FROM batch_ops.batch_pause_request WHERE batch_id OPERATOR(pg_catalog.=) $1",
                               {pg::int8_param(id)}) > 0;
        // A running batch's row is held by its executor while a chunk runs:
        // read it without waiting; lock it only when it is paused or
        // cancelled (then it is held only for moments: a claim looking at
        // it, a cancel), and read it again under the lock.
        const char* read =
            "SELECT status::pg_catalog.text AS status, paused, kind, cancelled_count "
            "  FROM batch_ops.batch WHERE id OPERATOR(pg_catalog.=) $1";
        const char* read_locked =
            "SELECT status::pg_catalog.text AS status, paused, kind, cancelled_count "
            "  FROM batch_ops.batch WHERE id OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE";
        std::string status;
        bool paused = false, sync = false;
        int64_t cancelled_items = 0;
        for (const char* sql : {read, read_locked}) {
            pg::Rows rows = spi.query_cached(sql, {pg::int8_param(id)});
            std::optional<pg::Row> row = rows.maybe_one();
            if (!row) batch_missing(id);
            status = row->text("status");
            paused = row->boolean("paused");
            sync = row->text("kind") == "sync";
            cancelled_items = row->i64("cancelled_count");
            if (!paused && status != "cancelled") break;
        }
        if (status == "cancelled") {
            if (!sync && cancelled_items == 0) return false;
            (void)requeue_cancelled(spi, id, actor);
            spi.execute_cached(
                "UPDATE batch_ops.batch SET paused = false WHERE id OPERATOR(pg_catalog.=) $1 AND paused",
                {pg::int8_param(id)});
            *wake = true;
            return true;
        }
        if (ended(status) || status == "cancelling") return false;
        if (paused) {
            spi.execute_cached(
                "WITH u AS (UPDATE batch_ops.batch SET paused = false, updated_at = pg_catalog.clock_timestamp() "
                "  WHERE id OPERATOR(pg_catalog.=) $1 RETURNING id) "
                "INSERT INTO batch_ops.batch_event (batch_id, event, actor) "
                "SELECT u.id, 'resumed', $2::pg_catalog.regrole FROM u",
                {pg::int8_param(id), role_param(actor)});
            *wake = status == "queued";
        } else if (withdrawn) {
            spi.execute_cached(
                "INSERT INTO batch_ops.batch_event (batch_id, event, actor) VALUES ($1, 'resumed', $2::pg_catalog.regrole)",
                {pg::int8_param(id), role_param(actor)});
            *wake = status == "queued";
        }
        return true;
    });
}

ProgressRow hand_back_paused(pg::Spi& spi, int64_t id) {
    return pg::as_owner([&] {
        // The request row is taken only if batch_resume is not removing it
        // right now (then the batch goes on).
        pg::Rows rows = spi.query_cached(
            "WITH r AS (DELETE FROM batch_ops.batch_pause_request WHERE batch_id IN ( "
            "    SELECT q.batch_id FROM batch_ops.batch_pause_request q "
            "     WHERE q.batch_id OPERATOR(pg_catalog.=) $1 FOR UPDATE SKIP LOCKED) RETURNING requested_by), "
            "u AS (UPDATE batch_ops.batch b SET status = 'queued', paused = true, worker_pid = NULL, "
            "    updated_at = pg_catalog.clock_timestamp() "
            "  WHERE b.id OPERATOR(pg_catalog.=) $1 AND b.status OPERATOR(pg_catalog.=) 'running' "
            "    AND (b.paused OR EXISTS (SELECT 1 FROM r)) "
            "  RETURNING b.id, b.status::pg_catalog.text AS status, b.total, b.processed, b.success_count, "
            "    b.failure_count), "
            "e AS (INSERT INTO batch_ops.batch_event (batch_id, event, actor, detail) "
            "  SELECT u.id, 'paused', (SELECT r.requested_by FROM r LIMIT 1), "
            "         pg_catalog.jsonb_build_object('processed', u.processed, 'total', u.total) FROM u) "
            "SELECT u.id, u.status, u.total, u.processed, u.success_count, u.failure_count FROM u",
            {pg::int8_param(id)});
        ProgressRow p;
        if (std::optional<pg::Row> row = rows.maybe_one())
            p = {row->i64("id"), row->text("status"), row->i64("total"), row->i64("processed"),
                 row->i64("success_count"), row->i64("failure_count")};
        return p;
    });
}

void set_target_paused(pg::Spi& spi, const std::string& name, bool paused) {
    require_admin(paused ? "pause batch targets" : "resume batch targets");
    uint64_t n = pg::as_owner([&] {
        return spi.execute_cached("UPDATE batch_ops.target SET paused = $2 WHERE name OPERATOR(pg_catalog.=) $1",
                                  {pg::text_param(name), pg::bool_param(paused)});
    });
    if (n == 0)
        throw core::Error(core::sqlstate::undefined_object, "batch target " + core::quoted(name) + " does not exist");
}

void set_target_limit(pg::Spi& spi, const std::string& name, std::optional<int> limit) {
    require_admin("limit batch targets");
    if (limit && *limit < 1)
        throw core::Error(core::sqlstate::invalid_parameter_value, "max_concurrency must be at least 1",
                          "", "Pass NULL to remove the limit, or pause_target() to stop claiming its batches.");
    uint64_t n = pg::as_owner([&] {
        return spi.execute_cached(
            "UPDATE batch_ops.target SET max_concurrency = $2 WHERE name OPERATOR(pg_catalog.=) $1",
            {pg::text_param(name), limit ? pg::int4_param(*limit) : pg::null_param(INT4OID)});
    });
    if (n == 0)
        throw core::Error(core::sqlstate::undefined_object, "batch target " + core::quoted(name) + " does not exist");
}

}  // namespace batch_ops::ops
