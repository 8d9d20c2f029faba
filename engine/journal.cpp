#include "engine/journal.hpp"

#include "engine/core/json_writer.hpp"
#include "engine/core/time.hpp"
#include "engine/crc32c.hpp"

#include <simdjson.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace seismo::engine::journal {
namespace {

constexpr char k_magic[8] = {'S', 'E', 'I', 'S', 'M', 'O', 'J', 'L'};
constexpr std::uint32_t k_block_magic = 0x31424a53;      // "SJB1" little-endian: raw records
constexpr std::uint32_t k_block_magic_zstd = 0x5a424a53; // "SJBZ": zstd-compressed records
constexpr std::uint32_t k_flag_zstd = 1;
constexpr std::size_t k_block_header = 16;
constexpr std::size_t k_busy_bytes = 256u
                                     << 10; // a drain this large: the writer goes again at once

template <class T>
void put_le(std::string& s, T v) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    s.append(b, sizeof(T));
}

template <class T>
T get_le(const char* p) {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;
}

std::string segment_name(std::size_t n) {
    char b[32];
    std::snprintf(b, sizeof b, "seismo-%06zu.sjl", n);
    return b;
}

void write_all(int fd, const char* p, std::size_t n, const std::string& what) {
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error(what + ": " + std::strerror(errno));
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
}

std::string meta_json(const meta& m) {
    std::string j = R"({"feeds":[)";
    for (std::size_t i = 0; i < m.feeds.size(); ++i) {
        if (i != 0) j += ',';
        j += R"({"name":)";
        core::append_json_string(j, m.feeds[i].name);
        j += R"(,"venue":)";
        core::append_json_string(j, m.feeds[i].venue);
        j += '}';
    }
    j += R"(],"config_file":)";
    core::append_json_string(j, m.config_file);
    j += R"(,"config":)";
    core::append_json_string(j, m.config_text);
    j += '}';
    return j;
}

} // namespace

// ------------------------------------------------------------------------------------ writer

writer::writer(options o, meta m, std::size_t feeds) : o_(std::move(o)), meta_(std::move(m)) {
    if (::mkdir(o_.dir.c_str(), 0755) != 0 && errno != EEXIST) {
        throw std::runtime_error("journal " + o_.dir + ": " + std::strerror(errno));
    }
    // Continue numbering after any segments already there (a journal is append-only).
    std::vector<segment_file> existing;
    if (list_segments(o_.dir, existing) && !existing.empty()) segment_no_ = existing.back().number;
    for (std::size_t i = 0; i < feeds; ++i)
        feed_rings_.push_back(std::make_unique<feed_ring>(o_.ring_bytes));
    signal_ring_ = std::make_unique<spsc_ring>(o_.ring_bytes);
    block_.reserve(o_.block_bytes + (1u << 20));
    const std::string mj = meta_json(meta_);
    header_.append(k_magic, 8);
    put_le<std::uint32_t>(header_, k_version);
    put_le<std::uint32_t>(header_, o_.compress ? k_flag_zstd : 0);
    put_le<std::uint64_t>(header_, meta_.digest);
    put_le<std::int64_t>(header_, core::realtime_now());
    put_le<std::uint32_t>(header_, static_cast<std::uint32_t>(mj.size()));
    header_ += mj;
    put_le<std::uint32_t>(header_, crc32c(header_.data(), header_.size()));
    open_segment();
}

writer::~writer() {
    stop();
}

void writer::open_segment() {
    if (fd_ >= 0) ::close(fd_);
    ++segment_no_;
    const std::string path = o_.dir + "/" + segment_name(segment_no_);
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0) throw std::runtime_error("journal " + path + ": " + std::strerror(errno));
    write_all(fd_, header_.data(), header_.size(), path);
    segment_size_ = header_.size();
    bytes_.fetch_add(header_.size(), std::memory_order_relaxed);
    segments_.fetch_add(1, std::memory_order_relaxed);
}

void writer::put(spsc_ring& ring, record_type type, std::uint16_t feed, core::nanos recv_ts,
                 const void* a, std::size_t na, const void* b, std::size_t nb) noexcept {
    // The CRC is left to the writer thread (seal_records): producers only copy.
    char h[k_record_header] = {};
    const auto len = static_cast<std::uint32_t>(na + nb);
    std::memcpy(h, &len, 4);
    std::memcpy(h + 8, &recv_ts, 8);
    std::memcpy(h + 16, &feed, 2);
    const auto flags = static_cast<std::uint16_t>(type);
    std::memcpy(h + 18, &flags, 2);
    while (!ring.write(h, k_record_header, a, na, b, nb)) {
        // Full: the writer thread is behind. Wait (backpressure, counted) rather than lose data.
        waits_.fetch_add(1, std::memory_order_relaxed);
        std::this_thread::yield();
    }
}

void writer::frame(std::uint16_t feed, std::uint32_t frame_no, core::nanos recv_ts,
                   std::string_view bytes) noexcept {
    if (feed >= feed_rings_.size()) return;
    feed_ring& fr = *feed_rings_[feed];
    put(fr.ring, record_type::frame, feed, recv_ts, &frame_no, 4, bytes.data(), bytes.size());
    fr.frames.store(fr.frames.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    fr.last_frame.store(frame_no, std::memory_order_release);
}

std::uint64_t writer::backlog_bytes() const noexcept {
    std::uint64_t n = signal_ring_->readable();
    for (const auto& fr : feed_rings_)
        n += fr->ring.readable();
    return n;
}

std::uint64_t writer::frames() const noexcept {
    std::uint64_t n = 0;
    for (const auto& fr : feed_rings_)
        n += fr->frames.load(std::memory_order_relaxed);
    return n;
}

void writer::order(const order_entry* entries, std::size_t n) noexcept {
    if (n == 0) return;
    put(*signal_ring_, record_type::order, 0, 0, entries, n * sizeof(order_entry), nullptr, 0);
}

void writer::health(std::uint16_t feed, feeds::health_kind kind, core::nanos at,
                    std::uint64_t value, std::string_view symbol) noexcept {
    char p[16] = {};
    p[0] = static_cast<char>(kind);
    std::memcpy(p + 8, &value, 8);
    put(*signal_ring_, record_type::health, feed, at, p, sizeof p, symbol.data(), symbol.size());
}

void writer::start() {
    last_flush_ = core::monotonic_now();
    thread_ = std::thread([this] { run(); });
}

void writer::stop() {
    if (stop_.exchange(true)) return;
    if (thread_.joinable()) thread_.join();
    seal();
    if (fd_ >= 0) {
        ::fdatasync(fd_);
        ::close(fd_);
        fd_ = -1;
    }
}

void writer::seal() {
    // A burst can leave more than a block's worth in block_; cut it at record boundaries so that
    // a torn write loses at most one block.
    std::size_t at = 0;
    while (at < block_.size()) {
        std::size_t end = at;
        while (end < block_.size()) {
            const std::size_t rec = k_record_header + get_le<std::uint32_t>(block_.data() + end);
            if (end != at && end + rec - at > o_.block_bytes) break;
            end += rec;
        }
        write_block(std::string_view(block_).substr(at, end - at));
        at = end;
    }
    block_.clear();
    last_flush_ = core::monotonic_now();
}

void writer::write_block(std::string_view raw_block) {
    std::string_view stored = raw_block;
    if (o_.compress) {
        stored_.resize(ZSTD_compressBound(raw_block.size()));
        const std::size_t n =
            ZSTD_compress(stored_.data(), stored_.size(), raw_block.data(), raw_block.size(), 1);
        if (!ZSTD_isError(n)) stored = std::string_view(stored_.data(), n);
    }
    char h[k_block_header];
    const std::uint32_t raw = static_cast<std::uint32_t>(raw_block.size());
    const std::uint32_t len = static_cast<std::uint32_t>(stored.size());
    const std::uint32_t crc = crc32c(stored.data(), stored.size());
    const std::uint32_t magic =
        stored.data() == raw_block.data() ? k_block_magic : k_block_magic_zstd;
    std::memcpy(h, &magic, 4);
    std::memcpy(h + 4, &raw, 4);
    std::memcpy(h + 8, &len, 4);
    std::memcpy(h + 12, &crc, 4);
    if (segment_size_ + k_block_header + stored.size() > o_.segment_bytes &&
        segment_size_ > header_.size())
        open_segment();
    const std::string what = o_.dir + "/" + segment_name(segment_no_);
    write_all(fd_, h, k_block_header, what);
    write_all(fd_, stored.data(), stored.size(), what);
    segment_size_ += k_block_header + stored.size();
    bytes_.fetch_add(k_block_header + stored.size(), std::memory_order_relaxed);
}

/// Fills in the CRC of every record in block_[from, end): off the producers' threads.
void writer::seal_records(std::size_t from) noexcept {
    char* p = block_.data();
    for (std::size_t at = from; at + k_record_header <= block_.size();) {
        const std::uint32_t len = get_le<std::uint32_t>(p + at);
        const std::uint32_t crc = crc32c(p + at + 8, 12 + static_cast<std::size_t>(len));
        std::memcpy(p + at + 4, &crc, 4);
        at += k_record_header + len;
    }
}

void writer::release_signal_records(bool all) {
    std::size_t at = 0;
    while (at + k_record_header <= sig_pending_.size()) {
        const char* r = sig_pending_.data() + at;
        const std::size_t len = get_le<std::uint32_t>(r);
        if (!all &&
            get_le<std::uint16_t>(r + 18) == static_cast<std::uint16_t>(record_type::order)) {
            bool ready = true;
            for (std::size_t e = 0; e + sizeof(order_entry) <= len && ready;
                 e += sizeof(order_entry)) {
                const auto feed = get_le<std::uint16_t>(r + k_record_header + e);
                const auto frame = get_le<std::uint32_t>(r + k_record_header + e + 4);
                ready = feed >= seen_.size() ||
                        static_cast<std::int32_t>(frame - seen_[feed]) <= 0; // wraps
            }
            if (!ready) break;
        }
        at += k_record_header + len;
    }
    block_.append(sig_pending_, 0, at);
    sig_pending_.erase(0, at);
}

void writer::run() {
    seen_.assign(feed_rings_.size(), 0);
    for (;;) {
        const bool stopping = stop_.load(std::memory_order_acquire);
        // The signal ring's content is measured first, then each feed ring's newest frame
        // number before its bytes: an order record can go once every frame it names is taken.
        const std::size_t ordered = signal_ring_->readable();
        std::size_t moved = 0;
        const std::size_t from = block_.size();
        for (std::size_t f = 0; f < feed_rings_.size(); ++f) {
            feed_ring& fr = *feed_rings_[f];
            const std::uint32_t last = fr.last_frame.load(std::memory_order_acquire);
            const std::size_t n = fr.ring.readable();
            if (n != 0) {
                const std::size_t at = block_.size();
                block_.resize(at + n);
                fr.ring.read(block_.data() + at, n);
                moved += n;
            }
            seen_[f] = std::max(seen_[f], last);
        }
        if (ordered != 0) {
            const std::size_t at = sig_pending_.size();
            sig_pending_.resize(at + ordered);
            signal_ring_->read(sig_pending_.data() + at, ordered);
            moved += ordered;
        }
        // Stopping: the feeds have ended, so whatever is held back has all its frames in.
        if (!sig_pending_.empty()) release_signal_records(stopping && moved == 0);
        seal_records(from);
        const core::nanos now = core::monotonic_now();
        if (block_.size() >= o_.block_bytes ||
            (!block_.empty() && now - last_flush_ >= o_.flush_interval))
            seal();
        if (stopping && moved == 0 && sig_pending_.empty()) break;
        // Drain in batches: waking for every few records would take CPU from the feed and
        // signal threads (on a small machine, the same cores). Go again at once only when a
        // lot is waiting.
        if (moved < k_busy_bytes) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

// ------------------------------------------------------------------------------------ reader

bool list_segments(const std::string& dir, std::vector<segment_file>& out) {
    out.clear();
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return false;
    while (const dirent* e = ::readdir(d)) {
        unsigned n = 0;
        if (std::sscanf(e->d_name, "seismo-%06u.sjl", &n) == 1)
            out.push_back({n, dir + "/" + e->d_name});
    }
    ::closedir(d);
    std::sort(out.begin(), out.end(), [](const segment_file& a, const segment_file& b) {
        return a.number != b.number ? a.number < b.number : a.path < b.path;
    });
    return true;
}

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

reader::reader(const std::string& path) {
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
        if (!ensure(0, 36) || std::memcmp(at(0), k_magic, 8) != 0) {
            why = file_size_ == 0 ? "empty segment" : "not a seismo journal segment header";
        } else if (get_le<std::uint32_t>(at(8)) != k_version) {
            why = "unsupported journal version " + std::to_string(get_le<std::uint32_t>(at(8)));
        } else {
            end = 36 + static_cast<std::size_t>(get_le<std::uint32_t>(at(32)));
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
            const std::size_t meta_len = end - 36;
            simdjson::dom::parser p;
            simdjson::dom::element doc;
            if (p.parse(at(36), meta_len).get(doc) != simdjson::SUCCESS)
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

bool reader::block_at(std::uint64_t off, bool verify) {
    if (!ensure(off, k_block_header)) return false;
    const auto m = get_le<std::uint32_t>(at(off));
    if (m != k_block_magic && m != k_block_magic_zstd) return false;
    const auto len = get_le<std::uint32_t>(at(off + 8));
    if (!ensure(off, k_block_header + len)) return false; // runs past the end of the file
    return !verify || crc32c(at(off + k_block_header), len) == get_le<std::uint32_t>(at(off + 12));
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
            block_.resize(static_cast<std::size_t>(raw) + k_read_padding);
            const std::size_t n = ZSTD_decompress(block_.data(), raw, stored, len);
            if (ZSTD_isError(n) || n != raw) {
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
                if (l <= blk_.size() - next - k_record_header &&
                    crc32c(q + 8, 12 + l) == get_le<std::uint32_t>(q + 4))
                    break;
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

} // namespace seismo::engine::journal
