#pragma once
// seismo's version (from CMake's project()) and the source revision it was built from (git,
// read at every build; "unknown" outside a git checkout). One place for both: --version,
// seismo_build_info, the journal header and the HTTP Server header.

#include <string_view>

namespace seismo::core {

[[nodiscard]] std::string_view version() noexcept;
[[nodiscard]] std::string_view revision() noexcept;

} // namespace seismo::core
