// The server's slots on every way out of a connection (hardening): a route whose hook throws
// answers 500 and is counted; whatever else escapes a connection closes it and releases its
// slot, so that throws can never accumulate into a lock-out. Sessions over max_connections are
// refused however many threads take places at once, and a place ended is a place free again.
#include "engine/publish/hub.hpp"
#include "engine/publish/server.hpp"
#include "engine/publish/server_impl.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace seismo::publish {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

/// One request on a fresh connection; the whole answer (the server closes after it).
std::string request(std::uint16_t port, const std::string& path) {
    net::io_context io;
    tcp::socket s(io);
    s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    const std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    net::write(s, net::buffer(req));
    std::string out;
    boost::system::error_code ec;
    net::read(s, net::dynamic_buffer(out), ec); // to EOF (or a reset)
    return out;
}

/// An upgrade to /v1/stream on a socket of its own, kept open; `status` is the answer's status
/// line.
struct upgraded {
    net::io_context io;
    tcp::socket s{io};
    std::string status;
    std::string leftover; ///< bytes read past the answer's head
    /// `rcvbuf`: the socket's receive buffer, set before the connection (0: the kernel's).
    explicit upgraded(std::uint16_t port, int rcvbuf = 0) {
        s.open(tcp::v4());
        if (rcvbuf > 0) s.set_option(net::socket_base::receive_buffer_size(rcvbuf));
        s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
        const std::string req = "GET /v1/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                                "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
        net::write(s, net::buffer(req));
        std::string head;
        boost::system::error_code ec;
        const std::size_t n = net::read_until(s, net::dynamic_buffer(head), "\r\n\r\n", ec);
        status = head.substr(0, head.find("\r\n"));
        if (!ec) leftover = head.substr(n);
    }
};

/// Polls `pred` until it holds or 5 s pass.
template <class F>
bool eventually(F pred) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return pred();
}

TEST(server, a_throwing_hook_answers_500_and_anything_else_releases_the_slot) {
    net::io_context io;
    hub h(16);
    server_options o;
    o.listen = "127.0.0.1:0";
    server_hooks hooks;
    hooks.state = [](const topic_limit&) -> std::string {
        throw std::runtime_error("the state hook failed");
    };
    hooks.metrics = []() -> std::string { throw 42; }; // not a std::exception: escapes the route
    server srv(io, o, h, hooks);
    srv.start();
    auto guard = net::make_work_guard(io);
    std::thread t([&] { io.run(); });

    const std::string a = request(srv.port(), "/v1/state");
    EXPECT_EQ(a.rfind("HTTP/1.1 500", 0), 0u) << a;
    EXPECT_NE(a.find("the state hook failed"), std::string::npos) << a;
    EXPECT_EQ(srv.stats().http_errors.load(), 1u);

    for (int i = 0; i < 200; ++i) {
        const std::string b = request(srv.port(), "/metrics");
        EXPECT_EQ(b, "") << "the connection is closed without an answer";
    }
    EXPECT_TRUE(eventually([&] { return srv.stats().connections.load() == 0; }))
        << srv.stats().connections.load() << " slots still held";
    const std::string c = request(srv.port(), "/healthz");
    EXPECT_EQ(c.rfind("HTTP/1.1 200", 0), 0u) << "served after 200 escaped throws: " << c;

    srv.stop();
    guard.reset();
    io.stop();
    t.join();
}

/// One frame the server sent (the server never masks), of any length.
struct server_frame {
    int op = -1;
    std::string payload;
    std::chrono::steady_clock::time_point at;
};
server_frame read_frame(tcp::socket& s) {
    std::array<unsigned char, 2> head{};
    boost::system::error_code ec;
    server_frame f;
    net::read(s, net::buffer(head), ec);
    if (ec) return f;
    std::uint64_t len = head[1] & 0x7f;
    if (len >= 126) {
        std::array<unsigned char, 8> ext{};
        const std::size_t n = len == 126 ? 2 : 8;
        net::read(s, net::buffer(ext.data(), n), ec);
        if (ec) return f;
        len = 0;
        for (std::size_t i = 0; i < n; ++i)
            len = (len << 8) | ext[i];
    }
    f.payload.resize(len);
    net::read(s, net::buffer(f.payload), ec);
    if (ec) return f;
    f.op = head[0] & 0x0f;
    f.at = std::chrono::steady_clock::now();
    return f;
}

TEST(server, a_silent_subscriber_has_half_the_idle_timeout_to_answer_the_ping) {
    net::io_context io;
    hub h(16);
    server_options o;
    o.listen = "127.0.0.1:0";
    o.idle_timeout = std::chrono::milliseconds(800);
    server srv(io, o, h, {});
    srv.start();
    auto guard = net::make_work_guard(io);
    std::thread t([&] { io.run(); });

    upgraded c(srv.port());
    ASSERT_EQ(c.status, "HTTP/1.1 101 Switching Protocols");
    const server_frame ping = read_frame(c.s);
    ASSERT_EQ(ping.op, 0x9) << "the server pings a silent client";
    const server_frame close = read_frame(c.s);
    ASSERT_EQ(close.op, 0x8);
    ASSERT_GE(close.payload.size(), 2u);
    EXPECT_EQ((static_cast<unsigned char>(close.payload[0]) << 8) |
                  static_cast<unsigned char>(close.payload[1]),
              1008);
    EXPECT_NE(close.payload.find("idle"), std::string::npos) << close.payload;
    // No sooner than half the timeout (400 ms) after the ping, however late the ping went out
    // (the watch wakes every 200 ms; 100 ms of slack for this client's own reads).
    EXPECT_GE(close.at - ping.at, std::chrono::milliseconds(300))
        << std::chrono::duration_cast<std::chrono::milliseconds>(close.at - ping.at).count()
        << " ms between the ping and the close";
    EXPECT_EQ(srv.stats().dropped[static_cast<std::size_t>(drop_reason::idle)].load(), 1u);

    srv.stop();
    guard.reset();
    io.stop();
    t.join();
}

TEST(session_slot, no_more_places_are_taken_than_the_limit_whatever_the_threads) {
    std::atomic<std::uint64_t> taken{0};
    constexpr std::size_t k_limit = 6;
    std::vector<detail::session_slot> held(64);
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < 8; ++t)
        threads.emplace_back([&, t] {
            while (!go.load()) {
            }
            for (std::size_t i = t; i < held.size(); i += 8)
                held[i] = detail::session_slot::take(taken, k_limit);
        });
    go = true;
    for (auto& t : threads)
        t.join();
    std::size_t got = 0;
    for (const auto& h : held)
        got += h ? 1 : 0;
    EXPECT_EQ(got, k_limit);
    EXPECT_EQ(taken.load(), k_limit);

    for (auto& h : held)
        if (h) {
            detail::session_slot moved = std::move(h);
            EXPECT_FALSE(h) << "a moved-from slot holds no place";
            EXPECT_EQ(taken.load(), k_limit) << "a move does not give the place back";
            break; // `moved` gives it back here
        }
    EXPECT_EQ(taken.load(), k_limit - 1);
    EXPECT_TRUE(detail::session_slot::take(taken, k_limit)) << "the freed place is taken again";
    EXPECT_EQ(taken.load(), k_limit - 1) << "and given back with the temporary";
    held.clear();
    EXPECT_EQ(taken.load(), 0u);
}

TEST(server, sessions_over_max_connections_are_refused_on_every_io_thread) {
    net::io_context io;
    net::io_context w1;
    net::io_context w2;
    hub h(16);
    server_options o;
    o.listen = "127.0.0.1:0";
    o.max_connections = 3;
    o.client_rate = 0;
    o.workers = {&w1, &w2};
    server srv(io, o, h, {});
    srv.start();
    std::vector<std::thread> threads;
    std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
    for (auto* c : {&io, &w1, &w2}) {
        guards.emplace_back(net::make_work_guard(*c));
        threads.emplace_back([c] { c->run(); });
    }

    std::vector<std::unique_ptr<upgraded>> sessions;
    for (int i = 0; i < 3; ++i) {
        sessions.push_back(std::make_unique<upgraded>(srv.port()));
        EXPECT_EQ(sessions.back()->status, "HTTP/1.1 101 Switching Protocols");
    }
    // At once after the third 101, on whichever thread the next connection lands: refused.
    for (int i = 0; i < 4; ++i) {
        upgraded over(srv.port());
        EXPECT_EQ(over.status, "HTTP/1.1 503 Service Unavailable") << "attempt " << i;
    }
    EXPECT_EQ(srv.stats().subscribers.load(), 3u);
    EXPECT_EQ(srv.stats().refused.load(), 4u);

    sessions.erase(sessions.begin()); // one session ends: its place is free again
    EXPECT_TRUE(eventually([&] { return srv.stats().subscribers.load() == 2; }));
    upgraded again(srv.port());
    EXPECT_EQ(again.status, "HTTP/1.1 101 Switching Protocols");

    sessions.clear();
    srv.stop();
    guards.clear();
    for (auto* c : {&io, &w1, &w2})
        c->stop();
    for (auto& t : threads)
        t.join();
}

TEST(server, a_subscriber_that_reads_late_gets_every_trigger_whole_and_in_order) {
    // Megabytes published while the client reads nothing: the socket takes part of a write and
    // refuses the rest, so the writes' remainders go out asynchronously as the client drains
    // it. Every trigger must then arrive once, whole, in order.
    net::io_context io;
    hub h(16);
    server_options o;
    o.listen = "127.0.0.1:0";
    o.client_rate = 0;
    o.session_queue = 1 << 16;
    server srv(io, o, h, {});
    srv.start();
    auto guard = net::make_work_guard(io);
    std::thread t([&] { io.run(); });

    upgraded client(srv.port(), 4096);
    ASSERT_EQ(client.status, "HTTP/1.1 101 Switching Protocols");
    ASSERT_TRUE(client.leftover.empty()) << "nothing follows the 101 before we subscribe";
    tcp::socket& c = client.s;
    const std::string op = R"({"op":"subscribe","topics":["*"]})";
    const std::array<unsigned char, 4> mask{1, 2, 3, 4};
    std::string frame{static_cast<char>(0x81), static_cast<char>(0x80 | op.size())};
    frame.append(reinterpret_cast<const char*>(mask.data()), mask.size());
    for (std::size_t i = 0; i < op.size(); ++i)
        frame += static_cast<char>(op[i] ^ mask[i % 4]);
    net::write(c, net::buffer(frame));
    for (;;) { // pings and notices may come first; then the subscription's snapshot
        const server_frame f = read_frame(c);
        ASSERT_NE(f.op, -1) << "the subscription is answered";
        if (f.op == 0x1 && f.payload.find(R"("type":"snapshot")") != std::string::npos) break;
    }

    constexpr std::uint64_t k_triggers = 8000;
    const std::string pad(1000, 'p');
    std::vector<message_ptr> batch;
    for (std::uint64_t seq = 1; seq <= k_triggers; ++seq) {
        const std::string json = R"({"type":"trigger","seq":)" + std::to_string(seq) +
                                 R"(,"pad":")" + pad + std::to_string(seq) + R"("})";
        batch.push_back(make_message(seq, "t/X", json, "t/X", true, true));
        if (batch.size() == 50 || seq == k_triggers) {
            h.publish(batch);
            batch.clear();
        }
    }
    // ~8 MB waits for the client: more than its socket and the server's take at once.
    ASSERT_TRUE(eventually([&] { return h.deliveries() == k_triggers; }));

    for (std::uint64_t seq = 1; seq <= k_triggers; ++seq) {
        server_frame f = read_frame(c);
        while (f.op == 0x9) // the server's keep-alive pings may come between them
            f = read_frame(c);
        ASSERT_EQ(f.op, 0x1) << "trigger " << seq;
        const std::string want = R"({"type":"trigger","seq":)" + std::to_string(seq) +
                                 R"(,"pad":")" + pad + std::to_string(seq) + R"("})";
        ASSERT_EQ(f.payload, want) << "trigger " << seq;
    }
    EXPECT_LT(srv.stats().subscriber_writes.load(), k_triggers) << "writes carry many triggers";

    c.close(); // the session ends (and leaves the hub) before the hub and server go
    EXPECT_TRUE(eventually([&] { return srv.stats().subscribers.load() == 0; }));
    srv.stop();
    guard.reset();
    io.stop();
    t.join();
}

} // namespace
} // namespace seismo::publish
