#pragma once
// The normalized tick: the one value type that crosses from feed threads to the signal thread.

#include <cstdint>
#include <type_traits>

namespace seismo::core {

/// Integer nanoseconds since the Unix epoch (event and receive times) or a duration.
using nanos = std::int64_t;

/// Dense id of an instrument in the registry. A strong type: mixing it up with a venue id or an
/// index into some other table is a real risk, so conversions are explicit.
enum class instrument_id : std::uint32_t {};
/// Dense id of a venue name ("binance", "generic", ...).
enum class venue_id : std::uint16_t {};

inline constexpr instrument_id k_no_instrument{0xffffffffu};

[[nodiscard]] constexpr std::uint32_t index(instrument_id id) noexcept {
    return static_cast<std::uint32_t>(id);
}
[[nodiscard]] constexpr std::uint16_t index(venue_id id) noexcept {
    return static_cast<std::uint16_t>(id);
}

/// What a tick says about its instrument.
enum class tick_kind : std::uint8_t {
    trade,     ///< one executed trade
    quote,     ///< top of book or ticker: bid/ask mid when both exist, else last price
    value,     ///< a generic-protocol observation (index level, fixing, macro gauge)
    reference, ///< not a price: px carries a new previous close for the instrument
};

[[nodiscard]] constexpr const char* to_string(tick_kind k) noexcept {
    switch (k) {
    case tick_kind::trade:
        return "trade";
    case tick_kind::quote:
        return "quote";
    case tick_kind::value:
        return "value";
    case tick_kind::reference:
        return "reference";
    }
    return "value";
}

/// `tick::flags`: which number space `seq` belongs to (a venue channel: trades and quotes of
/// one instrument are numbered separately), and whether the venue keeps it contiguous there, so
/// that a jump is a gap rather than a skip by design.
inline constexpr std::uint8_t k_seq_space_mask = 0x3;
inline constexpr std::uint8_t k_seq_contiguous = 0x4;
/// The venue resends this tick as routine (Coinbase's `last_match` after every subscribe): a
/// repeat of it is protocol traffic, ignored, not a `duplicate` refusal.
inline constexpr std::uint8_t k_seq_repeatable = 0x8;

/// A normalized market observation. Trivially copyable and 48 bytes, so a queue slot is one cache
/// line and copying it is a couple of vector moves.
struct tick {
    nanos exch_ts = 0;     ///< exchange (event) time, 0 when the source gives none
    nanos recv_ts = 0;     ///< CLOCK_REALTIME at frame arrival; the journal's time in replay
    double px = 0;         ///< price or level; for `reference` ticks, the new previous close
    double sz = 0;         ///< size, 0 when the source gives none
    std::uint64_t seq = 0; ///< venue sequence number, 0 when none
    instrument_id inst = k_no_instrument;
    venue_id venue{0};
    tick_kind kind = tick_kind::value;
    std::uint8_t flags = 0; ///< k_seq_space_mask, k_seq_contiguous, k_seq_repeatable

    /// Event time: the exchange timestamp when present, otherwise the receive time.
    [[nodiscard]] constexpr nanos event_ts() const noexcept {
        return exch_ts != 0 ? exch_ts : recv_ts;
    }
};

static_assert(std::is_trivially_copyable_v<tick>);
static_assert(sizeof(tick) <= 64, "a tick must fit one cache line");

} // namespace seismo::core
