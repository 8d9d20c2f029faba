#include "engine/runtime.hpp"

#include "engine/core/json_writer.hpp"
#include "engine/core/time.hpp"
#include "engine/dead_letter.hpp"
#include "engine/demo_feed.hpp"
#include "engine/hub.hpp"
#include "engine/journal.hpp"
#include "engine/metrics.hpp"
#include "engine/output.hpp"
#include "engine/server.hpp"
#include "engine/signal_core.hpp"
#include "engine/trigger_json.hpp"
#include "engine/ws_codec.hpp"
#include "feeds/generic.hpp"
#include "feeds/pipeline.hpp"
#include "feeds/session.hpp"
#include "signals/graph.hpp"

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <concurrentqueue/blockingconcurrentqueue.h>

#include <array>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstddef>
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
    std::uint16_t index = 0; ///< the tick's place among its frame's ticks (journal order)
    std::uint32_t frame = 0; ///< the frame's number within its feed (journal order)
};
static_assert(sizeof(feed_event) <= 64);
static_assert(std::is_trivially_copyable_v<feed_event>);

/// A refused frame or tick on its way to the dead-letter file.
struct dead_record {
    std::uint16_t feed = 0;
    feeds::reject_reason reason = feeds::reject_reason::malformed;
    core::nanos recv_ts = 0;
    std::string detail;
    std::string frame; ///< the raw frame (feed thread refusals)
    core::tick tick{}; ///< the normalized tick (signal thread refusals: late)
    bool has_tick = false;
};

/// What the signal thread publishes every 250 ms for /v1/state and /metrics.
struct state_snapshot {
    std::string signals_json; ///< the "signals" array of /v1/state
    struct value {
        std::uint32_t signal;
        std::string instrument; ///< empty for breadth and composites
        double v;
    };
    std::vector<value> values;
    core::nanos watermark = 0;
    core::nanos taken = 0;
};

constexpr std::size_t k_bulk = 512;
constexpr std::size_t k_max_feeds = 64;
constexpr core::nanos k_binance_age = (23 * 60 + 50) * 60 * core::k_ns_per_s;
constexpr core::nanos k_snapshot_every = 250'000'000;

/// Memory for the one wake-up of the I/O thread that can be in flight (the signal thread posts
/// it only when none is pending): posting then never allocates on the signal thread. Asio frees
/// a handler's memory before running it, and the handler clears the in-flight flag after that,
/// so the slot is always free when the next post comes; should it not be, the heap serves.
struct wake_slot {
    alignas(std::max_align_t) unsigned char bytes[512];
    std::atomic<bool> used{false};
};

template <class T>
struct wake_allocator {
    using value_type = T;
    wake_slot* slot;
    explicit wake_allocator(wake_slot* s) noexcept : slot(s) {}
    template <class U>
    wake_allocator(const wake_allocator<U>& o) noexcept : slot(o.slot) {} // NOLINT: rebinding
    T* allocate(std::size_t n) {
        if (n * sizeof(T) <= sizeof slot->bytes &&
            !slot->used.exchange(true, std::memory_order_acquire)) {
            return reinterpret_cast<T*>(slot->bytes);
        }
        return std::allocator<T>{}.allocate(n);
    }
    void deallocate(T* p, std::size_t n) noexcept {
        if (reinterpret_cast<unsigned char*>(p) == slot->bytes) {
            slot->used.store(false, std::memory_order_release);
            return;
        }
        std::allocator<T>{}.deallocate(p, n);
    }
    template <class U>
    bool operator==(const wake_allocator<U>& o) const noexcept {
        return slot == o.slot;
    }
};

} // namespace

struct runtime::impl final : signals::trigger_sink {
    const config& cfg;
    run_options opts;
    std::unique_ptr<core::instrument_registry> registry;
    signals::graph graph;

    moodycamel::BlockingConcurrentQueue<feed_event> events;
    // Triggers: a plain queue plus a semaphore, so a trigger's latency is taken when it is in
    // the queue, before the publisher's wake-up (a futex syscall when it sleeps) is issued.
    moodycamel::ConcurrentQueue<signals::trigger> triggers;
    moodycamel::LightweightSemaphore triggers_ready;
    // With the server on, the I/O thread takes triggers off the queue (one hand-off from the
    // signal thread, the fewest a subscriber can be reached with), serialises each once,
    // fans it out and passes the shared message to the publisher thread for the files.
    bool publish_on_io = false;
    std::atomic<bool> io_publish_posted{false};
    wake_slot io_wake_slot;
    std::unique_ptr<moodycamel::ConsumerToken> io_trigger_token; // the I/O thread's
    std::vector<message_ptr> io_batch;                           // the I/O thread's
    std::string io_json;                                         // the I/O thread's
    moodycamel::ConcurrentQueue<message_ptr> to_files;           // I/O thread -> publisher
    std::atomic<bool> io_done{false};                            // the I/O thread has ended
    moodycamel::ConcurrentQueue<dead_record> dead;
    std::unique_ptr<moodycamel::ProducerToken> trigger_token; // the signal thread's

    boost::asio::io_context io;
    std::map<std::string, std::unique_ptr<boost::asio::ssl::context>> tls;
    hub trigger_hub;
    std::unique_ptr<server> srv;

    /// A feed's sink: enqueues with the feed's own producer token, on the feed's strand.
    struct feed_sink final : feeds::session_sink {
        impl* rt = nullptr;
        std::uint16_t id = 0;
        std::unique_ptr<moodycamel::ProducerToken> token;
        std::vector<feed_event> batch;

        std::uint32_t frame_no = 0; // the current frame's number (journal)

        void on_frame(std::uint16_t, std::string_view, core::nanos) override { ++frame_no; }
        void on_frame_done(std::uint16_t, std::string_view frame, core::nanos recv_ts) override {
            // Recorded after the frame's ticks are in the queue, so recording adds nothing to a
            // tick's latency; the journal writer keeps each frame ahead of the order naming it.
            if (rt->journal) rt->journal->frame(id, frame_no, recv_ts, frame);
        }
        void on_ticks(std::uint16_t, const core::tick* t, std::size_t n) override {
            if (batch.size() < n) batch.resize(n);
            for (std::size_t i = 0; i < n; ++i) {
                batch[i].t = t[i];
                batch[i].feed = id;
                batch[i].health = false;
                batch[i].frame = frame_no;
                batch[i].index = static_cast<std::uint16_t>(i);
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

    struct feed_entry {
        std::string name;
        std::string venue;
        std::unique_ptr<feed_sink> sink;
        std::shared_ptr<feeds::ws_session> session;
        std::shared_ptr<demo_feed> demo;
        std::unique_ptr<feeds::session_stats> own_stats; // the inproc feed's
        std::unique_ptr<feeds::frame_pipeline> pipeline; // the inproc feed's
        [[nodiscard]] const feeds::session_stats& stats() const {
            return session ? session->stats() : demo ? demo->stats() : *own_stats;
        }
    };
    feed_entry* inproc = nullptr;
    std::string inject_buf;
    std::vector<std::int64_t> samples;
    std::size_t n_samples = 0;
    std::vector<feed_entry> feeds_;
    std::vector<std::string> feed_names;

    std::unique_ptr<journal::writer> journal;
    std::vector<journal::order_entry>
        order_buf; // signal thread: consumed ticks since the last flush
    core::nanos last_order_flush = 0;
    static constexpr std::size_t k_order_batch = 256;       // entries gathered before a write
    static constexpr core::nanos k_order_every = 5'000'000; // or this long, whichever first

    // signal thread state
    std::unique_ptr<signal_core> core_owner;
    signal_core& core;
    core::nanos last_snapshot = 0;
    latency_histogram tick_to_trigger;
    std::array<std::atomic<std::uint64_t>, k_max_feeds> late_per_feed{};

    // published state
    mutable std::mutex state_mu;
    std::shared_ptr<const state_snapshot> state;

    // publisher counters: per signal (plus feed health, last) and severity
    std::vector<std::array<std::atomic<std::uint64_t>, 3>> trigger_counts;

    std::thread io_thread, signal_thread, publisher_thread;
    std::atomic<bool> started{false};
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
          events(c.engine.queue_capacity), triggers(4096), trigger_hub(c.server.replay_ring),
          core_owner(std::make_unique<signal_core>(graph, k_max_feeds)), core(*core_owner),
          trigger_counts(c.signals.size() + 1) {
        trigger_token = std::make_unique<moodycamel::ProducerToken>(triggers);
        for (const auto& f : cfg.feeds)
            feed_names.push_back(f.name);
        if (opts.demo) feed_names.emplace_back("demo");
        if (opts.inproc_feed) feed_names.emplace_back("inproc");
        samples.resize(opts.latency_samples);
        if (feed_names.size() > k_max_feeds) throw std::invalid_argument("at most 64 feeds");
        state = std::make_shared<state_snapshot>();
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
        if (!feeds::parse_venue(f.venue, o.kind))
            throw std::invalid_argument("unknown venue " + f.venue);
        o.url = f.url;
        o.symbols = f.symbols;
        o.channels = f.channels;
        o.stale_after = f.stale_after;
        o.max_connection_age =
            f.max_connection_age.value_or(o.kind == feeds::venue::binance ? k_binance_age : 0);
        o.ca_file = f.ca_file;
        o.max_frame = f.max_frame_bytes.value_or(o.kind == feeds::venue::generic
                                                     ? cfg.engine.max_frame_bytes
                                                     : cfg.engine.max_venue_frame_bytes);
        return o;
    }

    std::unique_ptr<feed_sink> make_sink(std::uint16_t id) {
        auto sink = std::make_unique<feed_sink>();
        sink->rt = this;
        sink->id = id;
        sink->token = std::make_unique<moodycamel::ProducerToken>(events);
        return sink;
    }

    void start_feeds() {
        for (std::size_t i = 0; i < cfg.feeds.size(); ++i) {
            const auto& f = cfg.feeds[i];
            auto& ctx = tls[f.ca_file];
            if (!ctx) ctx = feeds::make_client_tls(f.ca_file);
            feed_entry e;
            e.name = f.name;
            e.venue = f.venue;
            e.sink = make_sink(static_cast<std::uint16_t>(i));
            e.session = feeds::ws_session::create(io, *ctx, session_options_for(f), *registry,
                                                  *e.sink, static_cast<std::uint16_t>(i));
            feeds_.push_back(std::move(e));
        }
        if (opts.demo) {
            const auto id = static_cast<std::uint16_t>(feeds_.size());
            feed_entry e;
            e.name = "demo";
            e.venue = "generic";
            e.sink = make_sink(id);
            demo_feed::options o;
            o.speed = opts.demo_speed;
            o.seed = opts.demo_seed;
            o.max_frame = cfg.engine.max_frame_bytes;
            e.demo = demo_feed::create(io, o, *registry, *e.sink, id);
            feeds_.push_back(std::move(e));
        }
        if (opts.inproc_feed) {
            const auto id = static_cast<std::uint16_t>(feeds_.size());
            feed_entry e;
            e.name = "inproc";
            e.venue = "generic";
            e.sink = make_sink(id);
            e.own_stats = std::make_unique<feeds::session_stats>();
            e.own_stats->connected = true;
            e.pipeline = std::make_unique<feeds::frame_pipeline>(feeds::venue::generic, *registry,
                                                                 cfg.engine.max_frame_bytes,
                                                                 *e.sink, id, *e.own_stats);
            feeds_.push_back(std::move(e));
            inproc = &feeds_.back();
        }
        for (auto& e : feeds_) {
            if (e.session)
                e.session->start();
            else if (e.demo)
                e.demo->start();
        }
    }

    // ------------------------------------------------------------ signal thread
    void on_trigger(const signals::trigger& t) override {
        triggers.enqueue(*trigger_token, t);
        if (t.recv_ts != 0 && t.signal != signals::k_feed_health) {
            const core::nanos lat = core::realtime_now() - t.recv_ts;
            tick_to_trigger.observe(static_cast<double>(lat) / 1e9);
            if (n_samples < samples.size()) samples[n_samples++] = lat;
        }
        if (!publish_on_io) {
            triggers_ready.signal();
        } else if (!io_publish_posted.exchange(true, std::memory_order_seq_cst)) {
            // One wake-up of the I/O thread in flight: triggers enqueued meanwhile ride on it
            // (the handler clears the flag before it drains, so none is left behind).
            boost::asio::post(io, boost::asio::bind_allocator(wake_allocator<void>(&io_wake_slot),
                                                              [this] { io_publish(); }));
        }
    }

    void flush_order() {
        if (journal && !order_buf.empty()) {
            journal->order(order_buf.data(), order_buf.size());
            last_order_flush = core::monotonic_now();
        }
        order_buf.clear();
    }

    void on_health(const feed_event& e) {
        if (journal) {
            flush_order(); // keep the consumption order exact
            journal->health(e.feed, e.kind, e.t.exch_ts, e.t.seq,
                            e.t.inst == core::k_no_instrument
                                ? std::string_view{}
                                : std::string_view(registry->info(e.t.inst).symbol));
        }
        core.health(e.feed, e.kind, e.t.exch_ts, e.t.seq, e.t.inst, *this);
    }

    void on_tick(const feed_event& e) {
        if (journal) order_buf.push_back({e.feed, e.index, e.frame});
        switch (core.tick(e.feed, e.t, *this)) {
        case signals::apply_status::late:
            late.fetch_add(1, std::memory_order_relaxed);
            late_per_feed[e.feed].fetch_add(1, std::memory_order_relaxed);
            rejected.fetch_add(1, std::memory_order_relaxed);
            dead_letter(e.feed, feeds::reject_reason::late,
                        "older than the instrument's last event time (same stream) by more than "
                        "the allowed lateness",
                        {}, e.t.recv_ts, &e.t);
            break;
        case signals::apply_status::applied:
        case signals::apply_status::reference:
            applied.fetch_add(1, std::memory_order_relaxed);
            break;
        }
    }

    /// Publishes values and level states for /v1/state and /metrics (allocates; 4 times a second).
    void snapshot() {
        auto s = std::make_shared<state_snapshot>();
        s->watermark = graph.watermark();
        s->taken = core::realtime_now();
        const auto& specs = graph.specs();
        std::vector<std::string> per_signal(specs.size());
        graph.visit([&](const signals::value_view& v) {
            std::string& o = per_signal[v.signal];
            if (!o.empty()) o += ',';
            o += '{';
            const bool has_inst = v.inst != core::k_no_instrument;
            std::string inst;
            if (has_inst) {
                inst = registry->info(v.inst).symbol;
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
            s->values.push_back({v.signal, std::move(inst), v.value});
        });
        std::string& j = s->signals_json;
        j = "[";
        for (std::size_t i = 0; i < specs.size(); ++i) {
            const auto& sp = specs[i];
            if (i != 0) j += ',';
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
            j += per_signal[i];
            j += "]}";
        }
        j += ']';
        std::lock_guard lock(state_mu);
        state = std::move(s);
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
            if (n == 0 && producers_done.load(std::memory_order_acquire)) {
                n = events.try_dequeue_bulk(ctok, buf.begin(), k_bulk);
                if (n == 0) break;
            }
            for (std::size_t k = 0; k < n; ++k) {
                if (buf[k].health)
                    on_health(buf[k]);
                else
                    on_tick(buf[k]);
            }
            // The consumption order goes to the journal when the queue is idle or enough has
            // gathered, not after every tick of a burst (that would delay the burst's next tick).
            if (n == 0 || order_buf.size() >= k_order_batch) flush_order();
            // Once per batch (not per tick): the periodic state snapshot, and the bound on how
            // long consumption order may wait (so a crash loses no more than this plus the
            // journal's flush interval).
            if (n != k_bulk) {
                const core::nanos now = core::monotonic_now();
                if (!order_buf.empty() && now - last_order_flush >= k_order_every) flush_order();
                if (now - last_snapshot >= k_snapshot_every) {
                    last_snapshot = now;
                    snapshot();
                }
            }
        }
        flush_order();
        snapshot();
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
            dl.write(r.recv_ts,
                     r.feed < feed_names.size() ? std::string_view(feed_names[r.feed]) : "?", 0,
                     r.reason, r.detail, frame);
        }
    }

    message_ptr make_message(const signals::trigger& t, std::string_view json) const {
        auto m = std::make_shared<message>();
        m->seq = t.seq;
        m->topic = trigger_topic(t, cfg.signals, *registry, &feed_names);
        m->signal = m->topic.substr(0, m->topic.find('/'));
        ws::append_frame(m->frame, ws::opcode::text, json);
        m->json_offset = m->frame.size() - json.size();
        m->fired = t.state == signals::trigger_state::fired;
        m->transient =
            t.signal == signals::k_feed_health && t.condition == signals::feed_condition::gap;
        m->state_key = std::to_string(t.signal) + "/" + std::to_string(core::index(t.inst)) + "/" +
                       std::to_string(t.level) + "/" + std::to_string(t.feed) + "/" +
                       std::to_string(static_cast<int>(t.condition));
        return m;
    }

    /// Serialises triggers once each: counts them, tells the observer, and appends their
    /// messages (the WebSocket frame, holding the JSON) to `batch`.
    void serialise(const signals::trigger* t, std::size_t n, std::string& json,
                   std::vector<message_ptr>& batch) {
        for (std::size_t k = 0; k < n; ++k) {
            json.clear();
            append_trigger_json(json, t[k], cfg.signals, *registry, opts.deterministic,
                                core::realtime_now() - t[k].recv_ts, &feed_names);
            const std::size_t sig =
                t[k].signal == signals::k_feed_health ? cfg.signals.size() : t[k].signal;
            trigger_counts[sig][static_cast<std::size_t>(t[k].sev)].fetch_add(
                1, std::memory_order_relaxed);
            batch.push_back(make_message(t[k], json));
            if (observer) observer(t[k], json);
        }
    }

    /// The I/O thread's share of publishing (publish_on_io): everything queued, to the hub at
    /// once; the files after, on the publisher thread.
    void io_publish() {
        io_publish_posted.exchange(false, std::memory_order_seq_cst);
        std::array<signals::trigger, 64> buf;
        for (;;) {
            const std::size_t n =
                triggers.try_dequeue_bulk(*io_trigger_token, buf.begin(), buf.size());
            if (n == 0) break;
            io_batch.clear();
            serialise(buf.data(), n, io_json, io_batch);
            trigger_hub.publish(io_batch); // posts each touched session's write, to run next
            to_files.enqueue_bulk(std::make_move_iterator(io_batch.begin()), io_batch.size());
            if (n < buf.size()) break;
        }
        io_batch.clear();
        // Wake the publisher after the sessions' writes queued above have run.
        boost::asio::post(io, [this] { triggers_ready.signal(); });
    }

    void publisher_loop() {
        output_file out;
        if (!opts.out.empty()) out = output_file(opts.out, true);
        output_file stdout_file;
        if (opts.print) stdout_file = output_file("-");
        engine::dead_letter dl(opts.dead_letter);
        std::array<signals::trigger, 64> buf;
        std::array<message_ptr, 64> msgs;
        std::vector<message_ptr> batch;
        std::string json, scratch;
        json.reserve(1024);
        moodycamel::ConsumerToken ctok(triggers);
        moodycamel::ConsumerToken ftok(to_files);
        auto write = [&](const message& m) {
            const std::string_view j = std::string_view(m.frame).substr(m.json_offset);
            if (out.is_open()) {
                out.write(j);
                out.write("\n");
            }
            if (stdout_file.is_open()) {
                stdout_file.write(j);
                stdout_file.write("\n");
            }
            published.fetch_add(1, std::memory_order_relaxed);
        };
        // Triggers this thread serialises itself: all of them without the I/O route, and with
        // it, those still queued when the I/O thread has ended (at shutdown).
        auto take_triggers = [&] {
            const std::size_t n = triggers.try_dequeue_bulk(ctok, buf.begin(), buf.size());
            batch.clear();
            serialise(buf.data(), n, json, batch);
            if (!batch.empty()) trigger_hub.publish(batch);
            for (const auto& m : batch)
                write(*m);
            return n;
        };
        auto take_messages = [&] {
            const std::size_t n = to_files.try_dequeue_bulk(ftok, msgs.begin(), msgs.size());
            for (std::size_t k = 0; k < n; ++k) {
                write(*msgs[k]);
                msgs[k].reset();
            }
            return n;
        };
        auto take = [&] {
            std::size_t n = take_messages();
            // Once the I/O thread has ended nothing more reaches to_files; what is still in the
            // trigger queue comes after all of it, so it is taken only when to_files is empty.
            if (n == 0 && (!publish_on_io || (io_done.load(std::memory_order_acquire) &&
                                              to_files.size_approx() == 0))) {
                n = take_triggers();
            }
            return n;
        };
        for (;;) {
            std::size_t n = take();
            if (n == 0) {
                (void)triggers_ready.wait(20'000); // woken by the signal or I/O thread, or 20 ms
                n = take();
            }
            write_dead(dl, scratch);
            if (n < buf.size()) {
                // Idle or nearly: push what we have to the files and the terminal.
                out.flush();
                stdout_file.flush();
                dl.flush();
            }
            if (n == 0 && signal_done.load(std::memory_order_acquire) &&
                (!publish_on_io || io_done.load(std::memory_order_acquire)) &&
                triggers.size_approx() == 0 && to_files.size_approx() == 0) {
                break;
            }
        }
        write_dead(dl, scratch);
        out.flush();
        stdout_file.flush();
        dl.flush();
    }

    // ------------------------------------------------------------ server hooks
    std::shared_ptr<const state_snapshot> current_state() const {
        std::lock_guard lock(state_mu);
        return state;
    }

    bool ready(std::string& detail) const {
        bool ok = true;
        detail = R"({"feeds":[)";
        for (std::size_t i = 0; i < feeds_.size(); ++i) {
            const auto& st = feeds_[i].stats();
            const bool connected = st.connected.load(std::memory_order_relaxed);
            const bool stale = st.stale.load(std::memory_order_relaxed);
            ok = ok && connected && !stale;
            if (i != 0) detail += ',';
            detail += R"({"name":)";
            core::append_json_string(detail, feeds_[i].name);
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

    std::string state_json() const {
        const auto s = current_state();
        const core::nanos now = core::realtime_now();
        std::string o = R"({"time":)";
        core::append_json_time(o, now);
        o += R"(,"watermark":)";
        if (s->watermark == std::numeric_limits<core::nanos>::min() || s->watermark == 0)
            o += "null";
        else
            core::append_json_time(o, s->watermark);
        o += R"(,"last_seq":)";
        core::append_uint(o, trigger_hub.last_seq());
        o += R"(,"feeds":[)";
        for (std::size_t i = 0; i < feeds_.size(); ++i) {
            const auto& st = feeds_[i].stats();
            if (i != 0) o += ',';
            o += R"({"name":)";
            core::append_json_string(o, feeds_[i].name);
            o += R"(,"venue":)";
            core::append_json_string(o, feeds_[i].venue);
            o += R"(,"connected":)";
            o += st.connected.load(std::memory_order_relaxed) ? "true" : "false";
            o += R"(,"stale":)";
            o += st.stale.load(std::memory_order_relaxed) ? "true" : "false";
            const core::nanos last = st.last_frame.load(std::memory_order_relaxed);
            o += R"(,"last_event_age_seconds":)";
            if (last == 0)
                o += "null";
            else
                core::append_double(o, static_cast<double>(now - last) / 1e9);
            o += R"(,"frames":)";
            core::append_uint(o, st.frames.load(std::memory_order_relaxed));
            o += R"(,"reconnects":)";
            core::append_uint(o, st.reconnects.load(std::memory_order_relaxed));
            o += R"(,"gaps":)";
            core::append_uint(o, st.gaps.load(std::memory_order_relaxed));
            o += '}';
        }
        o += R"(],"signals":)";
        o += s->signals_json.empty() ? "[]" : s->signals_json;
        o += R"(,"active":[)";
        const auto act = trigger_hub.active();
        for (std::size_t i = 0; i < act.size(); ++i) {
            if (i != 0) o += ',';
            o += act[i]->json();
        }
        o += "]}\n";
        return o;
    }

    std::string metrics_text() const {
        exposition e;
        const core::nanos now = core::realtime_now();
        for (std::size_t i = 0; i < feeds_.size(); ++i) {
            const auto& st = feeds_[i].stats();
            const labels feed{{"feed", feeds_[i].name}};
            e.counter("seismo_feed_frames_total", "Data frames received per feed.", feed,
                      static_cast<double>(st.frames.load(std::memory_order_relaxed)));
            e.counter("seismo_feed_ticks_total", "Ticks passed to the signal thread per feed.",
                      feed, static_cast<double>(st.ticks.load(std::memory_order_relaxed)));
            for (std::size_t r = 0; r < feeds::k_reject_reasons; ++r) {
                std::uint64_t v = st.rejected[r].load(std::memory_order_relaxed);
                if (static_cast<feeds::reject_reason>(r) == feeds::reject_reason::late) {
                    v += late_per_feed[i].load(std::memory_order_relaxed);
                }
                e.counter("seismo_feed_rejected_total",
                          "Refused frames or ticks per feed and reason.",
                          {{"feed", feeds_[i].name},
                           {"reason", feeds::to_string(static_cast<feeds::reject_reason>(r))}},
                          static_cast<double>(v));
            }
            e.gauge("seismo_feed_connected", "1 while the feed is connected.", feed,
                    st.connected.load(std::memory_order_relaxed) ? 1 : 0);
            e.gauge("seismo_feed_stale", "1 while the feed has had no data for stale_after.", feed,
                    st.stale.load(std::memory_order_relaxed) ? 1 : 0);
            e.counter("seismo_feed_reconnects_total",
                      "Connection attempts after the first per feed.", feed,
                      static_cast<double>(st.reconnects.load(std::memory_order_relaxed)));
            const core::nanos last = st.last_frame.load(std::memory_order_relaxed);
            if (last != 0) {
                e.gauge("seismo_feed_last_event_age_seconds",
                        "Seconds since the feed's last data frame.", feed,
                        static_cast<double>(now - last) / 1e9);
            }
            e.counter("seismo_feed_gaps_total", "Venue sequence gaps per feed.", feed,
                      static_cast<double>(st.gaps.load(std::memory_order_relaxed)));
        }
        e.gauge("seismo_queue_depth", "Items waiting in an engine queue.", {{"queue", "ticks"}},
                static_cast<double>(events.size_approx()));
        e.gauge("seismo_queue_depth", "Items waiting in an engine queue.", {{"queue", "triggers"}},
                static_cast<double>(triggers.size_approx()));
        e.gauge("seismo_queue_depth", "Items waiting in an engine queue.",
                {{"queue", "dead_letters"}},
                static_cast<double>(
                    std::max<std::int64_t>(0, dead_pending.load(std::memory_order_relaxed))));
        e.histogram("seismo_tick_to_trigger_seconds",
                    "Frame receipt to trigger enqueued by the signal thread (wall clock).", {},
                    tick_to_trigger);
        e.counter("seismo_ticks_applied_total", "Ticks applied to the signals.", {},
                  static_cast<double>(applied.load(std::memory_order_relaxed)));
        e.counter("seismo_ticks_late_total", "Ticks refused as late.", {},
                  static_cast<double>(late.load(std::memory_order_relaxed)));
        e.counter("seismo_dead_letters_dropped_total",
                  "Dead letters not written because too many were pending.", {},
                  static_cast<double>(dead_dropped.load(std::memory_order_relaxed)));
        for (std::size_t i = 0; i < trigger_counts.size(); ++i) {
            const std::string_view name =
                i < cfg.signals.size() ? std::string_view(cfg.signals[i].name) : "feed_health";
            for (std::size_t sev = 0; sev < 3; ++sev) {
                e.counter(
                    "seismo_triggers_total", "Triggers published per signal and severity.",
                    {{"signal", name},
                     {"severity", signals::to_string(static_cast<signals::severity>(sev))}},
                    static_cast<double>(trigger_counts[i][sev].load(std::memory_order_relaxed)));
            }
        }
        const auto s = current_state();
        for (const auto& v : s->values) {
            if (std::isnan(v.v)) continue;
            const auto& sp = cfg.signals[v.signal];
            if (sp.kind == signals::signal_kind::breadth) {
                e.gauge("seismo_breadth_ratio",
                        "Share of a breadth signal's members at or below member_at.",
                        {{"signal", sp.name}}, v.v);
            } else if (sp.kind == signals::signal_kind::composite) {
                e.gauge("seismo_composite_active_inputs",
                        "Inputs of a composite active within its window.", {{"signal", sp.name}},
                        v.v);
            } else {
                e.gauge("seismo_signal_value", "A signal's current value per instrument.",
                        {{"signal", sp.name}, {"instrument", v.instrument}}, v.v);
            }
        }
        if (srv) {
            const auto& ss = srv->stats();
            e.gauge("seismo_subscribers", "Open /v1/stream sessions.", {},
                    static_cast<double>(ss.subscribers.load(std::memory_order_relaxed)));
            e.gauge("seismo_connections", "Open HTTP and WebSocket connections.", {},
                    static_cast<double>(ss.connections.load(std::memory_order_relaxed)));
            for (std::size_t r = 0; r < static_cast<std::size_t>(drop_reason::count_); ++r) {
                e.counter("seismo_subscriber_dropped_total", "Subscribers cut off, per reason.",
                          {{"reason", to_string(static_cast<drop_reason>(r))}},
                          static_cast<double>(ss.dropped[r].load(std::memory_order_relaxed)));
            }
            e.counter("seismo_http_requests_total", "HTTP requests served.", {},
                      static_cast<double>(ss.http_requests.load(std::memory_order_relaxed)));
            e.counter("seismo_client_errors_total",
                      "Error messages sent to clients for bad requests.", {},
                      static_cast<double>(ss.client_errors.load(std::memory_order_relaxed)));
            e.counter("seismo_connections_refused_total",
                      "Connections refused (limit or authorization).", {},
                      static_cast<double>(ss.refused.load(std::memory_order_relaxed)));
        }
        e.counter("seismo_deliveries_total", "Trigger messages handed to subscribers.", {},
                  static_cast<double>(trigger_hub.deliveries()));
        e.counter("seismo_journal_bytes_total", "Bytes written to the journal.", {},
                  journal ? static_cast<double>(journal->bytes_written()) : 0.0);
        e.counter("seismo_journal_frames_total", "Frames recorded in the journal.", {},
                  journal ? static_cast<double>(journal->frames()) : 0.0);
        e.counter("seismo_journal_waits_total",
                  "Times a producer waited for room in a journal ring.", {},
                  journal ? static_cast<double>(journal->ring_waits()) : 0.0);
        e.gauge("seismo_journal_backlog_bytes",
                "Bytes recorded but not yet taken by the journal writer thread.", {},
                journal ? static_cast<double>(journal->backlog_bytes()) : 0.0);
        e.gauge("seismo_build_info", "seismo's version.", {{"version", "0.1.0"}}, 1);
        e.process();
        return e.text();
    }
};

runtime::runtime(const config& cfg, run_options opts)
    : p_(std::make_unique<impl>(cfg, std::move(opts))) {}

runtime::~runtime() {
    request_stop();
    wait();
}

void runtime::start() {
    if (!p_->opts.record_dir.empty()) {
        journal::options jo;
        jo.dir = p_->opts.record_dir;
        jo.segment_bytes = p_->cfg.engine.journal_segment_bytes;
        jo.flush_interval = p_->cfg.engine.journal_flush_interval;
        jo.compress = p_->cfg.engine.journal_compress;
        journal::meta m;
        for (std::size_t i = 0; i < p_->cfg.feeds.size(); ++i)
            m.feeds.push_back({p_->cfg.feeds[i].name, p_->cfg.feeds[i].venue});
        if (p_->opts.demo) m.feeds.push_back({"demo", "generic"});
        if (p_->opts.inproc_feed) m.feeds.push_back({"inproc", "generic"});
        m.config_text = p_->cfg.text;
        m.config_file = p_->cfg.file;
        m.digest = p_->cfg.digest;
        p_->journal = std::make_unique<journal::writer>(jo, std::move(m), p_->feed_names.size());
        p_->order_buf.reserve(impl::k_order_batch + k_bulk);
        p_->journal->start();
    }
    if (p_->opts.serve) {
        server_config sc = p_->cfg.server;
        if (p_->opts.listen) sc.listen = *p_->opts.listen;
        server_hooks hooks;
        impl* p = p_.get();
        hooks.metrics = [p] { return p->metrics_text(); };
        hooks.state = [p] { return p->state_json(); };
        hooks.ready = [p](std::string& d) { return p->ready(d); };
        p_->srv = std::make_unique<server>(p_->io, sc, p_->trigger_hub, std::move(hooks));
        p_->publish_on_io = true;
        p_->io_trigger_token = std::make_unique<moodycamel::ConsumerToken>(p_->triggers);
        p_->io_batch.reserve(64);
        p_->io_json.reserve(1024);
        p_->srv->start();
    }
    p_->start_feeds();
    p_->started = true;
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
        p_->stop_cv.wait(lock,
                         [this] { return p_->stop_requested.load(std::memory_order_acquire); });
    }
    if (!p_->io_thread.joinable()) return; // never started, or already waited
    for (auto& f : p_->feeds_) {
        if (f.session)
            f.session->stop();
        else if (f.demo)
            f.demo->stop();
    }
    // Producers first: after the I/O thread ends nothing enqueues; then the signal thread drains
    // the tick queue, then the publisher drains the triggers and flushes.
    p_->io.stop();
    p_->io_thread.join();
    p_->io_done.store(true,
                      std::memory_order_release); // the publisher takes over the trigger queue
    p_->triggers_ready.signal();
    p_->producers_done.store(true, std::memory_order_release);
    p_->signal_thread.join();
    if (p_->journal) p_->journal->stop();
    p_->publisher_thread.join();
    if (p_->srv) p_->srv->stop();
}

run_figures runtime::figures() const {
    run_figures f;
    for (const auto& e : p_->feeds_)
        f.frames += e.stats().frames.load(std::memory_order_relaxed);
    f.applied = p_->applied.load(std::memory_order_relaxed);
    f.late = p_->late.load(std::memory_order_relaxed);
    f.rejected = p_->rejected.load(std::memory_order_relaxed);
    f.triggers = p_->published.load(std::memory_order_relaxed);
    f.health_events = p_->health_events.load(std::memory_order_relaxed);
    f.deliveries = p_->trigger_hub.deliveries();
    return f;
}

std::uint16_t runtime::port() const {
    return p_->srv ? p_->srv->port() : 0;
}

void runtime::inject(std::string_view frame, std::int64_t recv_ts) {
    if (p_->inproc == nullptr)
        throw std::logic_error("runtime::inject needs run_options::inproc_feed");
    std::string& b = p_->inject_buf;
    b.assign(frame);
    b.append(feeds::k_padding, '\0');
    (void)p_->inproc->pipeline->handle(b.data(), frame.size(), b.size(), recv_ts);
}

std::vector<std::int64_t> runtime::latency_samples() const {
    return {p_->samples.begin(), p_->samples.begin() + static_cast<std::ptrdiff_t>(p_->n_samples)};
}
std::string runtime::metrics_text() const {
    return p_->metrics_text();
}
std::string runtime::state_json() const {
    return p_->state_json();
}

void runtime::on_published(std::function<void(const signals::trigger&, std::string_view)> f) {
    p_->observer = std::move(f);
}

} // namespace seismo::engine
