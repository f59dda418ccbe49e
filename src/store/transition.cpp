#include "store/transition.hpp"

#include "core/error.hpp"
#include "pg/security.hpp"

namespace batch_ops::store {

using core::BatchStatus;

[[noreturn]] void batch_missing(int64_t id) {
    throw core::Error(core::sqlstate::no_data_found, "batch " + std::to_string(id) + " does not exist");
}

BatchStatus parse_status(const std::string& name) {
    std::optional<BatchStatus> s = core::parse_batch_status(name);
    if (!s) throw core::Error(core::sqlstate::internal_error, "unknown batch status \"" + name + "\"");
    return *s;
}

pg::Param role_param(Oid role) {
    return OidIsValid(role) ? pg::Param{OIDOID, ObjectIdGetDatum(role), false} : pg::null_param(OIDOID);
}

std::optional<BatchStatus> batch_status(pg::Spi& spi, int64_t id, RowLock lock) {
    pg::Rows rows = pg::as_owner([&] {
        const std::string read = "SELECT status::pg_catalog.text AS status FROM batch_ops.batch "
                                 " WHERE id OPERATOR(pg_catalog.=) $1";
        switch (lock) {
            case RowLock::ForNoKeyUpdate: return spi.query_cached(read + " FOR NO KEY UPDATE", {pg::int8_param(id)});
            case RowLock::ForUpdate: return spi.query_cached(read + " FOR UPDATE", {pg::int8_param(id)});
            case RowLock::None: break;
        }
        return spi.query_cached(read, {pg::int8_param(id)});
    });
    std::optional<pg::Row> row = rows.maybe_one();
    if (!row) return std::nullopt;
    return parse_status(row->text("status"));
}

Progress transition(pg::Spi& spi, int64_t id, BatchStatus to, const Transition& t) {
    Progress p = pg::as_owner([&] {
        // FOR NO KEY UPDATE, as the UPDATE below locks: rows that refer to
        // the batch (their foreign keys take KEY SHARE) do not wait for it.
        pg::Rows rows = spi.query_cached(
            "SELECT status::pg_catalog.text AS status, kind FROM batch_ops.batch "
            " WHERE id OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE",
            {pg::int8_param(id)});
        std::optional<pg::Row> row = rows.maybe_one();
        if (!row) batch_missing(id);
        const BatchStatus from = parse_status(row->text("status"));
        const bool sync = row->text("kind") == "sync";
        if (!core::can_transition(from, to, sync))
            throw core::Error(core::sqlstate::object_not_in_state,
                              "batch " + std::to_string(id) + " cannot become " + core::to_string(to) +
                                  ": its status is " + core::to_string(from),
                              std::string(sync ? "A sync batch" : "A batch") + " does not go from " +
                                  core::to_string(from) + " to " + core::to_string(to) + ".");
        const std::string event = t.event.empty() ? core::to_string(to) : t.event;
        return read_progress(
            spi.query_cached(
                   std::string("WITH u AS (UPDATE batch_ops.batch AS b SET status = $2::batch_ops.batch_state, "
                               "  updated_at = pg_catalog.clock_timestamp() "
                               "WHERE b.id OPERATOR(pg_catalog.=) $1 RETURNING ") +
                       kProgressColumns +
                       "), e AS (INSERT INTO batch_ops.batch_event (batch_id, event, actor, detail) "
                       "  SELECT u.id, $3, $4::pg_catalog.regrole, $5 FROM u) "
                       "SELECT * FROM u",
                   {pg::int8_param(id), pg::text_param(core::to_string(to)), pg::text_param(event),
                    role_param(t.actor),
                    t.detail ? pg::jsonb_text_param(t.detail->dump()) : pg::null_param(JSONBOID)})
                .one());
    });
    if (t.notify) announce(p);
    return p;
}

}  // namespace batch_ops::store
