#pragma once
// Replays to files and what they wrote, for the replay tests (replay_test, replay_threads_test).

#include "engine/config.hpp"
#include "engine/replay.hpp"
#include "engine/sim.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

namespace seismo::engine {

/// The playbook's simulated day over 1,500 A-shares (enough for a_share_breadth's min_members),
/// with `bad_rate` bad lines per good one.
inline std::string simulated_day(std::uint64_t seed, double bad_rate) {
    sim_options so;
    so.stocks = 1500;
    so.seed = seed;
    so.bad_rate = bad_rate;
    return simulate(so);
}

inline std::string temp_path(const std::string& name) {
    return ::testing::TempDir() + "seismo_replay_" + std::to_string(::getpid()) + "_" + name;
}

inline std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

inline void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary);
    f << bytes;
}

inline std::size_t count_lines(const std::string& s) {
    return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

struct run_files {
    std::string triggers, ticks, dead, summary;
    replay_stats stats;
};

/// Replays with `o` (its inputs, format, venue, threads), writing every output to a file.
inline run_files replay_with(const config& cfg, replay_options o, const std::string& tag) {
    o.out = temp_path(tag + ".triggers");
    o.ticks = temp_path(tag + ".ticks");
    o.dead_letter = temp_path(tag + ".dead");
    o.summary = temp_path(tag + ".summary");
    std::remove(o.dead_letter.c_str());
    run_files r;
    r.stats = run_replay(cfg, o);
    r.triggers = slurp(o.out);
    r.ticks = slurp(o.ticks);
    r.dead = slurp(o.dead_letter);
    r.summary = slurp(o.summary);
    for (const auto& p : {o.out, o.ticks, o.dead_letter, o.summary})
        std::remove(p.c_str());
    return r;
}

inline run_files replay_file(const config& cfg, const std::string& input, const std::string& tag,
                             bool deterministic = true,
                             std::size_t read_ahead_from = replay_options{}.read_ahead_from) {
    replay_options o;
    o.read_ahead_from = read_ahead_from;
    o.inputs = {input};
    o.deterministic = deterministic;
    return replay_with(cfg, o, tag);
}

/// Both runs wrote the same bytes and counted the same.
inline void expect_same(const run_files& a, const run_files& b) {
    EXPECT_EQ(a.triggers, b.triggers);
    EXPECT_EQ(a.ticks, b.ticks);
    EXPECT_EQ(a.dead, b.dead);
    EXPECT_EQ(a.stats.frames, b.stats.frames);
    EXPECT_EQ(a.stats.applied, b.stats.applied);
    EXPECT_EQ(a.stats.references, b.stats.references);
    EXPECT_EQ(a.stats.ignored, b.stats.ignored);
    EXPECT_EQ(a.stats.rejected, b.stats.rejected);
    EXPECT_EQ(a.stats.triggers, b.stats.triggers);
    EXPECT_EQ(a.stats.warnings, b.stats.warnings);
}

} // namespace seismo::engine
