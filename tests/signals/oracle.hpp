#pragma once
// A naive recomputation oracle for the signal graph, written apart from it: it keeps every
// observation and recomputes each value from the whole history at every step (O(n) or O(n^2)
// per tick), so it shares no state-keeping code with the incremental calculators. It follows
// the semantics written in docs/signals.md.

#include "engine/core/instrument_registry.hpp"
#include "engine/core/tick.hpp"
#include "signals/spec.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace seismo::oracle {

using core::nanos;
using signals::signal_kind;

struct trig {
    std::uint64_t seq = 0;
    std::string signal;
    bool fired = true;
    std::size_t level = 0;
    std::string inst; // empty for breadth and composites
    double value = 0;
    nanos ts = 0;
    std::uint32_t count = 0, members = 0;
    std::vector<std::uint64_t> cause;
};

struct obs {
    nanos t;
    double px;
};

inline std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    std::int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}

class naive {
  public:
    struct instrument {
        std::string symbol;
        std::vector<std::string> tags;
        double prev_close = std::numeric_limits<double>::quiet_NaN();
        nanos lateness = 0;
        std::vector<obs> hist; // accepted observations, effective times
        double first_px = std::numeric_limits<double>::quiet_NaN();
        bool any = false;
        // the reference each breadth/drawdown-by-ref saw at the last tick
        double prev_close_at_last_tick = std::numeric_limits<double>::quiet_NaN();
        std::map<int, nanos> stream_last; // latest event time per stream (trade, quote, value)
        bool new_session = false;         // a previous close arrived after the last price tick
    };

    naive(std::vector<signals::signal_spec> specs, std::vector<instrument> instruments)
        : specs_(std::move(specs)), inst_(std::move(instruments)) {
        fired_.resize(specs_.size());
        // Kahn's algorithm, written out: repeatedly take the first not-yet-placed signal whose
        // inputs are all placed.
        std::vector<bool> placed(specs_.size(), false);
        for (std::size_t round = 0; round < specs_.size(); ++round) {
            for (std::size_t i = 0; i < specs_.size(); ++i) {
                if (placed[i]) continue;
                bool ready = true;
                for (const auto& in : specs_[i].inputs)
                    ready = ready && placed[index_of(in)];
                if (ready) {
                    placed[i] = true;
                    order_.push_back(i);
                    break;
                }
            }
        }
    }

    /// Returns false when the tick was rejected as late.
    bool step(std::size_t i, nanos ts, double px, bool reference = false, int stream = 0) {
        instrument& in = inst_[i];
        if (reference) {
            in.prev_close = px;
            in.new_session = in.any; // the last price belongs to the session before
            return true;
        }
        if (in.any) {
            // late within its own stream; applied no earlier than the instrument's latest time
            const auto it = in.stream_last.find(stream);
            if (it != in.stream_last.end() && ts < it->second - in.lateness) return false;
            in.stream_last[stream] = it == in.stream_last.end() ? ts : std::max(it->second, ts);
            const nanos last = in.hist.back().t;
            if (ts < last) ts = last;
        } else {
            in.first_px = px;
            in.any = true;
            in.stream_last[stream] = ts;
        }
        if (in.new_session) {
            in.first_px = px;
            in.new_session = false;
        }
        in.hist.push_back({ts, px});
        in.prev_close_at_last_tick = in.prev_close;
        watermark_ = std::max(watermark_, ts);
        for (std::size_t s = 0; s < specs_.size(); ++s) {
            const auto& sp = specs_[s];
            if (sp.kind == signal_kind::composite || !is_member(sp, in)) continue;
            if (sp.kind == signal_kind::breadth) {
                breadth(s, ts);
            } else {
                per_instrument(s, i, ts, px);
            }
        }
        for (auto s : order_) {
            if (specs_[s].kind == signal_kind::composite) composite(s);
        }
        return true;
    }

    const std::vector<trig>& triggers() const { return out_; }

  private:
    std::size_t index_of(const std::string& name) const {
        for (std::size_t i = 0; i < specs_.size(); ++i) {
            if (specs_[i].name == name) return i;
        }
        return 0;
    }

    static bool is_member(const signals::signal_spec& sp, const instrument& in) {
        for (const auto& s : sp.instruments) {
            if (s == in.symbol) return true;
        }
        for (const auto& sel : sp.select) {
            core::instrument_info info;
            info.symbol = in.symbol;
            info.tags = in.tags;
            if (sel.matches(info)) return true;
        }
        return false;
    }

    static nanos resolution(const signals::signal_spec& sp) {
        if (sp.resolution > 0) return sp.resolution;
        const nanos span = sp.kind == signal_kind::change ? sp.lookback : sp.window;
        return std::max<nanos>(span / 256, 1'000'000);
    }

    /// Maximum over the observations whose bucket is among the newest ceil(W/r) buckets at `now`.
    static double window_max(const signals::signal_spec& sp, const std::vector<obs>& h, nanos now) {
        const nanos r = resolution(sp);
        std::int64_t nb = (sp.window + r - 1) / r;
        if (nb < 1) nb = 1;
        const std::int64_t newest = floor_div(now, r);
        double m = -std::numeric_limits<double>::infinity();
        for (const auto& o : h) {
            if (floor_div(o.t, r) > newest - nb) m = std::max(m, o.px);
        }
        return m;
    }

    double ref_of(const signals::signal_spec& sp, const instrument& in, nanos now) const {
        switch (sp.ref) {
        case signals::ref_kind::window:
            return window_max(sp, in.hist, now);
        case signals::ref_kind::prev_close:
            return in.prev_close_at_last_tick;
        case signals::ref_kind::session_open:
            return in.first_px;
        case signals::ref_kind::fixed:
            return sp.ref_value;
        }
        return std::numeric_limits<double>::quiet_NaN();
    }

    static double ratio_value(double px, double ref) {
        if (!std::isfinite(ref) || ref == 0.0) return std::numeric_limits<double>::quiet_NaN();
        return px / ref - 1.0;
    }

    void levels(std::size_t s, const std::string& key, double v, nanos ts, trig proto) {
        if (std::isnan(v)) return;
        const auto& sp = specs_[s];
        auto& state = fired_[s][key];
        if (state.size() < sp.levels.size()) state.resize(sp.levels.size(), false);
        for (std::size_t l = 0; l < sp.levels.size(); ++l) {
            const double at = sp.levels[l].at;
            bool fire = false, clear = false;
            if (sp.dir == signals::direction::below) {
                fire = !state[l] && v <= at;
                clear = state[l] && v > at + sp.rearm;
            } else {
                fire = !state[l] && v >= at;
                clear = state[l] && v < at - sp.rearm;
            }
            if (!fire && !clear) continue;
            state[l] = fire;
            trig t = proto;
            t.seq = out_.size() + 1;
            t.signal = sp.name;
            t.fired = fire;
            t.level = l;
            t.value = v;
            t.ts = ts;
            out_.push_back(t);
        }
    }

    void per_instrument(std::size_t s, std::size_t i, nanos ts, double px) {
        const auto& sp = specs_[s];
        const instrument& in = inst_[i];
        double v = std::numeric_limits<double>::quiet_NaN();
        switch (sp.kind) {
        case signal_kind::drawdown:
            v = ratio_value(px, ref_of(sp, in, ts));
            break;
        case signal_kind::level:
            v = px;
            break;
        case signal_kind::change: {
            // kept: the last observation of each bucket; reference: latest kept at or before q.
            const nanos r = resolution(sp);
            const nanos q = ts - sp.lookback;
            bool found = false;
            obs best{0, 0};
            for (std::size_t k = 0; k < in.hist.size(); ++k) {
                const bool last_of_bucket =
                    k + 1 == in.hist.size() ||
                    floor_div(in.hist[k + 1].t, r) != floor_div(in.hist[k].t, r);
                if (last_of_bucket && in.hist[k].t <= q) {
                    best = in.hist[k];
                    found = true;
                }
            }
            if (found) {
                v = sp.units == signals::change_units::abs ? px - best.px
                                                           : ratio_value(px, best.px);
            }
            break;
        }
        case signal_kind::zscore: {
            const auto& h = in.hist;
            if (h.size() < 2) return;
            const std::size_t n = h.size() - 1; // changes d_1..d_n, the newest is d_n
            if (n - 1 < sp.min_count) return;   // changes before this one
            // weights for d_1..d_{n-1}: w_k = a_k * prod_{j>k}(1 - a_j), a_1 = 1, where
            // 1 - a_j = 2^(-dt_j / halflife); the product is accumulated from the newest back.
            long double mean = 0, var = 0;
            std::vector<long double> w(n - 1), d(n - 1);
            long double keep = 1; // prod_{j>k}(1 - a_j)
            for (std::size_t k = n - 1; k >= 1; --k) {
                d[k - 1] = static_cast<long double>(h[k].px) - h[k - 1].px;
                const long double dt = static_cast<long double>(h[k].t - h[k - 1].t);
                const long double stay =
                    std::pow(2.0L, -dt / static_cast<long double>(sp.halflife));
                const long double a = k == 1 ? 1.0L : 1.0L - stay;
                w[k - 1] = a * keep;
                keep *= stay;
            }
            for (std::size_t k = 0; k + 1 < n; ++k)
                mean += w[k] * d[k];
            for (std::size_t k = 0; k + 1 < n; ++k)
                var += w[k] * (d[k] - mean) * (d[k] - mean);
            const long double dn = static_cast<long double>(h[n].px) - h[n - 1].px;
            if (var <= 1e-24L) return;
            v = static_cast<double>((dn - mean) / std::sqrt(var));
            break;
        }
        default:
            return;
        }
        trig proto;
        proto.inst = in.symbol;
        levels(s, in.symbol, v, ts, proto);
        last_value_[{s, in.symbol}] = v;
    }

    void breadth(std::size_t s, nanos ts) {
        const auto& sp = specs_[s];
        std::uint32_t eligible = 0, counting = 0;
        for (const auto& in : inst_) {
            if (!is_member(sp, in) || !in.any) continue;
            if (in.new_session && sp.ref != signals::ref_kind::window) continue;
            const double v = ratio_value(in.hist.back().px, ref_of(sp, in, in.hist.back().t));
            if (std::isnan(v)) continue;
            ++eligible;
            if (v <= sp.member_at) ++counting;
        }
        if (eligible < sp.min_members || eligible == 0) return;
        trig proto;
        proto.count = counting;
        proto.members = eligible;
        levels(s, "", static_cast<double>(counting) / eligible, ts, proto);
    }

    void composite(std::size_t s) {
        const auto& sp = specs_[s];
        trig proto;
        std::uint32_t active = 0;
        for (const auto& in : sp.inputs) {
            const trig* latest = nullptr;
            for (const auto& t : out_) {
                if (t.signal == in && t.fired) latest = &t;
            }
            if (latest != nullptr && watermark_ - latest->ts <= sp.within) {
                ++active;
                proto.cause.push_back(latest->seq);
            }
        }
        levels(s, "", active, watermark_, proto);
    }

    std::vector<signals::signal_spec> specs_;
    std::vector<instrument> inst_;
    std::vector<std::size_t> order_;
    std::vector<std::map<std::string, std::vector<bool>>> fired_;
    std::map<std::pair<std::size_t, std::string>, double> last_value_;
    std::vector<trig> out_;
    nanos watermark_ = std::numeric_limits<nanos>::min();
};

} // namespace seismo::oracle
