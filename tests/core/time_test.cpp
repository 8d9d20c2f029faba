#include "engine/core/time.hpp"

#include <gtest/gtest.h>

#include <limits>

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
