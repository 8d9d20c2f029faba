// Live-path benchmarks (DESIGN §12), each beside a floor measured in the same run:
//  1. in-process latency, frame read -> trigger enqueued, at --rate ticks/s with a busy-polling
//     signal thread, beside a bare queue hop between the same two threads;
//  2. the same tick path with 0, 100 and 1,000 WebSocket subscribers connected, one tick in ten
//     firing a trigger (10 k triggers/s at the default rate): fan-out deliveries/s received by
//     the subscribers, and the tick-path p99 with and without them;
// 2b. the same tick path recording a journal (run --record) and not, in alternating rounds, and
//     the saturated throughput of both;
//  3. wire to wire over loopback: a feed WebSocket frame sent -> the trigger received by a
//     WebSocket subscriber, one in flight, beside a plain Beast WebSocket echo round trip;
//     with a sleeping and a busy-polling signal thread, all three interleaved in blocks (the
//     VM's echo moves within seconds), each block's ratio beside the pooled one.
// p99.99 and max are reported as jitter (this VM's hypervisor stalls for milliseconds).
//
//   build/release/bench/live_bench [--rate 100000] [--seconds 3] [--round-trips 2000] [--rounds 3]
//                                  [--only inprocess|fanout|recording|wire] [--quick]
#include "bench/latency.hpp"
#include "bench/support.hpp"
#include "engine/config.hpp"
#include "engine/core/time.hpp"
#include "engine/runtime.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <concurrentqueue/concurrentqueue.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <pthread.h>
#include <sched.h>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using namespace seismo;
using bench::median;
using bench::pace_until;
using bench::percentiles;
using bench::pin_self;
using bench::print;
using bench::summarize;
using bench::unpin_self;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
constexpr auto k_tuple = net::as_tuple(net::use_awaitable);

// ---------------------------------------------------------------- 1. queue hop floor
percentiles queue_hop(double rate, double seconds) {
    moodycamel::ConcurrentQueue<std::int64_t> q(65536);
    std::atomic<bool> done{false};
    std::vector<std::int64_t> lat;
    lat.reserve(static_cast<std::size_t>(rate * seconds) + 16);
    std::thread consumer([&] {
        pin_self(1);
        std::int64_t buf[256];
        for (;;) {
            const std::size_t n = q.try_dequeue_bulk(buf, 256);
            const core::nanos now = core::realtime_now();
            for (std::size_t i = 0; i < n; ++i)
                lat.push_back(now - buf[i]);
            if (n == 0 && done.load(std::memory_order_acquire) && q.size_approx() == 0) break;
        }
    });
    moodycamel::ProducerToken tok(q);
    const auto total = static_cast<std::size_t>(rate * seconds);
    const core::nanos step = static_cast<core::nanos>(1e9 / rate);
    core::nanos due = core::monotonic_now();
    for (std::size_t i = 0; i < total; ++i) {
        pace_until(due);
        due += step;
        q.enqueue(tok, core::realtime_now());
    }
    done = true;
    consumer.join();
    return summarize(lat);
}

// ---------------------------------------------------------------- subscribers
/// WebSocket subscribers on their own io thread, counting the messages they receive.
struct subscribers {
    net::io_context io;
    std::atomic<std::uint64_t> received{0};
    std::atomic<std::size_t> ready{0};
    std::vector<std::int64_t> arrival; // the first subscriber's receive times, by trigger seq
    std::thread thread;

    net::awaitable<void> one(std::uint16_t port, bool record) {
        websocket::stream<beast::tcp_stream> ws(co_await net::this_coro::executor);
        tcp::resolver r(co_await net::this_coro::executor);
        auto [rec, eps] = co_await r.async_resolve("127.0.0.1", std::to_string(port), k_tuple);
        if (rec) co_return;
        auto [cec, ep] = co_await beast::get_lowest_layer(ws).async_connect(eps, k_tuple);
        if (cec) co_return;
        (void)ep;
        beast::error_code nec;
        beast::get_lowest_layer(ws).socket().set_option(tcp::no_delay(true), nec);
        auto [hec] = co_await ws.async_handshake("127.0.0.1", "/v1/stream", k_tuple);
        if (hec) co_return;
        auto [wec, n] = co_await ws.async_write(
            net::buffer(std::string_view(R"({"op":"subscribe","topics":["*"]})")), k_tuple);
        if (wec) co_return;
        (void)n;
        beast::flat_buffer buf;
        auto [sec, sn] = co_await ws.async_read(buf, k_tuple); // the snapshot
        if (sec) co_return;
        (void)sn;
        ready.fetch_add(1);
        // Then raw reads: a client as cheap as can be (the server's frames are unmasked text
        // frames; one read takes many), so that the figure is the server's.
        auto& sock = beast::get_lowest_layer(ws).socket();
        std::vector<char> raw(256 * 1024);
        std::size_t have = 0;
        for (;;) {
            auto [ec, got] = co_await sock.async_read_some(
                net::buffer(raw.data() + have, raw.size() - have), k_tuple);
            if (ec) co_return;
            have += got;
            std::size_t at = 0;
            std::uint64_t frames = 0;
            for (;;) {
                if (have - at < 2) break;
                const auto* h = reinterpret_cast<const unsigned char*>(raw.data() + at);
                std::size_t len = h[1] & 0x7f, head = 2;
                if (len == 126) {
                    if (have - at < 4) break;
                    len = (std::size_t{h[2]} << 8) | h[3];
                    head = 4;
                } else if (len == 127) {
                    if (have - at < 10) break;
                    len = 0;
                    for (int k = 0; k < 8; ++k)
                        len = (len << 8) | h[2 + k];
                    head = 10;
                }
                if (have - at < head + len) break;
                if ((h[0] & 0x0f) == 0x1) {
                    ++frames;
                    if (record) {
                        // Arrival by the trigger's seq (1, 2, ...: one per crossing).
                        const std::string_view f(raw.data() + at + head, len);
                        const auto p = f.find(R"("seq":)");
                        if (p != std::string_view::npos) {
                            const auto seq = static_cast<std::size_t>(
                                std::strtoull(f.data() + p + 6, nullptr, 10));
                            if (seq >= 1 && seq <= arrival.size())
                                arrival[seq - 1] = core::realtime_now();
                        }
                    }
                }
                at += head + len;
            }
            std::memmove(raw.data(), raw.data() + at, have - at);
            have -= at;
            if (have == raw.size()) co_return; // a frame larger than the buffer: not ours
            received.fetch_add(frames, std::memory_order_relaxed);
        }
    }

    void start(std::uint16_t port, std::size_t n, std::size_t record_n = 0) {
        arrival.assign(record_n, 0);
        for (std::size_t i = 0; i < n; ++i)
            net::co_spawn(io, one(port, record_n != 0 && i == 0), net::detached);
        thread = std::thread([this] {
            unpin_self(); // not on the feeder's CPU (which it would inherit)
            io.run();
        });
        while (ready.load() < n)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ~subscribers() {
        io.stop();
        if (thread.joinable()) thread.join();
    }
};

const char* k_config = R"(
[engine]
busy_poll = true
pin_cpu = 1
lateness = "1h"
[server]
listen = "127.0.0.1:0"
replay_ring = 1024
session_queue = 65536
max_connections = 4096
[[instrument]]
symbol = "X"
[[signal]]
name = "x_low"
kind = "level"
instruments = ["X"]
levels = [{ at = 90, severity = "warning" }]
)";

/// k_config for a mode: busy-polling on CPU 1 (as written), or the default (parking, unpinned);
/// with the server's connections on `io_threads` threads of their own.
std::string config_text(bool busy, std::size_t io_threads = 0, int coalesce_ms = 0) {
    std::string text = k_config;
    text.replace(text.find("[server]\n"), 9,
                 "[server]\nio_threads = " + std::to_string(io_threads) + "\ncoalesce = \"" +
                     std::to_string(coalesce_ms) + "ms\"\n");
    if (!busy) {
        text.replace(text.find("busy_poll = true"), 16, "busy_poll = false");
        text.replace(text.find("pin_cpu = 1"), 11, "pin_cpu = -1");
    }
    return text;
}

struct engine_result {
    percentiles lat;
    double deliveries_per_s = 0;
    double triggers_per_s = 0;
    double seismo_cpu = 0;  ///< seconds of CPU: the process's, less the harness threads'
    double client_cpu = 0;  ///< seconds of CPU the subscribers' client thread used
    double per_write = 0;   ///< deliveries per write to a subscriber
    double seconds = 0;     ///< wall time the deliveries took
    percentiles sub_lat;    ///< tick injected -> trigger received by a subscriber
    std::uint64_t lost = 0; ///< deliveries expected and never received
    std::map<std::string, double> threads; ///< CPU seconds per seismo thread name, this run
};

/// CPU seconds a thread has used (any thread of this process).
double thread_cpu(pthread_t t) {
    clockid_t id;
    timespec ts{};
    if (pthread_getcpuclockid(t, &id) != 0 || clock_gettime(id, &ts) != 0) return 0;
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}
double process_cpu() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

/// CPU seconds used so far by each of this process's threads named `seismo-*`, by name (threads
/// that have exited are gone from the list: take both ends while the engine runs).
std::map<std::string, double> seismo_thread_cpu() {
    std::map<std::string, double> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/task", ec)) {
        std::ifstream comm(e.path() / "comm");
        std::string name;
        std::getline(comm, name);
        if (name.rfind("seismo-", 0) != 0) continue;
        std::ifstream sched(e.path() / "schedstat"); // first field: ns on a CPU
        double ns = 0;
        sched >> ns;
        out[name] += ns / 1e9;
    }
    return out;
}

/// A fresh journal directory for a recording run (removed by the caller with
/// bench::remove_journal).
std::string journal_dir() {
    return "/var/tmp/seismo_live_bench_journal_" + std::to_string(::getpid());
}

/// Ticks at `rate` into the inproc feed; every `every`-th tick crosses the level (one trigger).
/// With `record`, the run records a journal as `seismo run --record` does.
engine_result engine_run(double rate, double seconds, std::size_t every, std::size_t n_subs,
                         bool serve, bool record = false, bool busy = true,
                         std::size_t io_threads = 0, int coalesce_ms = 0) {
    const engine::config cfg =
        engine::load_config_string(config_text(busy, io_threads, coalesce_ms), "live_bench");
    engine::run_options o;
    o.print = false;
    o.serve = serve;
    o.inproc_feed = true;
    if (record) {
        o.record_dir = journal_dir();
        bench::remove_journal(o.record_dir);
    }
    const auto total = static_cast<std::size_t>(rate * seconds);
    o.latency_samples = total / every + 16;
    engine::runtime rt(cfg, o);
    rt.start();
    std::unique_ptr<subscribers> subs;
    if (n_subs > 0) {
        subs = std::make_unique<subscribers>();
        subs->start(rt.port(), n_subs, total / every + 16);
    }
    std::vector<std::int64_t> injected;
    injected.reserve(total / every + 16);
    const double cpu0 = process_cpu();
    const std::map<std::string, double> threads0 = seismo_thread_cpu();
    const double main0 = thread_cpu(pthread_self());
    const double subs0 = subs ? thread_cpu(subs->thread.native_handle()) : 0.0;
    std::string frame;
    const core::nanos step = static_cast<core::nanos>(1e9 / rate);
    core::nanos due = core::monotonic_now();
    const core::nanos t0 = due;
    std::uint64_t crossings = 0;
    for (std::size_t i = 0; i < total; ++i) {
        pace_until(due);
        due += step;
        double px = 95;
        if (i % every == 0)
            px = (crossings++ % 2 == 0) ? 85 : 95;
        else
            px = (crossings % 2 == 1) ? 86 : 96; // same side: no trigger
        frame =
            R"({"sym":"X","px":)" + std::to_string(px) + R"(,"seq":)" + std::to_string(i + 1) + "}";
        const core::nanos now = core::realtime_now();
        if (i % every == 0) injected.push_back(now);
        rt.inject(frame, now);
    }
    const double elapsed = static_cast<double>(core::monotonic_now() - t0) / 1e9;
    // let the subscribers catch up with what was published
    if (subs) {
        const std::uint64_t want = crossings * n_subs;
        const core::nanos give_up = core::monotonic_now() + 20 * core::k_ns_per_s;
        while (subs->received.load() < want && core::monotonic_now() < give_up)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const double drained = static_cast<double>(core::monotonic_now() - t0) / 1e9;
    engine_result r;
    for (const auto& [name, sec] : seismo_thread_cpu()) {
        const auto was = threads0.find(name);
        r.threads[name] = sec - (was != threads0.end() ? was->second : 0.0);
    }
    r.client_cpu = subs ? thread_cpu(subs->thread.native_handle()) - subs0 : 0.0;
    r.seismo_cpu = (process_cpu() - cpu0) - (thread_cpu(pthread_self()) - main0) - r.client_cpu;
    r.seconds = drained;
    r.triggers_per_s = static_cast<double>(crossings) / elapsed;
    if (subs) {
        r.deliveries_per_s = static_cast<double>(subs->received.load()) / drained;
        r.lost = crossings * n_subs - std::min(crossings * n_subs, subs->received.load());
        std::vector<std::int64_t> sl;
        for (std::size_t k = 0; k < injected.size() && k < subs->arrival.size(); ++k) {
            if (subs->arrival[k] != 0) sl.push_back(subs->arrival[k] - injected[k]);
        }
        r.sub_lat = summarize(sl);
    }
    const engine::run_figures fig = rt.figures();
    r.per_write = fig.subscriber_writes != 0 ? static_cast<double>(fig.deliveries) /
                                                   static_cast<double>(fig.subscriber_writes)
                                             : 0.0;
    subs.reset();
    rt.request_stop();
    rt.wait();
    r.lat = summarize(rt.latency_samples());
    if (record) bench::remove_journal(o.record_dir);
    return r;
}

/// Saturation: `n` frames injected back to back; seconds until the signal thread has applied
/// them all (the tick path's throughput), with or without recording.
double saturation(std::size_t n, bool record) {
    const engine::config cfg = engine::load_config_string(k_config, "live_bench");
    engine::run_options o;
    o.print = false;
    o.serve = false;
    o.inproc_feed = true;
    if (record) {
        o.record_dir = journal_dir();
        bench::remove_journal(o.record_dir);
    }
    std::vector<std::string> frames;
    frames.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        frames.push_back(R"({"sym":"X","px":)" +
                         std::to_string(i % 10 == 0 ? 85 + (i / 10) % 2 * 10 : 95) + R"(,"seq":)" +
                         std::to_string(i + 1) + "}");
    }
    engine::runtime rt(cfg, o);
    rt.start();
    const core::nanos t0 = core::monotonic_now();
    for (const auto& f : frames)
        rt.inject(f, core::realtime_now());
    while (rt.figures().applied < n)
        std::this_thread::yield();
    const double secs = static_cast<double>(core::monotonic_now() - t0) / 1e9;
    rt.request_stop();
    rt.wait();
    if (record) bench::remove_journal(o.record_dir);
    return secs;
}

// ---------------------------------------------------------------- 3. wire to wire
constexpr std::size_t k_wire_blocks = 20, k_wire_warm = 20;
// This VM's loopback moves between levels (an echo of 5 to 400 µs) within seconds, so the echo
// and the two modes are measured interleaved: blocks of round trips, echo then default mode
// then busy-poll mode, each block a fresh engine, its first trips (cold caches, the first
// wake-ups) left out. The pooled percentiles and each block's own ratio are reported.

/// A plain Beast WebSocket echo over loopback: a server thread and this thread's client. The
/// server thread is unpinned (`server_cpu` < 0), or pinned: to the CPU the client's round trips
/// are then run on (CPU 0) for a wake-up within one CPU, or to another for one across CPUs.
class echo_link {
  public:
    echo_link(std::size_t size, int server_cpu)
        : acc_(io_, local_any()), msg_(size, 'x'), ws_(cio_) {
        const auto port = acc_.local_endpoint().port();
        server_ = std::thread([this, server_cpu] {
            if (server_cpu >= 0) pin_self(server_cpu);
            tcp::socket s = acc_.accept();
            s.set_option(tcp::no_delay(true));
            websocket::stream<tcp::socket> ws(std::move(s));
            ws.accept();
            beast::flat_buffer b;
            for (;;) {
                beast::error_code ec;
                ws.read(b, ec);
                if (ec) break;
                ws.text(true);
                ws.write(b.data(), ec);
                if (ec) break;
                b.consume(b.size());
            }
        });
        ws_.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
        ws_.next_layer().set_option(tcp::no_delay(true));
        ws_.handshake("127.0.0.1", "/");
    }
    echo_link(const echo_link&) = delete;
    echo_link& operator=(const echo_link&) = delete;
    ~echo_link() {
        beast::error_code ec;
        ws_.close(websocket::close_code::normal, ec);
        server_.join();
    }
    /// One round trip, ns.
    core::nanos trip() {
        const core::nanos t = core::monotonic_now();
        ws_.write(net::buffer(msg_));
        ws_.read(b_);
        const core::nanos d = core::monotonic_now() - t;
        b_.consume(b_.size());
        return d;
    }

  private:
    static tcp::endpoint local_any() {
        return tcp::endpoint(net::ip::make_address("127.0.0.1"), 0);
    }
    net::io_context io_, cio_;
    tcp::acceptor acc_;
    std::string msg_;
    websocket::stream<tcp::socket> ws_;
    beast::flat_buffer b_;
    std::thread server_;
};

/// Accepts one connection within 10 s (seismo's feed session connecting), or throws.
tcp::socket accept_within(tcp::acceptor& acc) {
    acc.non_blocking(true);
    const core::nanos give_up = core::monotonic_now() + 10 * core::k_ns_per_s;
    for (;;) {
        beast::error_code ec;
        tcp::socket s = acc.accept(ec);
        if (!ec) {
            s.non_blocking(false);
            return s;
        }
        if (ec != net::error::would_block && ec != net::error::try_again)
            throw beast::system_error(ec);
        if (core::monotonic_now() > give_up)
            throw std::runtime_error("live_bench: seismo's feed never connected");
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
}

/// Where a round trip's time went, from the trigger's own receive time and serialisation
/// latency (SEISMO_BENCH_BREAKDOWN).
struct breakdown {
    std::vector<std::int64_t> to_read, enqueued, serialised, to_received;
};

/// seismo in the default mode, or with `busy` [engine] busy_poll (one pinned thread running the
/// feed's I/O, the signal step and the fan-out), fed by a generic feed served from this thread
/// and read by one subscriber: blocking Beast streams on the calling thread, as the echo's
/// client is. A round trip writes the frame, then reads the subscriber's socket — the same two
/// wake-ups the echo crosses, and nothing else of the harness's in the figure.
class wire_link {
  public:
    wire_link(bool busy, std::size_t trips)
        : acc_(io_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)), sub_(io_) {
        std::string text = config_text(busy);
        text += "[[feed]]\nname = \"wire\"\nvenue = \"generic\"\nurl = \"ws://127.0.0.1:" +
                std::to_string(acc_.local_endpoint().port()) +
                "/\"\nsymbols = [\"X\"]\nstale_after = \"1h\"\n";
        const engine::config cfg = engine::load_config_string(text, "live_bench");
        engine::run_options o;
        o.print = false;
        o.latency_samples = trips + 16;
        rt_ = std::make_unique<engine::runtime>(cfg, o);
        rt_->start();
        feed_.emplace(accept_within(acc_));
        feed_->next_layer().set_option(tcp::no_delay(true));
        feed_->accept();
        beast::flat_buffer fb;
        feed_->read(fb); // the feed's subscribe request
        feed_->text(true);
        sub_.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), rt_->port()));
        sub_.next_layer().set_option(tcp::no_delay(true));
        sub_.handshake("127.0.0.1", "/v1/stream");
        sub_.text(true);
        sub_.write(net::buffer(std::string_view(R"({"op":"subscribe","topics":["*"]})")));
        sub_.read(sb_); // the snapshot
        sb_.consume(sb_.size());
    }
    wire_link(const wire_link&) = delete;
    wire_link& operator=(const wire_link&) = delete;
    ~wire_link() { stop(nullptr, 0); }

    /// One round trip, ns: frame written -> trigger read; its parts into `bd` when `bd`.
    core::nanos trip(breakdown* bd) {
        const double px = seq_ % 2 == 0 ? 85 : 95; // every frame fires or clears
        f_ = R"({"sym":"X","px":)" + std::to_string(px) + R"(,"seq":)" + std::to_string(++seq_) +
             "}";
        const core::nanos t = core::monotonic_now();
        const core::nanos wall = core::realtime_now();
        feed_->write(net::buffer(f_));
        sub_.read(sb_);
        const core::nanos arrived = core::monotonic_now();
        const std::string_view m(static_cast<const char*>(sb_.data().data()), sb_.size());
        if (m.size() < 10 || m.substr(0, 10) != R"({"type":"t)") {
            std::fprintf(stderr, "live_bench: expected a trigger, got %.*s\n",
                         static_cast<int>(std::min<std::size_t>(m.size(), 200)), m.data());
            std::exit(1);
        }
        if (bd != nullptr) {
            // The trigger carries its frame's receive time and the latency from there to its
            // serialisation.
            const auto r = m.find(R"("recv_ts":")");
            const auto l = m.find(R"("latency_ns":)");
            core::nanos recv = 0;
            if (r != std::string_view::npos && l != std::string_view::npos &&
                core::parse_rfc3339(m.substr(r + 11, m.find('"', r + 11) - r - 11), recv)) {
                const core::nanos ser = std::strtoll(m.data() + l + 13, nullptr, 10);
                bd->to_read.push_back(recv - wall);
                bd->serialised.push_back(ser);
                bd->to_received.push_back(arrived - t - (recv - wall) - ser);
            }
        }
        sb_.consume(sb_.size());
        return arrived - t;
    }
    /// Stops the engine; its enqueue latencies after the first `skip` into `bd`.
    void stop(breakdown* bd, std::size_t skip) {
        if (!rt_) return;
        beast::error_code ec;
        sub_.close(websocket::close_code::normal, ec);
        rt_->request_stop();
        rt_->wait();
        if (bd != nullptr) {
            const auto lat = rt_->latency_samples();
            for (std::size_t i = std::min(skip, lat.size()); i < lat.size(); ++i)
                bd->enqueued.push_back(lat[i]);
        }
        feed_.reset();
        rt_.reset();
    }

  private:
    net::io_context io_;
    tcp::acceptor acc_;
    std::unique_ptr<engine::runtime> rt_;
    std::optional<websocket::stream<tcp::socket>> feed_;
    websocket::stream<tcp::socket> sub_;
    beast::flat_buffer sb_;
    std::string f_;
    std::uint64_t seq_ = 0;
};

struct wire_figures {
    std::vector<std::int64_t> echo, modes[2];
    std::vector<std::int64_t> echo_one_cpu, echo_two_cpus; ///< the echo's two kinds of wake-up
    std::vector<double> block_p50_ratio[2]; ///< each block's mode p50 over its echo p50
    breakdown parts[2];
};

/// `trips` round trips of each path in `blocks` interleaved blocks (plus `warm` uncounted ones
/// at each block's start).
wire_figures wire_interleaved(std::size_t trips, std::size_t blocks, std::size_t warm) {
    wire_figures w;
    const bool parts = std::getenv("SEISMO_BENCH_BREAKDOWN") != nullptr;
    const std::size_t per = std::max<std::size_t>(1, trips / blocks);
    echo_link echo(120, -1);
    const bool two = std::thread::hardware_concurrency() >= 2;
    echo_link echo_one(120, 0), echo_two(120, two ? 1 : 0);
    for (std::size_t b = 0; b < blocks; ++b) {
        std::vector<std::int64_t> e;
        for (std::size_t i = 0; i < warm + per; ++i) {
            const core::nanos d = echo.trip();
            if (i >= warm) e.push_back(d);
        }
        const double echo_p50 = summarize(e).p50;
        w.echo.insert(w.echo.end(), e.begin(), e.end());
        // The same echo with both threads on CPU 0, and with its server on CPU 1: where the
        // unpinned echo's two levels come from.
        pin_self(0);
        for (std::size_t i = 0; i < warm + per; ++i) {
            const core::nanos d1 = echo_one.trip();
            const core::nanos d2 = echo_two.trip();
            if (i >= warm) {
                w.echo_one_cpu.push_back(d1);
                w.echo_two_cpus.push_back(d2);
            }
        }
        unpin_self();
        for (int busy = 0; busy < 2; ++busy) {
            // Busy-polling, the engine's thread has CPU 1 to itself; this thread keeps off it.
            if (busy != 0 && std::thread::hardware_concurrency() >= 2) pin_self(0);
            std::vector<std::int64_t> m;
            {
                wire_link link(busy != 0, warm + per);
                for (std::size_t i = 0; i < warm + per; ++i) {
                    const core::nanos d = link.trip(parts && i >= warm ? &w.parts[busy] : nullptr);
                    if (i >= warm) m.push_back(d);
                }
                link.stop(parts ? &w.parts[busy] : nullptr, warm);
            }
            if (busy != 0) unpin_self();
            w.block_p50_ratio[busy].push_back(echo_p50 > 0 ? summarize(m).p50 / echo_p50 : 0);
            w.modes[busy].insert(w.modes[busy].end(), m.begin(), m.end());
        }
    }
    return w;
}

} // namespace

int main(int argc, char** argv) {
    double rate = 100'000, seconds = 3;
    std::size_t trips = 2000;
    int rounds = 3;
    std::string only;
    bool quick = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--rate") == 0 && i + 1 < argc)
            rate = std::stod(argv[++i]);
        else if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = std::stod(argv[++i]);
        else if (std::strcmp(argv[i], "--round-trips") == 0 && i + 1 < argc)
            trips = std::stoul(argv[++i]);
        else if (std::strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = std::max(1, std::atoi(argv[++i]));
        else if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc &&
                 (std::strcmp(argv[i + 1], "inprocess") == 0 ||
                  std::strcmp(argv[i + 1], "fanout") == 0 ||
                  std::strcmp(argv[i + 1], "fanout-cpu") == 0 ||
                  std::strcmp(argv[i + 1], "recording") == 0 ||
                  std::strcmp(argv[i + 1], "wire") == 0))
            only = argv[++i];
        else if (std::strcmp(argv[i], "--quick") == 0) {
            quick = true;
            rate = 20'000;
            seconds = 0.3;
            trips = 100;
            rounds = 1;
        } else {
            std::fprintf(
                stderr,
                "usage: live_bench [--rate N] [--seconds S] [--round-trips N] "
                "[--rounds N] [--only inprocess|fanout|fanout-cpu|recording|wire] [--quick]\n");
            return 2;
        }
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    if (std::thread::hardware_concurrency() >= 2 && std::getenv("SEISMO_NO_PIN") == nullptr)
        pin_self(0);
    std::printf("live_bench: %.0f ticks/s for %.1f s per run; %zu wire round trips\n", rate,
                seconds, trips);
    auto section = [&](const char* name) { return only.empty() || only == name; };
    if (section("inprocess")) {
        std::printf("1. in-process, frame read -> trigger enqueued, busy-polling signal thread (1 "
                    "tick in 10 a trigger)\n");
        const percentiles hop = queue_hop(rate, seconds);
        print("floor: bare queue hop between two threads", hop);
        const engine_result all = engine_run(rate, seconds, 10, 0, false);
        print("engine: parse + queue + signals + enqueue", all.lat);
        std::printf("     ratio to the hop: p50 %.2fx, p99 %.2fx (targets: p50 <= 1 us, p99 <= 3 "
                    "us, p99.9 <= 20 us)\n",
                    all.lat.p50 / hop.p50, all.lat.p99 / hop.p99);
    }
    if (section("fanout")) {
        std::printf(
            "2. fan-out: one tick in ten a trigger (%.0f triggers/s), subscribers on loopback\n",
            rate / 10);
        const engine_result none = engine_run(rate, seconds, 10, 0, true);
        print("tick path, no subscribers", none.lat);
        for (std::size_t n : {std::size_t{100}, std::size_t{1000}}) {
            // The subscribers on a thread of their own ([server] io_threads = 1), so that the
            // fan-out does not run on the signal thread.
            const engine_result r = engine_run(rate, seconds, 10, n, true, false, true, 1);
            char what[64];
            std::snprintf(what, sizeof what, "tick path, %zu subscribers", n);
            print(what, r.lat);
            std::printf("     %zu subscribers: %.2f M deliveries/s received (%.0f triggers/s); "
                        "tick p99 %.2fx of no subscribers\n",
                        n, r.deliveries_per_s / 1e6, r.triggers_per_s,
                        none.lat.p99 > 0 ? r.lat.p99 / none.lat.p99 : 0.0);
        }
    }
    if (section("fanout") || only == "fanout-cpu") {
        // Deliveries per second of seismo's own CPU: the default (parking) mode, so that its
        // threads use CPU only for work; the subscribers' client and this feeding thread are
        // left out (pthread_getcpuclockid), the process's other threads are seismo's.
        std::printf("2c. fan-out per core of seismo's CPU (default mode, threads unpinned; the "
                    "client's and the feeder's CPU left out)\n");
        unpin_self(); // seismo's threads inherit it: none is tied to the feeder's CPU
        // Every tick a trigger (the feeder's own work, left out anyway, is then the least);
        // the subscribers on the engine's thread (io_threads 0) or on one of their own.
        struct point {
            std::size_t subs;
            double triggers;
            std::size_t threads;
            int coalesce_ms = 0;
        };
        // Points 4-7 load the fan-out thread fully: what one core delivers at most.
        const point points[] = {{100, 5000, 0},
                                {100, 5000, 1},
                                {1000, 500, 0},
                                {1000, 500, 1},
                                {1000, 2000, 0},
                                {1000, 2000, 1},
                                {100, 20000, 0},
                                {100, 20000, 1},
                                // [server] coalesce: fewer, larger writes for CPU.
                                {100, 5000, 1, 2},
                                {1000, 2000, 1, 2}};
        const char* only_point = std::getenv("SEISMO_BENCH_POINT");
        for (std::size_t pi = 0; pi < std::size(points); ++pi) {
            const point pt = points[pi];
            if (only_point != nullptr && std::strtoul(only_point, nullptr, 10) != pi) continue;
            const double trig = quick ? pt.triggers / 10 : pt.triggers;
            const engine_result r = engine_run(trig, seconds, 1, pt.subs, true, false, false,
                                               pt.threads, pt.coalesce_ms);
            char what[96];
            if (pt.coalesce_ms != 0) {
                std::snprintf(what, sizeof what,
                              "%zu x %.0f, io_threads %zu, coalesce %d ms:", pt.subs, trig,
                              pt.threads, pt.coalesce_ms);
            } else {
                std::snprintf(what, sizeof what, "%zu subs x %.0f trig/s, io_threads %zu: received",
                              pt.subs, trig, pt.threads);
            }
            print(what, r.sub_lat);
            const double delivered = r.deliveries_per_s * r.seconds;
            std::printf("     %.2f M deliveries/s (%.1f per write), seismo CPU %.3f s in %.2f s "
                        "(%.2f cores): %.2f M deliveries per CPU-second (target >= 2); %llu "
                        "lost; client CPU %.2f cores\n",
                        r.deliveries_per_s / 1e6, r.per_write, r.seismo_cpu, r.seconds,
                        r.seismo_cpu / r.seconds,
                        r.seismo_cpu > 0 ? delivered / r.seismo_cpu / 1e6 : 0.0,
                        static_cast<unsigned long long>(r.lost), r.client_cpu / r.seconds);
            std::printf("     seismo's threads, cores:");
            for (const auto& [name, sec] : r.threads)
                std::printf(" %s %.2f", name.c_str(), sec / r.seconds);
            std::printf("\n");
        }
    }

    if (section("recording")) {
        std::printf("2b. recording (run --record): the same tick path writing a journal, %d "
                    "alternating rounds\n",
                    rounds);
        // Rounds alternate so drift in the machine (other tenants, the page cache) hits both sides;
        // the ratio is of the medians over the rounds.
        std::vector<double> p50_plain, p50_rec, p99_plain, p99_rec;
        for (int r = 0; r < rounds; ++r) {
            const engine_result plain = engine_run(rate, seconds, 10, 0, false);
            const engine_result rec = engine_run(rate, seconds, 10, 0, false, true);
            print("tick path, not recording", plain.lat);
            print("tick path, recording a journal", rec.lat);
            p50_plain.push_back(plain.lat.p50);
            p50_rec.push_back(rec.lat.p50);
            p99_plain.push_back(plain.lat.p99);
            p99_rec.push_back(rec.lat.p99);
        }
        std::printf("     recording / not (medians of %d rounds): p50 %.2fx, p99 %.2fx (target: <= "
                    "1.10x)\n",
                    rounds, median(p50_rec) / median(p50_plain),
                    median(p99_rec) / median(p99_plain));
        const auto n = static_cast<std::size_t>(rate * seconds * 5);
        double best_plain = 1e99, best_rec = 1e99;
        for (int r = 0; r < 3; ++r) {
            best_plain = std::min(best_plain, saturation(n, false));
            best_rec = std::min(best_rec, saturation(n, true));
        }
        std::printf("     saturated, %zu frames back to back: %.2f M ticks/s not recording, %.2f M "
                    "ticks/s recording (%.2fx the time)\n",
                    n, static_cast<double>(n) / best_plain / 1e6,
                    static_cast<double>(n) / best_rec / 1e6, best_rec / best_plain);
    }
    if (!section("wire")) return 0;

    std::printf("3. wire to wire over loopback WebSocket, one in flight (threads unpinned), the "
                "echo and both modes interleaved in %zu blocks\n",
                k_wire_blocks);
    unpin_self();
    const wire_figures w = wire_interleaved(trips, k_wire_blocks, k_wire_warm);
    const percentiles echo = summarize(w.echo);
    print("floor: plain Beast WebSocket echo round trip", echo);
    print("  the echo, both threads on one CPU", summarize(w.echo_one_cpu));
    print("  the echo, its server on the other CPU", summarize(w.echo_two_cpus));
    const char* names[2] = {"feed frame sent -> trigger received", "the same, busy-polling"};
    for (int busy = 0; busy < 2; ++busy) {
        if (!w.parts[busy].to_read.empty()) {
            print("  written -> frame read by seismo", summarize(w.parts[busy].to_read));
            print("  frame read -> trigger enqueued", summarize(w.parts[busy].enqueued));
            print("  frame read -> trigger serialised", summarize(w.parts[busy].serialised));
            print("  serialised -> received", summarize(w.parts[busy].to_received));
        }
        const percentiles p = summarize(w.modes[busy]);
        print(names[busy], p);
        std::vector<double> r = w.block_p50_ratio[busy];
        std::sort(r.begin(), r.end());
        std::printf("     ratio to the echo: p50 %.2fx, p99 %.2fx; per block p50 median %.2fx "
                    "(%.2f-%.2fx)  (targets: %s)\n",
                    p.p50 / echo.p50, p.p99 / echo.p99, median(r), r.front(), r.back(),
                    busy != 0 ? "p50 <= 1.0x, p99 <= 1.5x" : "p50 <= 1.5x, p99 <= 2x");
    }
    return 0;
}
