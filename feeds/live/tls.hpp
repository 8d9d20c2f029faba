#pragma once
// TLS client contexts for wss:// feeds.

#include <memory>
#include <string>

namespace boost::asio::ssl {
class context;
}

namespace seismo::feeds::live {

/// A TLS client context (TLS 1.2+) verifying peers against the system store, plus `ca_file`
/// (PEM) when given. Throws std::runtime_error naming the file when it cannot be read.
[[nodiscard]] std::unique_ptr<boost::asio::ssl::context>
make_client_tls(const std::string& ca_file = {});

} // namespace seismo::feeds::live
