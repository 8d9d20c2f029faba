#pragma once
// What a parser makes of one frame (DESIGN §4): ticks, control, ignored, or a refusal with its
// reason (core::reject_reason, shared with the signal step and the dead-letter file).

#include "engine/core/reject.hpp"
#include "engine/core/tick.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace seismo::feeds {

using core::k_reject_reasons;
using core::reject_reason;
using core::to_string;

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
    /// Ignored, and why: a trade seismo must not apply as a market trade (an off-book print).
    static constexpr parse_result off_book(std::string_view d) noexcept {
        return {frame_status::ignored, reject_reason::malformed, d, 0};
    }
};

/// Bytes that must be readable past the end of every frame handed to a parser (simdjson's
/// SIMDJSON_PADDING; checked where simdjson is included).
inline constexpr std::size_t k_padding = 64;

/// Default frame size limit of the generic protocol (DESIGN §4).
inline constexpr std::size_t k_default_max_frame = 64 * 1024;
/// Default frame size limit of venue adapters: real venues send legitimately large frames on
/// channels seismo ignores (a Kraken book-1000 snapshot is ~80 KB).
inline constexpr std::size_t k_default_max_venue_frame = 1 << 20;

} // namespace seismo::feeds
