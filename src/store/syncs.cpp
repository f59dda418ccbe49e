#include "store/syncs.hpp"

#include "core/error.hpp"
#include "pg/security.hpp"
#include "store/owner.hpp"
#include "store/transition.hpp"

namespace batch_ops::store {

using core::BatchStatus;

namespace {

// New batch ids must not meet the ids of sync definitions restored by
// pg_dump (whose batch rows are not dumped).
void bump_batch_ids(pg::Spi& spi) {
    execute(spi,
        "SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence('batch_ops.batch', 'id'), m.id) "
        "  FROM (SELECT pg_catalog.max(id) AS id FROM batch_ops.sync) m, "
        "       (SELECT last_value FROM batch_ops.batch_id_seq) l "
        " WHERE m.id IS NOT NULL AND m.id > l.last_value",
        {});
}

// The row of a statement that had to return one (XX000 otherwise).
pg::Row expect_row(const pg::Rows& rows, const std::string& what) {
    std::optional<pg::Row> row = rows.maybe_one();
    if (!row) throw core::Error(core::sqlstate::internal_error, what);
    return *row;
}

pg::Param optional_text(const std::optional<std::string>& s) {
    return s ? pg::text_param(*s) : pg::null_param(TEXTOID);
}

}  // namespace

std::optional<int64_t> insert_sync(pg::Spi& spi, const NewSync& s) {
    return pg::as_owner([&]() -> std::optional<int64_t> {
        bump_batch_ids(spi);
        if (spi.execute_cached("SELECT 1 FROM batch_ops.sync WHERE name OPERATOR(pg_catalog.=) $1",
                               {pg::text_param(s.name)}) > 0)
            return std::nullopt;
        pg::Rows rows = spi.query_cached(
            "WITH b AS (INSERT INTO batch_ops.batch (kind, operation, target_type, request, status, execution, "
            "  submitted_by, total) VALUES ('sync', 'sync', $1, $2, 'created', 'inline', $3::pg_catalog.regrole, 0) "
            "  RETURNING id), "
            "s AS (INSERT INTO batch_ops.sync (id, name, source, source_is_query, target, options, created_by) "
            "  SELECT b.id, $4, $5, $6, $7::pg_catalog.oid::pg_catalog.regclass, $8, $3::pg_catalog.regrole FROM b), "
            "e AS (INSERT INTO batch_ops.batch_event (batch_id, event, actor) SELECT b.id, 'created', "
            "  $3::pg_catalog.regrole FROM b) "
            "SELECT id FROM b",
            {pg::text_param(s.target_name), pg::jsonb_text_param(s.request.dump()),
             {OIDOID, ObjectIdGetDatum(s.owner), false}, pg::text_param(s.name), pg::text_param(s.source),
             pg::bool_param(s.is_query), {OIDOID, ObjectIdGetDatum(s.target), false},
             pg::jsonb_text_param(s.options.dump())});
        return expect_row(rows, "sync " + core::quoted(s.name) + " was not recorded").i64("id");
    });
}

void restore_sync_batch(pg::Spi& spi, int64_t id, const core::Json& request) {
    execute(spi,
            "WITH b AS (INSERT INTO batch_ops.batch (id, kind, operation, target_type, request, status, execution, "
            "  submitted_by, total) SELECT $1, 'sync', 'sync', s.target::pg_catalog.text, $2, 'created', 'inline', "
            "  s.created_by, 0 FROM batch_ops.sync s WHERE s.id OPERATOR(pg_catalog.=) $1 RETURNING id) "
            "INSERT INTO batch_ops.batch_event (batch_id, event) SELECT b.id, 'restored' FROM b",
            {pg::int8_param(id), pg::jsonb_text_param(request.dump())});
    bump_batch_ids(spi);
}

std::optional<SyncRecord> find_sync(pg::Spi& spi, int64_t id) {
    pg::Rows rows = query(spi,
            "SELECT b.kind, s.name, s.source, s.source_is_query, s.target::pg_catalog.oid::pg_catalog.int8 AS target, "
            "       s.options::pg_catalog.text AS options, "
            "       COALESCE(s.created_by, b.submitted_by)::pg_catalog.oid::pg_catalog.int8 AS owner, s.watermark, "
            "       s.id IS NOT NULL AS has_sync, b.id IS NOT NULL AS has_batch "
            "  FROM (SELECT $1::pg_catalog.int8 AS id) k "
            "  LEFT JOIN batch_ops.batch b ON b.id OPERATOR(pg_catalog.=) k.id "
            "  LEFT JOIN batch_ops.sync s ON s.id OPERATOR(pg_catalog.=) k.id",
            {pg::int8_param(id)});
    pg::Row row = expect_row(rows, "no row for sync batch " + std::to_string(id));
    SyncRecord r;
    r.has_sync = row.boolean("has_sync");
    r.has_batch = row.boolean("has_batch");
    if (!r.has_sync && !r.has_batch) return std::nullopt;
    r.kind = row.opt_text("kind");
    r.owner = static_cast<Oid>(row.i64("owner"));
    if (r.has_sync) {
        r.name = row.text("name");
        r.source = row.text("source");
        r.is_query = row.boolean("source_is_query");
        r.target = static_cast<Oid>(row.i64("target"));
        r.options = row.text("options");
        r.watermark = row.opt_text("watermark");
    }
    return r;
}

std::optional<NamedSync> lock_sync_by_name(pg::Spi& spi, const std::string& name) {
    pg::Rows rows = query(spi,
            "SELECT s.id, s.created_by::pg_catalog.oid::pg_catalog.int8 AS owner, "
            "       b.status::pg_catalog.text AS status "
            "  FROM batch_ops.sync s LEFT JOIN batch_ops.batch b ON b.id OPERATOR(pg_catalog.=) s.id "
            " WHERE s.name OPERATOR(pg_catalog.=) $1 FOR UPDATE OF s",
            {pg::text_param(name)});
    std::optional<pg::Row> row = rows.maybe_one();
    if (!row) return std::nullopt;
    NamedSync s;
    s.id = row->i64("id");
    s.owner = static_cast<Oid>(row->i64("owner"));
    if (std::optional<std::string> status = row->opt_text("status")) s.status = parse_status(*status);
    return s;
}

void drop_sync(pg::Spi& spi, int64_t id, Oid actor) {
    execute(spi,
            "WITH d AS (DELETE FROM batch_ops.sync WHERE id OPERATOR(pg_catalog.=) $1 RETURNING id, name) "
            "INSERT INTO batch_ops.batch_event (batch_id, event, actor, detail) "
            "SELECT d.id, 'sync dropped', $2::pg_catalog.regrole, pg_catalog.jsonb_build_object('name', d.name) "
            "  FROM d",
            {pg::int8_param(id), role_param(actor)});
}

void queue_sync(pg::Spi& spi, int64_t id, Oid actor) {
    uint64_t n = execute(spi,
            "UPDATE batch_ops.batch SET total = 0, processed = 0, "
            "  success_count = 0, failure_count = 0, skipped_count = 0, cancelled_count = 0, finished_at = NULL, "
            "  started_at = NULL, next_attempt_at = NULL, worker_pid = NULL, last_error = NULL, "
            "  last_error_code = NULL, updated_at = pg_catalog.clock_timestamp() "
            "  WHERE id OPERATOR(pg_catalog.=) $1",
            {pg::int8_param(id)});
    if (n == 0) batch_missing(id);
    Transition t;
    t.event = "queued";
    t.actor = actor;
    transition(spi, id, BatchStatus::Queued, t);
}

void mark_sync_started(pg::Spi& spi, int64_t id, Oid actor) {
    std::optional<BatchStatus> status = batch_status(spi, id, RowLock::ForNoKeyUpdate);
    if (!status) batch_missing(id);
    execute(spi,
            "UPDATE batch_ops.batch SET started_at = pg_catalog.clock_timestamp(), finished_at = NULL, "
            "  updated_at = pg_catalog.clock_timestamp() WHERE id OPERATOR(pg_catalog.=) $1",
            {pg::int8_param(id)});
    if (*status == BatchStatus::Running) {
        // A worker that claimed the sync made it running: no status change.
        execute(spi,
                "INSERT INTO batch_ops.batch_event (batch_id, event, actor) "
                "VALUES ($1, 'started', $2::pg_catalog.regrole)",
                {pg::int8_param(id), role_param(actor)});
        return;
    }
    Transition t;
    t.event = "started";
    t.actor = actor;
    t.notify = false;  // the start of an inline run is not announced
    transition(spi, id, BatchStatus::Running, t);
}

void save_watermark(pg::Spi& spi, int64_t id, const std::string& watermark) {
    execute(spi, "UPDATE batch_ops.sync SET watermark = $2 WHERE id OPERATOR(pg_catalog.=) $1",
                           {pg::int8_param(id), pg::text_param(watermark)});
}

void record_sync_run(pg::Spi& spi, int64_t id, const SyncOutcome& r, const std::optional<std::string>& watermark,
                     Oid actor, int64_t elapsed_us) {
    const int64_t records = r.inserted + r.updated + r.deleted;
    uint64_t n = execute(spi,
            "WITH r AS (INSERT INTO batch_ops.sync_run (batch_id, started_at, finished_at, success, inserted, updated, "
            "    deleted, records_synced, message, watermark) "
            "  VALUES ($1, pg_catalog.clock_timestamp() - $8::pg_catalog.int8 * interval '1 microsecond', "
            "          pg_catalog.clock_timestamp(), $2, $3, $4, $5, $3 + $4 + $5, $6, $7)) "
            "UPDATE batch_ops.batch b SET "
            "    total = $3 + $4 + $5, processed = $3 + $4 + $5, success_count = $3 + $4 + $5, failure_count = 0, "
            "    skipped_count = 0, cancelled_count = 0, finished_at = pg_catalog.clock_timestamp(), "
            "    updated_at = pg_catalog.clock_timestamp(), worker_pid = NULL, next_attempt_at = NULL, "
            "    last_error = CASE WHEN $2 THEN NULL ELSE $6 END, last_error_code = CASE WHEN $2 THEN NULL ELSE 'ERROR' END "
            "  WHERE b.id OPERATOR(pg_catalog.=) $1",
            {pg::int8_param(id), pg::bool_param(r.success), pg::int8_param(r.inserted), pg::int8_param(r.updated),
             pg::int8_param(r.deleted), pg::text_param(r.message), optional_text(watermark),
             pg::int8_param(elapsed_us)});
    if (n == 0) batch_missing(id);
    core::Json detail = core::Json::object();
    detail.set("inserted", core::Json::number(r.inserted));
    detail.set("updated", core::Json::number(r.updated));
    detail.set("deleted", core::Json::number(r.deleted));
    detail.set("records_synced", core::Json::number(records));
    if (!r.success) detail.set("message", core::Json::string(r.message));
    Transition t;
    t.event = r.success ? "synced" : "sync_failed";
    t.actor = actor;
    t.detail = std::move(detail);
    transition(spi, id, r.success ? BatchStatus::Succeeded : BatchStatus::Failed, t);
}

int64_t begin_sync_run(pg::Spi& spi, int64_t id) {
    return pg::as_owner([&] {
        // A run left open by an executor that died is closed: it was interrupted,
        // and this one goes on from its committed watermark.
        spi.execute_cached(
            "UPDATE batch_ops.sync_run SET finished_at = pg_catalog.clock_timestamp(), "
            "  message = 'interrupted; resumed by the next run' "
            " WHERE batch_id OPERATOR(pg_catalog.=) $1 AND finished_at IS NULL",
            {pg::int8_param(id)});
        pg::Rows rows = spi.query_cached(
            "WITH r AS (INSERT INTO batch_ops.sync_run (batch_id, started_at, success, message) "
            "  VALUES ($1, pg_catalog.clock_timestamp(), NULL, 'running') RETURNING id, batch_id), "
            "e AS (INSERT INTO batch_ops.batch_event (batch_id, event, actor) SELECT r.batch_id, 'started', "
            "  (SELECT s.created_by FROM batch_ops.sync s WHERE s.id OPERATOR(pg_catalog.=) r.batch_id) FROM r) "
            "SELECT id FROM r",
            {pg::int8_param(id)});
        return expect_row(rows, "the run of sync batch " + std::to_string(id) + " was not recorded").i64("id");
    });
}

void record_sync_chunk(pg::Spi& spi, int64_t id, int64_t run_id, const SyncOutcome& c,
                       const std::optional<std::string>& watermark, bool last) {
    core::Json detail = core::Json::object();
    detail.set("records_synced", core::Json::number(c.inserted + c.updated + c.deleted));
    detail.set("watermark", watermark ? core::Json::string(*watermark) : core::Json::null());
    pg::Rows rows = query(spi,
            "WITH r AS (UPDATE batch_ops.sync_run SET inserted = inserted + $3, updated = updated + $4, "
            "    deleted = deleted + $5, records_synced = records_synced + $3 + $4 + $5, "
            "    watermark = COALESCE($6, watermark), "
            "    success = CASE WHEN $8 THEN $7 ELSE success END, message = CASE WHEN $8 THEN $9 ELSE message END, "
            "    finished_at = CASE WHEN $8 THEN pg_catalog.clock_timestamp() END "
            "  WHERE id OPERATOR(pg_catalog.=) $2), "
            "u AS (UPDATE batch_ops.batch b SET total = b.total + $3 + $4 + $5, processed = b.processed + $3 + $4 + $5, "
            "    success_count = b.success_count + $3 + $4 + $5, updated_at = pg_catalog.clock_timestamp(), "
            "    finished_at = CASE WHEN $8 THEN pg_catalog.clock_timestamp() ELSE b.finished_at END, "
            "    last_error = CASE WHEN $8 AND NOT $7 THEN $9 ELSE b.last_error END, "
            "    last_error_code = CASE WHEN $8 AND NOT $7 THEN 'ERROR' ELSE b.last_error_code END "
            "  WHERE b.id OPERATOR(pg_catalog.=) $1 "
            "  RETURNING b.id, (SELECT s.created_by FROM batch_ops.sync s "
            "                    WHERE s.id OPERATOR(pg_catalog.=) b.id)::pg_catalog.oid::pg_catalog.int8 AS owner), "
            "e AS (INSERT INTO batch_ops.batch_event (batch_id, event, actor, detail) "
            "  SELECT u.id, 'chunk', u.owner::pg_catalog.oid::pg_catalog.regrole, $10 FROM u WHERE NOT $8) "
            "SELECT owner FROM u",
            {pg::int8_param(id), pg::int8_param(run_id), pg::int8_param(c.inserted), pg::int8_param(c.updated),
             pg::int8_param(c.deleted), optional_text(watermark), pg::bool_param(c.success), pg::bool_param(last),
             pg::text_param(c.success ? "synced" : c.message), pg::jsonb_text_param(detail.dump())});
    std::optional<pg::Row> row = rows.maybe_one();
    if (!row) batch_missing(id);
    if (!last) return;
    Transition t;
    t.event = c.success ? "synced" : "sync_failed";
    t.actor = static_cast<Oid>(row->opt_i64("owner").value_or(InvalidOid));
    t.detail = std::move(detail);
    transition(spi, id, c.success ? BatchStatus::Succeeded : BatchStatus::Failed, t);
}

SyncStatistics sync_statistics(pg::Spi& spi, int64_t id) {
    pg::Rows rows = query(spi,
            "SELECT pg_catalog.count(success) AS runs, pg_catalog.count(*) FILTER (WHERE success) AS successes, "
            "       pg_catalog.count(*) FILTER (WHERE NOT success) AS failures, "
            "       COALESCE(pg_catalog.sum(records_synced), 0)::pg_catalog.int8 AS records_synced, "
            "       pg_catalog.to_jsonb(pg_catalog.max(finished_at) FILTER (WHERE success IS NOT NULL)) #>> '{}' "
            "         AS last_sync_time, "
            "       pg_catalog.round(pg_catalog.avg(EXTRACT(epoch FROM finished_at - started_at) * 1000) "
            "         FILTER (WHERE success IS NOT NULL))::pg_catalog.int8 AS avg_duration_ms "
            "  FROM batch_ops.sync_run WHERE batch_id OPERATOR(pg_catalog.=) $1",
            {pg::int8_param(id)});
    pg::Row row = expect_row(rows, "no statistics for batch " + std::to_string(id));
    SyncStatistics s;
    s.runs = row.i64("runs");
    s.successes = row.i64("successes");
    s.failures = row.i64("failures");
    s.records_synced = row.i64("records_synced");
    s.last_sync_time = row.opt_text("last_sync_time");
    s.avg_duration_ms = row.opt_i64("avg_duration_ms");
    return s;
}

}  // namespace batch_ops::store
