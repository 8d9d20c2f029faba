#include "engine/signal_stage.hpp"

#include "engine/core/json_writer.hpp"
#include "engine/core/time.hpp"
#include "engine/journal/writer.hpp"
#include "engine/publish/metrics.hpp"
#include "engine/warnings.hpp"

#include <cmath>
#include <limits>

namespace seismo::engine {

signal_stage::signal_stage(const config& cfg, core::instrument_registry& reg, std::size_t feeds,
                           stage_sink& out)
    : configured_(configured_instruments(cfg, reg)), reg_(reg),
      graph_(cfg.signals, reg, signals::graph_options{cfg.engine.lateness}),
      step_(graph_, std::max<std::size_t>(feeds, 1)), out_(out),
      snapshot_(std::make_shared<stage_snapshot>()) {
    order_buf_.reserve(k_order_batch + 512);
}

signal_stage::~signal_stage() = default;

void signal_stage::on_trigger(const signals::trigger& t) {
    triggered_ = true;
    stats_.triggers.add();
    out_.on_trigger(t);
}

void signal_stage::tick(std::uint16_t feed, std::uint32_t frame_no, std::uint16_t index,
                        const core::tick& t) {
    if (journal_ != nullptr) order_buf_.push_back({feed, index, frame_no});
    triggered_ = false;
    switch (step_.tick(feed, t, *this)) {
    case signals::apply_status::late:
        stats_.late.add();
        stats_.late_per_feed[feed].add();
        out_.on_late(feed, frame_no, t);
        return;
    case signals::apply_status::reference:
        stats_.references.add();
        break;
    case signals::apply_status::applied:
        stats_.applied.add();
        break;
    }
    if (out_.wants_applied) out_.on_applied(t, triggered_);
}

void signal_stage::health(std::uint16_t feed, const core::health_event& e) {
    if (journal_ != nullptr) {
        flush_order(); // keep the consumption order exact around the event
        journal_->health(feed, e.kind, e.cause, e.at, e.value,
                         e.inst == core::k_no_instrument
                             ? std::string_view{}
                             : std::string_view(reg_.info(e.inst).symbol));
    }
    step_.health(feed, e, *this);
}

void signal_stage::reload(prepared_reload& r, core::nanos now) {
    if (journal_ != nullptr) {
        flush_order(); // the reload stands between the ticks before and after it
        journal_->reload(r.cfg->digest, r.cfg->file, r.cfg->text, now);
    }
    r.graph->adopt(graph_, r.plan, *this);
    // The old graph goes back in `r`, to be freed by whoever prepared the reload: freeing a
    // big universe's windows is not the signal thread's time to spend.
    std::swap(graph_, *r.graph);
    step_.resize(r.feeds.slots.size());
    for (const auto f : r.feeds.removed)
        step_.retire(f, now, *this);
    std::swap(configured_, r.configured); // the old list is freed off this thread, with `r`
    publish_snapshot();
}

void signal_stage::flush_order() {
    if (journal_ != nullptr && !order_buf_.empty()) {
        journal_->order(order_buf_.data(), order_buf_.size());
        last_order_flush_ = core::monotonic_now();
    }
    order_buf_.clear();
}

void signal_stage::maybe_flush_order(core::nanos now) {
    if (order_buf_.size() >= k_order_batch ||
        (now != 0 && !order_buf_.empty() && now - last_order_flush_ >= k_order_every)) {
        flush_order();
    }
}

std::shared_ptr<const stage_snapshot> signal_stage::snapshot() const {
    std::lock_guard lock(snapshot_mu_);
    return snapshot_;
}

void signal_stage::publish_snapshot() {
    const core::nanos started = core::monotonic_now();
    auto s = std::make_shared<stage_snapshot>();
    const core::nanos wm = graph_.watermark();
    s->watermark = wm == std::numeric_limits<core::nanos>::min() ? 0 : wm;
    s->taken = core::realtime_now();
    const auto& specs = graph_.specs();
    s->signals.resize(specs.size());
    std::size_t total = 0;
    for (std::size_t i = 0; i < specs.size(); ++i) {
        // One value per member, but one per signal for breadth and composites (a universe of
        // 500 k members is one ratio).
        const bool one = specs[i].kind == signals::signal_kind::breadth ||
                         specs[i].kind == signals::signal_kind::composite;
        const std::size_t n = one ? 1 : graph_.members(static_cast<std::uint32_t>(i));
        s->signals[i].entries.reserve(n);
        total += n;
    }
    s->values.reserve(total);
    graph_.visit([&](const signals::value_view& v) {
        std::string o;
        o.reserve(192);
        o += '{';
        const bool has_inst = v.inst != core::k_no_instrument;
        std::string inst;
        if (has_inst) {
            inst = reg_.info(v.inst).symbol;
            o += R"("instrument":)";
            core::append_json_string(o, inst);
            o += ',';
        }
        o += R"("value":)";
        core::append_double(o, v.value);
        if (has_inst) {
            o += R"(,"px":)";
            core::append_double(o, v.px);
            o += R"(,"ref":)";
            core::append_double(o, v.ref);
        }
        if (specs[v.signal].kind == signals::signal_kind::breadth) {
            o += R"(,"count":)";
            core::append_uint(o, v.count);
            o += R"(,"members":)";
            core::append_uint(o, v.members);
        }
        if (v.history != 0) {
            o += R"(,"history_seconds":)";
            core::append_double(o, static_cast<double>(v.history) / 1e9);
        }
        if (specs[v.signal].kind == signals::signal_kind::zscore) {
            o += R"(,"observations":)";
            core::append_uint(o, v.observations);
        }
        o += R"(,"fired":[)";
        bool first = true;
        for (std::size_t l = 0; l < specs[v.signal].levels.size(); ++l) {
            if ((v.fired & (std::uint64_t{1} << l)) == 0) continue;
            if (!first) o += ',';
            first = false;
            core::append_uint(o, l);
        }
        o += R"(],"degraded":)";
        o += v.degraded ? "true" : "false";
        o += '}';
        s->signals[v.signal].entries.emplace_back(inst, std::move(o));
        s->values.push_back({v.signal, std::move(inst), v.value});
    });
    for (std::size_t i = 0; i < specs.size(); ++i) {
        const auto& sp = specs[i];
        s->signals[i].name = sp.name;
        s->signals[i].kind = sp.kind;
        std::string& j = s->signals[i].head;
        j += R"({"name":)";
        core::append_json_string(j, sp.name);
        j += R"(,"kind":")";
        j += signals::to_string(sp.kind);
        j += R"(","direction":")";
        j += signals::to_string(sp.dir);
        j += R"(","levels":[)";
        for (std::size_t l = 0; l < sp.levels.size(); ++l) {
            if (l != 0) j += ',';
            j += R"({"at":)";
            core::append_double(j, sp.levels[l].at);
            j += R"(,"severity":")";
            j += signals::to_string(sp.levels[l].sev);
            j += "\"}";
        }
        j += R"(],"rearm":)";
        core::append_double(j, sp.rearm);
        j += R"(,"values":[)";
    }
    s->quiet = quiet_instruments(configured_, graph_);
    {
        std::lock_guard lock(snapshot_mu_);
        snapshot_ = std::move(s);
    }
    stats_.snapshot_ns.store(core::monotonic_now() - started, std::memory_order_relaxed);
}

namespace {

class stage_probe final : public prometheus::Collectable {
  public:
    explicit stage_probe(const signal_stage& s) : s_(s) {}

    [[nodiscard]] std::vector<prometheus::MetricFamily> Collect() const override {
        using prometheus::MetricType;
        std::vector<prometheus::MetricFamily> out;
        const stage_stats& st = s_.stats();
        auto latency = publish::make_family(
            "seismo_tick_to_trigger_seconds",
            "Frame receipt to trigger enqueued by the signal thread (wall clock).",
            MetricType::Histogram);
        publish::add_histogram(latency, {}, st.tick_to_trigger);
        out.push_back(std::move(latency));
        publish::add_single(out, "seismo_ticks_applied_total",
                            "Ticks applied to the signals (previous closes included).",
                            MetricType::Counter,
                            static_cast<double>(st.applied.value() + st.references.value()));
        publish::add_single(out, "seismo_ticks_late_total", "Ticks refused as late.",
                            MetricType::Counter, static_cast<double>(st.late.value()));
        publish::add_single(
            out, "seismo_state_snapshot_seconds",
            "How long the last state snapshot (/v1/state, seismo_signal_value) took the signal "
            "thread; snapshots are spaced to at most 1% of it.",
            MetricType::Gauge,
            static_cast<double>(st.snapshot_ns.load(std::memory_order_relaxed)) / 1e9);
        // Named by the snapshot itself: the graph may have been swapped by a reload since.
        const auto snap = s_.snapshot();
        auto values = publish::make_family(
            "seismo_signal_value", "A signal's current value per instrument.", MetricType::Gauge);
        auto breadth = publish::make_family(
            "seismo_breadth_ratio", "Share of a breadth signal's members at or below member_at.",
            MetricType::Gauge);
        auto composite = publish::make_family("seismo_composite_active_inputs",
                                              "Inputs of a composite active within its window.",
                                              MetricType::Gauge);
        for (const auto& v : snap->values) {
            if (std::isnan(v.v)) continue;
            const auto& sp = snap->signals[v.signal];
            if (sp.kind == signals::signal_kind::breadth) {
                publish::add_sample(breadth, {{"signal", sp.name}}, v.v);
            } else if (sp.kind == signals::signal_kind::composite) {
                publish::add_sample(composite, {{"signal", sp.name}}, v.v);
            } else {
                publish::add_sample(values, {{"signal", sp.name}, {"instrument", v.instrument}},
                                    v.v);
            }
        }
        out.push_back(std::move(values));
        out.push_back(std::move(breadth));
        out.push_back(std::move(composite));
        return out;
    }

  private:
    const signal_stage& s_;
};

} // namespace

std::shared_ptr<prometheus::Collectable> signal_stage::make_probe() const {
    return std::make_shared<stage_probe>(*this);
}

} // namespace seismo::engine
