#include "store/batch_store.hpp"

#include "core/error.hpp"
#include "pg/jsonb.hpp"
#include "pg/security.hpp"
#include "store/dependencies.hpp"
#include "store/owner.hpp"
#include "store/transition.hpp"

namespace batch_ops::store {

using core::ItemResult;
using core::ItemStatus;

namespace {

// The columns of a BatchRow, selected from batch_ops.batch AS b.
const char* const kBatchColumns =
    "b.id, b.kind, b.operation, b.target_type, b.status::pg_catalog.text AS status, b.dry_run, "
    "b.submitted_by::pg_catalog.oid AS submitted_by, "
    "pg_catalog.to_jsonb(b.created_at) #>> '{}' AS created_at, pg_catalog.to_jsonb(b.started_at) #>> '{}' AS started_at, "
    "pg_catalog.to_jsonb(b.finished_at) #>> '{}' AS finished_at, pg_catalog.to_jsonb(b.updated_at) #>> '{}' AS updated_at, "
    "b.total, b.processed, b.success_count, b.failure_count, b.skipped_count, b.cancelled_count, "
    "b.attempt, b.last_error, b.last_error_code, b.current_item, "
    "pg_catalog.round(EXTRACT(epoch FROM b.finished_at - b.started_at) * 1000)::pg_catalog.int8 AS duration_ms, "
    "(SELECT pg_catalog.max(e.id) FROM batch_ops.export e WHERE e.batch_id OPERATOR(pg_catalog.=) b.id) AS export_id";

BatchRow read_batch_row(const pg::Row& row) {
    BatchRow b;
    b.id = row.i64("id");
    b.kind = row.text("kind");
    b.operation = row.opt_text("operation").value_or("");
    b.target_type = row.opt_text("target_type").value_or("");
    b.status = parse_status(row.text("status"));
    b.dry_run = row.boolean("dry_run");
    b.submitted_by = static_cast<Oid>(row.i64("submitted_by"));
    b.created_at = row.opt_text("created_at").value_or("");
    b.started_at = row.opt_text("started_at").value_or("");
    b.finished_at = row.opt_text("finished_at").value_or("");
    b.updated_at = row.opt_text("updated_at").value_or("");
    b.total = row.i64("total");
    b.processed = row.i64("processed");
    b.success = row.i64("success_count");
    b.failure = row.i64("failure_count");
    b.skipped = row.i64("skipped_count");
    b.cancelled = row.i64("cancelled_count");
    b.attempt = static_cast<int>(row.i64("attempt"));
    b.last_error = row.opt_text("last_error");
    b.last_error_code = row.opt_text("last_error_code");
    b.current_item = row.opt_text("current_item");
    b.duration_ms = row.opt_i64("duration_ms");
    b.export_id = row.opt_i64("export_id");
    return b;
}

}  // namespace

int64_t insert_batch(pg::Spi& spi, const NewBatch& b, bool* existing) {
    const core::Request& r = *b.request;
    *existing = false;
    std::vector<std::string> deps;
    for (auto d : r.depends_on) deps.push_back(std::to_string(d));
    std::vector<pg::Param> params = {
        pg::text_param(core::to_string(r.operation)),
        pg::text_param(r.target_type),
        {JSONBOID, b.request_jsonb, false},
        pg::text_param(core::to_string(b.status)),
        pg::text_param(core::to_string(r.execution)),
        pg::bool_param(r.dry_run),
        pg::int4_param(r.priority),
        r.depends_on.empty() ? pg::null_param(TEXTARRAYOID) : pg::text_array_param(deps),
        {OIDOID, ObjectIdGetDatum(b.submitter), false},
        pg::int4_param(static_cast<int32_t>(r.item_count())),
        pg::int4_param(b.max_attempts),
        r.idempotency_key ? pg::text_param(*r.idempotency_key) : pg::null_param(TEXTOID),
        r.not_before ? pg::text_param(*r.not_before) : pg::null_param(TEXTOID),
    };
    // The batch row and its "submitted" event, in one statement.
    const char* insert =
        "WITH b AS (INSERT INTO batch_ops.batch (operation, target_type, request, status, execution, dry_run, "
        "  priority, depends_on, submitted_by, total, max_attempts, idempotency_key, started_at, not_before) "
        "VALUES ($1, $2, $3, $4::batch_ops.batch_state, $5, $6, $7, $8::pg_catalog.int8[], "
        "        $9::pg_catalog.regrole, $10, $11, $12, "
        "        CASE WHEN $4 OPERATOR(pg_catalog.=) 'running' THEN pg_catalog.clock_timestamp() END, "
        "        $13::pg_catalog.timestamptz) "
        "ON CONFLICT ON CONSTRAINT batch_idempotency DO NOTHING RETURNING id), "
        "e AS (INSERT INTO batch_ops.batch_event (batch_id, event, actor) "
        "      SELECT b.id, 'submitted', $9::pg_catalog.regrole FROM b) "
        "SELECT id FROM b";
    return pg::as_owner([&]() -> int64_t {
        if (!r.idempotency_key) return spi.query_cached(insert, params).one().i64("id");
        for (int tries = 0; tries < 3; ++tries) {
            // A target_filter's ids were resolved at each submission: the
            // bodies are compared without them.
            pg::Rows found = spi.query_cached(
                "SELECT id, CASE WHEN $3 OPERATOR(pg_catalog.?) 'target_filter' "
                "  THEN (request OPERATOR(pg_catalog.-) 'target_ids'::pg_catalog.text) "
                "       OPERATOR(pg_catalog.=) ($3 OPERATOR(pg_catalog.-) 'target_ids'::pg_catalog.text) "
                "  ELSE request OPERATOR(pg_catalog.=) $3 END AS same FROM batch_ops.batch "
                " WHERE submitted_by OPERATOR(pg_catalog.=) $9::pg_catalog.regrole "
                "   AND idempotency_key OPERATOR(pg_catalog.=) $12",
                params);
            if (auto row = found.maybe_one()) {
                int64_t id = row->i64("id");
                if (!row->boolean("same"))
                    throw core::request_error("\"idempotency_key\" was already used with another request",
                                              "Batch " + std::to_string(id) +
                                                  " was submitted with this key and a different request body.",
                                              "Use a new key for a new request.");
                *existing = true;
                return id;
            }
            if (auto row = spi.query_cached(insert, params).maybe_one()) return row->i64("id");
            // A concurrent submission with the same key committed first: read it.
        }
        throw core::Error(core::sqlstate::object_not_in_state, "could not resolve idempotency key");
    });
}

namespace {

const char* const kStoreChunk =
    "INSERT INTO batch_ops.batch_item (batch_id, chunk, first_seq, target_ids, statuses, error_codes, messages, "
    "  success_message, attempts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::pg_catalog.int4[]) "
    "ON CONFLICT (batch_id, chunk) DO UPDATE SET target_ids = excluded.target_ids, "
    "  statuses = excluded.statuses, error_codes = excluded.error_codes, messages = excluded.messages, "
    "  success_message = excluded.success_message, attempts = excluded.attempts, "
    "  updated_at = pg_catalog.clock_timestamp()";

void store_range(pg::Spi& spi, int64_t batch_id, int number, int first_seq, const ItemResult* begin,
                 const ItemResult* end, const std::string& success_message) {
    std::vector<const std::string*> ids;
    std::string statuses;
    std::vector<std::string> codes, messages, attempts;
    std::vector<bool> has_code, has_message;
    bool any_code = false, any_message = false, any_attempts = false;
    for (const ItemResult* it = begin; it != end; ++it) {
        ids.push_back(&it->target_id);
        statuses.push_back(static_cast<char>(it->status));
        codes.push_back(it->error_code);
        has_code.push_back(!it->error_code.empty());
        any_code = any_code || !it->error_code.empty();
        bool msg = !(it->status == ItemStatus::Succeeded && it->message == success_message) && !it->message.empty();
        messages.push_back(msg ? it->message : std::string());
        has_message.push_back(msg);
        any_message = any_message || msg;
        int expected = it->status == ItemStatus::Pending ? 0 : 1;
        attempts.push_back(std::to_string(it->attempts));
        any_attempts = any_attempts || it->attempts != expected;
    }
    spi.execute_cached(kStoreChunk,
                       {pg::int8_param(batch_id), pg::int4_param(number), pg::int4_param(first_seq),
                        pg::text_array_param(ids), pg::text_param(statuses),
                        any_code ? pg::text_array_param(codes, &has_code) : pg::null_param(TEXTARRAYOID),
                        any_message ? pg::text_array_param(messages, &has_message) : pg::null_param(TEXTARRAYOID),
                        pg::text_param(success_message),
                        any_attempts ? pg::text_array_param(attempts) : pg::null_param(TEXTARRAYOID)});
}

std::vector<std::string> text_array(const pg::Row& row, const char* col, std::size_t n, bool* isnull_all) {
    std::vector<std::string> out(n);
    bool isnull;
    Datum d = row.copy_datum(col, &isnull);
    *isnull_all = isnull;
    if (isnull) return out;
    Datum* elems;
    bool* nulls;
    int count;
    pg::guard([&] { deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &count); });
    for (int i = 0; i < count && static_cast<std::size_t>(i) < n; ++i)
        if (!nulls[i]) out[i] = pg::guard([&] { return text_to_cstring(DatumGetTextPP(elems[i])); });
    return out;
}

}  // namespace

void store_items(pg::Spi& spi, int64_t batch_id, const std::vector<ItemResult>& items,
                 const std::string& success_message, int chunk_size) {
    if (chunk_size <= 0) chunk_size = 1000;
    pg::as_owner([&] {
        const std::size_t n = items.size();
        int number = 0;
        for (std::size_t b = 0; b < n; b += static_cast<std::size_t>(chunk_size), ++number) {
            const std::size_t e = std::min(n, b + static_cast<std::size_t>(chunk_size));
            store_range(spi, batch_id, number, static_cast<int>(b + 1), items.data() + b, items.data() + e,
                        success_message);
        }
    });
}

void store_chunk(pg::Spi& spi, int64_t batch_id, const Chunk& chunk) {
    pg::as_owner([&] {
        store_range(spi, batch_id, chunk.number, chunk.first_seq, chunk.items.data(),
                    chunk.items.data() + chunk.items.size(), chunk.success_message);
    });
}

std::optional<Chunk> first_pending_chunk(pg::Spi& spi, int64_t batch_id, int from_chunk) {
    pg::Rows rows = query(spi,
            "SELECT chunk, first_seq, target_ids, statuses, error_codes, messages, "
            "       attempts::pg_catalog.text[] AS attempts, success_message "
            "  FROM batch_ops.batch_item WHERE batch_id OPERATOR(pg_catalog.=) $1 "
            "   AND chunk OPERATOR(pg_catalog.>=) $2 "
            "   AND pg_catalog.strpos(statuses, 'p') > 0 ORDER BY chunk LIMIT 1",
            {pg::int8_param(batch_id), pg::int4_param(from_chunk)});
    std::optional<pg::Row> row = rows.maybe_one();
    if (!row) return std::nullopt;
    Chunk c;
    c.number = static_cast<int>(row->i64("chunk"));
    c.first_seq = static_cast<int>(row->i64("first_seq"));
    std::string statuses = row->text("statuses");
    c.success_message = row->opt_text("success_message").value_or("");
    const std::size_t n = statuses.size();
    bool none;
    std::vector<std::string> ids = text_array(*row, "target_ids", n, &none);
    std::vector<std::string> codes = text_array(*row, "error_codes", n, &none);
    std::vector<std::string> messages = text_array(*row, "messages", n, &none);
    bool no_attempts;
    std::vector<std::string> attempts = text_array(*row, "attempts", n, &no_attempts);
    c.items.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        ItemResult& r = c.items[i];
        r.target_id = ids[i];
        r.status = core::item_status_from_code(statuses[i]).value_or(ItemStatus::Pending);
        r.error_code = codes[i];
        r.message = messages[i].empty() && r.status == ItemStatus::Succeeded ? c.success_message : messages[i];
        r.attempts = no_attempts || attempts[i].empty() ? (r.status == ItemStatus::Pending ? 0 : 1)
                                                        : std::atoi(attempts[i].c_str());
    }
    return c;
}

BatchRow finish_batch(pg::Spi& spi, int64_t batch_id, const std::vector<ItemResult>& items, core::BatchStatus status,
                      Oid actor) {
    core::Counts c = core::count(items);
    std::optional<std::string> last_error, last_code;
    for (const auto& it : items) {
        if (it.status == ItemStatus::Failed) {
            last_code = it.error_code;
            last_error = std::to_string(c.failure) + " of " + std::to_string(c.total) + " items failed; first: " +
                         it.target_id + ": " + it.message;
            break;
        }
    }
    std::optional<std::string> current;
    for (auto it = items.rbegin(); it != items.rend(); ++it)
        if (it->status != ItemStatus::Pending) {
            current = it->target_id;
            break;
        }
    core::Json detail = core::Json::object();
    detail.set("total", core::Json::number(c.total));
    detail.set("success_count", core::Json::number(c.success));
    detail.set("failure_count", core::Json::number(c.failure));
    detail.set("skipped_count", core::Json::number(c.skipped));
    detail.set("cancelled_count", core::Json::number(c.cancelled));
    // The final status and the event saying so (inline batches are not
    // announced), then the counts, and the row as it now is.
    Transition t;
    t.actor = actor;
    t.detail = std::move(detail);
    t.notify = false;
    transition(spi, batch_id, status, t);
    pg::Rows rows = query(spi,
            std::string("UPDATE batch_ops.batch AS b SET processed = $2, "
                        "  success_count = $3, failure_count = $4, skipped_count = $5, cancelled_count = $6, "
                        "  last_error = $7, last_error_code = $8, current_item = $9, "
                        "  finished_at = pg_catalog.clock_timestamp(), updated_at = pg_catalog.clock_timestamp() "
                        "WHERE b.id OPERATOR(pg_catalog.=) $1 RETURNING ") +
                kBatchColumns,
            {pg::int8_param(batch_id), pg::int4_param(static_cast<int32_t>(c.processed)),
             pg::int4_param(static_cast<int32_t>(c.success)), pg::int4_param(static_cast<int32_t>(c.failure)),
             pg::int4_param(static_cast<int32_t>(c.skipped)), pg::int4_param(static_cast<int32_t>(c.cancelled)),
             last_error ? pg::text_param(*last_error) : pg::null_param(TEXTOID),
             last_code ? pg::text_param(*last_code) : pg::null_param(TEXTOID),
             current ? pg::text_param(*current) : pg::null_param(TEXTOID)});
    std::optional<pg::Row> row = rows.maybe_one();
    if (!row) batch_missing(batch_id);
    BatchRow b = read_batch_row(*row);
    if (b.status == core::BatchStatus::Failed || b.status == core::BatchStatus::Cancelled)
        cascade_upstream_failure(spi, batch_id);
    return b;
}

int64_t store_export(pg::Spi& spi, int64_t batch_id, const char* format, const std::string& content, int64_t rows) {
    return pg::as_owner([&] {
        return spi
            .query("INSERT INTO batch_ops.export (batch_id, format, content, row_count) VALUES ($1, $2, $3, $4) "
                   "RETURNING id",
                   {pg::int8_param(batch_id), pg::text_param(format), pg::text_param(content),
                    pg::int4_param(static_cast<int32_t>(rows))})
            .one()
            .i64("id");
    });
}

void append_export(pg::Spi& spi, int64_t batch_id, core::ExportFormat format, const std::string& content,
                   int64_t rows) {
    pg::as_owner([&] {
        pg::Rows found = spi.query_cached(
            "SELECT id, content FROM batch_ops.export WHERE batch_id OPERATOR(pg_catalog.=) $1 ORDER BY id LIMIT 1 "
            "FOR UPDATE",
            {pg::int8_param(batch_id)});
        std::optional<pg::Row> row = found.maybe_one();
        if (!row) {
            store_export(spi, batch_id, core::to_string(format), content, rows);
            return;
        }
        int64_t id = row->i64("id");
        std::string merged = core::merge_export(format, row->text("content"), content);
        spi.execute_cached(
            "UPDATE batch_ops.export SET content = $2, row_count = row_count + $3 WHERE id OPERATOR(pg_catalog.=) $1",
            {pg::int8_param(id), pg::text_param(merged), pg::int4_param(static_cast<int32_t>(rows))});
    });
}

std::optional<ExportBatch> export_batch(pg::Spi& spi, int64_t export_id) {
    pg::Rows rows = query(spi, "SELECT b.id, b.submitted_by::pg_catalog.oid::pg_catalog.int8 AS submitted_by, "
                                "       b.status::pg_catalog.text AS status "
                                "  FROM batch_ops.export e "
                                "  JOIN batch_ops.batch b ON b.id OPERATOR(pg_catalog.=) e.batch_id "
                                " WHERE e.id OPERATOR(pg_catalog.=) $1",
                                {pg::int8_param(export_id)});
    std::optional<pg::Row> row = rows.maybe_one();
    if (!row) return std::nullopt;
    ExportBatch b;
    b.batch_id = row->i64("id");
    b.submitter = static_cast<Oid>(row->i64("submitted_by"));
    b.status = parse_status(row->text("status"));
    return b;
}

std::string missing_export_hint(pg::Spi& spi, int64_t id, Oid me) {
    pg::Rows rows = query(spi, "SELECT b.submitted_by::pg_catalog.oid::pg_catalog.int8 AS submitted_by, "
                                "       (SELECT pg_catalog.max(e.id) FROM batch_ops.export e "
                                "         WHERE e.batch_id OPERATOR(pg_catalog.=) b.id) AS export_id "
                                "  FROM batch_ops.batch b WHERE b.id OPERATOR(pg_catalog.=) $1 "
                                "   AND b.operation OPERATOR(pg_catalog.=) 'export'",
                                {pg::int8_param(id)});
    const std::string n = std::to_string(id);
    std::optional<pg::Row> batch = rows.maybe_one();
    if (batch && (static_cast<Oid>(batch->i64("submitted_by")) == me || pg::is_admin(me))) {
        if (std::optional<int64_t> e = batch->opt_i64("export_id"))
            return "Batch " + n + " is an export batch; its export is " + std::to_string(*e) +
                   ": SELECT batch_ops.export_data(" + std::to_string(*e) + ").";
        return "Batch " + n + " is an export batch without an export (a dry run keeps none).";
    }
    return "export_data takes an export id, not a batch id: the export_id of batch_ops.batch_result(<batch id>), "
           "or SELECT id FROM batch_ops.export WHERE batch_id = <batch id>.";
}

std::optional<Datum> export_content(pg::Spi& spi, int64_t export_id) {
    pg::Rows rows = query(spi, "SELECT content FROM batch_ops.export WHERE id OPERATOR(pg_catalog.=) $1",
                                {pg::int8_param(export_id)});
    std::optional<pg::Row> row = rows.maybe_one();
    if (!row) return std::nullopt;
    bool isnull = true;
    return row->copy_datum("content", &isnull);
}

BatchRow load_batch(pg::Spi& spi, int64_t id) {
    pg::Rows rows = query(spi, std::string("SELECT ") + kBatchColumns +
                                    " FROM batch_ops.batch b WHERE b.id OPERATOR(pg_catalog.=) $1",
                                {pg::int8_param(id)});
    std::optional<pg::Row> row = rows.maybe_one();
    if (!row) batch_missing(id);
    BatchRow b = read_batch_row(*row);
    Oid me = pg::current_role();
    if (b.submitted_by != me && !pg::is_admin(me))
        throw core::Error(core::sqlstate::insufficient_privilege, "permission denied for batch " + std::to_string(id),
                          "The batch was submitted by another role.");
    return b;
}

Datum job_status_record(pg::Spi& spi, int64_t id, bool timed_out) {
    pg::Rows rows = query(spi,
            "SELECT ROW(j.job_id, j.status, j.progress, b.current_item, j.estimated_remaining, j.created_at, "
            "           b.updated_at, b.last_error, j.total, j.processed, j.success_count, j.failure_count, "
            "           j.attempt, b.skipped_count, b.cancelled_count, b.dry_run, j.paused, $2)"
            "::batch_ops.job_status AS record "
            "  FROM batch_ops.jobs j JOIN batch_ops.batch b ON b.id OPERATOR(pg_catalog.=) j.job_id "
            " WHERE j.job_id OPERATOR(pg_catalog.=) $1",
            {pg::int8_param(id), pg::bool_param(timed_out)});
    // The batch can be gone since the caller looked (batch_cleanup committed).
    std::optional<pg::Row> row = rows.maybe_one();
    if (!row) batch_missing(id);
    bool isnull = true;
    return row->copy_datum("record", &isnull);
}

std::vector<ItemResult> load_items(pg::Spi& spi, int64_t id) {
    pg::Rows rows = query(spi,
            "SELECT target_id, status::pg_catalog.text AS status, error_code, message, attempts "
            "  FROM batch_ops.job_items WHERE job_id OPERATOR(pg_catalog.=) $1 ORDER BY seq",
            {pg::int8_param(id)});
    std::vector<ItemResult> out;
    out.reserve(rows.size());
    for (pg::Row row : rows) {
        ItemResult r;
        r.target_id = row.text("target_id");
        auto st = row.text("status");
        for (char c : {'p', 's', 'f', 'k', 'c'})
            if (st == core::to_string(static_cast<ItemStatus>(c))) r.status = static_cast<ItemStatus>(c);
        r.error_code = row.opt_text("error_code").value_or("");
        r.message = row.opt_text("message").value_or("");
        r.attempts = static_cast<int>(row.opt_i64("attempts").value_or(0));
        out.push_back(std::move(r));
    }
    return out;
}

void add_event(pg::Spi& spi, int64_t id, const std::string& event, Oid actor, const core::Json& detail) {
    execute(spi,
            "INSERT INTO batch_ops.batch_event (batch_id, event, actor, detail) "
            "VALUES ($1, $2, $3::pg_catalog.regrole, $4)",
            {pg::int8_param(id), pg::text_param(event), role_param(actor), pg::jsonb_text_param(detail.dump())});
}

std::optional<TransactionId> batch_xmin(pg::Spi& spi, int64_t id) {
    pg::Rows rows = query(spi, "SELECT xmin::pg_catalog.text::pg_catalog.int8 AS xmin FROM batch_ops.batch "
                                " WHERE id OPERATOR(pg_catalog.=) $1",
                                {pg::int8_param(id)});
    std::optional<pg::Row> row = rows.maybe_one();
    if (!row) return std::nullopt;
    return static_cast<TransactionId>(row->i64("xmin"));
}

int64_t remove_ended_batches(pg::Spi& spi, const Interval& older_than, std::optional<int64_t> limit) {
    Interval iv = older_than;
    pg::Rows rows = query(spi,
            "WITH d AS (DELETE FROM batch_ops.batch WHERE id IN (SELECT id FROM batch_ops.batch "
            "  WHERE kind OPERATOR(pg_catalog.=) 'operation' "
            "    AND finished_at OPERATOR(pg_catalog.<) pg_catalog.now() - $1 "
            "    AND status IN ('succeeded', 'failed', 'cancelled') LIMIT $2) RETURNING 1) "
            "SELECT pg_catalog.count(*) AS removed FROM d",
            {{INTERVALOID, PointerGetDatum(&iv), false}, limit ? pg::int8_param(*limit) : pg::null_param(INT8OID)});
    return rows.one().i64("removed");
}

Summary batch_summary(pg::Spi& spi) {
    pg::Rows rows = query(spi,
            "SELECT pg_catalog.count(*) FILTER (WHERE status IN ('running', 'cancelling')) AS active, "
            "       pg_catalog.count(*) FILTER (WHERE status OPERATOR(pg_catalog.=) 'queued') AS queued, "
            "       COALESCE(pg_catalog.floor(EXTRACT(epoch FROM pg_catalog.now() - "
            "         pg_catalog.min(created_at) FILTER (WHERE status OPERATOR(pg_catalog.=) 'queued'))), 0)"
            "::pg_catalog.int8 AS oldest_queued_age_s, "
            "       (SELECT COALESCE(pg_catalog.jsonb_agg(name ORDER BY name), '[]') FROM batch_ops.target)"
            "::pg_catalog.text AS targets, "
            "       pg_catalog.to_jsonb(pg_catalog.now()) #>> '{}' AS now "
            "  FROM batch_ops.batch",
            {});
    std::optional<pg::Row> row = rows.maybe_one();
    if (!row) throw core::Error(core::sqlstate::internal_error, "batch_health() found no summary row");
    Summary s;
    s.active = row->i64("active");
    s.queued = row->i64("queued");
    s.oldest_queued_age_s = row->i64("oldest_queued_age_s");
    s.targets = row->text("targets");
    s.now = row->text("now");
    return s;
}

core::Json response_for(const BatchRow& b, const std::vector<ItemResult>& items) {
    using core::Json;
    auto ts = [](const std::string& s) { return s.empty() ? Json::null() : Json::string(s); };
    Json r = Json::object();
    r.set("operation_id", Json::number(b.id));
    r.set("operation", Json::string(b.operation));
    r.set("target_type", Json::string(b.target_type));
    r.set("status", Json::string(core::to_string(b.status)));
    r.set("total_count", Json::number(b.total));
    r.set("success_count", Json::number(b.success));
    r.set("failure_count", Json::number(b.failure));
    r.set("skipped_count", Json::number(b.skipped));
    r.set("cancelled_count", Json::number(b.cancelled));
    core::add_results(r, items);
    if (b.export_id) r.set("export_id", Json::number(*b.export_id));
    r.set("created_at", ts(b.created_at));
    r.set("started_at", ts(b.started_at));
    r.set("completed_at", ts(b.finished_at));
    r.set("duration_ms", b.duration_ms ? Json::number(*b.duration_ms) : Json::null());
    r.set("dry_run", Json::boolean(b.dry_run));
    return r;
}

}  // namespace batch_ops::store
