#include "engine/config.hpp"
#include "engine/replay.hpp"
#include "engine/sim.hpp"
#include "tests/engine/replay_files.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace seismo::engine {
namespace {

class replay_test : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        clean_ = new std::string(simulated_day(7, 0));
        dirty_ = new std::string(simulated_day(7, 0.01));
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
    EXPECT_NE(dirty.summary.find("\"frames\":" + std::to_string(dirty.stats.frames)),
              std::string::npos);
    EXPECT_NE(dirty.summary.find(
                  "\"late\":" +
                  std::to_string(
                      dirty.stats.rejected[static_cast<std::size_t>(feeds::reject_reason::late)])),
              std::string::npos);
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

/// Reading ahead (engine/replay.hpp) changes nothing but the time taken: a day with bad lines
/// replays to the same bytes with and without it.
TEST(replay_read_ahead, changes_no_output_and_finds_the_coming_instruments) {
    const config cfg = load_playbook();
    const std::string day = simulated_day(11, 0.01);
    const auto in = temp_path("ahead.jsonl");
    write_file(in, day);
    const run_files with = replay_file(cfg, in, "with", true, 0);
    replay_options o;
    o.inputs = {in};
    o.out = temp_path("without.triggers");
    o.dead_letter = temp_path("without.dead");
    o.deterministic = true;
    o.read_ahead_from = std::numeric_limits<std::size_t>::max();
    std::remove(o.dead_letter.c_str());
    const replay_stats st = run_replay(cfg, o);
    EXPECT_GT(with.stats.triggers, 20u);
    EXPECT_GT(with.stats.rejected_total(), 0u);
    EXPECT_EQ(slurp(o.out), with.triggers);
    EXPECT_EQ(slurp(o.dead_letter), with.dead);
    EXPECT_EQ(st.applied, with.stats.applied);
    EXPECT_EQ(st.rejected, with.stats.rejected);

    // In memory, step by step: once the universe is known, nearly every line's instrument is
    // known ahead of it (the first sight of a symbol, a bad line and the run's first lines are
    // not).
    std::string buf = day;
    buf.append(journal::k_line_padding, '\0');
    replay_options quiet;
    quiet.out = "";
    quiet.read_ahead_from = 0;
    replay_session s(cfg, quiet, "mem");
    s.process_buffer(buf.data(), day.size()); // every symbol seen once
    read_ahead ra;
    std::size_t pos = 0, lines = 0;
    journal::line_reader::line l;
    while (pos < day.size()) {
        const std::size_t nl = day.find('\n', pos);
        l.text = std::string_view(day).substr(pos, nl - pos);
        l.number = ++lines;
        pos = nl + 1;
        s.look_ahead(ra, 0, std::string_view(buf).substr(pos, day.size() - pos), pos);
        s.process(0, l);
    }
    EXPECT_GT(ra.warmed(), lines * 9 / 10) << lines << " lines";
    EXPECT_LE(ra.warmed(), lines);
    for (const auto& p : {in, o.out, o.dead_letter})
        std::remove(p.c_str());
}

TEST_F(replay_test, memory_and_file_replays_agree) {
    const config cfg = load_playbook();
    replay_options o;
    o.out = temp_path("mem.triggers");
    o.deterministic = true;
    std::string buf = *clean_;
    const std::size_t n = buf.size();
    buf.append(journal::k_line_padding, '\0');
    {
        replay_session s(cfg, o, "mem");
        s.process_buffer(buf.data(), n);
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
        EXPECT_NE(day.find("\"sym\":\"" + ic.info.symbol + "\""), std::string::npos)
            << ic.info.symbol;
    }
    // ~5,000 A-shares, each with a previous close
    std::size_t prev = 0;
    for (std::size_t p = day.find("prev_close"); p != std::string::npos;
         p = day.find("prev_close", p + 1))
        ++prev;
    EXPECT_EQ(prev, 5000u + 6u); // the stocks and six indices
}

/// The y-axis labels of the chart whose title is `title` in a plot page.
std::vector<std::string> axis_labels(const std::string& html, const std::string& title) {
    const std::size_t at = html.find("class=\"t\">" + title + "</text>");
    if (at == std::string::npos) return {};
    const std::size_t end = html.find("</svg>", at);
    std::vector<std::string> out;
    const std::string open = "class=\"ax\" text-anchor=\"end\">";
    for (std::size_t p = html.find(open, at); p < end; p = html.find(open, p + 1)) {
        const std::size_t b = p + open.size();
        std::string label = html.substr(b, html.find('<', b) - b);
        if (label.find(':') == std::string::npos)
            out.push_back(std::move(label)); // not the time axis's last label
    }
    return out;
}

/// A label's value: the number times its unit suffix (k, M, B, T).
double label_value(const std::string& l) {
    std::size_t used = 0;
    const double v = std::stod(l, &used);
    const std::string unit = l.substr(used);
    if (unit.empty()) return v;
    if (unit == "k") return v * 1e3;
    if (unit == "M") return v * 1e6;
    if (unit == "B") return v * 1e9;
    if (unit == "T") return v * 1e12;
    ADD_FAILURE() << "unknown unit in label '" << l << "'";
    return 0;
}

TEST(plot, axis_labels_are_round_values_within_the_data_in_readable_units) {
    const config cfg = load_config_string(R"(
[[instrument]]
symbol = "BTC"
[[instrument]]
symbol = "BAL"
kind = "level"
[[signal]]
name = "btc_low"
kind = "level"
instruments = ["BTC"]
direction = "below"
levels = [{ at = 71000, severity = "critical" }]
[[signal]]
name = "bal_low"
kind = "level"
instruments = ["BAL"]
direction = "below"
levels = [{ at = 2.70e12, severity = "warning" }]
)",
                                          "plot_test");
    // BTC from 75,660 down to 70,464 and back; a balance of ~2.7 trillion dropping by 13.9 bn.
    std::string in;
    for (int i = 0; i <= 200; ++i) {
        const double btc = 75660 - 5196 * (i <= 120 ? i / 120.0 : (200 - i) / 80.0 * 0.5);
        const double bal = 2.7164e12 - (i >= 150 ? 13.9e9 : 0);
        in += R"({"sym":"BTC","px":)" + std::to_string(btc) + R"(,"ts":)" +
              std::to_string(1'770'000'000'000 + i * 60'000) + "}\n";
        in += R"({"sym":"BAL","px":)" + std::to_string(bal) + R"(,"ts":)" +
              std::to_string(1'770'000'000'000 + i * 60'000) + "}\n";
    }
    const std::string input = temp_path("plot.jsonl"), html_path = temp_path("plot.html");
    write_file(input, in);
    replay_options o;
    o.inputs = {input};
    o.out = "";
    o.plot = html_path;
    o.deterministic = true;
    const replay_stats st = run_replay(cfg, o);
    EXPECT_EQ(st.triggers, 2u);
    const std::string html = slurp(html_path);
    std::remove(input.c_str());
    std::remove(html_path.c_str());

    struct want {
        std::string title;
        double lo, hi;
    };
    for (const want& w :
         {want{"BTC price", 70464, 75660}, want{"BAL price", 2.7025e12, 2.7164e12}}) {
        const auto labels = axis_labels(html, w.title);
        ASSERT_GE(labels.size(), 2u) << w.title;
        double step = 0;
        for (std::size_t i = 0; i < labels.size(); ++i) {
            const double v = label_value(labels[i]);
            const double pad = (w.hi - w.lo) * 0.1;
            EXPECT_GE(v, w.lo - pad) << w.title << ": label '" << labels[i] << "' below the data";
            EXPECT_LE(v, w.hi + pad) << w.title << ": label '" << labels[i] << "' above the data";
            if (i == 1) step = v - label_value(labels[0]);
            if (i >= 1) {
                EXPECT_NEAR(v - label_value(labels[i - 1]), step, std::fabs(step) * 1e-6)
                    << w.title << ": uneven ticks";
            }
            EXPECT_LE(labels[i].size(), 7u)
                << w.title << ": label '" << labels[i] << "' is not compact";
        }
        // A round step: 1, 2, 2.5 or 5 times a power of ten.
        const double mant =
            std::fabs(step) / std::pow(10.0, std::floor(std::log10(std::fabs(step))));
        EXPECT_TRUE(std::fabs(mant - 1) < 1e-6 || std::fabs(mant - 2) < 1e-6 ||
                    std::fabs(mant - 2.5) < 1e-6 || std::fabs(mant - 5) < 1e-6)
            << w.title << ": step " << step;
    }
}

} // namespace
} // namespace seismo::engine
