#pragma once
// The trigger's JSON form (DESIGN §6): the same bytes go to WebSocket subscribers, NATS and the
// triggers log. Field order is fixed so output is byte-comparable run to run.

#include "engine/core/instrument_registry.hpp"
#include "engine/generation.hpp"
#include "signals/graph.hpp"
#include "signals/trigger.hpp"

#include <string>

namespace seismo::engine {

/// Appends one trigger object (no newline). With `deterministic` false, `recv_ts` and
/// `latency_ns` (the wall-clock time from frame receipt to this serialisation, when known, i.e.
/// `latency_ns >= 0`) are added at the end.
/// Feed-health triggers name their feed: `feed_names[trigger.feed]`. A trigger cleared by a
/// reload says why (`"reason"`); with `config_digest`, every trigger names the config that
/// produced it (`"config"`).
void append_trigger_json(std::string& out, const signals::trigger& t,
                         const std::vector<signals::signal_spec>& specs,
                         const core::instrument_registry& reg, bool deterministic,
                         core::nanos latency_ns = -1,
                         const std::vector<std::string>* feed_names = nullptr,
                         std::string_view config_digest = {});

/// The same, named by the generation that produced it (engine/generation.hpp): its specs, its
/// feed names, and its digest as the trigger's "config" field.
inline void append_trigger_json(std::string& out, const signals::trigger& t, const generation& g,
                                const core::instrument_registry& reg, bool deterministic,
                                core::nanos latency_ns = -1) {
    append_trigger_json(out, t, g.specs, reg, deterministic, latency_ns, &g.feed_names,
                        g.digest_hex);
}

/// The topic a trigger is published under: "signal/instrument", "signal" for breadth and
/// composites, "feed_health/feed" for feed health.
[[nodiscard]] std::string trigger_topic(const signals::trigger& t,
                                        const std::vector<signals::signal_spec>& specs,
                                        const core::instrument_registry& reg,
                                        const std::vector<std::string>* feed_names = nullptr);

/// Appends one normalized tick as a generic-protocol object (no newline): sym, px (or
/// prev_close for a reference), ts (event time, ns), sz, seq (when known), kind and venue.
void append_tick_json(std::string& out, const core::tick& t, const core::instrument_registry& reg);

} // namespace seismo::engine
