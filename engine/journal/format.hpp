#pragma once
// The record/replay journal (DESIGN §7). A directory of append-only segment files
// (`seismo-000001.sjl`, ...): a header (magic, version, config digest, and JSON metadata: feed
// names and venues, the config text), then blocks of records. A block is
//   [magic "SJB1"][raw length u32][stored length u32][crc32c of stored u32][stored bytes]
// where the stored bytes are the records, or their zstd compression. A record is
//   [payload length u32][crc32c u32 of the rest][recv_ts i64][feed u16][flags u16][payload]
// with flags giving its type: a raw frame (payload: frame number u32, then the bytes as
// received), the order in which the signal thread consumed ticks (payload: entries of feed u16,
// tick index u16, frame number u32), or a health event (payload: kind u8, down cause u8 (0 in older
// journals), 6 reserved, value u64, then the instrument symbol for gaps), or a hot reload (payload:
// k_reload_header). Replaying frames through the same pipelines in that order gives the triggers
// the live run gave. Blocks are written whole every flush interval (or when full), so a crash loses
// at most the last unflushed block; the reader drops a torn tail and says how many bytes, and
// reports a corrupted record with its segment, offset and CRC. This header holds what the writer
// (writer.hpp) and the reader (reader.hpp) agree on.

#include "engine/core/tick.hpp"

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace seismo::journal {

inline constexpr std::uint32_t k_version = 1;
inline constexpr std::size_t k_record_header = 20;
inline constexpr std::size_t k_segment_header = 36; ///< before the metadata JSON and its CRC
inline constexpr std::size_t k_block_header = 16;
inline constexpr char k_magic[8] = {'S', 'E', 'I', 'S', 'M', 'O', 'J', 'L'};
inline constexpr std::uint32_t k_block_magic = 0x31424a53;      // "SJB1" little-endian: raw records
inline constexpr std::uint32_t k_block_magic_zstd = 0x5a424a53; // "SJBZ": zstd-compressed records
inline constexpr std::uint32_t k_flag_zstd = 1;                 ///< segment header flag
/// The most a block's records can be: the writer cuts blocks at 1 MiB on record boundaries, and
/// one record holds at most a 64 MiB frame ([engine] max_frame_bytes) and its headers. A length
/// field past it is damage, never an allocation.
inline constexpr std::uint32_t k_max_block_bytes = (64u << 20) + (1u << 20);

enum class record_type : std::uint16_t { frame = 1, order = 2, health = 3, reload = 4, resume = 5 };
// A resume record (NATS restart, before any order): [seq u64][the Seismo-Resume header text].
inline constexpr std::size_t k_resume_header = 8;

/// A reload record's payload: [config digest u64][file name length u32][file name][config text].
/// It stands where the signal thread swapped configs, between the order records before and
/// after (DESIGN §9).
inline constexpr std::size_t k_reload_header = 12;
/// The most a feed id can be, plus one (signals::k_max_feeds).
inline constexpr std::size_t k_max_journal_feeds = 64;

/// One consumed tick: which feed, which of its frames, which tick of that frame.
struct order_entry {
    std::uint16_t feed;
    std::uint16_t index;
    std::uint32_t frame;
};
static_assert(sizeof(order_entry) == 8);

/// What a journal's segments say about the run that wrote them.
struct meta {
    struct feed {
        std::string name;
        std::string venue;
    };
    std::vector<feed> feeds;
    std::string config_text;
    std::string config_file;
    std::uint64_t digest = 0;
};

/// One segment of a journal directory.
struct segment_file {
    std::size_t number = 0; ///< NNNNNN of seismo-NNNNNN.sjl
    std::string path;       ///< the directory / the file name
};

/// "seismo-NNNNNN.sjl"
[[nodiscard]] std::string segment_name(std::size_t n);
/// The segments in `dir`, in number order. False (errno set) when `dir` cannot be read.
bool list_segments(const std::string& dir, std::vector<segment_file>& out);

template <class T>
void put_le(std::string& s, T v) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    s.append(b, sizeof(T));
}

template <class T>
[[nodiscard]] T get_le(const char* p) {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;
}

} // namespace seismo::journal
