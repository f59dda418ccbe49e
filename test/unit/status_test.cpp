// Unit tests for the batch state machine (src/core/status.hpp, API.md section 2).
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "core/status.hpp"

using namespace batch_ops::core;

namespace {

const std::vector<BatchStatus> kAll = {BatchStatus::Created,   BatchStatus::Queued, BatchStatus::Running,
                                       BatchStatus::Cancelling, BatchStatus::Succeeded, BatchStatus::Failed,
                                       BatchStatus::Cancelled};

using S = BatchStatus;

}  // namespace

TEST(BatchStatusNames, ToStringAndParseRoundTrip) {
    const std::vector<std::string> names = {"created",   "queued", "running",  "cancelling",
                                            "succeeded", "failed", "cancelled"};
    ASSERT_EQ(names.size(), kAll.size());
    for (std::size_t i = 0; i < kAll.size(); ++i) {
        EXPECT_EQ(to_string(kAll[i]), names[i]);
        auto parsed = parse_batch_status(names[i]);
        ASSERT_TRUE(parsed.has_value()) << names[i];
        EXPECT_EQ(*parsed, kAll[i]) << names[i];
    }
}

TEST(BatchStatusNames, ParseRejectsUnknown) {
    EXPECT_FALSE(parse_batch_status("").has_value());
    EXPECT_FALSE(parse_batch_status("done").has_value());
    EXPECT_FALSE(parse_batch_status("Running").has_value());
    EXPECT_FALSE(parse_batch_status("canceled").has_value());
    EXPECT_FALSE(parse_batch_status("unknown").has_value());
    EXPECT_FALSE(parse_batch_status("running ").has_value());
}

TEST(ItemStatusNames, CodesRoundTrip) {
    const std::vector<std::tuple<ItemStatus, char, std::string>> all = {
        {ItemStatus::Pending, 'p', "pending"},     {ItemStatus::Succeeded, 's', "succeeded"},
        {ItemStatus::Failed, 'f', "failed"},       {ItemStatus::Skipped, 'k', "skipped"},
        {ItemStatus::Cancelled, 'c', "cancelled"},
    };
    for (const auto& [status, code, name] : all) {
        EXPECT_EQ(static_cast<char>(status), code);
        EXPECT_EQ(to_string(status), name);
        auto back = item_status_from_code(code);
        ASSERT_TRUE(back.has_value()) << code;
        EXPECT_EQ(*back, status);
    }
    EXPECT_FALSE(item_status_from_code('x').has_value());
    EXPECT_FALSE(item_status_from_code('S').has_value());
    EXPECT_FALSE(item_status_from_code('\0').has_value());
}

TEST(BatchStatusTerminal, IsTerminal) {
    EXPECT_FALSE(is_terminal(S::Created));
    EXPECT_FALSE(is_terminal(S::Queued));
    EXPECT_FALSE(is_terminal(S::Running));
    EXPECT_FALSE(is_terminal(S::Cancelling));
    EXPECT_TRUE(is_terminal(S::Succeeded));
    EXPECT_TRUE(is_terminal(S::Failed));
    EXPECT_TRUE(is_terminal(S::Cancelled));
}

TEST(BatchStatusTerminal, InProgress) {
    for (S s : kAll)
        EXPECT_EQ(is_in_progress(s), s == S::Queued || s == S::Running || s == S::Cancelling) << to_string(s);
}

TEST(BatchStatusTransitions, AllowedMoves) {
    const std::vector<std::pair<S, S>> allowed = {
        {S::Created, S::Queued},        // a sync batch queued by batch_retry / workers
        {S::Created, S::Running},       // batch_sync runs a sync at once
        {S::Queued, S::Running},        // claimed by a worker
        {S::Queued, S::Cancelled},      // batch_cancel while queued
        {S::Queued, S::Failed},         // UPSTREAM_FAILED, role gone
        {S::Running, S::Succeeded},
        {S::Running, S::Failed},
        {S::Running, S::Cancelling},    // batch_cancel while running
        {S::Running, S::Queued},        // backoff, crash
        {S::Running, S::Cancelled},     // batch_cancel of a chunk in flight: a request, then the executor
        {S::Cancelling, S::Cancelled},
        {S::Cancelling, S::Failed},     // ended first
        {S::Cancelling, S::Succeeded},  // ended first
        {S::Failed, S::Queued},         // batch_retry
        {S::Cancelled, S::Queued},      // batch_resume: its cancelled items run again
    };
    for (const auto& [from, to] : allowed) {
        EXPECT_TRUE(can_transition(from, to)) << to_string(from) << " -> " << to_string(to);
        EXPECT_TRUE(can_transition(from, to, true)) << to_string(from) << " -> " << to_string(to) << " (sync)";
    }
}

TEST(BatchStatusTransitions, ForbiddenMoves) {
    const std::vector<std::pair<S, S>> forbidden = {
        {S::Queued, S::Succeeded},      // must run first
        {S::Queued, S::Cancelling},     // a queued batch is cancelled at once
        {S::Running, S::Created},
        {S::Cancelling, S::Running},
        {S::Cancelling, S::Queued},
        {S::Failed, S::Succeeded},
        {S::Failed, S::Cancelled},
        {S::Failed, S::Running},        // only a sync batch runs again directly
        {S::Succeeded, S::Queued},
        {S::Succeeded, S::Failed},
        {S::Succeeded, S::Running},     // only for sync
        {S::Succeeded, S::Cancelled},
        {S::Queued, S::Created},
    };
    for (const auto& [from, to] : forbidden)
        EXPECT_FALSE(can_transition(from, to)) << to_string(from) << " -> " << to_string(to);
}

TEST(BatchStatusTransitions, NothingLeadsBackToCreated) {
    for (S from : kAll) {
        EXPECT_FALSE(can_transition(from, S::Created)) << to_string(from);
        EXPECT_FALSE(can_transition(from, S::Created, true)) << to_string(from);
    }
}

// A cancelled operation batch only goes back to the queue (batch_resume
// queues its cancelled items again); it never runs or ends directly.
TEST(BatchStatusTransitions, CancelledOnlyResumesForOperations) {
    for (S to : kAll)
        EXPECT_EQ(can_transition(S::Cancelled, to), to == S::Queued) << "cancelled -> " << to_string(to);
}

TEST(BatchStatusTransitions, SucceededToRunningOnlyForSync) {
    EXPECT_FALSE(can_transition(S::Succeeded, S::Running, false));
    EXPECT_TRUE(can_transition(S::Succeeded, S::Running, true));
    // A succeeded operation batch is final.
    for (S to : kAll) EXPECT_FALSE(can_transition(S::Succeeded, to, false)) << "succeeded -> " << to_string(to);
}

// A sync batch that ended (succeeded, failed or cancelled) may run again:
// batch_sync runs it at once (-> running) or queues it for the workers
// (-> queued); it cannot go from one end to another without running.
TEST(BatchStatusTransitions, EndedSyncRunsAgainAtOnceOrQueued) {
    for (S from : {S::Succeeded, S::Failed, S::Cancelled}) {
        for (S to : kAll) {
            bool expected = to == S::Running || to == S::Queued;
            EXPECT_EQ(can_transition(from, to, true), expected)
                << to_string(from) << " -> " << to_string(to) << " (sync)";
        }
    }
}

// Every status change the code makes for a sync batch.
TEST(BatchStatusTransitions, SyncTransitionsTheCodeMakes) {
    const std::vector<std::pair<S, S>> made = {
        {S::Created, S::Running},     // batch_sync
        {S::Created, S::Queued},      // batch_sync(id, true)
        {S::Created, S::Cancelled},   // batch_cancel of a sync never run
        {S::Queued, S::Running},      // claimed by a worker
        {S::Queued, S::Cancelled},    // batch_cancel while queued
        {S::Running, S::Succeeded},   // the end of a run
        {S::Running, S::Failed},
        {S::Running, S::Cancelling},  // batch_cancel while it runs
        {S::Running, S::Cancelled},   // batch_cancel of a chunk in flight (a request)
        {S::Cancelling, S::Cancelled},
        {S::Cancelling, S::Succeeded},  // its last chunk ended the run first
        {S::Cancelling, S::Failed},
        {S::Succeeded, S::Running},   // batch_sync again
        {S::Failed, S::Running},
        {S::Cancelled, S::Running},
        {S::Succeeded, S::Queued},    // batch_sync(id, true) again
        {S::Failed, S::Queued},       // also batch_retry
        {S::Cancelled, S::Queued},
    };
    for (const auto& [from, to] : made)
        EXPECT_TRUE(can_transition(from, to, true)) << to_string(from) << " -> " << to_string(to);
    // Not for an operation batch: it ends for good (a failed one is retried
    // and a cancelled one resumed through queued).
    for (S to : {S::Running, S::Queued}) EXPECT_FALSE(can_transition(S::Succeeded, to)) << to_string(to);
    EXPECT_FALSE(can_transition(S::Cancelled, S::Running));
    EXPECT_FALSE(can_transition(S::Failed, S::Running));
}

TEST(BatchStatusTransitions, FailedSyncMayRunAgain) {
    EXPECT_TRUE(can_transition(S::Failed, S::Running, true));
    EXPECT_FALSE(can_transition(S::Failed, S::Running, false));
}

TEST(BatchStatusTransitions, TerminalStatesOnlyLeaveThroughRetryOrSync) {
    // From an ended batch, a non-sync batch may only be re-queued, and only
    // when failed (batch_retry) or cancelled (batch_resume).
    for (S from : kAll) {
        if (!is_terminal(from)) continue;
        for (S to : kAll) {
            bool expected = (from == S::Failed || from == S::Cancelled) && to == S::Queued;
            EXPECT_EQ(can_transition(from, to), expected) << to_string(from) << " -> " << to_string(to);
        }
    }
}
