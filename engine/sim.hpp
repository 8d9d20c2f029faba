#pragma once
// The deterministic scenario generator behind the demo feed and the tests (`seismo sim`).
// Same options, same bytes: its own PRNG, integer-millisecond times, prices rounded to ticks.

#include <cstdint>
#include <string>
#include <vector>

namespace seismo::engine {

struct sim_options {
    std::string scenario = "liquidity-shock";
    std::uint64_t seed = 1;
    std::size_t stocks = 5000;    ///< A-shares in the universe
    std::size_t stock_ticks = 12; ///< ticks per A-share over the session
    double bad_rate = 0.0;        ///< bad lines injected per good line (0 = none)
    /// The demo's pass over the day (0, 1, ...): pass n plays n x (span + 1 day) later, and
    /// each instrument's sequence numbers continue from where pass n-1 left them, so a looping
    /// feed never repeats a time or a sequence number.
    std::uint64_t pass = 0;
};

/// Scenario names `simulate` knows.
[[nodiscard]] std::vector<std::string> sim_scenarios();

/// Generates the scenario as generic-protocol JSON lines in event-time order (bad lines, when
/// asked for, are mixed in). Throws std::invalid_argument for an unknown scenario.
[[nodiscard]] std::string simulate(const sim_options& opts);

} // namespace seismo::engine
