#pragma once
// Pieces the end-to-end benchmarks share: the in-memory replay that is the engine's throughput
// (replay_bench's figure, journal_bench's replay floor), and removing a benchmark's journal.

#include "bench/frames.hpp"
#include "engine/config.hpp"
#include "engine/replay.hpp"

#include <chrono>
#include <dirent.h>
#include <string>
#include <unistd.h>

namespace seismo::bench {

/// Seconds to replay every frame of `fs` through `cfg`'s signals from memory (triggers are
/// produced and serialised, not written); the run's figures in `st`.
inline double replay_in_memory(const frame_set& fs, const engine::config& cfg,
                               engine::replay_stats& st) {
    engine::replay_options o;
    o.out = "";
    o.deterministic = true;
    engine::replay_session s(cfg, o, "bench");
    const auto t0 = std::chrono::steady_clock::now();
    s.process_buffer(fs.buffer.data(), fs.size);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    st = s.finish();
    return secs;
}

/// Removes a journal directory a benchmark wrote (its files, then the directory).
inline void remove_journal(const std::string& dir) {
    if (DIR* d = ::opendir(dir.c_str())) {
        while (const dirent* e = ::readdir(d)) {
            if (e->d_name[0] != '.') ::unlink((dir + "/" + e->d_name).c_str());
        }
        ::closedir(d);
    }
    ::rmdir(dir.c_str());
}

} // namespace seismo::bench
