#pragma once
// What a hot reload does to each signal (DESIGN §9): a new signal takes the state of the old
// one with the same definition — kind, name, instruments or selectors, inputs and every
// parameter — matched by a digest of that definition, never by position. Whether its levels
// (thresholds, severities, direction, rearm) also match decides between keeping it whole and
// keeping its window while its levels are judged again. A signal whose name survives with a
// different definition restarts (its state is dropped and it warms up again); an old signal
// with no successor is removed. Pure: computed off the signal thread from the two spec lists.

#include "signals/spec.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace seismo::signals {

/// Digest of everything that shapes a signal's state: all but its levels, direction and rearm.
[[nodiscard]] std::uint64_t definition_digest(const signal_spec& s);
/// Digest of its levels, direction and rearm.
[[nodiscard]] std::uint64_t levels_digest(const signal_spec& s);

enum class carry : std::uint8_t {
    kept,       ///< same definition and levels: keeps everything
    relevelled, ///< same definition, new levels: keeps its window, levels judged at next tick
    restarted,  ///< same name, new definition: starts again (warm-up)
    added,      ///< a new name
};
[[nodiscard]] const char* to_string(carry c) noexcept;

struct reload_plan {
    static constexpr std::int32_t k_none = -1;
    std::vector<std::int32_t> from;     ///< per new signal: the old signal it takes state from
    std::vector<carry> how;             ///< per new signal
    std::vector<std::uint32_t> ended;   ///< old signals whose state ends: removed or restarted
    std::vector<std::uint32_t> removed; ///< old signals with no successor by name

    [[nodiscard]] bool unchanged() const noexcept;
};

[[nodiscard]] reload_plan plan_reload(const std::vector<signal_spec>& old_specs,
                                      const std::vector<signal_spec>& new_specs);

/// Whether level `i` of `a` and of `b` are the same level (threshold, severity, direction):
/// an active one stays active across a relevel.
[[nodiscard]] bool same_level(const signal_spec& a, const signal_spec& b, std::size_t i) noexcept;

} // namespace seismo::signals
