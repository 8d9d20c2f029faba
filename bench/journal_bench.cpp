// Journal throughput (issue: journal), each beside a floor measured in the same run:
//  1. write: generated generic-protocol frames (and one order entry per frame, in batches of 64
//     as the signal thread writes them) through journal::writer until stop() has written and
//     fdatasync'd everything, beside a plain sequential write() of the very bytes the journal
//     produced (read back from its segments) plus fdatasync;
//  2. replay: the journal through run_journal_replay (read, CRC, the generic pipeline, the
//     consumption order, every playbook signal) beside the in-memory replay of the same frames
//     (replay_session over one buffer, as replay_bench measures it).
// Plain and zstd journals; best of --rounds each.
//
//   build/release/bench/journal_bench [--frames N] [--rounds R] [--dir DIR]
#include "bench/frames.hpp"
#include "bench/support.hpp"
#include "engine/config.hpp"
#include "engine/core/time.hpp"
#include "engine/journal/writer.hpp"
#include "engine/journal_replay.hpp"
#include "engine/replay.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace {

using namespace seismo;
using clock_type = std::chrono::steady_clock;

double since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

std::vector<std::string> segment_files(const std::string& d) {
    std::vector<journal::segment_file> segs;
    (void)journal::list_segments(d, segs);
    std::vector<std::string> v;
    for (auto& s : segs)
        v.push_back(std::move(s.path));
    return v;
}

struct write_result {
    double seconds = 0;
    std::uint64_t bytes = 0, waits = 0;
    std::size_t segments = 0;
};

write_result journal_write(const bench::frame_set& fs, const engine::config& cfg,
                           const std::string& dir, bool zstd) {
    bench::remove_journal(dir);
    journal::options o;
    o.dir = dir;
    o.compress = zstd;
    o.segment_bytes = 256u << 20;
    journal::meta m;
    m.feeds = {{"bench", "generic"}};
    m.config_text = cfg.text;
    m.config_file = "<playbook>";
    m.digest = cfg.digest;
    journal::writer w(o, m, 1);
    w.start();
    std::vector<journal::order_entry> batch;
    batch.reserve(64);
    const char* data = fs.buffer.data();
    std::size_t pos = 0;
    std::uint32_t no = 0;
    core::nanos recv = 1'770'000'000'000'000'000LL;
    const auto t0 = clock_type::now();
    while (pos < fs.size) {
        const char* nl = static_cast<const char*>(std::memchr(data + pos, '\n', fs.size - pos));
        const std::size_t len = static_cast<std::size_t>(nl - (data + pos));
        w.frame(0, ++no, recv += 1000, std::string_view(data + pos, len));
        batch.push_back({0, 0, no});
        if (batch.size() == 64) {
            w.order(batch.data(), batch.size());
            batch.clear();
        }
        pos += len + 1;
    }
    w.order(batch.data(), batch.size());
    w.stop(); // seals the last block and fdatasyncs
    write_result r;
    r.seconds = since(t0);
    r.bytes = w.bytes_written();
    r.waits = w.ring_waits();
    r.segments = static_cast<std::size_t>(w.segments());
    return r;
}

/// The floor: the journal's own bytes (read back into memory) written sequentially in 1 MiB
/// write() calls to a fresh file, then fdatasync.
double plain_write(const std::string& dir, const std::string& out) {
    std::string bytes;
    for (const auto& s : segment_files(dir)) {
        std::ifstream f(s, std::ios::binary);
        std::ostringstream ss;
        ss << f.rdbuf();
        bytes += ss.str();
    }
    ::unlink(out.c_str());
    const auto t0 = clock_type::now();
    const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return 0;
    for (std::size_t at = 0; at < bytes.size();) {
        const ssize_t n =
            ::write(fd, bytes.data() + at, std::min<std::size_t>(1u << 20, bytes.size() - at));
        if (n <= 0) break;
        at += static_cast<std::size_t>(n);
    }
    ::fdatasync(fd);
    ::close(fd);
    const double s = since(t0);
    ::unlink(out.c_str());
    return s;
}

double journal_replay(const std::string& dir, const engine::config& cfg, engine::replay_stats& st) {
    engine::journal_replay_options o;
    o.base.out = ""; // triggers are still produced and serialised, just not written
    o.base.deterministic = true;
    o.progress = false;
    const auto t0 = clock_type::now();
    const auto r = engine::run_journal_replay(dir, &cfg, o);
    const double s = since(t0);
    st = r.stats;
    return s;
}

} // namespace

int main(int argc, char** argv) {
    std::size_t frames = 2'000'000;
    int rounds = 3;
    std::string base = "/var/tmp";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--frames") == 0)
            frames = std::stoull(argv[i + 1]);
        else if (std::strcmp(argv[i], "--rounds") == 0)
            rounds = std::stoi(argv[i + 1]);
        else if (std::strcmp(argv[i], "--dir") == 0)
            base = argv[i + 1];
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    const auto cfg = engine::load_playbook();
    const auto fs = bench::make_frames(frames);
    const std::string dir = base + "/seismo_journal_bench_" + std::to_string(::getpid());
    const double n = static_cast<double>(fs.frames);
    std::printf("journal_bench: %zu frames (%.1f MB of frames) in memory, journal in %s, best of "
                "%d rounds\n",
                fs.frames, static_cast<double>(fs.size) / 1e6, base.c_str(), rounds);
    bool ok = true;
    for (const bool zstd : {false, true}) {
        write_result best{1e99};
        double best_plain = 1e99, best_jr = 1e99, best_mem = 1e99;
        engine::replay_stats jst, mst;
        for (int r = 0; r < rounds; ++r) {
            const write_result w = journal_write(fs, cfg, dir, zstd);
            if (w.seconds < best.seconds) best = w;
            best_plain = std::min(best_plain, plain_write(dir, dir + ".plain"));
            best_jr = std::min(best_jr, journal_replay(dir, cfg, jst));
            best_mem = std::min(best_mem, bench::replay_in_memory(fs, cfg, mst));
        }
        const double mb = static_cast<double>(best.bytes) / 1e6;
        std::printf("%s journal: %.1f MB in %zu segment(s) (%.2f bytes on disk per frame byte), "
                    "%llu ring waits\n",
                    zstd ? "zstd" : "plain", mb, best.segments,
                    static_cast<double>(best.bytes) / static_cast<double>(fs.size),
                    static_cast<unsigned long long>(best.waits));
        std::printf("  write  floor: plain write() + fdatasync of the same bytes  %8.1f MB/s\n",
                    mb / best_plain);
        std::printf("  write  journal: frames + order -> rings -> blocks -> disk  %8.1f MB/s  "
                    "%6.2f M frames/s  %6.1f MB/s of frames\n",
                    mb / best.seconds, n / best.seconds / 1e6,
                    static_cast<double>(fs.size) / 1e6 / best.seconds);
        std::printf("         ratio journal/plain (bytes on disk per second): %.1f%%\n",
                    100.0 * best_plain / best.seconds);
        std::printf(
            "  replay floor: in-memory replay of the same frames          %8.2f M ticks/s\n",
            n / best_mem / 1e6);
        std::printf("  replay journal: read + CRC + pipeline + order + signals    %8.2f M ticks/s  "
                    "(%llu applied, %llu triggers)\n",
                    n / best_jr / 1e6,
                    static_cast<unsigned long long>(jst.applied + jst.references),
                    static_cast<unsigned long long>(jst.triggers));
        std::printf("         ratio journal/in-memory: %.1f%%\n", 100.0 * best_mem / best_jr);
        // The journal replay must reproduce the in-memory replay's work exactly.
        ok = ok && jst.applied == mst.applied && jst.references == mst.references &&
             jst.triggers == mst.triggers && jst.rejected_total() == 0;
    }
    bench::remove_journal(dir);
    if (!ok) std::printf("MISMATCH: the journal replay did not reproduce the in-memory replay\n");
    return ok ? 0 : 1;
}
