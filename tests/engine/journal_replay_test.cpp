#include "engine/journal_replay.hpp"
#include "tests/engine/journal/journal_fixture.hpp"

#include <gtest/gtest.h>

#include <string>

namespace seismo::engine {
namespace {

using namespace journal;
using namespace journal::testing;

TEST(journal, frame_numbers_wrap_without_losing_ticks) {
    // Frame numbers are 32-bit: a feed at 100 k frames/s wraps them in 12 hours.
    options o;
    o.dir = fresh_dir("wrap");
    constexpr std::uint32_t k_first = 0xFFFFFFF0u;
    constexpr std::uint32_t k_frames = 40;
    {
        writer w(o, test_meta(), 2);
        w.start();
        for (std::uint32_t i = 0; i < k_frames; ++i) {
            const std::uint32_t no = k_first + i; // wraps to 0, 1, ... after 0xFFFFFFFF
            const std::string f = R"({"sym":"X","px":)" + std::to_string(100 + i) + R"(,"seq":)" +
                                  std::to_string(i + 1) + "}";
            w.frame(0, no, 1'000'000'000LL * (i + 1), f);
            const order_entry e{0, 0, no};
            w.order(&e, 1);
        }
        w.stop();
    }
    journal_replay_options jo;
    jo.base.out = "";
    jo.progress = false;
    const journal_replay_result res = run_journal_replay(o.dir, nullptr, jo);
    EXPECT_EQ(res.stats.frames, k_frames);
    EXPECT_EQ(res.stats.applied, k_frames);
    EXPECT_EQ(res.lost_ticks, 0u);
    EXPECT_EQ(res.problems, 0u);
}

} // namespace
} // namespace seismo::engine
