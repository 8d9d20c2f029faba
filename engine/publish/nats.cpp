#include "engine/publish/nats.hpp"

#include "engine/core/thread_name.hpp"
#include "engine/publish/metrics.hpp"

#include <concurrentqueue/concurrentqueue.h>
#include <concurrentqueue/lightweightsemaphore.h>
#include <nats/nats.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <deque>
#include <iostream>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace seismo::publish {
namespace {

std::string status_text(natsStatus s) {
    std::string t = natsStatus_GetText(s);
    const char* last = nats_GetLastError(nullptr);
    if (last != nullptr && *last != '\0' && t != last) t += std::string(": ") + last;
    return t;
}

/// Frees a nats.c object at scope exit.
template <class T, void (*Free)(T*)>
struct owned {
    T* p = nullptr;
    owned() = default;
    owned(const owned&) = delete;
    owned& operator=(const owned&) = delete;
    ~owned() {
        if (p != nullptr) Free(p);
    }
};
using owned_msg = owned<natsMsg, natsMsg_Destroy>;
using owned_stream_info = owned<jsStreamInfo, jsStreamInfo_Destroy>;
using owned_options = owned<natsOptions, natsOptions_Destroy>;

/// The URL of the server `nc` is connected to ("" when none).
std::string connected_url(natsConnection* nc) {
    std::array<char, 256> buf{};
    if (natsConnection_GetConnectedUrl(nc, buf.data(), buf.size()) != NATS_OK) return {};
    return buf.data();
}

} // namespace

std::string subject_token(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (const char c : s) {
        const bool bad = c == '.' || c == '*' || c == '>' || c == '/' || c == ' ' || c == '\t' ||
                         c == '\r' || c == '\n' || static_cast<unsigned char>(c) < 0x20;
        out += bad ? '_' : c;
    }
    if (out.empty()) out = "_";
    return out;
}

// ------------------------------------------------------------------ connection

nats_connection::nats_connection(const nats_endpoint& e, core::nanos connect_timeout) {
    owned_options o;
    if (natsOptions_Create(&o.p) != NATS_OK) throw nats_error("NATS: cannot create options");
    std::vector<const char*> urls;
    for (const auto& s : e.servers)
        urls.push_back(s.c_str());
    auto check = [](natsStatus s, const char* what) {
        if (s != NATS_OK) throw nats_error(std::string("NATS ") + what + ": " + status_text(s));
    };
    check(natsOptions_SetServers(o.p, urls.data(), static_cast<int>(urls.size())), "servers");
    if (!e.token.empty()) check(natsOptions_SetToken(o.p, e.token.c_str()), "token");
    if (!e.creds.empty())
        check(natsOptions_SetUserCredentialsFromFiles(o.p, e.creds.c_str(), nullptr), "creds");
    if (e.tls) check(natsOptions_SetSecure(o.p, true), "tls");
    if (!e.name.empty()) check(natsOptions_SetName(o.p, e.name.c_str()), "name");
    if (e.send_asap) check(natsOptions_SetSendAsap(o.p, true), "send asap");
    check(natsOptions_SetMaxReconnect(o.p, -1), "max reconnect");
    check(natsOptions_SetReconnectWait(o.p, 250), "reconnect wait");
    check(natsOptions_SetTimeout(o.p, 2000), "timeout");
    check(natsOptions_SetPingInterval(o.p, 2000), "ping interval");
    check(natsOptions_SetMaxPingsOut(o.p, 2), "pings out");
    check(natsOptions_SetReconnectBufSize(o.p, 32 << 20), "reconnect buffer");
    // The callbacks' own reference: dropped by the closed callback, which comes once for a
    // connection that was made; here when none was.
    auto closure = std::make_unique<std::shared_ptr<events>>(events_);
    check(natsOptions_SetDisconnectedCB(o.p, &nats_connection::on_disconnected, closure.get()),
          "disconnect callback");
    check(natsOptions_SetReconnectedCB(o.p, &nats_connection::on_reconnected, closure.get()),
          "reconnect callback");
    check(natsOptions_SetClosedCB(o.p, &nats_connection::on_closed, closure.get()),
          "closed callback");
    // The first connection: every server tried, until one answers or the time is up.
    std::string last;
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::nanoseconds(connect_timeout);
    for (;;) {
        const natsStatus s = natsConnection_Connect(&nc_, o.p);
        if (s == NATS_OK) {
            (void)closure.release(); // on_closed's now
            break;
        }
        last = status_text(s);
        if (std::chrono::steady_clock::now() >= deadline) {
            std::string list;
            for (const auto& u : e.servers)
                list += (list.empty() ? "" : ", ") + u;
            throw nats_error("NATS: no server answered at " + list + " (" + last + ")");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 5000;
    if (const natsStatus s = natsConnection_JetStream(&js_, nc_, &jo); s != NATS_OK) {
        events_->closing.store(true, std::memory_order_release);
        natsConnection_Destroy(nc_);
        throw nats_error("NATS: no JetStream context: " + status_text(s));
    }
}

nats_connection::~nats_connection() {
    if (js_ != nullptr) jsCtx_Destroy(js_);
    if (nc_ != nullptr) {
        events_->closing.store(true, std::memory_order_release);
        natsConnection_Close(nc_);
        natsConnection_Destroy(nc_);
    }
}

bool nats_connection::connected() const noexcept {
    return nc_ != nullptr && natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED;
}

std::string nats_connection::server() const {
    return connected_url(nc_);
}

void nats_connection::on_disconnected(natsConnection*, void* closure) {
    events& ev = **static_cast<std::shared_ptr<events>*>(closure);
    if (ev.closing.load(std::memory_order_acquire)) return; // closed by us, not lost
    ev.disconnects.add();
    std::cerr << "seismo: NATS: disconnected; reconnecting (messages wait, up to [nats] buffer)\n";
}
void nats_connection::on_reconnected(natsConnection* nc, void* closure) {
    (*static_cast<std::shared_ptr<events>*>(closure))->reconnects.add();
    std::cerr << "seismo: NATS: reconnected to " << connected_url(nc) << "\n";
}
void nats_connection::on_closed(natsConnection*, void* closure) {
    delete static_cast<std::shared_ptr<events>*>(closure); // NOLINT: the callbacks' reference
}

// ------------------------------------------------------------------ streams

void ensure_stream(const nats_connection& c, const stream_spec& s) {
    owned_stream_info si;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus st = js_GetStreamInfo(&si.p, c.js(), s.name.c_str(), nullptr, &jerr);
    if (st == NATS_OK) {
        const jsStreamConfig& cfg = *si.p->Config;
        for (int i = 0; i < cfg.SubjectsLen; ++i) {
            if (s.subjects == cfg.Subjects[i]) return; // ours
        }
        std::string have;
        for (int i = 0; i < cfg.SubjectsLen; ++i)
            have += (i == 0 ? "" : ", ") + std::string(cfg.Subjects[i]);
        throw nats_error("NATS: stream " + s.name + " exists with subjects [" + have + "], not \"" +
                         s.subjects +
                         "\": another application owns that name; name seismo's stream "
                         "otherwise in [nats] or remove that stream");
    }
    if (st != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr) {
        throw nats_error("NATS: cannot read stream " + s.name + ": " + status_text(st));
    }
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = s.name.c_str();
    const char* subjects[] = {s.subjects.c_str()};
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Retention = js_LimitsPolicy;
    cfg.Replicas = s.replicas;
    cfg.MaxAge = s.max_age;
    cfg.Duplicates = s.duplicate_window;
    owned_stream_info made;
    jerr = static_cast<jsErrCode>(0);
    st = js_AddStream(&made.p, c.js(), &cfg, nullptr, &jerr);
    if (st == NATS_OK) return;
    if (jerr == JSStreamSubjectOverlapErr) {
        throw nats_error("NATS: cannot create stream " + s.name + ": its subjects \"" + s.subjects +
                         "\" overlap those of another stream (" + status_text(st) + ")");
    }
    if (jerr == JSStreamNameExistErr) return; // another seismo created it meanwhile
    throw nats_error("NATS: cannot create stream " + s.name + " (replicas " +
                     std::to_string(s.replicas) + "): " + status_text(st));
}

stream_state stream_info(const nats_connection& c, const std::string& stream) {
    owned_stream_info si;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    const natsStatus st = js_GetStreamInfo(&si.p, c.js(), stream.c_str(), nullptr, &jerr);
    if (st != NATS_OK)
        throw nats_error("NATS: cannot read stream " + stream + ": " + status_text(st));
    stream_state out;
    out.first_seq = si.p->State.FirstSeq;
    out.last_seq = si.p->State.LastSeq;
    out.messages = si.p->State.Msgs;
    return out;
}

std::string_view stored_message::header(std::string_view key) const noexcept {
    for (const auto& [k, v] : headers) {
        if (k == key) return v;
    }
    return {};
}

bool stored_at(const nats_connection& c, const std::string& stream, std::uint64_t seq,
               stored_message& out) {
    owned_msg m;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    const natsStatus st = js_GetMsg(&m.p, c.js(), stream.c_str(), seq, nullptr, &jerr);
    if (st == NATS_NOT_FOUND) return false;
    if (st != NATS_OK) {
        throw nats_error("NATS: cannot read message " + std::to_string(seq) + " of " + stream +
                         ": " + status_text(st));
    }
    out = {};
    out.seq = seq;
    out.time = natsMsg_GetTime(m.p);
    out.subject = natsMsg_GetSubject(m.p);
    out.data.assign(natsMsg_GetData(m.p), static_cast<std::size_t>(natsMsg_GetDataLength(m.p)));
    const char** keys = nullptr;
    int n = 0;
    if (natsMsgHeader_Keys(m.p, &keys, &n) == NATS_OK) {
        for (int i = 0; i < n; ++i) {
            const char* v = nullptr;
            if (natsMsgHeader_Get(m.p, keys[i], &v) == NATS_OK && v != nullptr)
                out.headers.emplace_back(keys[i], v);
        }
        free(static_cast<void*>(keys)); // NOLINT: nats.c allocates the array with malloc
    }
    out.id = std::string(out.header("Nats-Msg-Id"));
    return true;
}

// ------------------------------------------------------------------ publisher

struct jetstream_publisher::impl {
    explicit impl(jetstream_publisher& o) : owner(o), queue(4096) {}

    jetstream_publisher& owner;
    jsCtx* js = nullptr;
    moodycamel::ConcurrentQueue<outgoing> queue;
    moodycamel::LightweightSemaphore ready;
    std::thread thread;
    std::atomic<bool> stop{false};

    // Every message nats.c holds for us, with its place in the order offered; messages whose
    // ack failed (an error from the stream, none in time), to go back with the rest. nats.c's
    // callback thread and the publisher thread share them.
    std::mutex mu;
    std::unordered_map<natsMsg*, std::uint64_t> order;
    std::vector<natsMsg*> failed;
    std::uint64_t next_n = 0; // the publisher thread's

    static void on_ack(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr*, void* self) {
        auto& p = *static_cast<impl*>(self);
        if (pa != nullptr) {
            p.owner.acked_.add();
            if (pa->Duplicate) p.owner.duplicates_.add();
            if (p.owner.o_.on_ack) {
                const char* id = nullptr;
                if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) == NATS_OK && id != nullptr)
                    p.owner.o_.on_ack(id);
            }
            p.owner.settled_.fetch_add(1, std::memory_order_release);
            {
                std::lock_guard lock(p.mu);
                p.order.erase(msg);
            }
            natsMsg_Destroy(msg);
            return;
        }
        // No ack in time, or an error from the stream (its leader lost with its node): this
        // one and every later one still unacknowledged go again, in order, with their ids.
        p.owner.errors_.add();
        {
            std::lock_guard lock(p.mu);
            p.failed.push_back(msg);
        }
        p.ready.signal();
    }

    /// Sends one message; false (message kept) when nats.c cannot take it now.
    bool send(natsMsg*& m) {
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = owner.o_.ack_wait / core::k_ns_per_ms;
        return js_PublishMsgAsync(js, &m, &po) == NATS_OK;
    }

    /// Go back: every message not acknowledged (failed, or in flight behind a failure) is taken
    /// back from nats.c and put before the unsent ones in the order first offered, so that a
    /// stream that lost some keeps them in order once they are sent again (each id is stored
    /// once: the copies it had are acked as duplicates).
    void go_back(std::deque<natsMsg*>& waiting) {
        std::vector<natsMsg*> back;
        {
            std::lock_guard lock(mu);
            back.swap(failed);
        }
        natsMsgList pl{};
        if (js_PublishAsyncGetPendingList(&pl, js) == NATS_OK) {
            for (int i = 0; i < pl.Count; ++i) {
                back.push_back(pl.Msgs[i]);
                pl.Msgs[i] = nullptr; // ours again
            }
            natsMsgList_Destroy(&pl);
        }
        {
            std::lock_guard lock(mu);
            std::sort(back.begin(), back.end(),
                      [this](natsMsg* a, natsMsg* b) { return order[a] < order[b]; });
        }
        owner.resent_.add(back.size());
        waiting.insert(waiting.begin(), back.begin(), back.end());
    }

    void loop() {
        std::array<outgoing, 64> buf;
        std::deque<natsMsg*> waiting; // built, not yet taken by nats.c
        auto steady = [] { return std::chrono::steady_clock::now(); };
        auto next_go_back = steady();
        // Hands nats.c what waits, oldest first, until it takes no more.
        auto send_waiting = [&] {
            while (!waiting.empty()) {
                natsMsg* m = waiting.front();
                if (!send(m)) break;
                waiting.pop_front();
            }
        };
        for (;;) {
            bool trouble = false;
            {
                std::lock_guard lock(mu);
                trouble = !failed.empty();
            }
            const bool up = owner.c_.connected();
            if (trouble && up && steady() >= next_go_back) {
                go_back(waiting);
                trouble = false;
                // A stream electing a leader fails fast: not more than 4 rounds a second.
                next_go_back = steady() + std::chrono::milliseconds(250);
            }
            if (!trouble && up) send_waiting();
            std::size_t n = 0;
            if (waiting.size() < 4096) {
                n = queue.try_dequeue_bulk(buf.begin(), buf.size());
                for (std::size_t i = 0; i < n; ++i) {
                    natsMsg* m = nullptr;
                    const outgoing& o = buf[i];
                    if (natsMsg_Create(&m, o.subject.c_str(), nullptr, o.data.data(),
                                       static_cast<int>(o.data.size())) != NATS_OK) {
                        owner.errors_.add(); // out of memory: counted, never silent
                        owner.dropped_.add();
                        owner.settled_.fetch_add(1, std::memory_order_release);
                        continue;
                    }
                    natsMsgHeader_Set(m, "Nats-Msg-Id", o.id.c_str());
                    for (const auto& [k, v] : o.headers)
                        natsMsgHeader_Set(m, k.c_str(), v.c_str());
                    {
                        std::lock_guard lock(mu);
                        order[m] = next_n++;
                    }
                    owner.published_.add();
                    waiting.push_back(m);
                    buf[i] = {};
                }
            }
            if (n == 0) {
                if (stop.load(std::memory_order_acquire) && queue.size_approx() == 0) break;
                (void)ready.wait(waiting.empty() && !trouble ? 50'000 : 10'000);
            } else if (!trouble && up) {
                send_waiting();
            }
        }
        for (natsMsg* m : waiting)
            natsMsg_Destroy(m);
    }
};

jetstream_publisher::jetstream_publisher(const nats_connection& c, options o)
    : c_(c), o_(std::move(o)), p_(std::make_unique<impl>(*this)) {
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = o_.max_in_flight;
    jo.PublishAsync.AckHandler = &impl::on_ack;
    jo.PublishAsync.AckHandlerClosure = p_.get();
    jo.PublishAsync.StallWait = 50;
    if (const natsStatus s = natsConnection_JetStream(&p_->js, c_.get(), &jo); s != NATS_OK)
        throw nats_error("NATS: no JetStream context: " + status_text(s));
}

jetstream_publisher::~jetstream_publisher() {
    stop(0);
    // Acks still due are dropped with the context (nats.c frees their messages).
    if (p_->js != nullptr) jsCtx_Destroy(p_->js);
    std::lock_guard lock(p_->mu);
    for (natsMsg* m : p_->failed)
        natsMsg_Destroy(m);
}

void jetstream_publisher::start() {
    p_->thread = std::thread([p = p_.get()] {
        core::name_this_thread("seismo-nats");
        p->loop();
    });
}

bool jetstream_publisher::offer(outgoing m) {
    if (pending() >= o_.buffer) {
        dropped_.add();
        return false;
    }
    offered_.fetch_add(1, std::memory_order_relaxed);
    p_->queue.enqueue(std::move(m));
    p_->ready.signal();
    return true;
}

std::uint64_t jetstream_publisher::pending() const noexcept {
    const auto settled = settled_.load(std::memory_order_acquire);
    const auto offered = offered_.load(std::memory_order_relaxed);
    return offered > settled ? offered - settled : 0;
}

void jetstream_publisher::stop(core::nanos drain) {
    if (!p_->thread.joinable()) return;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(drain);
    while (pending() != 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    p_->stop.store(true, std::memory_order_release);
    p_->ready.signal();
    p_->thread.join();
}

namespace {

class publisher_probe final : public prometheus::Collectable {
  public:
    explicit publisher_probe(const jetstream_publisher& p) : p_(p) {}
    [[nodiscard]] std::vector<prometheus::MetricFamily> Collect() const override {
        using prometheus::MetricType;
        std::vector<prometheus::MetricFamily> out;
        const label_list l{{"stream", p_.stream()}};
        auto one = [&](const char* name, const char* help, MetricType t, double v) {
            auto f = make_family(name, help, t);
            add_sample(f, l, v);
            out.push_back(std::move(f));
        };
        one("seismo_nats_connected", "1 while connected to a NATS server.", MetricType::Gauge,
            p_.connected() ? 1 : 0);
        one("seismo_nats_published_total", "Messages published to the stream (first sends).",
            MetricType::Counter, static_cast<double>(p_.published()));
        one("seismo_nats_acked_total", "Messages the stream acknowledged (duplicates included).",
            MetricType::Counter, static_cast<double>(p_.acked()));
        one("seismo_nats_duplicates_total",
            "Acks saying the stream already held the message id (a resend or another engine's).",
            MetricType::Counter, static_cast<double>(p_.duplicates()));
        one("seismo_nats_resent_total",
            "Messages sent again with the same id (no ack in time, or an error ack).",
            MetricType::Counter, static_cast<double>(p_.resent()));
        one("seismo_nats_pending", "Messages offered and not yet acknowledged.", MetricType::Gauge,
            static_cast<double>(p_.pending()));
        one("seismo_nats_dropped_total",
            "Messages refused because the buffer ([nats] buffer) was full.", MetricType::Counter,
            static_cast<double>(p_.dropped()));
        return out;
    }

  private:
    const jetstream_publisher& p_;
};

} // namespace

std::shared_ptr<prometheus::Collectable> jetstream_publisher::make_probe() const {
    return std::make_shared<publisher_probe>(*this);
}

} // namespace seismo::publish
