#pragma once
// What a run or a replay says when it did little of what it was asked (an exit 0 with nothing
// useful done is the worst answer a tool can give): configured instruments that never got a
// tick (a wrong alias, a symbol the input never carries), and inputs whose frames were nearly
// all ignored (a wrong --venue, a channel no signal uses), with what those frames looked like.

#include "engine/config.hpp"
#include "feeds/pipeline.hpp"
#include "signals/graph.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace seismo::engine {

/// A configured instrument, resolved once (the registry's lookups lock: not for the signal
/// thread's periodic snapshot).
struct configured_instrument {
    core::instrument_id id;
    std::string symbol;
};
[[nodiscard]] std::vector<configured_instrument>
configured_instruments(const config& cfg, const core::instrument_registry& reg);

/// Symbols of the configured instruments some signal reads that never got a price or value
/// tick, in config order. Signal thread (or the replay's).
[[nodiscard]] std::vector<std::string>
quiet_instruments(const std::vector<configured_instrument>& configured, const signals::graph& g);
/// The same instruments' ids, appended to `out` (no string per instrument: the signal
/// thread's snapshot copies these, and a config can name 100 k instruments no feed ticks).
void quiet_instrument_ids(const std::vector<configured_instrument>& configured,
                          const signals::graph& g, std::vector<core::instrument_id>& out);

/// "N of M configured instruments never got a tick: A, B, … (check their aliases and the
/// input)", or nothing when every one did.
[[nodiscard]] std::optional<std::string>
quiet_instruments_warning(const std::vector<std::string>& quiet, std::size_t configured);

/// A warning when an input's frames were nearly all ignored (at least 90% of 10 or more, or
/// all of them): how many, by which adapter, and the start of the first one.
[[nodiscard]] std::optional<std::string> ignored_warning(std::string_view input,
                                                         std::string_view venue,
                                                         const feeds::feed_stats& stats,
                                                         std::string_view first_ignored);

} // namespace seismo::engine
