#pragma once
// What a parser makes of one frame, and the reasons a frame or tick is refused (DESIGN §4).

#include "engine/core/tick.hpp"

#include <array>
#include <cstdint>
#include <string_view>

namespace seismo::feeds {

/// Why input was not applied. Each is a label of seismo_feed_rejected_total{reason} and a
/// dead-letter reason.
enum class reject_reason : std::uint8_t {
    malformed,     ///< not JSON, or not the shape the venue sends
    missing_field, ///< a required field is absent
    bad_field,     ///< a field has the wrong type or an impossible value
    non_finite,    ///< NaN or infinite number
    non_positive,  ///< price <= 0 for a `price` instrument
    oversize,      ///< larger than the frame size limit
    bad_timestamp, ///< timestamp unparseable or negative
    late,          ///< older than its instrument's last event time by more than the lateness
    duplicate,     ///< venue sequence number not after the last one applied
    registry_full, ///< a new symbol and no room in the instrument registry
    count_
};

inline constexpr std::size_t k_reject_reasons = static_cast<std::size_t>(reject_reason::count_);

[[nodiscard]] constexpr std::string_view to_string(reject_reason r) noexcept {
    constexpr std::array<std::string_view, k_reject_reasons> k_names{
        "malformed", "missing_field", "bad_field", "non_finite", "non_positive",
        "oversize",  "bad_timestamp", "late",      "duplicate",  "registry_full"};
    return k_names[static_cast<std::size_t>(r)];
}

enum class frame_status : std::uint8_t {
    ticks,    ///< produced one or more ticks (appended to the caller's buffer)
    ignored,  ///< valid, but nothing seismo uses (a channel it does not read, an empty line)
    control,  ///< subscribe acks, heartbeats, pongs, status and error notices
    rejected, ///< bad input: see reason and detail
};

struct parse_result {
    frame_status status = frame_status::ignored;
    reject_reason reason = reject_reason::malformed;
    std::string_view detail; ///< static text for the dead letter (e.g. "px: expected a number")
    /// A per-connection message number, where the venue has one (Coinbase Advanced Trade's
    /// `sequence_num`); 0 otherwise. The session judges gaps on it.
    std::uint64_t connection_seq = 0;

    static constexpr parse_result of(frame_status s) noexcept {
        return {s, reject_reason::malformed, {}, 0};
    }
    static constexpr parse_result reject(reject_reason r, std::string_view d) noexcept {
        return {frame_status::rejected, r, d, 0};
    }
};

/// Default frame size limit (DESIGN §4).
inline constexpr std::size_t k_default_max_frame = 64 * 1024;

} // namespace seismo::feeds
