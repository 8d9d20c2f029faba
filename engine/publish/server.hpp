#pragma once
// The WS pub-sub and HTTP server on one listener (DESIGN §6): /v1/stream (subscribe with topic
// globs, snapshot, resume by seq, gap, ping/pong, bearer tokens with topic globs, limits, clear
// errors), /metrics, /healthz, /readyz, /v1/state and the dashboard at /. The routes serve what
// their hooks produce; the server builds no other module's output.
//
// Three files: listener.cpp (accepting, the connection limit, TLS), http_routes.cpp (requests,
// auth, routes, the upgrade), ws_session.cpp (a subscriber's session). Beast parses HTTP; after
// the upgrade sessions speak frames through ws_codec, so one serialised trigger frame is shared
// by every subscriber and many frames go out in one gather write.
//
// Threads: runs on the io_context it is given; each connection on its io_context's one thread
// ([server] io_threads: spread over several). Deliveries come from the hub into each session's
// bounded queue; a session whose queue overflows is closed with a reason and counted, so no
// subscriber can slow the engine.

#include "engine/publish/hub.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}
namespace prometheus {
class Collectable;
}

namespace seismo::publish {

/// What a token may do (DESIGN §6): bits of token::roles.
enum role : unsigned {
    role_subscribe = 1, ///< /v1/stream, /v1/state and the dashboard, within its topics
    role_metrics = 2,   ///< /metrics
    role_admin = 4,     ///< everything, reload included
};
/// "subscribe", "metrics", "admin" -> the role; 0 for any other name.
[[nodiscard]] unsigned role_named(std::string_view name) noexcept;

/// A bearer token, the topic globs it may see (empty: all) and its roles.
struct token {
    std::string token;
    std::vector<std::string> topics;
    unsigned roles = role_subscribe;
};

struct server_options {
    std::string listen = "127.0.0.1:8080"; ///< HOST:PORT (port 0: any free one)
    std::vector<token> tokens;             ///< none: no auth
    std::size_t max_connections = 1024;
    std::size_t max_subscriptions = 256;  ///< topic patterns per client
    std::size_t max_message_bytes = 4096; ///< inbound WS message limit
    std::size_t session_queue = 4096;     ///< outbound messages queued per subscriber
    std::string tls_cert;                 ///< PEM; with tls_key enables TLS on the listener
    std::string tls_key;
    std::string epoch;                ///< the run's random id, in every snapshot
    std::vector<std::string> signals; ///< topic names that exist (warn about the others)
    /// An HTTP request must arrive whole (headers and body) within this, an idle keep-alive
    /// connection included; past it the connection is closed.
    std::chrono::nanoseconds request_timeout = std::chrono::seconds(10);
    /// A subscriber silent this long is closed; the server pings it at half of it (any frame
    /// from the client, a pong included, counts). 0: never.
    std::chrono::nanoseconds idle_timeout = std::chrono::seconds(60);
    /// Inbound WebSocket messages per second per client (ops and control frames alike; a
    /// burst of as many is allowed); past it the client is closed. 0: unlimited.
    std::uint32_t client_rate = 100;
    /// Connections are served on these, round robin (each run by one thread); empty: on the
    /// io_context the server is given.
    std::vector<boost::asio::io_context*> workers;
};

/// A listener address: an IPv4 literal, a bracketed IPv6 literal, `localhost`, or nothing
/// (every interface); then a port 0–65535 (0: any free one).
struct listen_address {
    std::string host; ///< as an address literal ("0.0.0.0" for every interface)
    std::uint16_t port = 0;
    [[nodiscard]] bool loopback() const;
};
/// Parses `HOST:PORT`; false with a sentence in `why` when it is not one.
[[nodiscard]] bool parse_listen(std::string_view text, listen_address& out, std::string& why);

/// The topic globs a request may see: empty means all.
using topic_limit = std::vector<std::string>;

struct server_hooks {
    std::function<std::string()> metrics; ///< Prometheus text exposition
    /// /v1/state JSON, holding only what `limit` may see.
    std::function<std::string(const topic_limit& limit)> state;
    std::function<bool(std::string& detail)> ready; ///< /readyz; detail: JSON explaining
    /// POST /v1/reload (DESIGN §9): `body` is the new TOML, or empty to re-read the config
    /// file. Answers later, from any thread, through `done(status, json)`.
    std::function<void(std::string body, std::function<void(int, std::string)> done)> reload;
};

/// Why a request was refused access (labels of seismo_http_denied_total).
enum class deny_reason : std::uint8_t { no_token, bad_token, forbidden, count_ };
[[nodiscard]] const char* to_string(deny_reason r) noexcept;

/// Why subscribers were cut off (labels of seismo_subscriber_dropped_total).
enum class drop_reason : std::uint8_t {
    slow_consumer,   ///< fell more than session_queue triggers behind
    protocol_error,  ///< broke RFC 6455
    message_too_big, ///< sent a message over max_message_bytes
    unread_replies,  ///< sent requests (pings, ops) without reading the replies
    rate_limited,    ///< sent more than client_rate messages a second
    idle,            ///< sent nothing, not even a pong, for idle_timeout
    count_
};
[[nodiscard]] const char* to_string(drop_reason r) noexcept;

/// The server's counters (updated by the connections' threads, read by the probe).
struct server_stats {
    std::atomic<std::uint64_t> connections{0}; ///< open TCP connections (gauge)
    std::atomic<std::uint64_t> subscribers{0}; ///< open /v1/stream sessions (gauge)
    std::atomic<std::uint64_t> http_requests{0};
    std::atomic<std::uint64_t> refused{0};       ///< over a connection limit
    std::atomic<std::uint64_t> client_errors{0}; ///< error messages sent for bad requests
    std::atomic<std::uint64_t> http_timeouts{0}; ///< closed: no whole request in request_timeout
    std::atomic<std::uint64_t> http_evicted{0};  ///< idle connections closed to admit new ones
    std::atomic<std::uint64_t> http_errors{0};   ///< 500s: a route's hook failed
    std::atomic<std::uint64_t> subscriber_writes{0}; ///< writes carrying triggers to sessions
    std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(drop_reason::count_)> dropped{};
    std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(deny_reason::count_)> denied{};
};

class server {
  public:
    /// Throws std::runtime_error naming the file when TLS files cannot be loaded.
    server(boost::asio::io_context& io, server_options opts, hub& h, server_hooks hooks);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Binds and starts accepting. Throws std::runtime_error naming the address on failure.
    void start();
    /// Stops accepting and closes every connection; safe from any thread.
    void stop();
    [[nodiscard]] std::uint16_t port() const;
    /// Hot reload: the topic names that exist from now on. On the io_context's thread.
    void set_signals(std::vector<std::string> names);
    [[nodiscard]] const server_stats& stats() const noexcept;

    struct impl;

  private:
    std::shared_ptr<impl> p_;
};

/// The server's and the hub's metrics: seismo_subscribers, seismo_connections,
/// seismo_subscriber_dropped_total{reason}, seismo_http_requests_total,
/// seismo_client_errors_total, seismo_connections_refused_total, seismo_deliveries_total.
/// `srv` may be null (no server: zeros); both must outlive the probe.
[[nodiscard]] std::shared_ptr<prometheus::Collectable> make_server_probe(const server* srv,
                                                                         const hub& h);

/// The dashboard page (engine/publish/dashboard.html, compiled in).
[[nodiscard]] std::string_view dashboard_html();

} // namespace seismo::publish
