#pragma once
// The journal's metrics (DESIGN §8): seismo_journal_{bytes,frames,waits}_total and
// seismo_journal_backlog_bytes, read from the writer's counters at scrape time (zero when the
// run records nothing, so dashboards and alerts see the series either way).

#include <memory>

namespace prometheus {
class Collectable;
}

namespace seismo::journal {

class writer;

/// A probe over `w`, which must outlive it (null: no journal).
[[nodiscard]] std::shared_ptr<prometheus::Collectable> make_probe(const writer* w);

} // namespace seismo::journal
