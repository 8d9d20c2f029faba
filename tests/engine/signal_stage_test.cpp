// The signal stage's state snapshots: how long one took is kept (seismo_state_snapshot_seconds),
// the live signal thread spaces them so that they take at most 1% of it, and a snapshot thread
// formats what the signal thread copied, in order, as the signal thread would have.
#include "engine/config.hpp"
#include "engine/signal_stage.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace seismo::engine {
namespace {

struct null_sink final : stage_sink {
    void on_trigger(const signals::trigger&) override {}
    void on_late(std::uint16_t, std::uint32_t, const core::tick&) override {}
};

std::string universe(std::size_t n) {
    std::string c = "[engine]\nlateness = \"1h\"\n";
    for (std::size_t i = 0; i < n; ++i)
        c += "[[instrument]]\nsymbol = \"I" + std::to_string(i) + "\"\ntags = [\"u\"]\n";
    return c + "[[signal]]\nname = \"lv\"\nkind = \"level\"\nselect = \"tag:u\"\n"
               "levels = [{ at = 90, severity = \"warning\" }]\n";
}

TEST(signal_stage, snapshots_are_spaced_to_100x_the_copy_and_10x_the_formatting) {
    const config cfg = load_config_string(universe(2000), "stage_test.toml");
    core::instrument_registry reg;
    populate_registry(cfg, reg);
    null_sink sink;
    signal_stage stage(cfg, reg, 1, sink);
    stage.publish_snapshot();
    const auto took = stage.stats().snapshot_ns.load();
    const auto formatting = stage.stats().snapshot_format_ns.load();
    EXPECT_GT(took, 0) << "the signal thread's time is kept";
    EXPECT_GT(formatting, 0) << "the formatting's time is kept";
    EXPECT_EQ(stage.snapshot(), stage.snapshot()) << "published once, read as often as asked";
    EXPECT_EQ(stage.snapshot()->values.size(), 2000u) << "a value per member";
    const core::nanos every = 250'000'000;
    const core::nanos bound = std::max(100 * took, 10 * formatting);
    EXPECT_EQ(stage.snapshot_every(every), std::max(every, bound));
    EXPECT_EQ(stage.snapshot_every(bound * 10), bound * 10) << "never sooner than asked";
    EXPECT_EQ(stage.snapshot_every(0), bound)
        << "at most 1% of the signal thread and 10% of the formatting's";
}

TEST(signal_stage, a_breadth_signal_is_one_value_and_one_reserved_entry_in_a_snapshot) {
    const config cfg = load_config_string(
        universe(2000) + "[[signal]]\nname = \"br\"\nkind = \"breadth\"\nselect = \"tag:u\"\n"
                         "window = \"10m\"\nmember_at = -0.01\nlevels = [{ at = 0.5, severity = "
                         "\"warning\" }]\n",
        "stage_test.toml");
    core::instrument_registry reg;
    populate_registry(cfg, reg);
    null_sink sink;
    signal_stage stage(cfg, reg, 1, sink);
    stage.publish_snapshot();
    const auto snap = stage.snapshot();
    ASSERT_EQ(snap->signals.size(), 2u);
    EXPECT_EQ(snap->values.size(), 2001u) << "the level's 2,000 members and the breadth's ratio";
    EXPECT_EQ(snap->signals[1].entries.size(), 1u);
    EXPECT_EQ(snap->signals[1].entries.capacity(), 1u)
        << "room for its one value, not for its 2,000 members";
}

std::string state_of(const stage_snapshot& s) {
    const auto all = [](auto&&...) { return true; };
    std::string j = signals_json(s, all, all);
    for (const auto& q : s.quiet)
        j += " quiet:" + q;
    return j;
}

TEST(signal_stage, a_snapshot_thread_formats_what_the_signal_thread_copied_in_order) {
    const config cfg = load_config_string(universe(300), "stage_test.toml");
    core::instrument_registry reg;
    populate_registry(cfg, reg);
    null_sink sink;
    signal_stage inline_stage(cfg, reg, 1, sink);
    signal_stage threaded(cfg, reg, 1, sink);
    threaded.start_snapshot_thread();
    // The same ticks into both: I0..I99 get prices, the rest stay quiet.
    for (std::uint32_t i = 0; i < 100; ++i) {
        core::tick t;
        t.inst = reg.find("I" + std::to_string(i));
        t.kind = core::tick_kind::trade;
        t.px = 95.0 + i % 10;
        t.exch_ts = t.recv_ts = 1'000'000'000LL + i;
        inline_stage.tick(0, i, 0, t);
        threaded.tick(0, i, 0, t);
    }
    std::uint64_t last = 0;
    for (int k = 0; k < 20; ++k) {
        const std::uint64_t n = threaded.publish_snapshot();
        EXPECT_EQ(n, last + 1) << "numbered in the order taken";
        last = n;
    }
    threaded.wait_snapshot(last);
    const auto snap = threaded.snapshot();
    EXPECT_EQ(snap->number, last) << "a newer capture replaces one waiting; the last is formatted";
    const std::uint64_t at_once = inline_stage.publish_snapshot();
    EXPECT_EQ(inline_stage.snapshot()->number, at_once) << "without the thread: formatted at once";
    EXPECT_EQ(state_of(*snap), state_of(*inline_stage.snapshot()))
        << "the same JSON whichever thread formats it";
    EXPECT_EQ(snap->values.size(), 300u);
    EXPECT_EQ(snap->quiet.size(), 200u) << "I100..I299 never ticked";
    EXPECT_GT(threaded.stats().snapshot_format_ns.load(), 0);
    // Stopping formats what is waiting; later snapshots are formatted at once.
    const std::uint64_t waiting = threaded.publish_snapshot();
    threaded.stop_snapshot_thread();
    EXPECT_EQ(threaded.snapshot()->number, waiting);
    const std::uint64_t after = threaded.publish_snapshot();
    EXPECT_EQ(threaded.snapshot()->number, after);
}

TEST(signal_stage, an_instrument_ticked_after_a_snapshot_leaves_the_quiet_list) {
    const config cfg = load_config_string(universe(10), "stage_test.toml");
    core::instrument_registry reg;
    populate_registry(cfg, reg);
    null_sink sink;
    signal_stage stage(cfg, reg, 1, sink);
    stage.publish_snapshot();
    EXPECT_EQ(stage.snapshot()->quiet.size(), 10u);
    core::tick t;
    t.inst = reg.find("I3");
    t.kind = core::tick_kind::trade;
    t.px = 100;
    t.exch_ts = t.recv_ts = 1'000'000'000LL;
    stage.tick(0, 1, 0, t);
    stage.publish_snapshot();
    const auto& q = stage.snapshot()->quiet;
    ASSERT_EQ(q.size(), 9u);
    EXPECT_EQ(std::find(q.begin(), q.end(), "I3"), q.end());
    EXPECT_EQ(q.front(), "I0") << "in config order";
    EXPECT_EQ(q.back(), "I9");
}

} // namespace
} // namespace seismo::engine
