// The JetStream publisher against a real nats-server (started here on a loopback port, with its
// own store directory, stopped at the end): every message stored once and in order, through a
// server that stops answering mid-run (SIGSTOP: the acks never come, the messages go back and
// are sent again with their ids) and comes back (SIGCONT: the first copies and the resends both
// arrive, the stream keeps one of each).
#include "engine/publish/nats.hpp"
#include "tests/tools/nats_servers.hpp"

#include <gtest/gtest.h>
#include <nats/nats.h>

#include <chrono>
#include <csignal>
#include <future>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

namespace seismo::publish {
namespace {

TEST(jetstream_publisher, stores_each_message_once_and_in_order_through_a_stalled_server) {
    test_support::nats_servers s(1);
    ASSERT_TRUE(s.started()) << "nats-server not found (deploy/install-deps.sh installs it)";
    nats_endpoint e;
    e.servers = s.urls();
    nats_connection c(e, 10'000'000'000);
    ensure_stream(c, {"T", "t.>", 1, 3600 * core::k_ns_per_s, 600 * core::k_ns_per_s});
    // An existing stream of that name with other subjects is refused, naming the clash.
    EXPECT_THROW(
        ensure_stream(c, {"T", "other.>", 1, 3600 * core::k_ns_per_s, 600 * core::k_ns_per_s}),
        nats_error);
    jetstream_publisher::options o;
    o.stream = "T";
    o.ack_wait = 300 * core::k_ns_per_ms;
    jetstream_publisher pub(c, o);
    pub.start();
    constexpr int k_n = 3000;
    for (int i = 1; i <= k_n; ++i) {
        outgoing m;
        m.subject = "t.x";
        m.data = "message " + std::to_string(i);
        m.id = "id:" + std::to_string(i);
        ASSERT_TRUE(pub.offer(std::move(m)));
        if (i == k_n / 2) {
            ::kill(s.pid(0), SIGSTOP); // stops answering: no acks for what follows
            std::this_thread::sleep_for(std::chrono::milliseconds(1500));
            ::kill(s.pid(0), SIGCONT);
        }
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (pub.pending() != 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(pub.pending(), 0u);
    EXPECT_EQ(pub.published(), static_cast<std::uint64_t>(k_n));
    EXPECT_GT(pub.resent(), 0u) << "the stall made no message go back";
    EXPECT_EQ(pub.dropped(), 0u);
    pub.stop(core::k_ns_per_s);

    const stream_state st = stream_info(c, "T");
    EXPECT_EQ(st.messages, static_cast<std::uint64_t>(k_n)) << "a message stored twice or lost";
    stored_message m;
    int expect = 1, out_of_order = 0;
    for (std::uint64_t q = st.first_seq; q <= st.last_seq; ++q) {
        ASSERT_TRUE(stored_at(c, "T", q, m));
        if (m.id != "id:" + std::to_string(expect)) ++out_of_order;
        ++expect;
    }
    EXPECT_EQ(out_of_order, 0);
    std::cout << "     resent " << pub.resent() << ", acked " << pub.acked() << " (duplicates "
              << pub.duplicates() << ")\n";
}

TEST(jetstream_publisher, refuses_past_its_buffer_and_counts_it) {
    test_support::nats_servers s(1);
    ASSERT_TRUE(s.started());
    nats_endpoint e;
    e.servers = s.urls();
    nats_connection c(e, 10'000'000'000);
    ensure_stream(c, {"B", "b.>", 1, 3600 * core::k_ns_per_s, 600 * core::k_ns_per_s});
    jetstream_publisher::options o;
    o.stream = "B";
    o.buffer = 100;
    jetstream_publisher pub(c, o);
    // Not started: nothing leaves, so the buffer fills.
    int refused = 0;
    for (int i = 0; i < 150; ++i)
        refused += pub.offer({"b.x", "m", "b:" + std::to_string(i), {}}) ? 0 : 1;
    EXPECT_EQ(refused, 50);
    EXPECT_EQ(pub.dropped(), 50u);
    EXPECT_EQ(pub.pending(), 100u);
}

// nats.c runs a connection's callbacks on one thread of its own, in order, and after
// natsConnection_Close returns: a connection destroyed at once still gets its disconnect
// callback. Here that thread is held (a raw connection's closed callback waits) while a
// nats_connection is destroyed, so its callback can only come after it is gone — it
// wrote into freed memory before (ASan, in the debug build); a last raw connection's closed
// callback says every callback queued before it has run.
namespace held_callbacks {
std::promise<void> release, drained;
std::shared_future<void> released = release.get_future().share();
void hold(natsConnection*, void*) {
    released.wait();
}
void done(natsConnection*, void*) {
    drained.set_value();
}
natsConnection* raw(const std::string& url, natsConnectionHandler on_closed) {
    natsOptions* o = nullptr;
    natsOptions_Create(&o);
    natsOptions_SetURL(o, url.c_str());
    natsOptions_SetClosedCB(o, on_closed, nullptr);
    natsConnection* nc = nullptr;
    // The server may still be starting: tried for up to 10 s, as nats_connection does.
    for (int i = 0; i < 100 && natsConnection_Connect(&nc, o) != NATS_OK; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    natsOptions_Destroy(o);
    return nc;
}
} // namespace held_callbacks

TEST(nats_connection, is_not_called_back_after_it_is_destroyed) {
    namespace h = held_callbacks;
    test_support::nats_servers s(1);
    ASSERT_TRUE(s.started());
    nats_endpoint e;
    e.servers = s.urls();
    natsConnection* holder = h::raw(s.urls()[0], &h::hold);
    natsConnection* last = h::raw(s.urls()[0], &h::done);
    ASSERT_NE(holder, nullptr);
    ASSERT_NE(last, nullptr);
    auto c = std::make_unique<nats_connection>(e, 10 * core::k_ns_per_s);
    ASSERT_TRUE(c->connected());
    natsConnection_Close(holder); // nats.c's callback thread now waits in hold()
    c.reset();                    // its disconnect and closed callbacks queue behind hold()
    h::release.set_value();
    natsConnection_Close(last);
    ASSERT_EQ(h::drained.get_future().wait_for(std::chrono::seconds(30)),
              std::future_status::ready);
    natsConnection_Destroy(holder);
    natsConnection_Destroy(last);

    // A server that goes away is still a disconnect, counted.
    nats_connection kept(e, 10 * core::k_ns_per_s);
    EXPECT_EQ(kept.disconnects(), 0u);
    ::kill(s.pid(0), SIGKILL);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (kept.disconnects() == 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_EQ(kept.disconnects(), 1u);
    EXPECT_FALSE(kept.connected());
}

} // namespace
} // namespace seismo::publish
