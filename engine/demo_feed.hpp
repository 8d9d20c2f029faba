#pragma once
// The bundled demo feed: the liquidity-shock day (engine/sim) played as a live generic feed,
// paced in event time (`speed` x real time, gaps capped so the long daily history streams by
// quickly) and looped, each loop shifted past the previous one so time keeps moving forward.
// It runs on the I/O thread and hands its frames to the same pipeline as a WebSocket feed.

#include "engine/core/instrument_registry.hpp"
#include "feeds/session.hpp"

#include <cstdint>
#include <memory>

namespace boost::asio {
class io_context;
}

namespace seismo::engine {

class demo_feed {
  public:
    struct options {
        double speed = 60;                  ///< event time per real time
        core::nanos max_pause = 50'000'000; ///< longest real wait between two frames
        std::uint64_t seed = 1;
        std::size_t max_frame = 64 * 1024;
    };

    static std::shared_ptr<demo_feed> create(boost::asio::io_context& io, options o,
                                             core::instrument_registry& reg,
                                             feeds::session_sink& sink, std::uint16_t feed_id);
    virtual ~demo_feed() = default;
    virtual void start() = 0;
    virtual void stop() = 0;
    [[nodiscard]] virtual const feeds::session_stats& stats() const noexcept = 0;
    /// Completed passes over the day.
    [[nodiscard]] virtual std::uint64_t loops() const noexcept = 0;
};

} // namespace seismo::engine
