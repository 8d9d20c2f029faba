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

std::string short_time(core::nanos t) {
    return core::format_rfc3339(t).substr(0, 16).replace(10, 1, " ");
}

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

    void render(std::string& o, core::nanos t0, core::nanos t1) const {
        const double w = 1100, h = height, l = 70, r = 12, top = 22, bottom = 22;
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
        for (int k = 0; k <= 4; ++k) {
            const auto t = t0 + static_cast<core::nanos>(span * k / 4.0);
            o += "<text x=\"" + fmt(x(t)) + "\" y=\"" + fmt(h - 6) +
                 "\" class=\"ax\" text-anchor=\"" +
                 (k == 0   ? "start"
                  : k == 4 ? "end"
                           : "middle") +
                 "\">" + esc(short_time(t)) + "</text>";
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
            for (const auto& p : *s.pts) {
                if (!std::isfinite(p.second)) continue;
                o += fmt(x(p.first)) + "," + fmt(y(p.second)) + " ";
            }
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

void plot_recorder::thin(std::vector<point>& v) {
    std::size_t k = 0;
    for (std::size_t i = 0; i < v.size(); i += 2)
        v[k++] = v[i];
    v.resize(k);
}

void plot_recorder::sample(const signals::graph& g, const core::instrument_registry& reg,
                           core::nanos now) {
    last_ = now;
    const auto& specs = g.specs();
    bool crowded = false;
    g.visit([&](const signals::value_view& v) {
        std::string inst =
            v.inst == core::k_no_instrument ? std::string() : reg.info(v.inst).symbol;
        if (!inst.empty() && std::isfinite(v.px) &&
            specs[v.signal].kind != signals::signal_kind::zscore) {
            auto& ps = prices_[inst];
            if (ps.empty() || ps.back().t != now) ps.push_back({now, v.px});
        }
        if (!std::isfinite(v.value)) return; // nothing to plot yet (no reference, warming up)
        auto& vs = values_[{v.signal, inst}];
        vs.push_back({now, v.value});
        crowded = crowded || vs.size() > k_max_points;
    });
    if (crowded) {
        // Too many samples: halve every series and sample half as often from now on.
        for (auto& [k, v] : values_)
            thin(v);
        for (auto& [k, v] : prices_)
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
    if (t0 > t1) t0 = t1 = 0;
    // Charts start where the action does when history is long: the first trigger's day.
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
         ". Dashed lines are levels; filled markers fired, hollow ones cleared; hover for "
         "details.</p>\n";

    // Convert series for the chart type.
    std::map<std::string, std::vector<std::pair<core::nanos, double>>> price_pts;
    for (const auto& [inst, pts] : prices_) {
        auto& dst = price_pts[inst];
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
        core::nanos a = std::numeric_limits<core::nanos>::max(),
                    b = std::numeric_limits<core::nanos>::min();
        for (const auto& p : price_pts[inst]) {
            a = std::min(a, p.first);
            b = std::max(b, p.first);
        }
        for (const auto& [k, pts] : value_pts) {
            if (k.second != inst) continue;
            for (const auto& p : pts) {
                a = std::min(a, p.first);
                b = std::max(b, p.first);
            }
        }
        if (a > b) a = b = t0;
        chart pc;
        pc.title = inst + " price";
        pc.lines.push_back({"price", "#1f2933", &price_pts[inst]});
        for (std::uint32_t s = 0; s < specs.size(); ++s) {
            if (value_pts.count({s, inst}) == 0) continue;
            auto ms = marks_for(s, inst, true);
            pc.marks.insert(pc.marks.end(), ms.begin(), ms.end());
        }
        if (!price_pts[inst].empty()) pc.render(o, a, b);
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
            vc.render(o, a, b);
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
        core::nanos a = it->second.empty() ? t0 : it->second.front().first;
        const core::nanos b = it->second.empty() ? t1 : it->second.back().first;
        for (const auto& m : c.marks)
            a = std::min(a, m.t);
        c.render(o, a, b);
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
    o += "<h2>Timeline</h2>\n";
    const double w = 1100, l = 190, r = 12, row_h = 18;
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
    for (int k = 0; k <= 4; ++k) {
        const auto t = t0 + static_cast<core::nanos>(span * k / 4.0);
        o += "<text x=\"" + fmt(l + (w - l - r) * k / 4.0) + "\" y=\"" + fmt(h - 4) +
             "\" class=\"ax\" text-anchor=\"" +
             (k == 0   ? "start"
              : k == 4 ? "end"
                       : "middle") +
             "\">" + esc(short_time(t)) + "</text>";
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
