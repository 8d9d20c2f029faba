#pragma once
// Feed health (DESIGN §11): what a feed source reports about itself, and what the signal step
// turns into feed_health triggers and instrument staleness. Shared by feeds/live (which observes
// it), the journal (which records it) and signals/ (which judges it).

#include "engine/core/tick.hpp"

#include <cstdint>

namespace seismo::core {

/// Health transitions a feed reports.
enum class health_kind : std::uint8_t {
    up,    ///< connected and subscribed
    down,  ///< connection lost or failed (value: consecutive failures)
    stale, ///< no data frame for stale_after (value: ms since the last one)
    fresh, ///< data again after stale
    gap,   ///< venue sequence numbers skipped (value: numbers missing)
};

[[nodiscard]] constexpr const char* to_string(health_kind k) noexcept {
    switch (k) {
    case health_kind::up:
        return "up";
    case health_kind::down:
        return "down";
    case health_kind::stale:
        return "stale";
    case health_kind::fresh:
        return "fresh";
    case health_kind::gap:
        return "gap";
    }
    return "?";
}

struct health_event {
    health_kind kind = health_kind::up;
    nanos at = 0;            ///< when observed: the receive time of the frame or the check
    std::uint64_t value = 0; ///< see health_kind
    instrument_id inst = k_no_instrument; ///< for gaps: the instrument
};

} // namespace seismo::core
