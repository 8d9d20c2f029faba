// Hot reload of the signal graph (signals/reload.hpp, graph::adopt): what each signal keeps,
// checked against runs that never reloaded and against a naive level judgement.
#include "signals/graph.hpp"
#include "signals/levels.hpp"
#include "signals/reload.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "test_util.hpp"

namespace seismo::signals {
namespace {

using testing::collector;
using testing::k_ms;
using testing::k_t0;
using testing::spec;
using testing::tk;

constexpr core::nanos k_min = 60'000 * k_ms;

signal_spec drawdown(std::string name, std::string inst, core::nanos window,
                     std::vector<level> levels, double rearm = 0.002) {
    auto s = spec(std::move(name), signal_kind::drawdown, std::move(levels));
    s.instruments = {std::move(inst)};
    s.window = window;
    s.rearm = rearm;
    return s;
}

signal_spec below(std::string name, std::string inst, double at) {
    auto s = spec(std::move(name), signal_kind::level, {{at, severity::warning}});
    s.instruments = {std::move(inst)};
    s.rearm = 1;
    return s;
}

std::vector<signal_spec> old_specs() {
    std::vector<signal_spec> v;
    v.push_back(drawdown("dd_keep", "A", 10 * k_min,
                         {{-0.01, severity::warning}, {-0.02, severity::critical}}));
    v.push_back(drawdown("dd_relevel", "B", 10 * k_min,
                         {{-0.01, severity::warning}, {-0.02, severity::critical}}));
    v.push_back(below("gone", "C", 99.5));
    v.push_back(drawdown("changed", "D", 10 * k_min, {{-0.01, severity::warning}}));
    auto br = spec("br", signal_kind::breadth, {{0.3, severity::warning}});
    br.select = {{selector::by::tag, "t"}};
    br.window = 10 * k_min;
    br.member_at = -0.005;
    br.rearm = 0.05;
    v.push_back(br);
    auto comp = spec("comp", signal_kind::composite, {{2, severity::critical}});
    comp.inputs = {"dd_keep", "br"};
    comp.within = 5 * k_min;
    v.push_back(comp);
    return v;
}

/// The same signals in another order, one relevelled, one restarted, one removed, one added.
std::vector<signal_spec> new_specs() {
    const auto o = old_specs();
    std::vector<signal_spec> v;
    v.push_back(o[4]); // br: kept
    auto rl = o[1];
    rl.levels = {
        {-0.01, severity::warning}, {-0.03, severity::critical}, {-0.05, severity::critical}};
    v.push_back(rl); // dd_relevel: level 0 stays, level 1 changes, level 2 is new
    auto ch = o[3];
    ch.window = 20 * k_min;
    v.push_back(ch);                        // changed: restarted
    v.push_back(o[0]);                      // dd_keep: kept, at another position
    v.push_back(below("fresh", "E", 99.5)); // added
    v.push_back(o[5]);                      // comp: kept (its inputs are kept)
    return v;                               // "gone" is removed
}

/// Random walks for A..F, a tick a second round-robin, with a slump in the middle so that
/// levels are active when the reload comes.
std::vector<core::tick> walk(std::size_t n) {
    std::mt19937_64 rng(7);
    std::normal_distribution<double> step(0, 0.0015);
    std::vector<double> px(6, 100);
    std::vector<core::tick> out;
    for (std::size_t i = 0; i < n; ++i) {
        const auto inst = static_cast<std::uint32_t>(i % 6);
        const double drift = (i > n / 3 && i < n / 2) ? -0.0012 : (i > 2 * n / 3 ? 0.0006 : 0);
        px[inst] *= std::exp(step(rng) + drift);
        out.push_back(tk(inst, k_t0 + static_cast<core::nanos>(i) * 1000 * k_ms, px[inst]));
    }
    return out;
}

struct named {
    std::string signal;
    std::uint32_t inst;
    std::uint8_t level;
    trigger_state state;
    double value;
    core::nanos ts;
    end_reason reason;
    bool operator==(const named&) const = default;
};

std::vector<named> by_name(const std::vector<trigger>& ts, const std::vector<signal_spec>& a,
                           const std::vector<signal_spec>& b, std::uint32_t gen_b,
                           const std::string& only, core::nanos from = 0) {
    std::vector<named> out;
    for (const auto& t : ts) {
        const auto& specs = t.gen == gen_b ? b : a;
        if (specs[t.signal].name != only || t.event_ts < from) continue;
        out.push_back({specs[t.signal].name, core::index(t.inst), t.level, t.state, t.value,
                       t.event_ts, t.reason});
    }
    return out;
}

class reload_test : public ::testing::Test {
  protected:
    void SetUp() override {
        reg_ = testing::make_registry(6); // A..F, tag "t"
        ticks_ = walk(6000);
        half_ = ticks_.size() / 2;
        reload_ts_ = ticks_[half_].event_ts();
        // Never reloaded: the old config throughout, and the new one throughout.
        graph old_only(old_specs(), *reg_);
        for (const auto& t : ticks_)
            old_only.apply(t, old_only_);
        // Reloaded at half_: the new graph is built while the old one runs.
        graph g(old_specs(), *reg_);
        for (std::size_t i = 0; i < half_; ++i)
            g.apply(ticks_[i], reloaded_);
        g.visit([&](const value_view& v) { fired_before_[g.specs()[v.signal].name] |= v.fired; });
        graph_options go;
        go.generation = 1;
        graph next(new_specs(), *reg_, go);
        plan_ = plan_reload(old_specs(), new_specs());
        clears_from_ = reloaded_.out.size();
        next.adopt(g, plan_, reloaded_);
        clears_to_ = reloaded_.out.size();
        for (std::size_t i = half_; i < ticks_.size(); ++i)
            next.apply(ticks_[i], reloaded_);
    }

    /// A graph of `s` alone fed the ticks from the reload on (what warm-up from the reload is).
    std::vector<named> fresh_from_reload(const signal_spec& s) const {
        graph f({s}, *reg_);
        collector c;
        for (std::size_t i = half_; i < ticks_.size(); ++i)
            f.apply(ticks_[i], c);
        std::vector<named> out;
        for (const auto& t : c.out)
            out.push_back(
                {s.name, core::index(t.inst), t.level, t.state, t.value, t.event_ts, t.reason});
        return out;
    }

    /// The reloaded run's triggers of `name`: all of them, or from the reload's clears on.
    std::vector<named> reloaded(const std::string& name, bool from_reload = false) const {
        std::vector<trigger> ts(reloaded_.out.begin() +
                                    static_cast<std::ptrdiff_t>(from_reload ? clears_from_ : 0),
                                reloaded_.out.end());
        return by_name(ts, old_specs(), new_specs(), 1, name);
    }
    std::vector<named> never(const std::string& name, core::nanos from = 0) const {
        return by_name(old_only_.out, old_specs(), old_specs(), 0, name, from);
    }

    std::unique_ptr<core::instrument_registry> reg_;
    std::vector<core::tick> ticks_;
    std::size_t half_ = 0;
    core::nanos reload_ts_ = 0;
    collector old_only_, reloaded_;
    std::map<std::string, std::uint64_t> fired_before_;
    reload_plan plan_;
    std::size_t clears_from_ = 0, clears_to_ = 0;
};

TEST(reload_plan_test, matches_by_definition_not_position) {
    const auto p = plan_reload(old_specs(), new_specs());
    ASSERT_EQ(p.how.size(), 6u);
    EXPECT_EQ(p.how[0], carry::kept);
    EXPECT_EQ(p.from[0], 4);
    EXPECT_EQ(p.how[1], carry::relevelled);
    EXPECT_EQ(p.from[1], 1);
    EXPECT_EQ(p.how[2], carry::restarted);
    EXPECT_EQ(p.from[2], reload_plan::k_none);
    EXPECT_EQ(p.how[3], carry::kept);
    EXPECT_EQ(p.from[3], 0);
    EXPECT_EQ(p.how[4], carry::added);
    EXPECT_EQ(p.how[5], carry::kept);
    EXPECT_EQ(p.from[5], 5);
    EXPECT_EQ(p.removed, (std::vector<std::uint32_t>{2}));
    EXPECT_EQ(p.ended, (std::vector<std::uint32_t>{2, 3}));
    EXPECT_FALSE(p.unchanged());
    EXPECT_TRUE(plan_reload(old_specs(), old_specs()).unchanged());
}

TEST(reload_plan_test, a_renamed_signal_is_a_new_one) {
    auto b = old_specs();
    b[0].name = "dd_keep_renamed";
    const auto p = plan_reload(old_specs(), b);
    EXPECT_EQ(p.how[0], carry::added);
    EXPECT_EQ(p.removed, (std::vector<std::uint32_t>{0}));
}

TEST(reload_plan_test, every_parameter_is_part_of_the_definition) {
    const signal_spec base = old_specs()[4];
    std::vector<signal_spec> variants(8, base);
    variants[0].window += 1;
    variants[1].member_at = -0.006;
    variants[2].min_members = 2;
    variants[3].select[0].text = "u";
    variants[4].ref = ref_kind::prev_close;
    variants[5].resolution = 5 * k_ms;
    variants[6].instruments = {"A"};
    variants[7].kind = signal_kind::drawdown;
    for (const auto& v : variants)
        EXPECT_NE(definition_digest(v), definition_digest(base));
    auto relevel = base;
    relevel.rearm = 0.1;
    EXPECT_EQ(definition_digest(relevel), definition_digest(base));
    EXPECT_NE(levels_digest(relevel), levels_digest(base));
}

TEST_F(reload_test, the_scenario_reaches_the_cases_it_tests) {
    // Without active levels at the reload the clears below would pass vacuously.
    EXPECT_NE(fired_before_["gone"], 0u);
    EXPECT_NE(fired_before_["changed"], 0u);
    EXPECT_NE(fired_before_["dd_relevel"] & 2u, 0u) << "level 1 (changed) active";
    EXPECT_NE(fired_before_["dd_relevel"] & 1u, 0u) << "level 0 (kept) active";
    EXPECT_FALSE(never("dd_keep", reload_ts_).empty());
    EXPECT_FALSE(never("br", reload_ts_).empty());
}

TEST_F(reload_test, kept_signals_behave_as_if_nothing_happened) {
    for (const char* s : {"dd_keep", "br", "comp"}) {
        EXPECT_EQ(reloaded(s), never(s)) << s;
        EXPECT_FALSE(never(s).empty()) << s;
    }
}

TEST_F(reload_test, seq_runs_on_without_a_gap) {
    for (std::size_t i = 0; i < reloaded_.out.size(); ++i)
        ASSERT_EQ(reloaded_.out[i].seq, i + 1);
    for (std::size_t i = clears_from_; i < clears_to_; ++i)
        EXPECT_EQ(reloaded_.out[i].gen, 0u) << "clears are named by the old config";
    for (std::size_t i = clears_to_; i < reloaded_.out.size(); ++i)
        ASSERT_EQ(reloaded_.out[i].gen, 1u);
}

TEST_F(reload_test, a_removed_signal_clears_each_active_level_and_goes_quiet) {
    const auto after = reloaded("gone", true);
    std::size_t active = 0;
    for (std::uint64_t f = fired_before_["gone"]; f != 0; f &= f - 1)
        ++active;
    ASSERT_EQ(after.size(), active);
    for (const auto& t : after) {
        EXPECT_EQ(t.state, trigger_state::cleared);
        EXPECT_EQ(t.reason, end_reason::removed);
    }
}

TEST_F(reload_test, a_changed_signal_clears_then_warms_up_like_a_new_one) {
    auto after = reloaded("changed", true);
    ASSERT_FALSE(after.empty());
    EXPECT_EQ(after.front().state, trigger_state::cleared);
    EXPECT_EQ(after.front().reason, end_reason::changed);
    after.erase(after.begin());
    const auto want = fresh_from_reload(new_specs()[2]);
    EXPECT_FALSE(want.empty());
    EXPECT_EQ(after, want);
    EXPECT_EQ(reloaded("fresh"), fresh_from_reload(new_specs()[4]));
    EXPECT_FALSE(reloaded("fresh").empty());
}

TEST_F(reload_test, a_relevelled_signal_keeps_its_window_and_judges_its_new_levels) {
    // The values: the same window as the run that never reloaded (its triggers carry them).
    graph ref(old_specs(), *reg_);
    collector sink;
    std::vector<std::pair<core::nanos, double>> values; // B's drawdown after each B tick
    for (const auto& t : ticks_) {
        ref.apply(t, sink);
        if (core::index(t.inst) != 1 || t.event_ts() < reload_ts_) continue;
        ref.visit([&](const value_view& v) {
            if (ref.specs()[v.signal].name == "dd_relevel")
                values.emplace_back(t.event_ts(), v.value);
        });
    }
    // Naive judgement of the new levels from the kept state: level 0 is the same level (kept
    // active), level 1 changed (cleared at the reload), level 2 is new (inactive).
    const auto next = new_specs()[1];
    std::uint64_t fired = fired_before_["dd_relevel"] & 1u;
    std::vector<named> want;
    if ((fired_before_["dd_relevel"] & 2u) != 0)
        want.push_back(
            {"dd_relevel", 1, 1, trigger_state::cleared, NAN, 0, end_reason::relevelled});
    for (const auto& [ts, v] : values) {
        for (std::size_t l = 0; l < next.levels.size(); ++l) {
            const std::uint64_t bit = std::uint64_t{1} << l;
            if ((fired & bit) == 0 && v <= next.levels[l].at) {
                fired |= bit;
                want.push_back({"dd_relevel", 1, static_cast<std::uint8_t>(l), trigger_state::fired,
                                v, ts, end_reason::none});
            } else if ((fired & bit) != 0 && v > next.levels[l].at + next.rearm) {
                fired &= ~bit;
                want.push_back({"dd_relevel", 1, static_cast<std::uint8_t>(l),
                                trigger_state::cleared, v, ts, end_reason::none});
            }
        }
    }
    auto got = reloaded("dd_relevel", true);
    ASSERT_EQ(got.size(), want.size());
    ASSERT_FALSE(got.empty());
    // The clear at the reload carries the value then; compare it by kind only.
    if (want.front().reason == end_reason::relevelled) {
        EXPECT_EQ(got.front().reason, end_reason::relevelled);
        EXPECT_EQ(got.front().level, 1);
        got.erase(got.begin());
        want.erase(want.begin());
    }
    EXPECT_EQ(got, want);
    bool deep = false;
    for (const auto& t : want)
        deep = deep || t.level == 2;
    EXPECT_TRUE(deep) << "the new level is reached after the reload";
}

TEST(reload_members_test, instruments_first_seen_while_the_new_graph_was_built_are_members) {
    auto reg = testing::make_registry(2);
    core::instrument_template tpl;
    tpl.globs = {"N*"};
    tpl.tags = {"t"};
    reg->add_template(tpl);
    auto br = spec("br", signal_kind::breadth, {{0.5, severity::warning}});
    br.select = {{selector::by::tag, "t"}};
    br.ref = ref_kind::fixed;
    br.ref_value = 100;
    graph g({br}, *reg);
    collector c;
    g.apply(tk(0, k_t0, 100), c);
    auto added = spec("added", signal_kind::level, {{50, severity::warning}});
    added.select = {{selector::by::tag, "t"}};
    graph_options go;
    go.generation = 1;
    graph next({br, added}, *reg, go); // built before N1 and N2 exist
    const auto n1 = reg->resolve(reg->venue("generic"), "N1");
    const auto n2 = reg->resolve(reg->venue("generic"), "N2");
    g.apply(tk(core::index(n1), k_t0 + k_ms, 90), c); // the old graph sees N1 first
    next.adopt(g, plan_reload({br}, {br, added}), c);
    EXPECT_EQ(next.members(0), 3u) << "A, B and N1 carried; N2 not seen yet";
    EXPECT_EQ(next.members(1), 3u) << "the added signal matched A, B, N1 at the swap";
    c.clear();
    next.apply(tk(core::index(n2), k_t0 + 2 * k_ms, 40), c);
    EXPECT_EQ(next.members(0), 4u);
    EXPECT_EQ(next.members(1), 4u);
    ASSERT_FALSE(c.out.empty());
    EXPECT_EQ(c.out.back().gen, 1u);
}

} // namespace
} // namespace seismo::signals
