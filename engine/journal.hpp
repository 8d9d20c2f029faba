#pragma once
// The record/replay journal (DESIGN §7). A directory of append-only segment files
// (`seismo-000001.sjl`, ...): a header (magic, version, config digest, and JSON metadata: feed
// names and venues, the config text), then blocks of records. A block is
//   [magic "SJB1"][raw length u32][stored length u32][crc32c of stored u32][stored bytes]
// where the stored bytes are the records, or their zstd compression. A record is
//   [payload length u32][crc32c u32 of the rest][recv_ts i64][feed u16][flags u16][payload]
// with flags giving its type: a raw frame (payload: frame number u32, then the bytes as
// received), the order in which the signal thread consumed ticks (payload: entries of feed u16,
// tick index u16, frame number u32), or a health event (payload: kind u8, 7 reserved, value u64,
// then the instrument symbol for gaps). Replaying frames through the same pipelines in that order
// gives the triggers the live run gave. Blocks are written whole every flush interval (or when
// full), so a crash loses at most the last unflushed block; the reader drops a torn tail and says
// how many bytes, and reports a corrupted record with its segment, offset and CRC.

#include "engine/core/tick.hpp"
#include "engine/spsc_ring.hpp"
#include "feeds/session.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace seismo::engine::journal {

inline constexpr std::uint32_t k_version = 1;
inline constexpr std::size_t k_record_header = 20;

enum class record_type : std::uint16_t { frame = 1, order = 2, health = 3 };

/// One consumed tick: which feed, which of its frames, which tick of that frame.
struct order_entry {
    std::uint16_t feed;
    std::uint16_t index;
    std::uint32_t frame;
};
static_assert(sizeof(order_entry) == 8);

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

struct options {
    std::string dir;
    std::size_t segment_bytes = 256u << 20;
    core::nanos flush_interval = 100'000'000; ///< 100 ms
    bool compress = false;                    ///< zstd per block
    std::size_t ring_bytes = 16u << 20;       ///< per producer (each feed, the signal thread)
    std::size_t block_bytes = 1u << 20;
};

/// Writes a journal on its own thread. Producers (feed threads, the signal thread) append
/// formatted records to their own lock-free rings; they never block on I/O (a full ring makes
/// the producer wait and is counted, which is backpressure, not loss).
class writer {
  public:
    writer(options o, meta m, std::size_t feeds);
    ~writer();
    writer(const writer&) = delete;
    writer& operator=(const writer&) = delete;

    void start();
    /// Drains the rings, writes the last block and closes the segment.
    void stop();

    // ---- a feed's thread
    void frame(std::uint16_t feed, std::uint32_t frame_no, core::nanos recv_ts,
               std::string_view bytes) noexcept;
    // ---- the signal thread
    void order(const order_entry* entries, std::size_t n) noexcept;
    void health(std::uint16_t feed, feeds::health_kind kind, core::nanos at, std::uint64_t value,
                std::string_view symbol) noexcept;

    [[nodiscard]] std::uint64_t bytes_written() const noexcept {
        return bytes_.load(std::memory_order_relaxed);
    }
    [[nodiscard]] std::uint64_t frames() const noexcept;
    /// Bytes in the rings not yet taken by the writer thread (its backlog).
    [[nodiscard]] std::uint64_t backlog_bytes() const noexcept;
    [[nodiscard]] std::uint64_t ring_waits() const noexcept {
        return waits_.load(std::memory_order_relaxed);
    }
    [[nodiscard]] std::uint64_t segments() const noexcept {
        return segments_.load(std::memory_order_relaxed);
    }

  private:
    void put(spsc_ring& ring, record_type type, std::uint16_t feed, core::nanos recv_ts,
             const void* a, std::size_t na, const void* b, std::size_t nb) noexcept;
    void run();
    void seal_records(std::size_t from) noexcept;
    void seal();
    void write_block(std::string_view raw_block);
    void open_segment();

    options o_;
    meta meta_;
    struct feed_ring {
        explicit feed_ring(std::size_t bytes) : ring(bytes) {}
        spsc_ring ring;
        std::atomic<std::uint64_t> frames{0};     // written by its feed thread only (no locked add)
        std::atomic<std::uint32_t> last_frame{0}; // the newest frame number in the ring (release)
    };
    /// Moves the signal thread's records that can go now from sig_pending_ to block_: all of
    /// them, up to the first order record naming a frame not yet taken from its feed ring
    /// (a feed thread records a frame after handing its ticks on, so the signal thread can
    /// consume a tick before its frame is in the ring; on disk the frame always comes first).
    void release_signal_records(bool all);
    std::vector<std::unique_ptr<feed_ring>> feed_rings_;
    std::unique_ptr<spsc_ring> signal_ring_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    int fd_ = -1;
    std::size_t segment_no_ = 0;
    std::size_t segment_size_ = 0;
    std::string block_;
    std::string sig_pending_; // signal-ring records held back (release_signal_records)
    std::vector<std::uint32_t>
        seen_; // per feed: every frame up to this number is in block_ or on disk
    std::string stored_;
    std::string header_;
    core::nanos last_flush_ = 0;
    std::atomic<std::uint64_t> bytes_{0}, waits_{0}, segments_{0};
};

/// A record as read back.
struct record {
    record_type type = record_type::frame;
    std::uint16_t feed = 0;
    core::nanos recv_ts = 0;
    std::string_view
        payload; ///< valid until the next read; followed by k_read_padding readable bytes
};

/// Bytes readable past the end of every payload the reader returns (a parser's SIMD padding).
inline constexpr std::size_t k_read_padding = 64;

/// Something wrong found while reading, reported and (unless stopping) skipped.
struct problem {
    std::string segment;
    std::uint64_t offset = 0;
    std::string what;
    bool torn_tail = false;
    std::uint64_t dropped_bytes = 0;
};

/// One segment of a journal directory.
struct segment_file {
    std::size_t number = 0; ///< NNNNNN of seismo-NNNNNN.sjl
    std::string path;       ///< the directory / the file name
};
/// The segments in `dir`, in number order. False (errno set) when `dir` cannot be read.
bool list_segments(const std::string& dir, std::vector<segment_file>& out);

/// Reads a journal directory (all segments in order) or one segment file.
class reader {
  public:
    /// Throws std::runtime_error when the path holds no journal or a header is unreadable.
    explicit reader(const std::string& path);
    ~reader();
    reader(const reader&) = delete;
    reader& operator=(const reader&) = delete;

    [[nodiscard]] const meta& info() const noexcept { return meta_; }
    /// The next valid record; false at the end. Problems go to `on_problem`; when it returns
    /// false, reading stops (next() returns false and stopped() is true).
    bool next(record& r);
    void on_problem(std::function<bool(const problem&)> f) { on_problem_ = std::move(f); }
    [[nodiscard]] bool stopped() const noexcept { return stopped_; }
    [[nodiscard]] std::uint64_t bytes_total() const noexcept { return total_bytes_; }
    [[nodiscard]] std::uint64_t bytes_done() const noexcept { return done_bytes_ + pos_; }
    [[nodiscard]] const std::vector<std::string>& segments() const noexcept { return segments_; }

    /// True when `path` is a journal directory or segment (by magic).
    [[nodiscard]] static bool is_journal(const std::string& path);

  private:
    static constexpr std::size_t k_window = 4u << 20; // bytes read at a time

    bool load_segment();
    bool next_block();
    bool report(problem p);
    /// Makes the segment's bytes [off, off + n) available at at(off); false past its end.
    bool ensure(std::uint64_t off, std::size_t n);
    [[nodiscard]] const char* at(std::uint64_t off) const noexcept {
        return buf_.get() + (off - win_off_);
    }
    /// True when a whole block starts at `off` (and, with `verify`, its CRC holds).
    bool block_at(std::uint64_t off, bool verify);

    std::vector<std::string> segments_;
    std::size_t seg_ = 0; // segments opened so far
    int fd_ = -1;         // the current segment
    std::uint64_t file_size_ = 0;
    std::unique_ptr<char[]> buf_; // a window on the segment, then k_read_padding bytes
    std::size_t buf_size_ = 0;
    std::uint64_t win_off_ = 0; // the window's offset in the segment
    std::size_t win_len_ = 0;
    std::uint64_t pos_ = 0;          // read position in the segment
    std::string block_;              // a decompressed block
    std::string_view blk_;           // the current block's raw records (in buf_ or block_)
    std::size_t bpos_ = 0;           // read position in blk_
    std::uint64_t block_offset_ = 0; // the block's records' offset in the segment
    bool block_verified_ = true;
    meta meta_;
    bool have_meta_ = false;
    std::vector<problem> early_; // problems found before on_problem was set
    bool stopped_ = false;
    std::uint64_t total_bytes_ = 0, done_bytes_ = 0;
    std::function<bool(const problem&)> on_problem_;
};

} // namespace seismo::engine::journal
