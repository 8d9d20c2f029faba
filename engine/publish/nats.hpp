#pragma once
// NATS JetStream (DESIGN §10) on nats.c: a connection to a cluster that reconnects on its own,
// the streams seismo needs (created when missing, refused when an existing one clashes), and a
// publisher that sends messages asynchronously with a message id, counts their acks and
// resends the unacknowledged ones with the same id — so JetStream's duplicate window stores
// each once however often it was sent.
//
// Threads: the connection's callbacks run on nats.c's threads; a publisher has its own thread
// and one producer thread offering messages; the counters are read from any thread.

#include "engine/core/counter.hpp"
#include "engine/core/time.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

struct __natsConnection;
struct __jsCtx;
namespace prometheus {
class Collectable;
}

namespace seismo::publish {

/// Where and how to connect.
struct nats_endpoint {
    std::vector<std::string> servers;
    std::string token;
    std::string creds; ///< a .creds file
    bool tls = false;
    std::string name; ///< the client name the servers see (monitoring)
    /// Write each publish at once instead of letting nats.c's flusher thread coalesce them:
    /// lower latency per message (an engine's triggers), more syscalls (not for tick feeds).
    bool send_asap = false;
};

/// A NATS problem seismo cannot get past on its own (bad options, a clashing stream).
class nats_error : public std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// "XAG/USD" -> "XAG_USD": a subject token (no '.', '*', '>', '/', spaces).
[[nodiscard]] std::string subject_token(std::string_view s);

/// A connection to the servers, reconnecting forever once connected. Throws nats_error when the
/// options are refused or no server answers within `connect_timeout`.
class nats_connection {
  public:
    nats_connection(const nats_endpoint& e, core::nanos connect_timeout);
    ~nats_connection();
    nats_connection(const nats_connection&) = delete;
    nats_connection& operator=(const nats_connection&) = delete;

    [[nodiscard]] __natsConnection* get() const noexcept { return nc_; }
    /// A JetStream context with default options (API requests, consumers).
    [[nodiscard]] __jsCtx* js() const noexcept { return js_; }
    [[nodiscard]] bool connected() const noexcept;
    [[nodiscard]] std::uint64_t reconnects() const noexcept { return events_->reconnects.value(); }
    [[nodiscard]] std::uint64_t disconnects() const noexcept {
        return events_->disconnects.value();
    }
    /// The URL of the server connected to ("" when none).
    [[nodiscard]] std::string server() const;

  private:
    /// What the connection's callbacks touch. nats.c runs them on its own thread, and after
    /// natsConnection_Close returns (a destroyed connection's disconnect callback still comes),
    /// so they hold a reference of their own, dropped by the closed callback, the last.
    struct events {
        core::counter reconnects, disconnects;
        std::atomic<bool> closing{false}; // the disconnect to come is ours, not the server's
    };
    static void on_disconnected(__natsConnection*, void* closure);
    static void on_reconnected(__natsConnection*, void* closure);
    static void on_closed(__natsConnection*, void* closure);

    __natsConnection* nc_ = nullptr;
    __jsCtx* js_ = nullptr;
    std::shared_ptr<events> events_ = std::make_shared<events>();
};

/// A stream seismo needs.
struct stream_spec {
    std::string name;
    std::string subjects; ///< one subject pattern, e.g. "seismo.tick.>"
    std::int64_t replicas = 1;
    core::nanos max_age = 0;
    core::nanos duplicate_window = 0;
};

/// Creates the stream when missing. Throws nats_error, naming the clash, when a stream of that
/// name exists without the subjects, or another stream holds them; and when JetStream cannot
/// be reached.
void ensure_stream(const nats_connection& c, const stream_spec& s);

/// What an engine restarting against a stream needs from it: the stream's first and last
/// sequence and the time of its last message (0 when empty).
struct stream_state {
    std::uint64_t first_seq = 0, last_seq = 0, messages = 0;
};
[[nodiscard]] stream_state stream_info(const nats_connection& c, const std::string& stream);

/// One stored message, as js_GetMsg returns it.
struct stored_message {
    std::uint64_t seq = 0;
    std::int64_t time = 0; ///< when the stream stored it (ns since the epoch)
    std::string subject, id, data;
    std::vector<std::pair<std::string, std::string>> headers;
    [[nodiscard]] std::string_view header(std::string_view key) const noexcept;
};
/// The message at `seq` (false when there is none, e.g. deleted).
[[nodiscard]] bool stored_at(const nats_connection& c, const std::string& stream, std::uint64_t seq,
                             stored_message& out);

/// A message to publish: subject, payload, message id and extra headers.
struct outgoing {
    std::string subject, data, id;
    std::vector<std::pair<std::string, std::string>> headers;
};

/// Publishes to one stream: asynchronously, MaxPending in flight, every message with its
/// `Nats-Msg-Id`. A message not acknowledged within `ack_wait` (a lost ack, a node killed, the
/// connection down) is resent with the same id once connected; JetStream stores it once.
/// Messages wait for NATS up to `buffer` (queued, in flight or waiting to be resent); past it
/// offer() refuses them and counts them as dropped.
class jetstream_publisher {
  public:
    struct options {
        std::string stream;
        std::size_t buffer = 100'000;
        core::nanos ack_wait = 5 * core::k_ns_per_s;
        std::int64_t max_in_flight = 4096;
        /// Called with each acknowledged message's id, on nats.c's thread (benchmarks).
        std::function<void(std::string_view id)> on_ack;
    };
    jetstream_publisher(const nats_connection& c, options o);
    ~jetstream_publisher();
    jetstream_publisher(const jetstream_publisher&) = delete;
    jetstream_publisher& operator=(const jetstream_publisher&) = delete;

    void start();
    /// Hands a message over; false (and counted as dropped) when `buffer` messages wait.
    /// One calling thread at a time.
    bool offer(outgoing m);
    /// Waits up to `drain` for what is queued to be acknowledged, then stops the thread.
    void stop(core::nanos drain);

    [[nodiscard]] const std::string& stream() const noexcept { return o_.stream; }
    [[nodiscard]] bool connected() const noexcept { return c_.connected(); }
    /// Messages offered and not yet acknowledged (queued, in flight, waiting to be resent).
    [[nodiscard]] std::uint64_t pending() const noexcept;
    [[nodiscard]] std::uint64_t published() const noexcept { return published_.value(); }
    [[nodiscard]] std::uint64_t acked() const noexcept { return acked_.value(); }
    [[nodiscard]] std::uint64_t duplicates() const noexcept { return duplicates_.value(); }
    [[nodiscard]] std::uint64_t resent() const noexcept { return resent_.value(); }
    [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_.value(); }
    [[nodiscard]] std::uint64_t errors() const noexcept { return errors_.value(); }

    /// seismo_nats_{connected,published_total,acked_total,resent_total,pending,dropped_total,
    /// duplicates_total} labelled with the stream.
    [[nodiscard]] std::shared_ptr<prometheus::Collectable> make_probe() const;

    struct impl;

  private:
    const nats_connection& c_;
    options o_;
    std::unique_ptr<impl> p_;
    core::counter published_, acked_, duplicates_, resent_, dropped_, errors_;
    std::atomic<std::uint64_t> offered_{0}, settled_{0};
};

} // namespace seismo::publish
