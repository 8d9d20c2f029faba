// How cost grows with the work (DESIGN §12): the in-memory replay's ns per tick (parse, symbol
// lookup, validation, the signals, triggers serialised) and the bytes of signal state, as one
// dimension grows and the rest stay put, each point beside the simdjson parse floor of its own
// frames measured in the same run:
//   instruments  100 -> 1 k -> 10 k -> 100 k   one windowed drawdown over all of them
//   signals      1 -> 10 -> 100 -> 1,000        windowed drawdowns, each over the same 1,000
//   breadth      5 k -> 50 k -> 500 k members   one windowed breadth over the universe
//   triggers     0 -> 0.1% -> 1% -> 10% of ticks crossing a level, over 1,000 instruments
// For each point: ns/tick, ns per member update (signals), the ratio to the floor, state bytes
// (graph::state_bytes) and per member, the slope of ns/tick against the previous point, and the
// cache level the state no longer fits in (from sysfs).
//
//   build/release/bench/scaling_bench [--ticks 2000000] [--rounds 3] [--quick] [--no-read-ahead]
//                                     [--threads 1|2] [--only instruments|signals|breadth|triggers]
// --no-read-ahead replays without looking ahead (engine/replay.hpp, read_ahead), to show
// what they save once the state leaves the cache. --threads 2 replays on two threads (parse |
// signals, replay_session::begin_parallel): ns/tick is then the elapsed time per tick, not one
// thread's cost (the default, 1, measures that cost).
#include "bench/floor.hpp"
#include "bench/frames.hpp"
#include "bench/support.hpp"
#include "engine/config.hpp"
#include "engine/replay.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace seismo;

/// A cache level's size in bytes from sysfs (0 when unknown).
std::size_t cache_bytes(int index) {
    std::ifstream in("/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/size");
    std::string s;
    if (!(in >> s) || s.empty()) return 0;
    std::size_t v = std::stoull(s);
    if (s.back() == 'K') v <<= 10;
    if (s.back() == 'M') v <<= 20;
    return v;
}

std::size_t g_l2 = 0, g_l3 = 0;
bool g_read_ahead = true;
unsigned g_threads = 1;

const char* fits(std::size_t bytes) {
    if (g_l2 != 0 && bytes <= g_l2) return "in L2";
    if (g_l3 != 0 && bytes <= g_l3) return "in L3";
    return "past L3";
}

/// Lines of generic ticks over `n` symbols "I000000".., uniformly at random, each a random
/// walk; with `cross` > 0 that share of ticks moves its symbol across 90 (a level's threshold)
/// and back, else prices stay in 95..105.
bench::frame_set make_ticks(std::size_t n, std::size_t ticks, double cross, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<std::size_t> pick(0, n - 1);
    std::uniform_real_distribution<double> u(0, 1);
    std::vector<double> px(n, 100);
    std::vector<char> low(n, 0);
    bench::frame_set fs;
    fs.buffer.reserve(ticks * 64);
    char line[128];
    for (std::size_t i = 0; i < ticks; ++i) {
        const std::size_t k = pick(rng);
        double p;
        if (cross > 0 && u(rng) < cross) {
            low[k] = static_cast<char>(!low[k]);
            p = low[k] ? 85 : 96;
        } else if (cross > 0) {
            p = low[k] ? 86 : 97;
        } else {
            px[k] = std::clamp(px[k] * (1 + (u(rng) - 0.5) * 0.002), 95.0, 105.0);
            p = px[k];
        }
        const int len =
            std::snprintf(line, sizeof line,
                          R"({"sym":"I%06zu","px":%.4f,"ts":%lld})"
                          "\n",
                          k, p, 1'770'000'000'000'000'000LL + static_cast<long long>(i) * 1000);
        fs.buffer.append(line, static_cast<std::size_t>(len));
        ++fs.frames;
    }
    fs.size = fs.buffer.size();
    fs.buffer.append(64, '\0');
    return fs;
}

/// Instruments I000000 .. I(n-1), declared and tagged "u": every member exists before the
/// clock starts (a symbol first seen in the feed would make its members inside the timing).
std::string config_with(const std::string& signals, std::size_t n) {
    std::string c = "[engine]\nlateness = \"1h\"\nmemory_budget = \"16GiB\"\n";
    c.reserve(n * 48 + signals.size() + 64);
    char b[64];
    for (std::size_t i = 0; i < n; ++i) {
        std::snprintf(b, sizeof b, "[[instrument]]\nsymbol = \"I%06zu\"\ntags = [\"u\"]\n", i);
        c += b;
    }
    return c + signals;
}

std::string drawdown(const std::string& name) {
    return "[[signal]]\nname = \"" + name +
           "\"\nkind = \"drawdown\"\nselect = \"tag:u\"\nwindow = \"10m\"\nresolution = \"1m\"\n"
           "levels = [{ at = -0.5, severity = \"warning\" }]\n";
}

struct point {
    double ns_tick = 0, floor_ns = 0;
    std::size_t state = 0, members = 0, applied = 0, triggers = 0;
};

point measure(const std::string& cfg_text, const bench::frame_set& fs, int rounds) {
    const engine::config cfg = engine::load_config_string(cfg_text, "scaling_bench");
    point p;
    double best = 1e99, best_floor = 1e99;
    for (int r = 0; r < rounds; ++r) {
        std::uint64_t checksum = 0;
        best_floor = std::min(best_floor, bench::floor_pass(fs, checksum));
        engine::replay_stats st;
        const double secs = bench::replay_in_memory(
            fs, cfg, st,
            [&](engine::replay_session& s) {
                p.state = s.graph().state_bytes();
                p.members = bench::total_members(s.graph());
            },
            g_read_ahead, g_threads);
        best = std::min(best, secs);
        p.applied = st.applied;
        p.triggers = st.triggers;
    }
    p.ns_tick = best * 1e9 / static_cast<double>(p.applied);
    p.floor_ns = best_floor * 1e9 / static_cast<double>(fs.frames);
    return p;
}

void header(const char* dim) {
    std::printf("\n  %-10s %9s %9s %8s %8s %11s %9s %10s %8s  %s\n", dim, "ticks", "ns/tick",
                "floor", "ratio", "state", "B/member", "triggers", "slope", "state fits");
}

void row(const std::string& label, const point& p, const point* prev, double per = 1) {
    char slope[32] = "";
    if (prev != nullptr) std::snprintf(slope, sizeof slope, "%.2fx", p.ns_tick / prev->ns_tick);
    char state[32];
    std::snprintf(state, sizeof state, "%.1f MiB", static_cast<double>(p.state) / (1 << 20));
    std::printf("  %-10s %9zu %9.1f %8.1f %7.2fx %11s %9.0f %10zu %8s  %s", label.c_str(),
                p.applied, p.ns_tick, p.floor_ns, p.ns_tick / p.floor_ns, state,
                p.members != 0 ? static_cast<double>(p.state) / static_cast<double>(p.members)
                               : 0.0,
                p.triggers, slope, fits(p.state));
    if (per != 1) std::printf("   %.2f ns per member update", p.ns_tick / per);
    std::printf("\n");
}

} // namespace

int main(int argc, char** argv) {
    std::size_t ticks = 2'000'000;
    int rounds = 3;
    bool quick = false;
    std::string only;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--ticks") == 0 && i + 1 < argc)
            ticks = std::stoull(argv[++i]);
        else if (std::strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = std::stoi(argv[++i]);
        else if (std::strcmp(argv[i], "--quick") == 0)
            quick = true;
        else if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (std::strcmp(argv[i], "--no-read-ahead") == 0)
            g_read_ahead = false;
        else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc &&
                 (std::strcmp(argv[i + 1], "1") == 0 || std::strcmp(argv[i + 1], "2") == 0))
            g_threads = static_cast<unsigned>(std::stoul(argv[++i]));
        else {
            std::fprintf(stderr, "usage: scaling_bench [--ticks N] [--rounds R] [--quick] "
                                 "[--no-read-ahead] [--threads 1|2] [--only instruments|signals|"
                                 "breadth|triggers]\n");
            return 2;
        }
    }
    if (!only.empty() && only != "instruments" && only != "signals" && only != "breadth" &&
        only != "triggers") {
        std::fprintf(stderr,
                     "scaling_bench: --only takes instruments, signals, breadth or "
                     "triggers, not '%s'\n",
                     only.c_str());
        return 2;
    }
    const auto wanted = [&](const char* dim) { return only.empty() || only == dim; };
    if (quick) {
        ticks = 50'000;
        rounds = 1;
    }
    g_l2 = cache_bytes(2);
    g_l3 = cache_bytes(3);
    std::printf("scaling_bench: in-memory replay%s%s, best of %d rounds per point; floor = "
                "simdjson read of the same frames; L2 %zu KiB, L3 %zu KiB\n",
                g_read_ahead ? "" : " without read-ahead", g_threads == 2 ? " on two threads" : "",
                rounds, g_l2 >> 10, g_l3 >> 10);

    if (wanted("instruments")) header("instruments");
    point prev;
    bool have = false;
    for (std::size_t n : {100, 1'000, 10'000, 100'000}) {
        if ((quick && n > 1'000) || !wanted("instruments")) break;
        const point p = measure(config_with(drawdown("dd"), n), make_ticks(n, ticks, 0, 1), rounds);
        row(std::to_string(n), p, have ? &prev : nullptr);
        prev = p;
        have = true;
    }

    if (wanted("signals")) header("signals");
    have = false;
    for (std::size_t s : {1, 10, 100, 1'000}) {
        if ((quick && s > 10) || !wanted("signals")) break;
        std::string sigs;
        for (std::size_t i = 0; i < s; ++i)
            sigs += drawdown("dd" + std::to_string(i));
        // Fewer ticks as each updates more members: the same member updates at every point.
        const std::size_t t = std::max<std::size_t>(ticks / s, 20'000);
        const point p = measure(config_with(sigs, 1'000), make_ticks(1'000, t, 0, 2), rounds);
        row(std::to_string(s), p, have ? &prev : nullptr, static_cast<double>(s));
        prev = p;
        have = true;
    }

    if (wanted("breadth")) header("breadth");
    have = false;
    for (std::size_t m : {5'000, 50'000, 500'000}) {
        if ((quick && m > 5'000) || !wanted("breadth")) break;
        const std::string sig = "[[signal]]\nname = \"br\"\nkind = \"breadth\"\nselect = "
                                "\"tag:u\"\nwindow = \"10m\"\nresolution = \"1m\"\nmember_at = "
                                "-0.001\nlevels = [{ at = 0.9, severity = \"warning\" }]\n";
        const point p =
            measure(config_with(sig, m), make_ticks(m, std::max(ticks, 4 * m), 0, 3), rounds);
        row(std::to_string(m), p, have ? &prev : nullptr);
        prev = p;
        have = true;
    }

    if (wanted("triggers")) header("triggers");
    have = false;
    for (double r : {0.0, 0.001, 0.01, 0.1}) {
        if (!wanted("triggers")) break;
        const std::string sig = "[[signal]]\nname = \"lv\"\nkind = \"level\"\nselect = "
                                "\"tag:u\"\nlevels = [{ at = 90, severity = \"warning\" }]\n";
        char label[16];
        std::snprintf(label, sizeof label, "%.1f%%", r * 100);
        const point p = measure(config_with(sig, 1'000), make_ticks(1'000, ticks, r, 4), rounds);
        row(label, p, have ? &prev : nullptr);
        prev = p;
        have = true;
    }
    return 0;
}
