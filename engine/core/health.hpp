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

/// Why a feed is down: the class of its last failure (the full text, with the venue's own
/// words, is the session's; this small code travels with the event, into triggers and the
/// journal).
enum class down_cause : std::uint8_t {
    none,    ///< not said (older journals)
    dns,     ///< the host name did not resolve
    refused, ///< TCP connection refused
    timeout, ///< connecting or a handshake timed out
    tls,     ///< the TLS handshake failed (certificate verification included)
    http,    ///< the WebSocket upgrade was answered with an HTTP status
    closed,  ///< the venue closed the WebSocket (a close code and reason)
    no_data, ///< nothing arrived for twice stale_after
    lost,    ///< the connection failed while reading
};

[[nodiscard]] constexpr const char* to_string(down_cause c) noexcept {
    switch (c) {
    case down_cause::none:
        return "none";
    case down_cause::dns:
        return "dns";
    case down_cause::refused:
        return "refused";
    case down_cause::timeout:
        return "timeout";
    case down_cause::tls:
        return "tls";
    case down_cause::http:
        return "http";
    case down_cause::closed:
        return "closed";
    case down_cause::no_data:
        return "no_data";
    case down_cause::lost:
        return "lost";
    }
    return "?";
}

struct health_event {
    health_kind kind = health_kind::up;
    nanos at = 0;            ///< when observed: the receive time of the frame or the check
    std::uint64_t value = 0; ///< see health_kind
    instrument_id inst = k_no_instrument; ///< for gaps: the instrument
    down_cause cause = down_cause::none;  ///< for down: why
};

} // namespace seismo::core
