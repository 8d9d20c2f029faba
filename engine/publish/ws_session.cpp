// A /v1/stream subscriber's session (DESIGN §6), after the upgrade: reads client frames
// through ws_codec's parser, answers ops (client_op.hpp), takes deliveries from the hub into a
// bounded queue, and writes its own frames and shared trigger frames with gather writes. The
// session runs on its io_context's one thread, where the hub calls offer()/wake_now().
#include "engine/core/json_writer.hpp"
#include "engine/core/string_map.hpp"
#include "engine/publish/client_op.hpp"
#include "engine/publish/server_impl.hpp"
#include "engine/publish/ws_codec.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <array>
#include <deque>
#include <span>
#include <sys/socket.h>
#include <sys/uio.h>
#include <type_traits>

namespace seismo::publish::detail {
namespace {

constexpr auto k_tuple = net::as_tuple(net::use_awaitable);
/// Frames per write (one gather send): a subscriber that fell behind catches up with a few
/// large writes rather than many small ones (the kernel's cost is per send, not per byte).
constexpr std::size_t k_write_batch = 256;
/// Of which our own frames (pongs, errors, snapshots): fewer, so that replies a client does not
/// read stay counted as waiting (own_waiting) while a write is stalled, and it is cut off.
constexpr std::size_t k_own_batch = 64;

/// The io_context behind a socket's executor (every executor here is one).
net::io_context& context_of(const net::any_io_executor& ex) {
    return static_cast<net::io_context&>(net::query(ex, net::execution::context));
}

template <class Stream>
class pubsub_session final : public hub_subscriber,
                             public std::enable_shared_from_this<pubsub_session<Stream>> {
    using awaitable_void = net::awaitable<void>;

  public:
    pubsub_session(std::shared_ptr<server::impl> srv, Stream stream,
                   std::vector<std::string> allowed)
        : srv_(std::move(srv)), stream_(std::move(stream)),
          home_(context_of(beast::get_lowest_layer(stream_).get_executor())),
          parser_(srv_->opts.max_message_bytes), allowed_(std::move(allowed)),
          idle_timer_(stream_.get_executor()), drain_timer_(stream_.get_executor()),
          last_rx_(clock::now()), rate_at_(last_rx_),
          rate_tokens_(static_cast<double>(srv_->opts.client_rate)) {}

    // hub_subscriber (on the session's own thread)
    std::size_t offer(std::span<const message_ptr> batch) override {
        std::size_t took = 0;
        bool overflowed = false;
        {
            std::lock_guard lock(qmu_);
            if (overflow_) return 0;
            for (const auto& m : batch) {
                if (!wants(*m, patterns_)) continue;
                if (queue_.size() >= srv_->opts.session_queue) {
                    overflow_ = overflowed = true;
                    break;
                }
                queue_.push_back(m);
                ++took;
            }
        }
        if (overflowed) on_overflow(); // what is queued is dropped, the close frame goes out
        return took;
    }
    [[nodiscard]] net::io_context& home() const override { return home_; }
    void wake_now() override {
        bool overflow = false;
        {
            std::lock_guard lock(qmu_);
            overflow = overflow_;
        }
        if (overflow)
            on_overflow();
        else
            kick();
    }

    awaitable_void run(std::shared_ptr<pubsub_session> keep, std::string leftover) {
        // Released on every way out, an exception included (the session's place under
        // max_connections is run_pubsub's session_slot, given back when this returns).
        struct release {
            pubsub_session* s;
            ~release() {
                s->idle_timer_.cancel();
                s->drain_timer_.cancel();
                s->srv_->trigger_hub.remove(s);
            }
        } released{this};
        if (srv_->opts.idle_timeout.count() > 0)
            net::co_spawn(stream_.get_executor(), idle_watch(keep), net::detached);
        if (!leftover.empty()) parser_.feed(leftover.data(), leftover.size());
        co_await handle_messages();
        std::array<char, 16 * 1024> buf{};
        while (!closing_) {
            // Back-pressure: while k_max_own replies wait unwritten, read no more requests (the
            // client's own sends then stall in TCP); one that still has not read them after
            // k_unread_grace does not read at all, and is cut off.
            if (!draining_ && own_waiting() >= k_max_own) {
                drain_timer_.expires_after(k_unread_grace);
                (void)co_await drain_timer_.async_wait(k_tuple);
                if (closing_) break;
                if (own_waiting() >= k_max_own) {
                    cut_off_unread();
                    draining_ = true;
                }
                continue;
            }
            auto [ec, n] = co_await stream_.async_read_some(net::buffer(buf), k_tuple);
            if (ec) break;
            // After our close frame, what the peer still sends is read and dropped until it
            // closes (or the cut timer does): closing a socket with unread bytes sends a reset,
            // which can destroy the close frame in flight.
            if (draining_ || closing_after_write_) continue;
            last_rx_ = clock::now();
            parser_.feed(buf.data(), n);
            co_await handle_messages();
        }
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
    using clock = std::chrono::steady_clock;

    /// A client silent for idle_timeout is closed; at half of it the server pings (browsers
    /// and WebSocket libraries answer pings by themselves, so a live client stays). The client
    /// always has half of it to answer: the watch wakes every quarter, so a ping can go out up
    /// to a quarter late, and a busy host must not turn that into a client cut off for a pong
    /// it had too little time to send.
    awaitable_void idle_watch(std::shared_ptr<pubsub_session> keep) {
        const auto timeout = srv_->opts.idle_timeout;
        const auto half = timeout / 2;
        bool pinged = false;
        clock::time_point pinged_at{};
        while (!closing_ && !dead_) {
            idle_timer_.expires_after(std::chrono::duration_cast<clock::duration>(half / 2));
            auto [ec] = co_await idle_timer_.async_wait(k_tuple);
            if (ec || closing_ || dead_) break;
            const auto now = clock::now();
            const auto quiet = now - last_rx_;
            if (quiet >= timeout && pinged && now - pinged_at >= half) {
                fail(drop_reason::idle, 1008,
                     "idle: nothing received, not even a pong, in " +
                         std::to_string(
                             std::chrono::duration_cast<std::chrono::milliseconds>(timeout)
                                 .count()) +
                         " ms");
                cut_soon();
                break;
            }
            if (quiet < half) {
                pinged = false;
            } else if (!pinged) {
                std::string f;
                ws::append_frame(f, ws::opcode::ping, "seismo");
                send_own(std::move(f));
                pinged = true;
                pinged_at = now;
            }
        }
        (void)keep;
    }

    /// One inbound message against the client's rate (a token bucket of client_rate per
    /// second, as many in a burst); false when it is over.
    bool admit() {
        const double rate = srv_->opts.client_rate;
        if (rate <= 0) return true;
        const auto now = clock::now();
        rate_tokens_ = std::min(
            rate, rate_tokens_ + rate * std::chrono::duration<double>(now - rate_at_).count());
        rate_at_ = now;
        if (rate_tokens_ < 1) return false;
        rate_tokens_ -= 1;
        return true;
    }

    /// A subscription: a topic glob and the least severity it wants.
    struct pattern {
        std::string glob;
        std::uint8_t min_severity = 0;
        std::uint64_t after = 0; ///< the last seq published when it was added (the snapshot's)
        [[nodiscard]] bool wants(const message& m) const noexcept {
            return m.seq > after && m.severity >= min_severity && topic_matches(glob, m);
        }
    };

    [[nodiscard]] bool allowed_topic(const message& m) const { return topic_visible(allowed_, m); }
    /// Whether this session takes `m` under `ps` (its patterns, or ones being added).
    [[nodiscard]] bool wants(const message& m, const std::vector<pattern>& ps) const {
        if (!allowed_topic(m)) return false;
        for (const auto& p : ps) {
            if (p.wants(m)) return true;
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

    /// Queues a frame of our own. Bounded: the read loop stops reading while k_max_own wait
    /// (back-pressure), so at most one read's worth of requests more can be answered; past
    /// k_max_own_hard the client is cut off at once.
    void send_own(std::string frame, bool closing_frame = false) {
        bool over = false;
        {
            std::lock_guard lock(qmu_);
            if (closing_after_write_ && !closing_frame) return; // closing: nothing more to say
            if (own_.size() >= k_max_own_hard && !closing_frame) {
                over = true;
            } else {
                own_.push_back(std::move(frame));
            }
        }
        if (over) {
            cut_off_unread();
            return;
        }
        kick(true);
    }
    std::size_t own_waiting() {
        std::lock_guard lock(qmu_);
        return own_.size();
    }
    /// The client asks without reading the answers: drop what waits, say why, cut it off.
    void cut_off_unread() {
        {
            std::lock_guard lock(qmu_);
            own_.clear();
        }
        fail(drop_reason::unread_replies, 1008,
             "more than " + std::to_string(k_max_own) +
                 " replies unread: read what the server sends");
        cut_soon();
    }
    void send_error(std::string_view code, std::string_view msg) {
        srv_->stats.client_errors.fetch_add(1, std::memory_order_relaxed);
        send_own(text_frame(error_json(code, msg)));
    }
    /// Something the client should know that refuses nothing (an unknown topic, a since
    /// ahead of this run): `{"type":"warning","code":…,"message":…}`.
    void send_warning(std::string_view code, std::string_view msg) {
        send_own(text_frame(notice_json("warning", code, msg)));
    }
    void fail(drop_reason why, std::uint16_t code, std::string_view reason) {
        if (closing_after_write_) return;
        srv_->stats.dropped[static_cast<std::size_t>(why)].fetch_add(1, std::memory_order_relaxed);
        std::string f;
        ws::append_frame(f, ws::opcode::close, ws::close_payload(code, reason));
        closing_after_write_ = true;
        send_own(std::move(f), true);
    }

    awaitable_void handle_messages() {
        ws::frame_parser::message m;
        while (!closing_after_write_ && parser_.next(m)) {
            if (!admit()) {
                fail(drop_reason::rate_limited, 1008,
                     "more than " + std::to_string(srv_->opts.client_rate) +
                         " messages a second ([server] client_rate)");
                cut_soon();
                co_return;
            }
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
                send_own(std::move(f), true);
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
                                                  std::to_string(srv_->opts.max_message_bytes) +
                                                  " bytes");
            }
            fail(big ? drop_reason::message_too_big : drop_reason::protocol_error,
                 parser_.close_code(), ws::to_string(parser_.failure()));
        }
        co_return;
    }

    void on_text(std::string_view text) {
        {
            // Every op is answered (snapshot, pong, error): one that finds k_max_own_hard
            // answers still unwritten comes from a client that does not read, and is the last.
            std::unique_lock lock(qmu_);
            if (own_.size() >= k_max_own_hard && !closing_after_write_) {
                lock.unlock();
                cut_off_unread();
                return;
            }
        }
        client_op op;
        client_error err;
        if (!ops_.parse(text, op, err)) {
            send_error(err.code, err.message);
            return;
        }
        switch (op.kind) {
        case client_op_kind::ping:
            send_own(text_frame(R"({"type":"pong"})"));
            break;
        case client_op_kind::subscribe:
            subscribe(op.topics, op.since, op.min_severity);
            break;
        case client_op_kind::unsubscribe:
            unsubscribe(op.topics);
            break;
        }
    }

    void subscribe(const std::vector<std::string>& topics, std::optional<std::uint64_t> since,
                   std::uint8_t min_severity) {
        for (const auto& t : topics) {
            if (!pattern_allowed(t)) {
                send_error("forbidden",
                           "this token may not subscribe to '" + t.substr(0, 64) + "'");
                return;
            }
        }
        // New patterns, and known ones whose least severity changes (re-subscribing to a
        // pattern replaces its min_severity).
        std::vector<pattern> fresh;
        std::size_t added = 0;
        for (const auto& t : topics) {
            const bool known = std::any_of(patterns_.begin(), patterns_.end(), [&](const auto& p) {
                return p.glob == t && p.min_severity == min_severity;
            });
            const bool listed =
                std::any_of(fresh.begin(), fresh.end(), [&](const auto& p) { return p.glob == t; });
            if (known || listed) continue;
            fresh.push_back({t, min_severity});
            added += std::none_of(patterns_.begin(), patterns_.end(),
                                  [&](const auto& p) { return p.glob == t; });
        }
        if (patterns_.size() + added > srv_->opts.max_subscriptions) {
            send_error("too_many_subscriptions", "at most " +
                                                     std::to_string(srv_->opts.max_subscriptions) +
                                                     " topic patterns per connection");
            return;
        }
        for (const auto& p : fresh) {
            if (!names_a_topic(p.glob)) {
                send_warning("unknown_topic",
                             "no signal matches '" + p.glob.substr(0, 64) +
                                 "' now (subscribed: it delivers if a reload adds one)");
            }
        }
        auto self = this->shared_from_this();
        auto matches = [this, &fresh](const message& m) { return wants(m, fresh); };
        srv_->trigger_hub.subscribe(self, matches, since, [&](hub::subscription& sub) {
            // Under the hub lock, atomic with publish(): the snapshot and replay are queued
            // here, and each new pattern delivers only what is published after them.
            for (auto& p : fresh) {
                // A pattern re-subscribed with another severity keeps delivering what was
                // published before; a new one starts after the snapshot.
                p.after = sub.last_seq;
                for (const auto& q : patterns_) {
                    if (q.glob == p.glob) p.after = q.after;
                }
                std::erase_if(patterns_, [&](const auto& q) { return q.glob == p.glob; });
                patterns_.push_back(p);
            }
            std::string snap = R"({"type":"snapshot","epoch":)";
            core::append_json_string(snap, srv_->opts.epoch);
            snap += R"(,"last_seq":)";
            core::append_uint(snap, sub.last_seq);
            snap += R"(,"active":[)";
            for (std::size_t i = 0; i < sub.active.size(); ++i) {
                if (i != 0) snap += ',';
                snap += sub.active[i]->json();
            }
            snap += "]}";
            std::lock_guard lock(qmu_);
            own_.push_back(text_frame(snap));
            if (since && *since > sub.last_seq) {
                own_.push_back(text_frame(
                    notice_json("warning", "since_ahead",
                                "since " + std::to_string(*since) + " is past the last seq " +
                                    std::to_string(sub.last_seq) +
                                    ": a different run (see the snapshot's epoch)?")));
            }
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

    /// Whether some topic that exists now matches the glob (a signal, or feed_health).
    [[nodiscard]] bool names_a_topic(std::string_view glob) const {
        const std::vector<std::string> one{std::string(glob)};
        return std::any_of(srv_->opts.signals.begin(), srv_->opts.signals.end(),
                           [&](const std::string& s) { return signal_visible(one, s); });
    }

    void unsubscribe(const std::vector<std::string>& topics) {
        srv_->trigger_hub.locked([&] {
            std::erase_if(patterns_, [&](const pattern& p) {
                return std::find(topics.begin(), topics.end(), p.glob) != topics.end();
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
             "slow consumer: more than " + std::to_string(srv_->opts.session_queue) +
                 " messages queued");
        cut_soon();
    }

    /// Cuts the connection in 2 s if the close frame cannot be written by then (a peer that
    /// does not read).
    void cut_soon() {
        auto self = this->shared_from_this();
        auto timer = std::make_shared<net::steady_timer>(stream_.get_executor());
        timer->expires_after(std::chrono::seconds(2));
        timer->async_wait([self, timer](beast::error_code) {
            self->closing_ = true;
            self->dead_ = true;
            beast::get_lowest_layer(self->stream_).close();
        });
    }

    /// Starts the writer if it is idle (the session's thread). A delivery's batch is complete
    /// when the hub wakes the session, so its write starts at once; our own frames come one at
    /// a time as the read loop answers a read's requests, so their writer starts after the
    /// handler (`defer`): the answers to one read go out in one write, not one send each.
    void kick(bool defer = false) {
        if (writing_ || dead_) return;
        writing_ = true;
        net::co_spawn(stream_.get_executor(), write_loop(this->shared_from_this(), defer),
                      net::detached);
    }

    awaitable_void write_loop(std::shared_ptr<pubsub_session> keep, bool defer) {
        if (defer) co_await net::post(stream_.get_executor(), net::use_awaitable);
        // The session's own vectors, kept between writes (one writer at a time: writing_), so
        // a write allocates nothing once they have grown to a batch.
        std::vector<message_ptr>& batch = wbatch_;
        std::vector<std::string>& own = wown_;
        std::vector<net::const_buffer>& bufs = wbufs_;
        for (;;) {
            batch.clear();
            own.clear();
            {
                std::lock_guard lock(qmu_);
                // Our own frames go first (snapshot before replay, pongs and errors promptly).
                while (!own_.empty() && own.size() < k_own_batch) {
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
            if (!batch.empty())
                srv_->stats.subscriber_writes.fetch_add(1, std::memory_order_relaxed);
            // The usual case, a subscriber that keeps up: one gather send straight to the
            // socket takes it all, with no asynchronous operation; what the socket does not
            // take now (or TLS, which must encrypt) goes through async_write.
            std::size_t sent = 0;
            if constexpr (std::is_same_v<Stream, plain_stream>) sent = send_now(bufs);
            beast::error_code ec;
            if (sent < net::buffer_size(bufs)) {
                beast::buffers_suffix<std::vector<net::const_buffer>> rest(bufs);
                rest.consume(sent);
                auto [wec, n] = co_await net::async_write(stream_, rest, k_tuple);
                (void)n;
                ec = wec;
            }
            if (ec) {
                dead_ = true;
                break;
            }
            if (closing_after_write_ && own_drained()) {
                // Our close frame is out: no more writes; the read loop drains what the peer
                // still sends until it closes, or the cut timer closes in 2 s.
                dead_ = true;
                draining_ = true;
                beast::error_code ignored;
                beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_send,
                                                                   ignored);
                cut_soon();
                break;
            }
            if (own_waiting() < k_max_own / 2) drain_timer_.cancel(); // the read loop may go on
        }
        batch.clear(); // the frames are not held past the write
        own.clear();
        writing_ = false;
        (void)keep;
    }

    /// One non-blocking gather send of `bufs` (at most k_write_batch of them) on the socket;
    /// the bytes it took (0 if none, or on an error, which async_write then reports).
    std::size_t send_now(const std::vector<net::const_buffer>& bufs) {
        std::array<iovec, k_write_batch> iov;
        const std::size_t n = std::min(bufs.size(), iov.size());
        for (std::size_t i = 0; i < n; ++i) {
            iov[i].iov_base = const_cast<void*>(bufs[i].data());
            iov[i].iov_len = bufs[i].size();
        }
        msghdr msg{};
        msg.msg_iov = iov.data();
        msg.msg_iovlen = n;
        const int fd = beast::get_lowest_layer(stream_).socket().native_handle();
        const ssize_t r = ::sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
        return r > 0 ? static_cast<std::size_t>(r) : 0;
    }

    bool own_drained() {
        std::lock_guard lock(qmu_);
        return own_.empty();
    }

    std::shared_ptr<server::impl> srv_;
    Stream stream_;
    net::io_context& home_; // the io_context (and so the thread) the session runs on
    ws::frame_parser parser_;
    client_op_parser ops_;
    std::vector<std::string> allowed_;
    std::vector<pattern> patterns_; // the session thread's (changed under the hub lock)
    /// Own frames (pongs, errors, snapshots) waiting unwritten at which reading stops, and for
    /// how long before a client that never reads is cut off.
    static constexpr std::size_t k_max_own = 256;
    static constexpr auto k_unread_grace = std::chrono::seconds(5);
    /// The most own frames may reach (one read of tiny pings past k_max_own): then cut at once.
    static constexpr std::size_t k_max_own_hard = 8192;
    std::mutex qmu_;
    std::deque<message_ptr> queue_;
    std::deque<std::string> own_;
    std::vector<message_ptr> wbatch_;      ///< write_loop's: the triggers of one write
    std::vector<std::string> wown_;        ///< write_loop's: our own frames of one write
    std::vector<net::const_buffer> wbufs_; ///< write_loop's: the gather list
    bool overflow_ = false;
    bool writing_ = false;
    bool dead_ = false;
    bool closing_ = false;
    bool closing_after_write_ = false;
    net::steady_timer idle_timer_;
    net::steady_timer drain_timer_; ///< the read loop waits on it while own_ is full
    bool draining_ = false;         ///< our close frame is out: reads are dropped
    clock::time_point last_rx_;     ///< when the client last sent anything
    clock::time_point rate_at_;     ///< the bucket's last refill
    double rate_tokens_;            ///< messages the client may still send now
};
} // namespace

template <class Stream>
net::awaitable<void> run_pubsub(std::shared_ptr<server::impl> srv,
                                [[maybe_unused]] session_slot slot, Stream stream,
                                std::string leftover, std::vector<std::string> allowed) {
    // `slot` lives in this coroutine's frame: the place is given back when the session's run
    // has ended (or the frame is destroyed unfinished).
    auto session =
        std::make_shared<pubsub_session<Stream>>(srv, std::move(stream), std::move(allowed));
    srv->register_closer(session, [w = std::weak_ptr<pubsub_session<Stream>>(session)] {
        if (auto s = w.lock()) s->close_now();
    });
    co_await session->run(session, std::move(leftover));
}

template net::awaitable<void> run_pubsub<plain_stream>(std::shared_ptr<server::impl>, session_slot,
                                                       plain_stream, std::string,
                                                       std::vector<std::string>);
template net::awaitable<void> run_pubsub<tls_stream>(std::shared_ptr<server::impl>, session_slot,
                                                     tls_stream, std::string,
                                                     std::vector<std::string>);

} // namespace seismo::publish::detail
