#include "feeds/pipeline.hpp"
#include "feeds/tardis.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace seismo::feeds {
namespace {

struct recorded final : frame_sink {
    struct reject {
        std::uint32_t frame_no;
        reject_reason why;
        std::string frame;
        core::nanos recv;
    };
    std::vector<std::pair<std::uint32_t, core::tick>> ticks; // (frame_no, tick)
    std::vector<core::health_event> health;
    std::vector<reject> rejects;
    std::vector<std::uint32_t> done;

    void on_frame_done(std::uint16_t, std::uint32_t no, std::string_view, core::nanos) override {
        done.push_back(no);
    }
    void on_ticks(std::uint16_t, std::uint32_t no, const core::tick* t, std::size_t n) override {
        for (std::size_t i = 0; i < n; ++i)
            ticks.emplace_back(no, t[i]);
    }
    void on_health(std::uint16_t, const core::health_event& e) override { health.push_back(e); }
    void on_reject(std::uint16_t, std::uint32_t no, reject_reason why, std::string_view,
                   std::string_view frame, core::nanos recv) override {
        rejects.push_back({no, why, std::string(frame), recv});
    }
};

class pipeline_test : public ::testing::Test {
  protected:
    core::instrument_registry reg_;
    recorded sink_;
    feed_stats stats_;
    frame_pipeline p_{venue::generic, reg_, 1024, sink_, 3, stats_};

    frame_pipeline::outcome feed(const std::string& frame, core::nanos recv) {
        std::string padded = frame;
        padded.append(k_padding, '\0');
        return p_.handle(padded.data(), frame.size(), padded.size(), recv);
    }
    std::uint64_t outcome(frame_outcome o) const {
        return stats_.frames[static_cast<std::size_t>(o)].value();
    }
};

TEST_F(pipeline_test, counts_every_frame_by_outcome_and_numbers_them) {
    EXPECT_TRUE(feed(R"({"sym":"X","px":1,"seq":1})", 100).data);
    EXPECT_FALSE(feed("   ", 200).data);                       // blank: ignored
    EXPECT_FALSE(feed(R"({"sym":"X","px":"NaN"})", 300).data); // refused
    EXPECT_FALSE(feed(std::string(2000, 'x'), 400).data);      // over the 1024-byte limit
    EXPECT_EQ(outcome(frame_outcome::data), 1u);
    EXPECT_EQ(outcome(frame_outcome::ignored), 1u);
    EXPECT_EQ(outcome(frame_outcome::rejected), 2u);
    EXPECT_EQ(stats_.total_frames(), 4u);
    EXPECT_EQ(stats_.rejected[static_cast<std::size_t>(reject_reason::non_finite)].value(), 1u);
    EXPECT_EQ(stats_.rejected[static_cast<std::size_t>(reject_reason::oversize)].value(), 1u);
    EXPECT_EQ(sink_.done, (std::vector<std::uint32_t>{1, 2, 3, 4}));
    ASSERT_EQ(sink_.rejects.size(), 2u);
    EXPECT_EQ(sink_.rejects[0].frame_no, 3u);
    EXPECT_EQ(sink_.rejects[0].recv, 300);
    EXPECT_EQ(sink_.rejects[1].frame_no, 4u);
    EXPECT_EQ(stats_.last_data.value(), 100);
    EXPECT_EQ(stats_.ticks.value(), 1u);
}

TEST_F(pipeline_test, duplicates_are_refused_gaps_dated_by_their_frame) {
    feed(R"({"sym":"X","px":1,"seq":1})", 10);
    feed(R"({"sym":"X","px":1,"seq":1})", 20);                              // duplicate
    feed(R"({"sym":"X","px":1,"seq":4})", 30);                              // 2 and 3 missing
    feed(R"([{"sym":"X","px":1,"seq":3},{"sym":"X","px":2,"seq":5}])", 40); // 3: dup, 5 passes
    ASSERT_EQ(sink_.ticks.size(), 3u);
    EXPECT_EQ(sink_.ticks[0].first, 1u);
    EXPECT_EQ(sink_.ticks[1].first, 3u);
    EXPECT_EQ(sink_.ticks[2].first, 4u);
    EXPECT_EQ(sink_.ticks[2].second.seq, 5u);
    ASSERT_EQ(sink_.rejects.size(), 2u);
    EXPECT_EQ(sink_.rejects[0].why, reject_reason::duplicate);
    EXPECT_EQ(sink_.rejects[0].frame_no, 2u);
    EXPECT_EQ(sink_.rejects[1].frame_no, 4u);
    ASSERT_EQ(sink_.health.size(), 1u);
    EXPECT_EQ(sink_.health[0].kind, core::health_kind::gap);
    EXPECT_EQ(sink_.health[0].value, 2u);
    EXPECT_EQ(sink_.health[0].at, 30); // the frame's receive time, not a clock read
    EXPECT_EQ(stats_.gaps.value(), 1u);
    EXPECT_EQ(stats_.missing.value(), 2u);
}

TEST_F(pipeline_test, explicit_frame_numbers_refusals_and_skips) {
    std::string f = R"({"sym":"X","px":1})";
    f.append(k_padding, '\0');
    (void)p_.handle(f.data(), f.size() - k_padding, f.size(), 5, 41);
    p_.refuse(reject_reason::malformed, "no time", "garbage", 6, 42);
    p_.ignore(43);
    EXPECT_EQ(p_.last_frame_no(), 43u);
    EXPECT_EQ(feed(R"({"sym":"X","px":2})", 7).data, true); // numbered after the last: 44
    EXPECT_EQ(sink_.ticks.back().first, 44u);
    ASSERT_EQ(sink_.rejects.size(), 1u);
    EXPECT_EQ(sink_.rejects[0].frame_no, 42u);
    EXPECT_EQ(sink_.rejects[0].frame, "garbage");
    EXPECT_EQ(stats_.total_frames(), 4u);
}

// Coinbase sends last_match on every subscribe: after a re-subscribe it repeats a trade already
// applied. That is routine protocol traffic (ignored), while a repeated match is a duplicate.
TEST(pipeline_coinbase, a_repeated_last_match_is_ignored_not_refused) {
    core::instrument_registry reg;
    recorded sink;
    feed_stats stats;
    frame_pipeline p{venue::coinbase, reg, 1 << 20, sink, 0, stats};
    auto feed = [&](const std::string& type, std::uint64_t id) {
        std::string f = R"({"type":")" + type + R"(","trade_id":)" + std::to_string(id) +
                        R"(,"sequence":50,"maker_order_id":"a","taker_order_id":"b",)"
                        R"("time":"2026-02-05T02:14:03.512Z","product_id":"BTC-USD",)"
                        R"("size":"0.01","price":"71000.5","side":"sell"})";
        f.append(k_padding, '\0');
        return p.handle(f.data(), f.size() - k_padding, f.size(), 1);
    };
    auto frames = [&](frame_outcome o) {
        return stats.frames[static_cast<std::size_t>(o)].value();
    };
    EXPECT_TRUE(feed("last_match", 10).data) << "the first last_match is a trade";
    EXPECT_TRUE(feed("match", 11).data);
    EXPECT_FALSE(feed("last_match", 11).data) << "re-subscribed: the same trade again";
    EXPECT_EQ(frames(frame_outcome::ignored), 1u);
    EXPECT_TRUE(sink.rejects.empty()) << "not bad input";
    (void)feed("match", 11);
    ASSERT_EQ(sink.rejects.size(), 1u) << "a repeated match is";
    EXPECT_EQ(sink.rejects[0].why, reject_reason::duplicate);
    EXPECT_EQ(sink.ticks.size(), 2u);
}

TEST(pipeline_csv, tardis_csv_lines_become_trades_with_their_own_times) {
    core::instrument_registry reg;
    recorded sink;
    feed_stats stats;
    frame_pipeline p(std::make_unique<tardis_csv_parser>(reg, ""), reg, sink, 0, stats);
    auto line = [&](std::string s) {
        s.append(k_padding, '\0');
        return p.handle(s.data(), s.size() - k_padding, s.size(), 0);
    };
    line("exchange,symbol,timestamp,local_timestamp,id,side,price,amount");
    line("binance-futures,BTCUSDT,1770000000000000,1770000000001000,7,buy,70000.5,0.01");
    line("binance-futures,BTCUSDT,1770000000002000,1770000000003000,8,sell,-1,0.01");
    ASSERT_EQ(sink.ticks.size(), 1u);
    const core::tick& t = sink.ticks[0].second;
    EXPECT_EQ(t.exch_ts, 1770000000000000000);
    EXPECT_EQ(t.recv_ts, 1770000000001000000);
    EXPECT_EQ(t.seq, 7u);
    EXPECT_EQ(reg.venue_name(t.venue), "binance");
    EXPECT_EQ(stats.frames[static_cast<std::size_t>(frame_outcome::ignored)].value(), 1u);
    ASSERT_EQ(sink.rejects.size(), 1u);
    EXPECT_EQ(sink.rejects[0].why, reject_reason::non_positive);
}

} // namespace
} // namespace seismo::feeds
