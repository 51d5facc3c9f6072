// What the checks know about the ctxscope API and the standard library:
// which functions create a cancelable context, which calls block, and how to
// recognise a ctxscope::Context.  Matching is by qualified name, so user types
// with the same short names are never confused with the API.
#pragma once

#include <string>
#include <vector>

#include "clang/AST/Decl.h"
#include "clang/AST/Type.h"

namespace ctxscope::lint {

/// Functions returning std::pair<Context, Cancel...Func>.
const std::vector<std::string>& cancel_creators();

/// True for ctxscope::Context, through references and cv-qualifiers.
bool is_context_type(clang::QualType t);
/// True when some parameter of `fn` is a ctxscope::Context (the ctx-aware overloads).
bool takes_context(const clang::FunctionDecl& fn);
/// True when some parameter of `fn` is a std::stop_token.
bool takes_stop_token(const clang::FunctionDecl& fn);

/// A blocking call that may be blind, and what to use instead.
struct BlockingApi {
  std::string qualified_name;  ///< as matched: "::ctxscope::Chan::recv"
  std::string display;         ///< as shown: "Chan::recv"
  std::string instead;         ///< the ctx-aware form to suggest
};
const std::vector<BlockingApi>& blocking_apis();
/// The entry for `fn`, or nullptr.
const BlockingApi* find_blocking_api(const clang::FunctionDecl& fn);

}  // namespace ctxscope::lint
