// The NATS pieces that need no server: [nats] validation, the resume header, and the restart
// filter judged against a naive oracle (what is stored is held back, what follows is numbered
// after it). The servers themselves: tests/e2e/nats_test.py and the resend test.
#include "engine/config.hpp"
#include "engine/generation.hpp"
#include "engine/nats_link.hpp"
#include "engine/publish/hub.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace seismo::engine {
namespace {

const char* k_head = R"([[instrument]]
symbol = "XAG/USD"

[[signal]]
name = "dd"
kind = "drawdown"
instruments = ["XAG/USD"]
window = "2h"
levels = [{ at = -0.05 }]

)";

void expect_error(const std::string& extra, std::uint32_t line, const std::string& needle) {
    try {
        (void)load_config_string(std::string(k_head) + extra, "n.toml");
        ADD_FAILURE() << "no error for:\n" << extra;
    } catch (const config_error& e) {
        EXPECT_EQ(e.line(), line) << e.what();
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
}

TEST(nats_config, parses_with_defaults_and_a_nats_feed) {
    const config c = load_config_string(std::string(k_head) + R"([nats]
servers = ["nats://127.0.0.1:4222", "nats://127.0.0.1:4223"]
replicas = 3

[[feed]]
name = "cluster"
venue = "nats"
)",
                                        "n.toml");
    ASSERT_TRUE(c.nats.has_value());
    EXPECT_EQ(c.nats->servers.size(), 2u);
    EXPECT_EQ(c.nats->replicas, 3);
    EXPECT_EQ(c.nats->tick_stream, "SEISMO_TICKS");
    EXPECT_EQ(c.nats->trigger_stream, "SEISMO_TRIGGERS");
    EXPECT_EQ(c.nats->max_age, 7 * 86'400 * core::k_ns_per_s);
    EXPECT_EQ(c.nats->duplicate_window, 600 * core::k_ns_per_s);
    ASSERT_EQ(c.feeds.size(), 1u);
    EXPECT_EQ(c.feeds[0].stream, "SEISMO_TICKS");
    EXPECT_EQ(c.feeds[0].subject, "seismo.tick.>");
    EXPECT_EQ(longest_window(c), 2 * 3600 * core::k_ns_per_s);
}

TEST(nats_config, errors_name_the_line) {
    // k_head is 10 lines: [nats] starts on line 11.
    expect_error("[nats]\n", 11, "'servers' is required");
    expect_error("[nats]\nservers = [\"http://x:1\"]\n", 12, "must start with nats://");
    expect_error("[nats]\nservers = [\"nats://a:1\"]\nreplicas = 7\n", 13, "between 1 and 5");
    expect_error("[nats]\nservers = [\"nats://a:1\"]\nmax_age = \"1h\"\n", 13,
                 "at least the longest signal window");
    expect_error("[nats]\nservers = [\"nats://a:1\"]\ntick_stream = \"A.B\"\n", 13, "stream name");
    expect_error("[nats]\nservers = [\"nats://a:1\"]\ntrigger_stream = \"SEISMO_TICKS\"\n", 13,
                 "must differ");
    expect_error("[nats]\nservers = [\"nats://a:1\"]\ntoken = \"t\"\ncreds = \"c\"\n", 14,
                 "not both");
    expect_error("[nats]\nservers = [\"nats://a:1\"]\nbogus = 1\n", 13, "unknown key 'bogus'");
    expect_error("[[feed]]\nname = \"c\"\nvenue = \"nats\"\n", 13, "needs a [nats] section");
    expect_error("[nats]\nservers = [\"nats://a:1\"]\n[[feed]]\nname = \"c\"\nvenue = \"nats\"\n"
                 "subjects = [\"seismo.tick.a.>\", \"seismo.tick.b.>\"]\n",
                 16, "exactly one subject");
    expect_error("[nats]\nservers = [\"nats://a:1\"]\n[[feed]]\nname = \"c\"\nvenue = \"nats\"\n"
                 "url = \"ws://x:1\"\n",
                 16, "does not apply to a nats feed");
    expect_error(
        "[[feed]]\nname = \"c\"\nvenue = \"generic\"\nurl = \"ws://x:1\"\nstream = \"S\"\n", 15,
        "applies only to a nats feed");
}

TEST(nats_resume, header_round_trips) {
    auto m = publish::make_message(42, "dd/XAG/USD", "{}",
                                   "dd/XAG/USD\x1f"
                                   "3\x1f"
                                   "0",
                                   true, false, 2, 1'700'000'000'123'456'789);
    const std::string h = resume_header(*m);
    EXPECT_EQ(h, "1700000000123456789;1;3;0;dd/XAG/USD");
    resume_point p;
    ASSERT_TRUE(parse_resume_header(h, p));
    EXPECT_EQ(p.recv_ts, 1'700'000'000'123'456'789);
    EXPECT_TRUE(p.fired);
    EXPECT_EQ(p.level, 3u);
    EXPECT_EQ(p.topic, "dd/XAG/USD");
    EXPECT_FALSE(parse_resume_header("12;1;3", p));
    EXPECT_FALSE(parse_resume_header("x;1;3;0;dd", p));
}

TEST(nats_resume, holds_back_what_is_stored_and_numbers_what_follows) {
    // A run's triggers (seq 1..n, several per receive time), a restart whose rebuild starts
    // part-way and numbers from 1 again: the filter must pass exactly the original triggers
    // after the resume point, with the original seqs (the oracle), for every resume point.
    const config cfg = load_config_string(std::string(k_head) + R"([[signal]]
name = "dd2"
kind = "drawdown"
instruments = ["XAG/USD"]
window = "1h"
levels = [{ at = -0.01 }, { at = -0.02 }]
)",
                                          "n.toml");
    core::instrument_registry reg(16);
    populate_registry(cfg, reg);
    const generations gens(make_generation(cfg.digest, cfg.signals, {"cluster"}));
    const generation& g = gens.at(0);
    std::mt19937 rng(7);
    std::vector<signals::trigger> run;
    core::nanos ts = 1'000;
    for (std::uint64_t seq = 1; seq <= 300; ++seq) {
        if (rng() % 3 != 0) ts += 1 + rng() % 5; // some share a receive time
        signals::trigger t;
        t.seq = seq;
        t.recv_ts = ts;
        t.signal = rng() % 2;
        t.inst = reg.find("XAG/USD");
        t.level = static_cast<std::uint8_t>(t.signal == 1 ? rng() % 2 : 0);
        t.state = rng() % 2 ? signals::trigger_state::fired : signals::trigger_state::cleared;
        run.push_back(t);
    }
    auto topic = [&](const signals::trigger& t) {
        return g.specs[t.signal].name + "/" + reg.info(t.inst).symbol;
    };
    auto key = [&](const signals::trigger& t) {
        return std::to_string(t.recv_ts) + topic(t) + std::to_string(t.level) +
               std::to_string(static_cast<int>(t.state));
    };
    for (std::size_t stored = 1; stored < run.size(); stored += 7) {
        const signals::trigger& x = run[stored - 1];
        // The resume point must identify one trigger; skip those with a twin at their time.
        bool twin = false;
        for (std::size_t i = 0; i < run.size(); ++i)
            twin = twin || (i != stored - 1 && key(run[i]) == key(x));
        if (twin) continue;
        resume_point p;
        p.found = true;
        p.seq = x.seq;
        p.recv_ts = x.recv_ts;
        p.fired = x.state == signals::trigger_state::fired;
        p.level = x.level;
        p.topic = topic(x);
        for (std::size_t from : {std::size_t{0}, stored / 2, stored - 1}) {
            trigger_resume r;
            r.resume_after(p);
            std::vector<std::uint64_t> passed;
            for (std::size_t i = from; i < run.size(); ++i) {
                signals::trigger t = run[i];
                t.seq = i - from + 1; // the rebuilt engine numbers from 1
                if (r.admit(t, g, reg)) passed.push_back(t.seq);
            }
            std::vector<std::uint64_t> expected;
            for (std::size_t i = stored; i < run.size(); ++i)
                expected.push_back(run[i].seq);
            EXPECT_EQ(passed, expected) << "stored " << stored << " rebuilt from " << from;
            EXPECT_EQ(r.held_back(), stored - from);
        }
    }
}

TEST(nats_resume, without_a_resume_point_passes_everything_unchanged) {
    const config cfg = load_config_string(k_head, "n.toml");
    core::instrument_registry reg(16);
    populate_registry(cfg, reg);
    const generations gens(make_generation(cfg.digest, cfg.signals, {}));
    trigger_resume r;
    signals::trigger t;
    t.seq = 9;
    t.inst = reg.find("XAG/USD");
    EXPECT_TRUE(r.admit(t, gens.at(0), reg));
    EXPECT_EQ(t.seq, 9u);
}

} // namespace
} // namespace seismo::engine
