#include "signals/step.hpp"
#include "tests/signals/test_util.hpp"

#include <gtest/gtest.h>

namespace seismo::signals {
namespace {

using core::health_kind;
using seismo::testing::collector;
using seismo::testing::k_ms;
using seismo::testing::k_t0;
using seismo::testing::make_registry;
using seismo::testing::spec;
using seismo::testing::tk;

core::health_event ev(health_kind k, core::nanos at, std::uint64_t value = 0,
                      core::instrument_id inst = core::k_no_instrument) {
    return {k, at, value, inst};
}

/// A breadth over A and B (both counting when 5% under their previous close of 100).
signal_spec both_down() {
    signal_spec s = spec("both_down", signal_kind::breadth, {{1.0, severity::critical}});
    s.select = {selector{selector::by::tag, "t"}};
    s.ref = ref_kind::prev_close;
    s.member_at = -0.05;
    s.min_members = 2;
    return s;
}

TEST(step, health_transitions_become_feed_health_triggers_once_each) {
    auto reg = make_registry(1);
    graph g({spec("a_low", signal_kind::level, {{10, severity::warning}})}, *reg);
    step s(g, 2);
    collector out;
    s.health(0, ev(health_kind::up, k_t0), out); // up while up: nothing
    EXPECT_TRUE(out.out.empty());
    s.health(0, ev(health_kind::down, k_t0 + 1, 3), out);
    s.health(0, ev(health_kind::down, k_t0 + 2, 4), out); // still down: nothing new
    ASSERT_EQ(out.out.size(), 1u);
    EXPECT_EQ(out.out[0].signal, k_feed_health);
    EXPECT_EQ(out.out[0].condition, feed_condition::down);
    EXPECT_EQ(out.out[0].state, trigger_state::fired);
    EXPECT_EQ(out.out[0].sev, severity::critical);
    EXPECT_EQ(out.out[0].value, 3);
    EXPECT_EQ(out.out[0].event_ts, k_t0 + 1);
    EXPECT_TRUE(s.down(0));
    s.health(0, ev(health_kind::up, k_t0 + 3), out);
    ASSERT_EQ(out.out.size(), 2u);
    EXPECT_EQ(out.out[1].state, trigger_state::cleared);
    EXPECT_FALSE(s.down(0));
    // stale / fresh the same way, warning; feed 1 is independent of feed 0
    s.health(1, ev(health_kind::stale, k_t0 + 4, 412), out);
    s.health(1, ev(health_kind::stale, k_t0 + 5, 800), out);
    s.health(1, ev(health_kind::fresh, k_t0 + 6), out);
    s.health(1, ev(health_kind::fresh, k_t0 + 7), out);
    ASSERT_EQ(out.out.size(), 4u);
    EXPECT_EQ(out.out[2].condition, feed_condition::stale);
    EXPECT_EQ(out.out[2].feed, 1);
    EXPECT_EQ(out.out[2].sev, severity::warning);
    EXPECT_EQ(out.out[3].state, trigger_state::cleared);
    // a gap fires every time and never clears
    s.health(1, ev(health_kind::gap, k_t0 + 8, 5, core::instrument_id{0}), out);
    s.health(1, ev(health_kind::gap, k_t0 + 9, 2, core::instrument_id{0}), out);
    ASSERT_EQ(out.out.size(), 6u);
    EXPECT_EQ(out.out[5].condition, feed_condition::gap);
    EXPECT_EQ(out.out[5].inst, core::instrument_id{0});
    EXPECT_EQ(out.out[5].value, 2);
    // seq is shared with the graph's triggers and gap-free
    for (std::size_t i = 0; i < out.out.size(); ++i)
        EXPECT_EQ(out.out[i].seq, i + 1);
}

TEST(step, an_instrument_is_stale_only_while_every_feed_that_delivered_it_is_unhealthy) {
    auto reg = make_registry(2, 100.0);
    graph g({both_down()}, *reg);
    step s(g, 2);
    collector out;
    // A comes from feeds 0 and 1, B from feed 1 only; both fall 10%.
    EXPECT_EQ(s.tick(0, tk(0, k_t0, 90), out), apply_status::applied);
    EXPECT_EQ(s.tick(1, tk(0, k_t0 + k_ms, 90), out), apply_status::applied);
    EXPECT_EQ(s.tick(1, tk(1, k_t0 + 2 * k_ms, 90), out), apply_status::applied);
    ASSERT_EQ(out.out.size(), 1u); // both_down fired: 2 of 2
    EXPECT_EQ(out.out[0].members, 2u);
    out.clear();
    // Feed 1 goes stale: B (feed 1 only) leaves the denominator, A (still fresh on feed 0)
    // stays; the ratio stays 1/1 and the breadth is degraded.
    s.health(1, ev(health_kind::stale, k_t0 + 3 * k_ms), out);
    ASSERT_EQ(out.out.size(), 1u); // the stale trigger; the breadth level holds
    bool degraded = false;
    std::uint32_t members = 0;
    g.visit([&](const value_view& v) {
        degraded = v.degraded;
        members = v.members;
    });
    EXPECT_TRUE(degraded);
    EXPECT_EQ(members, 1u);
    // Feed 0 goes down too: A has no healthy feed left, no member is eligible, the ratio is
    // undefined (NaN): the fired level stays as it was (no chatter on missing data).
    s.health(0, ev(health_kind::down, k_t0 + 4 * k_ms), out);
    g.visit([&](const value_view& v) { members = v.members; });
    EXPECT_EQ(members, 0u);
    // Feed 1 fresh again: A and B back (A via feed 1).
    s.health(1, ev(health_kind::fresh, k_t0 + 5 * k_ms), out);
    g.visit([&](const value_view& v) {
        members = v.members;
        degraded = v.degraded;
    });
    EXPECT_EQ(members, 2u);
    EXPECT_FALSE(degraded);
}

TEST(step, ticks_go_through_the_graph_and_late_ones_are_refused) {
    auto reg = make_registry(1);
    signal_spec a_low = spec("a_low", signal_kind::level, {{95, severity::warning}});
    a_low.instruments = {"A"};
    graph g({a_low}, *reg);
    step s(g, 1);
    collector out;
    EXPECT_EQ(s.tick(0, tk(0, k_t0 + 10 * k_ms, 100), out), apply_status::applied);
    EXPECT_EQ(s.tick(0, tk(0, k_t0, 90), out), apply_status::late); // lateness 0
    EXPECT_TRUE(out.out.empty());
    EXPECT_EQ(s.tick(0, tk(0, k_t0 + 11 * k_ms, 90), out), apply_status::applied);
    ASSERT_EQ(out.out.size(), 1u);
    EXPECT_EQ(out.out[0].signal, 0u);
}

TEST(step, refuses_more_feeds_than_it_can_tell_apart) {
    auto reg = make_registry(1);
    graph g({}, *reg);
    EXPECT_NO_THROW(step(g, k_max_feeds));
    EXPECT_THROW(step(g, k_max_feeds + 1), std::invalid_argument);
}

} // namespace
} // namespace seismo::signals
