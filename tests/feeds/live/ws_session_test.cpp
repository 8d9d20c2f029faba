// Fault tests of the live feed session against a local misbehaving server: abrupt closes,
// refused connections, HTTP 429, garbage and oversized frames, duplicates, sequence gaps,
// stalls, TLS verification, make-before-break rotation and per-venue keepalives.
#include "engine/core/time.hpp"
#include "feeds/live/tls.hpp"
#include "feeds/live/ws_session.hpp"
#include "tests/feeds/live/test_feed_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace seismo::feeds::live {
namespace {

using namespace std::chrono_literals;
using seismo::testing::connection_plan;
using seismo::testing::test_feed_server;
constexpr core::nanos k_ms = 1'000'000;

struct recording_sink final : frame_sink {
    using health_event = core::health_event;
    mutable std::mutex mu;
    std::condition_variable cv;
    std::vector<core::tick> ticks;
    std::vector<health_event> health;
    std::vector<reject_reason> rejects;
    std::size_t frames = 0;

    void on_frame_done(std::uint16_t, std::uint32_t, std::string_view, core::nanos) override {
        std::lock_guard l(mu);
        ++frames;
    }
    void on_ticks(std::uint16_t, std::uint32_t, const core::tick* t, std::size_t n) override {
        std::lock_guard l(mu);
        ticks.insert(ticks.end(), t, t + n);
        cv.notify_all();
    }
    void on_health(std::uint16_t, const health_event& e) override {
        std::lock_guard l(mu);
        health.push_back(e);
        cv.notify_all();
    }
    void on_reject(std::uint16_t, std::uint32_t, reject_reason why, std::string_view,
                   std::string_view, core::nanos) override {
        std::lock_guard l(mu);
        rejects.push_back(why);
        cv.notify_all();
    }
    /// Waits until `pred` holds (checked on every sink event and every 20 ms, for conditions on
    /// counters or on the server), or `limit` passes. `pred` runs with the lock held.
    template <class P>
    bool wait(P pred, std::chrono::seconds limit = 30s) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        std::unique_lock l(mu);
        while (!pred()) {
            if (std::chrono::steady_clock::now() >= deadline) return false;
            cv.wait_for(l, 20ms);
        }
        return true;
    }
    /// For use inside wait() predicates, which run with the lock held.
    std::size_t count_locked(core::health_kind k) const {
        return static_cast<std::size_t>(std::count_if(health.begin(), health.end(),
                                                      [k](const auto& e) { return e.kind == k; }));
    }
    std::size_t count(core::health_kind k) const {
        std::lock_guard l(mu);
        return count_locked(k);
    }
    std::size_t count(reject_reason r) const {
        std::lock_guard l(mu);
        return static_cast<std::size_t>(std::count(rejects.begin(), rejects.end(), r));
    }
    std::vector<std::uint64_t> seqs() const {
        std::lock_guard l(mu);
        std::vector<std::uint64_t> s;
        for (const auto& t : ticks)
            s.push_back(t.seq);
        return s;
    }
};

/// Runs sessions on an io_context thread for the test's lifetime.
struct harness {
    boost::asio::io_context io;
    std::unique_ptr<boost::asio::ssl::context> tls;
    core::instrument_registry reg;
    recording_sink sink;
    std::vector<std::shared_ptr<ws_session>> sessions;
    std::thread thread;

    explicit harness(const std::string& ca_file = {}) : tls(make_client_tls(ca_file)) {}
    ~harness() { stop(); }
    std::shared_ptr<ws_session> start(session_options o) {
        auto s = ws_session::create(io, *tls, std::move(o), reg, sink,
                                    static_cast<std::uint16_t>(sessions.size()));
        sessions.push_back(s);
        s->start();
        if (!thread.joinable())
            thread = std::thread([this] {
                auto guard = boost::asio::make_work_guard(io);
                io.run();
            });
        return s;
    }
    void stop() {
        for (auto& s : sessions)
            s->stop();
        io.stop();
        if (thread.joinable()) thread.join();
    }
};

std::string generic(std::uint64_t seq) {
    return R"({"sym":"T","px":)" + std::to_string(100 + seq) + R"(,"seq":)" + std::to_string(seq) +
           "}";
}

std::vector<std::string> generic_range(std::uint64_t from, std::uint64_t to) {
    std::vector<std::string> v;
    for (auto s = from; s <= to; ++s)
        v.push_back(generic(s));
    return v;
}

session_options fast_options(const std::string& url, venue v = venue::generic) {
    session_options o;
    o.name = "test";
    o.kind = v;
    o.url = url;
    o.symbols = {"T"};
    o.stale_after = 400 * k_ms;
    o.backoff_initial = 50 * k_ms;
    o.backoff_max = 200 * k_ms;
    o.backoff_rate_limited = 500 * k_ms;
    o.connect_timeout = 2000 * k_ms;
    o.max_frame = 64 * 1024;
    return o;
}

TEST(session, survives_every_fault_and_applies_each_valid_frame_exactly_once) {
    using act = connection_plan::action;
    using then = connection_plan::after;
    std::vector<connection_plan> plans(7);
    plans[0].frames = generic_range(1, 10);
    plans[0].then = then::close_abruptly;
    plans[1].what = act::refuse;
    plans[2].what = act::refuse;
    plans[3].frames = generic_range(8, 15); // 8..10 again: duplicates
    plans[3].frames.insert(plans[3].frames.begin() + 4, "garbage, not json");
    plans[3].frames.push_back(R"({"sym":"T","px":1,"seq":99,"pad":")" +
                              std::string(70 * 1024, 'x') + "\"}");
    plans[3].frames.push_back(generic(18)); // 16 and 17 never sent: a gap of 2
    plans[3].then = then::stall;            // stall: stale, then cut after 2 x stale_after
    plans[4].what = act::http_429;
    plans[5].frames = generic_range(19, 25);
    plans[5].then = then::close_gracefully;
    plans[6].then = then::stall;
    test_feed_server server(plans);
    harness h;
    auto s = h.start(fast_options(server.url()));

    ASSERT_TRUE(h.sink.wait([&] { return !h.sink.ticks.empty() && h.sink.ticks.back().seq == 25; }))
        << "never received seq 25";
    // every valid frame exactly once, in order
    std::vector<std::uint64_t> want;
    for (std::uint64_t i = 1; i <= 15; ++i)
        want.push_back(i);
    for (std::uint64_t i = 18; i <= 25; ++i)
        want.push_back(i);
    EXPECT_EQ(h.sink.seqs(), want);
    // every bad frame counted with its reason
    EXPECT_EQ(h.sink.count(reject_reason::duplicate), 3u);
    EXPECT_EQ(h.sink.count(reject_reason::malformed), 1u);
    EXPECT_EQ(h.sink.count(reject_reason::oversize), 1u);
    EXPECT_EQ(s->stats().rejected[static_cast<std::size_t>(reject_reason::duplicate)].value(), 3u);
    // health: the gap, the stall, and up/down alternating from "up"
    ASSERT_TRUE(h.sink.wait([&] { return h.sink.count_locked(core::health_kind::fresh) >= 1; }));
    EXPECT_EQ(h.sink.count(core::health_kind::gap), 1u);
    EXPECT_EQ(s->stats().missing.value(), 2u);
    EXPECT_GE(h.sink.count(core::health_kind::stale), 1u);
    {
        std::lock_guard l(h.sink.mu);
        core::health_kind last = core::health_kind::down;
        bool first = true;
        for (const auto& e : h.sink.health) {
            if (e.kind != core::health_kind::up && e.kind != core::health_kind::down) continue;
            if (first)
                EXPECT_EQ(e.kind, core::health_kind::up);
            else
                EXPECT_NE(e.kind, last) << "two " << to_string(e.kind) << " in a row";
            first = false;
            last = e.kind;
        }
        const auto gap =
            std::find_if(h.sink.health.begin(), h.sink.health.end(),
                         [](const auto& e) { return e.kind == core::health_kind::gap; });
        ASSERT_NE(gap, h.sink.health.end());
        EXPECT_EQ(gap->value, 2u);
        EXPECT_EQ(h.reg.info(gap->inst).symbol, "T");
    }
    // it kept reconnecting through refusals, the stall and the 429
    EXPECT_GE(s->stats().reconnects.value(), 5u);
    EXPECT_GE(server.connections(), 6);
    const auto times = server.accept_times();
    ASSERT_GE(times.size(), 6u);
    EXPECT_GE(times[5] - times[4], 450ms) << "HTTP 429 must back off at least backoff_rate_limited";
    // each served connection was subscribed
    const auto rx = server.received();
    EXPECT_GE(
        std::count(rx.begin(), rx.end(), std::string(R"({"op":"subscribe","symbols":["T"]})")), 3);
}

TEST(session, binance_frames_subscribe_and_gap_on_aggregate_trade_ids) {
    auto agg = [](std::uint64_t id) {
        return R"({"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1,"s":"BTCUSDT","a":)" +
               std::to_string(id) +
               R"(,"p":"70000.5","q":"0.1","f":1,"l":1,"T":1770000000000,"m":false}})";
    };
    connection_plan p;
    p.frames = {R"({"result":null,"id":1})", agg(100), agg(101), agg(105), agg(106)};
    test_feed_server server({p});
    harness h;
    session_options o = fast_options(server.url("127.0.0.1", "/stream"), venue::binance);
    o.symbols = {"BTCUSDT"};
    o.stale_after = 5000 * k_ms;
    auto s = h.start(o);
    ASSERT_TRUE(h.sink.wait([&] { return h.sink.ticks.size() == 4; }));
    EXPECT_TRUE(h.sink.wait([&] { return h.sink.count_locked(core::health_kind::gap) == 1; }));
    EXPECT_EQ(s->stats().missing.value(), 3u); // 102, 103, 104
    EXPECT_EQ(s->stats().frames[static_cast<std::size_t>(frame_outcome::control)].value(), 1u);
    const auto rx = server.received();
    ASSERT_FALSE(rx.empty());
    EXPECT_EQ(rx[0], R"({"method":"SUBSCRIBE","params":["btcusdt@aggTrade"],"id":1})");
}

TEST(session, wss_verifies_the_certificate_and_its_host_name) {
    const auto id = testing::make_tls_identity("localhost");
    connection_plan p;
    p.frames = generic_range(1, 3);
    test_feed_server server({p}, &id);
    {
        harness h(id.ca_file);
        h.start(fast_options(server.url("localhost")));
        ASSERT_TRUE(h.sink.wait([&] { return h.sink.ticks.size() == 3; }));
    }
    {
        // The certificate says "localhost"; connecting by IP must fail verification.
        harness h(id.ca_file);
        auto s = h.start(fast_options(server.url("127.0.0.1")));
        ASSERT_TRUE(h.sink.wait([&] { return s->stats().reconnects.value() >= 2; }));
        EXPECT_EQ(s->stats().connects.value(), 0u);
        EXPECT_TRUE(h.sink.ticks.empty());
        EXPECT_GE(h.sink.count(core::health_kind::down), 1u);
    }
    {
        // Without the private CA the system store does not trust it.
        harness h;
        auto s = h.start(fast_options(server.url("localhost")));
        ASSERT_TRUE(h.sink.wait([&] { return s->stats().reconnects.value() >= 2; }));
        EXPECT_EQ(s->stats().connects.value(), 0u);
    }
    std::remove(id.ca_file.c_str());
}

// A feed that is down says why: the class travels with the down event (into the trigger and
// the journal), the words — the resolver's, TCP's, TLS's, the venue's HTTP answer or close
// frame — are the session's, and every failed attempt is reported for the log.
TEST(session, a_down_feed_says_why) {
    struct seen {
        std::mutex mu;
        std::vector<session_failure> all;
    };
    auto expect_failure = [](session_options o, core::down_cause cause, const std::string& words,
                             const std::string& ca_file = {}) {
        auto log = std::make_shared<seen>();
        o.on_failure = [log](const session_failure& f) {
            std::lock_guard l(log->mu);
            log->all.push_back(f);
        };
        harness h(ca_file);
        auto s = h.start(o);
        ASSERT_TRUE(h.sink.wait([&] { return s->stats().reconnects.value() >= 2; }))
            << "no second attempt for " << words;
        const session_failure f = s->last_failure();
        EXPECT_EQ(f.cause, cause) << f.text;
        EXPECT_NE(f.text.find(words), std::string::npos) << f.text;
        EXPECT_GT(f.at, 0);
        {
            std::lock_guard l(h.sink.mu);
            const auto down =
                std::find_if(h.sink.health.begin(), h.sink.health.end(),
                             [](const auto& e) { return e.kind == core::health_kind::down; });
            ASSERT_NE(down, h.sink.health.end());
            EXPECT_EQ(down->cause, cause) << "the down event carries the class";
        }
        std::lock_guard l(log->mu);
        EXPECT_GE(log->all.size(), 2u) << "every failed attempt is reported, not only the first";
    };
    expect_failure(fast_options("ws://seismo-test.invalid:9/"), core::down_cause::dns,
                   "resolve seismo-test.invalid");
    {
        // A port nobody listens on: bind one, then let it go.
        boost::asio::io_context io;
        boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
        const auto port = a.local_endpoint().port();
        a.close();
        expect_failure(fast_options("ws://127.0.0.1:" + std::to_string(port) + "/"),
                       core::down_cause::refused, "refused");
    }
    {
        connection_plan p;
        p.what = connection_plan::action::http_429;
        test_feed_server server({p});
        auto o = fast_options(server.url());
        o.backoff_rate_limited = 10 * k_ms;
        expect_failure(o, core::down_cause::http, "HTTP 429 Too Many Requests: slow down");
    }
    {
        const auto id = testing::make_tls_identity("localhost");
        connection_plan p;
        test_feed_server server({p}, &id);
        expect_failure(fast_options(server.url("127.0.0.1")), core::down_cause::tls,
                       "certificate verify failed", id.ca_file);
        std::remove(id.ca_file.c_str());
    }
    {
        connection_plan p;
        p.frames = generic_range(1, 2);
        p.then = connection_plan::after::close_gracefully;
        test_feed_server server({p});
        expect_failure(fast_options(server.url()), core::down_cause::closed,
                       "closed by the venue: 1001 maintenance");
    }
}

TEST(session, a_deliberate_stop_is_not_reported_as_down) {
    connection_plan p;
    test_feed_server server({p});
    server.start_broadcast(generic, 5ms);
    harness h;
    auto s = h.start(fast_options(server.url()));
    ASSERT_TRUE(h.sink.wait([&] { return h.sink.ticks.size() >= 3; }));
    s->stop();
    // The session's stop runs on the I/O thread: wait (with a deadline) until it has let go.
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (s->stats().connected.value()) {
        ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the session never stopped";
        std::this_thread::sleep_for(5ms);
    }
    h.stop();
    EXPECT_EQ(h.sink.count(core::health_kind::up), 1u);
    EXPECT_EQ(h.sink.count(core::health_kind::down), 0u);
}

TEST(session, rotation_is_make_before_break_and_loses_nothing) {
    connection_plan p; // every connection: subscribe, then receive the broadcast
    test_feed_server server({p});
    server.start_broadcast(generic, 5ms);
    harness h;
    session_options o = fast_options(server.url());
    o.stale_after = 2000 * k_ms;
    o.max_connection_age = 700 * k_ms;
    auto s = h.start(o);
    ASSERT_TRUE(h.sink.wait([&] { return s->stats().rotations.value() >= 3; }, 60s));
    const auto seqs = h.sink.seqs();
    ASSERT_GT(seqs.size(), 100u);
    // contiguous and each exactly once across every rotation
    for (std::size_t i = 1; i < seqs.size(); ++i)
        ASSERT_EQ(seqs[i], seqs[i - 1] + 1) << "at " << i;
    EXPECT_EQ(h.sink.count(core::health_kind::gap), 0u);
    EXPECT_EQ(h.sink.count(core::health_kind::down), 0u);
    EXPECT_GT(h.sink.count(reject_reason::duplicate), 0u); // the overlap was real
    EXPECT_GE(server.connections(), 4);
}

TEST(session, venue_keepalives) {
    connection_plan idle; // subscribe, then nothing
    test_feed_server okx({idle}), bybit({idle});
    harness h;
    session_options o = fast_options(okx.url(), venue::okx);
    o.stale_after = 10'000 * k_ms;
    o.keepalive_interval = 200 * k_ms;
    h.start(o);
    o = fast_options(bybit.url(), venue::bybit);
    o.stale_after = 10'000 * k_ms;
    o.keepalive_interval = 200 * k_ms;
    h.start(o);
    auto has = [](const test_feed_server& srv, const std::string& msg) {
        const auto rx = srv.received();
        return std::find(rx.begin(), rx.end(), msg) != rx.end();
    };
    ASSERT_TRUE(
        h.sink.wait([&] { return has(okx, "ping") && has(bybit, R"({"op":"ping"})"); }, 20s));
    EXPECT_TRUE(has(okx, R"({"op":"subscribe","args":[{"channel":"trades","instId":"T"}]})"));
    EXPECT_TRUE(has(bybit, R"({"op":"subscribe","args":["publicTrade.T"]})"));
}

TEST(session, subscribe_messages_per_venue) {
    session_options o;
    o.symbols = {"BTC-USD", "ETH-USD"};
    o.kind = venue::coinbase;
    o.url = "wss://ws-feed.exchange.coinbase.com";
    EXPECT_EQ(
        subscribe_messages(o)[0],
        R"({"type":"subscribe","product_ids":["BTC-USD","ETH-USD"],"channels":["matches","heartbeat"]})");
    o.url = "wss://advanced-trade-ws.coinbase.com";
    const auto adv = subscribe_messages(o);
    ASSERT_EQ(adv.size(), 2u);
    EXPECT_EQ(adv[1],
              R"({"type":"subscribe","product_ids":["BTC-USD","ETH-USD"],"channel":"heartbeats"})");
    o.kind = venue::kraken;
    o.symbols = {"XBT/USD"};
    o.url = "wss://ws.kraken.com";
    EXPECT_EQ(subscribe_messages(o)[0],
              R"({"event":"subscribe","pair":["XBT/USD"],"subscription":{"name":"trade"}})");
    o.url = "wss://ws.kraken.com/v2";
    EXPECT_EQ(subscribe_messages(o)[0],
              R"({"method":"subscribe","params":{"channel":"trade","symbol":["XBT/USD"]}})");
    o.kind = venue::binance;
    o.symbols = {"BTCUSDT"};
    o.channels = {"aggTrade", "bookTicker"};
    EXPECT_EQ(
        subscribe_messages(o)[0],
        R"({"method":"SUBSCRIBE","params":["btcusdt@aggTrade","btcusdt@bookTicker"],"id":1})");
}

} // namespace
} // namespace seismo::feeds::live
