#include "engine/journal_replay.hpp"

#include "engine/core/json_writer.hpp"
#include "engine/core/time.hpp"
#include "engine/journal/output.hpp"
#include "engine/journal/reader.hpp"
#include "engine/reload.hpp"
#include "engine/signal_stage.hpp"
#include "feeds/pipeline.hpp"

#include <cstdio>
#include <cstring>
#include <deque>
#include <iostream>
#include <thread>
#include <unistd.h>

namespace seismo::engine {
namespace {

std::vector<std::string> feed_names(const journal::meta& m) {
    std::vector<std::string> n;
    for (const auto& f : m.feeds)
        n.push_back(f.name);
    return n;
}

std::unique_ptr<core::instrument_registry> make_registry(const config& c) {
    auto reg = std::make_unique<core::instrument_registry>(c.engine.max_instruments);
    populate_registry(c, *reg);
    return reg;
}

/// Everything a journal replay drives: per recorded feed, a frame_pipeline like the live
/// feed's; the ticks of each frame held until the recorded consumption order names them, then
/// into the signal stage in that order; the recorded health events at their place.
struct replayer final : feeds::frame_sink {
    replayer(const config& c, const journal_replay_options& opts, const journal::meta& m)
        : current(std::make_shared<config>(c)), registry(make_registry(c)),
          out(c, *registry, opts.base, feed_names(m)),
          stage(c, *registry, std::max<std::size_t>(m.feeds.size(), 1), out) {
        out.plot_graph(&stage.graph());
        for (std::size_t i = 0; i < m.feeds.size(); ++i) {
            const feed_config* fc = nullptr;
            for (const auto& f : c.feeds) {
                if (f.name == m.feeds[i].name) fc = &f;
            }
            slots.push_back({m.feeds[i].name, m.feeds[i].venue,
                             fc != nullptr ? std::optional<feed_config>(*fc) : std::nullopt, true});
            add_pipe(c, m.feeds[i].name, m.feeds[i].venue, fc);
        }
    }

    void add_pipe(const config& c, const std::string& name, const std::string& venue,
                  const feed_config* fc) {
        feeds::venue v = feeds::venue::generic;
        if (venue != "nats" && !feeds::parse_venue(venue, v))
            throw std::runtime_error("journal feed '" + name + "': unknown venue " + venue);
        stats.push_back(std::make_unique<feeds::feed_stats>());
        pipes.push_back(std::make_unique<feeds::frame_pipeline>(
            v, *registry, max_frame_for(c, v, fc), *this, static_cast<std::uint16_t>(pipes.size()),
            *stats.back()));
        pending.emplace_back();
    }

    // The running config and feed ids: a recorded reload changes them as it did live.
    std::shared_ptr<const config> current;
    std::vector<feed_slot> slots;
    std::uint64_t reloads = 0, reload_failures = 0;
    std::unique_ptr<core::instrument_registry> registry;
    replay_outputs out;
    signal_stage stage;
    std::vector<std::unique_ptr<feeds::feed_stats>> stats;
    std::vector<std::unique_ptr<feeds::frame_pipeline>> pipes;
    std::uint64_t frames = 0; // frame records read

    // Per feed, the ticks of recorded frames not yet all consumed, in frame-number order (frame
    // numbers count a feed's frames from 1; the signal thread consumes them nearly in order, so
    // this stays short and nothing is allocated per frame once the deques have grown).
    struct slot {
        std::uint64_t first = 0; // absolute index of its first tick in `ticks`
        std::uint16_t count = 0;
        std::uint16_t consumed = 0;
    };
    struct feed_frames {
        std::uint32_t base = 0; // frame number of slots.front()
        std::deque<slot> slots;
        std::deque<core::tick> ticks;
        std::uint64_t tick_base = 0; // absolute index of ticks.front()
    };
    static constexpr std::size_t k_max_pending = 1u << 20; // frames held per feed at most
    std::vector<feed_frames> pending;
    std::uint64_t lost = 0; // order entries whose frame was lost or never consumed
    std::uint16_t current_feed = 0;

    // frame_sink: the pipelines' output
    void on_ticks(std::uint16_t, std::uint32_t, const core::tick* t, std::size_t n) override {
        feed_frames& ff = pending[current_feed];
        slot& s = ff.slots.back();
        ff.ticks.insert(ff.ticks.end(), t, t + n);
        s.count = static_cast<std::uint16_t>(s.count + n);
    }
    // The journal's own health records drive (they hold what the live signal thread consumed).
    void on_health(std::uint16_t, const core::health_event&) override {}
    void on_reject(std::uint16_t feed, std::uint32_t frame_no, core::reject_reason why,
                   std::string_view detail, std::string_view frame, core::nanos recv_ts) override {
        out.on_reject(feed, frame_no, why, detail, frame, recv_ts);
    }

    [[nodiscard]] replay_stats figures() const {
        replay_stats s;
        s.frames = frames;
        for (const auto& st : stats) {
            s.ignored +=
                st->frames[static_cast<std::size_t>(feeds::frame_outcome::ignored)].value() +
                st->frames[static_cast<std::size_t>(feeds::frame_outcome::control)].value();
            for (std::size_t r = 0; r < core::k_reject_reasons; ++r)
                s.rejected[r] += st->rejected[r].value();
        }
        const stage_stats& ss = stage.stats();
        s.rejected[static_cast<std::size_t>(core::reject_reason::late)] += ss.late.value();
        s.applied = ss.applied.value();
        s.references = ss.references.value();
        s.triggers = ss.triggers.value();
        return s;
    }

    void frame_record(const journal::record& r) {
        ++frames;
        if (r.feed >= pipes.size() || r.payload.size() < 4) {
            ++bad_records;
            return;
        }
        std::uint32_t frame_no = 0;
        std::memcpy(&frame_no, r.payload.data(), 4);
        const std::string_view bytes = r.payload.substr(4);
        current_feed = r.feed;
        feed_frames& ff = pending[r.feed];
        if (ff.slots.empty()) ff.base = frame_no;
        // Frame numbers are 32-bit and wrap (after 4.3 billion frames of one feed): compare
        // them modulo 2^32.
        const auto next = static_cast<std::uint32_t>(ff.base + ff.slots.size());
        const auto ahead = static_cast<std::int32_t>(frame_no - next);
        if (ahead < 0) {
            ++lost; // not after the feed's last frame: a damaged journal; skip it
            return;
        }
        for (std::int32_t k = 0; k < ahead; ++k)
            ff.slots.push_back({ff.tick_base + ff.ticks.size(), 0, 0});
        ff.slots.push_back({ff.tick_base + ff.ticks.size(), 0, 0});
        // The reader guarantees readable padding after each payload, as the parsers need.
        (void)pipes[r.feed]->handle(bytes.data(), bytes.size(),
                                    bytes.size() + journal::k_read_padding, r.recv_ts, frame_no);
        retire(ff);
        while (ff.slots.size() > k_max_pending) { // a frame never consumed: give up on it
            lost += static_cast<std::uint64_t>(ff.slots.front().count - ff.slots.front().consumed);
            ff.slots.front().consumed = ff.slots.front().count;
            retire(ff);
        }
    }

    /// Drops fully consumed frames from the front.
    static void retire(feed_frames& ff) {
        while (ff.slots.size() > 1 && ff.slots.front().consumed == ff.slots.front().count) {
            const std::size_t n = ff.slots.front().count;
            ff.ticks.erase(ff.ticks.begin(), ff.ticks.begin() + static_cast<std::ptrdiff_t>(n));
            ff.tick_base += n;
            ff.slots.pop_front();
            ++ff.base;
        }
    }

    void order_record(const journal::record& r) {
        const std::size_t n = r.payload.size() / sizeof(journal::order_entry);
        for (std::size_t i = 0; i < n; ++i) {
            journal::order_entry e{};
            std::memcpy(&e, r.payload.data() + i * sizeof e, sizeof e);
            if (e.feed >= pending.size()) {
                ++lost;
                continue;
            }
            feed_frames& ff = pending[e.feed];
            const std::uint32_t k =
                e.frame - ff.base; // modulo 2^32: before base is far out of range
            if (k >= ff.slots.size() || e.index >= ff.slots[k].count) {
                ++lost; // the frame was lost (a damaged record)
                continue;
            }
            slot& s = ff.slots[k];
            const core::tick t = ff.ticks[s.first - ff.tick_base + e.index];
            ++s.consumed;
            stage.tick(e.feed, e.frame, e.index, t);
        }
        for (auto& ff : pending)
            retire(ff);
    }

    void health_record(const journal::record& r) {
        if (r.payload.size() < 16) return;
        core::health_event e;
        e.kind = static_cast<core::health_kind>(r.payload[0]);
        e.cause = static_cast<core::down_cause>(
            std::min<unsigned>(static_cast<unsigned char>(r.payload[1]),
                               static_cast<unsigned>(core::down_cause::lost)));
        std::memcpy(&e.value, r.payload.data() + 8, 8);
        e.at = r.recv_ts;
        const std::string_view symbol = r.payload.substr(16);
        if (!symbol.empty()) e.inst = registry->resolve(registry->venue("generic"), symbol);
        stage.health(r.feed, e);
    }

    /// The resume point of an engine restarted against a NATS trigger stream.
    void resume_record(const journal::record& r) {
        const std::string_view p = r.payload;
        resume_point rp;
        if (p.size() < journal::k_resume_header ||
            !parse_resume_header(p.substr(journal::k_resume_header), rp)) {
            std::cerr << "seismo: journal: a resume record cannot be read; triggers keep the "
                         "numbers of a fresh run\n";
            return;
        }
        rp.found = true;
        std::memcpy(&rp.seq, p.data(), sizeof rp.seq); // little-endian, as written
        out.resume_after(std::move(rp));
    }

    /// A hot reload where the live signal thread swapped (DESIGN §9): the same preparation,
    /// then the same swap at the same place in the consumption order.
    void reload_record(const journal::record& r) {
        const std::string_view p = r.payload;
        if (p.size() < journal::k_reload_header) {
            ++bad_records;
            return;
        }
        const auto file_len = journal::get_le<std::uint32_t>(p.data() + 8);
        if (file_len > p.size() - journal::k_reload_header) {
            ++bad_records;
            return;
        }
        const std::string file(p.substr(journal::k_reload_header, file_len));
        const std::string_view text = p.substr(journal::k_reload_header + file_len);
        try {
            auto next = std::make_shared<config>(
                load_config_string(text, file + " (a reload recorded in the journal)"));
            prepared_reload pr = prepare_reload(*current, next, slots, *registry, out.gens());
            if (!out.gens().add(pr.gen)) throw reload_error("too many reloads");
            for (const auto id : pr.feeds.added) {
                const feed_slot& s = pr.feeds.slots[id];
                add_pipe(*next, s.name, s.venue, s.cfg ? &*s.cfg : nullptr);
            }
            stage.reload(pr, r.recv_ts);
            current = pr.cfg;
            slots = pr.feeds.slots;
            ++reloads;
        } catch (const std::exception& e) {
            // Live, this reload took effect; a replay that cannot take it diverges from here.
            ++reload_failures;
            std::cerr << "seismo: journal: a recorded reload cannot be replayed (triggers after "
                         "it may differ from the live run's): "
                      << e.what() << "\n";
        }
    }

    std::uint64_t bad_records = 0; // frame records that name no recorded feed
};

} // namespace

journal_replay_result run_journal_replay(const std::string& path, const config* override_cfg,
                                         const journal_replay_options& opts) {
    journal::reader rd(path);
    journal_replay_result res;
    std::optional<config> own;
    if (override_cfg == nullptr) {
        own = load_config_string(
            rd.info().config_text,
            (rd.info().config_file.empty() ? std::string("<journal>") : rd.info().config_file) +
                " (as recorded in the journal)");
    } else if (override_cfg->digest != rd.info().digest) {
        std::cerr
            << "seismo: note: --config differs from the config the journal was recorded with; "
               "triggers may differ from the live run's\n";
    }
    const config& cfg = override_cfg != nullptr ? *override_cfg : *own;
    replayer rp(cfg, opts, rd.info());
    const bool tty = opts.progress && isatty(STDERR_FILENO) != 0;
    rd.on_problem([&](const journal::problem& p) {
        ++res.problems;
        res.dropped_bytes += p.dropped_bytes;
        const std::string line = p.segment + " offset " + std::to_string(p.offset) + ": " + p.what;
        if (res.first_problem.empty()) res.first_problem = line;
        std::cerr << (tty ? "\r\033[K" : "") << "seismo: journal: " << line << "\n";
        return !(opts.stop_on_corruption && !p.torn_tail);
    });
    const core::nanos started = core::monotonic_now();
    core::nanos first_recv = 0, last_report = started;
    journal::record r;
    while (rd.next(r)) {
        switch (r.type) {
        case journal::record_type::frame:
            if (opts.speed > 0 && r.recv_ts != 0) {
                if (first_recv == 0) first_recv = r.recv_ts;
                const auto due =
                    started + static_cast<core::nanos>(static_cast<double>(r.recv_ts - first_recv) /
                                                       opts.speed);
                const core::nanos now = core::monotonic_now();
                if (due > now) std::this_thread::sleep_for(std::chrono::nanoseconds(due - now));
            }
            rp.frame_record(r);
            break;
        case journal::record_type::order:
            rp.order_record(r);
            break;
        case journal::record_type::health:
            rp.health_record(r);
            break;
        case journal::record_type::reload:
            rp.reload_record(r);
            break;
        case journal::record_type::resume:
            rp.resume_record(r);
            break;
        }
        if (opts.progress) {
            const core::nanos now = core::monotonic_now();
            if (now - last_report >= (tty ? 200'000'000 : 2'000'000'000)) {
                last_report = now;
                const double done = rd.bytes_total() != 0
                                        ? static_cast<double>(rd.bytes_done()) /
                                              static_cast<double>(rd.bytes_total())
                                        : 0;
                const double secs = static_cast<double>(now - started) / 1e9;
                char line[160];
                const int bar = static_cast<int>(done * 30);
                std::snprintf(
                    line, sizeof line,
                    "[%.*s%.*s] %5.1f%%  %llu frames  %llu triggers  %.2f M ticks/s", bar,
                    "##############################", 30 - bar, "                              ",
                    done * 100, static_cast<unsigned long long>(rp.frames),
                    static_cast<unsigned long long>(rp.stage.stats().triggers.value()),
                    secs > 0 ? static_cast<double>(rp.stage.stats().applied.value()) / secs / 1e6
                             : 0.0);
                std::cerr << (tty ? "\r\033[K" : "seismo: ") << line << (tty ? "" : "\n")
                          << std::flush;
            }
        }
    }
    if (tty && opts.progress) std::cerr << "\r\033[K" << std::flush;
    res.stopped = rd.stopped();
    res.lost_ticks = rp.lost;
    replay_stats st = rp.figures();
    st.rejected[static_cast<std::size_t>(core::reject_reason::malformed)] += rp.bad_records;
    st.seconds = static_cast<double>(core::monotonic_now() - started) / 1e9;
    rp.out.finish("seismo replay of " + path);
    if (!opts.base.summary.empty()) {
        std::string s = summary_json(st);
        s.pop_back(); // the newline
        s.pop_back(); // the closing brace
        s += R"(,"journal":{"dropped_bytes":)";
        core::append_uint(s, res.dropped_bytes);
        s += R"(,"problems":)";
        core::append_uint(s, res.problems);
        s += R"(,"lost_ticks":)";
        core::append_uint(s, rp.lost);
        s += R"(,"stopped":)";
        s += res.stopped ? "true" : "false";
        s += "}}\n";
        journal::output_file f(opts.base.summary);
        f.write(s);
        f.close();
    }
    res.stats = st;
    return res;
}

journal_inspection inspect_journal(const std::string& path, const std::string& frames_out,
                                   std::ostream& problems) {
    journal::reader rd(path);
    journal_inspection j;
    j.segments = rd.segments().size();
    j.bytes = rd.bytes_total();
    j.digest = rd.info().digest;
    j.config_file = rd.info().config_file;
    for (const auto& f : rd.info().feeds)
        j.feeds.push_back({f.name, f.venue});
    rd.on_problem([&](const journal::problem& p) {
        ++j.problems;
        j.dropped_bytes += p.dropped_bytes;
        problems << "seismo: journal: " << p.segment << " offset " << p.offset << ": " << p.what
                 << "\n";
        return true;
    });
    journal::output_file out;
    if (!frames_out.empty()) out = journal::output_file(frames_out);
    std::string line;
    journal::record r;
    while (rd.next(r)) {
        auto* f = r.feed < j.feeds.size() ? &j.feeds[r.feed] : nullptr;
        switch (r.type) {
        case journal::record_type::frame: {
            ++j.frames;
            if (f == nullptr || r.payload.size() < 4) break;
            ++f->frames;
            f->frame_bytes += r.payload.size() - 4;
            if (f->first_recv == 0) f->first_recv = r.recv_ts;
            f->last_recv = r.recv_ts;
            if (out.is_open()) {
                std::uint32_t no = 0;
                std::memcpy(&no, r.payload.data(), 4);
                line.assign(R"({"recv_ts":)");
                core::append_int(line, r.recv_ts);
                line += R"(,"feed":)";
                core::append_json_string(line, f->name);
                line += R"(,"frame_no":)";
                core::append_uint(line, no);
                line += R"(,"frame":)";
                core::append_json_string(line, r.payload.substr(4));
                line += "}\n";
                out.write(line);
            }
            break;
        }
        case journal::record_type::order:
            ++j.orders;
            j.order_entries += r.payload.size() / sizeof(journal::order_entry);
            break;
        case journal::record_type::health:
            ++j.health;
            if (f != nullptr) ++f->health;
            break;
        case journal::record_type::reload:
            ++j.reloads;
            break;
        case journal::record_type::resume:
            break;
        }
    }
    out.flush();
    return j;
}

std::string inspection_json(const journal_inspection& j) {
    std::string s = R"({"segments":)";
    core::append_uint(s, j.segments);
    s += R"(,"bytes":)";
    core::append_uint(s, j.bytes);
    s += R"(,"config_file":)";
    core::append_json_string(s, j.config_file);
    s += R"(,"config_digest":")";
    s += digest_hex(j.digest);
    s += R"(","frames":)";
    core::append_uint(s, j.frames);
    s += R"(,"order_records":)";
    core::append_uint(s, j.orders);
    s += R"(,"ticks_consumed":)";
    core::append_uint(s, j.order_entries);
    s += R"(,"health_events":)";
    core::append_uint(s, j.health);
    s += R"(,"reloads":)";
    core::append_uint(s, j.reloads);
    s += R"(,"problems":)";
    core::append_uint(s, j.problems);
    s += R"(,"dropped_bytes":)";
    core::append_uint(s, j.dropped_bytes);
    s += R"(,"feeds":[)";
    for (std::size_t i = 0; i < j.feeds.size(); ++i) {
        const auto& f = j.feeds[i];
        if (i != 0) s += ',';
        s += R"({"name":)";
        core::append_json_string(s, f.name);
        s += R"(,"venue":)";
        core::append_json_string(s, f.venue);
        s += R"(,"frames":)";
        core::append_uint(s, f.frames);
        s += R"(,"frame_bytes":)";
        core::append_uint(s, f.frame_bytes);
        s += R"(,"health_events":)";
        core::append_uint(s, f.health);
        if (f.frames != 0) {
            s += R"(,"first_recv":)";
            core::append_json_time(s, f.first_recv);
            s += R"(,"last_recv":)";
            core::append_json_time(s, f.last_recv);
        }
        s += '}';
    }
    s += "]}\n";
    return s;
}

} // namespace seismo::engine
