#pragma once
// The dead-letter file (DESIGN §4): one JSON line per refused frame or tick, so nothing refused
// is silently lost. The one formatter every path uses — live (written by the writer thread),
// journal replay and file replay — so their dead letters compare byte for byte:
//
//   {"recv_ts":"…","feed":"…","frame_no":N,"reason":"…","detail":"…","frame":"<the frame>"}
//   {"recv_ts":"…","feed":"…","frame_no":N,"reason":"late","detail":"…","tick":{<the tick>}}
//
// `frame_no` is the frame's number in its feed (for file input, its line number); a refused
// frame carries its bytes as a JSON string, a refused tick (late: refused by the signal step,
// after its frame is gone) its normalized form.

#include "engine/core/reject.hpp"
#include "engine/core/tick.hpp"
#include "engine/journal/output.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace seismo::journal {

class dead_letter {
  public:
    dead_letter() = default;
    /// An empty path keeps no file (refusals are still counted by the caller). Appends.
    explicit dead_letter(const std::string& path);

    /// A refused frame, as received.
    void frame(core::nanos recv_ts, std::string_view feed, std::uint32_t frame_no,
               core::reject_reason reason, std::string_view detail, std::string_view frame);
    /// A refused tick, as a JSON object (engine's append_tick_json).
    void tick(core::nanos recv_ts, std::string_view feed, std::uint32_t frame_no,
              core::reject_reason reason, std::string_view detail, std::string_view tick_json);
    void flush() { out_.flush(); }
    /// Closes and reopens the file (log rotation: SIGHUP).
    void reopen();
    [[nodiscard]] bool enabled() const noexcept { return out_.is_open(); }

  private:
    void head(core::nanos recv_ts, std::string_view feed, std::uint32_t frame_no,
              core::reject_reason reason, std::string_view detail);

    output_file out_;
    std::string path_;
    std::string line_;
};

} // namespace seismo::journal
