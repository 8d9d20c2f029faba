#include "bench/frames.hpp"

#include "engine/core/json_writer.hpp"

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

namespace seismo::bench {

frame_set make_frames(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    struct inst {
        std::string sym;
        double px;
        double vol;
        std::uint64_t seq = 0;
    };
    std::vector<inst> shares, crypto, metals, indices;
    for (int i = 0; i < 5000; ++i) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%06d.%s", 600000 + i, i % 2 == 0 ? "SH" : "SZ");
        shares.push_back({buf, 5.0 + static_cast<double>(rng() % 20000) / 100.0, 0.002});
    }
    crypto = {{"BTC/USD", 75320.0, 0.0005}, {"ETH/USD", 2262.0, 0.0006}};
    metals = {{"XAG/USD", 90.12, 0.0004}, {"XAU/USD", 4965.0, 0.0002}};
    indices = {{"CN.SSE", 4102.2, 0.0002},     {"CN.SZSE", 13311.0, 0.0002},
               {"CN.CHINEXT", 3302.0, 0.0003}, {"HK.HSI", 26843.0, 0.0002},
               {"KR.KOSPI", 5371.0, 0.0003},   {"JP.N225", 54720.0, 0.0002}};
    frame_set fs;
    fs.buffer.reserve(n * 80 + 5000 * 60 + 64);
    std::int64_t ts = 1770255000000; // ms
    for (auto& s : shares) {
        fs.buffer += R"({"sym":")" + s.sym + R"(","prev_close":)";
        core::append_double(fs.buffer, s.px);
        fs.buffer += "}\n";
        ++fs.frames;
    }
    for (auto& s : indices) {
        fs.buffer += R"({"sym":")" + s.sym + R"(","prev_close":)";
        core::append_double(fs.buffer, s.px);
        fs.buffer += "}\n";
        ++fs.frames;
    }
    std::normal_distribution<double> z(0.0, 1.0);
    for (std::size_t k = 0; k < n; ++k) {
        const unsigned pick = static_cast<unsigned>(rng() % 100);
        inst& s = pick < 40   ? shares[rng() % shares.size()]
                  : pick < 70 ? crypto[rng() % crypto.size()]
                  : pick < 85 ? metals[rng() % metals.size()]
                              : indices[rng() % indices.size()];
        s.px *= 1.0 + s.vol * z(rng) - 0.00001; // a slow slide, so levels get crossed
        ts += static_cast<std::int64_t>(rng() % 3);
        fs.buffer += R"({"sym":")";
        fs.buffer += s.sym;
        fs.buffer += R"(","px":)";
        core::append_double(fs.buffer, std::round(s.px * 100) / 100);
        fs.buffer += R"(,"ts":)";
        core::append_int(fs.buffer, ts);
        fs.buffer += R"(,"sz":)";
        core::append_double(fs.buffer, static_cast<double>(1 + rng() % 500) / 100.0);
        fs.buffer += R"(,"seq":)";
        core::append_uint(fs.buffer, ++s.seq);
        fs.buffer += "}\n";
        ++fs.frames;
    }
    fs.size = fs.buffer.size();
    fs.buffer.append(64, '\0');
    return fs;
}

} // namespace seismo::bench
