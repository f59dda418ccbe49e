// Steering the queue (API.md section 3): pausing and resuming a batch, and
// pausing, resuming or limiting a whole target. The claim that honours it is
// is store::candidates; the workers' part of a pause (handing a running
// batch back at its next chunk boundary) is store::hand_back_paused. The
// rows are the store's (store/steering).
//
//  * batch_pause: a queued batch is paused at once (batch.paused); a running
//    one (or one whose row a claim holds) gets a row in
//    batch_pause_request, and its executor hands it back to the queue,
//    paused, before its next chunk. Nothing is lost: its finished items stay.
//  * batch_resume: clears both; a cancelled batch has its cancelled items
//    queued again (and its UPSTREAM_FAILED dependents re-armed).
//  * A paused target's queued batches are not claimed; a target's
//    max_concurrency bounds its batches running at once.
#pragma once

#include "pg/spi.hpp"

#include <optional>
#include <string>


namespace batch_ops::ops {

// batch_pause(id) once the batch was found to be the caller's (load_batch):
// true if the batch is paused or will stop at its next chunk boundary; false
// if it has ended or is being cancelled.
bool pause_batch(pg::Spi& spi, int64_t id, Oid actor);

// batch_resume(id), after load_batch: true if the batch is (again) free to
// run, *wake when the workers should look at the queue at commit; false if it
// has ended (succeeded or failed: see batch_retry), is being cancelled, or
// was cancelled with nothing left to run.
bool resume_batch(pg::Spi& spi, int64_t id, Oid actor, bool* wake);

// pause_target / resume_target (admin): 42704 for an unknown target.
void set_target_paused(pg::Spi& spi, const std::string& name, bool paused);
// set_target_limit (admin): at most `limit` batches of the target running at
// once; nullopt removes the limit; 22023 for a limit below 1.
void set_target_limit(pg::Spi& spi, const std::string& name, std::optional<int> limit);

}  // namespace batch_ops::ops
