#pragma once
// CRC32C (Castagnoli), as used by the journal: the SSE4.2 instruction when the build targets it,
// a slicing table otherwise.

#include <cstddef>
#include <cstdint>

namespace seismo::core {

/// CRC32C of `n` bytes, continuing from `crc` (0 to start).
[[nodiscard]] std::uint32_t crc32c(const void* data, std::size_t n, std::uint32_t crc = 0) noexcept;

} // namespace seismo::core
