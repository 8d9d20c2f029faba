#include "feeds/live/demo_feed.hpp"

#include "engine/core/time.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <charconv>
#include <cstring>

namespace seismo::feeds::live {
namespace {

namespace net = boost::asio;
constexpr auto k_tuple = net::as_tuple(net::use_awaitable);
/// Frames handled between two turns of the event loop when pacing never waits.
constexpr unsigned k_frames_per_turn = 256;

/// The "ts" (epoch ms) of a generated line, for pacing.
core::nanos line_time(std::string_view line) {
    const auto p = line.find("\"ts\":");
    if (p == std::string_view::npos) return 0;
    std::int64_t ms = 0;
    const char* b = line.data() + p + 5;
    std::from_chars(b, line.data() + line.size(), ms);
    return ms * core::k_ns_per_ms;
}

class demo_impl final : public demo_feed, public std::enable_shared_from_this<demo_impl> {
  public:
    demo_impl(net::io_context& io, options o, core::instrument_registry& reg, frame_sink& sink,
              std::uint16_t feed)
        : ex_(io.get_executor()), o_(o),
          pipeline_(venue::generic, reg, o.max_frame, sink, feed, stats_), sink_(sink), feed_(feed),
          timer_(ex_) {}

    void start() override { net::co_spawn(ex_, run(shared_from_this()), net::detached); }
    void stop() override {
        auto self = shared_from_this();
        net::post(ex_, [self] {
            self->stopping_ = true;
            self->timer_.cancel();
        });
    }
    [[nodiscard]] const feed_stats& stats() const noexcept override { return stats_; }
    [[nodiscard]] std::uint64_t loops() const noexcept override {
        return loops_.load(std::memory_order_relaxed);
    }

  private:
    net::awaitable<void> run(std::shared_ptr<demo_impl> keep) {
        stats_.connects.add();
        stats_.connected.set(true);
        core::health_event up;
        up.kind = core::health_kind::up;
        up.at = core::realtime_now();
        sink_.on_health(feed_, up);
        for (std::uint64_t loop = 0; !stopping_; ++loop) {
            std::string day = o_.day(loop);
            const std::size_t size = day.size();
            day.append(k_padding, '\0');
            core::nanos prev_event = 0;
            core::nanos due = core::monotonic_now();
            std::size_t pos = 0;
            unsigned since_wait = 0;
            while (pos < size && !stopping_) {
                const char* nl =
                    static_cast<const char*>(std::memchr(day.data() + pos, '\n', size - pos));
                const std::size_t len = static_cast<std::size_t>(
                    (nl != nullptr ? nl : day.data() + size) - (day.data() + pos));
                const std::string_view line(day.data() + pos, len);
                const core::nanos ev = line_time(line);
                if (prev_event != 0 && ev > prev_event) {
                    const auto step =
                        static_cast<core::nanos>(static_cast<double>(ev - prev_event) / o_.speed);
                    due += std::min(step, o_.max_pause);
                }
                prev_event = std::max(prev_event, ev);
                if (due > core::monotonic_now() + 500'000) {
                    timer_.expires_after(std::chrono::nanoseconds(due - core::monotonic_now()));
                    co_await timer_.async_wait(k_tuple);
                    if (stopping_) break;
                    since_wait = 0;
                } else if (++since_wait == k_frames_per_turn) {
                    // Unpaced (a high speed): let the thread run stop() and other handlers.
                    co_await net::post(ex_, net::use_awaitable);
                    if (stopping_) break;
                    since_wait = 0;
                }
                const core::nanos recv = core::realtime_now();
                (void)pipeline_.handle(line.data(), len, day.size() - pos, recv);
                pos += len + 1;
            }
            loops_.fetch_add(1, std::memory_order_relaxed);
        }
        stats_.connected.set(false);
        (void)keep;
    }

    net::io_context::executor_type ex_; // the io_context is run by one thread: no strand needed
    options o_;
    feed_stats stats_;
    frame_pipeline pipeline_;
    frame_sink& sink_;
    std::uint16_t feed_;
    net::steady_timer timer_;
    bool stopping_ = false;
    std::atomic<std::uint64_t> loops_{0};
};

} // namespace

std::shared_ptr<demo_feed> demo_feed::create(net::io_context& io, options o,
                                             core::instrument_registry& reg, frame_sink& sink,
                                             std::uint16_t feed_id) {
    return std::make_shared<demo_impl>(io, o, reg, sink, feed_id);
}

} // namespace seismo::feeds::live
