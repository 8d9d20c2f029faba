#pragma once
// Small helpers for driving a signal graph in tests.

#include "engine/core/instrument_registry.hpp"
#include "signals/graph.hpp"

#include <memory>
#include <string>
#include <vector>

namespace seismo::testing {

struct collector final : signals::trigger_sink {
    std::vector<signals::trigger> out;
    void on_trigger(const signals::trigger& t) override { out.push_back(t); }
    void clear() { out.clear(); }
};

inline constexpr core::nanos k_ms = 1'000'000;
inline constexpr core::nanos k_t0 = 1'770'000'000'000'000'000; // an epoch time in 2026

/// A registry with instruments "A", "B", ... (tag "t"), optionally with previous closes.
inline std::unique_ptr<core::instrument_registry>
make_registry(std::size_t n, double prev_close = 0,
              core::value_kind kind = core::value_kind::price) {
    auto reg = std::make_unique<core::instrument_registry>();
    for (std::size_t i = 0; i < n; ++i) {
        core::instrument_info info;
        info.symbol = std::string(1, static_cast<char>('A' + i));
        info.tags = {"t"};
        info.kind = kind;
        if (prev_close > 0) info.prev_close = prev_close;
        (void)reg->add(info);
    }
    return reg;
}

inline core::tick tk(std::uint32_t inst, core::nanos ts, double px) {
    core::tick t;
    t.inst = core::instrument_id{inst};
    t.exch_ts = ts;
    t.recv_ts = ts;
    t.px = px;
    t.kind = core::tick_kind::trade;
    return t;
}

inline signals::signal_spec spec(std::string name, signals::signal_kind k,
                                 std::vector<signals::level> levels) {
    signals::signal_spec s;
    s.name = std::move(name);
    s.kind = k;
    s.dir = signals::default_direction(k);
    s.levels = std::move(levels);
    return s;
}

} // namespace seismo::testing
