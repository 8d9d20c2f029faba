#pragma once
// Helpers of the journal tests: fresh directories and small journals written with the writer.

#include "engine/journal/reader.hpp"
#include "engine/journal/writer.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace seismo::journal::testing {

inline std::string fresh_dir(const std::string& name) {
    const std::string d =
        ::testing::TempDir() + "seismo_journal_" + std::to_string(::getpid()) + "_" + name;
    std::system(("rm -rf '" + d + "'").c_str());
    return d;
}

inline std::vector<std::string> segments_in(const std::string& dir) {
    std::vector<segment_file> segs;
    EXPECT_TRUE(list_segments(dir, segs)) << dir;
    std::vector<std::string> v;
    for (auto& s : segs)
        v.push_back(std::move(s.path));
    return v;
}

inline std::string slurp(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

inline void spit(const std::string& p, const std::string& bytes) {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f << bytes;
}

inline meta test_meta() {
    meta m;
    m.feeds = {{"a", "generic"}, {"b", "binance"}};
    m.config_text = "[engine]\n";
    m.config_file = "t.toml";
    m.digest = 42;
    return m;
}

/// Writes `n` frames on feed 0 (and order entries and a health event), returns the directory.
inline std::string write_journal(const std::string& name, std::size_t n, options o = {}) {
    o.dir = fresh_dir(name);
    writer w(o, test_meta(), 2);
    w.start();
    for (std::uint32_t i = 1; i <= n; ++i) {
        const std::string f = R"({"sym":"X","px":)" + std::to_string(100 + i) + R"(,"seq":)" +
                              std::to_string(i) + "}";
        w.frame(0, i, 1'000'000'000LL * i, f);
        const order_entry e{0, 0, i};
        w.order(&e, 1);
        if (i == n / 2)
            w.health(1, core::health_kind::gap, core::down_cause::none, 7, 3, "BTCUSDT");
    }
    w.stop();
    return o.dir;
}

} // namespace seismo::journal::testing
