#pragma once
// The generic tick protocol (DESIGN §4): one JSON object per frame or line, or an array of them.
//
//   {"sym":"XAG/USD","px":76.51,"ts":1770257643512,"sz":0,"seq":18231}
//
// `sym` and `px` are required (`px` a number or numeric string), unless the object carries
// `prev_close`, which updates the instrument's previous close (and may come with or without a
// px). `ts` is epoch ms (integer), ns (integer above 1e15) or an RFC 3339 string, and defaults
// to the receive time. Optional `sz`, `seq`, `kind` ("trade"|"quote"|"value", default "value")
// and `venue` (so `--ticks` output reads back unchanged). Unknown fields are ignored. A batch
// with one bad element is rejected whole, so a frame is applied all or nothing.
//
// One parser per feed thread; parse() allocates nothing once `out` has grown to its working size.
// Implemented with the generic venue's description in feeds/venues/generic.cpp.

#include "engine/core/instrument_registry.hpp"
#include "engine/core/tick.hpp"
#include "feeds/frame.hpp"

#include <cstddef>
#include <memory>
#include <vector>

namespace seismo::feeds {

class generic_parser {
  public:
    explicit generic_parser(core::symbol_cache& symbols,
                            std::size_t max_frame = k_default_max_frame);
    ~generic_parser();
    generic_parser(const generic_parser&) = delete;
    generic_parser& operator=(const generic_parser&) = delete;

    /// Parses `data[0, len)`; `capacity >= len + k_padding` bytes must be readable from `data`.
    /// Ticks are appended to `out` only when the whole frame is valid.
    parse_result parse(const char* data, std::size_t len, std::size_t capacity, core::nanos recv_ts,
                       std::vector<core::tick>& out);

  private:
    struct impl;
    std::unique_ptr<impl> p_;
};

} // namespace seismo::feeds
