#pragma once
// A single-producer single-consumer byte ring for variable-length records (the journal's path
// from a feed thread, or the signal thread, to the journal writer). Lock-free: the producer
// owns `head_`, the consumer `tail_`; each sits on its own cache line. Fixed capacity, allocated
// once (rounded up to a power of two, so positions wrap with a mask); writes never allocate.
// The producer keeps its own copy of the consumer's position and rereads the shared one only
// when that copy says the ring is full, so a write touches no line the consumer writes.

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

namespace seismo::core {

class spsc_ring {
  public:
    explicit spsc_ring(std::size_t capacity)
        : cap_(std::bit_ceil(std::max<std::size_t>(capacity, 64))), mask_(cap_ - 1),
          buf_(std::make_unique<char[]>(cap_)) {}

    /// Producer: appends the concatenation of up to three spans (a record's header and its
    /// payload pieces) atomically with respect to the consumer. Returns false (writing nothing)
    /// when there is not room.
    [[nodiscard]] bool write(const void* a, std::size_t na, const void* b = nullptr,
                             std::size_t nb = 0, const void* c = nullptr,
                             std::size_t nc = 0) noexcept {
        const std::size_t head = head_.load(std::memory_order_relaxed);
        const std::size_t need = na + nb + nc;
        if (cap_ - (head - tail_seen_) < need) {
            tail_seen_ = tail_.load(std::memory_order_acquire);
            if (cap_ - (head - tail_seen_) < need) return false;
        }
        copy_in(head, a, na);
        if (nb != 0) copy_in(head + na, b, nb);
        if (nc != 0) copy_in(head + na + nb, c, nc);
        head_.store(head + need, std::memory_order_release);
        // Warm the lines the next records will land on, so that writing them (on a feed
        // thread, before the frame is parsed) does not wait for memory.
        __builtin_prefetch(buf_.get() + ((head + need + 64) & mask_), 1, 3);
        __builtin_prefetch(buf_.get() + ((head + need + 128) & mask_), 1, 3);
        return true;
    }

    /// Consumer: bytes available now.
    [[nodiscard]] std::size_t readable() const noexcept {
        return head_.load(std::memory_order_acquire) - tail_.load(std::memory_order_relaxed);
    }
    /// Consumer: copies `n` (<= readable()) bytes out and frees them.
    void read(void* out, std::size_t n) noexcept {
        const std::size_t tail = tail_.load(std::memory_order_relaxed);
        const std::size_t at = tail & mask_;
        const std::size_t first = std::min(n, cap_ - at);
        std::memcpy(out, buf_.get() + at, first);
        std::memcpy(static_cast<char*>(out) + first, buf_.get(), n - first);
        tail_.store(tail + n, std::memory_order_release);
    }
    [[nodiscard]] std::size_t capacity() const noexcept { return cap_; }

  private:
    void copy_in(std::size_t pos, const void* src, std::size_t n) noexcept {
        const std::size_t at = pos & mask_;
        const std::size_t first = std::min(n, cap_ - at);
        std::memcpy(buf_.get() + at, src, first);
        std::memcpy(buf_.get(), static_cast<const char*>(src) + first, n - first);
    }

    std::size_t cap_;
    std::size_t mask_;
    std::unique_ptr<char[]> buf_;
    alignas(64) std::atomic<std::size_t> head_{0};
    std::size_t tail_seen_ = 0; // producer's: the consumer's position when last read
    alignas(64) std::atomic<std::size_t> tail_{0};
};

} // namespace seismo::core
