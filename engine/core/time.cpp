#include "engine/core/time.hpp"

#include <array>
#include <cstring>
#include <ctime>
#include <limits>

namespace seismo::core {
namespace {

bool digits(std::string_view s, std::size_t pos, std::size_t n, unsigned& out) noexcept {
    if (pos + n > s.size()) return false;
    unsigned v = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const char c = s[pos + i];
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    out = v;
    return true;
}

constexpr bool is_leap(std::int64_t y) noexcept {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

constexpr unsigned days_in_month(std::int64_t y, unsigned m) noexcept {
    constexpr std::array<unsigned, 12> k_days{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : k_days[m - 1];
}

void put2(char* p, unsigned v) noexcept {
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
}

} // namespace

namespace {

/// `YYYY-MM-DD(T|t| )HH:MM:` (s's first rfc3339_reader::k_minute bytes): the minute's start in
/// seconds since 1970 (not yet range-checked).
bool parse_minute(std::string_view s, std::int64_t& secs) noexcept {
    unsigned year = 0, mon = 0, day = 0, hh = 0, mm = 0;
    if (s.size() < 19 || !digits(s, 0, 4, year) || s[4] != '-' || !digits(s, 5, 2, mon) ||
        s[7] != '-' || !digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        !digits(s, 11, 2, hh) || s[13] != ':' || !digits(s, 14, 2, mm) || s[16] != ':') {
        return false;
    }
    if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) || hh > 23 || mm > 59)
        return false;
    secs = days_from_civil(year, mon, day) * 86400 + static_cast<std::int64_t>(hh) * 3600 +
           static_cast<std::int64_t>(mm) * 60;
    return true;
}

/// The rest of the time after its minute: `SS[.f{1,}](Z|z|±HH:MM)` and nothing more.
bool parse_rest(std::string_view s, std::int64_t minute_secs, nanos& out) noexcept {
    unsigned ss = 0;
    if (!digits(s, rfc3339_reader::k_minute, 2, ss) || ss > 60) return false;
    std::size_t pos = 19;
    nanos frac = 0;
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        std::size_t n = 0;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            if (n < 9) {
                frac = frac * 10 + (s[pos] - '0');
            }
            ++n;
            ++pos;
        }
        if (n == 0) return false;
        for (std::size_t i = n; i < 9; ++i)
            frac *= 10;
    }
    if (pos >= s.size()) return false;
    nanos offset = 0;
    if (s[pos] == 'Z' || s[pos] == 'z') {
        ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
        unsigned oh = 0, om = 0;
        if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
            !digits(s, pos + 4, 2, om) || oh > 23 || om > 59) {
            return false;
        }
        offset = (static_cast<nanos>(oh) * 60 + om) * k_ns_per_min;
        if (s[pos] == '-') offset = -offset;
        pos += 6;
    } else {
        return false;
    }
    if (pos != s.size()) return false;
    const std::int64_t secs = minute_secs + ss;
    // Only times a nanosecond count since 1970 can hold (to 2262-04-11): a far-future year
    // would overflow, a time before 1970 is negative, and neither is a market event.
    constexpr std::int64_t k_max_secs = std::numeric_limits<nanos>::max() / k_ns_per_s - 1;
    const std::int64_t off_secs = offset / k_ns_per_s;
    if (secs - off_secs < 0 || secs - off_secs > k_max_secs) return false;
    // The offset is whole minutes: subtracted in seconds first, so that a time near the end
    // whose offset brings it back in range does not overflow on the way.
    const nanos t = (secs - off_secs) * k_ns_per_s + frac;
    if (t < 0) return false;
    out = t;
    return true;
}

} // namespace

bool parse_rfc3339(std::string_view s, nanos& out) noexcept {
    std::int64_t minute = 0;
    return parse_minute(s, minute) && parse_rest(s, minute, out);
}

bool rfc3339_reader::parse(std::string_view s, nanos& out) noexcept {
    if (have_ && s.size() >= 19 && std::memcmp(s.data(), minute_.data(), minute_.size()) == 0)
        return parse_rest(s, minute_secs_, out);
    std::int64_t minute = 0;
    if (!parse_minute(s, minute)) return false;
    std::memcpy(minute_.data(), s.data(), minute_.size());
    minute_secs_ = minute;
    have_ = true;
    return parse_rest(s, minute, out);
}

void format_rfc3339(nanos t, char* out) noexcept {
    std::int64_t secs = t / k_ns_per_s;
    nanos frac = t % k_ns_per_s;
    if (frac < 0) {
        frac += k_ns_per_s;
        --secs;
    }
    std::int64_t days = secs / 86400;
    std::int64_t sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        --days;
    }
    // civil_from_days (Howard Hinnant)
    const std::int64_t z = days + 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2 ? 1 : 0;
    if (y < 0) y = 0;
    if (y > 9999) y = 9999;
    const auto yu = static_cast<unsigned>(y);
    put2(out, yu / 100);
    put2(out + 2, yu % 100);
    out[4] = '-';
    put2(out + 5, m);
    out[7] = '-';
    put2(out + 8, d);
    out[10] = 'T';
    const auto sodu = static_cast<unsigned>(sod);
    put2(out + 11, sodu / 3600);
    out[13] = ':';
    put2(out + 14, sodu / 60 % 60);
    out[16] = ':';
    put2(out + 17, sodu % 60);
    out[19] = '.';
    auto f = static_cast<std::uint64_t>(frac);
    for (int i = 28; i >= 20; --i) {
        out[i] = static_cast<char>('0' + f % 10);
        f /= 10;
    }
    out[29] = 'Z';
}

std::string format_rfc3339(nanos t) {
    std::string s(k_rfc3339_len, '\0');
    format_rfc3339(t, s.data());
    return s;
}

bool parse_duration(std::string_view s, nanos& out) noexcept {
    if (s == "0") {
        out = 0;
        return true;
    }
    if (s.empty()) return false;
    nanos total = 0;
    std::size_t pos = 0;
    while (pos < s.size()) {
        std::int64_t n = 0;
        std::size_t start = pos;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            const int digit = s[pos] - '0';
            if (n > (std::numeric_limits<std::int64_t>::max() - digit) / 10) return false;
            n = n * 10 + digit;
            ++pos;
        }
        if (pos == start) return false;
        std::size_t ustart = pos;
        while (pos < s.size() && s[pos] >= 'a' && s[pos] <= 'z')
            ++pos;
        const std::string_view unit = s.substr(ustart, pos - ustart);
        nanos mult = 0;
        if (unit == "ns")
            mult = 1;
        else if (unit == "us")
            mult = k_ns_per_us;
        else if (unit == "ms")
            mult = k_ns_per_ms;
        else if (unit == "s")
            mult = k_ns_per_s;
        else if (unit == "m")
            mult = k_ns_per_min;
        else if (unit == "h")
            mult = k_ns_per_hour;
        else if (unit == "d")
            mult = k_ns_per_day;
        else if (unit == "w")
            mult = 7 * k_ns_per_day;
        else
            return false;
        if (n > std::numeric_limits<std::int64_t>::max() / mult) return false;
        const nanos part = n * mult;
        if (total > std::numeric_limits<std::int64_t>::max() - part) return false;
        total += part;
    }
    out = total;
    return true;
}

std::string format_duration(nanos d) {
    if (d == 0) return "0";
    struct unit {
        nanos ns;
        const char* name;
    };
    constexpr std::array<unit, 8> k_units{{{7 * k_ns_per_day, "w"},
                                           {k_ns_per_day, "d"},
                                           {k_ns_per_hour, "h"},
                                           {k_ns_per_min, "m"},
                                           {k_ns_per_s, "s"},
                                           {k_ns_per_ms, "ms"},
                                           {k_ns_per_us, "us"},
                                           {1, "ns"}}};
    for (const auto& u : k_units) {
        if (d % u.ns == 0) return std::to_string(d / u.ns) + u.name;
    }
    return std::to_string(d) + "ns";
}

nanos realtime_now() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<nanos>(ts.tv_sec) * k_ns_per_s + ts.tv_nsec;
}

nanos monotonic_now() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<nanos>(ts.tv_sec) * k_ns_per_s + ts.tv_nsec;
}

} // namespace seismo::core
