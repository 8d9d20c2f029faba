#include "feeds/pipeline.hpp"

#include "engine/core/time.hpp"

namespace seismo::feeds {

frame_pipeline::outcome frame_pipeline::handle(const char* data, std::size_t len,
                                               std::size_t capacity, core::nanos recv) {
    const outcome o = process(data, len, capacity, recv);
    sink_.on_frame_done(feed_, std::string_view(data, len),
                        recv); // the journal: off the ticks' path
    return o;
}

frame_pipeline::outcome frame_pipeline::process(const char* data, std::size_t len,
                                                std::size_t capacity, core::nanos recv) {
    outcome o;
    const std::string_view frame(data, len);
    sink_.on_frame(feed_, frame, recv);
    ticks_.clear();
    const parse_result r = parser_.parse(data, len, capacity, recv, ticks_);
    switch (r.status) {
    case frame_status::rejected:
        stats_.rejected[static_cast<std::size_t>(r.reason)].fetch_add(1, std::memory_order_relaxed);
        sink_.on_reject(feed_, r.reason, r.detail, frame, recv);
        return o;
    case frame_status::ignored:
        stats_.ignored.fetch_add(1, std::memory_order_relaxed);
        return o;
    case frame_status::control:
        stats_.control.fetch_add(1, std::memory_order_relaxed);
        return o;
    case frame_status::ticks:
        break;
    }
    o.data = true;
    o.connection_seq = r.connection_seq;
    stats_.frames.fetch_add(1, std::memory_order_relaxed);
    stats_.last_frame.store(recv, std::memory_order_relaxed);
    std::size_t kept = 0;
    for (std::size_t i = 0; i < ticks_.size(); ++i) {
        const core::tick& t = ticks_[i];
        if (t.kind != core::tick_kind::reference &&
            seqs_.check(t) == sequence_tracker::verdict::duplicate) {
            stats_.rejected[static_cast<std::size_t>(reject_reason::duplicate)].fetch_add(
                1, std::memory_order_relaxed);
            sink_.on_reject(feed_, reject_reason::duplicate,
                            "seq: not after the last one applied for this instrument", frame, recv);
            continue;
        }
        if (const std::uint64_t miss = seqs_.missing(t); miss != 0) {
            stats_.gaps.fetch_add(1, std::memory_order_relaxed);
            stats_.missing.fetch_add(miss, std::memory_order_relaxed);
            health_event e;
            e.kind = health_kind::gap;
            e.at = core::realtime_now();
            e.value = miss;
            e.inst = t.inst;
            sink_.on_health(feed_, e);
        }
        seqs_.record(t);
        ticks_[kept++] = t;
    }
    if (kept != 0) {
        stats_.ticks.fetch_add(kept, std::memory_order_relaxed);
        sink_.on_ticks(feed_, ticks_.data(), kept);
    }
    return o;
}

void frame_pipeline::connection_gap(std::uint64_t missing) {
    stats_.gaps.fetch_add(1, std::memory_order_relaxed);
    stats_.missing.fetch_add(missing, std::memory_order_relaxed);
    health_event e;
    e.kind = health_kind::gap;
    e.at = core::realtime_now();
    e.value = missing;
    sink_.on_health(feed_, e);
}

} // namespace seismo::feeds
