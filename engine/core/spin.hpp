#pragma once
// One step of a spin-wait: tells the CPU this is a wait loop (the sibling hyper-thread gets the
// core, and leaving the loop does not flush the pipeline on a memory-order mis-speculation).
// And the adaptive window a thread spins for before it blocks.

#include <algorithm>
#include <cstdint>

namespace seismo::core {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

/// How long a thread spins after its last work before it blocks, adapted to the gaps it sees
/// (as the kernel's haltpoll does): a wait that blocked and was woken within `max` would have
/// been caught by spinning, so the window doubles (to `max`); a wait that blocked longer than
/// `max` could not have been, so the window halves (to 0). Work arriving every 200 µs against a
/// 50 µs `max` so stops the spinning within a few ticks, instead of burning a quarter of a core;
/// a request–reply pace inside the window keeps it.
class adaptive_spin {
  public:
    explicit adaptive_spin(std::int64_t max_ns) noexcept : max_(max_ns), window_(max_ns) {}

    /// The current window, in ns.
    [[nodiscard]] std::int64_t window() const noexcept { return window_; }

    /// After a blocking wait that ended with work: it lasted `blocked_ns`.
    void blocked_for(std::int64_t blocked_ns) noexcept {
        if (max_ <= 0) return;
        if (blocked_ns <= max_) {
            window_ = std::min(max_, std::max(window_ * 2, max_ / 8));
        } else {
            window_ /= 2;
            if (window_ < max_ / 64) window_ = 0;
        }
    }

  private:
    std::int64_t max_;
    std::int64_t window_;
};

} // namespace seismo::core
