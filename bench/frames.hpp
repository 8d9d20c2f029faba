#pragma once
// Generated generic-protocol frames for the benchmarks: a realistic mix over the playbook's
// instruments (A-shares, crypto, metals, indices), held in one padded buffer.

#include <cstdint>
#include <string>

namespace seismo::bench {

struct frame_set {
    std::string buffer;     ///< lines, then padding
    std::size_t size = 0;   ///< bytes of lines (padding excluded)
    std::size_t frames = 0; ///< lines
};

/// `n` price frames preceded by the A-shares' previous closes. Deterministic.
frame_set make_frames(std::size_t n, std::uint64_t seed = 42);

} // namespace seismo::bench
