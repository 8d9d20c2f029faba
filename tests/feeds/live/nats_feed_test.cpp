// The JetStream reply subject a nats feed takes its receive time, stream sequence and pending
// count from: both forms nats-server uses, and what must be refused.
#include "feeds/live/nats_feed.hpp"

#include <gtest/gtest.h>

namespace seismo::feeds::live {
namespace {

TEST(nats_feed, reads_the_reply_subject) {
    std::uint64_t seq = 0, pending = 0;
    std::int64_t ts = 0;
    ASSERT_TRUE(parse_js_reply("$JS.ACK.SEISMO_TICKS.abc.1.4077.4077.1796163415106233001.12", seq,
                               ts, pending));
    EXPECT_EQ(seq, 4077u);
    EXPECT_EQ(ts, 1796163415106233001);
    EXPECT_EQ(pending, 12u);
    // The form with domain and account hash (and a trailing token).
    ASSERT_TRUE(parse_js_reply("$JS.ACK.hub.ACCHASH.SEISMO_TICKS.abc.2.77.70.1796163415000000000.0."
                               "xyz",
                               seq, ts, pending));
    EXPECT_EQ(seq, 77u);
    EXPECT_EQ(ts, 1796163415000000000);
    EXPECT_EQ(pending, 0u);
    for (const char* bad : {"", "_INBOX.abc", "$JS.ACK.S.c.1.2.3", "$JS.ACK.S.c.1.x.3.4.5",
                            "$JS.ACK.S.c.1.2.3.4.5.6.7.8.9.10", "$JS.ACK.S.c.1.2.3.-4.5x"}) {
        EXPECT_FALSE(parse_js_reply(bad, seq, ts, pending)) << bad;
    }
}

} // namespace
} // namespace seismo::feeds::live
