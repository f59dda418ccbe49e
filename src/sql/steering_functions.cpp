// SQL entry points that steer the queue: batch_pause, batch_resume (the
// batch's submitter or an admin), pause_target, resume_target and
// set_target_limit (admin). The work is in ops/steering; the claim that
// honours it in workers/executor.cpp.
#include "sql/entry.hpp"

#include "core/error.hpp"
#include "store/batch_store.hpp"
#include "ops/steering.hpp"
#include "pg/security.hpp"
#include "workers/shared.hpp"

extern "C" {
#include "tcop/utility.h"
}

using namespace batch_ops;

namespace {

std::string text_arg(FunctionCallInfo fcinfo, int n, const char* what) {
    if (PG_ARGISNULL(n))
        throw core::Error(core::sqlstate::invalid_parameter_value, std::string(what) + " must not be null");
    char* s = pg::guard([&] { return text_to_cstring(PG_GETARG_TEXT_PP(n)); });
    return std::string(s);
}

}  // namespace

BATCH_OPS_FUNCTION(batch_ops_batch_pause) {
    int64_t id = PG_GETARG_INT64(0);
    pg::check_schema_version();
    pg::guard([] { PreventCommandIfReadOnly("batch_pause()"); });
    const Oid me = pg::current_role();
    bool paused = pg::with_spi([&](pg::Spi& spi) {
        (void)store::load_batch(spi, id);  // exists, and is the caller's (or the caller is an admin)
        return ops::pause_batch(spi, id, me);
    });
    workers::batch_changed_at_commit();
    return BoolGetDatum(paused);
}

BATCH_OPS_FUNCTION(batch_ops_batch_resume) {
    int64_t id = PG_GETARG_INT64(0);
    pg::check_schema_version();
    pg::guard([] { PreventCommandIfReadOnly("batch_resume()"); });
    const Oid me = pg::current_role();
    bool wake = false;
    bool resumed = pg::with_spi([&](pg::Spi& spi) {
        (void)store::load_batch(spi, id);
        return ops::resume_batch(spi, id, me, &wake);
    });
    if (wake) workers::wake_at_commit();
    workers::batch_changed_at_commit();
    return BoolGetDatum(resumed);
}

BATCH_OPS_FUNCTION(batch_ops_pause_target) {
    std::string name = text_arg(fcinfo, 0, "target name");
    pg::check_schema_version();
    pg::guard([] { PreventCommandIfReadOnly("pause_target()"); });
    pg::with_spi([&](pg::Spi& spi) { ops::set_target_paused(spi, name, true); });
    PG_RETURN_VOID();
}

BATCH_OPS_FUNCTION(batch_ops_resume_target) {
    std::string name = text_arg(fcinfo, 0, "target name");
    pg::check_schema_version();
    pg::guard([] { PreventCommandIfReadOnly("resume_target()"); });
    pg::with_spi([&](pg::Spi& spi) { ops::set_target_paused(spi, name, false); });
    workers::wake_at_commit();
    PG_RETURN_VOID();
}

BATCH_OPS_FUNCTION(batch_ops_set_target_limit) {
    std::string name = text_arg(fcinfo, 0, "target name");
    std::optional<int> limit;
    if (!PG_ARGISNULL(1)) limit = PG_GETARG_INT32(1);
    pg::check_schema_version();
    pg::guard([] { PreventCommandIfReadOnly("set_target_limit()"); });
    pg::with_spi([&](pg::Spi& spi) { ops::set_target_limit(spi, name, limit); });
    workers::wake_at_commit();  // a raised limit lets more run
    PG_RETURN_VOID();
}
