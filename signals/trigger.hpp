#pragma once
// A trigger as the signal thread produces it: a fixed-size value, serialised to JSON later by
// whoever publishes it (DESIGN §6).

#include "engine/core/health.hpp"
#include "signals/levels.hpp"
#include "signals/spec.hpp"

#include <array>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace seismo::signals {

/// `trigger::signal` of feed-health triggers (DESIGN §11): not a configured signal.
inline constexpr std::uint32_t k_feed_health = 0xffffffffu;

/// What a feed-health trigger reports (`trigger::condition`).
enum class feed_condition : std::uint8_t { down, stale, gap };

[[nodiscard]] constexpr const char* to_string(feed_condition c) noexcept {
    return c == feed_condition::down ? "down" : c == feed_condition::stale ? "stale" : "gap";
}

/// Why a `cleared` trigger ended its level other than by the value (hot reload, DESIGN §9).
enum class end_reason : std::uint8_t {
    none,
    removed,    ///< the signal left the config
    changed,    ///< the signal's definition changed: it restarts
    relevelled, ///< the signal's levels changed and this level is not among the new ones
};

[[nodiscard]] constexpr const char* to_string(end_reason r) noexcept {
    return r == end_reason::removed      ? "removed"
           : r == end_reason::changed    ? "changed"
           : r == end_reason::relevelled ? "relevelled"
                                         : "";
}

struct trigger {
    std::uint64_t seq = 0;    ///< gap-free per engine run, from 1
    core::nanos event_ts = 0; ///< event time of the step that produced it
    core::nanos recv_ts = 0;  ///< receive time of the tick that caused it
    double value = std::numeric_limits<double>::quiet_NaN();
    double threshold = std::numeric_limits<double>::quiet_NaN();
    double px = std::numeric_limits<double>::quiet_NaN();  ///< NaN for breadth and composites
    double ref = std::numeric_limits<double>::quiet_NaN(); ///< reference price, NaN when none
    std::uint32_t signal = 0;                              ///< index into graph::specs()
    core::instrument_id inst = core::k_no_instrument;      ///< none for breadth and composites
    std::uint32_t count = 0;   ///< breadth: members at or below member_at
    std::uint32_t members = 0; ///< breadth: members with a reference and a fresh tick
    trigger_state state = trigger_state::fired;
    severity sev = severity::info;
    std::uint8_t level = 0;                          ///< index into the signal's levels
    bool degraded = false;                           ///< an input of the signal is stale
    feed_condition condition = feed_condition::down; ///< feed-health triggers only
    std::uint16_t feed = 0; ///< feed-health triggers: the feed's index in the config
    core::down_cause down = core::down_cause::none; ///< feed-health `down` triggers: why
    std::uint8_t n_cause = 0;
    end_reason reason = end_reason::none; ///< cleared by a reload: why
    std::uint32_t gen = 0; ///< the config generation whose signal this is (0: the first)
    std::array<std::uint64_t, k_max_composite_inputs> cause{}; ///< composites: input trigger seqs
};

static_assert(std::is_trivially_copyable_v<trigger>);

/// Receives triggers on the signal thread, in seq order. Called rarely (once per trigger), so a
/// virtual call is fine here.
class trigger_sink {
  public:
    virtual ~trigger_sink() = default;
    virtual void on_trigger(const trigger& t) = 0;
};

} // namespace seismo::signals
