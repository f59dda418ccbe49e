// Unit tests for chunking and failure isolation (src/core/planner.hpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/planner.hpp"
#include "core/results.hpp"

using namespace batch_ops::core;

namespace {

std::vector<std::pair<std::size_t, std::size_t>> pairs(const std::vector<Range>& rs) {
    std::vector<std::pair<std::size_t, std::size_t>> out;
    for (const auto& r : rs) out.emplace_back(r.begin, r.end);
    return out;
}

using Pairs = std::vector<std::pair<std::size_t, std::size_t>>;

// A fake statement: fails when the range contains a bad index, else "applies"
// the range's items (records them). Failures leave no effect.
struct FakeTable {
    std::set<std::size_t> bad;
    std::vector<std::size_t> applied;       // items in the order they were applied
    std::vector<Range> attempts;            // every range tried
    std::vector<std::size_t> failed;        // fail() calls
    std::vector<std::string> failed_messages;

    Attempt apply(Range r) {
        attempts.push_back(r);
        for (std::size_t i = r.begin; i < r.end; ++i)
            if (bad.count(i)) {
                Attempt a;
                a.ok = false;
                a.sqlstate = "23505";
                a.message = r.size() == 1 ? "bad item " + std::to_string(r.begin) : "chunk failed";
                return a;
            }
        for (std::size_t i = r.begin; i < r.end; ++i) applied.push_back(i);
        return Attempt{};
    }

    IsolationStats run(Range r) {
        return isolate_failures(
            r, [this](Range x) { return apply(x); },
            [this](std::size_t i, const Attempt& a) {
                failed.push_back(i);
                failed_messages.push_back(a.message);
                EXPECT_FALSE(a.ok);
                EXPECT_EQ(a.sqlstate, "23505");
            });
    }
};

}  // namespace

// ---------------------------------------------------------------------------
// chunk_ranges

TEST(ChunkRanges, ExactMultiple) {
    EXPECT_EQ(pairs(chunk_ranges(10, 5)), (Pairs{{0, 5}, {5, 10}}));
    EXPECT_EQ(pairs(chunk_ranges(3, 1)), (Pairs{{0, 1}, {1, 2}, {2, 3}}));
}

TEST(ChunkRanges, Remainder) {
    EXPECT_EQ(pairs(chunk_ranges(11, 5)), (Pairs{{0, 5}, {5, 10}, {10, 11}}));
    EXPECT_EQ(pairs(chunk_ranges(3, 10)), (Pairs{{0, 3}}));
}

TEST(ChunkRanges, ZeroTotal) {
    EXPECT_TRUE(chunk_ranges(0, 5).empty());
    EXPECT_TRUE(chunk_ranges(0, 1).empty());
}

TEST(ChunkRanges, CoverContiguouslyWithinChunkSize) {
    for (std::size_t total : {1u, 2u, 7u, 100u, 1001u}) {
        for (std::size_t chunk : {1u, 2u, 3u, 64u, 1000u, 5000u}) {
            auto rs = chunk_ranges(total, chunk);
            ASSERT_FALSE(rs.empty());
            EXPECT_EQ(rs.size(), (total + chunk - 1) / chunk) << total << "/" << chunk;
            EXPECT_EQ(rs.front().begin, 0u);
            EXPECT_EQ(rs.back().end, total);
            for (std::size_t i = 0; i < rs.size(); ++i) {
                EXPECT_GT(rs[i].size(), 0u);
                EXPECT_LE(rs[i].size(), chunk);
                if (i + 1 < rs.size()) {
                    EXPECT_EQ(rs[i].end, rs[i + 1].begin);
                    EXPECT_EQ(rs[i].size(), chunk);
                }
            }
        }
    }
}

TEST(ChunkRanges, ZeroChunkSizeStillTerminates) {
    auto rs = chunk_ranges(3, 0);
    ASSERT_FALSE(rs.empty());
    EXPECT_EQ(rs.front().begin, 0u);
    EXPECT_EQ(rs.back().end, 3u);
    for (const auto& r : rs) EXPECT_GT(r.size(), 0u);
}

TEST(RangeSize, Size) {
    EXPECT_EQ((Range{3, 10}).size(), 7u);
    EXPECT_EQ((Range{4, 4}).size(), 0u);
}

// ---------------------------------------------------------------------------
// isolate_failures

TEST(IsolateFailures, NoFailureIsOneAttempt) {
    FakeTable t;
    IsolationStats s = t.run({0, 100});
    EXPECT_EQ(s.attempts, 1u);
    EXPECT_EQ(s.failed_items, 0u);
    EXPECT_TRUE(t.failed.empty());
    ASSERT_EQ(t.attempts.size(), 1u);
    EXPECT_EQ(t.attempts[0].begin, 0u);
    EXPECT_EQ(t.attempts[0].end, 100u);
    EXPECT_EQ(t.applied.size(), 100u);
}

TEST(IsolateFailures, EmptyRangeRunsNothing) {
    FakeTable t;
    IsolationStats s = t.run({5, 5});
    EXPECT_EQ(s.attempts, 0u);
    EXPECT_TRUE(t.attempts.empty());
    EXPECT_TRUE(t.failed.empty());
}

TEST(IsolateFailures, SingleItemFailure) {
    FakeTable t;
    t.bad = {0};
    IsolationStats s = t.run({0, 1});
    EXPECT_EQ(s.attempts, 1u);
    EXPECT_EQ(s.failed_items, 1u);
    EXPECT_EQ(t.failed, (std::vector<std::size_t>{0}));
    EXPECT_TRUE(t.applied.empty());
}

TEST(IsolateFailures, OneBadOf1024IsBounded) {
    const std::size_t n = 1024;
    const std::size_t bound = 2 * static_cast<std::size_t>(std::log2(n)) + 1;  // 21
    for (std::size_t bad : {0u, 1u, 511u, 512u, 700u, 1022u, 1023u}) {
        FakeTable t;
        t.bad = {bad};
        IsolationStats s = t.run({0, n});
        EXPECT_EQ(t.failed, (std::vector<std::size_t>{bad})) << bad;
        EXPECT_EQ(s.failed_items, 1u);
        EXPECT_LE(s.attempts, bound) << "bad index " << bad;
        EXPECT_EQ(s.attempts, t.attempts.size());
        EXPECT_EQ(t.applied.size(), n - 1);
        EXPECT_EQ(std::count(t.applied.begin(), t.applied.end(), bad), 0);
        ASSERT_EQ(t.failed_messages.size(), 1u);
        // fail() gets the attempt of the isolated item, not of the chunk.
        EXPECT_EQ(t.failed_messages[0], "bad item " + std::to_string(bad));
    }
}

TEST(IsolateFailures, EveryBadIndexReportedOnceInOrder) {
    FakeTable t;
    t.bad = {3, 4, 100, 511, 512, 999, 1023};
    IsolationStats s = t.run({0, 1024});
    EXPECT_EQ(t.failed, (std::vector<std::size_t>(t.bad.begin(), t.bad.end())));
    EXPECT_EQ(s.failed_items, t.bad.size());
    EXPECT_EQ(s.attempts, t.attempts.size());
}

TEST(IsolateFailures, AllBad) {
    FakeTable t;
    t.bad = {0, 1, 2, 3, 4, 5, 6, 7};
    IsolationStats s = t.run({0, 8});
    EXPECT_EQ(t.failed, (std::vector<std::size_t>{0, 1, 2, 3, 4, 5, 6, 7}));
    EXPECT_EQ(s.failed_items, 8u);
    EXPECT_TRUE(t.applied.empty());
}

TEST(IsolateFailures, RandomSetsGoodNeverReportedAndAppliedInOrder) {
    std::mt19937 rng(12345);
    for (int round = 0; round < 200; ++round) {
        const std::size_t begin = rng() % 50;
        const std::size_t n = 1 + rng() % 300;
        FakeTable t;
        const std::size_t nbad = rng() % 6;
        for (std::size_t k = 0; k < nbad; ++k) t.bad.insert(begin + rng() % n);
        IsolationStats s = t.run({begin, begin + n});

        // Every bad index exactly once, in increasing order.
        EXPECT_EQ(t.failed, (std::vector<std::size_t>(t.bad.begin(), t.bad.end()))) << "round " << round;
        EXPECT_EQ(s.failed_items, t.bad.size());
        EXPECT_EQ(s.attempts, t.attempts.size());
        // Good items applied exactly once, in request order; bad ones never.
        std::vector<std::size_t> expected_applied;
        for (std::size_t i = begin; i < begin + n; ++i)
            if (!t.bad.count(i)) expected_applied.push_back(i);
        EXPECT_EQ(t.applied, expected_applied) << "round " << round;
        // apply never sees anything outside the range, nor an empty range.
        for (const auto& r : t.attempts) {
            EXPECT_GE(r.begin, begin);
            EXPECT_LE(r.end, begin + n);
            EXPECT_GT(r.size(), 0u);
        }
        // Bisection bound: each bad item costs at most 2 attempts per level.
        const double levels = std::ceil(std::log2(static_cast<double>(n)));
        EXPECT_LE(static_cast<double>(s.attempts), 1 + 2 * levels * std::max<std::size_t>(t.bad.size(), 1))
            << "round " << round;
    }
}

TEST(IsolateFailures, NonZeroBeginStaysInRange) {
    FakeTable t;
    t.bad = {150};
    t.run({100, 200});
    EXPECT_EQ(t.failed, (std::vector<std::size_t>{150}));
    for (const auto& r : t.attempts) {
        EXPECT_GE(r.begin, 100u);
        EXPECT_LE(r.end, 200u);
    }
    EXPECT_EQ(t.applied.size(), 99u);
    EXPECT_EQ(t.applied.front(), 100u);
    EXPECT_EQ(t.applied.back(), 199u);
}

TEST(IsolateFailures, AppliedRangesAreInOrderAndDisjoint) {
    FakeTable t;
    t.bad = {5, 17};
    t.run({0, 32});
    // Ranges that succeeded, in the order they ran.
    std::vector<Range> ok;
    for (const auto& r : t.attempts) {
        bool has_bad = false;
        for (std::size_t i = r.begin; i < r.end; ++i) has_bad = has_bad || t.bad.count(i);
        if (!has_bad) ok.push_back(r);
    }
    ASSERT_FALSE(ok.empty());
    for (std::size_t i = 1; i < ok.size(); ++i) EXPECT_LE(ok[i - 1].end, ok[i].begin);
}

TEST(IsolateFailures, ExceptionsFromApplyPropagate) {
    int calls = 0;
    auto apply = [&](Range r) -> Attempt {
        ++calls;
        if (calls == 3) throw std::runtime_error("canceling statement due to user request");
        Attempt a;
        a.ok = r.size() > 1 ? false : true;
        return a;
    };
    std::vector<std::size_t> failed;
    EXPECT_THROW(isolate_failures({0, 16}, apply, [&](std::size_t i, const Attempt&) { failed.push_back(i); }),
                 std::runtime_error);
    EXPECT_EQ(calls, 3);
    EXPECT_TRUE(failed.empty());
}

TEST(IsolateFailures, CoreErrorFromApplyPropagates) {
    auto apply = [](Range) -> Attempt { throw Error("40001", "could not serialize access"); };
    try {
        isolate_failures({0, 4}, apply, [](std::size_t, const Attempt&) { ADD_FAILURE() << "fail() called"; });
        FAIL() << "no exception";
    } catch (const Error& e) {
        EXPECT_EQ(e.sqlstate(), "40001");
    }
}

TEST(IsolateFailures, ExceptionFromFailPropagates) {
    FakeTable t;
    t.bad = {2};
    EXPECT_THROW(isolate_failures(
                     {0, 4}, [&](Range r) { return t.apply(r); },
                     [](std::size_t, const Attempt&) { throw std::logic_error("stop"); }),
                 std::logic_error);
}

// ---------------------------------------------------------------------------
// isolate_failures with item_specific

namespace {

// Items with an error: the statement over a range fails with the SQLSTATE of
// its first broken item.
struct ErrorTable {
    std::map<std::size_t, std::string> broken;  // index -> sqlstate
    std::vector<Range> attempts;
    std::vector<std::size_t> applied;
    std::vector<std::pair<std::size_t, std::string>> failed;

    IsolationStats run(Range range, std::function<bool(const Attempt&)> item_specific) {
        return isolate_failures(
            range,
            [this](Range r) {
                attempts.push_back(r);
                auto it = broken.lower_bound(r.begin);
                if (it != broken.end() && it->first < r.end) {
                    Attempt a;
                    a.ok = false;
                    a.sqlstate = it->second;
                    a.message = "error " + it->second;
                    return a;
                }
                for (std::size_t i = r.begin; i < r.end; ++i) applied.push_back(i);
                return Attempt{};
            },
            [this](std::size_t i, const Attempt& a) { failed.emplace_back(i, a.sqlstate); }, std::move(item_specific));
    }
};

bool by_sqlstate(const Attempt& a) { return is_item_specific(a.sqlstate); }

}  // namespace

TEST(IsolateFailuresItemSpecific, NotItemSpecificFailsWholeRangeAtOnce) {
    ErrorTable t;
    t.broken = {{3, "42P01"}};
    IsolationStats s = t.run({0, 8}, by_sqlstate);
    EXPECT_EQ(s.attempts, 1u);
    EXPECT_EQ(t.attempts.size(), 1u);
    EXPECT_EQ(s.failed_items, 8u);
    ASSERT_EQ(t.failed.size(), 8u);
    for (std::size_t i = 0; i < 8; ++i) {
        EXPECT_EQ(t.failed[i].first, i);
        EXPECT_EQ(t.failed[i].second, "42P01");
    }
    EXPECT_TRUE(t.applied.empty());
}

TEST(IsolateFailuresItemSpecific, ItemSpecificIsSplit) {
    ErrorTable t;
    t.broken = {{3, "23505"}};
    IsolationStats s = t.run({0, 8}, by_sqlstate);
    ASSERT_EQ(t.failed.size(), 1u);
    EXPECT_EQ(t.failed[0].first, 3u);
    EXPECT_EQ(s.failed_items, 1u);
    EXPECT_EQ(t.applied, (std::vector<std::size_t>{0, 1, 2, 4, 5, 6, 7}));
}

TEST(IsolateFailuresItemSpecific, NullCallbackMeansSplit) {
    ErrorTable t;
    t.broken = {{5, "42P01"}};
    IsolationStats s = t.run({0, 8}, nullptr);
    ASSERT_EQ(t.failed.size(), 1u);
    EXPECT_EQ(t.failed[0].first, 5u);
    EXPECT_EQ(s.failed_items, 1u);
    EXPECT_EQ(t.applied.size(), 7u);
}

TEST(IsolateFailuresItemSpecific, MixedErrorsStillReportEachItemOnceInOrder) {
    // [0, 8): item 1 breaks a constraint; from item 6 on, every statement hits
    // a missing table. The first half is split, the rest fails as a block.
    ErrorTable t;
    t.broken = {{1, "23505"}, {6, "42P01"}};
    IsolationStats s = t.run({0, 8}, by_sqlstate);
    std::vector<std::size_t> failed_idx;
    for (const auto& f : t.failed) failed_idx.push_back(f.first);
    // [0,8) fails with 23505 and is split; [0,4) isolates item 1; [4,8) fails
    // with 42P01 and all of it fails at once.
    ASSERT_EQ(failed_idx, (std::vector<std::size_t>{1, 4, 5, 6, 7}));
    EXPECT_EQ(t.failed[0].second, "23505");
    EXPECT_EQ(t.failed[1].second, "42P01");
    EXPECT_EQ(t.applied, (std::vector<std::size_t>{0, 2, 3}));
    EXPECT_EQ(s.failed_items, t.failed.size());
}

TEST(IsolateFailuresItemSpecific, SingleItemNotItemSpecificFailsOnce) {
    ErrorTable t;
    t.broken = {{0, "42P01"}};
    IsolationStats s = t.run({0, 1}, [](const Attempt&) { return false; });
    EXPECT_EQ(s.attempts, 1u);
    ASSERT_EQ(t.failed.size(), 1u);
    EXPECT_EQ(t.failed[0].first, 0u);
}
