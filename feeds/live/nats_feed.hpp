#pragma once
// A feed read from a JetStream stream (DESIGN §10, `venue = "nats"`): an ordered push consumer
// of generic-protocol ticks that `seismo feed` published, from a start time on. Each message is
// a frame of the feed, handed to the same frame_pipeline as a WebSocket frame, with the
// message's *stream timestamp* as its receive time — so every engine reading the stream sees
// the same frames at the same times and computes the same triggers.
//
// The feed is caught up once it has processed every message the stream held when it
// subscribed (a restarted engine rebuilding its windows); its `connected` gauge says
// "subscribed, connected and caught up", which /readyz reads.
//
// Threads: messages arrive on nats.c's subscription thread (one per feed, in stream order);
// start() and stop() from the owner's thread; the counters from any thread.

#include "engine/core/instrument_registry.hpp"
#include "feeds/pipeline.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

struct __natsConnection;
struct __jsCtx;
struct __natsSubscription;
struct __natsMsg;

namespace seismo::feeds::live {

class nats_feed {
  public:
    struct options {
        std::string name;
        std::string stream;
        std::string subject;
        core::nanos start_time = 0; ///< deliver from this stream time on (0: from the start)
        std::size_t max_frame = k_default_max_frame;
    };

    nats_feed(__natsConnection* nc, __jsCtx* js, options o, core::instrument_registry& reg,
              frame_sink& sink, std::uint16_t feed_id);
    ~nats_feed();
    nats_feed(const nats_feed&) = delete;
    nats_feed& operator=(const nats_feed&) = delete;

    /// Subscribes. Throws std::runtime_error when the stream cannot be consumed.
    void start();
    /// Unsubscribes and waits for the callback to finish (any thread but the callback's).
    void stop();

    [[nodiscard]] const feed_stats& stats() const noexcept { return stats_; }
    [[nodiscard]] bool caught_up() const noexcept {
        return caught_up_.load(std::memory_order_acquire);
    }
    /// The stream sequence of the last message processed.
    [[nodiscard]] std::uint64_t stream_seq() const noexcept {
        return last_seq_.load(std::memory_order_acquire);
    }
    /// Consumers made again after one stopped delivering (its server died).
    [[nodiscard]] std::uint64_t resubscribes() const noexcept { return stats_.reconnects.value(); }
    [[nodiscard]] std::string_view first_ignored() const noexcept {
        return pipeline_.first_ignored();
    }

  private:
    static void on_msg(__natsConnection*, __natsSubscription* sub, __natsMsg* m, void* self);
    void handle(__natsSubscription* sub, __natsMsg* m);
    void subscribe(std::uint64_t from_seq);
    void watch();
    [[nodiscard]] bool stalled();

    __natsConnection* nc_;
    __jsCtx* js_;
    options o_;
    feed_stats stats_;
    frame_pipeline pipeline_;
    std::vector<char> buf_;
    std::atomic<__natsSubscription*> sub_{nullptr};
    std::mutex handling_; // the callback vs. a resubscription's hand-over (never contended)
    std::atomic<bool> caught_up_{false}, stopping_{false};
    std::atomic<std::uint64_t> last_seq_{0};
    std::atomic<std::int64_t> last_msg_at_{0}; // steady clock, ns
    std::thread watcher_;
};

/// The stream sequence, timestamp (ns since the epoch) and pending count of a JetStream
/// message, read from its reply subject ($JS.ACK.<stream>.<consumer>.<delivered>.<stream
/// seq>.<consumer seq>.<timestamp>.<pending>, or the longer form with domain and account
/// hash). False when `reply` is not a JetStream ack subject. Pure; allocation-free.
bool parse_js_reply(std::string_view reply, std::uint64_t& stream_seq, std::int64_t& ts,
                    std::uint64_t& pending) noexcept;

} // namespace seismo::feeds::live
