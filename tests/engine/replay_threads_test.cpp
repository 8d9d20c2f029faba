// A replay on two threads (engine/replay.hpp, begin_parallel) against the same replay on one:
// the same bytes out. Run under ThreadSanitizer too (the tsan preset).
#include "engine/config.hpp"
#include "engine/replay.hpp"
#include "engine/sim.hpp"
#include "tests/engine/replay_files.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace seismo::engine {
namespace {

/// A replay on two threads (parse | signals, engine/replay.hpp begin_parallel) writes what one
/// thread writes, byte for byte: on a day with bad lines and with frames that carry no time of
/// their own (they take the replay clock, which lives on the second thread), in two files played
/// as one feed and as two, with and without reading ahead.
TEST(replay_threads, two_threads_write_what_one_writes) {
    const config cfg = load_playbook();
    const std::string day = simulated_day(13, 0.01);
    // Every third line that has a time loses it.
    std::string untimed;
    std::size_t pos = 0, lines = 0, stripped = 0;
    while (pos < day.size()) {
        const std::size_t nl = day.find('\n', pos);
        std::string line = day.substr(pos, nl - pos);
        pos = nl + 1;
        const std::size_t ts = line.find(",\"ts\":");
        if (++lines % 3 == 0 && ts != std::string::npos) {
            const std::size_t end = line.find_first_of(",}", ts + 6);
            if (end != std::string::npos) {
                line.erase(ts, end - ts);
                ++stripped;
            }
        }
        untimed += line + "\n";
    }
    ASSERT_GT(stripped, 1000u);
    const std::size_t half = untimed.find('\n', untimed.size() / 2) + 1;
    const auto in1 = temp_path("threads1.jsonl"), in2 = temp_path("threads2.jsonl");
    write_file(in1, untimed.substr(0, half));
    write_file(in2, untimed.substr(half));
    for (const std::string feed : {"", "day"}) {
        replay_options o;
        o.inputs = {in1, in2};
        o.feed = feed;
        o.deterministic = true;
        o.threads = 1;
        const run_files one = replay_with(cfg, o, "one");
        o.threads = 2;
        const run_files two = replay_with(cfg, o, "two");
        o.batch_frames = 7; // many hand-offs, at every kind of boundary
        const run_files small = replay_with(cfg, o, "small");
        o.read_ahead_from = 0;
        const run_files ahead = replay_with(cfg, o, "ahead");
        EXPECT_GT(one.stats.triggers, 20u) << feed;
        EXPECT_GT(one.stats.rejected_total(), 100u) << feed;
        EXPECT_GT(count_lines(one.dead), 100u) << feed;
        {
            SCOPED_TRACE("two threads, feed '" + feed + "'");
            expect_same(one, two);
        }
        {
            SCOPED_TRACE("two threads, batches of 7 frames, feed '" + feed + "'");
            expect_same(one, small);
        }
        {
            SCOPED_TRACE("two threads reading ahead, batches of 7, feed '" + feed + "'");
            expect_same(one, ahead);
        }
    }
    std::remove(in1.c_str());
    std::remove(in2.c_str());
}

/// The same for recorded venue captures (receive times from the Tardis lines), with lines that
/// are no Tardis line and a line over the limit among them (their refusals take the clock).
TEST(replay_threads, tardis_captures_on_two_threads_write_what_one_writes) {
    const config cfg = load_playbook();
    const char* root = std::getenv("SEISMO_SOURCE_DIR");
    const std::string dir = std::string(root != nullptr ? root : ".") + "/tests/fixtures/recorded/";
    for (const auto& [file, venue] : std::vector<std::pair<std::string, std::string>>{
             {"coinbase-exchange.tardis.txt", "coinbase"},
             {"okx-v5.tardis.txt", "okx"},
             {"binance-futures.tardis.txt", "binance"}}) {
        const std::string capture = slurp(dir + file);
        ASSERT_GT(count_lines(capture), 200u) << file;
        std::string mixed;
        std::size_t pos = 0, lines = 0;
        while (pos < capture.size()) {
            const std::size_t nl = capture.find('\n', pos);
            mixed += capture.substr(pos, nl - pos + 1);
            pos = nl + 1;
            if (++lines % 97 == 0) mixed += "not a tardis line\n";
            if (lines % 151 == 0) mixed += std::string(2'000'000, 'x') + "\n";
        }
        const auto in = temp_path("threads.tardis");
        write_file(in, mixed);
        replay_options o;
        o.inputs = {in};
        o.venue = venue;
        o.deterministic = true;
        o.threads = 1;
        const run_files one = replay_with(cfg, o, "t1");
        o.threads = 2;
        o.batch_frames = 5;
        const run_files two = replay_with(cfg, o, "t2");
        EXPECT_GT(one.stats.applied, 100u) << file;
        EXPECT_GE(one.stats.rejected_total(), lines / 97 + lines / 151) << file;
        SCOPED_TRACE(file);
        expect_same(one, two);
        std::remove(in.c_str());
    }
}

/// An output that cannot be written, found on the second thread, stops the replay with its
/// error, as it does on one.
TEST(replay_threads, an_output_that_fails_stops_the_replay_with_its_error) {
    const config cfg = load_playbook();
    const auto in = temp_path("full.jsonl");
    write_file(in, simulated_day(1, 0));
    for (const unsigned threads : {1u, 2u}) {
        replay_options o;
        o.inputs = {in};
        o.out = "";
        o.ticks = "/dev/full"; // more than one buffer of ticks: written during the replay
        o.threads = threads;
        o.batch_frames = 64; // the error comes while batches are still going round
        try {
            (void)run_replay(cfg, o);
            ADD_FAILURE() << threads << " thread(s): no error";
        } catch (const std::runtime_error& e) {
            EXPECT_NE(std::string(e.what()).find("/dev/full"), std::string::npos) << e.what();
        }
    }
    std::remove(in.c_str());
}

/// A container's CPU limit, as cgroup v2 and v1 write it: two threads only where two CPUs may
/// be used.
TEST(replay_threads, a_cgroup_cpu_limit_reads_as_the_cpus_it_allows) {
    constexpr double k_none = std::numeric_limits<double>::infinity();
    EXPECT_EQ(cgroup_cpu_limit("max 100000\n"), k_none);
    EXPECT_EQ(cgroup_cpu_limit("-1 100000"), k_none);
    EXPECT_DOUBLE_EQ(cgroup_cpu_limit("150000 100000\n"), 1.5);
    EXPECT_DOUBLE_EQ(cgroup_cpu_limit("200000 100000"), 2.0);
    EXPECT_DOUBLE_EQ(cgroup_cpu_limit("50000 100000"), 0.5);
    for (const char* junk : {"", "max", "100000", "abc 100000", "100000 0", "0 100000",
                             "100000 100000 7", "-5 100000"}) {
        EXPECT_EQ(cgroup_cpu_limit(junk), k_none) << junk;
    }
    replay_options o;
    o.threads = 1;
    EXPECT_EQ(replay_threads(o), 1u);
    o.threads = 2;
    EXPECT_EQ(replay_threads(o), 2u);
    o.threads = 0;
    EXPECT_GE(replay_threads(o), 1u);
    EXPECT_LE(replay_threads(o), 2u);
}

} // namespace
} // namespace seismo::engine
