#pragma once
// Hot reload, the part off the signal thread (DESIGN §9): checks that a new config can replace
// the running one, plans what happens to each signal and feed, extends the instrument registry
// and builds the new signal graph — all before the signal thread is asked to swap, so an
// invalid config changes nothing. The signal stage then swaps between two events
// (signal_stage::reload) and the feed host applies the feed plan (feed_host::apply).
//
// What a reload may change: signals (any), feeds (added, removed, re-subscribed), instruments
// (added). What needs a restart, and is refused with the reason: [engine] and [server]
// settings, instrument templates, and changing or removing a declared instrument (its tags
// decide selector membership everywhere; feeds' caches hold its aliases).

#include "engine/config.hpp"
#include "engine/generation.hpp"
#include "engine/warnings.hpp"
#include "signals/graph.hpp"
#include "signals/reload.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace seismo::engine {

/// A config that parses and validates but cannot replace the running one.
class reload_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// One feed id of a run. Ids are never reused: a removed feed's stays, inactive, so triggers
/// and journal records that name it keep their meaning.
struct feed_slot {
    std::string name;
    std::string venue;
    std::optional<feed_config> cfg; ///< from a [[feed]]; none for "demo" and "inproc"
    bool active = true;
};

/// The feed ids a run starts with: the config's [[feed]]s in order, then `extra` (name, venue)
/// — the demo and in-process feeds, which no config declares.
[[nodiscard]] std::vector<feed_slot>
initial_feed_slots(const config& cfg,
                   const std::vector<std::pair<std::string, std::string>>& extra = {});

struct feed_plan {
    std::vector<feed_slot> slots; ///< the table after the reload
    std::vector<std::uint16_t> kept, added, removed, resubscribed;
    [[nodiscard]] bool unchanged() const noexcept {
        return added.empty() && removed.empty() && resubscribed.empty();
    }
};

/// Matches `next`'s [[feed]]s to the active slots by name: the same definition is kept, the
/// same name and venue with other settings re-subscribes on its id, anything else is a new
/// id (a feed whose venue changed is removed and added). Throws reload_error past 64 ids.
[[nodiscard]] feed_plan plan_feeds(const std::vector<feed_slot>& now, const config& next);

/// Throws reload_error naming what `next` changes that a reload cannot.
void check_reloadable(const config& now, const config& next, const core::instrument_registry& reg);

/// What a reload does, for its answer and log line.
struct reload_diff {
    std::uint64_t from = 0, to = 0; ///< config digests
    std::vector<std::string> kept, relevelled, restarted, added, removed;
    std::vector<std::string> feeds_kept, feeds_added, feeds_removed, feeds_resubscribed;
    std::vector<std::string> instruments_added;
    /// `{"digest":…,"previous":…,"signals":{…},"feeds":{…},"instruments_added":[…]}`
    [[nodiscard]] std::string json() const;
    /// One line: "12 kept, 1 relevelled, …".
    [[nodiscard]] std::string summary() const;
};

/// Everything the signal thread needs to swap, built off it.
struct prepared_reload {
    std::shared_ptr<const config> cfg;
    std::shared_ptr<generation> gen;
    std::unique_ptr<signals::graph> graph;
    signals::reload_plan plan;
    feed_plan feeds;
    reload_diff diff;
    std::vector<configured_instrument> configured; ///< for the never-ticked warning
};

/// Checks `next` against the running `now`, plans signals and feeds, adds `next`'s new
/// instruments to `reg` and builds the new graph. Throws reload_error (nothing changed) when
/// `next` cannot replace `now`, and when `gens` is full. The new generation is not added to
/// `gens` here: the caller adds it (commit()) once it is sure to swap.
[[nodiscard]] prepared_reload prepare_reload(const config& now, std::shared_ptr<const config> next,
                                             const std::vector<feed_slot>& slots,
                                             core::instrument_registry& reg,
                                             const generations& gens);

/// The first generation of a run.
[[nodiscard]] std::shared_ptr<generation> first_generation(const config& cfg,
                                                           const std::vector<feed_slot>& slots);

} // namespace seismo::engine
