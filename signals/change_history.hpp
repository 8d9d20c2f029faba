#pragma once
// The history a `change` signal needs: the last observation of each `width`-wide bucket, enough
// to answer "the latest kept observation at or before t - lookback". Fixed memory of
// ceil(lookback/width) + 4 entries; O(1) amortised per observation.

#include "signals/bucket.hpp"

#include <cassert>
#include <cstdint>
#include <limits>
#include <memory>

namespace seismo::signals {

class change_history {
  public:
    change_history() = default;
    change_history(core::nanos width, core::nanos lookback)
        : width_(width), lookback_(lookback),
          cap_(static_cast<std::uint32_t>(buckets_for(lookback, width) + 4)),
          ring_(std::make_unique<entry[]>(cap_)) {}

    /// Adds an observation at `t` (non-decreasing) and returns the reference value: the latest
    /// kept observation at or before `t - lookback`, or NaN while history is shorter than that.
    [[nodiscard]] double add(core::nanos t, double px) noexcept {
        const std::int64_t b = bucket_of(t, width_);
        if (size_ != 0 && back().bucket == b) {
            back().ts = t;
            back().px = px;
        } else {
            if (size_ == cap_) pop_front(); // cannot happen with width <= lookback; stay safe
            push_back({b, t, px});
        }
        const core::nanos q = t - lookback_;
        while (size_ >= 2 && at(1).ts <= q)
            pop_front();
        return at(0).ts <= q ? at(0).px : std::numeric_limits<double>::quiet_NaN();
    }

    /// Time of the reference observation used by the last `add` (undefined when it gave NaN).
    [[nodiscard]] core::nanos ref_time() const noexcept { return size_ != 0 ? at(0).ts : 0; }
    [[nodiscard]] std::uint32_t size() const noexcept { return size_; }
    [[nodiscard]] std::uint32_t capacity() const noexcept { return cap_; }

  private:
    struct entry {
        std::int64_t bucket;
        core::nanos ts;
        double px;
    };
    [[nodiscard]] entry& at(std::uint32_t i) const noexcept {
        std::uint32_t k = head_ + i;
        if (k >= cap_) k -= cap_;
        return ring_[k];
    }
    [[nodiscard]] entry& back() const noexcept { return at(size_ - 1); }
    void pop_front() noexcept {
        head_ = head_ + 1 == cap_ ? 0 : head_ + 1;
        --size_;
    }
    void push_back(entry e) noexcept {
        std::uint32_t k = head_ + size_;
        if (k >= cap_) k -= cap_;
        ring_[k] = e;
        ++size_;
    }

    core::nanos width_ = 1;
    core::nanos lookback_ = 1;
    std::uint32_t cap_ = 0;
    std::uint32_t head_ = 0;
    std::uint32_t size_ = 0;
    std::unique_ptr<entry[]> ring_;
};

} // namespace seismo::signals
