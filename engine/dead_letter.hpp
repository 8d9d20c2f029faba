#pragma once
// The dead-letter file: one JSON line per refused frame or tick, with its receive time, feed,
// position, reason and the input itself, so nothing refused is silently lost (DESIGN §4).

#include "engine/core/tick.hpp"
#include "engine/output.hpp"
#include "feeds/frame.hpp"

#include <string>
#include <string_view>

namespace seismo::engine {

class dead_letter {
  public:
    dead_letter() = default;
    /// An empty path keeps no file (rejections are still counted by the caller).
    explicit dead_letter(const std::string& path);

    /// `position` is a line number for files, a frame counter for live feeds (0 = none).
    void write(core::nanos recv_ts, std::string_view feed, std::uint64_t position,
               feeds::reject_reason reason, std::string_view detail, std::string_view frame);
    void flush() { out_.flush(); }
    [[nodiscard]] bool enabled() const noexcept { return out_.is_open(); }

  private:
    output_file out_;
    std::string line_;
};

} // namespace seismo::engine
