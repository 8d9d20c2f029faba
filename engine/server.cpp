// The pub-sub/HTTP server. Beast parses HTTP; after the WebSocket upgrade (done here, RFC 6455
// handshake) sessions speak frames through engine/ws_codec, which lets one serialised trigger
// frame be shared by every subscriber and many frames go out in one gather write.
#include "engine/server.hpp"

#include "engine/core/json_writer.hpp"
#include "engine/core/string_map.hpp"
#include "engine/ws_codec.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <simdjson.h>

#include <deque>
#include <list>

namespace seismo::engine {

const char* to_string(drop_reason r) noexcept {
    switch (r) {
    case drop_reason::slow_consumer:
        return "slow_consumer";
    case drop_reason::protocol_error:
        return "protocol_error";
    case drop_reason::message_too_big:
        return "message_too_big";
    case drop_reason::count_:
        break;
    }
    return "?";
}

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
constexpr auto k_tuple = net::as_tuple(net::use_awaitable);
constexpr std::size_t k_write_batch = 64;
constexpr std::size_t k_max_pattern = 256;

std::string error_json(std::string_view code, std::string_view message) {
    std::string s = R"({"type":"error","code":)";
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

bool valid_pattern(std::string_view p) {
    if (p.empty() || p.size() > k_max_pattern) return false;
    for (const char c : p) {
        if (static_cast<unsigned char>(c) < 0x20 || c == '"' || c == '\\') return false;
    }
    return true;
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

} // namespace

struct server::impl : std::enable_shared_from_this<server::impl> {
    net::io_context& io;
    server_config cfg;
    hub& trigger_hub;
    server_hooks hooks;
    server_stats stats;
    std::unique_ptr<net::ssl::context> tls;
    tcp::acceptor acceptor;
    std::atomic<bool> stopping{false};
    std::mutex conns_mu;
    /// Open sessions, closed on stop (entries whose session is gone are trimmed).
    std::list<std::pair<std::weak_ptr<void>, std::function<void()>>> closers;
    std::uint16_t bound_port = 0;

    impl(net::io_context& i, const server_config& c, hub& h, server_hooks hk)
        : io(i), cfg(c), trigger_hub(h), hooks(std::move(hk)), acceptor(net::make_strand(i)) {}

    const token_config* find_token(std::string_view tok) const {
        for (const auto& t : cfg.tokens) {
            if (t.token == tok) return &t;
        }
        return nullptr;
    }

    // ------------------------------------------------------------------ WebSocket sessions
    template <class Stream>
    class ws_session final : public hub_subscriber,
                             public std::enable_shared_from_this<ws_session<Stream>> {
        using awaitable_void = net::awaitable<void>;

      public:
        ws_session(std::shared_ptr<impl> srv, Stream stream, std::vector<std::string> allowed)
            : srv_(std::move(srv)), stream_(std::move(stream)),
              parser_(srv_->cfg.max_message_bytes), allowed_(std::move(allowed)) {}

        // hub_subscriber (hub lock held)
        [[nodiscard]] bool wants(const message& m) const override {
            if (!allowed_topic(m)) return false;
            for (const auto& p : patterns_) {
                if (topic_matches(p, m)) return true;
            }
            return false;
        }
        void push(const message_ptr& m) override {
            std::lock_guard lock(qmu_);
            if (overflow_) return;
            if (queue_.size() >= srv_->cfg.session_queue) {
                overflow_ = true;
                return;
            }
            queue_.push_back(m);
        }
        void flush() override {
            // One wake-up in flight per session: pushes that find one pending ride on it.
            if (wake_pending_.exchange(true, std::memory_order_acq_rel)) return;
            auto self = this->shared_from_this();
            net::post(stream_.get_executor(), [self] {
                self->wake_pending_.store(false, std::memory_order_release);
                bool overflow = false;
                {
                    std::lock_guard lock(self->qmu_);
                    overflow = self->overflow_;
                }
                if (overflow)
                    self->on_overflow();
                else
                    self->kick();
            });
        }

        awaitable_void run(std::shared_ptr<ws_session> keep, std::string leftover) {
            srv_->stats.subscribers.fetch_add(1, std::memory_order_relaxed);
            if (!leftover.empty()) parser_.feed(leftover.data(), leftover.size());
            co_await handle_messages();
            std::array<char, 16 * 1024> buf{};
            while (!closing_) {
                auto [ec, n] = co_await stream_.async_read_some(net::buffer(buf), k_tuple);
                if (ec) break;
                parser_.feed(buf.data(), n);
                co_await handle_messages();
            }
            srv_->trigger_hub.remove(this);
            srv_->stats.subscribers.fetch_sub(1, std::memory_order_relaxed);
            (void)keep;
        }

        void close_now() {
            auto self = this->shared_from_this();
            net::post(stream_.get_executor(), [self] {
                self->closing_ = true;
                beast::get_lowest_layer(self->stream_).close();
            });
        }

      private:
        [[nodiscard]] bool allowed_topic(const message& m) const {
            if (allowed_.empty()) return true;
            for (const auto& a : allowed_) {
                if (topic_matches(a, m)) return true;
            }
            return false;
        }
        [[nodiscard]] bool pattern_allowed(std::string_view p) const {
            if (allowed_.empty()) return true;
            for (const auto& a : allowed_) {
                if (core::glob_match(a, p)) return true;
            }
            return false;
        }

        /// Queues a frame of our own (pong, error, snapshot, gap, close).
        void send_own(std::string frame) {
            {
                std::lock_guard lock(qmu_);
                own_.push_back(std::move(frame));
            }
            kick();
        }
        void send_error(std::string_view code, std::string_view msg) {
            srv_->stats.client_errors.fetch_add(1, std::memory_order_relaxed);
            send_own(text_frame(error_json(code, msg)));
        }
        void fail(drop_reason why, std::uint16_t code, std::string_view reason) {
            if (closing_after_write_) return;
            srv_->stats.dropped[static_cast<std::size_t>(why)].fetch_add(1,
                                                                         std::memory_order_relaxed);
            std::string f;
            ws::append_frame(f, ws::opcode::close, ws::close_payload(code, reason));
            closing_after_write_ = true;
            send_own(std::move(f));
        }

        awaitable_void handle_messages() {
            ws::frame_parser::message m;
            while (parser_.next(m)) {
                switch (m.op) {
                case ws::opcode::text:
                    on_text(m.payload);
                    break;
                case ws::opcode::binary:
                    send_error("binary_unsupported", "send JSON text messages");
                    break;
                case ws::opcode::ping: {
                    std::string f;
                    ws::append_frame(f, ws::opcode::pong, m.payload);
                    send_own(std::move(f));
                    break;
                }
                case ws::opcode::pong:
                    break;
                case ws::opcode::close: {
                    std::string f;
                    ws::append_frame(f, ws::opcode::close, ws::close_payload(1000, "bye"));
                    closing_after_write_ = true;
                    send_own(std::move(f));
                    co_return;
                }
                case ws::opcode::continuation:
                    break;
                }
            }
            if (parser_.failure() != ws::frame_parser::error::none) {
                const bool big = parser_.failure() == ws::frame_parser::error::too_big;
                if (big) {
                    send_error("message_too_big", "inbound messages are limited to " +
                                                      std::to_string(srv_->cfg.max_message_bytes) +
                                                      " bytes");
                }
                fail(big ? drop_reason::message_too_big : drop_reason::protocol_error,
                     parser_.close_code(), ws::to_string(parser_.failure()));
            }
            co_return;
        }

        void on_text(std::string_view text) {
            simdjson::padded_string padded(text);
            simdjson::ondemand::document doc;
            simdjson::ondemand::object obj;
            if (json_.iterate(padded).get(doc) != simdjson::SUCCESS ||
                doc.get_object().get(obj) != simdjson::SUCCESS) {
                send_error(
                    "bad_json",
                    "expected a JSON object such as {\"op\":\"subscribe\",\"topics\":[\"*\"]}");
                return;
            }
            std::string_view op;
            std::vector<std::string> topics;
            bool has_topics = false;
            std::optional<std::uint64_t> since;
            for (auto fr : obj) {
                if (fr.error() != simdjson::SUCCESS) {
                    send_error("bad_json", "not valid JSON");
                    return;
                }
                simdjson::ondemand::field& f = fr.value_unsafe();
                std::string_view key;
                if (f.unescaped_key().get(key) != simdjson::SUCCESS) {
                    send_error("bad_json", "not valid JSON");
                    return;
                }
                if (key == "op") {
                    if (f.value().get_string().get(op) != simdjson::SUCCESS) {
                        send_error("bad_request", "'op' must be a string");
                        return;
                    }
                    op_copy_.assign(op);
                    op = op_copy_;
                } else if (key == "topics") {
                    simdjson::ondemand::array arr;
                    if (f.value().get_array().get(arr) != simdjson::SUCCESS) {
                        send_error("bad_topic", "'topics' must be an array of topic patterns");
                        return;
                    }
                    has_topics = true;
                    for (auto el : arr) {
                        std::string_view t;
                        if (el.get_string().get(t) != simdjson::SUCCESS) {
                            send_error("bad_topic", "'topics' must hold strings");
                            return;
                        }
                        topics.emplace_back(t);
                    }
                } else if (key == "since") {
                    std::uint64_t s = 0;
                    if (f.value().get_uint64().get(s) != simdjson::SUCCESS) {
                        send_error("bad_request",
                                   "'since' must be a non-negative integer (a trigger seq)");
                        return;
                    }
                    since = s;
                }
            }
            if (op == "ping") {
                send_own(text_frame(R"({"type":"pong"})"));
            } else if (op == "subscribe" || op == "unsubscribe") {
                if (!has_topics || topics.empty()) {
                    send_error("bad_topic", "'topics' needs at least one pattern");
                    return;
                }
                for (const auto& t : topics) {
                    if (!valid_pattern(t)) {
                        send_error("bad_topic", "bad topic pattern '" + t.substr(0, 64) + "'");
                        return;
                    }
                }
                if (op == "subscribe")
                    subscribe(topics, since);
                else
                    unsubscribe(topics);
            } else if (op.empty()) {
                send_error("bad_request", "missing 'op' (subscribe, unsubscribe or ping)");
            } else {
                send_error("unknown_op", "unknown op '" + std::string(op.substr(0, 64)) +
                                             "' (subscribe, unsubscribe or ping)");
            }
        }

        void subscribe(const std::vector<std::string>& topics, std::optional<std::uint64_t> since) {
            for (const auto& t : topics) {
                if (!pattern_allowed(t)) {
                    send_error("forbidden",
                               "this token may not subscribe to '" + t.substr(0, 64) + "'");
                    return;
                }
            }
            std::vector<std::string> fresh;
            for (const auto& t : topics) {
                if (std::find(patterns_.begin(), patterns_.end(), t) == patterns_.end() &&
                    std::find(fresh.begin(), fresh.end(), t) == fresh.end()) {
                    fresh.push_back(t);
                }
            }
            if (patterns_.size() + fresh.size() > srv_->cfg.max_subscriptions) {
                send_error("too_many_subscriptions",
                           "at most " + std::to_string(srv_->cfg.max_subscriptions) +
                               " topic patterns per connection");
                return;
            }
            auto self = this->shared_from_this();
            auto matches = [this, &fresh](const message& m) {
                if (!allowed_topic(m)) return false;
                for (const auto& p : fresh) {
                    if (topic_matches(p, m)) return true;
                }
                return false;
            };
            srv_->trigger_hub.subscribe(self, matches, since, [&](hub::subscription& sub) {
                // Under the hub lock: nothing published can overtake what is queued here.
                patterns_.insert(patterns_.end(), fresh.begin(), fresh.end());
                std::string snap = R"({"type":"snapshot","active":[)";
                for (std::size_t i = 0; i < sub.active.size(); ++i) {
                    if (i != 0) snap += ',';
                    snap += sub.active[i]->json();
                }
                snap += "]}";
                std::lock_guard lock(qmu_);
                own_.push_back(text_frame(snap));
                if (sub.gap) {
                    std::string g = R"({"type":"gap","from":)";
                    core::append_uint(g, sub.gap->first);
                    g += R"(,"to":)";
                    core::append_uint(g, sub.gap->second);
                    g += '}';
                    own_.push_back(text_frame(g));
                }
                // Replayed triggers go out after the snapshot and gap (own_ first, then queue_).
                for (auto& m : sub.replay)
                    queue_.push_back(m);
            });
            kick();
        }

        void unsubscribe(const std::vector<std::string>& topics) {
            srv_->trigger_hub.locked([&] {
                std::erase_if(patterns_, [&](const std::string& p) {
                    return std::find(topics.begin(), topics.end(), p) != topics.end();
                });
            });
            send_own(text_frame(R"({"type":"unsubscribed"})"));
        }

        /// The subscriber fell more than session_queue messages behind: drop what is queued, say
        /// why in a close frame, and cut the connection if even that cannot be written soon.
        void on_overflow() {
            if (closing_after_write_) return;
            {
                std::lock_guard lock(qmu_);
                queue_.clear();
            }
            fail(drop_reason::slow_consumer, 1008,
                 "slow consumer: more than " + std::to_string(srv_->cfg.session_queue) +
                     " messages queued");
            auto self = this->shared_from_this();
            auto timer = std::make_shared<net::steady_timer>(stream_.get_executor());
            timer->expires_after(std::chrono::seconds(2));
            timer->async_wait([self, timer](beast::error_code) {
                self->closing_ = true;
                self->dead_ = true;
                beast::get_lowest_layer(self->stream_).close();
            });
        }

        /// Starts the writer if it is idle (session strand).
        void kick() {
            if (writing_ || dead_) return;
            writing_ = true;
            net::co_spawn(stream_.get_executor(), write_loop(this->shared_from_this()),
                          net::detached);
        }

        awaitable_void write_loop(std::shared_ptr<ws_session> keep) {
            std::vector<message_ptr> batch;
            std::vector<std::string> own;
            std::vector<net::const_buffer> bufs;
            for (;;) {
                batch.clear();
                own.clear();
                {
                    std::lock_guard lock(qmu_);
                    // Our own frames go first (snapshot before replay, pongs and errors promptly).
                    while (!own_.empty() && own.size() < k_write_batch) {
                        own.push_back(std::move(own_.front()));
                        own_.pop_front();
                    }
                    while (!queue_.empty() && batch.size() + own.size() < k_write_batch) {
                        batch.push_back(std::move(queue_.front()));
                        queue_.pop_front();
                    }
                }
                if (own.empty() && batch.empty()) break;
                bufs.clear();
                for (const auto& f : own)
                    bufs.emplace_back(net::buffer(f));
                for (const auto& m : batch)
                    bufs.emplace_back(net::buffer(m->frame));
                auto [ec, n] = co_await net::async_write(stream_, bufs, k_tuple);
                (void)n;
                if (ec) {
                    dead_ = true;
                    break;
                }
                if (closing_after_write_ && own_drained()) {
                    dead_ = true;
                    closing_ = true;
                    beast::error_code ignored;
                    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both,
                                                                       ignored);
                    beast::get_lowest_layer(stream_).close();
                    break;
                }
            }
            writing_ = false;
            (void)keep;
        }

        bool own_drained() {
            std::lock_guard lock(qmu_);
            return own_.empty();
        }

        std::shared_ptr<impl> srv_;
        Stream stream_;
        ws::frame_parser parser_;
        simdjson::ondemand::parser json_;
        std::string op_copy_;
        std::vector<std::string> allowed_;
        std::vector<std::string> patterns_; // changed only under the hub lock
        std::mutex qmu_;
        std::deque<message_ptr> queue_;
        std::deque<std::string> own_;
        bool overflow_ = false;
        std::atomic<bool> wake_pending_{false};
        bool writing_ = false;
        bool dead_ = false;
        bool closing_ = false;
        bool closing_after_write_ = false;
    };

    // ------------------------------------------------------------------ HTTP
    template <class Stream>
    net::awaitable<void> http_session(std::shared_ptr<impl> self, Stream stream) {
        beast::flat_buffer buf;
        for (;;) {
            beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(60));
            http::request_parser<http::string_body> parser;
            parser.header_limit(16 * 1024);
            parser.body_limit(64 * 1024);
            auto [ec, n] = co_await http::async_read(stream, buf, parser, k_tuple);
            (void)n;
            if (ec) break;
            beast::get_lowest_layer(stream).expires_never();
            stats.http_requests.fetch_add(1, std::memory_order_relaxed);
            http::request<http::string_body> req = parser.release();
            const std::string_view target = req.target();
            const std::string_view path = target.substr(0, target.find('?'));

            if (path == "/v1/stream") {
                if (!beast::websocket::is_upgrade(req)) {
                    std::string body =
                        error_json("upgrade_required", "connect with a WebSocket client");
                    co_await respond(stream, req, http::status::upgrade_required,
                                     "application/json", std::move(body));
                    continue;
                }
                // Auth: a bearer token in the header or ?token=, when tokens are configured.
                std::vector<std::string> allowed;
                if (!cfg.tokens.empty()) {
                    std::string_view tok = query_param(target, "token");
                    const auto auth = req[http::field::authorization];
                    if (auth.starts_with("Bearer ")) tok = auth.substr(7);
                    const token_config* t = find_token(tok);
                    if (t == nullptr) {
                        stats.refused.fetch_add(1, std::memory_order_relaxed);
                        std::string body =
                            error_json("unauthorized", tok.empty() ? "a bearer token is required"
                                                                   : "unknown token");
                        co_await respond(stream, req, http::status::unauthorized,
                                         "application/json", std::move(body), true);
                        break;
                    }
                    allowed = t->topics;
                }
                const auto key = req[http::field::sec_websocket_key];
                if (key.empty()) {
                    std::string body = error_json("bad_request", "missing Sec-WebSocket-Key");
                    co_await respond(stream, req, http::status::bad_request, "application/json",
                                     std::move(body), true);
                    break;
                }
                http::response<http::empty_body> res{http::status::switching_protocols,
                                                     req.version()};
                res.set(http::field::upgrade, "websocket");
                res.set(http::field::connection, "Upgrade");
                res.set(http::field::sec_websocket_accept, ws::accept_key(key));
                res.set(http::field::server, "seismo");
                auto [wec, m] = co_await http::async_write(stream, res, k_tuple);
                (void)m;
                if (wec) break;
                const auto data = buf.cdata();
                std::string leftover(static_cast<const char*>(data.data()), data.size());
                auto session = std::make_shared<ws_session<Stream>>(self, std::move(stream),
                                                                    std::move(allowed));
                register_closer(session, [w = std::weak_ptr<ws_session<Stream>>(session)] {
                    if (auto s = w.lock()) s->close_now();
                });
                co_await session->run(session, std::move(leftover));
                co_return;
            }
            // Compute the response first, then one co_await: GCC 12 mis-destroys temporaries
            // built inside a co_await expression (a conditional operator there double-frees).
            http::status status = http::status::ok;
            std::string type = "application/json";
            std::string body;
            if (req.method() != http::verb::get && req.method() != http::verb::head) {
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
                body = hooks.state ? hooks.state() : std::string("{}");
            } else if (path == "/" || path == "/index.html") {
                type = "text/html; charset=utf-8";
                body = std::string(dashboard_html());
            } else {
                status = http::status::not_found;
                body = error_json(
                    "not_found",
                    "no such path; try /, /metrics, /healthz, /readyz, /v1/state, /v1/stream");
            }
            co_await respond(stream, req, status, type, std::move(body));
            if (!req.keep_alive()) break;
        }
        beast::error_code ignored;
        beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
        co_return;
    }

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

    void register_closer(const std::shared_ptr<void>& owner, std::function<void()> f) {
        std::lock_guard lock(conns_mu);
        closers.remove_if([](const auto& c) { return c.first.expired(); });
        closers.emplace_back(owner, std::move(f));
    }

    net::awaitable<void> connection(std::shared_ptr<impl> self, tcp::socket sock) {
        stats.connections.fetch_add(1, std::memory_order_relaxed);
        beast::tcp_stream stream(std::move(sock));
        if (tls) {
            beast::ssl_stream<beast::tcp_stream> s(std::move(stream), *tls);
            beast::get_lowest_layer(s).expires_after(std::chrono::seconds(10));
            auto [ec] = co_await s.async_handshake(net::ssl::stream_base::server, k_tuple);
            if (!ec) co_await http_session(self, std::move(s));
        } else {
            co_await http_session(self, std::move(stream));
        }
        stats.connections.fetch_sub(1, std::memory_order_relaxed);
    }

    net::awaitable<void> accept_loop(std::shared_ptr<impl> self) {
        while (!stopping) {
            auto [ec, sock] = co_await acceptor.async_accept(net::make_strand(io), k_tuple);
            if (ec) {
                if (stopping || ec == net::error::operation_aborted) break;
                continue;
            }
            if (stats.connections.load(std::memory_order_relaxed) >= cfg.max_connections) {
                // Over the limit: a plain HTTP 503, whatever was asked.
                stats.refused.fetch_add(1, std::memory_order_relaxed);
                static const std::string k_busy =
                    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: "
                    "application/json\r\nConnection: close\r\n"
                    "Content-Length: "
                    "78\r\n\r\n{\"type\":\"error\",\"code\":\"too_many_connections\",\"message\":"
                    "\"connection limit\"}\n";
                beast::error_code wec;
                net::write(sock, net::buffer(k_busy), wec);
                sock.close(wec);
                continue;
            }
            // Small frames must go out at once: without TCP_NODELAY, Nagle's algorithm and the
            // peer's delayed ACK hold a trigger back ~40 ms.
            beast::error_code nec;
            sock.set_option(tcp::no_delay(true), nec);
            auto ex = sock.get_executor();
            net::co_spawn(ex, connection(self, std::move(sock)), net::detached);
        }
    }
};

server::server(net::io_context& io, const server_config& cfg, hub& h, server_hooks hooks)
    : p_(std::make_shared<impl>(io, cfg, h, std::move(hooks))) {
    if (!cfg.tls_cert.empty()) {
        p_->tls = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
        p_->tls->use_certificate_chain_file(cfg.tls_cert);
        p_->tls->use_private_key_file(cfg.tls_key, net::ssl::context::pem);
    }
}

server::~server() {
    stop();
}

void server::start() {
    const auto colon = p_->cfg.listen.rfind(':');
    std::string host = p_->cfg.listen.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    const auto port = static_cast<std::uint16_t>(std::stoul(p_->cfg.listen.substr(colon + 1)));
    beast::error_code ec;
    const auto addr = net::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
    if (ec) throw std::runtime_error("listen " + p_->cfg.listen + ": bad address: " + ec.message());
    const tcp::endpoint ep(addr, port);
    p_->acceptor.open(ep.protocol(), ec);
    if (!ec) p_->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) p_->acceptor.bind(ep, ec);
    if (!ec) p_->acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) throw std::runtime_error("listen " + p_->cfg.listen + ": " + ec.message());
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

std::uint16_t server::port() const {
    return p_->bound_port;
}
const server_stats& server::stats() const noexcept {
    return p_->stats;
}

} // namespace seismo::engine
