#include "engine/signal_core.hpp"

namespace seismo::engine {

void signal_core::emit(std::uint16_t feed, signals::feed_condition c, signals::trigger_state st,
                       signals::severity sev, core::nanos at, std::uint64_t value,
                       core::instrument_id inst, signals::trigger_sink& out) {
    signals::trigger t;
    t.seq = graph_->next_seq();
    t.signal = signals::k_feed_health;
    t.feed = feed;
    t.condition = c;
    t.state = st;
    t.sev = sev;
    t.value = static_cast<double>(value);
    t.event_ts = at;
    t.recv_ts = at;
    t.inst = inst;
    out.on_trigger(t);
}

void signal_core::refresh(std::uint16_t f, core::nanos now, signals::trigger_sink& out) {
    const std::uint64_t bit = std::uint64_t{1} << f;
    if (down_[f] || stale_[f])
        unhealthy_ |= bit;
    else
        unhealthy_ &= ~bit;
    for (std::size_t i = 0; i < inst_feeds_.size(); ++i) {
        if ((inst_feeds_[i] & bit) == 0) continue;
        const bool stale = (inst_feeds_[i] & ~unhealthy_) == 0;
        graph_->set_stale(core::instrument_id{static_cast<std::uint32_t>(i)}, stale, now, out);
    }
}

void signal_core::health(std::uint16_t f, feeds::health_kind kind, core::nanos at,
                         std::uint64_t value, core::instrument_id inst,
                         signals::trigger_sink& out) {
    using feeds::health_kind;
    using signals::feed_condition;
    using signals::severity;
    using signals::trigger_state;
    switch (kind) {
    case health_kind::down:
        if (down_[f]) return;
        down_[f] = true;
        emit(f, feed_condition::down, trigger_state::fired, severity::critical, at, value, inst,
             out);
        break;
    case health_kind::up:
        if (!down_[f]) return;
        down_[f] = false;
        emit(f, feed_condition::down, trigger_state::cleared, severity::critical, at, value, inst,
             out);
        break;
    case health_kind::stale:
        if (stale_[f]) return;
        stale_[f] = true;
        emit(f, feed_condition::stale, trigger_state::fired, severity::warning, at, value, inst,
             out);
        break;
    case health_kind::fresh:
        if (!stale_[f]) return;
        stale_[f] = false;
        emit(f, feed_condition::stale, trigger_state::cleared, severity::warning, at, value, inst,
             out);
        break;
    case health_kind::gap:
        emit(f, feed_condition::gap, trigger_state::fired, severity::warning, at, value, inst, out);
        return;
    }
    refresh(f, at, out);
}

} // namespace seismo::engine
