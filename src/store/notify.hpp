// Progress notifications (API.md section 7): the payload of a batch's
// progress, sent with NOTIFY on batch_ops.notify_channel inside the current
// transaction (delivered when it commits).
#pragma once

#include "pg/spi.hpp"

#include <string>
#include <unordered_map>

#include "core/status.hpp"

namespace batch_ops::store {

// A batch's status and counts, as a notification carries them.
struct Progress {
    int64_t id = 0;
    core::BatchStatus status = core::BatchStatus::Created;
    int64_t total = 0, processed = 0, success = 0, failure = 0;
};

// The columns a Progress is read from (read_progress), of batch_ops.batch AS b.
extern const char* const kProgressColumns;
Progress read_progress(const pg::Row& row);

// The batch's current progress; P0002 when it does not exist.
Progress progress_of(pg::Spi& spi, int64_t id);

// The NOTIFY payload (ids and counts only).
std::string progress_payload(const Progress& p);

// At most one progress notification per batch per batch_ops.notify_interval.
class Throttle {
public:
    bool allow(int64_t id, bool force);
    void forget(int64_t id) { last_.erase(id); }

private:
    std::unordered_map<int64_t, TimestampTz> last_;
};

// Sends the payload unless throttled (never with `force`: a status change) or
// the server's notification queue is over half full (then it is skipped with
// a log line: progress is best effort).
void notify(const Progress& p, bool force, Throttle& throttle);
// notify() of a status change: never throttled.
void announce(const Progress& p);

}  // namespace batch_ops::store
