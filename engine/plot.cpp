#include "engine/plot.hpp"

#include "engine/core/json_writer.hpp"
#include "engine/core/time.hpp"
#include "engine/journal/output.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

namespace seismo::engine {
namespace {

constexpr std::size_t k_max_points = 4000;

std::string esc(std::string_view s) {
    std::string o;
    for (char c : s) {
        switch (c) {
        case '&':
            o += "&amp;";
            break;
        case '<':
            o += "&lt;";
            break;
        case '>':
            o += "&gt;";
            break;
        case '"':
            o += "&quot;";
            break;
        default:
            o += c;
        }
    }
    return o;
}

std::string num(double v, int prec = 6) {
    if (!std::isfinite(v)) return "–";
    char b[48];
    std::snprintf(b, sizeof b, "%.*g", prec, v);
    return b;
}

std::string fmt(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.2f", v);
    return b;
}

const char* colour(signals::severity s) {
    switch (s) {
    case signals::severity::info:
        return "#3b82f6";
    case signals::severity::warning:
        return "#f59e0b";
    case signals::severity::critical:
        return "#dc2626";
    }
    return "#888";
}

/// Axis ticks at round values: a step of 1, 2, 2.5 or 5 times a power of ten giving about
/// `want` intervals over [lo, hi], and the tick values within it.
std::vector<double> nice_ticks(double lo, double hi, int want, double& step) {
    const double raw = (hi - lo) / want;
    const double mag = std::pow(10.0, std::floor(std::log10(raw)));
    step = mag;
    for (const double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
        step = m * mag;
        if (step >= raw) break;
    }
    std::vector<double> v;
    for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9 && v.size() < 20;
         t += step) {
        v.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);
    }
    return v;
}

/// A tick label: as many decimals as the step needs, with k/M/B/T for large magnitudes.
std::string tick_label(double v, double step, double largest) {
    static constexpr struct {
        double from, scale;
        const char* suffix;
    } k_units[] = {{1e12, 1e12, "T"}, {1e9, 1e9, "B"}, {1e6, 1e6, "M"}, {1e4, 1e3, "k"}};
    double scale = 1;
    const char* suffix = "";
    for (const auto& u : k_units) {
        if (largest >= u.from) {
            scale = u.scale;
            suffix = u.suffix;
            break;
        }
    }
    const double st = step / scale;
    int decimals = st >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(st) - 1e-9));
    if (std::fabs(st * std::pow(10.0, decimals) - std::round(st * std::pow(10.0, decimals))) > 1e-6)
        ++decimals; // 2.5
    char b[48];
    std::snprintf(b, sizeof b, "%.*f%s", std::min(decimals, 12), v / scale, suffix);
    return b;
}

/// Time-axis labels at round steps over [t0, t1] (about `want` of them): the step, the label
/// format it needs, and a caption naming what the labels leave out (the date).
struct time_axis {
    std::vector<std::pair<core::nanos, std::string>> ticks;
    std::string caption;
};

time_axis make_time_axis(core::nanos t0, core::nanos t1, int want = 6) {
    constexpr core::nanos ms = 1'000'000, s = 1'000 * ms, m = 60 * s, h = 60 * m, d = 24 * h;
    static constexpr core::nanos k_steps[] = {
        1 * ms, 2 * ms, 5 * ms, 10 * ms, 20 * ms, 50 * ms, 100 * ms, 200 * ms, 500 * ms,
        1 * s,  2 * s,  5 * s,  10 * s,  15 * s,  30 * s,  1 * m,    2 * m,    5 * m,
        10 * m, 15 * m, 30 * m, 1 * h,   2 * h,   3 * h,   6 * h,    12 * h,   1 * d,
        2 * d,  7 * d,  14 * d, 30 * d,  91 * d,  182 * d, 365 * d};
    const core::nanos span = std::max<core::nanos>(1, t1 - t0);
    core::nanos step = k_steps[std::size(k_steps) - 1];
    for (const core::nanos st : k_steps) {
        if (span / st <= want) {
            step = st;
            break;
        }
    }
    time_axis ax;
    // Label precision from the step: milliseconds, seconds, minutes, or dates.
    auto label = [&](core::nanos t) {
        const std::string f = core::format_rfc3339(t); // YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ
        if (step < s) return f.substr(11, 12);         // HH:MM:SS.mmm
        if (step < m) return f.substr(11, 8);          // HH:MM:SS
        if (step < d) return f.substr(11, 5);          // HH:MM
        return f.substr(0, 10);                        // YYYY-MM-DD
    };
    for (core::nanos t = (t0 / step + (t0 % step != 0 ? 1 : 0)) * step; t <= t1; t += step)
        ax.ticks.emplace_back(t, label(t));
    const std::string a = core::format_rfc3339(t0), b = core::format_rfc3339(t1);
    ax.caption = step < d ? (a.substr(0, 10) == b.substr(0, 10)
                                 ? "UTC, " + a.substr(0, 10)
                                 : "UTC, " + a.substr(0, 10) + " to " + b.substr(0, 10))
                          : "UTC";
    return ax;
}

// One horizontal layout for every chart and the timeline, so they share their time axis.
constexpr double k_width = 1100, k_left = 160, k_right = 14;

/// One chart: series (same axis), horizontal level lines, markers; x from t0 to t1.
struct chart {
    struct series {
        std::string label;
        std::string colour;
        const std::vector<std::pair<core::nanos, double>>* pts;
    };
    struct level {
        double at;
        signals::severity sev;
    };
    struct mark {
        core::nanos t;
        double v;
        signals::severity sev;
        bool fired;
        std::string tip;
    };
    std::string title;
    std::vector<series> lines;
    std::vector<level> levels;
    std::vector<mark> marks;
    double height = 170;

    void render(std::string& o, core::nanos t0, core::nanos t1, const time_axis& axis) const {
        const double w = k_width, h = height, l = k_left, r = k_right, top = 22, bottom = 22;
        double lo = std::numeric_limits<double>::infinity(), hi = -lo;
        for (const auto& s : lines) {
            for (const auto& p : *s.pts) {
                if (std::isfinite(p.second)) {
                    lo = std::min(lo, p.second);
                    hi = std::max(hi, p.second);
                }
            }
        }
        for (const auto& lv : levels) {
            lo = std::min(lo, lv.at);
            hi = std::max(hi, lv.at);
        }
        for (const auto& m : marks) {
            if (std::isfinite(m.v)) {
                lo = std::min(lo, m.v);
                hi = std::max(hi, m.v);
            }
        }
        if (!std::isfinite(lo)) {
            lo = 0;
            hi = 1;
        }
        if (hi - lo < 1e-12) {
            hi += 0.5 * (std::fabs(hi) + 1e-9);
            lo -= 0.5 * (std::fabs(lo) + 1e-9);
        }
        const double pad = (hi - lo) * 0.06;
        lo -= pad;
        hi += pad;
        const double span = static_cast<double>(std::max<core::nanos>(1, t1 - t0));
        auto x = [&](core::nanos t) {
            return l + (w - l - r) * static_cast<double>(t - t0) / span;
        };
        auto y = [&](double v) { return top + (h - top - bottom) * (1.0 - (v - lo) / (hi - lo)); };
        o += "<svg class=\"chart\" viewBox=\"0 0 " + fmt(w) + " " + fmt(h) + "\" width=\"" +
             fmt(w) + "\" height=\"" + fmt(h) + "\">";
        o += "<text x=\"" + fmt(l) + "\" y=\"15\" class=\"t\">" + esc(title) + "</text>";
        o += "<rect x=\"" + fmt(l) + "\" y=\"" + fmt(top) + "\" width=\"" + fmt(w - l - r) +
             "\" height=\"" + fmt(h - top - bottom) + "\" class=\"frame\"/>";
        double step = 1;
        const std::vector<double> ticks = nice_ticks(lo, hi, 4, step);
        const double largest = std::max(std::fabs(lo), std::fabs(hi));
        for (const double v : ticks) {
            o += "<line x1=\"" + fmt(l) + "\" x2=\"" + fmt(w - r) + "\" y1=\"" + fmt(y(v)) +
                 "\" y2=\"" + fmt(y(v)) + "\" class=\"grid\"/>";
            o += "<text x=\"" + fmt(l - 4) + "\" y=\"" + fmt(y(v) + 4) +
                 "\" class=\"ax\" text-anchor=\"end\">" + esc(tick_label(v, step, largest)) +
                 "</text>";
        }
        for (const auto& [t, text] : axis.ticks) {
            o += "<line x1=\"" + fmt(x(t)) + "\" x2=\"" + fmt(x(t)) + "\" y1=\"" + fmt(top) +
                 "\" y2=\"" + fmt(h - bottom) + "\" class=\"grid\"/>";
            o += "<text x=\"" + fmt(x(t)) + "\" y=\"" + fmt(h - 6) +
                 "\" class=\"ax\" text-anchor=\"middle\">" + esc(text) + "</text>";
        }
        for (const auto& lv : levels) {
            o += "<line x1=\"" + fmt(l) + "\" x2=\"" + fmt(w - r) + "\" y1=\"" + fmt(y(lv.at)) +
                 "\" y2=\"" + fmt(y(lv.at)) + "\" stroke=\"" + colour(lv.sev) +
                 "\" class=\"level\"><title>level " + esc(num(lv.at)) + " (" +
                 signals::to_string(lv.sev) + ")</title></line>";
        }
        for (const auto& s : lines) {
            if (s.pts->empty()) continue;
            o += "<polyline fill=\"none\" stroke=\"" + s.colour +
                 "\" stroke-width=\"1.3\" points=\"";
            // Every point, or where points are denser than pixels, each pixel column's first,
            // lowest, highest and last value, in time order: the shape survives, the page stays
            // small.
            long column = std::numeric_limits<long>::min();
            std::vector<std::pair<core::nanos, double>> col;
            auto flush = [&] {
                if (col.empty()) return;
                auto lo_it = std::min_element(col.begin(), col.end(),
                                              [](auto& p, auto& q) { return p.second < q.second; });
                auto hi_it = std::max_element(col.begin(), col.end(),
                                              [](auto& p, auto& q) { return p.second < q.second; });
                std::vector<std::size_t> keep{0, static_cast<std::size_t>(lo_it - col.begin()),
                                              static_cast<std::size_t>(hi_it - col.begin()),
                                              col.size() - 1};
                std::sort(keep.begin(), keep.end());
                keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
                for (const std::size_t k : keep)
                    o += fmt(x(col[k].first)) + "," + fmt(y(col[k].second)) + " ";
                col.clear();
            };
            for (const auto& p : *s.pts) {
                if (!std::isfinite(p.second)) continue;
                const long c = std::lround(x(p.first));
                if (c != column) {
                    flush();
                    column = c;
                }
                col.push_back(p);
            }
            flush();
            o += "\"><title>" + esc(s.label) + "</title></polyline>";
        }
        for (const auto& m : marks) {
            if (!std::isfinite(m.v)) continue;
            o += "<circle cx=\"" + fmt(x(m.t)) + "\" cy=\"" + fmt(y(m.v)) +
                 "\" r=\"4.5\" stroke=\"" + colour(m.sev) + "\" fill=\"" +
                 (m.fired ? colour(m.sev) : "white") + "\" class=\"mark\"><title>" + esc(m.tip) +
                 "</title></circle>";
        }
        o += "</svg>\n";
    }
};

} // namespace

void plot_recorder::on_trigger(const signals::trigger& t, const core::instrument_registry& reg) {
    marker m;
    m.t = t.event_ts;
    m.seq = t.seq;
    m.signal = t.signal;
    m.inst = t.inst == core::k_no_instrument ? std::string() : reg.info(t.inst).symbol;
    m.value = t.value;
    m.threshold = t.threshold;
    m.sev = t.sev;
    m.fired = t.state == signals::trigger_state::fired;
    if (t.signal == signals::k_feed_health)
        m.feed_condition = std::to_string(t.feed) + ":" + signals::to_string(t.condition);
    markers_.push_back(std::move(m));
}

void plot_recorder::on_tick(const core::tick& t, const core::instrument_registry& reg) {
    if (t.kind == core::tick_kind::reference || !std::isfinite(t.px)) return;
    const std::uint32_t i = core::index(t.inst);
    auto& v = prices_[i];
    if (v.empty()) names_.emplace(i, reg.info(t.inst).symbol);
    const core::nanos ts = std::max(t.event_ts(), v.empty() ? t.event_ts() : v.back().t);
    v.push_back({ts, t.px});
    if (v.size() > 4 * k_max_points) compact(v);
}

void plot_recorder::compact(std::vector<point>& v) {
    // Groups of four become their lowest and highest, in time order: half the points, every
    // extreme kept.
    std::size_t k = 0;
    for (std::size_t i = 0; i < v.size(); i += 4) {
        const std::size_t end = std::min(v.size(), i + 4);
        std::size_t lo = i, hi = i;
        for (std::size_t j = i; j < end; ++j) {
            if (v[j].v < v[lo].v) lo = j;
            if (v[j].v > v[hi].v) hi = j;
        }
        const std::size_t a = std::min(lo, hi), b = std::max(lo, hi);
        v[k++] = v[a];
        if (b != a) v[k++] = v[b];
    }
    v.resize(k);
}

void plot_recorder::thin(std::vector<point>& v) {
    std::size_t k = 0;
    for (std::size_t i = 0; i < v.size(); i += 2)
        v[k++] = v[i];
    v.resize(k);
}

void plot_recorder::sample(const signals::graph& g, const core::instrument_registry& reg,
                           core::nanos now) {
    last_ = now;
    bool crowded = false;
    g.visit([&](const signals::value_view& v) {
        std::string inst =
            v.inst == core::k_no_instrument ? std::string() : reg.info(v.inst).symbol;
        if (!std::isfinite(v.value)) return; // nothing to plot yet (no reference, warming up)
        auto& vs = values_[{v.signal, inst}];
        vs.push_back({now, v.value});
        crowded = crowded || vs.size() > k_max_points;
    });
    if (crowded) {
        // Too many samples: halve every series and sample half as often from now on.
        for (auto& [k, v] : values_)
            thin(v);
        interval_ *= 2;
    }
}

void plot_recorder::after_step(const signals::graph& g, const core::instrument_registry& reg,
                               bool triggered) {
    const core::nanos now = g.watermark();
    if (now == std::numeric_limits<core::nanos>::min()) return;
    if (triggered || last_ == std::numeric_limits<core::nanos>::min() || now - last_ >= interval_)
        sample(g, reg, now);
}

void plot_recorder::write(const std::string& path, const signals::graph& g,
                          const std::vector<std::string>& feed_names,
                          const std::string& title) const {
    const auto& specs = g.specs();
    core::nanos t0 = std::numeric_limits<core::nanos>::max(),
                t1 = std::numeric_limits<core::nanos>::min();
    auto widen = [&](core::nanos t) {
        t0 = std::min(t0, t);
        t1 = std::max(t1, t);
    };
    for (const auto& [k, v] : values_) {
        for (const auto& p : v)
            widen(p.t);
    }
    for (const auto& m : markers_)
        widen(m.t);
    for (const auto& [i, v] : prices_) {
        if (!v.empty()) {
            widen(v.front().t);
            widen(v.back().t);
        }
    }
    if (t0 > t1) t0 = t1 = 0;
    const time_axis axis = make_time_axis(t0, t1);
    std::string o;
    o.reserve(1 << 20);
    o += "<!doctype html><html><head><meta charset=\"utf-8\"><title>" + esc(title) +
         "</title><style>"
         "body{font:13px system-ui,sans-serif;margin:16px;color:#1f2933;background:#fff}"
         "h1{font-size:18px}h2{font-size:15px;margin:22px 0 4px}"
         ".chart{display:block;margin:2px "
         "0}.t{font-size:12px;font-weight:600}.ax{font-size:10px;fill:#52606d}.grid{stroke:#e4e7eb;"
         "stroke-width:1}"
         ".frame{fill:#fafbfc;stroke:#d9e2ec}.level{stroke-dasharray:5 "
         "4;stroke-width:1}.mark{stroke-width:1.5}"
         "table{border-collapse:collapse;font-size:12px}td,th{padding:2px 8px;border-bottom:1px "
         "solid #e4e7eb;text-align:left}"
         ".sev{display:inline-block;width:9px;height:9px;border-radius:50%;margin-right:4px}"
         "</style></head><body>\n";
    o += "<h1>" + esc(title) + "</h1>\n<p>" + std::to_string(markers_.size()) + " triggers from " +
         esc(core::format_rfc3339(t0)) + " to " + esc(core::format_rfc3339(t1)) +
         ". Every chart and the timeline share one time axis (" + esc(axis.caption) +
         "); prices at every tick. Dashed lines are levels; filled markers fired, hollow ones "
         "cleared; hover for details.</p>\n";

    // Convert series for the chart type.
    std::map<std::string, std::vector<std::pair<core::nanos, double>>> price_pts;
    for (const auto& [i, pts] : prices_) {
        auto& dst = price_pts[names_.at(i)];
        for (const auto& p : pts)
            dst.emplace_back(p.t, p.v);
    }
    std::map<std::pair<std::uint32_t, std::string>, std::vector<std::pair<core::nanos, double>>>
        value_pts;
    for (const auto& [k, pts] : values_) {
        auto& dst = value_pts[k];
        for (const auto& p : pts)
            dst.emplace_back(p.t, p.v);
    }
    auto marks_for = [&](std::uint32_t sig, const std::string& inst, bool price) {
        std::vector<chart::mark> ms;
        for (const auto& m : markers_) {
            if (m.signal != sig || m.inst != inst) continue;
            double v = m.value;
            if (price) {
                // On the price chart: the price at that moment (nearest sample).
                const auto& pp = price_pts[inst];
                auto it =
                    std::lower_bound(pp.begin(), pp.end(), m.t,
                                     [](const auto& a, core::nanos t) { return a.first < t; });
                if (it == pp.end() && !pp.empty()) --it;
                v = it != pp.end() ? it->second : std::numeric_limits<double>::quiet_NaN();
            }
            ms.push_back({m.t, v, m.sev, m.fired,
                          "#" + std::to_string(m.seq) + " " + specs[sig].name + " " +
                              (m.fired ? "fired" : "cleared") + " " + signals::to_string(m.sev) +
                              " value " + num(m.value) + " threshold " + num(m.threshold) + " at " +
                              core::format_rfc3339(m.t)});
        }
        return ms;
    };
    static const char* const k_palette[] = {"#2563eb", "#7c3aed", "#059669",
                                            "#db2777", "#ea580c", "#0891b2"};

    // Instruments with per-instrument signals.
    std::set<std::string> insts;
    for (const auto& [k, v] : values_) {
        if (!k.second.empty()) insts.insert(k.second);
    }
    for (const auto& inst : insts) {
        o += "<h2>" + esc(inst) + "</h2>\n";
        chart pc;
        pc.title = inst + " price";
        pc.lines.push_back({"price", "#1f2933", &price_pts[inst]});
        for (std::uint32_t s = 0; s < specs.size(); ++s) {
            if (value_pts.count({s, inst}) == 0) continue;
            auto ms = marks_for(s, inst, true);
            pc.marks.insert(pc.marks.end(), ms.begin(), ms.end());
        }
        if (!price_pts[inst].empty()) pc.render(o, t0, t1, axis);
        std::size_t colour_i = 0;
        for (std::uint32_t s = 0; s < specs.size(); ++s) {
            auto it = value_pts.find({s, inst});
            if (it == value_pts.end()) continue;
            chart vc;
            vc.height = 140;
            vc.title = specs[s].name + " (" + signals::to_string(specs[s].kind) + ")";
            vc.lines.push_back({specs[s].name, k_palette[colour_i++ % 6], &it->second});
            for (const auto& lv : specs[s].levels)
                vc.levels.push_back({lv.at, lv.sev});
            vc.marks = marks_for(s, inst, false);
            vc.render(o, t0, t1, axis);
        }
    }
    // Breadth and composite signals.
    bool header = false;
    for (std::uint32_t s = 0; s < specs.size(); ++s) {
        if (signals::per_instrument(specs[s].kind)) continue;
        auto it = value_pts.find({s, std::string()});
        if (it == value_pts.end()) continue;
        if (!header) o += "<h2>Breadth and composites</h2>\n";
        header = true;
        chart c;
        c.title = specs[s].name + " (" + signals::to_string(specs[s].kind) + ")";
        c.lines.push_back({specs[s].name, "#7c3aed", &it->second});
        for (const auto& lv : specs[s].levels)
            c.levels.push_back({lv.at, lv.sev});
        c.marks = marks_for(s, std::string(), false);
        c.render(o, t0, t1, axis);
    }
    // Timeline: one row per signal with triggers.
    std::vector<std::uint32_t> rows;
    bool health = false;
    for (const auto& m : markers_) {
        if (m.signal == signals::k_feed_health)
            health = true;
        else if (std::find(rows.begin(), rows.end(), m.signal) == rows.end())
            rows.push_back(m.signal);
    }
    std::sort(rows.begin(), rows.end());
    if (health) rows.push_back(signals::k_feed_health);
    o += "<h2 id=\"timeline\">Timeline</h2>\n";
    const double w = k_width, l = k_left, r = k_right, row_h = 18;
    const double h = 30 + row_h * static_cast<double>(rows.size());
    const double span = static_cast<double>(std::max<core::nanos>(1, t1 - t0));
    o += "<svg class=\"chart timeline\" viewBox=\"0 0 " + fmt(w) + " " + fmt(h) + "\" width=\"" +
         fmt(w) + "\" height=\"" + fmt(h) + "\">";
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const double y = 14 + row_h * static_cast<double>(i);
        const std::string name =
            rows[i] == signals::k_feed_health ? "feed_health" : specs[rows[i]].name;
        o += "<text x=\"" + fmt(l - 6) + "\" y=\"" + fmt(y + 4) +
             "\" class=\"ax\" text-anchor=\"end\">" + esc(name) + "</text>";
        o += "<line x1=\"" + fmt(l) + "\" x2=\"" + fmt(w - r) + "\" y1=\"" + fmt(y) + "\" y2=\"" +
             fmt(y) + "\" stroke=\"#e4e7eb\"/>";
    }
    for (const auto& m : markers_) {
        const auto row =
            static_cast<std::size_t>(std::find(rows.begin(), rows.end(), m.signal) - rows.begin());
        const double x = l + (w - l - r) * static_cast<double>(m.t - t0) / span;
        const double y = 14 + row_h * static_cast<double>(row);
        o += "<circle cx=\"" + fmt(x) + "\" cy=\"" + fmt(y) + "\" r=\"4\" stroke=\"" +
             colour(m.sev) + "\" fill=\"" + (m.fired ? colour(m.sev) : "white") +
             "\" class=\"mark\"><title>#" + std::to_string(m.seq) + " " + esc(m.inst) + " " +
             (m.fired ? "fired" : "cleared") + " " + esc(num(m.value)) + " at " +
             esc(core::format_rfc3339(m.t)) + "</title></circle>";
    }
    for (const auto& [t, text] : axis.ticks) {
        const double x = l + (w - l - r) * static_cast<double>(t - t0) / span;
        o += "<line x1=\"" + fmt(x) + "\" x2=\"" + fmt(x) + "\" y1=\"4\" y2=\"" + fmt(h - 16) +
             "\" class=\"grid\"/><text x=\"" + fmt(x) + "\" y=\"" + fmt(h - 4) +
             "\" class=\"ax\" text-anchor=\"middle\">" + esc(text) + "</text>";
    }
    o += "</svg>\n<h2>Triggers</h2>\n<table><tr><th>seq</th><th>event "
         "time</th><th>signal</th><th>state</th><th>severity</th><th>on</th><th>value</"
         "th><th>threshold</th></tr>\n";
    for (const auto& m : markers_) {
        std::string on = m.inst;
        if (m.signal == signals::k_feed_health) {
            const auto colon = m.feed_condition.find(':');
            const auto feed =
                static_cast<std::size_t>(std::stoul(m.feed_condition.substr(0, colon)));
            on = (feed < feed_names.size() ? feed_names[feed] : "?") + " " +
                 m.feed_condition.substr(colon + 1);
        }
        o += "<tr class=\"trigger\"><td>" + std::to_string(m.seq) + "</td><td>" +
             esc(core::format_rfc3339(m.t)) + "</td><td>" +
             esc(m.signal == signals::k_feed_health ? std::string("feed_health")
                                                    : specs[m.signal].name) +
             "</td><td>" + (m.fired ? "fired" : "cleared") +
             "</td><td><span class=\"sev\" style=\"background:" + colour(m.sev) + "\"></span>" +
             signals::to_string(m.sev) + "</td><td>" + esc(on) + "</td><td>" + esc(num(m.value)) +
             "</td><td>" + esc(num(m.threshold)) + "</td></tr>\n";
    }
    o += "</table>\n</body></html>\n";
    journal::output_file f(path);
    f.write(o);
    f.close();
}

} // namespace seismo::engine
