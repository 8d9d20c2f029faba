#include "engine/runtime.hpp"

#include "engine/core/json_writer.hpp"
#include "engine/core/time.hpp"
#include "engine/core/version.hpp"
#include "engine/events.hpp"
#include "engine/feed_host.hpp"
#include "engine/journal/probe.hpp"
#include "engine/journal/writer.hpp"
#include "engine/publish/hub.hpp"
#include "engine/publish/metrics.hpp"
#include "engine/publish/server.hpp"
#include "engine/signal_stage.hpp"
#include "engine/trigger_publisher.hpp"
#include "engine/warnings.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <prometheus/family.h>
#include <prometheus/gauge.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <pthread.h>
#include <random>
#include <sched.h>
#include <thread>

namespace seismo::engine {
namespace {

constexpr std::size_t k_bulk = 512;
constexpr core::nanos k_snapshot_every = 250'000'000;

std::unique_ptr<core::instrument_registry> make_registry(const config& c) {
    auto r = std::make_unique<core::instrument_registry>(c.engine.max_instruments);
    populate_registry(c, *r);
    return r;
}

feed_host_options host_options(const run_options& o) {
    feed_host_options h;
    h.demo = o.demo;
    h.demo_speed = o.demo_speed;
    h.demo_seed = o.demo_seed;
    h.inproc = o.inproc_feed;
    return h;
}

publisher_options publisher_options_of(const run_options& o) {
    return {o.out, o.print, o.dead_letter, o.deterministic};
}

/// A random id for this run: snapshots carry it, so a client resuming with `since` can tell a
/// restarted engine (whose seqs start again) from a gap.
std::string make_epoch() {
    std::random_device rd;
    const std::uint64_t v = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

publish::server_options server_options_of(const config& cfg, const run_options& o,
                                          std::string epoch) {
    publish::server_options s;
    s.epoch = std::move(epoch);
    s.listen = o.listen.value_or(cfg.server.listen);
    for (const auto& t : cfg.server.tokens) {
        unsigned roles = 0;
        for (const auto& r : t.roles)
            roles |= publish::role_named(r);
        s.tokens.push_back({t.token, t.topics, roles == 0 ? publish::role_subscribe : roles});
    }
    s.signals.push_back("feed_health");
    for (const auto& sp : cfg.signals)
        s.signals.push_back(sp.name);
    s.max_connections = cfg.server.max_connections;
    s.max_subscriptions = cfg.server.max_subscriptions;
    s.max_message_bytes = cfg.server.max_message_bytes;
    s.session_queue = cfg.server.session_queue;
    s.tls_cert = cfg.server.tls_cert;
    s.tls_key = cfg.server.tls_key;
    s.request_timeout = std::chrono::nanoseconds(cfg.server.request_timeout);
    s.idle_timeout = std::chrono::nanoseconds(cfg.server.idle_timeout);
    s.client_rate = cfg.server.client_rate;
    return s;
}

/// The runtime's own series: the tick queue's depth.
class queue_probe final : public prometheus::Collectable {
  public:
    explicit queue_probe(const event_queue& q) : q_(q) {}
    [[nodiscard]] std::vector<prometheus::MetricFamily> Collect() const override {
        std::vector<prometheus::MetricFamily> out;
        auto depth = publish::make_family("seismo_queue_depth", "Items waiting in an engine queue.",
                                          prometheus::MetricType::Gauge);
        publish::add_sample(depth, {{"queue", "ticks"}}, static_cast<double>(q_.size_approx()));
        out.push_back(std::move(depth));
        return out;
    }

  private:
    const event_queue& q_;
};

} // namespace

struct runtime::impl final : stage_sink {
    impl(const config& c, run_options o)
        : cfg(c), opts(std::move(o)), registry(make_registry(c)), events(c.engine.queue_capacity),
          hub(c.server.replay_ring),
          publisher(c, *registry, feed_host::names_for(c, host_options(opts)),
                    publisher_options_of(opts), hub, dead),
          feeds(c, host_options(opts), io, *registry, events, dead),
          stage(c, *registry, feeds.size(), *this) {
        samples.resize(opts.latency_samples);
    }

    // Declaration order is destruction order reversed, and it matters: the publisher outlives
    // the io_context (a wake-up still queued there lives in the publisher's memory), and the
    // io_context outlives the feed host and the server (their sessions and timers use its
    // services).
    const config& cfg;
    run_options opts;
    std::string epoch = make_epoch();
    std::unique_ptr<core::instrument_registry> registry;
    event_queue events;
    dead_queue dead;
    publish::hub hub;
    trigger_publisher publisher;
    boost::asio::io_context io;
    feed_host feeds;
    signal_stage stage;
    std::unique_ptr<publish::server> srv;
    publish::metrics_registry metrics;
    std::unique_ptr<journal::writer> journal;

    std::vector<std::int64_t> samples; // signal thread
    std::size_t n_samples = 0;
    core::counter health_events; // signal thread

    std::thread io_thread, signal_thread;
    std::atomic<bool> stop_requested{false};
    std::atomic<bool> producers_done{false};
    std::mutex stop_mu;
    std::condition_variable stop_cv;

    // ------------------------------------------------------------ the signal stage's output
    void on_trigger(const signals::trigger& t) override {
        // Measured once the trigger is in the queue, before the wake-up is issued (a futex when
        // the writer sleeps): the wake-up is the consumer's cost, not the tick path's.
        publisher.push(t);
        if (t.recv_ts != 0 && t.signal != signals::k_feed_health) {
            const core::nanos lat = core::realtime_now() - t.recv_ts;
            stage.observe_latency(lat);
            if (n_samples < samples.size()) samples[n_samples++] = lat;
        }
        publisher.wake();
    }
    void on_late(std::uint16_t feed, std::uint32_t frame_no, const core::tick& t) override {
        dead_record r;
        r.feed = feed;
        r.frame_no = frame_no;
        r.reason = core::reject_reason::late;
        r.recv_ts = t.recv_ts;
        r.detail = "older than the instrument's last event time (same stream) by more than the "
                   "allowed lateness";
        r.tick = t;
        r.has_tick = true;
        dead.push(std::move(r));
    }

    // ------------------------------------------------------------ signal thread
    void signal_loop() {
        if (cfg.engine.pin_cpu >= 0) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(cfg.engine.pin_cpu, &set);
            pthread_setaffinity_np(pthread_self(), sizeof set, &set);
        }
        std::array<feed_event, k_bulk> buf;
        moodycamel::ConsumerToken ctok(events);
        core::nanos last_snapshot = 0;
        for (;;) {
            std::size_t n = cfg.engine.busy_poll
                                ? events.try_dequeue_bulk(ctok, buf.begin(), k_bulk)
                                : events.wait_dequeue_bulk_timed(ctok, buf.begin(), k_bulk, 20'000);
            if (n == 0 && producers_done.load(std::memory_order_acquire)) {
                n = events.try_dequeue_bulk(ctok, buf.begin(), k_bulk);
                if (n == 0) break;
            }
            for (std::size_t k = 0; k < n; ++k) {
                const feed_event& e = buf[k];
                if (e.health) {
                    health_events.add();
                    stage.health(e.feed, e.health_event());
                } else {
                    stage.tick(e.feed, e.frame, e.index, e.t);
                }
            }
            // The consumption order goes to the journal when the queue is idle or enough has
            // gathered, not after every tick of a burst (that would delay the burst's next tick).
            if (n == 0) stage.flush_order();
            // Once per batch (not per tick): the clock, the periodic state snapshot, and the
            // bound on how long consumption order may wait (so a crash loses no more than this
            // plus the journal's flush interval).
            if (n != k_bulk) {
                const core::nanos now = core::monotonic_now();
                stage.maybe_flush_order(now);
                if (now - last_snapshot >= k_snapshot_every) {
                    last_snapshot = now;
                    stage.publish_snapshot();
                }
            } else {
                stage.maybe_flush_order(0); // by size only
            }
        }
        stage.flush_order();
        stage.publish_snapshot();
    }

    // ------------------------------------------------------------ server hooks
    std::vector<std::string> warnings() const {
        std::vector<std::string> w = feeds.warnings();
        const auto s = stage.snapshot();
        if (auto q = quiet_instruments_warning(s->quiet, cfg.instruments.size()))
            w.push_back(std::move(*q));
        return w;
    }

    std::string state_json(const publish::topic_limit& limit) const {
        const auto s = stage.snapshot();
        const core::nanos now = core::realtime_now();
        std::string o = R"({"time":)";
        core::append_json_time(o, now);
        o += R"(,"epoch":)";
        core::append_json_string(o, epoch);
        o += R"(,"watermark":)";
        if (s->watermark == 0)
            o += "null";
        else
            core::append_json_time(o, s->watermark);
        o += R"(,"last_seq":)";
        core::append_uint(o, hub.last_seq());
        o += R"(,"feeds":)";
        o += feeds.state_json(now, [&](std::string_view feed) {
            return publish::topic_visible(limit, "feed_health", feed);
        });
        o += R"(,"signals":)";
        o += signals_json(
            *s,
            [&](std::string_view sig, std::string_view inst) {
                return publish::topic_visible(limit, sig, inst);
            },
            [&](std::string_view sig) { return publish::signal_visible(limit, sig); });
        if (limit.empty()) { // configuration, not topics: for unlimited tokens only
            o += R"(,"warnings":[)";
            bool first_w = true;
            for (const auto& w : warnings()) {
                if (!first_w) o += ',';
                first_w = false;
                core::append_json_string(o, w);
            }
            o += R"(],"instruments_without_ticks":[)";
            for (std::size_t i = 0; i < s->quiet.size(); ++i) {
                if (i != 0) o += ',';
                core::append_json_string(o, s->quiet[i]);
            }
            o += ']';
        }
        o += R"(,"active":[)";
        bool first = true;
        for (const auto& m : hub.active()) {
            if (!publish::topic_visible(limit, *m)) continue;
            if (!first) o += ',';
            first = false;
            o += m->json();
        }
        o += "]}\n";
        return o;
    }

    void register_probes() {
        prometheus::BuildGauge()
            .Name("seismo_build_info")
            .Help("seismo's version and source revision.")
            .Register(metrics.registry())
            .Add({{"version", std::string(core::version())},
                  {"revision", std::string(core::revision())}})
            .Set(1);
        metrics.add(feeds.make_probe(&stage.stats()));
        metrics.add(std::make_shared<queue_probe>(events));
        metrics.add(stage.make_probe());
        metrics.add(publisher.make_probe());
        metrics.add(publish::make_server_probe(srv.get(), hub));
        metrics.add(journal::make_probe(journal.get()));
        metrics.add(publish::make_process_probe());
    }
};

runtime::runtime(const config& cfg, run_options opts)
    : p_(std::make_unique<impl>(cfg, std::move(opts))) {}

runtime::~runtime() {
    request_stop();
    wait();
}

void runtime::start() {
    impl& p = *p_;
    if (!p.opts.record_dir.empty()) {
        journal::options jo;
        jo.dir = p.opts.record_dir;
        jo.segment_bytes = p.cfg.engine.journal_segment_bytes;
        jo.flush_interval = p.cfg.engine.journal_flush_interval;
        jo.compress = p.cfg.engine.journal_compress;
        journal::meta m;
        for (std::size_t i = 0; i < p.feeds.size(); ++i)
            m.feeds.push_back({p.feeds.names()[i], p.feeds.venues()[i]});
        m.config_text = p.cfg.text;
        m.config_file = p.cfg.file;
        m.digest = p.cfg.digest;
        p.journal = std::make_unique<journal::writer>(jo, std::move(m), p.feeds.size());
        p.feeds.record_to(p.journal.get());
        p.stage.record_to(p.journal.get());
        p.journal->start();
    }
    if (p.opts.serve) {
        publish::server_hooks hooks;
        impl* ip = &p;
        hooks.metrics = [ip] { return ip->metrics.exposition(); };
        hooks.state = [ip](const publish::topic_limit& limit) { return ip->state_json(limit); };
        hooks.ready = [ip](std::string& d) { return ip->feeds.ready(d); };
        p.srv = std::make_unique<publish::server>(p.io, server_options_of(p.cfg, p.opts, p.epoch),
                                                  p.hub, std::move(hooks));
        p.publisher.serve_on(p.io);
        p.srv->start();
    }
    p.register_probes();
    p.feeds.start();
    p.io_thread = std::thread([ip = &p] {
        auto guard = boost::asio::make_work_guard(ip->io);
        ip->io.run();
    });
    p.signal_thread = std::thread([ip = &p] { ip->signal_loop(); });
    p.publisher.start();
}

void runtime::request_stop() noexcept {
    p_->stop_requested.store(true, std::memory_order_release);
    p_->stop_cv.notify_all();
}

void runtime::wait() {
    impl& p = *p_;
    {
        std::unique_lock lock(p.stop_mu);
        p.stop_cv.wait(lock, [&p] { return p.stop_requested.load(std::memory_order_acquire); });
    }
    if (!p.io_thread.joinable()) return; // never started, or already waited
    p.feeds.stop();
    // Producers first: after the I/O thread ends nothing enqueues; then the signal thread drains
    // the tick queue, then the writer thread drains the triggers and flushes.
    p.io.stop();
    p.io_thread.join();
    p.publisher.io_ended(); // the writer thread takes over the trigger queue
    p.producers_done.store(true, std::memory_order_release);
    p.signal_thread.join();
    p.publisher.signal_ended();
    if (p.journal) p.journal->stop();
    p.publisher.join();
    if (p.srv) p.srv->stop();
}

void runtime::reopen_outputs() noexcept {
    p_->publisher.reopen_outputs();
}

run_figures runtime::figures() const {
    const impl& p = *p_;
    run_figures f;
    for (std::size_t i = 0; i < p.feeds.size(); ++i) {
        const auto& st = p.feeds.stats(i);
        f.frames += st.frames[static_cast<std::size_t>(feeds::frame_outcome::data)].value();
        f.rejected += st.total_rejected();
    }
    const stage_stats& ss = p.stage.stats();
    f.applied = ss.applied.value() + ss.references.value();
    f.late = ss.late.value();
    f.rejected += f.late;
    f.triggers = p.publisher.published();
    f.health_events = p.health_events.value();
    f.deliveries = p.hub.deliveries();
    f.demo_loops = p.feeds.demo_loops();
    return f;
}

std::uint16_t runtime::port() const {
    return p_->srv ? p_->srv->port() : 0;
}

void runtime::inject(std::string_view frame, std::int64_t recv_ts) {
    p_->feeds.inject(frame, recv_ts);
}

std::vector<std::int64_t> runtime::latency_samples() const {
    return {p_->samples.begin(), p_->samples.begin() + static_cast<std::ptrdiff_t>(p_->n_samples)};
}

std::string runtime::metrics_text() const {
    return p_->metrics.exposition();
}
std::vector<std::string> runtime::warnings() const {
    return p_->warnings();
}

std::string runtime::state_json() const {
    return p_->state_json({});
}

void runtime::on_published(std::function<void(const signals::trigger&, std::string_view)> f) {
    p_->publisher.on_published(std::move(f));
}

} // namespace seismo::engine
