#pragma once
// The signal stage: the tick -> trigger half of the one path every input takes (DESIGN §2; the
// frame -> tick half is feeds::frame_pipeline). It owns the signal graph and the signal step,
// applies ticks and health events in the order it is given them, counts what it applied and
// refused, hands late ticks back for the dead-letter file, records the consumption order when
// a journal is kept, and publishes snapshots of every signal's state for /v1/state and
// /metrics. Live runs it on the signal thread; journal and file replay on their own thread.
//
// One thread calls everything but the snapshot and probe readers and wait_snapshot (any thread);
// with start_snapshot_thread, snapshots are formatted on a thread of the stage's own.

#include "engine/config.hpp"
#include "engine/core/counter.hpp"
#include "engine/core/health.hpp"
#include "engine/core/instrument_registry.hpp"
#include "engine/journal/format.hpp"
#include "engine/reload.hpp"
#include "engine/warnings.hpp"
#include "signals/graph.hpp"
#include "signals/step.hpp"
#include "signals/trigger.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace prometheus {
class Collectable;
}

namespace seismo::journal {
class writer;
}

namespace seismo::engine {

/// What a signal stage hands out, on its thread.
class stage_sink : public signals::trigger_sink {
  public:
    /// Set by a sink that overrides on_applied (it is not called otherwise: it runs per tick).
    bool wants_applied = false;

    /// A tick the step refused as late (the dead-letter file).
    virtual void on_late(std::uint16_t feed, std::uint32_t frame_no, const core::tick& t) = 0;
    /// After every tick applied (or previous close stored): --ticks, the plot. `triggered`:
    /// the step produced a trigger. Default: nothing.
    virtual void on_applied(const core::tick& /*t*/, bool /*triggered*/) {}
};

/// The stage's counters: one writer (the stage's thread), read by scrapes.
struct alignas(64) stage_stats {
    core::counter applied;    ///< price and value ticks through the signals
    core::counter references; ///< previous closes stored
    core::counter late;       ///< refused as late
    core::counter triggers;   ///< produced (signal and feed-health)
    std::array<core::counter, signals::k_max_feeds> late_per_feed{};
    core::latency_histogram tick_to_trigger; ///< observe_latency() (live)
    /// How long the last state snapshot took the signal thread (copying the values out), ns.
    std::atomic<std::int64_t> snapshot_ns{0};
    /// How long formatting the last one into JSON took (the snapshot thread, live), ns.
    std::atomic<std::int64_t> snapshot_format_ns{0};
};

/// What the signal thread copies out of its graph for a snapshot: the raw values and the few
/// fields of each signal's spec that the JSON names. Formatting it (symbol names, JSON, a
/// string per value) is the costly part: at 100 k instruments it took 20-25 ms, and it is done
/// off the signal thread when the stage has a snapshot thread (live).
struct snapshot_capture {
    struct spec_head {
        std::string name;
        signals::signal_kind kind = signals::signal_kind::level;
        signals::direction dir = signals::direction::below;
        std::vector<signals::level> levels;
        double rearm = 0;
    };
    std::uint64_t number = 0; ///< 1, 2, ... in the order taken
    std::vector<spec_head> specs;
    std::vector<signals::value_view> values;
    std::vector<core::instrument_id> quiet;
    core::nanos watermark = 0;
    core::nanos taken = 0;
};

/// Every signal's state at one moment, for /v1/state and seismo_signal_value.
struct stage_snapshot {
    struct value {
        std::uint32_t signal;
        std::string instrument; ///< empty for breadth and composites
        double v;
    };
    /// One signal of /v1/state's "signals" array, in pieces so that a token limited to some
    /// topics sees only those: `head` + the visible `entries` joined by ',' + "]}".
    struct signal_entry {
        std::string name;
        signals::signal_kind kind = signals::signal_kind::level;
        std::string head;                                         ///< `{"name":…,…,"values":[`
        std::vector<std::pair<std::string, std::string>> entries; ///< (instrument, JSON)
    };
    std::vector<signal_entry> signals;
    std::vector<value> values;      ///< one per signal and instrument
    std::vector<std::string> quiet; ///< configured instruments read by signals, never ticked
    core::nanos watermark = 0;      ///< 0: nothing applied yet
    core::nanos taken = 0;          ///< wall clock
    std::uint64_t number = 0;       ///< its capture's; 0: the empty one made at construction
};

/// Formats `c` (any thread: the registry's entries are read by id).
[[nodiscard]] std::shared_ptr<stage_snapshot> format_snapshot(const snapshot_capture& c,
                                                              const core::instrument_registry& reg);

/// The "signals" array of /v1/state for a client that may see topics `visible(signal,
/// instrument)` accepts ("" instrument: breadth and composites) and signals `named(signal)`
/// accepts.
template <class Visible, class Named>
[[nodiscard]] std::string signals_json(const stage_snapshot& s, Visible&& visible, Named&& named) {
    std::string j = "[";
    bool first_signal = true;
    for (const auto& sig : s.signals) {
        if (!named(sig.name)) continue;
        if (!first_signal) j += ',';
        first_signal = false;
        j += sig.head;
        bool first = true;
        for (const auto& [inst, json] : sig.entries) {
            if (!visible(sig.name, inst)) continue;
            if (!first) j += ',';
            first = false;
            j += json;
        }
        j += "]}";
    }
    return j + ']';
}

class signal_stage final : signals::trigger_sink {
  public:
    /// `feeds`: how many feeds will deliver (at most 64).
    signal_stage(const config& cfg, core::instrument_registry& reg, std::size_t feeds,
                 stage_sink& out);
    ~signal_stage() override;
    signal_stage(const signal_stage&) = delete;
    signal_stage& operator=(const signal_stage&) = delete;

    /// Applies tick `index` of frame `frame_no` of `feed`.
    void tick(std::uint16_t feed, std::uint32_t frame_no, std::uint16_t index, const core::tick& t);
    /// Applies the `n` ticks of frame `frame_no` of `feed`, in order (a frame's ticks at once).
    void ticks(std::uint16_t feed, std::uint32_t frame_no, const core::tick* t, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i)
            tick(feed, frame_no, static_cast<std::uint16_t>(i), t[i]);
    }
    /// Applies a health event of `feed` (journaled first, when recording).
    void health(std::uint16_t feed, const core::health_event& e);

    /// Hot reload (DESIGN §9), between two events: records the reload at this place in the
    /// consumption order (when recording), hands `r`'s graph the running one's state (clearing
    /// what ends), swaps it in, retires removed feeds and publishes a snapshot. `now`: the
    /// wall clock (live) or the recorded time (replay), for the record and feed clears.
    /// Returns the number of the snapshot it published (see wait_snapshot).
    std::uint64_t reload(prepared_reload& r, core::nanos now);

    /// Records the consumption order and health events to `w` from now on (live --record).
    void record_to(journal::writer* w) noexcept { journal_ = w; }
    /// Writes the consumption order gathered so far (when recording).
    void flush_order();
    /// Flushes the order when `k_order_batch` entries have gathered or `k_order_every` has
    /// passed since the last flush (the bound on what a crash can lose of it); `now` is the
    /// monotonic clock, or 0 to judge by size alone.
    void maybe_flush_order(core::nanos now_monotonic);
    static constexpr std::size_t k_order_batch = 256;
    static constexpr core::nanos k_order_every = 5'000'000;

    /// Takes a snapshot of every signal's state (allocates; the live signal thread does it four
    /// times a second, less often for a large state: see snapshot_every) and makes it the
    /// current one: at once, or — with a snapshot thread — once that thread has formatted it.
    /// Returns its number.
    std::uint64_t publish_snapshot();
    /// Formats snapshots on a thread of its own (`seismo-snapshot`) from now on, so that the
    /// signal thread only copies the values out. A newer capture replaces one still waiting.
    void start_snapshot_thread();
    /// Formats what is waiting and ends the snapshot thread; later snapshots are formatted at
    /// once. Idempotent; the destructor calls it.
    void stop_snapshot_thread();
    /// Blocks until snapshot `number` (or a later one) is the current one. Not the signal
    /// thread's: the control thread waits here before answering a reload.
    void wait_snapshot(std::uint64_t number) const;
    /// How long the live signal thread should wait between snapshots: `every`, or 100 times
    /// what the last one took the signal thread, or 10 times what formatting it took, when
    /// longer: a snapshot takes at most 1% of the signal thread and 10% of the snapshot thread
    /// (at 100 k instruments copying takes milliseconds and formatting tens of them).
    [[nodiscard]] core::nanos snapshot_every(core::nanos every) const noexcept {
        return std::max({every, 100 * stats_.snapshot_ns.load(std::memory_order_relaxed),
                         10 * stats_.snapshot_format_ns.load(std::memory_order_relaxed)});
    }
    /// The latest published snapshot (any thread); never null after construction.
    [[nodiscard]] std::shared_ptr<const stage_snapshot> snapshot() const;

    [[nodiscard]] const stage_stats& stats() const noexcept { return stats_; }
    /// Live: a trigger's wall-clock time from its frame's receipt to its being queued, observed
    /// by the stage's sink (replay's times are the data's, so it observes none).
    void observe_latency(core::nanos ns) noexcept {
        stats_.tick_to_trigger.observe(static_cast<double>(ns) / 1e9);
    }
    [[nodiscard]] signals::graph& graph() noexcept { return graph_; }
    [[nodiscard]] const signals::graph& graph() const noexcept { return graph_; }

    /// The stage's metrics: seismo_ticks_applied_total, seismo_ticks_late_total,
    /// seismo_tick_to_trigger_seconds, seismo_signal_value{signal,instrument},
    /// seismo_breadth_ratio{signal}, seismo_composite_active_inputs{signal}. The stage must
    /// outlive it.
    [[nodiscard]] std::shared_ptr<prometheus::Collectable> make_probe() const;

  private:
    void on_trigger(const signals::trigger& t) override;

    std::vector<configured_instrument> configured_; // for the never-ticked warning
    core::instrument_registry& reg_;
    signals::graph graph_;
    signals::step step_;
    stage_sink& out_;
    bool triggered_ = false;
    stage_stats stats_;
    journal::writer* journal_ = nullptr;
    std::vector<journal::order_entry> order_buf_;
    core::nanos last_order_flush_ = 0;
    /// Makes `s` the current snapshot unless a later one is already (the snapshot thread and a
    /// formatting at once can finish out of order around stop_snapshot_thread).
    void install(std::shared_ptr<stage_snapshot> s);
    void snapshot_thread_loop();

    std::uint64_t captures_ = 0;                // the signal thread's
    std::vector<core::instrument_id> unticked_; // configured, read by a signal, never ticked
    bool unticked_stale_ = true;                // unticked_ is to be found again (a new graph)
    mutable std::mutex snapshot_mu_;
    mutable std::condition_variable snapshot_cv_; // a snapshot was installed
    std::shared_ptr<const stage_snapshot> snapshot_;
    // The snapshot thread's mailbox: the capture waiting, and a formatted one's buffers kept
    // for the next capture (a 100 k-member capture is ~14 MB: not allocated four times a second).
    std::mutex format_mu_;
    std::condition_variable format_cv_;
    std::unique_ptr<snapshot_capture> waiting_;
    std::unique_ptr<snapshot_capture> spare_;
    bool format_stop_ = false;
    std::thread format_thread_;
};

} // namespace seismo::engine
