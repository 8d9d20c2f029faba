#pragma once
// The signal stage: the tick -> trigger half of the one path every input takes (DESIGN §2; the
// frame -> tick half is feeds::frame_pipeline). It owns the signal graph and the signal step,
// applies ticks and health events in the order it is given them, counts what it applied and
// refused, hands late ticks back for the dead-letter file, records the consumption order when
// a journal is kept, and publishes snapshots of every signal's state for /v1/state and
// /metrics. Live runs it on the signal thread; journal and file replay on their own thread.
//
// One thread calls everything but the snapshot and probe readers (any thread).

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
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
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
    /// How long the last state snapshot took its thread (the signal thread), ns.
    std::atomic<std::int64_t> snapshot_ns{0};
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
};

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
    void reload(prepared_reload& r, core::nanos now);

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

    /// Builds a snapshot of every signal's state (allocates; the live signal thread does it four
    /// times a second, less often for a large state: see snapshot_every) and makes it the
    /// current one.
    void publish_snapshot();
    /// How long the live signal thread should wait between snapshots: `every`, or 100 times
    /// what the last one took when that is longer, so that the snapshot takes at most 1% of
    /// the thread (at 100 k instruments one takes tens of milliseconds, and every tick waits).
    [[nodiscard]] core::nanos snapshot_every(core::nanos every) const noexcept {
        return std::max(every, 100 * stats_.snapshot_ns.load(std::memory_order_relaxed));
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
    mutable std::mutex snapshot_mu_;
    std::shared_ptr<const stage_snapshot> snapshot_;
};

} // namespace seismo::engine
