#pragma once
// A feed that plays a generated day of generic-protocol lines as if live (the bundled demo:
// `seismo run` with no feeds): paced in event time (`speed` x real time, pauses capped so long
// quiet stretches stream by quickly) and looped, asking `day(loop)` for each pass, which moves
// event times forward so the day can repeat for hours. It runs on the io_context it is given
// and hands its frames to the same frame_pipeline as a WebSocket feed.

#include "engine/core/instrument_registry.hpp"
#include "feeds/pipeline.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace seismo::feeds::live {

class demo_feed {
  public:
    struct options {
        double speed = 60;                  ///< event time per real time
        core::nanos max_pause = 50'000'000; ///< longest real wait between two frames
        std::size_t max_frame = k_default_max_frame;
        /// The text of pass `loop` (0, 1, ...): generic-protocol lines in event-time order.
        std::function<std::string(std::uint64_t loop)> day;
    };

    static std::shared_ptr<demo_feed> create(boost::asio::io_context& io, options o,
                                             core::instrument_registry& reg, frame_sink& sink,
                                             std::uint16_t feed_id);
    virtual ~demo_feed() = default;
    virtual void start() = 0;
    virtual void stop() = 0;
    [[nodiscard]] virtual const feed_stats& stats() const noexcept = 0;
    /// Completed passes over the day.
    [[nodiscard]] virtual std::uint64_t loops() const noexcept = 0;
};

} // namespace seismo::feeds::live
