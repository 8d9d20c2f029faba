#include "engine/sim.hpp"

#include "engine/core/json_writer.hpp"
#include "engine/core/time.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <set>
#include <stdexcept>

namespace seismo::engine {
namespace {

using core::nanos;
constexpr std::int64_t k_ms_per_min = 60'000;
constexpr std::int64_t k_ms_per_day = 86'400'000;

/// xoshiro256** seeded through splitmix64: fully specified, so output never depends on the
/// standard library's distributions.
class rng {
  public:
    explicit rng(std::uint64_t seed) {
        for (auto& s : s_) {
            seed += 0x9e3779b97f4a7c15ULL;
            std::uint64_t z = seed;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
            s = z ^ (z >> 31);
        }
    }
    std::uint64_t next() noexcept {
        const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const std::uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }
    /// Uniform in [0, 1).
    double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    double uniform(double lo, double hi) noexcept { return lo + (hi - lo) * uniform(); }
    std::int64_t integer(std::int64_t lo, std::int64_t hi) noexcept {
        return lo + static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(hi - lo + 1));
    }
    double normal() noexcept {
        const double u1 = 1.0 - uniform();
        const double u2 = uniform();
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
    }

  private:
    static std::uint64_t rotl(std::uint64_t x, int k) noexcept {
        return (x << k) | (x >> (64 - k));
    }
    std::uint64_t s_[4]{};
};

struct event {
    std::int64_t ts_ms;
    std::uint64_t order; // generation order: ties keep it
    std::uint32_t inst;
    bool prev_close;
    double px;
    double sz;
    std::uint64_t seq;
};

double round_to(double x, int decimals) {
    const double f = std::pow(10.0, decimals);
    return std::round(x * f) / f;
}

struct generator {
    rng r;
    std::vector<std::string> symbols;
    std::vector<int> decimals;
    std::vector<std::uint64_t> seqs;
    std::vector<event> events;
    std::uint64_t order = 0;

    explicit generator(std::uint64_t seed) : r(seed) {}

    std::uint32_t instrument(std::string sym, int dec) {
        symbols.push_back(std::move(sym));
        decimals.push_back(dec);
        seqs.push_back(0);
        return static_cast<std::uint32_t>(symbols.size() - 1);
    }
    void tick(std::uint32_t i, std::int64_t ts, double px, double sz) {
        events.push_back({ts, order++, i, false, round_to(px, decimals[i]), sz, ++seqs[i]});
    }
    void prev_close(std::uint32_t i, std::int64_t ts, double px) {
        events.push_back({ts, order++, i, true, round_to(px, decimals[i]), 0, 0});
    }

    /// An intraday path: from `start` towards start*(1+trough) at `t_trough` (smoothly), then
    /// recovering `recover` of the fall by the end, with mean-reverting noise around it.
    void path(std::uint32_t i, std::int64_t t0, std::int64_t t_trough, std::int64_t t_end,
              std::int64_t every_ms, double start, double trough, double recover, double noise,
              double size) {
        double dev = 0;
        for (std::int64_t t = t0; t <= t_end; t += every_ms + r.integer(0, every_ms / 2)) {
            double shape = 0;
            if (t <= t_trough) {
                const double u = static_cast<double>(t - t0) / static_cast<double>(t_trough - t0);
                shape = u * u * (3 - 2 * u);
            } else {
                const double u =
                    static_cast<double>(t - t_trough) / static_cast<double>(t_end - t_trough);
                shape = 1.0 - recover * std::sqrt(u);
            }
            dev = 0.9 * dev + noise * r.normal();
            tick(i, t, start * (1.0 + trough * shape) * (1.0 + dev),
                 round_to(r.uniform(0.01, 3.0) * size, 4));
        }
    }

    /// A daily series at 21:00 UTC on weekdays between two days (inclusive).
    template <class F>
    void daily(std::uint32_t i, std::int64_t first_day, std::int64_t last_day, std::int64_t at_ms,
               F&& value) {
        for (std::int64_t d = first_day; d <= last_day; ++d) {
            const std::int64_t weekday = (d + 4) % 7; // 1970-01-01 was a Thursday; 0 = Sunday
            if (weekday == 0 || weekday == 6) continue;
            tick(i, d * k_ms_per_day + at_ms, value(d), 0);
        }
    }
};

std::int64_t day(int y, unsigned m, unsigned d) {
    return core::days_from_civil(y, m, d);
}

void liquidity_shock(generator& g, const sim_options& o) {
    rng& r = g.r;
    const std::int64_t d5 = day(2026, 2, 5);
    const std::int64_t t0 = d5 * k_ms_per_day + 90 * k_ms_per_min; // 09:30 Beijing
    const std::int64_t t_end = t0 + 150 * k_ms_per_min;
    const std::int64_t close_21 = 21 * 60 * k_ms_per_min;

    // --- daily macro series (history first: the file is in event-time order) ---
    const auto fsi = g.instrument("OFR.FSI", 3);
    const auto rai = g.instrument("CITI.RAI", 3);
    const auto cds = g.instrument("CN.SOV_CDS", 2);
    double fsi_v = -1.62, rai_v = 0.18, cds_v = 44.5;
    g.daily(fsi, day(2025, 12, 1), d5 - 1, close_21,
            [&](std::int64_t) { return fsi_v += 0.07 * r.normal(); });
    g.daily(rai, day(2025, 12, 1), d5 - 1, close_21,
            [&](std::int64_t) { return rai_v += 0.05 * r.normal(); });
    g.daily(cds, day(2025, 12, 1), d5 - 1, close_21,
            [&](std::int64_t) { return cds_v += 0.6 * r.normal(); });

    const auto lev = g.instrument("US.LEVLOAN", 3);
    const std::int64_t peak = day(2026, 1, 13);
    g.daily(lev, day(2026, 1, 2), d5 - 1, close_21, [&](std::int64_t d) {
        double v;
        if (d <= peak) {
            v = 96.20 + 0.90 * static_cast<double>(d - day(2026, 1, 2)) /
                            static_cast<double>(peak - day(2026, 1, 2));
        } else if (d < day(2026, 1, 27)) {
            v = 97.10 - 0.045 * static_cast<double>(d - peak) + ((d % 3 == 0) ? 0.05 : 0.0);
        } else if (d <= day(2026, 1, 30)) {
            v = 96.55 - 0.42 * static_cast<double>(d - day(2026, 1, 26));
        } else if (d < d5 - 1) {
            v = 94.95 + 0.08 * static_cast<double>(d - day(2026, 1, 30));
        } else {
            v = 95.17 * (1 - 0.0045); // "the decline intensified again last night"
        }
        return v + 0.004 * r.normal();
    });

    const auto usd = g.instrument("US.USD_LIQUIDITY", 1);
    g.daily(usd, day(2026, 1, 2), d5 - 1, close_21, [&](std::int64_t d) {
        const double k = static_cast<double>(d - day(2026, 1, 2));
        double v;
        if (d < day(2026, 1, 29))
            v = -18.0 - 42.0 * (k / 26.0) * (k / 26.0) + 0.8 * r.normal();
        else if (d == day(2026, 1, 29))
            v = -61.4; // the -60 "extreme tightening" warning
        else if (d < day(2026, 2, 2))
            v = -60.5 + 0.3 * r.normal();
        else if (d < d5 - 1)
            v = -53.8 + 0.3 * r.normal(); // a brief easing (clears the zone)
        else
            v = -58.2;
        return std::min(v, -5.0);
    });

    const auto margin = g.instrument("CN.MARGIN_BALANCE", 0);
    {
        double bal = 2.7123e12;
        const std::int64_t at = 30 * k_ms_per_min; // published 08:30 Beijing
        const double moves[] = {3.1e9, -1.2e9, -4.0e9, 2.2e9, -13.9e9};
        std::int64_t d = d5 - 7;
        g.tick(margin, d * k_ms_per_day + at, bal, 0);
        for (double mv : moves) {
            do {
                ++d;
            } while ((d + 4) % 7 == 0 || (d + 4) % 7 == 6);
            bal += mv;
            g.tick(margin, d * k_ms_per_day + at, bal, 0);
        }
    }

    // --- intraday: metals and crypto trade around the clock ---
    const std::int64_t pre = t0 - 30 * k_ms_per_min;
    const auto xag = g.instrument("XAG/USD", 3);
    const auto xau = g.instrument("XAU/USD", 2);
    const auto btc = g.instrument("BTC/USD", 2);
    const auto eth = g.instrument("ETH/USD", 2);
    g.path(xag, pre, t0 + 95 * k_ms_per_min, t_end, 2000, 90.12, -0.155, 0.3, 0.0006, 10);
    g.path(xau, pre, t0 + 100 * k_ms_per_min, t_end, 2000, 4965.0, -0.0335, 0.4, 0.0003, 1);
    g.path(btc, pre, t0 + 85 * k_ms_per_min, t_end, 1000, 75320.0, -0.0594, 0.35, 0.0004, 0.2);
    g.path(eth, pre, t0 + 88 * k_ms_per_min, t_end, 1000, 2262.0, -0.066, 0.3, 0.0005, 2);

    // --- Asian indices against their previous close ---
    struct index_def {
        const char* sym;
        double prev;
        double trough;
        int trough_min;
    };
    const index_def indices[] = {
        {"CN.SSE", 4102.2, -0.0115, 40},     {"CN.SZSE", 13311.0, -0.0190, 45},
        {"CN.CHINEXT", 3302.0, -0.0235, 50}, {"HK.HSI", 26843.0, -0.0140, 55},
        {"KR.KOSPI", 5371.0, -0.0320, 60},   {"JP.N225", 54720.0, -0.0090, 35}};
    for (const auto& ix : indices) {
        const auto i = g.instrument(ix.sym, 2);
        g.prev_close(i, t0 - 5 * k_ms_per_min, ix.prev);
        g.path(i, t0, t0 + ix.trough_min * k_ms_per_min, t_end, 5000, ix.prev * 0.998,
               ix.trough / 0.998 + 0.002, 0.4, 0.0002, 0);
    }

    // --- the A-share universe ---
    std::vector<std::string> codes;
    std::set<std::string> seen;
    for (std::size_t tries = 0; codes.size() < o.stocks && tries < o.stocks * 20; ++tries) {
        const std::int64_t pick = r.integer(0, 99);
        char buf[16];
        if (pick < 45)
            std::snprintf(buf, sizeof buf, "%06d.SH",
                          static_cast<int>(600000 + r.integer(0, 5999)));
        else if (pick < 75)
            std::snprintf(buf, sizeof buf, "%06d.SZ", static_cast<int>(r.integer(1, 3999)));
        else if (pick < 95)
            std::snprintf(buf, sizeof buf, "%06d.SZ",
                          static_cast<int>(300000 + r.integer(0, 1999)));
        else
            std::snprintf(buf, sizeof buf, "%06d.BJ",
                          static_cast<int>(830000 + r.integer(0, 9999)));
        if (seen.insert(buf).second) codes.emplace_back(buf);
    }
    for (const auto& code : codes) {
        const auto i = g.instrument(code, 2);
        const double prev = std::clamp(std::exp(std::log(12.0) + 0.8 * r.normal()), 2.0, 1500.0);
        g.prev_close(i, t0 - 5 * k_ms_per_min, prev);
        const double dice = r.uniform();
        const double target =
            dice < 0.72 ? -r.uniform(0.003, 0.045) : (dice < 0.98 ? r.uniform(0.002, 0.03) : 0.0);
        // ticks at random times through the session, moving towards the target
        std::vector<std::int64_t> times;
        for (std::size_t k = 0; k < o.stock_ticks; ++k)
            times.push_back(t0 + r.integer(0, 150 * k_ms_per_min));
        std::sort(times.begin(), times.end());
        for (auto ts : times) {
            const double u = std::min(1.0, static_cast<double>(ts - t0) /
                                               static_cast<double>(75 * k_ms_per_min));
            const double ret = target * u + 0.002 * r.normal() * (1 - u);
            g.tick(i, ts, std::max(prev * (1.0 + ret), 0.01),
                   static_cast<double>(r.integer(1, 500) * 100));
        }
    }

    // --- the day's macro prints ---
    g.tick(usd, t0 + 15 * k_ms_per_min, -62.5, 0);
    g.tick(fsi, t0 + 30 * k_ms_per_min, fsi_v + 0.95, 0);
    g.tick(rai, t0 + 50 * k_ms_per_min, rai_v + 0.62, 0);
    g.tick(cds, t0 + 70 * k_ms_per_min, cds_v + 7.5, 0);
}

void write_event(std::string& out, const generator& g, const event& e) {
    out += R"({"sym":)";
    core::append_json_string(out, g.symbols[e.inst]);
    out += e.prev_close ? R"(,"prev_close":)" : R"(,"px":)";
    core::append_double(out, e.px);
    out += R"(,"ts":)";
    core::append_int(out, e.ts_ms);
    if (!e.prev_close) {
        out += R"(,"sz":)";
        core::append_double(out, e.sz);
        out += R"(,"seq":)";
        core::append_uint(out, e.seq);
    }
    out += "}\n";
}

/// One bad line, chosen and built deterministically from the good event it follows.
void write_bad(std::string& out, generator& g, rng& r, const event& e) {
    std::string sym;
    core::append_json_string(sym, g.symbols[e.inst]);
    const std::string ts = std::to_string(e.ts_ms);
    switch (r.integer(0, 11)) {
    case 0:
        out += R"({"sym":)" + sym + R"(,"px":12.5,"ts":)" + ts;
        break; // truncated
    case 1:
        out += R"({"sym":)" + sym + R"(,"ts":)" + ts + "}";
        break; // no px
    case 2:
        out += R"({"px":1.5,"ts":)" + ts + "}";
        break; // no sym
    case 3:
        out += R"({"sym":)" + sym + R"(,"px":"NaN","ts":)" + ts + "}";
        break;
    case 4:
        out += R"({"sym":)" + sym + R"(,"px":1e999,"ts":)" + ts + "}";
        break;
    case 5:
        out += R"({"sym":"XAG/USD","px":-3.5,"ts":)" + ts + "}";
        break; // price instrument
    case 6:
        out += R"({"sym":)" + sym + R"(,"px":true,"ts":)" + ts + "}";
        break;
    case 7:
        out += R"({"sym":)" + sym + R"(,"px":10,"ts":"yesterday"})";
        break;
    case 8:
        out += R"({"sym":)" + sym + R"(,"px":10,"ts":)" + ts + "} trailing";
        break;
    case 9: { // oversize
        out += R"({"sym":)" + sym + R"(,"px":10,"ts":)" + ts + R"(,"pad":")";
        out.append(70 * 1024, 'x');
        out += "\"}";
        break;
    }
    case 10: { // late: an hour before this instrument's latest tick
        if (e.prev_close || e.seq < 2) {
            out += "not json at all";
            break;
        }
        event late = e;
        late.ts_ms -= 3'600'000;
        late.seq = 0;
        std::string line;
        write_event(line, g, late);
        line.pop_back();
        out += line;
        break;
    }
    default: { // duplicate: the same line again (same seq)
        if (e.prev_close) {
            out += "[1,2,3]";
            break;
        }
        std::string line;
        write_event(line, g, e);
        line.pop_back();
        out += line;
        break;
    }
    }
    out += '\n';
}

} // namespace

std::vector<std::string> sim_scenarios() {
    return {"liquidity-shock"};
}

std::string simulate(const sim_options& o) {
    if (o.scenario != "liquidity-shock") {
        throw std::invalid_argument("unknown scenario '" + o.scenario +
                                    "' (known: liquidity-shock)");
    }
    generator g(o.seed);
    liquidity_shock(g, o);
    std::stable_sort(g.events.begin(), g.events.end(), [](const event& a, const event& b) {
        return a.ts_ms != b.ts_ms ? a.ts_ms < b.ts_ms : a.order < b.order;
    });
    // Every pass has the same events (same seed), so an instrument's sequence numbers in pass
    // n start right after the count of its ticks times n.
    const std::int64_t span = g.events.empty() ? 0 : g.events.back().ts_ms - g.events.front().ts_ms;
    const auto pass = static_cast<std::int64_t>(o.pass);
    const std::int64_t shift = pass * (span + k_ms_per_day);
    for (auto& e : g.events) {
        e.ts_ms += shift;
        if (!e.prev_close) e.seq += o.pass * g.seqs[e.inst];
    }
    std::string out;
    out.reserve(g.events.size() * 72);
    rng bad(o.seed ^ 0xbadbadbadULL);
    for (const auto& e : g.events) {
        write_event(out, g, e);
        if (o.bad_rate > 0 && bad.uniform() < o.bad_rate) write_bad(out, g, bad, e);
    }
    return out;
}

} // namespace seismo::engine
