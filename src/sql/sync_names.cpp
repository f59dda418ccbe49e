// SQL entry points that find a sync by its name: drop_sync (batch_sync(name) is an SQL
// function over batch_sync(id), in the extension script).
#include "sql/entry.hpp"

#include "core/error.hpp"
#include "pg/security.hpp"
#include "pg/spi.hpp"

extern "C" {
#include "tcop/utility.h"
}

using namespace batch_ops;

namespace {

// The sync named `name`, as the caller may act on it: its id, or an error: P0002 when
// there is none or it is another role's (a name the caller cannot see does not exist
// for it, as batch_sync(name) answers through row level security), 55000 while it runs.
int64_t sync_to_drop(pg::Spi& spi, const std::string& name, Oid caller) {
    pg::Rows rows = pg::as_owner([&] {
        return spi.query(
            "SELECT s.id, s.created_by::pg_catalog.oid AS owner, b.status::pg_catalog.text AS status "
            "  FROM batch_ops.sync s LEFT JOIN batch_ops.batch b ON b.id OPERATOR(pg_catalog.=) s.id "
            " WHERE s.name OPERATOR(pg_catalog.=) $1 FOR UPDATE OF s",
            {pg::text_param(name)});
    });
    std::optional<pg::Row> row = rows.maybe_one();
    if (!row || (static_cast<Oid>(row->i64("owner")) != caller && !pg::is_admin(caller)))
        throw core::Error(core::sqlstate::no_data_found, "sync " + core::quoted(name) + " does not exist",
                          "", "The syncs you may drop are listed in batch_ops.sync.");
    const int64_t id = row->i64("id");
    const std::string status = row->opt_text("status").value_or("");
    if (status == "queued" || status == "running" || status == "cancelling")
        throw core::Error(core::sqlstate::object_not_in_state,
                          "sync " + core::quoted(name) + " cannot be dropped: its status is " + status,
                          "A sync is dropped when it is not queued or running.",
                          "Wait for it with batch_wait(" + std::to_string(id) + "), or cancel it with batch_cancel(" +
                              std::to_string(id) + ").");
    return id;
}

}  // namespace

BATCH_OPS_FUNCTION(batch_ops_drop_sync) {
    pg::check_schema_version();
    pg::guard([] { PreventCommandIfReadOnly("drop_sync()"); });
    const std::string name = pg::guard([&] { return text_to_cstring(PG_GETARG_TEXT_PP(0)); });
    const Oid caller = pg::current_role();
    pg::with_spi([&](pg::Spi& spi) {
        const int64_t id = sync_to_drop(spi, name, caller);
        // The definition goes; the batch, its runs and its events stay until cleanup.
        pg::as_owner([&] {
            spi.execute(
                "WITH d AS (DELETE FROM batch_ops.sync WHERE id OPERATOR(pg_catalog.=) $1 RETURNING id, name) "
                "INSERT INTO batch_ops.batch_event (batch_id, event, actor, detail) "
                "SELECT d.id, 'sync dropped', $2::pg_catalog.regrole, pg_catalog.jsonb_build_object('name', d.name) "
                "  FROM d",
                {pg::int8_param(id), {OIDOID, ObjectIdGetDatum(caller), false}});
        });
    });
    PG_RETURN_VOID();
}
