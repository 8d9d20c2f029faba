#pragma once
// Signal definitions as the config declares them (DESIGN §5, §9). Pure data: the config module
// fills these in, the graph turns them into running calculators.

#include "engine/core/instrument_registry.hpp"
#include "engine/core/tick.hpp"

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace seismo::signals {

enum class signal_kind : std::uint8_t { drawdown, level, change, breadth, zscore, composite };
enum class direction : std::uint8_t { below, above };
enum class severity : std::uint8_t { info, warning, critical };
/// Where a drawdown (or a breadth member) takes its reference from.
enum class ref_kind : std::uint8_t { window, prev_close, session_open, fixed };
enum class change_units : std::uint8_t { abs, pct };

[[nodiscard]] const char* to_string(signal_kind k) noexcept;
[[nodiscard]] const char* to_string(severity s) noexcept;
[[nodiscard]] const char* to_string(direction d) noexcept;
[[nodiscard]] bool parse_signal_kind(std::string_view s, signal_kind& out) noexcept;
[[nodiscard]] bool parse_severity(std::string_view s, severity& out) noexcept;

/// The direction a kind uses when the config does not say.
[[nodiscard]] constexpr direction default_direction(signal_kind k) noexcept {
    return k == signal_kind::drawdown || k == signal_kind::change || k == signal_kind::level
               ? direction::below
               : direction::above;
}

/// True for kinds with one value per instrument (the rest have one value per signal).
[[nodiscard]] constexpr bool per_instrument(signal_kind k) noexcept {
    return k != signal_kind::breadth && k != signal_kind::composite;
}

struct level {
    double at = 0;
    severity sev = severity::warning;
};

/// Selects instruments by tag (`tag:a_share`) or by symbol glob (`sym:*.SH`).
struct selector {
    enum class by : std::uint8_t { tag, symbol };
    by what = by::tag;
    std::string text;

    [[nodiscard]] bool matches(const core::instrument_info& info) const noexcept;
    /// Parses "tag:NAME" or "sym:GLOB"; false otherwise.
    [[nodiscard]] static bool parse(std::string_view s, selector& out);
};

inline constexpr std::size_t k_max_levels = 64;
inline constexpr std::size_t k_max_composite_inputs = 32;

struct signal_spec {
    std::string name;
    signal_kind kind = signal_kind::level;
    std::vector<std::string> instruments; ///< symbols; must be declared instruments
    std::vector<selector> select;         ///< also matches instruments first seen later

    // drawdown, breadth
    ref_kind ref = ref_kind::window;
    double ref_value = std::numeric_limits<double>::quiet_NaN(); ///< for ref_kind::fixed
    core::nanos window = 0;
    /// Bucket width of windows and change histories; 0 means max(window/256, 1 ms).
    core::nanos resolution = 0;

    // change
    core::nanos lookback = 0;
    change_units units = change_units::abs;

    // breadth
    double member_at = 0.0;
    std::uint32_t min_members = 1;

    // zscore
    core::nanos halflife = 0;
    std::uint32_t min_count = 20;

    // composite
    std::vector<std::string> inputs;
    core::nanos within = 0;

    // levels
    std::vector<level> levels;
    direction dir = direction::below;
    double rearm = 0.0;

    /// The bucket width actually used by windowed state.
    [[nodiscard]] core::nanos effective_resolution() const noexcept;
    /// Bytes of state one member (instrument) of this signal holds, fixed at construction
    /// whatever the tick rate: its window or history buckets plus its own record. The config
    /// bounds it (signals × members) by [engine] memory_budget.
    [[nodiscard]] std::uint64_t member_state_bytes() const noexcept;
};

/// Orders signals so every composite comes after its inputs. Returns false when an input name
/// is unknown (`problem` = that name) or the inputs form a cycle (`problem` = "a -> b -> a").
[[nodiscard]] bool topo_order(const std::vector<signal_spec>& specs,
                              std::vector<std::uint32_t>& order, std::string& problem,
                              std::size_t& culprit);

} // namespace seismo::signals
