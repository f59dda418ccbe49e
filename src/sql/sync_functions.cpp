// SQL entry points of sync batches: create_sync, batch_sync, batch_statistics.
#include "sql/entry.hpp"

#include "core/error.hpp"
#include "core/status.hpp"
#include "ops/sync.hpp"
#include "pg/jsonb.hpp"
#include "pg/security.hpp"
#include "store/syncs.hpp"
#include "store/transition.hpp"
#include "workers/shared.hpp"

extern "C" {
#include "tcop/utility.h"
}

using namespace batch_ops;

BATCH_OPS_FUNCTION(batch_ops_create_sync) {
    pg::check_schema_version();
    pg::guard([] { PreventCommandIfReadOnly("create_sync()"); });
    std::string name = pg::guard([&] { return text_to_cstring(PG_GETARG_TEXT_PP(0)); });
    std::string source = pg::guard([&] { return text_to_cstring(PG_GETARG_TEXT_PP(1)); });
    Oid target = PG_GETARG_OID(2);
    Jsonb* options = pg::guard([&] { return PG_GETARG_JSONB_P(3); });
    core::Json opts = pg::from_jsonb(options);
    int64_t id = pg::with_spi(
        [&](pg::Spi& spi) { return ops::create_sync(spi, name, source, target, opts, pg::current_role()); });
    return Int64GetDatum(id);
}

namespace {

// The sync batch, locked, may start now: P0002 when it is gone (removed since
// load_sync by batch_cleanup), 55000 while it is queued or running.
void lock_idle_sync(pg::Spi& spi, int64_t id) {
    using core::BatchStatus;
    std::optional<BatchStatus> status = store::batch_status(spi, id, store::RowLock::ForUpdate);
    if (!status) store::batch_missing(id);
    if (core::is_in_progress(*status))
        throw core::Error(core::sqlstate::object_not_in_state,
                          "batch " + std::to_string(id) + " cannot be synced now: its status is " +
                              core::to_string(*status),
                          "A sync batch runs once at a time.", "Wait for it with batch_ops.batch_wait().");
}

// Queues the sync for the workers (an incremental sync runs chunk by chunk).
core::Json queue_sync(pg::Spi& spi, int64_t id, Oid caller) {
    if (!workers::preloaded())
        throw core::Error(core::sqlstate::object_not_in_state,
                          "background syncs need batch_ops in shared_preload_libraries",
                          "Without it there are no workers to run queued syncs.",
                          "Add batch_ops to shared_preload_libraries and restart the server, or run the "
                          "sync inline: batch_ops.batch_sync(id).");
    store::queue_sync(spi, id, caller);  // announced
    workers::wake_at_commit();
    const char* queued = core::to_string(core::BatchStatus::Queued);
    core::Json r = core::Json::object();
    r.set("success", core::Json::boolean(true));
    r.set("batch_id", core::Json::number(id));
    r.set("message", core::Json::string(queued));
    r.set("status", core::Json::string(queued));
    r.set("sync_time", core::Json::null());
    r.set("records_synced", core::Json::number(0));
    return r;
}

// Runs the sync now, in this transaction.
core::Json sync_inline(pg::Spi& spi, int64_t id, Oid caller) {
    ops::SyncDef def = ops::load_sync(spi, id, caller);
    ops::SyncResult res = ops::run_sync(spi, def);
    core::Json r = core::Json::object();
    r.set("success", core::Json::boolean(res.success));
    r.set("batch_id", core::Json::number(id));
    r.set("message", core::Json::string(res.message));
    r.set("sync_time", core::Json::string(res.sync_time));
    r.set("records_synced", core::Json::number(res.inserted + res.updated + res.deleted));
    r.set("inserted", core::Json::number(res.inserted));
    r.set("updated", core::Json::number(res.updated));
    r.set("deleted", core::Json::number(res.deleted));
    return r;
}

}  // namespace

BATCH_OPS_FUNCTION(batch_ops_batch_sync) {
    int64_t id = PG_GETARG_INT64(0);
    bool background = PG_GETARG_BOOL(1);
    pg::check_schema_version();
    pg::guard([] { PreventCommandIfReadOnly("batch_sync()"); });
    // The caller: the actor of the events (the sync itself runs as its owner).
    const Oid caller = pg::current_role();
    core::Json r = pg::with_spi([&](pg::Spi& spi) {
        (void)ops::load_sync(spi, id, caller);
        lock_idle_sync(spi, id);
        return background ? queue_sync(spi, id, caller) : core::Json();
    });
    if (!background) r = pg::with_spi([&](pg::Spi& spi) { return sync_inline(spi, id, caller); });
    return pg::to_jsonb(r);  // built outside SPI's memory
}

BATCH_OPS_FUNCTION(batch_ops_batch_statistics) {
    int64_t id = PG_GETARG_INT64(0);
    pg::check_schema_version();
    core::Json r = pg::with_spi([&](pg::Spi& spi) { return ops::sync_statistics(spi, id, pg::current_role()); });
    return pg::to_jsonb(r);
}
