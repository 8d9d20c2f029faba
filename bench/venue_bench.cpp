// Per-venue parse cost (DESIGN §12, issue: venue adapters): each adapter on its venue's real
// trade frames (tests/fixtures/venues) beside a floor measured on the same frames in the same
// run: a simdjson On-Demand walk that visits every value of the frame and nothing else.
// Anchor from elsewhere: Nautilus's OKX adapter, 686 ns per trade frame on a fast desktop.
#include "engine/core/instrument_registry.hpp"
#include "feeds/generic.hpp"
#include "feeds/venue.hpp"

#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <fstream>
#include <string>
#include <vector>

#ifndef SEISMO_SOURCE_DIR
#define SEISMO_SOURCE_DIR "."
#endif

namespace {

using namespace seismo;
namespace od = simdjson::ondemand;

struct frames {
    std::vector<std::string> padded; // frame + padding
    std::vector<std::size_t> len;
};

frames load(const std::vector<std::string>& files) {
    frames f;
    for (const auto& name : files) {
        std::ifstream in(std::string(SEISMO_SOURCE_DIR) + "/tests/fixtures/venues/" + name);
        for (std::string l; std::getline(in, l);) {
            if (l.empty()) continue;
            f.len.push_back(l.size());
            f.padded.push_back(l + std::string(feeds::k_padding, ' '));
        }
    }
    return f;
}

/// Visits every value once: the cost of parsing the frame with nothing done with it.
simdjson::error_code walk(od::value v, std::uint64_t& sink) {
    od::json_type t{};
    if (auto e = v.type().get(t); e) return e;
    switch (t) {
    case od::json_type::object: {
        od::object o;
        if (auto e = v.get_object().get(o); e) return e;
        for (auto f : o) {
            if (f.error()) return f.error();
            od::field& fl = f.value_unsafe();
            sink += fl.key().raw()[0];
            if (auto e = walk(fl.value(), sink); e) return e;
        }
        return simdjson::SUCCESS;
    }
    case od::json_type::array: {
        od::array a;
        if (auto e = v.get_array().get(a); e) return e;
        for (auto x : a) {
            od::value el;
            if (auto e = x.get(el); e) return e;
            if (auto e2 = walk(el, sink); e2) return e2;
        }
        return simdjson::SUCCESS;
    }
    case od::json_type::string: {
        std::string_view s;
        if (auto e = v.get_string().get(s); e) return e;
        sink += s.size();
        return simdjson::SUCCESS;
    }
    case od::json_type::number: {
        double d = 0;
        if (auto e = v.get_double().get(d); e) return e;
        sink += static_cast<std::uint64_t>(d);
        return simdjson::SUCCESS;
    }
    default:
        return simdjson::SUCCESS;
    }
}

void floor_bench(benchmark::State& state, std::vector<std::string> files) {
    const frames f = load(files);
    od::parser parser;
    std::uint64_t sink = 0;
    std::size_t i = 0;
    for (auto _ : state) {
        const std::size_t k = i++ % f.len.size();
        od::document doc;
        if (parser.iterate(f.padded[k].data(), f.len[k], f.padded[k].size()).get(doc) !=
            simdjson::SUCCESS)
            continue;
        od::value root;
        if (doc.get_value().get(root) != simdjson::SUCCESS) continue;
        benchmark::DoNotOptimize(walk(root, sink));
    }
    benchmark::DoNotOptimize(sink);
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void adapter_bench(benchmark::State& state, feeds::venue v, std::vector<std::string> files) {
    const frames f = load(files);
    core::instrument_registry reg;
    core::symbol_cache syms(reg, reg.venue(feeds::to_string(v)));
    feeds::venue_parser p(v, syms);
    std::vector<core::tick> out;
    out.reserve(64);
    std::size_t i = 0, ticks = 0;
    for (auto _ : state) {
        const std::size_t k = i++ % f.len.size();
        out.clear();
        const auto r = p.parse(f.padded[k].data(), f.len[k], f.padded[k].size(), 1, out);
        if (r.status == feeds::frame_status::rejected)
            state.SkipWithError("a fixture frame was rejected");
        ticks += out.size();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    state.counters["ticks_per_frame"] =
        static_cast<double>(ticks) / static_cast<double>(std::max<std::size_t>(i, 1));
}

#define SEISMO_VENUE_BENCH(name, venue_kind, ...)                                                  \
    void BM_##name##_floor(benchmark::State& s) {                                                  \
        floor_bench(s, {__VA_ARGS__});                                                             \
    }                                                                                              \
    void BM_##name##_adapter(benchmark::State& s) {                                                \
        adapter_bench(s, venue_kind, {__VA_ARGS__});                                               \
    }                                                                                              \
    BENCHMARK(BM_##name##_floor);                                                                  \
    BENCHMARK(BM_##name##_adapter)

SEISMO_VENUE_BENCH(binance_aggTrade, feeds::venue::binance, "binance_aggTrade.json");
SEISMO_VENUE_BENCH(binance_bookTicker, feeds::venue::binance, "binance_bookTicker.json");
SEISMO_VENUE_BENCH(coinbase_match, feeds::venue::coinbase, "coinbase_exchange_matches.json");
SEISMO_VENUE_BENCH(coinbase_ticker, feeds::venue::coinbase, "coinbase_exchange_ticker.json");
SEISMO_VENUE_BENCH(coinbase_advanced, feeds::venue::coinbase,
                   "coinbase_advanced_market_trades.json");
SEISMO_VENUE_BENCH(kraken_v1_trade, feeds::venue::kraken, "kraken_v1_trade.json");
SEISMO_VENUE_BENCH(kraken_v2_trade, feeds::venue::kraken, "kraken_v2_trade.json");
SEISMO_VENUE_BENCH(okx_trades, feeds::venue::okx, "okx_trades.json");
SEISMO_VENUE_BENCH(bybit_publicTrade, feeds::venue::bybit, "bybit_publicTrade.json");

} // namespace

BENCHMARK_MAIN();
