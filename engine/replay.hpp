#pragma once
// Offline replay (DESIGN §7, §9): frames from files (or memory) through the same parsers and the
// same signal graph as live, with the clock taken from the data, triggers out in seq order.

#include "engine/config.hpp"
#include "engine/core/instrument_registry.hpp"
#include "engine/dead_letter.hpp"
#include "engine/line_reader.hpp"
#include "engine/output.hpp"
#include "feeds/frame.hpp"
#include "feeds/sequence.hpp"
#include "feeds/venues.hpp"
#include "signals/graph.hpp"

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace seismo::engine {

/// Input formats `seismo replay` reads (DESIGN §9).
enum class input_format : std::uint8_t { jsonl, tardis, tardis_csv };

struct replay_options {
    std::vector<std::string> inputs;
    std::string format = "auto"; ///< auto | jsonl | tardis | tardis-csv
    std::string venue;           ///< adapter for tardis frames (binance, coinbase, ...)
    std::string out = "-";       ///< triggers, JSON lines ("-" = stdout, "" = nowhere)
    std::string ticks;           ///< applied normalized ticks as generic-protocol lines
    std::string summary;         ///< run figures as JSON
    std::string dead_letter;     ///< refused input as JSON lines
    std::string plot;            ///< an HTML plot of the replay ("" = none)
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

    /// Processes one line of the given format; its text has k_line_padding readable bytes after
    /// it. (`process` alone: a generic-protocol line.)
    void process(std::string_view feed, const line_reader::line& l,
                 input_format fmt = input_format::jsonl);
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
    void apply_frame(std::string_view feed, std::uint64_t pos, const char* data, std::size_t len,
                     std::size_t capacity, core::nanos recv_ts, std::string_view raw_line);
    void apply_ticks(std::string_view feed, std::uint64_t pos, core::nanos recv_ts,
                     std::string_view raw_line);
    void process_csv(std::string_view feed, const line_reader::line& l);
    core::symbol_cache& csv_symbols(std::string_view exchange);

    const config* cfg_;
    replay_options opts_;
    std::unique_ptr<core::instrument_registry> registry_;
    signals::graph graph_;
    core::symbol_cache symbols_;
    feeds::venue_parser parser_;
    std::vector<std::pair<std::string, std::unique_ptr<core::symbol_cache>>> csv_symbols_;
    std::vector<int>
        csv_columns_; // price, amount, timestamp, local_timestamp, id, symbol, exchange
    feeds::sequence_tracker seqs_;
    std::vector<core::tick> ticks_;
    output_file out_;
    output_file ticks_out_;
    dead_letter dead_;
    std::string buf_;
    replay_stats stats_;
    core::nanos started_ = 0;
    std::function<void(const signals::trigger&, std::string_view)> observer_;
    std::unique_ptr<class plot_recorder> plot_;
    bool triggered_ = false;
};

/// The format of a file, judged from its first non-empty line: a Tardis raw capture
/// ("<ISO time> <frame>"), a Tardis trades CSV (header "exchange,symbol,..."), else JSON lines.
[[nodiscard]] input_format sniff_format(const std::string& path);

/// Opens every input and replays it. Throws std::invalid_argument on bad options (unknown
/// format or venue, tardis without --venue) and std::runtime_error on unreadable input.
replay_stats run_replay(const config& cfg, const replay_options& opts);

} // namespace seismo::engine
