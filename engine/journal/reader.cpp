#include "engine/journal/reader.hpp"

#include "engine/core/crc32c.hpp"

#include <simdjson.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace seismo::journal {

using core::crc32c;

bool reader::is_journal(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return false;
    if (S_ISDIR(st.st_mode)) {
        std::vector<segment_file> segs;
        return list_segments(path, segs) && !segs.empty();
    }
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    char m[8] = {};
    const bool ok = ::read(fd, m, 8) == 8 && std::memcmp(m, k_magic, 8) == 0;
    ::close(fd);
    return ok;
}

reader::reader(const std::string& path) try {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        throw std::runtime_error(path + ": " + std::strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        std::vector<segment_file> segs;
        if (!list_segments(path, segs))
            throw std::runtime_error(path + ": " + std::strerror(errno));
        for (auto& f : segs)
            segments_.push_back(std::move(f.path));
        if (segments_.empty())
            throw std::runtime_error(path + ": no journal segments (seismo-NNNNNN.sjl)");
    } else {
        segments_.push_back(path);
    }
    for (const auto& s : segments_) {
        struct stat ss {};
        if (::stat(s.c_str(), &ss) == 0) total_bytes_ += static_cast<std::uint64_t>(ss.st_size);
    }
    if (!load_segment() || !have_meta_) {
        throw std::runtime_error(segments_.front() +
                                 ": not a seismo journal (no segment with a valid header)");
    }
} catch (...) {
    // The destructor does not run for a constructor that throws: close the segment here.
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    throw;
}

bool reader::report(problem p) {
    if (!on_problem_) {
        early_.push_back(std::move(p)); // found while opening: delivered by the first next()
        return true;
    }
    if (!on_problem_(p)) {
        stopped_ = true;
        return false;
    }
    return true;
}

reader::~reader() {
    if (fd_ >= 0) ::close(fd_);
}

bool reader::ensure(std::uint64_t off, std::size_t n) {
    if (off >= win_off_ && off + n <= win_off_ + win_len_) return true;
    if (off + n > file_size_) return false;
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(std::max(n, k_window), file_size_ - off));
    if (want + k_read_padding > buf_size_) {
        buf_size_ = want + k_read_padding;
        buf_ = std::make_unique_for_overwrite<char[]>(buf_size_);
    }
    std::size_t got = 0;
    while (got < want) {
        const ssize_t r = ::pread(fd_, buf_.get() + got, want - got, static_cast<off_t>(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += static_cast<std::size_t>(r);
    }
    std::memset(buf_.get() + got, 0, k_read_padding);
    win_off_ = off;
    win_len_ = got;
    return got >= n;
}

bool reader::load_segment() {
    while (seg_ < segments_.size()) {
        const std::string& path = segments_[seg_++];
        done_bytes_ += file_size_;
        if (fd_ >= 0) ::close(fd_);
        file_size_ = 0;
        resync_crc_bytes_ = 0;
        win_off_ = 0;
        win_len_ = 0;
        pos_ = 0;
        blk_ = {};
        bpos_ = 0;
        fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd_ < 0) throw std::runtime_error(path + ": " + std::strerror(errno));
        // What is there at open time is what this pass reads (a live segment may still grow).
        struct stat st {};
        if (::fstat(fd_, &st) == 0) file_size_ = static_cast<std::uint64_t>(st.st_size);
        std::string why;
        std::size_t end = 0;
        if (!ensure(0, k_segment_header) || std::memcmp(at(0), k_magic, 8) != 0) {
            why = file_size_ == 0 ? "empty segment" : "not a seismo journal segment header";
        } else if (get_le<std::uint32_t>(at(8)) != k_version) {
            why = "unsupported journal version " + std::to_string(get_le<std::uint32_t>(at(8)));
        } else {
            end = k_segment_header + static_cast<std::size_t>(get_le<std::uint32_t>(at(32)));
            if (!ensure(0, end + 4))
                why = "truncated header";
            else if (crc32c(at(0), end) != get_le<std::uint32_t>(at(end)))
                why = "header CRC mismatch";
        }
        if (!why.empty()) {
            // A crash between creating a segment and writing its header leaves it empty or
            // short: the whole segment is skipped and reported (as a torn tail when last).
            problem pr;
            pr.segment = path;
            pr.offset = 0;
            pr.dropped_bytes = file_size_;
            pr.torn_tail = seg_ == segments_.size();
            pr.what = why + ": segment skipped (" + std::to_string(file_size_) + " bytes)";
            pos_ = file_size_;
            if (!report(pr)) return false;
            continue;
        }
        if (!have_meta_) {
            have_meta_ = true;
            meta_.digest = get_le<std::uint64_t>(at(16));
            const std::size_t meta_len = end - k_segment_header;
            simdjson::dom::parser p;
            simdjson::dom::element doc;
            if (p.parse(at(k_segment_header), meta_len).get(doc) != simdjson::SUCCESS)
                throw std::runtime_error(path + ": bad metadata");
            simdjson::dom::array feeds;
            if (doc["feeds"].get_array().get(feeds) == simdjson::SUCCESS) {
                for (auto f : feeds) {
                    std::string_view name, venue;
                    if (f["name"].get_string().get(name) != simdjson::SUCCESS) name = "?";
                    if (f["venue"].get_string().get(venue) != simdjson::SUCCESS) venue = "generic";
                    meta_.feeds.push_back({std::string(name), std::string(venue)});
                }
            }
            std::string_view cfg, file;
            if (doc["config"].get_string().get(cfg) == simdjson::SUCCESS)
                meta_.config_text = std::string(cfg);
            if (doc["config_file"].get_string().get(file) == simdjson::SUCCESS)
                meta_.config_file = std::string(file);
        }
        pos_ = end + 4;
        return true;
    }
    return false;
}

bool reader::resync_budget(std::uint64_t n) noexcept {
    if (resync_crc_bytes_ + n > 4 * file_size_ + k_max_block_bytes) return false;
    resync_crc_bytes_ += n;
    return true;
}

bool reader::block_at(std::uint64_t off, bool verify) {
    if (!ensure(off, k_block_header)) return false;
    const auto m = get_le<std::uint32_t>(at(off));
    if (m != k_block_magic && m != k_block_magic_zstd) return false;
    const auto raw = get_le<std::uint32_t>(at(off + 4));
    const auto len = get_le<std::uint32_t>(at(off + 8));
    if (raw > k_max_block_bytes || len > k_max_block_bytes) return false; // damaged lengths
    if (m == k_block_magic && raw != len) return false;
    if (!verify) return ensure(off, k_block_header + len); // false: past the end of the file
    // Resynchronising: blocks lie back to back, so a real one ends at the file's end or where
    // the next block's magic starts. Checked before the CRC, so that bytes that merely look
    // like a block header cost a few compares, not a CRC over the length they claim.
    const std::uint64_t end = off + k_block_header + len;
    if (end > file_size_ || (end != file_size_ && end + 4 > file_size_)) return false;
    if (end != file_size_) {
        // Four bytes read on their own: the window is not moved for a candidate that fails.
        char nm[4];
        if (end + 4 <= win_off_ + win_len_ && end >= win_off_) {
            std::memcpy(nm, at(end), 4);
        } else if (::pread(fd_, nm, 4, static_cast<off_t>(end)) != 4) {
            return false;
        }
        const auto next = get_le<std::uint32_t>(nm);
        if (next != k_block_magic && next != k_block_magic_zstd) return false;
    }
    // Crafted bytes can still chain (say, every candidate claiming to end at the file's end):
    // the CRC work of resynchronising is capped at a few times the segment's size, past which
    // the rest of the segment is dropped as damaged. Real damage never comes near it.
    if (!resync_budget(len)) return false;
    if (!ensure(off, k_block_header + len)) return false;
    return crc32c(at(off + k_block_header), len) == get_le<std::uint32_t>(at(off + 12));
}

bool reader::next_block() {
    for (;;) {
        if (stopped_) return false;
        if (pos_ >= file_size_) {
            if (!load_segment()) return false;
            continue;
        }
        const std::string& seg = segments_[seg_ - 1];
        if (!block_at(pos_, false)) {
            // Either a torn tail (the last write cut short) or damage: look for the next block
            // whose CRC holds.
            std::uint64_t next = file_size_;
            for (std::uint64_t a = pos_ + 1; a + k_block_header <= file_size_; ++a) {
                if (block_at(a, true)) {
                    next = a;
                    break;
                }
            }
            problem pr;
            pr.segment = seg;
            pr.offset = pos_;
            pr.dropped_bytes = next - pos_;
            if (next == file_size_) {
                pr.torn_tail = true;
                pr.what = "torn tail: dropped " + std::to_string(pr.dropped_bytes) +
                          " bytes after the last complete block";
            } else {
                pr.what = "damaged block: skipped " + std::to_string(pr.dropped_bytes) +
                          " bytes to the next valid block";
            }
            pos_ = next;
            if (!report(pr)) return false;
            continue;
        }
        const char* p = at(pos_);
        const auto raw = get_le<std::uint32_t>(p + 4);
        const auto len = get_le<std::uint32_t>(p + 8);
        const auto crc = get_le<std::uint32_t>(p + 12);
        const char* stored = p + k_block_header;
        const std::uint64_t block = pos_;
        block_offset_ = pos_ + k_block_header;
        pos_ += k_block_header + len;
        const std::uint32_t actual = crc32c(stored, len);
        block_verified_ = actual == crc;
        if (get_le<std::uint32_t>(p) == k_block_magic_zstd) {
            if (!block_verified_) {
                problem pr;
                pr.segment = seg;
                pr.offset = block;
                pr.dropped_bytes = k_block_header + len;
                char b[96];
                std::snprintf(
                    b, sizeof b,
                    "compressed block CRC mismatch (stored %08x, computed %08x): block skipped",
                    crc, actual);
                pr.what = b;
                if (!report(pr)) return false;
                continue;
            }
            // The raw length sizes a buffer but is outside the CRC: it must be the length the
            // CRC-checked zstd frame declares, and within a block's bound.
            const unsigned long long declared = ZSTD_getFrameContentSize(stored, len);
            const bool sized = declared == raw && raw <= k_max_block_bytes;
            std::size_t n = 0;
            if (sized) {
                block_.resize(static_cast<std::size_t>(raw) + k_read_padding);
                n = ZSTD_decompress(block_.data(), raw, stored, len);
            }
            if (!sized || ZSTD_isError(n) || n != raw) {
                problem pr;
                pr.segment = seg;
                pr.offset = block;
                pr.dropped_bytes = k_block_header + len;
                pr.what = "block does not decompress: skipped";
                if (!report(pr)) return false;
                continue;
            }
            blk_ = std::string_view(block_.data(), raw);
        } else {
            // Uncompressed: read in place. Even a block whose CRC fails is read record by
            // record, each record judged by its own CRC, so one damaged record costs only itself.
            blk_ = std::string_view(stored, len);
        }
        bpos_ = 0;
        return true;
    }
}

bool reader::next(record& r) {
    if (!early_.empty()) {
        std::vector<problem> e;
        e.swap(early_);
        for (auto& p : e) {
            if (!report(std::move(p))) return false;
        }
    }
    for (;;) {
        if (stopped_) return false;
        if (bpos_ >= blk_.size()) {
            if (!next_block()) return false;
            continue;
        }
        const std::size_t left = blk_.size() - bpos_;
        const char* p = blk_.data() + bpos_;
        bool ok = left >= k_record_header;
        std::uint32_t len = 0, crc = 0, actual = 0;
        if (ok) {
            len = get_le<std::uint32_t>(p);
            crc = get_le<std::uint32_t>(p + 4);
            ok = len <= left - k_record_header;
            // A block whose CRC held needs no second pass over its records.
            if (ok && !block_verified_) {
                actual = crc32c(p + 8, 12 + len);
                ok = actual == crc;
            }
        }
        if (!ok) {
            problem pr;
            pr.segment = segments_[seg_ - 1];
            pr.offset = block_offset_ + bpos_;
            char b[128];
            if (left >= 8 && len <= left - k_record_header) {
                std::snprintf(b, sizeof b, "record CRC mismatch (stored %08x, computed %08x)", crc,
                              actual);
            } else {
                std::snprintf(b, sizeof b, "record header damaged (length %u)", len);
            }
            pr.what = b;
            // Resynchronise on the next offset that holds a record with a valid CRC.
            std::size_t next = bpos_ + 1;
            for (; next + k_record_header <= blk_.size(); ++next) {
                const char* q = blk_.data() + next;
                const auto l = get_le<std::uint32_t>(q);
                if (l > blk_.size() - next - k_record_header) continue;
                if (!resync_budget(12 + l)) {
                    next = blk_.size(); // crafted, not damaged: the rest of the block goes
                    break;
                }
                if (crc32c(q + 8, 12 + l) == get_le<std::uint32_t>(q + 4)) break;
            }
            pr.dropped_bytes = std::min(next, blk_.size()) - bpos_;
            pr.what +=
                ": skipped " + std::to_string(pr.dropped_bytes) + " bytes to the next valid record";
            bpos_ = std::min(next, blk_.size());
            if (!report(pr)) return false;
            continue;
        }
        r.recv_ts = get_le<std::int64_t>(p + 8);
        r.feed = get_le<std::uint16_t>(p + 16);
        r.type = static_cast<record_type>(get_le<std::uint16_t>(p + 18));
        r.payload = std::string_view(p + k_record_header, len);
        bpos_ += k_record_header + len;
        return true;
    }
}

} // namespace seismo::journal
