// End-to-end replay throughput (DESIGN §12): >= 5 M generated frames held in memory, replayed
// through the full engine (parse, symbol lookup, validation, every playbook signal) beside the
// floor: a simdjson On-Demand loop over the same frames that finds each line and reads the same
// fields, nothing else. Prints both rates and their ratio; the best of several rounds each.
//
//   build/release/bench/replay_bench [--frames N] [--rounds R]
#include "bench/floor.hpp"
#include "bench/frames.hpp"
#include "bench/support.hpp"
#include "engine/config.hpp"
#include "engine/replay.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using seismo::bench::floor_pass;

int main(int argc, char** argv) {
    std::size_t frames = 5'000'000;
    int rounds = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--frames") == 0) frames = std::stoull(argv[i + 1]);
        if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::stoi(argv[i + 1]);
    }
    const auto cfg = seismo::engine::load_playbook();
    const auto fs = seismo::bench::make_frames(frames);
    std::printf("replay_bench: %zu frames (%.1f MB) in memory, playbook config (%zu signals), best "
                "of %d rounds\n",
                fs.frames, static_cast<double>(fs.size) / 1e6, cfg.signals.size(), rounds);
    double best_floor = 1e99, best_engine = 1e99;
    std::uint64_t checksum = 0;
    seismo::engine::replay_stats st;
    for (int r = 0; r < rounds; ++r) {
        best_floor = std::min(best_floor, floor_pass(fs, checksum));
        best_engine = std::min(best_engine, seismo::bench::replay_in_memory(fs, cfg, st));
    }
    const double n = static_cast<double>(fs.frames);
    const double floor_rate = n / best_floor, engine_rate = n / best_engine;
    std::printf("  floor  (simdjson On-Demand, same fields): %7.1f ns/frame  %6.2f M frames/s  "
                "(checksum %llu)\n",
                best_floor * 1e9 / n, floor_rate / 1e6,
                static_cast<unsigned long long>(checksum % 1000));
    std::printf("  engine (parse + registry + %zu signals):   %7.1f ns/frame  %6.2f M ticks/s   "
                "(%llu applied, %llu triggers, %llu rejected)\n",
                cfg.signals.size(), best_engine * 1e9 / n, engine_rate / 1e6,
                static_cast<unsigned long long>(st.applied + st.references),
                static_cast<unsigned long long>(st.triggers),
                static_cast<unsigned long long>(st.rejected_total()));
    std::printf("  ratio engine/floor: %.1f%%   (target >= 80%%, DESIGN §12)\n",
                100.0 * engine_rate / floor_rate);
    return st.rejected_total() == 0 && st.applied > 0 ? 0 : 1;
}
