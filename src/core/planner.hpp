// How items are applied: in chunks, each chunk by one set-based statement;
// when a statement raises, the chunk is split in halves (each half in its own
// subtransaction) until the failing items are isolated. Items are applied in
// request order, so later items see the effects of earlier ones.
//
// The core only decides the order of attempts; the glue (src/ops/) runs them.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace batch_ops::core {

struct Range {
    std::size_t begin = 0;
    std::size_t end = 0;  // exclusive
    std::size_t size() const { return end - begin; }
};

// [0, total) cut into ranges of at most chunk_size items.
std::vector<Range> chunk_ranges(std::size_t total, std::size_t chunk_size);

// The outcome of one attempt at a range.
struct Attempt {
    bool ok = true;
    std::string sqlstate;  // when !ok
    std::string message;
};

struct IsolationStats {
    std::size_t attempts = 0;  // statements run (each in a subtransaction)
    std::size_t failed_items = 0;
};

// Runs apply(range) and, when it fails, splits the range until every failing
// item is isolated; fail(index, attempt) is called once per failing item, in
// order. apply must leave no effect when it returns !ok (its subtransaction
// was rolled back) and record its per-item outcomes itself when it returns ok.
// Exceptions from apply (transient errors, cancellation) propagate.
//
// An error that is not about particular rows (item_specific returns false:
// a missing privilege, a broken trigger) fails every item of the range at
// once instead of being split further.
IsolationStats isolate_failures(Range range, const std::function<Attempt(Range)>& apply,
                                const std::function<void(std::size_t, const Attempt&)>& fail,
                                const std::function<bool(const Attempt&)>& item_specific = nullptr);

}  // namespace batch_ops::core
