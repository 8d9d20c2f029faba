// Property tests: thousands of random tick sequences per signal kind, the graph's triggers
// compared one by one with the naive oracle's.
#include "signals/graph.hpp"
#include "tests/signals/oracle.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace seismo::signals {
namespace {

using core::nanos;
constexpr nanos k_ms = 1'000'000;

std::string inst_name(std::size_t i) {
    std::string s = "I"; // (not "I" + to_string: GCC 12 raises a false -Wrestrict on it)
    s += std::to_string(i);
    return s;
}

struct collector final : trigger_sink {
    std::vector<trigger> out;
    void on_trigger(const trigger& t) override { out.push_back(t); }
};

struct scenario {
    std::vector<signal_spec> specs;
    std::vector<oracle::naive::instrument> instruments;
    struct step {
        std::size_t inst;
        nanos ts;
        double px;
        bool reference;
        int stream = 0; // 0 trade, 1 quote, 2 value
    };
    std::vector<step> steps;
};

class generator {
  public:
    explicit generator(std::uint64_t seed) : rng_(seed) {}

    int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
    double real(double lo, double hi) {
        return std::uniform_real_distribution<double>(lo, hi)(rng_);
    }
    bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }

    std::vector<level> levels(double lo, double hi, bool integral = false) {
        std::vector<level> ls;
        const int n = uniform(1, 3);
        for (int i = 0; i < n; ++i) {
            double at = real(lo, hi);
            if (integral) at = std::round(at);
            ls.push_back({at, static_cast<severity>(uniform(0, 2))});
        }
        return ls;
    }

    void common(signal_spec& s, signal_kind k, int i) {
        s.name = std::string(to_string(k)) + "_" + std::to_string(i);
        s.kind = k;
        s.dir = chance(0.8) ? default_direction(k)
                            : (default_direction(k) == direction::below ? direction::above
                                                                        : direction::below);
    }

    void members(signal_spec& s, std::size_t ninst) {
        if (chance(0.5)) {
            s.select.push_back({selector::by::tag, chance(0.5) ? "a" : "b"});
        } else {
            const int n = uniform(1, static_cast<int>(ninst));
            for (int j = 0; j < n; ++j)
                s.instruments.push_back(
                    inst_name(static_cast<std::size_t>(uniform(0, static_cast<int>(ninst) - 1))));
            std::sort(s.instruments.begin(), s.instruments.end());
            s.instruments.erase(std::unique(s.instruments.begin(), s.instruments.end()),
                                s.instruments.end());
        }
    }

    signal_spec leaf(signal_kind k, int i, std::size_t ninst) {
        signal_spec s;
        common(s, k, i);
        members(s, ninst);
        switch (k) {
        case signal_kind::drawdown:
            pick_ref(s);
            s.levels = levels(-0.2, -0.005);
            if (s.dir == direction::above) s.levels = levels(-0.05, 0.0);
            s.rearm = chance(0.5) ? 0.0 : real(0.0, 0.03);
            break;
        case signal_kind::level:
            s.levels = levels(90, 110, chance(0.5));
            s.rearm = chance(0.5) ? 0.0 : std::round(real(0, 4));
            break;
        case signal_kind::change:
            s.lookback = uniform(1, 40) * k_ms * 5;
            if (chance(0.5)) s.resolution = uniform(1, 5) * k_ms;
            s.units = chance(0.5) ? change_units::abs : change_units::pct;
            s.levels =
                s.units == change_units::abs ? levels(-6, 6, chance(0.5)) : levels(-0.06, 0.06);
            s.rearm = chance(0.5) ? 0.0 : (s.units == change_units::abs ? 1.0 : 0.01);
            break;
        case signal_kind::zscore:
            // Half-lives of 2 to 40 typical tick intervals. Far shorter ones make the weights of
            // all but the newest change vanish (var ~ 1e-40 d^2), which no recomputation in
            // floating point can reproduce; docs/signals.md notes that regime.
            s.halflife = uniform(60, 1200) * k_ms;
            s.min_count = static_cast<std::uint32_t>(uniform(2, 25));
            s.levels = levels(-2.5, 2.5);
            s.rearm = chance(0.5) ? 0.0 : real(0, 1);
            break;
        case signal_kind::breadth:
            pick_ref(s);
            s.select.clear();
            s.instruments.clear();
            members(s, ninst);
            s.member_at = chance(0.5) ? 0.0 : real(-0.05, 0.0);
            s.min_members = static_cast<std::uint32_t>(uniform(1, 3));
            s.levels = levels(0.2, 1.0);
            s.rearm = chance(0.5) ? 0.0 : real(0, 0.3);
            break;
        case signal_kind::composite:
            break;
        }
        return s;
    }

    void pick_ref(signal_spec& s) {
        switch (uniform(0, 3)) {
        case 0:
        case 1:
            s.ref = ref_kind::window;
            s.window = uniform(2, 60) * 10 * k_ms;
            if (chance(0.5)) s.resolution = uniform(1, 9) * k_ms;
            break;
        case 2:
            s.ref = chance(0.5) ? ref_kind::prev_close : ref_kind::session_open;
            break;
        default:
            s.ref = ref_kind::fixed;
            s.ref_value = real(95, 105);
        }
    }

    scenario make(signal_kind kind) {
        scenario sc;
        const std::size_t ninst = static_cast<std::size_t>(uniform(2, 6));
        for (std::size_t i = 0; i < ninst; ++i) {
            oracle::naive::instrument in;
            in.symbol = inst_name(i);
            if (chance(0.6)) in.tags.push_back("a");
            if (chance(0.6)) in.tags.push_back("b");
            if (chance(0.7)) in.prev_close = std::round(real(95, 105) * 2) / 2;
            in.lateness = chance(0.5) ? 0 : uniform(1, 20) * k_ms;
            sc.instruments.push_back(in);
        }
        if (kind == signal_kind::composite) {
            const int nleaf = uniform(2, 4);
            for (int i = 0; i < nleaf; ++i) {
                const auto k = static_cast<signal_kind>(uniform(0, 4));
                sc.specs.push_back(leaf(k, i, ninst));
            }
            const int ncomp = uniform(1, 3);
            for (int c = 0; c < ncomp; ++c) {
                signal_spec s;
                common(s, signal_kind::composite, c);
                s.dir = direction::above;
                // inputs: any earlier signal (composites may nest), no cycles by construction
                const int nin = uniform(1, static_cast<int>(sc.specs.size()));
                std::vector<int> pool(sc.specs.size());
                std::iota(pool.begin(), pool.end(), 0);
                std::shuffle(pool.begin(), pool.end(), rng_);
                for (int j = 0; j < nin; ++j)
                    s.inputs.push_back(
                        sc.specs[static_cast<std::size_t>(pool[static_cast<std::size_t>(j)])].name);
                s.within = uniform(1, 100) * 5 * k_ms;
                for (int l = 1; l <= std::min(nin, 2); ++l)
                    s.levels.push_back({static_cast<double>(uniform(1, nin)), severity::critical});
                s.rearm = chance(0.3) ? 1.0 : 0.0;
                sc.specs.push_back(s);
            }
            // Shuffle declaration order so topological order differs from declaration order.
            std::shuffle(sc.specs.begin(), sc.specs.end(), rng_);
        } else {
            const int n = uniform(1, 3);
            for (int i = 0; i < n; ++i)
                sc.specs.push_back(leaf(kind, i, ninst));
        }
        // Ticks: per-instrument random walks; time mostly forward, sometimes equal, sometimes back.
        std::vector<double> px(ninst);
        for (auto& p : px)
            p = std::round(real(95, 105) * 2) / 2;
        nanos t = 1'770'000'000'000'000'000 + uniform(0, 1000) * k_ms;
        const int nsteps = uniform(50, kind == signal_kind::zscore ? 160 : 300);
        const bool continuous = kind == signal_kind::zscore || chance(0.3);
        for (int k = 0; k < nsteps; ++k) {
            const std::size_t i = static_cast<std::size_t>(uniform(0, static_cast<int>(ninst) - 1));
            const int dice = uniform(0, 99);
            nanos ts = t;
            if (dice < 8)
                ts = t - uniform(0, 30) * k_ms; // late or within lateness
            else if (dice < 20)
                ts = t; // equal timestamp
            else
                t = ts = t + uniform(1, 60) * k_ms;
            if (chance(0.03)) {
                sc.steps.push_back({i, ts, std::round(real(95, 105) * 2) / 2, true});
                continue;
            }
            px[i] += continuous ? real(-1.5, 1.5) : 0.5 * uniform(-3, 3);
            px[i] = std::clamp(px[i], 60.0, 140.0);
            sc.steps.push_back({i, ts, px[i], false, uniform(0, 9) < 7 ? 0 : uniform(1, 2)});
        }
        return sc;
    }

  private:
    std::mt19937_64 rng_;
};

/// True when a value sits so close to one of the spec's decision boundaries that rounding
/// differences between two correct implementations could decide differently.
bool near_boundary(const signal_spec& s, double v) {
    for (const auto& l : s.levels) {
        for (double b : {l.at, l.at + s.rearm, l.at - s.rearm}) {
            if (std::fabs(v - b) <= 1e-6 * (1 + std::fabs(b))) return true;
        }
    }
    return false;
}

struct run_result {
    bool ambiguous = false;
    std::size_t triggers = 0;
};

run_result run(const scenario& sc, std::uint64_t seed) {
    core::instrument_registry reg;
    for (const auto& in : sc.instruments) {
        core::instrument_info info;
        info.symbol = in.symbol;
        info.tags = in.tags;
        info.prev_close = in.prev_close;
        info.lateness = in.lateness;
        info.declared = true;
        EXPECT_TRUE(reg.add(info).has_value());
    }
    graph g(sc.specs, reg);
    oracle::naive o(sc.specs, sc.instruments);
    collector got;
    for (const auto& st : sc.steps) {
        core::tick tk;
        tk.inst = core::instrument_id{static_cast<std::uint32_t>(st.inst)};
        tk.exch_ts = st.ts;
        tk.recv_ts = st.ts;
        tk.px = st.px;
        tk.kind =
            st.reference ? core::tick_kind::reference : static_cast<core::tick_kind>(st.stream);
        const apply_status a = g.apply(tk, got);
        const bool accepted = o.step(st.inst, st.ts, st.px, st.reference, st.stream);
        EXPECT_EQ(a == apply_status::late, !accepted) << "seed " << seed;
    }
    const auto& want = o.triggers();
    run_result rr;
    rr.triggers = want.size();
    const std::size_t n = std::min(want.size(), got.out.size());
    for (std::size_t k = 0; k < n; ++k) {
        const trigger& a = got.out[k];
        const oracle::trig& b = want[k];
        const signal_spec& spec = sc.specs[a.signal];
        const bool fuzzy =
            spec.kind == signal_kind::zscore || (spec.kind == signal_kind::composite && false);
        const std::string inst =
            a.inst == core::k_no_instrument ? "" : inst_name(core::index(a.inst));
        if (fuzzy && (near_boundary(spec, b.value) || spec.name != b.signal || inst != b.inst)) {
            rr.ambiguous = true; // rounding may legitimately decide differently from here on
            return rr;
        }
        SCOPED_TRACE("seed " + std::to_string(seed) + " trigger " + std::to_string(k));
        EXPECT_EQ(a.seq, b.seq);
        EXPECT_EQ(spec.name, b.signal);
        EXPECT_EQ(a.state == trigger_state::fired, b.fired);
        EXPECT_EQ(a.level, b.level);
        EXPECT_EQ(inst, b.inst);
        EXPECT_EQ(a.event_ts, b.ts);
        EXPECT_EQ(a.count, b.count);
        EXPECT_EQ(a.members, b.members);
        if (fuzzy) {
            EXPECT_NEAR(a.value, b.value, 1e-6 * (1 + std::fabs(b.value)));
        } else {
            EXPECT_EQ(a.value, b.value);
        }
        std::vector<std::uint64_t> cause(a.cause.begin(), a.cause.begin() + a.n_cause);
        EXPECT_EQ(cause, b.cause);
        if (::testing::Test::HasFailure()) return rr;
    }
    EXPECT_EQ(got.out.size(), want.size()) << "seed " << seed;
    return rr;
}

class graph_property : public ::testing::TestWithParam<signal_kind> {};

TEST_P(graph_property, matches_naive_oracle) {
    const signal_kind kind = GetParam();
    const int runs = kind == signal_kind::zscore ? 1500 : 2500;
    std::size_t ambiguous = 0, triggers = 0;
    for (int r = 0; r < runs; ++r) {
        const std::uint64_t seed = 0x5e15u * 1000003u + static_cast<std::uint64_t>(kind) * 7919u +
                                   static_cast<std::uint64_t>(r);
        generator gen(seed);
        const scenario sc = gen.make(kind);
        const run_result rr = run(sc, seed);
        ambiguous += rr.ambiguous ? 1 : 0;
        triggers += rr.triggers;
        if (HasFailure()) return;
    }
    // The test must exercise the levels, not just agree on silence.
    EXPECT_GT(triggers, static_cast<std::size_t>(runs)) << "too few triggers to mean anything";
    EXPECT_LT(ambiguous, static_cast<std::size_t>(runs / 100)) << "too many near-boundary runs";
    RecordProperty("triggers", static_cast<int>(triggers));
}

INSTANTIATE_TEST_SUITE_P(kinds, graph_property,
                         ::testing::Values(signal_kind::drawdown, signal_kind::level,
                                           signal_kind::change, signal_kind::breadth,
                                           signal_kind::zscore, signal_kind::composite),
                         [](const auto& p) { return std::string(to_string(p.param)); });

} // namespace
} // namespace seismo::signals
