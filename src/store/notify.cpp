#include "store/notify.hpp"

#include <cmath>
#include <cstdio>

#include "core/json.hpp"
#include "pg/security.hpp"
#include "pg/settings.hpp"
#include "store/transition.hpp"

extern "C" {
#include "commands/async.h"
#include "store/owner.hpp"
#include "utils/fmgrprotos.h"
}

namespace batch_ops::store {

const char* const kProgressColumns =
    "b.id, b.status::pg_catalog.text AS status, b.total, b.processed, b.success_count, b.failure_count";

Progress read_progress(const pg::Row& row) {
    Progress p;
    p.id = row.i64("id");
    p.status = parse_status(row.text("status"));
    p.total = row.i64("total");
    p.processed = row.i64("processed");
    p.success = row.i64("success_count");
    p.failure = row.i64("failure_count");
    return p;
}

Progress progress_of(pg::Spi& spi, int64_t id) {
    pg::Rows rows = query(spi, std::string("SELECT ") + kProgressColumns +
                                    " FROM batch_ops.batch b WHERE b.id OPERATOR(pg_catalog.=) $1",
                                {pg::int8_param(id)});
    std::optional<pg::Row> row = rows.maybe_one();
    if (!row) batch_missing(id);
    return read_progress(*row);
}

std::string progress_payload(const Progress& p) {
    core::Json j = core::Json::object();
    j.set("job_id", core::Json::number(p.id));
    j.set("status", core::Json::string(core::to_string(p.status)));
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

bool Throttle::allow(int64_t id, bool force) {
    TimestampTz now = GetCurrentTimestamp();
    auto it = last_.find(id);
    if (!force && it != last_.end() &&
        !TimestampDifferenceExceeds(it->second, now, settings::notify_interval_ms))
        return false;
    last_[id] = now;
    return true;
}

void notify(const Progress& p, bool force, Throttle& throttle) {
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

void announce(const Progress& p) {
    Throttle once;
    notify(p, true, once);
}

}  // namespace batch_ops::store
