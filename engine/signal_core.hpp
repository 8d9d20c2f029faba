#pragma once
// What the signal thread does with each event, shared by the live runtime and journal replay so
// that both turn the same events into the same triggers: ticks through the signal graph, and
// feed health (down/up, stale/fresh, gaps) into feed_health triggers and instrument staleness —
// an instrument is stale while every feed that has delivered it is down or stale.
//
// Signal thread only. Allocates only when an instrument is seen for the first time.

#include "engine/core/tick.hpp"
#include "feeds/session.hpp"
#include "signals/graph.hpp"

#include <cstdint>
#include <vector>

namespace seismo::engine {

class signal_core {
  public:
    signal_core(signals::graph& g, std::size_t feeds)
        : graph_(&g), down_(feeds, false), stale_(feeds, false) {}

    /// Applies a tick that came from `feed`.
    signals::apply_status tick(std::uint16_t feed, const core::tick& t,
                               signals::trigger_sink& out) {
        const std::uint32_t i = core::index(t.inst);
        if (i >= inst_feeds_.size()) inst_feeds_.resize(i + 1u, 0); // first sight only
        inst_feeds_[i] |= std::uint64_t{1} << feed;
        return graph_->apply(t, out);
    }

    /// Turns a health event into a feed_health trigger (when it changes the feed's state, or is
    /// a gap) and re-judges the staleness of the feed's instruments.
    void health(std::uint16_t feed, feeds::health_kind kind, core::nanos at, std::uint64_t value,
                core::instrument_id inst, signals::trigger_sink& out);

    [[nodiscard]] signals::graph& graph() noexcept { return *graph_; }

  private:
    void emit(std::uint16_t feed, signals::feed_condition c, signals::trigger_state st,
              signals::severity sev, core::nanos at, std::uint64_t value, core::instrument_id inst,
              signals::trigger_sink& out);
    void refresh(std::uint16_t feed, core::nanos now, signals::trigger_sink& out);

    signals::graph* graph_;
    std::vector<std::uint64_t> inst_feeds_; // bit f: feed f has delivered this instrument
    std::uint64_t unhealthy_ = 0;           // bit f: feed f is down or stale
    std::vector<bool> down_, stale_;
};

} // namespace seismo::engine
