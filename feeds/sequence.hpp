#pragma once
// Per-instrument venue sequence numbers for one feed: refuses duplicates and replays (a number
// not after the last one applied) and counts gaps where the venue keeps numbers contiguous.
// Owned by one feed thread; allocation only when an instrument id is first seen.

#include "engine/core/tick.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace seismo::feeds {

class sequence_tracker {
public:
    enum class verdict : std::uint8_t { ok, duplicate, gap };

    /// Judges `seq` (0 = none) for `inst` without recording it.
    [[nodiscard]] verdict check(core::instrument_id inst, std::uint64_t seq) const noexcept {
        if (seq == 0) return verdict::ok;
        const std::uint32_t i = core::index(inst);
        if (i >= last_.size() || last_[i] == 0) return verdict::ok;
        if (seq <= last_[i]) return verdict::duplicate;
        return seq == last_[i] + 1 ? verdict::ok : verdict::gap;
    }
    /// Missing numbers between the last recorded and `seq` (0 when contiguous or unknown).
    [[nodiscard]] std::uint64_t missing(core::instrument_id inst, std::uint64_t seq) const noexcept {
        const std::uint32_t i = core::index(inst);
        if (seq == 0 || i >= last_.size() || last_[i] == 0 || seq <= last_[i] + 1) return 0;
        return seq - last_[i] - 1;
    }
    void record(core::instrument_id inst, std::uint64_t seq) {
        if (seq == 0) return;
        const std::uint32_t i = core::index(inst);
        if (i >= last_.size()) last_.resize(i + 1u, 0);
        last_[i] = seq;
    }
    /// Forget everything (a new connection starts new numbering on some venues).
    void reset() noexcept { std::fill(last_.begin(), last_.end(), 0); }

private:
    std::vector<std::uint64_t> last_;
};

} // namespace seismo::feeds
