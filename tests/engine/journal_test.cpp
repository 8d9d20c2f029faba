#include "engine/crc32c.hpp"
#include "engine/journal.hpp"
#include "engine/journal_replay.hpp"
#include "engine/spsc_ring.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace seismo::engine::journal {
namespace {

std::string fresh_dir(const std::string& name) {
    const std::string d =
        ::testing::TempDir() + "seismo_journal_" + std::to_string(::getpid()) + "_" + name;
    std::system(("rm -rf '" + d + "'").c_str());
    return d;
}

std::vector<std::string> segments_in(const std::string& dir) {
    std::vector<segment_file> segs;
    EXPECT_TRUE(list_segments(dir, segs)) << dir;
    std::vector<std::string> v;
    for (auto& s : segs)
        v.push_back(std::move(s.path));
    return v;
}

std::string slurp(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

void spit(const std::string& p, const std::string& bytes) {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f << bytes;
}

meta test_meta() {
    meta m;
    m.feeds = {{"a", "generic"}, {"b", "binance"}};
    m.config_text = "[engine]\n";
    m.config_file = "t.toml";
    m.digest = 42;
    return m;
}

/// Writes `n` frames on feed 0 (and order entries and a health event), returns the directory.
std::string write_journal(const std::string& name, std::size_t n, options o = {}) {
    o.dir = fresh_dir(name);
    writer w(o, test_meta(), 2);
    w.start();
    for (std::uint32_t i = 1; i <= n; ++i) {
        const std::string f = R"({"sym":"X","px":)" + std::to_string(100 + i) + R"(,"seq":)" +
                              std::to_string(i) + "}";
        w.frame(0, i, 1'000'000'000LL * i, f);
        const order_entry e{0, 0, i};
        w.order(&e, 1);
        if (i == n / 2) w.health(1, feeds::health_kind::gap, 7, 3, "BTCUSDT");
    }
    w.stop();
    return o.dir;
}

struct counts {
    std::size_t frames = 0, orders = 0, health = 0;
    std::uint32_t last_frame = 0;
    std::vector<std::string> problems;
    std::uint64_t dropped = 0;
};

counts read_all(const std::string& path, bool stop = false) {
    reader r(path);
    counts c;
    r.on_problem([&](const problem& p) {
        c.problems.push_back(p.segment + " @" + std::to_string(p.offset) + ": " + p.what);
        c.dropped += p.dropped_bytes;
        return !stop;
    });
    EXPECT_EQ(r.info().feeds.size(), 2u);
    EXPECT_EQ(r.info().feeds[1].venue, "binance");
    EXPECT_EQ(r.info().digest, 42u);
    record rec;
    while (r.next(rec)) {
        switch (rec.type) {
        case record_type::frame: {
            ++c.frames;
            std::uint32_t no = 0;
            std::memcpy(&no, rec.payload.data(), 4);
            EXPECT_GT(no, c.last_frame) << "frames in order";
            c.last_frame = no;
            EXPECT_EQ(rec.recv_ts, 1'000'000'000LL * no);
            EXPECT_NE(rec.payload.substr(4).find(R"("sym":"X")"), std::string_view::npos);
            break;
        }
        case record_type::order:
            ++c.orders;
            break;
        case record_type::health:
            ++c.health;
            EXPECT_EQ(rec.payload.substr(16), "BTCUSDT");
            EXPECT_EQ(rec.feed, 1);
            break;
        }
    }
    return c;
}

TEST(spsc_ring, records_cross_threads_intact_through_many_wraparounds) {
    spsc_ring ring(1000); // rounded up to 1024: records wrap the end constantly
    EXPECT_EQ(ring.capacity(), 1024u);
    constexpr std::uint32_t k_n = 200000;
    std::thread producer([&] {
        for (std::uint32_t i = 0; i < k_n; ++i) {
            const std::uint32_t len = 1 + i % 97;
            std::string body(len, static_cast<char>('a' + i % 26));
            while (!ring.write(&len, 4, &i, 4, body.data(), body.size()))
                std::this_thread::yield();
        }
    });
    std::vector<char> got;
    std::uint32_t next = 0;
    while (next < k_n) {
        const std::size_t n = ring.readable();
        if (n == 0) {
            std::this_thread::yield();
            continue;
        }
        const std::size_t at = got.size();
        got.resize(at + n);
        ring.read(got.data() + at, n);
        std::size_t pos = 0;
        while (got.size() - pos >= 8) {
            std::uint32_t len = 0, no = 0;
            std::memcpy(&len, got.data() + pos, 4);
            if (got.size() - pos < 8 + len) break;
            std::memcpy(&no, got.data() + pos + 4, 4);
            ASSERT_EQ(no, next);
            ASSERT_EQ(len, 1 + no % 97);
            ASSERT_EQ(got[pos + 8], static_cast<char>('a' + no % 26));
            ASSERT_EQ(got[pos + 8 + len - 1], static_cast<char>('a' + no % 26));
            pos += 8 + len;
            ++next;
        }
        got.erase(got.begin(), got.begin() + static_cast<std::ptrdiff_t>(pos));
    }
    producer.join();
    EXPECT_EQ(ring.readable(), 0u);
    // a record larger than the ring never fits
    std::string big(2000, 'x');
    EXPECT_FALSE(ring.write(big.data(), big.size()));
}

TEST(crc32c, known_vectors) {
    EXPECT_EQ(crc32c("123456789", 9), 0xe3069283u);
    EXPECT_EQ(crc32c("", 0), 0u);
    // continuing a CRC across pieces equals one pass
    EXPECT_EQ(crc32c("6789", 4, crc32c("12345", 5)), 0xe3069283u);
}

TEST(journal, round_trip_plain_and_compressed) {
    for (const bool z : {false, true}) {
        options o;
        o.compress = z;
        const auto dir = write_journal(z ? "rt_z" : "rt", 5000, o);
        const counts c = read_all(dir);
        EXPECT_EQ(c.frames, 5000u);
        EXPECT_EQ(c.orders, 5000u);
        EXPECT_EQ(c.health, 1u);
        EXPECT_TRUE(c.problems.empty());
        EXPECT_TRUE(reader::is_journal(dir));
    }
}

TEST(journal, rotates_segments_by_size_and_reads_them_in_order) {
    options o;
    o.segment_bytes = 64 * 1024;
    o.block_bytes = 8 * 1024;
    const auto dir = write_journal("rot", 20000, o);
    EXPECT_GT(segments_in(dir).size(), 5u);
    const counts c = read_all(dir);
    EXPECT_EQ(c.frames, 20000u);
    EXPECT_TRUE(c.problems.empty());
}

TEST(journal, a_torn_tail_is_dropped_and_reported) {
    options o;
    o.block_bytes = 8 * 1024; // many blocks: a crash tears only the last
    const auto dir = write_journal("torn", 3000, o);
    const auto seg = segments_in(dir).back();
    std::string bytes = slurp(seg);
    // Find the last block (header: magic, version, flags, digest, created, meta length, meta,
    // CRC; then blocks of a 16-byte header and the stored bytes) and cut it in half.
    std::uint32_t meta_len = 0;
    std::memcpy(&meta_len, bytes.data() + 32, 4);
    std::size_t at = 36 + meta_len + 4, last = at;
    while (at + 16 <= bytes.size()) {
        std::uint32_t stored = 0;
        std::memcpy(&stored, bytes.data() + at + 8, 4);
        last = at;
        at += 16 + stored;
    }
    ASSERT_EQ(at, bytes.size()) << "blocks tile the segment";
    const std::size_t cut = (bytes.size() - last) / 2;
    bytes.resize(bytes.size() - cut); // the last block loses its end, as under SIGKILL mid-write
    spit(seg, bytes);
    const counts c = read_all(dir);
    ASSERT_EQ(c.problems.size(), 1u);
    EXPECT_NE(c.problems[0].find("torn tail: dropped"), std::string::npos) << c.problems[0];
    EXPECT_GT(c.dropped, 0u);
    const std::size_t records = c.frames + c.orders;
    EXPECT_LT(records, 6000u);
    // Everything before the torn block survives: one 8 KiB block holds < 300 records.
    EXPECT_GT(records, 6000u - 300u);
}

TEST(journal, segments_larger_than_the_read_window_and_records_larger_than_a_block) {
    options o;
    o.block_bytes = 64 * 1024;
    o.dir = fresh_dir("big");
    const std::string huge(6u << 20, 'x'); // larger than the reader's 4 MiB window
    {
        writer w(o, test_meta(), 2);
        w.start();
        for (std::uint32_t i = 1; i <= 120000; ++i) {
            std::string f = R"({"sym":"X","px":)" + std::to_string(i) + "}";
            if (i == 60000) f += huge;
            w.frame(0, i, i, f);
        }
        w.stop();
    }
    reader r(o.dir);
    std::vector<std::string> problems;
    r.on_problem([&](const problem& p) {
        problems.push_back(p.what);
        return true;
    });
    record rec;
    std::uint32_t expect = 1;
    bool saw_huge = false;
    while (r.next(rec)) {
        std::uint32_t no = 0;
        std::memcpy(&no, rec.payload.data(), 4);
        ASSERT_EQ(no, expect);
        const std::string want = R"({"sym":"X","px":)" + std::to_string(no) + "}";
        ASSERT_EQ(rec.payload.substr(4, want.size()), want);
        if (no == 60000) saw_huge = rec.payload.size() == 4 + want.size() + huge.size();
        ++expect;
    }
    EXPECT_EQ(expect, 120001u);
    EXPECT_TRUE(saw_huge);
    EXPECT_TRUE(problems.empty());
    EXPECT_EQ(r.bytes_done(), r.bytes_total());
}

TEST(journal, an_empty_last_segment_left_by_a_crash_is_a_torn_tail) {
    options o;
    o.segment_bytes = 64 * 1024;
    o.block_bytes = 8 * 1024;
    const auto dir = write_journal("empty_seg", 5000, o);
    const auto segs = segments_in(dir);
    ASSERT_GT(segs.size(), 1u);
    // The writer had just created its next segment when it was killed.
    char name[32];
    std::snprintf(name, sizeof name, "/seismo-%06zu.sjl", segs.size() + 1);
    spit(dir + name, "");
    const counts c = read_all(dir);
    ASSERT_EQ(c.problems.size(), 1u);
    EXPECT_NE(c.problems[0].find("empty segment: segment skipped (0 bytes)"), std::string::npos)
        << c.problems[0];
    EXPECT_EQ(c.frames, 5000u);
}

TEST(journal, a_damaged_first_header_loses_that_segment_only) {
    options o;
    o.segment_bytes = 64 * 1024;
    o.block_bytes = 8 * 1024;
    const auto dir = write_journal("bad_header", 5000, o);
    const auto first = segments_in(dir).front();
    std::string bytes = slurp(first);
    bytes[40] ^= 0x20; // inside the metadata: the header CRC fails
    spit(first, bytes);
    const counts c = read_all(dir); // the feeds and config come from the next segment's header
    ASSERT_EQ(c.problems.size(), 1u);
    EXPECT_NE(c.problems[0].find("header CRC mismatch: segment skipped"), std::string::npos)
        << c.problems[0];
    EXPECT_LT(c.frames, 5000u);
    EXPECT_GT(c.frames, 3000u);
}

TEST(journal, payloads_are_followed_by_readable_padding) {
    options o;
    o.compress = true;
    const auto dir = write_journal("pad", 100, o);
    reader r(dir);
    record rec;
    std::size_t n = 0;
    while (r.next(rec)) {
        // reading the padding must be valid memory (ASan checks it)
        volatile char last = rec.payload.data()[rec.payload.size() + k_read_padding - 1];
        (void)last;
        ++n;
    }
    EXPECT_EQ(n, 201u);
}

TEST(journal, a_corrupted_record_is_reported_with_segment_offset_and_crc_and_skipped) {
    const auto dir = write_journal("corrupt", 3000);
    const auto seg = segments_in(dir).front();
    std::string bytes = slurp(seg);
    // Damage a frame in the middle: find its text and change one digit of its price.
    const auto at = bytes.find(R"("px":1500,)");
    ASSERT_NE(at, std::string::npos);
    bytes[at + 6] = '9';
    spit(seg, bytes);
    const counts c = read_all(dir);
    ASSERT_EQ(c.problems.size(), 1u);
    EXPECT_NE(c.problems[0].find("record CRC mismatch (stored"), std::string::npos)
        << c.problems[0];
    EXPECT_NE(c.problems[0].find(seg), std::string::npos);
    EXPECT_EQ(c.frames, 2999u); // only the damaged record is lost
    // stopping instead
    const counts s = read_all(dir, true);
    EXPECT_EQ(s.problems.size(), 1u);
    EXPECT_LT(s.frames, 2999u);
}

TEST(journal, damaged_block_headers_are_skipped_to_the_next_block) {
    options o;
    o.block_bytes = 4 * 1024;
    o.compress = true;
    const auto dir = write_journal("blk", 4000, o);
    const auto seg = segments_in(dir).front();
    std::string bytes = slurp(seg);
    // The first block starts right after the header; break its magic.
    const auto blk = bytes.find("SJBZ");
    ASSERT_NE(blk, std::string::npos);
    bytes[blk] = 'X';
    spit(seg, bytes);
    const counts c = read_all(dir);
    ASSERT_FALSE(c.problems.empty());
    EXPECT_NE(c.problems[0].find("damaged block: skipped"), std::string::npos) << c.problems[0];
    EXPECT_GT(c.frames, 3000u);
    EXPECT_LT(c.frames, 4000u);
}

TEST(journal, an_order_taken_before_its_frame_is_held_back_until_the_frame_is_in) {
    // Live, a feed thread records a frame after handing its ticks on, so the signal thread can
    // consume a tick (and the writer take its order record) before the frame is in its ring.
    options o;
    o.dir = fresh_dir("held_back");
    {
        writer w(o, test_meta(), 2);
        w.start();
        const order_entry e{0, 0, 1};
        w.order(&e, 1);
        w.health(1, feeds::health_kind::gap, 7, 3, "BTCUSDT"); // after the order, and stays so
        // Wait (with a deadline) until the writer has taken both from the signal ring.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (w.backlog_bytes() != 0) {
            ASSERT_LT(std::chrono::steady_clock::now(), deadline)
                << "the writer never drained its ring";
            std::this_thread::yield();
        }
        w.frame(0, 1, 1'000'000'000, R"({"sym":"X","px":101,"seq":1})");
        w.stop();
    }
    reader r(o.dir);
    std::vector<record_type> seen;
    record rec;
    while (r.next(rec))
        seen.push_back(rec.type);
    EXPECT_EQ(seen, (std::vector<record_type>{record_type::frame, record_type::order,
                                              record_type::health}));
}

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

TEST(journal, not_a_journal) {
    const auto d = fresh_dir("empty");
    ::mkdir(d.c_str(), 0755);
    EXPECT_FALSE(reader::is_journal(d));
    EXPECT_THROW(reader r(d), std::runtime_error);
    EXPECT_THROW(reader r(d + "/missing"), std::runtime_error);
}

} // namespace
} // namespace seismo::engine::journal
