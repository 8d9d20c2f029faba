// The live WebSocket feed session: Boost.Beast over Asio C++20 coroutines on the io_context's
// one thread, error codes (as_tuple) rather than exceptions.
#include "feeds/live/ws_session.hpp"

#include "engine/core/time.hpp"
#include "engine/core/version.hpp"
#include "feeds/live/url.hpp"
#include "feeds/pipeline.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <random>

namespace seismo::feeds::live {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using net::awaitable;
constexpr auto k_tuple = net::as_tuple(net::use_awaitable);
constexpr core::nanos k_s = 1'000'000'000;

std::chrono::nanoseconds dur(core::nanos n) {
    return std::chrono::nanoseconds(n);
}

} // namespace

std::vector<std::string> subscribe_messages(const session_options& o) {
    if (o.symbols.empty()) return {};
    return info(o.kind).subscribe(subscription{o.url, o.symbols, o.channels});
}

namespace {

template <bool Tls>
class session_impl final : public ws_session,
                           public std::enable_shared_from_this<session_impl<Tls>> {
    using stream_t =
        std::conditional_t<Tls, websocket::stream<beast::ssl_stream<beast::tcp_stream>>,
                           websocket::stream<beast::tcp_stream>>;

    /// One WebSocket connection.
    struct connection {
        stream_t ws;
        beast::flat_buffer buf;
        core::nanos opened_at = 0; // monotonic
        std::uint64_t conn_seq_last = 0;
        bool closed = false;

        template <class Exec>
        connection(Exec ex, net::ssl::context& tls) requires Tls : ws(ex, tls) {}
        template <class Exec>
        connection(Exec ex, net::ssl::context&) requires(!Tls) : ws(ex) {}

        void close() {
            if (closed) return;
            closed = true;
            beast::error_code ec;
            beast::get_lowest_layer(ws).socket().shutdown(tcp::socket::shutdown_both, ec);
            beast::get_lowest_layer(ws).close();
        }
    };
    using conn_ptr = std::shared_ptr<connection>;

  public:
    session_impl(net::io_context& io, net::ssl::context& tls, session_options o, ws_url url,
                 core::instrument_registry& reg, frame_sink& sink, std::uint16_t feed)
        : ex_(io.get_executor()), tls_(tls), o_(std::move(o)), url_(std::move(url)),
          pipeline_(o_.kind, reg, o_.max_frame, sink, feed, stats_), sink_(sink), feed_(feed),
          backoff_timer_(ex_), watchdog_(ex_), rng_(std::random_device{}()) {
        subscribes_ = subscribe_messages(o_);
    }

    void start() override {
        spawn_supervisor(false);
        net::co_spawn(ex_, watchdog(this->shared_from_this()), net::detached);
    }

    /// Runs the supervisor; if anything escapes it (a fault, not a venue's doing), the feed
    /// says so — down, with the reason in its failure and log line — and starts over after a
    /// backoff, instead of dying while still reporting itself connected.
    void spawn_supervisor(bool backoff_first) {
        auto self = this->shared_from_this();
        net::co_spawn(ex_, supervisor(self, backoff_first), [self](std::exception_ptr e) {
            if (!e || self->stopping_) return;
            std::string what = "unknown exception";
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                what = x.what();
            } catch (...) {
            }
            ++self->failures_;
            self->stats_.reconnects.add();
            self->fail_with(core::down_cause::lost, "internal error, reconnecting: " + what);
            if (self->up_)
                self->set_down();
            else
                self->health_down();
            if (self->cur_) self->cur_->close();
            if (self->next_) self->next_->close();
            self->next_.reset();
            self->rotating_ = self->swap_ready_ = false;
            self->spawn_supervisor(true);
        });
    }

    void reconfigure(session_options o) override {
        auto self = this->shared_from_this();
        net::post(ex_, [self, o = std::move(o)]() mutable {
            auto url = parse_ws_url(o.url);
            if (!url || url->tls != Tls || o.kind != self->o_.kind) {
                self->fail_with(core::down_cause::lost,
                                "reload: '" + o.url + "' needs another session: not applied");
                return;
            }
            o.on_failure = std::move(self->o_.on_failure);
            self->o_ = std::move(o);
            self->url_ = std::move(*url);
            self->subscribes_ = subscribe_messages(self->o_);
            // The watchdog rotates onto a successor with these options (at once when down:
            // the next attempt uses them).
            self->reconfigured_ = true;
        });
    }

    void stop() override {
        auto self = this->shared_from_this();
        net::post(ex_, [self] {
            self->stopping_ = true;
            self->backoff_timer_.cancel();
            self->watchdog_.cancel();
            if (self->cur_) self->cur_->close();
            if (self->next_) self->next_->close();
        });
    }

    [[nodiscard]] const feed_stats& stats() const noexcept override { return stats_; }
    [[nodiscard]] const session_options& options() const noexcept override { return o_; }

  private:
    // ---------------------------------------------------------------- health
    void health(core::health_kind k, std::uint64_t value,
                core::instrument_id inst = core::k_no_instrument,
                core::down_cause cause = core::down_cause::none) {
        core::health_event e;
        e.kind = k;
        e.at = core::realtime_now();
        e.value = value;
        e.inst = inst;
        e.cause = cause;
        sink_.on_health(feed_, e);
    }

    void set_up() {
        if (up_) return;
        up_ = true;
        stats_.connected.set(true);
        health(core::health_kind::up, stats_.connects.value());
    }

    void set_down() {
        if (!up_) return;
        up_ = false;
        stats_.connected.set(false);
        health_down();
    }

    void health_down() {
        health(core::health_kind::down, failures_, core::k_no_instrument, last_cause_);
    }

    /// Records why the feed is failing (before the down event that reports it).
    void fail_with(core::down_cause cause, std::string text) {
        last_cause_ = cause;
        session_failure f{cause, std::move(text), core::realtime_now()};
        if (o_.on_failure) o_.on_failure(f);
        std::lock_guard lock(failure_mu_);
        failure_ = std::move(f);
    }

  public:
    [[nodiscard]] std::string_view first_ignored() const noexcept override {
        return pipeline_.first_ignored();
    }
    [[nodiscard]] session_failure last_failure() const override {
        std::lock_guard lock(failure_mu_);
        return failure_;
    }

  private:
    // ---------------------------------------------------------------- frames
    void on_frame(connection& c, const char* data, std::size_t len, std::size_t capacity,
                  core::nanos recv) {
        const frame_pipeline::outcome o = pipeline_.handle(data, len, capacity, recv);
        if (!o.data) return;
        last_data_ = recv;
        if (stale_) {
            stale_ = false;
            stats_.stale.set(false);
            health(core::health_kind::fresh, 0);
        }
        if (o.connection_seq != 0) {
            if (c.conn_seq_last != 0 && o.connection_seq > c.conn_seq_last + 1) {
                pipeline_.connection_gap(o.connection_seq - c.conn_seq_last - 1, recv);
            }
            c.conn_seq_last = o.connection_seq;
        }
    }

    // ---------------------------------------------------------------- connecting
    struct open_result {
        bool ok = false;
        unsigned http_status = 0;
        core::nanos retry_after = 0;
        core::down_cause cause = core::down_cause::none;
        std::string error;
    };

    static core::down_cause connect_cause(const beast::error_code& ec) {
        if (ec == net::error::connection_refused) return core::down_cause::refused;
        if (ec == beast::error::timeout || ec == net::error::timed_out)
            return core::down_cause::timeout;
        return core::down_cause::lost;
    }

    awaitable<open_result> open(conn_ptr c) {
        open_result res;
        tcp::resolver resolver(ex_);
        auto [rec, endpoints] =
            co_await resolver.async_resolve(url_.host, std::to_string(url_.port), k_tuple);
        if (rec) {
            res.error = "resolve " + url_.host + ": " + rec.message();
            res.cause = core::down_cause::dns;
            co_return res;
        }
        auto& tcp_layer = beast::get_lowest_layer(c->ws);
        tcp_layer.expires_after(dur(o_.connect_timeout));
        auto [cec, ep] = co_await tcp_layer.async_connect(endpoints, k_tuple);
        if (cec) {
            res.error =
                "connect " + url_.host + ":" + std::to_string(url_.port) + ": " + cec.message();
            res.cause = connect_cause(cec);
            co_return res;
        }
        (void)ep;
        beast::error_code nec;
        tcp_layer.socket().set_option(tcp::no_delay(true),
                                      nec); // pings and subscribes go out at once
        if constexpr (Tls) {
            auto& ssl = c->ws.next_layer();
            // SNI (what SSL_set_tlsext_host_name expands to, without its C-style cast)
            if (SSL_ctrl(ssl.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME,
                         TLSEXT_NAMETYPE_host_name, const_cast<char*>(url_.host.c_str())) != 1) {
                res.error = "TLS: cannot set SNI";
                res.cause = core::down_cause::tls;
                co_return res;
            }
            ssl.set_verify_callback(net::ssl::host_name_verification(url_.host));
            auto [hec] = co_await ssl.async_handshake(net::ssl::stream_base::client, k_tuple);
            if (hec) {
                res.error = "TLS handshake with " + url_.host + ": " + hec.message();
                res.cause = hec == beast::error::timeout ? core::down_cause::timeout
                                                         : core::down_cause::tls;
                co_return res;
            }
        }
        tcp_layer.expires_never();
        websocket::stream_base::timeout to =
            websocket::stream_base::timeout::suggested(beast::role_type::client);
        to.handshake_timeout = dur(o_.connect_timeout);
        c->ws.set_option(to);
        c->ws.read_message_max(std::max<std::size_t>(o_.max_frame * 4, 16u << 20));
        c->ws.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
            req.set(beast::http::field::user_agent, "seismo/" + std::string(core::version()));
        }));
        websocket::response_type response;
        auto [wec] =
            co_await c->ws.async_handshake(response, url_.host_header(), url_.target, k_tuple);
        if (wec) {
            res.http_status = response.result_int();
            if (const auto ra = response.find(beast::http::field::retry_after);
                ra != response.end()) {
                core::nanos s = 0;
                const auto v = ra->value();
                for (char ch : v) {
                    if (ch < '0' || ch > '9') break;
                    s = s * 10 + (ch - '0');
                }
                res.retry_after = s * k_s;
            }
            res.error = "WebSocket handshake: " + wec.message();
            res.cause =
                wec == beast::error::timeout ? core::down_cause::timeout : core::down_cause::lost;
            if (res.http_status != 0) {
                // The venue's own words: the status and the start of its body.
                res.cause = core::down_cause::http;
                res.error = "HTTP " + std::to_string(res.http_status) + " " +
                            std::string(response.reason());
                std::string body = response.body().substr(0, 200);
                std::replace_if(
                    body.begin(), body.end(),
                    [](char ch) { return static_cast<unsigned char>(ch) < 0x20; }, ' ');
                if (!body.empty()) res.error += ": " + body;
            }
            co_return res;
        }
        c->ws.text(true);
        for (const auto& m : subscribes_) {
            auto [sec, n] = co_await c->ws.async_write(net::buffer(m), k_tuple);
            (void)n;
            if (sec) {
                res.error = "subscribe: " + sec.message();
                res.cause = core::down_cause::lost;
                co_return res;
            }
        }
        c->opened_at = core::monotonic_now();
        res.ok = true;
        co_return res;
    }

    /// Reads frames until the connection fails or is closed.
    awaitable<beast::error_code> read_loop(conn_ptr c) {
        for (;;) {
            auto [ec, n] = co_await c->ws.async_read(c->buf, k_tuple);
            (void)n;
            if (ec) co_return ec;
            const core::nanos recv = core::realtime_now();
            c->buf.prepare(k_padding); // readable padding past the frame for simdjson
            const auto data = c->buf.cdata();
            on_frame(*c, static_cast<const char*>(data.data()), data.size(),
                     data.size() + k_padding, recv);
            c->buf.consume(c->buf.size());
            if (swap_ready_ && next_ && c == cur_) co_return beast::error_code{}; // rotation
        }
    }

    /// Why a read loop ended: the venue's close frame (code and reason), or the error.
    void note_read_failure(connection& c, const beast::error_code& ec) {
        if (last_cause_ == core::down_cause::no_data && c.closed) return; // the watchdog's
        if (ec == websocket::error::closed) {
            const auto& cr = c.ws.reason();
            std::string text = "closed by the venue: " + std::to_string(cr.code);
            if (!cr.reason.empty()) text += " " + std::string(cr.reason.c_str()).substr(0, 200);
            fail_with(core::down_cause::closed, std::move(text));
        } else {
            fail_with(ec == beast::error::timeout ? core::down_cause::timeout
                                                  : core::down_cause::lost,
                      "connection lost: " + ec.message());
        }
    }

    awaitable<void> keepalive(std::shared_ptr<session_impl> keep, conn_ptr c) {
        net::steady_timer timer(ex_);
        const venue_info& vi = info(o_.kind);
        const core::nanos every =
            o_.keepalive_interval > 0 ? o_.keepalive_interval : vi.keepalive_every;
        for (;;) {
            timer.expires_after(dur(every));
            auto [tec] = co_await timer.async_wait(k_tuple);
            if (tec || c->closed || stopping_) co_return;
            beast::error_code ec;
            if (vi.keepalive == keepalive_kind::text) {
                std::tie(ec, std::ignore) =
                    co_await c->ws.async_write(net::buffer(vi.keepalive_text), k_tuple);
            } else {
                std::tie(ec) = co_await c->ws.async_ping({}, k_tuple);
            }
            if (ec) co_return;
        }
        (void)keep;
    }

    core::nanos backoff_delay(const open_result* failed) {
        const unsigned k =
            static_cast<unsigned>(std::min<std::uint64_t>(failures_ == 0 ? 0 : failures_ - 1, 30));
        core::nanos d =
            std::min<core::nanos>(o_.backoff_max, o_.backoff_initial << std::min(k, 20u));
        d = std::uniform_int_distribution<core::nanos>(d / 2, d)(rng_); // jitter
        if (failed != nullptr && (failed->http_status == 429 || failed->http_status == 418)) {
            d = std::max({d, o_.backoff_rate_limited, failed->retry_after});
        }
        return d;
    }

    awaitable<void> supervisor(std::shared_ptr<session_impl> keep, bool backoff_first) {
        bool first = true;
        if (backoff_first) {
            backoff_timer_.expires_after(dur(backoff_delay(nullptr)));
            co_await backoff_timer_.async_wait(k_tuple);
        }
        while (!stopping_) {
            if (!first) stats_.reconnects.add();
            first = false;
            auto c = std::make_shared<connection>(ex_, tls_);
            cur_ = c;
            const open_result r = co_await open(c);
            if (stopping_) break;
            if (!r.ok) {
                ++failures_;
                fail_with(r.cause, r.error);
                if (up_)
                    set_down();
                else if (failures_ == 1)
                    health_down();
                backoff_timer_.expires_after(dur(backoff_delay(&r)));
                co_await backoff_timer_.async_wait(k_tuple);
                continue;
            }
            stats_.connects.add();
            connected_at_ = core::realtime_now();
            reconfigured_ = false; // this connection was opened with the current options
            const std::uint64_t frames_before =
                stats_.frames[static_cast<std::size_t>(frame_outcome::data)].value();
            set_up();
            net::co_spawn(ex_, keepalive(keep, c), net::detached);
            // Serve this connection and, after rotations, its successors.
            for (;;) {
                const beast::error_code rec = co_await read_loop(cur_);
                if (rec && !stopping_ && !(swap_ready_ && next_)) note_read_failure(*cur_, rec);
                if (swap_ready_ && next_ && !stopping_) {
                    // make-before-break: the successor has been subscribed for the overlap
                    swap_ready_ = false;
                    cur_->close();
                    cur_ = std::move(next_);
                    rotating_ = false;
                    stats_.rotations.add();
                    net::co_spawn(ex_, keepalive(keep, cur_), net::detached);
                    continue;
                }
                break;
            }
            cur_->close();
            if (next_) next_->close();
            next_.reset();
            rotating_ = swap_ready_ = false;
            if (stopping_) break;
            if (stats_.frames[static_cast<std::size_t>(frame_outcome::data)].value() >
                frames_before)
                failures_ = 0;
            ++failures_;
            set_down();
            backoff_timer_.expires_after(dur(backoff_delay(nullptr)));
            co_await backoff_timer_.async_wait(k_tuple);
        }
        // Stopped on purpose: not an outage, so no `down` event (a stopping engine would
        // otherwise publish a critical feed_health trigger, or not, depending on timing).
        up_ = false;
        stats_.connected.set(false);
        if (cur_) cur_->close();
    }

    /// Opens the successor connection; once it has been subscribed for `overlap`, asks the
    /// read loop to switch over (frames arriving on both meanwhile are deduplicated by seq).
    awaitable<void> rotate(std::shared_ptr<session_impl> keep, conn_ptr old) {
        auto c = std::make_shared<connection>(ex_, tls_);
        next_ = c;
        const open_result r = co_await open(c);
        if (!r.ok || stopping_ || cur_ != old) {
            if (next_ == c) next_.reset();
            c->close();
            rotating_ = false;
            rotation_retry_at_ = core::monotonic_now() + 60 * k_s;
            co_return;
        }
        net::steady_timer t(ex_);
        t.expires_after(
            std::chrono::seconds(2)); // overlap: the successor buffers, we keep reading the old one
        co_await t.async_wait(k_tuple);
        if (stopping_ || cur_ != old || next_ != c) co_return;
        swap_ready_ = true;
        // Wake the old read loop (it may be idle): closing it ends its read at once.
        old->close();
        (void)keep;
    }

    awaitable<void> watchdog(std::shared_ptr<session_impl> keep) {
        const core::nanos tick = std::clamp<core::nanos>(o_.stale_after / 4, 10'000'000, k_s);
        while (!stopping_) {
            watchdog_.expires_after(dur(tick));
            auto [ec] = co_await watchdog_.async_wait(k_tuple);
            if (ec || stopping_) break;
            if (!up_ || !cur_) continue;
            const core::nanos now = core::realtime_now();
            const core::nanos since = now - std::max(last_data_, connected_at_);
            if (!stale_ && since > o_.stale_after) {
                stale_ = true;
                stats_.stale.set(true);
                health(core::health_kind::stale, static_cast<std::uint64_t>(since / 1'000'000));
            }
            if (since > 2 * o_.stale_after && !swap_ready_) {
                // Nothing for twice stale_after: the connection (or its subscription) is dead.
                fail_with(core::down_cause::no_data,
                          "no data for " + std::to_string(since / 1'000'000) +
                              " ms (twice stale_after): connection closed");
                cur_->close();
                continue;
            }
            if (reconfigured_ && !rotating_ && !swap_ready_) {
                reconfigured_ = false; // a reload's new options: rotate onto them now
                rotating_ = true;
                net::co_spawn(ex_, rotate(keep, cur_), net::detached);
            } else if (o_.max_connection_age > 0 && !rotating_ && !swap_ready_ &&
                       core::monotonic_now() - cur_->opened_at > o_.max_connection_age &&
                       core::monotonic_now() >= rotation_retry_at_) {
                rotating_ = true;
                net::co_spawn(ex_, rotate(keep, cur_), net::detached);
            }
        }
    }

    net::io_context::executor_type ex_; // the io_context is run by one thread: no strand needed
    net::ssl::context& tls_;
    session_options o_;
    ws_url url_;
    feed_stats stats_; // before pipeline_, which counts into it
    frame_pipeline pipeline_;
    frame_sink& sink_;
    std::uint16_t feed_;
    std::vector<std::string> subscribes_;
    net::steady_timer backoff_timer_;
    net::steady_timer watchdog_;
    std::mt19937_64 rng_;
    conn_ptr cur_, next_;
    bool stopping_ = false;
    bool up_ = false;
    bool stale_ = false;
    bool rotating_ = false;
    bool swap_ready_ = false;
    bool reconfigured_ = false; // reconfigure() gave new options: rotate onto them
    core::nanos rotation_retry_at_ = 0;
    core::nanos last_data_ = 0;
    core::nanos connected_at_ = 0;
    std::uint64_t failures_ = 0;
    core::down_cause last_cause_ = core::down_cause::none; // the session thread's
    mutable std::mutex failure_mu_;
    session_failure failure_;
};

} // namespace

std::shared_ptr<ws_session> ws_session::create(net::io_context& io, net::ssl::context& tls,
                                               session_options opts,
                                               core::instrument_registry& registry,
                                               frame_sink& sink, std::uint16_t feed_id) {
    auto url = parse_ws_url(opts.url);
    if (!url) throw std::invalid_argument("feed '" + opts.name + "': bad URL '" + opts.url + "'");
    if (url->tls) {
        return std::make_shared<session_impl<true>>(io, tls, std::move(opts), std::move(*url),
                                                    registry, sink, feed_id);
    }
    return std::make_shared<session_impl<false>>(io, tls, std::move(opts), std::move(*url),
                                                 registry, sink, feed_id);
}

} // namespace seismo::feeds::live
