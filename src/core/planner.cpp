#include "core/planner.hpp"

namespace batch_ops::core {

std::vector<Range> chunk_ranges(std::size_t total, std::size_t chunk_size) {
    std::vector<Range> out;
    if (chunk_size == 0) chunk_size = 1;
    for (std::size_t b = 0; b < total; b += chunk_size) out.push_back({b, b + chunk_size < total ? b + chunk_size : total});
    return out;
}

namespace {

void isolate(Range range, const std::function<Attempt(Range)>& apply,
             const std::function<void(std::size_t, const Attempt&)>& fail,
             const std::function<bool(const Attempt&)>& item_specific, IsolationStats& stats) {
    if (range.size() == 0) return;
    ++stats.attempts;
    Attempt a = apply(range);
    if (a.ok) return;
    if (range.size() > 1 && item_specific && !item_specific(a)) {
        for (std::size_t i = range.begin; i < range.end; ++i) {
            ++stats.failed_items;
            fail(i, a);
        }
        return;
    }
    if (range.size() == 1) {
        ++stats.failed_items;
        fail(range.begin, a);
        return;
    }
    std::size_t mid = range.begin + range.size() / 2;
    isolate({range.begin, mid}, apply, fail, item_specific, stats);
    isolate({mid, range.end}, apply, fail, item_specific, stats);
}

}  // namespace

IsolationStats isolate_failures(Range range, const std::function<Attempt(Range)>& apply,
                                const std::function<void(std::size_t, const Attempt&)>& fail,
                                const std::function<bool(const Attempt&)>& item_specific) {
    IsolationStats stats;
    isolate(range, apply, fail, item_specific, stats);
    return stats;
}

}  // namespace batch_ops::core
