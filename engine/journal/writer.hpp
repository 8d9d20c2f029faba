#pragma once
// The journal writer (format: format.hpp, docs/journal.md): records frames, the signal thread's
// consumption order and health events on its own thread, in blocks, rotating segments by size.

#include "engine/core/health.hpp"
#include "engine/core/spsc_ring.hpp"
#include "engine/core/tick.hpp"
#include "engine/journal/format.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace seismo::journal {

using core::spsc_ring;

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
    void health(std::uint16_t feed, core::health_kind kind, core::down_cause cause, core::nanos at,
                std::uint64_t value, std::string_view symbol) noexcept;
    /// A hot reload at this place in the consumption order: the new config's digest, file
    /// name and bytes (at most ring_bytes / 2: the caller refuses bigger ones first).
    void reload(std::uint64_t digest, std::string_view file, std::string_view text,
                core::nanos at) noexcept;
    /// An engine restarted against a NATS trigger stream: the last stored trigger's seq and
    /// identity (engine/nats_link.hpp), before the first order record.
    void resume(std::uint64_t seq, std::string_view identity, core::nanos at) noexcept;
    /// The most config text reload() takes.
    [[nodiscard]] std::size_t max_reload_bytes() const noexcept { return o_.ring_bytes / 2; }

    // ---- any thread, one at a time
    /// Gives feed id `feeds()` its ring (a feed added by a reload), before its first frame.
    void add_feed();
    [[nodiscard]] std::size_t feeds() const noexcept {
        return n_feeds_.load(std::memory_order_acquire);
    }

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
    // Fixed slots, so that a reload can add a feed while the writer thread walks them: slots
    // [0, n_feeds_) are in use (release on adding, acquire on reading).
    std::array<std::unique_ptr<feed_ring>, k_max_journal_feeds> feed_rings_{};
    std::atomic<std::size_t> n_feeds_{0};
    std::unique_ptr<spsc_ring> signal_ring_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    int fd_ = -1;
    std::size_t segment_no_ = 0;
    std::size_t segment_size_ = 0;
    std::string block_;
    std::string sig_pending_; // signal-ring records held back (release_signal_records)
    std::array<std::uint32_t, k_max_journal_feeds>
        seen_{}; // per feed: every frame up to this number is in block_ or on disk
    std::string stored_;
    std::string header_;
    core::nanos last_flush_ = 0;
    std::atomic<std::uint64_t> bytes_{0}, waits_{0}, segments_{0};
};

} // namespace seismo::journal
