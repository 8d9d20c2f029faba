#include "engine/core/spin.hpp"

#include <gtest/gtest.h>

namespace seismo::core {
namespace {

constexpr std::int64_t k_max = 50'000; // 50 µs

TEST(adaptive_spin, starts_at_its_maximum) {
    const adaptive_spin s(k_max);
    EXPECT_EQ(s.window(), k_max);
}

TEST(adaptive_spin, work_further_apart_than_the_maximum_stops_the_spinning) {
    adaptive_spin s(k_max);
    std::int64_t before = s.window();
    int steps = 0;
    while (s.window() != 0) {
        s.blocked_for(150'000); // ticks 200 µs apart: blocked 150 µs after a 50 µs spin
        EXPECT_LT(s.window(), before);
        before = s.window();
        ASSERT_LT(++steps, 64);
    }
    EXPECT_LE(steps, 7); // 50 -> 25 -> 12.5 -> 6.25 -> 3.1 -> 1.6 -> 0.78 (< 50/64) -> 0
    s.blocked_for(1'000'000);
    EXPECT_EQ(s.window(), 0);
}

TEST(adaptive_spin, a_short_block_grows_the_window_back_to_the_maximum) {
    adaptive_spin s(k_max);
    for (int i = 0; i < 20; ++i)
        s.blocked_for(10 * k_max);
    ASSERT_EQ(s.window(), 0);
    s.blocked_for(20'000); // would have been caught by spinning
    EXPECT_EQ(s.window(), k_max / 8);
    s.blocked_for(k_max); // exactly the maximum still counts as catchable
    EXPECT_EQ(s.window(), k_max / 4);
    for (int i = 0; i < 10; ++i)
        s.blocked_for(1'000);
    EXPECT_EQ(s.window(), k_max); // never past the maximum
}

TEST(adaptive_spin, a_zero_maximum_never_spins) {
    adaptive_spin s(0);
    EXPECT_EQ(s.window(), 0);
    s.blocked_for(10);
    EXPECT_EQ(s.window(), 0);
    s.blocked_for(1'000'000);
    EXPECT_EQ(s.window(), 0);
}

} // namespace
} // namespace seismo::core
