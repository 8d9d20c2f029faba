#pragma once

#include "engine/core/tick.hpp"

namespace seismo::signals {

/// Index of the `width`-wide bucket holding time `t` (floor division, also for t < 0).
[[nodiscard]] constexpr std::int64_t bucket_of(core::nanos t, core::nanos width) noexcept {
    const std::int64_t q = t / width;
    return (t % width != 0 && t < 0) ? q - 1 : q;
}

/// Number of buckets a span covers: ceil(span / width), at least 1.
[[nodiscard]] constexpr std::int64_t buckets_for(core::nanos span, core::nanos width) noexcept {
    const std::int64_t n = span / width + (span % width > 0 ? 1 : 0); // no span + width overflow
    return n < 1 ? 1 : n;
}

} // namespace seismo::signals
