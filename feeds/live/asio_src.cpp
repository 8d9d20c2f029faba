// Boost.Asio and Boost.Beast compiled once (BOOST_ASIO_SEPARATE_COMPILATION,
// BOOST_BEAST_SEPARATE_COMPILATION): every other file includes only their headers, which keeps
// each Beast translation unit's build time down (docs: TOOLCHAIN notes, ~90 s per TU otherwise).
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
