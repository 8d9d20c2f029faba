#include "engine/trigger_publisher.hpp"

#include "engine/core/thread_name.hpp"
#include "engine/core/time.hpp"
#include "engine/journal/dead_letter.hpp"
#include "engine/journal/output.hpp"
#include "engine/publish/metrics.hpp"
#include "engine/trigger_json.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <concurrentqueue/lightweightsemaphore.h>

#include <array>
#include <cstddef>
#include <iostream>
#include <limits>
#include <map>
#include <mutex>

namespace seismo::engine {
namespace {

constexpr std::size_t k_batch = 64;

} // namespace

struct trigger_publisher::impl {
    impl(const generations& g, const core::instrument_registry& r, publisher_options o,
         publish::hub& h, dead_queue& d)
        : gens(g), reg(r), opts(std::move(o)), hub(h), dead(d), triggers(4096),
          signal_token(triggers) {}

    const generations& gens;
    const core::instrument_registry& reg;
    const publisher_options opts;
    publish::hub& hub;
    dead_queue& dead;

    // The signal thread's queue. A plain queue plus a semaphore, so a trigger's latency is
    // taken when it is in the queue, before the writer thread's wake-up (a futex) is issued.
    moodycamel::ConcurrentQueue<signals::trigger> triggers;
    moodycamel::ProducerToken signal_token;
    moodycamel::LightweightSemaphore ready;

    // With the server on, the I/O thread's share.
    boost::asio::io_context* io = nullptr;
    bool queued = false; // triggers pushed since the last publish_here()
    // The writer thread is woken within 1 ms of a batch (its files and the terminal are not a
    // latency path; a futex wake-up per trigger would compete with the subscribers' reads),
    // at once when it forwards to NATS.
    std::unique_ptr<boost::asio::steady_timer> writer_timer;
    bool writer_timer_armed = false;
    std::unique_ptr<moodycamel::ConsumerToken> io_token;
    std::vector<publish::message_ptr> io_batch;
    std::string io_json;
    moodycamel::ConcurrentQueue<publish::message_ptr> to_files; // I/O thread -> writer thread
    std::atomic<bool> io_done{false};
    std::atomic<bool> signal_done{false};
    std::atomic<bool> reopen{false};

    // Written by whoever serialises (the I/O thread; the writer thread without a server or
    // after the I/O thread has ended): one writer at a time.
    // seismo_triggers_total by signal name and severity: names outlive reloads (a counter
    // never goes back), so the counters are kept by name, at stable addresses, and the
    // serialiser maps its generation's signal indices to them once per generation.
    using severity_counts = std::array<core::counter, 3>;
    mutable std::mutex counts_mu; // adding a name (once per generation) vs. a scrape
    std::map<std::string, std::unique_ptr<severity_counts>> counts;
    std::uint32_t counts_gen = std::numeric_limits<std::uint32_t>::max();
    std::vector<severity_counts*> gen_counts; // by signal index, feed health last
    core::counter written;                    // the writer thread's
    std::function<void(const signals::trigger&, std::string_view)> observer;
    std::function<void(const publish::message&)> forward; // the writer thread's (NATS)
    std::thread writer;

    severity_counts& counts_for(const signals::trigger& t, const generation& g) {
        if (counts_gen != t.gen) {
            std::lock_guard lock(counts_mu);
            gen_counts.clear();
            auto slot = [&](const std::string& name) {
                auto& c = counts[name];
                if (!c) c = std::make_unique<severity_counts>();
                return c.get();
            };
            for (const auto& sp : g.specs)
                gen_counts.push_back(slot(sp.name));
            gen_counts.push_back(slot("feed_health"));
            counts_gen = t.gen;
        }
        return *gen_counts[t.signal == signals::k_feed_health ? gen_counts.size() - 1 : t.signal];
    }

    [[nodiscard]] publish::message_ptr message_for(const signals::trigger& t, const generation& g,
                                                   std::string_view json) const {
        // The active-trigger key names the signal, not its index: an index moves with a reload.
        std::string topic = trigger_topic(t, g.specs, reg, &g.feed_names);
        std::string key = topic + "\x1f" + std::to_string(t.level) + "\x1f" +
                          std::to_string(static_cast<int>(t.condition));
        return publish::make_message(
            t.seq, std::move(topic), json, std::move(key), t.state == signals::trigger_state::fired,
            t.signal == signals::k_feed_health && t.condition == signals::feed_condition::gap,
            static_cast<std::uint8_t>(t.sev), t.recv_ts);
    }

    /// Serialises triggers once each: counts them, tells the observer, and appends their
    /// messages to `batch`.
    void serialise(const signals::trigger* t, std::size_t n, std::string& json,
                   std::vector<publish::message_ptr>& batch) {
        for (std::size_t k = 0; k < n; ++k) {
            json.clear();
            const generation& g = gens.at(t[k].gen);
            append_trigger_json(json, t[k], g, reg, opts.deterministic,
                                core::realtime_now() - t[k].recv_ts);
            counts_for(t[k], g)[static_cast<std::size_t>(t[k].sev)].add();
            batch.push_back(message_for(t[k], g, json));
            if (observer) observer(t[k], json);
        }
    }

    /// The I/O thread: everything queued, to the hub at once; the files after, on the writer.
    void io_publish() {
        std::array<signals::trigger, k_batch> buf;
        for (;;) {
            const std::size_t n = triggers.try_dequeue_bulk(*io_token, buf.begin(), buf.size());
            if (n == 0) break;
            io_batch.clear();
            serialise(buf.data(), n, io_json, io_batch);
            hub.publish(io_batch); // posts each touched session's write, to run next
            to_files.enqueue_bulk(std::make_move_iterator(io_batch.begin()), io_batch.size());
            if (n < buf.size()) break;
        }
        io_batch.clear();
        // Wake the writer after the sessions' writes queued above have run.
        if (forward) {
            boost::asio::post(*io, [this] { ready.signal(); });
        } else if (!writer_timer_armed) {
            writer_timer_armed = true;
            writer_timer->expires_after(std::chrono::milliseconds(1));
            writer_timer->async_wait([this](const boost::system::error_code&) {
                writer_timer_armed = false;
                ready.signal();
            });
        }
    }

    /// Refusals on standard error, at most once per second per feed and reason (DESIGN §4),
    /// with how many more there were since. The writer thread's.
    struct refusal_log {
        core::nanos last = 0;
        std::uint64_t since = 0;
    };
    std::map<std::pair<std::uint16_t, core::reject_reason>, refusal_log> refusals_logged;

    void log_refusal(const dead_record& r, std::string_view feed) {
        refusal_log& l = refusals_logged[{r.feed, r.reason}];
        if (l.last != 0 && r.recv_ts - l.last < core::k_ns_per_s) {
            ++l.since;
            return;
        }
        std::string line = "seismo: feed ";
        line += feed;
        line += ": refused as ";
        line += core::to_string(r.reason);
        line += " (frame ";
        line += std::to_string(r.frame_no);
        line += "): ";
        line += r.detail.substr(0, 160);
        if (l.since != 0) line += " (and " + std::to_string(l.since) + " more in the last second)";
        std::cerr << line << '\n';
        l.last = r.recv_ts;
        l.since = 0;
    }

    void write_dead(journal::dead_letter& dl, std::string& scratch) {
        dead_record r;
        while (dead.pop(r)) {
            const auto& feed_names = gens.latest().feed_names;
            const std::string_view feed =
                r.feed < feed_names.size() ? std::string_view(feed_names[r.feed]) : "?";
            if (opts.log_refusals) log_refusal(r, feed);
            if (r.has_tick) {
                scratch.clear();
                append_tick_json(scratch, r.tick, reg);
                dl.tick(r.recv_ts, feed, r.frame_no, r.reason, r.detail, scratch);
            } else {
                dl.frame(r.recv_ts, feed, r.frame_no, r.reason, r.detail, r.frame);
            }
        }
    }

    void writer_loop() {
        journal::output_file out;
        if (!opts.out.empty()) out = journal::output_file(opts.out, true);
        journal::output_file stdout_file;
        if (opts.print) stdout_file = journal::output_file("-");
        journal::dead_letter dl(opts.dead_letter);
        std::array<signals::trigger, k_batch> buf;
        std::array<publish::message_ptr, k_batch> msgs;
        std::vector<publish::message_ptr> batch;
        std::string json, scratch;
        json.reserve(1024);
        moodycamel::ConsumerToken ctok(triggers);
        moodycamel::ConsumerToken ftok(to_files);
        auto write = [&](const publish::message& m) {
            const std::string_view j = m.json();
            if (out.is_open()) {
                out.write(j);
                out.write("\n");
            }
            if (stdout_file.is_open()) {
                stdout_file.write(j);
                stdout_file.write("\n");
            }
            written.add();
            if (forward) forward(m);
        };
        // Triggers this thread serialises itself: all of them without the I/O route, and with
        // it, those still queued when the I/O thread has ended (at shutdown).
        auto take_triggers = [&] {
            const std::size_t n = triggers.try_dequeue_bulk(ctok, buf.begin(), buf.size());
            batch.clear();
            serialise(buf.data(), n, json, batch);
            if (!batch.empty()) hub.publish(batch);
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
        const bool on_io = io != nullptr;
        auto take = [&] {
            std::size_t n = take_messages();
            // Once the I/O thread has ended nothing more reaches to_files; what is still in the
            // trigger queue comes after all of it, so it is taken only when to_files is empty.
            if (n == 0 && (!on_io || (io_done.load(std::memory_order_acquire) &&
                                      to_files.size_approx() == 0))) {
                n = take_triggers();
            }
            return n;
        };
        for (;;) {
            if (reopen.exchange(false, std::memory_order_acq_rel)) {
                // Rotation: what was written goes to the old file, what follows to the new.
                if (out.is_open()) out = journal::output_file(opts.out, true);
                dl.reopen();
            }
            std::size_t n = take();
            if (n == 0) {
                (void)ready.wait(20'000); // woken by the signal or I/O thread, or 20 ms
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
                (!on_io || io_done.load(std::memory_order_acquire)) &&
                triggers.size_approx() == 0 && to_files.size_approx() == 0) {
                break;
            }
        }
        write_dead(dl, scratch);
        out.flush();
        stdout_file.flush();
        dl.flush();
    }
};

trigger_publisher::trigger_publisher(const generations& gens, const core::instrument_registry& reg,
                                     publisher_options o, publish::hub& hub, dead_queue& dead)
    : p_(std::make_unique<impl>(gens, reg, std::move(o), hub, dead)) {}

trigger_publisher::~trigger_publisher() {
    if (p_->writer.joinable()) {
        io_ended();
        signal_ended();
        join();
    }
}

void trigger_publisher::serve_on(boost::asio::io_context& io) {
    p_->io = &io;
    p_->writer_timer = std::make_unique<boost::asio::steady_timer>(io);
    p_->io_token = std::make_unique<moodycamel::ConsumerToken>(p_->triggers);
    p_->io_batch.reserve(k_batch);
    p_->io_json.reserve(1024);
}

void trigger_publisher::start() {
    p_->writer = std::thread([p = p_.get()] {
        core::name_this_thread("seismo-writer");
        p->writer_loop();
    });
}

void trigger_publisher::push(const signals::trigger& t) {
    p_->triggers.enqueue(p_->signal_token, t);
}

void trigger_publisher::wake() {
    impl& p = *p_;
    if (p.io == nullptr || p.io_done.load(std::memory_order_relaxed))
        p.ready.signal(); // the writer thread serialises (no server, or the I/O has ended)
    else
        p.queued = true; // publish_here() serves it
}

void trigger_publisher::publish_here() {
    impl& p = *p_;
    if (!p.queued || p.io_done.load(std::memory_order_relaxed)) return;
    p.queued = false;
    p.io_publish();
}

void trigger_publisher::io_ended() {
    // The I/O thread has stopped (this is it, or it was joined): the timer goes while its
    // io_context is still there.
    p_->writer_timer.reset();
    p_->io_done.store(true, std::memory_order_release);
    p_->ready.signal();
}

void trigger_publisher::signal_ended() {
    p_->signal_done.store(true, std::memory_order_release);
    p_->ready.signal();
}

void trigger_publisher::reopen_outputs() noexcept {
    p_->reopen.store(true, std::memory_order_release);
    p_->ready.signal();
}

void trigger_publisher::join() {
    if (p_->writer.joinable()) p_->writer.join();
}

std::uint64_t trigger_publisher::published() const noexcept {
    return p_->written.value();
}

void trigger_publisher::on_published(
    std::function<void(const signals::trigger&, std::string_view)> f) {
    p_->observer = std::move(f);
}

void trigger_publisher::forward_to(std::function<void(const publish::message&)> f) {
    p_->forward = std::move(f);
}

namespace {

class publisher_probe final : public prometheus::Collectable {
  public:
    explicit publisher_probe(const trigger_publisher::impl& p) : p_(p) {}

    [[nodiscard]] std::vector<prometheus::MetricFamily> Collect() const override {
        using prometheus::MetricType;
        std::vector<prometheus::MetricFamily> out;
        auto triggers = publish::make_family("seismo_triggers_total",
                                             "Triggers published per signal and severity.",
                                             MetricType::Counter);
        {
            // Every signal of the running config shows, fired or not; a removed one keeps its
            // counts (counters never go back).
            std::lock_guard lock(p_.counts_mu);
            std::map<std::string, const trigger_publisher::impl::severity_counts*> names;
            for (const auto& sp : p_.gens.latest().specs)
                names.emplace(sp.name, nullptr);
            names.emplace("feed_health", nullptr);
            for (const auto& [name, c] : p_.counts)
                names[name] = c.get();
            for (const auto& [name, c] : names) {
                for (std::size_t sev = 0; sev < 3; ++sev) {
                    publish::add_sample(
                        triggers,
                        {{"signal", name},
                         {"severity", signals::to_string(static_cast<signals::severity>(sev))}},
                        c != nullptr ? static_cast<double>((*c)[sev].value()) : 0.0);
                }
            }
        }
        out.push_back(std::move(triggers));
        auto depth = publish::make_family("seismo_queue_depth", "Items waiting in an engine queue.",
                                          MetricType::Gauge);
        publish::add_sample(depth, {{"queue", "triggers"}},
                            static_cast<double>(p_.triggers.size_approx()));
        publish::add_sample(depth, {{"queue", "dead_letters"}},
                            static_cast<double>(p_.dead.pending()));
        out.push_back(std::move(depth));
        publish::add_single(out, "seismo_dead_letters_dropped_total",
                            "Dead letters not written because too many were pending.",
                            MetricType::Counter, static_cast<double>(p_.dead.dropped()));
        return out;
    }

  private:
    const trigger_publisher::impl& p_;
};

} // namespace

std::shared_ptr<prometheus::Collectable> trigger_publisher::make_probe() const {
    return std::make_shared<publisher_probe>(*p_);
}

} // namespace seismo::engine
