#include "feeds/live/nats_feed.hpp"

#include "engine/core/thread_name.hpp"

#include <nats/nats.h>

#include <array>
#include <charconv>
#include <chrono>
#include <iostream>
#include <stdexcept>

namespace seismo::feeds::live {

bool parse_js_reply(std::string_view reply, std::uint64_t& stream_seq, std::int64_t& ts,
                    std::uint64_t& pending) noexcept {
    if (!reply.starts_with("$JS.ACK.")) return false;
    std::array<std::string_view, 16> tok{};
    std::size_t n = 0;
    std::size_t start = 0;
    while (n < tok.size()) {
        const std::size_t dot = reply.find('.', start);
        tok[n++] = reply.substr(start, dot == std::string_view::npos ? dot : dot - start);
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    // v1: $JS ACK stream consumer delivered sseq cseq ts pending            (9 tokens)
    // v2: $JS ACK domain hash stream consumer delivered sseq cseq ts pending [token] (11, 12)
    std::size_t base = 0;
    if (n == 9)
        base = 5;
    else if (n == 11 || n == 12)
        base = 7;
    else
        return false;
    auto num = [](std::string_view s, auto& out) {
        const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
        return r.ec == std::errc{} && r.ptr == s.data() + s.size();
    };
    return num(tok[base], stream_seq) && num(tok[base + 2], ts) && num(tok[base + 3], pending);
}

nats_feed::nats_feed(natsConnection* nc, jsCtx* js, options o, core::instrument_registry& reg,
                     frame_sink& sink, std::uint16_t feed_id)
    : nc_(nc), js_(js), o_(std::move(o)),
      pipeline_(venue::generic, reg, o_.max_frame, sink, feed_id, stats_) {
    buf_.resize(4096 + k_padding);
}

namespace {
std::int64_t steady_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}
} // namespace

nats_feed::~nats_feed() {
    stop();
}

void nats_feed::on_msg(natsConnection*, natsSubscription* sub, natsMsg* m, void* self) {
    static_cast<nats_feed*>(self)->handle(sub, m);
    natsMsg_Destroy(m);
}

void nats_feed::handle(natsSubscription* sub, natsMsg* m) {
    if (stopping_.load(std::memory_order_relaxed)) return;
    std::lock_guard lock(handling_);
    // A replaced consumer's late message: its successor delivers it again, in order.
    if (sub != sub_.load(std::memory_order_acquire)) return;
    last_msg_at_.store(steady_ns(), std::memory_order_relaxed);
    const char* reply = natsMsg_GetReply(m);
    std::uint64_t sseq = 0, pending = 0;
    std::int64_t ts = 0;
    if (reply == nullptr || !parse_js_reply(reply, sseq, ts, pending)) {
        // Flow control and heartbeats are handled inside nats.c; anything else here is not a
        // stream message: counted as ignored, never silently.
        pipeline_.ignore(pipeline_.last_frame_no() + 1);
        return;
    }
    // An ordered consumer delivers each stream sequence once, in order; after a
    // resubscription from the last one seen, anything at or below it is a repeat.
    if (sseq <= last_seq_.load(std::memory_order_relaxed)) return;
    const char* data = natsMsg_GetData(m);
    const auto len = static_cast<std::size_t>(natsMsg_GetDataLength(m));
    if (buf_.size() < len + k_padding) buf_.resize(len + k_padding);
    std::copy(data, data + len, buf_.begin());
    (void)pipeline_.handle(buf_.data(), len, buf_.size(), ts); // it dates the feed's last data
    last_seq_.store(sseq, std::memory_order_release);
    if (pending == 0 && !caught_up_.load(std::memory_order_relaxed))
        caught_up_.store(true, std::memory_order_release);
}

void nats_feed::start() {
    try {
        subscribe(0);
        stats_.connects.add();
    } catch (const std::runtime_error& e) {
        // JetStream not answering (a stream leader being elected, the cluster starting): not
        // ready, and tried again every second.
        std::cerr << "seismo: " << e.what() << " (trying again every second)\n";
    }
    last_msg_at_.store(steady_ns(), std::memory_order_relaxed);
    watcher_ = std::thread([this] {
        core::name_this_thread("seismo-natsfeed");
        watch();
    });
}

void nats_feed::subscribe(std::uint64_t from_seq) {
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = o_.stream.c_str();
    so.Ordered = true;
    if (from_seq > 0) {
        so.Config.DeliverPolicy = js_DeliverByStartSequence;
        so.Config.OptStartSeq = from_seq;
    } else if (o_.start_time > 0) {
        so.Config.DeliverPolicy = js_DeliverByStartTime;
        so.Config.OptStartTime = o_.start_time;
    } else {
        so.Config.DeliverPolicy = js_DeliverAll;
    }
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsSubscription* sub = nullptr;
    {
        // The new consumer may deliver before js_Subscribe returns: its messages wait here
        // until sub_ names it.
        std::lock_guard lock(handling_);
        const natsStatus s = js_Subscribe(&sub, js_, o_.subject.c_str(), &nats_feed::on_msg, this,
                                          nullptr, &so, &jerr);
        if (s != NATS_OK) {
            throw std::runtime_error("feed " + o_.name + ": cannot consume stream " + o_.stream +
                                     " (" + o_.subject + "): " + natsStatus_GetText(s));
        }
        sub_.store(sub, std::memory_order_release);
    }
    // A rebuild may queue a burst: bounded by the server's flow control, not dropped here.
    natsSubscription_SetPendingLimits(sub, 1'000'000, 1 << 30);
}

bool nats_feed::stalled() {
    // Quiet for 3 s while the consumer has messages for us, or the consumer cannot be asked
    // (an ordered consumer lives on one server: it died with it).
    if (steady_ns() - last_msg_at_.load(std::memory_order_relaxed) < 3'000'000'000) return false;
    if (natsConnection_Status(nc_) != NATS_CONN_STATUS_CONNECTED) return false;
    jsConsumerInfo* ci = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 1000;
    if (natsSubscription_GetConsumerInfo(&ci, sub_.load(), &jo, &jerr) != NATS_OK) return true;
    const bool behind = ci->NumPending > 0 || ci->Delivered.Stream > stream_seq();
    jsConsumerInfo_Destroy(ci);
    return behind;
}

void nats_feed::watch() {
    // Every 100 ms: the connected gauge, and whether a subscription that had nothing to
    // deliver is caught up (no message will say so); every second: whether the consumer
    // stopped delivering (its server died), in which case it is made again from the next
    // sequence.
    int round = 0;
    while (!stopping_.load(std::memory_order_acquire)) {
        if (++round % 10 == 0 && sub_.load() == nullptr) {
            try {
                subscribe(stream_seq() != 0 ? stream_seq() + 1 : 0);
                stats_.connects.add();
                last_msg_at_.store(steady_ns(), std::memory_order_relaxed);
                std::cerr << "seismo: feed " << o_.name << ": consuming " << o_.stream << "\n";
            } catch (const std::runtime_error&) {
            }
        } else if (round % 10 == 0 && stalled()) {
            natsSubscription* old = sub_.load();
            try {
                subscribe(stream_seq() != 0 ? stream_seq() + 1 : 0);
                stats_.reconnects.add();
                std::cerr << "seismo: feed " << o_.name << ": its consumer stopped delivering "
                          << "(its server went away); consuming again after stream seq "
                          << stream_seq() << "\n";
                last_msg_at_.store(steady_ns(), std::memory_order_relaxed);
                (void)natsSubscription_Unsubscribe(old);
                natsSubscription_Destroy(old);
            } catch (const std::runtime_error&) {
                // JetStream not answering yet (a leader election): tried again in a second.
                last_msg_at_.store(steady_ns() - 2'000'000'000, std::memory_order_relaxed);
            }
        }
        // Only while nothing arrives: a delivered message carries the consumer's pending count
        // (caught up at 0). Asked every 100 ms through a rebuild, consumer-info requests kept a
        // nats-server near a full core and the consumer delivered one message at a time.
        if (!caught_up_.load(std::memory_order_acquire) && sub_.load() != nullptr &&
            steady_ns() - last_msg_at_.load(std::memory_order_relaxed) > 200'000'000) {
            jsConsumerInfo* ci = nullptr;
            jsErrCode jerr = static_cast<jsErrCode>(0);
            if (natsSubscription_GetConsumerInfo(&ci, sub_.load(), nullptr, &jerr) == NATS_OK) {
                if (ci->NumPending == 0 && ci->Delivered.Stream <= stream_seq())
                    caught_up_.store(true, std::memory_order_release);
                jsConsumerInfo_Destroy(ci);
            }
        }
        stats_.connected.set(caught_up() &&
                             natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED);
        for (int i = 0; i < 10 && !stopping_.load(std::memory_order_acquire); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

void nats_feed::stop() {
    if (stopping_.exchange(true)) return;
    if (watcher_.joinable()) watcher_.join();
    if (natsSubscription* sub = sub_.exchange(nullptr); sub != nullptr) {
        // Drain: the callback finishes what it holds (skipping it) before the memory goes.
        if (natsSubscription_Drain(sub) == NATS_OK)
            (void)natsSubscription_WaitForDrainCompletion(sub, 5000);
        natsSubscription_Destroy(sub);
    }
    stats_.connected.set(false);
}

} // namespace seismo::feeds::live
