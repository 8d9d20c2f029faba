#pragma once
// What every feed does with a frame, whatever brought it — a WebSocket session, the demo feed,
// NATS, a journal, a file: parse it with the venue's adapter (or the Tardis CSV reader), count
// its outcome, refuse bad input with a reason, drop duplicates by venue sequence number, report
// gaps, and pass the ticks on to a frame_sink. This is the frame -> tick half of the one path
// every input takes (the signal step is the other half: signals/step.hpp).
//
// One per feed, on the feed's thread; allocation-free once its buffers have grown.
// Pure: no sockets, no threads, no clock reads (a gap is dated by its frame's receive time).

#include "engine/core/counter.hpp"
#include "engine/core/health.hpp"
#include "engine/core/instrument_registry.hpp"
#include "feeds/frame.hpp"
#include "feeds/sequence.hpp"
#include "feeds/venue.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace seismo::feeds {

class generic_parser;
class tardis_csv_parser;

/// The outcome labels of seismo_feed_frames_total: their sum is every frame the feed delivered.
enum class frame_outcome : std::uint8_t { data, ignored, control, rejected, count_ };
inline constexpr std::size_t k_frame_outcomes = static_cast<std::size_t>(frame_outcome::count_);
[[nodiscard]] constexpr const char* to_string(frame_outcome o) noexcept {
    constexpr std::array<const char*, k_frame_outcomes> k_names{"data", "ignored", "control",
                                                                "rejected"};
    return k_names[static_cast<std::size_t>(o)];
}

/// A feed's counters: written by the feed's thread (its pipeline and, live, its session), read
/// by scrapes and /v1/state from any thread. Aligned so two feeds never share a cache line.
struct alignas(64) feed_stats {
    std::array<core::counter, k_frame_outcomes> frames{};   ///< by outcome
    core::counter ticks;                                    ///< ticks passed on
    std::array<core::counter, k_reject_reasons> rejected{}; ///< frames and ticks, by reason
    core::counter gaps;                                     ///< gap events
    core::counter missing;  ///< sequence numbers missing in all gaps
    core::counter off_book; ///< ignored frames that were trades off the book (insurance fund, ADL)
    core::gauge<core::nanos> last_data; ///< receive time of the last data frame (0: none yet)
    // Live sources only.
    core::counter connects;   ///< successful connections
    core::counter reconnects; ///< connection attempts after the first
    core::counter rotations;  ///< make-before-break connection rotations
    core::gauge<bool> connected;
    core::gauge<bool> stale;

    [[nodiscard]] std::uint64_t total_frames() const noexcept {
        std::uint64_t n = 0;
        for (const auto& c : frames)
            n += c.value();
        return n;
    }
    [[nodiscard]] std::uint64_t total_rejected() const noexcept {
        std::uint64_t n = 0;
        for (const auto& c : rejected)
            n += c.value();
        return n;
    }
};

/// Receives what a feed's pipeline produces, on the feed's thread. `frame_no` is the frame's
/// number in its feed (from 1; for a file, its line number), the key the journal and the
/// dead letters use.
class frame_sink {
  public:
    virtual ~frame_sink() = default;
    /// Every frame, after its ticks, health events and refusals were passed on: work that must
    /// see every frame but need not delay its ticks (the journal). Default: nothing.
    virtual void on_frame_done(std::uint16_t /*feed*/, std::uint32_t /*frame_no*/,
                               std::string_view /*frame*/, core::nanos /*recv_ts*/) {}
    /// Ticks of one frame, duplicates already dropped.
    virtual void on_ticks(std::uint16_t feed, std::uint32_t frame_no, const core::tick* ticks,
                          std::size_t n) = 0;
    virtual void on_health(std::uint16_t feed, const core::health_event& e) = 0;
    /// A refused frame (or one tick of it: a duplicate).
    virtual void on_reject(std::uint16_t feed, std::uint32_t frame_no, reject_reason why,
                           std::string_view detail, std::string_view frame,
                           core::nanos recv_ts) = 0;
};

class frame_pipeline {
  public:
    /// A pipeline for venue frames (the generic protocol included).
    frame_pipeline(venue v, core::instrument_registry& reg, std::size_t max_frame, frame_sink& sink,
                   std::uint16_t feed, feed_stats& stats);
    /// A pipeline for Tardis trades CSV lines.
    frame_pipeline(std::unique_ptr<tardis_csv_parser> csv, core::instrument_registry& reg,
                   frame_sink& sink, std::uint16_t feed, feed_stats& stats);
    ~frame_pipeline();
    frame_pipeline(const frame_pipeline&) = delete;
    frame_pipeline& operator=(const frame_pipeline&) = delete;

    struct outcome {
        bool data = false;                ///< the frame carried ticks (it counts for freshness)
        std::uint64_t connection_seq = 0; ///< per-connection number, when the venue has one
    };

    /// Handles frame number `frame_no` (`capacity >= len + k_padding` readable).
    outcome handle(const char* data, std::size_t len, std::size_t capacity, core::nanos recv,
                   std::uint32_t frame_no);
    /// Handles the feed's next frame (numbered after the last one handled).
    outcome handle(const char* data, std::size_t len, std::size_t capacity, core::nanos recv) {
        return handle(data, len, capacity, recv, last_frame_no_ + 1);
    }
    /// Refuses frame `frame_no` before any parser saw it (a line too long, a capture line with
    /// no receive time): counted and passed on like any refusal.
    void refuse(reject_reason why, std::string_view detail, std::string_view frame,
                core::nanos recv, std::uint32_t frame_no);
    /// Counts frame `frame_no` as ignored without parsing it (a blank line of a capture).
    void ignore(std::uint32_t frame_no) noexcept {
        last_frame_no_ = frame_no;
        count(frame_outcome::ignored);
    }
    /// For a reader that sees frames before it handles them (a replay reading ahead): the
    /// symbol a frame names, found by scanning for the venue's symbol key as the venues write it
    /// (no parse, no validation; "" when the frame does not show one plainly) ...
    [[nodiscard]] std::string_view peek_symbol(std::string_view frame) const noexcept;
    /// ... and the instrument it names, when seen before (k_no_instrument otherwise; never
    /// interns). Neither changes what handle() does.
    [[nodiscard]] core::instrument_id known(std::string_view sym) const noexcept;

    /// Reports a gap in a per-connection number (the session judges those).
    void connection_gap(std::uint64_t missing, core::nanos at);

    [[nodiscard]] const feed_stats& stats() const noexcept { return stats_; }
    [[nodiscard]] std::uint32_t last_frame_no() const noexcept { return last_frame_no_; }
    [[nodiscard]] std::uint16_t feed() const noexcept { return feed_; }
    /// The start of the first frame counted as ignored (what an input seismo had no use for
    /// looked like, for the warning about inputs that were nearly all ignored); "" before one.
    /// Any thread.
    [[nodiscard]] std::string_view first_ignored() const noexcept {
        return has_first_ignored_.load(std::memory_order_acquire) ? std::string_view(first_ignored_)
                                                                  : std::string_view{};
    }

  private:
    void count(frame_outcome o) noexcept { stats_.frames[static_cast<std::size_t>(o)].add(); }

    std::unique_ptr<core::symbol_cache> syms_;
    std::string_view symbol_key_;             // `"key":"` before a symbol, for peek_symbol()
    std::unique_ptr<venue_parser> parser_;    // a venue's adapter, or
    std::unique_ptr<generic_parser> generic_; // the generic protocol's parser, or
    std::unique_ptr<tardis_csv_parser> csv_;  // the Tardis CSV reader
    sequence_tracker seqs_;
    frame_sink& sink_;
    std::uint16_t feed_;
    feed_stats& stats_;
    std::vector<core::tick> ticks_;
    std::uint32_t last_frame_no_ = 0;
    std::string first_ignored_;
    std::atomic<bool> has_first_ignored_{false};
};

} // namespace seismo::feeds
