#pragma once
// Trailing maximum over an event-time window, kept as a monotonic deque of bucket maxima.
//
// Buckets are `width` ns wide; the window is the newest `nbuckets` buckets, i.e. bucket indices
// in (b(now) - nbuckets, b(now)]. The deque holds at most one entry per bucket with strictly
// decreasing maxima, so memory is fixed at construction (nbuckets entries of 16 bytes) whatever
// the tick rate, and each push is O(1) amortised.
//
// The deque's newest entry lives only in the object itself (`back_`), never in the ring, with a
// copy of the oldest (`front_`) and the maximum of the one before the newest (`prev_max_`). A
// tick in the newest bucket therefore reads and writes no ring entry, whether or not it raises
// the bucket's maximum: with ticks far denser than buckets (a 1 m resolution), the ring is
// touched once per bucket, when the next one starts — with 100 k instruments each touch is a
// cache miss, after the object's own. The end of the newest bucket is kept too: a tick before it
// needs no division to find its bucket.

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
            if (px < prev_max_) {
                // The newest bucket's maximum rose and dominates nothing older.
                back_.max = px;
                if (size_ == 1) front_.max = px;
                return;
            }
            b = back_.bucket;
            drop_back(); // replaced below by {b, px}
        } else {
            b = bucket_of(t, width_);
            while (size_ != 0 && front_.bucket <= b - static_cast<std::int64_t>(cap_))
                pop_front();
        }
        while (size_ != 0 && back_.max <= px)
            drop_back();
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
    void reset() noexcept {
        size_ = head_ = 0;
        prev_max_ = k_inf;
    }
    [[nodiscard]] static constexpr std::size_t bytes_per_bucket() noexcept { return sizeof(entry); }

  private:
    struct entry {
        std::int64_t bucket = 0;
        double max = 0;
    };
    static constexpr double k_inf = std::numeric_limits<double>::infinity();

    /// The ring slot of the deque's i-th entry (0 = oldest); the newest is never read from it.
    [[nodiscard]] std::uint32_t slot(std::uint32_t i) const noexcept {
        std::uint32_t k = head_ + i;
        return k >= cap_ ? k - cap_ : k;
    }
    void pop_front() noexcept {
        head_ = head_ + 1 == cap_ ? 0 : head_ + 1;
        --size_;
        if (size_ == 1) {
            front_ = back_;
            prev_max_ = k_inf;
        } else if (size_ != 0) {
            front_ = ring_[head_];
        }
    }
    /// Drops the newest entry; the one before it, if any, becomes the newest.
    void drop_back() noexcept {
        if (--size_ == 0) return;
        back_ = ring_[slot(size_ - 1)];
        prev_max_ = size_ >= 2 ? ring_[slot(size_ - 2)].max : k_inf;
        set_back_end();
    }
    void push_back(entry e) noexcept {
        assert(size_ < cap_);
        if (size_ != 0) {
            // The newest entry so far goes to the ring as the new one takes its place.
            ring_[slot(size_ - 1)] = back_;
            prev_max_ = back_.max;
        } else {
            front_ = e;
            prev_max_ = k_inf;
        }
        ++size_;
        back_ = e;
        set_back_end();
    }
    /// The newest bucket's end, saturated: at the far end of time the last instant falls to the
    /// division, which is right whatever the bucket.
    void set_back_end() noexcept {
        if (back_.bucket == std::numeric_limits<std::int64_t>::max() ||
            __builtin_mul_overflow(back_.bucket + 1, width_, &back_end_))
            back_end_ = std::numeric_limits<core::nanos>::max();
    }

    core::nanos width_ = 1;
    std::uint32_t cap_ = 0;
    std::uint32_t head_ = 0;
    std::uint32_t size_ = 0;
    std::unique_ptr<entry[]> ring_;
    entry front_{};            // the oldest entry (a copy of back_ when it is the only one)
    entry back_{};             // the newest entry, held only here
    double prev_max_ = k_inf;  // the maximum of the entry before back_; +inf when there is none
    core::nanos back_end_ = 0; // (back_.bucket + 1) * width_: where the newest bucket ends
};

} // namespace seismo::signals
