#pragma once
// Venue sequence numbers for one feed, per instrument and number space (tick::flags): refuses
// duplicates and replays (a number not after the last one applied) and measures gaps where the
// venue keeps numbers contiguous. Owned by one feed thread; allocation only when an instrument
// id is first seen.

#include "engine/core/tick.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace seismo::feeds {

class sequence_tracker {
  public:
    enum class verdict : std::uint8_t { ok, duplicate };

    /// Judges a tick's `seq` (0 = none) without recording it.
    [[nodiscard]] verdict check(const core::tick& t) const noexcept {
        if (t.seq == 0) return verdict::ok;
        const std::size_t i = slot(t);
        if (i >= last_.size() || last_[i] == 0) return verdict::ok;
        return t.seq <= last_[i] ? verdict::duplicate : verdict::ok;
    }
    /// Numbers missing between the last recorded one and `t.seq`, for contiguous spaces only.
    [[nodiscard]] std::uint64_t missing(const core::tick& t) const noexcept {
        if (t.seq == 0 || (t.flags & core::k_seq_contiguous) == 0) return 0;
        const std::size_t i = slot(t);
        if (i >= last_.size() || last_[i] == 0 || t.seq <= last_[i] + 1) return 0;
        return t.seq - last_[i] - 1;
    }
    void record(const core::tick& t) {
        if (t.seq == 0) return;
        const std::size_t i = slot(t);
        if (i >= last_.size()) last_.resize(i + 1, 0);
        last_[i] = t.seq;
    }
    /// What judge() found.
    struct judgement {
        bool duplicate = false;
        std::uint64_t missing = 0; ///< numbers skipped (contiguous spaces only)
    };
    /// check(), missing() and record() in one slot lookup: judges `t.seq` and, unless it is a
    /// duplicate, records it. Allocates only when an instrument id is first seen.
    [[nodiscard]] judgement judge(const core::tick& t) {
        if (t.seq == 0) return {};
        const std::size_t i = slot(t);
        if (i >= last_.size()) last_.resize(i + 1, 0);
        std::uint64_t& last = last_[i];
        if (last != 0 && t.seq <= last) return {true, 0};
        judgement j;
        if (last != 0 && (t.flags & core::k_seq_contiguous) != 0 && t.seq > last + 1) {
            j.missing = t.seq - last - 1;
        }
        last = t.seq;
        return j;
    }
    /// Forget everything (venues that renumber per connection).
    void reset() noexcept { std::fill(last_.begin(), last_.end(), 0); }

  private:
    [[nodiscard]] static std::size_t slot(const core::tick& t) noexcept {
        return static_cast<std::size_t>(core::index(t.inst)) * 4 +
               (t.flags & core::k_seq_space_mask);
    }
    std::vector<std::uint64_t> last_;
};

} // namespace seismo::feeds
