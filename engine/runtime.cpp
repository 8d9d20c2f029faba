#include "engine/runtime.hpp"

#include "engine/core/json_writer.hpp"
#include "engine/core/spin.hpp"
#include "engine/core/thread_name.hpp"
#include "engine/core/time.hpp"
#include "engine/core/version.hpp"
#include "engine/events.hpp"
#include "engine/feed_host.hpp"
#include "engine/journal/probe.hpp"
#include "engine/journal/writer.hpp"
#include "engine/nats_link.hpp"
#include "engine/one_post.hpp"
#include "engine/publish/hub.hpp"
#include "engine/publish/metrics.hpp"
#include "engine/publish/nats.hpp"
#include "engine/publish/server.hpp"
#include "engine/reload.hpp"
#include "engine/signal_stage.hpp"
#include "engine/trigger_publisher.hpp"
#include "engine/warnings.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <prometheus/family.h>
#include <prometheus/gauge.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <iostream>
#include <limits>
#include <mutex>
#include <optional>
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

feed_host_options host_options(const run_options& o, const nats_link* nats = nullptr) {
    feed_host_options h;
    h.demo = o.demo;
    h.demo_speed = o.demo_speed;
    h.demo_seed = o.demo_seed;
    h.inproc = o.inproc_feed;
    if (nats != nullptr) {
        h.nats = &nats->connection();
        h.nats_start = nats->rebuild_from(core::realtime_now());
    }
    return h;
}

/// The "config" digest a trigger's JSON names (its generation's).
std::string_view config_of(std::string_view json) {
    constexpr std::string_view key = R"("config":")";
    const auto at = json.rfind(key);
    if (at == std::string_view::npos) return {};
    const auto from = at + key.size();
    const auto end = json.find('"', from);
    return end == std::string_view::npos ? std::string_view{} : json.substr(from, end - from);
}

/// Marks a feed_event that only wakes the signal thread (a reload is waiting).
constexpr std::uint16_t k_control_feed = 0xffff;

publisher_options publisher_options_of(const run_options& o) {
    return {o.out, o.print, o.dead_letter, o.deterministic};
}

/// A random id for this run: snapshots carry it, so a client resuming with `since` can tell a
/// restarted engine (whose seqs start again) from a gap.
std::string make_epoch() {
    std::random_device rd;
    return digest_hex((static_cast<std::uint64_t>(rd()) << 32) ^ rd());
}

std::vector<std::string> topic_names(const config& cfg) {
    std::vector<std::string> n{"feed_health"};
    for (const auto& sp : cfg.signals)
        n.push_back(sp.name);
    return n;
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
    s.signals = topic_names(cfg);
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

/// seismo_config_reloads_total{result}, seismo_config_last_reload_success_timestamp_seconds,
/// seismo_config_last_reload_pause_seconds, seismo_config_info{digest} (DESIGN §8, §9).
class reload_probe final : public prometheus::Collectable {
  public:
    explicit reload_probe(const runtime::impl& p) : p_(p) {}
    [[nodiscard]] std::vector<prometheus::MetricFamily> Collect() const override;

  private:
    const runtime::impl& p_;
};

} // namespace

struct runtime::impl final : stage_sink {
    impl(const config& c, run_options o)
        : cfg(c), opts(std::move(o)),
          nats(cfg.nats ? std::make_unique<nats_link>(cfg, opts.feed_mode, opts.nats_ack)
                        : nullptr),
          registry(make_registry(cfg)), slots(feed_host::slots_for(cfg, host_options(opts))),
          gens(first_generation(cfg, slots)), current(std::make_shared<config>(cfg)),
          events(cfg.engine.queue_capacity), hub(cfg.server.replay_ring, cfg.server.coalesce),
          publisher(gens, *registry, publisher_options_of(opts), hub, dead),
          feeds(cfg, host_options(opts, nats.get()), io, *registry, events, dead),
          stage(cfg, *registry, feeds.size(), *this) {
        samples.resize(opts.latency_samples);
        last_reload_ok.store(core::realtime_now(), std::memory_order_relaxed);
    }

    // Declaration order is destruction order reversed, and it matters: the publisher outlives
    // the io_context (a wake-up still queued there lives in the publisher's memory), and the
    // io_context outlives the feed host and the server (their sessions and timers use its
    // services).
    /// As started ([engine] and [server], which a reload cannot change): the runtime's own copy,
    /// so the caller's config may go once the runtime is built.
    const config cfg;
    run_options opts;
    std::unique_ptr<nats_link> nats; // with [nats]: outlives every thread that publishes
    trigger_resume resume;           // the signal thread's (a restart against a stream)
    core::counter forwarded;         // the signal thread's (`seismo feed`)
    std::string epoch = make_epoch();
    std::unique_ptr<core::instrument_registry> registry;
    std::vector<feed_slot> slots; // feed ids (the control thread's after start)
    generations gens;
    std::shared_ptr<const config> current; // the running config (the control thread's)
    event_queue events;
    dead_queue dead;
    publish::hub hub;
    trigger_publisher publisher;
    boost::asio::io_context io;
    feed_host feeds;
    signal_stage stage;
    // [server] io_threads: the connections' io_contexts and threads (outlive the server; go
    // before the engine's io_context, where the acceptor lives).
    std::vector<std::unique_ptr<boost::asio::io_context>> server_ios;
    std::vector<std::thread> server_threads;
    std::unique_ptr<publish::server> srv;
    publish::metrics_registry metrics;
    std::unique_ptr<journal::writer> journal;

    std::vector<std::int64_t> samples; // signal thread
    std::size_t n_samples = 0;
    core::counter health_events; // signal thread

    std::thread io_thread, signal_thread;
    bool started = false;
    bool run_to_completion = false;                  // network I/O: the signal thread runs it
    one_post io_nudge;                               // wake_io's
    std::unique_ptr<moodycamel::ConsumerToken> ctok; // the signal thread's

    /// A tick queued off the I/O thread (NATS, inject, a reload's wake-up): with the signal
    /// thread running the I/O and maybe blocked in it, it is woken to take it. Any thread.
    void wake_io() {
        if (run_to_completion && !cfg.engine.busy_poll) io_nudge.post(io, [] {});
    }
    std::atomic<bool> io_finished{false}; // run to completion: the signal thread saw io stop

    std::atomic<bool> stop_requested{false};
    std::atomic<bool> producers_done{false};
    std::mutex stop_mu;
    std::condition_variable stop_cv;

    // Hot reload: requests queue for the control thread, which prepares each and hands it to
    // the signal thread through `pending` (looked at once per batch of events).
    struct reload_request {
        std::optional<std::string> text;
        std::function<void(const reload_outcome&)> done;
    };
    std::mutex reload_mu;
    std::condition_variable reload_cv;
    std::deque<reload_request> reload_queue; // reload_mu
    bool control_stop = false;               // reload_mu
    bool swapped = false;                    // reload_mu: the signal thread took `pending`
    std::uint64_t swapped_snapshot = 0;      // reload_mu: the snapshot that swap published
    bool signal_exited = false;              // reload_mu
    std::atomic<prepared_reload*> pending{nullptr};
    std::thread control_thread;
    std::atomic<std::uint64_t> reloads_ok{0}, reloads_failed{0};
    std::atomic<core::nanos> last_reload_ok{0};   // wall clock: start, then each success
    std::atomic<core::nanos> last_pause{0};       // the signal thread's, in the last swap
    std::atomic<std::uint32_t> generation_now{0}; // the running config's, once swapped in
    std::atomic<std::size_t> configured_instruments_now{cfg.instruments.size()};

    /// The running config's generation (not gens.latest(): a reload adds its generation before
    /// the swap). Any thread.
    [[nodiscard]] const generation& running() const noexcept {
        return gens.at(generation_now.load(std::memory_order_acquire));
    }

    // ------------------------------------------------------------ the signal stage's output
    void on_trigger(const signals::trigger& t) override {
        if (resume.engaged()) {
            // Restarted against a stream that holds this config's triggers (DESIGN §10).
            signals::trigger c = t;
            if (resume.admit(c, gens.at(c.gen), *registry)) push_trigger(c);
            return;
        }
        push_trigger(t);
    }
    void push_trigger(const signals::trigger& t) {
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

    /// One batch of events through the step (or, for `seismo feed`, to the cluster); then,
    /// running to completion, its triggers out to the subscribers, and a waiting reload swapped
    /// in. The signal thread's.
    void process(const feed_event* buf, std::size_t n) {
        for (std::size_t k = 0; k < n; ++k) {
            const feed_event& e = buf[k];
            if (opts.feed_mode) {
                // `seismo feed`: ticks to the cluster; feed health stays local (its
                // metrics, /readyz, the log).
                if (!e.health) {
                    nats->forward_tick(e, feeds.name(e.feed), *registry);
                    forwarded.add();
                }
                continue;
            }
            if (e.health) {
                if (e.feed == k_control_feed) continue; // a wake-up for the reload below
                health_events.add();
                stage.health(e.feed, e.health_event());
            } else {
                stage.tick(e.feed, e.frame, e.index, e.t);
            }
        }
        if (run_to_completion) publisher.publish_here(); // the batch's triggers, fanned out
        // A reload waiting: swap it in here, between two events (DESIGN §9).
        if (prepared_reload* r = pending.load(std::memory_order_acquire); r != nullptr) {
            const core::nanos t0 = core::monotonic_now();
            const std::uint64_t snap = stage.reload(*r, core::realtime_now());
            last_pause.store(core::monotonic_now() - t0, std::memory_order_relaxed);
            pending.store(nullptr, std::memory_order_relaxed);
            {
                std::lock_guard lock(reload_mu);
                swapped = true;
                swapped_snapshot = snap;
            }
            reload_cv.notify_all();
        }
    }

    /// Running to completion: a feed's frame handler (on this same thread) has queued its
    /// ticks; they are stepped now, before the handler reads on (the next read's syscall and
    /// whatever else is ready would otherwise come first).
    void drain_here() {
        std::array<feed_event, k_bulk> buf;
        for (;;) {
            const std::size_t n = events.try_dequeue_bulk(*ctok, buf.begin(), k_bulk);
            if (n == 0) return;
            process(buf.data(), n);
            if (n != k_bulk) return;
        }
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
        ctok = std::make_unique<moodycamel::ConsumerToken>(events);
        core::nanos last_snapshot = 0;
        core::nanos last_work = core::monotonic_now();
        const core::nanos spin = cfg.engine.idle_spin;
        // The window actually spun, up to idle_spin: it shrinks while work comes further apart
        // than idle_spin (spinning would not catch it) and grows back when a block was short.
        core::adaptive_spin window(spin);
        // Run to completion (the engine has network I/O): this thread is the I/O thread too.
        std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>
            io_work;
        if (run_to_completion) io_work.emplace(io.get_executor());
        for (;;) {
            bool worked = false;
            if (io_work) {
                // The feeds' reads (their ticks into the queue), the server, the timers, the
                // triggers' fan-out: whatever is ready. Blocks only when nothing is queued and
                // the spin after the last work is over (never with busy_poll); a tick from
                // another thread (NATS, inject) posts a wake-up (wake_io).
                if (cfg.engine.busy_poll || events.size_approx() != 0 ||
                    core::monotonic_now() - last_work < window.window()) {
                    worked = io.poll() != 0;
                } else {
                    const core::nanos blocked_at = core::monotonic_now();
                    worked = io.run_one_for(std::chrono::milliseconds(20)) != 0;
                    if (worked) window.blocked_for(core::monotonic_now() - blocked_at);
                }
                if (io.stopped()) {
                    io_work.reset();
                    publisher.io_ended();
                    io_finished.store(true, std::memory_order_release);
                    io_finished.notify_all();
                }
            }
            std::size_t n = events.try_dequeue_bulk(*ctok, buf.begin(), k_bulk);
            if (n == 0 && !io_work && !cfg.engine.busy_poll) {
                // A thread of its own: spin a while after the last work (a tick that comes now
                // is taken without a wake-up), then park.
                const core::nanos now = core::monotonic_now();
                if (now - last_work < window.window()) {
                    core::cpu_relax();
                } else {
                    n = events.wait_dequeue_bulk_timed(*ctok, buf.begin(), k_bulk, 20'000);
                    if (n != 0) window.blocked_for(core::monotonic_now() - now);
                }
            }
            if ((n != 0 || worked) && spin != 0) last_work = core::monotonic_now();
            if (n == 0 && producers_done.load(std::memory_order_acquire)) {
                n = events.try_dequeue_bulk(*ctok, buf.begin(), k_bulk);
                if (n == 0) break;
            }
            process(buf.data(), n);
            // The consumption order goes to the journal when the queue is idle or enough has
            // gathered, not after every tick of a burst (that would delay the burst's next tick).
            if (n == 0) stage.flush_order();
            // Once per batch (not per tick): the clock, the periodic state snapshot, and the
            // bound on how long consumption order may wait (so a crash loses no more than this
            // plus the journal's flush interval).
            if (n != k_bulk) {
                const core::nanos now = core::monotonic_now();
                stage.maybe_flush_order(now);
                if (now - last_snapshot >= stage.snapshot_every(k_snapshot_every)) {
                    last_snapshot = now;
                    stage.publish_snapshot();
                }
            } else {
                stage.maybe_flush_order(0); // by size only
            }
        }
        stage.flush_order();
        stage.stop_snapshot_thread(); // the last snapshot is formatted here, before the exit
        stage.publish_snapshot();
        {
            std::lock_guard lock(reload_mu);
            signal_exited = true;
        }
        reload_cv.notify_all();
    }

    // ------------------------------------------------------------ control thread (reloads)
    void control_loop() {
        for (;;) {
            reload_request req;
            {
                std::unique_lock lock(reload_mu);
                reload_cv.wait(lock, [&] { return control_stop || !reload_queue.empty(); });
                if (reload_queue.empty()) return;
                req = std::move(reload_queue.front());
                reload_queue.pop_front();
                if (control_stop) {
                    lock.unlock();
                    if (req.done) req.done(refused(503, "stopping", "the engine is stopping"));
                    continue;
                }
            }
            const reload_outcome out = reload_once(req.text);
            std::cerr << "seismo: reload: " << out.message << "\n";
            if (req.done) req.done(out);
        }
    }

    void enqueue_reload(std::optional<std::string> text,
                        std::function<void(const reload_outcome&)> done) {
        {
            std::lock_guard lock(reload_mu);
            if (!control_stop && control_thread.joinable()) {
                reload_queue.push_back({std::move(text), std::move(done)});
                reload_cv.notify_all();
                return;
            }
        }
        if (done) done(refused(503, "stopping", "the engine is not running"));
    }

    reload_outcome refused(int status, std::string_view code, const std::string& why) {
        reloads_failed.fetch_add(1, std::memory_order_relaxed);
        reload_outcome o;
        o.ok = false;
        o.status = status;
        o.json = R"({"type":"error","code":)";
        core::append_json_string(o.json, code);
        o.json += R"(,"message":)";
        core::append_json_string(o.json, why);
        o.json += "}\n";
        o.message = "refused, nothing changed: " + why;
        return o;
    }

    reload_outcome reload_once(const std::optional<std::string>& text) {
        std::shared_ptr<config> next;
        try {
            if (text && !text->empty())
                next = std::make_shared<config>(load_config_string(*text, "POST /v1/reload"));
            else if (cfg.file == "<playbook>")
                next = std::make_shared<config>(load_playbook());
            else // the file the run started with, even after a reload from a request's body
                next = std::make_shared<config>(load_config_file(cfg.file));
        } catch (const std::exception& e) {
            return refused(400, "config_error", e.what());
        }
        if (next->text == current->text) {
            // The same bytes (a logrotate's SIGHUP, a repeated POST): nothing to swap.
            reloads_ok.fetch_add(1, std::memory_order_relaxed);
            last_reload_ok.store(core::realtime_now(), std::memory_order_relaxed);
            reload_outcome o;
            o.ok = true;
            o.json = R"({"digest":")" + digest_hex(next->digest) + R"(","unchanged":true,)" +
                     R"("generation":)" +
                     std::to_string(generation_now.load(std::memory_order_relaxed)) + "}\n";
            o.message = "config " + digest_hex(next->digest) + " unchanged: nothing to do";
            return o;
        }
        if (journal && next->text.size() > journal->max_reload_bytes()) {
            return refused(409, "reload_refused",
                           "the config is " + std::to_string(next->text.size()) +
                               " bytes; a journaled run reloads at most " +
                               std::to_string(journal->max_reload_bytes()));
        }
        prepared_reload r;
        try {
            r = prepare_reload(*current, next, slots, *registry, gens);
        } catch (const std::exception& e) {
            return refused(409, "reload_refused", e.what());
        }
        if (!gens.add(r.gen) || r.gen->number + 1 != gens.size())
            return refused(409, "reload_refused", "too many reloads in this run");
        // The swap, on the signal thread between two events.
        {
            std::lock_guard lock(reload_mu);
            swapped = false;
        }
        pending.store(&r, std::memory_order_release);
        feed_event wake;
        wake.health = true;
        wake.feed = k_control_feed;
        events.enqueue(wake);
        wake_io();
        std::uint64_t snapshot = 0;
        {
            std::unique_lock lock(reload_mu);
            reload_cv.wait(lock, [&] { return swapped || signal_exited; });
            if (!swapped) {
                pending.store(nullptr, std::memory_order_relaxed);
                lock.unlock();
                return refused(503, "stopping", "the engine stopped before the swap");
            }
            snapshot = swapped_snapshot;
        }
        // The swap's snapshot is formatted off the signal thread; the answer waits for it, so
        // that /v1/state read after it shows the new signals.
        stage.wait_snapshot(snapshot);
        // Then the feeds and the server's topic names, on the I/O thread.
        std::promise<std::string> applied;
        auto done = applied.get_future();
        boost::asio::post(io, [&] {
            std::string err;
            try {
                feeds.apply(r.feeds, *r.cfg);
                if (srv) srv->set_signals(topic_names(*r.cfg));
            } catch (const std::exception& e) {
                err = e.what();
            }
            applied.set_value(std::move(err));
        });
        const std::string feed_error = done.get();
        current = r.cfg;
        slots = r.feeds.slots;
        generation_now.store(r.gen->number, std::memory_order_release);
        configured_instruments_now.store(r.cfg->instruments.size(), std::memory_order_relaxed);
        reloads_ok.fetch_add(1, std::memory_order_relaxed);
        last_reload_ok.store(core::realtime_now(), std::memory_order_relaxed);
        const core::nanos pause = last_pause.load(std::memory_order_relaxed);
        reload_outcome o;
        o.ok = true;
        o.json = r.diff.json();
        o.json.pop_back(); // '}'
        o.json += R"(,"generation":)";
        core::append_uint(o.json, r.gen->number);
        o.json += R"(,"pause_us":)";
        core::append_double(o.json, static_cast<double>(pause) / 1e3);
        if (!feed_error.empty()) {
            o.json += R"(,"feed_error":)";
            core::append_json_string(o.json, feed_error);
        }
        o.json += "}\n";
        char us[32];
        std::snprintf(us, sizeof us, "%.1f", static_cast<double>(pause) / 1e3);
        o.message = r.diff.summary() + " (signal thread paused " + us + " us)" +
                    (feed_error.empty() ? "" : "; feeds: " + feed_error);
        return o;
        // `r` goes here, with the old graph: freed on this thread, not the signal thread.
    }

    // ------------------------------------------------------------ server hooks
    std::vector<std::string> warnings() const {
        std::vector<std::string> w = feeds.warnings();
        const auto s = stage.snapshot();
        if (auto q = quiet_instruments_warning(
                s->quiet, configured_instruments_now.load(std::memory_order_relaxed)))
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
        const generation& g = running();
        o += R"(,"config":{"digest":")";
        o += g.digest_hex;
        o += R"(","generation":)";
        core::append_uint(o, g.number);
        o += R"(,"reloads":)";
        core::append_uint(o, reloads_ok.load(std::memory_order_relaxed));
        o += '}';
        if (nats) {
            o += R"(,"nats":)";
            o += nats->state_json();
        }
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
        metrics.add(std::make_shared<reload_probe>(*this));
        metrics.add(feeds.make_probe(&stage.stats()));
        metrics.add(std::make_shared<queue_probe>(events));
        metrics.add(stage.make_probe());
        metrics.add(publisher.make_probe());
        metrics.add(publish::make_server_probe(srv.get(), hub));
        metrics.add(journal::make_probe(journal.get()));
        metrics.add(publish::make_process_probe());
        if (nats) {
            for (auto& probe : nats->probes())
                metrics.add(std::move(probe));
        }
    }
};

namespace {
std::vector<prometheus::MetricFamily> reload_probe::Collect() const {
    using prometheus::MetricType;
    std::vector<prometheus::MetricFamily> out;
    auto reloads = publish::make_family("seismo_config_reloads_total",
                                        "Hot reloads by result (SIGHUP, POST /v1/reload).",
                                        MetricType::Counter);
    publish::add_sample(reloads, {{"result", "success"}},
                        static_cast<double>(p_.reloads_ok.load(std::memory_order_relaxed)));
    publish::add_sample(reloads, {{"result", "error"}},
                        static_cast<double>(p_.reloads_failed.load(std::memory_order_relaxed)));
    out.push_back(std::move(reloads));
    publish::add_single(
        out, "seismo_config_last_reload_success_timestamp_seconds",
        "When the running config took effect (start, or the last successful reload).",
        MetricType::Gauge,
        static_cast<double>(p_.last_reload_ok.load(std::memory_order_relaxed)) / 1e9);
    publish::add_single(out, "seismo_config_last_reload_pause_seconds",
                        "How long the signal thread stopped for the last reload's swap.",
                        MetricType::Gauge,
                        static_cast<double>(p_.last_pause.load(std::memory_order_relaxed)) / 1e9);
    auto info = publish::make_family("seismo_config_info",
                                     "The running config: its digest (the triggers' \"config\").",
                                     MetricType::Gauge);
    publish::add_sample(info, {{"digest", p_.running().digest_hex}}, 1);
    out.push_back(std::move(info));
    return out;
}
} // namespace

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
            m.feeds.push_back({p.feeds.name(i), p.feeds.venue(i)});
        m.config_text = p.cfg.text;
        m.config_file = p.cfg.file;
        m.digest = p.cfg.digest;
        p.journal = std::make_unique<journal::writer>(jo, std::move(m), p.feeds.size());
        p.feeds.record_to(p.journal.get());
        p.stage.record_to(p.journal.get());
        p.journal->start();
    }
    // One thread runs the I/O and the signal step whenever there is network I/O; a run with
    // none (embedding, inject()) keeps a signal thread of its own.
    p.run_to_completion = p.opts.serve || p.feeds.uses_io();
    if (p.run_to_completion) {
        p.feeds.wake_with([ip = &p] { ip->wake_io(); }, [ip = &p] { ip->drain_here(); });
    }
    if (p.opts.serve) {
        publish::server_hooks hooks;
        impl* ip = &p;
        hooks.metrics = [ip] { return ip->metrics.exposition(); };
        hooks.state = [ip](const publish::topic_limit& limit) { return ip->state_json(limit); };
        hooks.ready = [ip](std::string& d) { return ip->feeds.ready(d); };
        hooks.reload = [ip](std::string body, std::function<void(int, std::string)> done) {
            std::optional<std::string> text;
            if (!body.empty()) text = std::move(body);
            ip->enqueue_reload(std::move(text), [done = std::move(done)](const reload_outcome& o) {
                done(o.status, o.json);
            });
        };
        publish::server_options so = server_options_of(p.cfg, p.opts, p.epoch);
        for (std::size_t i = 0; i < p.cfg.server.io_threads; ++i) {
            p.server_ios.push_back(std::make_unique<boost::asio::io_context>(1));
            so.workers.push_back(p.server_ios.back().get());
        }
        p.srv = std::make_unique<publish::server>(p.io, std::move(so), p.hub, std::move(hooks));
        for (auto& w : p.server_ios) {
            p.server_threads.emplace_back([w = w.get()] {
                core::name_this_thread("seismo-conns");
                auto guard = boost::asio::make_work_guard(*w);
                w->run();
            });
        }
        p.publisher.serve_on(p.io);
        p.srv->start();
    }
    if (p.nats) {
        if (p.nats->publishes_triggers()) {
            // A restart: what this config already stored is not published again, and what
            // follows is numbered after it (DESIGN §10).
            const std::string digest = digest_hex(p.cfg.digest);
            resume_point rp = p.nats->read_resume(digest);
            if (rp.found) {
                std::cerr << "seismo: NATS: " << p.cfg.nats->trigger_stream
                          << " holds this config's triggers up to seq " << rp.seq
                          << "; rebuilding state from the tick stream and publishing after it\n";
            }
            if (rp.found && p.journal) {
                // Replaying the journal holds back and numbers triggers as this run does.
                p.journal->resume(rp.seq, resume_header(rp), core::realtime_now());
            }
            p.resume.resume_after(std::move(rp));
            impl* ip = &p;
            p.publisher.forward_to([ip](const publish::message& m) {
                ip->nats->publish_trigger(m, config_of(m.json()));
            });
        }
        p.nats->start();
    }
    p.register_probes();
    p.feeds.start();
    {
        // Before any thread that serves HTTP runs: a POST /v1/reload finds it (enqueue_reload
        // reads control_thread under reload_mu).
        std::lock_guard lock(p.reload_mu);
        p.control_thread = std::thread([ip = &p] {
            core::name_this_thread("seismo-control");
            ip->control_loop();
        });
    }
    if (!p.run_to_completion) {
        // No network I/O at start: the io_context (a feed a reload adds, timers) gets a
        // thread of its own.
        p.io_thread = std::thread([ip = &p] {
            core::name_this_thread("seismo-io");
            auto guard = boost::asio::make_work_guard(ip->io);
            ip->io.run();
        });
    }
    p.started = true;
    p.stage.start_snapshot_thread();
    p.signal_thread = std::thread([ip = &p] {
        core::name_this_thread("seismo-engine");
        ip->signal_loop();
    });
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
    if (!p.started) return; // never started, or already waited
    p.started = false;
    // Reloads first, while the threads they wait on still run; queued ones are refused.
    {
        std::lock_guard lock(p.reload_mu);
        p.control_stop = true;
    }
    p.reload_cv.notify_all();
    p.control_thread.join();
    p.feeds.stop();
    // Producers first: after the I/O thread ends nothing enqueues; then the signal thread drains
    // the tick queue, then the writer thread drains the triggers and flushes.
    p.io.stop();
    if (p.run_to_completion) {
        // The signal thread runs the I/O: it sees the stop, hands the trigger queue to the
        // writer thread and goes on draining ticks.
        p.io_finished.wait(false, std::memory_order_acquire);
    } else {
        p.io_thread.join();
        p.publisher.io_ended(); // the writer thread takes over the trigger queue
    }
    p.producers_done.store(true, std::memory_order_release);
    p.signal_thread.join();
    p.publisher.signal_ended();
    if (p.journal) p.journal->stop();
    p.publisher.join();
    // What was handed to NATS gets a few seconds to be acknowledged (and is counted as
    // pending, never silently gone, if not).
    if (p.nats) p.nats->stop(5 * core::k_ns_per_s);
    if (p.srv) p.srv->stop();
    // The connections' threads end once the closes the server posted them have run.
    for (auto& w : p.server_ios)
        boost::asio::post(*w, [w = w.get()] { w->stop(); });
    for (auto& t : p.server_threads)
        t.join();
    p.server_threads.clear();
}

void runtime::reopen_outputs() noexcept {
    p_->publisher.reopen_outputs();
}

void runtime::reload(std::optional<std::string> text,
                     std::function<void(const reload_outcome&)> done) {
    p_->enqueue_reload(std::move(text), std::move(done));
}

reload_outcome runtime::reload_and_wait(std::optional<std::string> text) {
    std::promise<reload_outcome> p;
    auto f = p.get_future();
    reload(std::move(text), [&p](const reload_outcome& o) { p.set_value(o); });
    return f.get();
}

std::string runtime::config_digest() const {
    return p_->running().digest_hex;
}

std::uint32_t runtime::config_generation() const {
    return p_->generation_now.load(std::memory_order_relaxed);
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
    f.subscriber_writes =
        p.srv ? p.srv->stats().subscriber_writes.load(std::memory_order_relaxed) : 0;
    f.demo_loops = p.feeds.demo_loops();
    f.forwarded = p.forwarded.value();
    f.held_back = p.resume.held_back();
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
