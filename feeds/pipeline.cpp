#include "feeds/pipeline.hpp"

#include "feeds/generic.hpp"
#include "feeds/tardis.hpp"

namespace seismo::feeds {
namespace {

/// The key each venue names a tick's instrument by, as it appears before the symbol.
std::string_view symbol_key(venue v) noexcept {
    switch (v) {
    case venue::generic:
        return R"("sym":")";
    case venue::binance:
    case venue::bybit:
        return R"("s":")";
    case venue::coinbase:
        return R"("product_id":")";
    case venue::okx:
        return R"("instId":")";
    case venue::kraken:
        return R"("symbol":")";
    }
    return {};
}

} // namespace

frame_pipeline::frame_pipeline(venue v, core::instrument_registry& reg, std::size_t max_frame,
                               frame_sink& sink, std::uint16_t feed, feed_stats& stats)
    : syms_(std::make_unique<core::symbol_cache>(reg, reg.venue(to_string(v)))),
      symbol_key_(symbol_key(v)), sink_(sink), feed_(feed), stats_(stats) {
    // The generic protocol's parser directly: the venue dispatch would only forward to it.
    if (v == venue::generic)
        generic_ = std::make_unique<generic_parser>(*syms_, max_frame);
    else
        parser_ = std::make_unique<venue_parser>(v, *syms_, max_frame);
    ticks_.reserve(256);
}

frame_pipeline::frame_pipeline(std::unique_ptr<tardis_csv_parser> csv,
                               core::instrument_registry& /*reg*/, frame_sink& sink,
                               std::uint16_t feed, feed_stats& stats)
    : csv_(std::move(csv)), sink_(sink), feed_(feed), stats_(stats) {
    ticks_.reserve(16);
}

frame_pipeline::~frame_pipeline() = default;

frame_pipeline::outcome frame_pipeline::handle(const char* data, std::size_t len,
                                               std::size_t capacity, core::nanos recv,
                                               std::uint32_t frame_no) {
    last_frame_no_ = frame_no;
    outcome o;
    const std::string_view frame(data, len);
    ticks_.clear();
    const parse_result r = generic_ ? generic_->parse(data, len, capacity, recv, ticks_)
                           : csv_   ? csv_->parse(frame, ticks_)
                                    : parser_->parse(data, len, capacity, recv, ticks_);
    // Every frame the venue numbered counts, heartbeats and ignored channels too: a
    // connection-level gap is a number skipped, not a number on a frame without ticks.
    o.connection_seq = r.connection_seq;
    switch (r.status) {
    case frame_status::rejected:
        count(frame_outcome::rejected);
        stats_.rejected[static_cast<std::size_t>(r.reason)].add();
        sink_.on_reject(feed_, frame_no, r.reason, r.detail, frame, recv);
        break;
    case frame_status::ignored:
        count(frame_outcome::ignored);
        if (!r.detail.empty()) stats_.off_book.add(); // the only ignored frames with a reason
        if (!has_first_ignored_.load(std::memory_order_relaxed)) [[unlikely]] {
            first_ignored_.assign(frame.substr(0, 160));
            has_first_ignored_.store(true, std::memory_order_release);
        }
        break;
    case frame_status::control:
        count(frame_outcome::control);
        break;
    case frame_status::ticks: {
        std::size_t kept = 0, repeats = 0;
        for (std::size_t i = 0; i < ticks_.size(); ++i) {
            const core::tick& t = ticks_[i];
            const sequence_tracker::judgement j = t.kind == core::tick_kind::reference
                                                      ? sequence_tracker::judgement{}
                                                      : seqs_.judge(t);
            if (j.duplicate && (t.flags & core::k_seq_repeatable) != 0) {
                ++repeats; // routine protocol traffic (Coinbase's last_match), not bad input
                continue;
            }
            if (j.duplicate) {
                stats_.rejected[static_cast<std::size_t>(reject_reason::duplicate)].add();
                sink_.on_reject(feed_, frame_no, reject_reason::duplicate,
                                "seq: not after the last one applied for this instrument", frame,
                                t.recv_ts);
                continue;
            }
            if (j.missing != 0) {
                stats_.gaps.add();
                stats_.missing.add(j.missing);
                core::health_event e;
                e.kind = core::health_kind::gap;
                e.at = t.recv_ts;
                e.value = j.missing;
                e.inst = t.inst;
                sink_.on_health(feed_, e);
            }
            if (kept != i) ticks_[kept] = t;
            ++kept;
        }
        if (kept == 0 && repeats != 0 && repeats == ticks_.size()) {
            count(frame_outcome::ignored); // nothing but a routine repeat
            break;
        }
        count(frame_outcome::data);
        o.data = true;
        stats_.last_data.set(recv);
        if (kept != 0) {
            stats_.ticks.add(kept);
            sink_.on_ticks(feed_, frame_no, ticks_.data(), kept);
        }
        break;
    }
    }
    // Every frame, after its ticks: the journal, off the ticks' path.
    sink_.on_frame_done(feed_, frame_no, frame, recv);
    return o;
}

std::string_view frame_pipeline::peek_symbol(std::string_view frame) const noexcept {
    if (symbol_key_.empty()) return {};
    const std::size_t at = frame.find(symbol_key_);
    if (at == std::string_view::npos) return {};
    const std::size_t from = at + symbol_key_.size();
    constexpr std::size_t k_longest = 64;
    const std::size_t end = frame.find('"', from);
    if (end == std::string_view::npos || end - from > k_longest) return {};
    const std::string_view sym = frame.substr(from, end - from);
    if (sym.find('\\') != std::string_view::npos) return {}; // escaped: leave it to the parser
    return sym;
}

core::instrument_id frame_pipeline::known(std::string_view sym) const noexcept {
    return syms_ ? syms_->find(sym, core::hash_bytes(sym)) : core::k_no_instrument;
}

void frame_pipeline::refuse(reject_reason why, std::string_view detail, std::string_view frame,
                            core::nanos recv, std::uint32_t frame_no) {
    last_frame_no_ = frame_no;
    count(frame_outcome::rejected);
    stats_.rejected[static_cast<std::size_t>(why)].add();
    sink_.on_reject(feed_, frame_no, why, detail, frame, recv);
}

void frame_pipeline::connection_gap(std::uint64_t missing, core::nanos at) {
    stats_.gaps.add();
    stats_.missing.add(missing);
    core::health_event e;
    e.kind = core::health_kind::gap;
    e.at = at;
    e.value = missing;
    sink_.on_health(feed_, e);
}

} // namespace seismo::feeds
