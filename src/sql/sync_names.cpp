// SQL entry points that find a sync by its name: drop_sync (batch_sync(name) is an SQL
// function over batch_sync(id), in the extension script).
#include "sql/entry.hpp"

#include "core/error.hpp"
#include "core/status.hpp"
#include "pg/security.hpp"
#include "pg/spi.hpp"
#include "store/syncs.hpp"

extern "C" {
#include "tcop/utility.h"
}

using namespace batch_ops;

namespace {

// The sync named `name`, as the caller may act on it: its id, or an error: P0002 when
// there is none or it is another role's (a name the caller cannot see does not exist
// for it, as batch_sync(name) answers through row level security), 55000 while it runs.
int64_t sync_to_drop(pg::Spi& spi, const std::string& name, Oid caller) {
    using core::BatchStatus;
    std::optional<store::NamedSync> sync = store::lock_sync_by_name(spi, name);
    if (!sync || (sync->owner != caller && !pg::is_admin(caller)))
        throw core::Error(core::sqlstate::no_data_found, "sync " + core::quoted(name) + " does not exist",
                          "", "The syncs you may drop are listed in batch_ops.sync.");
    const int64_t id = sync->id;
    const std::optional<BatchStatus> status = sync->status;
    if (status && core::is_in_progress(*status))
        throw core::Error(core::sqlstate::object_not_in_state,
                          "sync " + core::quoted(name) + " cannot be dropped: its status is " + core::to_string(*status),
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
        store::drop_sync(spi, id, caller);
    });
    PG_RETURN_VOID();
}
