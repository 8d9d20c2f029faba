// The server's listener (DESIGN §6): binds, accepts, enforces the connection limit, and runs
// each connection — through a TLS handshake when the listener has a certificate — as an HTTP
// session (http_routes.cpp).
#include "engine/publish/server_impl.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <chrono>
#include <iterator>
#include <stdexcept>

namespace seismo::publish {

unsigned role_named(std::string_view name) noexcept {
    if (name == "subscribe") return role_subscribe;
    if (name == "metrics") return role_metrics;
    if (name == "admin") return role_admin;
    return 0;
}

const char* to_string(deny_reason r) noexcept {
    switch (r) {
    case deny_reason::no_token:
        return "no_token";
    case deny_reason::bad_token:
        return "bad_token";
    case deny_reason::forbidden:
        return "forbidden";
    case deny_reason::count_:
        break;
    }
    return "?";
}

const char* to_string(drop_reason r) noexcept {
    switch (r) {
    case drop_reason::slow_consumer:
        return "slow_consumer";
    case drop_reason::protocol_error:
        return "protocol_error";
    case drop_reason::message_too_big:
        return "message_too_big";
    case drop_reason::rate_limited:
        return "rate_limited";
    case drop_reason::idle:
        return "idle";
    case drop_reason::unread_replies:
        return "unread_replies";
    case drop_reason::count_:
        break;
    }
    return "?";
}

using namespace detail; // this file's own names; the header keeps them in detail

namespace {

constexpr auto k_tuple = net::as_tuple(net::use_awaitable);

/// TCP connections beyond the session limit, for plain HTTP (metrics, probes, state) while
/// subscribers fill it.
constexpr std::size_t k_http_reserve = 64;

/// The refusal for a connection over every limit: written whole, then closed.
const std::string& busy_response() {
    static const std::string r = [] {
        const std::string body =
            R"({"type":"error","code":"too_many_connections","message":"connection limit"})"
            "\n";
        return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
               "Connection: close\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n" + body;
    }();
    return r;
}

} // namespace

bool listen_address::loopback() const {
    beast::error_code ec;
    const auto a = net::ip::make_address(host, ec);
    return !ec && a.is_loopback();
}

bool parse_listen(std::string_view text, listen_address& out, std::string& why) {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
        why = "'" + std::string(text) + "' has no port: HOST:PORT, e.g. 127.0.0.1:8080 or :8080";
        return false;
    }
    const std::string_view port = text.substr(colon + 1);
    std::string_view host = text.substr(0, colon);
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string_view::npos ||
        std::stoul(std::string(port)) > 65535) {
        why = "'" + std::string(text) + "': the port must be a number 0-65535";
        return false;
    }
    out.port = static_cast<std::uint16_t>(std::stoul(std::string(port)));
    const bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
    if (bracketed) host = host.substr(1, host.size() - 2);
    if (host.empty() || host == "*") {
        out.host = "0.0.0.0";
        return true;
    }
    if (host == "localhost") {
        out.host = "127.0.0.1";
        return true;
    }
    beast::error_code ec;
    const auto a = net::ip::make_address(std::string(host), ec);
    if (ec || (a.is_v6() && !bracketed)) {
        why = "'" + std::string(text) +
              "': the host must be an IP address (IPv6 in brackets), localhost, or empty for "
              "every interface";
        return false;
    }
    out.host = a.to_string();
    return true;
}

server::impl::impl(net::io_context& i, server_options o, hub& h, server_hooks hk)
    : io(i), opts(std::move(o)), trigger_hub(h), hooks(std::move(hk)), acceptor(i.get_executor()) {}

void server::impl::register_closer(const std::shared_ptr<void>& owner, std::function<void()> f) {
    std::lock_guard lock(conns_mu);
    closers.remove_if([](const auto& c) { return c.first.expired(); });
    closers.emplace_back(owner, std::move(f));
}

std::list<server::impl::idle_conn>::iterator server::impl::add_idle(std::uint64_t since,
                                                                    std::function<void()> close) {
    std::lock_guard lock(idle_mu);
    auto at = idle.end();
    while (at != idle.begin() && std::prev(at)->since > since)
        --at;
    return idle.insert(at, idle_conn{since, std::move(close)});
}

void server::impl::remove_idle(std::list<idle_conn>::iterator it) {
    std::lock_guard lock(idle_mu);
    idle.erase(it);
}

bool server::impl::evict_idle() {
    std::function<void()> close;
    {
        std::lock_guard lock(idle_mu);
        auto it = std::find_if(idle.begin(), idle.end(), [](const auto& c) { return !c.evicted; });
        if (it == idle.end()) return false;
        it->evicted = true; // its owner erases it when its read ends
        close = it->close;
    }
    stats.http_evicted.fetch_add(1, std::memory_order_relaxed);
    close();
    return true;
}

net::awaitable<void> server::impl::connection(std::shared_ptr<impl> self, tcp::socket sock,
                                              std::uint64_t accepted) {
    // Counted by the accept loop, before the next accept judges the limit; released on every
    // way out, an exception included (a leaked slot would lock everyone out in the end).
    struct release {
        server_stats& s;
        ~release() { s.connections.fetch_sub(1, std::memory_order_relaxed); }
    } released{stats};
    beast::tcp_stream stream(std::move(sock));
    if (tls) {
        beast::ssl_stream<beast::tcp_stream> s(std::move(stream), *tls);
        beast::get_lowest_layer(s).expires_after(std::chrono::seconds(10));
        auto [ec] = co_await s.async_handshake(net::ssl::stream_base::server, k_tuple);
        if (!ec) co_await http_session(self, std::move(s), accepted);
    } else {
        co_await http_session(self, std::move(stream), accepted);
    }
}

net::awaitable<void> server::impl::accept_loop(std::shared_ptr<impl> self) {
    while (!stopping) {
        auto [ec, sock] = co_await acceptor.async_accept(io.get_executor(), k_tuple);
        if (ec) {
            if (stopping || ec == net::error::operation_aborted) break;
            continue;
        }
        if (stats.connections.load(std::memory_order_relaxed) >=
                opts.max_connections + k_http_reserve &&
            !evict_idle()) {
            // Over every limit (sessions and the HTTP reserve) with no idle connection to
            // close instead: a plain HTTP 503.
            stats.refused.fetch_add(1, std::memory_order_relaxed);
            beast::error_code wec;
            net::write(sock, net::buffer(busy_response()), wec);
            sock.close(wec);
            continue;
        }
        // Small frames must go out at once: without TCP_NODELAY, Nagle's algorithm and the
        // peer's delayed ACK hold a trigger back ~40 ms.
        beast::error_code nec;
        sock.set_option(tcp::no_delay(true), nec);
        tcp::socket conn(std::move(sock));
        if (!opts.workers.empty()) {
            // To a connection thread, round robin. The socket is accepted on this io_context
            // and handed over, so that nothing pending here ever holds another's socket.
            net::io_context& home = *opts.workers[next_worker++ % opts.workers.size()];
            beast::error_code mec;
            const auto proto = conn.local_endpoint(mec).protocol();
            const auto fd = mec ? -1 : conn.release(mec);
            if (mec) {
                conn.close(mec);
                continue;
            }
            conn = tcp::socket(home, proto, fd);
        }
        auto ex = conn.get_executor();
        stats.connections.fetch_add(1, std::memory_order_relaxed);
        const std::uint64_t accepted = idle_seq.fetch_add(1, std::memory_order_relaxed);
        net::co_spawn(ex, connection(self, std::move(conn), accepted), net::detached);
    }
}

server::server(net::io_context& io, server_options opts, hub& h, server_hooks hooks)
    : p_(std::make_shared<impl>(io, std::move(opts), h, std::move(hooks))) {
    const server_options& cfg = p_->opts;
    if (!cfg.tls_cert.empty()) {
        p_->tls = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
        beast::error_code ec;
        p_->tls->use_certificate_chain_file(cfg.tls_cert, ec);
        if (ec) throw std::runtime_error("tls_cert " + cfg.tls_cert + ": " + ec.message());
        p_->tls->use_private_key_file(cfg.tls_key, net::ssl::context::pem, ec);
        if (ec) throw std::runtime_error("tls_key " + cfg.tls_key + ": " + ec.message());
    }
}

server::~server() {
    stop();
}

void server::start() {
    listen_address where;
    std::string why;
    if (!parse_listen(p_->opts.listen, where, why)) throw std::runtime_error("listen " + why);
    const tcp::endpoint ep(net::ip::make_address(where.host), where.port);
    beast::error_code ec;
    p_->acceptor.open(ep.protocol(), ec);
    if (!ec) p_->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) p_->acceptor.bind(ep, ec);
    if (!ec) p_->acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) throw std::runtime_error("listen " + p_->opts.listen + ": " + ec.message());
    p_->bound_port = p_->acceptor.local_endpoint().port();
    net::co_spawn(p_->acceptor.get_executor(), p_->accept_loop(p_), net::detached);
}

void server::stop() {
    if (p_->stopping.exchange(true)) return;
    auto self = p_;
    net::post(p_->acceptor.get_executor(), [self] {
        beast::error_code ec;
        self->acceptor.close(ec);
    });
    std::lock_guard lock(p_->conns_mu);
    for (auto& c : p_->closers)
        c.second();
    p_->closers.clear();
}

void server::set_signals(std::vector<std::string> names) {
    p_->opts.signals = std::move(names);
}

std::uint16_t server::port() const {
    return p_->bound_port;
}
const server_stats& server::stats() const noexcept {
    return p_->stats;
}

} // namespace seismo::publish
