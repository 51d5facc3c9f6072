#include "ctxscope/viewer/trace_diff.hpp"

namespace ctxscope::viewer {

DiffPtr load_diff(const std::string& a, const std::string& b, std::string* err,
                  const std::function<bool(double)>& progress, bool* cancelled) {
  if (cancelled) *cancelled = false;
  auto part = [&](double from) -> std::function<bool(double)> {
    if (!progress) return {};
    return [&progress, from](double f) { return progress(from + 0.5 * f); };
  };
  auto d = std::make_shared<DiffDocument>();
  d->a = load_document(a, err, part(0.0), cancelled);
  if (!d->a) return nullptr;
  d->b = load_document(b, err, part(0.5), cancelled);
  if (!d->b) return nullptr;
  d->diff = analysis::diff_runs(d->a->model(), d->a->report(), d->b->model(), d->b->report());
  if (progress && !progress(1.0)) {
    if (cancelled) *cancelled = true;
    if (err) *err = b + ": loading cancelled";
    return nullptr;
  }
  return d;
}

}  // namespace ctxscope::viewer
