#include "engine/replay.hpp"

#include "engine/core/json_writer.hpp"
#include "engine/core/time.hpp"
#include "engine/plot.hpp"
#include "engine/trigger_json.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace seismo::engine {
namespace {

std::unique_ptr<core::instrument_registry> make_registry(const config& cfg) {
    auto reg = std::make_unique<core::instrument_registry>(cfg.engine.max_instruments);
    populate_registry(cfg, *reg);
    return reg;
}

feeds::venue venue_of(const std::string& name) {
    feeds::venue v = feeds::venue::generic;
    if (!name.empty() && !feeds::parse_venue(name, v)) {
        throw std::invalid_argument(
            "unknown venue '" + name +
            "' (expected binance, coinbase, kraken, okx, bybit or generic)");
    }
    return v;
}

/// Tardis CSV exchange names ("binance-futures", "okex-swap", ...) to seismo venue names.
std::string venue_from_exchange(std::string_view ex) {
    const std::string_view base = ex.substr(0, ex.find('-'));
    if (base == "okex") return "okx";
    return std::string(base);
}

bool is_tardis_line(std::string_view l) {
    const auto sp = l.find(' ');
    core::nanos t = 0;
    return sp != std::string_view::npos && sp >= 20 && core::parse_rfc3339(l.substr(0, sp), t);
}

constexpr std::string_view k_late_detail =
    "older than the instrument's last event time by more than the allowed lateness";
constexpr std::string_view k_dup_detail = "seq: not after the last one applied for this instrument";

} // namespace

std::uint64_t replay_stats::rejected_total() const noexcept {
    std::uint64_t n = 0;
    for (auto r : rejected)
        n += r;
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
    core::append_double(o, s.seconds > 0 ? static_cast<double>(s.applied + s.references) / s.seconds
                                         : 0.0);
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
                  s.seconds > 0 ? static_cast<double>(s.applied + s.references) / s.seconds / 1e6
                                : 0.0);
    o << "; " << s.triggers << " triggers; " << rate << "\n";
    return o.str();
}

replay_session::replay_session(const config& cfg, const replay_options& opts)
    : cfg_(&cfg), opts_(opts), registry_(make_registry(cfg)),
      graph_(cfg.signals, *registry_, signals::graph_options{cfg.engine.lateness}),
      symbols_(*registry_, registry_->venue(opts.venue.empty() ? "generic" : opts.venue)),
      parser_(venue_of(opts.venue), symbols_,
              venue_of(opts.venue) == feeds::venue::generic ? cfg.engine.max_frame_bytes
                                                            : cfg.engine.max_venue_frame_bytes),
      dead_(opts.dead_letter) {
    if (!opts_.out.empty()) out_ = output_file(opts_.out);
    if (!opts_.ticks.empty()) ticks_out_ = output_file(opts_.ticks);
    ticks_.reserve(1024);
    buf_.reserve(4096);
    if (!opts_.plot.empty()) plot_ = std::make_unique<plot_recorder>();
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
    append_tick_json(buf_, t, *registry_);
    buf_ += '\n';
    ticks_out_.write(buf_);
}

void replay_session::process(std::string_view feed, const line_reader::line& l, input_format fmt) {
    ++stats_.frames;
    // The replay clock: the greatest event time applied so far (frames without a timestamp
    // take it as their receive time).
    const core::nanos wm = graph_.watermark();
    const core::nanos clock = wm == std::numeric_limits<core::nanos>::min() ? 0 : wm;
    if (l.truncated) {
        reject(feed, l.number, clock, feeds::reject_reason::oversize, "frame larger than the limit",
               l.text);
        return;
    }
    switch (fmt) {
    case input_format::jsonl:
        apply_frame(feed, l.number, l.text.data(), l.text.size(), l.text.size() + k_line_padding,
                    clock, l.text);
        return;
    case input_format::tardis: {
        // "<ISO 8601 receive time> <frame exactly as received>"
        const auto sp = l.text.find(' ');
        core::nanos recv = 0;
        if (sp == std::string_view::npos || !core::parse_rfc3339(l.text.substr(0, sp), recv)) {
            if (l.text.find_first_not_of(" \t") == std::string_view::npos) {
                ++stats_.ignored;
                return;
            }
            reject(feed, l.number, clock, feeds::reject_reason::malformed,
                   "tardis line: expected '<ISO time> <frame>'", l.text);
            return;
        }
        const char* frame = l.text.data() + sp + 1;
        const std::size_t len = l.text.size() - sp - 1;
        apply_frame(feed, l.number, frame, len, len + k_line_padding, recv, l.text);
        return;
    }
    case input_format::tardis_csv:
        process_csv(feed, l);
        return;
    }
}

void replay_session::apply_frame(std::string_view feed, std::uint64_t pos, const char* data,
                                 std::size_t len, std::size_t capacity, core::nanos recv_ts,
                                 std::string_view raw_line) {
    ticks_.clear();
    const feeds::parse_result r = parser_.parse(data, len, capacity, recv_ts, ticks_);
    switch (r.status) {
    case feeds::frame_status::rejected:
        reject(feed, pos, recv_ts, r.reason, r.detail, raw_line);
        return;
    case feeds::frame_status::ignored:
    case feeds::frame_status::control:
        ++stats_.ignored;
        return;
    case feeds::frame_status::ticks:
        break;
    }
    apply_ticks(feed, pos, recv_ts, raw_line);
}

void replay_session::apply_ticks(std::string_view feed, std::uint64_t pos, core::nanos recv_ts,
                                 std::string_view raw_line) {
    for (const core::tick& t : ticks_) {
        if (t.kind != core::tick_kind::reference &&
            seqs_.check(t) == feeds::sequence_tracker::verdict::duplicate) {
            reject(feed, pos, recv_ts, feeds::reject_reason::duplicate, k_dup_detail, raw_line);
            continue;
        }
        triggered_ = false;
        switch (graph_.apply(t, *this)) {
        case signals::apply_status::late:
            reject(feed, pos, recv_ts, feeds::reject_reason::late, k_late_detail, raw_line);
            continue;
        case signals::apply_status::reference:
            ++stats_.references;
            break;
        case signals::apply_status::applied:
            ++stats_.applied;
            seqs_.record(t);
            break;
        }
        if (ticks_out_.is_open()) write_tick(t);
        if (plot_) plot_->after_step(graph_, *registry_, triggered_);
    }
}

core::symbol_cache& replay_session::csv_symbols(std::string_view exchange) {
    const std::string venue = opts_.venue.empty() ? venue_from_exchange(exchange) : opts_.venue;
    for (auto& [name, cache] : csv_symbols_) {
        if (name == venue) return *cache;
    }
    csv_symbols_.emplace_back(
        venue, std::make_unique<core::symbol_cache>(*registry_, registry_->venue(venue)));
    return *csv_symbols_.back().second;
}

void replay_session::process_csv(std::string_view feed, const line_reader::line& l) {
    // Tardis trades CSV: exchange,symbol,timestamp,local_timestamp,id,side,price,amount
    // (timestamps in microseconds), columns found by the header.
    std::vector<std::string_view> cols;
    std::size_t start = 0;
    for (;;) {
        const auto comma = l.text.find(',', start);
        cols.push_back(l.text.substr(start, comma == std::string_view::npos ? std::string_view::npos
                                                                            : comma - start));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    const core::nanos wm = graph_.watermark();
    const core::nanos clock = wm == std::numeric_limits<core::nanos>::min() ? 0 : wm;
    if (csv_columns_.empty() || (!cols.empty() && cols[0] == "exchange")) {
        static const char* const k_names[] = {"price", "amount", "timestamp", "local_timestamp",
                                              "id",    "symbol", "exchange"};
        csv_columns_.assign(7, -1);
        for (std::size_t c = 0; c < cols.size(); ++c) {
            for (std::size_t k = 0; k < 7; ++k) {
                if (cols[c] == k_names[k]) csv_columns_[k] = static_cast<int>(c);
            }
        }
        if (csv_columns_[0] < 0 || csv_columns_[5] < 0 || csv_columns_[2] < 0) {
            csv_columns_.clear();
            reject(feed, l.number, clock, feeds::reject_reason::malformed,
                   "tardis-csv: expected a header with symbol, timestamp and price", l.text);
            return;
        }
        ++stats_.ignored; // the header
        return;
    }
    auto col = [&](int k) -> std::string_view {
        const int c = csv_columns_[static_cast<std::size_t>(k)];
        return c >= 0 && static_cast<std::size_t>(c) < cols.size()
                   ? cols[static_cast<std::size_t>(c)]
                   : std::string_view{};
    };
    auto micros = [](std::string_view s, core::nanos& out) {
        std::int64_t v = 0;
        const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
        if (r.ec != std::errc{} || r.ptr != s.data() + s.size() || v < 0) return false;
        out = v * 1000;
        return true;
    };
    core::tick t;
    t.kind = core::tick_kind::trade;
    double px = 0, sz = 0;
    auto num = [](std::string_view s, double& out) {
        if (s.empty()) return false;
        const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
        return r.ec == std::errc{} && r.ptr == s.data() + s.size();
    };
    if (!micros(col(2), t.exch_ts)) {
        reject(feed, l.number, clock, feeds::reject_reason::bad_timestamp,
               "timestamp: expected epoch microseconds", l.text);
        return;
    }
    if (!col(3).empty() && !micros(col(3), t.recv_ts)) {
        reject(feed, l.number, clock, feeds::reject_reason::bad_timestamp,
               "local_timestamp: expected epoch microseconds", l.text);
        return;
    }
    if (t.recv_ts == 0) t.recv_ts = t.exch_ts;
    if (!num(col(0), px)) {
        reject(feed, l.number, clock, feeds::reject_reason::bad_field, "price: expected a decimal",
               l.text);
        return;
    }
    if (!std::isfinite(px)) {
        reject(feed, l.number, clock, feeds::reject_reason::non_finite, "price: not finite",
               l.text);
        return;
    }
    if (!col(1).empty() && (!num(col(1), sz) || sz < 0 || !std::isfinite(sz))) {
        reject(feed, l.number, clock, feeds::reject_reason::bad_field,
               "amount: expected a non-negative decimal", l.text);
        return;
    }
    if (col(5).empty()) {
        reject(feed, l.number, clock, feeds::reject_reason::missing_field, "symbol: missing",
               l.text);
        return;
    }
    core::symbol_cache& syms = csv_symbols(col(6));
    const core::symbol_cache::entry e = syms.resolve(col(5));
    if (e.id == core::k_no_instrument) {
        reject(feed, l.number, clock, feeds::reject_reason::registry_full,
               "symbol: instrument registry is full", l.text);
        return;
    }
    if (e.kind == core::value_kind::price && px <= 0) {
        reject(feed, l.number, clock, feeds::reject_reason::non_positive, "price: not above zero",
               l.text);
        return;
    }
    t.inst = e.id;
    t.venue = syms.venue();
    t.px = px;
    t.sz = sz;
    const std::string_view id = col(4);
    std::uint64_t seq = 0;
    if (!id.empty() &&
        std::from_chars(id.data(), id.data() + id.size(), seq).ptr == id.data() + id.size())
        t.seq = seq;
    ticks_.clear();
    ticks_.push_back(t);
    apply_ticks(feed, l.number, t.recv_ts, l.text);
}

void replay_session::process_buffer(std::string_view feed, const char* data, std::size_t size) {
    line_reader::line l;
    std::size_t pos = 0;
    std::uint64_t n = 0;
    while (pos < size) {
        const void* nl = std::memchr(data + pos, '\n', size - pos);
        const std::size_t stop =
            nl != nullptr ? static_cast<std::size_t>(static_cast<const char*>(nl) - data) : size;
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
    triggered_ = true;
    if (plot_) plot_->on_trigger(t, *registry_);
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
    if (plot_) {
        std::string title = "seismo replay";
        for (const auto& i : opts_.inputs)
            title += " " + i;
        plot_->write(opts_.plot, graph_, {}, title);
    }
    return stats_;
}

input_format sniff_format(const std::string& path) {
    line_reader reader(path, 1 << 20);
    line_reader::line l;
    while (reader.next(l)) {
        if (l.text.find_first_not_of(" \t") == std::string_view::npos) continue;
        if (l.text.starts_with("exchange,symbol,") || l.text.starts_with("exchange,"))
            return input_format::tardis_csv;
        if (is_tardis_line(l.text)) return input_format::tardis;
        return input_format::jsonl;
    }
    return input_format::jsonl;
}

replay_stats run_replay(const config& cfg, const replay_options& opts) {
    std::optional<input_format> fixed;
    if (opts.format == "jsonl")
        fixed = input_format::jsonl;
    else if (opts.format == "tardis")
        fixed = input_format::tardis;
    else if (opts.format == "tardis-csv")
        fixed = input_format::tardis_csv;
    else if (opts.format != "auto")
        throw std::invalid_argument("--format " + opts.format + " is not supported");
    (void)venue_of(opts.venue); // validate early
    std::vector<input_format> formats;
    for (const auto& path : opts.inputs) {
        const input_format f =
            fixed ? *fixed : (path == "-" ? input_format::jsonl : sniff_format(path));
        if (f == input_format::tardis && opts.venue.empty()) {
            throw std::invalid_argument(
                path +
                ": a Tardis raw capture needs --venue (binance, coinbase, kraken, okx or bybit)");
        }
        formats.push_back(f);
    }
    replay_session session(cfg, opts);
    for (std::size_t i = 0; i < opts.inputs.size(); ++i) {
        line_reader reader(opts.inputs[i],
                           std::max(cfg.engine.max_frame_bytes, cfg.engine.max_venue_frame_bytes) +
                               64);
        line_reader::line l;
        while (reader.next(l))
            session.process(opts.inputs[i], l, formats[i]);
    }
    return session.finish();
}

} // namespace seismo::engine
