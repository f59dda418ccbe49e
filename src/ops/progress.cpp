#include "ops/progress.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "core/json.hpp"
#include "ops/retry.hpp"
#include "pg/security.hpp"
#include "pg/settings.hpp"

extern "C" {
#include "commands/async.h"
#include "utils/fmgrprotos.h"
}

namespace batch_ops::ops {

namespace {

const char* const kProgressColumns =
    "b.id, b.status::pg_catalog.text, b.total, b.processed, b.success_count, b.failure_count";

ProgressRow read_progress(const pg::Spi& spi) {
    ProgressRow p;
    if (spi.rows() == 0) return p;
    p.id = spi.i64(0, 0);
    p.status = spi.str(0, 1);
    p.total = spi.i64(0, 2);
    p.processed = spi.i64(0, 3);
    p.success = spi.i64(0, 4);
    p.failure = spi.i64(0, 5);
    return p;
}

}  // namespace

bool Throttle::allow(int64_t id, bool force) {
    TimestampTz now = GetCurrentTimestamp();
    auto it = last_.find(id);
    if (!force && it != last_.end() &&
        !TimestampDifferenceExceeds(it->second, now, settings::notify_interval_ms))
        return false;
    last_[id] = now;
    return true;
}

ProgressRow add_progress(pg::Spi& spi, int64_t id, const core::Counts& d, const std::string& current_item) {
    pg::AsOwner owner;
    spi.execute_cached(
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
    return read_progress(spi);
}

void cancel_pending(pg::Spi& spi, int64_t id) {
    pg::AsOwner owner;
    spi.execute_cached(
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

ProgressRow finish_background(pg::Spi& spi, int64_t id, bool cancelling, Oid actor, bool failed) {
    pg::AsOwner owner;
    spi.execute_cached(
        // The first failed item is looked up only when there is one (the
        // correlated subqueries in CASE run only for that branch).
        // A batch that succeeds keeps no error of an earlier attempt. A
        // pending cancel request ends with the batch (its requester is the
        // actor of a cancel).
        std::string("WITH r AS (DELETE FROM batch_ops.batch_cancel_request "
                    "  WHERE batch_id OPERATOR(pg_catalog.=) $1 RETURNING requested_by), "
                    "pr AS (DELETE FROM batch_ops.batch_pause_request WHERE batch_id OPERATOR(pg_catalog.=) $1), "
                    "u AS (UPDATE batch_ops.batch AS b SET "
                    "  status = CASE WHEN $2 THEN 'cancelled' "
                    "    WHEN $4 OR b.failure_count + b.skipped_count + b.cancelled_count > 0 THEN 'failed' "
                    "    ELSE 'succeeded' END::batch_ops.batch_state, "
                    "  last_error = CASE WHEN NOT $2 AND NOT $4 "
                    "      AND b.failure_count + b.skipped_count + b.cancelled_count OPERATOR(pg_catalog.=) 0 THEN NULL "
                    "    WHEN b.failure_count > 0 THEN COALESCE((SELECT b.failure_count || ' of ' || "
                    "      b.total || ' items failed; first: ' || i.target_id || ': ' || i.message "
                    "      FROM batch_ops.job_items i WHERE i.job_id OPERATOR(pg_catalog.=) b.id "
                    "       AND i.status OPERATOR(pg_catalog.=) 'failed' ORDER BY i.seq LIMIT 1), b.last_error) "
                    "    ELSE b.last_error END, "
                    "  last_error_code = CASE WHEN NOT $2 AND NOT $4 "
                    "      AND b.failure_count + b.skipped_count + b.cancelled_count OPERATOR(pg_catalog.=) 0 THEN NULL "
                    "    WHEN b.failure_count > 0 THEN COALESCE((SELECT i.error_code "
                    "      FROM batch_ops.job_items i WHERE i.job_id OPERATOR(pg_catalog.=) b.id "
                    "       AND i.status OPERATOR(pg_catalog.=) 'failed' ORDER BY i.seq LIMIT 1), b.last_error_code) "
                    "    ELSE b.last_error_code END, "
                    "  finished_at = pg_catalog.clock_timestamp(), updated_at = pg_catalog.clock_timestamp(), "
                    "  next_attempt_at = NULL, paused = false "
                    "WHERE b.id OPERATOR(pg_catalog.=) $1 RETURNING ") +
            kProgressColumns +
            ", b.submitted_by, b.skipped_count, b.cancelled_count, b.kind), "
            "e AS (INSERT INTO batch_ops.batch_event (batch_id, event, actor, detail) "
            "  SELECT u.id, u.status, COALESCE($3::pg_catalog.regrole, "
            "    CASE WHEN u.status OPERATOR(pg_catalog.=) 'cancelled' THEN (SELECT r.requested_by FROM r LIMIT 1) END, "
            "    u.submitted_by), "
            "    pg_catalog.jsonb_build_object('total', u.total, "
            "    'success_count', u.success_count, 'failure_count', u.failure_count, "
            "    'skipped_count', u.skipped_count, 'cancelled_count', u.cancelled_count) FROM u) "
            "SELECT * FROM u",
        {pg::int8_param(id), pg::bool_param(cancelling),
         OidIsValid(actor) ? pg::Param{OIDOID, ObjectIdGetDatum(actor), false} : pg::null_param(OIDOID),
         pg::bool_param(failed)});
    ProgressRow p = read_progress(spi);
    const bool sync = spi.rows() > 0 && spi.str(0, 9) == "sync";
    // A sync run the batch left open ends with it.
    if (sync) {
        spi.execute_cached(
            "UPDATE batch_ops.sync_run SET finished_at = pg_catalog.clock_timestamp(), "
            "  success = $2 OPERATOR(pg_catalog.=) 'succeeded', "
            "  message = CASE WHEN $2 OPERATOR(pg_catalog.=) 'succeeded' THEN 'synced' "
            "                 ELSE COALESCE((SELECT b.last_error FROM batch_ops.batch b "
            "                                 WHERE b.id OPERATOR(pg_catalog.=) $1), $2) END "
            " WHERE batch_id OPERATOR(pg_catalog.=) $1 AND finished_at IS NULL",
            {pg::int8_param(id), pg::text_param(p.status.empty() ? std::string("failed") : p.status)});
    }
    if (p.status == "failed" || p.status == "cancelled") cascade_upstream_failure(spi, id);
    return p;
}

ProgressRow fail_or_retry(pg::Spi& spi, int64_t id, const std::string& code, const std::string& message,
                          bool transient) {
    {
        pg::AsOwner owner;
        // FOR NO KEY UPDATE: a cancel request being inserted (its foreign
        // key takes KEY SHARE on the batch row) must not wait for us, nor we for it.
        spi.execute_cached(
            "SELECT b.automatic_attempts, b.max_attempts, b.status::pg_catalog.text, "
            "       EXISTS (SELECT 1 FROM batch_ops.batch_cancel_request r "
            "                WHERE r.batch_id OPERATOR(pg_catalog.=) b.id) "
            "  FROM batch_ops.batch b WHERE b.id OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE OF b",
            {pg::int8_param(id)});
    }
    if (spi.rows() == 0) return {};
    int automatic = static_cast<int>(spi.i64(0, 0));
    int max_attempts = static_cast<int>(spi.i64(0, 1));
    if (spi.str(0, 2) == "cancelling" || spi.boolean(0, 3)) {
        // A cancel arrived meanwhile: it wins over a retry or a failure.
        cancel_pending(spi, id);
        return finish_background(spi, id, true);
    }
    // max_attempts bounds the automatic attempts of one run (batch_retry
    // starts a new run).
    if (transient && automatic < max_attempts) {
        // Exponential backoff with jitter: base * 2^(n-1) * [0.5, 1.5), at most an hour.
        static std::mt19937_64 rng(static_cast<uint64_t>(MyProcPid) * 7919u + static_cast<uint64_t>(GetCurrentTimestamp()));
        double factor = std::ldexp(1.0, std::min(automatic - 1, 20)) *
                        (0.5 + std::uniform_real_distribution<double>(0, 1)(rng));
        double delay = std::min(static_cast<double>(settings::retry_backoff_ms) * factor, 3600.0 * 1000.0);
        std::string delay_ms = std::to_string(static_cast<int64_t>(delay));
        pg::AsOwner owner;
        spi.execute_cached(
            std::string("WITH u AS (UPDATE batch_ops.batch AS b SET status = 'queued', attempt = b.attempt + 1, "
                        "  automatic_attempts = b.automatic_attempts + 1, "
                        "  next_attempt_at = pg_catalog.clock_timestamp() + $4::pg_catalog.int8 * "
                        "    interval '1 millisecond', "
                        "  worker_pid = NULL, last_error = $3, last_error_code = $2, "
                        "  updated_at = pg_catalog.clock_timestamp() "
                        "WHERE b.id OPERATOR(pg_catalog.=) $1 RETURNING ") +
                kProgressColumns +
                ", b.attempt, b.next_attempt_at), "
                "e AS (INSERT INTO batch_ops.batch_event (batch_id, event, detail) "
                "  SELECT u.id, 'retry_scheduled', pg_catalog.jsonb_build_object('attempt', u.attempt, "
                "    'next_attempt_at', u.next_attempt_at, 'error_code', $2, 'error', $3) FROM u) "
                "SELECT * FROM u",
            {pg::int8_param(id), pg::text_param(code), pg::text_param(message), pg::text_param(delay_ms)});
        return read_progress(spi);
    }
    {
        pg::AsOwner owner;
        spi.execute_cached(
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
    ProgressRow p = finish_background(spi, id, false, InvalidOid, true);
    return p;
}

std::string progress_payload(const ProgressRow& p) {
    core::Json j = core::Json::object();
    j.set("job_id", core::Json::number(p.id));
    j.set("status", core::Json::string(p.status));
    char buf[32];
    double progress = p.total > 0 ? 100.0 * static_cast<double>(p.processed) / static_cast<double>(p.total) : 100.0;
    snprintf(buf, sizeof buf, "%.2f", std::floor(progress * 100.0 + 0.5) / 100.0);
    j.set("progress", core::Json::number(std::string(buf)));
    j.set("processed", core::Json::number(p.processed));
    j.set("total", core::Json::number(p.total));
    j.set("success_count", core::Json::number(p.success));
    j.set("failure_count", core::Json::number(p.failure));
    return j.dump();
}

ProgressRow progress_of(pg::Spi& spi, int64_t id) {
    spi.execute_cached(std::string("SELECT ") + kProgressColumns +
                           " FROM batch_ops.batch b WHERE b.id OPERATOR(pg_catalog.=) $1",
                       {pg::int8_param(id)});
    return read_progress(spi);
}

void announce(pg::Spi& spi, int64_t id) {
    Throttle once;
    notify_progress(progress_of(spi, id), true, once);
}

void notify_progress(const ProgressRow& p, bool force, Throttle& throttle) {
    if (p.id == 0 || !throttle.allow(p.id, force)) return;
    std::string payload = progress_payload(p);
    const char* channel = settings::notify_channel;
    if (!channel || !*channel) return;
    pg::guard([&] {
        // Best effort: a listener idle in a transaction must never make a chunk fail.
        double usage = DatumGetFloat8(DirectFunctionCall1(pg_notification_queue_usage, (Datum)0));
        if (usage > 0.5) {
            ereport(LOG, (errmsg("batch_ops skipped a progress notification for batch %lld: the notification "
                                 "queue is %.0f%% full", static_cast<long long>(p.id), usage * 100)));
            return;
        }
        Async_Notify(channel, payload.c_str());
    });
}

}  // namespace batch_ops::ops
