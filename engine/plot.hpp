#pragma once
// `seismo replay --plot FILE.html`: one self-contained HTML page (inline SVG, no script, no
// network) showing the replay: for each instrument with signals, its price at every tick and
// each signal's value with the levels and the trigger markers (colour by severity, hollow when
// cleared); a chart for each breadth and composite signal; a timeline and a table of every
// trigger. Every chart and the timeline share one time axis (the data's span, labels at round
// time steps), so a marker lines up with the moves that caused it; dense series are drawn as the
// minimum and maximum of each pixel column.
//
// Prices are kept at every tick (compacted to min/max pairs past a bound, so memory stays
// bounded); signal values are sampled in event time (every `interval`, halved in density as they
// grow, and at every step that produced a trigger).

#include "engine/core/instrument_registry.hpp"
#include "signals/graph.hpp"
#include "signals/trigger.hpp"

#include <map>
#include <string>
#include <vector>

namespace seismo::engine {

class plot_recorder {
  public:
    explicit plot_recorder(core::nanos interval = core::nanos{1'000'000'000})
        : interval_(interval) {}

    /// Remembers an applied tick's price (references are not prices).
    void on_tick(const core::tick& t, const core::instrument_registry& reg);
    /// Remembers a trigger (its marker) — call with every trigger, in order.
    void on_trigger(const signals::trigger& t, const core::instrument_registry& reg);
    /// After a step: samples every value if `interval` of event time has passed, or if the step
    /// produced a trigger.
    void after_step(const signals::graph& g, const core::instrument_registry& reg, bool triggered);
    /// Writes the page. Throws std::runtime_error on I/O errors.
    void write(const std::string& path, const signals::graph& g,
               const std::vector<std::string>& feed_names, const std::string& title) const;

  private:
    struct point {
        core::nanos t;
        double v;
    };
    struct marker {
        core::nanos t;
        std::uint64_t seq;
        std::uint32_t signal;
        std::string inst;
        std::string feed_condition; // feed health: "feed: condition"
        double value;
        double threshold;
        signals::severity sev;
        bool fired;
    };
    void sample(const signals::graph& g, const core::instrument_registry& reg, core::nanos now);
    static void thin(std::vector<point>& v);
    /// Halves a price series keeping each group's extremes (min and max, in time order).
    static void compact(std::vector<point>& v);

    core::nanos interval_;
    core::nanos last_ = std::numeric_limits<core::nanos>::min();
    std::map<std::uint32_t, std::vector<point>> prices_; // instrument index
    std::map<std::uint32_t, std::string> names_;         // its symbol
    std::map<std::pair<std::uint32_t, std::string>, std::vector<point>>
        values_; // (signal, instrument or "")
    std::vector<marker> markers_;
};

} // namespace seismo::engine
