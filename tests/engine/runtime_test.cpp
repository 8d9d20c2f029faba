// The live engine end to end: two WebSocket feeds from local test servers through the queues,
// the signal thread and the publisher — signal triggers, feed-health triggers, staleness taking
// an instrument out of a breadth denominator (degraded), and a clean drain on stop.
#include "engine/config.hpp"
#include "engine/journal_replay.hpp"
#include "engine/runtime.hpp"
#include "engine/sim.hpp"
#include "tests/feeds/live/test_feed_server.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace seismo::engine {
namespace {

using namespace std::chrono_literals;
using testing::connection_plan;
using testing::test_feed_server;

std::string tick(const std::string& sym, double px, std::uint64_t seq) {
    return R"({"sym":")" + sym + R"(","px":)" + std::to_string(px) + R"(,"seq":)" +
           std::to_string(seq) + "}";
}

/// Instrument X and `x_low`, a level at 95: a tick at 90 fires it, one at 100 clears it.
constexpr const char* k_x_low = R"(
[[instrument]]
symbol = "X"
[[signal]]
name = "x_low"
kind = "level"
instruments = ["X"]
levels = [{ at = 95, severity = "warning" }]
)";

/// X's i-th price of the stop tests: 100, 90, 100, … (x_low fires or clears at every one after
/// the first).
std::string x_alternating(int i) {
    return R"({"sym":"X","px":)" + std::string(i % 2 == 0 ? "100" : "90") + "}";
}

/// A runtime fed by inject(), quiet, its server on any free loopback port.
run_options injected_options() {
    run_options o;
    o.print = false;
    o.listen = "127.0.0.1:0";
    o.inproc_feed = true;
    return o;
}

struct published {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::string> lines;
    bool wait_for(const std::string& needle, std::chrono::seconds limit = 30s) {
        std::unique_lock l(mu);
        return cv.wait_for(l, limit, [&] {
            for (const auto& s : lines) {
                if (s.find(needle) != std::string::npos) return true;
            }
            return false;
        });
    }
    std::size_t index_of(const std::string& needle) {
        std::lock_guard l(mu);
        for (std::size_t i = 0; i < lines.size(); ++i) {
            if (lines[i].find(needle) != std::string::npos) return i;
        }
        return lines.size();
    }
};

TEST(runtime, feeds_to_triggers_with_health_staleness_and_a_clean_stop) {
    connection_plan a0;
    a0.frames = {tick("A", 100, 1)}; // A falls to 90 only once B has ticked (below)
    test_feed_server server_a({a0});

    connection_plan b0;
    b0.frames = {tick("B", 110, 1)}; // then silence: stale, and cut at 2 x stale_after
    connection_plan b1;
    b1.frames = {tick("B", 111, 2)}; // back, fresh
    test_feed_server server_b({b0, b1});

    const std::string text = R"(
[engine]
lateness = "10s"
[[feed]]
name = "fa"
venue = "generic"
url = ")" + server_a.url() + R"("
symbols = ["A"]
stale_after = "2s"
[[feed]]
name = "fb"
venue = "generic"
url = ")" + server_b.url() + R"("
symbols = ["B"]
stale_after = "400ms"
[[instrument]]
symbol = "A"
tags = ["u"]
prev_close = 100
[[instrument]]
symbol = "B"
tags = ["u"]
prev_close = 100
[[signal]]
name = "a_low"
kind = "level"
instruments = ["A"]
levels = [{ at = 95, severity = "warning" }]
[[signal]]
name = "both_down"
kind = "breadth"
select = "tag:u"
ref = "prev_close"
member_at = -0.05
levels = [{ at = 1.0, severity = "critical" }]
)";
    const config cfg = load_config_string(text, "runtime_test.toml");
    run_options o;
    o.print = false;
    o.listen = "127.0.0.1:0";
    published pub;
    runtime rt(cfg, o);
    rt.on_published([&](const signals::trigger&, std::string_view json) {
        std::lock_guard l(pub.mu);
        pub.lines.emplace_back(json);
        pub.cv.notify_all();
    });
    rt.start();
    // Order the two feeds: B's first tick must be in before A falls, or the breadth would
    // count A alone (one member with a tick) and fire before B has had a say.
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (rt.state_json().find(R"("count":0,"members":2)") == std::string::npos) { // A and B in
        ASSERT_LT(std::chrono::steady_clock::now(), deadline)
            << "B never ticked: " << rt.state_json();
        std::this_thread::sleep_for(20ms);
    }
    server_a.start_broadcast([](std::uint64_t n) { return tick("A", 90, n + 1); }, 50ms);
    ASSERT_TRUE(pub.wait_for(R"("signal":"a_low","kind":"level","state":"fired")"));
    ASSERT_TRUE(pub.wait_for(R"("signal":"both_down","kind":"breadth","state":"cleared")"))
        << "B never came back";
    rt.request_stop();
    const auto t0 = std::chrono::steady_clock::now();
    rt.wait();
    const auto stop_took = std::chrono::steady_clock::now() - t0;
    RecordProperty(
        "stop_ms",
        static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(stop_took).count()));
    EXPECT_LT(stop_took, 5s);

    const std::size_t stale = pub.index_of(R"("feed":"fb","condition":"stale","value")");
    const std::size_t degraded =
        pub.index_of(R"("signal":"both_down","kind":"breadth","state":"fired")");
    const std::size_t down =
        pub.index_of(R"("state":"fired","severity":"critical","feed":"fb","condition":"down")");
    const std::size_t up =
        pub.index_of(R"("state":"cleared","severity":"critical","feed":"fb","condition":"down")");
    const std::size_t fresh =
        pub.index_of(R"("state":"cleared","severity":"warning","feed":"fb","condition":"stale")");
    const std::size_t cleared =
        pub.index_of(R"("signal":"both_down","kind":"breadth","state":"cleared")");
    std::lock_guard l(pub.mu);
    const std::size_t n = pub.lines.size();
    ASSERT_LT(stale, n);
    ASSERT_LT(degraded, n);
    ASSERT_LT(down, n);
    EXPECT_NE(pub.lines[down].find(R"("reason":"no_data")"), std::string::npos)
        << "a down trigger says why: " << pub.lines[down];
    ASSERT_LT(up, n);
    ASSERT_LT(fresh, n);
    ASSERT_LT(cleared, n);
    // B went stale, left the denominator: A alone counts, 1 of 1 -> fired, flagged degraded.
    EXPECT_LT(stale, degraded);
    EXPECT_NE(pub.lines[degraded].find(R"("count":1,"members":1)"), std::string::npos)
        << pub.lines[degraded];
    EXPECT_NE(pub.lines[degraded].find(R"("degraded":true)"), std::string::npos)
        << pub.lines[degraded];
    // The silent connection was cut (down), came back (up), B was fresh, and counted again.
    EXPECT_LT(degraded, down);
    EXPECT_LT(down, up);
    EXPECT_LT(up, fresh);
    EXPECT_LT(fresh, cleared);
    EXPECT_NE(pub.lines[cleared].find(R"("count":1,"members":2)"), std::string::npos)
        << pub.lines[cleared];
    EXPECT_EQ(pub.lines[cleared].find("degraded"), std::string::npos);
    // Live triggers carry wall-clock fields; seq is gap-free across signals and feed health.
    for (std::size_t i = 0; i < n; ++i) {
        EXPECT_NE(pub.lines[i].find("\"seq\":" + std::to_string(i + 1) + ","), std::string::npos)
            << pub.lines[i];
        EXPECT_NE(pub.lines[i].find("\"latency_ns\":"), std::string::npos) << pub.lines[i];
    }
    const run_figures f = rt.figures();
    EXPECT_EQ(f.triggers, n);
    EXPECT_GE(f.applied, 5u);
}

TEST(runtime, stopping_while_triggers_are_in_flight_writes_every_one_and_frees_cleanly) {
    // Triggers the signal thread produces while it drains the queue at stop come after the I/O
    // thread has ended: the writer thread takes them over, so the audit log gets every one, and
    // the wake-ups they posted to the stopped io_context are destroyed before their memory is
    // (ASan checks the second).
    const config cfg = load_config_string(k_x_low, "stop_test.toml");
    const std::string audit = ::testing::TempDir() + "seismo_stop_audit.jsonl";
    std::remove(audit.c_str());
    constexpr int k_ticks = 4000;
    {
        run_options o = injected_options();
        o.out = audit;
        runtime rt(cfg, o);
        rt.start();
        for (int i = 0; i < k_ticks; ++i)
            rt.inject(x_alternating(i), 1);
        rt.request_stop(); // at once: most of those ticks are still queued
        rt.wait();
        EXPECT_EQ(rt.figures().applied, static_cast<std::uint64_t>(k_ticks));
        EXPECT_EQ(rt.figures().triggers, static_cast<std::uint64_t>(k_ticks - 1));
    }
    std::ifstream in(audit);
    std::size_t lines = 0;
    std::uint64_t last_seq = 0;
    for (std::string l; std::getline(in, l); ++lines) {
        const auto p = l.find(R"("seq":)");
        ASSERT_NE(p, std::string::npos) << l;
        const std::uint64_t seq = std::stoull(l.substr(p + 6));
        EXPECT_EQ(seq, last_seq + 1) << "gap-free, in order";
        last_seq = seq;
    }
    // A fire at every 90 and a clear at every 100 after the first tick.
    EXPECT_EQ(lines, static_cast<std::size_t>(k_ticks - 1));
    std::remove(audit.c_str());
}

TEST(runtime, keeps_its_own_copy_of_the_config_it_was_started_with) {
    // Built from a temporary that is gone before start(): the runtime reads [engine] and
    // [server] from its own copy all the while it runs (ASan: no use after scope).
    auto rt = std::make_unique<runtime>(
        load_config_string(std::string("[engine]\nidle_spin = \"0us\"\n[server]\ncoalesce = "
                                       "\"1ms\"\n") +
                               k_x_low,
                           "temporary.toml"),
        injected_options());
    rt->start();
    for (int i = 0; i < 100; ++i)
        rt->inject(x_alternating(i), 1);
    rt->request_stop();
    rt->wait();
    EXPECT_EQ(rt->figures().applied, 100u);
    EXPECT_EQ(rt->figures().triggers, 99u);
}

// The embedded default: the demo day loops, and every pass must play like the first — no
// duplicate or late refusals from sequence numbers or times that restart, the same signals
// firing in every pass.
TEST(runtime, the_demo_day_plays_like_the_first_pass_in_every_loop) {
    // The span of one pass, from the generator itself.
    const std::string day = simulate(sim_options{});
    const auto ts_of = [](std::string_view line) {
        const auto p = line.find(R"("ts":)");
        return std::stoll(std::string(line.substr(p + 5, 16)));
    };
    const std::int64_t first_ms = ts_of(day);
    const std::string_view body(day.data(), day.size() - 1);
    const std::int64_t last_ms = ts_of(body.substr(body.rfind('\n') + 1));
    const std::int64_t period_ns = (last_ms - first_ms + 86'400'000) * 1'000'000;

    using key = std::tuple<std::uint32_t, core::instrument_id, int, int>;
    std::mutex mu;
    std::map<std::int64_t, std::multiset<key>> by_pass;
    std::size_t health = 0;
    {
        const config cfg = load_playbook();
        run_options o;
        o.print = false;
        o.serve = false;
        o.deterministic = true;
        o.demo = true;
        o.demo_speed = 1e12; // no pacing: passes as fast as the engine takes them
        runtime rt(cfg, o);
        rt.on_published([&](const signals::trigger& t, std::string_view) {
            std::lock_guard l(mu);
            if (t.signal == signals::k_feed_health) {
                ++health;
                return;
            }
            const std::int64_t pass = (t.event_ts - first_ms * 1'000'000) / period_ns;
            by_pass[pass].insert(
                {t.signal, t.inst, static_cast<int>(t.state), static_cast<int>(t.sev)});
        });
        rt.start();
        for (int i = 0; i < 600 && rt.figures().demo_loops < 3; ++i)
            std::this_thread::sleep_for(100ms);
        rt.request_stop();
        rt.wait();
        const run_figures f = rt.figures();
        ASSERT_GE(f.demo_loops, 3u) << "three passes within a minute";
        EXPECT_EQ(f.rejected, 0u) << "no refusal in any pass";
    }
    std::lock_guard l(mu);
    EXPECT_EQ(health, 0u) << "no gap, no stale or down feed";
    ASSERT_GE(by_pass.size(), 3u);
    const auto fired = [&](std::int64_t pass) {
        std::set<key> s;
        for (const key& k : by_pass[pass]) {
            if (std::get<2>(k) == static_cast<int>(signals::trigger_state::fired)) s.insert(k);
        }
        return s;
    };
    EXPECT_FALSE(fired(0).empty());
    EXPECT_EQ(fired(1), fired(0)) << "the same signals fire in the second pass";
    EXPECT_EQ(fired(2), fired(0)) << "and in the third";
    EXPECT_EQ(by_pass[2], by_pass[1]) << "passes after the first are alike, trigger for trigger";
}

} // namespace
} // namespace seismo::engine

namespace seismo::engine {
namespace {

// Hot reload under a steady stream (DESIGN §9): 30 reloads alternating two configs, and an
// invalid one between, while one thread injects ticks. Nothing is lost or applied twice, the
// signal both configs share behaves as if nothing happened, and the journal replays to the
// audit log byte for byte.
TEST(runtime, reloads_while_ticks_flow_lose_none_and_replay_byte_for_byte) {
    const std::string head = R"(
[engine]
deterministic = true
[[instrument]]
symbol = "X"
[[instrument]]
symbol = "Y"
[[signal]]
name = "x_low"
kind = "level"
instruments = ["X"]
levels = [{ at = 95, severity = "warning" }]
)";
    const std::string a = head + R"(
[[signal]]
name = "y_dd"
kind = "drawdown"
instruments = ["Y"]
window = "1h"
levels = [{ at = -0.01, severity = "warning" }]
[[signal]]
name = "y_low"
kind = "level"
instruments = ["Y"]
levels = [{ at = 99, severity = "info" }]
)";
    const std::string b = head + R"(
[[signal]]
name = "y_dd"
kind = "drawdown"
instruments = ["Y"]
window = "1h"
levels = [{ at = -0.02, severity = "warning" }, { at = -0.04, severity = "critical" }]
[[signal]]
name = "x_high"
kind = "level"
direction = "above"
instruments = ["X"]
levels = [{ at = 99.5, severity = "info" }]
)";
    const config cfg = load_config_string(a, "reload_a.toml");
    const std::string dir = ::testing::TempDir() + "seismo_reload_journal";
    const std::string audit = ::testing::TempDir() + "seismo_reload_audit.jsonl";
    const std::string replayed = ::testing::TempDir() + "seismo_reload_replayed.jsonl";
    std::filesystem::remove_all(dir);
    std::remove(audit.c_str());
    constexpr int k_reloads = 30;
    std::atomic<bool> done{false};
    std::uint64_t injected = 0;
    std::vector<reload_outcome> outcomes;
    {
        run_options o;
        o.print = false;
        o.serve = false;
        o.inproc_feed = true;
        o.out = audit;
        o.record_dir = dir;
        o.deterministic = true;
        runtime rt(cfg, o);
        rt.start();
        std::thread feeder([&] {
            // X alternates 100 / 90 (x_low fires and clears at every tick after the first);
            // Y slides down and recovers, through both configs' drawdown levels.
            for (std::uint64_t i = 0; !done.load() || i < 20'000; ++i) {
                const double y = 100 * (1 - 0.05 * static_cast<double>(i % 400) / 400);
                const std::int64_t ts =
                    1'770'000'000'000'000'000 + static_cast<std::int64_t>(i) * 1'000'000;
                rt.inject(R"({"sym":"X","px":)" + std::string(i % 2 == 0 ? "100" : "90") +
                              R"(,"ts":)" + std::to_string(ts) + "}",
                          ts);
                rt.inject(R"({"sym":"Y","px":)" + std::to_string(y) + R"(,"ts":)" +
                              std::to_string(ts) + "}",
                          ts);
                injected += 2;
                if (i % 64 == 0) std::this_thread::yield();
            }
        });
        // Each reload after the signal thread has applied ticks since the last one, so that
        // reloads and ticks interleave however fast either thread runs (a sanitizer build
        // slows the feeder more than the reloads).
        std::uint64_t seen = 0;
        for (int k = 0; k < k_reloads; ++k) {
            const auto deadline = std::chrono::steady_clock::now() + 60s;
            while (rt.figures().applied < seen + 400 && std::chrono::steady_clock::now() < deadline)
                std::this_thread::sleep_for(1ms);
            seen = rt.figures().applied;
            outcomes.push_back(rt.reload_and_wait(k % 2 == 0 ? b : a));
            if (k % 10 == 5) outcomes.push_back(rt.reload_and_wait("[[signal]]\nname = 1\n"));
        }
        done.store(true);
        feeder.join();
        EXPECT_EQ(rt.config_generation(), static_cast<std::uint32_t>(k_reloads));
        rt.request_stop();
        rt.wait();
        const run_figures f = rt.figures();
        EXPECT_EQ(f.frames, injected);
        EXPECT_EQ(f.applied, injected) << "every tick applied once";
        EXPECT_EQ(f.rejected, 0u);
    }
    std::size_t ok = 0, refused = 0;
    for (const auto& r : outcomes) {
        (r.ok ? ok : refused) += 1;
        if (!r.ok) {
            EXPECT_EQ(r.status, 400);
            EXPECT_NE(r.json.find("POST /v1/reload:2:"), std::string::npos) << r.json;
        }
    }
    EXPECT_EQ(ok, static_cast<std::size_t>(k_reloads));
    EXPECT_EQ(refused, 3u);
    // The audit log: seq gap-free; x_low (in every config, unchanged) fired and cleared at
    // every X tick after the first, reloads or not.
    std::ifstream in(audit);
    std::uint64_t last_seq = 0, x_low = 0, removed = 0;
    std::set<std::string> digests;
    for (std::string l; std::getline(in, l);) {
        const std::uint64_t seq = std::stoull(l.substr(l.find(R"("seq":)") + 6));
        ASSERT_EQ(seq, last_seq + 1) << l;
        last_seq = seq;
        if (l.find(R"("signal":"x_low")") != std::string::npos) ++x_low;
        if (l.find(R"("reason":"removed")") != std::string::npos) ++removed;
        const auto c = l.find(R"("config":")");
        ASSERT_NE(c, std::string::npos) << l;
        digests.insert(l.substr(c + 10, 16));
    }
    EXPECT_EQ(x_low, injected / 2 - 1);
    EXPECT_EQ(digests.size(), 2u) << "the two configs name their triggers";
    EXPECT_GT(removed, 0u) << "y_low and x_high were active when a reload removed them";
    // The journal, replayed, gives the same bytes.
    journal_replay_options jo;
    jo.base.out = replayed;
    jo.base.deterministic = true;
    jo.progress = false;
    const auto res = run_journal_replay(dir, nullptr, jo);
    EXPECT_EQ(res.lost_ticks, 0u);
    std::ifstream x(audit), y(replayed);
    const std::string live((std::istreambuf_iterator<char>(x)), {});
    const std::string again((std::istreambuf_iterator<char>(y)), {});
    EXPECT_GT(live.size(), 1000u);
    EXPECT_TRUE(live == again) << "live " << live.size() << " bytes, replay " << again.size();
    std::filesystem::remove_all(dir);
    std::remove(audit.c_str());
    std::remove(replayed.c_str());
}

} // namespace
} // namespace seismo::engine
