// NATS JetStream benchmarks (DESIGN §10, §12), on a 3-node nats-server cluster this program
// starts on loopback ports (each node its own store directory; R3 streams) and stops at the end.
// Each figure beside a floor measured in the same run, on the same cluster:
//  1. trigger publish: a tick injected -> its trigger acknowledged by JetStream (R3), one in
//     flight, through the whole engine (signal thread, writer thread, publisher thread, nats.c);
//     floor: a bare nats.c js_Publish round trip of the same bytes (synchronous, one in flight).
//     Target: p50 <= 1.5x the floor's.
//  2. tick ingest: a stream pre-filled with --ticks generic-protocol ticks, drained by an
//     engine's `venue = "nats"` feed into the signal thread (every tick applied); floor: a bare
//     nats.c ordered consumer draining the same stream. Target: >= 50% of the floor's rate.
//  3. fan-out: triggers published by the engine reach 100 core-NATS subscribers (the server
//     fans out); floor: the same bytes published by a bare nats.c connection to the same
//     subscribers. Deliveries per second, both.
//
//   build/release/bench/nats_bench [--publishes 1000] [--ticks 200000] [--fanout 5000] [--quick]
#include "bench/latency.hpp"
#include "engine/config.hpp"
#include "engine/core/time.hpp"
#include "engine/publish/nats.hpp"
#include "engine/runtime.hpp"
#include "tests/tools/nats_servers.hpp"

#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace seismo;
using bench::summarize;

using cluster = test_support::nats_servers;

std::string servers_toml(const cluster& c) {
    std::string s = "servers = [";
    for (std::size_t i = 0; i < c.urls().size(); ++i)
        s += (i ? ", \"" : "\"") + c.urls()[i] + "\"";
    return s + "]\n";
}

publish::nats_endpoint endpoint(const cluster& c) {
    publish::nats_endpoint e;
    e.servers = c.urls();
    e.name = "nats_bench";
    return e;
}

/// Streams made once the cluster has elected its meta leader.
void make_streams(const publish::nats_connection& c) {
    for (int attempt = 0;; ++attempt) {
        try {
            publish::ensure_stream(c, {"SEISMO_TICKS", "seismo.tick.>", 3, 3600 * core::k_ns_per_s,
                                       600 * core::k_ns_per_s});
            publish::ensure_stream(c, {"SEISMO_TRIGGERS", "seismo.trigger.>", 3,
                                       3600 * core::k_ns_per_s, 600 * core::k_ns_per_s});
            return;
        } catch (const publish::nats_error&) {
            if (attempt > 100) throw;
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
    }
}

std::string engine_config(const cluster& c, bool nats_feed) {
    std::string s = "[engine]\ndeterministic = true\n[nats]\n" + servers_toml(c) +
                    "replicas = 3\nmax_age = \"1h\"\nrebuild_margin = \"1h\"\n";
    if (nats_feed) s += "[[feed]]\nname = \"cluster\"\nvenue = \"nats\"\n";
    s += R"([[instrument]]
symbol = "X"
kind = "level"

[[instrument]]
symbol = "Y"

[[signal]]
name = "x_high"
kind = "level"
instruments = ["X"]
direction = "above"
levels = [{ at = 2 }]

[[signal]]
name = "y_drop"
kind = "drawdown"
instruments = ["Y"]
window = "10m"
levels = [{ at = -0.5 }]
)";
    return s;
}

// ------------------------------------------------------------------ 1. publish latency

void publish_latency(const cluster& cl, int n) {
    publish::nats_connection c(endpoint(cl), 10 * core::k_ns_per_s);
    make_streams(c);
    const std::string bytes =
        R"({"type":"trigger","seq":1,"signal":"x_high","kind":"level","state":"fired","severity":"info","instrument":"X","value":3,"threshold":2,"px":3,"event_ts":"2026-12-01T00:00:00.000000000Z","cause":[],"config":"0123456789abcdef"})";
    // Floor: a bare js_Publish round trip of the same bytes, one in flight.
    std::vector<std::int64_t> floor;
    for (int i = 0; i < n; ++i) {
        natsMsg* m = nullptr;
        natsMsg_Create(&m, "seismo.trigger.x_high.X", nullptr, bytes.data(),
                       static_cast<int>(bytes.size()));
        const std::string id = "floor:" + std::to_string(i);
        natsMsgHeader_Set(m, "Nats-Msg-Id", id.c_str());
        jsPubAck* pa = nullptr;
        jsErrCode jerr = static_cast<jsErrCode>(0);
        const core::nanos t0 = core::monotonic_now();
        const natsStatus s = js_PublishMsg(&pa, c.js(), m, nullptr, &jerr);
        const core::nanos t1 = core::monotonic_now();
        if (s == NATS_OK) floor.push_back(t1 - t0);
        jsPubAck_Destroy(pa);
        natsMsg_Destroy(m);
    }
    // seismo: a tick injected -> its trigger acked, one in flight.
    const engine::config cfg = engine::load_config_string(engine_config(cl, false), "bench");
    std::vector<std::atomic<core::nanos>> acked(static_cast<std::size_t>(n) + 2);
    engine::run_options o;
    o.print = false;
    o.serve = false;
    o.inproc_feed = true;
    o.nats_ack = [&acked](std::string_view id) {
        const auto colon = id.rfind(':');
        const std::size_t seq =
            std::strtoull(std::string(id.substr(colon + 1)).c_str(), nullptr, 10);
        if (seq < acked.size()) acked[seq].store(core::monotonic_now(), std::memory_order_release);
    };
    engine::runtime rt(cfg, o);
    rt.start();
    std::vector<std::int64_t> path;
    for (int i = 1; i <= n; ++i) {
        const std::string frame = std::string(R"({"sym":"X","px":)") + (i % 2 ? "3" : "1") +
                                  R"(,"ts":)" + std::to_string(1'800'000'000'000'000'000LL + i) +
                                  "}";
        const core::nanos t0 = core::monotonic_now();
        rt.inject(frame, core::realtime_now());
        while (acked[static_cast<std::size_t>(i)].load(std::memory_order_acquire) == 0 &&
               core::monotonic_now() - t0 < 2 * core::k_ns_per_s) {
            std::this_thread::yield();
        }
        const core::nanos t1 = acked[static_cast<std::size_t>(i)].load();
        if (t1 != 0) path.push_back(t1 - t0);
    }
    rt.request_stop();
    rt.wait();
    const auto f = summarize(floor);
    const auto p = summarize(path);
    std::printf("trigger publish, R3 loopback, one in flight (%zu of %d acked)\n", path.size(), n);
    bench::print("  floor: bare js_Publish round trip", f);
    bench::print("  seismo: tick injected -> trigger acked", p);
    std::printf("  ratio p50 %.2fx  p99 %.2fx  (target p50 <= 1.5x)\n",
                static_cast<double>(p.p50) / static_cast<double>(f.p50),
                static_cast<double>(p.p99) / static_cast<double>(f.p99));
}

// ------------------------------------------------------------------ 2. ingest

struct counter_sub {
    std::atomic<std::uint64_t> n{0};
    static void on(natsConnection*, natsSubscription*, natsMsg* m, void* self) {
        static_cast<counter_sub*>(self)->n.fetch_add(1, std::memory_order_relaxed);
        natsMsg_Destroy(m);
    }
};

void ingest(const cluster& cl, int n) {
    publish::nats_connection c(endpoint(cl), 10 * core::k_ns_per_s);
    make_streams(c);
    {
        jsOptions jo;
        jsOptions_Init(&jo);
        jo.PublishAsync.MaxPending = 8192;
        jsCtx* js = nullptr;
        natsConnection_JetStream(&js, c.get(), &jo);
        std::string frame;
        for (int i = 0; i < n; ++i) {
            const bool x = i % 2 == 0;
            frame = std::string(R"({"sym":")") + (x ? "X" : "Y") + R"(","px":)" +
                    std::to_string(100 + (i % 50)) + R"(,"sz":1,"seq":)" +
                    std::to_string(i / 2 + 1) + R"(,"ts":)" +
                    std::to_string(1'800'000'000'000'000'000LL + i) + "}";
            js_PublishAsync(js, x ? "seismo.tick.bench.X" : "seismo.tick.bench.Y", frame.data(),
                            static_cast<int>(frame.size()), nullptr);
        }
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = 60000;
        js_PublishAsyncComplete(js, &po);
        jsCtx_Destroy(js);
    }
    // Floor: a bare ordered consumer draining the stream.
    double floor_rate = 0;
    {
        counter_sub cs;
        jsSubOptions so;
        jsSubOptions_Init(&so);
        so.Stream = "SEISMO_TICKS";
        so.Ordered = true;
        natsSubscription* sub = nullptr;
        jsErrCode jerr = static_cast<jsErrCode>(0);
        const core::nanos t0 = core::monotonic_now();
        js_Subscribe(&sub, c.js(), "seismo.tick.>", &counter_sub::on, &cs, nullptr, &so, &jerr);
        natsSubscription_SetPendingLimits(sub, 1'000'000, 1 << 30);
        while (cs.n.load() < static_cast<std::uint64_t>(n) &&
               core::monotonic_now() - t0 < 120 * core::k_ns_per_s) {
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        floor_rate = static_cast<double>(cs.n.load()) /
                     (static_cast<double>(core::monotonic_now() - t0) / 1e9);
        natsSubscription_Unsubscribe(sub);
        natsSubscription_Destroy(sub);
    }
    // seismo: a nats feed into the signal thread, every tick applied.
    const engine::config cfg = engine::load_config_string(engine_config(cl, true), "bench");
    engine::run_options o;
    o.print = false;
    o.serve = false;
    engine::runtime rt(cfg, o);
    const core::nanos t0 = core::monotonic_now();
    rt.start();
    while (rt.figures().applied < static_cast<std::uint64_t>(n) &&
           core::monotonic_now() - t0 < 120 * core::k_ns_per_s) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    const auto applied = rt.figures().applied;
    const double rate =
        static_cast<double>(applied) / (static_cast<double>(core::monotonic_now() - t0) / 1e9);
    rt.request_stop();
    rt.wait();
    std::printf("tick ingest, %d ticks in an R3 stream (%llu applied)\n", n,
                static_cast<unsigned long long>(applied));
    std::printf("  floor: bare ordered consumer   %10.0f msgs/s\n", floor_rate);
    std::printf("  seismo: nats feed -> applied   %10.0f ticks/s\n", rate);
    std::printf("  ratio %.0f%%  (target >= 50%%)\n", 100.0 * rate / floor_rate);
}

// ------------------------------------------------------------------ 3. fan-out

void fanout(const cluster& cl, int n) {
    constexpr int k_subs = 100;
    publish::nats_connection c(endpoint(cl), 10 * core::k_ns_per_s);
    make_streams(c);
    std::vector<std::unique_ptr<publish::nats_connection>> conns;
    counter_sub cs;
    std::vector<natsSubscription*> subs;
    for (int i = 0; i < 10; ++i)
        conns.push_back(
            std::make_unique<publish::nats_connection>(endpoint(cl), 10 * core::k_ns_per_s));
    for (int i = 0; i < k_subs; ++i) {
        natsSubscription* s = nullptr;
        natsConnection_Subscribe(&s, conns[static_cast<std::size_t>(i % 10)]->get(),
                                 "seismo.trigger.>", &counter_sub::on, &cs);
        natsSubscription_SetPendingLimits(s, -1, -1);
        subs.push_back(s);
    }
    for (auto& x : conns)
        natsConnection_Flush(x->get());
    const std::uint64_t want = static_cast<std::uint64_t>(n) * k_subs;
    auto wait_for = [&](std::uint64_t target, core::nanos t0) {
        while (cs.n.load() < target && core::monotonic_now() - t0 < 120 * core::k_ns_per_s)
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        return static_cast<double>(core::monotonic_now() - t0) / 1e9;
    };
    // Floor: a bare connection publishing the same bytes.
    const std::string bytes =
        R"({"type":"trigger","seq":1,"signal":"x_high","kind":"level","state":"fired","severity":"info","instrument":"X","value":3,"threshold":2,"px":3,"event_ts":"2026-12-01T00:00:00.000000000Z","cause":[],"config":"0123456789abcdef"})";
    core::nanos t0 = core::monotonic_now();
    for (int i = 0; i < n; ++i)
        natsConnection_Publish(c.get(), "seismo.trigger.x_high.X", bytes.data(),
                               static_cast<int>(bytes.size()));
    natsConnection_Flush(c.get());
    const double floor_s = wait_for(want, t0);
    const std::uint64_t floor_got = cs.n.exchange(0);
    // seismo: n triggers from injected ticks, through the stream's subjects.
    const engine::config cfg = engine::load_config_string(engine_config(cl, false), "bench");
    engine::run_options o;
    o.print = false;
    o.serve = false;
    o.inproc_feed = true;
    engine::runtime rt(cfg, o);
    rt.start();
    t0 = core::monotonic_now();
    for (int i = 1; i <= n; ++i) {
        const std::string frame = std::string(R"({"sym":"X","px":)") + (i % 2 ? "3" : "1") +
                                  R"(,"ts":)" + std::to_string(1'800'000'000'000'000'000LL + i) +
                                  "}";
        rt.inject(frame, core::realtime_now());
    }
    const double path_s = wait_for(want, t0);
    const std::uint64_t got = cs.n.load();
    rt.request_stop();
    rt.wait();
    for (auto* s : subs) {
        natsSubscription_Unsubscribe(s);
        natsSubscription_Destroy(s);
    }
    std::printf("fan-out to %d core-NATS subscribers, %d triggers\n", k_subs, n);
    std::printf("  floor: bare publish            %10.0f deliveries/s (%llu)\n",
                static_cast<double>(floor_got) / floor_s,
                static_cast<unsigned long long>(floor_got));
    std::printf("  seismo: engine -> JetStream    %10.0f deliveries/s (%llu)\n",
                static_cast<double>(got) / path_s, static_cast<unsigned long long>(got));
    std::printf("  ratio %.2fx\n",
                (static_cast<double>(got) / path_s) / (static_cast<double>(floor_got) / floor_s));
}

} // namespace

int main(int argc, char** argv) {
    int publishes = 1000, ticks = 200'000, fan = 5000;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&] { return i + 1 < argc ? std::atoi(argv[++i]) : 0; };
        if (a == "--publishes")
            publishes = next();
        else if (a == "--ticks")
            ticks = next();
        else if (a == "--fanout")
            fan = next();
        else if (a == "--quick") {
            publishes = 100;
            ticks = 20'000;
            fan = 500;
        } else {
            std::fprintf(stderr,
                         "usage: nats_bench [--publishes N] [--ticks N] [--fanout N] [--quick]\n");
            return 2;
        }
    }
    std::signal(SIGPIPE, SIG_IGN);
    // A fresh 3-node cluster per part: each starts from empty streams.
    auto on_fresh_cluster = [](auto&& part) {
        const cluster cl(3, "seismo-nats-bench");
        if (!cl.started()) {
            std::fprintf(stderr, "nats_bench: cannot start nats-server\n");
            std::exit(1);
        }
        part(cl);
    };
    on_fresh_cluster([&](const cluster& cl) { publish_latency(cl, publishes); });
    on_fresh_cluster([&](const cluster& cl) { ingest(cl, ticks); });
    on_fresh_cluster([&](const cluster& cl) { fanout(cl, fan); });
    return 0;
}
