// End-to-end replay throughput (DESIGN §12): >= 5 M generated frames held in memory, replayed
// through the full engine (parse, symbol lookup, validation, every playbook signal) beside the
// floor: a simdjson On-Demand loop over the same frames that finds each line and reads the same
// fields, nothing else. Prints both rates and their ratio; the best of several rounds each. The
// engine runs twice: on one thread, and on two (parsing on one, the signals on the other, as
// `seismo replay` does on a machine with two CPUs: engine/replay.hpp, begin_parallel) with the
// CPU time both threads took.
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
#include <sys/resource.h>
#include <vector>

using seismo::bench::floor_pass;

namespace {

double cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

} // namespace

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
    double best_floor = 1e99, best_engine = 1e99, best_two = 1e99, two_cpu = 0;
    std::uint64_t checksum = 0;
    seismo::engine::replay_stats st, st2;
    for (int r = 0; r < rounds; ++r) {
        best_floor = std::min(best_floor, floor_pass(fs, checksum));
        best_engine = std::min(best_engine, seismo::bench::replay_in_memory(fs, cfg, st));
        const double c0 = cpu_seconds();
        const double t = seismo::bench::replay_in_memory(fs, cfg, st2, {}, true, 2);
        if (t < best_two) {
            best_two = t;
            two_cpu = cpu_seconds() - c0; // the session's start and end included
        }
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
    std::printf("  ratio engine/floor: %.1f%%   (one thread)\n", 100.0 * engine_rate / floor_rate);
    std::printf("  engine on two threads (parse | signals): %7.1f ns/frame  %6.2f M ticks/s   "
                "(%.2f CPUs busy, %llu triggers)\n",
                best_two * 1e9 / n, n / best_two / 1e6, two_cpu / best_two,
                static_cast<unsigned long long>(st2.triggers));
    std::printf("  ratio engine/floor: %.1f%%   (two threads; target >= 80%%, DESIGN §12)\n",
                100.0 * best_floor / best_two);
    const bool same =
        st2.applied == st.applied && st2.triggers == st.triggers && st2.rejected == st.rejected;
    if (!same) std::printf("  FAILED: the two-thread replay's figures differ from one thread's\n");
    return same && st.rejected_total() == 0 && st.applied > 0 ? 0 : 1;
}
