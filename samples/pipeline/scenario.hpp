// Scenario 4, pipeline: generator -> square (fanned out to two workers) ->
// merge (fan-in) -> a consumer that takes only the first values and returns
// (seed: "深入理解 golang context", the Go blog's pipelines).
#pragma once

namespace pipeline {

struct Options {
  int take = 3;  ///< values the consumer reads before it returns
};

void run_buggy(const Options& o);
void run_fixed(const Options& o);

}  // namespace pipeline
