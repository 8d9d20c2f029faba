#include "engine/core/time.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <string>
#include <vector>

namespace seismo::core {
namespace {

TEST(time, rfc3339_round_trip) {
    nanos t = 0;
    ASSERT_TRUE(parse_rfc3339("2026-02-05T02:14:03.512Z", t));
    EXPECT_EQ(t, 1770257643512000000LL);
    EXPECT_EQ(format_rfc3339(t), "2026-02-05T02:14:03.512000000Z");
    ASSERT_TRUE(parse_rfc3339("1970-01-01T00:00:00Z", t));
    EXPECT_EQ(t, 0);
    ASSERT_TRUE(parse_rfc3339("2021-07-22T22:25:41.0621700Z", t));
    EXPECT_EQ(format_rfc3339(t), "2021-07-22T22:25:41.062170000Z");
    ASSERT_TRUE(parse_rfc3339("2024-02-29T23:59:59.123456789123Z", t)); // extra digits dropped
    EXPECT_EQ(format_rfc3339(t), "2024-02-29T23:59:59.123456789Z");
}

TEST(time, rfc3339_offsets) {
    nanos z = 0, plus = 0, minus = 0;
    ASSERT_TRUE(parse_rfc3339("2026-02-05T02:00:00Z", z));
    ASSERT_TRUE(parse_rfc3339("2026-02-05T10:00:00+08:00", plus));
    ASSERT_TRUE(parse_rfc3339("2026-02-04 21:30:00-04:30", minus));
    EXPECT_EQ(z, plus);
    EXPECT_EQ(z, minus);
}

TEST(time, rfc3339_rejects_bad_input) {
    nanos t = 0;
    for (const char* s :
         {"", "2026-02-05", "2026-02-05T02:00:00", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
          "2025-02-29T00:00:00Z", "2026-02-05T24:00:00Z", "2026-02-05T02:00:00.Z",
          "2026-02-05T02:00:00Zjunk", "yesterday", "2026-02-05T02:00:00+8:00"}) {
        EXPECT_FALSE(parse_rfc3339(s, t)) << s;
    }
}

// Times outside what a nanosecond count since 1970 holds are refused, not wrapped (UBSan found
// the overflow by fuzzing the Coinbase adapter with a year-9999 time).
TEST(time, rfc3339_refuses_times_out_of_range) {
    nanos t = 1;
    for (const char* s :
         {"9999-12-31T23:59:59Z", "2300-01-01T00:00:00Z", "2262-04-12T00:00:00Z",
          "1900-01-01T00:00:00Z", "1969-12-31T23:59:59.999Z", "1970-01-01T00:30:00+01:00"}) {
        EXPECT_FALSE(parse_rfc3339(s, t)) << s;
    }
    EXPECT_EQ(t, 1) << "untouched";
    ASSERT_TRUE(parse_rfc3339("2262-04-10T23:59:59.999999999Z", t));
    EXPECT_GT(t, 0);
    ASSERT_TRUE(parse_rfc3339("1970-01-01T00:30:00+00:30", t));
    EXPECT_EQ(t, 0);
    // Past the end in its own zone, in range in UTC (UBSan: the seconds overflowed as
    // nanoseconds before the offset came off; found by the reader's oracle test below).
    nanos local = 0, utc = 0;
    ASSERT_TRUE(parse_rfc3339("2262-04-11T23:59:59.5+08:00", local));
    ASSERT_TRUE(parse_rfc3339("2262-04-11T15:59:59.5Z", utc));
    EXPECT_EQ(local, utc);
}

// The reader that keeps the last minute (a capture's receive times) against parse_rfc3339, on a
// run of times mostly in a few minutes with one byte in eight lines changed, cut or extended:
// the same answer and the same time for every one, whatever came before it.
TEST(time, rfc3339_reader_reads_as_parse_rfc3339_does) {
    std::mt19937_64 rng(2026);
    const std::vector<std::string> minutes = {
        "2026-02-05T02:14:", "2026-02-05T02:15:", "2024-02-29T23:59:", "2025-02-29T00:00:",
        "2262-04-11T23:47:", "2262-04-12T00:00:", "1970-01-01T00:00:", "1969-12-31T23:59:",
        "2026-02-05 02:14:", "2026-02-05t02:14:", "2026-12-31T23:59:"};
    const std::string bytes = "0123456789:-+.TtZz x";
    rfc3339_reader reader;
    std::size_t accepted = 0, refused = 0, cached = 0;
    std::string last_minute;
    std::size_t minute = 0;
    for (int i = 0; i < 200'000; ++i) {
        if (rng() % 40 == 0) minute = rng() % minutes.size(); // runs of one minute
        std::string s = minutes[minute];
        const unsigned ss = static_cast<unsigned>(rng() % 62);
        s += static_cast<char>('0' + ss / 10);
        s += static_cast<char>('0' + ss % 10);
        if (rng() % 4 != 0) {
            s += '.';
            for (std::size_t d = rng() % 12; d > 0; --d)
                s += static_cast<char>('0' + rng() % 10);
        }
        switch (rng() % 5) {
        case 0:
            s += "+08:00";
            break;
        case 1:
            s += "-04:30";
            break;
        default:
            s += 'Z';
        }
        switch (rng() % 8) {
        case 0:
            s[rng() % s.size()] = bytes[rng() % bytes.size()];
            break;
        case 1:
            s.resize(rng() % s.size());
            break;
        case 2:
            s += bytes[rng() % bytes.size()];
            break;
        default:
            break;
        }
        if (s.size() >= 17 && s.compare(0, 17, last_minute) == 0) ++cached;
        if (s.size() >= 17) last_minute = s.substr(0, 17);
        nanos want = -7, got = -7;
        const bool ok = parse_rfc3339(s, want);
        ASSERT_EQ(reader.parse(s, got), ok) << s;
        ASSERT_EQ(got, want) << s;
        ++(ok ? accepted : refused);
    }
    EXPECT_GT(accepted, 50'000u);
    EXPECT_GT(refused, 50'000u);
    EXPECT_GT(cached, 100'000u) << "most times share the minute before theirs";
}

TEST(time, format_before_epoch) {
    EXPECT_EQ(format_rfc3339(-1), "1969-12-31T23:59:59.999999999Z");
}

TEST(time, durations) {
    nanos d = 0;
    ASSERT_TRUE(parse_duration("250ms", d));
    EXPECT_EQ(d, 250 * k_ns_per_ms);
    ASSERT_TRUE(parse_duration("1h30m", d));
    EXPECT_EQ(d, 90 * k_ns_per_min);
    ASSERT_TRUE(parse_duration("20d", d));
    EXPECT_EQ(d, 20 * k_ns_per_day);
    ASSERT_TRUE(parse_duration("0", d));
    EXPECT_EQ(d, 0);
    for (const char* s : {"", "5", "ms", "1.5s", "-1s", "10 s", "3y", "99999999999999999999d"}) {
        EXPECT_FALSE(parse_duration(s, d)) << s;
    }
    // found by fuzz_time: INT64_MAX + 1 in digits overflowed the accumulator (UBSan)
    EXPECT_FALSE(parse_duration("9223372036854775808ns", d));
    ASSERT_TRUE(parse_duration("9223372036854775807ns", d));
    EXPECT_EQ(d, std::numeric_limits<nanos>::max());
    EXPECT_EQ(format_duration(6 * k_ns_per_hour), "6h");
    EXPECT_EQ(format_duration(1500 * k_ns_per_ms), "1500ms");
}

} // namespace
} // namespace seismo::core
