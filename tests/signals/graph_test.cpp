// Edge cases of the signal graph, one behaviour per test.
#include "signals/graph.hpp"
#include "tests/signals/test_util.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace seismo::signals {
namespace {

using testing::collector;
using testing::k_ms;
using testing::k_t0;
using testing::make_registry;
using testing::spec;
using testing::tk;

TEST(graph, level_fires_when_value_is_exactly_at_the_level) {
    auto reg_owner = make_registry(1);
    auto& reg = *reg_owner;
    auto s = spec("lvl", signal_kind::level, {{100.0, severity::critical}});
    s.instruments = {"A"};
    graph g({s}, reg);
    collector c;
    g.apply(tk(0, k_t0, 100.5), c);
    EXPECT_TRUE(c.out.empty());
    g.apply(tk(0, k_t0 + k_ms, 100.0), c);
    ASSERT_EQ(c.out.size(), 1u);
    EXPECT_EQ(c.out[0].state, trigger_state::fired);
    EXPECT_EQ(c.out[0].value, 100.0);
    EXPECT_EQ(c.out[0].threshold, 100.0);
    // Holding below does not fire again.
    g.apply(tk(0, k_t0 + 2 * k_ms, 99.0), c);
    g.apply(tk(0, k_t0 + 3 * k_ms, 98.0), c);
    EXPECT_EQ(c.out.size(), 1u);
}

TEST(graph, above_direction_fires_at_level_and_clears_below_level_minus_rearm) {
    auto reg_owner = make_registry(1, 0, core::value_kind::level);
    auto& reg = *reg_owner;
    auto s = spec("up", signal_kind::level, {{10.0, severity::warning}});
    s.dir = direction::above;
    s.rearm = 2.0;
    s.instruments = {"A"};
    graph g({s}, reg);
    collector c;
    g.apply(tk(0, k_t0, 10.0), c);
    ASSERT_EQ(c.out.size(), 1u);
    g.apply(tk(0, k_t0 + 1, 8.0), c); // exactly at - rearm: not below it yet
    EXPECT_EQ(c.out.size(), 1u);
    g.apply(tk(0, k_t0 + 2, 7.999), c);
    ASSERT_EQ(c.out.size(), 2u);
    EXPECT_EQ(c.out[1].state, trigger_state::cleared);
}

TEST(graph, rearm_boundary_below) {
    auto reg_owner = make_registry(1);
    auto& reg = *reg_owner;
    auto s = spec("lvl", signal_kind::level, {{71000.0, severity::critical}});
    s.rearm = 500;
    s.instruments = {"A"};
    graph g({s}, reg);
    collector c;
    g.apply(tk(0, k_t0, 70990.0), c);
    ASSERT_EQ(c.out.size(), 1u);
    g.apply(tk(0, k_t0 + 1, 71500.0), c); // exactly at + rearm: still fired
    EXPECT_EQ(c.out.size(), 1u);
    g.apply(tk(0, k_t0 + 2, 71200.0), c); // back down: no new fire while it holds
    EXPECT_EQ(c.out.size(), 1u);
    g.apply(tk(0, k_t0 + 3, 71500.01), c);
    ASSERT_EQ(c.out.size(), 2u);
    EXPECT_EQ(c.out[1].state, trigger_state::cleared);
    g.apply(tk(0, k_t0 + 4, 71000.0), c); // re-armed: fires again
    ASSERT_EQ(c.out.size(), 3u);
    EXPECT_EQ(c.out[2].state, trigger_state::fired);
    EXPECT_EQ(c.out[2].seq, 3u);
}

TEST(graph, several_levels_fire_in_declaration_order_in_one_step) {
    auto reg_owner = make_registry(1);
    auto& reg = *reg_owner;
    auto s = spec("dd", signal_kind::drawdown,
                  {{-0.08, severity::warning}, {-0.15, severity::critical}});
    s.window = 1000 * k_ms;
    s.instruments = {"A"};
    graph g({s}, reg);
    collector c;
    g.apply(tk(0, k_t0, 100.0), c);
    g.apply(tk(0, k_t0 + k_ms, 80.0), c);
    ASSERT_EQ(c.out.size(), 2u);
    EXPECT_EQ(c.out[0].sev, severity::warning);
    EXPECT_EQ(c.out[1].sev, severity::critical);
    EXPECT_EQ(c.out[0].seq + 1, c.out[1].seq);
    EXPECT_DOUBLE_EQ(c.out[1].value, -0.2);
    EXPECT_EQ(c.out[1].ref, 100.0);
    EXPECT_EQ(c.out[1].px, 80.0);
}

TEST(graph, drawdown_window_expires_the_old_maximum) {
    auto reg_owner = make_registry(1);
    auto& reg = *reg_owner;
    auto s = spec("dd", signal_kind::drawdown, {{-0.10, severity::critical}});
    s.window = 10 * k_ms;
    s.resolution = k_ms; // 10 buckets: the window is buckets (b(now)-10, b(now)]
    s.instruments = {"A"};
    graph g({s}, reg);
    collector c;
    g.apply(tk(0, k_t0, 100.0), c);           // bucket b0
    g.apply(tk(0, k_t0 + 9 * k_ms, 95.0), c); // b0+9: 100 still in the window
    g.apply(tk(0, k_t0 + 9 * k_ms, 89.0), c); // -11% vs 100
    ASSERT_EQ(c.out.size(), 1u);
    c.clear();
    // At b0+10 the bucket holding 100 has left: the max is 95, value 90/95-1 > -10%.
    g.apply(tk(0, k_t0 + 10 * k_ms, 90.0), c);
    ASSERT_EQ(c.out.size(), 1u);
    EXPECT_EQ(c.out[0].state, trigger_state::cleared);
    EXPECT_EQ(c.out[0].ref, 95.0);
    EXPECT_NEAR(c.out[0].value, 90.0 / 95.0 - 1.0, 1e-15);
}

TEST(graph, drawdown_during_warm_up_measures_from_the_oldest_tick) {
    auto reg_owner = make_registry(1);
    auto& reg = *reg_owner;
    auto s = spec("dd", signal_kind::drawdown, {{-0.05, severity::critical}});
    s.window = 24 * 3600 * 1000 * k_ms;
    s.instruments = {"A"};
    graph g({s}, reg);
    collector c;
    g.apply(tk(0, k_t0, 100.0), c);
    g.apply(tk(0, k_t0 + k_ms, 94.0), c); // two ticks of history, a real 6% fall
    ASSERT_EQ(c.out.size(), 1u);
}

TEST(graph, drawdown_against_prev_close_and_reference_updates) {
    auto reg_owner = make_registry(1);
    auto& reg = *reg_owner;
    auto s = spec("dd", signal_kind::drawdown, {{-0.01, severity::warning}});
    s.ref = ref_kind::prev_close;
    s.instruments = {"A"};
    graph g({s}, reg);
    collector c;
    g.apply(tk(0, k_t0, 50.0), c); // no previous close yet: no value
    EXPECT_TRUE(c.out.empty());
    core::tick ref = tk(0, k_t0 + 1, 100.0);
    ref.kind = core::tick_kind::reference;
    EXPECT_EQ(g.apply(ref, c), apply_status::reference);
    EXPECT_TRUE(c.out.empty()); // takes effect at the next tick
    g.apply(tk(0, k_t0 + 2, 98.9), c);
    ASSERT_EQ(c.out.size(), 1u);
    EXPECT_EQ(c.out[0].ref, 100.0);
}

TEST(graph, late_ticks_are_refused_and_equal_timestamps_apply_in_arrival_order) {
    core::instrument_registry reg;
    core::instrument_info a;
    a.symbol = "A";
    a.lateness = 5 * k_ms;
    (void)reg.add(a);
    auto s = spec("lvl", signal_kind::level, {{10.0, severity::warning}});
    s.instruments = {"A"};
    graph g({s}, reg);
    collector c;
    EXPECT_EQ(g.apply(tk(0, k_t0, 20.0), c), apply_status::applied);
    EXPECT_EQ(g.apply(tk(0, k_t0, 9.0), c), apply_status::applied); // equal time
    ASSERT_EQ(c.out.size(), 1u);
    EXPECT_EQ(c.out[0].event_ts, k_t0);
    // Within lateness: applied at the instrument's last event time (clamped).
    EXPECT_EQ(g.apply(tk(0, k_t0 - 5 * k_ms, 20.0), c), apply_status::applied);
    ASSERT_EQ(c.out.size(), 2u);
    EXPECT_EQ(c.out[1].event_ts, k_t0);
    // Beyond lateness: refused, nothing changes.
    EXPECT_EQ(g.apply(tk(0, k_t0 - 5 * k_ms - 1, 5.0), c), apply_status::late);
    EXPECT_EQ(c.out.size(), 2u);
}

TEST(graph, change_uses_latest_observation_at_or_before_lookback) {
    auto reg_owner = make_registry(1, 0, core::value_kind::level);
    auto& reg = *reg_owner;
    auto s = spec("chg", signal_kind::change, {{-10.0, severity::warning}});
    s.lookback = 100 * k_ms;
    s.resolution = k_ms;
    s.instruments = {"A"};
    graph g({s}, reg);
    collector c;
    g.apply(tk(0, k_t0, 100.0), c);
    g.apply(tk(0, k_t0 + 50 * k_ms, 200.0), c);
    g.apply(tk(0, k_t0 + 99 * k_ms, 89.0), c); // no observation 100 ms back yet
    EXPECT_TRUE(c.out.empty());
    g.apply(tk(0, k_t0 + 100 * k_ms, 89.5), c); // ref = the one at t0 (exactly lookback ago)
    ASSERT_EQ(c.out.size(), 1u);
    EXPECT_EQ(c.out[0].ref, 100.0);
    EXPECT_EQ(c.out[0].value, -10.5);
    g.apply(tk(0, k_t0 + 150 * k_ms, 189.0), c); // ref = 200 (at +50ms): -11, still fired
    EXPECT_EQ(c.out.size(), 1u);
    g.apply(tk(0, k_t0 + 151 * k_ms, 195.0), c); // -5 vs 200: clears
    ASSERT_EQ(c.out.size(), 2u);
    EXPECT_EQ(c.out[1].state, trigger_state::cleared);
}

TEST(graph, zscore_does_not_fire_before_min_count) {
    auto reg_owner = make_registry(1, 0, core::value_kind::level);
    auto& reg = *reg_owner;
    auto s = spec("z", signal_kind::zscore, {{3.0, severity::warning}});
    s.halflife = 10 * k_ms;
    s.min_count = 5;
    s.instruments = {"A"};
    graph g({s}, reg);
    collector c;
    double x = 0;
    const double steps[] = {0.1, -0.1, 0.12, -0.09};
    g.apply(tk(0, k_t0, x), c);
    for (int i = 0; i < 4; ++i)
        g.apply(tk(0, k_t0 + (i + 1) * k_ms, x += steps[i]), c);
    g.apply(tk(0, k_t0 + 5 * k_ms, x += 50.0), c); // a huge jump, but only 4 changes seen
    EXPECT_TRUE(c.out.empty());
    std::vector<value_view> vs;
    g.visit([&](const value_view& v) { vs.push_back(v); });
    ASSERT_EQ(vs.size(), 1u);
    EXPECT_GT(vs[0].value, 3.0); // the value is there; only firing waits
    g.apply(tk(0, k_t0 + 6 * k_ms, x -= 0.05), c);
    g.apply(tk(0, k_t0 + 7 * k_ms, x += 80.0), c); // 6 changes seen now: fires
    ASSERT_EQ(c.out.size(), 1u);
    EXPECT_EQ(c.out[0].sev, severity::warning);
}

TEST(graph, breadth_members_arrive_and_go_stale) {
    auto reg_owner = make_registry(4, 100.0);
    auto& reg = *reg_owner;
    auto s = spec("br", signal_kind::breadth, {{0.75, severity::critical}});
    s.ref = ref_kind::prev_close;
    s.member_at = -0.01;
    s.min_members = 3;
    s.select = {{selector::by::tag, "t"}};
    graph g({s}, reg);
    collector c;
    g.apply(tk(0, k_t0, 98.0), c);
    g.apply(tk(1, k_t0 + 1, 98.0), c);
    EXPECT_TRUE(c.out.empty());         // 2 members with ticks: below min_members
    g.apply(tk(2, k_t0 + 2, 100.0), c); // 3 members, 2 counting: 0.67
    EXPECT_TRUE(c.out.empty());
    g.apply(tk(3, k_t0 + 3, 97.0), c); // 4 members, 3 counting: 0.75
    ASSERT_EQ(c.out.size(), 1u);
    EXPECT_EQ(c.out[0].count, 3u);
    EXPECT_EQ(c.out[0].members, 4u);
    EXPECT_EQ(c.out[0].inst, core::k_no_instrument);
    // A counting member goes stale: 2 of 3 fresh members count, 0.67: clears.
    g.set_stale(core::instrument_id{0}, true, k_t0 + 4, c);
    ASSERT_EQ(c.out.size(), 2u);
    EXPECT_EQ(c.out[1].state, trigger_state::cleared);
    EXPECT_EQ(c.out[1].members, 3u);
    EXPECT_TRUE(c.out[1].degraded);
    // Fresh again: back in the denominator.
    g.set_stale(core::instrument_id{0}, false, k_t0 + 5, c);
    ASSERT_EQ(c.out.size(), 3u);
    EXPECT_EQ(c.out[2].state, trigger_state::fired);
    EXPECT_FALSE(c.out[2].degraded);
}

TEST(graph, breadth_counts_instruments_first_seen_after_start_through_selectors) {
    core::instrument_registry reg;
    core::instrument_template t;
    t.globs = {"*.SH"};
    t.tags = {"a_share"};
    reg.add_template(t);
    auto s = spec("br", signal_kind::breadth, {{0.5, severity::warning}});
    s.ref = ref_kind::session_open;
    s.member_at = -0.05; // an unchanged price (0%) must not count
    s.select = {{selector::by::tag, "a_share"}};
    graph g({s}, reg);
    collector c;
    const auto x = reg.resolve(reg.venue("generic"), "600000.SH");
    const auto y = reg.resolve(reg.venue("generic"), "600001.SH");
    const auto z = reg.resolve(reg.venue("generic"), "OTHER");
    g.apply(tk(core::index(x), k_t0, 10.0), c);
    g.apply(tk(core::index(z), k_t0, 10.0), c);
    g.apply(tk(core::index(y), k_t0, 10.0), c);
    EXPECT_EQ(g.members(0), 2u);
    g.apply(tk(core::index(x), k_t0 + 1, 9.0), c); // 1 of 2 below the open: 0.5
    ASSERT_EQ(c.out.size(), 1u);
    EXPECT_EQ(c.out[0].members, 2u);
}

TEST(graph, an_instrument_in_many_signals_updates_each_once_in_signal_order) {
    // Six signals on A, more than an instrument keeps inline: the last lists A by name (its
    // member made first), the others select it by tag, one of them listing it by name too.
    auto reg = make_registry(2);
    std::vector<signal_spec> specs;
    for (int i = 0; i < 6; ++i) {
        auto s = spec("lv" + std::to_string(i), signal_kind::level, {{50.0, severity::warning}});
        if (i == 5)
            s.instruments = {"A"};
        else
            s.select = {{selector::by::tag, "t"}};
        if (i == 2) s.instruments = {"A"};
        specs.push_back(s);
    }
    graph g(specs, *reg);
    collector c;
    for (std::uint32_t n = 0; n < 6; ++n)
        EXPECT_EQ(g.members(n), n == 5 ? 1u : 2u) << "signal " << n;
    g.apply(tk(0, k_t0, 40.0), c);
    ASSERT_EQ(c.out.size(), 6u);
    for (std::uint32_t n = 0; n < 6; ++n)
        EXPECT_EQ(c.out[n].signal, n) << "each signal once, in signal order";
    c.clear();
    g.apply(tk(1, k_t0, 40.0), c);
    ASSERT_EQ(c.out.size(), 5u) << "B is in the five selecting signals";
    for (std::uint32_t n = 0; n < 5; ++n)
        EXPECT_EQ(c.out[n].signal, n);
}

TEST(graph, composite_fires_in_the_same_step_and_expires_by_within) {
    auto reg_owner = make_registry(2);
    auto& reg = *reg_owner;
    auto a = spec("a", signal_kind::level, {{10.0, severity::warning}});
    a.instruments = {"A"};
    auto b = spec("b", signal_kind::level, {{10.0, severity::warning}});
    b.instruments = {"B"};
    auto comp = spec("both", signal_kind::composite, {{2.0, severity::critical}});
    comp.inputs = {"a", "b"};
    comp.within = 100 * k_ms;
    graph g({comp, a, b}, reg); // declared before its inputs: evaluated after them
    collector c;
    g.apply(tk(0, k_t0, 9.0), c);              // a fires (seq 1)
    g.apply(tk(1, k_t0 + 100 * k_ms, 9.0), c); // b fires (seq 2); a fired exactly `within` ago
    ASSERT_EQ(c.out.size(), 3u);
    EXPECT_EQ(c.out[2].signal, 0u);
    EXPECT_EQ(c.out[2].state, trigger_state::fired);
    EXPECT_EQ(c.out[2].event_ts, k_t0 + 100 * k_ms);
    ASSERT_EQ(c.out[2].n_cause, 2);
    EXPECT_EQ(c.out[2].cause[0], 1u);
    EXPECT_EQ(c.out[2].cause[1], 2u);
    // One ns later, a's fire is older than `within`: the composite drops to 1 and clears.
    g.apply(tk(1, k_t0 + 100 * k_ms + 1, 9.5), c);
    ASSERT_EQ(c.out.size(), 4u);
    EXPECT_EQ(c.out[3].state, trigger_state::cleared);
    EXPECT_EQ(c.out[3].value, 1.0);
}

TEST(graph, nested_composites_evaluate_in_topological_order) {
    auto reg_owner = make_registry(1);
    auto& reg = *reg_owner;
    auto a = spec("a", signal_kind::level, {{10.0, severity::warning}});
    a.instruments = {"A"};
    auto inner = spec("inner", signal_kind::composite, {{1.0, severity::warning}});
    inner.inputs = {"a"};
    inner.within = k_ms;
    auto outer = spec("outer", signal_kind::composite, {{1.0, severity::critical}});
    outer.inputs = {"inner"};
    outer.within = k_ms;
    graph g({outer, inner, a}, reg);
    collector c;
    g.apply(tk(0, k_t0, 5.0), c);
    ASSERT_EQ(c.out.size(), 3u);
    EXPECT_EQ(g.specs()[c.out[0].signal].name, "a");
    EXPECT_EQ(g.specs()[c.out[1].signal].name, "inner");
    EXPECT_EQ(g.specs()[c.out[2].signal].name, "outer");
    EXPECT_EQ(c.out[2].cause[0], c.out[1].seq);
}

TEST(graph, cycles_and_unknown_inputs_are_refused) {
    auto reg_owner = make_registry(1);
    auto& reg = *reg_owner;
    auto x = spec("x", signal_kind::composite, {{1.0, severity::warning}});
    x.inputs = {"y"};
    x.within = k_ms;
    auto y = spec("y", signal_kind::composite, {{1.0, severity::warning}});
    y.inputs = {"x"};
    y.within = k_ms;
    EXPECT_THROW(graph({x, y}, reg), std::invalid_argument);
    auto z = spec("z", signal_kind::composite, {{1.0, severity::warning}});
    z.inputs = {"nope"};
    z.within = k_ms;
    EXPECT_THROW(graph({z}, reg), std::invalid_argument);
}

TEST(graph, window_state_is_bounded_by_buckets_not_ticks) {
    auto reg_owner = make_registry(2);
    auto& reg = *reg_owner;
    auto s = spec("dd", signal_kind::drawdown, {{-0.5, severity::warning}});
    s.window = 24LL * 3600 * 1000 * k_ms; // 24h at the default W/256 resolution
    s.instruments = {"A"};
    graph one({s}, reg);
    s.instruments = {"A", "B"};
    graph two({s}, reg);
    // Memory per instrument per window signal (DESIGN §12: <= 4 KiB at default resolution) plus
    // its hot state (<= 256 B).
    const std::size_t per_instrument = two.state_bytes() - one.state_bytes();
    EXPECT_LE(per_instrument, 4096u + 256u);
    collector c;
    const std::size_t before = one.state_bytes();
    // A million ticks over two days, strictly falling prices (the worst case for a deque).
    for (int i = 0; i < 1'000'000; ++i) {
        one.apply(tk(0, k_t0 + static_cast<core::nanos>(i) * 172'800 * k_ms / 1000, 1e6 - i), c);
    }
    EXPECT_EQ(one.state_bytes(), before);
}

} // namespace
} // namespace seismo::signals
