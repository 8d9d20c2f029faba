#include "engine/warnings.hpp"

namespace seismo::engine {

std::vector<configured_instrument> configured_instruments(const config& cfg,
                                                          const core::instrument_registry& reg) {
    std::vector<configured_instrument> out;
    for (const auto& ic : cfg.instruments) {
        const core::instrument_id id = reg.find(ic.info.symbol);
        if (id != core::k_no_instrument) out.push_back({id, ic.info.symbol});
    }
    return out;
}

std::vector<std::string> quiet_instruments(const std::vector<configured_instrument>& configured,
                                           const signals::graph& g) {
    std::vector<std::string> out;
    for (const auto& c : configured) {
        if (g.read_by_a_signal(c.id) && !g.ticked(c.id)) out.push_back(c.symbol);
    }
    return out;
}

void quiet_instrument_ids(const std::vector<configured_instrument>& configured,
                          const signals::graph& g, std::vector<core::instrument_id>& out) {
    for (const auto& c : configured) {
        if (g.read_by_a_signal(c.id) && !g.ticked(c.id)) out.push_back(c.id);
    }
}

std::optional<std::string> quiet_instruments_warning(const std::vector<std::string>& quiet,
                                                     std::size_t configured) {
    if (quiet.empty()) return std::nullopt;
    std::string w = std::to_string(quiet.size()) + " of " + std::to_string(configured) +
                    " configured instruments never got a tick: ";
    constexpr std::size_t k_named = 12;
    for (std::size_t i = 0; i < quiet.size() && i < k_named; ++i) {
        if (i != 0) w += ", ";
        w += quiet[i];
    }
    if (quiet.size() > k_named) w += ", …";
    w += " (check their aliases against the feeds' venues and symbols)";
    return w;
}

std::optional<std::string> ignored_warning(std::string_view input, std::string_view venue,
                                           const feeds::feed_stats& stats,
                                           std::string_view first_ignored) {
    const std::uint64_t frames = stats.total_frames();
    const std::uint64_t ignored =
        stats.frames[static_cast<std::size_t>(feeds::frame_outcome::ignored)].value();
    if (frames == 0 || ignored == 0) return std::nullopt;
    if (ignored != frames && (frames < 10 || ignored * 10 < frames * 9)) return std::nullopt;
    std::string w = std::string(input) + ": " + std::to_string(ignored) + " of " +
                    std::to_string(frames) + " frames ignored by the " + std::string(venue) +
                    " adapter (a channel no signal uses, or the wrong venue?)";
    if (!first_ignored.empty()) {
        w += "; the first: ";
        w += first_ignored.substr(0, 120);
        if (first_ignored.size() > 120) w += "…";
    }
    return w;
}

} // namespace seismo::engine
