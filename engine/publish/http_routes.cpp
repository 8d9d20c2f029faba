// The server's HTTP side (DESIGN §6): reads requests with limits, checks tokens, serves
// /metrics, /healthz, /readyz, /v1/state and the dashboard from their hooks, and upgrades
// /v1/stream to a pub-sub session (ws_session.cpp).
#include "engine/core/json_writer.hpp"
#include "engine/publish/server_impl.hpp"
#include "engine/publish/ws_codec.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <openssl/crypto.h>

#include <chrono>

namespace seismo::publish {

namespace detail {

std::string error_json(std::string_view code, std::string_view message) {
    return notice_json("error", code, message);
}

std::string notice_json(std::string_view type, std::string_view code, std::string_view message) {
    std::string s = R"({"type":)";
    core::append_json_string(s, type);
    s += R"(,"code":)";
    core::append_json_string(s, code);
    s += R"(,"message":)";
    core::append_json_string(s, message);
    s += '}';
    return s;
}

std::string text_frame(std::string_view json) {
    std::string f;
    ws::append_frame(f, ws::opcode::text, json);
    return f;
}

std::string_view query_param(std::string_view target, std::string_view name) {
    const auto q = target.find('?');
    if (q == std::string_view::npos) return {};
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const std::string_view kv = rest.substr(0, amp);
        if (kv.size() > name.size() && kv.substr(0, name.size()) == name &&
            kv[name.size()] == '=') {
            return kv.substr(name.size() + 1);
        }
        if (amp == std::string_view::npos) break;
        rest.remove_prefix(amp + 1);
    }
    return {};
}

} // namespace detail

using namespace detail; // this file's own names; the header keeps them in detail

namespace {

namespace http = beast::http;
constexpr auto k_tuple = net::as_tuple(net::use_awaitable);
/// The largest config POST /v1/reload takes (a 5,000-instrument universe is ~0.5 MiB).
constexpr std::uint64_t k_reload_body_limit = 8u << 20;

template <class Stream>
net::awaitable<void> respond(Stream& stream, const http::request<http::string_body>& req,
                             http::status st, std::string_view type, std::string body,
                             bool close = false) {
    http::response<http::string_body> res{st, req.version()};
    res.set(http::field::server, "seismo");
    res.set(http::field::content_type, type);
    res.set(http::field::cache_control, "no-store");
    res.keep_alive(req.keep_alive() && !close);
    if (req.method() != http::verb::head) res.body() = std::move(body);
    res.prepare_payload();
    auto [ec, n] = co_await http::async_write(stream, res, k_tuple);
    (void)ec;
    (void)n;
}

} // namespace

const token* server::impl::find_token(std::string_view tok) const {
    // Constant time in the token's bytes: a timing probe must not find a token byte by byte.
    const token* found = nullptr;
    for (const auto& t : opts.tokens) {
        if (t.token.size() == tok.size() &&
            CRYPTO_memcmp(t.token.data(), tok.data(), tok.size()) == 0) {
            found = &t;
        }
    }
    return found;
}

namespace {

/// What a path needs (DESIGN §6): the liveness probes nothing, the rest a token with a role.
unsigned role_for(std::string_view path, http::verb method) {
    if (path == "/healthz" || path == "/readyz") return 0;
    if (path == "/metrics") return role_metrics;
    if (path == "/v1/reload" || method == http::verb::post) return role_admin;
    return role_subscribe;
}

} // namespace

template <class Stream>
net::awaitable<void> server::impl::http_session(std::shared_ptr<impl> self, Stream stream,
                                                std::uint64_t accepted) {
    beast::flat_buffer buf;
    auto& lowest = beast::get_lowest_layer(stream);
    // Whether this connection waits for a request (changed and read on its thread only): an
    // eviction posted here closes it only while it still waits.
    auto waiting = std::make_shared<bool>(false);
    bool first_wait = true;
    for (;;) {
        lowest.expires_after(opts.request_timeout);
        http::request_parser<http::string_body> parser;
        parser.header_limit(16 * 1024);
        parser.body_limit(64 * 1024);
        *waiting = true;
        // The first wait counts from the accept; a kept-alive connection's next from now.
        const std::uint64_t since =
            first_wait ? accepted : idle_seq.fetch_add(1, std::memory_order_relaxed);
        first_wait = false;
        const auto listed = add_idle(since, [waiting, sock = &lowest] {
            net::post(sock->get_executor(), [waiting, sock] {
                if (*waiting) sock->close();
            });
        });
        auto [hec, hn] = co_await http::async_read_header(stream, buf, parser, k_tuple);
        (void)hn;
        beast::error_code ec = hec;
        if (!ec) {
            // A reload carries a whole config: a larger body, for an admin only (nobody else
            // gets to make the server hold more than 64 KiB for them).
            const auto& h = parser.get();
            const std::string_view t = h.target();
            if (h.method() == http::verb::post && t.substr(0, t.find('?')) == "/v1/reload") {
                const token* tok = nullptr;
                if (const auto auth = h[http::field::authorization]; auth.starts_with("Bearer "))
                    tok = find_token(auth.substr(7));
                if (opts.tokens.empty() || (tok != nullptr && (tok->roles & role_admin) != 0))
                    parser.body_limit(k_reload_body_limit);
            }
            if (!parser.is_done()) {
                auto [bec, bn] = co_await http::async_read(stream, buf, parser, k_tuple);
                (void)bn;
                ec = bec;
            }
        }
        *waiting = false;
        remove_idle(listed);
        if (ec == beast::error::timeout)
            stats.http_timeouts.fetch_add(1, std::memory_order_relaxed);
        if (ec == http::error::header_limit || ec == http::error::body_limit) {
            // Say why before closing: 431 for headers over 16 KiB, 413 for a body over 64 KiB.
            const bool header = ec == http::error::header_limit;
            stats.client_errors.fetch_add(1, std::memory_order_relaxed);
            http::response<http::string_body> res{
                header ? http::status::request_header_fields_too_large
                       : http::status::payload_too_large,
                11};
            res.set(http::field::server, "seismo");
            res.set(http::field::content_type, "application/json");
            res.keep_alive(false);
            res.body() = error_json(header ? "headers_too_large" : "body_too_large",
                                    header ? "request headers are limited to 16 KiB"
                                           : "request bodies are limited to 64 KiB (8 MiB "
                                             "for an admin's POST /v1/reload)");
            res.prepare_payload();
            auto [wec, m] = co_await http::async_write(stream, res, k_tuple);
            (void)wec;
            (void)m;
            break;
        }
        if (ec) break;
        beast::get_lowest_layer(stream).expires_never();
        stats.http_requests.fetch_add(1, std::memory_order_relaxed);
        http::request<http::string_body> req = parser.release();
        const std::string_view target = req.target();
        const std::string_view path = target.substr(0, target.find('?'));

        // Access: with tokens configured, every path but the liveness probes needs a known
        // bearer token (header, or ?token= for browsers' WebSockets) whose roles cover it.
        topic_limit limit;
        if (const unsigned need = role_for(path, req.method()); need != 0 && !opts.tokens.empty()) {
            std::string_view tok = query_param(target, "token");
            const auto auth = req[http::field::authorization];
            if (auth.starts_with("Bearer ")) tok = auth.substr(7);
            const token* t = find_token(tok);
            const deny_reason why = tok.empty()    ? deny_reason::no_token
                                    : t == nullptr ? deny_reason::bad_token
                                                   : deny_reason::forbidden;
            if (t == nullptr || (t->roles & (need | role_admin)) == 0) {
                stats.denied[static_cast<std::size_t>(why)].fetch_add(1, std::memory_order_relaxed);
                const bool page = path == "/" || path == "/index.html";
                const http::status st =
                    t == nullptr ? http::status::unauthorized : http::status::forbidden;
                std::string type = page ? "text/html; charset=utf-8" : "application/json";
                // The dashboard page holds no data: it asks for a token, then fetches with it.
                std::string body =
                    page ? std::string(dashboard_html())
                         : error_json(t == nullptr ? "unauthorized" : "forbidden",
                                      why == deny_reason::no_token ? "a bearer token is required"
                                      : why == deny_reason::bad_token
                                          ? "unknown token"
                                          : "this token's roles do not include this path");
                http::response<http::string_body> res{st, req.version()};
                res.set(http::field::server, "seismo");
                res.set(http::field::content_type, type);
                res.set(http::field::cache_control, "no-store");
                res.set(http::field::www_authenticate, "Bearer realm=\"seismo\"");
                res.keep_alive(req.keep_alive());
                if (req.method() != http::verb::head) res.body() = std::move(body);
                res.prepare_payload();
                auto [wec, m] = co_await http::async_write(stream, res, k_tuple);
                (void)m;
                if (wec || !req.keep_alive()) break;
                continue;
            }
            if ((t->roles & role_admin) == 0) limit = t->topics;
        }

        if (path == "/v1/stream") {
            if (!beast::websocket::is_upgrade(req)) {
                std::string body =
                    error_json("upgrade_required", "connect with a WebSocket client");
                co_await respond(stream, req, http::status::upgrade_required, "application/json",
                                 std::move(body));
                continue;
            }
            // The connection limit is a limit on sessions: plain HTTP (metrics, probes) keeps
            // answering when subscribers fill it. The place is taken before the 101 is written.
            auto slot = detail::session_slot::take(stats.subscribers, opts.max_connections);
            if (!slot) {
                stats.refused.fetch_add(1, std::memory_order_relaxed);
                std::string body = error_json(
                    "too_many_connections", "at most " + std::to_string(opts.max_connections) +
                                                " subscriber sessions ([server] max_connections)");
                co_await respond(stream, req, http::status::service_unavailable, "application/json",
                                 std::move(body), true);
                break;
            }
            const auto key = req[http::field::sec_websocket_key];
            if (key.empty()) {
                std::string body = error_json("bad_request", "missing Sec-WebSocket-Key");
                co_await respond(stream, req, http::status::bad_request, "application/json",
                                 std::move(body), true);
                break;
            }
            http::response<http::empty_body> res{http::status::switching_protocols, req.version()};
            res.set(http::field::upgrade, "websocket");
            res.set(http::field::connection, "Upgrade");
            res.set(http::field::sec_websocket_accept, ws::accept_key(key));
            res.set(http::field::server, "seismo");
            auto [wec, m] = co_await http::async_write(stream, res, k_tuple);
            (void)m;
            if (wec) break;
            const auto data = buf.cdata();
            std::string leftover(static_cast<const char*>(data.data()), data.size());
            co_await detail::run_pubsub(self, std::move(slot), std::move(stream),
                                        std::move(leftover), std::move(limit));
            co_return;
        }
        if (path == "/v1/reload") {
            // The reload runs off this thread (it parses, validates and builds a graph); its
            // answer comes back through a timer this coroutine waits on.
            http::status st = http::status::ok;
            std::string answer;
            if (req.method() != http::verb::post) {
                st = http::status::method_not_allowed;
                answer = error_json("method_not_allowed",
                                    "POST the new config as the body, or an empty body to "
                                    "re-read the config file");
            } else if (!hooks.reload) {
                st = http::status::service_unavailable;
                answer = error_json("unavailable", "this server has no engine to reload");
            } else {
                auto timer = std::make_shared<net::steady_timer>(lowest.get_executor());
                timer->expires_at(net::steady_timer::time_point::max());
                auto result = std::make_shared<std::pair<int, std::string>>(500, std::string());
                hooks.reload(std::move(req.body()), [timer, result](int code, std::string body) {
                    net::post(timer->get_executor(),
                              [timer, result, code, body = std::move(body)]() mutable {
                                  *result = {code, std::move(body)};
                                  timer->cancel();
                              });
                });
                auto [tec] = co_await timer->async_wait(k_tuple);
                (void)tec;
                st = static_cast<http::status>(result->first);
                answer = std::move(result->second);
            }
            co_await respond(stream, req, st, "application/json", std::move(answer));
            if (!req.keep_alive()) break;
            continue;
        }
        // Compute the response first, then one co_await: GCC 12 mis-destroys temporaries
        // built inside a co_await expression (a conditional operator there double-frees).
        http::status status = http::status::ok;
        std::string type = "application/json";
        std::string body;
        try {
            route(req.method(), path, limit, status, type, body);
        } catch (const std::exception& e) {
            // A hook failed: say so rather than drop the connection without an answer.
            stats.http_errors.fetch_add(1, std::memory_order_relaxed);
            status = http::status::internal_server_error;
            type = "application/json";
            body = error_json("internal_error", std::string(path) + ": " + e.what());
        }
        co_await respond(stream, req, status, type, std::move(body));
        if (!req.keep_alive()) break;
    }
    beast::error_code ignored;
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
    co_return;
}

void server::impl::route(http::verb method, std::string_view path, const topic_limit& limit,
                         http::status& status, std::string& type, std::string& body) {
    if (method != http::verb::get && method != http::verb::head) {
        status = http::status::method_not_allowed;
        body = error_json("method_not_allowed", "only GET");
    } else if (path == "/metrics") {
        type = "text/plain; version=0.0.4; charset=utf-8";
        if (hooks.metrics) body = hooks.metrics();
    } else if (path == "/healthz") {
        type = "text/plain";
        body = "ok\n";
    } else if (path == "/readyz") {
        const bool ok = hooks.ready ? hooks.ready(body) : true;
        if (!ok) status = http::status::service_unavailable;
    } else if (path == "/v1/state") {
        body = hooks.state ? hooks.state(limit) : std::string("{}");
    } else if (path == "/" || path == "/index.html") {
        type = "text/html; charset=utf-8";
        body = std::string(dashboard_html());
    } else {
        status = http::status::not_found;
        body = error_json("not_found", "no such path; try /, /metrics, /healthz, /readyz, "
                                       "/v1/state, /v1/stream, POST /v1/reload");
    }
}

template net::awaitable<void> server::impl::http_session<plain_stream>(std::shared_ptr<impl>,
                                                                       plain_stream, std::uint64_t);
template net::awaitable<void> server::impl::http_session<tls_stream>(std::shared_ptr<impl>,
                                                                     tls_stream, std::uint64_t);

} // namespace seismo::publish
