// Google Benchmark micro-benchmarks: the generic-protocol parser beside the simdjson floor on the
// same frames, one signal update per kind (DESIGN §12), and what recording a journal costs per
// frame beside a plain copy. Run with --benchmark_min_time=...
#include "bench/frames.hpp"
#include "bench/support.hpp"
#include "engine/core/counter.hpp"
#include "engine/core/instrument_registry.hpp"
#include "engine/journal/writer.hpp"
#include "feeds/generic.hpp"
#include "signals/graph.hpp"

#include <benchmark/benchmark.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>
#include <simdjson.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string_view>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using namespace seismo;
namespace od = simdjson::ondemand;

struct line {
    std::size_t off, len;
};

const bench::frame_set& frames() {
    static const bench::frame_set fs = bench::make_frames(20000);
    return fs;
}

std::vector<line> price_lines() {
    const auto& fs = frames();
    std::vector<line> out;
    std::size_t pos = 0;
    while (pos < fs.size) {
        const char* nl =
            static_cast<const char*>(std::memchr(fs.buffer.data() + pos, '\n', fs.size - pos));
        const std::size_t len = static_cast<std::size_t>(nl - (fs.buffer.data() + pos));
        if (std::string_view(fs.buffer.data() + pos, len).find("\"px\"") != std::string_view::npos)
            out.push_back({pos, len});
        pos += len + 1;
    }
    return out;
}

void BM_parse_floor_simdjson(benchmark::State& state) {
    const auto& fs = frames();
    const auto lines = price_lines();
    od::parser parser;
    std::size_t i = 0;
    for (auto _ : state) {
        const line& l = lines[i++ % lines.size()];
        od::document doc;
        if (parser.iterate(fs.buffer.data() + l.off, l.len, fs.buffer.size() - l.off).get(doc) !=
            simdjson::SUCCESS)
            continue;
        od::object obj;
        if (doc.get_object().get(obj) != simdjson::SUCCESS) continue;
        for (auto fr : obj) {
            od::field& f = fr.value_unsafe();
            const od::raw_json_string key = f.key();
            od::value& v = f.value();
            if (key.unsafe_is_equal("sym")) {
                std::string_view s;
                if (v.get_string().get(s) != simdjson::SUCCESS) break;
                benchmark::DoNotOptimize(s);
            } else if (key.unsafe_is_equal("ts")) {
                std::int64_t t = 0;
                if (v.get_int64().get(t) != simdjson::SUCCESS) break;
                benchmark::DoNotOptimize(t);
            } else if (key.unsafe_is_equal("seq")) {
                std::uint64_t u = 0;
                if (v.get_uint64().get(u) != simdjson::SUCCESS) break;
                benchmark::DoNotOptimize(u);
            } else {
                double d = 0;
                if (v.get_double().get(d) != simdjson::SUCCESS) break;
                benchmark::DoNotOptimize(d);
            }
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_parse_floor_simdjson);

void BM_parse_generic(benchmark::State& state) {
    const auto& fs = frames();
    const auto lines = price_lines();
    core::instrument_registry reg;
    core::symbol_cache syms(reg, reg.venue("generic"));
    feeds::generic_parser parser(syms);
    std::vector<core::tick> out;
    out.reserve(16);
    std::size_t i = 0;
    for (auto _ : state) {
        const line& l = lines[i++ % lines.size()];
        out.clear();
        auto r = parser.parse(fs.buffer.data() + l.off, l.len, fs.buffer.size() - l.off, 1, out);
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_parse_generic);

/// One signal of `kind` over `n` instruments; ticks pre-generated (random walks, 1 ms apart).
void signal_bench(benchmark::State& state, signals::signal_kind kind) {
    const std::size_t n = static_cast<std::size_t>(state.range(0));
    core::instrument_registry reg;
    for (std::size_t i = 0; i < n; ++i) {
        core::instrument_info info;
        info.symbol = "I";
        info.symbol += std::to_string(i);
        info.tags = {"u"};
        info.prev_close = 100.0;
        info.kind = core::value_kind::level;
        (void)reg.add(info);
    }
    std::vector<signals::signal_spec> specs;
    signals::signal_spec s;
    s.name = "s";
    s.kind = kind;
    s.dir = signals::default_direction(kind);
    s.select = {{signals::selector::by::tag, "u"}};
    s.levels = {{-0.05, signals::severity::warning}, {-0.1, signals::severity::critical}};
    s.rearm = 0.01;
    constexpr core::nanos k_day = 86'400'000'000'000;
    switch (kind) {
    case signals::signal_kind::drawdown:
        s.window = k_day;
        break;
    case signals::signal_kind::level:
        s.levels = {{90.0, signals::severity::warning}};
        s.rearm = 1;
        break;
    case signals::signal_kind::change:
        s.lookback = k_day;
        s.units = signals::change_units::pct;
        break;
    case signals::signal_kind::zscore:
        s.halflife = k_day;
        s.levels = {{4.0, signals::severity::warning}};
        s.rearm = 1;
        break;
    case signals::signal_kind::breadth:
        s.ref = signals::ref_kind::prev_close;
        s.member_at = -0.01;
        s.min_members = 10;
        s.levels = {{0.6, signals::severity::warning}};
        s.rearm = 0.05;
        break;
    case signals::signal_kind::composite: {
        // two level inputs on the instruments, and the composite over them
        signals::signal_spec a = s;
        a.name = "a";
        a.kind = signals::signal_kind::level;
        a.dir = signals::direction::below;
        a.levels = {{95.0, signals::severity::warning}};
        a.rearm = 1;
        signals::signal_spec b = a;
        b.name = "b";
        b.levels = {{105.0, signals::severity::warning}};
        b.dir = signals::direction::above;
        specs.push_back(a);
        specs.push_back(b);
        s.select.clear();
        s.inputs = {"a", "b"};
        s.within = 1'000'000'000;
        s.levels = {{2.0, signals::severity::critical}};
        s.rearm = 0;
        break;
    }
    }
    specs.push_back(s);
    signals::graph g(specs, reg);
    struct null_sink final : signals::trigger_sink {
        std::uint64_t n = 0;
        void on_trigger(const signals::trigger&) override { ++n; }
    } sink;
    std::mt19937_64 rng(1);
    std::normal_distribution<double> z(0, 1);
    std::vector<core::tick> ticks(1 << 16);
    std::vector<double> px(n, 100.0);
    core::nanos t = 1'770'000'000'000'000'000;
    for (auto& tk : ticks) {
        const std::size_t i = rng() % n;
        px[i] = std::max(1.0, px[i] * (1 + 0.004 * z(rng)));
        t += 1'000'000;
        tk.inst = core::instrument_id{static_cast<std::uint32_t>(i)};
        tk.exch_ts = tk.recv_ts = t;
        tk.px = px[i];
        tk.kind = core::tick_kind::trade;
    }
    std::size_t k = 0;
    core::nanos shift = 0;
    for (auto _ : state) {
        core::tick tk = ticks[k];
        tk.exch_ts += shift;
        benchmark::DoNotOptimize(g.apply(tk, sink));
        if (++k == ticks.size()) {
            k = 0;
            shift +=
                static_cast<core::nanos>(ticks.size()) * 1'000'000; // time keeps moving forward
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    state.counters["triggers"] = static_cast<double>(sink.n);
    state.counters["state_B_per_inst"] =
        static_cast<double>(g.state_bytes()) / static_cast<double>(n);
}

void BM_signal_drawdown(benchmark::State& s) {
    signal_bench(s, signals::signal_kind::drawdown);
}
void BM_signal_level(benchmark::State& s) {
    signal_bench(s, signals::signal_kind::level);
}
void BM_signal_change(benchmark::State& s) {
    signal_bench(s, signals::signal_kind::change);
}
void BM_signal_breadth(benchmark::State& s) {
    signal_bench(s, signals::signal_kind::breadth);
}
void BM_signal_zscore(benchmark::State& s) {
    signal_bench(s, signals::signal_kind::zscore);
}
void BM_signal_composite(benchmark::State& s) {
    signal_bench(s, signals::signal_kind::composite);
}
BENCHMARK(BM_signal_drawdown)->Arg(100);
BENCHMARK(BM_signal_level)->Arg(100);
BENCHMARK(BM_signal_change)->Arg(100);
BENCHMARK(BM_signal_breadth)->Arg(5000);
BENCHMARK(BM_signal_zscore)->Arg(100);
BENCHMARK(BM_signal_composite)->Arg(100);

// ------------------------------------------------------------------ journal, per frame
// What recording adds on a feed thread per frame: journal::writer::frame (a record header and the
// frame copied into the feed's lock-free ring; the writer thread drains it and computes the
// CRC32C meanwhile, as live). The floor copies
// the same bytes into a 16 MiB buffer sequentially, wrapping: the least any recording costs.
void BM_journal_frame_floor(benchmark::State& state) {
    const auto lines = price_lines();
    const auto& fs = frames();
    std::vector<char> sink(16u << 20);
    std::size_t at = 0, i = 0;
    for (auto _ : state) {
        const line& l = lines[i++ % lines.size()];
        if (at + l.len + 24 > sink.size()) at = 0;
        std::memcpy(sink.data() + at, fs.buffer.data() + l.off, l.len);
        at += l.len + 24;
        benchmark::ClobberMemory();
    }
}
BENCHMARK(BM_journal_frame_floor);

void BM_journal_frame(benchmark::State& state) {
    const auto lines = price_lines();
    const auto& fs = frames();
    journal::options o;
    o.dir = "/var/tmp/seismo_micro_bench_journal_" + std::to_string(::getpid());
    bench::remove_journal(o.dir);
    {
        journal::writer w(o, journal::meta{{{"bench", "generic"}}, "", "", 0}, 1);
        w.start();
        std::uint32_t no = 0;
        for (auto _ : state) {
            const line& l = lines[no % lines.size()];
            w.frame(0, ++no, 1, std::string_view(fs.buffer.data() + l.off, l.len));
            if (no % 65536 == 0) { // live rates leave the writer time to drain: so does this
                state.PauseTiming();
                while (w.backlog_bytes() != 0)
                    std::this_thread::sleep_for(std::chrono::microseconds(100));
                state.ResumeTiming();
            }
        }
        w.stop();
        state.counters["ring_waits"] = static_cast<double>(w.ring_waits());
    }
    bench::remove_journal(o.dir);
}
BENCHMARK(BM_journal_frame);

// ---------------------------------------------------------------- probes
// What counting costs on the hot path (DESIGN §8): the single-writer counter the feed and signal
// threads bump (core::counter, a relaxed load and store), beside a plain increment (the floor),
// a shared atomic's locked fetch_add (what the feed counters did before probes) and
// prometheus-cpp's own Counter::Increment (which the hot path never calls).
void BM_counter_floor(benchmark::State& state) {
    std::uint64_t v = 0;
    for (auto _ : state) {
        ++v;
        benchmark::DoNotOptimize(v);
    }
}
BENCHMARK(BM_counter_floor);

void BM_counter_probe(benchmark::State& state) {
    core::counter c;
    for (auto _ : state) {
        c.add();
        benchmark::ClobberMemory();
    }
    benchmark::DoNotOptimize(c.value());
}
BENCHMARK(BM_counter_probe);

void BM_counter_fetch_add(benchmark::State& state) {
    std::atomic<std::uint64_t> c{0};
    for (auto _ : state) {
        c.fetch_add(1, std::memory_order_relaxed);
        benchmark::ClobberMemory();
    }
    benchmark::DoNotOptimize(c.load());
}
BENCHMARK(BM_counter_fetch_add);

void BM_counter_prometheus_cpp(benchmark::State& state) {
    prometheus::Registry reg;
    auto& c = prometheus::BuildCounter().Name("bench_total").Help("bench").Register(reg).Add({});
    for (auto _ : state) {
        c.Increment();
        benchmark::ClobberMemory();
    }
}
BENCHMARK(BM_counter_prometheus_cpp);

} // namespace

BENCHMARK_MAIN();
