#pragma once
// Why input was not applied (DESIGN §4): one vocabulary for the parsers that refuse frames, the
// signal step that refuses late ticks, the dead-letter file and the metrics.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace seismo::core {

/// Each is a label of seismo_feed_rejected_total{reason} and a dead-letter reason.
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

} // namespace seismo::core
