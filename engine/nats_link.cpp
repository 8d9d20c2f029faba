#include "engine/nats_link.hpp"

#include "engine/core/json_writer.hpp"
#include "engine/core/time.hpp"
#include "engine/publish/hub.hpp"
#include "engine/publish/nats.hpp"
#include "engine/trigger_json.hpp"

#include <charconv>

namespace seismo::engine {
namespace {

constexpr std::string_view k_resume_header = "Seismo-Resume";

template <class T>
bool number(std::string_view s, T& out) {
    const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

/// "signal/instrument" -> "seismo.trigger.signal.instrument" (DESIGN §10).
std::string trigger_subject(std::string_view topic) {
    std::string s = "seismo.trigger.";
    const auto slash = topic.find('/');
    s += publish::subject_token(topic.substr(0, slash));
    if (slash != std::string_view::npos) {
        s += '.';
        s += publish::subject_token(topic.substr(slash + 1));
    }
    return s;
}

} // namespace

// ------------------------------------------------------------------ resume point

std::string resume_header(const resume_point& p) {
    return std::to_string(p.recv_ts) + (p.fired ? ";1;" : ";0;") + std::to_string(p.level) + ';' +
           std::to_string(p.condition) + ';' + p.topic;
}

std::string resume_header(const publish::message& m) {
    // state_key = topic \x1f level \x1f condition (trigger_publisher's message_for).
    const std::string_view key = m.state_key;
    const auto a = key.find('\x1f');
    const auto b = key.find('\x1f', a + 1);
    resume_point p;
    p.recv_ts = m.recv_ts;
    p.fired = m.fired;
    p.topic = m.topic;
    if (!number(key.substr(a + 1, b - a - 1), p.level) || !number(key.substr(b + 1), p.condition))
        return {}; // not a trigger's key: no resume point (read back as none)
    return resume_header(p);
}

bool parse_resume_header(std::string_view h, resume_point& out) {
    std::string_view part[4];
    for (auto& p : part) {
        const auto semi = h.find(';');
        if (semi == std::string_view::npos) return false;
        p = h.substr(0, semi);
        h.remove_prefix(semi + 1);
    }
    int fired = 0;
    if (!number(part[0], out.recv_ts) || !number(part[1], fired) || !number(part[2], out.level) ||
        !number(part[3], out.condition) || h.empty()) {
        return false;
    }
    out.fired = fired != 0;
    out.topic.assign(h);
    return true;
}

bool trigger_resume::same(const signals::trigger& t, const generation& g,
                          const core::instrument_registry& reg) const {
    if ((t.state == signals::trigger_state::fired) != p_.fired || t.level != p_.level) return false;
    std::string_view topic = p_.topic;
    auto take = [&topic](std::string_view part) {
        if (!topic.starts_with(part)) return false;
        topic.remove_prefix(part.size());
        return true;
    };
    if (t.signal == signals::k_feed_health) {
        return static_cast<std::uint32_t>(t.condition) == p_.condition && take("feed_health/") &&
               t.feed < g.feed_names.size() && take(g.feed_names[t.feed]) && topic.empty();
    }
    if (t.signal >= g.specs.size() || !take(g.specs[t.signal].name)) return false;
    if (t.inst == core::k_no_instrument) return topic.empty();
    return take("/") && topic == reg.info(t.inst).symbol;
}

bool trigger_resume::admit(signals::trigger& t, const generation& g,
                           const core::instrument_registry& reg) {
    if (active_) {
        if (t.recv_ts < p_.recv_ts || (t.recv_ts == p_.recv_ts && !same(t, g, reg))) {
            held_.fetch_add(1, std::memory_order_relaxed);
            return false; // before the resume point: stored already
        }
        active_ = false;
        if (t.recv_ts == p_.recv_ts) {
            // The resume point itself: stored already; what follows is numbered after it.
            held_.fetch_add(1, std::memory_order_relaxed);
            shift_ = static_cast<std::int64_t>(p_.seq) - static_cast<std::int64_t>(t.seq);
            return false;
        }
        shift_ = static_cast<std::int64_t>(p_.seq + 1) - static_cast<std::int64_t>(t.seq);
    }
    if (shift_ != 0) {
        t.seq = static_cast<std::uint64_t>(static_cast<std::int64_t>(t.seq) + shift_);
        for (std::uint8_t i = 0; i < t.n_cause; ++i)
            t.cause[i] = static_cast<std::uint64_t>(static_cast<std::int64_t>(t.cause[i]) + shift_);
    }
    return true;
}

// ------------------------------------------------------------------ the link

nats_link::nats_link(const config& cfg, bool feed_mode,
                     std::function<void(std::string_view)> on_ack)
    : cfg_(*cfg.nats), longest_(longest_window(cfg)) {
    publish::nats_endpoint e;
    e.servers = cfg_.servers;
    e.token = cfg_.token;
    e.creds = cfg_.creds;
    e.tls = cfg_.tls;
    e.name = feed_mode ? "seismo-feed" : "seismo";
    e.send_asap = !feed_mode; // triggers are few and late ones cost: each written at once
    conn_ = std::make_unique<publish::nats_connection>(e, 10 * core::k_ns_per_s);
    publish::ensure_stream(*conn_, {cfg_.tick_stream, "seismo.tick.>", cfg_.replicas, cfg_.max_age,
                                    cfg_.duplicate_window});
    publish::ensure_stream(*conn_, {cfg_.trigger_stream, "seismo.trigger.>", cfg_.replicas,
                                    cfg_.max_age, cfg_.duplicate_window});
    publish::jetstream_publisher::options po;
    po.buffer = cfg_.buffer;
    po.ack_wait = cfg_.ack_wait;
    po.on_ack = std::move(on_ack);
    if (feed_mode) {
        po.stream = cfg_.tick_stream;
        ticks_ = std::make_unique<publish::jetstream_publisher>(*conn_, po);
    } else if (cfg_.publish_triggers) {
        po.stream = cfg_.trigger_stream;
        triggers_ = std::make_unique<publish::jetstream_publisher>(*conn_, po);
    }
}

nats_link::~nats_link() {
    stop(0);
}

core::nanos nats_link::rebuild_from(core::nanos now) const noexcept {
    const core::nanos back = longest_ + cfg_.rebuild_margin;
    return now > back ? now - back : 1;
}

resume_point nats_link::read_resume(std::string_view digest) const {
    resume_point best;
    const auto st = publish::stream_info(*conn_, cfg_.trigger_stream);
    if (st.messages == 0) return best;
    const std::string prefix = std::string(digest) + ":";
    const std::uint64_t lo =
        st.last_seq > 4096 ? std::max(st.first_seq, st.last_seq - 4096) : st.first_seq;
    publish::stored_message m;
    // Resends may store a trigger after a later one: the greatest seq wins, not the last stored.
    for (std::uint64_t s = st.last_seq; s >= lo && s != 0; --s) {
        if (!publish::stored_at(*conn_, cfg_.trigger_stream, s, m)) continue;
        if (!m.id.starts_with(prefix)) continue;
        std::uint64_t seq = 0;
        if (!number(std::string_view(m.id).substr(prefix.size()), seq) || seq <= best.seq) continue;
        resume_point p;
        if (!parse_resume_header(m.header(k_resume_header), p)) continue;
        p.found = true;
        p.seq = seq;
        best = std::move(p);
    }
    return best;
}

void nats_link::start() {
    if (triggers_) triggers_->start();
    if (ticks_) ticks_->start();
}

void nats_link::stop(core::nanos drain) {
    if (triggers_) triggers_->stop(drain);
    if (ticks_) ticks_->stop(drain);
}

void nats_link::publish_trigger(const publish::message& m, std::string_view digest) {
    if (!triggers_) return;
    publish::outgoing o;
    o.subject = trigger_subject(m.topic);
    o.data.assign(m.json());
    o.id = std::string(digest) + ":" + std::to_string(m.seq);
    o.headers.emplace_back(std::string(k_resume_header), resume_header(m));
    (void)triggers_->offer(std::move(o)); // a refusal is counted (seismo_nats_dropped_total)
}

void nats_link::forward_tick(const feed_event& e, std::string_view feed_name,
                             const core::instrument_registry& reg) {
    if (!ticks_) return;
    publish::outgoing o;
    append_tick_json(o.data, e.t, reg);
    o.subject = "seismo.tick.";
    o.subject += publish::subject_token(feed_name);
    o.subject += '.';
    o.subject += publish::subject_token(reg.info(e.t.inst).symbol);
    o.id.assign(feed_name);
    o.id += ':';
    o.id += std::to_string(e.t.recv_ts);
    o.id += ':';
    o.id += std::to_string(e.frame);
    o.id += '.';
    o.id += std::to_string(e.index);
    (void)ticks_->offer(std::move(o));
}

std::vector<std::shared_ptr<prometheus::Collectable>> nats_link::probes() const {
    std::vector<std::shared_ptr<prometheus::Collectable>> out;
    if (triggers_) out.push_back(triggers_->make_probe());
    if (ticks_) out.push_back(ticks_->make_probe());
    return out;
}

std::string nats_link::state_json() const {
    std::string o = R"({"connected":)";
    o += conn_->connected() ? "true" : "false";
    o += R"(,"server":)";
    core::append_json_string(o, conn_->server());
    o += R"(,"reconnects":)";
    core::append_uint(o, conn_->reconnects());
    for (const auto* p : {triggers_.get(), ticks_.get()}) {
        if (p == nullptr) continue;
        o += p == triggers_.get() ? R"(,"triggers":{)" : R"(,"ticks":{)";
        o += R"("stream":)";
        core::append_json_string(o, p->stream());
        o += R"(,"published":)";
        core::append_uint(o, p->published());
        o += R"(,"acked":)";
        core::append_uint(o, p->acked());
        o += R"(,"duplicates":)";
        core::append_uint(o, p->duplicates());
        o += R"(,"resent":)";
        core::append_uint(o, p->resent());
        o += R"(,"pending":)";
        core::append_uint(o, p->pending());
        o += R"(,"dropped":)";
        core::append_uint(o, p->dropped());
        o += '}';
    }
    return o + "}";
}

} // namespace seismo::engine
