#include "engine/runtime.hpp"

#include "engine/core/json_writer.hpp"
#include "engine/core/time.hpp"
#include "engine/dead_letter.hpp"
#include "engine/output.hpp"
#include "engine/trigger_json.hpp"
#include "feeds/session.hpp"
#include "signals/graph.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <concurrentqueue/blockingconcurrentqueue.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <pthread.h>
#include <sched.h>
#include <thread>

namespace seismo::engine {
namespace {

/// One item from a feed thread to the signal thread: a tick, or a health event (then
/// `t.exch_ts` is the observation time, `t.seq` the value, `t.inst` the instrument of a gap).
struct feed_event {
    core::tick t;
    std::uint16_t feed = 0;
    bool health = false;
    feeds::health_kind kind = feeds::health_kind::up;
};
static_assert(sizeof(feed_event) <= 64);
static_assert(std::is_trivially_copyable_v<feed_event>);

/// A refused frame or tick on its way to the dead-letter file.
struct dead_record {
    std::uint16_t feed = 0;
    feeds::reject_reason reason = feeds::reject_reason::malformed;
    core::nanos recv_ts = 0;
    std::string detail;
    std::string frame;     ///< the raw frame (feed thread refusals)
    core::tick tick{};     ///< the normalized tick (signal thread refusals: late)
    bool has_tick = false;
};

constexpr std::size_t k_bulk = 512;
constexpr core::nanos k_binance_age = (23 * 60 + 50) * 60 * core::k_ns_per_s;

} // namespace

struct runtime::impl final : signals::trigger_sink {
    const config& cfg;
    run_options opts;
    std::unique_ptr<core::instrument_registry> registry;
    signals::graph graph;
    std::vector<std::string> feed_names;

    moodycamel::BlockingConcurrentQueue<feed_event> events;
    moodycamel::BlockingConcurrentQueue<signals::trigger> triggers;
    moodycamel::ConcurrentQueue<dead_record> dead;
    std::unique_ptr<moodycamel::ProducerToken> trigger_token; // the signal thread's

    boost::asio::io_context io;
    std::map<std::string, std::unique_ptr<boost::asio::ssl::context>> tls;

    /// A feed's sink: enqueues with the feed's own producer token, on the feed's strand.
    struct feed_sink final : feeds::session_sink {
        impl* rt = nullptr;
        std::uint16_t id = 0;
        std::unique_ptr<moodycamel::ProducerToken> token;
        std::vector<feed_event> batch;

        void on_ticks(std::uint16_t, const core::tick* t, std::size_t n) override {
            if (batch.size() < n) batch.resize(n);
            for (std::size_t i = 0; i < n; ++i) {
                batch[i].t = t[i];
                batch[i].feed = id;
                batch[i].health = false;
            }
            rt->events.enqueue_bulk(*token, batch.data(), n);
        }
        void on_health(std::uint16_t, const feeds::health_event& e) override {
            feed_event ev;
            ev.health = true;
            ev.kind = e.kind;
            ev.feed = id;
            ev.t.exch_ts = e.at;
            ev.t.recv_ts = e.at;
            ev.t.seq = e.value;
            ev.t.inst = e.inst;
            rt->events.enqueue(*token, ev);
            rt->health_events.fetch_add(1, std::memory_order_relaxed);
        }
        void on_reject(std::uint16_t, feeds::reject_reason why, std::string_view detail,
                       std::string_view frame, core::nanos recv_ts) override {
            rt->rejected.fetch_add(1, std::memory_order_relaxed);
            rt->dead_letter(id, why, detail, frame, recv_ts);
        }
    };
    std::vector<std::unique_ptr<feed_sink>> sinks;
    std::vector<std::shared_ptr<feeds::ws_session>> sessions;

    // signal thread state
    std::vector<std::uint64_t> inst_feeds;   // bit f: feed f delivered this instrument
    std::uint64_t unhealthy = 0;             // bit f: feed f is down or stale
    std::vector<bool> feed_down, feed_stale;

    std::thread io_thread, signal_thread, publisher_thread;
    std::atomic<bool> stop_requested{false};
    std::atomic<bool> producers_done{false};
    std::atomic<bool> signal_done{false};
    std::mutex stop_mu;
    std::condition_variable stop_cv;

    std::atomic<std::uint64_t> applied{0}, late{0}, rejected{0}, published{0}, health_events{0};
    std::atomic<std::uint64_t> dead_dropped{0};
    std::atomic<std::int64_t> dead_pending{0};
    std::function<void(const signals::trigger&, std::string_view)> observer;

    impl(const config& c, run_options o)
        : cfg(c), opts(std::move(o)), registry(make_registry(c)),
          graph(c.signals, *registry, signals::graph_options{c.engine.lateness}),
          events(c.engine.queue_capacity), triggers(4096) {
        trigger_token = std::make_unique<moodycamel::ProducerToken>(triggers);
        for (const auto& f : cfg.feeds) feed_names.push_back(f.name);
        feed_down.assign(cfg.feeds.size(), false);
        feed_stale.assign(cfg.feeds.size(), false);
    }

    static std::unique_ptr<core::instrument_registry> make_registry(const config& c) {
        auto r = std::make_unique<core::instrument_registry>(c.engine.max_instruments);
        populate_registry(c, *r);
        return r;
    }

    void dead_letter(std::uint16_t feed, feeds::reject_reason why, std::string_view detail,
                     std::string_view frame, core::nanos recv_ts, const core::tick* t = nullptr) {
        // Bounded: a flood of garbage must not grow memory without limit. Counted either way.
        if (dead_pending.load(std::memory_order_relaxed) > 100'000) {
            dead_dropped.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        dead_record r;
        r.feed = feed;
        r.reason = why;
        r.recv_ts = recv_ts;
        r.detail.assign(detail);
        r.frame.assign(frame);
        if (t != nullptr) {
            r.tick = *t;
            r.has_tick = true;
        }
        dead_pending.fetch_add(1, std::memory_order_relaxed);
        dead.enqueue(std::move(r));
    }

    // ------------------------------------------------------------ feeds (I/O thread)
    feeds::session_options session_options_for(const feed_config& f) const {
        feeds::session_options o;
        o.name = f.name;
        if (!feeds::parse_venue(f.venue, o.kind)) throw std::invalid_argument("unknown venue " + f.venue);
        o.url = f.url;
        o.symbols = f.symbols;
        o.channels = f.channels;
        o.stale_after = f.stale_after;
        o.max_connection_age = f.max_connection_age.value_or(o.kind == feeds::venue::binance ? k_binance_age : 0);
        o.ca_file = f.ca_file;
        o.max_frame = f.max_frame_bytes.value_or(o.kind == feeds::venue::generic ? cfg.engine.max_frame_bytes
                                                                                 : cfg.engine.max_venue_frame_bytes);
        return o;
    }

    void start_feeds() {
        for (std::size_t i = 0; i < cfg.feeds.size(); ++i) {
            const auto& f = cfg.feeds[i];
            auto& ctx = tls[f.ca_file];
            if (!ctx) ctx = feeds::make_client_tls(f.ca_file);
            auto sink = std::make_unique<feed_sink>();
            sink->rt = this;
            sink->id = static_cast<std::uint16_t>(i);
            sink->token = std::make_unique<moodycamel::ProducerToken>(events);
            auto s = feeds::ws_session::create(io, *ctx, session_options_for(f), *registry, *sink,
                                               static_cast<std::uint16_t>(i));
            sinks.push_back(std::move(sink));
            sessions.push_back(s);
            s->start();
        }
    }

    // ------------------------------------------------------------ signal thread
    void on_trigger(const signals::trigger& t) override { triggers.enqueue(*trigger_token, t); }

    void health_trigger(const feed_event& e, signals::feed_condition c, signals::trigger_state st,
                        signals::severity sev) {
        signals::trigger t;
        t.seq = graph.next_seq();
        t.signal = signals::k_feed_health;
        t.feed = e.feed;
        t.condition = c;
        t.state = st;
        t.sev = sev;
        t.value = static_cast<double>(e.t.seq);
        t.event_ts = e.t.exch_ts;
        t.recv_ts = e.t.recv_ts;
        t.inst = e.t.inst;
        on_trigger(t);
    }

    /// Re-judges the staleness of every instrument feed `f` delivers.
    void refresh_instruments(std::uint16_t f, core::nanos now) {
        const std::uint64_t bit = std::uint64_t{1} << f;
        if (feed_down[f] || feed_stale[f]) unhealthy |= bit;
        else unhealthy &= ~bit;
        for (std::size_t i = 0; i < inst_feeds.size(); ++i) {
            if ((inst_feeds[i] & bit) == 0) continue;
            const bool stale = (inst_feeds[i] & ~unhealthy) == 0;
            graph.set_stale(core::instrument_id{static_cast<std::uint32_t>(i)}, stale, now, *this);
        }
    }

    void on_health(const feed_event& e) {
        using feeds::health_kind;
        using signals::feed_condition;
        using signals::severity;
        using signals::trigger_state;
        const std::uint16_t f = e.feed;
        switch (e.kind) {
        case health_kind::down:
            if (feed_down[f]) return;
            feed_down[f] = true;
            health_trigger(e, feed_condition::down, trigger_state::fired, severity::critical);
            break;
        case health_kind::up:
            if (!feed_down[f]) return;
            feed_down[f] = false;
            health_trigger(e, feed_condition::down, trigger_state::cleared, severity::critical);
            break;
        case health_kind::stale:
            if (feed_stale[f]) return;
            feed_stale[f] = true;
            health_trigger(e, feed_condition::stale, trigger_state::fired, severity::warning);
            break;
        case health_kind::fresh:
            if (!feed_stale[f]) return;
            feed_stale[f] = false;
            health_trigger(e, feed_condition::stale, trigger_state::cleared, severity::warning);
            break;
        case health_kind::gap:
            health_trigger(e, feed_condition::gap, trigger_state::fired, severity::warning);
            return;
        }
        refresh_instruments(f, e.t.exch_ts);
    }

    void on_tick(const feed_event& e) {
        const std::uint32_t i = core::index(e.t.inst);
        if (i >= inst_feeds.size()) inst_feeds.resize(i + 1u, 0); // first sight only
        inst_feeds[i] |= std::uint64_t{1} << e.feed;
        switch (graph.apply(e.t, *this)) {
        case signals::apply_status::late:
            late.fetch_add(1, std::memory_order_relaxed);
            rejected.fetch_add(1, std::memory_order_relaxed);
            dead_letter(e.feed, feeds::reject_reason::late,
                        "older than the instrument's last event time (same stream) by more than the allowed lateness",
                        {}, e.t.recv_ts, &e.t);
            break;
        case signals::apply_status::applied:
        case signals::apply_status::reference: applied.fetch_add(1, std::memory_order_relaxed); break;
        }
    }

    void signal_loop() {
        if (cfg.engine.pin_cpu >= 0) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(cfg.engine.pin_cpu, &set);
            pthread_setaffinity_np(pthread_self(), sizeof set, &set);
        }
        std::array<feed_event, k_bulk> buf;
        moodycamel::ConsumerToken ctok(events);
        for (;;) {
            std::size_t n = cfg.engine.busy_poll
                                ? events.try_dequeue_bulk(ctok, buf.begin(), k_bulk)
                                : events.wait_dequeue_bulk_timed(ctok, buf.begin(), k_bulk, 20'000);
            if (n == 0) {
                if (producers_done.load(std::memory_order_acquire)) {
                    n = events.try_dequeue_bulk(ctok, buf.begin(), k_bulk);
                    if (n == 0) break;
                } else {
                    continue;
                }
            }
            for (std::size_t k = 0; k < n; ++k) {
                if (buf[k].health) on_health(buf[k]);
                else on_tick(buf[k]);
            }
        }
        signal_done.store(true, std::memory_order_release);
    }

    // ------------------------------------------------------------ publisher thread
    void write_dead(engine::dead_letter& dl, std::string& scratch) {
        dead_record r;
        while (dead.try_dequeue(r)) {
            dead_pending.fetch_sub(1, std::memory_order_relaxed);
            std::string_view frame = r.frame;
            if (r.has_tick) {
                scratch.clear();
                scratch += R"({"sym":)";
                core::append_json_string(scratch, registry->info(r.tick.inst).symbol);
                scratch += R"(,"px":)";
                core::append_double(scratch, r.tick.px);
                scratch += R"(,"ts":)";
                core::append_int(scratch, r.tick.event_ts());
                scratch += R"(,"kind":")";
                scratch += core::to_string(r.tick.kind);
                scratch += "\"}";
                frame = scratch;
            }
            dl.write(r.recv_ts, r.feed < feed_names.size() ? std::string_view(feed_names[r.feed]) : "?", 0,
                     r.reason, r.detail, frame);
        }
    }

    void publisher_loop() {
        output_file out;
        if (!opts.out.empty()) out = output_file(opts.out, true);
        output_file stdout_file;
        if (opts.print) stdout_file = output_file("-");
        engine::dead_letter dl(opts.dead_letter);
        std::array<signals::trigger, 64> buf;
        std::string json, scratch;
        json.reserve(1024);
        moodycamel::ConsumerToken ctok(triggers);
        for (;;) {
            std::size_t n = triggers.wait_dequeue_bulk_timed(ctok, buf.begin(), buf.size(), 20'000);
            for (std::size_t k = 0; k < n; ++k) {
                const signals::trigger& t = buf[k];
                json.clear();
                append_trigger_json(json, t, cfg.signals, *registry, opts.deterministic,
                                    core::realtime_now() - t.recv_ts, &feed_names);
                json += '\n';
                if (out.is_open()) out.write(json);
                if (stdout_file.is_open()) stdout_file.write(json);
                published.fetch_add(1, std::memory_order_relaxed);
                if (observer) observer(t, std::string_view(json).substr(0, json.size() - 1));
            }
            write_dead(dl, scratch);
            if (n < buf.size()) {
                // Idle or nearly: push what we have to the files and the terminal.
                out.flush();
                stdout_file.flush();
                dl.flush();
            }
            if (n == 0 && signal_done.load(std::memory_order_acquire) && triggers.size_approx() == 0) break;
        }
        write_dead(dl, scratch);
        out.flush();
        stdout_file.flush();
        dl.flush();
    }
};

runtime::runtime(const config& cfg, run_options opts) : p_(std::make_unique<impl>(cfg, std::move(opts))) {}

runtime::~runtime() {
    request_stop();
    wait();
}

void runtime::start() {
    p_->start_feeds();
    p_->io_thread = std::thread([this] {
        auto guard = boost::asio::make_work_guard(p_->io);
        p_->io.run();
    });
    p_->signal_thread = std::thread([this] { p_->signal_loop(); });
    p_->publisher_thread = std::thread([this] { p_->publisher_loop(); });
}

void runtime::request_stop() noexcept {
    p_->stop_requested.store(true, std::memory_order_release);
    p_->stop_cv.notify_all();
}

void runtime::wait() {
    {
        std::unique_lock lock(p_->stop_mu);
        p_->stop_cv.wait(lock, [this] { return p_->stop_requested.load(std::memory_order_acquire); });
    }
    if (!p_->io_thread.joinable()) return; // never started, or already waited
    for (auto& s : p_->sessions) s->stop();
    p_->io.stop();
    p_->io_thread.join();
    p_->producers_done.store(true, std::memory_order_release);
    p_->signal_thread.join();
    p_->publisher_thread.join();
}

run_figures runtime::figures() const {
    run_figures f;
    for (const auto& s : p_->sessions) f.frames += s->stats().frames.load(std::memory_order_relaxed);
    f.applied = p_->applied.load(std::memory_order_relaxed);
    f.late = p_->late.load(std::memory_order_relaxed);
    f.rejected = p_->rejected.load(std::memory_order_relaxed);
    f.triggers = p_->published.load(std::memory_order_relaxed);
    f.health_events = p_->health_events.load(std::memory_order_relaxed);
    return f;
}

void runtime::on_published(std::function<void(const signals::trigger&, std::string_view)> f) {
    p_->observer = std::move(f);
}

} // namespace seismo::engine
