#pragma once
// Time helpers: RFC 3339 parse/format and duration strings, all allocation-free.

#include "engine/core/tick.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace seismo::core {

inline constexpr nanos k_ns_per_us = 1'000;
inline constexpr nanos k_ns_per_ms = 1'000'000;
inline constexpr nanos k_ns_per_s = 1'000'000'000;
inline constexpr nanos k_ns_per_min = 60 * k_ns_per_s;
inline constexpr nanos k_ns_per_hour = 60 * k_ns_per_min;
inline constexpr nanos k_ns_per_day = 24 * k_ns_per_hour;

/// a + b, held at the limits instead of wrapping (a time plus a configured span of any size).
[[nodiscard]] constexpr nanos sat_add(nanos a, nanos b) noexcept {
    nanos r = 0;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? std::numeric_limits<nanos>::max() : std::numeric_limits<nanos>::min();
    return r;
}
/// a - b, held at the limits instead of wrapping.
[[nodiscard]] constexpr nanos sat_sub(nanos a, nanos b) noexcept {
    nanos r = 0;
    if (__builtin_sub_overflow(a, b, &r))
        return b < 0 ? std::numeric_limits<nanos>::max() : std::numeric_limits<nanos>::min();
    return r;
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
[[nodiscard]] constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m,
                                                     unsigned d) noexcept {
    y -= m <= 2 ? 1 : 0;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

/// Parses an RFC 3339 / ISO 8601 timestamp: `YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±HH:MM)`.
/// A space may replace `T`; fractional digits past nine are truncated. Returns false on any
/// malformed input (out-of-range fields included).
[[nodiscard]] bool parse_rfc3339(std::string_view s, nanos& out) noexcept;

/// parse_rfc3339 for a run of times that mostly share their minute with the one before (a
/// capture's receive times): the last minute read (`YYYY-MM-DDTHH:MM:`) is kept with its start,
/// and a time in it reads only its seconds, fraction and offset. The same result as
/// parse_rfc3339 for every input.
class rfc3339_reader {
  public:
    [[nodiscard]] bool parse(std::string_view s, nanos& out) noexcept;

    /// Bytes of `YYYY-MM-DDTHH:MM:`, the part a run of times shares.
    static constexpr std::size_t k_minute = 17;

  private:
    std::array<char, k_minute> minute_{};
    std::int64_t minute_secs_ = 0;
    bool have_ = false;
};

/// Length of the text written by `format_rfc3339`.
inline constexpr std::size_t k_rfc3339_len = 30;

/// Writes `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` (exactly k_rfc3339_len bytes, no terminator).
void format_rfc3339(nanos t, char* out) noexcept;
[[nodiscard]] std::string format_rfc3339(nanos t);

/// Parses a duration string: one or more `<integer><unit>` groups, units ns, us, ms, s, m, h,
/// d, w (e.g. "250ms", "90s", "1h30m", "20d"). "0" alone is zero. Returns false on bad input
/// or overflow.
[[nodiscard]] bool parse_duration(std::string_view s, nanos& out) noexcept;

/// The shortest exact spelling of a duration in the units above ("6h", "1500ms").
[[nodiscard]] std::string format_duration(nanos d);

/// CLOCK_REALTIME in nanoseconds.
[[nodiscard]] nanos realtime_now() noexcept;
/// CLOCK_MONOTONIC in nanoseconds.
[[nodiscard]] nanos monotonic_now() noexcept;

} // namespace seismo::core
