// SQL entry points of sync batches: create_sync, batch_sync, batch_statistics.
#include "sql/entry.hpp"

#include "core/error.hpp"
#include "ops/citus.hpp"
#include "ops/progress.hpp"
#include "ops/sync.hpp"
#include "pg/jsonb.hpp"
#include "pg/security.hpp"
#include "workers/shared.hpp"

extern "C" {
#include "tcop/utility.h"
}

using namespace batch_ops;

BATCH_OPS_FUNCTION(batch_ops_create_sync) {
    pg::check_schema_version();
    pg::guard([] { PreventCommandIfReadOnly("create_sync()"); });
    ops::citus::refuse_on_worker_node("create_sync()");
    std::string name = pg::guard([&] { return text_to_cstring(PG_GETARG_TEXT_PP(0)); });
    std::string source = pg::guard([&] { return text_to_cstring(PG_GETARG_TEXT_PP(1)); });
    Oid target = PG_GETARG_OID(2);
    Jsonb* options = pg::guard([&] { return PG_GETARG_JSONB_P(3); });
    core::Json opts = pg::from_jsonb(options);
    pg::Spi spi;
    int64_t id = ops::create_sync(spi, name, source, target, opts, pg::current_role());
    return Int64GetDatum(id);
}

BATCH_OPS_FUNCTION(batch_ops_batch_sync) {
    int64_t id = PG_GETARG_INT64(0);
    bool background = PG_GETARG_BOOL(1);
    pg::check_schema_version();
    pg::guard([] { PreventCommandIfReadOnly("batch_sync()"); });
    ops::citus::refuse_on_worker_node("batch_sync()");
    // The caller: the actor of the events (the sync itself runs as its owner).
    const Oid caller = pg::current_role();
    core::Json r = core::Json::object();
    {
        pg::Spi spi;
        ops::SyncDef def = ops::load_sync(spi, id, caller);
        {
            pg::AsOwner owner;
            spi.execute_cached("SELECT status::pg_catalog.text FROM batch_ops.batch "
                               " WHERE id OPERATOR(pg_catalog.=) $1 FOR UPDATE",
                               {pg::int8_param(id)});
        }
        if (spi.rows() == 0)  // removed since load_sync (batch_cleanup)
            throw core::Error(core::sqlstate::no_data_found, "batch " + std::to_string(id) + " does not exist");
        std::string status = spi.str(0, 0);
        if (status == "running" || status == "queued" || status == "cancelling")
            throw core::Error(core::sqlstate::object_not_in_state,
                              "batch " + std::to_string(id) + " cannot be synced now: its status is " + status,
                              "A sync batch runs once at a time.", "Wait for it with batch_ops.batch_wait().");
        if (background) {
            // Queued for the workers; an incremental sync runs chunk by chunk.
            if (!workers::preloaded())
                throw core::Error(core::sqlstate::object_not_in_state,
                                  "background syncs need batch_ops in shared_preload_libraries",
                                  "Without it there are no workers to run queued syncs.",
                                  "Add batch_ops to shared_preload_libraries and restart the server, or run the "
                                  "sync inline: batch_ops.batch_sync(id).");
            pg::AsOwner owner;
            spi.execute_cached(
                "WITH u AS (UPDATE batch_ops.batch SET status = 'queued', total = 0, processed = 0, "
                "  success_count = 0, failure_count = 0, skipped_count = 0, cancelled_count = 0, finished_at = NULL, "
                "  started_at = NULL, next_attempt_at = NULL, worker_pid = NULL, last_error = NULL, "
                "  last_error_code = NULL, updated_at = pg_catalog.clock_timestamp() "
                "  WHERE id OPERATOR(pg_catalog.=) $1 RETURNING id) "
                "INSERT INTO batch_ops.batch_event (batch_id, event, actor) "
                "SELECT u.id, 'queued', $2::pg_catalog.regrole FROM u",
                {pg::int8_param(id), {OIDOID, ObjectIdGetDatum(caller), false}});
            workers::wake_at_commit();
            ops::announce(spi, id);  // created/succeeded/failed -> queued
            r.set("success", core::Json::boolean(true));
            r.set("batch_id", core::Json::number(id));
            r.set("message", core::Json::string("queued"));
            r.set("status", core::Json::string("queued"));
            r.set("sync_time", core::Json::null());
            r.set("records_synced", core::Json::number(0));
        }
    }
    if (background) return pg::to_jsonb(r);  // built outside SPI's memory
    {
        pg::Spi spi;
        ops::SyncDef def = ops::load_sync(spi, id, caller);
        ops::SyncResult res = ops::run_sync(spi, def);
        r.set("success", core::Json::boolean(res.success));
        r.set("batch_id", core::Json::number(id));
        r.set("message", core::Json::string(res.message));
        r.set("sync_time", core::Json::string(res.sync_time));
        r.set("records_synced", core::Json::number(res.inserted + res.updated + res.deleted));
        r.set("inserted", core::Json::number(res.inserted));
        r.set("updated", core::Json::number(res.updated));
        r.set("deleted", core::Json::number(res.deleted));
    }
    return pg::to_jsonb(r);
}

BATCH_OPS_FUNCTION(batch_ops_batch_statistics) {
    int64_t id = PG_GETARG_INT64(0);
    pg::check_schema_version();
    core::Json r;
    {
        pg::Spi spi;
        r = ops::sync_statistics(spi, id, pg::current_role());
    }
    return pg::to_jsonb(r);
}
