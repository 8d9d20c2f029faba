#pragma once
// Appending JSON fragments to a caller-owned std::string. With the string's capacity reserved
// up front (and `clear()` keeping it), writing a record allocates nothing.

#include "engine/core/tick.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

namespace seismo::core {

/// Appends `s` as a quoted JSON string, escaping quotes, backslashes and control bytes. Bytes
/// that are not valid UTF-8 are written as \u00XX of the byte so the output always parses.
void append_json_string(std::string& out, std::string_view s);

/// Appends the shortest text that reads back as exactly `v`; `null` for NaN and infinities.
/// The shortest decimal that reads back as `v` (std::to_chars), written as people write numbers:
/// plain digits for magnitudes from 1e-7 to 1e17 (-0.0005, not -5e-04; 3200000, not 3.2e+06),
/// an exponent beyond; NaN and infinities as null. Deterministic: the same double, the same
/// bytes.
inline void append_double(std::string& out, double v) {
    if (!std::isfinite(v)) {
        out += "null";
        return;
    }
    char buf[64];
    const double m = std::fabs(v);
    const auto fmt = m == 0 || (m >= 1e-7 && m < 1e17) ? std::chars_format::fixed
                                                       : std::chars_format::scientific;
    const auto r = std::to_chars(buf, buf + sizeof buf, v, fmt);
    out.append(buf, r.ptr);
}

inline void append_int(std::string& out, std::int64_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

inline void append_uint(std::string& out, std::uint64_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

/// Appends `"YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ"` (quoted).
void append_json_time(std::string& out, nanos t);

} // namespace seismo::core
