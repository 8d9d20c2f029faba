#include "engine/replay.hpp"

#include "engine/config.hpp"
#include "engine/sim.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

namespace seismo::engine {
namespace {

std::string temp_path(const std::string& name) {
    return ::testing::TempDir() + "seismo_replay_" + std::to_string(::getpid()) + "_" + name;
}

std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary);
    f << bytes;
}

std::size_t count_lines(const std::string& s) {
    return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

struct run_files {
    std::string triggers, ticks, dead, summary;
    replay_stats stats;
};

run_files replay_file(const config& cfg, const std::string& input, const std::string& tag,
                      bool deterministic = true) {
    replay_options o;
    o.inputs = {input};
    o.out = temp_path(tag + ".triggers");
    o.ticks = temp_path(tag + ".ticks");
    o.dead_letter = temp_path(tag + ".dead");
    o.summary = temp_path(tag + ".summary");
    o.deterministic = deterministic;
    std::remove(o.dead_letter.c_str());
    run_files r;
    r.stats = run_replay(cfg, o);
    r.triggers = slurp(o.out);
    r.ticks = slurp(o.ticks);
    r.dead = slurp(o.dead_letter);
    r.summary = slurp(o.summary);
    for (const auto& p : {o.out, o.ticks, o.dead_letter, o.summary}) std::remove(p.c_str());
    return r;
}

class replay_test : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        sim_options so;
        so.stocks = 1500; // keeps a_share_breadth above its min_members
        so.seed = 7;
        clean_ = new std::string(simulate(so));
        so.bad_rate = 0.01;
        dirty_ = new std::string(simulate(so));
    }
    static void TearDownTestSuite() {
        delete clean_;
        delete dirty_;
    }
    static std::string* clean_;
    static std::string* dirty_;
};
std::string* replay_test::clean_ = nullptr;
std::string* replay_test::dirty_ = nullptr;

TEST_F(replay_test, deterministic_output_is_byte_identical_run_to_run) {
    const config cfg = load_playbook();
    const auto in = temp_path("clean.jsonl");
    write_file(in, *clean_);
    const run_files a = replay_file(cfg, in, "a");
    const run_files b = replay_file(cfg, in, "b");
    EXPECT_GT(a.stats.triggers, 20u);
    EXPECT_EQ(a.triggers, b.triggers);
    EXPECT_EQ(a.ticks, b.ticks);
    EXPECT_EQ(count_lines(a.triggers), a.stats.triggers);
    EXPECT_EQ(a.triggers.find("recv_ts"), std::string::npos);
    // seq is gap-free from 1
    std::istringstream lines(a.triggers);
    std::string line;
    std::uint64_t expect = 1;
    while (std::getline(lines, line)) {
        ASSERT_NE(line.find("\"seq\":" + std::to_string(expect) + ","), std::string::npos) << line;
        ++expect;
    }
    // without --deterministic, the receive time is there
    const run_files c = replay_file(cfg, in, "c", false);
    EXPECT_NE(c.triggers.find("\"recv_ts\":"), std::string::npos);
    std::remove(in.c_str());
}

TEST_F(replay_test, bad_lines_are_refused_counted_dead_lettered_and_change_nothing) {
    const config cfg = load_playbook();
    const auto clean_in = temp_path("clean2.jsonl");
    const auto dirty_in = temp_path("dirty.jsonl");
    write_file(clean_in, *clean_);
    write_file(dirty_in, *dirty_);
    const run_files clean = replay_file(cfg, clean_in, "clean");
    const run_files dirty = replay_file(cfg, dirty_in, "dirty");
    EXPECT_EQ(clean.stats.rejected_total(), 0u);
    const std::uint64_t bad = dirty.stats.rejected_total();
    EXPECT_GT(bad, 100u);
    EXPECT_EQ(dirty.stats.frames, clean.stats.frames + bad);
    // Every refusal reason the generator injects shows up.
    for (auto r : {feeds::reject_reason::malformed, feeds::reject_reason::missing_field,
                   feeds::reject_reason::bad_field, feeds::reject_reason::non_finite,
                   feeds::reject_reason::non_positive, feeds::reject_reason::oversize,
                   feeds::reject_reason::bad_timestamp, feeds::reject_reason::late,
                   feeds::reject_reason::duplicate}) {
        EXPECT_GT(dirty.stats.rejected[static_cast<std::size_t>(r)], 0u) << feeds::to_string(r);
    }
    // One dead letter per refusal, each with its reason.
    EXPECT_EQ(count_lines(dirty.dead), bad);
    EXPECT_NE(dirty.dead.find("\"reason\":\"late\""), std::string::npos);
    EXPECT_NE(dirty.dead.find("\"reason\":\"oversize\""), std::string::npos);
    // The signals saw exactly the clean day.
    EXPECT_EQ(dirty.triggers, clean.triggers);
    EXPECT_EQ(dirty.ticks, clean.ticks);
    EXPECT_NE(dirty.summary.find("\"frames\":" + std::to_string(dirty.stats.frames)), std::string::npos);
    EXPECT_NE(dirty.summary.find("\"late\":" + std::to_string(dirty.stats.rejected[static_cast<std::size_t>(feeds::reject_reason::late)])), std::string::npos);
    std::remove(clean_in.c_str());
    std::remove(dirty_in.c_str());
}

TEST_F(replay_test, normalized_ticks_replay_to_the_same_triggers) {
    const config cfg = load_playbook();
    const auto in = temp_path("rt.jsonl");
    write_file(in, *clean_);
    const run_files first = replay_file(cfg, in, "first");
    const auto ticks_in = temp_path("rt.ticks.jsonl");
    write_file(ticks_in, first.ticks);
    const run_files second = replay_file(cfg, ticks_in, "second");
    EXPECT_EQ(second.stats.rejected_total(), 0u);
    EXPECT_EQ(second.triggers, first.triggers);
    EXPECT_EQ(second.ticks, first.ticks);
    std::remove(in.c_str());
    std::remove(ticks_in.c_str());
}

TEST_F(replay_test, memory_and_file_replays_agree) {
    const config cfg = load_playbook();
    replay_options o;
    o.out = temp_path("mem.triggers");
    o.deterministic = true;
    std::string buf = *clean_;
    const std::size_t n = buf.size();
    buf.append(k_line_padding, '\0');
    {
        replay_session s(cfg, o);
        s.process_buffer("mem", buf.data(), n);
        (void)s.finish();
    }
    const std::string mem = slurp(o.out);
    const auto in = temp_path("mem.jsonl");
    write_file(in, *clean_);
    EXPECT_EQ(replay_file(cfg, in, "file").triggers, mem);
    std::remove(in.c_str());
    std::remove(o.out.c_str());
}

TEST(sim, same_seed_same_bytes_other_seed_other_bytes) {
    sim_options a;
    a.stocks = 200;
    sim_options b = a;
    sim_options c = a;
    c.seed = 2;
    const std::string x = simulate(a);
    EXPECT_EQ(x, simulate(b));
    EXPECT_NE(x, simulate(c));
    EXPECT_THROW((void)simulate(sim_options{.scenario = "nope"}), std::invalid_argument);
}

TEST(sim, the_day_has_every_playbook_instrument_and_the_universe) {
    sim_options o;
    o.stocks = 5000;
    const std::string day = simulate(o);
    const config cfg = load_playbook();
    for (const auto& ic : cfg.instruments) {
        EXPECT_NE(day.find("\"sym\":\"" + ic.info.symbol + "\""), std::string::npos) << ic.info.symbol;
    }
    // ~5,000 A-shares, each with a previous close
    std::size_t prev = 0;
    for (std::size_t p = day.find("prev_close"); p != std::string::npos; p = day.find("prev_close", p + 1)) ++prev;
    EXPECT_EQ(prev, 5000u + 6u); // the stocks and six indices
}

} // namespace
} // namespace seismo::engine
