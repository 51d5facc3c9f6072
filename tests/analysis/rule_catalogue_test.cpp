// The rule catalogue (analyzer/rules/*.sql header blocks) is the one source of
// every fact about the rules: these tests check that each consumer — the rule
// engine, the findings, SARIF, the CLI, docs/rules.md — reads it, and that a
// query returning other columns than its rule declares fails loudly.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <vector>

#include "ctxscope/rule_catalogue_doc.hpp"
#include "scenario_traces.hpp"
#include "test_util.hpp"

namespace ctxscope::testing {
namespace {

namespace rc = ctxscope::rule_catalogue;

// ---- result columns are checked at load time ------------------------------

// A copy of the catalogue whose rule `id` has its SQL passed through `edit`.
struct EditedCatalogue {
  std::vector<rc::Rule> rules;
  std::string sql;  // owns the edited text the copy's string_view points into
  EditedCatalogue(std::string_view id, const std::function<std::string(std::string)>& edit) {
    rules.assign(rc::rules().begin(), rc::rules().end());
    for (auto& r : rules)
      if (r.id == id) {
        sql = edit(std::string(r.sql));
        r.sql = sql;
      }
  }
};

std::string replace_once(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << "'" << from << "' is not in the rule's SQL";
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

class RuleColumns : public ::testing::Test {
 protected:
  void SetUp() override {
    path = test_dir() / "trace.db";
    build_ci_job(path);  // gives blind-wait and stuck-wait rows; lost-cancel has none
    ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  }
  void TearDown() override { sqlite3_close(db); }
  // The message of the RuleError `analyze` throws with `rules`; "" if none.
  std::string error_of(std::span<const rc::Rule> rules) {
    try {
      analysis::analyze(db, {}, rules);
    } catch (const analysis::RuleError& e) {
      return e.what();
    }
    return "";
  }
  std::filesystem::path path;
  sqlite3* db = nullptr;
};

TEST_F(RuleColumns, TheCompiledInRulesReturnExactlyTheirDeclaredColumns) {
  EXPECT_EQ(error_of(rc::rules()), "");
  for (const auto& r : rc::rules()) EXPECT_FALSE(r.columns.empty()) << r.id;
}

TEST_F(RuleColumns, RenamedResultColumnFailsBeforeAnyRowIsRead) {
  // stuck-wait has a row in this trace: without the check its builder would
  // read `ctx` as a default and report a finding without a context.
  EditedCatalogue c("stuck-wait", [](std::string s) { return replace_once(s, "AS ctx,", "AS context_id,"); });
  const std::string e = error_of(c.rules);
  EXPECT_NE(e.find("rule stuck-wait"), std::string::npos) << e;
  EXPECT_NE(e.find("'context_id' is not declared"), std::string::npos) << e;
}

TEST_F(RuleColumns, MissingDeclaredColumnFailsEvenWhenTheRuleHasNoRows) {
  EditedCatalogue c("lost-cancel", [](std::string s) { return replace_once(s, "  c.stack         AS stack,\n", ""); });
  const std::string e = error_of(c.rules);
  EXPECT_NE(e.find("rule lost-cancel: declared result column 'stack' is missing"), std::string::npos) << e;
}

TEST_F(RuleColumns, IgnoredRulesAreCheckedToo) {
  EditedCatalogue c("late-exit", [](std::string s) { return replace_once(s, "AS exit_ns", "AS exited_ns"); });
  analysis::Options o;
  o.ignore = {"late-exit"};
  try {
    analysis::analyze(db, o, c.rules);
    ADD_FAILURE() << "no RuleError";
  } catch (const analysis::RuleError& e) {
    EXPECT_NE(std::string(e.what()).find("'exited_ns'"), std::string::npos) << e.what();
  }
}

TEST_F(RuleColumns, UnknownRuleIdInTheOptionsIsAnError) {
  analysis::Options o;
  o.rules = {"no-such-rule"};
  EXPECT_THROW(analysis::analyze(db, o), analysis::RuleError);
}

// ---- consumers read the catalogue -----------------------------------------

TEST(RuleCatalogue, IdsAreUniqueAndTheFindingLibrarySeesThem) {
  ASSERT_EQ(analysis::kRules.size(), rc::rules().size());
  for (std::size_t i = 0; i < rc::rules().size(); ++i) {
    const auto& r = rc::rules()[i];
    EXPECT_EQ(analysis::kRules[i], r.id);
    EXPECT_TRUE(analysis::is_rule(r.id));
    EXPECT_EQ(rc::find(r.id), &r);
    EXPECT_EQ(rc::index_of(r.id), i);
    EXPECT_FALSE(r.summary.empty() || r.help.empty() || r.site.empty() || r.site_calls.empty()) << r.id;
    EXPECT_EQ(r.sql.substr(0, 9 + r.id.size()), "-- rule: " + std::string(r.id)) << "the .sql opens with its header";
  }
  EXPECT_FALSE(analysis::is_rule("lost_cancel"));
}

TEST(RuleCatalogue, FindingSeveritiesAreTheCataloguesForRuleAndSubkind) {
  const auto dir = test_dir();
  int checked = 0;
  for (auto build : {build_ci_job, build_fanout, build_premature_cancel}) {
    build(dir / "t.db");
    for (const auto& f : analyze_path(dir / "t.db").findings) {
      const auto* r = rc::find(f.rule);
      ASSERT_NE(r, nullptr) << f.rule;
      if (!r->subkinds.empty()) {
        EXPECT_NE(r->subkind(f.subkind), nullptr) << f.rule << "/" << f.subkind;
      }
      EXPECT_EQ(f.severity, r->severity_of(f.subkind)) << f.rule << "/" << f.subkind;
      ++checked;
    }
    std::filesystem::remove(dir / "t.db");
  }
  EXPECT_GE(checked, 6);
}

TEST(RuleCatalogue, SarifRuleListIsTheCatalogue) {
  const auto j = nlohmann::json::parse(analysis::to_sarif({}));
  const auto& rules = j["runs"][0]["tool"]["driver"]["rules"];
  ASSERT_EQ(rules.size(), rc::rules().size());
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const auto& r = rc::rules()[i];
    EXPECT_EQ(rules[i]["id"], std::string(r.id));
    EXPECT_EQ(rules[i]["name"], std::string(r.name));
    EXPECT_EQ(rules[i]["shortDescription"]["text"], std::string(r.summary));
    EXPECT_EQ(rules[i]["help"]["text"], std::string(r.help));
    EXPECT_EQ(rules[i]["defaultConfiguration"]["level"], std::string(rc::to_string(r.severity)));
  }
}

TEST(RuleCatalogue, CliRulesSelectsAndRejectsUnknownIds) {
  const auto dir = test_dir();
  build_fanout(dir / "t.db");  // blind-wait, late-exit, lost-cancel
  auto r = run_cmd(cli() + " analyze '" + (dir / "t.db").string() + "' --format json --rules late-exit,lost-cancel",
                   dir);
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  std::vector<std::string> got;
  for (const auto& f : j["findings"]) got.push_back(f["rule"]);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"late-exit", "lost-cancel"}));
  EXPECT_EQ(j["summary"]["suppressed"], 0) << "rules left out are not run, so not counted";
  r = run_cmd(cli() + " analyze '" + (dir / "t.db").string() + "' --rules blind-wait --ignore blind-wait", dir);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("0 findings (0 errors, 0 warnings), 1 suppressed (blind-wait: 1)"), std::string::npos)
      << r.out;
  r = run_cmd(cli() + " analyze '" + (dir / "t.db").string() + "' --rules lost_cancel", dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("lost_cancel"), std::string::npos) << r.err;
  // The help lists the catalogue's ids.
  r = run_cmd(cli() + " analyze --help", dir);
  for (const auto& rule : rc::rules()) EXPECT_NE(r.out.find(std::string(rule.id)), std::string::npos) << rule.id;
}

TEST(RulesDoc, GeneratedTableIsUpToDate) {
  const auto page = std::filesystem::path(CTXSCOPE_SOURCE_DIR) / "docs" / "rules.md";
  const std::string text = read_file(page);
  const auto regenerated = rc::with_generated_section(text);
  ASSERT_TRUE(regenerated) << page << " lacks the generated-section markers";
  EXPECT_TRUE(*regenerated == text)
      << page << " is stale: regenerate with `cmake --build <dir> --target ctxscope-rules-doc`";
  for (const auto& r : rc::rules())
    EXPECT_NE(text.find("\n## " + std::string(r.id) + "\n"), std::string::npos) << "no section for " << r.id;
}

TEST(RulesDoc, AStaleTableIsDetected) {
  const std::string page = std::string("intro\n") + std::string(rc::kDocBegin) + "| old |\n" +
                           std::string(rc::kDocEnd) + "outro\n";
  const auto regenerated = rc::with_generated_section(page);
  ASSERT_TRUE(regenerated);
  EXPECT_NE(*regenerated, page);
  EXPECT_EQ(rc::with_generated_section(*regenerated), *regenerated) << "regenerating is idempotent";
  EXPECT_EQ(regenerated->find("| old |"), std::string::npos);
  EXPECT_FALSE(rc::with_generated_section("no markers\n"));
}

}  // namespace
}  // namespace ctxscope::testing
