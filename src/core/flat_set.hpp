// A small open-addressing hash set of string views, sized once: duplicate
// detection over up to a million ids without a node allocation per id.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>
#include <vector>

namespace batch_ops::core {

class FlatStringSet {
public:
    explicit FlatStringSet(std::size_t expected) {
        std::size_t cap = 16;
        while (cap < expected * 2) cap <<= 1;
        slots_.assign(cap, Slot{});
        mask_ = cap - 1;
    }

    // Inserts s (which must outlive the set). Returns false when it was already there;
    // `existing` then points at the stored equal value.
    bool insert(std::string_view s, std::size_t tag, std::size_t* existing_tag = nullptr) {
        std::size_t h = std::hash<std::string_view>{}(s);
        for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
            Slot& slot = slots_[i];
            if (!slot.used) {
                slot = Slot{true, h, s, tag};
                return true;
            }
            if (slot.hash == h && slot.value == s) {
                if (existing_tag) *existing_tag = slot.tag;
                return false;
            }
        }
    }

private:
    struct Slot {
        bool used = false;
        std::size_t hash = 0;
        std::string_view value;
        std::size_t tag = 0;
    };
    std::vector<Slot> slots_;
    std::size_t mask_ = 0;
};

}  // namespace batch_ops::core
