#include "feeds/tardis.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace seismo::feeds {
namespace {

TEST(tardis, splits_capture_lines_at_their_receive_time) {
    tardis_line l;
    ASSERT_TRUE(split_tardis_line(R"(2026-02-05T02:14:03.512345Z {"e":"trade"})", l));
    EXPECT_EQ(l.frame, R"({"e":"trade"})");
    EXPECT_EQ(l.recv, 1770257643512345000);
    EXPECT_FALSE(split_tardis_line(R"({"e":"trade"})", l));
    EXPECT_FALSE(split_tardis_line("2026-02-05 {}", l));
    EXPECT_FALSE(split_tardis_line("", l));
}

TEST(tardis, exchange_names_map_to_venues) {
    EXPECT_EQ(venue_from_exchange("binance-futures"), "binance");
    EXPECT_EQ(venue_from_exchange("okex-swap"), "okx");
    EXPECT_EQ(venue_from_exchange("coinbase"), "coinbase");
}

TEST(tardis, csv_columns_are_found_by_the_header_and_bad_lines_refused) {
    core::instrument_registry reg;
    tardis_csv_parser p(reg, "bybit");
    std::vector<core::tick> out;
    // The first line is the header; it must name symbol, timestamp and price.
    EXPECT_EQ(p.parse("exchange,symbol,timestamp", out).status, frame_status::rejected);
    EXPECT_EQ(p.parse("exchange,timestamp,symbol,price", out).status, frame_status::ignored);
    EXPECT_EQ(p.parse("x,1770000000000000,ETHUSDT,2300.5", out).status, frame_status::ticks);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(reg.venue_name(out[0].venue), "bybit"); // the override
    EXPECT_EQ(out[0].recv_ts, out[0].exch_ts);        // no local_timestamp column
    const auto r = [&](const char* line) { return p.parse(line, out).reason; };
    EXPECT_EQ(r("x,abc,ETHUSDT,1"), reject_reason::bad_timestamp);
    EXPECT_EQ(r("x,-5,ETHUSDT,1"), reject_reason::bad_timestamp);
    EXPECT_EQ(r("x,9300000000000000000,ETHUSDT,1"), reject_reason::bad_timestamp); // ns overflow
    EXPECT_EQ(r("x,1770000000000000,,1"), reject_reason::missing_field);
    EXPECT_EQ(r("x,1770000000000000,ETHUSDT,abc"), reject_reason::bad_field);
    EXPECT_EQ(out.size(), 1u);
}

} // namespace
} // namespace seismo::feeds
