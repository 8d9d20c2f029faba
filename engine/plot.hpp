#pragma once
// `seismo replay --plot FILE.html`: one self-contained HTML page (inline SVG, no script, no
// network) showing the day: for each instrument with signals, its price and each signal's value
// with the levels and the trigger markers (colour by severity, hollow when cleared); a chart for
// each breadth and composite signal; and a timeline and table of every trigger.
//
// Values are sampled in event time (every `interval`, and at every step that produced a
// trigger), so a long replay costs a bounded number of samples.

#include "engine/core/instrument_registry.hpp"
#include "signals/graph.hpp"
#include "signals/trigger.hpp"

#include <map>
#include <string>
#include <vector>

namespace seismo::engine {

class plot_recorder {
  public:
    explicit plot_recorder(core::nanos interval = 60 * core::nanos{1'000'000'000})
        : interval_(interval) {}

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

    core::nanos interval_;
    core::nanos last_ = std::numeric_limits<core::nanos>::min();
    std::map<std::string, std::vector<point>> prices_; // instrument
    std::map<std::pair<std::uint32_t, std::string>, std::vector<point>>
        values_; // (signal, instrument or "")
    std::vector<marker> markers_;
};

} // namespace seismo::engine
