#include "engine/feed_host.hpp"

#include "engine/core/json_writer.hpp"
#include "engine/core/time.hpp"
#include "engine/journal/writer.hpp"
#include "engine/publish/metrics.hpp"
#include "engine/publish/nats.hpp"
#include "engine/signal_stage.hpp"
#include "engine/sim.hpp"
#include "engine/warnings.hpp"
#include "feeds/live/demo_feed.hpp"
#include "feeds/live/nats_feed.hpp"
#include "feeds/live/tls.hpp"
#include "feeds/live/ws_session.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include <iostream>
#include <stdexcept>

namespace seismo::engine {

/// One feed: its source and the sink its pipeline hands frames, ticks and refusals to, on the
/// feed's thread (the engine thread for a WebSocket or demo feed, its own for NATS).
struct feed_host::feed final : feeds::frame_sink {
    feed(std::string n, std::string v, std::uint16_t i, event_queue& ev, dead_queue& dq)
        : name(std::move(n)), venue(std::move(v)), id(i), events(&ev), dead(&dq), token(ev) {
        batch.reserve(256);
    }

    std::string name, venue;
    std::uint16_t id;
    std::atomic<bool> retired{false}; // removed by a reload
    event_queue* events;
    dead_queue* dead;
    journal::writer* journal = nullptr;
    moodycamel::ProducerToken token;
    std::vector<feed_event> batch;
    std::shared_ptr<feeds::live::ws_session> session;
    std::shared_ptr<feeds::live::demo_feed> demo;
    std::unique_ptr<feeds::live::nats_feed> nats;
    std::unique_ptr<feeds::feed_stats> own_stats;    // the inproc feed's
    std::unique_ptr<feeds::frame_pipeline> pipeline; // the inproc feed's
    const std::function<void()>* wake = nullptr;     // feeds off the io_context
    const std::function<void()>* drain = nullptr;    // feeds on it

    [[nodiscard]] const feeds::feed_stats& stats() const {
        return session ? session->stats()
               : demo  ? demo->stats()
               : nats  ? nats->stats()
                       : *own_stats;
    }

    void on_frame_done(std::uint16_t, std::uint32_t frame_no, std::string_view frame,
                       core::nanos recv_ts) override {
        // Recorded after the frame's ticks are in the queue, so recording adds nothing to a
        // tick's latency; the journal writer keeps each frame ahead of the order naming it.
        if (journal != nullptr) journal->frame(id, frame_no, recv_ts, frame);
        if (drain != nullptr && *drain) (*drain)();
    }
    void on_ticks(std::uint16_t, std::uint32_t frame_no, const core::tick* t,
                  std::size_t n) override {
        if (batch.size() < n) batch.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
            batch[i].t = t[i];
            batch[i].feed = id;
            batch[i].health = false;
            batch[i].frame = frame_no;
            batch[i].index = static_cast<std::uint16_t>(i);
        }
        events->enqueue_bulk(token, batch.data(), n);
        if (wake != nullptr && *wake) (*wake)();
    }
    // Log lines for a feed's failures (DESIGN §4: at most once per second per feed and
    // reason) and its recovery. On the feed's thread.
    std::string last_logged;
    core::nanos last_logged_at = 0;
    std::uint64_t unlogged = 0;
    bool failing = false;

    void log_failure(const feeds::live::session_failure& f) {
        failing = true;
        if (f.text == last_logged && f.at - last_logged_at < core::k_ns_per_s) {
            ++unlogged;
            return;
        }
        std::cerr << "seismo: feed " << name << " down (" << core::to_string(f.cause)
                  << "): " << f.text;
        if (unlogged != 0) std::cerr << " (and " << unlogged << " more like it)";
        std::cerr << "\n";
        last_logged = f.text;
        last_logged_at = f.at;
        unlogged = 0;
    }

    void on_health(std::uint16_t, const core::health_event& e) override {
        if (e.kind == core::health_kind::up && failing) {
            failing = false;
            last_logged.clear();
            std::cerr << "seismo: feed " << name << ": up again\n";
        }
        feed_event ev;
        ev.health = true;
        ev.kind = e.kind;
        ev.cause = e.cause;
        ev.feed = id;
        ev.t.exch_ts = e.at;
        ev.t.recv_ts = e.at;
        ev.t.seq = e.value;
        ev.t.inst = e.inst;
        events->enqueue(token, ev);
        if (wake != nullptr && *wake) (*wake)();
    }
    void on_reject(std::uint16_t, std::uint32_t frame_no, core::reject_reason why,
                   std::string_view detail, std::string_view frame, core::nanos recv_ts) override {
        dead_record r;
        r.feed = id;
        r.frame_no = frame_no;
        r.reason = why;
        r.recv_ts = recv_ts;
        r.detail.assign(detail);
        r.frame.assign(frame);
        dead->push(std::move(r));
    }
};

namespace {

feeds::live::session_options session_options_for(const config& cfg, const feed_config& f) {
    feeds::live::session_options o;
    o.name = f.name;
    if (!feeds::parse_venue(f.venue, o.kind))
        throw std::invalid_argument("unknown venue " + f.venue);
    o.url = f.url;
    o.symbols = f.symbols;
    o.channels = f.channels;
    o.stale_after = f.stale_after;
    o.max_connection_age = f.max_connection_age.value_or(feeds::info(o.kind).max_connection_age);
    o.ca_file = f.ca_file;
    o.max_frame = max_frame_for(cfg, o.kind, &f);
    return o;
}

} // namespace

feed_host::feed& feed_host::add(std::string name, std::string venue) {
    const std::size_t n = n_.load(std::memory_order_relaxed);
    if (n >= signals::k_max_feeds) throw std::invalid_argument("at most 64 feeds");
    const auto id = static_cast<std::uint16_t>(n);
    feeds_[n] = std::make_unique<feed>(std::move(name), std::move(venue), id, events_, dead_);
    feeds_[n]->journal = journal_;
    return *feeds_[n];
}

void feed_host::add_session(feed& e, const config& cfg, const feed_config& f) {
    if (f.venue == "nats") {
        if (nats_ == nullptr)
            throw std::invalid_argument("feed " + f.name + ": a nats feed needs a NATS connection");
        feeds::live::nats_feed::options o;
        o.name = f.name;
        o.stream = f.stream;
        o.subject = f.subject;
        o.start_time = nats_start_;
        o.max_frame = max_frame_for(cfg, feeds::venue::generic, &f);
        e.wake = &wake_;
        e.nats = std::make_unique<feeds::live::nats_feed>(nats_->get(), nats_->js(), std::move(o),
                                                          reg_, e, e.id);
        return;
    }
    std::size_t ctx = 0;
    while (ctx < tls_files_.size() && tls_files_[ctx] != f.ca_file)
        ++ctx;
    if (ctx == tls_files_.size()) {
        auto tls = feeds::live::make_client_tls(f.ca_file);
        tls_files_.push_back(f.ca_file);
        tls_.push_back(std::move(tls));
    }
    auto so = session_options_for(cfg, f);
    so.on_failure = [fp = &e](const feeds::live::session_failure& fail) { fp->log_failure(fail); };
    e.drain = &drain_;
    e.session = feeds::live::ws_session::create(io_, *tls_[ctx], std::move(so), reg_, e, e.id);
}

feed_host::feed_host(const config& cfg, feed_host_options o, boost::asio::io_context& io,
                     core::instrument_registry& reg, event_queue& events, dead_queue& dead)
    : io_(io), reg_(reg), events_(events), dead_(dead), nats_(o.nats), nats_start_(o.nats_start) {
    if (slots_for(cfg, o).size() > signals::k_max_feeds)
        throw std::invalid_argument("at most 64 feeds");
    for (const auto& f : cfg.feeds) {
        feed& e = add(f.name, f.venue);
        add_session(e, cfg, f);
        n_.store(e.id + 1u, std::memory_order_release);
    }
    if (o.demo) {
        feed& e = add("demo", "generic");
        feeds::live::demo_feed::options d;
        d.speed = o.demo_speed;
        d.max_frame = max_frame_for(cfg, feeds::venue::generic);
        d.day = [seed = o.demo_seed](std::uint64_t loop) {
            sim_options so;
            so.seed = seed;
            so.pass = loop;
            return simulate(so);
        };
        e.drain = &drain_;
        e.demo = feeds::live::demo_feed::create(io, std::move(d), reg, e, e.id);
        n_.store(e.id + 1u, std::memory_order_release);
    }
    if (o.inproc) {
        feed& e = add("inproc", "generic");
        e.own_stats = std::make_unique<feeds::feed_stats>();
        e.own_stats->connected.set(true);
        e.wake = &wake_;
        e.pipeline = std::make_unique<feeds::frame_pipeline>(
            feeds::venue::generic, reg, max_frame_for(cfg, feeds::venue::generic), e, e.id,
            *e.own_stats);
        inproc_ = &e;
        n_.store(e.id + 1u, std::memory_order_release);
    }
}

feed_host::~feed_host() = default;

std::vector<feed_slot> feed_host::slots_for(const config& cfg, const feed_host_options& o) {
    std::vector<std::pair<std::string, std::string>> extra;
    if (o.demo) extra.emplace_back("demo", "generic");
    if (o.inproc) extra.emplace_back("inproc", "generic");
    return initial_feed_slots(cfg, extra);
}

void feed_host::apply(const feed_plan& plan, const config& cfg) {
    // Make before break: what is new connects first, what goes stops last.
    for (const auto id : plan.added) {
        if (id != size()) throw std::logic_error("feed_host::apply: feed ids out of step");
        const feed_slot& slot = plan.slots[id];
        if (journal_ != nullptr) journal_->add_feed();
        feed& e = add(slot.name, slot.venue);
        add_session(e, cfg, *slot.cfg);
        n_.store(id + 1u, std::memory_order_release);
        start_feed(e);
    }
    for (const auto id : plan.resubscribed) {
        feed& e = *feeds_[id];
        if (e.session) e.session->reconfigure(session_options_for(cfg, *plan.slots[id].cfg));
    }
    for (const auto id : plan.removed) {
        feed& e = *feeds_[id];
        e.retired.store(true, std::memory_order_release);
        if (e.session) e.session->stop();
        if (e.nats) e.nats->stop();
    }
}

void feed_host::start_feed(feed& f) {
    if (f.session)
        f.session->start();
    else if (f.demo)
        f.demo->start();
    else if (f.nats)
        f.nats->start();
}

const std::string& feed_host::name(std::size_t i) const {
    return feeds_.at(i)->name;
}
const std::string& feed_host::venue(std::size_t i) const {
    return feeds_.at(i)->venue;
}
bool feed_host::retired(std::size_t i) const noexcept {
    return i < size() && feeds_[i]->retired.load(std::memory_order_acquire);
}

void feed_host::record_to(journal::writer* w) noexcept {
    journal_ = w;
    for (std::size_t i = 0; i < size(); ++i)
        feeds_[i]->journal = w;
}

void feed_host::start() {
    for (std::size_t i = 0; i < size(); ++i)
        start_feed(*feeds_[i]);
}

void feed_host::stop() {
    for (std::size_t i = 0; i < size(); ++i) {
        feed& f = *feeds_[i];
        if (f.session)
            f.session->stop();
        else if (f.demo)
            f.demo->stop();
        else if (f.nats)
            f.nats->stop();
    }
}

const feeds::feed_stats& feed_host::stats(std::size_t i) const {
    return feeds_.at(i)->stats();
}

void feed_host::inject(std::string_view frame, core::nanos recv_ts) {
    if (inproc_ == nullptr) throw std::logic_error("inject() needs the inproc feed");
    inject_buf_.assign(frame.begin(), frame.end());
    inject_buf_.resize(frame.size() + feeds::k_padding, '\0');
    (void)inproc_->pipeline->handle(inject_buf_.data(), frame.size(), inject_buf_.size(), recv_ts);
}

std::vector<std::string> feed_host::warnings() const {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < size(); ++i) {
        const auto& f = feeds_[i];
        if (!f->session || retired(i)) continue;
        if (auto w = ignored_warning("feed " + f->name, f->venue, f->stats(),
                                     f->session->first_ignored())) {
            out.push_back(std::move(*w));
        }
    }
    return out;
}

void feed_host::wake_with(std::function<void()> off_io, std::function<void()> on_io) {
    wake_ = std::move(off_io);
    drain_ = std::move(on_io);
}

bool feed_host::uses_io() const noexcept {
    for (std::size_t i = 0; i < size(); ++i) {
        if (feeds_[i]->session || feeds_[i]->demo) return true;
    }
    return false;
}

std::uint64_t feed_host::demo_loops() const noexcept {
    for (std::size_t i = 0; i < size(); ++i) {
        if (feeds_[i]->demo) return feeds_[i]->demo->loops();
    }
    return 0;
}

std::string feed_host::state_json(core::nanos now,
                                  const std::function<bool(std::string_view)>& visible) const {
    std::string o = "[";
    bool first = true;
    for (std::size_t i = 0; i < size(); ++i) {
        const feed& f = *feeds_[i];
        if (retired(i) || !visible(f.name)) continue;
        const auto& st = f.stats();
        if (!first) o += ',';
        first = false;
        o += R"({"name":)";
        core::append_json_string(o, f.name);
        o += R"(,"venue":)";
        core::append_json_string(o, f.venue);
        o += R"(,"connected":)";
        o += st.connected.value() ? "true" : "false";
        if (f.session && !st.connected.value()) {
            const auto fail = f.session->last_failure();
            if (!fail.text.empty()) {
                o += R"(,"down_cause":")";
                o += core::to_string(fail.cause);
                o += R"(","down_reason":)";
                core::append_json_string(o, fail.text);
                o += R"(,"failed_at":)";
                core::append_json_time(o, fail.at);
            }
        }
        o += R"(,"stale":)";
        o += st.stale.value() ? "true" : "false";
        const core::nanos last = st.last_data.value();
        o += R"(,"last_event_age_seconds":)";
        if (last == 0)
            o += "null";
        else
            core::append_double(o, static_cast<double>(now - last) / 1e9);
        o += R"(,"frames":)";
        core::append_uint(o,
                          st.frames[static_cast<std::size_t>(feeds::frame_outcome::data)].value());
        for (auto out : {feeds::frame_outcome::ignored, feeds::frame_outcome::control,
                         feeds::frame_outcome::rejected}) {
            o += R"(,")";
            o += feeds::to_string(out);
            o += R"(":)";
            core::append_uint(o, st.frames[static_cast<std::size_t>(out)].value());
        }
        o += R"(,"reconnects":)";
        core::append_uint(o, st.reconnects.value());
        o += R"(,"gaps":)";
        core::append_uint(o, st.gaps.value());
        if (f.demo) {
            o += R"(,"loops":)";
            core::append_uint(o, f.demo->loops());
        }
        if (f.nats) {
            // A rebuilding engine is not connected (not ready) until it has caught up.
            o += R"(,"caught_up":)";
            o += f.nats->caught_up() ? "true" : "false";
            o += R"(,"stream_seq":)";
            core::append_uint(o, f.nats->stream_seq());
        }
        o += '}';
    }
    return o + "]";
}

bool feed_host::ready(std::string& detail) const {
    bool ok = true;
    detail = R"({"feeds":[)";
    bool first = true;
    for (std::size_t i = 0; i < size(); ++i) {
        if (retired(i)) continue;
        const auto& st = feeds_[i]->stats();
        const bool connected = st.connected.value();
        const bool stale = st.stale.value();
        ok = ok && connected && !stale;
        if (!first) detail += ',';
        first = false;
        detail += R"({"name":)";
        core::append_json_string(detail, feeds_[i]->name);
        detail += R"(,"connected":)";
        detail += connected ? "true" : "false";
        detail += R"(,"stale":)";
        detail += stale ? "true" : "false";
        detail += '}';
    }
    detail += R"(],"ready":)";
    detail += ok ? "true" : "false";
    detail += "}\n";
    return ok;
}

namespace {

class feed_probe final : public prometheus::Collectable {
  public:
    feed_probe(const feed_host& h, const stage_stats* late) : h_(h), late_(late) {}

    [[nodiscard]] std::vector<prometheus::MetricFamily> Collect() const override {
        using prometheus::MetricType;
        using publish::add_sample;
        using publish::make_family;
        std::vector<prometheus::MetricFamily> out;
        auto frames = make_family("seismo_feed_frames_total",
                                  "Frames a feed delivered, by outcome (data, ignored, control, "
                                  "rejected): their sum is every frame.",
                                  MetricType::Counter);
        auto ticks =
            make_family("seismo_feed_ticks_total", "Ticks passed to the signal thread per feed.",
                        MetricType::Counter);
        auto rejected =
            make_family("seismo_feed_rejected_total",
                        "Refused frames or ticks per feed and reason.", MetricType::Counter);
        auto connected = make_family("seismo_feed_connected", "1 while the feed is connected.",
                                     MetricType::Gauge);
        auto stale =
            make_family("seismo_feed_stale", "1 while the feed has had no data for stale_after.",
                        MetricType::Gauge);
        auto connects = make_family("seismo_feed_connects_total",
                                    "Successful connections per feed.", MetricType::Counter);
        auto reconnects =
            make_family("seismo_feed_reconnects_total",
                        "Connection attempts after the first per feed.", MetricType::Counter);
        auto rotations =
            make_family("seismo_feed_rotations_total",
                        "Make-before-break connection rotations per feed.", MetricType::Counter);
        auto age = make_family("seismo_feed_last_event_age_seconds",
                               "Seconds since the feed's last data frame.", MetricType::Gauge);
        auto gaps = make_family("seismo_feed_gaps_total", "Venue sequence gaps per feed.",
                                MetricType::Counter);
        auto missing =
            make_family("seismo_feed_missing_total",
                        "Sequence numbers missing in all gaps per feed.", MetricType::Counter);
        auto off_book = make_family(
            "seismo_feed_off_book_total",
            "Trades off the order book (Binance futures insurance fund and ADL prints), ignored.",
            MetricType::Counter);
        const core::nanos now = core::realtime_now();
        for (std::size_t i = 0; i < h_.size(); ++i) {
            if (h_.retired(i)) continue;
            const auto& st = h_.stats(i);
            const std::string& name = h_.name(i);
            for (std::size_t o = 0; o < feeds::k_frame_outcomes; ++o) {
                add_sample(frames,
                           {{"feed", name},
                            {"outcome", feeds::to_string(static_cast<feeds::frame_outcome>(o))}},
                           static_cast<double>(st.frames[o].value()));
            }
            add_sample(ticks, {{"feed", name}}, static_cast<double>(st.ticks.value()));
            for (std::size_t r = 0; r < core::k_reject_reasons; ++r) {
                std::uint64_t v = st.rejected[r].value();
                if (static_cast<core::reject_reason>(r) == core::reject_reason::late &&
                    late_ != nullptr) {
                    v += late_->late_per_feed[i].value();
                }
                add_sample(
                    rejected,
                    {{"feed", name},
                     {"reason", std::string(core::to_string(static_cast<core::reject_reason>(r)))}},
                    static_cast<double>(v));
            }
            add_sample(connected, {{"feed", name}}, st.connected.value() ? 1 : 0);
            add_sample(stale, {{"feed", name}}, st.stale.value() ? 1 : 0);
            add_sample(connects, {{"feed", name}}, static_cast<double>(st.connects.value()));
            add_sample(reconnects, {{"feed", name}}, static_cast<double>(st.reconnects.value()));
            add_sample(rotations, {{"feed", name}}, static_cast<double>(st.rotations.value()));
            if (const core::nanos last = st.last_data.value(); last != 0) {
                add_sample(age, {{"feed", name}}, static_cast<double>(now - last) / 1e9);
            }
            add_sample(gaps, {{"feed", name}}, static_cast<double>(st.gaps.value()));
            add_sample(missing, {{"feed", name}}, static_cast<double>(st.missing.value()));
            add_sample(off_book, {{"feed", name}}, static_cast<double>(st.off_book.value()));
        }
        for (auto* f : {&frames, &ticks, &rejected, &connected, &stale, &connects, &reconnects,
                        &rotations, &age, &gaps, &missing, &off_book}) {
            out.push_back(std::move(*f));
        }
        return out;
    }

  private:
    const feed_host& h_;
    const stage_stats* late_;
};

} // namespace

std::shared_ptr<prometheus::Collectable> feed_host::make_probe(const stage_stats* late) const {
    return std::make_shared<feed_probe>(*this, late);
}

} // namespace seismo::engine
