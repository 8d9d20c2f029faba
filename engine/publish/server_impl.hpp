#pragma once
// Internal to engine/publish: the server's shared state, and what its three files implement for
// each other — listener.cpp (accepting, limits, TLS), http_routes.cpp (requests, auth, routes,
// the WebSocket upgrade), ws_session.cpp (a subscriber's session).

#include "engine/publish/server.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace seismo::publish {

namespace detail {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;
using plain_stream = beast::tcp_stream;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

/// `{"type":"error","code":…,"message":…}`
[[nodiscard]] std::string error_json(std::string_view code, std::string_view message);
/// `{"type":<type>,"code":…,"message":…}`
[[nodiscard]] std::string notice_json(std::string_view type, std::string_view code,
                                      std::string_view message);

/// A subscriber session's place under `[server] max_connections`. It is taken before the upgrade
/// is answered, in one atomic step, so two upgrades on two I/O threads cannot both take the last
/// one (a check of the gauge and a count in the session later let a seventh session in), and it
/// is given back when the session ends, whichever way it ends.
class session_slot {
  public:
    session_slot() = default;
    /// A place if fewer than `limit` are taken; an empty slot if none is free.
    static session_slot take(std::atomic<std::uint64_t>& taken, std::size_t limit) {
        auto n = taken.load(std::memory_order_relaxed);
        do {
            if (n >= limit) return {};
        } while (!taken.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
        return session_slot{&taken};
    }
    session_slot(session_slot&& o) noexcept : taken_(std::exchange(o.taken_, nullptr)) {}
    session_slot& operator=(session_slot&& o) noexcept {
        if (this != &o) {
            release();
            taken_ = std::exchange(o.taken_, nullptr);
        }
        return *this;
    }
    session_slot(const session_slot&) = delete;
    session_slot& operator=(const session_slot&) = delete;
    ~session_slot() { release(); }
    explicit operator bool() const { return taken_ != nullptr; }

  private:
    explicit session_slot(std::atomic<std::uint64_t>* taken) : taken_(taken) {}
    void release() {
        if (taken_ != nullptr) taken_->fetch_sub(1, std::memory_order_relaxed);
        taken_ = nullptr;
    }
    std::atomic<std::uint64_t>* taken_ = nullptr;
};
/// A complete server (unmasked) WebSocket text frame holding `json`.
[[nodiscard]] std::string text_frame(std::string_view json);
/// The value of `name` in the target's query string ("" when absent).
[[nodiscard]] std::string_view query_param(std::string_view target, std::string_view name);

} // namespace detail

struct server::impl : std::enable_shared_from_this<server::impl> {
    impl(detail::net::io_context& i, server_options o, hub& h, server_hooks hk);

    detail::net::io_context& io;
    std::size_t next_worker = 0; // the accept loop's
    server_options opts;
    hub& trigger_hub;
    server_hooks hooks;
    server_stats stats;
    std::unique_ptr<detail::net::ssl::context> tls;
    detail::tcp::acceptor acceptor;
    std::atomic<bool> stopping{false};
    std::mutex conns_mu;
    /// Open sessions, closed on stop (entries whose session is gone are trimmed).
    std::list<std::pair<std::weak_ptr<void>, std::function<void()>>> closers;
    std::uint16_t bound_port = 0;

    /// HTTP connections waiting for a request, oldest first: at the connection limit the
    /// oldest is closed to admit a new one, so idle sockets cannot lock out /metrics or the
    /// probes. `close` posts to the connection's thread and acts only while it still waits.
    /// Ordered by `since`, taken from `idle_seq` when a connection is accepted (its first wait)
    /// or starts waiting again: connections on several threads ([server] io_threads) list
    /// themselves in their own time, not in the order they came.
    struct idle_conn {
        std::uint64_t since = 0;
        std::function<void()> close;
        bool evicted = false; ///< closed already; its owner erases the entry
    };
    std::mutex idle_mu;
    std::list<idle_conn> idle;
    std::atomic<std::uint64_t> idle_seq{0};
    std::list<idle_conn>::iterator add_idle(std::uint64_t since, std::function<void()> close);
    void remove_idle(std::list<idle_conn>::iterator it);
    /// Closes the oldest idle connection; false when none waits.
    bool evict_idle();

    [[nodiscard]] const token* find_token(std::string_view tok) const;
    void register_closer(const std::shared_ptr<void>& owner, std::function<void()> f);

    // listener.cpp
    detail::net::awaitable<void> accept_loop(std::shared_ptr<impl> self);
    detail::net::awaitable<void> connection(std::shared_ptr<impl> self, detail::tcp::socket sock,
                                            std::uint64_t accepted);

    // http_routes.cpp: serves requests until the connection closes or upgrades.
    template <class Stream>
    detail::net::awaitable<void> http_session(std::shared_ptr<impl> self, Stream stream,
                                              std::uint64_t accepted);
    /// The answer to a plain GET or HEAD (not the upgrade); may throw from a hook.
    void route(boost::beast::http::verb method, std::string_view path, const topic_limit& limit,
               boost::beast::http::status& status, std::string& type, std::string& body);
};

extern template detail::net::awaitable<void>
    server::impl::http_session<detail::plain_stream>(std::shared_ptr<impl>, detail::plain_stream,
                                                     std::uint64_t);
extern template detail::net::awaitable<void>
    server::impl::http_session<detail::tls_stream>(std::shared_ptr<impl>, detail::tls_stream,
                                                   std::uint64_t);

namespace detail {

/// ws_session.cpp: runs an upgraded /v1/stream connection as a pub-sub session until it ends.
/// `slot`: its place under max_connections, held until it ends; `leftover`: bytes read past the
/// upgrade request; `allowed`: the token's topic globs.
template <class Stream>
net::awaitable<void> run_pubsub(std::shared_ptr<server::impl> srv, session_slot slot, Stream stream,
                                std::string leftover, std::vector<std::string> allowed);

extern template net::awaitable<void> run_pubsub<plain_stream>(std::shared_ptr<server::impl>,
                                                              session_slot, plain_stream,
                                                              std::string,
                                                              std::vector<std::string>);
extern template net::awaitable<void> run_pubsub<tls_stream>(std::shared_ptr<server::impl>,
                                                            session_slot, tls_stream, std::string,
                                                            std::vector<std::string>);

} // namespace detail
} // namespace seismo::publish
