#include "engine/publish/hub.hpp"

#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace seismo::publish {
namespace {

/// The thread a test's subscribers live on by default: never run by the publishing thread
/// unless a test polls it.
boost::asio::io_context& default_home() {
    static boost::asio::io_context io;
    return io;
}

/// A subscriber with fixed patterns that records what it is handed.
struct sub final : hub_subscriber {
    std::vector<std::string> patterns;
    std::vector<std::uint64_t> got;
    int flushes = 0;
    boost::asio::io_context* io = &default_home();
    explicit sub(std::vector<std::string> p) : patterns(std::move(p)) {}
    sub(std::vector<std::string> p, boost::asio::io_context& home)
        : patterns(std::move(p)), io(&home) {}
    [[nodiscard]] bool wants(const message& m) const {
        for (const auto& p : patterns) {
            if (topic_matches(p, m)) return true;
        }
        return false;
    }
    std::size_t offer(std::span<const message_ptr> batch) override {
        std::size_t took = 0;
        for (const auto& m : batch) {
            if (!wants(*m)) continue;
            got.push_back(m->seq);
            ++took;
        }
        return took;
    }
    [[nodiscard]] boost::asio::io_context& home() const override { return *io; }
    void wake_now() override { ++flushes; }
};

/// Registers `s` with its own patterns (no snapshot, no replay).
void join(hub& h, const std::shared_ptr<sub>& s) {
    h.subscribe(
        s, [](const message&) { return false; }, std::nullopt, [](hub::subscription&) {});
}

message_ptr msg(std::uint64_t seq, std::string topic, bool fired = true, bool transient = false,
                std::string key = {}) {
    return make_message(seq, std::move(topic), R"({"seq":)" + std::to_string(seq) + "}",
                        key.empty() ? std::to_string(seq) : std::move(key), fired, transient);
}

TEST(hub, messages_are_framed_once_as_websocket_text) {
    const auto m = msg(7, "silver_crash/XAG/USD");
    EXPECT_EQ(m->signal, "silver_crash");
    EXPECT_EQ(m->json(), R"({"seq":7})");
    ASSERT_EQ(m->frame.size(), 2 + m->json().size());
    EXPECT_EQ(static_cast<unsigned char>(m->frame[0]), 0x81);             // FIN, text
    EXPECT_EQ(static_cast<unsigned char>(m->frame[1]), m->json().size()); // unmasked, short
}

TEST(hub, topics_match_whole_topics_or_signal_names) {
    const auto m = msg(1, "silver_crash/XAG/USD");
    EXPECT_TRUE(topic_matches("silver_crash", *m));
    EXPECT_TRUE(topic_matches("silver_*", *m));
    EXPECT_TRUE(topic_matches("*", *m));
    EXPECT_TRUE(topic_matches("silver_crash/XAG/USD", *m));
    EXPECT_TRUE(topic_matches("*/XAG/*", *m));
    EXPECT_FALSE(topic_matches("silver_crash/XAU/*", *m));
    EXPECT_FALSE(topic_matches("gold*", *m));
}

TEST(hub, publishes_to_matching_subscribers_and_flushes_each_once_per_batch) {
    hub h(16);
    auto a = std::make_shared<sub>(std::vector<std::string>{"crypto_*"});
    auto b = std::make_shared<sub>(std::vector<std::string>{"*"});
    join(h, a);
    join(h, b);
    h.publish({msg(1, "crypto_crash/BTC"), msg(2, "silver_crash/XAG"), msg(3, "crypto_crash/ETH")});
    EXPECT_TRUE(a->got.empty()) << "offered on their own thread, not the publisher's";
    EXPECT_EQ(default_home().poll(), 1u) << "one handler for both sessions of that thread";
    default_home().restart();
    EXPECT_EQ(a->got, (std::vector<std::uint64_t>{1, 3}));
    EXPECT_EQ(a->flushes, 1);
    EXPECT_EQ(b->flushes, 1);
    EXPECT_EQ(h.deliveries(), 5u);
    EXPECT_EQ(h.published(), 3u);
    EXPECT_EQ(h.last_seq(), 3u);
    h.remove(a.get());
    h.publish({msg(4, "crypto_crash/BTC")});
    EXPECT_EQ(default_home().poll(), 1u);
    default_home().restart();
    EXPECT_EQ(a->got.size(), 2u);
    EXPECT_EQ(b->got.size(), 4u);
    EXPECT_EQ(h.subscribers(), 1u);
}

TEST(hub, wakes_each_thread_once_per_batch_and_its_own_sessions_at_once) {
    hub h(64);
    boost::asio::io_context here, there;
    std::vector<std::shared_ptr<sub>> subs;
    for (int i = 0; i < 6; ++i) {
        subs.push_back(std::make_shared<sub>(std::vector<std::string>{"*"}, i % 2 ? there : here));
        join(h, subs.back());
    }
    // Published from a handler of `here`: its sessions are woken inline, `there`'s by one
    // handler; a second batch before that handler ran rides on it.
    boost::asio::post(here, [&] {
        h.publish({msg(1, "x/A"), msg(2, "x/B")});
        h.publish({msg(3, "x/A")});
    });
    EXPECT_EQ(here.run(), 1u);
    for (int i = 0; i < 6; i += 2)
        EXPECT_EQ(subs[i]->flushes, 2) << i; // once per batch, inline
    EXPECT_EQ(there.poll(), 1u);
    for (int i = 1; i < 6; i += 2) {
        EXPECT_EQ(subs[i]->flushes, 1) << i;
        EXPECT_EQ(subs[i]->got, (std::vector<std::uint64_t>{1, 2, 3}));
    }
    EXPECT_EQ(h.deliveries(), 18u);
}

TEST(hub, coalescing_holds_a_thread_to_one_delivery_per_window) {
    using clock = std::chrono::steady_clock;
    constexpr auto k_window = std::chrono::milliseconds(200);
    hub h(64, std::chrono::nanoseconds(k_window).count());
    boost::asio::io_context there;
    auto s = std::make_shared<sub>(std::vector<std::string>{"*"}, there);
    join(h, s);
    // After a quiet spell a batch goes at once (one posted handler). `first` is taken before
    // that delivery starts its window, so the window ends no earlier than first + k_window.
    h.publish({msg(1, "x/A")});
    const auto first = clock::now();
    EXPECT_EQ(there.poll(), 1u);
    there.restart();
    ASSERT_EQ(s->got, (std::vector<std::uint64_t>{1}));
    // Within the window: two batches wait for its end and go out in one delivery.
    h.publish({msg(2, "x/A")});
    h.publish({msg(3, "x/B"), msg(4, "x/A")});
    (void)there.poll();
    there.restart();
    if (clock::now() < first + k_window) {
        EXPECT_EQ(s->got.size(), 1u) << "delivered before the window ended";
    }
    EXPECT_EQ(there.run_one(), 1u); // the window's end
    there.restart();
    EXPECT_GE(clock::now() - first, k_window);
    EXPECT_EQ(s->got, (std::vector<std::uint64_t>{1, 2, 3, 4}));
    EXPECT_EQ(s->flushes, 2) << "one wake-up for both batches of the window";
    EXPECT_EQ(h.deliveries(), 4u);
}

TEST(hub, coalescing_on_the_publishers_own_thread_defers_to_its_own_timer) {
    constexpr auto k_window = std::chrono::milliseconds(100);
    hub h(64, std::chrono::nanoseconds(k_window).count());
    boost::asio::io_context here;
    auto s = std::make_shared<sub>(std::vector<std::string>{"*"}, here);
    join(h, s);
    std::size_t inline_got = 0;
    boost::asio::post(here, [&] {
        h.publish({msg(1, "x/A")}); // inline: nothing delivered for a window before
        inline_got = s->got.size();
        h.publish({msg(2, "x/A")}); // within the window: the thread's timer
    });
    const auto t0 = std::chrono::steady_clock::now();
    here.run(); // the posted handler, then the timer's
    EXPECT_EQ(inline_got, 1u);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, k_window);
    EXPECT_EQ(s->got, (std::vector<std::uint64_t>{1, 2}));
    EXPECT_EQ(s->flushes, 2);
}

TEST(hub, snapshots_hold_what_is_fired_until_it_clears) {
    hub h(16);
    h.publish({msg(1, "x/A", true, false, "x/A/0"), msg(2, "x/B", true, false, "x/B/0"),
               msg(3, "feed_health/f", true, true, "gap")});
    h.publish({msg(4, "x/A", false, false, "x/A/0")}); // A cleared
    const auto act = h.active();
    ASSERT_EQ(act.size(), 1u);
    EXPECT_EQ(act[0]->seq, 2u); // gaps are events, never active
    auto s = std::make_shared<sub>(std::vector<std::string>{});
    std::vector<std::uint64_t> snap;
    h.subscribe(
        s, [](const message& m) { return topic_matches("x", m); }, std::nullopt,
        [&](hub::subscription& r) {
            for (const auto& m : r.active)
                snap.push_back(m->seq);
            EXPECT_TRUE(r.replay.empty());
            EXPECT_FALSE(r.gap);
        });
    EXPECT_EQ(snap, (std::vector<std::uint64_t>{2}));
}

TEST(hub, resumes_from_the_ring_and_reports_what_it_no_longer_holds) {
    hub h(4);
    for (std::uint64_t i = 1; i <= 10; ++i)
        h.publish({msg(i, "x/A")});
    auto s = std::make_shared<sub>(std::vector<std::string>{});
    auto resume = [&](std::uint64_t since) {
        hub::subscription got;
        h.subscribe(
            s, [](const message&) { return true; }, since, [&](hub::subscription& r) { got = r; });
        return got;
    };
    auto r = resume(8); // 9 and 10 are kept
    ASSERT_EQ(r.replay.size(), 2u);
    EXPECT_EQ(r.replay[0]->seq, 9u);
    EXPECT_FALSE(r.gap);
    r = resume(2); // the ring holds 7..10: 3..6 are gone
    ASSERT_TRUE(r.gap);
    EXPECT_EQ(r.gap->first, 3u);
    EXPECT_EQ(r.gap->second, 6u);
    EXPECT_EQ(r.replay.size(), 4u);
    r = resume(6); // exactly the ring's start: no gap
    EXPECT_FALSE(r.gap);
    EXPECT_EQ(r.replay.size(), 4u);
}

// A client resuming with `since` gets each trigger once: what the replay carries is not in the
// snapshot too; what the ring no longer holds stays in the snapshot.
TEST(hub, a_resumed_snapshot_does_not_repeat_what_the_replay_carries) {
    hub h(4);
    h.publish({msg(1, "a", true, false, "a"), msg(2, "b", true, false, "b")});
    for (std::uint64_t i = 3; i <= 6; ++i) // the ring keeps 3..6
        h.publish({msg(i, "c", i % 2 == 1, false, "c")});
    h.publish({msg(7, "d", true, false, "d")}); // ring 4..7; active a(1), b(2), d(7)
    auto s = std::make_shared<sub>(std::vector<std::string>{});
    auto seqs = [](const std::vector<message_ptr>& v) {
        std::vector<std::uint64_t> out;
        for (const auto& m : v)
            out.push_back(m->seq);
        return out;
    };
    hub::subscription got;
    h.subscribe(
        s, [](const message&) { return true; }, std::uint64_t{5},
        [&](hub::subscription& r) { got = r; });
    EXPECT_EQ(seqs(got.replay), (std::vector<std::uint64_t>{6, 7}));
    EXPECT_EQ(seqs(got.active), (std::vector<std::uint64_t>{1, 2})) << "7 comes in the replay";
    EXPECT_EQ(got.last_seq, 7u);
    h.subscribe(
        s, [](const message&) { return true; }, std::uint64_t{0},
        [&](hub::subscription& r) { got = r; });
    ASSERT_TRUE(got.gap); // 1..3 are gone from the ring: their active triggers stay in the snapshot
    EXPECT_EQ(seqs(got.active), (std::vector<std::uint64_t>{1, 2}));
    EXPECT_EQ(seqs(got.replay), (std::vector<std::uint64_t>{4, 5, 6, 7}));
    h.subscribe(
        s, [](const message&) { return true; }, std::nullopt,
        [&](hub::subscription& r) { got = r; });
    EXPECT_EQ(seqs(got.active), (std::vector<std::uint64_t>{1, 2, 7})) << "no since: all active";
}

TEST(hub, topic_limits_cover_topics_and_signals) {
    const std::vector<std::string> crypto{"crypto_*"};
    EXPECT_TRUE(topic_visible({}, "x", "A"));
    EXPECT_TRUE(topic_visible(crypto, "crypto_crash", "BTC/USD"));
    EXPECT_FALSE(topic_visible(crypto, "silver_crash", "XAG/USD"));
    const std::vector<std::string> one{"silver_crash/XAG/USD"};
    EXPECT_TRUE(topic_visible(one, "silver_crash", "XAG/USD"));
    EXPECT_FALSE(topic_visible(one, "silver_crash", "XAU/USD"));
    EXPECT_TRUE(signal_visible(one, "silver_crash"));
    EXPECT_FALSE(signal_visible(one, "gold_crash"));
    EXPECT_TRUE(topic_visible({"feed_health/*"}, "feed_health", "binance"));
}

} // namespace
} // namespace seismo::publish
