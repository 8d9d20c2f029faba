#include "signals/spec.hpp"

#include "engine/core/string_map.hpp"
#include "engine/core/time.hpp"
#include "signals/bucket.hpp"

#include <algorithm>
#include <string>

namespace seismo::signals {

const char* to_string(signal_kind k) noexcept {
    switch (k) {
    case signal_kind::drawdown:
        return "drawdown";
    case signal_kind::level:
        return "level";
    case signal_kind::change:
        return "change";
    case signal_kind::breadth:
        return "breadth";
    case signal_kind::zscore:
        return "zscore";
    case signal_kind::composite:
        return "composite";
    }
    return "?";
}

const char* to_string(severity s) noexcept {
    switch (s) {
    case severity::info:
        return "info";
    case severity::warning:
        return "warning";
    case severity::critical:
        return "critical";
    }
    return "?";
}

const char* to_string(direction d) noexcept {
    return d == direction::below ? "below" : "above";
}

bool parse_signal_kind(std::string_view s, signal_kind& out) noexcept {
    for (auto k : {signal_kind::drawdown, signal_kind::level, signal_kind::change,
                   signal_kind::breadth, signal_kind::zscore, signal_kind::composite}) {
        if (s == to_string(k)) {
            out = k;
            return true;
        }
    }
    return false;
}

bool parse_severity(std::string_view s, severity& out) noexcept {
    for (auto v : {severity::info, severity::warning, severity::critical}) {
        if (s == to_string(v)) {
            out = v;
            return true;
        }
    }
    return false;
}

bool selector::matches(const core::instrument_info& info) const noexcept {
    return what == by::tag ? info.has_tag(text) : core::glob_match(text, info.symbol);
}

bool selector::parse(std::string_view s, selector& out) {
    if (s.starts_with("tag:") && s.size() > 4) {
        out.what = by::tag;
        out.text.assign(s.substr(4));
        return true;
    }
    if (s.starts_with("sym:") && s.size() > 4) {
        out.what = by::symbol;
        out.text.assign(s.substr(4));
        return true;
    }
    return false;
}

std::uint64_t signal_spec::member_state_bytes() const noexcept {
    constexpr std::uint64_t k_record = 128; // a member's own fields, rounded up
    const auto buckets = [&](core::nanos span) {
        return static_cast<std::uint64_t>(buckets_for(span, effective_resolution()));
    };
    switch (kind) {
    case signal_kind::drawdown:
    case signal_kind::breadth:
        // trailing_max: 16-byte entries, one per bucket of the window
        return k_record + (ref == ref_kind::window ? buckets(window) * 16 : 0);
    case signal_kind::change:
        // change_history: 24-byte entries, one per bucket of the lookback, plus 4
        return k_record + (buckets(lookback) + 4) * 24;
    case signal_kind::level:
    case signal_kind::zscore:
    case signal_kind::composite:
        return k_record;
    }
    return k_record;
}

core::nanos signal_spec::effective_resolution() const noexcept {
    if (resolution > 0) return resolution;
    const core::nanos span = kind == signal_kind::change ? lookback : window;
    return std::max<core::nanos>(span / 256, core::k_ns_per_ms);
}

bool topo_order(const std::vector<signal_spec>& specs, std::vector<std::uint32_t>& order,
                std::string& problem, std::size_t& culprit) {
    core::string_map<std::uint32_t> by_name;
    for (std::size_t i = 0; i < specs.size(); ++i) {
        by_name.insert(specs[i].name, static_cast<std::uint32_t>(i));
    }
    const std::size_t n = specs.size();
    std::vector<std::vector<std::uint32_t>> deps(n);
    std::vector<std::vector<std::uint32_t>> users(n);
    for (std::size_t i = 0; i < n; ++i) {
        for (const auto& in : specs[i].inputs) {
            const auto* j = by_name.find(in);
            if (j == nullptr) {
                problem = in;
                culprit = i;
                return false;
            }
            deps[i].push_back(*j);
            users[*j].push_back(static_cast<std::uint32_t>(i));
        }
    }
    // Kahn's algorithm, always taking the ready signal declared first: the order is declaration
    // order except that every signal comes after its inputs.
    std::vector<std::size_t> missing(n);
    std::vector<bool> done(n, false);
    for (std::size_t i = 0; i < n; ++i)
        missing[i] = deps[i].size();
    order.clear();
    while (order.size() < n) {
        std::size_t next = n;
        for (std::size_t i = 0; i < n; ++i) {
            if (!done[i] && missing[i] == 0) {
                next = i;
                break;
            }
        }
        if (next == n) break;
        done[next] = true;
        order.push_back(static_cast<std::uint32_t>(next));
        for (auto u : users[next])
            --missing[u];
    }
    if (order.size() == n) return true;
    // A cycle: walk unresolved inputs from the first stuck signal until a node repeats.
    std::size_t at = 0;
    while (done[at])
        ++at;
    std::vector<std::size_t> path;
    std::vector<std::size_t> seen_at(n, n);
    while (seen_at[at] == n) {
        seen_at[at] = path.size();
        path.push_back(at);
        for (auto d : deps[at]) {
            if (!done[d]) {
                at = d;
                break;
            }
        }
    }
    problem.clear();
    for (std::size_t k = seen_at[at]; k < path.size(); ++k)
        problem += specs[path[k]].name + " -> ";
    problem += specs[at].name;
    culprit = at;
    return false;
}

} // namespace seismo::signals
