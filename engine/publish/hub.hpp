#pragma once
// The trigger hub between whoever publishes triggers (the I/O thread, live) and the pub-sub
// sessions (DESIGN §6): each trigger is serialised once into a shared, ready-to-send WebSocket
// frame (make_message); the hub keeps a bounded replay ring for `since` resumption and the set
// of currently fired triggers for snapshots, and hands each message to every session whose
// topics match. The signal thread never comes here; the publisher never waits on a subscriber
// (sessions queue, and cut themselves off when their bounded queue overflows). Sessions may run
// on several threads ([server] io_threads): the publisher hands each thread the batch once (one
// handler in flight per thread, whatever its number of sessions), and that thread offers it to
// its sessions; the publisher's own thread's sessions take it at once. A session's patterns
// carry the last seq published when they were added, so a batch still on its way when a client
// subscribes is not delivered on top of its snapshot.

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace seismo::publish {

/// One published trigger, shared by every subscriber.
struct message {
    std::uint64_t seq = 0;
    std::string topic;  ///< "signal/instrument", "signal", "feed_health/feed"
    std::string signal; ///< the topic's first part
    std::string frame;  ///< a complete unmasked WebSocket text frame holding the JSON
    std::size_t json_offset = 0;
    /// Key of the (signal, instrument, level) state this trigger changes; `fired` says how.
    std::string state_key;
    bool fired = false;
    bool transient = false;    ///< never "active" (feed gaps are events, not states)
    std::uint8_t severity = 0; ///< 0 info, 1 warning, 2 critical (subscribe's min_severity)
    std::int64_t recv_ts = 0;  ///< receive time of the tick behind it (NATS resume point)

    [[nodiscard]] std::string_view json() const noexcept {
        return std::string_view(frame).substr(json_offset);
    }
};
using message_ptr = std::shared_ptr<const message>;

/// A message for a trigger's `json`, framed once as a WebSocket text frame for every subscriber.
/// `state_key` names the (signal, instrument, level) state it changes; `fired` says how;
/// `transient` messages (feed gaps) are events, never active.
[[nodiscard]] message_ptr make_message(std::uint64_t seq, std::string topic, std::string_view json,
                                       std::string state_key, bool fired, bool transient,
                                       std::uint8_t severity = 0, std::int64_t recv_ts = 0);

/// A topic pattern: a glob over the whole topic ("silver_crash/XAG/USD", "crypto_*/*"), or,
/// without '/', over the signal name (so "silver_crash" covers every instrument).
[[nodiscard]] bool topic_matches(std::string_view pattern, const message& m) noexcept;
/// The same for a topic given as its parts ("" instrument: the topic is the signal alone).
[[nodiscard]] bool topic_matches(std::string_view pattern, std::string_view signal,
                                 std::string_view instrument);
/// Whether `limit` (topic globs; empty = all) lets a client see the topic.
[[nodiscard]] bool topic_visible(const std::vector<std::string>& limit, std::string_view signal,
                                 std::string_view instrument);
[[nodiscard]] bool topic_visible(const std::vector<std::string>& limit, const message& m) noexcept;
/// Whether `limit` lets a client see some topic of `signal` (a pattern's part before its first
/// '/' matches the name).
[[nodiscard]] bool signal_visible(const std::vector<std::string>& limit, std::string_view signal);

/// What the hub needs of a subscriber session: offer() and wake_now() are called on the
/// session's own thread (home()'s), and must not block.
class hub_subscriber {
  public:
    virtual ~hub_subscriber() = default;
    /// Takes what it wants of a batch (in order) into its queue; returns how many it took.
    /// One call per batch, so a session's queue lock is taken once per batch, not per trigger.
    virtual std::size_t offer(std::span<const message_ptr> batch) = 0;
    /// The io_context the session runs on (its thread's): the hub hands each thread a batch
    /// once, and that thread offers it to its own sessions.
    [[nodiscard]] virtual boost::asio::io_context& home() const = 0;
    /// After an offer() that took something, on the session's own thread: its writer starts.
    virtual void wake_now() = 0;
};

class hub {
  public:
    /// `coalesce` ns ([server] coalesce): a thread is handed batches at most once per it; 0: each
    /// at once.
    explicit hub(std::size_t ring_size, std::int64_t coalesce = 0)
        : ring_size_(ring_size), coalesce_(coalesce) {}

    /// Publishes a batch (publisher thread).
    void publish(const std::vector<message_ptr>& batch);

    struct subscription {
        std::vector<message_ptr> active; ///< currently fired triggers the new patterns match
        std::vector<message_ptr> replay; ///< seq > since, matching, oldest first
        std::optional<std::pair<std::uint64_t, std::uint64_t>> gap; ///< [from, to] no longer kept
        std::uint64_t last_seq = 0; ///< the newest seq published when the snapshot was taken
    };
    /// Registers (or keeps) `s` and, atomically with respect to publish(), returns the snapshot
    /// for `matches` and, with `since`, the replay; an active trigger the replay carries is not
    /// in the snapshot too. Messages published after this call reach
    /// `s` through push().
    /// `deliver` runs with the hub's lock held (so nothing published can overtake what it
    /// queues): it receives the subscription, and is where the session updates its patterns.
    void subscribe(const std::shared_ptr<hub_subscriber>& s,
                   const std::function<bool(const message&)>& matches,
                   std::optional<std::uint64_t> since,
                   const std::function<void(subscription&)>& deliver);
    /// Runs `f` with the hub's lock held (sessions change their patterns this way).
    void locked(const std::function<void()>& f);
    void remove(const hub_subscriber* s);

    [[nodiscard]] std::size_t subscribers() const;
    [[nodiscard]] std::uint64_t published() const noexcept {
        return published_.load(std::memory_order_relaxed);
    }
    [[nodiscard]] std::uint64_t deliveries() const noexcept {
        return deliveries_.load(std::memory_order_relaxed);
    }
    [[nodiscard]] std::uint64_t last_seq() const;
    /// Currently fired triggers (for /v1/state and the dashboard).
    [[nodiscard]] std::vector<message_ptr> active() const;

  private:
    /// One thread's sessions and the messages published for them not yet offered.
    struct home_state {
        boost::asio::io_context* io = nullptr;
        std::mutex mu;
        std::vector<std::weak_ptr<hub_subscriber>> subs; // mu
        std::vector<message_ptr> pending;                // mu
        bool posted = false;                             // mu
        std::chrono::steady_clock::time_point last{};    // mu: the last delivery's start
        // The home thread's, while it delivers.
        std::vector<message_ptr> batch;
        std::vector<std::weak_ptr<hub_subscriber>> subs_now;
    };
    void deliver_home(home_state& h);
    /// Has `h`'s thread deliver what it has pending: at once, or at the end of the coalescing
    /// window that its last delivery opened (`last`, read under its lock).
    void schedule(const std::shared_ptr<home_state>& h, std::chrono::steady_clock::time_point last);

    mutable std::mutex mu_;
    std::map<boost::asio::io_context*, std::shared_ptr<home_state>> homes_; // mu_
    std::vector<std::shared_ptr<home_state>> homes_now_;                    // publish()'s
    std::size_t ring_size_;
    std::chrono::nanoseconds coalesce_;
    std::deque<message_ptr> ring_;
    std::map<std::string, message_ptr> active_;
    std::atomic<std::uint64_t> published_{0};
    std::atomic<std::uint64_t> deliveries_{0};
};

} // namespace seismo::publish
