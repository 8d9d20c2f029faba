#pragma once
// Level crossing with per-level fire/clear state (DESIGN §5): with `below`, a level fires once
// when value <= at and clears when value > at + rearm; with `above`, it fires at value >= at and
// clears at value < at - rearm. NaN values change nothing.

#include "signals/spec.hpp"

#include <cmath>
#include <cstdint>

namespace seismo::signals {

enum class trigger_state : std::uint8_t { fired, cleared };

[[nodiscard]] constexpr const char* to_string(trigger_state s) noexcept {
    return s == trigger_state::fired ? "fired" : "cleared";
}

/// Evaluates every level of `spec` against `value`, updating the `fired` bit mask and calling
/// `emit(level_index, trigger_state)` for each transition, in declaration order.
template <class Emit>
void evaluate_levels(const signal_spec& spec, std::uint64_t& fired, double value, Emit&& emit) {
    if (std::isnan(value)) return;
    const std::size_t n = spec.levels.size();
    for (std::size_t i = 0; i < n; ++i) {
        const double at = spec.levels[i].at;
        const std::uint64_t bit = std::uint64_t{1} << i;
        const bool is_fired = (fired & bit) != 0;
        if (spec.dir == direction::below) {
            if (!is_fired && value <= at) {
                fired |= bit;
                emit(i, trigger_state::fired);
            } else if (is_fired && value > at + spec.rearm) {
                fired &= ~bit;
                emit(i, trigger_state::cleared);
            }
        } else {
            if (!is_fired && value >= at) {
                fired |= bit;
                emit(i, trigger_state::fired);
            } else if (is_fired && value < at - spec.rearm) {
                fired &= ~bit;
                emit(i, trigger_state::cleared);
            }
        }
    }
}

} // namespace seismo::signals
