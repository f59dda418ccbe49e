#include "store/transition.hpp"

#include <unordered_map>
#include <unordered_set>

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
    pg::Rows rows = query(spi,
                          "SELECT status::pg_catalog.text AS status FROM batch_ops.batch "
                          " WHERE id OPERATOR(pg_catalog.=) $1" + lock_clause(lock),
                          {pg::int8_param(id)});
    std::optional<pg::Row> row = rows.maybe_one();
    if (!row) return std::nullopt;
    return parse_status(row->text("status"));
}

std::vector<Progress> transition(pg::Spi& spi, const std::vector<int64_t>& ids, BatchStatus to, const Transition& t) {
    std::vector<Progress> changed = pg::as_owner([&] {
        // FOR NO KEY UPDATE, as the UPDATE below locks: rows that refer to
        // the batch (their foreign keys take KEY SHARE) do not wait for it.
        pg::Rows rows = spi.query_cached(
            "SELECT id, status::pg_catalog.text AS status, kind FROM batch_ops.batch "
            " WHERE id OPERATOR(pg_catalog.=) ANY ($1) ORDER BY id FOR NO KEY UPDATE",
            {pg::int8_array_param(ids)});
        std::unordered_set<int64_t> found;
        for (pg::Row row : rows) {
            const int64_t id = row.i64("id");
            const BatchStatus from = parse_status(row.text("status"));
            const bool sync = row.text("kind") == "sync";
            if (!core::can_transition(from, to, sync))
                throw core::Error(core::sqlstate::object_not_in_state,
                                  "batch " + std::to_string(id) + " cannot become " + core::to_string(to) +
                                      ": its status is " + core::to_string(from),
                                  std::string(sync ? "A sync batch" : "A batch") + " does not go from " +
                                      core::to_string(from) + " to " + core::to_string(to) + ".");
            found.insert(id);
        }
        for (int64_t id : ids)
            if (!found.count(id)) batch_missing(id);
        if (!t.details.empty() && t.details.size() != ids.size())
            throw core::Error(core::sqlstate::internal_error, "a transition of " + std::to_string(ids.size()) +
                                                                  " batches with " + std::to_string(t.details.size()) +
                                                                  " details");
        std::vector<std::string> details;
        for (const core::Json& d : t.details) details.push_back(d.dump());
        const std::string event = t.event.empty() ? core::to_string(to) : t.event;
        pg::Rows updated = spi.query_cached(
            std::string("WITH u AS (UPDATE batch_ops.batch AS b SET status = $2::batch_ops.batch_state, "
                        "  updated_at = pg_catalog.clock_timestamp() "
                        "WHERE b.id OPERATOR(pg_catalog.=) ANY ($1) RETURNING ") +
                kProgressColumns +
                "), e AS (INSERT INTO batch_ops.batch_event (batch_id, event, actor, detail) "
                "  SELECT u.id, $3, $4::pg_catalog.regrole, COALESCE(d.detail::pg_catalog.jsonb, $5) "
                "    FROM u LEFT JOIN ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]), "
                "      pg_catalog.unnest($7::pg_catalog.text[])) AS d(id, detail) "
                "      ON d.id OPERATOR(pg_catalog.=) u.id "
                "   WHERE $6 ORDER BY u.id) "
                "SELECT * FROM u",
            {pg::int8_array_param(ids), pg::text_param(core::to_string(to)), pg::text_param(event),
             role_param(t.actor), t.detail ? pg::jsonb_text_param(t.detail->dump()) : pg::null_param(JSONBOID),
             pg::bool_param(t.record_event),
             details.empty() ? pg::null_param(TEXTARRAYOID) : pg::text_array_param(details)});
        std::unordered_map<int64_t, Progress> by_id;
        for (pg::Row row : updated) {
            Progress p = read_progress(row);
            by_id.emplace(p.id, p);
        }
        std::vector<Progress> out;
        for (int64_t id : ids) {
            auto it = by_id.find(id);
            if (it != by_id.end()) out.push_back(it->second);
        }
        return out;
    });
    if (t.notify)
        for (const Progress& p : changed) {
            if (t.throttle) notify(p, true, *t.throttle);
            else announce(p);
        }
    return changed;
}

Progress transition(pg::Spi& spi, int64_t id, BatchStatus to, const Transition& t) {
    std::vector<Progress> changed = transition(spi, std::vector<int64_t>{id}, to, t);
    if (changed.size() != 1) batch_missing(id);
    return changed.front();
}

}  // namespace batch_ops::store
