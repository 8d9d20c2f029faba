#pragma once
// Pieces the end-to-end benchmarks share: the in-memory replay that is the engine's throughput
// (replay_bench's figure, journal_bench's replay floor), and removing a benchmark's journal.

#include "bench/frames.hpp"
#include "engine/config.hpp"
#include "engine/journal/line_reader.hpp"
#include "engine/replay.hpp"

#include <chrono>
#include <dirent.h>
#include <functional>
#include <limits>
#include <string>
#include <unistd.h>
#include <vector>

namespace seismo::bench {

/// Seconds to replay every frame of `fs` through `cfg`'s signals from memory (triggers are
/// produced and serialised, not written); the run's figures in `st`. `inspect`, when given, sees
/// the session after the timed replay and before it finishes (state, snapshots).
inline double replay_in_memory(const frame_set& fs, const engine::config& cfg,
                               engine::replay_stats& st,
                               const std::function<void(engine::replay_session&)>& inspect = {},
                               bool read_ahead = true, unsigned threads = 1) {
    engine::replay_options o;
    o.out = "";
    o.threads = threads;
    if (!read_ahead) o.read_ahead_from = std::numeric_limits<std::size_t>::max();
    o.deterministic = true;
    engine::replay_session s(cfg, o, "bench");
    const auto t0 = std::chrono::steady_clock::now();
    s.process_buffer(fs.buffer.data(), fs.size);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (inspect) inspect(s);
    st = s.finish();
    return secs;
}

/// Members of every signal of `g` (instruments per per-instrument signal, 1 per composite).
inline std::size_t total_members(const signals::graph& g) {
    std::size_t n = 0;
    for (std::uint32_t i = 0; i < g.specs().size(); ++i)
        n += g.members(i);
    return n;
}

/// Lines (without newlines) as a frame set: each line and a newline, then the padding replay
/// reads past the last one.
inline frame_set frames_of(const std::vector<std::string>& lines) {
    frame_set fs;
    for (const auto& l : lines) {
        fs.buffer += l;
        fs.buffer += '\n';
    }
    fs.size = fs.buffer.size();
    fs.frames = lines.size();
    fs.buffer.append(journal::k_line_padding, '\0');
    return fs;
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
