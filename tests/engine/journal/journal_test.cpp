#include "engine/journal/reader.hpp"
#include "engine/journal/writer.hpp"
#include "tests/engine/journal/journal_fixture.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <thread>
#include <vector>

namespace seismo::journal {
namespace {

using namespace testing;

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
        case record_type::reload:
            ADD_FAILURE() << "no reload was recorded";
            break;
        case record_type::resume:
            ADD_FAILURE() << "no resume point was recorded";
            break;
        }
    }
    return c;
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
        w.health(1, core::health_kind::gap, core::down_cause::none, 7, 3,
                 "BTCUSDT"); // after the order, and stays so
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

/// A compressed journal of 4,000 frames whose second block's raw length says `raw`.
std::string with_raw_length(const std::string& name, std::uint32_t raw) {
    options o;
    o.block_bytes = 4 * 1024;
    o.compress = true;
    const auto dir = write_journal(name, 4000, o);
    const auto seg = segments_in(dir).front();
    std::string bytes = slurp(seg);
    const auto second = bytes.find("SJBZ", bytes.find("SJBZ") + 1);
    if (second == std::string::npos) {
        ADD_FAILURE() << "no second compressed block";
        return dir;
    }
    std::memcpy(bytes.data() + second + 4, &raw, 4);
    spit(seg, bytes);
    return dir;
}

// Hardening finding 4: a compressed block's raw length is outside its CRC and sized a buffer;
// 0xfffffff0 there asked for 4 GiB. Now it must equal what the CRC-checked zstd frame declares.
TEST(journal, a_damaged_raw_length_is_refused_not_allocated) {
    const auto dir = with_raw_length("rawlen", 0xfffffff0u);
    rusage before{};
    ::getrusage(RUSAGE_SELF, &before);
    const counts c = read_all(dir);
    rusage after{};
    ::getrusage(RUSAGE_SELF, &after);
    ASSERT_EQ(c.problems.size(), 1u);
    EXPECT_NE(c.problems[0].find("damaged block: skipped"), std::string::npos) << c.problems[0];
    EXPECT_GT(c.frames, 3000u) << "the blocks after it are read";
    EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 256 * 1024) << "KiB: no 4 GiB buffer";
}

// A raw length within bounds but not the zstd frame's: refused before any allocation.
TEST(journal, a_raw_length_unlike_the_frames_is_refused) {
    const auto dir = with_raw_length("rawlen2", 60u << 20);
    const counts c = read_all(dir);
    ASSERT_EQ(c.problems.size(), 1u);
    EXPECT_NE(c.problems[0].find("does not decompress"), std::string::npos) << c.problems[0];
    EXPECT_GT(c.frames, 3000u);
}

// Hardening finding 4: each reader whose constructor threw kept its segment's descriptor.
TEST(journal, a_reader_that_throws_keeps_no_descriptor) {
    const auto dir = write_journal("fdleak", 10);
    const auto seg = segments_in(dir).front();
    std::string bytes = slurp(seg);
    bytes[k_segment_header] ^= 0x20; // the metadata: its header CRC fails, no segment is valid
    spit(seg, bytes);
    auto open_fds = [] {
        std::size_t n = 0;
        for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
            (void)e;
            ++n;
        }
        return n;
    };
    const std::size_t before = open_fds();
    for (int i = 0; i < 1000; ++i)
        EXPECT_THROW(reader r(dir), std::runtime_error);
    EXPECT_EQ(open_fds(), before);
}

// Hardening finding 4: resynchronising past bytes that look like block headers claiming long
// lengths checked a CRC over each claimed length (quadratic). Now a candidate must end where
// the next block starts; the real next block is found and everything after it read.
TEST(journal, bytes_that_look_like_block_headers_do_not_stop_the_resync) {
    options o;
    o.block_bytes = 4 * 1024;
    const auto dir = write_journal("fakehdr", 4000, o);
    const auto seg = segments_in(dir).front();
    std::string bytes = slurp(seg);
    const auto first = bytes.find("SJB1");
    const auto second = bytes.find("SJB1", first + 1);
    ASSERT_NE(second, std::string::npos);
    // Overwrite the first block with fake headers, each claiming the rest of the file.
    for (std::size_t at = first; at + k_block_header <= second; at += k_block_header) {
        const std::uint32_t magic = k_block_magic;
        const auto len = static_cast<std::uint32_t>(bytes.size() - at - k_block_header - 1);
        std::memcpy(bytes.data() + at, &magic, 4);
        std::memcpy(bytes.data() + at + 4, &len, 4);
        std::memcpy(bytes.data() + at + 8, &len, 4);
        std::memset(bytes.data() + at + 12, 0, 4);
    }
    spit(seg, bytes);
    const counts c = read_all(dir);
    ASSERT_FALSE(c.problems.empty());
    EXPECT_GT(c.frames, 3500u);
    EXPECT_EQ(c.last_frame, 4000u) << "read to the end";
}

TEST(journal, not_a_journal) {
    const auto d = fresh_dir("empty");
    ::mkdir(d.c_str(), 0755);
    EXPECT_FALSE(reader::is_journal(d));
    EXPECT_THROW(reader r(d), std::runtime_error);
    EXPECT_THROW(reader r(d + "/missing"), std::runtime_error);
}

} // namespace
} // namespace seismo::journal
