#pragma once
// Helpers shared by the parsers: numbers that may arrive as strings, and simdjson error mapping.
// Internal to feeds/ (.cpp files only): it pulls in simdjson.

#include "feeds/frame.hpp"

#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <string_view>

namespace seismo::feeds::detail {

namespace od = simdjson::ondemand;

enum class num_status : std::uint8_t { ok, wrong_type, non_finite, malformed };

/// Parses a decimal number from text (e.g. "76.51", "0E-8", "1e5"): the whole text must be the
/// number. NaN and infinities, spelled out or overflowing, give non_finite.
[[nodiscard]] inline num_status parse_decimal(std::string_view s, double& out) noexcept {
    if (s.empty()) return num_status::wrong_type;
    const char* b = s.data();
    const char* e = b + s.size();
    if (*b == '+') ++b;
    double v = 0;
    const auto r = std::from_chars(b, e, v);
    if (r.ec == std::errc::result_out_of_range) {
        // Overflow is non-finite; underflow (1e-999) reads as zero.
        bool neg_exp = false;
        for (const char* p = b; p != e; ++p) {
            if ((*p == 'e' || *p == 'E') && p + 1 != e && p[1] == '-') neg_exp = true;
        }
        if (!neg_exp) return num_status::non_finite;
        out = 0.0;
        return num_status::ok;
    }
    if (r.ec != std::errc{} || r.ptr != e) return num_status::wrong_type;
    if (!std::isfinite(v)) return num_status::non_finite;
    out = v;
    return num_status::ok;
}

/// Reads a JSON number or a string holding one.
[[nodiscard]] inline num_status read_number(od::value& v, double& out) noexcept {
    // Fast path: a plain number (a failed get_double consumes nothing).
    double d = 0;
    if (v.get_double().get(d) == simdjson::SUCCESS) {
        out = d;
        return num_status::ok;
    }
    od::json_type t{};
    if (v.type().get(t) != simdjson::SUCCESS) return num_status::malformed;
    if (t == od::json_type::number) {
        // Out of double range (1e999): judge the text.
        std::string_view raw = v.raw_json_token();
        while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' ||
                                raw.back() == '\t')) {
            raw.remove_suffix(1);
        }
        const num_status st = parse_decimal(raw, d);
        if (st == num_status::ok) out = d;
        return st == num_status::wrong_type ? num_status::malformed : st;
    }
    if (t == od::json_type::string) {
        std::string_view s;
        if (v.get_string().get(s) != simdjson::SUCCESS) return num_status::malformed;
        return parse_decimal(s, out);
    }
    return num_status::wrong_type;
}

/// Reads an unsigned integer, as a number or a string of digits.
[[nodiscard]] inline bool read_uint(od::value& v, std::uint64_t& out) noexcept {
    od::json_type t{};
    if (v.type().get(t) != simdjson::SUCCESS) return false;
    if (t == od::json_type::number) return v.get_uint64().get(out) == simdjson::SUCCESS;
    if (t == od::json_type::string) {
        std::string_view s;
        if (v.get_string().get(s) != simdjson::SUCCESS || s.empty()) return false;
        const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
        return r.ec == std::errc{} && r.ptr == s.data() + s.size();
    }
    return false;
}

/// Maps a numeric read failure to a rejection naming the field.
[[nodiscard]] inline parse_result number_error(num_status st, std::string_view wrong_type,
                                               std::string_view non_finite) noexcept {
    switch (st) {
    case num_status::non_finite:
        return parse_result::reject(reject_reason::non_finite, non_finite);
    case num_status::malformed:
        return parse_result::reject(reject_reason::malformed, "not valid JSON");
    default:
        return parse_result::reject(reject_reason::bad_field, wrong_type);
    }
}

} // namespace seismo::feeds::detail
