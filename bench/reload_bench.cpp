// Hot-reload benchmarks (DESIGN §12, "hot reload"), each beside a floor measured in the same run:
//  1. the signal thread's pause per reload — the swap between two events: the journal record,
//     handing state to the new graph, clearing what ends — for the playbook and for a
//     5,000-member breadth universe (5,000 declared instruments, every one ticked), reloading
//     alternately a config that re-levels one signal and one that also adds and removes one.
//     Floor: the signal thread's own state snapshot of the same graph, work it does four times
//     a second anyway (the reload publishes one too, right after the swap: reported apart).
//  2. the tick path — frame read -> trigger enqueued, busy-polling pinned signal thread, at
//     --rate ticks/s, one tick in ten firing — with a reload every --every ms and without, in
//     alternating rounds: p50 and p99 and their ratios (target: p99 within 1.5x).
//
//   build/release/bench/reload_bench [--reloads 40] [--rate 100000] [--seconds 3] [--rounds 3]
//                                    [--every 100] [--quick]
#include "bench/latency.hpp"
#include "bench/support.hpp"
#include "engine/config.hpp"
#include "engine/core/time.hpp"
#include "engine/replay.hpp"
#include "engine/runtime.hpp"
#include "engine/sim.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace seismo;
using bench::median;
using bench::pace_until;
using bench::percentiles;
using bench::summarize;

/// The pause a reload answer reports ("pause_us"), in µs.
double pause_of(const engine::reload_outcome& o) {
    const auto p = o.json.find(R"("pause_us":)");
    if (!o.ok || p == std::string::npos) {
        std::fprintf(stderr, "reload_bench: reload failed: %s\n", o.message.c_str());
        std::exit(1);
    }
    return std::strtod(o.json.c_str() + p + 11, nullptr);
}

struct pause_result {
    percentiles pause;   // µs
    double snapshot = 0; // µs, the floor: publish_snapshot of the same state (median)
    std::size_t members = 0;
};

/// Runs `base` on the inproc feed, plays `frames` (generic lines) into it, then reloads `n`
/// times alternating `a` and `b`; the floor is a replay of the same frames and the snapshot of
/// its stage.
pause_result pauses(const std::string& base, const std::string& a, const std::string& b,
                    const std::vector<std::string>& frames, std::size_t n) {
    pause_result r;
    const engine::config cfg = engine::load_config_string(base, "reload_bench");
    engine::replay_stats st;
    (void)bench::replay_in_memory(
        bench::frames_of(frames), cfg, st, [&](engine::replay_session& s) {
            std::vector<double> snaps;
            for (int i = 0; i < 21; ++i) {
                const core::nanos t0 = core::monotonic_now();
                s.stage().publish_snapshot();
                snaps.push_back(static_cast<double>(core::monotonic_now() - t0) / 1e3);
            }
            r.snapshot = median(snaps);
            r.members = bench::total_members(s.graph());
        });
    engine::run_options o;
    o.print = false;
    o.serve = false;
    o.inproc_feed = true;
    o.deterministic = true;
    engine::runtime rt(cfg, o);
    rt.start();
    core::nanos ts = core::realtime_now();
    for (const auto& f : frames)
        rt.inject(f, ++ts);
    // Everything applied before the reloads start (they must measure a full state).
    while (rt.figures().applied < frames.size())
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::vector<std::int64_t> ns;
    for (std::size_t i = 0; i < n; ++i)
        ns.push_back(
            static_cast<std::int64_t>(pause_of(rt.reload_and_wait(i % 2 == 0 ? a : b)) * 1e3));
    rt.request_stop();
    rt.wait();
    r.pause = summarize(ns);
    return r;
}

/// The playbook, and its variants: one re-levels silver_crash; the other also drops gold_crash
/// and adds a level signal.
void playbook_case(std::size_t n) {
    const std::string base(engine::playbook_text());
    std::string a = base;
    const std::string lv =
        R"(levels = [{ at = -0.08, severity = "warning" }, { at = -0.15, severity = "critical" }])";
    a.replace(
        a.find(lv), lv.size(),
        R"(levels = [{ at = -0.05, severity = "warning" }, { at = -0.15, severity = "critical" }])");
    std::string b = a;
    b.replace(b.find("name = \"gold_crash\""), 19, "name = \"gold_crash_b\"");
    engine::sim_options so;
    std::vector<std::string> frames;
    const std::string day = engine::simulate(so);
    for (std::size_t at = 0; at < day.size();) {
        const auto nl = day.find('\n', at);
        frames.push_back(day.substr(at, nl - at));
        at = nl == std::string::npos ? day.size() : nl + 1;
    }
    const pause_result r = pauses(base, a, b, frames, n);
    std::printf("  %-34s %5zu members  pause p50 %7.1f  p99 %7.1f  max %7.1f us | floor: snapshot "
                "%7.1f us | pause/floor p50 %.2fx\n",
                "playbook (demo day applied)", r.members, r.pause.p50, r.pause.p99, r.pause.max,
                r.snapshot, r.pause.p50 / r.snapshot);
}

void breadth_case(std::size_t n, std::size_t members) {
    std::string inst;
    for (std::size_t i = 0; i < members; ++i) {
        char s[96];
        std::snprintf(s, sizeof s, "[[instrument]]\nsymbol = \"A%05zu\"\ntags = [\"a_share\"]\n",
                      i);
        inst += s;
    }
    auto cfg = [&](const char* levels, const char* extra) {
        return "[engine]\nlateness = \"1h\"\n" + inst +
               "[[signal]]\nname = \"a_share_breadth\"\nkind = \"breadth\"\nselect = "
               "\"tag:a_share\"\nwindow = \"1h\"\nmember_at = -0.01\nmin_members = 100\nlevels = " +
               levels + "\n" + extra;
    };
    const std::string base = cfg("[{ at = 0.6, severity = \"warning\" }]", "");
    const std::string a = cfg("[{ at = 0.5, severity = \"warning\" }]", "");
    const std::string b =
        cfg("[{ at = 0.5, severity = \"warning\" }, { at = 0.7, severity = \"critical\" }]",
            "[[signal]]\nname = \"a0_low\"\nkind = \"level\"\ninstruments = [\"A00000\"]\n"
            "levels = [{ at = 90, severity = \"info\" }]\n");
    std::vector<std::string> frames;
    const core::nanos t0 = 1'770'000'000'000'000'000;
    for (std::size_t k = 0; k < 20; ++k) {
        for (std::size_t i = 0; i < members; ++i) {
            char f[128];
            std::snprintf(
                f, sizeof f, R"({"sym":"A%05zu","px":%.2f,"ts":%lld})", i,
                100.0 - static_cast<double>((i * 7 + k * 13) % 30) / 10.0,
                static_cast<long long>(t0 + static_cast<core::nanos>(k * members + i) * 1000));
            frames.emplace_back(f);
        }
    }
    const pause_result r = pauses(base, a, b, frames, n);
    char what[64];
    std::snprintf(what, sizeof what, "%zu-member breadth (all ticked)", members);
    std::printf("  %-34s %5zu members  pause p50 %7.1f  p99 %7.1f  max %7.1f us | floor: snapshot "
                "%7.1f us | pause/floor p50 %.2fx\n",
                what, r.members, r.pause.p50, r.pause.p99, r.pause.max, r.snapshot,
                r.pause.p50 / r.snapshot);
}

const char* k_tick_config = R"(
[engine]
busy_poll = true
pin_cpu = 1
lateness = "1h"
[[instrument]]
symbol = "X"
[[instrument]]
symbol = "Y"
[[signal]]
name = "x_low"
kind = "level"
instruments = ["X"]
levels = [{ at = 90, severity = "warning" }]
[[signal]]
name = "y_dd"
kind = "drawdown"
instruments = ["Y"]
window = "1h"
levels = [{ at = LEVEL, severity = "warning" }]
)";

std::string tick_config(const char* level) {
    std::string s = k_tick_config;
    s.replace(s.find("LEVEL"), 5, level);
    return s;
}

/// The tick path at `rate` for `seconds`, one tick in ten crossing x_low's level; with
/// `every_ms` > 0 a thread reloads (alternating y_dd's level) that often. Returns the
/// frame-read -> trigger-enqueued latencies and the reloads done.
percentiles tick_path(double rate, double seconds, int every_ms, std::size_t& reloads) {
    const engine::config cfg = engine::load_config_string(tick_config("-0.05"), "reload_bench");
    engine::run_options o;
    o.print = false;
    o.serve = false;
    o.inproc_feed = true;
    const auto total = static_cast<std::size_t>(rate * seconds);
    o.latency_samples = total / 10 + 16;
    engine::runtime rt(cfg, o);
    rt.start();
    std::atomic<bool> stop{false};
    reloads = 0;
    std::thread reloader;
    if (every_ms > 0) {
        reloader = std::thread([&] {
            const std::string a = tick_config("-0.04"), b = tick_config("-0.06");
            while (!stop.load()) {
                std::this_thread::sleep_for(std::chrono::milliseconds(every_ms));
                if (!rt.reload_and_wait(reloads % 2 == 0 ? a : b).ok) std::exit(1);
                ++reloads;
            }
        });
    }
    bench::pin_self(0);
    const core::nanos step = static_cast<core::nanos>(1e9 / rate);
    core::nanos due = core::monotonic_now();
    std::string frame;
    std::uint64_t crossings = 0;
    for (std::size_t i = 0; i < total; ++i) {
        pace_until(due);
        due += step;
        double px;
        if (i % 10 == 0)
            px = (crossings++ % 2 == 0) ? 85 : 95;
        else
            px = (crossings % 2 == 1) ? 86 : 96;
        frame = R"({"sym":")" + std::string(i % 20 == 5 ? "Y" : "X") + R"(","px":)" +
                std::to_string(px) + "}";
        rt.inject(frame, core::realtime_now());
    }
    stop.store(true);
    if (reloader.joinable()) reloader.join();
    rt.request_stop();
    rt.wait();
    return summarize(rt.latency_samples());
}

} // namespace

int main(int argc, char** argv) {
    std::size_t reloads = 40, members = 5000;
    double rate = 100'000, seconds = 3;
    int rounds = 3, every = 100;
    for (int i = 1; i < argc; ++i) {
        auto next = [&] { return i + 1 < argc ? argv[++i] : "0"; };
        if (std::strcmp(argv[i], "--reloads") == 0)
            reloads = std::strtoul(next(), nullptr, 10);
        else if (std::strcmp(argv[i], "--rate") == 0)
            rate = std::strtod(next(), nullptr);
        else if (std::strcmp(argv[i], "--seconds") == 0)
            seconds = std::strtod(next(), nullptr);
        else if (std::strcmp(argv[i], "--rounds") == 0)
            rounds = std::atoi(next());
        else if (std::strcmp(argv[i], "--every") == 0)
            every = std::atoi(next());
        else if (std::strcmp(argv[i], "--quick") == 0) {
            reloads = 6;
            members = 500;
            seconds = 0.5;
            rounds = 1;
        } else {
            std::fprintf(stderr,
                         "usage: reload_bench [--reloads N] [--rate TICKS_PER_S] [--seconds S] "
                         "[--rounds N] [--every MS] [--quick]\n");
            return 2;
        }
    }
    std::printf("reload pause: the signal thread's swap per reload (%zu reloads each)\n", reloads);
    playbook_case(reloads);
    breadth_case(reloads, members);
    std::printf("tick path (frame read -> trigger enqueued, busy poll) at %.0f ticks/s, %.1f s "
                "rounds, a reload every %d ms vs none:\n",
                rate, seconds, every);
    std::vector<double> p50_r, p99_r, p50_n, p99_n;
    for (int r = 0; r < rounds; ++r) {
        std::size_t n = 0;
        const percentiles none = tick_path(rate, seconds, 0, n);
        const percentiles with = tick_path(rate, seconds, every, n);
        std::printf("  round %d: without p50 %6.2f p99 %7.2f us | with %zu reloads p50 %6.2f p99 "
                    "%7.2f us (max %.0f us)\n",
                    r + 1, none.p50, none.p99, n, with.p50, with.p99, with.max);
        p50_n.push_back(none.p50);
        p99_n.push_back(none.p99);
        p50_r.push_back(with.p50);
        p99_r.push_back(with.p99);
    }
    std::printf("  median of %d rounds: p50 %.2fx, p99 %.2fx the tick path without reloads "
                "(target p99 <= 1.5x)\n",
                rounds, median(p50_r) / median(p50_n), median(p99_r) / median(p99_n));
    return 0;
}
