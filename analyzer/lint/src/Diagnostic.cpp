#include "Diagnostic.h"

#include "clang/Basic/SourceManager.h"
#include "llvm/ADT/StringRef.h"

namespace ctxscope::lint {

// Every rule whose catalogue entry has a `lint:` summary is one this linter
// checks, and no other.
constexpr bool catalogue_lint_rules_are_implemented() {
  std::size_t n = 0;
  for (const auto& r : rule_catalogue::rules()) {
    if (r.lint.empty()) continue;
    ++n;
    bool found = false;
    for (const auto* k : kRules) found = found || k == &r;
    if (!found) return false;
  }
  return n == std::size(kRules);
}
static_assert(catalogue_lint_rules_are_implemented(),
              "the catalogue's `lint:` entries (analyzer/rules/*.sql) and ctxscope-lint's rules differ");

// The catalogue's ids are string literals, so data() is NUL-terminated.
const char* rule_id(Rule r) noexcept { return catalogue_entry(r).id.data(); }

std::string check_name(Rule r) { return std::string("ctxscope-") + rule_id(r); }

namespace {

// clang-tidy's glob: '*' matches any run of characters.
bool glob_match(llvm::StringRef glob, llvm::StringRef name) {
  if (glob.empty()) return name.empty();
  if (glob.front() == '*') {
    for (size_t i = 0; i <= name.size(); ++i)
      if (glob_match(glob.drop_front(), name.drop_front(i))) return true;
    return false;
  }
  return !name.empty() && glob.front() == name.front() && glob_match(glob.drop_front(), name.drop_front());
}

// Does `line` hold `marker` (NOLINT or NOLINTNEXTLINE) that covers `check`?
bool line_suppresses(llvm::StringRef line, llvm::StringRef marker, llvm::StringRef check) {
  size_t at = 0;
  while ((at = line.find(marker, at)) != llvm::StringRef::npos) {
    llvm::StringRef rest = line.drop_front(at + marker.size());
    at += marker.size();
    // "NOLINT" must not match the prefix of NOLINTNEXTLINE / NOLINTBEGIN.
    if (!rest.empty() && (std::isalpha(static_cast<unsigned char>(rest.front())) || rest.front() == '_'))
      continue;
    if (!rest.startswith("(")) return true;  // bare NOLINT: every check
    llvm::StringRef list = rest.drop_front().split(')').first;
    llvm::SmallVector<llvm::StringRef, 4> globs;
    list.split(globs, ',', -1, false);
    for (llvm::StringRef g : globs)
      if (glob_match(g.trim(), check)) return true;
  }
  return false;
}

llvm::StringRef line_text(const clang::SourceManager& sm, clang::FileID fid, unsigned line) {
  bool invalid = false;
  llvm::StringRef buf = sm.getBufferData(fid, &invalid);
  if (invalid || line == 0) return {};
  unsigned cur = 1;
  size_t pos = 0;
  while (cur < line) {
    pos = buf.find('\n', pos);
    if (pos == llvm::StringRef::npos) return {};
    ++pos;
    ++cur;
  }
  return buf.substr(pos).split('\n').first;
}

}  // namespace

bool is_suppressed(const clang::SourceManager& sm, clang::SourceLocation loc, Rule r) {
  loc = sm.getExpansionLoc(loc);
  if (loc.isInvalid()) return false;
  auto [fid, offset] = sm.getDecomposedLoc(loc);
  unsigned line = sm.getLineNumber(fid, offset);
  std::string check = check_name(r);
  if (line_suppresses(line_text(sm, fid, line), "NOLINT", check)) return true;
  return line > 1 && line_suppresses(line_text(sm, fid, line - 1), "NOLINTNEXTLINE", check);
}

void Reporter::report(const clang::ASTContext& ctx, Diagnostic d) {
  const clang::SourceManager& sm = ctx.getSourceManager();
  d.loc = sm.getExpansionLoc(d.loc);
  for (Note& n : d.notes) n.loc = sm.getExpansionLoc(n.loc);
  if (d.loc.isInvalid() || is_suppressed(sm, d.loc, d.rule)) return;
  if (!seen_.insert({d.loc.getRawEncoding(), static_cast<int>(d.rule)}).second) return;
  emit(ctx, d);
}

}  // namespace ctxscope::lint
