// The signal stage's state snapshots: how long one took is kept (seismo_state_snapshot_seconds),
// and the live signal thread spaces them so that they take at most 1% of it.
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

TEST(signal_stage, snapshots_are_spaced_to_a_hundred_times_what_the_last_one_took) {
    const config cfg = load_config_string(universe(2000), "stage_test.toml");
    core::instrument_registry reg;
    populate_registry(cfg, reg);
    null_sink sink;
    signal_stage stage(cfg, reg, 1, sink);
    stage.publish_snapshot();
    const auto took = stage.stats().snapshot_ns.load();
    EXPECT_GT(took, 0) << "the snapshot's time is kept";
    EXPECT_EQ(stage.snapshot(), stage.snapshot()) << "published once, read as often as asked";
    EXPECT_EQ(stage.snapshot()->values.size(), 2000u) << "a value per member";
    const core::nanos every = 250'000'000;
    EXPECT_EQ(stage.snapshot_every(every), std::max(every, 100 * took));
    EXPECT_EQ(stage.snapshot_every(took * 1000), took * 1000) << "never sooner than asked";
    EXPECT_EQ(stage.snapshot_every(0), 100 * took) << "at most 1% of the thread";
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

} // namespace
} // namespace seismo::engine
