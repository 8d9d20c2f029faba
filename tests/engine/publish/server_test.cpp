// The server's slots on every way out of a connection (hardening): a route whose hook throws
// answers 500 and is counted; whatever else escapes a connection closes it and releases its
// slot, so that throws can never accumulate into a lock-out.
#include "engine/publish/hub.hpp"
#include "engine/publish/server.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

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

} // namespace
} // namespace seismo::publish
