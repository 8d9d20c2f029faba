#pragma once
// The one validation every normalized tick passes, whatever produced it (a venue adapter, the
// generic protocol, a Tardis CSV line): a finite price, a finite size >= 0, a resolved
// instrument (room in the registry), and a price above zero for a `price` instrument (a `level`
// instrument takes any finite value). The first failure, in that order, is the reason.

#include "engine/core/instrument_registry.hpp"
#include "feeds/frame.hpp"

#include <cmath>

namespace seismo::feeds {

[[nodiscard]] inline parse_result check_tick(double px, double sz,
                                             const core::symbol_cache::entry& e) noexcept {
    if (!std::isfinite(px))
        return parse_result::reject(reject_reason::non_finite, "price: not finite");
    if (!(sz >= 0) || !std::isfinite(sz)) {
        return parse_result::reject(reject_reason::bad_field, "size: negative or not finite");
    }
    if (e.id == core::k_no_instrument) {
        return parse_result::reject(reject_reason::registry_full,
                                    "symbol: instrument registry is full");
    }
    if (e.kind == core::value_kind::price && px <= 0) {
        return parse_result::reject(reject_reason::non_positive, "price: not above zero");
    }
    return parse_result::of(frame_status::ticks);
}

} // namespace seismo::feeds
