// The small calculators on their own: trailing_max, change_history, ew_stats, evaluate_levels.
#include "signals/change_history.hpp"
#include "signals/ew_stats.hpp"
#include "signals/levels.hpp"
#include "signals/trailing_max.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace seismo::signals {
namespace {

TEST(bucket, floor_division_for_negative_times) {
    EXPECT_EQ(bucket_of(-1, 10), -1);
    EXPECT_EQ(bucket_of(-10, 10), -1);
    EXPECT_EQ(bucket_of(-11, 10), -2);
    EXPECT_EQ(bucket_of(0, 10), 0);
    EXPECT_EQ(bucket_of(19, 10), 1);
    EXPECT_EQ(buckets_for(25, 10), 3);
    EXPECT_EQ(buckets_for(30, 10), 3);
}

TEST(trailing_max, matches_a_scan_of_the_same_buckets) {
    std::mt19937_64 rng(7);
    for (int round = 0; round < 300; ++round) {
        // Narrow buckets (a new one every tick or two), then wide ones: many ticks per bucket,
        // whose maximum rises in place while older buckets are still in the window.
        const core::nanos width = 1 + static_cast<core::nanos>(rng() % (round < 200 ? 5 : 40));
        const std::int64_t nb = 1 + static_cast<std::int64_t>(rng() % 8);
        trailing_max tm(width, nb);
        std::vector<std::pair<core::nanos, double>> seen;
        core::nanos t = static_cast<core::nanos>(rng() % 100);
        for (int i = 0; i < 300; ++i) {
            t += static_cast<core::nanos>(rng() % 4);
            const double px = static_cast<double>(rng() % 50);
            tm.add(t, px);
            seen.emplace_back(t, px);
            double want = -1;
            for (const auto& [ts, p] : seen) {
                if (bucket_of(ts, width) > bucket_of(t, width) - nb) want = std::max(want, p);
            }
            ASSERT_EQ(tm.max(), want) << "round " << round << " step " << i;
            ASSERT_LE(tm.size(), static_cast<std::uint32_t>(nb));
        }
    }
}

/// The newest bucket's end is kept to skip a division per tick; at the ends of the time axis it
/// saturates, and the window still matches a scan.
TEST(trailing_max, at_the_ends_of_time_matches_a_scan) {
    constexpr core::nanos k_max = std::numeric_limits<core::nanos>::max();
    constexpr core::nanos k_min = std::numeric_limits<core::nanos>::min();
    struct run {
        core::nanos width;
        core::nanos start;
        core::nanos step;
    };
    const run k_runs[] = {{7, k_max - 60, 1},
                          {1, k_max - 20, 1},
                          {k_max / 3, k_max - 2 * (k_max / 3) - 5, k_max / 7},
                          {10, k_min, 3},
                          {k_max / 2, k_min, k_max / 5}};
    std::mt19937_64 rng(3);
    for (const run& r : k_runs) {
        trailing_max tm(r.width, 3);
        std::vector<std::pair<core::nanos, double>> seen;
        core::nanos t = r.start;
        for (int i = 0; i < 40; ++i) {
            const double px = static_cast<double>(rng() % 50);
            tm.add(t, px);
            seen.emplace_back(t, px);
            double want = -1;
            for (const auto& [ts, p] : seen) {
                if (bucket_of(ts, r.width) > bucket_of(t, r.width) - 3) want = std::max(want, p);
            }
            ASSERT_EQ(tm.max(), want) << "width " << r.width << " t " << t;
            if (t > k_max - r.step) break;
            if (rng() % 3 != 0) t += r.step; // some ticks share a time
        }
    }
}

TEST(change_history, reference_is_latest_kept_observation_at_or_before_lookback) {
    change_history h(10, 100);
    EXPECT_TRUE(std::isnan(h.add(0, 1.0)));
    EXPECT_TRUE(std::isnan(h.add(5, 2.0))); // same bucket: replaces 1.0 as the kept one
    EXPECT_TRUE(std::isnan(h.add(50, 3.0)));
    EXPECT_TRUE(std::isnan(h.add(104, 4.0))); // q = 4: the kept observation is at 5
    EXPECT_EQ(h.add(105, 5.0), 2.0);          // q = 5
    EXPECT_EQ(h.add(149, 6.0), 2.0);
    EXPECT_EQ(h.add(150, 7.0), 3.0); // q = 50
    EXPECT_EQ(h.ref_time(), 50);
    // A long silence: the last observation before it stays the reference.
    EXPECT_EQ(h.add(10'000, 8.0), 7.0);
    EXPECT_LE(h.size(), h.capacity());
}

TEST(ew_stats, equals_the_weighted_definition) {
    // Weights: the first change 1, then a_k = 1 - 2^(-dt/h) for each later one.
    const core::nanos hl = 100;
    ew_stats st(hl);
    const std::vector<std::pair<double, core::nanos>> xs{
        {1.0, 0}, {3.0, 50}, {-2.0, 100}, {0.5, 25}, {4.0, 200}};
    for (const auto& [d, dt] : xs)
        st.add(d, dt);
    std::vector<double> w(xs.size());
    for (std::size_t k = 0; k < xs.size(); ++k) {
        double wk = k == 0 ? 1.0 : 1.0 - std::exp2(-static_cast<double>(xs[k].second) / hl);
        for (std::size_t j = k + 1; j < xs.size(); ++j)
            wk *= std::exp2(-static_cast<double>(xs[j].second) / hl);
        w[k] = wk;
    }
    double mean = 0, var = 0, sum = 0;
    for (std::size_t k = 0; k < xs.size(); ++k) {
        mean += w[k] * xs[k].first;
        sum += w[k];
    }
    for (std::size_t k = 0; k < xs.size(); ++k)
        var += w[k] * (xs[k].first - mean) * (xs[k].first - mean);
    EXPECT_NEAR(sum, 1.0, 1e-12);
    EXPECT_NEAR(st.mean(), mean, 1e-12);
    EXPECT_NEAR(st.variance(), var, 1e-12);
    EXPECT_NEAR(st.zscore(2.0), (2.0 - mean) / std::sqrt(var), 1e-9);
    EXPECT_EQ(st.count(), 5u);
}

TEST(ew_stats, equal_timestamps_give_no_weight) {
    ew_stats st(100);
    st.add(1.0, 0);
    st.add(2.0, 10);
    const double m = st.mean(), v = st.variance();
    st.add(1000.0, 0);
    EXPECT_EQ(st.mean(), m);
    EXPECT_EQ(st.variance(), v);
}

TEST(levels, nan_changes_nothing_and_bits_track_each_level) {
    signal_spec s;
    s.dir = direction::below;
    s.levels = {{-1.0, severity::warning}, {-2.0, severity::critical}};
    s.rearm = 0.5;
    std::uint64_t fired = 0;
    std::vector<std::pair<std::size_t, trigger_state>> ev;
    auto emit = [&](std::size_t i, trigger_state st) { ev.emplace_back(i, st); };
    evaluate_levels(s, fired, std::nan(""), emit);
    EXPECT_TRUE(ev.empty());
    evaluate_levels(s, fired, -2.0, emit);
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(fired, 3u);
    evaluate_levels(s, fired, -1.4, emit); // clears -2 (> -1.5), keeps -1
    ASSERT_EQ(ev.size(), 3u);
    EXPECT_EQ(ev[2], std::make_pair(std::size_t{1}, trigger_state::cleared));
    EXPECT_EQ(fired, 1u);
}

} // namespace
} // namespace seismo::signals
