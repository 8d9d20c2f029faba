#include "engine/replay.hpp"

#include "engine/core/json_writer.hpp"
#include "engine/core/thread_name.hpp"
#include "engine/core/time.hpp"
#include "engine/plot.hpp"
#include "engine/trigger_json.hpp"
#include "engine/warnings.hpp"
#include "feeds/tardis.hpp"

#include <concurrentqueue/blockingconcurrentqueue.h>

#include <atomic>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <sched.h>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace seismo::engine {
namespace {

std::unique_ptr<core::instrument_registry> make_registry(const config& cfg) {
    auto reg = std::make_unique<core::instrument_registry>(cfg.engine.max_instruments);
    populate_registry(cfg, *reg);
    return reg;
}

feeds::venue venue_of(const std::string& name) {
    feeds::venue v = feeds::venue::generic;
    // A nats feed's frames are the generic protocol (what `seismo feed` publishes).
    if (!name.empty() && name != "nats" && !feeds::parse_venue(name, v)) {
        throw std::invalid_argument("unknown venue '" + name +
                                    "' (expected one of: " + feeds::venue_names() + ")");
    }
    return v;
}

std::vector<std::string> names_of(const std::vector<replay_feed>& feeds) {
    std::vector<std::string> n;
    for (const auto& f : feeds)
        n.push_back(f.name);
    return n;
}

/// The receive time of a frame that takes the replay clock, while parallel: the applying thread
/// puts the clock in its place.
constexpr core::nanos k_clock_pending = std::numeric_limits<core::nanos>::min();

} // namespace

double cgroup_cpu_limit(std::string_view text) noexcept {
    constexpr double k_none = std::numeric_limits<double>::infinity();
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
        text.remove_suffix(1);
    const std::size_t sp = text.find(' ');
    if (sp == std::string_view::npos) return k_none;
    const std::string_view quota = text.substr(0, sp), period = text.substr(sp + 1);
    if (quota == "max" || quota == "-1") return k_none;
    std::int64_t q = 0, p = 0;
    const auto rq = std::from_chars(quota.data(), quota.data() + quota.size(), q);
    const auto rp = std::from_chars(period.data(), period.data() + period.size(), p);
    if (rq.ec != std::errc{} || rq.ptr != quota.data() + quota.size() || rp.ec != std::errc{} ||
        rp.ptr != period.data() + period.size() || q <= 0 || p <= 0) {
        return k_none;
    }
    return static_cast<double>(q) / static_cast<double>(p);
}

namespace {

std::string read_small_file(const std::string& path) {
    std::ifstream in(path);
    std::string s;
    std::getline(in, s, '\0');
    return s;
}

/// This process's cgroup CPU limit: v2's cpu.max, else v1's cfs quota and period, each looked
/// for under the process's own cgroup path and then at the mount's root (a container sees its
/// own cgroup there). Infinity when there is none or it cannot be read.
double own_cpu_limit() {
    std::istringstream lines(read_small_file("/proc/self/cgroup"));
    std::string v2_path, v1_path;
    for (std::string l; std::getline(lines, l);) {
        const std::size_t a = l.find(':'), b = a == std::string::npos ? a : l.find(':', a + 1);
        if (b == std::string::npos) continue;
        const std::string controllers = l.substr(a + 1, b - a - 1), path = l.substr(b + 1);
        if (controllers.empty()) v2_path = path;
        std::istringstream names(controllers);
        for (std::string c; std::getline(names, c, ',');) {
            if (c == "cpu") v1_path = path;
        }
    }
    for (const std::string& dir : {"/sys/fs/cgroup" + v2_path, std::string("/sys/fs/cgroup")}) {
        const std::string v2 = read_small_file(dir + "/cpu.max");
        if (!v2.empty()) return cgroup_cpu_limit(v2);
    }
    for (const char* mount : {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"}) {
        for (const std::string& dir : {std::string(mount) + v1_path, std::string(mount)}) {
            std::string quota = read_small_file(dir + "/cpu.cfs_quota_us");
            std::string period = read_small_file(dir + "/cpu.cfs_period_us");
            while (!quota.empty() && quota.back() == '\n')
                quota.pop_back();
            if (!quota.empty() && !period.empty()) return cgroup_cpu_limit(quota + " " + period);
        }
    }
    return std::numeric_limits<double>::infinity();
}

} // namespace

unsigned replay_threads(const replay_options& o) noexcept {
    if (o.threads == 1) return 1;
    if (o.threads >= 2) return 2;
    // The CPUs this process may run on (taskset, a cgroup's cpuset) and may use (a container's
    // CPU limit), not the machine's: two threads on one CPU take turns and are slower than one.
    cpu_set_t set;
    CPU_ZERO(&set);
    const unsigned cpus = sched_getaffinity(0, sizeof set, &set) == 0
                              ? static_cast<unsigned>(CPU_COUNT(&set))
                              : std::thread::hardware_concurrency();
    if (cpus < 2) return 1;
    try {
        return own_cpu_limit() >= 2.0 ? 2 : 1;
    } catch (...) { // reading the limit failed (out of memory): one thread is always right
        return 1;
    }
}

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
    o += R"(,"warnings":[)";
    for (std::size_t i = 0; i < s.warnings.size(); ++i) {
        if (i != 0) o += ',';
        core::append_json_string(o, s.warnings[i]);
    }
    o += "]}\n";
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
    for (const auto& w : s.warnings)
        o << "seismo: warning: " << w << "\n";
    return o.str();
}

// ------------------------------------------------------------------------------ outputs

replay_outputs::replay_outputs(const config& cfg, const core::instrument_registry& reg,
                               const replay_options& opts, std::vector<std::string> feed_names)
    : gens_(make_generation(cfg.digest, cfg.signals, std::move(feed_names))), reg_(reg),
      deterministic_(opts.deterministic), plot_path_(opts.plot), dead_(opts.dead_letter) {
    if (!opts.out.empty()) out_ = journal::output_file(opts.out);
    if (!opts.ticks.empty()) ticks_out_ = journal::output_file(opts.ticks);
    if (!opts.plot.empty()) plot_ = std::make_unique<plot_recorder>();
    wants_applied = ticks_out_.is_open() || plot_ != nullptr;
    buf_.reserve(4096);
}

replay_outputs::~replay_outputs() = default;

void replay_outputs::on_trigger(const signals::trigger& in) {
    signals::trigger t = in;
    if (resume_.engaged() && !resume_.admit(t, gens_.at(t.gen), reg_))
        return; // held back live too: the stream had it
    if (plot_) plot_->on_trigger(t, reg_);
    buf_.clear();
    append_trigger_json(buf_, t, gens_.at(t.gen), reg_, deterministic_);
    buf_ += '\n';
    if (out_.is_open()) out_.write(buf_);
    if (observer_) observer_(t, std::string_view(buf_).substr(0, buf_.size() - 1));
}

void replay_outputs::on_late(std::uint16_t feed, std::uint32_t frame_no, const core::tick& t) {
    if (!dead_.enabled()) return;
    buf_.clear();
    append_tick_json(buf_, t, reg_);
    const auto& names = feed_names();
    dead_.tick(t.recv_ts, feed < names.size() ? std::string_view(names[feed]) : "?", frame_no,
               core::reject_reason::late,
               "older than the instrument's last event time (same stream) by more than the "
               "allowed lateness",
               buf_);
}

void replay_outputs::on_applied(const core::tick& t, bool triggered) {
    if (ticks_out_.is_open()) {
        buf_.clear();
        append_tick_json(buf_, t, reg_);
        buf_ += '\n';
        ticks_out_.write(buf_);
    }
    if (plot_ && graph_ != nullptr) {
        plot_->on_tick(t, reg_);
        plot_->after_step(*graph_, reg_, triggered);
    }
}

void replay_outputs::on_reject(std::uint16_t feed, std::uint32_t frame_no, core::reject_reason why,
                               std::string_view detail, std::string_view frame,
                               core::nanos recv_ts) {
    const auto& names = feed_names();
    dead_.frame(recv_ts, feed < names.size() ? std::string_view(names[feed]) : "?", frame_no, why,
                detail, frame);
}

void replay_outputs::finish(const std::string& title) {
    out_.flush();
    ticks_out_.flush();
    dead_.flush();
    if (plot_ && graph_ != nullptr) plot_->write(plot_path_, *graph_, feed_names(), title);
}

// ------------------------------------------------------------------------------ read-ahead

void read_ahead::step(const feeds::frame_pipeline& p, const signals::graph& g, bool tardis,
                      std::string_view unread, std::uint64_t at) noexcept {
    ++taken_;
    if (next_at_ < at || peeked_ < taken_) { // behind the reader (a cut line, a new input)
        next_at_ = at;
        peeked_ = taken_;
    }
    while (peeked_ < taken_ + k_symbol) {
        const std::uint64_t off = next_at_ - at;
        if (off >= unread.size()) break;
        const char* from = unread.data() + off;
        const void* nl = std::memchr(from, '\n', unread.size() - off);
        if (nl == nullptr) break; // the rest of that line is not read yet
        const auto len = static_cast<std::size_t>(static_cast<const char*>(nl) - from);
        std::string_view line(from, len);
        if (tardis) {
            const std::size_t sp = line.find(' ');
            line = sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);
        }
        const std::string_view sym = p.peek_symbol(line);
        ring_[peeked_ & (k_ring - 1)] = sym.empty() ? core::k_no_instrument : p.known(sym);
        ++peeked_;
        next_at_ = at + off + len + 1;
    }
    // taken_ - 1 is the line about to be processed.
    if (const std::uint64_t i = taken_ - 1 + k_state; i < peeked_)
        g.warm_state(ring_[i & (k_ring - 1)]);
    if (const std::uint64_t i = taken_ - 1 + k_members; i < peeked_) {
        const core::instrument_id id = ring_[i & (k_ring - 1)];
        if (id != core::k_no_instrument) {
            g.warm_members(id);
            ++warmed_;
        }
    }
}

// ------------------------------------------------------------------------------ two threads

/// What the parsing thread hands over: the records of whole frames, in order. Its vectors keep
/// their capacity from one use to the next, so a steady replay allocates nothing per frame (a
/// refusal copies its text into `text`).
struct replay_session::batch {
    enum class kind : std::uint8_t { ticks, health, reject };
    struct item {
        kind what = kind::ticks;
        bool clock = false; // the frame takes the replay clock
        std::uint16_t feed = 0;
        core::reject_reason why{};
        std::uint32_t frame_no = 0;
        std::uint64_t seq = 0;              // the frame's place in the replay
        std::uint32_t first = 0, count = 0; // ticks: [first, first + count) of `ticks`
        std::uint32_t detail = 0, detail_len = 0, frame = 0, frame_len = 0; // reject: in `text`
        core::nanos recv = 0;                                               // reject
        core::health_event health{};
    };
    std::vector<item> items;
    std::vector<core::tick> ticks;
    std::string text;

    std::size_t frames = 0;

    /// A record of frame `seq` (its number `frame_no` in feed `feed`), which takes the replay
    /// clock when `clock` says so.
    item& add(kind what, bool clock, std::uint16_t feed, std::uint32_t frame_no,
              std::uint64_t seq) {
        item& it = items.emplace_back();
        it.what = what;
        it.clock = clock;
        it.feed = feed;
        it.frame_no = frame_no;
        it.seq = seq;
        return it;
    }

    /// Full at `max_frames` frames or four ticks a frame.
    [[nodiscard]] bool full(std::size_t max_frames) const noexcept {
        return frames >= max_frames || ticks.size() >= 4 * max_frames;
    }
    void clear() noexcept {
        frames = 0;
        items.clear();
        ticks.clear();
        text.clear();
    }
};

/// The second thread and the batches going round between the two: a few batches, handed over
/// through one queue and back through another, so the parser runs at most that far ahead.
class replay_session::pipeline {
  public:
    pipeline(replay_session& s, std::size_t batch_frames)
        : session_(s), batch_frames_(std::max<std::size_t>(batch_frames, 1)) {
        for (auto& b : batches_) {
            b.items.reserve(batch_frames_ + 64);
            b.ticks.reserve(4 * batch_frames_ + 256);
            (void)free_.enqueue(&b);
        }
        (void)free_.wait_dequeue(filling_);
        worker_ = std::thread([this] { run(); });
    }
    pipeline(const pipeline&) = delete;
    pipeline& operator=(const pipeline&) = delete;
    ~pipeline() {
        if (worker_.joinable()) {
            (void)full_.enqueue(nullptr);
            worker_.join();
        }
    }

    batch& filling() noexcept { return *filling_; }

    /// After each frame: hands the batch over once it is full. Throws what the applying
    /// thread threw.
    void frame_done() {
        ++filling_->frames;
        if (!filling_->full(batch_frames_)) return;
        hand_over();
        if (failed_.load(std::memory_order_acquire)) finish();
    }

    /// Hands over what is left and waits for all of it to be applied.
    void finish() {
        if (!worker_.joinable()) return;
        if (!filling_->items.empty()) hand_over();
        (void)full_.enqueue(nullptr);
        worker_.join();
        if (error_) std::rethrow_exception(error_);
    }

  private:
    void hand_over() {
        (void)full_.enqueue(filling_);
        (void)free_.wait_dequeue(filling_);
    }

    void run() {
        core::name_this_thread("seismo-apply");
        for (;;) {
            batch* b = nullptr;
            full_.wait_dequeue(b);
            if (b == nullptr) return;
            if (!failed_.load(std::memory_order_relaxed)) {
                try {
                    session_.apply(*b);
                } catch (...) {
                    error_ = std::current_exception();
                    failed_.store(true, std::memory_order_release);
                }
            }
            b->clear();
            (void)free_.enqueue(b);
        }
    }

    replay_session& session_;
    std::size_t batch_frames_;
    std::array<batch, 4> batches_;
    moodycamel::BlockingConcurrentQueue<batch*> full_, free_;
    batch* filling_ = nullptr;
    std::atomic<bool> failed_{false};
    std::exception_ptr error_; // written before failed_ is set, read after the join
    std::thread worker_;
};

void replay_session::begin_parallel() {
    if (pipe_) return;
    pipe_ = std::make_unique<pipeline>(*this, opts_.batch_frames);
}

void replay_session::end_parallel() {
    if (!pipe_) return;
    std::unique_ptr<pipeline> p = std::move(pipe_);
    p->finish();
}

void replay_session::apply(batch& b) {
    const bool warm = registry_->size() >= opts_.read_ahead_from;
    const signals::graph& g = stage_->graph();
    const auto n = static_cast<std::uint32_t>(b.ticks.size());
    if (warm) { // the first ticks, which no earlier one warmed
        for (std::uint32_t j = 0; j < std::min(n, std::uint32_t{read_ahead::k_state}); ++j)
            g.warm_state(b.ticks[j].inst);
        for (std::uint32_t j = 0; j < std::min(n, std::uint32_t{read_ahead::k_members}); ++j)
            g.warm_members(b.ticks[j].inst);
    }
    for (batch::item& it : b.items) {
        if (it.clock && it.seq != clock_seq_) { // the frame's first record: the clock before it
            clock_seq_ = it.seq;
            clock_now_ = clock();
        }
        const auto now = [&](core::nanos recv) {
            return it.clock && recv == k_clock_pending ? clock_now_ : recv;
        };
        switch (it.what) {
        case batch::kind::ticks: {
            core::tick* t = b.ticks.data() + it.first;
            for (std::uint32_t j = 0; j < it.count; ++j) {
                t[j].recv_ts = now(t[j].recv_ts);
                if (warm) { // read ahead, as read_ahead does from the text
                    const std::uint32_t at = it.first + j;
                    if (at + read_ahead::k_state < n)
                        g.warm_state(b.ticks[at + read_ahead::k_state].inst);
                    if (at + read_ahead::k_members < n)
                        g.warm_members(b.ticks[at + read_ahead::k_members].inst);
                }
            }
            stage_->ticks(it.feed, it.frame_no, t, it.count);
            break;
        }
        case batch::kind::health:
            it.health.at = now(it.health.at);
            stage_->health(it.feed, it.health);
            break;
        case batch::kind::reject:
            out_.on_reject(it.feed, it.frame_no, it.why,
                           std::string_view(b.text).substr(it.detail, it.detail_len),
                           std::string_view(b.text).substr(it.frame, it.frame_len), now(it.recv));
            break;
        }
    }
}

// ------------------------------------------------------------------------------ session

replay_session::replay_session(const config& cfg, const replay_options& opts,
                               std::vector<replay_feed> feeds)
    : cfg_(&cfg), opts_(opts), feeds_(std::move(feeds)), registry_(make_registry(cfg)),
      out_(cfg, *registry_, opts_, names_of(feeds_)) {
    stage_ = std::make_unique<signal_stage>(cfg, *registry_, feeds_.size(), out_);
    out_.plot_graph(&stage_->graph());
    times_.resize(feeds_.size());
    for (std::size_t i = 0; i < feeds_.size(); ++i) {
        const replay_feed& f = feeds_[i];
        stats_.push_back(std::make_unique<feeds::feed_stats>());
        const auto id = static_cast<std::uint16_t>(i);
        if (f.format == input_format::tardis_csv) {
            pipes_.push_back(std::make_unique<feeds::frame_pipeline>(
                std::make_unique<feeds::tardis_csv_parser>(*registry_, opts_.venue), *registry_,
                *this, id, *stats_.back()));
        } else {
            pipes_.push_back(std::make_unique<feeds::frame_pipeline>(
                f.venue, *registry_, f.max_frame, *this, id, *stats_.back()));
        }
    }
    started_ = core::monotonic_now();
}

replay_session::replay_session(const config& cfg, const replay_options& opts, std::string feed)
    : replay_session(
          cfg, opts,
          std::vector<replay_feed>{{std::move(feed), input_format::jsonl, feeds::venue::generic,
                                    max_frame_for(cfg, feeds::venue::generic)}}) {}

replay_session::~replay_session() = default;

core::nanos replay_session::clock() const noexcept {
    // The replay clock: the greatest event time applied so far (frames without a timestamp
    // take it as their receive time).
    const core::nanos wm = stage_->graph().watermark();
    return wm == std::numeric_limits<core::nanos>::min() ? 0 : wm;
}

void replay_session::on_ticks(std::uint16_t feed, std::uint32_t frame_no, const core::tick* t,
                              std::size_t n) {
    if (!pipe_) {
        stage_->ticks(feed, frame_no, t, n);
        return;
    }
    batch& b = pipe_->filling();
    batch::item& it = b.add(batch::kind::ticks, frame_clock_, feed, frame_no, frame_seq_);
    it.first = static_cast<std::uint32_t>(b.ticks.size());
    it.count = static_cast<std::uint32_t>(n);
    b.ticks.insert(b.ticks.end(), t, t + n);
}

void replay_session::on_health(std::uint16_t feed, const core::health_event& e) {
    if (!pipe_) {
        stage_->health(feed, e);
        return;
    }
    pipe_->filling().add(batch::kind::health, frame_clock_, feed, 0, frame_seq_).health = e;
}

void replay_session::on_reject(std::uint16_t feed, std::uint32_t frame_no, core::reject_reason why,
                               std::string_view detail, std::string_view frame,
                               core::nanos recv_ts) {
    if (!pipe_) {
        out_.on_reject(feed, frame_no, why, detail, frame, recv_ts);
        return;
    }
    batch& b = pipe_->filling();
    batch::item& it = b.add(batch::kind::reject, frame_clock_, feed, frame_no, frame_seq_);
    it.why = why;
    it.recv = recv_ts;
    it.detail = static_cast<std::uint32_t>(b.text.size());
    it.detail_len = static_cast<std::uint32_t>(detail.size());
    b.text += detail;
    it.frame = static_cast<std::uint32_t>(b.text.size());
    it.frame_len = static_cast<std::uint32_t>(frame.size());
    b.text += frame;
}

void replay_session::process(std::size_t feed, const journal::line_reader::line& l,
                             std::uint64_t line_base) {
    ++frame_seq_;
    if (!pipe_) {
        process_line(feed, l, line_base);
        return;
    }
    frame_clock_ = true; // until the frame is seen to carry its own receive time
    process_line(feed, l, line_base);
    pipe_->frame_done();
}

void replay_session::process_line(std::size_t feed, const journal::line_reader::line& l,
                                  std::uint64_t line_base) {
    feeds::frame_pipeline& p = *pipes_[feed];
    const auto frame_no = static_cast<std::uint32_t>(line_base + l.number);
    // Parallel, the clock is the applying thread's: it fills it in (apply).
    const core::nanos now = pipe_ ? k_clock_pending : clock();
    if (l.truncated) {
        p.refuse(core::reject_reason::oversize, "frame larger than the limit", l.text, now,
                 frame_no);
        return;
    }
    switch (feeds_[feed].format) {
    case input_format::jsonl:
    case input_format::tardis_csv:
        (void)p.handle(l.text.data(), l.text.size(), l.text.size() + journal::k_line_padding, now,
                       frame_no);
        return;
    case input_format::tardis: {
        // "<ISO 8601 receive time> <frame exactly as received>"
        feeds::tardis_line tl;
        if (!feeds::split_tardis_line(l.text, tl, times_[feed])) {
            if (l.text.find_first_not_of(" \t") == std::string_view::npos) {
                p.ignore(frame_no); // a blank line
                return;
            }
            p.refuse(core::reject_reason::malformed, "tardis line: expected '<ISO time> <frame>'",
                     l.text, now, frame_no);
            return;
        }
        const std::size_t after = static_cast<std::size_t>(tl.frame.data() - l.text.data());
        frame_clock_ = false; // its own receive time
        (void)p.handle(tl.frame.data(), tl.frame.size(),
                       l.text.size() - after + journal::k_line_padding, tl.recv, frame_no);
        return;
    }
    }
}

void replay_session::look_ahead(read_ahead& ra, std::size_t feed, std::string_view unread,
                                std::uint64_t at) {
    // Parallel, the applying thread reads ahead in what it is handed (apply): the graph is its.
    if (pipe_ || registry_->size() < opts_.read_ahead_from ||
        feeds_[feed].format == input_format::tardis_csv)
        return;
    ra.step(*pipes_[feed], stage_->graph(), feeds_[feed].format == input_format::tardis, unread,
            at);
}

void replay_session::process_buffer(const char* data, std::size_t size) {
    journal::line_reader::line l;
    std::size_t pos = 0;
    std::uint64_t n = 0;
    read_ahead ra;
    const bool two = replay_threads(opts_) == 2 && !pipe_;
    if (two) begin_parallel();
    while (pos < size) {
        const void* nl = std::memchr(data + pos, '\n', size - pos);
        const std::size_t stop =
            nl != nullptr ? static_cast<std::size_t>(static_cast<const char*>(nl) - data) : size;
        std::size_t len = stop - pos;
        if (len > 0 && data[pos + len - 1] == '\r') --len;
        l.number = ++n;
        l.truncated = false;
        l.text = std::string_view(data + pos, len);
        pos = stop + 1;
        if (pos < size) look_ahead(ra, 0, std::string_view(data + pos, size - pos), pos);
        process(0, l);
    }
    if (two) end_parallel();
}

replay_stats replay_session::stats() const {
    replay_stats s;
    for (const auto& st : stats_) {
        s.frames += st->total_frames();
        s.ignored += st->frames[static_cast<std::size_t>(feeds::frame_outcome::ignored)].value() +
                     st->frames[static_cast<std::size_t>(feeds::frame_outcome::control)].value();
        for (std::size_t r = 0; r < core::k_reject_reasons; ++r)
            s.rejected[r] += st->rejected[r].value();
    }
    const stage_stats& ss = stage_->stats();
    s.rejected[static_cast<std::size_t>(core::reject_reason::late)] += ss.late.value();
    s.applied = ss.applied.value();
    s.references = ss.references.value();
    s.triggers = ss.triggers.value();
    return s;
}

replay_stats replay_session::finish() {
    end_parallel();
    replay_stats s = stats();
    s.seconds = static_cast<double>(core::monotonic_now() - started_) / 1e9;
    for (std::size_t i = 0; i < feeds_.size(); ++i) {
        const replay_feed& f = feeds_[i];
        const std::string_view adapter = f.format == input_format::tardis_csv
                                             ? std::string_view("tardis-csv")
                                             : std::string_view(feeds::to_string(f.venue));
        if (auto w = ignored_warning(f.name, adapter, *stats_[i], pipes_[i]->first_ignored()))
            s.warnings.push_back(std::move(*w));
    }
    if (auto w = quiet_instruments_warning(
            quiet_instruments(configured_instruments(*cfg_, *registry_), stage_->graph()),
            cfg_->instruments.size())) {
        s.warnings.push_back(std::move(*w));
    }
    if (s.frames != 0 && s.applied == 0 && s.references == 0)
        s.warnings.push_back("no tick was applied from " + std::to_string(s.frames) + " frames");
    std::string title = "seismo replay";
    for (const auto& i : opts_.inputs)
        title += " " + i;
    out_.finish(title);
    if (!opts_.summary.empty()) {
        journal::output_file f(opts_.summary);
        f.write(summary_json(s));
        f.close();
    }
    return s;
}

input_format sniff_line(std::string_view text) {
    if (text.starts_with("exchange,")) return input_format::tardis_csv;
    feeds::tardis_line tl;
    if (feeds::split_tardis_line(text, tl)) return input_format::tardis;
    return input_format::jsonl;
}

input_format sniff_format(const std::string& path) {
    journal::line_reader reader(path, 1 << 20);
    journal::line_reader::line l;
    while (reader.next(l)) {
        if (l.text.find_first_not_of(" \t") == std::string_view::npos) continue;
        return sniff_line(l.text);
    }
    return input_format::jsonl;
}

namespace {

/// Standard input, sniffed without losing what was read to sniff it: the lines up to the first
/// non-blank one are kept (with the padding a parser may read) and handed out first.
struct stdin_input {
    std::unique_ptr<journal::line_reader> reader;
    std::vector<std::pair<std::uint64_t, std::string>> held; // (line number, text + padding)
    std::vector<std::size_t> sizes;
    std::size_t next_held = 0;
    input_format format = input_format::jsonl;

    explicit stdin_input(std::size_t max_line)
        : reader(std::make_unique<journal::line_reader>("-", max_line)) {
        journal::line_reader::line l;
        while (reader->next(l)) {
            std::string copy(l.text);
            sizes.push_back(copy.size());
            copy.append(journal::k_line_padding, '\0');
            held.emplace_back(l.number, std::move(copy));
            if (l.text.find_first_not_of(" \t") != std::string_view::npos) {
                format = sniff_line(l.text);
                break;
            }
        }
    }
    bool next(journal::line_reader::line& l) {
        if (next_held < held.size()) {
            l.number = held[next_held].first;
            l.text = std::string_view(held[next_held].second.data(), sizes[next_held]);
            l.truncated = false;
            ++next_held;
            return true;
        }
        return reader->next(l);
    }
};

} // namespace

replay_stats run_replay(const config& cfg, const replay_options& opts) {
    std::optional<input_format> fixed;
    if (opts.format == "jsonl")
        fixed = input_format::jsonl;
    else if (opts.format == "tardis")
        fixed = input_format::tardis;
    else if (opts.format == "tardis-csv")
        fixed = input_format::tardis_csv;
    else if (opts.format != "auto") {
        throw std::invalid_argument("--format " + opts.format + " is not supported");
    }
    const feeds::venue cli_venue = venue_of(opts.venue);
    // --feed naming a [[feed]]: that feed's venue (unless --venue says otherwise) and limit.
    const feed_config* named = nullptr;
    for (const auto& f : cfg.feeds) {
        if (!opts.feed.empty() && f.name == opts.feed) named = &f;
    }
    feeds::venue venue = cli_venue;
    if (named != nullptr && opts.venue.empty()) venue = venue_of(named->venue);
    const std::size_t max_line =
        std::max(cfg.engine.max_frame_bytes, cfg.engine.max_venue_frame_bytes) + 64;
    std::unique_ptr<stdin_input> in;
    std::vector<input_format> formats;
    for (const auto& path : opts.inputs) {
        if (path == "-" && in == nullptr) in = std::make_unique<stdin_input>(max_line);
        const input_format f = fixed ? *fixed : (path == "-" ? in->format : sniff_format(path));
        if (f == input_format::tardis && opts.venue.empty() && named == nullptr) {
            throw std::invalid_argument(path + ": a Tardis raw capture needs --venue (" +
                                        feeds::venue_names() + ")");
        }
        if (!opts.feed.empty() && !formats.empty() && f != formats.front()) {
            throw std::invalid_argument("--feed " + opts.feed +
                                        ": its inputs must all have one format");
        }
        formats.push_back(f);
    }
    std::vector<replay_feed> feeds;
    std::vector<std::size_t> feed_of(opts.inputs.size());
    for (std::size_t i = 0; i < opts.inputs.size(); ++i) {
        if (!opts.feed.empty() && !feeds.empty()) {
            feed_of[i] = 0;
            continue;
        }
        feed_of[i] = feeds.size();
        feeds.push_back({opts.feed.empty() ? opts.inputs[i] : opts.feed, formats[i], venue,
                         max_frame_for(cfg, venue, named)});
    }
    replay_session session(cfg, opts, std::move(feeds));
    std::uint64_t base = 0;
    const bool two = replay_threads(opts) == 2;
    for (std::size_t i = 0; i < opts.inputs.size(); ++i) {
        journal::line_reader::line l;
        std::uint64_t lines = 0;
        read_ahead ra;
        if (opts.inputs[i] == "-") {
            // Standard input may be a stream that pauses: each frame is applied as it comes.
            session.end_parallel();
            while (in->next(l)) {
                if (in->next_held >= in->held.size())
                    session.look_ahead(ra, feed_of[i], in->reader->unread(), in->reader->bytes());
                session.process(feed_of[i], l, base);
                lines = l.number;
            }
        } else {
            journal::line_reader reader(opts.inputs[i], max_line);
            if (two) session.begin_parallel();
            while (reader.next(l)) {
                session.look_ahead(ra, feed_of[i], reader.unread(), reader.bytes());
                session.process(feed_of[i], l, base);
                lines = l.number;
            }
        }
        if (!opts.feed.empty()) base += lines; // one feed: frame numbers run on across its files
    }
    return session.finish();
}

} // namespace seismo::engine
