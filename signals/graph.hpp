#pragma once
// The signal graph: every configured signal, its per-instrument state, and the routing from an
// instrument to the signals that read it. One graph belongs to one signal thread.
//
// apply() is the hot path: no allocation (except when an instrument is seen for the first time),
// no locks, no exceptions, no virtual calls except the sink's, called once per trigger.
//
// Step semantics (docs/signals.md): a tick's event time is clamped to its instrument's last
// event time when it is late by no more than the allowed lateness (and rejected when later than
// that), so each instrument's time never goes backwards. The tick updates the per-instrument
// signals that read it, in declaration order; then composites whose inputs fired, or whose
// active inputs expired, are re-evaluated in topological order at the graph's watermark (the
// greatest event time applied so far).

#include "engine/core/instrument_registry.hpp"
#include "engine/core/tick.hpp"
#include "signals/reload.hpp"
#include "signals/spec.hpp"
#include "signals/trigger.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace seismo::signals {

struct graph_options {
    core::nanos lateness = 0;     ///< default allowed lateness, when an instrument sets none
    std::uint32_t generation = 0; ///< stamped on every trigger (trigger::gen)
};

enum class apply_status : std::uint8_t {
    applied,   ///< a price/value tick went through the signals
    reference, ///< a previous-close update was stored
    late,      ///< older than its instrument's last event time by more than the lateness
};

/// One value of one signal (per instrument for per-instrument kinds), for /v1/state and plots.
struct value_view {
    std::uint32_t signal = 0;
    core::instrument_id inst = core::k_no_instrument;
    double value = 0;
    double ref = 0;
    double px = 0;
    std::uint64_t fired = 0;        ///< bit i set: level i is fired
    core::nanos history = 0;        ///< event time held by the window or history (0 if none)
    std::uint64_t observations = 0; ///< zscore: changes seen
    std::uint32_t count = 0;        ///< breadth
    std::uint32_t members = 0;      ///< breadth
    bool degraded = false;
};

class graph {
  public:
    /// Builds the graph. Throws std::invalid_argument naming the problem when a spec refers to an
    /// unknown instrument or input, or the inputs form a cycle (the config module reports these
    /// with file and line before it gets here).
    graph(std::vector<signal_spec> specs, const core::instrument_registry& registry,
          graph_options options = {});
    ~graph();
    graph(graph&&) noexcept;
    graph& operator=(graph&&) noexcept;

    /// Applies one validated tick (finite price, known instrument id). Signal thread only.
    apply_status apply(const core::tick& t, trigger_sink& sink) { return apply(t, sink, 0); }
    /// The same, noting that the tick came from feed `feed` (< 64): an instrument is stale
    /// while every feed that has delivered it is unhealthy (restale()).
    apply_status apply(const core::tick& t, trigger_sink& sink, std::uint16_t feed);

    /// For a reader that knows which instrument a coming tick is for (a replay reading ahead
    /// in its input): bring the instrument's state into cache, and — once that is there — the
    /// members it updates, so the tick's apply() does not wait on each in turn. Reads only; an
    /// unknown instrument is ignored.
    void warm_state(core::instrument_id inst) const noexcept;
    void warm_members(core::instrument_id inst) const noexcept;

    /// Marks an instrument stale or fresh again (feed health). Stale members leave breadth
    /// denominators and mark the signals that read them degraded.
    void set_stale(core::instrument_id inst, bool stale, core::nanos now, trigger_sink& sink);
    /// Re-judges the staleness of every instrument feed `feed` has delivered, given the set of
    /// unhealthy feeds (bit f: feed f is down or stale): stale when all its feeds are.
    void restale(std::uint16_t feed, std::uint64_t unhealthy, core::nanos now, trigger_sink& sink);
    /// Feed `feed` is gone (hot reload): its instruments forget it and are stale only while
    /// all their other feeds are unhealthy (never, with no other feed).
    void forget_feed(std::uint16_t feed, std::uint64_t unhealthy, core::nanos now,
                     trigger_sink& sink);

    /// Hot reload (DESIGN §9), on the signal thread between two events: takes `old`'s state —
    /// every instrument's, the trigger seq, the watermark, and each signal's that `plan` carries
    /// over (signals/reload.hpp) — leaving `old` empty of it. First, through `old`'s own
    /// specs and generation, every active level that ends is cleared: the levels of removed
    /// (reason `removed`) and restarted (`changed`) signals, and of relevelled ones the levels
    /// not kept (`relevelled`). Composites are judged again at the next tick. Allocates: once
    /// per reload, never per tick.
    void adopt(graph& old, const reload_plan& plan, trigger_sink& sink);
    [[nodiscard]] std::uint32_t generation() const noexcept;

    [[nodiscard]] const std::vector<signal_spec>& specs() const noexcept;
    /// Signal indices, inputs before the composites that use them.
    [[nodiscard]] const std::vector<std::uint32_t>& order() const noexcept;
    [[nodiscard]] std::uint64_t last_seq() const noexcept;
    /// Takes the next trigger seq for a trigger made outside the graph (feed health), so seq
    /// stays gap-free across both. Signal thread only.
    [[nodiscard]] std::uint64_t next_seq() noexcept;
    [[nodiscard]] core::nanos watermark() const noexcept;
    /// Whether a price or value tick of `inst` was ever applied. Signal thread only.
    [[nodiscard]] bool ticked(core::instrument_id inst) const noexcept;
    /// Whether some signal reads `inst`.
    [[nodiscard]] bool read_by_a_signal(core::instrument_id inst) const noexcept;
    /// Number of members (instruments) a signal has now; 1 for composites.
    [[nodiscard]] std::size_t members(std::uint32_t signal) const noexcept;
    /// Bytes of state held for signals and instruments (for the memory target in DESIGN §12).
    [[nodiscard]] std::size_t state_bytes() const noexcept;

    /// Calls `f` for every value the graph holds. Not for the hot path.
    void visit(const std::function<void(const value_view&)>& f) const;
    /// Appends every value the graph holds to `out`, in visit's order. Not for the hot path.
    void copy_values(std::vector<value_view>& out) const;

  private:
    struct impl;
    template <class F>
    static void for_each_value(const impl& p, F&& f); // graph.cpp's
    std::unique_ptr<impl> p_;
};

} // namespace seismo::signals
