#include "engine/journal/writer.hpp"

#include "engine/core/crc32c.hpp"
#include "engine/core/json_writer.hpp"
#include "engine/core/thread_name.hpp"
#include "engine/core/time.hpp"

#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace seismo::journal {
namespace {

using core::crc32c;

constexpr std::size_t k_busy_bytes = 256u
                                     << 10; // a drain this large: the writer goes again at once

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

writer::writer(options o, meta m, std::size_t feeds) : o_(std::move(o)), meta_(std::move(m)) {
    if (::mkdir(o_.dir.c_str(), 0755) != 0 && errno != EEXIST) {
        throw std::runtime_error("journal " + o_.dir + ": " + std::strerror(errno));
    }
    // Continue numbering after any segments already there (a journal is append-only).
    std::vector<segment_file> existing;
    if (list_segments(o_.dir, existing) && !existing.empty()) segment_no_ = existing.back().number;
    if (feeds > k_max_journal_feeds) throw std::invalid_argument("journal: at most 64 feeds");
    for (std::size_t i = 0; i < feeds; ++i)
        add_feed();
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

void writer::add_feed() {
    const std::size_t n = n_feeds_.load(std::memory_order_relaxed);
    if (n >= k_max_journal_feeds) throw std::length_error("journal: at most 64 feeds");
    feed_rings_[n] = std::make_unique<feed_ring>(o_.ring_bytes);
    n_feeds_.store(n + 1, std::memory_order_release);
}

void writer::frame(std::uint16_t feed, std::uint32_t frame_no, core::nanos recv_ts,
                   std::string_view bytes) noexcept {
    if (feed >= feeds()) return;
    feed_ring& fr = *feed_rings_[feed];
    put(fr.ring, record_type::frame, feed, recv_ts, &frame_no, 4, bytes.data(), bytes.size());
    fr.frames.store(fr.frames.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    fr.last_frame.store(frame_no, std::memory_order_release);
}

std::uint64_t writer::backlog_bytes() const noexcept {
    std::uint64_t n = signal_ring_->readable();
    for (std::size_t f = 0, e = feeds(); f < e; ++f)
        n += feed_rings_[f]->ring.readable();
    return n;
}

std::uint64_t writer::frames() const noexcept {
    std::uint64_t n = 0;
    for (std::size_t f = 0, e = feeds(); f < e; ++f)
        n += feed_rings_[f]->frames.load(std::memory_order_relaxed);
    return n;
}

void writer::order(const order_entry* entries, std::size_t n) noexcept {
    if (n == 0) return;
    put(*signal_ring_, record_type::order, 0, 0, entries, n * sizeof(order_entry), nullptr, 0);
}

void writer::health(std::uint16_t feed, core::health_kind kind, core::down_cause cause,
                    core::nanos at, std::uint64_t value, std::string_view symbol) noexcept {
    char p[16] = {};
    p[0] = static_cast<char>(kind);
    p[1] = static_cast<char>(cause);
    std::memcpy(p + 8, &value, 8);
    put(*signal_ring_, record_type::health, feed, at, p, sizeof p, symbol.data(), symbol.size());
}

void writer::reload(std::uint64_t digest, std::string_view file, std::string_view text,
                    core::nanos at) noexcept {
    std::string head;
    put_le<std::uint64_t>(head, digest);
    put_le<std::uint32_t>(head, static_cast<std::uint32_t>(file.size()));
    head += file;
    put(*signal_ring_, record_type::reload, 0, at, head.data(), head.size(), text.data(),
        text.size());
}

void writer::resume(std::uint64_t seq, std::string_view identity, core::nanos at) noexcept {
    std::string head;
    put_le<std::uint64_t>(head, seq);
    put(*signal_ring_, record_type::resume, 0, at, head.data(), head.size(), identity.data(),
        identity.size());
}

void writer::start() {
    last_flush_ = core::monotonic_now();
    thread_ = std::thread([this] {
        core::name_this_thread("seismo-journal");
        run();
    });
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
                ready = feed >= k_max_journal_feeds ||
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
    seen_.fill(0);
    for (;;) {
        const bool stopping = stop_.load(std::memory_order_acquire);
        // The signal ring's content is measured first, then each feed ring's newest frame
        // number before its bytes: an order record can go once every frame it names is taken.
        const std::size_t ordered = signal_ring_->readable();
        std::size_t moved = 0;
        const std::size_t from = block_.size();
        for (std::size_t f = 0, e = feeds(); f < e; ++f) {
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

} // namespace seismo::journal
