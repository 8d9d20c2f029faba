#pragma once
// Trailing maximum over an event-time window, kept as a monotonic deque of bucket maxima.
//
// Buckets are `width` ns wide; the window is the newest `nbuckets` buckets, i.e. bucket indices
// in (b(now) - nbuckets, b(now)]. The deque holds at most one entry per bucket with strictly
// decreasing maxima, so memory is fixed at construction (nbuckets entries of 16 bytes) whatever
// the tick rate, and each push is O(1) amortised.
//
// The deque's first and last entries are mirrored in the object itself: a tick in the newest
// bucket that does not raise its maximum (most ticks) reads no ring entry, so it costs the
// object's own cache line and not another one in the ring (with 100 k instruments each is a
// miss, and the ring's came only after the object's). So is the end of the newest bucket: a tick
// before it needs no division to find its bucket.

#include "signals/bucket.hpp"

#include <cassert>
#include <cstdint>
#include <limits>
#include <memory>

namespace seismo::signals {

class trailing_max {
  public:
    trailing_max() = default;
    trailing_max(core::nanos width, std::int64_t nbuckets)
        : width_(width), cap_(static_cast<std::uint32_t>(nbuckets)),
          ring_(std::make_unique<entry[]>(static_cast<std::size_t>(nbuckets))) {}

    /// Adds an observation. `t` must not decrease between calls (the graph guarantees it).
    void add(core::nanos t, double px) noexcept {
        std::int64_t b;
        if (size_ != 0 && t < back_end_) {
            // Still in the newest bucket (t never goes back past its start): no division, and
            // no bucket left the window since the last add.
            if (px <= back_.max) return;
            b = back_.bucket;
        } else {
            b = bucket_of(t, width_);
        }
        while (size_ != 0 && front_.bucket <= b - static_cast<std::int64_t>(cap_))
            pop_front();
        if (size_ != 0 && back_.bucket == b) {
            if (px <= back_.max) return;
            // The newest bucket's maximum rose: its entry is replaced, and the new one may
            // dominate older entries too.
            pop_back();
        }
        while (size_ != 0 && back_.max <= px)
            pop_back();
        push_back({b, px});
    }

    /// The maximum over the window ending at the last `add`; NaN when empty.
    [[nodiscard]] double max() const noexcept {
        return size_ != 0 ? front_.max : std::numeric_limits<double>::quiet_NaN();
    }
    /// The oldest bucket still in the window (its start time), for /v1/state's history figure.
    [[nodiscard]] core::nanos oldest_time() const noexcept {
        return size_ != 0 ? front_.bucket * width_ : 0;
    }
    [[nodiscard]] std::uint32_t size() const noexcept { return size_; }
    [[nodiscard]] std::uint32_t capacity() const noexcept { return cap_; }
    void reset() noexcept { size_ = head_ = 0; }
    [[nodiscard]] static constexpr std::size_t bytes_per_bucket() noexcept { return sizeof(entry); }

  private:
    struct entry {
        std::int64_t bucket = 0;
        double max = 0;
    };

    [[nodiscard]] const entry& at(std::uint32_t i) const noexcept {
        std::uint32_t k = head_ + i;
        if (k >= cap_) k -= cap_;
        return ring_[k];
    }
    void pop_front() noexcept {
        head_ = head_ + 1 == cap_ ? 0 : head_ + 1;
        if (--size_ != 0) front_ = ring_[head_];
    }
    void pop_back() noexcept {
        if (--size_ != 0) back_ = at(size_ - 1);
    }
    void push_back(entry e) noexcept {
        assert(size_ < cap_);
        std::uint32_t k = head_ + size_;
        if (k >= cap_) k -= cap_;
        ring_[k] = e;
        if (size_++ == 0) front_ = e;
        back_ = e;
        // The newest bucket's end, saturated: at the far end of time the last instant falls to
        // the division, which is right whatever the bucket.
        if (e.bucket == std::numeric_limits<std::int64_t>::max() ||
            __builtin_mul_overflow(e.bucket + 1, width_, &back_end_))
            back_end_ = std::numeric_limits<core::nanos>::max();
    }

    core::nanos width_ = 1;
    std::uint32_t cap_ = 0;
    std::uint32_t head_ = 0;
    std::uint32_t size_ = 0;
    std::unique_ptr<entry[]> ring_;
    entry front_{};
    entry back_{};
    core::nanos back_end_ = 0; // (back_.bucket + 1) * width_: where the newest bucket ends
};

} // namespace seismo::signals
