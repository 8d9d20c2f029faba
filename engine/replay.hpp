#pragma once
// Offline replay (DESIGN §7, §9): frames from files (or memory) through the same parsers and the
// same signal graph as live, with the clock taken from the data, triggers out in seq order.

#include "engine/config.hpp"
#include "engine/core/instrument_registry.hpp"
#include "engine/dead_letter.hpp"
#include "engine/line_reader.hpp"
#include "engine/output.hpp"
#include "feeds/frame.hpp"
#include "feeds/generic.hpp"
#include "feeds/sequence.hpp"
#include "signals/graph.hpp"

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace seismo::engine {

struct replay_options {
    std::vector<std::string> inputs;
    std::string format = "auto";
    std::string venue;
    std::string out = "-";     ///< triggers, JSON lines ("-" = stdout, "" = nowhere)
    std::string ticks;         ///< applied normalized ticks as generic-protocol lines
    std::string summary;       ///< run figures as JSON
    std::string dead_letter;   ///< refused input as JSON lines
    bool deterministic = false;
};

struct replay_stats {
    std::uint64_t frames = 0;     ///< lines / frames read
    std::uint64_t applied = 0;    ///< price/value ticks that went through the signals
    std::uint64_t references = 0; ///< previous-close updates applied
    std::uint64_t ignored = 0;    ///< valid input seismo has no use for (incl. control frames)
    std::uint64_t triggers = 0;
    std::array<std::uint64_t, feeds::k_reject_reasons> rejected{};
    double seconds = 0;

    [[nodiscard]] std::uint64_t rejected_total() const noexcept;
};

/// `{"frames":…,"applied":…,"ignored":…,"rejected":{…},"triggers":…,"seconds":…}`
[[nodiscard]] std::string summary_json(const replay_stats& s);
/// One human line: counts, triggers, ticks/s.
[[nodiscard]] std::string summary_text(const replay_stats& s);

class replay_session final : public signals::trigger_sink {
public:
    replay_session(const config& cfg, const replay_options& opts);
    ~replay_session() override;

    /// Processes one frame whose text has k_line_padding readable bytes after it.
    void process(std::string_view feed, const line_reader::line& l);
    /// Processes every line of a buffer that has k_line_padding readable bytes past `size`.
    void process_buffer(std::string_view feed, const char* data, std::size_t size);

    /// Optional observer of every trigger as it is produced (after it is written).
    void on_each_trigger(std::function<void(const signals::trigger&, std::string_view json)> f) {
        observer_ = std::move(f);
    }

    /// Flushes outputs, writes the summary file, and returns the figures.
    replay_stats finish();

    [[nodiscard]] const signals::graph& graph() const noexcept { return graph_; }
    [[nodiscard]] const core::instrument_registry& registry() const noexcept { return *registry_; }
    [[nodiscard]] const replay_stats& stats() const noexcept { return stats_; }

private:
    void on_trigger(const signals::trigger& t) override;
    void reject(std::string_view feed, std::uint64_t pos, core::nanos recv_ts,
                feeds::reject_reason r, std::string_view detail, std::string_view frame);
    void write_tick(const core::tick& t);

    const config* cfg_;
    replay_options opts_;
    std::unique_ptr<core::instrument_registry> registry_;
    signals::graph graph_;
    core::symbol_cache symbols_;
    feeds::generic_parser parser_;
    feeds::sequence_tracker seqs_;
    std::vector<core::tick> ticks_;
    output_file out_;
    output_file ticks_out_;
    dead_letter dead_;
    std::string buf_;
    replay_stats stats_;
    core::nanos started_ = 0;
    std::function<void(const signals::trigger&, std::string_view)> observer_;
};

/// Opens every input and replays it. Throws std::runtime_error on unreadable input.
replay_stats run_replay(const config& cfg, const replay_options& opts);

} // namespace seismo::engine
