#pragma once
// Offline replay (DESIGN §7, §9) through the one path every input takes (DESIGN §2): each
// line of a file is a frame of its feed, handed to that feed's frame_pipeline (the venue's
// adapter or the Tardis CSV reader, refusals, duplicates, gaps) and its ticks and health events
// to a signal_stage, exactly as the live runtime and the journal replay do — only the source
// and the clock differ. The clock is the data's: a Tardis capture's receive times, else the
// greatest event time applied so far.

#include "engine/config.hpp"
#include "engine/core/instrument_registry.hpp"
#include "engine/core/time.hpp"
#include "engine/generation.hpp"
#include "engine/journal/dead_letter.hpp"
#include "engine/journal/line_reader.hpp"
#include "engine/journal/output.hpp"
#include "engine/nats_link.hpp"
#include "engine/signal_stage.hpp"
#include "feeds/frame.hpp"
#include "feeds/pipeline.hpp"
#include "feeds/venue.hpp"

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace seismo::engine {

class plot_recorder;

/// Input formats `seismo replay` reads (DESIGN §9).
enum class input_format : std::uint8_t { jsonl, tardis, tardis_csv };

struct replay_options {
    std::vector<std::string> inputs;
    std::string format = "auto"; ///< auto | jsonl | tardis | tardis-csv
    std::string venue;           ///< adapter for tardis frames (binance, coinbase, ...)
    /// The feed every input plays as (its name in dead letters and feed-health triggers; when
    /// it names a [[feed]], that feed's venue and frame limit apply). Empty: each input is a
    /// feed of its own, named by its path.
    std::string feed;
    std::string out = "-";   ///< triggers, JSON lines ("-" = stdout, "" = nowhere)
    std::string ticks;       ///< applied normalized ticks as generic-protocol lines
    std::string summary;     ///< run figures as JSON
    std::string dead_letter; ///< refused input as JSON lines
    std::string plot;        ///< an HTML plot of the replay ("" = none)
    bool deterministic = false;
    /// Read ahead (read_ahead) once the registry holds this many instruments. It changes
    /// nothing but the time taken; SIZE_MAX turns it off (to measure what it saves).
    std::size_t read_ahead_from = 32'768;
    /// Threads of a replay of files (and of process_buffer): 1 runs every stage on the caller's
    /// thread; 2 parses there and runs the signals and outputs on a second, a batch of frames at
    /// a time (replay_session::begin_parallel) — the same bytes out either way; 0 picks 2 when
    /// the process may run on two CPUs or more (its affinity) and its cgroup's CPU limit, if
    /// any, allows two (replay_threads). Standard input is always read on one.
    unsigned threads = 0;
    /// Frames per batch handed from the parsing thread to the applying one (four batches go
    /// round). Each hand-off may wake the other thread, which on a VM can cost tens of µs, so a
    /// batch is milliseconds of work; smaller ones are for tests.
    std::size_t batch_frames = 16'384;
};

/// The threads a replay with these options runs on (1 or 2): for 0, two when the process's CPU
/// affinity holds two CPUs or more and its cgroup's CPU limit (if any) allows two.
[[nodiscard]] unsigned replay_threads(const replay_options& o) noexcept;

/// The CPUs a cgroup CPU limit allows, from cgroup v2's `cpu.max` ("max 100000", "150000
/// 100000") or v1's quota and period joined by a space ("-1 100000" is no limit). Infinity for
/// no limit or text that is neither.
[[nodiscard]] double cgroup_cpu_limit(std::string_view quota_and_period) noexcept;

struct replay_stats {
    std::uint64_t frames = 0;     ///< lines / frames read
    std::uint64_t applied = 0;    ///< price/value ticks that went through the signals
    std::uint64_t references = 0; ///< previous-close updates applied
    std::uint64_t ignored = 0;    ///< valid input seismo has no use for (incl. control frames)
    std::uint64_t triggers = 0;
    std::array<std::uint64_t, core::k_reject_reasons> rejected{};
    double seconds = 0;
    /// What the replay did little of (engine/warnings.hpp): instruments that never got a
    /// tick, inputs nearly all ignored, nothing applied at all.
    std::vector<std::string> warnings;

    [[nodiscard]] std::uint64_t rejected_total() const noexcept;
};

/// `{"frames":…,"applied":…,"ignored":…,"rejected":{…},"triggers":…,"seconds":…}`
[[nodiscard]] std::string summary_json(const replay_stats& s);
/// One human line: counts, triggers, ticks/s.
[[nodiscard]] std::string summary_text(const replay_stats& s);

/// What both replays write: triggers (stdout or --out), normalized ticks (--ticks), dead
/// letters, the plot. The signal stage's sink, on the replay's thread.
class replay_outputs : public stage_sink {
  public:
    replay_outputs(const config& cfg, const core::instrument_registry& reg,
                   const replay_options& opts, std::vector<std::string> feed_names);
    ~replay_outputs() override;

    void on_trigger(const signals::trigger& t) override;
    void on_late(std::uint16_t feed, std::uint32_t frame_no, const core::tick& t) override;
    void on_applied(const core::tick& t, bool triggered) override;
    /// A frame a pipeline refused.
    void on_reject(std::uint16_t feed, std::uint32_t frame_no, core::reject_reason why,
                   std::string_view detail, std::string_view frame, core::nanos recv_ts);

    /// The plot samples the graph after each step (set once the stage exists).
    void plot_graph(const signals::graph* g) noexcept { graph_ = g; }
    void on_each_trigger(std::function<void(const signals::trigger&, std::string_view)> f) {
        observer_ = std::move(f);
    }
    /// Flushes the files and writes the plot (titled `title`).
    void finish(const std::string& title);

    [[nodiscard]] const std::vector<std::string>& feed_names() const noexcept {
        return gens_.latest().feed_names;
    }
    /// A journal of an engine restarted against a NATS trigger stream: hold back what it held
    /// back, number what follows as it did (engine/nats_link.hpp).
    void resume_after(resume_point p) { resume_.resume_after(std::move(p)); }
    /// The config generations triggers are named by (a journal replay adds one per reload).
    [[nodiscard]] generations& gens() noexcept { return gens_; }

  private:
    generations gens_;
    const core::instrument_registry& reg_;
    bool deterministic_;
    std::string plot_path_;
    journal::output_file out_, ticks_out_;
    journal::dead_letter dead_;
    std::string buf_;
    std::unique_ptr<plot_recorder> plot_;
    const signals::graph* graph_ = nullptr;
    std::function<void(const signals::trigger&, std::string_view)> observer_;
    trigger_resume resume_;
};

/// One feed of a file replay.
struct replay_feed {
    std::string name;
    input_format format = input_format::jsonl;
    feeds::venue venue = feeds::venue::generic;
    std::size_t max_frame = feeds::k_default_max_frame;
};

/// Looking ahead in a replay's input (DESIGN §12, "how cost grows"): with the state of many
/// instruments out of cache, a tick waits on three loads in series — its symbol's entry, the
/// instrument's state, its members. A replay can see the lines to come, so it takes those loads
/// a few lines early, one stage at a time, each reading what the one before brought in: the
/// symbol of the line `k_symbol` ahead is found (by scanning for the venue's key) and looked
/// up, the state of the instrument `k_state` ahead is read, and the members of the one
/// `k_members` ahead. Nothing is parsed, interned or changed, so what the replay does is the
/// same with or without it. Off while the registry is small enough for its state to stay in
/// cache (replay_options::read_ahead_from: at 5 k instruments, 3 MiB of state, it cost more than
/// it saved; at 10 k even; from 50 k on a clear gain).
class read_ahead {
  public:
    static constexpr std::size_t k_symbol = 12, k_state = 8, k_members = 4;

    /// Before the line just taken is processed: `unread` is the input after it, starting at
    /// input byte `at`; `tardis` says its lines are "<time> <frame>".
    void step(const feeds::frame_pipeline& p, const signals::graph& g, bool tardis,
              std::string_view unread, std::uint64_t at) noexcept;
    /// Lines whose instrument was known ahead of them (its state and members warmed).
    [[nodiscard]] std::uint64_t warmed() const noexcept { return warmed_; }

  private:
    static constexpr std::size_t k_ring = 16;
    static_assert(k_ring > k_symbol && (k_ring & (k_ring - 1)) == 0);
    std::array<core::instrument_id, k_ring> ring_{}; // by line: its instrument, when known
    std::uint64_t taken_ = 0;                        // lines taken so far
    std::uint64_t peeked_ = 0;                       // lines whose symbol was looked up
    std::uint64_t next_at_ = 0;                      // input byte of line peeked_
    std::uint64_t warmed_ = 0;
};

class replay_session final : public feeds::frame_sink {
  public:
    /// A session with the given feeds.
    replay_session(const config& cfg, const replay_options& opts, std::vector<replay_feed> feeds);
    /// A session of one generic-protocol feed named `feed` (benchmarks, tests).
    replay_session(const config& cfg, const replay_options& opts, std::string feed = "input");
    ~replay_session() override;

    /// Processes line `l` of `feed` (k_line_padding readable bytes after its text);
    /// `line_base` is added to its number to make the frame number (several files as one feed).
    void process(std::size_t feed, const journal::line_reader::line& l,
                 std::uint64_t line_base = 0);
    /// Looks ahead from the line about to be processed (read_ahead::step) when the registry is
    /// large enough for it to pay.
    void look_ahead(read_ahead& ra, std::size_t feed, std::string_view unread, std::uint64_t at);
    /// Processes every line of a buffer that has k_line_padding readable bytes past `size`, as
    /// lines of feed 0 (looking ahead as a file replay does), on replay_threads(options) threads.
    void process_buffer(const char* data, std::size_t size);

    /// From here to end_parallel(), process() parses on the calling thread and hands the frames'
    /// ticks, health events and refusals, in order, to a second thread that runs the signals
    /// and writes the outputs (DESIGN §12, replay). What either thread does is what one thread
    /// did, in the same order, so the outputs are the same bytes: a frame without its own time
    /// takes the replay clock (the greatest event time applied before it) on the second thread,
    /// where that clock is, just before the frame's first record is applied.
    void begin_parallel();
    /// Waits until everything handed over is applied and stops the second thread; rethrows what
    /// it threw (an output that cannot be written). Nothing to do when not parallel.
    void end_parallel();

    /// Optional observer of every trigger as it is produced (after it is written).
    void on_each_trigger(std::function<void(const signals::trigger&, std::string_view json)> f) {
        out_.on_each_trigger(std::move(f));
    }

    /// Flushes outputs, writes the summary file, and returns the figures.
    replay_stats finish();
    /// The figures so far.
    [[nodiscard]] replay_stats stats() const;

    [[nodiscard]] const signals::graph& graph() const noexcept { return stage_->graph(); }
    /// The signal stage (benchmarks time its snapshot).
    [[nodiscard]] signal_stage& stage() noexcept { return *stage_; }
    [[nodiscard]] const core::instrument_registry& registry() const noexcept { return *registry_; }

  private:
    // frame_sink
    void on_ticks(std::uint16_t feed, std::uint32_t frame_no, const core::tick* t,
                  std::size_t n) override;
    void on_health(std::uint16_t feed, const core::health_event& e) override;
    void on_reject(std::uint16_t feed, std::uint32_t frame_no, core::reject_reason why,
                   std::string_view detail, std::string_view frame, core::nanos recv_ts) override;

    [[nodiscard]] core::nanos clock() const noexcept;
    void process_line(std::size_t feed, const journal::line_reader::line& l,
                      std::uint64_t line_base);

    class pipeline;
    struct batch;
    friend class pipeline;
    /// Applies a batch handed over by the parsing thread (on the applying one).
    void apply(batch& b);

    const config* cfg_;
    replay_options opts_;
    std::vector<replay_feed> feeds_;
    std::unique_ptr<core::instrument_registry> registry_;
    replay_outputs out_;
    std::unique_ptr<signal_stage> stage_;
    std::vector<std::unique_ptr<feeds::feed_stats>> stats_;
    std::vector<std::unique_ptr<feeds::frame_pipeline>> pipes_;
    std::vector<core::rfc3339_reader> times_; // per feed: its Tardis lines' receive times
    core::nanos started_ = 0;
    std::unique_ptr<pipeline> pipe_; // while parallel
    std::uint64_t frame_seq_ = 0;    // process() calls so far
    bool frame_clock_ = false;       // the frame being processed takes the replay clock
    // The applying thread's replay clock for the frame it is in (frame_seq_ of that frame).
    std::uint64_t clock_seq_ = 0;
    core::nanos clock_now_ = 0;
};

/// The format of a file, judged from its first non-empty line: a Tardis raw capture
/// ("<ISO time> <frame>"), a Tardis trades CSV (header "exchange,symbol,..."), else JSON lines.
[[nodiscard]] input_format sniff_format(const std::string& path);
/// The format a first non-blank line says its input has.
[[nodiscard]] input_format sniff_line(std::string_view text);

/// Opens every input and replays it. Throws std::invalid_argument on bad options (unknown
/// format or venue, tardis without --venue) and std::runtime_error on unreadable input.
replay_stats run_replay(const config& cfg, const replay_options& opts);

} // namespace seismo::engine
