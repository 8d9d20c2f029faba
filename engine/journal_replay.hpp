#pragma once
// Replay of a journal (DESIGN §7): every recorded frame through the same per-feed pipelines
// (the venue adapters, duplicate and gap judgement), and the ticks and feed-health events into
// the signals in the order the live signal thread consumed them, so the triggers are the live
// run's. The clock is the journal's: --speed max (default) or N times real time; the output is
// the same at every speed.

#include "engine/config.hpp"
#include "engine/replay.hpp"

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace seismo::engine {

struct journal_replay_options {
    replay_options base;             ///< out, ticks, summary, dead letter, deterministic
    double speed = 0;                ///< 0 = as fast as possible; else event time per real time
    bool stop_on_corruption = false; ///< stop (and fail) at the first damaged record
    bool progress = true;            ///< a progress bar on a TTY, periodic lines otherwise
};

struct journal_replay_result {
    replay_stats stats;
    std::uint64_t dropped_bytes = 0; ///< torn tails and skipped damage
    std::uint64_t problems = 0;      ///< damaged records or blocks reported
    std::uint64_t lost_ticks = 0;    ///< consumed live, but their frame was lost to damage
    bool stopped = false;            ///< stopped at damage (stop_on_corruption)
    std::string first_problem;
};

/// Replays the journal at `path` (a directory or one segment) with `cfg` (or, when null, the
/// config the journal recorded). Throws std::runtime_error when the journal cannot be read.
journal_replay_result run_journal_replay(const std::string& path, const config* cfg,
                                         const journal_replay_options& opts);

/// What `seismo inspect` reports about a journal: its feeds, records, time span and damage.
struct journal_inspection {
    struct feed {
        std::string name, venue;
        std::uint64_t frames = 0, frame_bytes = 0, health = 0;
        core::nanos first_recv = 0, last_recv = 0;
    };
    std::vector<feed> feeds;
    std::size_t segments = 0;
    std::uint64_t bytes = 0, frames = 0, orders = 0, order_entries = 0, health = 0, reloads = 0;
    std::uint64_t problems = 0, dropped_bytes = 0;
    std::uint64_t digest = 0;
    std::string config_file;
};

/// Reads the whole journal at `path`, reporting damage on `problems` (one line each). With
/// `frames_out` non-empty, writes every frame as a JSON line {"recv_ts","feed","frame_no","frame"}
/// (the raw bytes as a JSON string) so recorded feeds can be extracted.
journal_inspection inspect_journal(const std::string& path, const std::string& frames_out,
                                   std::ostream& problems);

/// The inspection as one JSON object (and a newline).
std::string inspection_json(const journal_inspection& j);

} // namespace seismo::engine
