#pragma once
// What every feed does with a frame, whatever brought it (a WebSocket session, the demo feed,
// a journal): parse it with the venue adapter, count it, refuse bad input with a reason, drop
// duplicates by venue sequence number, report gaps, and pass the ticks on. One per feed, on the
// feed's thread; allocation-free once its buffers have grown.

#include "engine/core/instrument_registry.hpp"
#include "feeds/sequence.hpp"
#include "feeds/session.hpp"
#include "feeds/venues.hpp"

#include <cstdint>
#include <vector>

namespace seismo::feeds {

class frame_pipeline {
  public:
    frame_pipeline(venue v, core::instrument_registry& reg, std::size_t max_frame,
                   session_sink& sink, std::uint16_t feed, session_stats& stats)
        : syms_(reg, reg.venue(to_string(v))), parser_(v, syms_, max_frame), sink_(sink),
          feed_(feed), stats_(stats) {
        ticks_.reserve(256);
    }

    struct outcome {
        bool data = false;                ///< the frame carried ticks (it counts for freshness)
        std::uint64_t connection_seq = 0; ///< per-connection number, when the venue has one
    };

    /// Handles one frame (`capacity >= len + k_padding` readable).
    outcome handle(const char* data, std::size_t len, std::size_t capacity, core::nanos recv);

    /// Reports a gap on a per-connection number.
    void connection_gap(std::uint64_t missing);

  private:
    outcome process(const char* data, std::size_t len, std::size_t capacity, core::nanos recv);

    core::symbol_cache syms_;
    venue_parser parser_;
    sequence_tracker seqs_;
    session_sink& sink_;
    std::uint16_t feed_;
    session_stats& stats_;
    std::vector<core::tick> ticks_;
};

} // namespace seismo::feeds
