#pragma once
// What crosses between the live runtime's threads (docs/architecture.md): feed events from the
// feed host to the signal thread, refusals on their way to the writer thread's dead-letter
// file. Internal to engine/.

#include "engine/core/health.hpp"
#include "engine/core/reject.hpp"
#include "engine/core/tick.hpp"

#include <concurrentqueue/blockingconcurrentqueue.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <type_traits>

namespace seismo::engine {

/// One item from a feed to the signal thread: a tick, or a health event (then `t.exch_ts` is
/// the observation time, `t.seq` the value, `t.inst` the instrument of a gap).
struct feed_event {
    core::tick t;
    std::uint16_t feed = 0;
    bool health = false;
    core::health_kind kind = core::health_kind::up;
    core::down_cause cause = core::down_cause::none;
    std::uint16_t index = 0; ///< the tick's place among its frame's ticks (journal order)
    std::uint32_t frame = 0; ///< the frame's number within its feed (journal order)

    [[nodiscard]] core::health_event health_event() const noexcept {
        return {kind, t.exch_ts, t.seq, t.inst, cause};
    }
};
static_assert(sizeof(feed_event) <= 64);
static_assert(std::is_trivially_copyable_v<feed_event>);

using event_queue = moodycamel::BlockingConcurrentQueue<feed_event>;

/// A refused frame or tick on its way to the dead-letter file (allocates: refusals only).
struct dead_record {
    std::uint16_t feed = 0;
    std::uint32_t frame_no = 0;
    core::reject_reason reason = core::reject_reason::malformed;
    core::nanos recv_ts = 0;
    std::string detail;
    std::string frame; ///< the raw frame (refused by a feed's pipeline)
    core::tick tick{}; ///< the normalized tick (refused by the signal step: late)
    bool has_tick = false;
};

/// Refusals from any thread to the writer thread, bounded: a flood of garbage must not grow
/// memory without limit, so past `k_limit` pending records they are counted as dropped (the
/// refusal itself is still counted by reason where it happened).
class dead_queue {
  public:
    static constexpr std::int64_t k_limit = 100'000;

    void push(dead_record r) {
        if (pending_.load(std::memory_order_relaxed) > k_limit) {
            dropped_.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        pending_.fetch_add(1, std::memory_order_relaxed);
        q_.enqueue(std::move(r));
    }
    bool pop(dead_record& r) {
        if (!q_.try_dequeue(r)) return false;
        pending_.fetch_sub(1, std::memory_order_relaxed);
        return true;
    }
    [[nodiscard]] std::int64_t pending() const noexcept {
        return std::max<std::int64_t>(0, pending_.load(std::memory_order_relaxed));
    }
    [[nodiscard]] std::uint64_t dropped() const noexcept {
        return dropped_.load(std::memory_order_relaxed);
    }

  private:
    moodycamel::ConcurrentQueue<dead_record> q_;
    std::atomic<std::int64_t> pending_{0};
    std::atomic<std::uint64_t> dropped_{0};
};

} // namespace seismo::engine
