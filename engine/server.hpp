#pragma once
// The WS pub-sub and HTTP server on one listener (DESIGN §6): /v1/stream (subscribe with topic
// globs, snapshot, resume by seq, gap, ping/pong, bearer tokens with topic globs, limits, clear
// errors), /metrics, /healthz, /readyz, /v1/state and the dashboard at /.
//
// Threads: runs on the io_context it is given; each connection on its own strand. Deliveries
// come from the hub (publisher thread) into each session's bounded queue; a session whose queue
// overflows is closed with a reason and counted, so no subscriber can slow the engine.

#include "engine/config.hpp"
#include "engine/hub.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace seismo::engine {

struct server_hooks {
    std::function<std::string()> metrics;           ///< Prometheus text exposition
    std::function<std::string()> state;             ///< /v1/state JSON
    std::function<bool(std::string& detail)> ready; ///< /readyz; detail: JSON explaining
};

/// Why subscribers were cut off (labels of seismo_subscriber_dropped_total).
enum class drop_reason : std::uint8_t { slow_consumer, protocol_error, message_too_big, count_ };
[[nodiscard]] const char* to_string(drop_reason r) noexcept;

struct server_stats {
    std::atomic<std::uint64_t> connections{0}; ///< open TCP connections (gauge)
    std::atomic<std::uint64_t> subscribers{0}; ///< open /v1/stream sessions (gauge)
    std::atomic<std::uint64_t> http_requests{0};
    std::atomic<std::uint64_t> refused{0};       ///< over max_connections or unauthorized
    std::atomic<std::uint64_t> client_errors{0}; ///< error messages sent for bad requests
    std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(drop_reason::count_)> dropped{};
};

class server {
  public:
    server(boost::asio::io_context& io, const server_config& cfg, hub& h, server_hooks hooks);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Binds and starts accepting. Throws std::runtime_error naming the address on failure.
    void start();
    /// Stops accepting and closes every connection; safe from any thread.
    void stop();
    [[nodiscard]] std::uint16_t port() const;
    [[nodiscard]] const server_stats& stats() const noexcept;

    struct impl;

  private:
    std::shared_ptr<impl> p_;
};

/// The dashboard page (engine/dashboard.html, compiled in).
[[nodiscard]] std::string_view dashboard_html();

} // namespace seismo::engine
