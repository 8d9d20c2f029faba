#pragma once
// The signal step (DESIGN §5, §11): one tick or one feed-health event in, triggers out. Every
// path runs it — live (on the signal thread), journal replay and file replay — so the same
// events give the same triggers. A tick goes through the signal graph; a health event (down /
// up, stale / fresh, gap) becomes a feed_health trigger when it changes the feed's state (a gap
// always does), and re-judges the staleness of the feed's instruments: an instrument is stale
// while every feed that has delivered it is down or stale.
//
// One thread (the signal thread, or a replay's). Allocates only when an instrument is seen for
// the first time.

#include "engine/core/health.hpp"
#include "engine/core/tick.hpp"
#include "signals/graph.hpp"

#include <cstdint>
#include <vector>

namespace seismo::signals {

/// Feeds one step can tell apart (a bit each in an instrument's feed mask).
inline constexpr std::size_t k_max_feeds = 64;

class step {
  public:
    /// `feeds`: how many feeds will report (at most k_max_feeds).
    step(graph& g, std::size_t feeds);

    /// Applies a tick that came from `feed`.
    apply_status tick(std::uint16_t feed, const core::tick& t, trigger_sink& out) {
        return graph_->apply(t, out, feed);
    }

    /// Applies a health event of `feed`.
    void health(std::uint16_t feed, const core::health_event& e, trigger_sink& out);

    /// Hot reload: `feeds` feeds report from now on (more than before when a reload adds some).
    void resize(std::size_t feeds);
    /// Hot reload: feed `feed` left the config. Its active conditions (down, stale) are cleared
    /// with reason `removed`, and its instruments are judged by their other feeds alone.
    void retire(std::uint16_t feed, core::nanos now, trigger_sink& out);

    [[nodiscard]] graph& signal_graph() noexcept { return *graph_; }
    [[nodiscard]] const graph& signal_graph() const noexcept { return *graph_; }
    /// True while the feed is down (since its last `down`, until its next `up`).
    [[nodiscard]] bool down(std::uint16_t feed) const noexcept { return down_[feed]; }
    [[nodiscard]] bool stale(std::uint16_t feed) const noexcept { return stale_[feed]; }

  private:
    void emit(std::uint16_t feed, feed_condition c, trigger_state st, severity sev,
              const core::health_event& e, trigger_sink& out, end_reason why = end_reason::none);
    void refresh(std::uint16_t feed, core::nanos now, trigger_sink& out);

    graph* graph_;
    std::uint64_t unhealthy_ = 0; // bit f: feed f is down or stale
    std::vector<bool> down_, stale_;
};

} // namespace seismo::signals
