#include "signals/graph.hpp"

#include "engine/core/time.hpp"
#include "signals/bucket.hpp"
#include "signals/change_history.hpp"
#include "signals/ew_stats.hpp"
#include "signals/levels.hpp"
#include "signals/trailing_max.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>
#include <limits>
#include <span>
#include <stdexcept>

namespace seismo::signals {
namespace {

constexpr double k_nan = std::numeric_limits<double>::quiet_NaN();
constexpr core::nanos k_never = std::numeric_limits<core::nanos>::max();
constexpr core::nanos k_none = std::numeric_limits<core::nanos>::min();

struct route {
    std::uint32_t signal;
    std::uint32_t member;
};

/// An instrument's state, with its first routes (the members it updates) inline: a tick then
/// reads one 128-byte block, not the block and then a list elsewhere (at 100 k instruments each
/// is a cache miss, and the list's was one more in series before the members could be found).
struct alignas(64) inst_state {
    static constexpr std::size_t k_near = 4;
    core::nanos last_ts = 0;
    /// The latest event time per stream (trade, quote, value): lateness is judged within a
    /// stream, since a venue's trade and quote channels carry times from different engines.
    std::array<core::nanos, 3> stream_ts{k_none, k_none, k_none};
    core::nanos lateness = 0;
    double last_px = k_nan;
    double prev_close = k_nan;
    double session_open = k_nan;
    std::uint64_t feeds = 0; // bit f: feed f has delivered this instrument
    bool has_tick = false;
    bool stale = false;
    /// A previous close arrived after the last price tick: a new session, whose opening
    /// price is the next tick.
    bool new_session = false;
    /// How many routes the instrument has; when at most k_near, they are `near` (a copy of
    /// graph::impl::routes[i], which always holds them all).
    std::uint32_t nroutes = 0;
    std::array<route, k_near> near{};
};
static_assert(sizeof(inst_state) == 128, "two cache lines per instrument");

struct drawdown_member {
    core::instrument_id inst;
    std::uint64_t fired = 0;
    double value = k_nan;
    double ref = k_nan;
    double px = k_nan;
    trailing_max tmax;
};

struct level_member {
    core::instrument_id inst;
    std::uint64_t fired = 0;
    double value = k_nan;
};

struct change_member {
    core::instrument_id inst;
    std::uint64_t fired = 0;
    double value = k_nan;
    double ref = k_nan;
    double px = k_nan;
    change_history hist;
};

struct zscore_member {
    core::instrument_id inst;
    std::uint64_t fired = 0;
    double value = k_nan;
    double prev_x = k_nan;
    core::nanos prev_t = 0;
    bool has_prev = false;
    ew_stats ew;
};

struct breadth_member {
    core::instrument_id inst;
    double value = k_nan;
    double ref = k_nan;
    bool eligible = false;
    bool counting = false;
    trailing_max tmax;
};

// signal_spec::member_state_bytes (memory_budget's estimate) counts 128 bytes per member record.
static_assert(sizeof(drawdown_member) <= 128 && sizeof(level_member) <= 128 &&
                  sizeof(change_member) <= 128 && sizeof(zscore_member) <= 128 &&
                  sizeof(breadth_member) <= 128,
              "a member record outgrew memory_budget's estimate");

struct signal_rt {
    signal_spec spec;
    std::uint32_t index = 0;
    core::nanos width = 1;     // bucket width of windows / histories
    std::int64_t nbuckets = 1; // window buckets
    std::vector<drawdown_member> dd;
    std::vector<level_member> lv;
    std::vector<change_member> ch;
    std::vector<zscore_member> zs;
    std::vector<breadth_member> br;
    // One value per signal (breadth, composite).
    std::uint64_t fired = 0;
    double value = k_nan;
    std::uint32_t counting = 0;
    std::uint32_t eligible = 0;
    std::uint32_t stale_members = 0;
    // Composite inputs and its next expiry.
    std::vector<std::uint32_t> inputs;
    core::nanos next_expiry = k_never;
    bool dirty = false;
    // Composites that read this signal.
    std::vector<std::uint32_t> dependents;
    // The latest fired trigger of this signal (composites count it).
    bool has_fire = false;
    std::uint64_t fire_seq = 0;
    core::nanos fire_ts = 0;
};

bool finite_nonzero(double x) noexcept {
    return std::isfinite(x) && x != 0.0;
}

} // namespace

struct graph::impl {
    const core::instrument_registry* registry;
    graph_options opts;
    std::vector<signal_spec> specs; // copies kept for specs()
    std::vector<signal_rt> sigs;
    std::vector<std::uint32_t> order;
    std::vector<std::uint32_t> composites; // composite indices in topological order
    std::vector<inst_state> inst;
    std::vector<std::vector<route>> routes; // every instrument's, sorted by signal
    std::uint64_t seq = 0;
    core::nanos watermark = std::numeric_limits<core::nanos>::min();
    core::nanos next_expiry = k_never;
    bool composite_dirty = false;

    /// Instrument i's routes: the inline copy when it holds them all.
    [[nodiscard]] std::span<const route> routes_of(std::uint32_t i) const noexcept {
        const inst_state& is = inst[i];
        if (is.nroutes <= inst_state::k_near) return {is.near.data(), is.nroutes};
        return routes[i];
    }
    /// Refreshes instrument i's inline copy of its routes after routes[i] changed.
    void sync_routes(std::uint32_t i) noexcept {
        inst_state& is = inst[i];
        const auto& rs = routes[i];
        is.nroutes = static_cast<std::uint32_t>(rs.size());
        std::copy_n(rs.begin(), std::min(rs.size(), inst_state::k_near), is.near.begin());
    }

    // Per-step context.
    const core::tick* cur = nullptr;
    trigger_sink* sink = nullptr;

    impl(std::vector<signal_spec> s, const core::instrument_registry& reg, graph_options o)
        : registry(&reg), opts(o), specs(std::move(s)) {
        std::string problem;
        std::size_t culprit = 0;
        if (!topo_order(specs, order, problem, culprit)) {
            throw std::invalid_argument("signal '" + specs[culprit].name +
                                        "': unknown input or cycle: " + problem);
        }
        sigs.resize(specs.size());
        for (std::size_t i = 0; i < specs.size(); ++i) {
            signal_rt& r = sigs[i];
            r.spec = specs[i];
            r.index = static_cast<std::uint32_t>(i);
            if ((r.spec.kind == signal_kind::drawdown || r.spec.kind == signal_kind::breadth) &&
                r.spec.ref == ref_kind::window) {
                r.width = r.spec.effective_resolution();
                r.nbuckets = buckets_for(r.spec.window, r.width);
            } else if (r.spec.kind == signal_kind::change) {
                r.width = r.spec.effective_resolution();
            }
            if (r.spec.kind == signal_kind::composite) r.value = 0;
        }
        for (std::size_t i = 0; i < specs.size(); ++i) {
            for (const auto& in : specs[i].inputs) {
                for (std::size_t j = 0; j < specs.size(); ++j) {
                    if (specs[j].name == in) {
                        sigs[i].inputs.push_back(static_cast<std::uint32_t>(j));
                        sigs[j].dependents.push_back(static_cast<std::uint32_t>(i));
                    }
                }
            }
        }
        for (auto i : order) {
            if (specs[i].kind == signal_kind::composite) composites.push_back(i);
        }
        // Explicit instrument lists.
        for (std::size_t i = 0; i < specs.size(); ++i) {
            for (const auto& sym : specs[i].instruments) {
                const core::instrument_id id = reg.find(sym);
                if (id == core::k_no_instrument) {
                    throw std::invalid_argument("signal '" + specs[i].name +
                                                "': unknown instrument '" + sym + "'");
                }
                ensure_instrument(core::index(id));
                add_member(sigs[i], id);
            }
        }
        // Every instrument known now (selectors are matched in ensure_instrument).
        if (reg.size() > 0) ensure_instrument(static_cast<std::uint32_t>(reg.size() - 1));
    }

    /// Makes room for instrument ids up to `i`, matching selectors for each new one. Allocates:
    /// runs once per instrument, at start-up or at its first sight.
    void ensure_instrument(std::uint32_t i) {
        while (inst.size() <= i) {
            const auto id = core::instrument_id{static_cast<std::uint32_t>(inst.size())};
            const core::instrument_info& info = registry->info(id);
            inst_state st;
            st.prev_close = info.prev_close;
            st.lateness = info.lateness.value_or(opts.lateness);
            inst.push_back(st);
            routes.emplace_back();
            for (auto& s : sigs) {
                for (const auto& sel : s.spec.select) {
                    if (sel.matches(info)) {
                        add_member(s, id);
                        break;
                    }
                }
            }
        }
    }

    void add_member(signal_rt& s, core::instrument_id id) {
        // The list is sorted by signal: where this one goes, and whether it is there already,
        // by a binary search (signals are added in order, so the place is nearly always the end:
        // a linear check and a sort per member made 1,000 signals over 1,000 instruments take
        // seconds to build).
        auto& rs = routes[core::index(id)];
        const auto at = std::lower_bound(
            rs.begin(), rs.end(), s.index,
            [](const route& r, std::uint32_t signal) { return r.signal < signal; });
        if (at != rs.end() && at->signal == s.index) return; // already a member
        std::uint32_t m = 0;
        switch (s.spec.kind) {
        case signal_kind::drawdown:
            m = static_cast<std::uint32_t>(s.dd.size());
            s.dd.emplace_back().inst = id;
            if (s.spec.ref == ref_kind::window)
                s.dd.back().tmax = trailing_max(s.width, s.nbuckets);
            break;
        case signal_kind::level:
            m = static_cast<std::uint32_t>(s.lv.size());
            s.lv.emplace_back().inst = id;
            break;
        case signal_kind::change:
            m = static_cast<std::uint32_t>(s.ch.size());
            s.ch.emplace_back().inst = id;
            s.ch.back().hist = change_history(s.width, s.spec.lookback);
            break;
        case signal_kind::zscore:
            m = static_cast<std::uint32_t>(s.zs.size());
            s.zs.emplace_back().inst = id;
            s.zs.back().ew = ew_stats(s.spec.halflife);
            break;
        case signal_kind::breadth:
            m = static_cast<std::uint32_t>(s.br.size());
            s.br.emplace_back().inst = id;
            if (s.spec.ref == ref_kind::window)
                s.br.back().tmax = trailing_max(s.width, s.nbuckets);
            break;
        case signal_kind::composite:
            return;
        }
        rs.insert(at, {s.index, m});
        sync_routes(core::index(id));
    }

    // ---- emission ----
    void emit(signal_rt& s, std::size_t level, trigger_state st, core::nanos ts, trigger& tr) {
        tr.seq = ++seq;
        tr.event_ts = ts;
        tr.recv_ts = cur != nullptr ? cur->recv_ts : 0;
        tr.signal = s.index;
        tr.state = st;
        tr.level = static_cast<std::uint8_t>(level);
        tr.sev = s.spec.levels[level].sev;
        tr.threshold = s.spec.levels[level].at;
        tr.gen = opts.generation;
        sink->on_trigger(tr);
        if (st == trigger_state::fired) {
            s.has_fire = true;
            s.fire_seq = tr.seq;
            s.fire_ts = ts;
            for (auto d : s.dependents) {
                sigs[d].dirty = true;
                composite_dirty = true;
            }
        }
    }

    void member_levels(signal_rt& s, std::uint64_t& fired, double value, core::instrument_id id,
                       double px, double ref, core::nanos ts) {
        evaluate_levels(s.spec, fired, value, [&](std::size_t lvl, trigger_state st) {
            trigger tr;
            tr.value = value;
            tr.px = px;
            tr.ref = ref;
            tr.inst = id;
            tr.degraded = inst[core::index(id)].stale;
            emit(s, lvl, st, ts, tr);
        });
    }

    double reference(const signal_rt& s, const inst_state& is) const noexcept {
        switch (s.spec.ref) {
        case ref_kind::prev_close:
            return is.prev_close;
        case ref_kind::session_open:
            return is.session_open;
        case ref_kind::fixed:
            return s.spec.ref_value;
        case ref_kind::window:
            break;
        }
        return k_nan;
    }

    // ---- per-kind updates ----
    void on_drawdown(signal_rt& s, drawdown_member& m, const inst_state& is, core::nanos t,
                     double px) {
        double ref;
        if (s.spec.ref == ref_kind::window) {
            m.tmax.add(t, px);
            ref = m.tmax.max();
        } else {
            ref = reference(s, is);
        }
        m.ref = ref;
        m.px = px;
        m.value = finite_nonzero(ref) ? px / ref - 1.0 : k_nan;
        member_levels(s, m.fired, m.value, m.inst, px, ref, t);
    }

    void on_level(signal_rt& s, level_member& m, core::nanos t, double px) {
        m.value = px;
        member_levels(s, m.fired, px, m.inst, px, k_nan, t);
    }

    void on_change(signal_rt& s, change_member& m, core::nanos t, double px) {
        const double ref = m.hist.add(t, px);
        m.ref = ref;
        m.px = px;
        if (std::isnan(ref)) {
            m.value = k_nan;
        } else if (s.spec.units == change_units::abs) {
            m.value = px - ref;
        } else {
            m.value = ref != 0.0 ? px / ref - 1.0 : k_nan;
        }
        member_levels(s, m.fired, m.value, m.inst, px, ref, t);
    }

    void on_zscore(signal_rt& s, zscore_member& m, core::nanos t, double px) {
        if (!m.has_prev) {
            m.has_prev = true;
            m.prev_x = px;
            m.prev_t = t;
            return;
        }
        const double d = px - m.prev_x;
        const double prev = m.prev_x;
        const std::uint64_t seen = m.ew.count();
        m.value = m.ew.zscore(d);
        m.ew.add(d, t - m.prev_t);
        m.prev_x = px;
        m.prev_t = t;
        if (seen >= s.spec.min_count) member_levels(s, m.fired, m.value, m.inst, px, prev, t);
    }

    void breadth_member_update(signal_rt& s, breadth_member& m, const inst_state& is) {
        const bool eligible = !std::isnan(m.value) && !is.stale;
        const bool counting = eligible && m.value <= s.spec.member_at;
        s.eligible += static_cast<std::uint32_t>(eligible) - static_cast<std::uint32_t>(m.eligible);
        s.counting += static_cast<std::uint32_t>(counting) - static_cast<std::uint32_t>(m.counting);
        m.eligible = eligible;
        m.counting = counting;
    }

    void breadth_evaluate(signal_rt& s, core::nanos t) {
        s.value = s.eligible >= s.spec.min_members && s.eligible > 0
                      ? static_cast<double>(s.counting) / static_cast<double>(s.eligible)
                      : k_nan;
        evaluate_levels(s.spec, s.fired, s.value, [&](std::size_t lvl, trigger_state st) {
            trigger tr;
            tr.value = s.value;
            tr.count = s.counting;
            tr.members = s.eligible;
            tr.degraded = s.stale_members != 0;
            emit(s, lvl, st, t, tr);
        });
    }

    void on_breadth(signal_rt& s, breadth_member& m, const inst_state& is, core::nanos t,
                    double px) {
        double ref;
        if (s.spec.ref == ref_kind::window) {
            m.tmax.add(t, px);
            ref = m.tmax.max();
        } else {
            ref = reference(s, is);
        }
        m.ref = ref;
        m.value = finite_nonzero(ref) ? px / ref - 1.0 : k_nan;
        breadth_member_update(s, m, is);
        breadth_evaluate(s, t);
    }

    bool input_degraded(const signal_rt& s) const noexcept {
        for (auto in : s.inputs) {
            const signal_rt& src = sigs[in];
            if (src.stale_members != 0 ||
                (src.spec.kind == signal_kind::composite && input_degraded(src))) {
                return true;
            }
        }
        return false;
    }

    void evaluate_composites() {
        const core::nanos now = watermark;
        core::nanos soonest = k_never;
        for (auto c : composites) {
            signal_rt& s = sigs[c];
            if (s.dirty || now > s.next_expiry) {
                s.dirty = false;
                trigger tr;
                std::uint32_t active = 0;
                core::nanos next = k_never;
                for (auto in : s.inputs) {
                    const signal_rt& src = sigs[in];
                    if (src.has_fire && core::sat_sub(now, src.fire_ts) <= s.spec.within) {
                        tr.cause[active++] = src.fire_seq;
                        next = std::min(next, core::sat_add(src.fire_ts, s.spec.within));
                    }
                }
                tr.n_cause = static_cast<std::uint8_t>(active);
                s.next_expiry = next;
                s.value = active;
                tr.value = s.value;
                tr.degraded = input_degraded(s);
                evaluate_levels(s.spec, s.fired, s.value, [&](std::size_t lvl, trigger_state st) {
                    trigger out = tr;
                    emit(s, lvl, st, now, out);
                });
            }
            soonest = std::min(soonest, s.next_expiry);
        }
        next_expiry = soonest;
        composite_dirty = false;
    }

    /// A previous close starts the instrument's next session: the last price belongs to the
    /// one before, so breadth members judged against the close or the session's open stop
    /// counting until they tick again (judged at the next tick of the universe).
    void new_session(std::uint32_t i, inst_state& is, double prev_close) {
        is.prev_close = prev_close;
        if (!is.has_tick) return;
        is.new_session = true;
        for (const route& r : routes_of(i)) {
            signal_rt& s = sigs[r.signal];
            if (s.spec.kind != signal_kind::breadth || s.spec.ref == ref_kind::window) continue;
            breadth_member& m = s.br[r.member];
            m.value = k_nan;
            breadth_member_update(s, m, is);
        }
    }

    /// A load, not a prefetch: on this host a software prefetch that misses the TLB mostly
    /// never arrives (its data still missed at the tick's apply, four lines later), while a
    /// load's miss overlaps with the lines in flight (scaling_bench at 100 k instruments: 433–477
    /// ns/tick with loads, 519–577 with prefetches, alternating runs).
    static void touch(const void* p) noexcept { (void)*static_cast<const volatile char*>(p); }

    void warm_state(std::uint32_t i) const noexcept {
        if (i >= inst.size()) return;
        const char* p = reinterpret_cast<const char*>(&inst[i]);
        touch(p);
        touch(p + 64);
    }
    void warm_members(std::uint32_t i) const noexcept {
        if (i >= inst.size()) return;
        const inst_state& is = inst[i];
        const std::uint32_t n = std::min<std::uint32_t>(is.nroutes, inst_state::k_near);
        for (std::uint32_t k = 0; k < n; ++k) {
            const route r = is.near[k];
            const signal_rt& s = sigs[r.signal];
            // A member may straddle a line boundary: its first and last bytes' lines.
            const auto warm = [&](const auto& members) {
                const auto* m = reinterpret_cast<const char*>(&members[r.member]);
                touch(m);
                touch(m + sizeof(members[r.member]) - 1);
            };
            switch (s.spec.kind) {
            case signal_kind::drawdown:
                warm(s.dd);
                break;
            case signal_kind::level:
                warm(s.lv);
                break;
            case signal_kind::change:
                warm(s.ch);
                break;
            case signal_kind::zscore:
                warm(s.zs);
                break;
            case signal_kind::breadth:
                warm(s.br);
                break;
            case signal_kind::composite:
                break;
            }
        }
    }

    apply_status apply(const core::tick& t, trigger_sink& out, std::uint16_t feed) {
        const std::uint32_t i = core::index(t.inst);
        if (i >= inst.size()) ensure_instrument(i);
        inst_state& is = inst[i];
        is.feeds |= std::uint64_t{1} << feed;
        if (t.kind == core::tick_kind::reference) {
            new_session(i, is, t.px);
            return apply_status::reference;
        }
        core::nanos ts = t.event_ts();
        const auto stream = static_cast<std::size_t>(t.kind); // trade, quote or value
        if (is.has_tick) {
            if (is.stream_ts[stream] != k_none &&
                ts < core::sat_sub(is.stream_ts[stream], is.lateness)) {
                return apply_status::late;
            }
            is.stream_ts[stream] = std::max(is.stream_ts[stream], ts);
            ts = std::max(ts, is.last_ts);
        } else {
            is.stream_ts[stream] = ts;
            is.has_tick = true;
            is.session_open = t.px;
        }
        if (is.new_session) {
            is.new_session = false;
            is.session_open = t.px;
        }
        is.last_ts = ts;
        is.last_px = t.px;
        if (ts > watermark) watermark = ts;
        cur = &t;
        sink = &out;
        const double px = t.px;
        for (const route& r : routes_of(i)) {
            signal_rt& s = sigs[r.signal];
            switch (s.spec.kind) {
            case signal_kind::drawdown:
                on_drawdown(s, s.dd[r.member], is, ts, px);
                break;
            case signal_kind::level:
                on_level(s, s.lv[r.member], ts, px);
                break;
            case signal_kind::change:
                on_change(s, s.ch[r.member], ts, px);
                break;
            case signal_kind::zscore:
                on_zscore(s, s.zs[r.member], ts, px);
                break;
            case signal_kind::breadth:
                on_breadth(s, s.br[r.member], is, ts, px);
                break;
            case signal_kind::composite:
                break;
            }
        }
        if (composite_dirty || watermark > next_expiry) evaluate_composites();
        cur = nullptr;
        return apply_status::applied;
    }

    // ---- hot reload ----
    /// Clears the active levels of signal `si` that `keep(level)` rejects, with `why`.
    template <class Keep>
    void end_levels(std::uint32_t si, end_reason why, trigger_sink& out, Keep&& keep) {
        signal_rt& s = sigs[si];
        sink = &out;
        cur = nullptr;
        const core::nanos ts = watermark == k_none ? 0 : watermark;
        auto clear = [&](std::uint64_t& fired, trigger tr) {
            for (std::size_t l = 0; l < s.spec.levels.size(); ++l) {
                const std::uint64_t bit = std::uint64_t{1} << l;
                if ((fired & bit) == 0 || keep(l)) continue;
                fired &= ~bit;
                trigger t = tr;
                t.reason = why;
                emit(s, l, trigger_state::cleared, ts, t);
            }
        };
        auto member = [&](auto& m, double px, double ref) {
            trigger tr;
            tr.value = m.value;
            tr.px = px;
            tr.ref = ref;
            tr.inst = m.inst;
            tr.degraded = inst[core::index(m.inst)].stale;
            clear(m.fired, tr);
        };
        switch (s.spec.kind) {
        case signal_kind::drawdown:
            for (auto& m : s.dd)
                member(m, m.px, m.ref);
            break;
        case signal_kind::level:
            for (auto& m : s.lv)
                member(m, m.value, k_nan);
            break;
        case signal_kind::change:
            for (auto& m : s.ch)
                member(m, m.px, m.ref);
            break;
        case signal_kind::zscore:
            for (auto& m : s.zs)
                member(m, m.prev_x, k_nan);
            break;
        case signal_kind::breadth: {
            trigger tr;
            tr.value = s.value;
            tr.count = s.counting;
            tr.members = s.eligible;
            tr.degraded = s.stale_members != 0;
            clear(s.fired, tr);
            break;
        }
        case signal_kind::composite: {
            trigger tr;
            tr.value = s.value;
            tr.degraded = input_degraded(s);
            clear(s.fired, tr);
            break;
        }
        }
    }

    /// Matches every selector of `s` against instruments [from, to) (ids this signal has not
    /// been matched against yet).
    void match_selectors(signal_rt& s, std::uint32_t from, std::uint32_t to) {
        if (s.spec.select.empty()) return;
        for (std::uint32_t i = from; i < to; ++i) {
            const auto id = core::instrument_id{i};
            const core::instrument_info& info = registry->info(id);
            for (const auto& sel : s.spec.select) {
                if (sel.matches(info)) {
                    add_member(s, id);
                    break;
                }
            }
        }
    }

    void adopt(impl& old, const reload_plan& plan, trigger_sink& out) {
        // 1. What ends, through the old graph (its specs and generation name the triggers).
        for (const std::uint32_t o : plan.ended) {
            const bool removed =
                std::find(plan.removed.begin(), plan.removed.end(), o) != plan.removed.end();
            old.end_levels(o, removed ? end_reason::removed : end_reason::changed, out,
                           [](std::size_t) { return false; });
        }
        for (std::size_t n = 0; n < sigs.size(); ++n) {
            if (plan.how[n] != carry::relevelled) continue;
            const auto o = static_cast<std::uint32_t>(plan.from[n]);
            const signal_spec& next = sigs[n].spec;
            old.end_levels(o, end_reason::relevelled, out,
                           [&](std::size_t l) { return same_level(old.sigs[o].spec, next, l); });
        }
        // 2. Instruments: the old graph's state (swapped in, not copied), with this config's
        // lateness; instruments only this graph knew keep the state it built for them.
        const auto built = static_cast<std::uint32_t>(inst.size());
        const auto had = static_cast<std::uint32_t>(old.inst.size());
        std::swap(inst, old.inst); // old.inst: what this graph built
        for (std::uint32_t i = 0; i < std::min(built, had); ++i)
            inst[i].lateness = old.inst[i].lateness;
        for (std::uint32_t i = had; i < built; ++i)
            inst.push_back(old.inst[i]);
        for (std::uint32_t i = built; i < had; ++i) {
            const core::instrument_info& info = registry->info(core::instrument_id{i});
            inst[i].lateness = info.lateness.value_or(opts.lateness);
        }
        const auto total = static_cast<std::uint32_t>(inst.size());
        // 3. Signals: carried state moves over; new and restarted ones keep what construction
        // gave them. Each is then matched against the instruments it has not seen. The route
        // lists are emptied, not freed: refilled, they rarely need memory again.
        for (auto& rs : routes)
            rs.clear();
        routes.resize(total);
        for (std::size_t n = 0; n < sigs.size(); ++n) {
            signal_rt& s = sigs[n];
            std::uint32_t seen = built;
            if (plan.from[n] != reload_plan::k_none) {
                signal_rt& o = old.sigs[static_cast<std::size_t>(plan.from[n])];
                // Swapped, not moved: the members this graph built go to `old` and are freed
                // with it, off the signal thread (a member's window is an allocation).
                std::swap(s.dd, o.dd);
                std::swap(s.lv, o.lv);
                std::swap(s.ch, o.ch);
                std::swap(s.zs, o.zs);
                std::swap(s.br, o.br);
                s.fired = o.fired;
                s.value = o.value;
                s.counting = o.counting;
                s.eligible = o.eligible;
                s.stale_members = o.stale_members;
                s.has_fire = o.has_fire;
                s.fire_seq = o.fire_seq;
                s.fire_ts = o.fire_ts;
                seen = had;
            } else {
                s.stale_members = 0;
                auto count_stale = [&](const auto& members) {
                    for (const auto& m : members)
                        s.stale_members += inst[core::index(m.inst)].stale ? 1u : 0u;
                };
                count_stale(s.dd);
                count_stale(s.lv);
                count_stale(s.ch);
                count_stale(s.zs);
                count_stale(s.br);
                if (s.spec.kind == signal_kind::breadth) {
                    for (auto& m : s.br)
                        breadth_member_update(s, m, inst[core::index(m.inst)]);
                }
            }
            rebuild_routes(s);
            match_selectors(s, std::min(seen, total), total);
            if (s.spec.kind == signal_kind::composite) s.dirty = true;
        }
        // Every list is sorted already: signals were taken in index order, each appending its
        // members' routes after the earlier signals' (add_member inserts in order too).
        for (std::uint32_t i = 0; i < total; ++i) {
            assert(
                std::is_sorted(routes[i].begin(), routes[i].end(),
                               [](const route& a, const route& b) { return a.signal < b.signal; }));
            sync_routes(i);
        }
        // 4. The run's clock and numbering go on.
        seq = old.seq;
        watermark = old.watermark;
        next_expiry = k_never;
        composite_dirty = !composites.empty();
        // What is left in `old` is freed with it, by whoever prepared the reload.
    }

    void rebuild_routes(const signal_rt& s) {
        auto add = [&](const auto& members) {
            for (std::size_t m = 0; m < members.size(); ++m)
                routes[core::index(members[m].inst)].push_back(
                    {s.index, static_cast<std::uint32_t>(m)});
        };
        add(s.dd);
        add(s.lv);
        add(s.ch);
        add(s.zs);
        add(s.br);
    }

    void set_stale(core::instrument_id id, bool stale, core::nanos now, trigger_sink& out) {
        const std::uint32_t i = core::index(id);
        if (i >= inst.size()) ensure_instrument(i);
        inst_state& is = inst[i];
        if (is.stale == stale) return;
        is.stale = stale;
        sink = &out;
        cur = nullptr;
        for (const route& r : routes_of(i)) {
            signal_rt& s = sigs[r.signal];
            if (stale)
                ++s.stale_members;
            else
                --s.stale_members;
            if (s.spec.kind == signal_kind::breadth) {
                breadth_member_update(s, s.br[r.member], is);
                breadth_evaluate(s, std::max(now, watermark));
            }
        }
    }
};

void graph::restale(std::uint16_t feed, std::uint64_t unhealthy, core::nanos now,
                    trigger_sink& sink) {
    const std::uint64_t bit = std::uint64_t{1} << feed;
    for (std::size_t i = 0; i < p_->inst.size(); ++i) {
        const std::uint64_t feeds = p_->inst[i].feeds;
        if ((feeds & bit) == 0) continue;
        p_->set_stale(core::instrument_id{static_cast<std::uint32_t>(i)}, (feeds & ~unhealthy) == 0,
                      now, sink);
    }
}

void graph::forget_feed(std::uint16_t feed, std::uint64_t unhealthy, core::nanos now,
                        trigger_sink& sink) {
    const std::uint64_t bit = std::uint64_t{1} << feed;
    for (std::size_t i = 0; i < p_->inst.size(); ++i) {
        std::uint64_t& feeds = p_->inst[i].feeds;
        if ((feeds & bit) == 0) continue;
        feeds &= ~bit;
        p_->set_stale(core::instrument_id{static_cast<std::uint32_t>(i)},
                      feeds != 0 && (feeds & ~unhealthy) == 0, now, sink);
    }
}

graph::graph(std::vector<signal_spec> specs, const core::instrument_registry& registry,
             graph_options options)
    : p_(std::make_unique<impl>(std::move(specs), registry, options)) {}
graph::~graph() = default;
graph::graph(graph&&) noexcept = default;
graph& graph::operator=(graph&&) noexcept = default;

apply_status graph::apply(const core::tick& t, trigger_sink& sink, std::uint16_t feed) {
    return p_->apply(t, sink, feed);
}

void graph::warm_state(core::instrument_id inst) const noexcept {
    p_->warm_state(core::index(inst));
}

void graph::warm_members(core::instrument_id inst) const noexcept {
    p_->warm_members(core::index(inst));
}

void graph::set_stale(core::instrument_id inst, bool stale, core::nanos now, trigger_sink& sink) {
    p_->set_stale(inst, stale, now, sink);
}

void graph::adopt(graph& old, const reload_plan& plan, trigger_sink& sink) {
    if (plan.from.size() != p_->sigs.size() || plan.how.size() != p_->sigs.size())
        throw std::invalid_argument("graph::adopt: the plan is for another config");
    p_->adopt(*old.p_, plan, sink);
}

std::uint32_t graph::generation() const noexcept {
    return p_->opts.generation;
}

const std::vector<signal_spec>& graph::specs() const noexcept {
    return p_->specs;
}
const std::vector<std::uint32_t>& graph::order() const noexcept {
    return p_->order;
}
std::uint64_t graph::last_seq() const noexcept {
    return p_->seq;
}
std::uint64_t graph::next_seq() noexcept {
    return ++p_->seq;
}
core::nanos graph::watermark() const noexcept {
    return p_->watermark;
}
bool graph::ticked(core::instrument_id inst) const noexcept {
    const std::uint32_t i = core::index(inst);
    return i < p_->inst.size() && p_->inst[i].has_tick;
}
bool graph::read_by_a_signal(core::instrument_id inst) const noexcept {
    const std::uint32_t i = core::index(inst);
    return i < p_->routes.size() && !p_->routes[i].empty();
}

std::size_t graph::members(std::uint32_t signal) const noexcept {
    const signal_rt& s = p_->sigs[signal];
    switch (s.spec.kind) {
    case signal_kind::drawdown:
        return s.dd.size();
    case signal_kind::level:
        return s.lv.size();
    case signal_kind::change:
        return s.ch.size();
    case signal_kind::zscore:
        return s.zs.size();
    case signal_kind::breadth:
        return s.br.size();
    case signal_kind::composite:
        return 1;
    }
    return 0;
}

std::size_t graph::state_bytes() const noexcept {
    std::size_t n = p_->inst.capacity() * sizeof(inst_state) +
                    p_->routes.capacity() * sizeof(std::vector<route>);
    for (const auto& r : p_->routes)
        n += r.capacity() * sizeof(route);
    for (const auto& s : p_->sigs) {
        n += sizeof(signal_rt);
        n += s.dd.capacity() * sizeof(drawdown_member) + s.lv.capacity() * sizeof(level_member) +
             s.ch.capacity() * sizeof(change_member) + s.zs.capacity() * sizeof(zscore_member) +
             s.br.capacity() * sizeof(breadth_member);
        for (const auto& m : s.dd)
            n += m.tmax.capacity() * trailing_max::bytes_per_bucket();
        for (const auto& m : s.br)
            n += m.tmax.capacity() * trailing_max::bytes_per_bucket();
        for (const auto& m : s.ch)
            n += m.hist.capacity() * 24;
    }
    return n;
}

/// Calls `f` for every value of `p`: visit's body, for visit's std::function and for
/// copy_values' push_back (a call through std::function per value was a third of the signal
/// thread's snapshot at 100 k members).
template <class F>
void graph::for_each_value(const impl& p, F&& f) {
    for (const auto& s : p.sigs) {
        value_view v;
        v.signal = s.index;
        auto stale = [&](core::instrument_id id) { return p.inst[core::index(id)].stale; };
        switch (s.spec.kind) {
        case signal_kind::drawdown:
            for (const auto& m : s.dd) {
                v.inst = m.inst;
                v.value = m.value;
                v.ref = m.ref;
                v.px = m.px;
                v.fired = m.fired;
                v.history = m.tmax.size() != 0
                                ? p.inst[core::index(m.inst)].last_ts - m.tmax.oldest_time()
                                : 0;
                v.degraded = stale(m.inst);
                f(v);
            }
            break;
        case signal_kind::level:
            for (const auto& m : s.lv) {
                v.inst = m.inst;
                v.value = m.value;
                v.ref = k_nan;
                v.px = m.value;
                v.fired = m.fired;
                v.degraded = stale(m.inst);
                f(v);
            }
            break;
        case signal_kind::change:
            for (const auto& m : s.ch) {
                v.inst = m.inst;
                v.value = m.value;
                v.ref = m.ref;
                v.px = m.px;
                v.fired = m.fired;
                v.history = m.hist.size() != 0
                                ? p.inst[core::index(m.inst)].last_ts - m.hist.ref_time()
                                : 0;
                v.degraded = stale(m.inst);
                f(v);
            }
            break;
        case signal_kind::zscore:
            for (const auto& m : s.zs) {
                v.inst = m.inst;
                v.value = m.value;
                v.ref = m.prev_x;
                v.px = m.prev_x;
                v.fired = m.fired;
                v.observations = m.ew.count();
                v.degraded = stale(m.inst);
                f(v);
            }
            break;
        case signal_kind::breadth:
        case signal_kind::composite:
            v.inst = core::k_no_instrument;
            v.value = s.value;
            v.ref = k_nan;
            v.px = k_nan;
            v.fired = s.fired;
            v.count = s.counting;
            v.members = s.eligible;
            v.degraded =
                s.spec.kind == signal_kind::composite ? p.input_degraded(s) : s.stale_members != 0;
            f(v);
            break;
        }
    }
}

void graph::visit(const std::function<void(const value_view&)>& f) const {
    for_each_value(*p_, f);
}

void graph::copy_values(std::vector<value_view>& out) const {
    for_each_value(*p_, [&out](const value_view& v) { out.push_back(v); });
}

} // namespace seismo::signals
