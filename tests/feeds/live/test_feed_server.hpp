#pragma once
// A local WebSocket feed server for fault tests (127.0.0.1, an ephemeral port, its own thread):
// each incoming connection follows the next plan — refuse it, answer HTTP 429, or serve frames
// and then close abruptly, close gracefully or stall — and a broadcast mode streams one
// numbered sequence to every open connection, like a venue does. It records what clients send.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace seismo::testing {

struct connection_plan {
    enum class action : std::uint8_t { refuse, http_429, serve };
    /// close_gracefully: a close frame, 1001 "maintenance".
    enum class after : std::uint8_t { close_abruptly, close_gracefully, stall };
    action what = action::serve;
    std::vector<std::string> frames;
    std::chrono::milliseconds spacing{0}; ///< between frames
    after then = after::stall;
    bool wait_for_subscribe = true; ///< send only after the client's first message
};

struct tls_identity {
    std::string cert_pem; ///< server certificate (self-signed)
    std::string key_pem;
    std::string ca_file; ///< a file holding cert_pem, for the client to trust
};

/// A fresh self-signed certificate for `host` (as DNS name and, for 127.0.0.1, IP address).
tls_identity make_tls_identity(const std::string& host);

class test_feed_server {
  public:
    /// Plans are used one per connection, in order; later connections repeat the last plan.
    explicit test_feed_server(std::vector<connection_plan> plans,
                              const tls_identity* tls = nullptr);
    ~test_feed_server();
    test_feed_server(const test_feed_server&) = delete;
    test_feed_server& operator=(const test_feed_server&) = delete;

    [[nodiscard]] std::uint16_t port() const;
    [[nodiscard]] std::string url(const std::string& host = "127.0.0.1",
                                  const std::string& path = "/") const;
    /// Messages clients sent (text frames), in arrival order.
    [[nodiscard]] std::vector<std::string> received() const;
    [[nodiscard]] int connections() const;
    /// Times (steady clock) at which connections were accepted.
    [[nodiscard]] std::vector<std::chrono::steady_clock::time_point> accept_times() const;

    /// Broadcast mode: every `every`, frame_of(n) for n = 1, 2, ... goes to each open served
    /// connection that has subscribed.
    void start_broadcast(std::function<std::string(std::uint64_t)> frame_of,
                         std::chrono::milliseconds every);
    [[nodiscard]] std::uint64_t broadcast_count() const;
    /// Sends one frame now to every open served connection that has subscribed.
    void broadcast_now(std::string frame);
    /// Served connections that have subscribed and are taking broadcasts.
    [[nodiscard]] std::size_t subscribers() const;

    struct impl;

  private:
    std::unique_ptr<impl> p_;
};

} // namespace seismo::testing
