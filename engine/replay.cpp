#include "engine/replay.hpp"

#include "engine/core/json_writer.hpp"
#include "engine/core/time.hpp"
#include "engine/trigger_json.hpp"

#include <cstdio>
#include <cstring>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace seismo::engine {
namespace {

std::unique_ptr<core::instrument_registry> make_registry(const config& cfg) {
    auto reg = std::make_unique<core::instrument_registry>(cfg.engine.max_instruments);
    populate_registry(cfg, *reg);
    return reg;
}

constexpr std::string_view k_late_detail =
    "older than the instrument's last event time by more than the allowed lateness";
constexpr std::string_view k_dup_detail = "seq: not after the last one applied for this instrument";

} // namespace

std::uint64_t replay_stats::rejected_total() const noexcept {
    std::uint64_t n = 0;
    for (auto r : rejected) n += r;
    return n;
}

std::string summary_json(const replay_stats& s) {
    std::string o = R"({"frames":)";
    core::append_uint(o, s.frames);
    o += R"(,"applied":)";
    core::append_uint(o, s.applied);
    o += R"(,"references":)";
    core::append_uint(o, s.references);
    o += R"(,"ignored":)";
    core::append_uint(o, s.ignored);
    o += R"(,"rejected":{)";
    for (std::size_t i = 0; i < feeds::k_reject_reasons; ++i) {
        if (i != 0) o += ',';
        o += '"';
        o += feeds::to_string(static_cast<feeds::reject_reason>(i));
        o += R"(":)";
        core::append_uint(o, s.rejected[i]);
    }
    o += R"(},"triggers":)";
    core::append_uint(o, s.triggers);
    o += R"(,"seconds":)";
    core::append_double(o, s.seconds);
    o += R"(,"ticks_per_second":)";
    core::append_double(o, s.seconds > 0 ? static_cast<double>(s.applied + s.references) / s.seconds : 0.0);
    o += "}\n";
    return o;
}

std::string summary_text(const replay_stats& s) {
    std::ostringstream o;
    o << "seismo: " << s.frames << " frames, " << s.applied << " ticks applied, " << s.references
      << " reference updates, " << s.ignored << " ignored, " << s.rejected_total() << " rejected";
    if (s.rejected_total() != 0) {
        o << " (";
        bool first = true;
        for (std::size_t i = 0; i < feeds::k_reject_reasons; ++i) {
            if (s.rejected[i] == 0) continue;
            o << (first ? "" : ", ") << feeds::to_string(static_cast<feeds::reject_reason>(i))
              << " " << s.rejected[i];
            first = false;
        }
        o << ")";
    }
    char rate[64];
    std::snprintf(rate, sizeof rate, "%.3f s, %.2f M ticks/s", s.seconds,
                  s.seconds > 0 ? static_cast<double>(s.applied + s.references) / s.seconds / 1e6 : 0.0);
    o << "; " << s.triggers << " triggers; " << rate << "\n";
    return o.str();
}

replay_session::replay_session(const config& cfg, const replay_options& opts)
    : cfg_(&cfg), opts_(opts), registry_(make_registry(cfg)),
      graph_(cfg.signals, *registry_, signals::graph_options{cfg.engine.lateness}),
      symbols_(*registry_, registry_->venue("generic")),
      parser_(symbols_, cfg.engine.max_frame_bytes), dead_(opts.dead_letter) {
    if (!opts_.out.empty()) out_ = output_file(opts_.out);
    if (!opts_.ticks.empty()) ticks_out_ = output_file(opts_.ticks);
    ticks_.reserve(1024);
    buf_.reserve(4096);
    started_ = core::monotonic_now();
}

replay_session::~replay_session() = default;

void replay_session::reject(std::string_view feed, std::uint64_t pos, core::nanos recv_ts,
                            feeds::reject_reason r, std::string_view detail,
                            std::string_view frame) {
    ++stats_.rejected[static_cast<std::size_t>(r)];
    dead_.write(recv_ts, feed, pos, r, detail, frame);
}

void replay_session::write_tick(const core::tick& t) {
    buf_.clear();
    buf_ += R"({"sym":)";
    core::append_json_string(buf_, registry_->info(t.inst).symbol);
    if (t.kind == core::tick_kind::reference) {
        buf_ += R"(,"prev_close":)";
        core::append_double(buf_, t.px);
    } else {
        buf_ += R"(,"px":)";
        core::append_double(buf_, t.px);
    }
    buf_ += R"(,"ts":)";
    core::append_int(buf_, t.event_ts());
    if (t.kind != core::tick_kind::reference) {
        buf_ += R"(,"sz":)";
        core::append_double(buf_, t.sz);
        if (t.seq != 0) {
            buf_ += R"(,"seq":)";
            core::append_uint(buf_, t.seq);
        }
        buf_ += R"(,"kind":")";
        buf_ += core::to_string(t.kind);
        buf_ += '"';
    }
    buf_ += R"(,"venue":)";
    core::append_json_string(buf_, registry_->venue_name(t.venue));
    buf_ += "}\n";
    ticks_out_.write(buf_);
}

void replay_session::process(std::string_view feed, const line_reader::line& l) {
    ++stats_.frames;
    // The replay clock: the greatest event time applied so far (frames without a timestamp
    // take it as their receive time).
    const core::nanos wm = graph_.watermark();
    const core::nanos recv_ts = wm == std::numeric_limits<core::nanos>::min() ? 0 : wm;
    if (l.truncated) {
        reject(feed, l.number, recv_ts, feeds::reject_reason::oversize,
               "frame larger than the limit", l.text);
        return;
    }
    ticks_.clear();
    const feeds::parse_result r =
        parser_.parse(l.text.data(), l.text.size(), l.text.size() + k_line_padding, recv_ts, ticks_);
    switch (r.status) {
    case feeds::frame_status::rejected:
        reject(feed, l.number, recv_ts, r.reason, r.detail, l.text);
        return;
    case feeds::frame_status::ignored:
    case feeds::frame_status::control: ++stats_.ignored; return;
    case feeds::frame_status::ticks: break;
    }
    for (const core::tick& t : ticks_) {
        if (t.kind != core::tick_kind::reference &&
            seqs_.check(t.inst, t.seq) == feeds::sequence_tracker::verdict::duplicate) {
            reject(feed, l.number, recv_ts, feeds::reject_reason::duplicate, k_dup_detail, l.text);
            continue;
        }
        switch (graph_.apply(t, *this)) {
        case signals::apply_status::late:
            reject(feed, l.number, recv_ts, feeds::reject_reason::late, k_late_detail, l.text);
            continue;
        case signals::apply_status::reference: ++stats_.references; break;
        case signals::apply_status::applied:
            ++stats_.applied;
            seqs_.record(t.inst, t.seq);
            break;
        }
        if (ticks_out_.is_open()) write_tick(t);
    }
}

void replay_session::process_buffer(std::string_view feed, const char* data, std::size_t size) {
    line_reader::line l;
    std::size_t pos = 0;
    std::uint64_t n = 0;
    while (pos < size) {
        const void* nl = std::memchr(data + pos, '\n', size - pos);
        const std::size_t stop = nl != nullptr ? static_cast<std::size_t>(static_cast<const char*>(nl) - data) : size;
        std::size_t len = stop - pos;
        if (len > 0 && data[pos + len - 1] == '\r') --len;
        l.number = ++n;
        l.truncated = false;
        l.text = std::string_view(data + pos, len);
        process(feed, l);
        pos = stop + 1;
    }
}

void replay_session::on_trigger(const signals::trigger& t) {
    ++stats_.triggers;
    buf_.clear();
    append_trigger_json(buf_, t, graph_.specs(), *registry_, opts_.deterministic);
    buf_ += '\n';
    if (out_.is_open()) out_.write(buf_);
    if (observer_) observer_(t, std::string_view(buf_).substr(0, buf_.size() - 1));
}

replay_stats replay_session::finish() {
    stats_.seconds = static_cast<double>(core::monotonic_now() - started_) / 1e9;
    out_.flush();
    ticks_out_.flush();
    dead_.flush();
    if (!opts_.summary.empty()) {
        output_file s(opts_.summary);
        s.write(summary_json(stats_));
        s.close();
    }
    return stats_;
}

replay_stats run_replay(const config& cfg, const replay_options& opts) {
    if (opts.format != "auto" && opts.format != "jsonl") {
        throw std::invalid_argument("--format " + opts.format + " is not supported");
    }
    replay_session session(cfg, opts);
    for (const auto& path : opts.inputs) {
        line_reader reader(path, cfg.engine.max_frame_bytes + 1);
        line_reader::line l;
        while (reader.next(l)) session.process(path, l);
    }
    return session.finish();
}

} // namespace seismo::engine
