#pragma once
// The journal reader (format: format.hpp, docs/journal.md): every valid record of a journal
// directory or segment in order, with torn tails and damage reported and skipped.

#include "engine/core/tick.hpp"
#include "engine/journal/format.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace seismo::journal {

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
    /// Counts `n` bytes of CRC work spent resynchronising; false once past the segment's cap.
    bool resync_budget(std::uint64_t n) noexcept;
    /// True when a whole block starts at `off` (and, with `verify`, its CRC holds).
    bool block_at(std::uint64_t off, bool verify);

    std::vector<std::string> segments_;
    std::size_t seg_ = 0; // segments opened so far
    int fd_ = -1;
    std::uint64_t resync_crc_bytes_ = 0; // CRC work spent resynchronising in this segment
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

} // namespace seismo::journal
