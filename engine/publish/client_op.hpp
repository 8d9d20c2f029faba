#pragma once
// What a /v1/stream client may send (DESIGN §6), parsed: a pure function of the message text,
// unit-tested and fuzzed apart from any socket.
//
//   {"op":"subscribe","topics":["silver_crash","crypto_*"],"since":1000,"min_severity":"warning"}
//   {"op":"unsubscribe","topics":[...]}
//   {"op":"ping"}
//
// A refusal carries the error code and message the session sends back
// (`{"type":"error","code":…,"message":…}`).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace seismo::publish {

enum class client_op_kind : std::uint8_t { subscribe, unsubscribe, ping };

struct client_op {
    client_op_kind kind = client_op_kind::ping;
    std::vector<std::string> topics;    ///< subscribe, unsubscribe: at least one valid pattern
    std::optional<std::uint64_t> since; ///< subscribe: resume after this seq
    std::uint8_t min_severity = 0;      ///< subscribe: 0 info, 1 warning, 2 critical
};

struct client_error {
    std::string code; ///< bad_json, bad_request, bad_topic, unknown_op, unknown_field
    std::string message;
};

/// The longest topic pattern accepted.
inline constexpr std::size_t k_max_pattern = 256;

/// True for a pattern a client may use: 1 to k_max_pattern bytes, no control characters,
/// quotes or backslashes.
[[nodiscard]] bool valid_pattern(std::string_view p) noexcept;

/// One parser per session (it keeps its simdjson buffers between messages).
class client_op_parser {
  public:
    client_op_parser();
    ~client_op_parser();
    client_op_parser(const client_op_parser&) = delete;
    client_op_parser& operator=(const client_op_parser&) = delete;

    /// Parses one text message: true and `op` filled, or false and `err` filled.
    bool parse(std::string_view text, client_op& op, client_error& err);

  private:
    struct impl;
    std::unique_ptr<impl> p_;
};

} // namespace seismo::publish
