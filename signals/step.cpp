#include "signals/step.hpp"

#include <stdexcept>

namespace seismo::signals {

step::step(graph& g, std::size_t feeds) : graph_(&g), down_(feeds, false), stale_(feeds, false) {
    if (feeds > k_max_feeds) throw std::invalid_argument("at most 64 feeds");
}

void step::emit(std::uint16_t feed, feed_condition c, trigger_state st, severity sev,
                const core::health_event& e, trigger_sink& out, end_reason why) {
    trigger t;
    t.reason = why;
    t.seq = graph_->next_seq();
    t.gen = graph_->generation();
    t.signal = k_feed_health;
    t.feed = feed;
    t.condition = c;
    t.state = st;
    t.sev = sev;
    t.value = static_cast<double>(e.value);
    t.event_ts = e.at;
    t.recv_ts = e.at;
    t.inst = e.inst;
    if (c == feed_condition::down && st == trigger_state::fired) t.down = e.cause;
    out.on_trigger(t);
}

void step::resize(std::size_t feeds) {
    if (feeds > k_max_feeds) throw std::invalid_argument("at most 64 feeds");
    if (feeds > down_.size()) {
        down_.resize(feeds, false);
        stale_.resize(feeds, false);
    }
}

void step::retire(std::uint16_t f, core::nanos now, trigger_sink& out) {
    if (f >= down_.size()) return;
    core::health_event e;
    e.at = now;
    if (down_[f]) {
        down_[f] = false;
        emit(f, feed_condition::down, trigger_state::cleared, severity::critical, e, out,
             end_reason::removed);
    }
    if (stale_[f]) {
        stale_[f] = false;
        emit(f, feed_condition::stale, trigger_state::cleared, severity::warning, e, out,
             end_reason::removed);
    }
    unhealthy_ &= ~(std::uint64_t{1} << f);
    graph_->forget_feed(f, unhealthy_, now, out);
}

void step::refresh(std::uint16_t f, core::nanos now, trigger_sink& out) {
    const std::uint64_t bit = std::uint64_t{1} << f;
    if (down_[f] || stale_[f])
        unhealthy_ |= bit;
    else
        unhealthy_ &= ~bit;
    graph_->restale(f, unhealthy_, now, out);
}

void step::health(std::uint16_t f, const core::health_event& e, trigger_sink& out) {
    using core::health_kind;
    switch (e.kind) {
    case health_kind::down:
        if (down_[f]) return;
        down_[f] = true;
        emit(f, feed_condition::down, trigger_state::fired, severity::critical, e, out);
        break;
    case health_kind::up:
        if (!down_[f]) return;
        down_[f] = false;
        emit(f, feed_condition::down, trigger_state::cleared, severity::critical, e, out);
        break;
    case health_kind::stale:
        if (stale_[f]) return;
        stale_[f] = true;
        emit(f, feed_condition::stale, trigger_state::fired, severity::warning, e, out);
        break;
    case health_kind::fresh:
        if (!stale_[f]) return;
        stale_[f] = false;
        emit(f, feed_condition::stale, trigger_state::cleared, severity::warning, e, out);
        break;
    case health_kind::gap:
        emit(f, feed_condition::gap, trigger_state::fired, severity::warning, e, out);
        return;
    }
    refresh(f, e.at, out);
}

} // namespace seismo::signals
