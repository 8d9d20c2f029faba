#include "engine/signal_stage.hpp"

#include "engine/core/json_writer.hpp"
#include "engine/core/thread_name.hpp"
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

signal_stage::~signal_stage() {
    stop_snapshot_thread();
}

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

std::uint64_t signal_stage::reload(prepared_reload& r, core::nanos now) {
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
    unticked_stale_ = true;
    return publish_snapshot();
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

std::uint64_t signal_stage::publish_snapshot() {
    const core::nanos started = core::monotonic_now();
    // The buffers of a capture already formatted, when the snapshot thread left one.
    std::unique_ptr<snapshot_capture> c;
    if (format_thread_.joinable()) {
        std::lock_guard lock(format_mu_);
        c = std::move(spare_);
    }
    if (!c) c = std::make_unique<snapshot_capture>();
    c->number = ++captures_;
    const core::nanos wm = graph_.watermark();
    c->watermark = wm == std::numeric_limits<core::nanos>::min() ? 0 : wm;
    c->taken = core::realtime_now();
    const auto& specs = graph_.specs();
    c->specs.resize(specs.size());
    std::size_t total = 0;
    for (std::size_t i = 0; i < specs.size(); ++i) {
        snapshot_capture::spec_head& h = c->specs[i];
        h.name = specs[i].name;
        h.kind = specs[i].kind;
        h.dir = specs[i].dir;
        h.levels = specs[i].levels;
        h.rearm = specs[i].rearm;
        // One value per member, but one per signal for breadth and composites (a universe of
        // 500 k members is one ratio).
        const bool one = specs[i].kind == signals::signal_kind::breadth ||
                         specs[i].kind == signals::signal_kind::composite;
        total += one ? 1 : graph_.members(static_cast<std::uint32_t>(i));
    }
    c->values.clear();
    c->values.reserve(total);
    graph_.copy_values(c->values);
    // The configured instruments still without a tick: found once per graph, then only those
    // left are looked at again (an instrument ticked stays ticked until the next reload).
    if (unticked_stale_) {
        unticked_.clear();
        quiet_instrument_ids(configured_, graph_, unticked_);
        unticked_stale_ = false;
    } else {
        std::erase_if(unticked_, [this](core::instrument_id id) { return graph_.ticked(id); });
    }
    c->quiet = unticked_;
    const std::uint64_t number = c->number;
    if (format_thread_.joinable()) {
        {
            std::lock_guard lock(format_mu_);
            // A capture still waiting is older than this one: this one replaces it.
            if (waiting_ && !spare_) spare_ = std::move(waiting_);
            waiting_ = std::move(c);
        }
        format_cv_.notify_one();
        stats_.snapshot_ns.store(core::monotonic_now() - started, std::memory_order_relaxed);
        return number;
    }
    const core::nanos copied = core::monotonic_now();
    stats_.snapshot_ns.store(copied - started, std::memory_order_relaxed);
    auto s = format_snapshot(*c, reg_);
    stats_.snapshot_format_ns.store(core::monotonic_now() - copied, std::memory_order_relaxed);
    install(std::move(s));
    return number;
}

void signal_stage::install(std::shared_ptr<stage_snapshot> s) {
    {
        std::lock_guard lock(snapshot_mu_);
        if (s->number <= snapshot_->number) return; // a later one is current already
        snapshot_ = std::move(s);
    }
    snapshot_cv_.notify_all();
}

void signal_stage::wait_snapshot(std::uint64_t number) const {
    std::unique_lock lock(snapshot_mu_);
    snapshot_cv_.wait(lock, [&] { return snapshot_->number >= number; });
}

void signal_stage::start_snapshot_thread() {
    if (format_thread_.joinable()) return;
    format_stop_ = false;
    format_thread_ = std::thread([this] { snapshot_thread_loop(); });
}

void signal_stage::stop_snapshot_thread() {
    if (!format_thread_.joinable()) return;
    {
        std::lock_guard lock(format_mu_);
        format_stop_ = true;
    }
    format_cv_.notify_one();
    format_thread_.join(); // it formats what is waiting first
    spare_.reset();
}

void signal_stage::snapshot_thread_loop() {
    core::name_this_thread("seismo-snapshot");
    std::unique_lock lock(format_mu_);
    for (;;) {
        format_cv_.wait(lock, [this] { return waiting_ != nullptr || format_stop_; });
        if (!waiting_) return; // stopping, nothing left
        std::unique_ptr<snapshot_capture> c = std::move(waiting_);
        lock.unlock();
        const core::nanos started = core::monotonic_now();
        auto s = format_snapshot(*c, reg_);
        // Stored before the install, so that whoever wait_snapshot wakes sees it.
        stats_.snapshot_format_ns.store(core::monotonic_now() - started, std::memory_order_relaxed);
        install(std::move(s));
        lock.lock();
        if (!spare_) spare_ = std::move(c); // its buffers, for the next capture
    }
}

std::shared_ptr<stage_snapshot> format_snapshot(const snapshot_capture& c,
                                                const core::instrument_registry& reg) {
    auto s = std::make_shared<stage_snapshot>();
    s->number = c.number;
    s->watermark = c.watermark;
    s->taken = c.taken;
    s->quiet.reserve(c.quiet.size());
    for (const core::instrument_id id : c.quiet)
        s->quiet.push_back(reg.info(id).symbol);
    const auto& specs = c.specs;
    s->signals.resize(specs.size());
    {
        std::vector<std::size_t> per(specs.size(), 0);
        for (const auto& v : c.values)
            ++per[v.signal];
        for (std::size_t i = 0; i < specs.size(); ++i)
            s->signals[i].entries.reserve(per[i]);
    }
    s->values.reserve(c.values.size());
    for (const signals::value_view& v : c.values) {
        std::string o;
        o.reserve(192);
        o += '{';
        const bool has_inst = v.inst != core::k_no_instrument;
        std::string inst;
        if (has_inst) {
            inst = reg.info(v.inst).symbol;
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
    }
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
    return s;
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
            "thread (copying the values out); snapshots are spaced to at most 1% of it.",
            MetricType::Gauge,
            static_cast<double>(st.snapshot_ns.load(std::memory_order_relaxed)) / 1e9);
        publish::add_single(
            out, "seismo_state_snapshot_format_seconds",
            "How long formatting the last state snapshot took the snapshot thread (live) or the "
            "stage's thread; snapshots are spaced to at most 10% of it.",
            MetricType::Gauge,
            static_cast<double>(st.snapshot_format_ns.load(std::memory_order_relaxed)) / 1e9);
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
