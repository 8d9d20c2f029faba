#pragma once
// Exponentially weighted mean and variance of a series' changes, decaying in event time with a
// half-life: an observation `dt` after the previous one gets weight a = 1 - 2^(-dt/halflife)
// (the first gets weight 1). The variance update is West's incremental form, which equals the
// weighted variance sum w_i (d_i - mean)^2 with weights that sum to one.

#include "engine/core/tick.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>

namespace seismo::signals {

class ew_stats {
  public:
    explicit ew_stats(core::nanos halflife = 1)
        : inv_halflife_(1.0 / static_cast<double>(halflife)) {}

    /// Adds `d` observed `dt` ns after the previous observation.
    void add(double d, core::nanos dt) noexcept {
        if (n_ == 0) {
            mean_ = d;
            var_ = 0.0;
        } else {
            // a and 1 - a computed separately: when dt >> halflife, 1 - a is tiny and
            // subtracting would lose its relative precision.
            const double x = static_cast<double>(dt) * inv_halflife_ * std::numbers::ln2;
            const double a = -std::expm1(-x);
            const double stay = std::exp(-x);
            const double diff = d - mean_;
            const double incr = a * diff;
            mean_ += incr;
            var_ = stay * (var_ + diff * incr);
        }
        ++n_;
    }

    /// z-score of `d` against the statistics so far; NaN while the variance is zero.
    [[nodiscard]] double zscore(double d) const noexcept {
        return n_ != 0 && var_ > 0.0 ? (d - mean_) / std::sqrt(var_)
                                     : std::numeric_limits<double>::quiet_NaN();
    }

    [[nodiscard]] double mean() const noexcept { return mean_; }
    [[nodiscard]] double variance() const noexcept { return var_; }
    [[nodiscard]] std::uint64_t count() const noexcept { return n_; }
    void reset() noexcept {
        n_ = 0;
        mean_ = var_ = 0.0;
    }

  private:
    double inv_halflife_;
    double mean_ = 0.0;
    double var_ = 0.0;
    std::uint64_t n_ = 0;
};

} // namespace seismo::signals
