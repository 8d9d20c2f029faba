#include "engine/core/json_writer.hpp"
#include "engine/trigger_json.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

namespace seismo::engine {
namespace {

using signals::signal_kind;

class trigger_json_test : public ::testing::Test {
  protected:
    trigger_json_test() {
        core::instrument_info x;
        x.symbol = "XAG/USD";
        (void)reg_.add(x);
        auto add = [&](std::string name, signal_kind k) {
            signals::signal_spec s;
            s.name = std::move(name);
            s.kind = k;
            s.levels = {{-0.15, signals::severity::critical}};
            specs_.push_back(std::move(s));
        };
        add("silver_crash", signal_kind::drawdown);
        add("a_share_breadth", signal_kind::breadth);
        add("liquidity_shock", signal_kind::composite);
    }

    signals::trigger base() const {
        signals::trigger t;
        t.seq = 1024;
        t.event_ts = 1770257643512000000;
        t.recv_ts = 1770257643512000000 + 5000;
        t.state = signals::trigger_state::fired;
        t.sev = signals::severity::critical;
        return t;
    }
    std::string json(const signals::trigger& t, bool deterministic = true,
                     core::nanos lat = -1) const {
        std::string out;
        append_trigger_json(out, t, specs_, reg_, deterministic, lat, &feeds_);
        return out;
    }

    core::instrument_registry reg_;
    std::vector<signals::signal_spec> specs_;
    std::vector<std::string> feeds_{"binance", "metals"};
};

TEST_F(trigger_json_test, the_design_example_shape) {
    signals::trigger t = base();
    t.signal = 0;
    t.inst = core::instrument_id{0};
    t.value = -0.1512;
    t.threshold = -0.15;
    t.px = 76.51;
    t.ref = 90.12;
    t.n_cause = 2;
    t.cause[0] = 1019;
    t.cause[1] = 1022;
    EXPECT_EQ(
        json(t),
        R"({"type":"trigger","seq":1024,"signal":"silver_crash","kind":"drawdown","state":"fired",)"
        R"("severity":"critical","instrument":"XAG/USD","value":-0.1512,"threshold":-0.15,)"
        R"("px":76.51,"ref":90.12,"event_ts":"2026-02-05T02:14:03.512000000Z","cause":[1019,1022]})");
    EXPECT_EQ(trigger_topic(t, specs_, reg_), "silver_crash/XAG/USD");
}

TEST_F(trigger_json_test, live_adds_wall_clock_fields_last_and_degraded_is_said) {
    signals::trigger t = base();
    t.signal = 0;
    t.inst = core::instrument_id{0};
    t.value = -0.2;
    t.threshold = -0.15;
    t.px = 70;
    t.degraded = true;
    const std::string live = json(t, false, 5000);
    EXPECT_NE(
        live.find(
            R"(,"degraded":true,"recv_ts":"2026-02-05T02:14:03.512005000Z","latency_ns":5000})"),
        std::string::npos)
        << live;
    EXPECT_EQ(json(t).find("recv_ts"), std::string::npos);
    EXPECT_EQ(json(t).find(R"("ref")"), std::string::npos) << "no reference: no ref field";
}

TEST_F(trigger_json_test, breadth_composite_and_feed_health) {
    signals::trigger b = base();
    b.signal = 1;
    b.value = 0.7;
    b.threshold = 0.7;
    b.count = 3500;
    b.members = 5000;
    EXPECT_EQ(
        json(b),
        R"({"type":"trigger","seq":1024,"signal":"a_share_breadth","kind":"breadth","state":"fired",)"
        R"("severity":"critical","value":0.7,"threshold":0.7,"count":3500,"members":5000,)"
        R"("event_ts":"2026-02-05T02:14:03.512000000Z","cause":[]})");
    EXPECT_EQ(trigger_topic(b, specs_, reg_), "a_share_breadth");
    signals::trigger h = base();
    h.signal = signals::k_feed_health;
    h.feed = 1;
    h.condition = signals::feed_condition::gap;
    h.sev = signals::severity::warning;
    h.value = 5;
    h.inst = core::instrument_id{0};
    EXPECT_EQ(
        json(h),
        R"({"type":"trigger","seq":1024,"signal":"feed_health","kind":"feed_health","state":"fired",)"
        R"("severity":"warning","feed":"metals","condition":"gap","instrument":"XAG/USD","value":5,)"
        R"("event_ts":"2026-02-05T02:14:03.512000000Z","cause":[]})");
    EXPECT_EQ(trigger_topic(h, specs_, reg_, &feeds_), "feed_health/metals");
    signals::trigger d = base();
    d.signal = signals::k_feed_health;
    d.feed = 1;
    d.condition = signals::feed_condition::down;
    d.sev = signals::severity::critical;
    d.value = 1;
    d.down = core::down_cause::tls;
    EXPECT_EQ(
        json(d),
        R"({"type":"trigger","seq":1024,"signal":"feed_health","kind":"feed_health","state":"fired",)"
        R"("severity":"critical","feed":"metals","condition":"down","value":1,"reason":"tls",)"
        R"("event_ts":"2026-02-05T02:14:03.512000000Z","cause":[]})");
}

TEST_F(trigger_json_test, numbers_are_the_shortest_that_read_back_and_nan_is_null) {
    signals::trigger t = base();
    t.signal = 2;
    t.value = 2;
    t.threshold = 2;
    std::string j = json(t);
    EXPECT_NE(j.find(R"("value":2,"threshold":2,)"), std::string::npos) << j;
    t.value = std::numeric_limits<double>::quiet_NaN();
    j = json(t);
    EXPECT_NE(j.find(R"("value":null)"), std::string::npos) << j;
    // Plain digits where people write them, the shortest that reads back, an exponent beyond.
    const std::vector<std::pair<double, std::string>> cases{
        {-5e-4, "-0.0005"},
        {-0.15, "-0.15"},
        {76.51, "76.51"},
        {3.2e6, "3200000"},
        {-13.9e9, "-13900000000"},
        {1e-7, "0.0000001"},
        {1e-8, "1e-08"},
        {1e17, "1e+17"},
        {0.1 + 0.2, "0.30000000000000004"},
        {0.0, "0"},
        {-0.0, "-0"},
    };
    for (const auto& [v, want] : cases) {
        std::string s;
        core::append_double(s, v);
        EXPECT_EQ(s, want) << v;
        EXPECT_EQ(std::stod(s), v) << "reads back";
    }
}

TEST_F(trigger_json_test, ticks_read_back_as_the_generic_protocol) {
    core::tick t;
    t.inst = core::instrument_id{0};
    t.venue = reg_.venue("binance");
    t.px = 76.5;
    t.sz = 0.25;
    t.exch_ts = 1770257643512000000;
    t.seq = 9;
    t.flags = core::k_seq_contiguous; // space 0, contiguous: the generic protocol's default
    t.kind = core::tick_kind::trade;
    std::string j;
    append_tick_json(j, t, reg_);
    EXPECT_EQ(
        j,
        R"({"sym":"XAG/USD","px":76.5,"ts":1770257643512000000,"sz":0.25,"seq":9,"kind":"trade","venue":"binance"})");
    t.flags = 2; // a venue's quote ids: space 2, numbers skipped by design
    j.clear();
    append_tick_json(j, t, reg_);
    EXPECT_EQ(
        j,
        R"({"sym":"XAG/USD","px":76.5,"ts":1770257643512000000,"sz":0.25,"seq":9,"seq_space":2,"seq_contiguous":false,"kind":"trade","venue":"binance"})");
    t.kind = core::tick_kind::reference;
    j.clear();
    append_tick_json(j, t, reg_);
    EXPECT_EQ(j,
              R"({"sym":"XAG/USD","prev_close":76.5,"ts":1770257643512000000,"venue":"binance"})");
}

} // namespace
} // namespace seismo::engine
